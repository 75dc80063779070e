//! mesh: the four-node run delivers all 12 greetings exactly once and leaves no queue; Ctrl-C
//! ends the run (coordinator and nodes) within a second; `mesh --node` sends typed lines to
//! other nodes, receives its own type, and removes the queue it created on Ctrl-C.

#![forbid(unsafe_code)]

mod common;

use std::time::Duration;

use common::{RemoveOnDrop, TestKey, id_in, interrupt, queue_exists, wait_until_blocked_in_msgrcv};
use nix::sys::signal::Signal;
use testkit::{Running, run};

const MESH: &str = env!("CARGO_BIN_EXE_mesh");
const SEND: &str = env!("CARGO_BIN_EXE_send");
const RECV: &str = env!("CARGO_BIN_EXE_recv");

#[test]
fn the_mesh_delivers_12_greetings_exactly_once_and_removes_its_queue() {
    let mut command = std::process::Command::new(MESH);
    command.args(["--interval-ms", "0"]);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let created = lines
        .iter()
        .find(|l| l.starts_with("mesh: created queue"))
        .unwrap();
    for node in ['A', 'B', 'C', 'D'] {
        let received = lines
            .iter()
            .filter(|l| l.starts_with(&format!("{node}: received")))
            .count();
        assert_eq!(received, 3, "{node} receives three greetings");
        assert!(finished.stdout.contains(&format!("mesh: node {node} (pid")));
    }
    assert!(
        finished
            .stdout
            .contains("12 messages sent, 12 delivered, each exactly once; 0 left"),
        "{finished:?}"
    );
    assert!(!queue_exists(id_in(created)));
}

#[test]
fn ctrl_c_stops_the_coordinator_and_every_node_within_a_second() {
    let mut command = std::process::Command::new(MESH);
    command.args(["--interval-ms", "20000"]);
    let mut mesh = Running::spawn(command);
    let created = mesh.expect_line("mesh: created queue");
    let _cleanup = RemoveOnDrop(id_in(&created));
    mesh.expect_line("waiting for the four nodes to finish");
    testkit::wait_until_blocked_in(mesh.pid(), libc::SYS_waitid);
    let (finished, took) = interrupt(mesh, Signal::SIGINT);
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(took < Duration::from_secs(1), "Ctrl-C took {took:?}");
    assert_eq!(
        finished.stdout.matches("mesh: node").count(),
        4,
        "every node reaped: {finished:?}"
    );
    assert!(!queue_exists(id_in(&created)));
}

#[test]
fn a_node_by_hand_sends_by_type_and_receives_its_own() {
    let key = TestKey::new("mq-node");
    let mut node = Running::spawn(key.command(MESH, &["--node", "B"]));
    let created = node.expect_line("node B: created");
    node.expect_line("waiting for messages");
    node.write_line("C hello C").unwrap();
    node.expect_line("node B: sent type 3 (to C): hello C");
    let for_c = run(key.command(RECV, &["--type", "3", "--nowait"]), "");
    assert!(for_c.stdout.contains("type=3 B: hello C"), "{for_c:?}");
    assert!(
        run(key.command(SEND, &["2", "A: hi B"]), "")
            .status
            .success()
    );
    node.expect_line("node B: received: A: hi B");
    node.write_line("nobody hello").unwrap();
    node.expect_line("start a line with A, B, C or D");
    wait_until_blocked_in_msgrcv(node.pid());

    let (finished, took) = interrupt(node, Signal::SIGINT);
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(took < Duration::from_secs(1), "Ctrl-C took {took:?}");
    assert!(!queue_exists(id_in(&created)));
}
