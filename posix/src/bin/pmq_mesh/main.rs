//! # pmq_mesh: four processes A, B, C, D, one POSIX queue each
//!
//! Ports msgqueue's `mesh` (section 3.1 of the course notes, `004_0b92104986517c26.txt`: the
//! "network" of processes over one message queue) to POSIX queues. System V addresses a node by
//! message type in one shared queue; a POSIX queue has priorities, not types, so each node gets
//! a queue of its own, and sending to C means `mq_send` on C's queue.
//!
//! With no arguments, pmq_mesh creates five queues (one per node, one for the tallies) and
//! unlinks their names at once, forks the four nodes, which inherit the descriptors, and each
//! node greets the three others and prints what it receives. The coordinator reaps the nodes,
//! takes their tallies and checks that all 12 greetings arrived exactly once.
//!
//! `pmq_mesh --node B` runs one node by hand: it claims `/ipc-labs-mesh-B` (created 0600, held
//! with `flock`, so a second B is refused and a queue left by a killed B is taken over), sends
//! lines like `C hello` to `/ipc-labs-mesh-C`, prints what arrives, and removes its queue when it
//! quits. It waits for the terminal and its queue in one `poll`: no second thread.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP (`Stop::install`); a stop of the
//! coordinator alone reaches the nodes as SIGTERM. A closed terminal is a hang-up.
//!
//! The parts: `queue.rs` (shape, claim, removal), `coordinator.rs` (the one-command run),
//! `node.rs` (what each forked node does), `by_hand.rs` (`--node`).
//!
//! Run: `cargo run -p posix --bin pmq_mesh`, or `... --bin pmq_mesh -- --node A` in four
//! terminals.

#![forbid(unsafe_code)]

mod by_hand;
mod coordinator;
mod node;
mod queue;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use support::cli::{parse_args, run};

/// Four processes exchange greetings through POSIX message queues, one queue per node (the
/// course notes' mesh, ported from System V).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Run one node by hand (A, B, C or D) on the queue `<PREFIX>-<NODE>`; type `C hello` to send
    /// "hello" to C.
    #[arg(long, value_parser = parse_node)]
    node: Option<usize>,
    /// Pause before each greeting, in milliseconds (at most 60000), to watch the exchange
    /// unfold.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(..=60_000))]
    interval_ms: u64,
    /// The start of every queue name: node C's queue is `<PREFIX>-C`. One `/`, at the start.
    #[arg(long, default_value = "/ipc-labs-mesh", value_parser = parse_prefix)]
    prefix: String,
}

const NAMES: [char; 4] = ['A', 'B', 'C', 'D'];

// ANCHOR: address
/// A node's address is a queue: with the default prefix, C's is `/ipc-labs-mesh-C`.
fn queue_name(prefix: &str, node: usize) -> String {
    format!("{prefix}-{}", NAMES[node])
}
// ANCHOR_END: address

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| match args.node {
        Some(me) => by_hand::by_hand(me, &args.prefix),
        None => coordinator::coordinate(&args.prefix, Duration::from_millis(args.interval_ms)),
    })
}

fn parse_node(text: &str) -> Result<usize, String> {
    let upper = text.to_ascii_uppercase();
    NAMES
        .iter()
        .position(|n| upper == n.to_string())
        .ok_or_else(|| format!("{text:?} is not a node: A, B, C or D"))
}

/// A queue name is `/` and up to 255 bytes with no other `/` (mq_overview(7)); the prefix
/// leaves room for the coordinator's `-<pid>-tallies`.
fn parse_prefix(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix('/')
        .ok_or("a queue name starts with '/'")?;
    if rest.is_empty() || rest.contains('/') || rest.contains('\0') {
        return Err("one '/' at the start, then a name with no other '/'".to_owned());
    }
    if text.len() > 200 {
        return Err(format!("{} bytes; at most 200", text.len()));
    }
    Ok(text.to_owned())
}
