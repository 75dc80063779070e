//! `parent_child`: every number reaches the child in order, the child sees end-of-file, and the
//! parent reports its exit status.

#![forbid(unsafe_code)]

use std::process::Command;

use testkit::{assert_refused_out_of_range, run, run_with_stdout_gone};

fn parent_child(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parent_child"));
    command.args(args);
    command
}

#[test]
fn every_number_arrives_in_order_and_the_child_exits_on_end_of_file() {
    let done = run(parent_child(&["--count", "20", "--interval-ms", "0"]), "");
    assert!(done.status.success(), "{done:?}");
    let received: Vec<u32> = done
        .stdout_lines()
        .iter()
        .filter_map(|line| line.strip_prefix("child:  received "))
        .map(|number| number.parse().expect("a number"))
        .collect();
    assert_eq!(received, (1..=20).collect::<Vec<_>>());
    let lines = done.stdout_lines();
    let end_of_file = lines
        .iter()
        .position(|l| l.contains("end of file"))
        .expect("child saw EOF");
    let reaped = lines
        .iter()
        .position(|l| l.contains("exited with status 0"))
        .expect("reaped");
    assert!(
        end_of_file < reaped,
        "the child exits after EOF, then the parent reaps it"
    );
}

#[test]
fn runs_with_no_arguments() {
    let done = run(parent_child(&[]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout.matches("child:  received").count(), 5);
}

#[test]
fn an_unknown_flag_is_one_line_on_stderr() {
    let done = run(parent_child(&["--frobnicate"]), "");
    assert_eq!(done.status.code(), Some(2));
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(done.stderr.contains("--frobnicate"), "{}", done.stderr);
    assert!(done.stdout.is_empty());
}

#[test]
fn a_count_that_is_not_a_number_is_one_line_on_stderr() {
    let done = run(parent_child(&["--count", "many"]), "");
    assert_eq!(done.status.code(), Some(2));
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("'many'") && done.stderr.contains("--count"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("panicked"));
}

#[test]
fn help_describes_the_flags_and_their_bounds() {
    let done = run(parent_child(&["--help"]), "");
    assert!(done.status.success());
    assert!(done.stdout.contains("--count") && done.stdout.contains("--interval-ms"));
    assert!(
        done.stdout.contains("at most 10000") && done.stdout.contains("at most 60000"),
        "{}",
        done.stdout
    );
}

#[test]
fn numbers_past_their_bound_are_refused_in_one_line() {
    // u64::MAX milliseconds would be a pause that never ends.
    for (flag, value) in [
        ("--interval-ms", "18446744073709551615"),
        ("--interval-ms", "60001"),
        ("--count", "10001"),
    ] {
        assert_refused_out_of_range(parent_child(&[flag, value]), flag);
    }
}

#[test]
fn a_closed_stdout_stops_it_with_one_line_not_a_panic() {
    let done = run_with_stdout_gone(parent_child(&["--interval-ms", "0"]));
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    assert_eq!(
        done.stderr.trim_end(),
        "parent_child: stopping: nobody reads stdout any more (EPIPE: Broken pipe)"
    );
}
