//! pmq_mesh: the four-node run delivers all 12 greetings exactly once and leaves no queue;
//! nodes by hand route lines through one another's queues; a second claimant of a node is
//! refused (flock), a queue left by a killed node is taken over, a queue of the wrong shape is
//! refused and left; every stop signal and a closed terminal end a node and the coordinator
//! within a second, with nothing left under the test's names.

#![forbid(unsafe_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_open, mq_unlink};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use testkit::{
    Nobody, OnTerminal, Running, SYS_POLL, assert_help_only, run, signal_row, stop_with,
    wait_until_blocked_in,
};

const MESH: &str = env!("CARGO_BIN_EXE_pmq_mesh");

/// Queue names of this test's own (`/ipc-labs-test-mesh-<pid>-<n>`); dropping it removes the
/// four node queues under it, whoever left them (a failed test kills its nodes with SIGKILL).
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Self(format!("/ipc-labs-test-mesh-{}-{n}", std::process::id()))
    }

    fn queue(&self, node: char) -> String {
        format!("{}-{node}", self.0)
    }

    fn node(&self, node: char) -> Command {
        let mut command = Command::new(MESH);
        command.args(["--prefix", &self.0, "--node", &node.to_string()]);
        command
    }

    fn left(&self) -> Vec<String> {
        "ABCD"
            .chars()
            .map(|n| self.queue(n))
            .filter(|q| exists(q))
            .collect()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        for node in "ABCD".chars() {
            let _ = mq_unlink(self.queue(node).as_str());
        }
    }
}

/// Whether a queue is at `name` (`mq_open` finds it).
fn exists(name: &str) -> bool {
    match mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None) {
        Ok(queue) => {
            mq_close(queue).expect("mq_close");
            true
        }
        Err(Errno::ENOENT) => false,
        Err(errno) => panic!("mq_open {name}: {errno}"),
    }
}

fn start_node(prefix: &Prefix, node: char) -> Running {
    let mut running = Running::spawn(prefix.node(node));
    running.expect_line("waiting for messages");
    running
}

#[test]
fn the_mesh_delivers_12_greetings_exactly_once_and_leaves_no_queue() {
    let prefix = Prefix::new();
    let mut command = Command::new(MESH);
    command.args(["--interval-ms", "0", "--prefix", &prefix.0]);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let created = lines
        .iter()
        .find(|l| l.starts_with("pmq_mesh: created"))
        .unwrap();
    let base = created["pmq_mesh: created ".len()..]
        .split("-A to")
        .next()
        .unwrap();
    assert!(base.starts_with(&prefix.0), "{created}");
    for node in ['A', 'B', 'C', 'D'] {
        let received = format!("{node}: received (priority 0): ");
        assert_eq!(lines.iter().filter(|l| l.starts_with(&received)).count(), 3);
        assert!(
            finished
                .stdout
                .contains(&format!("pmq_mesh: node {node} (pid"))
        );
    }
    assert!(
        finished
            .stdout
            .contains("  from C     1     1     0     1\n")
    );
    assert!(
        finished
            .stdout
            .contains("12 messages sent, 12 delivered, each exactly once; 0 left in the 5 queues"),
        "{finished:?}"
    );
    for name in ["A", "B", "C", "D", "tallies"] {
        assert!(!exists(&format!("{base}-{name}")), "{base}-{name} is left");
    }
}

