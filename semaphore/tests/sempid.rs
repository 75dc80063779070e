//! Which pid `semctl(GETPID)` reports (the semaphore's `sempid`), checked with `pv` on Linux:
//! after a V wakes a sleeper it is the sleeper's pid, not the waker's, because the sleeper's P
//! is completed inside the V's call and the kernel records the pid of the task whose operation
//! that was; `SETALL` (Linux >= 4.6) and `SETVAL` set it too; and so does the undo at exit. The
//! book states these on the semaphore pages (concepts, pv, sem_watch). No set is left behind.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, id_in, wait_until_blocked_in_semop};
use nix::sys::signal::Signal;
use semaphore::SemaphoreSet;
use testkit::Running;

const PV: &str = env!("CARGO_BIN_EXE_pv");

/// Runs `pv` with `args` to its end; returns its pid and what it printed. Fails if it failed.
fn pv(key: &TestKey, args: &[&str]) -> (i32, String) {
    let running = Running::spawn(key.command(PV, args));
    let pid = running.pid().as_raw();
    let finished = running.wait();
    assert!(finished.status.success(), "pv {args:?}: {finished:?}");
    (pid, finished.stdout)
}

#[test]
fn after_a_v_wakes_a_sleeper_sempid_is_the_sleepers_pid_not_the_wakers() {
    let key = TestKey::new("sem-pid-wake");
    let (_, created) = pv(&key, &["create", "--values", "0"]);
    let set = SemaphoreSet::from_id(id_in(&created));

    let mut sleeper = Running::spawn(key.command(PV, &["op", "0-1"]));
    sleeper.expect_line("pv: waiting for semaphore 0 to reach 1");
    wait_until_blocked_in_semop(sleeper.pid());
    let sleeper_pid = sleeper.pid().as_raw();

    let (waker_pid, woke) = pv(&key, &["op", "0+1"]);
    // The waker's own look after its V: the unit already went to the sleeper.
    assert!(woke.contains("values now [0]"), "{woke}");
    let last = set.semctl_getpid(0).expect("GETPID");
    assert_eq!(
        last, sleeper_pid,
        "sempid names the sleeper (pid {sleeper_pid}), whose P completed in the V of pid \
         {waker_pid}"
    );
    assert_ne!(last, waker_pid);

    sleeper.expect_line("pv: semop 0-1 done; values now [0]");
    assert!(sleeper.wait().status.success());
}

#[test]
fn setall_and_setval_set_sempid() {
    let key = TestKey::new("sem-pid-set");
    // pv create: semget, SETALL, then one semop on semaphore 0 only.
    let (creator_pid, created) = pv(&key, &["create", "--values", "0,2"]);
    let set = SemaphoreSet::from_id(id_in(&created));
    assert_eq!(
        set.semctl_getpid(1).expect("GETPID"),
        creator_pid,
        "no semop touched semaphore 1: its sempid comes from SETALL (Linux >= 4.6)"
    );
    assert_eq!(set.semctl_getpid(0).expect("GETPID"), creator_pid);

    set.semctl_setval(1, 5).expect("SETVAL");
    assert_eq!(
        set.semctl_getpid(1).expect("GETPID"),
        std::process::id() as i32,
        "SETVAL, made by this test, sets sempid to this test's pid"
    );
}

#[test]
fn the_undo_at_exit_sets_sempid_to_the_process_that_exited() {
    let key = TestKey::new("sem-pid-undo");
    let (_, created) = pv(&key, &["create", "--values", "2"]);
    let set = SemaphoreSet::from_id(id_in(&created));

    let mut holder = Running::spawn(key.command(PV, &["op", "--hold", "0-1u"]));
    holder.expect_line("pv: holding");
    let holder_pid = holder.pid().as_raw();
    let (other_pid, _) = pv(&key, &["op", "0-1"]);
    assert_eq!(set.semctl_getpid(0).expect("GETPID"), other_pid);

    holder.signal(Signal::SIGKILL);
    let killed = holder.wait();
    assert!(!killed.status.success(), "{killed:?}");
    assert_eq!(
        set.semctl_getval(0).expect("GETVAL"),
        1,
        "the unit came back"
    );
    assert_eq!(
        set.semctl_getpid(0).expect("GETPID"),
        holder_pid,
        "the kernel's undo, at the holder's exit, counts as the holder's operation"
    );
}
