//! The signal table of the `process-states` examples: each binary, in each state in which the
//! parent waits long, × SIGINT, SIGTERM and SIGHUP sent to its main process ALONE. Each case
//! must end within a second with status 128 + n and leave no process in the example's group:
//! the parent kills and reaps its children itself (nobody else sent them anything).
//!
//! The parent's long waits are its pauses: `--interval-ms` in `timeslice`, poll(2) on the stop
//! mechanism's self-pipe, which SIGCHLD or a stop signal ends; and the state that `--hold`
//! keeps in `states` and `orphan_zombie`, a read(2) of stdin, which the test leaves open and
//! empty, so that the state lasts until the signal, however late the test sends it.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::unistd::Pid;
use process_states::{Seen, read_stat};
use testkit::{
    Running, SYS_POLL, number_after, signal_row, stop_with, wait_until_blocked_in, wait_until_state,
};

fn example(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// One `states` case: hold the child in the state `hold`, wait for the parent to say so, for
/// the child to show `letter` and for the parent to sleep in its hold; then signal the parent
/// alone.
fn states_case(signal: nix::sys::signal::Signal, hold: &str, letter: char) {
    let mut running = Running::spawn(example(
        env!("CARGO_BIN_EXE_states"),
        &["--hold", hold, "--pause-ms", "10"],
    ));
    let child = Pid::from_raw(number_after(
        &running.expect_line("child pid"),
        "child pid ",
    ));
    running.expect_line("holding the child here");
    wait_until_state(child, letter);
    wait_until_blocked_in(running.pid(), libc::SYS_read);
    let finished = stop_with(running, signal);
    assert!(
        finished.stdout.contains("; reaped, nothing left"),
        "{}",
        finished.stdout
    );
    assert_eq!(read_stat(child).expect("read /proc"), Seen::Gone);
}

#[test]
fn states_parent_holding_while_the_child_runs() {
    signal_row(
        "states, parent holding while the child runs (R)",
        |signal| {
            states_case(signal, "running", 'R');
        },
    );
}

#[test]
fn states_parent_holding_while_the_child_sleeps_in_read() {
    signal_row(
        "states, parent holding while the child sleeps in read (S)",
        |signal| {
            states_case(signal, "blocked", 'S');
        },
    );
}

#[test]
fn states_parent_holding_while_the_child_is_stopped() {
    signal_row(
        "states, parent holding while the child is stopped (T)",
        |signal| {
            states_case(signal, "suspended", 'T');
        },
    );
}

#[test]
fn states_parent_holding_while_the_child_is_a_zombie() {
    signal_row(
        "states, parent holding while the child is a zombie (Z)",
        |signal| {
            states_case(signal, "terminated", 'Z');
        },
    );
}

#[test]
fn timeslice_parent_waiting_while_the_children_spin() {
    signal_row(
        "timeslice, parent in poll while the pinned children spin",
        |signal| {
            let mut running = Running::spawn(example(
                env!("CARGO_BIN_EXE_timeslice"),
                &[
                    "--children",
                    "2",
                    "--duration-ms",
                    "60000",
                    "--interval-ms",
                    "200",
                ],
            ));
            let first = number_after(&running.expect_line("(pinned):"), "child ");
            wait_until_state(Pid::from_raw(first), 'R');
            wait_until_blocked_in(running.pid(), SYS_POLL);
            let finished = stop_with(running, signal);
            assert!(
                finished
                    .stdout
                    .contains("every child was killed and reaped"),
                "{}",
                finished.stdout
            );
        },
    );
}

#[test]
fn orphan_zombie_parent_holding_while_its_child_is_a_zombie() {
    signal_row(
        "orphan_zombie, parent holding while its child is a zombie",
        |signal| {
            let mut running = Running::spawn(example(
                env!("CARGO_BIN_EXE_orphan_zombie"),
                &["--hold", "zombie"],
            ));
            let zombie = number_after(&running.expect_line("forked child"), "forked child ");
            running.expect_line("state Z");
            running.expect_line("holding here");
            wait_until_blocked_in(running.pid(), libc::SYS_read);
            let finished = stop_with(running, signal);
            assert!(!finished.stdout.contains("waitpid("), "{}", finished.stdout);
            assert_eq!(
                read_stat(Pid::from_raw(zombie)).expect("read /proc"),
                Seen::Gone
            );
        },
    );
}

#[test]
fn orphan_zombie_parent_holding_while_the_adopted_orphan_sleeps() {
    signal_row(
        "orphan_zombie --subreaper, parent holding while the adopted orphan sleeps in read",
        |signal| {
            let mut running = Running::spawn(example(
                env!("CARGO_BIN_EXE_orphan_zombie"),
                &["--subreaper", "--hold", "orphan", "--pause-ms", "10"],
            ));
            let orphan = number_after(&running.expect_line("its ppid is now"), "/proc/");
            running.expect_line("holding here");
            wait_until_blocked_in(Pid::from_raw(orphan), libc::SYS_read);
            wait_until_blocked_in(running.pid(), libc::SYS_read);
            let finished = stop_with(running, signal);
            assert!(
                !finished.stdout.contains("closing the lifeline"),
                "{}",
                finished.stdout
            );
            assert_eq!(
                read_stat(Pid::from_raw(orphan)).expect("read /proc"),
                Seen::Gone
            );
        },
    );
}
