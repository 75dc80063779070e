//! The permission paths, which root never sees (CAP_IPC_OWNER passes every System V check): the
//! examples run as user nobody (`setpriv`), on queues that the test makes as root with the mode
//! each case needs and removes on drop.
//!
//! - another user's queue is refused by default, and the refusal says what to type;
//! - a queue nobody may write but not read (0622): IPC_STAT fails with EACCES, so its owner
//!   cannot be checked: refused by default, used with `--accept-foreign`;
//! - a queue of your own with the course notes' mode 0664 is used, with a one-line warning;
//! - `msg_rm --id` on a queue of yours that you may not read.

#![forbid(unsafe_code)]

mod common;

use common::{RemoveOnDrop, TestKey, assert_one_line_failure, id_in, queue_exists};
use libc::{IPC_CREAT, IPC_EXCL, IPC_NOWAIT};
use msgqueue::{Select, msgget};
use testkit::{Nobody, run};

const SEND: &str = env!("CARGO_BIN_EXE_send");
const RECV: &str = env!("CARGO_BIN_EXE_recv");
const MSG_RM: &str = env!("CARGO_BIN_EXE_msg_rm");

#[test]
fn another_users_queue_is_refused_by_default_and_the_refusal_says_what_to_type() {
    let Some(nobody) = Nobody::new("mq-perm-foreign") else {
        return;
    };
    let key = TestKey::new("mq-perm-foreign");
    // root's queue, readable by all, so that the check can see whose it is.
    let queue = msgget(key.key(), IPC_CREAT | IPC_EXCL | 0o644).expect("create the queue");
    let k = key.key().to_string();
    let id = queue.id().to_string();
    let cases: [(&str, &[&str]); 4] = [
        (SEND, &["--key", &k, "1", "hi"]),
        (RECV, &["--key", &k, "--nowait"]),
        (MSG_RM, &["--key", &k]),
        (MSG_RM, &["--id", &id]),
    ];
    for (binary, args) in cases {
        let refused = run(nobody.command(binary, args), "");
        assert_one_line_failure(
            &refused,
            &[
                "check the owner of queue id=",
                "refused: it belongs to uid 0, not to you (uid 65534)",
                "pass --accept-foreign to use it anyway",
            ],
        );
    }
    assert!(queue_exists(queue.id()), "a refusal removes nothing");
    assert_eq!(queue.msgctl_stat().unwrap().messages, 0, "nothing was sent");
}

#[test]
fn a_queue_you_may_write_but_not_read_needs_accept_foreign_and_then_takes_messages() {
    let Some(nobody) = Nobody::new("mq-perm-0622") else {
        return;
    };
    let key = TestKey::new("mq-perm-0622");
    // Others may write (send) but not read: IPC_STAT, which needs read permission, fails.
    let queue = msgget(key.key(), IPC_CREAT | IPC_EXCL | 0o622).expect("create the queue");
    let k = key.key().to_string();
    let refused = run(nobody.command(SEND, &["--key", &k, "1", "hi"]), "");
    assert_one_line_failure(
        &refused,
        &[
            "send: msgctl IPC_STAT id=",
            "EACCES",
            "who owns it cannot be checked",
            "pass --accept-foreign to use it anyway",
        ],
    );
    let sent = run(
        nobody.command(SEND, &["--key", &k, "--accept-foreign", "1", "hi"]),
        "",
    );
    assert!(sent.status.success(), "{sent:?}");
    let warnings: Vec<&str> = sent
        .stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("send: warning: could not check who owns queue id="))
        .collect();
    assert_eq!(warnings.len(), 1, "one line says so: {sent:?}");
    assert!(warnings[0].contains("as --accept-foreign asks"), "{sent:?}");
    assert!(sent.stdout.contains("send: sent type=1 hi"), "{sent:?}");
    let message = queue
        .msgrcv(Select::Any, 64, IPC_NOWAIT)
        .expect("the message arrived");
    assert_eq!((message.mtype, message.text()), (1, "hi".into()));

    // recv gets past the check, and then the kernel refuses to let it read.
    let recv = run(
        nobody.command(RECV, &["--key", &k, "--accept-foreign", "--nowait"]),
        "",
    );
    assert_one_line_failure(
        &recv,
        &["recv: msgrcv: EACCES", "you may not read this queue"],
    );
    // Only the owner or creator may remove a queue, whatever its mode.
    let id = queue.id().to_string();
    let not_removed = run(
        nobody.command(MSG_RM, &["--id", &id, "--accept-foreign"]),
        "",
    );
    assert_one_line_failure(
        &not_removed,
        &[
            "msg_rm: msgctl IPC_RMID",
            "EPERM",
            "only the queue's owner or creator may remove it",
        ],
    );
    assert!(queue_exists(queue.id()));
}

