//! `pv` and `bare_sem` driven as a student would: create, P that blocks and V that releases
//! it, show, remove; race-free creation with `--init`; the set removed under a blocked P; and
//! each bad input, one line on stderr and a non-zero status. No set is left behind.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, assert_one_line_failure, set_ids, wait_until_blocked_in_semop};
use nix::sys::signal::Signal;
use testkit::{Running, run, stop_with};

const PV: &str = env!("CARGO_BIN_EXE_pv");
const BARE: &str = env!("CARGO_BIN_EXE_bare_sem");

#[test]
fn bare_sem_does_p_and_v_and_removes_its_set() {
    let finished = run(std::process::Command::new(BARE), "");
    assert!(finished.status.success(), "{finished:?}");
    let id = common::id_in(&finished.stdout);
    let lines = finished.stdout_lines();
    assert_eq!(lines[2], "semop(-1), P: semaphore 0 = 0");
    assert_eq!(lines[3], "semop(+1), V: semaphore 0 = 1");
    assert!(!common::set_exists(id), "set id={id} is left");
}

#[test]
fn a_blocked_p_says_what_it_waits_for_and_v_releases_it() {
    let key = TestKey::new("sem-pv-block");
    let created = run(key.command(PV, &["create", "--values", "0,1"]), "");
    assert!(created.status.success(), "{created:?}");
    assert!(
        created.stdout.contains("mode 0600, values [0, 1]"),
        "{created:?}"
    );
    let mut waiter = Running::spawn(key.command(PV, &["op", "0-1,1+2"]));
    waiter.expect_line("pv: waiting for semaphore 0 to reach 1 (values now [0, 1])");
    wait_until_blocked_in_semop(waiter.pid());
    let shown = run(key.command(PV, &["show"]), "");
    let row: Vec<&str> = shown.stdout_lines()[2].split_whitespace().collect();
    assert_eq!(
        &row[..4],
        ["0", "0", "1", "0"],
        "one waits to take: {shown:?}"
    );
    let released = run(key.command(PV, &["op", "0+1"]), "");
    assert!(released.status.success(), "{released:?}");
    waiter.expect_line("pv: semop 0-1,1+2 done; values now [0, 3]");
    assert!(waiter.wait().status.success());
    let removed = run(key.command(PV, &["rm"]), "");
    assert!(
        removed.stdout.contains("pv: removed semaphore set"),
        "{removed:?}"
    );
    assert_eq!(key.ids(), [], "pv rm removed it");
}

#[test]
fn sem_undo_is_reversed_when_pv_exits() {
    let key = TestKey::new("sem-pv-undo");
    run(key.command(PV, &["create", "--values", "2"]), "");
    let took = run(key.command(PV, &["op", "0-1u"]), "");
    assert!(took.stdout.contains("values now [1]"), "{took:?}");
    let shown = run(key.command(PV, &["show"]), "");
    let row: Vec<&str> = shown.stdout_lines()[2].split_whitespace().collect();
    assert_eq!(
        row[1], "2",
        "the kernel gave the unit back at exit: {shown:?}"
    );
}

#[test]
fn ctrl_c_ends_a_blocked_p_within_a_second_and_the_set_stays_for_its_creator() {
    let key = TestKey::new("sem-pv-sigint");
    run(key.command(PV, &["create", "--values", "0"]), "");
    let mut waiter = Running::spawn(key.command(PV, &["op", "0-1"]));
    waiter.expect_line("waiting for semaphore 0 to reach 1");
    wait_until_blocked_in_semop(waiter.pid());
    let finished = stop_with(waiter, Signal::SIGINT);
    assert!(
        finished.stdout.contains("pv: got SIGINT; stopping"),
        "{finished:?}"
    );
    assert_eq!(
        key.ids().len(),
        1,
        "pv op did not create it, so it leaves it"
    );
}

#[test]
fn the_set_removed_under_a_blocked_p_is_reported() {
    let key = TestKey::new("sem-pv-eidrm");
    run(key.command(PV, &["create", "--values", "0"]), "");
    let mut waiter = Running::spawn(key.command(PV, &["op", "0-1"]));
    waiter.expect_line("waiting for semaphore 0 to reach 1");
    wait_until_blocked_in_semop(waiter.pid());
    assert!(run(key.command(PV, &["rm"]), "").status.success());
    let finished = waiter.wait();
    assert_one_line_failure(
        &finished,
        1,
        &["EIDRM", "the set was removed", "while I waited"],
    );
    assert_eq!(key.ids(), []);
}

