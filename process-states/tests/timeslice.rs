//! Tests of the `timeslice` example: children pinned to one CPU are preempted (involuntary
//! context switches) and stay on that CPU; every child is killed and reaped, Ctrl-C included.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use process_states::{Seen, allowed_cpus, first_allowed_cpu, read_stat};
use testkit::{Running, number_after, run};

fn timeslice(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timeslice"));
    command.args(args);
    command
}

/// The number right before `after` in `line`.
fn number_before(line: &str, after: &str) -> u64 {
    let (head, _) = line.split_once(after).expect("marker present");
    let digits: String = head
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .expect("a number")
}

#[test]
fn children_pinned_to_one_cpu_are_preempted_and_stay_there() {
    let cpu = first_allowed_cpu().expect("an allowed CPU");
    let finished = run(
        timeslice(&[
            "--children",
            "2",
            "--duration-ms",
            "400",
            "--interval-ms",
            "200",
        ]),
        "",
    );
    assert!(finished.status.success(), "{finished:?}");
    let pinned: Vec<&str> = finished
        .stdout_lines()
        .into_iter()
        .filter(|line| line.contains("(pinned):"))
        .collect();
    assert!(pinned.len() >= 2, "{}", finished.stdout);
    for line in &pinned {
        assert!(number_before(line, " involuntary") > 0, "{line}");
        assert_eq!(
            number_after::<u64>(line, "last on CPU "),
            cpu as u64,
            "{line}"
        );
    }
    let free = finished.stdout.matches("(free):").count();
    assert!(free >= 2, "{}", finished.stdout);
    let reaped = finished
        .stdout
        .matches("was killed by signal 9 (SIGKILL)")
        .count();
    assert_eq!(reaped, 4, "two children per phase, each killed and reaped");
}

#[test]
fn ctrl_c_kills_and_reaps_every_child() {
    // The phase lasts long enough that the signal lands in it, however late the test sends it.
    let mut running = Running::spawn(timeslice(&[
        "--children",
        "2",
        "--duration-ms",
        "60000",
        "--interval-ms",
        "200",
    ]));
    let first = running.expect_line("(pinned):");
    let second = running.expect_line("(pinned):");
    running.signal(Signal::SIGINT);
    let finished = running.wait();
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    for line in [first, second] {
        let child = Pid::from_raw(number_after(&line, "child "));
        assert_eq!(read_stat(child).unwrap(), Seen::Gone, "{line}");
    }
}

/// The totals line of a phase: `timeslice: free: together the children ran A ms in B ms: ...`.
fn total_of(finished: &testkit::Finished, label: &str) -> (u64, u64, f64) {
    let marker = format!("timeslice: {label}: together the children ran ");
    let line = finished
        .stdout_lines()
        .into_iter()
        .find(|line| line.starts_with(&marker))
        .unwrap_or_else(|| panic!("no {label} total in:\n{}", finished.stdout));
    let worth: f64 = line
        .rsplit_once(": ")
        .and_then(|(_, tail)| tail.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no CPUs' worth in {line:?}"));
    (
        number_after(line, "ran "),
        number_after(line, " ms in "),
        worth,
    )
}

#[test]
fn the_children_never_get_more_cpus_worth_than_there_are_cpus() {
    // With many children, the first ones used to compute while the parent was still forking
    // the others: their CPU time from before the phase began was counted in it (500 children
    // on 2 CPUs: "5.6 CPUs' worth"). CPU time is counted exactly (the children wait, not
    // computing, until the phase starts), and rounding down to milliseconds costs less than
    // one millisecond per CPU.
    let cpus = allowed_cpus().expect("allowed CPUs").len() as u64;
    let finished = run(
        timeslice(&[
            "--children",
            "64",
            "--duration-ms",
            "300",
            "--interval-ms",
            "300",
        ]),
        "",
    );
    assert!(finished.status.success(), "{finished:?}");
    for (label, usable) in [("pinned", 1), ("free", cpus)] {
        let (ran, wall, worth) = total_of(&finished, label);
        assert!(
            ran <= usable * (wall + 1),
            "{label}: {ran} ms of CPU in {wall} ms on {usable} CPU(s):\n{}",
            finished.stdout
        );
        assert!(
            worth <= usable as f64,
            "{label}: {worth} CPUs' worth on {usable}:\n{}",
            finished.stdout
        );
    }
}

#[test]
fn numbers_past_their_bound_are_refused_in_one_line() {
    for (flag, value, why) in [
        ("--children", "100000", "is not in 1..=64"),
        ("--children", "0", "is not in 1..=64"),
        ("--duration-ms", "60001", "is not in"),
        ("--interval-ms", "18446744073709551615", "is not in"),
        ("--cpu", "100000", "not a CPU this program may use"),
    ] {
        let finished = run(timeslice(&[flag, value]), "");
        assert_eq!(
            finished.status.code(),
            Some(2),
            "{flag} {value}: {finished:?}"
        );
        assert_eq!(
            finished.stderr.lines().count(),
            1,
            "{flag} {value}: {}",
            finished.stderr
        );
        assert!(
            finished.stderr.contains(flag) && finished.stderr.contains(why),
            "{}",
            finished.stderr
        );
        assert!(finished.stdout.is_empty(), "{}", finished.stdout);
    }
}

#[test]
fn help_says_the_bounds() {
    let finished = run(timeslice(&["--help"]), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stdout.contains("at most 64") && finished.stdout.contains("at most 60000"),
        "{}",
        finished.stdout
    );
}
