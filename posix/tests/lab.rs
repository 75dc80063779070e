//! The posix lab's graded tests: the job queue with priorities (`lab_posix`), run as a real
//! process tree. Each run gets a queue and a semaphore of its own names and a log in a temp
//! directory; the tests read the log themselves (not through the lab's own summary) to check
//! which jobs were done, in which order, and that the semaphore's count says the same. After
//! each run both names must be gone.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, mq_close, mq_open, mq_unlink};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use testkit::{Running, TempDir, number_after, signal_row, stop_with, wait_until_blocked_in};

const LAB: &str = env!("CARGO_BIN_EXE_lab_posix");

/// The payload the tests ask for, in bytes.
const PAYLOAD: usize = 24;

/// The lab's priority rule, written again here: job `number` of producer `producer`.
fn priority_of(producer: u32, number: u32) -> u32 {
    (producer * 3 + number * 7) % 9 + 1
}

/// A queue name and a semaphore name for one run, unique to this test process; whatever is
/// left at them is removed when the test ends, passed or failed.
struct Names {
    queue: String,
    done: String,
    dir: TempDir,
}

impl Names {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = format!(
            "/ipc-labs-lab-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Self {
            queue: base.clone(),
            done: format!("{base}-done"),
            dir: TempDir::new("lab-posix"),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("jobs.log")
    }

    /// `lab_posix` with these names and log, then `args`.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(LAB);
        command
            .args(["--queue", &self.queue, "--done", &self.done, "--log"])
            .arg(self.log())
            .args(args);
        command
    }

    fn semaphore_file(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm/sem.{}", &self.done[1..]))
    }

    /// Whether the queue or the semaphore still exists.
    fn left(&self) -> Vec<String> {
        let mut left = Vec::new();
        match mq_open(self.queue.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None) {
            Err(Errno::ENOENT) => {}
            Ok(mqd) => {
                let _ = mq_close(mqd);
                left.push(format!("queue {}", self.queue));
            }
            Err(errno) => left.push(format!("queue {}: {errno}", self.queue)),
        }
        if self.semaphore_file().exists() {
            left.push(format!("semaphore {}", self.done));
        }
        left
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let _ = mq_unlink(self.queue.as_str());
        let _ = std::fs::remove_file(self.semaphore_file());
    }
}

/// One record of the log: `done <worker> <producer> <number> <priority> <payload length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    worker: u32,
    producer: u32,
    number: u32,
    priority: u32,
    length: usize,
}

/// What one run left.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    records: Vec<Record>,
    left: Vec<String>,
}

impl Run {
    fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The numbers of the summary line: (counted, within the deadline, records, to do).
    fn summary(&self) -> (u64, u64, u64, u64) {
        let line = self
            .stdout
            .lines()
            .find(|line| line.contains("the semaphore counted"))
            .unwrap_or_else(|| panic!("no summary line: {self:?}"));
        (
            number_after(line, "counted "),
            number_after(line, "done ("),
            number_after(line, "holds "),
            number_after(line, "records; "),
        )
    }
}

fn records(log: &str) -> Vec<Record> {
    log.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert!(
                fields.len() == 6 && fields[0] == "done",
                "a record is `done W P J Q LEN`: {line:?}"
            );
            let number =
                |i: usize| -> u64 { fields[i].parse().unwrap_or_else(|_| panic!("{line:?}")) };
            Record {
                worker: number(1) as u32,
                producer: number(2) as u32,
                number: number(3) as u32,
                priority: number(4) as u32,
                length: number(5) as usize,
            }
        })
        .collect()
}

/// Waits for a run to end (testkit's watchdog bounds it) and collects what it left.
fn finish(names: &Names, running: Running) -> Run {
    let finished = running.wait();
    Run {
        code: finished.status.code(),
        stdout: finished.stdout,
        stderr: finished.stderr,
        records: records(&std::fs::read_to_string(names.log()).unwrap_or_default()),
        left: names.left(),
    }
}

fn lab(args: &[&str]) -> Run {
    let names = Names::new();
    let running = Running::spawn(names.command(args));
    finish(&names, running)
}

/// Checks that every job of `producers` × `jobs` is in the log exactly once, whole, with its
/// priority.
fn assert_each_job_once(run: &Run, producers: u32, jobs: u32, payload: usize) {
    let mut seen = BTreeMap::new();
    for record in &run.records {
        *seen.entry((record.producer, record.number)).or_insert(0) += 1;
        assert_eq!(
            record.priority,
            priority_of(record.producer, record.number),
            "{record:?}"
        );
        assert_eq!(record.length, payload, "a cut or damaged job: {record:?}");
    }
    for producer in 0..producers {
        for number in 0..jobs {
            let times = seen.remove(&(producer, number)).unwrap_or(0);
            assert_eq!(
                times, 1,
                "job {producer}.{number} done {times} times: {run:?}"
            );
        }
    }
    assert!(seen.is_empty(), "jobs nobody submitted: {seen:?}");
}

/// The graded default: 3 producers × 30 jobs, 4 workers, a queue of 4, run once for the tests
/// below.
fn default_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        lab(&[
            "-p",
            "3",
            "-w",
            "4",
            "-j",
            "30",
            "--capacity",
            "4",
            "--work-us",
            "200",
            "--payload",
            "24",
        ])
    })
}

#[test]
fn every_job_is_done_exactly_once() {
    let run = default_run();
    assert!(run.success(), "{run:?}");
    assert_each_job_once(run, 3, 30, PAYLOAD);
}

