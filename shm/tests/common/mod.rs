//! Helpers the shm integration tests share: a unique key per test (a fresh file in a temp
//! directory, for ftok) that removes its segments on drop, questions to /proc/sysvipc/shm, the
//! checks of a failure's one line, and the C-style peers.
//!
//! A C-style peer is a test helper, not an example: a thread of the test process that follows
//! a protocol of the course notes exactly as the C original does, setting the flag with a plain
//! store and never waking anyone (no futex). Our binaries must notice its flag by their polling
//! fallback.

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use shm::{Access, Key, SharedUse, ShmEntry, load_bytes, shmget, store_bytes};
use sysv::Kind;
use testkit::{DEADLINE, Finished};

pub use testkit::Segments;

/// A key of this test's own (see [`testkit::TestKey`]): its segments go when it is dropped.
pub type TestKey = testkit::TestKey<Segments>;

/// Marks the segment with this id for removal when dropped, whoever created it.
pub struct RemoveOnDrop(pub i32);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = sysv::remove(Kind::Shm, self.0);
    }
}

/// The ids of the segments in /proc/sysvipc/shm that `wanted` picks.
pub fn segment_ids(wanted: impl Fn(&sysv::Object) -> bool) -> Vec<i32> {
    testkit::sysv_ids(Kind::Shm, wanted)
}

/// Whether a segment with this id exists (marked for removal or not).
pub fn segment_exists(id: i32) -> bool {
    !segment_ids(|object| object.id == id).is_empty()
}

/// The number after `id=` in a line such as `shm_server: created segment id=7 ...`.
pub fn id_in(line: &str) -> i32 {
    testkit::number_after(line, "id=")
}

/// Asserts that the example failed with status `code` and exactly one line on stderr
/// containing each of `needles`, and no panic.
pub fn assert_one_line_failure(finished: &Finished, code: i32, needles: &[&str]) {
    assert_eq!(finished.status.code(), Some(code), "{finished:?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {finished:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} in {:?}", lines[0]);
    }
    assert!(!finished.stderr.contains("panicked"), "{finished:?}");
}

