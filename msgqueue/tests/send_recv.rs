//! send and recv, driven as a student would drive them from two terminals: messages chosen by
//! exact type and by `--below`, stdin lines sent one by one as they arrive (bytes that are
//! not UTF-8 included), the default key file, a recv and a send started in two directories
//! (whose messages name both key files), msg_ls's table, and Ctrl-C on a blocked recv and send.
//! Every test uses a key of its own and checks that no queue is left behind.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{
    RemoveOnDrop, TestKey, assert_one_line_failure, id_in, interrupt, queue_exists,
    wait_until_blocked_in_msgrcv,
};
use msgqueue::{Key, Select, msgget};
use nix::sys::signal::Signal;
use testkit::{Running, TempDir, run, stop_with, wait_until_blocked_in};

const SEND: &str = env!("CARGO_BIN_EXE_send");
const RECV: &str = env!("CARGO_BIN_EXE_recv");
const MSG_RM: &str = env!("CARGO_BIN_EXE_msg_rm");
const MSG_LS: &str = env!("CARGO_BIN_EXE_msg_ls");

fn sent_ok(key: &TestKey, args: &[&str], input: &str) {
    let finished = run(key.command(SEND, args), input);
    assert!(finished.status.success(), "send {args:?}: {finished:?}");
}

#[test]
fn recv_selects_by_exact_type_and_by_lowest_type_below_a_bound() {
    let key = TestKey::new("mq-select");
    sent_ok(&key, &["--create", "3", "three"], "");
    sent_ok(&key, &["1", "one"], "");
    sent_ok(&key, &["2", "two"], "");
    sent_ok(&key, &["1", "uno"], "");

    let exact = run(key.command(RECV, &["--type", "2", "--nowait"]), "");
    assert!(exact.status.success(), "{exact:?}");
    let got: Vec<&str> = exact
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("type="))
        .collect();
    assert_eq!(got, ["type=2 two"]);

    let below = run(key.command(RECV, &["--below", "2", "--nowait"]), "");
    let got: Vec<&str> = below
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("type="))
        .collect();
    assert_eq!(
        got,
        ["type=1 one", "type=1 uno"],
        "lowest type first, in order within a type"
    );

    let rest = run(key.command(RECV, &["--nowait"]), "");
    let got: Vec<&str> = rest
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("type="))
        .collect();
    assert_eq!(got, ["type=3 three"]);
    assert!(
        rest.stdout
            .contains("which another process created; I leave it there")
    );

    // send --create left the queue in the kernel: msg_rm removes it by the same key flags.
    let removed = run(key.command(MSG_RM, &[]), "");
    assert!(removed.status.success(), "{removed:?}");
    assert!(key.ids().is_empty());
}

#[test]
fn a_blocked_recv_prints_messages_as_they_come_and_ctrl_c_removes_its_queue() {
    let key = TestKey::new("mq-block");
    let mut recv = Running::spawn(key.command(RECV, &[]));
    let created = recv.expect_line("recv: created queue");
    recv.expect_line("waiting for messages");
    sent_ok(&key, &["5", "hello", "there"], "");
    recv.expect_line("type=5 hello there");
    sent_ok(&key, &["7"], "line one\nline two\n");
    recv.expect_line("type=7 line one");
    recv.expect_line("type=7 line two");
    wait_until_blocked_in_msgrcv(recv.pid());

    let (finished, took) = interrupt(recv, Signal::SIGINT);
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(took < Duration::from_secs(1), "Ctrl-C took {took:?}");
    assert!(finished.stdout.contains("removed the queue I created"));
    assert!(!queue_exists(id_in(&created)));
}

#[test]
fn sigterm_ends_recv_with_status_143() {
    let key = TestKey::new("mq-term");
    let mut recv = Running::spawn(key.command(RECV, &["--type", "9"]));
    let created = recv.expect_line("recv: created queue");
    recv.expect_line("waiting for messages");
    wait_until_blocked_in_msgrcv(recv.pid());
    let (finished, took) = interrupt(recv, Signal::SIGTERM);
    assert_eq!(finished.status.code(), Some(143), "{finished:?}");
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
    assert!(!queue_exists(id_in(&created)));
}

