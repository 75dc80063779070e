//! `duplex`: with two pipes every line makes the round trip; with one, the child reads its own
//! message back.

#![forbid(unsafe_code)]

use std::process::Command;

use testkit::run;

fn duplex(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duplex"));
    command.args(args);
    command
}

fn replies(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("parent: got back "))
        .collect()
}

#[test]
fn every_line_of_stdin_comes_back_in_upper_case() {
    let done = run(duplex(&[]), "first line\nsecond, with ünïcode\n\nlast\n");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        replies(&done.stdout),
        [
            "\"FIRST LINE\"",
            "\"SECOND, WITH ÜNÏCODE\"",
            "\"\"",
            "\"LAST\""
        ]
    );
    assert!(done.stdout.contains("child:  end of file from the parent"));
    assert!(done.stdout.contains("exited with status 0"));
}

#[test]
fn empty_stdin_sends_the_built_in_lines() {
    let done = run(duplex(&[]), "");
    assert!(done.status.success(), "{done:?}");
    assert!(done.stdout.contains("stdin is empty"));
    assert_eq!(replies(&done.stdout).len(), 3);
}

#[test]
fn with_one_pipe_the_child_reads_its_own_message() {
    let done = run(duplex(&["--one-pipe"]), "");
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stdout
            .contains("child:  read \"hello from the child\": my own message!"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("parent: the pipe is empty"),
        "{}",
        done.stdout
    );
}
