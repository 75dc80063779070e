//! Tests of the `timeslice` example: children pinned to one CPU are preempted (involuntary
//! context switches) and stay on that CPU; every child is killed and reaped, Ctrl-C included.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use process_states::{Seen, first_allowed_cpu, read_stat};
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
    let mut running = Running::spawn(timeslice(&[
        "--children",
        "2",
        "--duration-ms",
        "5000",
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