#[test]
fn two_nodes_by_hand_route_lines_through_each_others_queues() {
    let prefix = Prefix::new();
    let mut b = Running::spawn(prefix.node('B'));
    let created = b.expect_line("node B: created");
    assert_eq!(
        created,
        format!(
            "node B: created {} (I remove it when I quit)",
            prefix.queue('B')
        )
    );
    b.expect_line("waiting for messages");
    let mut c = start_node(&prefix, 'C');
    b.write_line("C hello C").unwrap();
    b.expect_line(&format!("node B: sent to {}: hello C", prefix.queue('C')));
    c.expect_line("node C: received (priority 0): B: hello C");
    c.write_line("b hi B").unwrap();
    b.expect_line("node B: received (priority 0): C: hi B");
    b.write_line("nobody hello").unwrap();
    b.expect_line("node B: start a line with A, B, C or D, then the text: `C hello`");
    // D runs nowhere: its queue does not exist, and the line says so; B goes on.
    b.write_line("D anyone there?").unwrap();
    let enoent = b.expect_stderr_line("node B: not sent");
    assert_eq!(
        enoent,
        format!(
            "pmq_mesh: node B: not sent: mq_open {}: ENOENT: No such file or directory (is node \
             D running?)",
            prefix.queue('D')
        )
    );
    for (node, running) in [('B', b), ('C', c)] {
        wait_until_blocked_in(running.pid(), SYS_POLL);
        let finished = stop_with(running, Signal::SIGINT);
        assert!(
            finished
                .stdout
                .contains(&format!("node {node}: got SIGINT; stopping"))
        );
    }
    assert_eq!(prefix.left(), Vec::<String>::new());
}

#[test]
fn a_second_claimant_of_a_node_is_refused_and_the_first_keeps_its_queue() {
    let prefix = Prefix::new();
    let mut first = start_node(&prefix, 'B');
    let second = run(prefix.node('B'), "");
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert_eq!(
        second.stderr,
        format!(
            "pmq_mesh: flock {}: EWOULDBLOCK: another process holds this queue: its node is \
             running already\n",
            prefix.queue('B')
        )
    );
    assert!(!second.stdout.contains("created"), "{second:?}");
    // The refused one removed nothing: the first still receives.
    assert!(exists(&prefix.queue('B')));
    let mut c = start_node(&prefix, 'C');
    c.write_line("B still yours").unwrap();
    first.expect_line("node B: received (priority 0): C: still yours");
    stop_with(first, Signal::SIGTERM);
    stop_with(c, Signal::SIGTERM);
    assert_eq!(prefix.left(), Vec::<String>::new());
}

#[test]
fn a_queue_left_by_a_killed_node_is_taken_over_with_its_messages() {
    let prefix = Prefix::new();
    let killed = start_node(&prefix, 'C');
    kill(killed.pid(), Signal::SIGKILL).expect("kill -9");
    let gone = killed.wait();
    assert_eq!(gone.status.code(), None, "killed by a signal: {gone:?}");
    assert!(
        exists(&prefix.queue('C')),
        "SIGKILL runs no cleanup: the queue stays"
    );
    // Sent while C is dead: the message waits in the stale queue.
    let mut b = start_node(&prefix, 'B');
    b.write_line("C while you were gone").unwrap();
    b.expect_line("node B: sent to");
    let mut c = Running::spawn(prefix.node('C'));
    let took = c.expect_line("node C: took over");
    assert!(
        took.contains("nobody held its lock); 1 message waiting in it"),
        "{took}"
    );
    c.expect_line("node C: received (priority 0): B: while you were gone");
    stop_with(c, Signal::SIGHUP);
    stop_with(b, Signal::SIGHUP);
    assert_eq!(prefix.left(), Vec::<String>::new());
}

#[test]
fn a_queue_of_another_shape_at_a_nodes_name_is_refused_and_left() {
    let prefix = Prefix::new();
    let foreign = prefix.queue('C');
    let attr = MqAttr::new(0, 10, 8192, 0);
    let flags = MQ_OFlag::O_RDWR | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
    let queue = mq_open(foreign.as_str(), flags, Mode::S_IRWXU, Some(&attr)).expect("mq_open");
    mq_close(queue).unwrap();
    let refused = run(prefix.node('C'), "");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(
        refused.stderr,
        format!(
            "pmq_mesh: {foreign}: refused: its mq_msgsize is 8192, a mesh queue's is 1024; it \
             is not a mesh queue, and I leave it as it is\n"
        )
    );
    // A sender refuses it too, and goes on.
    let mut b = start_node(&prefix, 'B');
    b.write_line("C hello").unwrap();
    let line = b.expect_stderr_line("not sent");
    assert!(line.contains("its mq_msgsize is 8192"), "{line}");
    stop_with(b, Signal::SIGINT);
    assert_eq!(
        prefix.left(),
        vec![foreign],
        "the foreign queue is left, nothing else"
    );
}

