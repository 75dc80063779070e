//! The one stop mechanism in a forked child: the parent registers its handlers and forks, the
//! child registers its own, and a signal to the child runs the child's handler (not the
//! parent's, and not the default action). Also: a child that did not register dies by default,
//! a signal to the parent alone leaves no child behind, and neither does SIGKILL.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{Running, signal_row, stop_with, wait_until_blocked_in, wait_until_group_is_empty};

fn forked_stop(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_forked_stop"));
    command.args(args);
    command
}

/// Starts the example and waits until its child sleeps in read(2); returns the child's pid.
fn started(args: &[&str]) -> (Running, Pid) {
    let mut running = Running::spawn(forked_stop(args));
    let line = running.expect_line("waiting in read(2)");
    let pid: i32 = line
        .strip_prefix("child ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {line:?}"));
    let child = Pid::from_raw(pid);
    wait_until_blocked_in(child, libc::SYS_read);
    wait_until_blocked_in(running.pid(), libc::SYS_wait4);
    (running, child)
}

#[test]
fn the_childs_own_handler_runs_in_the_child() {
    signal_row("child with its own handler, blocked in read", |signal| {
        let (mut running, child) = started(&[]);
        kill(child, signal).expect("kill the child");
        running.expect_line(&format!("my handler ran: got {signal}"));
        let status = 128 + signal as i32;
        running.expect_line(&format!("exited with status {status}"));
        let finished = running.wait();
        assert!(finished.status.success(), "{finished:?}");
    });
}

#[test]
fn a_child_without_its_own_handler_dies_by_default() {
    signal_row("child without a handler, blocked in read", |signal| {
        let (mut running, child) = started(&["--child-without-handler"]);
        kill(child, signal).expect("kill the child");
        running.expect_line(&format!("was killed by signal {}", signal as i32));
        assert!(running.wait().status.success());
    });
}

#[test]
fn a_signal_to_the_parent_alone_leaves_no_child() {
    signal_row("parent blocked in waitpid", |signal| {
        let (running, _) = started(&[]);
        stop_with(running, signal);
    });
}

#[test]
fn a_parent_killed_outright_takes_its_child_along() {
    let (running, child) = started(&[]);
    let group = running.pid();
    running.signal(Signal::SIGKILL);
    let finished = running.wait();
    assert_eq!(
        finished
            .stdout
            .matches("my handler ran: got SIGTERM")
            .count(),
        1
    );
    wait_until_group_is_empty(group);
    assert!(
        kill(child, None).is_err(),
        "child {child} outlived its parent"
    );
}

#[test]
fn a_signal_just_before_a_blocking_call_is_caught_by_the_nudge() {
    // The handler runs before read(2) starts, so nothing would interrupt the read: without the
    // SIGALRM nudge the child would sleep until the watchdog.
    let mut running = Running::spawn(forked_stop(&["--signal-before-read"]));
    running.expect_line("the nudge ended read(2)");
    running.expect_line("exited with status 143");
    assert!(running.wait().status.success());
}

#[test]
fn forked_stop_on_a_closed_terminal_stops_as_on_sighup_with_its_child() {
    testkit::assert_each_stops_on_a_closed_terminal(
        "forked-stop-closed-terminal",
        &[(env!("CARGO_BIN_EXE_forked_stop"), &[])],
    );
}
