//! The hostile cases a classroom produces, for the semaphore examples: another user's set at the
//! key, a set of the wrong shape or one whose creator died before setting its values, and a
//! peer killed at each step. Each asserts that nothing reports success for what it did not do,
//! that the survivor ends (or goes on) at once, and that a set it did not make is left as it was.
//!
//! No third process of a role: `order`, `mutex` and `undo` use IPC_PRIVATE sets, which no
//! process finds by key, and `pv` is a tool that any number of processes use on one set on
//! purpose. xfr's pair, which has roles, is tested in `shm/tests/adversarial.rs`.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{RemoveOnDrop, TestKey, assert_one_line_failure, id_in, set_exists};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use semaphore::{SemaphoreSet, semget};
use testkit::{Nobody, Running, run};

const PV: &str = env!("CARGO_BIN_EXE_pv");
const SEM_WATCH: &str = env!("CARGO_BIN_EXE_sem_watch");
const ORDER: &str = env!("CARGO_BIN_EXE_order");

/// A set made with the raw calls, as another program would: `values` set with SETALL and a
/// semop that changes nothing (sem_otime then says "initialised"), unless `None` (then sem_otime
/// stays 0, as when the creator died between semget and semctl).
fn raw_set(key: &TestKey, nsems: u16, mode: i32, values: Option<&[u16]>) -> SemaphoreSet {
    let set = semget(key.key(), nsems, libc::IPC_CREAT | libc::IPC_EXCL | mode)
        .expect("make the set")
        .leave_in_kernel();
    if let Some(values) = values {
        set.semctl_setall(values).expect("SETALL");
        set.v(0, 1).expect("a V");
        set.p(0, 1)
            .expect("and a P: values as they were, sem_otime set");
    }
    set
}

fn values_of(set: &SemaphoreSet) -> Vec<u16> {
    set.semctl_getall().expect("GETALL")
}

#[test]
fn another_users_unreadable_set_is_refused_with_the_way_on_and_left_alone() {
    let Some(nobody) = Nobody::new("sem-perm-unreadable") else {
        return;
    };
    let key = TestKey::new("sem-perm-unreadable");
    let set = raw_set(&key, 1, 0o600, Some(&[1]));
    let k = key.key().to_string();
    let cases: [(&str, &[&str]); 5] = [
        (PV, &["--key", &k, "show"]),
        (PV, &["--key", &k, "op", "0-1"]),
        (PV, &["--key", &k, "op", "--init", "1", "0-1"]),
        (PV, &["--key", &k, "rm"]),
        (SEM_WATCH, &["--key", &k]),
    ];
    for (binary, args) in cases {
        let refused = run(nobody.command(binary, args), "");
        assert_one_line_failure(
            &refused,
            1,
            &[
                "you may not read semaphore set id=",
                "who owns it cannot be checked",
                "pass --accept-foreign to use it anyway",
            ],
        );
    }
    assert!(set_exists(set.id()), "a refusal removes nothing");
    assert_eq!(values_of(&set), [1], "nothing was taken");
}

#[test]
fn a_set_of_the_wrong_shape_is_refused_by_pv_op_init_and_left_alone() {
    let key = TestKey::new("sem-wrong-shape");
    let set = raw_set(&key, 3, 0o600, Some(&[1, 1, 1]));
    let refused = run(key.command(PV, &["op", "--init", "1,1", "0-1"]), "");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("has 3 semaphores, not the 2 of --init"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("it was left alone"), "{refused:?}");
    assert!(set_exists(set.id()), "a refusal removes nothing");
    assert_eq!(values_of(&set), [1, 1, 1], "nothing was taken");
}

#[test]
fn a_set_whose_creator_died_before_setting_its_values_is_refused_not_used() {
    let key = TestKey::new("sem-no-values");
    let set = raw_set(&key, 1, 0o600, None);
    // Each waits INIT_WAIT (2 s) for values that never come: all four wait at once.
    let cases = [
        (PV, &["op", "0+1"][..]),
        (PV, &["show"]),
        (PV, &["op", "--init", "1", "0-1"]),
        (SEM_WATCH, &[]),
    ];
    std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .map(|(binary, args)| scope.spawn(|| run(key.command(binary, args), "")))
            .into_iter()
            .collect();
        for refused in runs {
            let refused = refused.join().expect("a run");
            assert_one_line_failure(&refused, 1, &["its creator has not set its values"]);
        }
    });
    assert!(set_exists(set.id()), "a refusal removes nothing");
    let stat = set.semctl_stat().expect("IPC_STAT");
    assert_eq!(stat.otime, 0, "no semop was done on it");
    assert_eq!(values_of(&set), [0]);
}

