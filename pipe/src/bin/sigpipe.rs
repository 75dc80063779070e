//! # sigpipe: what happens to a writer when its reader goes away
//!
//! Ports seed `004_0b92104986517c26.txt`, section 1.2.2 (the SIGPIPE signal). The child writes
//! numbered messages into a pipe; the parent reads a few, then closes its read end. The child's
//! next write finds no reader left. By default the child restores SIGPIPE's default action, as a
//! C program has it, and the kernel kills it with SIGPIPE. With `--ignore` it keeps Rust's
//! setting (SIGPIPE ignored), so the write fails with EPIPE and the child stops on its own. The
//! parent reports which of the two happened.
//!
//! Run: `cargo run -p pipe --bin sigpipe`, then `cargo run -p pipe --bin sigpipe -- --ignore`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use pipe::{Pipe, restore_default_sigpipe};
use support::cli::{Context, Failure, parse_args, report_error, run};
use support::{Forked, describe, fork, run_child, wait_for};

/// A writer keeps writing into a pipe whose reader has closed its end.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Ignore SIGPIPE in the writer, so that its write fails with EPIPE instead of killing it.
    #[arg(long)]
    ignore: bool,
    /// How many messages the reader takes before it closes its end.
    #[arg(long, default_value_t = 3)]
    reads: usize,
    /// Pause between two messages of the writer, in milliseconds.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let Pipe {
            read_end,
            write_end,
        } = Pipe::new()?;
        match fork()? {
            Forked::Child => {
                drop(read_end);
                run_child(|| writer(write_end, &args))
            }
            Forked::Parent { child } => {
                drop(write_end);
                let read = read_then_hang_up(read_end, args.reads);
                let status = wait_for(child)?;
                read?;
                report(&status, args.ignore)
            }
        }
    })
}

// ANCHOR: writer
fn writer(write_end: OwnedFd, args: &Args) -> i32 {
    if args.ignore {
        println!("writer: SIGPIPE is ignored (Rust's runtime set that up before main)");
    } else if let Err(failure) = restore_default_sigpipe() {
        report_error(failure);
        return 1;
    } else {
        println!("writer: SIGPIPE restored to its default action: terminate the process");
    }
    let mut number = 0;
    loop {
        number += 1;
        let message = format!("message {number}\n");
        match nix::unistd::write(&write_end, message.as_bytes()) {
            Ok(_) => println!("writer: sent message {number}"),
            Err(Errno::EPIPE) => {
                println!("writer: write failed with EPIPE (Broken pipe): nobody reads any more");
                return 0;
            }
            Err(errno) => {
                report_error(format!("write to the pipe: {errno}"));
                return 1;
            }
        }
        thread::sleep(Duration::from_millis(args.interval_ms));
    }
}
// ANCHOR_END: writer

// ANCHOR: reader
fn read_then_hang_up(read_end: OwnedFd, reads: usize) -> Result<(), Failure> {
    let mut lines = BufReader::new(File::from(read_end)).lines();
    for _ in 0..reads {
        match lines.next() {
            Some(line) => println!("reader: got {:?}", line.context("read from the pipe")?),
            None => return Err(Failure::new("reader: the writer closed the pipe early")),
        }
    }
    // Dropping the reader closes the last read end of the pipe.
    drop(lines);
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
