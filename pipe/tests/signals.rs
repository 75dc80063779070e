//! The signal table of the `pipe` examples: each long-running binary, in each state in which it
//! blocks, × SIGINT, SIGTERM and SIGHUP sent to its main process ALONE. Each case must end
//! within a second with status 128 + n, and leave no process in the example's group: the parent
//! kills and reaps its children itself (nobody else sent them anything).
//!
//! `duplex` waits long only for its stdin (before it forks): its conversation goes in
//! lock-step with a child that answers at once. `parent_child` waits long only in its pause
//! between two numbers.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::unistd::Pid;
use testkit::{Running, SYS_POLL, signal_row, stop_with, wait_until_blocked_in};

fn example(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// The pid that follows `marker` in `line`: `started `cat` as pid 42; ...`.
fn pid_after(line: &str, marker: &str) -> Pid {
    line.split_once(marker)
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .map(Pid::from_raw)
        .unwrap_or_else(|| panic!("no pid after {marker:?} in {line:?}"))
}

#[test]
fn pipeline_parent_blocked_in_waitpid() {
    signal_row(
        "pipeline 'sleep 100' cat, parent blocked in waitpid",
        |signal| {
            let mut running = Running::spawn(example(
                env!("CARGO_BIN_EXE_pipeline"),
                &["sleep 100", "cat"],
            ));
            let writer = pid_after(&running.expect_line("started `sleep 100`"), "as pid ");
            let reader = pid_after(&running.expect_line("started `cat`"), "as pid ");
            wait_until_blocked_in(running.pid(), libc::SYS_wait4);
            // Both stages are waiting too: `sleep` in its sleep, `cat` in read(2) on the pipe.
            wait_until_blocked_in(reader, libc::SYS_read);
            let finished = stop_with(running, signal);
            assert!(
                !finished.stdout.contains("exited with status"),
                "the stages were not waited for as if they had ended:\n{}",
                finished.stdout
            );
            assert!(
                nix::sys::signal::kill(writer, None).is_err(),
                "{writer} is still there"
            );
        },
    );
}

#[test]
fn sigpipe_parent_blocked_in_read() {
    signal_row(
        "sigpipe, parent blocked in read while the writer pauses",
        |signal| {
            let mut running = Running::spawn(example(
                env!("CARGO_BIN_EXE_sigpipe"),
                &["--interval-ms", "60000", "--reads", "100"],
            ));
            running.expect_line("reader: got \"message 1\"");
            wait_until_blocked_in(running.pid(), libc::SYS_read);
            let finished = stop_with(running, signal);
            assert!(
                !finished.stdout.contains("closed the read end"),
                "{}",
                finished.stdout
            );
        },
    );
}

#[test]
fn parent_child_parent_pausing_between_two_numbers() {
    signal_row(
        "parent_child, parent pausing between two writes (poll)",
        |signal| {
            let mut running = Running::spawn(example(
                env!("CARGO_BIN_EXE_parent_child"),
                &["--count", "3", "--interval-ms", "60000"],
            ));
            running.expect_line("child:  received 1");
            wait_until_blocked_in(running.pid(), SYS_POLL);
            let finished = stop_with(running, signal);
            assert!(
                !finished.stdout.contains("sending 2"),
                "{}",
                finished.stdout
            );
        },
    );
}

#[test]
fn duplex_parent_blocked_in_read_of_stdin() {
    signal_row("duplex, parent blocked in read of stdin", |signal| {
        // stdin is a pipe from the test that stays open and empty.
        let mut running = Running::spawn(example(env!("CARGO_BIN_EXE_duplex"), &[]));
        running.expect_line("reading the lines to send from stdin");
        wait_until_blocked_in(running.pid(), libc::SYS_read);
        let finished = stop_with(running, signal);
        assert!(
            !finished.stdout.contains("parent: sending"),
            "{}",
            finished.stdout
        );
    });
}
