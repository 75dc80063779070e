//! Two facts about a queue's mode that surprise people who know files: `msgget` ignores its
//! flags (the mode bits and IPC_CREAT) when the key has a queue already, and returns that
//! queue with its old mode; and the umask does not touch a new queue's mode, where `open` and
//! `mkfifo` clear the bits it names. The umask is process-wide, so these tests have a file
//! of their own: the other test may make its key file while the umask is 077, which only
//! makes that file private.

#![forbid(unsafe_code)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::TestKey;
use msgqueue::{Key, msgget};
use nix::sys::stat::{Mode, umask};

#[test]
fn msgget_ignores_its_mode_and_ipc_creat_when_the_queue_exists() {
    let key = TestKey::new("mq-msgflg");
    let first = msgget(key.key(), libc::IPC_CREAT | libc::IPC_EXCL | 0o600).expect("create");
    // The notes' call, asking for 0664 and "create if missing": the key has a queue already.
    let second = msgget(key.key(), libc::IPC_CREAT | 0o664).expect("open");
    assert_eq!(second.id(), first.id(), "the same queue");
    assert!(
        !second.created(),
        "IPC_CREAT without IPC_EXCL created nothing"
    );
    let mode = second.msgctl_stat().expect("IPC_STAT").owner.mode;
    assert_eq!(mode, 0o600, "the old mode, not the 0664 asked for");
}

#[test]
fn the_umask_does_not_touch_a_new_queues_mode() {
    let dir = testkit::TempDir::new("mq-umask");
    let before = umask(Mode::from_bits_truncate(0o077));
    let queue = msgget(Key::PRIVATE, libc::IPC_CREAT | 0o666);
    let file = std::fs::File::create(dir.path().join("f"));
    umask(before);
    let mode = queue
        .expect("msgget")
        .msgctl_stat()
        .expect("IPC_STAT")
        .owner
        .mode;
    assert_eq!(
        mode, 0o666,
        "a queue gets the mode asked for, whatever the umask"
    );
    let file_mode = file
        .expect("create")
        .metadata()
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        file_mode, 0o600,
        "a file asked 0666 under umask 077 gets 0600"
    );
}
