//! The signal table: every long-running binary of the crate × SIGINT, SIGTERM and SIGHUP × each
//! state in which it blocks. Each case starts the example in a directory of its own, brings it
//! to the state the row names, checks in /proc that it really sleeps in that system call, sends
//! the signal to its main process only, and checks that it exits within a second with 128 + the
//! signal's number, that the process that created the FIFO removed it (no FIFO is left in the
//! case's directory), and that no process is left in its group.
//!
//! After the table, the cases the table cannot express: which side removes the FIFO when the
//! other one created it, what the other side then sees, and a signal that comes together with
//! the end of input.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{
    assert_fifo, assert_gone, assert_no_fifo_in, assert_stopped_by, example, fifo_in, open_as_peer,
    stop_as_a_user, wait_until_blocked_writing_to,
};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use testkit::{
    Finished, Running, SYS_POLL, TempDir, signal_row, stop_with, wait_until_blocked_in,
    wait_until_state,
};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");
const CHAT: &str = env!("CARGO_BIN_EXE_chat");

/// What every case checks after the signal, besides what `stop_with` checked (the exit within
/// a second, the status, no process left): the example said why it stopped, it removed the
/// FIFO it made, and no FIFO is left in the case's directory.
fn assert_cleaned_up(finished: &Finished, signal: Signal, dir: &TempDir) {
    assert!(
        finished.stdout.contains(&format!("got {signal}; stopping")),
        "{finished:?}"
    );
    assert!(
        finished.stdout.contains("the FIFO it created"),
        "{finished:?}"
    );
    assert_no_fifo_in(dir.path());
}

#[test]
fn writer_blocked_in_open_no_reader_yet() {
    signal_row("writer blocked in open (no reader yet)", |signal| {
        let dir = TempDir::new("fifo-sig-writer-open");
        let mut writer = Running::spawn(example(WRITER, &fifo_in(dir.path())));
        writer.expect_line("waiting in open() until a reader opens");
        wait_until_blocked_in(writer.pid(), libc::SYS_openat);
        let finished = stop_with(writer, signal);
        assert_cleaned_up(&finished, signal, &dir);
    });
}

#[test]
fn writer_blocked_reading_stdin_reader_connected() {
    signal_row(
        "writer blocked reading stdin (reader connected)",
        |signal| {
            let dir = TempDir::new("fifo-sig-writer-stdin");
            let path = fifo_in(dir.path());
            let mut writer = Running::spawn(example(WRITER, &path));
            writer.expect_line("waiting in open()");
            let _reader = open_as_peer(&path, OFlag::O_RDONLY);
            writer.expect_line("a reader has");
            wait_until_blocked_in(writer.pid(), libc::SYS_read);
            let finished = stop_with(writer, signal);
            assert_cleaned_up(&finished, signal, &dir);
        },
    );
}

#[test]
fn writer_blocked_in_write_fifo_full() {
    signal_row("writer blocked in write (FIFO full)", |signal| {
        let dir = TempDir::new("fifo-sig-writer-full");
        let path = fifo_in(dir.path());
        let mut writer = Running::spawn(example(WRITER, &path));
        writer.expect_line("waiting in open()");
        // A reader that never reads: the test holds the read end open.
        let never_read = open_as_peer(&path, OFlag::O_RDONLY);
        writer.expect_line("a reader has");
        // Each record takes at least its 100 bytes of the FIFO's capacity, so more records
        // than capacity / 100 can never all fit: the writer must block before the last.
        let capacity = fcntl(&never_read, FcntlArg::F_GETPIPE_SZ).unwrap();
        let lines = usize::try_from(capacity).unwrap() / 100 + 100;
        for number in 0..lines {
            writer.write_line(&format!("line {number}")).unwrap();
        }
        wait_until_blocked_writing_to(writer.pid(), &path);
        let finished = stop_with(writer, signal);
        assert_cleaned_up(&finished, signal, &dir);
        let last = format!("sent \"line {}\"", lines - 1);
        assert!(!finished.stdout.contains(&last), "{finished:?}");
        drop(never_read);
    });
}

#[test]
fn reader_blocked_in_open_no_writer_yet() {
    signal_row("reader blocked in open (no writer yet)", |signal| {
        let dir = TempDir::new("fifo-sig-reader-open");
        let mut reader = Running::spawn(example(READER, &fifo_in(dir.path())));
        reader.expect_line("waiting in open() until a writer opens");
        wait_until_blocked_in(reader.pid(), libc::SYS_openat);
        let finished = stop_with(reader, signal);
        assert_cleaned_up(&finished, signal, &dir);
    });
}

#[test]
fn reader_blocked_in_read_writer_connected_and_idle() {
    signal_row(
        "reader blocked in read (a writer connected, idle)",
        |signal| {
            let dir = TempDir::new("fifo-sig-reader-read");
            let path = fifo_in(dir.path());
            let mut reader = Running::spawn(example(READER, &path));
            // Blocked in open, the reader already counts as a reader: a non-blocking open for
            // writing succeeds, and wakes it.
            wait_until_blocked_in(reader.pid(), libc::SYS_openat);
            let writer = open_as_peer(&path, OFlag::O_WRONLY);
            reader.expect_line("a writer has");
            wait_until_blocked_in(reader.pid(), libc::SYS_read);
            let finished = stop_with(reader, signal);
            assert_cleaned_up(&finished, signal, &dir);
            drop(writer);
        },
    );
}

