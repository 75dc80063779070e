//! Bad input and faults, one test each: a message type of 0, a message over msgmax, a receive
//! buffer too small (E2BIG), ftok on a missing path, the queue removed under a blocked recv
//! (EIDRM), a full queue with IPC_NOWAIT (EAGAIN), a queue of your own that others may write
//! to, msg_rm on a key or an id that has no queue, and numeric flags out of range. Each gives
//! one clear line and a non-zero status where it is an error, loses no message, and leaves no
//! queue behind. The limits (msgmax, msgmnb) are read from /proc/sys/kernel, not assumed.

#![forbid(unsafe_code)]

mod common;

use common::{
    TestKey, assert_failure_starts, assert_one_line_failure, assert_usage_error, id_in,
    queue_exists, wait_until_blocked_in_msgrcv,
};
use msgqueue::{Limits, msgget};
use testkit::{Running, run, run_with_stdout_gone};

const SEND: &str = env!("CARGO_BIN_EXE_send");
const RECV: &str = env!("CARGO_BIN_EXE_recv");
const MSG_RM: &str = env!("CARGO_BIN_EXE_msg_rm");
const MESH: &str = env!("CARGO_BIN_EXE_mesh");

fn limits() -> Limits {
    Limits::read().expect("read /proc/sys/kernel/msg{max,mnb,mni}")
}

fn remove_queue(key: &TestKey) {
    let removed = run(key.command(MSG_RM, &[]), "");
    assert!(removed.status.success(), "{removed:?}");
    assert!(key.ids().is_empty(), "a queue is left: {:?}", key.ids());
}

#[test]
fn a_message_type_below_1_is_refused_and_nothing_is_left() {
    let key = TestKey::new("mq-type0");
    let finished = run(key.command(SEND, &["--create", "0", "x"]), "");
    assert_one_line_failure(&finished, &["msgsnd: EINVAL", "types start at 1"]);
    let negative = run(key.command(SEND, &["--create", "-2", "x"]), "");
    assert_one_line_failure(&negative, &["message type -2"]);
    assert!(
        key.ids().is_empty(),
        "the empty queue send created is removed"
    );
}

#[test]
fn a_message_over_msgmax_is_refused_and_the_earlier_ones_stay() {
    let key = TestKey::new("mq-big");
    let msgmax = limits().msgmax;
    // msgmax bytes of text and the final NUL: one byte over.
    let input = format!("small\n{}\n", "x".repeat(msgmax));
    let finished = run(key.command(SEND, &["--create", "4"]), &input);
    assert_failure_starts(&finished, "send: msgsnd: EINVAL: Invalid argument");
    assert_one_line_failure(
        &finished,
        &[
            &format!("more than msgmax ({msgmax} bytes"),
            "message 2 was not sent; the 1 before it were",
        ],
    );
    assert!(finished.stdout.contains("send: sent type=4 small"));
    let rest = run(key.command(RECV, &["--nowait"]), "");
    assert!(rest.stdout.contains("type=4 small"), "{rest:?}");
    remove_queue(&key);
}

#[test]
fn a_too_small_receive_buffer_fails_with_e2big_and_the_message_stays() {
    let key = TestKey::new("mq-e2big");
    let finished = run(
        key.command(SEND, &["--create", "1", "a message of 28 bytes here"]),
        "",
    );
    assert!(finished.status.success(), "{finished:?}");
    let small = run(key.command(RECV, &["--max-size", "8"]), "");
    assert_one_line_failure(
        &small,
        &[
            "msgrcv: E2BIG",
            "longer than the 8 bytes",
            "stays in the queue",
        ],
    );
    let truncated = run(
        key.command(RECV, &["--max-size", "9", "--truncate", "--nowait"]),
        "",
    );
    assert!(
        truncated.stdout.contains("type=1 a message"),
        "{truncated:?}"
    );
    remove_queue(&key);
}

#[test]
fn a_creator_recv_that_fails_keeps_the_messages() {
    let key = TestKey::new("mq-e2big-creator");
    let mut recv = Running::spawn(key.command(RECV, &["--max-size", "4"]));
    recv.expect_line("waiting for messages");
    assert!(
        run(key.command(SEND, &["2", "too long"]), "")
            .status
            .success()
    );
    let finished = recv.wait();
    assert_one_line_failure(&finished, &["E2BIG"]);
    assert!(finished.stdout.contains("leaving queue"), "{finished:?}");
    let rest = run(key.command(RECV, &["--nowait"]), "");
    assert!(
        rest.stdout.contains("type=2 too long"),
        "nothing lost: {rest:?}"
    );
    remove_queue(&key);
}

#[test]
fn ftok_on_a_missing_path_names_the_path() {
    let key = TestKey::new("mq-nopath");
    let missing = key.path.with_file_name("no-such-key-file");
    let mut command = std::process::Command::new(RECV);
    command.arg("--key-path").arg(&missing);
    let finished = run(command, "");
    let path = missing.display().to_string();
    assert_one_line_failure(
        &finished,
        &[&format!("ftok {path}: ENOENT"), "the key file must exist"],
    );
    assert!(
        !missing.exists(),
        "a path given with --key-path is never created"
    );
}

