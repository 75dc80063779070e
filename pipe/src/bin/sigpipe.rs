//! # sigpipe: what happens to a writer when its reader goes away
//!
//! Ports section 1.2.2 of the course notes (`004_0b92104986517c26.txt`; the SIGPIPE signal). The
//! child writes numbered messages into a pipe; the parent reads a few, then closes its read end.
//! The child's next write finds no reader left, and the kernel sends it SIGPIPE. What happens then
//! depends on what the writer did with SIGPIPE, the four choices the notes name:
//!
//! - by default it restores SIGPIPE's default action, as a C program has it, and the signal
//!   kills it;
//! - `--ignore` keeps Rust's setting (SIGPIPE ignored): the write fails with EPIPE and the child
//!   stops on its own;
//! - `--catch` installs a handler (sigaction): the handler runs, then the write fails with EPIPE;
//! - `--block` blocks SIGPIPE (sigprocmask): the signal stays pending, and the write fails with
//!   EPIPE.
//!
//! The parent reports which of these happened.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p pipe --bin sigpipe`, then again with `-- --ignore`, `-- --catch` and
//! `-- --block`.

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::WaitStatus;
use nix::unistd::{pipe, read, write};
use pipe::{Lines, catch_sigpipe, signal_sigpipe_default, sigpipe_caught, sigpipe_pending};
use support::cli::{Context, Failure, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Forked, describe, fork, run_child};

/// A writer keeps writing into a pipe whose reader has closed its end.
#[derive(Parser)]
#[command(version)]
#[command(group(ArgGroup::new("action").args(["ignore", "catch", "block"])))]
struct Args {
    /// Ignore SIGPIPE in the writer, so that its write fails with EPIPE instead of killing it.
    #[arg(long)]
    ignore: bool,
    /// Catch SIGPIPE in the writer with a handler: the handler runs, then the write fails with
    /// EPIPE.
    #[arg(long)]
    catch: bool,
    /// Block SIGPIPE in the writer: the signal stays pending, and the write fails with EPIPE.
    #[arg(long)]
    block: bool,
    /// How many messages the reader takes before it closes its end (at most 10000).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(..=10_000))]
    reads: u16,
    /// Pause between two messages of the writer, in milliseconds (at most 60000).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(..=60_000))]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // ANCHOR: main
        let (read_end, write_end) = pipe().context("pipe")?;
        match fork()? {
            Forked::Child => {
                drop(read_end); // close(2): else this process itself would still be a reader
                // Runs this, then `_exit(status)`: the child never returns into main.
                let pause = Duration::from_millis(args.interval_ms);
                run_child(|| writer(write_end, args.action(), pause))
            }
            Forked::Parent(mut child) => {
                drop(write_end); // close(2): the parent only reads
                let read = read_then_hang_up(&stop, read_end, args.reads);
                // waitpid(2) first: a failed read is reported once the writer is reaped.
                let status = match child.waitpid(&stop) {
                    Ok(status) => status,
                    Err(stopped) => return finish(Err(stopped)),
                };
                if let Err(stopped) = read {
                    return finish(Err(stopped));
                }
                report(&status, args.action())
            }
        }
        // ANCHOR_END: main
    })
}

/// What the writer does with SIGPIPE before its first write.
#[derive(Clone, Copy, PartialEq)]
enum Action {
    Default,
    Ignore,
    Catch,
    Block,
}

impl Args {
    fn action(&self) -> Action {
        match (self.ignore, self.catch, self.block) {
            (true, _, _) => Action::Ignore,
            (_, true, _) => Action::Catch,
            (_, _, true) => Action::Block,
            _ => Action::Default,
        }
    }
}

