//! The live view on a real pseudo-terminal: it takes the terminal (raw mode, the alternate
//! screen) and gives it back on every way out: `q`, Ctrl-C, SIGINT, SIGTERM, SIGHUP. A closed
//! window (the pty's master gone: EIO, no SIGHUP) is a hang-up: exit 129, whether the window
//! closes while it runs or was closed before it started. (After a hang-up the terminal's
//! settings cannot be read back: it is gone; the other ways out show that they are restored.)

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::IPCVIEW;
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::LocalFlags;
use testkit::OnTerminal;

/// The live view with little to show, on a terminal of 30 rows of 120 columns (a new pty has
/// no size: `stty` gives it one, then execs ipcview in the same process).
fn live_view() -> OnTerminal {
    let mut command = Command::new("sh");
    command.args(["-c", "stty rows 30 cols 120 && exec \"$0\" \"$@\""]);
    command.args([IPCVIEW, "--filter", "msg", "--pid", "1"]);
    let mut view = OnTerminal::spawn(command);
    view.expect("q quits");
    let flags = view.termios().local_flags;
    assert!(
        !flags.intersects(LocalFlags::ICANON | LocalFlags::ECHO),
        "the live view runs in raw mode: {flags:?}"
    );
    view
}

/// The program exited with `code`, left the alternate screen, showed the cursor, and the
/// terminal is back in cooked mode with echo.
fn assert_restored(mut view: OnTerminal, code: i32) {
    let status = view.wait_for_exit();
    assert_eq!(status.code(), Some(code), "{status:?}");
    view.expect("\x1b[?1049l"); // leave the alternate screen
    view.expect("\x1b[?25h"); // show the cursor
    let flags = view.termios().local_flags;
    assert!(
        flags.contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "raw mode ended: {flags:?}"
    );
}

#[test]
fn q_quits_with_status_0_and_gives_the_terminal_back() {
    let mut view = live_view();
    view.type_line("q");
    assert_restored(view, 0);
}

#[test]
fn ctrl_c_quits_as_sigint_does_and_gives_the_terminal_back() {
    let mut view = live_view();
    // Raw mode: the key reaches the program as a byte, 0x03, not as SIGINT.
    view.type_line("\x03");
    assert_restored(view, 130);
}

#[test]
fn each_stop_signal_ends_it_and_gives_the_terminal_back() {
    testkit::signal_row("live view", |signal: Signal| {
        let view = live_view();
        kill(view.pid(), signal).expect("kill");
        assert_restored(view, 128 + signal as i32);
    });
}

#[test]
fn closing_the_window_stops_it_as_sighup_does() {
    let mut view = live_view();
    view.close_window();
    view.assert_hung_up();
}

#[test]
fn a_terminal_without_a_size_gets_80_by_24() {
    let mut command = Command::new(IPCVIEW);
    command.args(["--filter", "msg", "--pid", "1"]);
    let mut view = OnTerminal::spawn(command);
    view.expect("q quits");
    view.close_window();
    view.assert_hung_up();
}

#[test]
fn on_a_terminal_closed_before_it_starts_each_mode_stops_as_on_sighup() {
    testkit::assert_each_stops_on_a_closed_terminal(
        "iv-closed",
        &[
            (IPCVIEW, &[]),
            (IPCVIEW, &["--once", "--filter", "msg"]),
            (IPCVIEW, &["--json", "--filter", "sem"]),
        ],
    );
}
