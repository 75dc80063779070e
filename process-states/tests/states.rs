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

/// Where the line is that names the textbook state `textbook` and shows `shown` (`/proc: S`).
fn position(lines: &[&str], textbook: &str, shown: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(textbook) && line.contains(shown))
        .unwrap_or_else(|| {
            panic!(
                "no {textbook:?} line with {shown:?} in:\n{}",
                lines.join("\n")
            )
        })
}

#[test]
fn the_child_goes_through_s_t_z_and_is_reaped() {
    let finished = run(states(&["--pause-ms", "20"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let child = child_pid(lines[0]);
    let order = [
        ("running", "/proc: R"),
        ("blocked", "/proc: S"),
        ("suspended", "/proc: T"),
        ("waitpid(WUNTRACED)", "was stopped by signal 19 (SIGSTOP)"),
        ("activated", "/proc: S"),
        ("waitpid(WCONTINUED)", "was continued by SIGCONT"),
        ("ready/run", "/proc: R"),
        ("terminated", "/proc: Z"),
        ("waitpid()", "exited with status 0"),
        ("reaped", "/proc: no entry"),
    ]
    .map(|(textbook, shown)| position(&lines, textbook, shown));
    assert!(
        order.is_sorted(),
        "out of order {order:?}:\n{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("waited in a run queue"),
        "schedstat's ready time is shown:\n{}",
        finished.stdout
    );
    assert_gone(child, &finished);
}

/// Interrupts `states` once it has printed a line with `at`, and checks that it exits with
/// 128 + signal, having reaped a child that `killed_by` ended.
fn interrupt(at: &str, signal: Signal, whole_group: bool, killed_by: &str) {
    // The parent holds each state for 1 s after printing it: the signal lands in `at`. (A
    // signal that came later would interrupt a later state; the checks below still hold.)
    let mut running = Running::spawn(states(&["--pause-ms", "1000"]));
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
        finished
            .stdout
            .contains(&format!("{killed_by}; reaped, nothing left")),
        "the child should have been ended by {killed_by}:\n{}",
        finished.stdout
    );
    assert_gone(child, &finished);
}

#[test]
fn ctrl_c_to_the_parent_while_the_child_runs() {
    // The child did not get the signal: the parent kills it.
    interrupt("/proc: R", Signal::SIGINT, false, "signal 9 (SIGKILL)");
}

#[test]
fn ctrl_c_to_the_group_while_the_child_is_blocked() {
    // The child does not swallow SIGINT (it does not keep the parent's handler): Ctrl-C to the
    // group kills it by itself, before the parent's SIGKILL.
    interrupt("/proc: S", Signal::SIGINT, true, "signal 2 (SIGINT)");
}

#[test]
fn ctrl_c_to_the_group_while_the_child_is_stopped() {
    // A stopped child does not act on SIGINT (it stays pending); the parent's SIGKILL ends it.
    interrupt("/proc: T", Signal::SIGINT, true, "signal 9 (SIGKILL)");
}

#[test]
fn sigterm_to_the_parent_while_the_child_is_stopped() {
    interrupt("/proc: T", Signal::SIGTERM, false, "signal 9 (SIGKILL)");
}

#[test]
fn a_bad_flag_is_one_line_and_status_2() {
    let finished = run(states(&["--pause-ms", "soon"]), "");
    assert_eq!(finished.status.code(), Some(2));
    assert_eq!(finished.stderr.lines().count(), 1, "{}", finished.stderr);
    assert!(finished.stdout.is_empty());
}
