//! Two `chat` sides talk over two FIFOs: a line typed on each side arrives on the other. The
//! end of one side's input closes only its own direction (a half-close): the other side reads
//! end of file there and can still send; chat leaves when both directions are closed. Ctrl-C on
//! one side closes both, and the other side leaves too. No FIFO is left.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;
use std::thread;

use common::{assert_gone, assert_no_fifo_in, assert_stopped_by, stop_as_a_user};
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
    // Ctrl-D on side a closes a's direction only: b reads end of file, a still hears b.
    a.close_stdin();
    a.expect_line("end of input: closing chat_a_to_b");
    b.expect_line("side a closed chat_a_to_b: it sends no more");
    b.write_line("still here").unwrap();
    assert_eq!(a.expect_line("b: "), "b: still here");
    // Ctrl-D on side b closes the other direction: both are closed, both leave.
    let b = b.wait();
    assert!(b.status.success(), "{b:?}");
    let a = a.wait();
    assert!(a.status.success(), "{a:?}");
    assert!(a.stdout.contains("side b closed chat_b_to_a"), "{a:?}");
    // Side a made both FIFOs and says that it removed them.
    assert!(
        a.stdout.contains("chat a: removed") && !b.stdout.contains("removed"),
        "{a:?}\n{b:?}"
    );
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
    // Side a closed both FIFOs as it exited: b reads end of file on one, and poll() reports
    // POLLERR on the other. b leaves without waiting for the end of its own input.
    b.expect_line("side a closed chat_a_to_b");
    b.expect_line("both directions are closed; leaving");
    let b = b.wait();
    assert!(b.status.success(), "{b:?}");
    for fifo in ["chat_a_to_b", "chat_b_to_a"] {
        assert_gone(&dir.path().join(fifo));
    }
}

/// Line `number` of side `name`'s input: about 50 bytes, numbered, so that a loss, a repeat or
/// a reordering shows.
fn pasted_line(name: &str, number: usize) -> String {
    format!("{name}-{number:06}-{}", name.repeat(40))
}

/// The texts that `finished` printed as received from side `from`, in order.
fn received_from(finished: &testkit::Finished, from: &str) -> Vec<String> {
    let prefix = format!("{from}: ");
    finished
        .stdout_lines()
        .into_iter()
        .filter_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

/// Both sides get 200 KB of input at once, piped, as if pasted: more than a FIFO holds
/// (64 KiB), so each side must keep reading while its own writes wait. The end of one side's
/// input closes only its own direction; each direction is delivered whole and in order.
#[test]
fn two_hundred_kilobytes_piped_each_way_arrive_whole_and_in_order() {
    const LINES: usize = 4000; // 4000 lines of 50 bytes: 200 KB
    let dir = TempDir::new("fifo-chat-paste");
    let (mut a, mut b) = connected_pair(&dir);
    thread::scope(|scope| {
        for (running, name) in [(&mut a, "a"), (&mut b, "b")] {
            scope.spawn(move || {
                for number in 0..LINES {
                    running.write_line(&pasted_line(name, number)).unwrap();
                }
                running.close_stdin();
            });
        }
    });
    let a = a.wait();
    let b = b.wait();
    assert!(a.status.success(), "side a: {}", a.stderr);
    assert!(b.status.success(), "side b: {}", b.stderr);
    for (finished, from, to) in [(&b, "a", "b"), (&a, "b", "a")] {
        let got = received_from(finished, from);
        assert_eq!(
            got.len(),
            LINES,
            "side {to} got {} of {from}'s {LINES} lines",
            got.len()
        );
        for (number, text) in got.iter().enumerate() {
            assert_eq!(*text, pasted_line(from, number), "side {to}, line {number}");
        }
    }
    assert_no_fifo_in(dir.path());
}
