//! Tests of the bare example, `bare_fork`: the child reports its parent, exits with status 7,
//! the parent reports that exit, and no process is left afterwards.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::unistd::Pid;
use process_states::{Seen, read_stat};
use testkit::{number_after, run};

#[test]
fn the_child_exits_with_7_and_the_parent_reaps_it() {
    // `run` also fails the test if anything still holds the example's stdout open after it
    // exits: a child left running would.
    let finished = run(Command::new(env!("CARGO_BIN_EXE_bare_fork")), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stderr.is_empty(), "{finished:?}");
    let lines = finished.stdout_lines();
    assert_eq!(lines.len(), 3, "{}", finished.stdout);
    let line = |start: &str| {
        *lines
            .iter()
            .find(|line| line.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in\n{}", finished.stdout))
    };
    let parent: i32 = number_after(line("parent: I am"), "parent: I am ");
    let child: i32 = number_after(line("parent: I am"), "I forked child ");
    assert_eq!(
        line("child:"),
        format!("child: I am {child}, my parent is {parent}")
    );
    assert_eq!(
        line("parent: child"),
        format!("parent: child {child} exited normally, with status 7")
    );
    // Reaped, not a zombie: the child has no /proc entry any more.
    assert_eq!(read_stat(Pid::from_raw(child)).unwrap(), Seen::Gone);
}

#[test]
fn help_runs_nothing() {
    testkit::assert_help_only(env!("CARGO_BIN_EXE_bare_fork"));
}
