//! Ctrl-C (SIGINT) and SIGTERM end the writer and the reader within a second wherever they
//! wait: in the open that waits for the other side, in a read of stdin or of the FIFO, in a
//! write to a full FIFO. The exit status is 130 or 143, and the FIFO is removed by the side that
//! created it, and only by that side.

mod common;

use std::os::fd::OwnedFd;

use common::{assert_fifo, assert_gone, assert_stopped_by, example, fifo_in, stop_with};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use support::testing::{Running, TempDir};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");

fn writer_waiting_for_a_reader_stops_on(signal: Signal) {
    let dir = TempDir::new("fifo-writer-open");
    let path = fifo_in(dir.path());
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("waiting for a reader");
    assert_fifo(&path);
    let (finished, took) = stop_with(writer, signal);
    assert_stopped_by(&finished, took, signal);
    assert_gone(&path);
}

#[test]
fn sigint_stops_a_writer_waiting_for_a_reader() {
    writer_waiting_for_a_reader_stops_on(Signal::SIGINT);
}

#[test]
fn sigterm_stops_a_writer_waiting_for_a_reader() {
    writer_waiting_for_a_reader_stops_on(Signal::SIGTERM);
}

fn reader_waiting_for_a_writer_stops_on(signal: Signal) {
    let dir = TempDir::new("fifo-reader-open");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting for a writer");
    let (finished, took) = stop_with(reader, signal);
    assert_stopped_by(&finished, took, signal);
    assert_gone(&path);
}

#[test]
fn sigint_stops_a_reader_waiting_for_a_writer() {
    reader_waiting_for_a_writer_stops_on(Signal::SIGINT);
}

#[test]
fn sigterm_stops_a_reader_waiting_for_a_writer() {
    reader_waiting_for_a_writer_stops_on(Signal::SIGTERM);
}

#[test]
fn sigint_stops_a_reader_waiting_for_the_next_record() {
    let dir = TempDir::new("fifo-reader-read");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting for a writer");
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.write_line("one").unwrap();
    reader.expect_line("recv:one");
    let (finished, took) = stop_with(reader, Signal::SIGINT);
    assert_stopped_by(&finished, took, Signal::SIGINT);
    assert!(finished.stdout.contains("removed"), "{finished:?}");
    assert_gone(&path);
    // The writer's next record finds no reader: it says so and exits 1.
    let _ = writer.write_line("two");
    assert_eq!(writer.wait().status.code(), Some(1));
}

#[test]
fn sigint_stops_a_writer_reading_stdin_and_leaves_the_readers_fifo_alone() {
    let dir = TempDir::new("fifo-writer-stdin");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting for a writer");
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("made by another process");
    writer.write_line("one").unwrap();
    reader.expect_line("recv:one");
    let (finished, took) = stop_with(writer, Signal::SIGINT);
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

#[test]
fn sigterm_stops_a_writer_waiting_for_room_in_a_full_fifo() {
    let dir = TempDir::new("fifo-writer-full");
    let path = fifo_in(dir.path());
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("waiting for a reader");
    // A reader that never reads: the test holds the read end open.
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let _never_read: OwnedFd = nix::fcntl::open(&path, flags, Mode::empty()).unwrap();
    writer.expect_line("a reader has");
    // The kernel keeps a FIFO's bytes in pages and appends a write to the last page only if it
    // fits there whole: 40 records of 100 bytes per 4 KiB page, 640 in the usual 64 KiB. The
    // writer sends those, then waits for room with more lines in its stdin.
    let capacity = fcntl(&_never_read, FcntlArg::F_GETPIPE_SZ).unwrap();
    let fit = usize::try_from(capacity).unwrap() / 4096 * (4096 / 100);
    for number in 0..fit + 100 {
        writer.write_line(&format!("line {number}")).unwrap();
    }
    writer.expect_line(&format!("sent \"line {}\"", fit - 1));
    let (finished, took) = stop_with(writer, Signal::SIGTERM);
    assert_stopped_by(&finished, took, Signal::SIGTERM);
    assert!(
        !finished.stdout.contains(&format!("sent \"line {fit}\"")),
        "{finished:?}"
    );
    assert_gone(&path);
}

/// Ctrl-C and the end of input in the same instant, as when a terminal closes: the signal still
/// decides, status 130. (ctrlc wakes `poll()` a moment later from its own thread; the writer
/// must not take the end of input, ready first, for a normal end with status 0.) Repeated,
/// because before the fix every one of 30 tries exited 0.
#[test]
fn sigint_wins_over_an_end_of_input_in_the_same_instant() {
    for _ in 0..10 {
        let dir = TempDir::new("fifo-writer-eof");
        let path = fifo_in(dir.path());
        // The test makes the FIFO and holds its read end, so the writer connects at once.
        nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let _reader: OwnedFd = nix::fcntl::open(&path, flags, Mode::empty()).unwrap();
        let mut writer = Running::spawn(example(WRITER, &path));
        writer.expect_line("a reader has");
        writer.signal_group(Signal::SIGINT);
        writer.close_stdin();
        let finished = writer.wait();
        assert_eq!(finished.status.code(), Some(130), "{finished:?}");
        assert!(!finished.stdout.contains("end of input"), "{finished:?}");
        assert_fifo(&path); // made by the test: not the writer's to remove
    }
}
