//! # lab_msgqueue: the msgqueue lab's N nodes, routing by type, with broadcast
//!
//! Creates a queue (`IPC_CREAT | IPC_EXCL`, mode 0600) with the key of the key flags, forks N
//! nodes (`--nodes`, 4 by default); node i receives type i+1. Each node sends one direct
//! message to every other node and broadcasts once (one copy per receiver); the coordinator
//! takes their reports, prints how many messages each pair exchanged, checks that each arrived
//! exactly once, and removes the queue, on every way out. The work is in `msgqueue::lab`
//! (`coordinate`, `run_node`, `broadcast`, `collect`): the lab.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP (`Stop::install`); the nodes are killed and
//! the queue removed.
//!
//! Run: `cargo run -p msgqueue --bin lab_msgqueue`, or `... -- --nodes 8`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use msgqueue::KeyArgs;
use msgqueue::lab::{MAX_NODES, coordinate};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// N nodes send each other one message each and broadcast once, over one message queue.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many nodes, 2 to 16.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(2..=MAX_NODES as i64))]
    nodes: u8,
    /// Make node K fail at once, having sent nothing: the run must still leave no queue.
    #[arg(long, value_name = "K")]
    fail_node: Option<usize>,
    #[command(flatten)]
    queue: KeyArgs,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let n = usize::from(args.nodes);
        if let Some(fail) = args.fail_node.filter(|&fail| fail >= n) {
            return Err(Failure::new(format!(
                "--fail-node {fail}: there is no such node (nodes are 0 to {})",
                n - 1
            )));
        }
        let stop = Stop::install()?;
        args.queue.make_default_key_file()?;
        let key = args.queue.ftok_or_key()?;
        let outcome = coordinate(key, n, args.fail_node, &stop, |line| {
            println!("lab_msgqueue: {line}")
        })
        .and_then(|counts| {
            println!("lab_msgqueue: messages received (from -> to):");
            for from in 0..n {
                for to in (0..n).filter(|&to| to != from) {
                    println!(
                        "pair {from}->{to}: direct {}, broadcast {}",
                        counts.direct[from][to], counts.broadcast[from][to]
                    );
                }
            }
            println!("lab_msgqueue: {} messages left in the queue", counts.left);
            if counts.exactly_once() {
                println!("lab_msgqueue: every message arrived exactly once");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Stopped::Failed(Failure::new(
                    "some message did not arrive exactly once (see the table)",
                )))
            }
        });
        finish(outcome)
    })
}
