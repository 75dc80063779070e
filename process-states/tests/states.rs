//! Tests of the `states` example: the child goes through S, T and Z in that order and is
//! reaped, and Ctrl-C (to the parent alone, or to the whole group as a terminal sends it) at any
//! point leaves no child behind.

use std::process::Command;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use process_states::{Seen, read_stat};
use support::testing::{Finished, Running, run};

fn states(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_states"));
    command.args(args);
    command
}

/// The child's pid, from the first line: `states: parent pid 10, child pid 11`.
fn child_pid(line: &str) -> Pid {
    let pid = line
        .rsplit("child pid ")
        .next()
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {line:?}"));
    Pid::from_raw(pid)
}

/// The example reaps its child before it exits, so by the time the test has its exit status the
/// child's /proc entry must be gone: no zombie, no process still running.
fn assert_gone(child: Pid, finished: &Finished) {
    assert_eq!(
        read_stat(child).expect("read /proc"),
        Seen::Gone,
        "child {child} is still there after states exited.\nstdout:\n{}",
        finished.stdout
    );
}

fn position(lines: &[&str], needle: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", lines.join("\n")))
}

#[test]
fn the_child_goes_through_s_t_z_and_is_reaped() {
    let finished = run(states(&["--pause-ms", "20"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let child = child_pid(lines[0]);
    let order = [
        "/proc: R",
        "/proc: S",
        "/proc: T",
        "was stopped by signal 19 (SIGSTOP)",
        "was continued by SIGCONT",
        "/proc: Z",
        "exited with status 0",
        "/proc: no entry",
    ]
    .map(|needle| position(&lines, needle));
    assert!(
        order.is_sorted(),
        "out of order {order:?}:\n{}",
        finished.stdout
    );
    assert!(finished.stdout.contains("ready"), "ready is explained");
    assert_gone(child, &finished);
}

fn interrupt(at: &str, signal: Signal, whole_group: bool) {
    // Each state lasts 2 s: long enough for the signal to land while the child is in `at`.
    let mut running = Running::spawn(states(&["--pause-ms", "2000"]));
    let child = child_pid(&running.expect_line("child pid"));
    running.expect_line(at);
    if whole_group {
        running.signal_group(signal);
    } else {
        running.signal(signal);
    }
    let finished = running.wait();
    assert_eq!(
        finished.status.code(),
        Some(128 + signal as i32),
        "{finished:?}"
    );
    assert!(
        finished.stdout.contains("nothing left"),
        "{}",
        finished.stdout
    );
    assert_gone(child, &finished);
}

#[test]
fn ctrl_c_to_the_parent_while_the_child_runs() {
    interrupt("/proc: R", Signal::SIGINT, false);
}

#[test]
fn ctrl_c_to_the_group_while_the_child_is_blocked() {
    interrupt("/proc: S", Signal::SIGINT, true);
}

#[test]
fn ctrl_c_to_the_group_while_the_child_is_stopped() {
    // The stopped child cannot act on SIGINT; the parent's SIGKILL still ends it.
    interrupt("/proc: T", Signal::SIGINT, true);
}

#[test]
fn sigterm_to_the_parent_while_the_child_is_stopped() {
    interrupt("/proc: T", Signal::SIGTERM, false);
}

#[test]
fn a_bad_flag_is_one_line_and_status_2() {
    let finished = run(states(&["--pause-ms", "soon"]), "");
    assert_eq!(finished.status.code(), Some(2));
    assert_eq!(finished.stderr.lines().count(), 1, "{}", finished.stderr);
    assert!(finished.stdout.is_empty());
}
