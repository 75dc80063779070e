//! `xfr_writer` and `xfr_reader`, the careful two-semaphore version: byte-exact for 0 bytes,
//! 1 byte, 1 MiB and 100 MiB; a killed peer is noticed; a stop signal while waiting for the
//! peer ends it within a second. Each test has a key of its own, a watchdog on every child, and
//! removes whatever has its key when it ends, even on failure.

#![forbid(unsafe_code)]

mod common;

use std::hash::{DefaultHasher, Hasher};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::TestKey;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use sysv::Kind;
use testkit::{Running, signal_row, stop_with, wait_until_blocked_in};

const WRITER: &str = env!("CARGO_BIN_EXE_xfr_writer");
const READER: &str = env!("CARGO_BIN_EXE_xfr_reader");

/// A test key that also removes the semaphore sets with its key when dropped (TestKey removes
/// the segments).
struct XfrKey(TestKey);

impl XfrKey {
    fn new(label: &str) -> Self {
        Self(TestKey::new(label))
    }

    /// Segments and semaphore sets with this key now.
    fn left(&self) -> (Vec<i32>, Vec<i32>) {
        (self.0.ids(), self.sets())
    }

    fn sets(&self) -> Vec<i32> {
        let sets = sysv::list(Kind::Sem).expect("read /proc/sysvipc/sem");
        let key = self.0.key();
        sets.iter().filter(|o| o.key == key).map(|o| o.id).collect()
    }

    /// `binary --key-path <file> --proj a <args>`: the test key's 'a' (xfr's default is 'x').
    fn command(&self, binary: &str, args: &[&str]) -> Command {
        let mut command = self.0.command(binary, &["--proj", "a"]);
        command.args(args);
        command
    }
}

impl Drop for XfrKey {
    fn drop(&mut self) {
        for id in self.sets() {
            let _ = semaphore::SemaphoreSet::from_id(id).semctl_rmid();
        }
    }
}

/// A child in a process group of its own, killed with its group after the watchdog's time,
/// or when dropped.
struct Guarded {
    child: Child,
    done: Option<mpsc::Sender<()>>,
}

impl Guarded {
    fn spawn(mut command: Command) -> Self {
        command
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("spawn");
        let group = Pid::from_raw(child.id() as i32);
        let (done, orders) = mpsc::channel::<()>();
        thread::spawn(move || {
            if orders.recv_timeout(testkit::WATCHDOG).is_err() {
                let _ = killpg(group, Signal::SIGKILL);
            }
        });
        Self {
            child,
            done: Some(done),
        }
    }

    /// Waits for the exit; returns whether it succeeded and its stderr.
    fn finish(mut self) -> (bool, String) {
        let mut stderr = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr);
        let status = self.child.wait().expect("wait");
        self.done.take();
        (status.success(), stderr)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if self.done.is_some() {
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// The test input: a deterministic counter pattern, not periodic at any short length.
fn pattern(offset: u64, buffer: &mut [u8]) {
    for (i, byte) in buffer.iter_mut().enumerate() {
        let n = offset + i as u64;
        *byte = (n ^ (n >> 8) ^ (n >> 19)) as u8;
    }
}

/// Sends `size` bytes of the pattern from the writer's stdin (written in 1 MiB chunks by a
/// thread) to the reader's stdout (read and hashed as it comes, in 256 KiB reads), and checks
/// the length and the hash. Extra arguments go to both sides.
fn transfer(label: &str, size: u64, args: &[&str]) -> Duration {
    let key = XfrKey::new(label);
    let started = Instant::now();
    let mut reader = Guarded::spawn(key.command(READER, args));
    let mut writer = Guarded::spawn(key.command(WRITER, args));
    let mut stdin = writer.child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let mut expected = DefaultHasher::new();
        let mut chunk = vec![0u8; 1 << 20];
        let mut sent = 0u64;
        while sent < size {
            let count = (size - sent).min(chunk.len() as u64) as usize;
            pattern(sent, &mut chunk[..count]);
            expected.write(&chunk[..count]);
            stdin.write_all(&chunk[..count]).expect("feed the writer");
            sent += count as u64;
        }
        expected.finish() // stdin closes here: end of input
    });
    let mut stdout = reader.child.stdout.take().unwrap();
    let mut seen = DefaultHasher::new();
    let mut buffer = vec![0u8; 256 << 10];
    let mut received = 0u64;
    loop {
        let count = stdout.read(&mut buffer).expect("read the reader's stdout");
        if count == 0 {
            break;
        }
        seen.write(&buffer[..count]);
        received += count as u64;
    }
    let expected = feeder.join().expect("the feeder");
    let (wrote, writer_said) = writer.finish();
    let (read, reader_said) = reader.finish();
    let elapsed = started.elapsed();
    assert!(wrote, "writer: {writer_said}");
    assert!(read, "reader: {reader_said}");
    assert_eq!(received, size, "the reader's stdout has the input's length");
    assert_eq!(seen.finish(), expected, "and the same bytes");
    assert!(
        reader_said.contains(&format!("received {size} bytes")),
        "{reader_said}"
    );
    assert!(writer_said.contains("the last one out"), "{writer_said}");
    assert_eq!(key.left(), (vec![], vec![]), "nothing left with this key");
    elapsed
}