fn chat_side(side: &str, dir: &TempDir) -> Running {
    let mut command = Command::new(CHAT);
    command.args(["--side", side, "--dir"]).arg(dir.path());
    Running::spawn(command)
}

#[test]
fn chat_a_waiting_for_its_peer() {
    signal_row("chat a waiting for its peer (open for writing)", |signal| {
        let dir = TempDir::new("fifo-sig-chat-a-open");
        let mut a = chat_side("a", &dir);
        a.expect_line("waiting in open() for side b");
        wait_until_blocked_in(a.pid(), libc::SYS_openat);
        let finished = stop_with(a, signal);
        assert_cleaned_up(&finished, signal, &dir);
    });
}

#[test]
fn chat_b_waiting_for_its_peer() {
    signal_row("chat b waiting for its peer (open for reading)", |signal| {
        let dir = TempDir::new("fifo-sig-chat-b-open");
        let mut b = chat_side("b", &dir);
        b.expect_line("waiting in open() for side a");
        wait_until_blocked_in(b.pid(), libc::SYS_openat);
        let finished = stop_with(b, signal);
        assert_cleaned_up(&finished, signal, &dir);
    });
}

#[test]
fn chat_connected_and_idle() {
    signal_row("chat connected and idle", |signal| {
        let dir = TempDir::new("fifo-sig-chat-idle");
        let mut a = chat_side("a", &dir);
        a.expect_line("waiting in open() for side b");
        let mut b = chat_side("b", &dir);
        a.expect_line("connected to side b");
        b.expect_line("connected to side a");
        wait_until_blocked_in(a.pid(), SYS_POLL);
        let finished = stop_with(a, signal);
        // Side a made both FIFOs; it removes both. Side b sees both directions closed (end of
        // file on one, POLLERR on the other) and leaves.
        assert_cleaned_up(&finished, signal, &dir);
        b.expect_line("both directions are closed; leaving");
        let b = b.wait();
        assert!(b.status.success(), "{b:?}");
        assert_no_fifo_in(dir.path());
    });
}

#[test]
fn sigint_stops_a_reader_waiting_for_the_next_record_and_its_writer_sees_epipe() {
    let dir = TempDir::new("fifo-reader-read");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting in open()");
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.write_line("one").unwrap();
    reader.expect_line("recv:one");
    let (finished, took) = stop_as_a_user(reader, Signal::SIGINT);
    assert_stopped_by(&finished, took, Signal::SIGINT);
    assert!(finished.stdout.contains("removed"), "{finished:?}");
    assert_gone(&path);
    // The writer's next record finds no reader: it says so and exits 1.
    let _ = writer.write_line("two");
    let writer = writer.wait();
    assert_eq!(writer.status.code(), Some(1), "{writer:?}");
    assert!(writer.stderr.contains("EPIPE"), "{writer:?}");
}

#[test]
fn sigint_stops_a_writer_reading_stdin_and_leaves_the_readers_fifo_alone() {
    let dir = TempDir::new("fifo-writer-stdin");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting in open()");
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("made by another process");
    writer.write_line("one").unwrap();
    reader.expect_line("recv:one");
    let (finished, took) = stop_as_a_user(writer, Signal::SIGINT);
    assert_stopped_by(&finished, took, Signal::SIGINT);
    // The reader made the FIFO: the writer leaves it, and the reader, at end of file,
    // removes it.
    assert!(!finished.stdout.contains("removed"), "{finished:?}");
    reader.expect_line("end of file");
    let reader = reader.wait();
    assert!(reader.status.success(), "{reader:?}");
    assert!(reader.stdout.contains("removed"), "{reader:?}");
    assert_gone(&path);
}

/// Ctrl-C and the end of input in the same instant, as when a terminal closes: the signal still
/// decides, status 130, and the writer does not take it for a normal end of input (status 0).
///
/// Made to happen every time, rather than tried many times over: the writer is stopped
/// (SIGSTOP) while it sleeps in its `read` of stdin; while it cannot run, its stdin is closed
/// and SIGINT sent; SIGCONT then lets it find both at once. (The kernel then runs the handler
/// and ends the `read` with EINTR. The other order, a `read` that returns 0 just after the
/// handler ran, cannot be forced from outside; `LineReader` looks at the stop once more there.)
#[test]
fn sigint_wins_over_an_end_of_input_in_the_same_instant() {
    let dir = TempDir::new("fifo-writer-eof");
    let path = fifo_in(dir.path());
    // The test makes the FIFO and holds its read end, so the writer connects at once.
    nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
    let _reader = open_as_peer(&path, OFlag::O_RDONLY);
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("a reader has");
    wait_until_blocked_in(writer.pid(), libc::SYS_read);
    writer.signal(Signal::SIGSTOP);
    wait_until_state(writer.pid(), 'T');
    writer.close_stdin();
    writer.signal_group(Signal::SIGINT);
    writer.signal(Signal::SIGCONT);
    let finished = writer.wait();
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(!finished.stdout.contains("end of input"), "{finished:?}");
    assert_fifo(&path); // made by the test: not the writer's to remove
}
