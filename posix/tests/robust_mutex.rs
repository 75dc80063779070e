//! `robust_mutex`: the one-command story (a holder killed mid-update, EOWNERDEAD, the repair
//! checked by the invariant A + B = 100, pthread_mutex_consistent), the `--no-repair` path to
//! ENOTRECOVERABLE, the same by hand with `create`, `hold`, `take` and `rm`, the stop signals
//! while holding and while waiting for the lock, a closed terminal, a wrong-shaped object at the
//! name, and nothing left in /dev/shm.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Command;

use nix::sys::signal::{Signal, kill};
use testkit::{OnTerminal, Running, run, signal_row, stop_with};

const ROBUST: &str = env!("CARGO_BIN_EXE_robust_mutex");

/// A shm_open name of this test's own, removed when the test ends, however.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        let name = Self(format!(
            "/ipc-labs-test-robust-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(name.file());
        name
    }

    fn file(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm{}", self.0))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ROBUST);
        command.args(["--name", &self.0]).args(args);
        command
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.file());
    }
}

fn ok(command: Command) -> testkit::Finished {
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    finished
}

#[test]
fn the_story_sees_eownerdead_repairs_and_restores_the_invariant() {
    let name = Name::new("story");
    let finished = ok(name.command(&[]));
    let out = &finished.stdout;
    assert!(out.contains("step 1 of 2 done by pid"), "{out}");
    assert!(
        out.contains("A = 0, B = 0, A + B = 0"),
        "the holder died mid-way: {out}"
    );
    assert!(out.contains("was killed by signal 9 (SIGKILL)"), "{out}");
    let holder: i32 = testkit::number_after(out, "step 1 of 2 done by pid ");
    assert!(
        out.contains(&format!("EOWNERDEAD: pid {holder} died holding it")),
        "{out}"
    );
    assert!(out.contains("undid step 1, A = 100, B = 0, A + B = 100; pthread_mutex_consistent"));
    assert!(out.contains("locked again, the mutex works: A = 100, B = 0, A + B = 100"));
    assert!(!name.file().exists(), "the story left {}", name.0);
}

#[test]
fn without_pthread_mutex_consistent_the_next_lock_gets_enotrecoverable() {
    let name = Name::new("norepair");
    let finished = ok(name.command(&["--no-repair"]));
    assert!(finished.stdout.contains("EOWNERDEAD"), "{finished:?}");
    assert!(
        finished
            .stdout
            .contains("unlocked WITHOUT pthread_mutex_consistent")
    );
    assert!(finished.stdout.contains("ENOTRECOVERABLE"), "{finished:?}");
    assert!(!finished.stdout.contains("undid step 1"), "{finished:?}");
    assert!(!name.file().exists());
}

#[test]
fn by_hand_a_waiting_take_gets_the_lock_when_the_holder_is_killed() {
    let name = Name::new("hand");
    assert!(ok(name.command(&["create"])).stdout.contains("mode 0600"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(name.file()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let again = run(name.command(&["create"]), "");
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(again.stderr.contains("EEXIST"), "{again:?}");
    let mut holder = Running::spawn(name.command(&["hold"]));
    holder.expect_line("step 1 of 2 done");
    let mut taker = Running::spawn(name.command(&["take"]));
    taker.expect_line(&format!("waiting: pid {} holds", holder.pid()));
    kill(holder.pid(), Signal::SIGKILL).unwrap();
    taker.expect_line(&format!("EOWNERDEAD: pid {} died holding it", holder.pid()));
    taker.expect_line("undid step 1, A = 100, B = 0, A + B = 100");
    assert!(taker.wait().status.success());
    // A holder that finishes (Enter) moves the units for good.
    let mut holder = Running::spawn(name.command(&["hold"]));
    holder.expect_line("step 1 of 2 done");
    holder.write_line("").unwrap();
    holder.expect_line("step 2 done, unlocked: A = 0, B = 100, A + B = 100");
    assert!(holder.wait().status.success());
    assert!(
        ok(name.command(&["take"]))
            .stdout
            .contains("got it: A = 0, B = 100")
    );
    ok(name.command(&["rm"]));
    assert!(!name.file().exists());
    let gone = run(name.command(&["take"]), "");
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    assert!(gone.stderr.contains("shm_open") && gone.stderr.contains("ENOENT"));
}

#[test]
fn by_hand_an_unrepaired_mutex_is_enotrecoverable_for_every_later_take() {
    let name = Name::new("lost");
    ok(name.command(&["create"]));
    let mut holder = Running::spawn(name.command(&["hold"]));
    holder.expect_line("step 1 of 2 done");
    kill(holder.pid(), Signal::SIGKILL).unwrap();
    drop(holder.wait());
    let careless = ok(name.command(&["take", "--no-repair"]));
    assert!(careless.stdout.contains("EOWNERDEAD"), "{careless:?}");
    for _ in 0..2 {
        let lost = run(name.command(&["take"]), "");
        assert_eq!(lost.status.code(), Some(1), "{lost:?}");
        assert_eq!(lost.stderr.lines().count(), 1, "{lost:?}");
        assert!(
            lost.stderr.contains("pthread_mutex_timedlock")
                && lost.stderr.contains("ENOTRECOVERABLE")
        );
    }
    ok(name.command(&["rm"]));
}

#[test]
fn signals_stop_a_holder_which_undoes_its_step_and_a_waiting_take() {
    signal_row("holding, and waiting for the lock", |signal| {
        let name = Name::new(&format!("sig{}", signal as i32));
        ok(name.command(&["create"]));
        let mut holder = Running::spawn(name.command(&["hold"]));
        holder.expect_line("step 1 of 2 done");
        let mut taker = Running::spawn(name.command(&["take"]));
        taker.expect_line("waiting: pid");
        let stopped = stop_with(taker, signal);
        assert!(stopped.stdout.contains(&format!("got {signal}; stopping")));
        stop_with(holder, signal);
        let after = ok(name.command(&["take"]));
        assert!(
            after.stdout.contains("got it: A = 100, B = 0"),
            "undone and unlocked: {after:?}"
        );
        ok(name.command(&["rm"]));
    });
}

#[test]
fn a_closed_terminal_stops_the_story_which_removes_its_object() {
    let name = Name::new("tty");
    OnTerminal::spawn_closed(name.command(&[])).assert_hung_up();
    assert!(!name.file().exists(), "the story left {}", name.0);
}

#[test]
fn a_wrong_shaped_object_at_the_name_is_refused_and_left() {
    let name = Name::new("shape");
    for bytes in [vec![], vec![0u8; 72], vec![7u8; 4096]] {
        std::fs::write(name.file(), &bytes).unwrap();
        for args in [&["take"][..], &["hold"]] {
            let refused = run(name.command(args), "");
            assert_eq!(refused.status.code(), Some(1), "{refused:?}");
            assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
            assert!(refused.stderr.contains("refused") && refused.stderr.contains("left alone"));
        }
        assert_eq!(std::fs::read(name.file()).unwrap(), bytes);
    }
}

#[test]
fn help_runs_nothing() {
    testkit::assert_help_only(ROBUST);
}
