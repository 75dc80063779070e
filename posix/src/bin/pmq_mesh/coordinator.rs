//! The one-command run: create five queues and unlink their names at once, fork the four nodes,
//! reap them as they finish, take their tallies, check that every greeting arrived exactly once.

use std::process::ExitCode;
use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqdT, mq_getattr, mq_open, mq_receive, mq_unlink};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::WaitStatus;
use support::cli::{Context, Failure};
use support::stop::{Stop, Stopped, child_status, finish};
use support::{Child, Forked, describe, first_to_end, fork, run_child};

use crate::NAMES;
use crate::node::{TALLIES, Tally, greet_and_tally};
use crate::queue::{MSGSIZE, mesh_attr};

/// A forked node: dropping it unreaped kills and reaps it (support's `Child` guard).
struct Node {
    name: char,
    child: Child,
}

pub fn coordinate(prefix: &str, interval: Duration) -> Result<ExitCode, Failure> {
    // Installed before the queues exist: no signal can kill a coordinator that owns some.
    let stop = Stop::install()?;
    // ANCHOR: private
    let base = format!("{prefix}-{}", std::process::id());
    let names = NAMES.map(|n| format!("{base}-{n}"));
    let mut queues: Vec<MqdT> = Vec::new();
    for name in names.iter().chain([&format!("{base}-tallies")]) {
        let mut flags = MQ_OFlag::O_RDWR | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
        if queues.len() == TALLIES {
            flags |= MQ_OFlag::O_NONBLOCK; // the coordinator reads it once the nodes are done
        }
        let owner_only = Mode::S_IRUSR | Mode::S_IWUSR;
        let queue = mq_open(name.as_str(), flags, owner_only, Some(&mesh_attr()))
            .context(format!("mq_open {name}"))?;
        // The name goes at once: the nodes inherit the descriptor across fork, and no name is
        // left for a kill -9 to leak. What IPC_PRIVATE is for System V.
        mq_unlink(name.as_str()).context(format!("mq_unlink {name}"))?;
        queues.push(queue);
    }
    println!("pmq_mesh: created {base}-A to -D and {base}-tallies, and unlinked the names");
    // ANCHOR_END: private
    let mut nodes = Vec::new();
    for (index, &name) in NAMES.iter().enumerate() {
        match fork()? {
            // The child inherits every queue descriptor; run_child ends it with _exit.
            Forked::Child => run_child(|| {
                let outcome = greet_and_tally(&queues, index, interval);
                child_status(format!("node {name}"), outcome)
            }),
            Forked::Parent(child) => {
                println!("pmq_mesh: started node {name} as pid {}", child.pid());
                nodes.push(Node { name, child });
            }
        }
    }
    println!("pmq_mesh: waiting for the four nodes to finish; Ctrl-C stops everything");
    if let Err(stopped) = wait_for_nodes(&mut nodes, &stop) {
        if matches!(stopped, Stopped::Signal(_)) {
            stop_nodes(&mut nodes)?; // SIGTERM to each node still running, then reap it
        }
        return finish(Err(stopped));
    }
    let mut heard = [[0u32; 4]; 4]; // heard[from][to]
    let mut buffer = vec![0; MSGSIZE as usize];
    for _ in NAMES {
        // Each node sent its tally before it exited with status 0: it waits in the queue.
        let got = mq_receive(&queues[TALLIES], &mut buffer, &mut 0)
            .context(format!("mq_receive {base}-tallies"))?;
        let Some(tally) = Tally::from_bytes(&buffer[..got]) else {
            return Err(Failure::new(format!(
                "a {got}-byte message in {base}-tallies is not a tally of 20 bytes"
            )));
        };
        for (from, count) in tally.from.iter().enumerate() {
            heard[from][tally.node as usize] += count;
        }
    }
    print_table(&heard);
    let delivered: u32 = heard.iter().flatten().sum();
    let exactly_once = (0..4).all(|f| (0..4).all(|t| heard[f][t] == u32::from(f != t)));
    let mut left = 0;
    for queue in &queues {
        left += mq_getattr(queue).context("mq_getattr")?.curmsgs();
    }
    if !exactly_once || left != 0 {
        return Err(Failure::new(format!(
            "{delivered} greetings delivered, {left} left in the queues: expected 12, each once"
        )));
    }
    println!(
        "pmq_mesh: summary: 12 messages sent, {delivered} delivered, each exactly once; 0 left \
         in the 5 queues, which go when the last descriptor closes"
    );
    Ok(ExitCode::SUCCESS)
}

/// Reaps the nodes in the order they end (`waitid` with `WNOWAIT` says which, `waitpid` reaps
/// it). A node that fails ends the run at once.
fn wait_for_nodes(nodes: &mut [Node], stop: &Stop) -> Result<(), Stopped> {
    for _ in 0..nodes.len() {
        let ended = first_to_end(stop)?; // waitid(P_ALL, WEXITED | WNOWAIT)
        let Some(node) = nodes.iter_mut().find(|node| node.child.pid() == ended) else {
            let why = format!("waitid: pid {ended} is not a node");
            return Err(Stopped::Failed(Failure::new(why)));
        };
        let status = node.child.waitpid(stop)?;
        let (name, pid) = (node.name, node.child.pid());
        println!("pmq_mesh: node {name} (pid {pid}) {}", describe(&status));
        if !matches!(status, WaitStatus::Exited(_, 0)) {
            // Ctrl-C in the terminal reaches the nodes too: then this is a stop, not a failure.
            stop.check()?;
            let why = format!("node {name} {} before it reported", describe(&status));
            return Err(Stopped::Failed(Failure::new(why)));
        }
    }
    Ok(())
}

/// Passes a stop on to the nodes: SIGTERM to each one still running, then reaps them.
fn stop_nodes(nodes: &mut [Node]) -> Result<(), Failure> {
    for node in nodes.iter().filter(|node| !node.child.is_reaped()) {
        // Unreaped, so the pid is still ours (a zombie at worst, which ignores the signal).
        match kill(node.child.pid(), Signal::SIGTERM) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => return Err(errno).context(format!("kill {}", node.child.pid())),
        }
    }
    for node in nodes.iter_mut().filter(|node| !node.child.is_reaped()) {
        let status = node.child.waitpid_with(None)?;
        let (name, pid) = (node.name, node.child.pid());
        println!("pmq_mesh: node {name} (pid {pid}) {}", describe(&status));
    }
    Ok(())
}

/// The greetings delivered, sender by receiver.
fn print_table(heard: &[[u32; 4]; 4]) {
    println!("pmq_mesh: greetings delivered (row: sender, column: receiver):");
    println!("         to A  to B  to C  to D");
    for (from, row) in heard.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>6}")).collect();
        println!("  from {}{}", NAMES[from], cells.concat());
    }
}
