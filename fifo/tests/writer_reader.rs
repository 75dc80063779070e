//! The writer and the reader exchange lines through a FIFO in a test's own directory: in
//! order, in the course notes' 100-byte records, ending cleanly at end of input, and leaving no
//! FIFO behind. Also: the FIFO is 0600 whatever the umask, a FIFO made by someone else is used and
//! left in place, long lines are split, and a writer whose reader dies reports EPIPE.

#![forbid(unsafe_code)]

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{assert_fifo, assert_gone, example, fifo_in, stop_as_a_user};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use testkit::{Running, TempDir, run_with_stdout_gone, wait_until_blocked_in};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");

#[test]
fn typed_lines_come_out_of_the_reader_in_order_and_nothing_is_left() {
    let dir = TempDir::new("fifo-order");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting in open()");
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("a reader has");
    let lines = ["first line", "second", "", "héllo, wörld", "last"];
    for line in lines {
        writer.write_line(line).unwrap();
    }
    for line in lines {
        assert_eq!(reader.expect_line("recv:"), format!("recv:{line}"));
    }
    let writer = writer.wait();
    assert!(writer.status.success(), "{writer:?}");
    let reader = reader.wait();
    assert!(reader.status.success(), "{reader:?}");
    assert!(reader.stdout.contains("end of file"), "{reader:?}");
    let received: Vec<&str> = reader
        .stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("recv:"))
        .collect();
    assert_eq!(received.len(), lines.len(), "{reader:?}");
    assert!(reader.stdout.contains("removed"), "{reader:?}");
    assert_gone(&path);
}

#[test]
fn a_line_longer_than_a_record_arrives_as_several_records() {
    let dir = TempDir::new("fifo-long");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting in open()");
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("a reader has");
    let long = "x".repeat(250);
    writer.write_line(&long).unwrap();
    assert!(writer.expect_line("sent it as").contains("3 records"));
    assert_eq!(
        reader.expect_line("recv:"),
        format!("recv:{}", "x".repeat(99))
    );
    assert_eq!(
        reader.expect_line("recv:"),
        format!("recv:{}", "x".repeat(99))
    );
    assert_eq!(
        reader.expect_line("recv:"),
        format!("recv:{}", "x".repeat(52))
    );
    assert!(writer.wait().status.success());
    assert!(reader.wait().status.success());
    assert_gone(&path);
}

#[test]
fn each_line_is_one_record_of_text_and_zeros_in_a_fifo_made_by_someone_else() {
    let dir = TempDir::new("fifo-wire");
    let path = fifo_in(dir.path());
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("made by another process");
    // The test is the reader: non-blocking, so this open does not wait for the writer.
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let mut fifo = File::from(nix::fcntl::open(&path, flags, Mode::empty()).unwrap());
    writer.expect_line("a reader has");
    writer.write_line("hello").unwrap();
    writer.expect_line("sent \"hello\"");
    let mut record = [0xff_u8; 100];
    fifo.read_exact(&mut record).unwrap();
    assert_eq!(&record[..5], b"hello");
    assert!(record[5..].iter().all(|&byte| byte == 0), "{record:?}");
    let finished = writer.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert_fifo(&path); // not ours to remove
}

#[test]
fn the_reader_stops_at_the_nul_of_a_record_with_garbage_after_it() {
    let dir = TempDir::new("fifo-garbage");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    reader.expect_line("waiting in open()");
    // Blocked in its open, the reader counts as a reader: our non-blocking open then succeeds.
    wait_until_blocked_in(reader.pid(), libc::SYS_openat);
    // What the notes' write.c sends: the word, its NUL, then whatever the buffer held.
    let mut record = [b'#'; 100];
    record[..3].copy_from_slice(b"hi\0");
    let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let mut fifo = File::from(nix::fcntl::open(&path, flags, Mode::empty()).unwrap());
    fifo.write_all(&record).unwrap();
    drop(fifo);
    assert_eq!(reader.expect_line("recv:"), "recv:hi");
    let finished = reader.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert_gone(&path);
}

#[test]
fn the_fifo_is_0600_whatever_the_umask() {
    for umask in ["0", "0277"] {
        let dir = TempDir::new("fifo-umask");
        let path = fifo_in(dir.path());
        let mut command = Command::new("sh");
        command
            .args(["-c", &format!("umask {umask}; exec \"$0\" --path \"$1\"")])
            .arg(WRITER)
            .arg(&path);
        let mut writer = Running::spawn(command);
        writer.expect_line("waiting in open()");
        let mode = std::fs::symlink_metadata(&path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o600, "mode {mode:o} under umask {umask}");
        let (finished, _) = stop_as_a_user(writer, Signal::SIGINT);
        assert_eq!(finished.status.code(), Some(130), "{finished:?}");
        assert_gone(&path);
    }
}

#[test]
fn a_writer_whose_reader_dies_reports_the_broken_pipe() {
    let dir = TempDir::new("fifo-epipe");
    let path = fifo_in(dir.path());
    let mut writer = Running::spawn(example(WRITER, &path));
    writer.expect_line("waiting in open()");
    let mut reader = Running::spawn(example(READER, &path));
    writer.expect_line("a reader has");
    writer.write_line("before").unwrap();
    reader.expect_line("recv:before");
    reader.signal(Signal::SIGKILL);
    let reader = reader.wait();
    assert!(reader.status.code().is_none(), "{reader:?}");
    // The reader is gone: the next record finds no one to read it. The write to the writer's
    // stdin may itself fail if the writer has already exited; that is fine.
    let _ = writer.write_line("after");
    let finished = writer.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .contains("the reader went away (EPIPE: Broken pipe)"),
        "{finished:?}"
    );
    assert_gone(&path);
}

/// A way out that skips the main path's `remove`: stdout is a pipe nobody reads, so the first
/// line the writer prints (after it made the FIFO) panics. The `Drop` of `Fifo` still removes
/// the FIFO, silently.
#[test]
fn a_writer_whose_stdout_is_gone_still_removes_its_fifo() {
    let dir = TempDir::new("fifo-stdout-gone");
    let path = fifo_in(dir.path());
    let finished = run_with_stdout_gone(example(WRITER, &path));
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(finished.stderr.contains("EPIPE"), "{finished:?}");
    assert_gone(&path);
}
