//! # mutex: N processes add to one counter, with and without a semaphore
//!
//! Ports section 5 of the course notes (`004_0b92104986517c26.txt`), its first kind of protection:
//! mutual exclusion ("while I work on it, nobody else does; the order does not matter"). N
//! processes each add 1 to a counter M times. The counter lives in an anonymous shared mapping that
//! the children inherit over fork (a semaphore carries no data). Each addition is two steps, read
//! then write back: with `--no-lock` two processes interleave, one write overwrites the other's,
//! and the final count comes out short; mutex says by how much. With the lock (the default),
//! semaphore 0 starts at 1 and each addition is P, add, V: the count is exact.
//!
//! A second semaphore is the start line: it starts at 1, every child waits for it to reach
//! zero, and the parent takes it to zero once all are forked, so that they really run at once.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because its
//! handler ends the parent's `waitpid` with EINTR; the parent then kills its children (the
//! `Child` guards) and removes the set. A child that gets Ctrl-C from the terminal dies of it.
//!
//! Run: `cargo run -p semaphore --bin mutex -- --no-lock`, then without `--no-lock`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use semaphore::{Key, SemOp, SemaphoreSet, SharedCounter, semget};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Forked, describe, fork, run_child};

/// N processes each add 1 to a shared counter M times, under a semaphore or (--no-lock) not.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many processes add, 1 to 64.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
    /// How many times each adds 1, 1 to 10000000.
    #[arg(long, short = 'm', value_name = "M", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    times: u64,
    /// Add without the semaphore, to see updates get lost.
    #[arg(long)]
    no_lock: bool,
}

/// Semaphore 0: the lock, 1 = free.
const LOCK: u16 = 0;
/// Semaphore 1: the start line; the children start when it reaches 0.
const START: u16 = 1;

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let counter = SharedCounter::new()?;
        // IPC_PRIVATE: no other process finds the set by key, so none can open it before SETALL.
        let set = semget(Key::PRIVATE, 2, libc::IPC_CREAT | 0o600)?;
        set.semctl_setall(&[1, 1])?; // a new set's values are undefined until set
        println!("mutex: created {set}: lock = 1 (free), start line = 1; I remove it when I stop");
        finish(race(&args, &set, &counter, &stop))
    })
}

// ANCHOR: add
/// What each child does: M times, read the counter and write back one more.
fn add(set: &SemaphoreSet, counter: &SharedCounter, times: u64, lock: bool) -> Result<(), Failure> {
    set.wait_zero(START)?; // everyone starts at once
    for _ in 0..times {
        if lock {
            set.semop(&[SemOp::p(LOCK, 1).undo()])?; // P: wait until free, take it
        }
        counter.add_one_in_two_steps(); // read, then write: another may come between
        if lock {
            set.semop(&[SemOp::v(LOCK, 1).undo()])?; // V: free it
        }
    }
    Ok(())
}
// ANCHOR_END: add

fn race(
    args: &Args,
    set: &SemaphoreSet,
    counter: &SharedCounter,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let lock = !args.no_lock;
    let mut children = Vec::new();
    for _ in 0..args.processes {
        match fork()? {
            Forked::Child => run_child(|| match add(set, counter, args.times, lock) {
                Ok(()) => 0,
                Err(err) => {
                    support::cli::report_error(err);
                    1
                }
            }),
            Forked::Parent(child) => children.push(child),
        }
    }
    let how = if lock {
        "P, add, V"
    } else {
        "add, with no lock"
    };
    println!(
        "mutex: {} processes, each adding 1 {} times ({how}); starting them all at once",
        args.processes, args.times
    );
    let started = Instant::now();
    stop.retry(|| set.p(START, 1))?;
    for child in &mut children {
        let status = child.waitpid(stop)?;
        // A Ctrl-C in the terminal reaches the children too, and kills them: that is a stop.
        stop.check()?;
        if !matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)) {
            return Err(
                Failure::new(format!("child {} {}", child.pid(), describe(&status))).into(),
            );
        }
    }
    let expected = u64::from(args.processes) * args.times;
    let got = counter.get();
    println!(
        "mutex: expected {expected}, counted {got}, in {:?}",
        started.elapsed()
    );
    if got == expected && args.no_lock {
        println!(
            "mutex: exact this time, by luck: without the semaphore nothing stops two \
             read-add-write sequences from mixing; run it again, or with a larger --times"
        );
    } else if got == expected {
        println!("mutex: exact: no update was lost");
    } else {
        let lost = expected - got;
        println!(
            "mutex: {lost} updates lost ({:.1}%): a process read the counter, another wrote it, \
             and the first wrote back a stale value plus one",
            lost as f64 * 100.0 / expected as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
