//! The `msgqueue` lab: N nodes route messages to each other by type over one queue, with
//! broadcast.
//!
//! - Node `i` (0 to N-1) receives the messages of type `i + 1` ([`address`]): sending to node
//!   `j` is `msgsnd` with type `j + 1`. The coordinator receives type [`REPORTS`].
//! - Every message between nodes has the same body, [`Note`]: who sent it, and its [`Kind`].
//! - Each node sends one `Direct` message to every other node, broadcasts once, then sends one
//!   `Done` to every other node. Broadcast is done by the sender: one `Broadcast` copy per other
//!   node, so no router is needed and each copy is delivered once, like any other message.
//! - A node receives its own type until it has a `Done` from each of the N-1 others. Messages
//!   of one type leave the queue in the order they were sent, so a sender's `Done` comes after
//!   everything it sent to that node: when all the `Done`s are in, nothing else is on its way.
//! - It then reports what it received ([`Report`]) to the coordinator, which checks that every
//!   pair got exactly one direct message and one broadcast, that the queue is empty, and
//!   removes the queue, on every way out.
//!
//! The binary `lab_msgqueue` runs it all. See the book's lab page, "Lab: routing by type".

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use libc::{IPC_CREAT, IPC_EXCL, IPC_NOWAIT};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use support::cli::{Failure, report_error};
use support::stop::{Stop, StopContext, Stopped, exit_status_for};
use support::{Child, Forked, describe, fork, run_child};

use crate::{MessageQueue, NamedKey, Select, msgget};

/// The most nodes: every message the nodes send (3 N (N-1) bodies of 8 bytes, with N = 16,
/// 5,760 bytes) fits in a queue of Linux's default size (msgmnb, 16,384 bytes), so no node
/// waits in `msgsnd` while the others are still sending too.
pub const MAX_NODES: usize = 16;

/// The coordinator's message type: nodes send their reports there.
pub const REPORTS: i64 = 1000;

/// Node `node`'s address: the message type it receives (`node + 1`; types start at 1).
pub fn address(node: usize) -> i64 {
    node as i64 + 1
}

/// What a message between nodes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A message for this node alone.
    Direct = 1,
    /// This node's copy of a broadcast.
    Broadcast = 2,
    /// The sender has sent this node everything it will send.
    Done = 3,
}

/// The body of every message between nodes: the sender's index and the kind, as two `u32`s
/// (`[u32; 2]` travels with `msgsnd_typed` and `msgrcv_typed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    /// The sending node's index.
    pub from: usize,
    /// What the message is.
    pub kind: Kind,
}

impl Note {
    /// The message body.
    pub fn to_body(self) -> [u32; 2] {
        [self.from as u32, self.kind as u32]
    }

    /// The note in a message body; `None` if the kind is unknown.
    pub fn from_body(body: [u32; 2]) -> Option<Note> {
        let kind = match body[1] {
            1 => Kind::Direct,
            2 => Kind::Broadcast,
            3 => Kind::Done,
            _ => return None,
        };
        Some(Note {
            from: body[0] as usize,
            kind,
        })
    }
}

/// What one node received: `direct[i]` and `broadcast[i]` count the messages of each kind from
/// node `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The reporting node.
    pub node: usize,
    /// Direct messages received, by sender.
    pub direct: Vec<u32>,
    /// Broadcast copies received, by sender.
    pub broadcast: Vec<u32>,
}

impl Report {
    /// An empty report of node `node` in a run of `n` nodes.
    pub fn new(node: usize, n: usize) -> Report {
        Report {
            node,
            direct: vec![0; n],
            broadcast: vec![0; n],
        }
    }

    /// The message body: the node, then `direct`, then `broadcast`, as native-endian `u32`s.
    pub fn to_bytes(&self) -> Vec<u8> {
        std::iter::once(self.node as u32)
            .chain(self.direct.iter().copied())
            .chain(self.broadcast.iter().copied())
            .flat_map(u32::to_ne_bytes)
            .collect()
    }

    /// The report in a message body of a run of `n` nodes; `None` if it has the wrong size or
    /// names a node that does not exist.
    pub fn from_bytes(bytes: &[u8], n: usize) -> Option<Report> {
        if bytes.len() != 4 * (1 + 2 * n) {
            return None;
        }
        let words: Vec<u32> = bytes
            .chunks(4)
            .map(|chunk| u32::from_ne_bytes(chunk.try_into().expect("4 bytes")))
            .collect();
        let node = words[0] as usize;
        (node < n).then(|| Report {
            node,
            direct: words[1..=n].to_vec(),
            broadcast: words[n + 1..].to_vec(),
        })
    }

    /// The size of a report's body in a run of `n` nodes.
    pub fn size(n: usize) -> usize {
        4 * (1 + 2 * n)
    }
}

