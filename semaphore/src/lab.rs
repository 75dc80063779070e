//! # Lab: the dining philosophers
//!
//! N philosophers sit around a round table with one fork between each pair of neighbours:
//! philosopher `i` has fork `i` on the left and fork `(i + 1) % N` on the right, and needs both
//! to eat. Each philosopher is a process (forked by [`dinner`]); each fork is one semaphore of
//! a set, 1 while it lies on the table, 0 while somebody holds it.
//!
//! Taking the left fork, then the right one, in two `semop` calls, deadlocks as soon as every
//! philosopher holds a left fork and waits for a right one. One `semop` that takes BOTH forks
//! cannot: the kernel does all of its operations or none, so a philosopher never holds one fork
//! while waiting for the other.
//!
//! Every meal is written to a shared log file, opened `O_APPEND` and written one record per
//! `write(2)`, so that the records land whole and in the order they happened:
//! `start I T` when philosopher `I` starts eating and `end I T` when it stops, `T` in
//! nanoseconds since the table was set (`CLOCK_MONOTONIC`, the same clock in every process).
//! A checker reads the log and verifies that two neighbours never eat at once.
//!
//! What the student writes: [`take_forks`], [`put_forks`] and the [`philosopher`] loop. The rest
//! (the table, the log, forking and waiting) is given.

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::wait::WaitStatus;
use support::cli::{Context, Failure, report_error};
use support::stop::{Stop, Stopped};
use support::{Forked, describe, fork, run_child};

#[allow(unused_imports)] // SemOp: used by the parts the student writes
use crate::SemOp;
use crate::{Key, SemaphoreSet, create};

/// What [`dinner`] needs to know.
#[derive(Debug, Clone)]
pub struct Dinner {
    /// How many philosophers (and forks), 2 or more.
    pub philosophers: u16,
    /// How many times each one eats.
    pub meals: u32,
    /// How long one meal takes.
    pub eat: Duration,
    /// How long a philosopher thinks between meals (at most; it varies from meal to meal).
    pub think: Duration,
    /// The log file (created, or emptied if it exists).
    pub log: PathBuf,
}

/// The table: the forks (one semaphore each, then the start line) and the log.
pub struct Table {
    /// Semaphores `0..N`: the forks, 1 = on the table. Semaphore `N`: the start line.
    pub set: SemaphoreSet,
    /// How many philosophers sit at it.
    pub seats: u16,
    log: File,
    set_at: Instant,
    eat: Duration,
    think: Duration,
}

impl Table {
    /// The fork on the left of philosopher `me`: fork `me`.
    pub fn left_fork(&self, me: u16) -> u16 {
        me
    }

    /// The fork on the right of philosopher `me`: fork `(me + 1) % N`.
    pub fn right_fork(&self, me: u16) -> u16 {
        (me + 1) % self.seats
    }

    /// Thinks for a while (it varies, so that the philosophers get out of step).
    pub fn think(&self, me: u16, meal: u32) {
        let share = (u32::from(me) * 7 + meal * 3) % 4; // 0 to 3 quarters
        std::thread::sleep(self.think * share / 4);
    }

    /// Eats for a while: call it holding both forks, between [`Table::started_eating`] and
    /// [`Table::finished_eating`].
    pub fn eat(&self) {
        std::thread::sleep(self.eat);
    }

    /// Logs `start <me> <t>`: call it right after taking both forks.
    pub fn started_eating(&self, me: u16) -> Result<(), Failure> {
        self.record("start", me)
    }

    /// Logs `end <me> <t>`: call it right before putting both forks down.
    pub fn finished_eating(&self, me: u16) -> Result<(), Failure> {
        self.record("end", me)
    }

    /// One record, one `write(2)` on the `O_APPEND` file: it lands whole, after every record
    /// written before it, whichever process wrote that.
    fn record(&self, what: &str, me: u16) -> Result<(), Failure> {
        // Instant is CLOCK_MONOTONIC, one clock for every process: the children inherited
        // `set_at` from the parent, so their times are on one scale.
        let line = format!("{what} {me} {}\n", self.set_at.elapsed().as_nanos());
        let written = (&self.log)
            .write(line.as_bytes())
            .context("write the log")?;
        if written != line.len() {
            return Err(Failure::new(format!(
                "write the log: {written} of {} bytes",
                line.len()
            )));
        }
        Ok(())
    }
}

/// Takes both forks of philosopher `me` in ONE `semop`: P on the left fork and P on the right
/// fork, together, each with `SEM_UNDO` (a philosopher killed while eating gives its forks
/// back). Waits until both lie on the table. An error, EINTR included, is returned as it is,
/// not retried: a philosopher has no signal handler, and a stop signal kills it.
pub fn take_forks(table: &Table, me: u16) -> Result<(), Failure> {
    // BEGIN SOLUTION
    let (left, right) = (table.left_fork(me), table.right_fork(me));
    table
        .set
        .semop(&[SemOp::p(left, 1).undo(), SemOp::p(right, 1).undo()])?;
    Ok(())
    // END SOLUTION
}