#[test]
fn zero_bytes_one_byte_and_one_mib_arrive_byte_exact() {
    transfer("xfr-0", 0, &[]);
    transfer("xfr-1", 1, &[]);
    transfer("xfr-1m", 1 << 20, &[]);
    transfer("xfr-1m-small", 1 << 20, &["--buffer-size", "1000"]);
}

#[test]
fn one_hundred_mib_arrive_byte_exact_well_within_the_watchdog() {
    let elapsed = transfer("xfr-100m", 100 << 20, &[]);
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[test]
fn a_file_is_sent_with_input_and_either_side_may_start_first() {
    let key = XfrKey::new("xfr-input");
    let dir = testkit::TempDir::new("xfr-input-file");
    let path = dir.path().join("data");
    let mut data = vec![0u8; 300_000];
    pattern(7, &mut data);
    std::fs::write(&path, &data).unwrap();
    let writer = Guarded::spawn(key.command(WRITER, &["--input", path.to_str().unwrap()]));
    wait_until_blocked_in(
        Pid::from_raw(writer.child.id() as i32),
        libc::SYS_semtimedop,
    );
    let mut reader = Guarded::spawn(key.command(READER, &[]));
    let mut copy = Vec::new();
    let mut stdout = reader.child.stdout.take().unwrap();
    stdout.read_to_end(&mut copy).unwrap();
    let (wrote, said) = writer.finish();
    assert!(wrote, "{said}");
    assert!(
        said.contains("created segment id="),
        "the writer came first: {said}"
    );
    let (read, said) = reader.finish();
    assert!(read, "{said}");
    assert!(copy == data, "byte-exact");
    assert_eq!(key.left(), (vec![], vec![]));
}

#[test]
fn a_killed_writer_is_noticed_by_the_reader() {
    let key = XfrKey::new("xfr-kill-writer");
    let mut reader = Running::spawn(key.command(READER, &[]));
    let mut writer = Running::spawn(key.command(WRITER, &[]));
    writer.write_line("one").unwrap();
    assert_eq!(reader.expect_line("one"), "one");
    writer.signal(Signal::SIGKILL);
    drop(writer.wait());
    let finished = reader.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("xfr_writer (pid ")
            && finished
                .stderr
                .contains("is gone before the end of the transfer: it was killed"),
        "{finished:?}"
    );
    assert!(!finished.stderr.contains("panicked"));
    assert_eq!(key.left(), (vec![], vec![]), "the reader removed both");
}