/// `pv op 0-1u --hold` takes the only unit and holds it; a second `pv op 0-1` waits for it.
fn holder_and_waiter(key: &TestKey) -> (SemaphoreSet, Running, Running) {
    let created = run(key.command(PV, &["create", "--values", "1"]), "");
    assert!(created.status.success(), "{created:?}");
    let set = SemaphoreSet::from_id(id_in(&created.stdout));
    let mut holder = Running::spawn(key.command(PV, &["op", "0-1u", "--hold"]));
    holder.expect_line("pv: holding");
    let mut waiter = Running::spawn(key.command(PV, &["op", "0-1"]));
    waiter.expect_line("pv: waiting for");
    common::wait_until_blocked_in_semop(waiter.pid());
    (set, holder, waiter)
}

#[test]
fn a_holder_killed_while_it_holds_hands_its_unit_to_the_waiter() {
    let key = TestKey::new("sem-kill-holder");
    let (set, holder, mut waiter) = holder_and_waiter(&key);
    let _cleanup = RemoveOnDrop(set.id());
    kill(holder.pid(), Signal::SIGKILL).expect("kill the holder");
    drop(holder.wait());
    waiter.expect_line("pv: semop 0-1 done; values now [0]");
    let done = waiter.wait();
    assert!(done.status.success(), "{done:?}");
    assert!(set_exists(set.id()), "pv op never removes the set");
}

#[test]
fn a_waiter_killed_while_it_waits_takes_nothing_and_the_holder_goes_on() {
    let key = TestKey::new("sem-kill-waiter");
    let (set, holder, waiter) = holder_and_waiter(&key);
    let _cleanup = RemoveOnDrop(set.id());
    kill(waiter.pid(), Signal::SIGKILL).expect("kill the waiter");
    drop(waiter.wait());
    let states = set.states().expect("the set's states");
    assert_eq!(states[0].ncnt, 0, "the dead waiter waits no more");
    assert_eq!(values_of(&set), [0], "the holder still holds its unit");
    let stopped = testkit::stop_with(holder, Signal::SIGTERM);
    assert_eq!(stopped.status.code(), Some(128 + 15), "{stopped:?}");
    assert_eq!(values_of(&set), [1], "SEM_UNDO gave the unit back");
}

#[test]
fn order_names_a_writer_killed_while_it_writes_or_waits_and_leaves_nothing() {
    // Round 1: A writes for a minute while B and C wait in P. Each writer, killed at its step.
    for victim in ["A", "B", "C"] {
        let mut order = Running::spawn({
            let mut command = Command::new(ORDER);
            command.args(["--start", "A,B,C", "--rounds", "2", "--hold-ms", "60000"]);
            command
        });
        let id = id_in(&order.expect_line("order: created semaphore set"));
        let _cleanup = RemoveOnDrop(id);
        // The children start in any order, and A may write before the others have started.
        let mut pids = std::collections::HashMap::new();
        while pids.len() < 3 {
            let line = order.expect_line(": started as pid");
            pids.insert(
                line[..1].to_owned(),
                Pid::from_raw(testkit::number_after(&line, "pid ")),
            );
        }
        let writes = order
            .stdout_seen()
            .iter()
            .any(|line| line == "round 1: A writes");
        if !writes {
            order.expect_line("round 1: A writes");
        }
        for letter in ["B", "C"] {
            common::wait_until_blocked_in_semop(pids[letter]);
        }
        kill(pids[victim], Signal::SIGKILL).expect("kill the writer");
        let finished = order.wait();
        assert_eq!(finished.status.code(), Some(1), "{victim}: {finished:?}");
        assert!(
            finished
                .stderr
                .contains(&format!("writer {victim} was killed by signal 9 (SIGKILL)")),
            "{finished:?}"
        );
        assert!(!finished.stdout.contains("all three done"), "{finished:?}");
        assert!(!set_exists(id), "the creator removed set id={id}");
        for pid in pids.values() {
            assert!(
                kill(*pid, None).is_err(),
                "{victim}: writer pid {pid} is left"
            );
        }
    }
}