/// Puts both forks of philosopher `me` back: V on each, in one `semop`, with `SEM_UNDO` (so
/// that the undo records of [`take_forks`] are cancelled).
pub fn put_forks(table: &Table, me: u16) -> Result<(), Failure> {
    // BEGIN SOLUTION
    let (left, right) = (table.left_fork(me), table.right_fork(me));
    table
        .set
        .semop(&[SemOp::v(left, 1).undo(), SemOp::v(right, 1).undo()])?;
    Ok(())
    // END SOLUTION
}

/// The life of philosopher `me`: `meals` times, think, take both forks, log the start, eat,
/// log the end, put both forks down. Any error is returned at once, even a failed log write
/// while the forks are held: the process then exits, and `SEM_UNDO` puts its forks back.
pub fn philosopher(table: &Table, me: u16, meals: u32) -> Result<(), Failure> {
    // BEGIN SOLUTION
    for meal in 0..meals {
        table.think(me, meal);
        take_forks(table, me)?;
        table.started_eating(me)?;
        table.eat();
        table.finished_eating(me)?;
        put_forks(table, me)?;
    }
    Ok(())
    // END SOLUTION
}

/// Sets the table (a new private set: N forks at 1, and a start line at 1; the log emptied),
/// and returns it. The set is removed when the table is dropped.
pub fn set_table(dinner: &Dinner) -> Result<Table, Failure> {
    if dinner.philosophers < 2 {
        return Err(Failure::new(
            "a table needs 2 philosophers or more (one alone has only one fork)",
        ));
    }
    let mut values = vec![1u16; usize::from(dinner.philosophers)];
    values.push(1); // the start line
    let set = create(Key::PRIVATE, &values)?;
    let log = open_log(&dinner.log)?;
    Ok(Table {
        set,
        seats: dinner.philosophers,
        log,
        set_at: Instant::now(),
        eat: dinner.eat,
        think: dinner.think,
    })
}

fn open_log(path: &Path) -> Result<File, Failure> {
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_APPEND) // std refuses truncate with append(true)
        .mode(0o600)
        .open(path)
        .context(format!("open {}", path.display()))
}

/// Forks one process per philosopher, starts them all at once, and waits for every one of them.
/// An error or a stop signal kills the rest (the `Child` guards).
pub fn dinner(table: &Table, meals: u32, stop: &Stop) -> Result<Duration, Stopped> {
    let start_line = table.seats;
    let mut children = Vec::new();
    for me in 0..table.seats {
        match fork()? {
            Forked::Child => run_child(|| {
                let life = table
                    .set
                    .wait_zero(start_line)
                    .map_err(Failure::from)
                    .and_then(|()| philosopher(table, me, meals));
                match life {
                    Ok(()) => 0,
                    Err(err) => {
                        report_error(format!("philosopher {me}: {err}"));
                        1
                    }
                }
            }),
            Forked::Parent(child) => children.push(child),
        }
    }
    let started = Instant::now();
    stop.retry(|| table.set.p(start_line, 1))?;
    for (me, child) in children.iter_mut().enumerate() {
        let status = child.waitpid(stop)?;
        stop.check()?;
        if !matches!(status, WaitStatus::Exited(_, 0)) {
            let why = format!(
                "philosopher {me} (pid {}) {}",
                child.pid(),
                describe(&status)
            );
            return Err(Failure::new(why).into());
        }
    }
    Ok(started.elapsed())
}

/// What a log says, philosopher by philosopher.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Meals (start, then end) per philosopher.
    pub meals: Vec<u32>,
    /// Times a philosopher started while a neighbour was eating.
    pub overlaps: u32,
    /// Records out of place: an end without a start, a start while already eating, a bad line,
    /// an unknown philosopher, a meal still going at the end.
    pub malformed: u32,
}

/// Reads a log back: counts meals and overlaps between neighbours, in the order of the file.
pub fn summarize(log: &str, seats: u16) -> Summary {
    let n = usize::from(seats);
    let mut summary = Summary {
        meals: vec![0; n],
        ..Summary::default()
    };
    let mut eating = vec![false; n];
    for line in log.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let who = fields.get(1).and_then(|f| f.parse::<usize>().ok());
        let (what, who) = match (fields.first(), who) {
            (Some(&what), Some(who)) if who < n && fields.len() == 3 => (what, who),
            _ => {
                summary.malformed += 1;
                continue;
            }
        };
        let neighbours = [(who + n - 1) % n, (who + 1) % n];
        match (what, eating[who]) {
            ("start", false) => {
                if neighbours.iter().any(|&other| eating[other]) {
                    summary.overlaps += 1;
                }
                eating[who] = true;
            }
            ("end", true) => {
                eating[who] = false;
                summary.meals[who] += 1;
            }
            _ => summary.malformed += 1,
        }
    }
    summary.malformed += eating.iter().filter(|&&e| e).count() as u32;
    summary
}