#[test]
fn a_killed_reader_is_noticed_by_the_writer() {
    let key = XfrKey::new("xfr-kill-reader");
    let mut reader = Running::spawn(key.command(READER, &[]));
    let mut writer = Running::spawn(key.command(WRITER, &[]));
    writer.write_line("one").unwrap();
    reader.expect_line("one");
    reader.signal(Signal::SIGKILL);
    drop(reader.wait());
    writer.write_line("two").unwrap(); // the buffer is free: it goes in
    writer.close_stdin(); // the end mark then waits for a reader that is gone
    let finished = writer.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("xfr_reader (pid ")
            && finished
                .stderr
                .contains("is gone before the end of the transfer: it was killed"),
        "{finished:?}"
    );
    assert_eq!(key.left(), (vec![], vec![]), "the writer removed both");
}

#[test]
fn a_signal_to_one_side_mid_transfer_stops_the_other_with_eidrm() {
    let key = XfrKey::new("xfr-eidrm");
    let mut reader = Running::spawn(key.command(READER, &[]));
    let mut writer = Running::spawn(key.command(WRITER, &[]));
    writer.write_line("one").unwrap();
    reader.expect_line("one");
    wait_until_blocked_in(reader.pid(), libc::SYS_semtimedop);
    stop_with(writer, Signal::SIGTERM);
    let finished = reader.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .contains("xfr_writer stopped and removed the objects"),
        "{finished:?}"
    );
    assert_eq!(key.left(), (vec![], vec![]));
}

#[test]
fn a_stop_signal_while_waiting_for_the_peer_ends_either_side_and_leaves_nothing() {
    signal_row("xfr_reader in semtimedop, no writer", |signal| {
        let key = XfrKey::new("xfr-sig-reader");
        let reader = Running::spawn(key.command(READER, &[]));
        wait_until_blocked_in(reader.pid(), libc::SYS_semtimedop);
        let finished = stop_with(reader, signal);
        assert!(finished.stderr.contains(&format!("got {signal}; stopping")));
        assert!(finished.stdout.is_empty(), "stdout is only data");
        assert_eq!(key.left(), (vec![], vec![]));
    });
    signal_row("xfr_writer in semtimedop, no reader", |signal| {
        let key = XfrKey::new("xfr-sig-writer");
        let mut writer = Running::spawn(key.command(WRITER, &[]));
        writer.write_line("taken by nobody").unwrap();
        writer.close_stdin(); // the end mark waits for its turn
        wait_until_blocked_in(writer.pid(), libc::SYS_semtimedop);
        stop_with(writer, signal);
        assert_eq!(key.left(), (vec![], vec![]));
    });
    signal_row("xfr_writer in poll of stdin, reader waiting", |signal| {
        let key = XfrKey::new("xfr-sig-read");
        let reader = Running::spawn(key.command(READER, &[]));
        wait_until_blocked_in(reader.pid(), libc::SYS_semtimedop);
        let writer = Running::spawn(key.command(WRITER, &[]));
        wait_until_blocked_in(writer.pid(), testkit::SYS_POLL);
        stop_with(writer, signal);
        let finished = reader.wait();
        assert!(
            finished.stderr.contains("xfr_writer stopped"),
            "{finished:?}"
        );
        assert_eq!(key.left(), (vec![], vec![]));
    });
}

#[test]
fn help_and_a_buffer_size_out_of_range() {
    for binary in [WRITER, READER] {
        let mut help = Command::new(binary);
        help.arg("--help");
        let finished = testkit::run(help, "");
        assert!(finished.status.success());
        assert!(finished.stdout.contains("--buffer-size"), "{finished:?}");
        assert!(
            finished.stdout.to_lowercase().contains("a length of 0"),
            "{finished:?}"
        );
        assert!(finished.stdout.contains("16 MiB"), "{finished:?}");
        let key = XfrKey::new("xfr-range");
        testkit::assert_refused_out_of_range(
            key.command(binary, &["--buffer-size", "0"]),
            "--buffer-size",
        );
    }
}
