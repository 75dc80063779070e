//! # parent_child: a parent sends numbers to its child through a pipe
//!
//! Ports section 1.2.2 of the course notes (`004_0b92104986517c26.txt`; one-way parent/child
//! communication).
//! The parent creates a pipe, forks, and writes a counter into the write end; the child prints
//! every number it reads from the read end. Unlike the original, the run ends: after `--count`
//! numbers the parent closes its write end, the child reads end-of-file and exits, and the
//! parent reaps it and reports its exit status.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p pipe --bin parent_child` (add `-- --help` for the flags).

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::unistd::{pipe, read, write};
use pipe::Lines;
use support::cli::{Context, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Forked, describe, fork, run_child};

/// A parent process sends a counter to its child through an anonymous pipe.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many numbers the parent sends (at most 10000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(..=10_000))]
    count: u32,
    /// Pause between two numbers, in milliseconds, so that you can watch them arrive (at most
    /// 60000).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(..=60_000))]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // ANCHOR: fork
        let (read_end, write_end) = pipe().context("pipe")?;
        println!("parent: created a pipe; forking a child that inherits both ends");
        match fork()? {
            Forked::Child => {
                // The child only reads. Its copy of the write end must go: end-of-file comes
                // only when every write end is closed, this one included. Dropping it is close(2).
                drop(write_end);
                // Runs this, then `_exit(status)`: the child never returns into main.
                run_child(|| read_numbers(read_end))
            }
            Forked::Parent(mut child) => {
                drop(read_end); // close(2): the parent only writes
                let sent = send_numbers(&stop, write_end, &args);
                // ANCHOR: reap
                // Even after a failed write: how the child ended tells why the write failed.
                let status = match child.waitpid(&stop) {
                    Ok(status) => status,
                    Err(stopped) => return finish(Err(stopped)),
                };
                println!("parent: child {} {}", child.pid(), describe(&status));
                // ANCHOR_END: reap
                finish(sent.map(|()| ExitCode::SUCCESS))
            }
        }
        // ANCHOR_END: fork
    })
}

// ANCHOR: send
fn send_numbers(stop: &Stop, write_end: OwnedFd, args: &Args) -> Result<(), Stopped> {
    for number in 1..=args.count {
        if number > 1 {
            stop.sleep(Duration::from_millis(args.interval_ms))?;
        }
        // A pipe carries bytes, not messages: without the newline the child could read "12"
        // for 1 and 2. A write of at most PIPE_BUF bytes (4096 on Linux) is not interleaved
        // with other writers' bytes, but a read may still return part of it, or several
        // writes at once.
        let line = format!("{number}\n");
        println!("parent: sending {number}");
        stop.retry(|| write(&write_end, line.as_bytes()))
            .context("write to the pipe")?;
    }
    drop(write_end); // close(2): the last write end anywhere
    println!("parent: closed the write end; the child will read end-of-file");
    Ok(())
}
// ANCHOR_END: send

// ANCHOR: read
fn read_numbers(read_end: OwnedFd) -> i32 {
    let mut buffer = [0u8; 4096];
    let mut lines = Lines::new();
    loop {
        // Sleeps while the pipe is empty; 0 bytes means end-of-file.
        match read(&read_end, &mut buffer) {
            Ok(0) => break,
            Ok(count) => lines.push(&buffer[..count]),
            Err(errno) => {
                report_error(format!("child: read from the pipe: {errno}"));
                return 1;
            }
        }
        while let Some(number) = lines.next_line() {
            println!("child:  received {number}");
        }
    }
    println!("child:  end of file: no write end is open any more, so I exit");
    0
}
// ANCHOR_END: read
