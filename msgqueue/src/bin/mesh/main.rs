//! # mesh: four processes A, B, C, D talk through one queue, addressed by message type
//!
//! Ports section 3.1 of the course notes (`004_0b92104986517c26.txt`; the "network" of processes
//! over one message queue): node A receives type 1, B type 2, C type 3, D type 4, so sending to C
//! means sending a message of type 3. With no arguments, mesh creates a private queue, forks the
//! four nodes, and each greets the three others and prints what it receives. A node that has its
//! three greetings reports a typed tally (type 5) to the coordinator and exits; the coordinator
//! reaps the nodes as they end, takes the tallies, checks that all 12 greetings arrived exactly
//! once and removes the queue.
//!
//! `mesh --node B` runs one node by hand on the queue of the key flags (`ftok("./file", 'a')` by
//! default): lines like `C hello` go to C, and what arrives for B is printed. Four terminals,
//! four nodes: the notes' scenario. The node that created the queue removes it when it quits.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; a stop of the coordinator alone reaches the nodes as SIGTERM.
//!
//! The parts: `coordinator.rs` (the one-command run), `node.rs` (what each forked node does),
//! `by_hand.rs` (`--node`).
//!
//! Run: `cargo run -p msgqueue --bin mesh`, or `... --bin mesh -- --node A` in four terminals.

#![forbid(unsafe_code)]

mod by_hand;
mod coordinator;
mod node;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use msgqueue::KeyArgs;
use support::cli::{parse_args, run};

/// Four processes exchange greetings through one message queue, addressed by message type.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Run one node by hand (A, B, C or D) on the queue of the key flags; type `C hello` to
    /// send "hello" to C.
    #[arg(long, value_parser = parse_node)]
    node: Option<usize>,
    /// Pause before each greeting, in milliseconds (at most 60000), to watch the exchange
    /// unfold.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(..=60_000))]
    interval_ms: u64,
    #[command(flatten)]
    queue: KeyArgs,
}

const NAMES: [char; 4] = ['A', 'B', 'C', 'D'];
/// The coordinator's message type: nodes send their tallies there.
const COORDINATOR: i64 = 5;

// ANCHOR: address
/// A node's address is a message type: A is 1, B 2, C 3, D 4.
fn mtype(node: usize) -> i64 {
    node as i64 + 1
}
// ANCHOR_END: address

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| match args.node {
        Some(me) => by_hand::by_hand(me, &args.queue),
        None => coordinator::coordinate(Duration::from_millis(args.interval_ms)),
    })
}

fn parse_node(text: &str) -> Result<usize, String> {
    let upper = text.to_ascii_uppercase();
    NAMES
        .iter()
        .position(|n| upper == n.to_string())
        .ok_or_else(|| format!("{text:?} is not a node: A, B, C or D"))
}
