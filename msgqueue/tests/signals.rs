//! The signal table: every long-running binary of the crate × SIGINT, SIGTERM and SIGHUP × each
//! state in which it blocks. Each case brings the example to the state, checks in /proc that it
//! really sleeps in the system call the row names, sends the signal to the example's main pid
//! only, and then checks: exit within a second with 128 + n, no process left in its group, no
//! queue left with the case's key (or id). Every case has a key of its own, so the three
//! signals of a row run in parallel.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{RemoveOnDrop, TestKey, id_in, queue_exists};
use libc::{IPC_CREAT, IPC_EXCL, IPC_NOWAIT};
use msgqueue::{Limits, MessageQueue, msgget};
use nix::errno::Errno;
use nix::unistd::Pid;
use testkit::{Running, SYS_POLL, signal_row, stop_with, wait_until_blocked_in};

const SEND: &str = env!("CARGO_BIN_EXE_send");
const RECV: &str = env!("CARGO_BIN_EXE_recv");
const PRIVATE_RECV: &str = env!("CARGO_BIN_EXE_private_recv");
const MESH: &str = env!("CARGO_BIN_EXE_mesh");

#[test]
fn recv_blocked_in_msgrcv() {
    signal_row("recv blocked in msgrcv", |signal| {
        let key = TestKey::new("mq-sig-recv");
        let mut recv = Running::spawn(key.command(RECV, &[]));
        recv.expect_line("recv: created queue");
        recv.expect_line("waiting for messages");
        wait_until_blocked_in(recv.pid(), libc::SYS_msgrcv);
        let finished = stop_with(recv, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("recv: got {signal} after 0 messages")),
            "{finished:?}"
        );
        assert!(finished.stdout.contains("removed the queue I created"));
        assert_eq!(key.ids(), [], "a queue is left with the case's key");
    });
}

#[test]
fn private_recv_blocked_in_msgrcv() {
    signal_row("private_recv blocked in msgrcv", |signal| {
        let dir = testkit::TempDir::new("mq-sig-private");
        let id_file = dir.path().join("queue.id");
        let id_path = id_file.to_str().expect("a UTF-8 path");
        let mut recv = Running::spawn({
            let mut command = Command::new(PRIVATE_RECV);
            command.args(["--id-file", id_path]);
            command
        });
        let id = id_in(&recv.expect_line("private_recv: created queue"));
        let _cleanup = RemoveOnDrop(id);
        recv.expect_line("waiting for messages");
        wait_until_blocked_in(recv.pid(), libc::SYS_msgrcv);
        let finished = stop_with(recv, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("private_recv: got {signal} after 0 messages")),
            "{finished:?}"
        );
        assert!(!queue_exists(id), "the queue is left");
        assert!(!id_file.exists(), "the id file is left");
    });
}

#[test]
fn send_blocked_reading_stdin() {
    signal_row(
        "send blocked reading stdin (piped, nothing written yet)",
        |signal| {
            let key = TestKey::new("mq-sig-send-stdin");
            // --create: the queue send made is empty when the signal comes, so send removes it.
            let mut send = Running::spawn(key.command(SEND, &["--create", "4"]));
            send.expect_line("send: created queue");
            send.expect_line("sending each line of stdin as it arrives");
            wait_until_blocked_in(send.pid(), libc::SYS_read);
            let finished = stop_with(send, signal);
            assert!(
                finished
                    .stdout
                    .contains(&format!("send: got {signal} after sending 0 messages")),
                "{finished:?}"
            );
            assert_eq!(key.ids(), [], "a queue is left with the case's key");
        },
    );
}

