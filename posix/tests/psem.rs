//! `psem` and `bare_psem` driven as a student would: create, a wait that blocks and a post from
//! another process that wakes it, every errno line (EEXIST, ENOENT, EINVAL, EAGAIN, ETIMEDOUT,
//! EOVERFLOW, EACCES as nobody), the stop signals while blocked, a closed terminal, and a file at
//! the name that is not a semaphore, refused and left. Each test checks that its names are gone
//! from /dev/shm at the end, and removes them even when it fails.

#![forbid(unsafe_code)]

use std::process::Command;

use posix::psem::sem_file;
use testkit::{Nobody, OnTerminal, Running, run, signal_row, stop_with, wait_until_blocked_in};

const PSEM: &str = env!("CARGO_BIN_EXE_psem");
const BARE: &str = env!("CARGO_BIN_EXE_bare_psem");

/// A semaphore name of this test's own; its file is removed when the test ends, however.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        let name = Self(format!("/ipc-labs-test-psem-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(sem_file(&name.0));
        name
    }

    fn psem(&self, args: &[&str]) -> Command {
        let mut command = Command::new(PSEM);
        command.args(["--name", &self.0]).args(args);
        command
    }

    fn exists(&self) -> bool {
        sem_file(&self.0).exists()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(sem_file(&self.0));
    }
}

/// Exit status `code`, one line on stderr holding every needle, and nothing on stdout.
fn assert_one_line(finished: &testkit::Finished, code: i32, needles: &[&str]) {
    assert_eq!(finished.status.code(), Some(code), "{finished:?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:?}");
    for needle in needles {
        assert!(finished.stderr.contains(needle), "{needle:?}: {finished:?}");
    }
    assert!(!finished.stderr.contains("panicked"), "{finished:?}");
}

fn ok(command: Command) -> testkit::Finished {
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    finished
}

#[test]
fn bare_psem_posts_in_the_child_waits_in_the_parent_and_unlinks() {
    let name = Name::new("bare");
    let mut bare = Command::new(BARE);
    bare.args(["--name", &name.0]);
    let finished = ok(bare);
    let lines = finished.stdout_lines();
    assert_eq!(lines[1], "sem_getvalue: 0 before the post", "{finished:?}");
    assert!(
        finished.stdout.contains("child:  sem_post on "),
        "{finished:?}"
    );
    assert!(finished.stdout.contains("parent: sem_wait returned"));
    assert!(finished.stdout.contains("sem_getvalue: 0 after the wait"));
    assert!(finished.stdout.contains("the child exited with status 0"));
    assert!(!name.exists(), "bare_psem left {}", name.0);
}

#[test]
fn help_runs_nothing() {
    testkit::assert_help_only(BARE);
    testkit::assert_help_only(PSEM);
}