#[test]
fn removing_the_queue_under_a_blocked_recv_ends_it_cleanly_with_eidrm() {
    let key = TestKey::new("mq-eidrm");
    let mut recv = Running::spawn(key.command(RECV, &[]));
    let created = recv.expect_line("recv: created queue");
    recv.expect_line("waiting for messages");
    // Removed before recv's msgrcv starts, the queue would give EINVAL, not EIDRM.
    wait_until_blocked_in_msgrcv(recv.pid());
    let removed = run(key.command(MSG_RM, &[]), "");
    assert!(removed.status.success(), "{removed:?}");
    let line = recv.expect_line("the queue was removed");
    assert!(line.contains("EIDRM"), "{line}");
    let finished = recv.wait();
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
    assert!(finished.stderr.is_empty(), "{finished:?}");
    assert!(!queue_exists(id_in(&created)));
}

#[test]
fn a_full_queue_with_nowait_says_queue_full() {
    let key = TestKey::new("mq-full");
    // Messages of `body` bytes (the text and its NUL): `fit` of them fill a new queue of
    // msgmnb bytes, and the next one finds no room.
    let Limits { msgmax, msgmnb, .. } = limits();
    let body = msgmax.min(msgmnb);
    let fit = msgmnb / body;
    let line = "y".repeat(body - 1);
    let input = format!("{line}\n").repeat(fit + 1);
    let finished = run(key.command(SEND, &["--create", "--nowait", "6"]), &input);
    assert_failure_starts(&finished, "send: msgsnd: EAGAIN");
    assert_one_line_failure(
        &finished,
        &[
            "the queue is full",
            &format!("message {} was not sent", fit + 1),
        ],
    );
    let queue = msgget(key.key(), 0).expect("the queue is still there");
    assert_eq!(
        queue.msgctl_stat().unwrap().messages,
        fit as u64,
        "the ones that fit are still queued"
    );
    drop(queue);
    remove_queue(&key);
}

#[test]
fn a_queue_of_your_own_that_others_may_write_to_is_used_with_a_one_line_warning() {
    let key = TestKey::new("mq-0666");
    // As a C program of yours makes it: mode 0666 (the notes' 0664 is in permissions.rs). The
    // test's handle created it, so it removes it on drop.
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o666;
    let queue = msgget(key.key(), flags).unwrap();
    let warning = "has mode 0666, which lets your group and every other user write to it";
    let sent = run(key.command(SEND, &["1", "x"]), "");
    assert!(sent.status.success(), "{sent:?}");
    assert_eq!(sent.stdout.matches(warning).count(), 1, "{sent:?}");
    let received = run(key.command(RECV, &["--nowait"]), "");
    assert!(received.status.success(), "{received:?}");
    assert!(received.stdout.contains(warning), "{received:?}");
    assert!(received.stdout.contains("type=1 x"), "{received:?}");
    assert!(
        queue_exists(queue.id()),
        "recv did not create it, so it stays"
    );
    let removed = run(key.command(MSG_RM, &[]), "");
    assert!(removed.status.success(), "{removed:?}");
    assert!(removed.stdout.contains(warning), "{removed:?}");
    assert!(key.ids().is_empty());
}

#[test]
fn msg_rm_on_a_key_without_a_queue_names_the_key_and_its_file() {
    let key = TestKey::new("mq-rm-nokey");
    let finished = run(key.command(MSG_RM, &[]), "");
    let path = key.path.canonicalize().unwrap();
    assert_failure_starts(
        &finished,
        &format!(
            "msg_rm: no queue has key {} = ftok({path:?}, 'a') (msgget: ENOENT)",
            key.key()
        ),
    );
}

#[test]
fn msg_rm_on_an_id_without_a_queue_says_so_with_one_operation() {
    // Ids are never negative and not this large while fewer than 65536 queues were ever made.
    let finished = run(
        {
            let mut command = std::process::Command::new(MSG_RM);
            command.args(["--id", "2147483646"]);
            command
        },
        "",
    );
    assert_failure_starts(&finished, "msg_rm: msgctl IPC_STAT id=2147483646: EINVAL");
    assert_one_line_failure(&finished, &["no queue has this id"]);
}

#[test]
fn numeric_flags_out_of_range_are_one_usage_line() {
    let key = TestKey::new("mq-ranges");
    let cases: [(&str, &[&str], &str); 4] = [
        (SEND, &["9223372036854775808", "x"], "[TYPE]"),
        (RECV, &["--count", "1000001"], "not in 1..=1000000"),
        (MSG_RM, &["--id=-1"], "not in 0..=2147483647"),
        (MESH, &["--interval-ms", "60001"], "not in 0..=60000"),
    ];
    for (binary, args, needle) in cases {
        let finished = run(key.command(binary, args), "");
        assert_usage_error(&finished, &["invalid value", needle]);
    }
    assert!(key.ids().is_empty());
}

#[test]
fn a_recv_whose_stdout_reader_has_gone_still_removes_its_queue() {
    // The first line recv prints meets a closed pipe. It must stop with one line and still
    // run its cleanup, which removes the queue it created.
    let key = TestKey::new("mq-stdout-gone");
    let finished = run_with_stdout_gone(key.command(RECV, &[]));
    assert_eq!(
        finished.stderr.trim_end(),
        "recv: stopping: nobody reads stdout any more (EPIPE: Broken pipe)"
    );
    assert_eq!(finished.status.code(), Some(1));
    assert!(key.ids().is_empty(), "a queue is left: {:?}", key.ids());
}

#[test]
fn a_receive_size_beyond_any_msgmax_is_one_line_not_an_abort() {
    let key = TestKey::new("mq-huge-size");
    let finished = run(key.command(RECV, &["--max-size", "99999999999999"]), "");
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:?}");
    assert!(
        finished.stderr.contains("--max-size") && finished.stderr.contains("not in 1..=2147483647")
    );
    assert!(key.ids().is_empty());
}
