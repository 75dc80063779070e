//! `lab_posix` as a program, before any of the lab's functions runs: its command line, a name
//! that is taken, and a closed terminal. None of these is graded, and each holds in the
//! handout too (the student's functions are never reached), so the handout's own test run
//! checks them as well. The graded tests are in `lab.rs`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_open, mq_unlink};
use nix::sys::stat::Mode;
use testkit::{OnTerminal, TempDir, assert_help_only, assert_refused_out_of_range, run};

const LAB: &str = env!("CARGO_BIN_EXE_lab_posix");

/// A queue name, a semaphore name and a log of this test's own; whatever is left is removed
/// on drop, and `left` says what was.
struct Names {
    queue: String,
    done: String,
    dir: TempDir,
}

impl Names {
    fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("ipc-labs-test-lab-{label}-{}-{n}", std::process::id());
        Names {
            queue: format!("/{base}-q"),
            done: format!("/{base}-d"),
            dir: TempDir::new("lab-posix"),
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(LAB);
        let log = self.dir.path().join("jobs.log");
        command
            .args(["--queue", &self.queue, "--done", &self.done, "--log"])
            .arg(log);
        command
    }

    fn semaphore_file(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm/sem.{}", &self.done[1..]))
    }

    fn queue_exists(&self) -> bool {
        match mq_open(self.queue.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None) {
            Ok(mqd) => {
                let _ = mq_close(mqd);
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let _ = mq_unlink(self.queue.as_str());
        let _ = std::fs::remove_file(self.semaphore_file());
    }
}

#[test]
fn help_and_values_out_of_range() {
    assert_help_only(LAB);
    for (flag, value) in [
        ("--producers", "0"),
        ("--workers", "65"),
        ("--capacity", "0"),
    ] {
        let mut command = Command::new(LAB);
        command.args([flag, value]);
        assert_refused_out_of_range(command, flag);
    }
    let mut command = Command::new(LAB);
    command.args(["--queue", "no-slash"]);
    let bad_name = run(command, "");
    assert_eq!(bad_name.status.code(), Some(2), "{bad_name:?}");
    assert_eq!(
        bad_name.stderr,
        "lab_posix: invalid value 'no-slash' for '--queue <NAME>': a name starts with '/' (see \
         --help)\n"
    );
}

/// A queue already at the name is someone else's: refused with one line, used for nothing,
/// left as it was, and no semaphore is made.
#[test]
fn a_queue_already_at_the_name_is_refused_and_left() {
    let names = Names::new("taken");
    let attr = MqAttr::new(0, 2, 16, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let theirs = mq_open(
        names.queue.as_str(),
        flags,
        Mode::from_bits_truncate(0o600),
        Some(&attr),
    )
    .unwrap();
    let refused = run(names.command(), "");
    let _ = mq_close(theirs);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
    assert!(refused.stderr.contains("EEXIST"), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert!(names.queue_exists(), "the other queue is left");
    assert!(!names.semaphore_file().exists(), "no semaphore was made");
}

/// A closed terminal stops it as SIGHUP does (exit 129), and what it created goes.
#[test]
fn a_closed_terminal_stops_it_and_nothing_is_left() {
    let names = Names::new("closed");
    OnTerminal::spawn_closed(names.command()).assert_hung_up();
    assert!(!names.queue_exists(), "the queue is left");
    assert!(!names.semaphore_file().exists(), "the semaphore is left");
}
