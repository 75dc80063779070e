//! The signal table: every long-running binary of the crate × SIGINT, SIGTERM and SIGHUP × the
//! state in which it blocks. Each case brings the example to the state, checks in /proc that it
//! really sleeps in the system call the row names, sends the signal to the example's main pid
//! only, and then checks: exit within a second with 128 + n, no process left in its group, and
//! no set left behind by the example (`pv op` did not create its set: it must leave it). Every
//! case has a set of its own, so the three signals of a row run in parallel.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{RemoveOnDrop, TestKey, id_in, set_exists, wait_until_blocked_in_semop};
use nix::unistd::Pid;
use testkit::{Running, SYS_POLL, run, signal_row, stop_with, wait_until_blocked_in};

const PV: &str = env!("CARGO_BIN_EXE_pv");
const WATCH: &str = env!("CARGO_BIN_EXE_sem_watch");
const MUTEX: &str = env!("CARGO_BIN_EXE_mutex");
const ORDER: &str = env!("CARGO_BIN_EXE_order");
const UNDO: &str = env!("CARGO_BIN_EXE_undo");
const CTRL_Z: &str = env!("CARGO_BIN_EXE_ctrl_z");

#[test]
fn pv_op_blocked_in_semop() {
    signal_row("pv op blocked in semop", |signal| {
        let key = TestKey::new("sem-sig-pv");
        assert!(
            run(key.command(PV, &["create", "--values", "0"]), "")
                .status
                .success()
        );
        let mut pv = Running::spawn(key.command(PV, &["op", "0-1"]));
        pv.expect_line("pv: waiting for semaphore 0 to reach 1");
        wait_until_blocked_in_semop(pv.pid());
        let finished = stop_with(pv, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("pv: got {signal}; stopping")),
            "{finished:?}"
        );
        assert_eq!(key.ids().len(), 1, "pv op leaves the set it did not create");
    });
}

#[test]
fn pv_op_holding_a_sem_undo_unit() {
    signal_row("pv op --hold after 0-1u, in poll", |signal| {
        let key = TestKey::new("sem-sig-hold");
        assert!(
            run(key.command(PV, &["create", "--values", "1"]), "")
                .status
                .success()
        );
        let mut pv = Running::spawn(key.command(PV, &["op", "--hold", "0-1u"]));
        pv.expect_line("pv: holding");
        wait_until_blocked_in(pv.pid(), SYS_POLL);
        stop_with(pv, signal);
        let shown = run(key.command(PV, &["show"]), "");
        let row: Vec<&str> = shown.stdout_lines()[2].split_whitespace().collect();
        assert_eq!(row[1], "1", "the kernel undid the P at exit: {shown:?}");
    });
}

#[test]
fn sem_watch_between_two_looks() {
    signal_row("sem_watch in poll between two looks", |signal| {
        let key = TestKey::new("sem-sig-watch");
        assert!(
            run(key.command(PV, &["create", "--values", "1"]), "")
                .status
                .success()
        );
        let mut watch = Running::spawn(key.command(WATCH, &["--interval-ms", "10000"]));
        watch.expect_line("values [1]");
        wait_until_blocked_in(watch.pid(), SYS_POLL);
        let finished = stop_with(watch, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("sem_watch: got {signal}")),
            "{finished:?}"
        );
        assert_eq!(key.ids().len(), 1, "sem_watch never removes the set");
    });
}

/// Starts `binary args`, reads the id of the set it created from its first line.
fn start(binary: &str, args: &[&str]) -> (Running, i32) {
    let mut command = Command::new(binary);
    command.args(args);
    let mut running = Running::spawn(command);
    let id = id_in(&running.expect_line("created semaphore set id="));
    (running, id)
}

#[test]
fn mutex_waiting_for_its_children() {
    signal_row(
        "mutex parent in waitpid, children adding under the lock",
        |signal| {
            let (mut mutex, id) = start(MUTEX, &["-n", "2", "-m", "10000000"]);
            let _cleanup = RemoveOnDrop(id);
            mutex.expect_line("starting them all at once");
            wait_until_blocked_in(mutex.pid(), libc::SYS_wait4);
            stop_with(mutex, signal);
            assert!(!set_exists(id), "the creator removed set id={id}");
        },
    );
}

#[test]
fn order_waiting_while_b_and_c_are_blocked_in_p() {
    signal_row("order parent in waitid, B and C in semop", |signal| {
        let (mut order, id) = start(ORDER, &["--hold-ms", "60000"]);
        let _cleanup = RemoveOnDrop(id);
        let c = Pid::from_raw(testkit::number_after(
            &order.expect_line("C: started"),
            "pid ",
        ));
        let b = Pid::from_raw(testkit::number_after(
            &order.expect_line("B: started"),
            "pid ",
        ));
        order.expect_line("round 1: A writes");
        wait_until_blocked_in_semop(c);
        wait_until_blocked_in_semop(b);
        wait_until_blocked_in(order.pid(), libc::SYS_waitid);
        stop_with(order, signal);
        assert!(!set_exists(id), "the creator removed set id={id}");
    });
}

#[test]
fn undo_waiting_in_semtimedop() {
    signal_row("undo's next process in semtimedop", |signal| {
        let (mut undo, id) = start(UNDO, &["--timeout-ms", "600000"]);
        let _cleanup = RemoveOnDrop(id);
        undo.expect_line("waiting at most");
        wait_until_blocked_in(undo.pid(), libc::SYS_semtimedop);
        let finished = stop_with(undo, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("undo: got {signal}; stopping")),
            "{finished:?}"
        );
        assert!(!set_exists(id), "the creator removed set id={id}");
    });
}

#[test]
fn ctrl_z_waiting_in_semtimedop() {
    signal_row("ctrl_z's P in semtimedop", |signal| {
        let (mut ctrl_z, id) = start(CTRL_Z, &[]);
        let _cleanup = RemoveOnDrop(id);
        ctrl_z.expect_line("press Ctrl-Z");
        wait_until_blocked_in(ctrl_z.pid(), libc::SYS_semtimedop);
        let finished = stop_with(ctrl_z, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("ctrl_z: got {signal}; stopping")),
            "{finished:?}"
        );
        assert!(!finished.stdout.contains("EINTR"), "{finished:?}");
        assert!(!set_exists(id), "ctrl_z removed its set id={id}");
    });
}
