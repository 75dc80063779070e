//! The bare examples, `bare_writer` and `bare_reader`, meet through a FIFO whichever starts
//! first: the reader prints the writer's lines and removes the FIFO, so nothing is left. And
//! the lesson of the bare versions: Ctrl-C kills them on the spot, leaving the FIFO behind.

#![forbid(unsafe_code)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use common::{assert_fifo, assert_gone};
use nix::sys::signal::Signal;
use testkit::{Finished, Running, TempDir, run, wait_until_blocked_in};

const WRITER: &str = env!("CARGO_BIN_EXE_bare_writer");
const READER: &str = env!("CARGO_BIN_EXE_bare_reader");

/// The lines `bare_writer` sends.
const LINES: [&str; 3] = ["hello", "through a", "named pipe"];

/// A bare example run in `dir`: with no argument (the default `./bare_fifo`), or with `path`.
fn bare(binary: &str, dir: &Path, path: Option<&Path>) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(dir).args(path);
    command
}

fn assert_met(writer: &Finished, reader: &Finished, fifo: &Path, dir: &Path) {
    assert!(writer.status.success(), "{writer:?}");
    assert!(reader.status.success(), "{reader:?}");
    let received = reader.stdout_lines();
    for line in LINES {
        assert!(
            writer.stdout.contains(&format!("wrote {line}\n")),
            "{writer:?}"
        );
        assert!(
            received.contains(&line),
            "{line:?} did not arrive: {reader:?}"
        );
    }
    assert!(reader.stdout.contains("end of file; removed"), "{reader:?}");
    assert_gone(fifo);
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn reader_first_with_the_default_path() {
    let dir = TempDir::new("fifo-bare-reader-first");
    let mut reader = Running::spawn(bare(READER, dir.path(), None));
    reader.expect_line("waits here until a writer opens it");
    let writer = run(bare(WRITER, dir.path(), None), "");
    assert!(writer.stdout.contains("exists already"), "{writer:?}");
    let reader = reader.wait();
    assert!(
        reader.stdout.contains("made the FIFO ./bare_fifo"),
        "{reader:?}"
    );
    assert_met(&writer, &reader, &dir.path().join("bare_fifo"), dir.path());
}

#[test]
fn writer_first_with_a_path_argument() {
    let dir = TempDir::new("fifo-bare-writer-first");
    let fifo = dir.path().join("meeting_point");
    let mut writer = Running::spawn(bare(WRITER, dir.path(), Some(&fifo)));
    writer.expect_line("waits here until a reader opens it");
    assert_fifo(&fifo);
    let reader = run(bare(READER, dir.path(), Some(&fifo)), "");
    assert!(reader.stdout.contains("exists already"), "{reader:?}");
    let writer = writer.wait();
    assert_met(&writer, &reader, &fifo, dir.path());
}

#[test]
fn ctrl_c_kills_a_bare_example_and_the_fifo_stays() {
    for binary in [WRITER, READER] {
        let dir = TempDir::new("fifo-bare-ctrl-c");
        let mut alone = Running::spawn(bare(binary, dir.path(), None));
        alone.expect_line("waits here until");
        wait_until_blocked_in(alone.pid(), libc::SYS_openat);
        alone.signal_group(Signal::SIGINT);
        let killed = alone.wait();
        // No handler: SIGINT's default action ends the process, and no cleanup runs.
        assert_eq!(
            killed.status.signal(),
            Some(Signal::SIGINT as i32),
            "{killed:?}"
        );
        assert_fifo(&dir.path().join("bare_fifo"));
    }
}

#[test]
fn help_is_help_not_a_fifo_named_help() {
    testkit::assert_help_only(WRITER);
    testkit::assert_help_only(READER);
}
