//! # undo: a lock holder killed with SIGKILL, without and with SEM_UNDO
//!
//! Follows section 5 of the course notes (`004_0b92104986517c26.txt`; a semaphore as a lock), to
//! the case the notes leave out: the holder dies before its V. A child takes the lock (P on a
//! semaphore that starts at 1) and is killed with SIGKILL, which no program can catch, so no V ever
//! comes.
//!
//! - Without SEM_UNDO the value stays 0: the kernel has no idea that the unit belonged to the
//!   dead process. The next process (here the parent) would wait forever; undo shows it with a
//!   timeout (`semtimedop`) instead, and says so.
//! - With SEM_UNDO the kernel records, per process, the opposite of each operation, and applies
//!   it when the process ends, however it ends: the value is back to 1 and the next process
//!   proceeds at once.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! `semtimedop` and `waitpid` then fail with EINTR; the holder (a `Child` guard) is killed and
//! the set removed on the way out.
//!
//! Run: `cargo run -p semaphore --bin undo`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use semaphore::{Key, SemOp, SemaphoreSet, semget};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Forked, describe, fork, run_child};

/// Shows what happens to a semaphore lock whose holder is killed, without and with SEM_UNDO.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How long the next process waits for the lock before giving up, in milliseconds, 1 to
    /// 600000.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    timeout_ms: u64,
}

/// Semaphore 0: the lock, 1 = free.
const LOCK: u16 = 0;
/// Semaphore 1: the holder says "I hold it" here.
const HELD: u16 = 1;

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // IPC_PRIVATE: no other process finds the set by key, so none can open it before SETALL.
        let set = semget(Key::PRIVATE, 2, libc::IPC_CREAT | 0o600)?;
        set.semctl_setall(&[1, 0])?; // a new set's values are undefined until set
        println!("undo: created {set}: the lock is semaphore 0, 1 = free; I remove it when I stop");
        let timeout = Duration::from_millis(args.timeout_ms);
        finish(both(&set, timeout, &stop))
    })
}

fn both(set: &SemaphoreSet, timeout: Duration, stop: &Stop) -> Result<ExitCode, Stopped> {
    println!("\nundo: 1. the holder takes the lock WITHOUT SEM_UNDO");
    kill_holder(set, SemOp::p(LOCK, 1), stop)?;
    next_one(set, timeout, stop)?;
    set.semctl_setval(LOCK, 1)?;
    println!("undo: (set the lock back to 1 by hand: semctl SETVAL)");
    println!("\nundo: 2. the holder takes the lock WITH SEM_UNDO");
    kill_holder(set, SemOp::p(LOCK, 1).undo(), stop)?;
    next_one(set, timeout, stop)?;
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: holder
/// Forks a holder that does `take` and then sleeps, and kills it with SIGKILL once it holds the
/// lock.
fn kill_holder(set: &SemaphoreSet, take: SemOp, stop: &Stop) -> Result<(), Stopped> {
    let mut holder = match fork()? {
        Forked::Child => run_child(|| {
            if set.semop(&[take]).is_err() {
                return 1;
            }
            println!(
                "holder {}: took the lock ({take}); now I sleep",
                std::process::id()
            );
            if set.v(HELD, 1).is_err() {
                return 1;
            }
            loop {
                nix::unistd::pause(); // until the SIGKILL
            }
        }),
        Forked::Parent(child) => child,
    };
    if !set.p_from_child(HELD, stop)? {
        let status = holder.waitpid(stop)?; // it ended before it held the lock
        let why = format!(
            "holder {} {} before it held the lock",
            holder.pid(),
            describe(&status)
        );
        return Err(Failure::new(why).into());
    }
    kill(holder.pid(), Signal::SIGKILL).context("kill")?;
    let status = holder.waitpid(stop)?;
    println!(
        "undo: holder {} {}, before any V",
        holder.pid(),
        describe(&status)
    );
    Ok(())
}
// ANCHOR_END: holder

// ANCHOR: next
/// The next process that wants the lock: P, with a timeout instead of forever.
fn next_one(set: &SemaphoreSet, timeout: Duration, stop: &Stop) -> Result<(), Stopped> {
    let value = set.semctl_getval(LOCK)?;
    println!("undo: the lock's value is now {value}");
    println!("undo: next process: P on the lock, waiting at most {timeout:?} (semtimedop)");
    match stop.retry(|| set.semtimedop(&[SemOp::p(LOCK, 1)], timeout)) {
        Ok(()) => {
            println!("undo: next process: got the lock at once: the kernel gave the unit back");
            set.v(LOCK, 1)?;
        }
        Err(Stopped::Failed(err)) if err.errno() == Some(Errno::EAGAIN) => {
            println!(
                "undo: next process: timed out: nobody will ever V, because the holder is \
                 dead; without the timeout it would wait forever"
            );
        }
        Err(stopped) => return Err(stopped.into()),
    }
    Ok(())
}
// ANCHOR_END: next
