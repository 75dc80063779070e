//! Two `chat` sides talk over two FIFOs: a line typed on each side arrives on the other; when
//! one side leaves (end of input or Ctrl-C) the other sees end of file and leaves too, and no
//! FIFO is left.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{assert_gone, assert_stopped_by, stop_as_a_user};
use nix::sys::signal::Signal;
use testkit::{Running, TempDir};

const CHAT: &str = env!("CARGO_BIN_EXE_chat");

fn side(name: &str, dir: &TempDir) -> Running {
    let mut command = Command::new(CHAT);
    command.args(["--side", name, "--dir"]).arg(dir.path());
    Running::spawn(command)
}

fn connected_pair(dir: &TempDir) -> (Running, Running) {
    let mut a = side("a", dir);
    a.expect_line("waiting in open() for side b");
    let mut b = side("b", dir);
    a.expect_line("connected to side b");
    b.expect_line("connected to side a");
    (a, b)
}

#[test]
fn a_line_typed_on_each_side_arrives_on_the_other() {
    let dir = TempDir::new("fifo-chat");
    let (mut a, mut b) = connected_pair(&dir);
    a.write_line("hello from a").unwrap();
    assert_eq!(b.expect_line("a: "), "a: hello from a");
    b.write_line("hello from b").unwrap();
    assert_eq!(a.expect_line("b: "), "b: hello from b");
    let a = a.wait();
    assert!(a.status.success(), "{a:?}");
    b.expect_line("side a left the chat");
    let b = b.wait();
    assert!(b.status.success(), "{b:?}");
    for fifo in ["chat_a_to_b", "chat_b_to_a"] {
        assert_gone(&dir.path().join(fifo));
    }
}

#[test]
fn ctrl_c_on_one_side_ends_both_and_leaves_no_fifo() {
    let dir = TempDir::new("fifo-chat-int");
    let (a, mut b) = connected_pair(&dir);
    let (finished, took) = stop_as_a_user(a, Signal::SIGINT);
    assert_stopped_by(&finished, took, Signal::SIGINT);
    b.expect_line("side a left the chat");
    let b = b.wait();
    assert!(b.status.success(), "{b:?}");
    for fifo in ["chat_a_to_b", "chat_b_to_a"] {
        assert_gone(&dir.path().join(fifo));
    }
}