#[test]
fn a_queue_of_your_own_with_the_notes_mode_0664_is_used_with_a_warning() {
    let Some(nobody) = Nobody::new("mq-perm-0664") else {
        return;
    };
    let key = TestKey::new("mq-perm-0664");
    let k = key.key().to_string();
    // nobody makes the queue, as a C program of nobody's would; the notes' mode is 0664.
    let created = run(
        nobody.command(SEND, &["--key", &k, "--create", "1", "from C"]),
        "",
    );
    assert!(created.status.success(), "{created:?}");
    let line = created
        .stdout_lines()
        .into_iter()
        .find(|line| line.contains("created queue"))
        .expect("a created line")
        .to_owned();
    let _cleanup = RemoveOnDrop(id_in(&line));
    let queue = msgget(key.key(), 0).expect("the queue send left");
    queue
        .msgctl_set(nobody.uid, nobody.gid, 0o664)
        .expect("IPC_SET mode 0664");
    let warning = "warning: queue id=";
    let mode = "has mode 0664, which lets your group write to it";
    let sent = run(nobody.command(SEND, &["--key", &k, "2", "from Rust"]), "");
    assert!(sent.status.success(), "{sent:?}");
    assert!(
        sent.stdout.contains(&format!("send: {warning}")) && sent.stdout.contains(mode),
        "{sent:?}"
    );
    let received = run(nobody.command(RECV, &["--key", &k, "--nowait"]), "");
    assert!(received.status.success(), "{received:?}");
    assert!(received.stdout.contains(mode), "{received:?}");
    assert!(received.stdout.contains("type=1 from C"), "{received:?}");
    assert!(received.stdout.contains("type=2 from Rust"), "{received:?}");
    let removed = run(nobody.command(MSG_RM, &["--key", &k]), "");
    assert!(removed.status.success(), "{removed:?}");
    assert!(!queue_exists(queue.id()));
}

#[test]
fn msg_rm_by_id_removes_a_queue_of_yours_that_you_may_not_read_with_accept_foreign() {
    let Some(nobody) = Nobody::new("mq-perm-rm") else {
        return;
    };
    let key = TestKey::new("mq-perm-rm");
    // Given to nobody with mode 0000: nobody owns it, so may remove it, but may not read it.
    let queue = msgget(key.key(), IPC_CREAT | IPC_EXCL | 0o600).expect("create the queue");
    queue
        .msgctl_set(nobody.uid, nobody.gid, 0o000)
        .expect("IPC_SET");
    let id = queue.id().to_string();
    let refused = run(nobody.command(MSG_RM, &["--id", &id]), "");
    assert_one_line_failure(
        &refused,
        &[
            "msg_rm: msgctl IPC_STAT id=",
            "EACCES",
            "pass --accept-foreign to use it anyway",
        ],
    );
    assert!(queue_exists(queue.id()), "refused, so still there");
    let removed = run(
        nobody.command(MSG_RM, &["--id", &id, "--accept-foreign"]),
        "",
    );
    assert!(removed.status.success(), "{removed:?}");
    assert!(
        removed
            .stdout
            .contains("msg_rm: warning: could not check who owns queue id="),
        "{removed:?}"
    );
    assert!(
        removed
            .stdout
            .contains(&format!("msg_rm: removed queue id={id}")),
        "{removed:?}"
    );
    assert!(!queue_exists(queue.id()));
}
