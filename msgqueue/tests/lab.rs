//! The msgqueue lab's graded tests: `lab_msgqueue` runs N nodes over one queue (a key of the
//! test's own), and each test reads the per-pair table it prints and checks /proc/sysvipc/msg.
//!
//! - every pair gets exactly one direct message;
//! - every broadcast reaches every other node exactly once;
//! - the queue is removed after a run.

#![forbid(unsafe_code)]

use testkit::{Finished, number_after, run};

/// A key of this test's own: its queues go when it is dropped. (The graded tests use no code
/// of the lab's crate, so that nothing a student writes runs inside the grader's process.)
type TestKey = testkit::TestKey<testkit::Queues>;

const LAB: &str = env!("CARGO_BIN_EXE_lab_msgqueue");

/// Runs `lab_msgqueue --nodes n` (and `extra`) on the test's own key.
fn run_lab(key: &TestKey, n: usize, extra: &[&str]) -> Finished {
    let nodes = n.to_string();
    let mut args = vec!["--nodes", nodes.as_str()];
    args.extend_from_slice(extra);
    run(key.command(LAB, &args), "")
}

/// The table's rows, `pair F->T: direct D, broadcast B`, as ((F, T), (D, B)).
fn pairs(finished: &Finished) -> Vec<((usize, usize), (u32, u32))> {
    finished
        .stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("pair "))
        .map(|line| {
            let from = number_after(line, "pair ");
            let to = number_after(line, "->");
            let direct = number_after(line, "direct ");
            let broadcast = number_after(line, "broadcast ");
            ((from, to), (direct, broadcast))
        })
        .collect()
}

/// Asserts a successful run of `n` nodes whose table has every ordered pair of distinct nodes
/// once, `direct` and `broadcast` picking which count must be 1 in each row.
fn assert_every_pair(finished: &Finished, n: usize, column: fn((u32, u32)) -> u32) {
    assert!(finished.status.success(), "{finished:?}");
    let rows = pairs(finished);
    let mut seen: Vec<(usize, usize)> = rows.iter().map(|&(pair, _)| pair).collect();
    seen.sort_unstable();
    let expected: Vec<(usize, usize)> = (0..n)
        .flat_map(|from| {
            (0..n)
                .filter(move |&to| to != from)
                .map(move |to| (from, to))
        })
        .collect();
    assert_eq!(seen, expected, "one row per pair: {finished:?}");
    for (pair, counts) in rows {
        assert_eq!(column(counts), 1, "pair {pair:?}: {finished:?}");
    }
    assert!(
        finished.stdout.contains("0 messages left in the queue"),
        "{finished:?}"
    );
}

fn direct(counts: (u32, u32)) -> u32 {
    counts.0
}

fn broadcast(counts: (u32, u32)) -> u32 {
    counts.1
}

#[test]
fn every_pair_gets_exactly_one_direct_message() {
    let key = TestKey::new("lab-mq-direct");
    let finished = run_lab(&key, 4, &[]);
    assert_every_pair(&finished, 4, direct);
}

#[test]
fn every_broadcast_reaches_every_other_node_exactly_once() {
    let key = TestKey::new("lab-mq-broadcast");
    let finished = run_lab(&key, 7, &[]);
    assert_every_pair(&finished, 7, broadcast);
}

#[test]
fn the_queue_is_removed_after_a_run() {
    let key = TestKey::new("lab-mq-removed");
    let finished = run_lab(&key, 5, &[]);
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished
            .stdout
            .contains("every message arrived exactly once"),
        "{finished:?}"
    );
    assert_eq!(key.ids(), Vec::<i32>::new(), "a queue was left behind");
}

// BEGIN HIDDEN TESTS
#[test]
fn the_queue_is_removed_and_no_node_is_left_when_a_node_fails() {
    let key = TestKey::new("lab-mq-fail");
    let lab = testkit::Running::spawn(key.command(LAB, &["--nodes", "5", "--fail-node", "1"]));
    let group = lab.pid();
    // The other four wait forever for node 1's messages: the coordinator must end them.
    let finished = lab.wait();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("node 1 exited with status 1"),
        "{finished:?}"
    );
    assert!(!finished.stdout.contains("pair "), "{finished:?}");
    assert_eq!(key.ids(), Vec::<i32>::new(), "a queue was left behind");
    testkit::wait_until_group_is_empty(group);
}

#[test]
fn the_smallest_and_largest_runs_deliver_exactly_once() {
    for n in [2, 16] {
        let key = TestKey::new("lab-mq-sizes");
        let finished = run_lab(&key, n, &[]);
        assert_every_pair(&finished, n, direct);
        assert_every_pair(&finished, n, broadcast);
        assert_eq!(key.ids(), Vec::<i32>::new(), "a queue was left behind");
    }
}
// END HIDDEN TESTS
