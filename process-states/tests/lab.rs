//! Graded tests of the process-states lab: `lab_process_states` runs the student's `state_of` on
//! real processes that the test puts in a known state, and drives a puppet child with the
//! student's `drive_to` while the test reads `/proc` on its own.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use testkit::{Finished, Running, TempDir, number_after, run, wait_until_state};

fn lab(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab_process_states"));
    command.args(args);
    command
}

/// What `lab_process_states state PID` says, checked against `expected`, the letter the test
/// put the process in (and which /proc, read by the test, shows).
fn assert_state_of(pid: Pid, expected: char) {
    wait_until_state(pid, expected);
    let done = run(lab(&["state", &pid.to_string()]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout.trim_end(),
        format!("lab_process_states: pid {pid} is in state {expected}"),
        "{done:?}"
    );
}

/// A process that sleeps for a minute (or until the test drops it).
fn sleeper(program: &str) -> Running {
    let mut command = Command::new(program);
    command.arg("60");
    Running::spawn(command)
}

#[test]
fn state_of_a_sleeping_process() {
    let sleeping = sleeper("sleep");
    assert_state_of(sleeping.pid(), 'S');
}

#[test]
fn state_of_a_stopped_process() {
    let stopped = sleeper("sleep");
    wait_until_state(stopped.pid(), 'S');
    stopped.signal(Signal::SIGSTOP);
    assert_state_of(stopped.pid(), 'T');
    // Dropping it sends SIGKILL, which even a stopped process cannot ignore.
}

#[test]
fn state_of_a_running_process() {
    // A shell loop of builtins: no system call, so never asleep.
    let mut command = Command::new("sh");
    command.args(["-c", "while :; do :; done"]);
    let spinning = Running::spawn(command);
    let pid = spinning.pid();
    wait_until_state(pid, 'R');
    // A process that never makes a system call can still sleep a moment in D, while the kernel
    // brings back a page it reclaimed: ask again until the answer is R, and accept only R or D.
    let deadline = std::time::Instant::now() + testkit::DEADLINE;
    loop {
        let done = run(lab(&["state", &pid.to_string()]), "");
        assert!(done.status.success(), "{done:?}");
        let said = done.stdout.trim_end();
        let says =
            |letter: char| said == format!("lab_process_states: pid {pid} is in state {letter}");
        if says('R') {
            break;
        }
        assert!(
            says('D'),
            "a running process is R (or, for a moment, D): {done:?}"
        );
        assert!(std::time::Instant::now() < deadline, "never R: {done:?}");
    }
}

#[test]
fn state_of_a_zombie() {
    // `true` exits at once; the test harness reaps it only when `done` is dropped.
    let done = Running::spawn(Command::new("true"));
    assert_state_of(done.pid(), 'Z');
}

#[test]
fn state_of_a_process_whose_name_has_spaces_and_parentheses() {
    // A process's name is the file name it was started as: a link to `sleep` named like this
    // one gives a /proc/<pid>/stat line `<pid> (x) R 1 (y) S ...`, whose state is S.
    let dir = TempDir::new("lab-state-name");
    let sleep = Command::new("sh")
        .args(["-c", "command -v sleep"])
        .output()
        .expect("find sleep");
    let sleep = String::from_utf8(sleep.stdout).expect("a path");
    let name = "x) R 1 (y";
    let link = dir.path().join(name);
    std::os::unix::fs::symlink(sleep.trim(), &link).expect("symlink to sleep");
    let sleeping = sleeper(link.to_str().expect("a UTF-8 path"));
    wait_until_state(sleeping.pid(), 'S');
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", sleeping.pid())).expect("comm");
    assert_eq!(comm.trim_end(), name);
    assert_state_of(sleeping.pid(), 'S');
}

#[test]
fn state_of_a_process_that_does_not_exist_is_an_error() {
    // Pids are at most 2^22 on Linux.
    let done = run(lab(&["state", "2147483647"]), "");
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.starts_with("lab_process_states: ")
            && done.stderr.contains("2147483647")
            && !done.stderr.contains("panicked"),
        "one line naming the pid: {done:?}"
    );
}

/// The state letter and the parent of `pid`, from `/proc/<pid>/stat`; `None` once it is gone
/// (reaped). Read here, not through the lab's crate, so that nothing a student writes runs
/// inside the grader's process.
fn state_and_parent(pid: Pid) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields go on after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Drives a puppet through `states` with `lab_process_states drive`, and after each step
/// checks, from /proc read here, that the puppet is in that state and is still the runner's
/// child. Then checks that the runner reaped it.
fn drive_and_check(states: &[char]) -> Finished {
    let args: Vec<String> = states.iter().map(char::to_string).collect();
    let mut command = lab(&["drive"]);
    command.args(&args);
    let mut running = Running::spawn(command);
    let line = running.expect_line("puppet pid");
    let puppet = Pid::from_raw(number_after(&line, "puppet pid "));
    for &state in states {
        running.expect_line(&format!("puppet {puppet} driven to {state}"));
        let Some(seen) = state_and_parent(puppet) else {
            panic!("puppet {puppet} is gone after being driven to {state}");
        };
        assert_eq!(
            seen,
            (state, running.pid().as_raw()),
            "puppet {puppet} after drive_to({state:?}): (state, parent)"
        );
        running.write_line("").expect("go on");
    }
    running.expect_line("reaped");
    let done = running.wait();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        state_and_parent(puppet),
        None,
        "puppet {puppet} was not reaped"
    );
    done
}

#[test]
fn drive_to_sleeping_running_and_back() {
    drive_and_check(&['S', 'R', 'S', 'R']);
}

#[test]
fn drive_to_stopped_and_on() {
    drive_and_check(&['T', 'S', 'R', 'T', 'R', 'T', 'S']);
}

#[test]
fn drive_to_zombie() {
    drive_and_check(&['R', 'T', 'Z']);
    drive_and_check(&['S', 'Z']);
}

// BEGIN HIDDEN TESTS
#[test]
fn driving_to_the_state_it_is_in_returns_at_once() {
    // A second SIGSTOP brings no second stop for waitpid to report.
    drive_and_check(&['T', 'T', 'R', 'R', 'S', 'S', 'Z', 'Z']);
}

#[test]
fn a_zombie_or_an_unknown_state_is_refused() {
    for states in [["Z", "S"], ["S", "D"]] {
        let mut args = vec!["drive"];
        args.extend(states);
        let done = run(lab(&args), "\n\n");
        assert_eq!(done.status.code(), Some(1), "{states:?}: {done:?}");
        assert!(
            done.stderr.starts_with("lab_process_states: ") && !done.stderr.contains("panicked"),
            "{states:?}: {done:?}"
        );
    }
}
// END HIDDEN TESTS
