//! `mutex`, `order` and `undo`: the arithmetic of mutual exclusion, the order A, B, C whatever
//! the start order, the fate of a lock whose holder is killed, each bad input in one line, and
//! Ctrl-C while children are blocked in P (the creator removes the set). Each run's set is
//! IPC_PRIVATE; the tests read its id from the first line and check it is gone.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{
    RemoveOnDrop, assert_one_line_failure, id_in, set_exists, wait_until_blocked_in_semop,
};
use nix::sys::signal::Signal;
use testkit::{Running, run, wait_until_blocked_in};

const MUTEX: &str = env!("CARGO_BIN_EXE_mutex");
const ORDER: &str = env!("CARGO_BIN_EXE_order");
const UNDO: &str = env!("CARGO_BIN_EXE_undo");

fn command(binary: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.args(args);
    command
}

/// Runs to the end, checks success, and that the set of the first line is gone.
fn run_clean(binary: &str, args: &[&str]) -> testkit::Finished {
    let finished = run(command(binary, args), "");
    let id = id_in(finished.stdout_lines().first().copied().unwrap_or_default());
    let _cleanup = RemoveOnDrop(id);
    assert!(finished.status.success(), "{finished:?}");
    assert!(!set_exists(id), "set id={id} is left: {finished:?}");
    finished
}

#[test]
fn mutex_with_the_lock_is_exact_over_several_runs() {
    for _ in 0..3 {
        let finished = run_clean(MUTEX, &["-n", "4", "-m", "5000"]);
        assert!(
            finished.stdout.contains("expected 20000, counted 20000"),
            "{finished:?}"
        );
        assert!(
            finished.stdout.contains("exact: no update was lost"),
            "{finished:?}"
        );
    }
}

#[test]
fn mutex_without_the_lock_reports_its_arithmetic() {
    let finished = run_clean(MUTEX, &["--no-lock", "-n", "4", "-m", "50000"]);
    let line = finished
        .stdout_lines()
        .into_iter()
        .find(|line| line.contains("expected 200000, counted"))
        .expect("the count line")
        .to_owned();
    let counted: u64 = testkit::number_after(&line, "counted ");
    assert!(counted <= 200_000, "{line}");
    if counted == 200_000 {
        assert!(finished.stdout.contains("exact this time, by luck"));
        assert!(!finished.stdout.contains("no update was lost"));
    } else {
        let lost = format!("mutex: {} updates lost (", 200_000 - counted);
        assert!(finished.stdout.contains(&lost), "{lost:?} in {finished:?}");
    }
}

#[test]
fn mutex_without_the_lock_never_claims_an_exact_count_was_safe() {
    // One process cannot lose an update: the count is exact, and the line must say it was luck.
    let finished = run_clean(MUTEX, &["--no-lock", "-n", "1", "-m", "10"]);
    assert!(
        finished.stdout.contains("exact this time, by luck"),
        "{finished:?}"
    );
    assert!(
        !finished.stdout.contains("no update was lost"),
        "{finished:?}"
    );
}

#[test]
fn mutex_refuses_a_zero_or_negative_count_in_one_line() {
    for args in [
        &["-n", "0"][..],
        &["-m", "0"],
        &["--times=-5"],
        &["--processes", "65"],
    ] {
        let finished = run(command(MUTEX, args), "");
        assert_one_line_failure(&finished, 2, &["invalid value", "(see --help)"]);
    }
    // `--times -5`: clap reads -5 as a flag; support's error line adds a tip beneath it.
    let negative = run(command(MUTEX, &["--times", "-5"]), "");
    assert_eq!(negative.status.code(), Some(2), "{negative:?}");
    assert!(
        negative
            .stderr
            .starts_with("mutex: unexpected argument '-5' found (see --help)\n")
    );
    assert!(
        negative.stderr.contains("tip: -5 is a negative number"),
        "{negative:?}"
    );
}

#[test]
fn order_is_always_a_b_c_whatever_the_start() {
    for start in ["A,B,C", "A,C,B", "B,A,C", "B,C,A", "C,A,B", "C,B,A"] {
        let finished = run_clean(
            ORDER,
            &["--start", start, "--rounds", "3", "--hold-ms", "0"],
        );
        let writes: Vec<&str> = finished
            .stdout_lines()
            .into_iter()
            .filter(|line| line.starts_with("round "))
            .collect();
        let expected: Vec<String> = (1..=3)
            .flat_map(|round| ['A', 'B', 'C'].map(|n| format!("round {round}: {n} writes")))
            .collect();
        assert_eq!(writes, expected, "--start {start}: {finished:?}");
        let first = start.chars().next().unwrap();
        let started = format!("{first}: started as pid");
        let first_line = finished
            .stdout_lines()
            .into_iter()
            .find(|l| l.contains(": started as pid"));
        assert!(
            first_line.is_some_and(|l| l.starts_with(&started)),
            "--start {start}: {finished:?}"
        );
        if start != "A,B,C" {
            assert!(
                finished.stdout.contains("waiting for"),
                "someone waited: {finished:?}"
            );
        }
    }
}

