//! bare_queue, the book's first listing: its output, step by step, in a directory of the test's
//! own (so its key, ftok(".", 'a'), is the test's own too); no queue left behind; a key that is
//! taken already makes msgget fail with EEXIST and leaves the other queue alone; and the key is
//! laid out as the book's diagram says.

#![forbid(unsafe_code)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::{id_in, queue_exists, queue_ids};
use msgqueue::{Key, msgget};
use testkit::{TempDir, run};

const BARE: &str = env!("CARGO_BIN_EXE_bare_queue");

/// `bare_queue` started in `dir`.
fn bare_in(dir: &TempDir) -> Command {
    let mut command = Command::new(BARE);
    command.current_dir(dir.path());
    command
}

/// The key bare_queue computes in `dir`: ftok(".", 'a') there.
fn key_of(dir: &TempDir) -> Key {
    sysv::ftok(dir.path(), b'a').expect("ftok")
}

#[test]
fn bare_queue_prints_each_step_takes_by_type_and_removes_its_queue() {
    let dir = TempDir::new("mq-bare");
    let key = key_of(&dir);
    let finished = run(bare_in(&dir), "");
    assert!(finished.status.success(), "{finished:?}");
    assert_eq!(finished.stderr, "", "{finished:?}");
    let lines = finished.stdout_lines();
    assert_eq!(lines.len(), 6, "{finished:?}");
    assert_eq!(lines[0], format!("ftok(\".\", 'a') = key {key}"));
    assert!(
        lines[1].starts_with("msgget: created queue id="),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("msgsnd: sent \"for type 2\""),
        "{lines:?}"
    );
    // The type chooses: type 1 comes out first although type 2 was sent first.
    assert_eq!(lines[3], "msgrcv(msgtyp=1): type 1: \"for type 1\"");
    assert_eq!(lines[4], "msgrcv(msgtyp=2): type 2: \"for type 2\"");
    let id = id_in(lines[1]);
    assert_eq!(lines[5], format!("msgctl(IPC_RMID): removed queue id={id}"));
    assert!(!queue_exists(id), "queue id={id} was left behind");
    assert!(queue_ids(|queue| queue.key == key).is_empty());
}

#[test]
fn a_key_in_use_makes_msgget_fail_with_eexist_and_the_other_queue_stays() {
    let dir = TempDir::new("mq-bare-taken");
    // The test's own queue with the key bare_queue will compute; dropping it removes it.
    let taken = msgget(key_of(&dir), libc::IPC_CREAT | libc::IPC_EXCL | 0o600).expect("msgget");
    let finished = run(bare_in(&dir), "");
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    let errors: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(errors.len(), 1, "{finished:?}");
    assert!(
        errors[0].starts_with("bare_queue: msgget key "),
        "{errors:?}"
    );
    assert!(errors[0].contains("EEXIST"), "{errors:?}");
    // It printed the key, then stopped: no message went into the queue that is not its own.
    assert_eq!(finished.stdout_lines().len(), 1, "{finished:?}");
    let stat = taken
        .msgctl_stat()
        .expect("the test's queue is still there");
    assert_eq!(stat.messages, 0);
}

#[test]
fn ftok_puts_proj_id_then_8_bits_of_the_device_then_16_bits_of_the_inode() {
    let dir = TempDir::new("mq-ftok-layout");
    let meta = std::fs::metadata(dir.path()).expect("stat");
    for proj in [b'a', b'b', 1, 255] {
        let expected = (u32::from(proj) << 24)
            | ((meta.dev() & 0xff) as u32) << 16
            | (meta.ino() & 0xffff) as u32;
        let key = sysv::ftok(dir.path(), proj).expect("ftok");
        assert_eq!(key.raw() as u32, expected, "proj {proj}");
    }
}

#[test]
fn help_runs_nothing() {
    testkit::assert_help_only(BARE);
}
