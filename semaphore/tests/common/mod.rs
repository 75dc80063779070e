//! Helpers the semaphore integration tests share: a unique key per test (a fresh file in a temp
//! directory, for ftok) that removes its sets on drop, questions to /proc/sysvipc/sem, and the
//! checks of a failure's one line.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use nix::unistd::Pid;
use sysv::Kind;
use testkit::{DEADLINE, Finished};

pub use testkit::Sets;

/// A key of this test's own (see [`testkit::TestKey`]): its semaphore sets go when it is dropped.
pub type TestKey = testkit::TestKey<Sets>;

/// Removes the set with this id when dropped, whoever created it.
pub struct RemoveOnDrop(pub i32);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = sysv::remove(Kind::Sem, self.0);
    }
}

/// The ids of the sets in /proc/sysvipc/sem that `wanted` picks.
pub fn set_ids(wanted: impl Fn(&sysv::Object) -> bool) -> Vec<i32> {
    testkit::sysv_ids(Kind::Sem, wanted)
}

/// Whether a set with this id exists.
pub fn set_exists(id: i32) -> bool {
    !set_ids(|object| object.id == id).is_empty()
}

/// The number after `id=` in a line such as `order: created semaphore set id=7 ...`.
pub fn id_in(line: &str) -> i32 {
    testkit::number_after(line, "id=")
}

/// Waits until the main thread of `pid` sleeps in `semop`: glibc's semop is the semtimedop
/// system call on some architectures (x86_64 among them), so either number counts.
pub fn wait_until_blocked_in_semop(pid: Pid) {
    let path = format!("/proc/{pid}/syscall");
    let wanted = [
        libc::SYS_semop.to_string(),
        libc::SYS_semtimedop.to_string(),
    ];
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(number) = seen.split_whitespace().next()
            && wanted.iter().any(|w| w == number)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never blocked in semop; {path}: {seen:?}"
        );
        // Waits for a state it can see; the millisecond only spares the CPU.
        std::thread::sleep(Duration::from_millis(1));
    }
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