#[test]
fn order_refuses_a_duplicate_letter_in_one_line() {
    for start in ["A,A,B", "A,B", "A,B,D"] {
        let finished = run(command(ORDER, &["--start", start]), "");
        assert_one_line_failure(&finished, 2, &["--start", "(see --help)"]);
    }
    let twice = run(command(ORDER, &["--start", "C,B,C"]), "");
    assert_one_line_failure(&twice, 2, &["C appears twice"]);
}

#[test]
fn undo_without_it_times_out_and_with_it_the_next_proceeds() {
    let finished = run_clean(UNDO, &["--timeout-ms", "200"]);
    let out = &finished.stdout;
    let without = out.find("WITHOUT SEM_UNDO").expect("part 1");
    let with = out.find("WITH SEM_UNDO").expect("part 2");
    let (first, second) = (&out[without..with], &out[with..]);
    assert!(first.contains("was killed by signal 9 (SIGKILL)"), "{out}");
    assert!(first.contains("the lock's value is now 0"), "{out}");
    assert!(first.contains("timed out: nobody will ever V"), "{out}");
    assert!(second.contains("was killed by signal 9 (SIGKILL)"), "{out}");
    assert!(second.contains("the lock's value is now 1"), "{out}");
    assert!(second.contains("got the lock at once"), "{out}");
}

#[test]
fn ctrl_c_while_children_are_blocked_in_p_ends_within_a_second_and_removes_the_set() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut order = Running::spawn(command(ORDER, &["--start", "C,B,A", "--hold-ms", "60000"]));
        let id = id_in(&order.expect_line("order: created semaphore set"));
        let _cleanup = RemoveOnDrop(id);
        let c: nix::unistd::Pid = nix::unistd::Pid::from_raw(testkit::number_after(
            &order.expect_line("C: started"),
            "pid ",
        ));
        order.expect_line("round 1: A writes");
        wait_until_blocked_in_semop(c);
        wait_until_blocked_in(order.pid(), libc::SYS_waitid);
        // As a terminal does for Ctrl-C: the whole group.
        let started = std::time::Instant::now();
        order.signal_group(signal);
        let finished = order.wait_within(testkit::STOP_DEADLINE);
        assert!(started.elapsed() < testkit::STOP_DEADLINE);
        assert_eq!(
            finished.status.code(),
            Some(128 + signal as i32),
            "{finished:?}"
        );
        assert!(!set_exists(id), "the creator removed set id={id}");
    }
}

#[test]
fn the_set_removed_under_children_blocked_in_p_is_reported() {
    let mut order = Running::spawn(command(ORDER, &["--hold-ms", "60000"]));
    let id = id_in(&order.expect_line("order: created semaphore set"));
    let c = nix::unistd::Pid::from_raw(testkit::number_after(
        &order.expect_line("C: started"),
        "pid ",
    ));
    order.expect_line("round 1: A writes");
    wait_until_blocked_in_semop(c);
    drop(RemoveOnDrop(id));
    // B and C wake with EIDRM and say so; A, holding its turn, finds the set gone at its V.
    let finished = order.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("the set was removed"),
        "{finished:?}"
    );
    assert!(!finished.stderr.contains("panicked"), "{finished:?}");
}

#[test]
fn a_writer_killed_mid_round_ends_the_run_at_once_instead_of_a_hang() {
    let mut order = Running::spawn(command(
        ORDER,
        &["--start", "A,B,C", "--rounds", "3", "--hold-ms", "300"],
    ));
    let id = id_in(&order.expect_line("order: created semaphore set"));
    let b = nix::unistd::Pid::from_raw(testkit::number_after(
        &order.expect_line("B: started"),
        "pid ",
    ));
    order.expect_line("round 1: B writes");
    nix::sys::signal::kill(b, Signal::SIGKILL).expect("kill B");
    // Without B's V, C (and then A) would wait forever: the parent notices B's death at once.
    let finished = order.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .contains("writer B was killed by signal 9 (SIGKILL)"),
        "{finished:?}"
    );
    assert!(!finished.stdout.contains("all three done"), "{finished:?}");
    assert!(!set_exists(id), "the creator removed set id={id}");
}