/// Runs `command` with `input` on stdin and returns its status and its stdout as raw bytes
/// (testkit's lines are text). A watchdog kills it after `testkit::WATCHDOG`.
pub fn run_raw(mut command: Command, input: &[u8]) -> (ExitStatus, Vec<u8>, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (done, orders) = mpsc::channel::<()>();
    thread::spawn(move || {
        if orders.recv_timeout(testkit::WATCHDOG).is_err() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut stdout)
        .expect("read");
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    let status = child.wait().expect("wait");
    let _ = done.send(());
    writer.join().expect("writer");
    (status, stdout, stderr)
}

/// The notes' first C server, as a thread: creates the segment (0600 here), then loops as the C
/// does: if `can_read`, take the message and clear the flag; else sleep. It never wakes
/// anyone. Ends once it has `count` messages and the flag is clear, or at the deadline.
/// Returns the messages and the segment's id (sent as soon as it exists).
pub fn notes_server(key: Key, count: usize) -> (i32, JoinHandle<Vec<Vec<u8>>>) {
    let (ready, created) = mpsc::channel();
    let handle = thread::spawn(move || {
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
        let segment = shmget(key, size_of::<ShmEntry>(), flags).expect("shmget");
        let attached = segment.shmat(Access::ReadWrite).expect("shmat");
        let entry = attached.view::<ShmEntry>().expect("view");
        entry.can_read.store(false, Release);
        ready.send(segment.id()).expect("send the id");
        let mut messages = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while messages.len() < count && Instant::now() < deadline {
            if entry.can_read.load(Acquire) {
                messages.push(load_bytes(&entry.msg));
                entry.can_read.store(false, Release); // no wake: the C server has none
            } else {
                thread::sleep(Duration::from_millis(2));
            }
        }
        messages
    });
    (created.recv().expect("the C-style server started"), handle)
}

/// The notes' first C client, as a thread: for each message, waits (sleeping, as the C never
/// wakes) until `can_read` is 0, copies the message with a newline (what fgets keeps), sets
/// the flag, and wakes nobody. Returns, for each message, how long the server took to clear
/// the flag: the latency of the polling fallback.
pub fn notes_client(key: Key, messages: Vec<Vec<u8>>) -> JoinHandle<Vec<Duration>> {
    thread::spawn(move || {
        let segment = shmget(key, 0, 0).expect("shmget");
        let attached = segment.shmat(Access::ReadWrite).expect("shmat");
        let entry = attached.view::<ShmEntry>().expect("view");
        let mut latencies = Vec::new();
        let mut sent_at: Option<Instant> = None;
        for message in messages.iter().map(Some).chain([None]) {
            let deadline = Instant::now() + DEADLINE;
            while entry.can_read.load(Acquire) {
                assert!(
                    Instant::now() < deadline,
                    "the server never cleared can_read"
                );
                thread::sleep(Duration::from_micros(200));
            }
            if let Some(at) = sent_at.take() {
                latencies.push(at.elapsed());
            }
            let Some(message) = message else { break };
            store_bytes(&entry.msg, &[&message[..], b"\n"].concat());
            entry.can_read.store(true, Release);
            sent_at = Some(Instant::now());
        }
        latencies
    })
}

/// The notes' `shmwrite.c`, as a thread: for each line, waits (sleeping) until `written` is 0,
/// copies the line with its newline, sets `written` to 1, and wakes nobody; then detaches.
/// Returns how long the reader took to clear `written` after each line.
pub fn notes_writer(key: Key, lines: Vec<Vec<u8>>) -> JoinHandle<Vec<Duration>> {
    thread::spawn(move || {
        let segment = shmget(key, 0, 0).expect("shmget");
        let attached = segment.shmat(Access::ReadWrite).expect("shmat");
        let shared = attached.view::<SharedUse>().expect("view");
        let mut latencies = Vec::new();
        let mut sent_at: Option<Instant> = None;
        for line in lines.iter().map(Some).chain([None]) {
            let deadline = Instant::now() + DEADLINE;
            while shared.written.load(Acquire) == 1 {
                assert!(
                    Instant::now() < deadline,
                    "the reader never cleared written"
                );
                thread::sleep(Duration::from_micros(200));
            }
            if let Some(at) = sent_at.take() {
                latencies.push(at.elapsed());
            }
            let Some(line) = line else { break };
            store_bytes(&shared.text, &[&line[..], b"\n"].concat());
            shared.written.store(1, Release);
            sent_at = Some(Instant::now());
        }
        latencies
    })
}

/// The notes' `shmread.c`, as a thread: creates the segment (0600 here), then loops: if
/// `written` is 1, take the line and clear it (no wake-up); stop after a line starting with
/// "end", as the notes' `strncmp(text, "end", 3)` does. Returns the segment's id at once, and
/// the lines at the end.
pub fn notes_reader(key: Key) -> (i32, JoinHandle<Vec<Vec<u8>>>) {
    let (ready, created) = mpsc::channel();
    let handle = thread::spawn(move || {
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
        let segment = shmget(key, size_of::<SharedUse>(), flags).expect("shmget");
        let attached = segment.shmat(Access::ReadWrite).expect("shmat");
        let shared = attached.view::<SharedUse>().expect("view");
        ready.send(segment.id()).expect("send the id");
        let mut lines = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if shared.written.load(Acquire) == 1 {
                let line = load_bytes(&shared.text);
                shared.written.store(0, Release);
                let end = line.starts_with(b"end");
                lines.push(line);
                if end {
                    break;
                }
            } else {
                thread::sleep(Duration::from_millis(2));
            }
        }
        lines
    });
    (created.recv().expect("the C-style reader started"), handle)
}
