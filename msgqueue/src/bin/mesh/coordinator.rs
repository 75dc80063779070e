//! The one-command run: create a private queue, fork the four nodes, collect their tallies,
//! check that every greeting arrived exactly once, reap the nodes and remove the queue.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use msgqueue::{Creation, Key, MessageQueue, Permissions, Select, Shutdown, Tally, Wait};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use support::cli::{Context, Failure};
use support::{Forked, describe, fork, run_child, wait_for};

use crate::node::run_node;
use crate::{COORDINATOR, NAMES};

struct Node {
    index: usize,
    pid: Pid,
    status: Option<WaitStatus>,
}

// ANCHOR: coordinate
pub fn coordinate(interval: Duration) -> Result<ExitCode, Failure> {
    // Until the handlers are installed, Ctrl-C waits (blocked) rather than kills: a coordinator
    // killed now would leave the queue behind.
    Shutdown::hold()?;
    let queue = MessageQueue::open(
        Key::PRIVATE,
        Creation::CreateNew,
        Permissions::default(),
        false,
    )
    .context("create the queue")?;
    println!("mesh: created {queue}; A, B, C, D receive types 1 to 4, the coordinator type 5");
    let mut nodes = Vec::new();
    for (index, name) in NAMES.iter().enumerate() {
        // Fork before installing any signal handler (see the pitfalls): each node installs its
        // own, which also unblocks SIGINT and SIGTERM in it.
        match fork() {
            Ok(Forked::Child) => {
                // run_child never lets a panic unwind into the parent's frames that the child
                // inherited: dropping their `queue` would remove the coordinator's queue.
                run_child(|| run_node(&queue, index, interval))
            }
            Ok(Forked::Parent { child }) => {
                println!("mesh: started node {name} as pid {child}");
                nodes.push(Node {
                    index,
                    pid: child,
                    status: None,
                });
            }
            Err(failure) => {
                stop_and_reap(&mut nodes);
                return Err(failure);
            }
        }
    }
    let shutdown = Shutdown::install()?;
    // Watching SIGCHLD makes a node's exit interrupt our msgrcv (EINTR), so that a node that
    // dies before it reports cannot leave us waiting forever.
    let child_ended = shutdown.watch(libc::SIGCHLD)?;
    // A node may have ended before the handler was there: look once in any case.
    child_ended.store(true, Ordering::SeqCst);
    println!("mesh: waiting for the four tallies (type 5); Ctrl-C stops everything");
    let tallies = collect_tallies(&queue, &mut nodes, &shutdown, &child_ended);
    if !matches!(tallies, Ok(Some(_))) {
        stop_and_reap(&mut nodes);
    }
    for node in &mut nodes {
        let status = match node.status {
            Some(status) => status,
            None => wait_for(node.pid)?,
        };
        println!(
            "mesh: node {} (pid {}) {}",
            NAMES[node.index],
            node.pid,
            describe(&status)
        );
    }
    match tallies? {
        None => Ok(shutdown.exit_code()),
        Some(tallies) => summarize(&queue, &tallies),
    }
    // `queue` is dropped here: the coordinator created it, so it removes it.
}
// ANCHOR_END: coordinate

fn collect_tallies(
    queue: &MessageQueue,
    nodes: &mut [Node],
    shutdown: &Shutdown,
    child_ended: &AtomicBool,
) -> Result<Option<Vec<Tally>>, Failure> {
    let mut tallies = Vec::new();
    while tallies.len() < nodes.len() {
        // Stop the interval timer first, then look at the flags: a signal that comes after this
        // line arms the timer again, so the msgrcv below cannot sleep through it.
        shutdown.settle();
        if shutdown.requested().is_some() {
            println!("mesh: stopped by a signal; stopping the nodes");
            return Ok(None);
        }
        if child_ended.swap(false, Ordering::SeqCst) {
            // A node that ended well sent its tally first; one that failed never will.
            for node in nodes.iter_mut().filter(|node| node.status.is_none()) {
                match waitpid(node.pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                    Ok(status) => node.status = Some(status),
                    Err(errno) => return Err(Failure::new(format!("waitpid: {errno}"))),
                }
                if let Some(status) = node
                    .status
                    .filter(|s| !matches!(s, WaitStatus::Exited(_, 0)))
                {
                    let name = NAMES[node.index];
                    return Err(Failure::new(format!(
                        "node {name} {} before it reported",
                        describe(&status)
                    )));
                }
            }
        }
        match queue.receive_typed::<Tally>(Select::Exact(COORDINATOR), Wait::Block) {
            Ok((_, tally)) if (tally.node as usize) < NAMES.len() => tallies.push(tally),
            Ok((_, tally)) => {
                return Err(Failure::new(format!(
                    "a tally from node {}, which does not exist: someone else writes to {queue}",
                    tally.node
                )));
            }
            Err(err) if err.errno() == Some(Errno::EINTR) => {}
            Err(err) => return Err(err).context("wait for the tallies"),
        }
    }
    Ok(Some(tallies))
}

fn stop_and_reap(nodes: &mut [Node]) {
    for node in nodes.iter_mut().filter(|node| node.status.is_none()) {
        let _ = kill(node.pid, Signal::SIGTERM);
        node.status = wait_for(node.pid).ok();
    }
}

// ANCHOR: summarize
fn summarize(queue: &MessageQueue, tallies: &[Tally]) -> Result<ExitCode, Failure> {
    let mut heard = [[0u32; 4]; 4]; // heard[from][to]
    for tally in tallies {
        for (from, count) in tally.from.iter().enumerate() {
            heard[from][tally.node as usize] += count;
        }
    }
    println!("mesh: greetings delivered (row: sender, column: receiver):");
    println!("         to A  to B  to C  to D");
    for (from, row) in heard.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>6}")).collect();
        println!("  from {}{}", NAMES[from], cells.concat());
    }
    let delivered: u32 = heard.iter().flatten().sum();
    let exactly_once = (0..4).all(|f| (0..4).all(|t| heard[f][t] == u32::from(f != t)));
    let left = queue.stat().context("inspect the queue")?.messages;
    if !exactly_once || left != 0 {
        return Err(Failure::new(format!(
            "{delivered} greetings delivered, {left} left in the queue: expected 12, each once"
        )));
    }
    println!(
        "mesh: summary: 12 messages sent, {delivered} delivered, each exactly once; 0 left in {queue}, which I now remove"
    );
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: summarize
