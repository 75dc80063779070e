//! # forked_stop: a parent and its child, each stopping on its own signals
//!
//! The parent installs its stop handling, then forks. The child installs its own and waits in
//! `read(2)` on a pipe that nobody writes. A signal sent to the child alone runs the child's
//! handler: the child's `read` fails with EINTR, it says which signal came, and it exits with
//! 128 + its number. A signal to the parent ends the parent's `waitpid`; the parent then kills
//! and reaps the child on its way out. If the parent is killed outright (SIGKILL), the kernel
//! sends the child SIGTERM (`PR_SET_PDEATHSIG`), so the child never outlives it.
//!
//! With `--child-without-handler`, the child skips its own installation: a signal then does
//! what it does by default, and the child dies of it. With `--signal-before-read`, the child
//! sends itself SIGTERM and then calls `read(2)` without looking at the flag: the handler ran
//! before the call began, and the 50 ms SIGALRM nudge is what ends the read.
//!
//! Run: `cargo run -p support --bin forked_stop`, then `kill -TERM <child pid>` in another
//! terminal (or Ctrl-C, which the terminal sends to both).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::signal::{Signal, raise};
use nix::unistd::read;
use support::cli::{parse_args, report_error, run};
use support::stop::{Stop, Stopped, exit_status_for, finish};
use support::{Forked, Pipe, describe, fork, run_child};

/// A parent and a forked child, each stopping on its own signals.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Let the child keep the parent's handlers instead of installing its own.
    #[arg(long, conflicts_with = "signal_before_read")]
    child_without_handler: bool,
    /// Have the child send itself SIGTERM just before it calls read(2) without checking: the
    /// signal lands in "the window", and only the SIGALRM nudge can end the read.
    #[arg(long)]
    signal_before_read: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: parent
        let stop = Stop::install()?;
        println!(
            "parent {}: stop handling installed (signal-hook)",
            std::process::id()
        );
        let pipe = Pipe::new()?;
        let mut child = match fork()? {
            Forked::Child => run_child(|| child_main(&pipe, &args)),
            Forked::Parent(child) => child,
        };
        drop(pipe);
        println!(
            "parent: forked child {}; waiting for it in waitpid",
            child.pid()
        );
        let outcome = child.waitpid(&stop).map(|status| {
            println!("parent: child {} {}", child.pid(), describe(&status));
            ExitCode::SUCCESS
        });
        // On a stop signal, `child` is dropped on the way out: killed and reaped.
        finish(outcome)
        // ANCHOR_END: parent
    })
}

// ANCHOR: child_main
fn child_main(pipe: &Pipe, args: &Args) -> i32 {
    let me = std::process::id();
    let waiting = "waiting in read(2) on a pipe nobody writes";
    if args.child_without_handler {
        println!("child {me}: kept the parent's handlers, which act by default here; {waiting}");
        // A stop signal kills this process inside read(): nothing after it runs.
        let _ = read(&pipe.read_end, &mut [0u8; 1]);
        return 0;
    }
    let stop = match Stop::install() {
        Ok(stop) => stop,
        Err(failure) => {
            report_error(failure);
            return 1;
        }
    };
    if args.signal_before_read {
        return lose_the_race(pipe, &stop);
    }
    println!("child {me}: installed its own stop handling; {waiting}");
    match stop.retry(|| read(&pipe.read_end, &mut [0u8; 1])) {
        Ok(_) => {
            println!("child {me}: read returned; exiting");
            0
        }
        Err(Stopped::Signal(signal)) => {
            println!("child {me}: my handler ran: got {signal}; exiting");
            exit_status_for(signal).into()
        }
        Err(Stopped::Failed(errno)) => {
            report_error(format!("read: {errno}"));
            1
        }
    }
}
// ANCHOR_END: child_main

/// The window between "check the flag" and "start the blocking call", forced open: the signal
/// comes after any check and before read(2) starts, so read starts with the flag already set.
fn lose_the_race(pipe: &Pipe, stop: &Stop) -> i32 {
    let me = std::process::id();
    println!("child {me}: sending myself SIGTERM, then calling read(2) without checking first");
    if let Err(errno) = raise(Signal::SIGTERM) {
        report_error(format!("raise: {errno}"));
        return 1;
    }
    let started = Instant::now();
    let read = read(&pipe.read_end, &mut [0u8; 1]);
    let waited = started.elapsed().as_millis();
    match (read, stop.requested()) {
        (Err(Errno::EINTR), Some(signal)) => {
            println!("child {me}: the nudge ended read(2) after {waited} ms; got {signal}");
            exit_status_for(signal).into()
        }
        (other, requested) => {
            report_error(format!("read: {other:?}, stop requested: {requested:?}"));
            1
        }
    }
}
