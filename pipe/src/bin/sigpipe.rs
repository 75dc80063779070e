//! # sigpipe: what happens to a writer when its reader goes away
//!
//! Ports seed `004_0b92104986517c26.txt`, section 1.2.2 (the SIGPIPE signal). The child writes
//! numbered messages into a pipe; the parent reads a few, then closes its read end. The child's
//! next write finds no reader left. By default the child restores SIGPIPE's default action, as a
//! C program has it, and the kernel kills it with SIGPIPE. With `--ignore` it keeps Rust's
//! setting (SIGPIPE ignored), so the write fails with EPIPE and the child stops on its own. The
//! parent reports which of the two happened.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p pipe --bin sigpipe`, then `cargo run -p pipe --bin sigpipe -- --ignore`.

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{pipe2, read, write};
use pipe::{Lines, signal_sigpipe_default};
use support::cli::{Context, Failure, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Forked, describe, fork, run_child};

/// A writer keeps writing into a pipe whose reader has closed its end.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Ignore SIGPIPE in the writer, so that its write fails with EPIPE instead of killing it.
    #[arg(long)]
    ignore: bool,
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
        finish(writer_and_reader(&stop, &args))
    })
}

fn writer_and_reader(stop: &Stop, args: &Args) -> Result<ExitCode, Stopped> {
    // O_CLOEXEC: a program that either process might exec does not inherit a stray end.
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    match fork()? {
        Forked::Child => {
            drop(read_end); // close(2): else this process itself would still be a reader
            // Runs this, then `_exit(status)`: the child never returns into main.
            run_child(|| writer(write_end, args))
        }
        Forked::Parent(mut child) => {
            drop(write_end); // close(2): the parent only reads
            let read = read_then_hang_up(stop, read_end, args.reads);
            let status = child.waitpid(stop)?;
            read?;
            Ok(report(&status, args.ignore)?)
        }
    }
}

// ANCHOR: writer
fn writer(write_end: OwnedFd, args: &Args) -> i32 {
    if args.ignore {
        println!("writer: SIGPIPE is ignored (Rust's runtime set that up before main)");
    } else {
        // signal(SIGPIPE, SIG_DFL): back to the default action a C program starts with
        if let Err(failure) = signal_sigpipe_default() {
            report_error(failure);
            return 1;
        }
        println!("writer: SIGPIPE restored to its default action: terminate the process");
    }
    let mut number = 0;
    loop {
        number += 1;
        let message = format!("message {number}\n");
        println!("writer: sending message {number}");
        match write(&write_end, message.as_bytes()) {
            Ok(_) => thread::sleep(Duration::from_millis(args.interval_ms)),
            Err(Errno::EPIPE) => {
                println!("writer: write failed with EPIPE (Broken pipe): nobody reads any more");
                return 0;
            }
            Err(errno) => {
                report_error(format!("write to the pipe: {errno}"));
                return 1;
            }
        }
    }
}
// ANCHOR_END: writer

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
fn report(status: &WaitStatus, ignored: bool) -> Result<ExitCode, Failure> {
    let how = describe(status);
    match (status, ignored) {
        (WaitStatus::Signaled(_, Signal::SIGPIPE, _), false) => println!(
            "reader: the writer {how}: it wrote to a pipe with no reader, and the default \
             action of SIGPIPE is to terminate the process"
        ),
        (WaitStatus::Exited(_, 0), true) => println!(
            "reader: the writer {how}: it ignored SIGPIPE, so its write returned the error \
             EPIPE and it stopped on its own"
        ),
        _ => {
            return Err(Failure::new(format!(
                "the writer {how}, which was not expected"
            )));
        }
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: report
