//! # sem_watch: a semaphore set's values and waiting counts, live
//!
//! For demonstrations of section 5 of the course notes (`004_0b92104986517c26.txt`), beside `pv`:
//! sem_watch opens a set by its key and prints one line each time something changes: the values,
//! how many processes wait to take (`GETNCNT`) and how many wait for zero (`GETZCNT`). Start it in
//! one terminal, work the set with `pv op` in others, and watch P block (a waiter appears) and V
//! release it (the waiter goes, the value moves).
//!
//! The kernel has no "tell me when a semaphore changes" call, so sem_watch looks, with
//! `semctl`, every `--interval-ms`; a change that comes and goes between two looks is not seen.
//! It ends on Ctrl-C, or when the set is removed (`semctl` then fails with EIDRM or EINVAL),
//! with a line that says which. It never changes the set, and never removes it.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! its handler wakes the `poll` that `Stop::sleep` waits in between two looks.
//!
//! Run: `cargo run -p semaphore --bin pv -- create --values 1`, then
//! `cargo run -p semaphore --bin sem_watch`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use semaphore::{Error, KeyArgs, SemState, SemaphoreSet, semget};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Prints a semaphore set's values and waiting counts each time they change, until Ctrl-C or
/// until the set is removed.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    key: KeyArgs,
    /// How often to look, in milliseconds, 10 to 10000.
    #[arg(long, value_name = "MS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(10..=10_000))]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(watch(&args, &stop))
    })
}

// ANCHOR: watch
fn watch(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let set = semget(args.key.ftok_or_key()?, 0, 0)?;
    set.wait_until_initialised(stop)?;
    if let Some(warning) = set.check_owner(args.key.accept_foreign)? {
        println!("sem_watch: {warning}");
    }
    println!("sem_watch: watching {set}; Ctrl-C to stop");
    let mut last: Vec<SemState> = Vec::new();
    loop {
        let states = match look(&set) {
            Ok(states) => states,
            Err(err) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {
                println!("sem_watch: the set was removed ({err}); nothing left to watch");
                return Ok(ExitCode::SUCCESS);
            }
            Err(err) => return Err(Failure::from(err).into()),
        };
        if states != last {
            println!("{}", line(&states));
            last = states;
        }
        stop.sleep(Duration::from_millis(args.interval_ms))?;
    }
}
// ANCHOR_END: watch

/// One look: `semctl` GETALL for the values, then GETNCNT, GETZCNT and GETPID for each.
fn look(set: &SemaphoreSet) -> Result<Vec<SemState>, Error> {
    let values = set.semctl_getall()?;
    let mut states = Vec::with_capacity(values.len());
    for (num, value) in (0..).zip(values) {
        states.push(SemState {
            value,
            ncnt: set.semctl_getncnt(num)?,
            zcnt: set.semctl_getzcnt(num)?,
            pid: set.semctl_getpid(num)?,
        });
    }
    Ok(states)
}

/// `values [1, 0]  waiting to take [0, 2]  waiting for zero [0, 0]  last pid [812, 815]`.
fn line(states: &[SemState]) -> String {
    let column = |pick: fn(&SemState) -> String| -> String {
        states.iter().map(pick).collect::<Vec<_>>().join(", ")
    };
    format!(
        "values [{}]  waiting to take [{}]  waiting for zero [{}]  last pid [{}]",
        column(|s| s.value.to_string()),
        column(|s| s.ncnt.to_string()),
        column(|s| s.zcnt.to_string()),
        column(|s| s.pid.to_string()),
    )
}
