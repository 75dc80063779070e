//! Helpers the msgqueue integration tests share: a unique key per test (a fresh file in a temp
//! directory, for ftok), questions to /proc/sysvipc/msg, and the binaries run as user nobody.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use sysv::Kind;
use testkit::{Finished, Running};

pub use testkit::Queues;

/// A key of this test's own (see [`testkit::TestKey`]): its queues go when it is dropped.
pub type TestKey = testkit::TestKey<Queues>;

/// The ids of the queues in /proc/sysvipc/msg that `wanted` picks.
pub fn queue_ids(wanted: impl Fn(&sysv::Object) -> bool) -> Vec<i32> {
    testkit::sysv_ids(Kind::Msg, wanted)
}

/// Whether a queue with this id exists.
pub fn queue_exists(id: i32) -> bool {
    !queue_ids(|object| object.id == id).is_empty()
}

/// The number after `id=` in a line such as `recv: created queue id=7 key=0x...`.
pub fn id_in(line: &str) -> i32 {
    let rest = &line[line.find("id=").expect("an id= in the line") + 3..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a number after id=")
}

/// Sends `signal` to the example's process group, as Ctrl-C in a terminal does, and waits for
/// it to end. Returns how it ended and how long that took.
pub fn interrupt(running: Running, signal: nix::sys::signal::Signal) -> (Finished, Duration) {
    let started = Instant::now();
    running.signal_group(signal);
    let finished = running.wait();
    (finished, started.elapsed())
}

/// Waits until process `pid` sleeps in `msgrcv` (see [`testkit::wait_until_blocked_in`]).
pub fn wait_until_blocked_in_msgrcv(pid: nix::unistd::Pid) {
    testkit::wait_until_blocked_in(pid, libc::SYS_msgrcv);
}

/// Asserts that the example failed with exactly one line on stderr containing each of `needles`.
pub fn assert_one_line_failure(finished: &Finished, needles: &[&str]) {
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {finished:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} in {:?}", lines[0]);
    }
}

/// Asserts that the example failed with one line on stderr that starts with `start`: the
/// program's name and one operation, such as `send: msgsnd: EINVAL`.
pub fn assert_failure_starts(finished: &Finished, start: &str) {
    assert_one_line_failure(finished, &[]);
    assert!(
        finished.stderr.starts_with(start),
        "{start:?} starts {:?}",
        finished.stderr
    );
}

/// Asserts that a command line was refused by clap: exit status 2 and one line on stderr that
/// contains each of `needles`.
pub fn assert_usage_error(finished: &Finished, needles: &[&str]) {
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {finished:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} in {:?}", lines[0]);
    }
}

/// Removes the queue with this id when dropped, whoever created it: a test that leaves a queue
/// on purpose (`send --create`) still cleans up when one of its assertions fails.
pub struct RemoveOnDrop(pub i32);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = sysv::remove(Kind::Msg, self.0);
    }
}