#[test]
fn with_no_arguments_the_notes_key_file_is_created_in_the_current_directory() {
    let dir = TempDir::new("mq-default");
    let mut recv = Command::new(RECV);
    recv.current_dir(dir.path()).arg("--nowait");
    let finished = run(recv, "");
    assert!(finished.status.success(), "{finished:?}");
    // The example says so, with the absolute path; the library only returns it.
    let file = dir.path().canonicalize().unwrap().join("file");
    assert!(
        finished.stdout.starts_with(&format!(
            "recv: created the key file {}: ftok needs",
            file.display()
        )),
        "{finished:?}"
    );
    assert!(file.exists());
    let created = finished
        .stdout_lines()
        .into_iter()
        .find(|l| l.contains("created queue"))
        .unwrap()
        .to_owned();
    assert!(!queue_exists(id_in(&created)));

    // send with no arguments and no queue: one clear line that says what to do.
    let mut send = Command::new(SEND);
    send.current_dir(dir.path());
    let refused = run(send, "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stderr.contains("start `recv` first"), "{refused:?}");
}

#[test]
fn send_sends_each_line_as_it_arrives_and_a_signal_says_how_many_were_sent() {
    let key = TestKey::new("mq-lines");
    let mut recv = Running::spawn(key.command(RECV, &[]));
    let created = recv.expect_line("recv: created queue");
    recv.expect_line("waiting for messages");
    let mut send = Running::spawn(key.command(SEND, &["6"]));
    send.expect_line("sending each line of stdin as it arrives");
    for line in ["first", "second"] {
        // stdin stays open: each line must go out before the next one is even written.
        send.write_line(line).unwrap();
        send.expect_line(&format!("send: sent type=6 {line}"));
        recv.expect_line(&format!("type=6 {line}"));
    }
    wait_until_blocked_in(send.pid(), libc::SYS_read);
    // stop_with, not interrupt: that closes stdin first, and send would end at end of input.
    let finished = stop_with(send, Signal::SIGINT);
    assert!(
        finished
            .stdout
            .contains("send: got SIGINT after sending 2 messages; stopping"),
        "{finished:?}"
    );
    wait_until_blocked_in_msgrcv(recv.pid());
    let (finished, _) = interrupt(recv, Signal::SIGTERM);
    assert_eq!(finished.status.code(), Some(143), "{finished:?}");
    assert!(!queue_exists(id_in(&created)));
}

#[test]
fn a_line_that_is_not_utf8_is_sent_as_bytes_between_the_others() {
    let key = TestKey::new("mq-bytes");
    let input = key.path.with_file_name("input");
    std::fs::write(&input, b"before\n\xff\xfe not UTF-8\nafter\n").unwrap();
    // exec: the example runs as the shell's process, with the file as its stdin.
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "exec \"$0\" --key-path \"$1\" --create 7 < \"$2\"",
            SEND,
        ])
        .arg(&key.path)
        .arg(&input);
    let finished = run(command, "");
    let created = finished
        .stdout_lines()
        .into_iter()
        .find(|line| line.contains("created queue"))
        .map(id_in);
    let _cleanup = created.map(RemoveOnDrop);
    assert!(finished.status.success(), "{finished:?}");
    assert_eq!(finished.stdout.matches("send: sent type=7").count(), 3);
    let queue = msgget(key.key(), 0).expect("send --create leaves its messages queued");
    let bodies: Vec<Vec<u8>> = (0..3)
        .map(|_| {
            let message = queue.msgrcv(Select::Any, 64, libc::IPC_NOWAIT).unwrap();
            assert_eq!(message.mtype, 7);
            message.bytes
        })
        .collect();
    assert_eq!(
        bodies,
        [
            b"before\0".to_vec(),
            b"\xff\xfe not UTF-8\0".to_vec(),
            b"after\0".to_vec()
        ]
    );
}

