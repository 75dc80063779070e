//! `sem_watch` beside `pv`: one line per change, the end when the set is removed, and a set
//! that does not exist.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, assert_one_line_failure, wait_until_blocked_in_semop};
use testkit::{Running, run};

const PV: &str = env!("CARGO_BIN_EXE_pv");
const WATCH: &str = env!("CARGO_BIN_EXE_sem_watch");

#[test]
fn one_line_per_change_and_a_clear_end_when_the_set_is_removed() {
    let key = TestKey::new("sem-watch");
    run(key.command(PV, &["create", "--values", "0,2"]), "");
    let mut watch = Running::spawn(key.command(WATCH, &["--interval-ms", "10"]));
    watch.expect_line("sem_watch: watching semaphore set id=");
    watch.expect_line("values [0, 2]  waiting to take [0, 0]  waiting for zero [0, 0]");
    let mut waiter = Running::spawn(key.command(PV, &["op", "0-1"]));
    wait_until_blocked_in_semop(waiter.pid());
    watch.expect_line("values [0, 2]  waiting to take [1, 0]");
    assert!(run(key.command(PV, &["op", "0+1"]), "").status.success());
    waiter.expect_line("done");
    watch.expect_line("values [0, 2]  waiting to take [0, 0]");
    assert!(run(key.command(PV, &["op", "1-2"]), "").status.success());
    watch.expect_line("values [0, 0]");
    assert!(run(key.command(PV, &["rm"]), "").status.success());
    watch.expect_line("sem_watch: the set was removed");
    let finished = watch.wait();
    assert!(finished.status.success(), "{finished:?}");
    let changes: Vec<&str> = finished
        .stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("values ["))
        .collect();
    assert!(changes.len() >= 4, "{finished:?}");
    assert!(
        changes.windows(2).all(|w| w[0] != w[1]),
        "a line repeats: {finished:?}"
    );
    assert_eq!(key.ids(), []);
}

#[test]
fn a_set_that_does_not_exist_is_one_line() {
    let key = TestKey::new("sem-watch-missing");
    let finished = run(key.command(WATCH, &[]), "");
    assert_one_line_failure(&finished, 1, &["ENOENT", "no semaphore set has this key"]);
}