#[test]
fn send_blocked_in_msgsnd_on_a_full_queue() {
    signal_row("send blocked in msgsnd on a full queue", |signal| {
        let key = TestKey::new("mq-sig-send-full");
        // The test's handle created the queue, so dropping it removes the queue, also when an
        // assertion below fails.
        let queue = msgget(key.key(), IPC_CREAT | IPC_EXCL | 0o600).expect("create the queue");
        let queued = fill(&queue);
        let mut send = Running::spawn(key.command(SEND, &["1", "hello"]));
        send.expect_line("send: opened queue");
        send.expect_line("queue full; waiting for room");
        wait_until_blocked_in(send.pid(), libc::SYS_msgsnd);
        let finished = stop_with(send, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("send: got {signal} after sending 0 messages")),
            "{finished:?}"
        );
        let stat = queue.msgctl_stat().expect("the queue is still there");
        assert_eq!(
            stat.messages, queued,
            "send added nothing, and took nothing away"
        );
        drop(queue);
        assert_eq!(key.ids(), [], "a queue is left with the case's key");
    });
}

/// Fills `queue` to the last byte of its capacity (msgmnb, read from /proc, when it was made):
/// messages of msgmax bytes, then ever smaller ones, until even one byte does not fit.
/// Returns how many messages it holds.
fn fill(queue: &MessageQueue) -> u64 {
    let limits = Limits::read().expect("read the limits in /proc/sys/kernel");
    let mut size = limits.msgmax.min(limits.msgmnb);
    let mut sent = 0;
    while size > 0 {
        match queue.msgsnd(9, &vec![b'f'; size], IPC_NOWAIT) {
            Ok(()) => sent += 1,
            Err(full) if full.errno() == Some(Errno::EAGAIN) => size /= 2,
            Err(err) => panic!("fill the queue: {err}"),
        }
        assert!(sent <= limits.msgmnb as u64, "the queue never filled");
    }
    let stat = queue.msgctl_stat().expect("msgctl IPC_STAT");
    assert_eq!(stat.bytes, stat.capacity, "the queue is full to the byte");
    assert_eq!(stat.capacity, limits.msgmnb as u64);
    stat.messages
}

#[test]
fn mesh_coordinator_while_its_nodes_wait() {
    signal_row(
        "mesh coordinator blocked in waitid while its nodes wait",
        |signal| {
            let mut command = Command::new(MESH);
            command.args(["--interval-ms", "60000"]);
            let mut mesh = Running::spawn(command);
            let created = id_in(&mesh.expect_line("mesh: created queue"));
            let _cleanup = RemoveOnDrop(created);
            let nodes: Vec<Pid> = ['A', 'B', 'C', 'D']
                .iter()
                .map(|node| pid_in(&mesh.expect_line(&format!("started node {node} as pid"))))
                .collect();
            mesh.expect_line("waiting for the four nodes to finish");
            wait_until_blocked_in(mesh.pid(), libc::SYS_waitid);
            for &node in &nodes {
                // Each node pauses before its first greeting, in poll.
                wait_until_blocked_in(node, SYS_POLL);
            }
            let finished = stop_with(mesh, signal);
            assert!(
                finished
                    .stdout
                    .contains(&format!("mesh: got {signal}; stopping")),
                "{finished:?}"
            );
            assert_eq!(
                finished.stdout.matches("exited with status 143").count(),
                4,
                "every node stopped on the SIGTERM passed on, and was reaped: {finished:?}"
            );
            assert!(!queue_exists(created), "queue id={created} is left");
        },
    );
}

#[test]
fn mesh_node_blocked_in_msgrcv() {
    signal_row("mesh --node blocked in msgrcv", |signal| {
        let key = TestKey::new("mq-sig-node");
        let mut node = Running::spawn(key.command(MESH, &["--node", "C"]));
        node.expect_line("node C: created");
        node.expect_line("waiting for messages");
        wait_until_blocked_in(node.pid(), libc::SYS_msgrcv);
        let finished = stop_with(node, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("node C: got {signal}; stopping")),
            "{finished:?}"
        );
        assert_eq!(key.ids(), [], "a queue is left with the case's key");
    });
}

/// The number after `pid ` in a line such as `mesh: started node A as pid 4242`.
fn pid_in(line: &str) -> Pid {
    let digits = line.rsplit(' ').next().expect("a last word");
    Pid::from_raw(digits.parse().expect("a pid at the end of the line"))
}
