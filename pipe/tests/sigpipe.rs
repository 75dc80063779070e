//! `sigpipe`: a writer whose reader has gone is killed by SIGPIPE; with `--ignore`, `--catch`
//! or `--block` it gets EPIPE instead (after its handler ran, or with the signal left pending);
//! the parent says which.

#![forbid(unsafe_code)]

use std::process::Command;

use testkit::{assert_refused_out_of_range, run};

fn sigpipe(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigpipe"));
    command.args(args);
    command
}

#[test]
fn by_default_the_writer_is_killed_by_signal_13() {
    let done = run(sigpipe(&["--interval-ms", "1"]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout.matches("reader: got").count(), 3);
    assert!(
        done.stdout.contains("was killed by signal 13 (SIGPIPE)"),
        "{}",
        done.stdout
    );
    assert!(!done.stdout.contains("EPIPE"), "{}", done.stdout);
}

#[test]
fn with_ignore_the_write_fails_with_epipe_and_the_writer_exits_cleanly() {
    let done = run(
        sigpipe(&["--ignore", "--reads", "2", "--interval-ms", "1"]),
        "",
    );
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout.matches("reader: got").count(), 2);
    assert!(
        done.stdout.contains("writer: write failed with EPIPE"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("exited with status 0: it ignored SIGPIPE"),
        "{}",
        done.stdout
    );
    assert!(!done.stdout.contains("killed by signal"), "{}", done.stdout);
}

#[test]
fn with_catch_the_handler_runs_then_the_write_fails_with_epipe() {
    let done = run(sigpipe(&["--catch", "--interval-ms", "1"]), "");
    assert!(done.status.success(), "{done:?}");
    let lines = done.stdout_lines();
    let epipe = lines
        .iter()
        .position(|l| *l == "writer: write failed with EPIPE (Broken pipe): nobody reads any more")
        .unwrap_or_else(|| panic!("no EPIPE in {lines:?}"));
    assert_eq!(
        lines[epipe + 1],
        "writer: my handler had already run: it counted 1 SIGPIPE"
    );
    assert_eq!(
        lines[epipe + 2],
        "reader: the writer exited with status 0: it caught SIGPIPE and stopped on EPIPE"
    );
    assert!(!done.stdout.contains("killed by signal"), "{}", done.stdout);
}

#[test]
fn with_block_the_signal_stays_pending_and_the_write_fails_with_epipe() {
    let done = run(
        sigpipe(&["--block", "--reads", "1", "--interval-ms", "1"]),
        "",
    );
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout.matches("reader: got").count(), 1);
    let lines = done.stdout_lines();
    assert_eq!(
        lines[0],
        "writer: SIGPIPE keeps its default action, but is blocked (sigprocmask)"
    );
    let epipe = lines
        .iter()
        .position(|l| l.starts_with("writer: write failed with EPIPE"))
        .unwrap_or_else(|| panic!("no EPIPE in {lines:?}"));
    assert!(
        lines[epipe + 1].starts_with("writer: SIGPIPE is pending"),
        "{lines:?}"
    );
    assert_eq!(
        lines[epipe + 2],
        "reader: the writer exited with status 0: it blocked SIGPIPE and stopped on EPIPE"
    );
}

#[test]
fn catch_and_block_work_without_pause_too() {
    for flag in ["--catch", "--block"] {
        let done = run(sigpipe(&[flag, "--interval-ms", "0"]), "");
        assert!(done.status.success(), "{flag}: {done:?}");
        assert!(
            done.stdout.contains("exited with status 0") && done.stdout.contains("on EPIPE"),
            "{flag}: {}",
            done.stdout
        );
    }
}

#[test]
fn the_four_actions_exclude_each_other() {
    for pair in [
        ["--ignore", "--catch"],
        ["--ignore", "--block"],
        ["--catch", "--block"],
    ] {
        let done = run(sigpipe(&pair), "");
        assert_eq!(done.status.code(), Some(2), "{pair:?}: {done:?}");
        assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
        assert!(
            done.stderr.contains("cannot be used with"),
            "{}",
            done.stderr
        );
        assert!(done.stdout.is_empty(), "{}", done.stdout);
    }
}

#[test]
fn a_writer_without_pause_is_killed_all_the_same() {
    // No pause: however far ahead the writer is when the reader hangs up, its next write is the
    // fatal one.
    let done = run(sigpipe(&["--interval-ms", "0"]), "");
    assert!(
        done.stdout.contains("was killed by signal 13 (SIGPIPE)"),
        "{}",
        done.stdout
    );
}

#[test]
fn reads_must_be_a_number() {
    let done = run(sigpipe(&["--reads", "three"]), "");
    assert_eq!(done.status.code(), Some(2));
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("'three'") && done.stderr.contains("--reads"),
        "{}",
        done.stderr
    );
}

#[test]
fn numbers_past_their_bound_are_refused_in_one_line() {
    for (flag, value) in [
        ("--interval-ms", "18446744073709551615"),
        ("--interval-ms", "60001"),
        ("--reads", "10001"),
    ] {
        assert_refused_out_of_range(sigpipe(&[flag, value]), flag);
    }
}

#[test]
fn help_says_the_bounds() {
    let done = run(sigpipe(&["--help"]), "");
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stdout.contains("at most 10000") && done.stdout.contains("at most 60000"),
        "{}",
        done.stdout
    );
}
