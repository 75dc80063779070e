//! In which order Linux serves the processes that sleep in `semop` on one semaphore, checked
//! with `pv`: first come, first served among those whose operation fits; a P that does not fit
//! yet (a large one) is passed by a later, smaller one that does, and by any newcomer that finds
//! enough units. First in first out, then, but no protection against starvation. And a
//! sleeper counts in `semncnt` only on the semaphore it is blocked on (Linux >= 3.16). The
//! semaphore part of the book states these ("Who goes first when several wait", on the
//! concepts page). No set is left behind.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, id_in, wait_until_blocked_in_semop};
use semaphore::SemaphoreSet;
use testkit::{Running, run};

const PV: &str = env!("CARGO_BIN_EXE_pv");

/// Starts `pv op <ops>` and returns once it sleeps in `semop`, queued.
fn sleeper(key: &TestKey, ops: &str) -> Running {
    let mut running = Running::spawn(key.command(PV, &["op", ops]));
    running.expect_line("pv: waiting for semaphore");
    wait_until_blocked_in_semop(running.pid());
    running
}

/// Runs `pv op <ops>`, which must not wait, and returns what it printed.
fn op(key: &TestKey, ops: &str) -> String {
    let finished = run(key.command(PV, &["op", ops]), "");
    assert!(finished.status.success(), "pv op {ops}: {finished:?}");
    finished.stdout
}

fn created(key: &TestKey, values: &str) -> SemaphoreSet {
    let finished = run(key.command(PV, &["create", "--values", values]), "");
    assert!(finished.status.success(), "{finished:?}");
    SemaphoreSet::from_id(id_in(&finished.stdout))
}

#[test]
fn of_two_equal_sleepers_the_first_to_sleep_is_served_first() {
    let key = TestKey::new("sem-queue-fifo");
    let set = created(&key, "0");
    let mut first = sleeper(&key, "0-1");
    let mut second = sleeper(&key, "0-1");
    assert_eq!(set.semctl_getncnt(0).expect("GETNCNT"), 2);

    op(&key, "0+1");
    // Had the kernel served the second, the first would never print this and the test fails.
    first.expect_line("pv: semop 0-1 done");
    assert_eq!(
        set.semctl_getncnt(0).expect("GETNCNT"),
        1,
        "the second waits"
    );
    assert_eq!(set.semctl_getpid(0).expect("GETPID"), first.pid().as_raw());
    assert!(first.wait().status.success());

    op(&key, "0+1");
    second.expect_line("pv: semop 0-1 done");
    assert!(second.wait().status.success());
}

#[test]
fn a_sleeper_is_counted_in_semncnt_only_on_the_semaphore_it_blocks_on() {
    let key = TestKey::new("sem-queue-ncnt");
    let set = created(&key, "1,0");
    // Semaphore 0 has its unit; semaphore 1 is the one this P cannot have.
    let mut both = sleeper(&key, "0-1,1-1");
    let counts = [0, 1].map(|num| set.semctl_getncnt(num).expect("GETNCNT"));
    assert_eq!(
        counts,
        [0, 1],
        "counted on semaphore 1 alone (Linux >= 3.16)"
    );
    op(&key, "1+1");
    both.expect_line("pv: semop 0-1,1-1 done; values now [0, 0]");
    assert!(both.wait().status.success());
}

#[test]
fn a_large_p_that_does_not_fit_is_passed_by_smaller_ones() {
    let key = TestKey::new("sem-queue-pass");
    let set = created(&key, "0");
    let mut large = sleeper(&key, "0-3"); // first in the queue
    let mut small = sleeper(&key, "0-1"); // second

    // One unit: too few for the first, enough for the second, which goes ahead of it.
    op(&key, "0+1");
    small.expect_line("pv: semop 0-1 done; values now [0]");
    assert!(small.wait().status.success());
    assert_eq!(
        set.semctl_getncnt(0).expect("GETNCNT"),
        1,
        "the P of 3 waits"
    );

    // Two units: still too few. A newcomer that needs one takes it at once, without queueing.
    op(&key, "0+2");
    let newcomer = op(&key, "0-1");
    assert!(newcomer.contains("values now [1]"), "{newcomer}");
    assert_eq!(
        set.semctl_getncnt(0).expect("GETNCNT"),
        1,
        "the P of 3 waits"
    );

    // Only when three are there at once does the first sleeper get them.
    op(&key, "0+2");
    large.expect_line("pv: semop 0-3 done; values now [0]");
    assert!(large.wait().status.success());
}
