//! # mesh: four processes A, B, C, D talk through one queue, addressed by message type
//!
//! Ports seed `004_0b92104986517c26.txt`, section 3.1 (the "network" of processes over one
//! message queue): node A receives type 1, B type 2, C type 3, D type 4, so sending to C means
//! sending a message of type 3. With no arguments, mesh creates a private queue, forks the four
//! nodes, and each greets the three others and prints what it receives. A node that has its
//! three greetings reports a typed tally (type 5) to the coordinator, which checks that all 12
//! greetings arrived exactly once, reaps the nodes and removes the queue.
//!
//! `mesh --node B` runs one node by hand on the queue of the key flags (`ftok("./file", 'a')` by
//! default): lines like `C hello` go to C, and what arrives for B is printed. Four terminals,
//! four nodes: the seed's scenario. The node that created the queue removes it when it quits.
//!
//! Run: `cargo run -p msgqueue --bin mesh`, or `... --bin mesh -- --node A` in four terminals.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use msgqueue::{
    Creation, Key, MessageQueue, Permissions, QueueArgs, Select, Shutdown, Tally, Wait,
};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use support::cli::{Context, Failure, parse_args, run};
use support::{Forked, describe, exit_child, fork, wait_for};

/// Four processes exchange greetings through one message queue, addressed by message type.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Run one node by hand (A, B, C or D) on the queue of the key flags; type `C hello` to
    /// send "hello" to C.
    #[arg(long, value_parser = parse_node)]
    node: Option<usize>,
    /// Pause before each greeting, in milliseconds, to watch the exchange unfold.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    #[command(flatten)]
    queue: QueueArgs,
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

struct Node {
    index: usize,
    pid: Pid,
    status: Option<WaitStatus>,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| match args.node {
        Some(me) => by_hand(me, &args.queue),
        None => coordinate(Duration::from_millis(args.interval_ms)),
    })
}

// ANCHOR: coordinate
fn coordinate(interval: Duration) -> Result<ExitCode, Failure> {
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
                // A panic must not unwind into the parent's frames that the child inherited:
                // dropping their `queue` would remove the coordinator's queue.
                let node = std::panic::AssertUnwindSafe(|| run_node(&queue, index, interval));
                exit_child(std::panic::catch_unwind(node).unwrap_or(101))
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
    // A handler for SIGCHLD makes a node's exit interrupt our msgrcv (EINTR), so that a node
    // that dies before it reports cannot leave us waiting forever.
    let child_ended = Arc::new(AtomicBool::new(true));
    signal_hook::flag::register(libc::SIGCHLD, Arc::clone(&child_ended)).context("SIGCHLD")?;
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

// ANCHOR: node
fn run_node(queue: &MessageQueue, me: usize, interval: Duration) -> i32 {
    let name = NAMES[me];
    let node = || -> Result<Option<()>, Failure> {
        let shutdown = Shutdown::install()?;
        for to in (0..4).filter(|&to| to != me) {
            let text = format!("{name}: hello {}", NAMES[to]);
            if !shutdown.pause(interval)
                || shutdown
                    .retry(|| queue.send_text(mtype(to), &text, Wait::Block))
                    .context("send")?
                    .is_none()
            {
                return Ok(None);
            }
            println!("{name}: sent type {} (to {}): {text}", mtype(to), NAMES[to]);
        }
        let mut tally = Tally {
            node: me as u32,
            from: [0; 4],
        };
        while tally.from.iter().sum::<u32>() < 3 {
            let select = Select::Exact(mtype(me));
            let Some(message) = shutdown
                .retry(|| queue.receive(select, 256, Wait::Block, false))
                .context("receive")?
            else {
                return Ok(None);
            };
            let text = message.text();
            println!("{name}: received type {}: {text}", message.mtype);
            if let Some(from) = NAMES.iter().position(|&n| text.starts_with(n)) {
                tally.from[from] += 1;
            }
        }
        shutdown
            .retry(|| queue.send_typed(COORDINATOR, &tally, Wait::Block))
            .context("report")?;
        println!("{name}: got my 3 greetings; sent my tally to the coordinator (type 5)");
        Ok(Some(()))
    };
    match node() {
        Ok(Some(())) => 0,
        Ok(None) => 130,
        Err(failure) => {
            eprintln!("mesh: node {name}: {failure}");
            1
        }
    }
}
// ANCHOR_END: node

fn collect_tallies(
    queue: &MessageQueue,
    nodes: &mut [Node],
    shutdown: &Shutdown,
    child_ended: &AtomicBool,
) -> Result<Option<Vec<Tally>>, Failure> {
    let mut tallies = Vec::new();
    while tallies.len() < nodes.len() {
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
            Ok((_, tally)) => tallies.push(tally),
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

// ANCHOR: by_hand
fn by_hand(me: usize, queue_args: &QueueArgs) -> Result<ExitCode, Failure> {
    let name = NAMES[me];
    let shutdown = Shutdown::install()?;
    let queue = queue_args
        .open(Creation::OpenOrCreate)
        .context("open the queue")?;
    let role = if queue.created() {
        "created (I remove it when I quit)"
    } else {
        "opened"
    };
    println!("node {name}: {role} {queue}; I receive type {}", mtype(me));
    // The lines are read on a thread of their own, with its own handle that never removes the
    // queue. It blocks SIGINT and SIGTERM, so that they interrupt the main thread's msgrcv.
    let sender = MessageQueue::from_id(queue.id(), true).context("open a second handle")?;
    std::thread::spawn(move || send_lines(&sender, me));
    println!("node {name}: waiting for messages; type lines like `C hello`, Ctrl-C to quit");
    loop {
        let select = Select::Exact(mtype(me));
        match shutdown.retry(|| queue.receive(select, 8192, Wait::Block, false)) {
            Ok(Some(message)) => println!("node {name}: received: {}", message.text()),
            Ok(None) => {
                println!("node {name}: stopped by a signal");
                return Ok(shutdown.exit_code());
            }
            Err(err) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {
                println!("node {name}: the queue was removed (its creator quit?): {err}");
                return Ok(ExitCode::SUCCESS);
            }
            Err(err) => return Err(err).context("receive"),
        }
    }
}

fn send_lines(queue: &MessageQueue, me: usize) {
    let _ = Shutdown::hold();
    let name = NAMES[me];
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let (to, text) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        let Some(to) = parse_node(to).ok().filter(|_| !text.is_empty()) else {
            println!("node {name}: start a line with A, B, C or D, then the text: `C hello`");
            continue;
        };
        match queue.send_text(mtype(to), &format!("{name}: {text}"), Wait::Block) {
            Ok(()) => println!(
                "node {name}: sent type {} (to {}): {text}",
                mtype(to),
                NAMES[to]
            ),
            Err(err) => return eprintln!("mesh: node {name}: {err}"),
        }
    }
    println!("node {name}: end of input; still receiving until Ctrl-C");
}
// ANCHOR_END: by_hand

fn parse_node(text: &str) -> Result<usize, String> {
    let upper = text.to_ascii_uppercase();
    NAMES
        .iter()
        .position(|n| upper == n.to_string())
        .ok_or_else(|| format!("{text:?} is not a node: A, B, C or D"))
}
