//! `shmread` and `shmwrite` (the notes' second pair) driven as a student would, each other's peer
//! and each against a C-style peer that wakes nobody; "end" stops both; faults end in one clear
//! line. No segment is left behind.

#![forbid(unsafe_code)]

mod common;

use std::time::Duration;

use common::{TestKey, assert_one_line_failure, id_in, notes_reader, notes_writer, segment_exists};
use nix::sys::signal::Signal;
use shm::shmget;
use testkit::{Running, run};

const READ: &str = env!("CARGO_BIN_EXE_shmread");
const WRITE: &str = env!("CARGO_BIN_EXE_shmwrite");

fn start_reader(key: &TestKey) -> (Running, i32) {
    let mut reader = Running::spawn(key.command(READ, &[]));
    let id = id_in(&reader.expect_line("shmread: created segment id="));
    reader.expect_line("waiting for shmwrite");
    (reader, id)
}

fn wrote(finished: &testkit::Finished) -> Vec<&str> {
    finished
        .stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("You wrote: "))
        .collect()
}

#[test]
fn every_line_arrives_once_in_order_and_end_stops_both() {
    let key = TestKey::new("shm-001-order");
    let (reader, id) = start_reader(&key);
    let mut input: String = (1..=100).map(|n| format!("line {n}\n")).collect();
    input.push_str("endless is not the end\nend\nnever sent\n");
    let writer = run(key.command(WRITE, &[]), &input);
    assert!(writer.status.success(), "{writer:?}");
    assert!(
        writer.stdout.contains("shmread has read \"end\""),
        "{writer:?}"
    );
    let finished = reader.wait();
    assert!(finished.status.success(), "{finished:?}");
    let mut expected: Vec<String> = (1..=100).map(|n| format!("You wrote: line {n}")).collect();
    expected.push("You wrote: endless is not the end".to_owned());
    expected.push("You wrote: end".to_owned());
    assert_eq!(wrote(&finished), expected);
    assert!(
        finished
            .stdout
            .contains("shmdt, then shmctl(IPC_RMID): removed")
    );
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn the_end_of_input_sends_end_and_a_long_line_is_split() {
    let key = TestKey::new("shm-001-eof");
    let (reader, id) = start_reader(&key);
    let long = "y".repeat(3000);
    let writer = run(key.command(WRITE, &[]), &format!("{long}\nshort"));
    assert!(writer.status.success(), "{writer:?}");
    assert!(
        writer
            .stdout
            .contains("line 1 has 3000 bytes, over 2047: sent in 2 parts")
    );
    assert!(writer.stdout.contains("end of input: sending \"end\""));
    let finished = reader.wait();
    assert!(finished.status.success(), "{finished:?}");
    let expected = [
        format!("You wrote: {}", &long[..2047]),
        format!("You wrote: {}", &long[2047..]),
        "You wrote: short".to_owned(),
        "You wrote: end".to_owned(),
    ];
    assert_eq!(wrote(&finished), expected);
    assert!(!segment_exists(id));
}

#[test]
fn the_reader_notices_a_c_style_writer_that_never_wakes_it() {
    let key = TestKey::new("shm-001-cwriter");
    let (reader, id) = start_reader(&key);
    let mut lines: Vec<Vec<u8>> = (1..=20)
        .map(|n| format!("from C {n}").into_bytes())
        .collect();
    lines.push(b"end".to_vec());
    let latencies = notes_writer(key.key(), lines).join().unwrap();
    let finished = reader.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert_eq!(wrote(&finished).len(), 21);
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    assert!(mean < Duration::from_millis(60), "mean {mean:?}");
    assert!(!segment_exists(id));
}

#[test]
fn the_writer_works_with_a_c_style_reader_that_never_wakes_it() {
    let key = TestKey::new("shm-001-creader");
    let (_id, peer) = notes_reader(key.key());
    let writer = run(key.command(WRITE, &[]), "one\ntwo\nend\n");
    assert!(writer.status.success(), "{writer:?}");
    assert_eq!(peer.join().unwrap(), [&b"one"[..], b"two", b"end"]);
}

#[test]
fn a_killed_writer_is_noticed_and_a_killed_reader_too() {
    let key = TestKey::new("shm-001-kill-writer");
    let (mut reader, id) = start_reader(&key);
    let mut writer = Running::spawn(key.command(WRITE, &[]));
    writer.write_line("one").unwrap();
    reader.expect_line("You wrote: one");
    writer.signal(Signal::SIGKILL);
    drop(writer.wait());
    let finished = reader.wait();
    assert_one_line_failure(
        &finished,
        1,
        &["detached after 1 line without sending \"end\""],
    );
    assert!(!segment_exists(id));

    let key = TestKey::new("shm-001-kill-reader");
    let (mut reader, id) = start_reader(&key);
    let mut writer = Running::spawn(key.command(WRITE, &[]));
    writer.write_line("one").unwrap();
    reader.expect_line("You wrote: one");
    reader.signal(Signal::SIGKILL);
    drop(reader.wait());
    writer.write_line("two").unwrap();
    writer.close_stdin();
    let finished = writer.wait();
    assert_one_line_failure(&finished, 1, &["was killed", "removed the segment"]);
    assert!(!segment_exists(id));
}

#[test]
fn too_small_foreign_or_missing_is_refused_in_one_line() {
    let key = TestKey::new("shm-001-small");
    let small = shmget(key.key(), 8, libc::IPC_CREAT | libc::IPC_EXCL | 0o600).unwrap();
    let finished = run(key.command(WRITE, &[]), "hello\n");
    assert_one_line_failure(&finished, 1, &["8 bytes", "the struct needs 2052"]);
    let finished = run(key.command(READ, &[]), "");
    assert_one_line_failure(&finished, 1, &["EEXIST", "ipcrm -M"]);
    small.shmctl_set_owner(65534).unwrap();
    let finished = run(key.command(WRITE, &[]), "hello\n");
    assert_one_line_failure(&finished, 1, &["belongs to uid 65534", "--accept-foreign"]);
    drop(small);
    let finished = run(key.command(WRITE, &[]), "");
    assert_one_line_failure(&finished, 1, &["ENOENT", "start shmread first"]);
}