#[test]
fn a_node_killed_midway_ends_the_run_with_one_line_and_no_process_left() {
    let prefix = Prefix::new();
    let mut command = Command::new(MESH);
    command.args(["--interval-ms", "60000", "--prefix", &prefix.0]);
    let mut mesh = Running::spawn(command);
    let nodes: Vec<Pid> = ['A', 'B', 'C', 'D']
        .iter()
        .map(|node| pid_in(&mesh.expect_line(&format!("started node {node} as pid"))))
        .collect();
    mesh.expect_line("waiting for the four nodes to finish");
    kill(nodes[1], Signal::SIGKILL).expect("kill -9 node B");
    let said = mesh.expect_stderr_line("before it reported");
    assert_eq!(
        said,
        "pmq_mesh: node B was killed by signal 9 (SIGKILL) before it reported"
    );
    // The coordinator kills and reaps the three others itself before it exits.
    for &node in &nodes {
        wait_until_gone(node);
    }
    let finished = mesh.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stdout.contains("pmq_mesh: node B (pid"),
        "{finished:?}"
    );
}

/// The number at the end of a line such as `pmq_mesh: started node A as pid 4242`.
fn pid_in(line: &str) -> Pid {
    Pid::from_raw(line.rsplit(' ').next().unwrap().parse().expect("a pid"))
}