#[test]
fn the_semaphore_counts_the_jobs_done() {
    let run = default_run();
    assert!(run.success(), "{run:?}");
    let (counted, in_time, records, to_do) = run.summary();
    assert_eq!(
        (counted, in_time, records, to_do),
        (90, 90, 90, 90),
        "{run:?}"
    );
    let by_workers: u64 = run
        .stdout
        .lines()
        .filter(|line| line.contains("took the end message after"))
        .map(|line| number_after::<u64>(line, "after "))
        .sum();
    assert_eq!(by_workers, 90, "the workers' own counts: {run:?}");
}

#[test]
fn one_worker_takes_the_highest_priority_first() {
    let run = lab(&[
        "--jobs-first",
        "-p",
        "2",
        "-j",
        "5",
        "-w",
        "1",
        "--capacity",
        "10",
        "--payload",
        "24",
    ]);
    assert!(run.success(), "{run:?}");
    assert_each_job_once(&run, 2, 5, PAYLOAD);
    for pair in run.records.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        assert!(
            before.priority >= after.priority,
            "priority {} done before priority {}: {run:?}",
            before.priority,
            after.priority
        );
        if before.priority == after.priority && before.producer == after.producer {
            assert!(
                before.number < after.number,
                "one producer's jobs of one priority must come out in the order it sent them: \
                 {run:?}"
            );
        }
    }
}

#[test]
fn a_full_queue_blocks_the_producer_and_loses_nothing() {
    let names = Names::new();
    let mut running = Running::spawn(names.command(&[
        "-p",
        "1",
        "-w",
        "1",
        "-j",
        "12",
        "--capacity",
        "2",
        "--work-us",
        "50000",
        "--payload",
        "24",
    ]));
    let line = running.expect_line("producer 0 (pid ");
    let producer = nix::unistd::Pid::from_raw(number_after(&line, "(pid "));
    wait_until_blocked_in(producer, libc::SYS_mq_timedsend);
    let run = finish(&names, running);
    assert!(run.success(), "{run:?}");
    assert_each_job_once(&run, 1, 12, PAYLOAD);
}

#[test]
fn a_job_too_long_for_the_queue_is_refused_with_emsgsize() {
    let run = lab(&["-p", "2", "-j", "3", "--msgsize", "64", "--payload", "100"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("EMSGSIZE"), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    assert!(run.records.is_empty(), "a job was cut to fit: {run:?}");
    assert!(run.left.is_empty(), "left: {:?}", run.left);
}

#[test]
fn the_queue_and_the_semaphore_are_removed() {
    let run = default_run();
    assert!(run.success(), "{run:?}");
    assert!(run.left.is_empty(), "left: {:?}", run.left);
}

#[test]
fn a_stop_signal_ends_the_wait_and_removes_everything() {
    signal_row("waiting for jobs done", |signal: Signal| {
        let names = Names::new();
        let mut running = Running::spawn(names.command(&[
            "-p",
            "1",
            "-w",
            "1",
            "-j",
            "3",
            "--hang-on",
            "0.2",
            "--deadline-ms",
            "60000",
        ]));
        running.expect_line("hangs in job 0.2");
        // The parent is in wait_done: sem_timedwait sleeps in futex(2).
        wait_until_blocked_in(running.pid(), libc::SYS_futex);
        let finished = stop_with(running, signal);
        let left = names.left();
        assert!(left.is_empty(), "left: {left:?}; {finished:?}");
    });
}

// BEGIN HIDDEN TESTS
#[test]
fn a_worker_killed_mid_job_does_not_make_the_count_lie() {
    let names = Names::new();
    let mut running = Running::spawn(names.command(&[
        "-p",
        "1",
        "-w",
        "2",
        "-j",
        "10",
        "--hang-on",
        "0.3",
        "--deadline-ms",
        "3000",
        "--payload",
        "24",
    ]));
    let line = running.expect_line("hangs in job 0.3");
    let worker = nix::unistd::Pid::from_raw(number_after(&line, "(pid "));
    nix::sys::signal::kill(worker, Signal::SIGKILL).expect("kill the worker");
    let run = finish(&names, running);
    assert_eq!(run.code, Some(1), "a lost job is a failure: {run:?}");
    assert!(run.stderr.contains("killed by signal 9"), "{run:?}");
    let (counted, _, records, to_do) = run.summary();
    assert_eq!(
        counted, records,
        "the semaphore and the log disagree: {run:?}"
    );
    assert_eq!((records, to_do), (9, 10), "{run:?}");
    assert_eq!(run.records.len(), 9, "{run:?}");
    assert!(
        !run.records.iter().any(|r| (r.producer, r.number) == (0, 3)),
        "the job of the killed worker is in the log: {run:?}"
    );
    assert!(run.left.is_empty(), "left: {:?}", run.left);
}

#[test]
fn other_shapes_work_too() {
    let shapes: [(&[&str], u32, u32, usize); 3] = [
        (
            &["-p", "1", "-w", "1", "-j", "20", "--payload", "0"],
            1,
            20,
            0,
        ),
        (
            &[
                "-p",
                "1",
                "-w",
                "6",
                "-j",
                "25",
                "--capacity",
                "1",
                "--payload",
                "1",
            ],
            1,
            25,
            1,
        ),
        (
            &[
                "-p",
                "4",
                "-w",
                "2",
                "-j",
                "5",
                "--capacity",
                "3",
                "--msgsize",
                "8192",
                "--payload",
                "8000",
            ],
            4,
            5,
            8000,
        ),
    ];
    for (args, producers, jobs, payload) in shapes {
        let run = lab(args);
        assert!(run.success(), "{args:?}: {run:?}");
        assert_each_job_once(&run, producers, jobs, payload);
        let (counted, _, records, _) = run.summary();
        assert_eq!(counted, records, "{args:?}: {run:?}");
        assert!(run.left.is_empty(), "{args:?} left: {:?}", run.left);
    }
}
// END HIDDEN TESTS