#[test]
fn creation_is_race_free_two_creators_at_once_initialise_once() {
    for round in 0..25 {
        let key = TestKey::new("sem-pv-race");
        // Both start at once; each creates the set with 5 if nobody has, then takes 1.
        let a = Running::spawn(key.command(PV, &["op", "--init", "5", "0-1"]));
        let b = Running::spawn(key.command(PV, &["op", "--init", "5", "0-1"]));
        let (a, b) = (a.wait(), b.wait());
        assert!(
            a.status.success() && b.status.success(),
            "round {round}: {a:?} {b:?}"
        );
        let creators = [&a, &b]
            .iter()
            .filter(|f| f.stdout.contains("pv: created semaphore set"))
            .count();
        assert_eq!(
            creators, 1,
            "round {round}: exactly one creator: {a:?} {b:?}"
        );
        let shown = run(key.command(PV, &["show"]), "");
        let row: Vec<&str> = shown.stdout_lines()[2].split_whitespace().collect();
        // Initialised twice, or P before the values were set, would not leave 3.
        assert_eq!(row[1], "3", "round {round}: 5 - 1 - 1: {shown:?}");
    }
}

#[test]
fn with_no_arguments_pv_explains_instead_of_failing() {
    let key = TestKey::new("sem-pv-noargs");
    let finished = run(key.command(PV, &[]), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stdout.contains("`pv create --values 1` makes one"),
        "{finished:?}"
    );
}

#[test]
fn a_set_that_does_not_exist_is_one_line() {
    let key = TestKey::new("sem-pv-missing");
    for args in [&["show"][..], &["op", "0-1"], &["rm"]] {
        let finished = run(key.command(PV, args), "");
        assert_one_line_failure(
            &finished,
            1,
            &["semget", "ENOENT", "no semaphore set has this key"],
        );
    }
    assert_eq!(key.ids(), []);
}

#[test]
fn an_index_out_of_range_is_one_line() {
    let key = TestKey::new("sem-pv-index");
    run(key.command(PV, &["create", "--values", "1,1"]), "");
    let finished = run(key.command(PV, &["op", "2-1"]), "");
    assert_one_line_failure(&finished, 1, &["EFBIG", "no such semaphore in the set"]);
}

#[test]
fn a_value_over_semvmx_is_one_line() {
    let key = TestKey::new("sem-pv-semvmx");
    let refused = run(key.command(PV, &["create", "--values", "40000"]), "");
    assert_one_line_failure(&refused, 2, &["over SEMVMX (32767)"]);
    assert_eq!(key.ids(), [], "nothing was created");
    run(key.command(PV, &["create", "--values", "1"]), "");
    let finished = run(key.command(PV, &["op", "0+32767"]), "");
    assert_one_line_failure(&finished, 1, &["ERANGE", "over SEMVMX (32767)"]);
}

#[test]
fn a_malformed_op_expression_is_one_line() {
    let key = TestKey::new("sem-pv-syntax");
    for bad in ["0-", "x+1", "0+1,,"] {
        let finished = run(key.command(PV, &["op", bad]), "");
        assert_one_line_failure(
            &finished,
            2,
            &["invalid value", "for '<OPS>'", "(see --help)"],
        );
    }
    let help = run(key.command(PV, &["op", "--help"]), "");
    assert!(help.stdout.contains("SEM_UNDO") && help.stdout.contains("IPC_NOWAIT"));
    assert_eq!(set_ids(|o| o.key == key.key()), []);
}

#[test]
fn bare_sem_help_runs_nothing() {
    testkit::assert_help_only(BARE);
}

#[test]
fn pv_with_no_arguments_and_no_set_says_in_one_line_what_to_run_first() {
    let dir = testkit::TempDir::new("pv-no-args");
    let mut bare_pv = std::process::Command::new(PV);
    bare_pv.current_dir(dir.path());
    let no_file = run(bare_pv, "");
    assert!(no_file.status.success(), "{no_file:?}");
    assert_eq!(no_file.stdout_lines().len(), 1, "{no_file:?}");
    assert!(no_file.stdout.contains("`pv create --values 1` makes both"));
    assert!(no_file.stderr.is_empty() && !no_file.stdout.contains("ENOENT"));
    let key = TestKey::new("pv-no-set");
    let no_set = run(key.command(PV, &[]), "");
    assert!(no_set.status.success(), "{no_set:?}");
    assert_eq!(no_set.stdout_lines().len(), 1, "{no_set:?}");
    assert!(
        no_set.stdout.contains("no semaphore set has key"),
        "{no_set:?}"
    );
}

#[test]
fn accept_foreign_is_taken_after_the_subcommand_and_a_huge_key_is_out_of_range() {
    let key = TestKey::new("pv-flag-after");
    let created = run(key.command(PV, &["create", "--values", "1"]), "");
    assert!(created.status.success(), "{created:?}");
    let op = run(key.command(PV, &["op", "0-1", "--accept-foreign"]), "");
    assert!(op.status.success(), "{op:?}");
    assert!(op.stdout.contains("values now [0]"), "{op:?}");
    let mut huge_key = std::process::Command::new(PV);
    huge_key.args(["--key", "99999999999", "show"]);
    let huge = run(huge_key, "");
    assert_eq!(huge.status.code(), Some(2), "{huge:?}");
    assert!(
        huge.stderr.contains("is out of range: a key is 32 bits"),
        "{huge:?}"
    );
}
