//! # bare_pingpong: timing a round trip between two processes, and nothing else
//!
//! The whole method of `bench` on one screen. The parent makes two pipes and forks. The child
//! reads each 8-byte message from the first pipe and writes it back into the second. The parent
//! sends 20,000 messages, one at a time, timing each round trip with the monotonic clock, and
//! prints the median and the 99th percentile. The first 1,000 are not counted (the warm-up).
//! `bench` does the same for every mechanism, with the processes pinned to chosen CPUs, and
//! puts each figure next to the machine's floors.
//!
//! Run: `cargo run --release -p bench --bin bare_pingpong`. It takes no arguments and leaves
//! nothing behind.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use nix::unistd::{pipe, read, write};
use support::cli::{Failure, parse_args, run};
use support::{Forked, exit_child, fork};

const ROUNDS: u64 = 21_000;

/// The benchmark's method in one screen: round trips through two pipes between two processes, timed, with a warm-up, the median and the 99th percentile.
#[derive(clap::Parser)]
#[command(version)]
struct Args {}

// ANCHOR: bare
fn bare() -> Result<ExitCode, Failure> {
    let (to_child_read, to_child) = pipe()?; // pipe(2), one each way
    let (from_child, from_child_write) = pipe()?;
    let mut message = [0u8; 8];
    let mut child = match fork()? {
        Forked::Child => {
            drop((to_child, from_child)); // close(2) the ends the child does not use
            // The child: read(2) each message and write(2) it back, ROUNDS times.
            for _ in 0..ROUNDS {
                let echoed = read(&to_child_read, &mut message)
                    .and_then(|_| write(&from_child_write, &message));
                if echoed.is_err() {
                    exit_child(1) // not `?`: the child must never return into main
                }
            }
            exit_child(0)
        }
        Forked::Parent(child) => child,
    };
    drop((to_child_read, from_child_write)); // and those the parent does not use
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        message = round.to_le_bytes();
        let before = Instant::now();
        write(&to_child, &message)?;
        read(&from_child, &mut message)?; // blocks until the child answers
        let took = before.elapsed();
        if round >= 1_000 {
            times.push(took); // the first 1,000 were the warm-up
        }
    }
    child.waitpid_with(None)?; // waitpid(2): the child is done, and reaped
    times.sort();
    let (median, p99) = (times[times.len() / 2], times[times.len() * 99 / 100]);
    let count = times.len();
    println!("{count} round trips through two pipes: median {median:?}, 99% within {p99:?}");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: bare

fn main() -> ExitCode {
    let _: Args = parse_args(); // --help and --version; no other argument
    run(bare) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
