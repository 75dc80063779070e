//! The one-command run: create a private queue, fork the four nodes, reap them as they finish,
//! take their tallies, check that every greeting arrived exactly once and remove the queue.

use std::process::ExitCode;
use std::time::Duration;

use libc::{IPC_CREAT, IPC_NOWAIT};
use msgqueue::{Key, Select, Tally, msgget};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitStatus;
use support::cli::Failure;
use support::stop::{Stop, Stopped, child_status, finish};
use support::{Child, Forked, describe, first_to_end, fork, run_child};

use crate::node::greet_and_tally;
use crate::{COORDINATOR, NAMES};

/// A forked node: dropping it unreaped kills and reaps it (support's `Child` guard).
struct Node {
    name: char,
    child: Child,
}

// ANCHOR: coordinate
pub fn coordinate(interval: Duration) -> Result<ExitCode, Failure> {
    // Installed before the queue exists: no signal can kill a coordinator that owns one.
    let stop = Stop::install()?;
    // IPC_PRIVATE always makes a new queue, with no key; our children inherit its id. (Any
    // process that learns the id could use it too: 0600 keeps out other users, not the rest.)
    let queue = msgget(Key::PRIVATE, IPC_CREAT | 0o600)?;
    println!("mesh: created {queue}; A, B, C, D receive types 1 to 4, the coordinator type 5");
    let mut nodes = Vec::new();
    for (index, &name) in NAMES.iter().enumerate() {
        match fork()? {
            // run_child ends the child with _exit: its copy of `queue` never removes the queue.
            Forked::Child => run_child(|| {
                let outcome = greet_and_tally(&queue, index, interval);
                child_status(format!("node {name}"), outcome)
            }),
            Forked::Parent(child) => {
                println!("mesh: started node {name} as pid {}", child.pid());
                nodes.push(Node { name, child });
            }
        }
    }
    println!("mesh: waiting for the four nodes to finish; Ctrl-C stops everything");
    if let Err(stopped) = wait_for_nodes(&mut nodes, &stop) {
        if matches!(stopped, Stopped::Signal(_)) {
            stop_nodes(&mut nodes)?; // SIGTERM to each node still running, then reap it
        }
        // After a failure, the nodes still running are killed and reaped as `nodes` is dropped.
        return finish(Err(stopped));
    }
    // ANCHOR_END: coordinate
    // ANCHOR: tallies
    let mut heard = [[0u32; 4]; 4]; // heard[from][to]
    for _ in NAMES {
        // Each node sent its tally before it exited with status 0: it waits in the queue.
        let (_, tally) = queue.msgrcv_typed::<Tally>(Select::Exact(COORDINATOR), IPC_NOWAIT)?;
        let to = tally.node as usize;
        if to >= NAMES.len() {
            return Err(Failure::new(format!(
                "a tally from node {to}, which does not exist: someone else writes to {queue}"
            )));
        }
        for (from, count) in tally.from.iter().enumerate() {
            heard[from][to] += count;
        }
    }
    print_table(&heard);
    let delivered: u32 = heard.iter().flatten().sum();
    let exactly_once = (0..4).all(|f| (0..4).all(|t| heard[f][t] == u32::from(f != t)));
    let left = queue.msgctl_stat()?.messages;
    if !exactly_once || left != 0 {
        return Err(Failure::new(format!(
            "{delivered} greetings delivered, {left} left in the queue: expected 12, each once"
        )));
    }
    println!(
        "mesh: summary: 12 messages sent, {delivered} delivered, each exactly once; 0 left in \
         {queue}, which I now remove"
    );
    Ok(ExitCode::SUCCESS)
    // `queue` is dropped last: the coordinator created it, so it removes it.
    // ANCHOR_END: tallies
}

// ANCHOR: wait
/// Reaps the nodes in the order they end. `waitid(P_ALL, WEXITED | WNOWAIT)` says which child
/// ended without reaping it; that node's `waitpid` reaps it. A node that fails ends the run at
/// once, instead of leaving the others to wait for its greetings forever.
fn wait_for_nodes(nodes: &mut [Node], stop: &Stop) -> Result<(), Stopped> {
    for _ in 0..nodes.len() {
        let ended = first_to_end(stop)?; // waitid(P_ALL, WEXITED | WNOWAIT)
        let Some(node) = nodes.iter_mut().find(|node| node.child.pid() == ended) else {
            return Err(Stopped::Failed(Failure::new(format!(
                "waitid: pid {ended} is not a node"
            ))));
        };
        let status = node.child.waitpid(stop)?;
        println!(
            "mesh: node {} (pid {}) {}",
            node.name,
            node.child.pid(),
            describe(&status)
        );
        if !matches!(status, WaitStatus::Exited(_, 0)) {
            // Ctrl-C in the terminal reaches the nodes too: then this is a stop, not a failure.
            stop.check()?;
            let why = format!(
                "node {} {} before it reported",
                node.name,
                describe(&status)
            );
            return Err(Stopped::Failed(Failure::new(why)));
        }
    }
    Ok(())
}
// ANCHOR_END: wait

/// Passes a stop on to the nodes: SIGTERM to each one still running, then reaps them. A node
/// stops at once (its own `Stop` ends its wait), or dies of the signal if it had not installed
/// one yet.
fn stop_nodes(nodes: &mut [Node]) -> Result<(), Failure> {
    for node in nodes.iter().filter(|node| !node.child.is_reaped()) {
        // Unreaped, so the pid is still ours (a zombie at worst, which ignores the signal).
        let _ = kill(node.child.pid(), Signal::SIGTERM);
    }
    for node in nodes.iter_mut().filter(|node| !node.child.is_reaped()) {
        let status = node.child.waitpid_with(None)?;
        println!(
            "mesh: node {} (pid {}) {}",
            node.name,
            node.child.pid(),
            describe(&status)
        );
    }
    Ok(())
}

/// The greetings delivered, sender by receiver.
fn print_table(heard: &[[u32; 4]; 4]) {
    println!("mesh: greetings delivered (row: sender, column: receiver):");
    println!("         to A  to B  to C  to D");
    for (from, row) in heard.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>6}")).collect();
        println!("  from {}{}", NAMES[from], cells.concat());
    }
}
