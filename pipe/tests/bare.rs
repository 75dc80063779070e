//! `bare_pipe`: the smallest pipe example runs with no arguments, the child reads the parent's
//! line and then end of file, the parent reaps the child, and no process is left.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::signal::kill;
use nix::unistd::Pid;
use testkit::{Running, number_after, wait_until_group_is_empty};

#[test]
fn the_child_reads_the_line_then_end_of_file_and_is_reaped() {
    let running = Running::spawn(Command::new(env!("CARGO_BIN_EXE_bare_pipe")));
    let group = running.pid();
    // `wait` also fails the test if a process it started still holds its stdout open.
    let done = running.wait();
    assert!(done.status.success(), "{done:?}");
    assert!(done.stderr.is_empty(), "{}", done.stderr);
    let lines = done.stdout_lines();
    assert_eq!(lines.len(), 3, "{}", done.stdout);
    assert_eq!(
        lines[0],
        "parent: writing one line into the pipe, then closing my write end"
    );
    assert_eq!(
        lines[1],
        r#"child:  read "hello through the pipe\n", then end of file"#
    );
    assert!(
        lines[2].starts_with("parent: child ") && lines[2].ends_with(" exited with status 0"),
        "{}",
        lines[2]
    );
    let child = Pid::from_raw(number_after(lines[2], "child "));
    // The parent reaped its child with waitpid: no process, not even a zombie, is left.
    wait_until_group_is_empty(group);
    assert!(kill(child, None).is_err(), "child {child} is still there");
}

#[test]
fn help_runs_nothing() {
    testkit::assert_help_only(env!("CARGO_BIN_EXE_bare_pipe"));
}
