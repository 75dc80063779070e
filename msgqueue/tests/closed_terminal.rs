//! A closed terminal is a stop: each example that reads or writes the terminal runs on a
//! pseudo-terminal of the test's own, the test closes the "window" (the pty's master side), and
//! the example must exit as SIGHUP makes it exit, 129, with the queue it made removed, though
//! no SIGHUP comes: only the terminal's EIO.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::TestKey;
use testkit::{OnTerminal, run, wait_until_blocked_in};

const SEND: &str = env!("CARGO_BIN_EXE_send");
const RECV: &str = env!("CARGO_BIN_EXE_recv");
const MESH: &str = env!("CARGO_BIN_EXE_mesh");

#[test]
fn send_reading_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("mq-pty-send");
    let mut send = OnTerminal::spawn(key.command(SEND, &["--create", "4"]));
    send.expect("Enter sends it");
    wait_until_blocked_in(send.pid(), libc::SYS_read);
    send.close_window();
    send.assert_hung_up();
    assert_eq!(key.ids(), [], "a queue is left with the test's key");
}

#[test]
fn recv_printing_to_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("mq-pty-recv");
    let mut recv = OnTerminal::spawn(key.command(RECV, &[]));
    recv.expect("waiting for messages");
    wait_until_blocked_in(recv.pid(), libc::SYS_msgrcv);
    recv.close_window();
    // A message makes recv print it: to a terminal that is gone.
    let sent = run(key.command(SEND, &[]), "after the window closed\n");
    assert!(sent.status.success(), "{sent:?}");
    recv.assert_hung_up();
    assert_eq!(key.ids(), [], "a queue is left with the test's key");
}

#[test]
fn a_node_by_hand_whose_terminal_closes_stops_as_on_sighup() {
    let key = TestKey::new("mq-pty-node");
    let mut node = OnTerminal::spawn(key.command(MESH, &["--node", "C"]));
    node.expect("waiting for messages");
    node.close_window();
    node.assert_hung_up();
    assert_eq!(key.ids(), [], "a queue is left with the test's key");
}

#[test]
fn mesh_printing_to_a_closed_terminal_stops_with_its_nodes() {
    let mut command = Command::new(MESH);
    command.args(["--interval-ms", "20"]);
    let mut mesh = OnTerminal::spawn(command);
    mesh.expect("started node D");
    mesh.close_window();
    mesh.assert_hung_up();
}

#[test]
fn every_queue_example_on_a_closed_terminal_stops_as_on_sighup() {
    let programs: [(&str, &[&str]); 7] = [
        (env!("CARGO_BIN_EXE_bare_queue"), &[]),
        (SEND, &["1", "hello"]),
        (RECV, &[]),
        (env!("CARGO_BIN_EXE_private_recv"), &[]),
        (MESH, &[]),
        (env!("CARGO_BIN_EXE_msg_ls"), &[]),
        (env!("CARGO_BIN_EXE_msg_rm"), &[]),
    ];
    let dirs = testkit::assert_each_stops_on_a_closed_terminal("mq-closed-terminal", &programs);
    // Each ran with the key of ./file in its own directory (bare_queue: of "."): none is left.
    for dir in &dirs {
        for key_file in [dir.path().join("file"), dir.path().to_owned()] {
            let Ok(key) = msgqueue::ftok(&key_file, b'a') else {
                continue; // no ./file: that program never made a key
            };
            let left = testkit::sysv_ids(sysv::Kind::Msg, |object| object.key == key);
            assert!(left.is_empty(), "queues left with {key}: {left:?}");
        }
    }
}