// ANCHOR: writer
fn writer(write_end: OwnedFd, action: Action, pause: Duration) -> i32 {
    if let Err(failure) = set_up(action) {
        report_error(failure);
        return 1;
    }
    let mut number = 0;
    loop {
        number += 1;
        let message = format!("message {number}\n");
        println!("writer: sending message {number}");
        match write(&write_end, message.as_bytes()) {
            Ok(_) => thread::sleep(pause),
            Err(Errno::EPIPE) => {
                println!("writer: write failed with EPIPE (Broken pipe): nobody reads any more");
                return after_epipe(action);
            }
            Err(errno) => {
                report_error(format!("write to the pipe: {errno}"));
                return 1;
            }
        }
    }
}
// ANCHOR_END: writer

// ANCHOR: set_up
fn set_up(action: Action) -> Result<(), Failure> {
    let what = match action {
        Action::Ignore => "is ignored (Rust's runtime set that up before main)",
        Action::Default => {
            signal_sigpipe_default()?; // signal(SIGPIPE, SIG_DFL), as a C program starts
            "restored to its default action: terminate the process"
        }
        Action::Catch => {
            catch_sigpipe()?; // sigaction(SIGPIPE, handler that counts)
            "is caught by a handler (sigaction) that only counts it"
        }
        Action::Block => {
            signal_sigpipe_default()?; // the default action, to show that blocking is enough
            let mut sigpipe = SigSet::empty();
            sigpipe.add(Signal::SIGPIPE);
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&sigpipe), None)
                .context("sigprocmask(SIG_BLOCK, {SIGPIPE})")?;
            "keeps its default action, but is blocked (sigprocmask)"
        }
    };
    println!("writer: SIGPIPE {what}");
    Ok(())
}
// ANCHOR_END: set_up

// ANCHOR: after_epipe
fn after_epipe(action: Action) -> i32 {
    match action {
        Action::Catch => {
            let runs = sigpipe_caught();
            println!("writer: my handler had already run: it counted {runs} SIGPIPE");
            if runs == 0 {
                return 1;
            }
        }
        Action::Block => match sigpipe_pending() {
            Ok(true) => {
                println!("writer: SIGPIPE is pending (sent, held back by the mask); exit drops it")
            }
            Ok(false) => {
                println!("writer: SIGPIPE is not pending");
                return 1;
            }
            Err(failure) => {
                report_error(failure);
                return 1;
            }
        },
        Action::Ignore | Action::Default => {}
    }
    0
}
// ANCHOR_END: after_epipe

// ANCHOR: reader
fn read_then_hang_up(stop: &Stop, read_end: OwnedFd, reads: u16) -> Result<(), Stopped> {
    let mut buffer = [0u8; 4096];
    let mut lines = Lines::new();
    let mut got = 0;
    while got < reads {
        // A stop signal ends this wait; nothing else would while the writer pauses.
        let count = stop
            .retry(|| read(&read_end, &mut buffer))
            .context("read from the pipe")?;
        if count == 0 {
            return Err(Failure::new("reader: the writer closed the pipe early").into());
        }
        lines.push(&buffer[..count]);
        while got < reads
            && let Some(line) = lines.next_line()
        {
            println!("reader: got {line:?}");
            got += 1;
        }
    }
    drop(read_end); // close(2): the last read end of the pipe
    println!("reader: closed the read end; no process can read from this pipe now");
    Ok(())
}
// ANCHOR_END: reader

// ANCHOR: report
fn report(status: &WaitStatus, action: Action) -> Result<ExitCode, Failure> {
    let how = describe(status);
    let why = match (status, action) {
        (WaitStatus::Signaled(_, Signal::SIGPIPE, _), Action::Default) => {
            "it kept the default action"
        }
        (WaitStatus::Exited(_, 0), Action::Ignore) => "it ignored SIGPIPE and stopped on EPIPE",
        (WaitStatus::Exited(_, 0), Action::Catch) => "it caught SIGPIPE and stopped on EPIPE",
        (WaitStatus::Exited(_, 0), Action::Block) => "it blocked SIGPIPE and stopped on EPIPE",
        _ => {
            return Err(Failure::new(format!(
                "the writer {how}, which was not expected"
            )));
        }
    };
    println!("reader: the writer {how}: {why}");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: report
