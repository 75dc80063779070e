//! A closed terminal is a stop: each example that reads or writes the terminal runs on a
//! pseudo-terminal of the test's own, the test closes the "window" (the pty's master side), and
//! the example must exit as SIGHUP makes it exit, 129, with its FIFO removed, though no SIGHUP
//! comes: only the terminal's EIO.

#![forbid(unsafe_code)]

mod common;

use common::{assert_no_fifo_in, example, fifo_in, open_as_peer};
use nix::fcntl::OFlag;
use testkit::{OnTerminal, TempDir, wait_until_blocked_in};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");
const CHAT: &str = env!("CARGO_BIN_EXE_chat");

#[test]
fn a_writer_reading_a_closed_terminal_stops_as_on_sighup() {
    let dir = TempDir::new("fifo-pty-writer");
    let path = fifo_in(dir.path());
    let mut writer = OnTerminal::spawn(example(WRITER, &path));
    writer.expect("waiting in open()");
    let _reader = open_as_peer(&path, OFlag::O_RDONLY);
    writer.expect("a reader has");
    wait_until_blocked_in(writer.pid(), libc::SYS_read);
    writer.close_window();
    writer.assert_hung_up();
    assert_no_fifo_in(dir.path());
}

#[test]
fn a_reader_printing_to_a_closed_terminal_stops_as_on_sighup() {
    let dir = TempDir::new("fifo-pty-reader");
    let path = fifo_in(dir.path());
    let mut reader = OnTerminal::spawn(example(READER, &path));
    reader.expect("waiting in open()");
    // A non-blocking open for writing fails (ENXIO) until the reader is in its open.
    wait_until_blocked_in(reader.pid(), libc::SYS_openat);
    let writer = open_as_peer(&path, OFlag::O_WRONLY);
    reader.expect("a writer has");
    wait_until_blocked_in(reader.pid(), libc::SYS_read);
    reader.close_window();
    // The next record makes the reader print it: to a terminal that is gone.
    let mut record = b"after the window closed".to_vec();
    record.resize(100, 0);
    nix::unistd::write(&writer, &record).expect("write a record");
    reader.assert_hung_up();
    drop(writer);
    assert_no_fifo_in(dir.path());
}

#[test]
fn a_chat_side_whose_terminal_closes_stops_as_on_sighup() {
    let dir = TempDir::new("fifo-pty-chat");
    let chat = |side: &str| {
        let mut command = std::process::Command::new(CHAT);
        command.args(["--side", side, "--dir"]).arg(dir.path());
        command
    };
    let mut a = OnTerminal::spawn(chat("a"));
    a.expect("waiting in open() for side b");
    let mut b = OnTerminal::spawn(chat("b"));
    a.expect("connected to side b");
    b.expect("connected to side a");
    wait_until_blocked_in(a.pid(), testkit::SYS_POLL);
    a.close_window();
    a.assert_hung_up();
    // Side a made both FIFOs and removed them; side b sees it leave and ends on its own.
    b.expect("leaving");
    drop(b);
    assert_no_fifo_in(dir.path());
}

#[test]
fn every_fifo_example_on_a_closed_terminal_stops_as_on_sighup() {
    let full: [(&str, &[&str]); 3] = [(WRITER, &[]), (READER, &[]), (CHAT, &[])];
    for dir in testkit::assert_each_stops_on_a_closed_terminal("fifo-closed-terminal", &full) {
        assert_no_fifo_in(dir.path());
    }
    // The bare pair has no stop handling, on purpose: what it made stays, as after Ctrl-C.
    let bare: [(&str, &[&str]); 2] = [
        (env!("CARGO_BIN_EXE_bare_writer"), &[]),
        (env!("CARGO_BIN_EXE_bare_reader"), &[]),
    ];
    testkit::assert_each_stops_on_a_closed_terminal("fifo-closed-terminal", &bare);
}