#[test]
fn create_show_trywait_post_rm_and_their_errno_lines() {
    let name = Name::new("cycle");
    let n = &name.0;
    let created = ok(name.psem(&["create", "--value", "1"]));
    assert!(
        created
            .stdout
            .contains(&format!("created {n}, value 1, mode 0600"))
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(sem_file(n)).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let taken = run(name.psem(&["create"]), "");
    assert_one_line(&taken, 1, &[&format!("sem_open {n}: EEXIST")]);
    let shown = ok(name.psem(&["show"]));
    assert!(shown.stdout.contains(&format!("{n}: value 1")), "{shown:?}");
    assert!(shown.stdout.contains("32 bytes, owner uid "), "{shown:?}");
    assert!(shown.stdout.contains("mode 0600"), "{shown:?}");
    let without = ok(name.psem(&[])); // no subcommand: show
    assert!(without.stdout.contains("value 1"), "{without:?}");
    assert!(ok(name.psem(&["trywait"])).stdout.contains("is now 0"));
    let again = run(name.psem(&["trywait"]), "");
    assert_one_line(&again, 1, &["sem_trywait", "EAGAIN", "does not wait"]);
    let timed = run(name.psem(&["timedwait", "50"]), "");
    assert_eq!(timed.stderr.lines().count(), 1, "{timed:?}");
    assert!(timed.stderr.contains("sem_timedwait") && timed.stderr.contains("ETIMEDOUT"));
    assert!(ok(name.psem(&["post"])).stdout.contains("is now 1"));
    assert!(
        ok(name.psem(&["timedwait", "50"]))
            .stdout
            .contains("is now 0")
    );
    assert!(
        ok(name.psem(&["rm"]))
            .stdout
            .contains("sem_unlink: removed")
    );
    assert!(!name.exists());
    for args in [&["show"][..], &["wait"], &["post"], &["rm"]] {
        let missing = run(name.psem(args), "");
        assert_one_line(&missing, 1, &["ENOENT", &format!("no semaphore {n}")]);
    }
    let nothing = ok(name.psem(&[]));
    assert!(nothing.stdout.contains("`psem create --value 1` makes one"));
}

#[test]
fn a_bad_name_a_bad_value_and_a_post_at_sem_value_max() {
    for bad in ["noslash", "/a/b", "/"] {
        let mut command = Command::new(PSEM);
        command.args(["--name", bad, "create"]);
        assert_one_line(&run(command, ""), 1, &["EINVAL", "one /"]);
    }
    let name = Name::new("max");
    let over = run(name.psem(&["create", "--value", "2147483648"]), "");
    assert_one_line(&over, 2, &["is not in 0..=2147483647"]);
    assert!(!name.exists());
    ok(name.psem(&["create", "--value", "2147483647"]));
    let overflow = run(name.psem(&["post"]), "");
    assert_one_line(
        &overflow,
        1,
        &["sem_post", "EOVERFLOW", "SEM_VALUE_MAX (2147483647)"],
    );
}

#[test]
fn a_blocked_wait_is_woken_by_a_post_from_another_process() {
    let name = Name::new("wake");
    ok(name.psem(&["create"]));
    let mut waiter = Running::spawn(name.psem(&["wait"]));
    waiter.expect_line("is 0: waiting for a post");
    wait_until_blocked_in(waiter.pid(), libc::SYS_futex);
    ok(name.psem(&["post"]));
    waiter.expect_line("psem: sem_wait: took 1");
    assert!(waiter.wait().status.success());
    ok(name.psem(&["rm"]));
    assert!(!name.exists());
}

#[test]
fn signals_end_a_blocked_wait_and_leave_the_semaphore_to_its_creator() {
    signal_row("blocked in sem_wait", |signal| {
        let name = Name::new(&format!("sig{}", signal as i32));
        ok(name.psem(&["create"]));
        let mut waiter = Running::spawn(name.psem(&["wait"]));
        waiter.expect_line("waiting for a post");
        wait_until_blocked_in(waiter.pid(), libc::SYS_futex);
        let finished = stop_with(waiter, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("psem: got {signal}; stopping"))
        );
        assert!(
            name.exists(),
            "wait did not create it, so it must not remove it"
        );
        let shown = ok(name.psem(&["show"]));
        assert!(
            shown.stdout.contains("value 0"),
            "nothing was taken: {shown:?}"
        );
        ok(name.psem(&["rm"]));
    });
}

#[test]
fn a_closed_terminal_stops_psem_and_a_create_it_could_not_report_is_undone() {
    let name = Name::new("tty");
    let create = name.psem(&["create"]);
    OnTerminal::spawn_closed(create).assert_hung_up();
    assert!(!name.exists(), "a creation nobody saw was left");
    ok(name.psem(&["create"]));
    for args in [&["show"][..], &["wait"]] {
        OnTerminal::spawn_closed(name.psem(args)).assert_hung_up();
    }
    assert!(name.exists(), "show and wait leave the creator's semaphore");
}

#[test]
fn eacces_as_nobody_names_the_owner() {
    let Some(nobody) = Nobody::new("psem-eacces") else {
        return;
    };
    let name = Name::new("eacces");
    ok(name.psem(&["create", "--value", "1"]));
    for args in [&["post"][..], &["trywait"], &["show"]] {
        let mut all = vec!["--name", name.0.as_str()];
        all.extend_from_slice(args);
        let refused = run(nobody.command(PSEM, &all), "");
        assert_one_line(
            &refused,
            1,
            &["sem_open", "EACCES", "owner uid 0 (root), mode 0600"],
        );
    }
    assert!(
        ok(name.psem(&["show"])).stdout.contains("value 1"),
        "nobody took nothing"
    );
}

#[test]
fn a_file_at_the_name_that_is_not_a_semaphore_is_refused_and_left() {
    let name = Name::new("garbage");
    for (what, bytes) in [
        ("empty", vec![]),
        ("garbage", vec![0xff; 32]),
        ("short", b"garbage\n".to_vec()),
    ] {
        std::fs::write(sem_file(&name.0), &bytes).unwrap();
        for args in [&["show"][..], &["wait"], &["post"], &["rm"], &["create"]] {
            let refused = run(name.psem(args), "");
            assert_one_line(&refused, 1, &["refused", "not a semaphore", "left alone"]);
            assert!(!refused.stderr.contains("SIGBUS"), "{what}: {refused:?}");
        }
        assert_eq!(
            std::fs::read(sem_file(&name.0)).unwrap(),
            bytes,
            "{what} was left as it was"
        );
    }
}
