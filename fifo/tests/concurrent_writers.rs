//! Two writers send many records at the same time into one FIFO, and every record reaches the
//! reader whole: a write of at most PIPE_BUF bytes is atomic, so records never interleave. The
//! test also checks that the records of the two writers did arrive mixed, one writer's between
//! two of the other's: otherwise nothing was shown.
//! Checked with the course notes' 100-byte records and with records of PIPE_BUF (4096) bytes.

#![forbid(unsafe_code)]

mod common;

use std::collections::HashMap;
use std::thread;

use common::{assert_gone, example, fifo_in};
use testkit::{Running, TempDir};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");

/// Line `number` of writer `name`: the name and number, padded with the name's letter to fill
/// the record, so that a record made of pieces of two writers' lines cannot pass for a line.
fn line(name: &str, number: usize, text_bytes: usize) -> String {
    let head = format!("{name}-{number:05}-");
    let fill = name.chars().next().unwrap().to_string();
    format!("{head}{}", fill.repeat(text_bytes - head.len()))
}

fn two_writers_never_interleave(record_size: usize, lines_each: usize) {
    let dir = TempDir::new("fifo-concurrent");
    let path = fifo_in(dir.path());
    let size = record_size.to_string();
    let mut command = example(READER, &path);
    command.args(["--record-size", &size]);
    let mut reader = Running::spawn(command);
    reader.expect_line("waiting in open()");
    let names = ["one", "two"];
    let mut writers: Vec<Running> = names
        .iter()
        .map(|_| {
            let mut command = example(WRITER, &path);
            command.args(["--record-size", &size]);
            Running::spawn(command)
        })
        .collect();
    // Both writers hold the FIFO open before either sends anything, so that the reader cannot
    // see end of file between the two.
    for writer in &mut writers {
        writer.expect_line("a reader has");
    }
    let text_bytes = record_size - 1;
    thread::scope(|scope| {
        for (writer, name) in writers.iter_mut().zip(names) {
            scope.spawn(move || {
                for number in 0..lines_each {
                    writer.write_line(&line(name, number, text_bytes)).unwrap();
                }
            });
        }
    });
    for writer in writers {
        let finished = writer.wait();
        assert!(finished.status.success(), "{:?}", finished.stderr);
    }
    let finished = reader.wait();
    assert!(finished.status.success(), "{:?}", finished.stderr);

    let mut next: HashMap<&str, usize> = names.iter().map(|&name| (name, 0)).collect();
    let mut previous = "";
    let mut switches = 0;
    for received in finished.stdout_lines() {
        let Some(text) = received.strip_prefix("recv:") else {
            continue;
        };
        let name = text.split('-').next().unwrap();
        if !previous.is_empty() && name != previous {
            switches += 1;
        }
        previous = name;
        let expected = next
            .get_mut(name)
            .unwrap_or_else(|| panic!("a record from no writer: {text:.60}..."));
        assert_eq!(
            text,
            line(name, *expected, text_bytes),
            "torn or out of order"
        );
        *expected += 1;
    }
    for name in names {
        assert_eq!(next[name], lines_each, "records of writer {name} missing");
    }
    // One switch means all of one writer, then all of the other: they never wrote at the same
    // time, and the test proved nothing. (Measured: at least 9 switches, with both CPUs busy.)
    println!("{record_size}-byte records: the reader switched writers {switches} times");
    assert!(switches >= 2, "the writers did not write concurrently");
    assert_gone(&path);
}

#[test]
fn two_writers_of_100_byte_records_never_interleave() {
    two_writers_never_interleave(100, 3000);
}

#[test]
fn two_writers_of_pipe_buf_records_never_interleave() {
    two_writers_never_interleave(4096, 300);
}