#[test]
fn send_create_makes_the_default_key_file_in_an_empty_directory() {
    // As a student would run it first: `send --create` where no ./file exists yet.
    let dir = TempDir::new("mq-send-create-keyfile");
    let mut command = Command::new(SEND);
    command
        .current_dir(dir.path())
        .args(["--create", "5", "hi"]);
    let finished = run(command, "");
    let key_file = dir.path().join("file");
    let key: Option<Key> = key_file
        .exists()
        .then(|| sysv::ftok(&key_file, b'a').expect("ftok"));
    // Removed first, so that a failed assertion below leaks nothing.
    let left = common::queue_ids(|object| Some(object.key) == key);
    for id in &left {
        drop(RemoveOnDrop(*id));
    }
    assert!(finished.status.success(), "{finished:?}");
    let absolute = dir.path().canonicalize().unwrap().join("file");
    assert!(
        finished.stdout.contains(&format!(
            "send: created the key file {}",
            absolute.display()
        )),
        "{finished:?}"
    );
    assert_eq!(
        left.len(),
        1,
        "send --create leaves its message queued: {finished:?}"
    );
}

#[test]
fn a_send_started_in_another_directory_names_both_key_files_and_keys() {
    // A student starts recv in one directory and send in another: two ./file, two keys.
    let recv_dir = TempDir::new("mq-dir-recv");
    let send_dir = TempDir::new("mq-dir-send");
    let recv_file = recv_dir.path().canonicalize().unwrap().join("file");
    let send_file = send_dir.path().canonicalize().unwrap().join("file");
    // send's directory has its ./file from an earlier run.
    std::fs::write(&send_file, b"").unwrap();
    let mut command = Command::new(RECV);
    command.current_dir(recv_dir.path());
    let mut recv = Running::spawn(command);
    let created = recv.expect_line("recv: created queue");
    let _cleanup = RemoveOnDrop(id_in(&created));
    let recv_key = sysv::ftok(&recv_file, b'a').unwrap();
    assert!(
        created.contains(&format!("key {recv_key} = ftok({recv_file:?}, 'a')")),
        "{created}"
    );
    recv.expect_line("waiting for messages");

    let mut command = Command::new(SEND);
    command.current_dir(send_dir.path()).args(["1", "hello"]);
    let refused = run(command, "");
    let send_key = sysv::ftok(&send_file, b'a').unwrap();
    assert_ne!(send_key, recv_key);
    assert_one_line_failure(
        &refused,
        &[
            &format!("send: msgget key {send_key} = ftok({send_file:?}, 'a'): ENOENT"),
            "start `recv` first with the same key file",
            &format!("--key-path {}", send_file.display()),
            "pass --create to make a NEW queue with this key",
        ],
    );
    wait_until_blocked_in_msgrcv(recv.pid());
    let (finished, _) = interrupt(recv, Signal::SIGINT);
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert!(!queue_exists(id_in(&created)));
}

#[test]
fn msg_ls_keeps_its_columns_aligned_for_the_ids_the_kernel_gives() {
    let queue = msgget(Key::PRIVATE, libc::IPC_CREAT | 0o600).expect("msgget IPC_PRIVATE");
    queue.msgsnd(1, b"hi\0", libc::IPC_NOWAIT).unwrap();
    let id = queue.id().to_string();
    let mut command = Command::new(MSG_LS);
    command.arg("--quiet");
    let listed = run(command, "");
    assert!(listed.status.success(), "{listed:?}");
    let lines = listed.stdout_lines();
    let header = lines[0];
    let row = lines
        .iter()
        .find(|line| line.split_whitespace().nth(1) == Some(id.as_str()))
        .unwrap_or_else(|| panic!("a row for id {id}: {listed:?}"));
    // Each right-aligned number ends where its header ends, however many digits it has.
    let end = |column: &str| header.find(column).unwrap() + column.len();
    assert_eq!(&row[end("id") - id.len()..end("id")], id, "{listed:?}");
    assert_eq!(
        &row[end("messages") - 1..end("messages")],
        "1",
        "{listed:?}"
    );
    assert_eq!(&row[end("bytes") - 1..end("bytes")], "3", "{listed:?}");
    let mode = header.find("mode").unwrap();
    assert_eq!(&row[mode..mode + 4], "0600", "{listed:?}");
}
