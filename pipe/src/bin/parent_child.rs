//! # parent_child: a parent sends numbers to its child through a pipe
//!
//! Ports seed `004_0b92104986517c26.txt`, section 1.2.2 (one-way parent/child communication).
//! The parent creates a pipe, forks, and writes a counter into the write end; the child prints
//! every number it reads from the read end. Unlike the original, the run ends: after `--count`
//! numbers the parent closes its write end, the child reads end-of-file and exits, and the
//! parent reaps it and reports its exit status.
//!
//! Run: `cargo run -p pipe --bin parent_child` (add `-- --help` for the flags).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use pipe::Pipe;
use support::cli::{Context, Failure, explain, parse_args, report_error, run};
use support::{Forked, describe, fork, run_child, wait_for};

/// A parent process sends a counter to its child through an anonymous pipe.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many numbers the parent sends.
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Pause between two numbers, in milliseconds, so that you can watch them arrive.
    #[arg(long, default_value_t = 300)]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: fork
        let Pipe {
            read_end,
            write_end,
        } = Pipe::new()?;
        println!("parent: created a pipe; forking a child that inherits both ends");
        match fork()? {
            Forked::Child => {
                // The child only reads. Its copy of the write end must go: end-of-file comes
                // only when every write end is closed, this one included.
                drop(write_end);
                run_child(|| read_numbers(read_end))
            }
            Forked::Parent { child } => {
                drop(read_end);
                let sent = send_numbers(write_end, &args);
                // ANCHOR: reap
                let status = wait_for(child)?;
                println!("parent: child {child} {}", describe(&status));
                // ANCHOR_END: reap
                sent.map(|()| ExitCode::SUCCESS)
            }
        }
        // ANCHOR_END: fork
    })
}

// ANCHOR: send
fn send_numbers(write_end: OwnedFd, args: &Args) -> Result<(), Failure> {
    let mut pipe = File::from(write_end);
    for number in 1..=args.count {
        if number > 1 {
            thread::sleep(Duration::from_millis(args.interval_ms));
        }
        // A pipe carries bytes, not messages: without the newline the child could read "12"
        // for 1 and 2. One write_all of one short buffer is one write(2), so the line is never
        // split.
        pipe.write_all(format!("{number}\n").as_bytes())
            .context("write to the pipe")?;
        println!("parent: sent {number}");
    }
    drop(pipe);
    println!("parent: closed the write end; the child will read end-of-file");
    Ok(())
}
// ANCHOR_END: send

// ANCHOR: read
fn read_numbers(read_end: OwnedFd) -> i32 {
    for line in BufReader::new(File::from(read_end)).lines() {
        match line {
            Ok(number) => println!("child:  received {number}"),
            Err(err) => {
                report_error(format!("child: read from the pipe: {}", explain(&err)));
                return 1;
            }
        }
    }
    println!("child:  end of file: no write end is open any more, so I exit");
    0
}
// ANCHOR_END: read
