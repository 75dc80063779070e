//! Tests of the `states` example: the child goes through S, T and Z in that order and is
//! reaped, and Ctrl-C (to the parent alone, or to the whole group as a terminal sends it) at any
//! point leaves no child behind.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use process_states::{Seen, read_stat};
use testkit::{
    Finished, Running, assert_refused_out_of_range, run, wait_until_blocked_in, wait_until_state,
};

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

/// Who gets the signal.
#[derive(Clone, Copy)]
enum Send {
    /// The parent alone (`kill <pid>`).
    Parent,
    /// The whole process group, as a terminal sends Ctrl-C.
    Group,
    /// The child first; once it is seen dead (a zombie), the parent.
    ChildThenParent,
}

/// Interrupts `states` while it holds its child in the state `hold` (`/proc` letter
/// `letter`), and checks that it exits with 128 + signal, having reaped a child that one of
/// `killed_by` ended.
fn interrupt(hold: &str, letter: char, signal: Signal, send: Send, killed_by: &[&str]) {
    // `--hold` keeps that state until a line comes on stdin, which the test leaves open and
    // empty: the state lasts until the signal, however late the test sends it. The other
    // states pass quickly.
    let mut running = Running::spawn(states(&["--hold", hold, "--pause-ms", "10"]));
    let child = child_pid(&running.expect_line("child pid"));
    running.expect_line("holding the child here");
    wait_until_state(child, letter);
    wait_until_blocked_in(running.pid(), libc::SYS_read);
    match send {
        Send::Parent => running.signal(signal),
        Send::Group => running.signal_group(signal),
        Send::ChildThenParent => {
            kill(child, signal).expect("kill the child");
            wait_until_state(child, 'Z');
            running.signal(signal);
        }
    }
    let finished = running.wait();
    assert_eq!(
        finished.status.code(),
        Some(128 + signal as i32),
        "{finished:?}"
    );
    assert!(
        killed_by.iter().any(|killer| finished
            .stdout
            .contains(&format!("{killer}; reaped, nothing left"))),
        "the child should have been ended by one of {killed_by:?}:\n{}",
        finished.stdout
    );
    assert_gone(child, &finished);
}

const SIGKILL: &str = "killed by signal 9 (SIGKILL)";
const SIGINT: &str = "killed by signal 2 (SIGINT)";

#[test]
fn ctrl_c_to_the_parent_while_the_child_runs() {
    // The child did not get the signal: the parent kills it.
    interrupt("running", 'R', Signal::SIGINT, Send::Parent, &[SIGKILL]);
}

#[test]
fn ctrl_c_to_the_blocked_child_kills_it_and_the_parent_reaps_it() {
    // The child does not swallow SIGINT: it did not install a stop handling of its own, so the
    // parent's handler, which it inherited, acts by default there. The parent, stopped in turn,
    // reaps what the SIGINT left.
    interrupt(
        "blocked",
        'S',
        Signal::SIGINT,
        Send::ChildThenParent,
        &[SIGINT],
    );
}

#[test]
fn ctrl_c_to_the_group_while_the_child_is_blocked() {
    // Both get SIGINT. The child dies of it as soon as it runs its (inherited) handler, unless
    // the parent's SIGKILL comes first: which one wins is a race, and either way nothing is
    // left.
    interrupt(
        "blocked",
        'S',
        Signal::SIGINT,
        Send::Group,
        &[SIGINT, SIGKILL],
    );
}

#[test]
fn ctrl_c_to_the_group_while_the_child_is_stopped() {
    // A stopped child does not act on SIGINT (it stays pending); the parent's SIGKILL ends it.
    interrupt("suspended", 'T', Signal::SIGINT, Send::Group, &[SIGKILL]);
}

#[test]
fn sigterm_to_the_parent_while_the_child_is_stopped() {
    interrupt("suspended", 'T', Signal::SIGTERM, Send::Parent, &[SIGKILL]);
}

#[test]
fn a_bad_flag_is_one_line_and_status_2() {
    let finished = run(states(&["--pause-ms", "soon"]), "");
    assert_eq!(finished.status.code(), Some(2));
    assert_eq!(finished.stderr.lines().count(), 1, "{}", finished.stderr);
    assert!(finished.stdout.is_empty());
}

#[test]
fn numbers_past_their_bound_are_refused_in_one_line() {
    for (flag, value) in [
        ("--pause-ms", "18446744073709551615"),
        ("--pause-ms", "60001"),
        ("--deadline-ms", "60001"),
        ("--deadline-ms", "0"),
    ] {
        assert_refused_out_of_range(states(&[flag, value]), flag);
    }
}

#[test]
fn help_says_the_bounds() {
    let finished = run(states(&["--help"]), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stdout.contains("at most 60000"),
        "{}",
        finished.stdout
    );
}

#[test]
fn hold_keeps_the_state_until_a_line_comes_on_stdin() {
    let mut running = Running::spawn(states(&["--hold", "terminated", "--pause-ms", "10"]));
    let child = child_pid(&running.expect_line("child pid"));
    running.expect_line("/proc: Z");
    running.expect_line("holding the child here: press Enter to go on");
    wait_until_state(child, 'Z');
    wait_until_blocked_in(running.pid(), libc::SYS_read);
    // SIGCHLD and the zombie do not end the hold; the line does.
    running.write_line("").expect("write to stdin");
    let finished = running.wait();
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let held = position(&lines, "holding the child here", "");
    let reaped = position(&lines, "waitpid()", "exited with status 0");
    assert!(held < reaped, "{}", finished.stdout);
    assert_gone(child, &finished);
}

#[test]
fn a_hold_ends_at_the_end_of_stdin() {
    let finished = run(states(&["--hold", "blocked", "--pause-ms", "10"]), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stdout.contains("holding the child here"));
    assert!(finished.stdout.contains("/proc: no entry"));
}
