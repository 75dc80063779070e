//! # bare_sem: one semaphore, P and V, in one short program
//!
//! The System V semaphore calls of the course notes (section 5 of
//! `004_0b92104986517c26.txt`: a counter the kernel keeps, P takes from it, V gives back), one
//! after the other with nothing around them: `semget` creates a set of one semaphore,
//! `semctl(SETVAL)` sets it to 1, `semop` does P (-1: the value goes to 0; a second P would wait)
//! and V (+1: back to 1), and `semctl(IPC_RMID)` removes the set.
//!
//! The set is `IPC_PRIVATE`: no key, no file, no other process finds it by key. Nothing is left behind,
//! even when a step fails: the handle `semget` returned created the set, so dropping it on the
//! way out removes it. For keys, waiting, signals and several processes, see `pv`.
//!
//! Signals: none handled; nothing here waits (the P finds the value at 1).
//!
//! Run: `cargo run -p semaphore --bin bare_sem`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use semaphore::{Key, SemOp, semget};
use support::cli::{Failure, parse_args, run};

fn bare() -> Result<ExitCode, Failure> {
    // ANCHOR: bare
    let set = semget(Key::PRIVATE, 1, libc::IPC_CREAT | 0o600)?; // a NEW set of 1
    println!("semget: created semaphore set id={} (mode 0600)", set.id());
    set.semctl_setval(0, 1)?; // a new set's value is indeterminate: set it
    println!("semctl(SETVAL): semaphore 0 = {}", set.semctl_getval(0)?);

    set.semop(&[SemOp::p(0, 1)])?; // P: take 1 (would wait at 0)
    println!("semop(-1), P: semaphore 0 = {}", set.semctl_getval(0)?);
    set.semop(&[SemOp::v(0, 1)])?; // V: give 1 back
    println!("semop(+1), V: semaphore 0 = {}", set.semctl_getval(0)?);

    let id = set.id();
    set.semctl_rmid()?; // a failed step above drops `set`, which removes it too
    println!("semctl(IPC_RMID): removed semaphore set id={id}");
    // ANCHOR_END: bare
    Ok(ExitCode::SUCCESS)
}

/// One semaphore, P and V, with nothing around them: semget, semctl(SETVAL), semop -1 and +1, semctl(IPC_RMID).
#[derive(clap::Parser)]
#[command(version)]
struct Args {}

fn main() -> ExitCode {
    let _: Args = parse_args(); // --help and --version; no other argument
    run(bare) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