/// What the coordinator found: `direct[from][to]` and `broadcast[from][to]` count the messages
/// node `to` received from node `from`; `left` counts the messages still in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Direct messages, `[from][to]`.
    pub direct: Vec<Vec<u32>>,
    /// Broadcast copies, `[from][to]`.
    pub broadcast: Vec<Vec<u32>>,
    /// Messages left in the queue after every report was taken.
    pub left: u64,
}

impl Counts {
    /// Whether every node got exactly one direct message and one broadcast copy from every
    /// other node, none from itself, and nothing is left in the queue.
    pub fn exactly_once(&self) -> bool {
        let n = self.direct.len();
        let once = |table: &Vec<Vec<u32>>| {
            (0..n).all(|from| (0..n).all(|to| table[from][to] == u32::from(from != to)))
        };
        once(&self.direct) && once(&self.broadcast) && self.left == 0
    }
}

/// Sends `note` to node `to` (type [`address`]`(to)`), waiting while the queue is full, under
/// [`Stop::retry`].
pub fn send(queue: &MessageQueue, stop: &Stop, to: usize, note: Note) -> Result<(), Stopped> {
    stop.retry(|| queue.msgsnd_typed(address(to), &note.to_body(), 0))
        .context(format!("send to node {to}"))
}

/// Broadcasts from node `me` to every other node of the `n`: one [`Kind::Broadcast`] copy per
/// receiver, each sent with [`send`].
pub fn broadcast(queue: &MessageQueue, stop: &Stop, me: usize, n: usize) -> Result<(), Stopped> {
    // BEGIN SOLUTION
    let note = Note {
        from: me,
        kind: Kind::Broadcast,
    };
    for to in (0..n).filter(|&to| to != me) {
        send(queue, stop, to, note)?;
    }
    Ok(())
    // END SOLUTION
}

/// What node `me` of `n` does: sends a [`Kind::Direct`] message to every other node,
/// broadcasts once ([`broadcast`]), sends a [`Kind::Done`] to every other node; then takes the
/// messages of its own type until it has a `Done` from each of the others, counting the
/// `Direct` and `Broadcast` ones by sender, and returns the count. A message whose body is not
/// a [`Note`] from another node is an error. A second `Done` from the same sender is not: it
/// changes nothing (the nodes never send one).
pub fn run_node(queue: &MessageQueue, stop: &Stop, me: usize, n: usize) -> Result<Report, Stopped> {
    // BEGIN SOLUTION
    let others = || (0..n).filter(move |&other| other != me);
    for to in others() {
        send(
            queue,
            stop,
            to,
            Note {
                from: me,
                kind: Kind::Direct,
            },
        )?;
    }
    broadcast(queue, stop, me, n)?;
    for to in others() {
        send(
            queue,
            stop,
            to,
            Note {
                from: me,
                kind: Kind::Done,
            },
        )?;
    }
    let mut report = Report::new(me, n);
    let mut done = vec![false; n];
    let mine = Select::Exact(address(me));
    while others().any(|other| !done[other]) {
        let (_, body) = stop
            .retry(|| queue.msgrcv_typed::<[u32; 2]>(mine, 0))
            .context(format!("node {me}: msgrcv"))?;
        let note = Note::from_body(body).filter(|note| note.from < n && note.from != me);
        let Some(note) = note else {
            let why = format!("node {me}: a message {body:?} that no other node sent");
            return Err(Stopped::Failed(Failure::new(why)));
        };
        match note.kind {
            Kind::Direct => report.direct[note.from] += 1,
            Kind::Broadcast => report.broadcast[note.from] += 1,
            Kind::Done => done[note.from] = true,
        }
    }
    Ok(report)
    // END SOLUTION
}

/// The body of a forked node: installs its own stop handling, runs [`run_node`], and sends
/// the report to the coordinator (type [`REPORTS`]). Returns the node's exit status: 0, 1 after
/// an error (said on stderr), 128 + n after a stop signal. `fail`: exit with status 1 at once,
/// having sent nothing (for the tests: a node that fails).
pub fn node_main(queue: &MessageQueue, me: usize, n: usize, fail: bool) -> i32 {
    if fail {
        report_error(format!("node {me}: failing on purpose (--fail-node)"));
        return 1;
    }
    let outcome = Stop::install().map_err(Stopped::Failed).and_then(|stop| {
        let report = run_node(queue, &stop, me, n)?;
        stop.retry(|| queue.msgsnd(REPORTS, &report.to_bytes(), 0))
            .context(format!("node {me}: send my report"))
    });
    match outcome {
        Ok(()) => 0,
        Err(Stopped::Signal(signal)) => i32::from(exit_status_for(signal)),
        Err(Stopped::Failed(failure)) => {
            report_error(failure);
            1
        }
    }
}

/// The forked nodes. Dropping it kills and reaps every node not reaped yet (support's `Child`
/// guard), so that no node outlives an error or a stop of the coordinator.
#[derive(Default)]
pub struct Nodes {
    children: Vec<Child>,
}

impl Nodes {
    /// No nodes yet.
    pub fn new() -> Nodes {
        Nodes::default()
    }

    /// Takes charge of a forked node (the next index).
    pub fn push(&mut self, child: Child) {
        self.children.push(child);
    }