/// Waits until process `pid` no longer exists (reaped by its parent), with a deadline.
fn wait_until_gone(pid: Pid) {
    let deadline = std::time::Instant::now() + testkit::DEADLINE;
    while kill(pid, None) != Err(Errno::ESRCH) {
        assert!(
            std::time::Instant::now() < deadline,
            "node {pid} still exists"
        );
        // Waits for a state it can see; the millisecond only spares the CPU.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn help_and_bad_flags() {
    assert_help_only(MESH);
    for (args, needle) in [
        (&["--node", "E"][..], "is not a node: A, B, C or D"),
        (&["--prefix", "no-slash"], "a queue name starts with '/'"),
        (&["--prefix", "/a/b"], "no other '/'"),
        (&["--interval-ms", "60001"], "not in 0..=60000"),
    ] {
        let mut command = Command::new(MESH);
        command.args(args);
        let finished = run(command, "");
        assert_eq!(finished.status.code(), Some(2), "{args:?}: {finished:?}");
        assert_eq!(finished.stderr.lines().count(), 1, "{finished:?}");
        assert!(finished.stderr.contains(needle), "{args:?}: {finished:?}");
        assert!(finished.stdout.is_empty());
    }
}

#[test]
fn signal_table_node_blocked_in_poll() {
    signal_row("pmq_mesh --node blocked in poll", |signal| {
        let prefix = Prefix::new();
        let node = start_node(&prefix, 'C');
        wait_until_blocked_in(node.pid(), SYS_POLL);
        let finished = stop_with(node, signal);
        let said = format!("node C: got {signal}; stopping");
        assert!(finished.stdout.contains(&said), "{finished:?}");
        assert_eq!(prefix.left(), Vec::<String>::new());
    });
}

#[test]
fn signal_table_coordinator_blocked_in_waitid() {
    signal_row("pmq_mesh coordinator blocked in waitid", |signal| {
        let prefix = Prefix::new();
        let mut command = Command::new(MESH);
        command.args(["--interval-ms", "60000", "--prefix", &prefix.0]);
        let mut mesh = Running::spawn(command);
        let nodes: Vec<Pid> = ['A', 'B', 'C', 'D']
            .iter()
            .map(|node| pid_in(&mesh.expect_line(&format!("started node {node} as pid"))))
            .collect();
        mesh.expect_line("waiting for the four nodes to finish");
        wait_until_blocked_in(mesh.pid(), libc::SYS_waitid);
        for &node in &nodes {
            wait_until_blocked_in(node, SYS_POLL); // each pauses before its first greeting
        }
        let finished = stop_with(mesh, signal);
        let said = format!("pmq_mesh: got {signal}; stopping");
        assert!(finished.stdout.contains(&said), "{finished:?}");
        assert_eq!(
            finished.stdout.matches("exited with status 143").count(),
            4,
            "every node stopped on the SIGTERM passed on, and was reaped: {finished:?}"
        );
    });
}

#[test]
fn a_closed_terminal_stops_a_node_and_the_coordinator_as_sighup() {
    let prefix = Prefix::new();
    let mut node = OnTerminal::spawn(prefix.node('D'));
    node.expect("waiting for messages");
    wait_until_blocked_in(node.pid(), SYS_POLL);
    node.close_window();
    node.assert_hung_up();
    assert_eq!(prefix.left(), Vec::<String>::new());
    // Closed before they start: the first line meets EIO.
    OnTerminal::spawn_closed(prefix.node('A')).assert_hung_up();
    assert_eq!(prefix.left(), Vec::<String>::new());
    let mut command = Command::new(MESH);
    command.args(["--interval-ms", "20", "--prefix", &prefix.0]);
    let mut mesh = OnTerminal::spawn(command);
    mesh.expect("started node D");
    mesh.close_window();
    mesh.assert_hung_up();
}

#[test]
fn nobody_cannot_claim_or_write_to_a_node_of_root() {
    let Some(nobody) = Nobody::new("pmq-mesh-nobody") else {
        return;
    };
    let prefix = Prefix::new();
    let mut b = start_node(&prefix, 'B');
    let args = ["--prefix", prefix.0.as_str(), "--node", "B"];
    let refused = run(nobody.command(MESH, &args), "");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let wanted = format!("mq_open {}: EACCES: Permission denied", prefix.queue('B'));
    assert!(refused.stderr.contains(&wanted), "{refused:?}");
    // nobody's own node C may run, but cannot write into root's B (0600).
    let args = ["--prefix", prefix.0.as_str(), "--node", "C"];
    let mut c = Running::spawn(nobody.command(MESH, &args));
    c.expect_line("waiting for messages");
    c.write_line("B let me in").unwrap();
    let line = c.expect_stderr_line("not sent");
    assert!(line.contains("EACCES"), "{line}");
    // Root passes every permission check (CAP_DAC_OVERRIDE): it writes into nobody's queue.
    b.write_line("C hello nobody").unwrap();
    b.expect_line("node B: sent to");
    c.expect_line("node C: received (priority 0): B: hello nobody");
    stop_with(c, Signal::SIGTERM);
    stop_with(b, Signal::SIGTERM);
    assert_eq!(prefix.left(), Vec::<String>::new());
}

#[test]
fn a_mesh_shaped_queue_of_another_user_is_refused_and_left() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: only root can give a queue to another user (fchown)");
        return;
    }
    let prefix = Prefix::new();
    let foreign = prefix.queue('A');
    let attr = MqAttr::new(0, 10, 1024, 0);
    let flags = MQ_OFlag::O_RDWR | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
    let mode = Mode::from_bits_truncate(0o666);
    let queue = mq_open(foreign.as_str(), flags, mode, Some(&attr)).expect("mq_open");
    // As if user 4242 had made it: same name, same shape, nobody holds it.
    let owner = Some(nix::unistd::Uid::from_raw(4242));
    nix::unistd::fchown(&queue, owner, None).expect("fchown the queue");
    mq_close(queue).unwrap();
    let refused = run(prefix.node('A'), "");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(
        refused.stderr,
        format!(
            "pmq_mesh: {foreign}: refused: it belongs to uid 4242, not to me; I leave it as it is\n"
        )
    );
    assert_eq!(
        prefix.left(),
        vec![foreign],
        "the other user's queue is left"
    );
}
