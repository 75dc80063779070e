//! The command line and the narration: `--record-size` is bounded and `--help` says the bound;
//! a value out of range is one clear line and status 2. Each side says how to start the other
//! one and how to quit, and the reader never says it waits for a writer once one is there.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{assert_gone, assert_no_fifo_in, example, fifo_in};
use fifo::MAX_RECORD_SIZE;
use testkit::{Running, TempDir, run};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");
const CHAT: &str = env!("CARGO_BIN_EXE_chat");

#[test]
fn record_size_is_bounded_and_help_says_the_bound() {
    let bound = format!("2 to {MAX_RECORD_SIZE} (PIPE_BUF)");
    for binary in [WRITER, READER, CHAT] {
        let mut help = Command::new(binary);
        help.arg("--help");
        let help = run(help, "");
        assert!(help.status.success(), "{help:?}");
        let line = help
            .stdout_lines()
            .into_iter()
            .find(|line| line.contains("--record-size"))
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(line.contains(&bound), "{binary} --help: {line:?}");

        let dir = TempDir::new("fifo-cli");
        let mut command = Command::new(binary);
        let too_big = (MAX_RECORD_SIZE + 1).to_string();
        command.args(["--record-size", &too_big]);
        match binary {
            CHAT => command.arg("--dir").arg(dir.path()),
            _ => command.arg("--path").arg(fifo_in(dir.path())),
        };
        let refused = run(command, "");
        assert_eq!(refused.status.code(), Some(2), "{refused:?}");
        assert_eq!(refused.stdout, "", "{refused:?}");
        let lines: Vec<&str> = refused.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{refused:?}");
        assert!(
            lines[0].contains(&format!("{too_big} is out of range")) && lines[0].contains(&bound),
            "{refused:?}"
        );
        assert_no_fifo_in(dir.path());
    }
}

/// The index of the first line that contains `needle`.
fn position(lines: &[&str], needle: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line containing {needle:?} in {lines:#?}"))
}

#[test]
fn the_writer_says_how_to_start_a_reader_and_how_to_quit() {
    let dir = TempDir::new("fifo-narration-writer");
    let path = fifo_in(dir.path());
    let mut writer = Running::spawn(example(WRITER, &path));
    let start = writer.expect_line("start a reader in another terminal: ");
    let command = format!(
        "cargo run -p fifo --bin reader -- --path {}",
        path.display()
    );
    assert!(start.ends_with(&command), "{start}");
    assert!(
        writer
            .expect_line("waiting in open()")
            .contains("(Ctrl-C quits)")
    );
    let mut reader = Running::spawn(example(READER, &path));
    let connected = writer.expect_line("a reader has");
    assert!(
        connected.contains("(Ctrl-D ends, Ctrl-C quits)"),
        "{connected}"
    );
    writer.write_line("hi").unwrap();
    reader.expect_line("recv:hi");
    let writer = writer.wait();
    assert!(writer.status.success(), "{writer:?}");
    let reader = reader.wait();
    assert!(reader.status.success(), "{reader:?}");
    // The reader found the writer's FIFO: no "start a writer" for it.
    assert!(!reader.stdout.contains("start a writer"), "{reader:?}");
    assert_no_waiting_once_connected(&reader.stdout_lines());
    assert_gone(&path);
}

#[test]
fn the_reader_says_how_to_start_a_writer_and_how_to_quit() {
    let dir = TempDir::new("fifo-narration-reader");
    let path = fifo_in(dir.path());
    let mut reader = Running::spawn(example(READER, &path));
    let start = reader.expect_line("start a writer in another terminal: ");
    let command = format!(
        "cargo run -p fifo --bin writer -- --path {}",
        path.display()
    );
    assert!(start.ends_with(&command), "{start}");
    assert!(
        reader
            .expect_line("waiting in open()")
            .contains("(Ctrl-C quits)")
    );
    let mut writer = Running::spawn(example(WRITER, &path));
    assert!(
        reader
            .expect_line("a writer has")
            .contains("(Ctrl-C quits)")
    );
    writer.write_line("hi").unwrap();
    reader.expect_line("recv:hi");
    assert!(writer.wait().status.success());
    let reader = reader.wait();
    assert!(reader.status.success(), "{reader:?}");
    assert_no_waiting_once_connected(&reader.stdout_lines());
    assert_gone(&path);
}

/// The reader speaks of waiting only before a writer has opened the FIFO.
fn assert_no_waiting_once_connected(lines: &[&str]) {
    let connected = position(lines, "a writer has");
    let waiting_after: Vec<&&str> = lines[connected..]
        .iter()
        .filter(|line| line.contains("waiting"))
        .collect();
    assert!(waiting_after.is_empty(), "{lines:#?}");
}
