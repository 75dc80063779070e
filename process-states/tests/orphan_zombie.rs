//! Tests of the `orphan_zombie` example: the zombie shows `Z` and is reaped, the orphan gets a
//! new parent (the example itself with `--subreaper`, else the nearest subreaper: this test
//! process), and neither outlives the example, even after Ctrl-C.

#![forbid(unsafe_code)]

use std::process::Command;

use nix::sys::prctl::set_child_subreaper;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use process_states::{Seen, read_stat};
use testkit::{
    Finished, Running, assert_refused_out_of_range, number_after, run, wait_until_blocked_in,
};

fn orphan_zombie(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orphan_zombie"));
    command.args(args);
    command
}

fn line_with<'a>(finished: &'a Finished, needle: &str) -> &'a str {
    finished
        .stdout_lines()
        .into_iter()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", finished.stdout))
}

/// Makes this test process a "child subreaper", so that an orphan of `orphan_zombie` without
/// `--subreaper` is re-parented here rather than to pid 1 (which may reap late, or never, in a
/// container). The test can then check the new parent and reap the orphan itself.
fn become_subreaper() {
    set_child_subreaper(true).expect("prctl(PR_SET_CHILD_SUBREAPER)");
}

/// Reaps an orphan that was re-parented to this test process: it must have exited with 0 (it
/// read end-of-file on its lifeline). Called once the example's stdout has closed, which the
/// orphan holds until it exits, so this does not block.
fn reap_orphan(orphan: i32) {
    let orphan = Pid::from_raw(orphan);
    assert_eq!(
        waitpid(orphan, None).expect("the orphan is our child now"),
        WaitStatus::Exited(orphan, 0)
    );
}

#[test]
fn the_zombie_is_reaped_and_the_orphan_gets_a_new_parent() {
    become_subreaper();
    let finished = run(orphan_zombie(&["--pause-ms", "10"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let zombie = number_after(line_with(&finished, "forked child"), "forked child ");
    line_with(&finished, &format!("/proc/{zombie}/stat: state Z (zombie)"));
    line_with(&finished, "the child exited with status 7");
    assert_eq!(read_stat(Pid::from_raw(zombie)).unwrap(), Seen::Gone);

    let first_parent: i32 = number_after(line_with(&finished, "here, my parent is"), "parent is ");
    let adopted = line_with(&finished, "its ppid is now");
    let orphan = number_after(adopted, "/proc/");
    let new_parent: i32 = number_after(adopted, "its ppid is now ");
    assert_ne!(new_parent, first_parent, "{adopted}");
    assert_eq!(
        new_parent,
        std::process::id() as i32,
        "the nearest subreaper: {adopted}"
    );
    line_with(&finished, "ECHILD");
    line_with(&finished, "lifeline closed");
    line_with(
        &finished,
        &format!("{orphan} has ended: state Z until its new parent"),
    );
    reap_orphan(orphan);
}

#[test]
fn a_subreaper_adopts_the_orphan_and_reaps_it() {
    let running = Running::spawn(orphan_zombie(&["--subreaper", "--pause-ms", "10"]));
    let me = running.pid().as_raw();
    let finished = running.wait();
    assert!(finished.status.success(), "{finished:?}");
    let adopted = line_with(&finished, "its ppid is now");
    assert_eq!(
        number_after::<i32>(adopted, "its ppid is now "),
        me,
        "{adopted}"
    );
    line_with(&finished, "my adopted child exited with status 0");
    let orphan = number_after(adopted, "/proc/");
    assert_eq!(read_stat(Pid::from_raw(orphan)).unwrap(), Seen::Gone);
}

#[test]
fn ctrl_c_while_the_zombie_waits_reaps_it() {
    let mut running = Running::spawn(orphan_zombie(&["--hold", "zombie"]));
    let zombie = number_after(&running.expect_line("forked child"), "forked child ");
    running.expect_line("state Z");
    // The parent now leaves the zombie there until a line comes on stdin (the test sends
    // none), asleep in read.
    running.expect_line("holding here");
    wait_until_blocked_in(running.pid(), libc::SYS_read);
    running.signal_group(Signal::SIGINT);
    let finished = running.wait();
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(!finished.stdout.contains("waitpid("), "{}", finished.stdout);
    assert_eq!(read_stat(Pid::from_raw(zombie)).unwrap(), Seen::Gone);
}

/// Ctrl-C to `orphan_zombie` alone while the orphan sleeps on its lifeline. Returns the
/// orphan's pid, once the example has exited with 130 and the orphan's stdout has closed.
fn ctrl_c_while_the_orphan_lives(args: &[&str]) -> i32 {
    // After the line, the parent leaves the orphan alive until a line comes on stdin (the test
    // sends none), asleep in read(2) of stdin; the orphan sleeps in read(2) on its lifeline.
    // The signal comes once both are seen to sleep, and however late, the state is still
    // there.
    let mut args = args.to_vec();
    args.extend(["--hold", "orphan", "--pause-ms", "10"]);
    let mut running = Running::spawn(orphan_zombie(&args));
    let orphan = number_after(&running.expect_line("its ppid is now"), "/proc/");
    running.expect_line("holding here");
    wait_until_blocked_in(Pid::from_raw(orphan), libc::SYS_read);
    wait_until_blocked_in(running.pid(), libc::SYS_read);
    running.signal(Signal::SIGINT);
    let finished = running.wait();
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(
        !finished.stdout.contains("closing the lifeline"),
        "{}",
        finished.stdout
    );
    orphan
}

#[test]
fn ctrl_c_kills_and_reaps_the_adopted_orphan() {
    let orphan = ctrl_c_while_the_orphan_lives(&["--subreaper"]);
    assert_eq!(read_stat(Pid::from_raw(orphan)).unwrap(), Seen::Gone);
}

#[test]
fn ctrl_c_ends_an_orphan_that_was_not_adopted() {
    become_subreaper();
    let orphan = ctrl_c_while_the_orphan_lives(&[]);
    reap_orphan(orphan);
}

#[test]
fn numbers_past_their_bound_are_refused_in_one_line() {
    for (flag, value) in [
        ("--pause-ms", "18446744073709551615"),
        ("--pause-ms", "60001"),
        ("--deadline-ms", "60001"),
        ("--deadline-ms", "0"),
    ] {
        assert_refused_out_of_range(orphan_zombie(&[flag, value]), flag);
    }
}

#[test]
fn help_says_the_bounds() {
    let finished = run(orphan_zombie(&["--help"]), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stdout.contains("at most 60000"),
        "{}",
        finished.stdout
    );
}
