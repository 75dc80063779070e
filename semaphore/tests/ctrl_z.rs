//! `ctrl_z`: a P that waits in `semtimedop` fails with EINTR when the process is stopped and
//! continued, though no handler runs (signal(7): "Interruption of system calls and library
//! functions by stop signals"). Ctrl-Z sends SIGTSTP, `fg` SIGCONT; SIGSTOP stops the same way.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{id_in, set_exists};
use nix::sys::signal::Signal;
use testkit::{
    Running, assert_help_only, assert_refused_out_of_range, run, wait_until_blocked_in,
    wait_until_state,
};

const CTRL_Z: &str = env!("CARGO_BIN_EXE_ctrl_z");

#[test]
fn a_stop_and_a_continue_end_the_p_with_eintr_and_the_p_is_not_done() {
    for stop in [Signal::SIGTSTP, Signal::SIGSTOP] {
        let mut ctrl_z = Running::spawn(Command::new(CTRL_Z));
        let id = id_in(&ctrl_z.expect_line("created semaphore set id="));
        ctrl_z.expect_line("press Ctrl-Z, then type fg");
        wait_until_blocked_in(ctrl_z.pid(), libc::SYS_semtimedop);
        ctrl_z.signal(stop);
        wait_until_state(ctrl_z.pid(), 'T');
        ctrl_z.signal(Signal::SIGCONT);
        let said = ctrl_z.expect_line("semtimedop returned");
        assert!(
            said.contains("errno EINTR, and no handler ran"),
            "{stop}: {said}"
        );
        let value = ctrl_z.expect_line("semaphore 0 is still");
        assert!(value.contains("still 0"), "{stop}: {value}");
        let finished = ctrl_z.wait();
        assert!(finished.status.success(), "{stop}: {finished:?}");
        assert!(!set_exists(id), "{stop}: set id={id} is left");
    }
}

#[test]
fn without_a_stop_the_p_times_out_and_says_how_to_see_it() {
    let mut command = Command::new(CTRL_Z);
    command.args(["--timeout-s", "1"]);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished
            .stdout
            .contains("semtimedop gave up after 1 s (EAGAIN)"),
        "{finished:?}"
    );
    let id = id_in(&finished.stdout);
    assert!(!set_exists(id), "set id={id} is left");
}

#[test]
fn help_and_a_bad_timeout() {
    assert_help_only(CTRL_Z);
    let mut command = Command::new(CTRL_Z);
    command.args(["--timeout-s", "0"]);
    assert_refused_out_of_range(command, "--timeout-s");
}