    /// Reaps the nodes in the order they end (`waitid(P_ALL, WEXITED | WNOWAIT)`, then that
    /// node's `waitpid`), and calls `ended` with each one's index and status. A node that does
    /// not exit with status 0 ends the wait with an error that names it, at once: the others
    /// may wait forever for what it did not send (dropping the `Nodes` kills them).
    pub fn wait_all(
        &mut self,
        stop: &Stop,
        mut ended: impl FnMut(usize, &WaitStatus),
    ) -> Result<(), Stopped> {
        for _ in 0..self.children.len() {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
            let which = stop.retry(|| waitid(Id::All, flags)).context("waitid")?;
            let Some(node) = self
                .children
                .iter()
                .position(|child| Some(child.pid()) == which.pid())
            else {
                return Err(Stopped::Failed(Failure::new(format!(
                    "waitid: {which:?} is not a node"
                ))));
            };
            let status = self.children[node].waitpid(stop)?;
            ended(node, &status);
            if !matches!(status, WaitStatus::Exited(_, 0)) {
                stop.check()?;
                let why = format!("node {node} {} before it reported", describe(&status));
                return Err(Stopped::Failed(Failure::new(why)));
            }
        }
        Ok(())
    }
}

/// Takes the `n` nodes' reports from the queue (type [`REPORTS`], `IPC_NOWAIT`: each node sent
/// its report before it exited with status 0) and adds them up; then counts what is left in
/// the queue (`msgctl(IPC_STAT)`). A report that [`Report::from_bytes`] refuses is an error.
pub fn collect(queue: &MessageQueue, n: usize) -> Result<Counts, Failure> {
    // BEGIN SOLUTION
    let mut counts = Counts {
        direct: vec![vec![0; n]; n],
        broadcast: vec![vec![0; n]; n],
        left: 0,
    };
    for _ in 0..n {
        let message = queue.msgrcv(Select::Exact(REPORTS), Report::size(n), IPC_NOWAIT)?;
        let Some(report) = Report::from_bytes(&message.bytes, n) else {
            return Err(Failure::new(format!(
                "a report that is not one: {message:?}"
            )));
        };
        for from in 0..n {
            counts.direct[from][report.node] += report.direct[from];
            counts.broadcast[from][report.node] += report.broadcast[from];
        }
    }
    counts.left = queue.msgctl_stat()?.messages;
    Ok(counts)
    // END SOLUTION
}

/// The coordinator: creates the queue with `key` (`IPC_CREAT | IPC_EXCL`, mode 0600), forks
/// the `n` nodes (each runs [`node_main`] through `support::run_child`; node `fail`, if any,
/// fails on purpose), waits for them all ([`Nodes::wait_all`]), takes their reports
/// ([`collect`]), and removes the queue (`msgctl(IPC_RMID)`) on EVERY way out: success, a node
/// that fails, a stop signal, an error. `say` gets a line of narration to print.
///
/// - On the normal path, `msgctl_rmid` removes the queue, and its failure is the error returned.
///   On every other way out, dropping the queue handle removes it and ignores a failure: the
///   error returned is the one that ended the run.
/// - A stop signal need not be passed on to the nodes: `wait_all` returns
///   `Err(Stopped::Signal)`, and dropping the `Nodes` (before the queue) kills and reaps them.
/// - `msgqueue::Error` converts into `Failure`, as in `src/bin/mesh/node.rs`: `?` does it in
///   [`collect`]; here `?` does, and `?` turns the `Failure` into a
///   `Stopped`.
pub fn coordinate(
    key: NamedKey,
    n: usize,
    fail: Option<usize>,
    stop: &Stop,
    mut say: impl FnMut(String),
) -> Result<Counts, Stopped> {
    // BEGIN SOLUTION
    // IPC_EXCL: this call certainly created the queue, so the handle removes it when dropped,
    // on an error or a panic; the success path removes it explicitly, to report a failure.
    let queue = msgget(key, IPC_CREAT | IPC_EXCL | 0o600)?;
    say(format!(
        "created {queue}; node i receives type i+1, reports go to type {REPORTS}"
    ));
    let mut nodes = Nodes::new();
    for me in 0..n {
        match fork()? {
            // run_child ends the child with _exit: its copy of `queue` never removes the queue.
            Forked::Child => run_child(|| node_main(&queue, me, n, fail == Some(me))),
            Forked::Parent(child) => {
                say(format!("started node {me} as pid {}", child.pid()));
                nodes.push(child);
            }
        }
    }
    let waited = nodes.wait_all(stop, |node, status| {
        say(format!("node {node} {}", describe(status)));
    });
    // On an error, the nodes still running are killed as `nodes` is dropped, before `queue`.
    waited?;
    drop(nodes);
    let counts = collect(&queue, n)?;
    let shown = queue.to_string();
    queue.msgctl_rmid()?;
    say(format!("removed {shown}"));
    Ok(counts)
    // END SOLUTION
}
