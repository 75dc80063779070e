//! Sharing a queue by its id instead of a key, the way the course notes describe it:
//! `private_recv --id-file PATH` creates a queue with no key and writes its id into a file;
//! `send --id-file PATH` reads it, and `send --id N` uses an id it was told (or guessed), since
//! an id is valid in every process. msg_ls lists the keyless queue. The id file is new or
//! refused, and goes when private_recv stops; a missing file or a stale id fails in one line.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::{RemoveOnDrop, assert_one_line_failure, assert_usage_error, id_in, queue_exists};
use msgqueue::{Key, msgget};
use testkit::{Running, TempDir, run};

const SEND: &str = env!("CARGO_BIN_EXE_send");
const PRIVATE_RECV: &str = env!("CARGO_BIN_EXE_private_recv");
const RECV: &str = env!("CARGO_BIN_EXE_recv");
const MSG_LS: &str = env!("CARGO_BIN_EXE_msg_ls");

fn command(binary: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.args(args);
    command
}

#[test]
fn a_private_queue_is_reached_through_an_id_file_and_by_its_id() {
    let dir = TempDir::new("mq-private");
    let id_file = dir.path().join("queue.id");
    let id_path = id_file.to_str().expect("a UTF-8 path");
    let mut recv = Running::spawn(command(
        PRIVATE_RECV,
        &["--id-file", id_path, "--count", "2"],
    ));
    let created = recv.expect_line("private_recv: created queue id=");
    let id = id_in(&created);
    let _cleanup = RemoveOnDrop(id);
    assert!(created.contains("(IPC_PRIVATE)"), "{created}");
    assert!(
        created.contains(&format!("`send --id {id}` reaches it")),
        "{created}"
    );
    recv.expect_line(&format!("private_recv: wrote the id {id} into {id_path}"));
    assert_eq!(
        std::fs::read_to_string(&id_file).unwrap(),
        format!("{id}\n")
    );

    // msg_ls shows the queue: it has no key, but it is no secret.
    let listed = run(command(MSG_LS, &[]), "");
    let row = listed
        .stdout_lines()
        .into_iter()
        .find(|line| line.split_whitespace().nth(1) == Some(&id.to_string()))
        .map(str::to_owned)
        .expect("msg_ls lists the private queue");
    assert!(row.starts_with("IPC_PRIVATE"), "{row}");
    assert!(row.contains("no key: reached by its id"), "{row}");

    let by_file = run(command(SEND, &["--id-file", id_path, "1", "by file"]), "");
    assert!(by_file.status.success(), "{by_file:?}");
    assert!(
        by_file
            .stdout
            .contains(&format!("send: opened queue id={id}\n"))
    );
    let by_id = run(command(SEND, &["--id", &id.to_string(), "2", "by id"]), "");
    assert!(by_id.status.success(), "{by_id:?}");

    let finished = recv.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stdout.contains("type=1 by file\ntype=2 by id\n"));
    assert!(
        !queue_exists(id),
        "private_recv removes the queue it created"
    );
    assert!(
        !id_file.exists(),
        "private_recv removes the id file it wrote"
    );
}

#[test]
fn an_id_file_that_exists_is_refused_and_the_new_queue_removed() {
    let dir = TempDir::new("mq-private-taken");
    let id_file = dir.path().join("queue.id");
    std::fs::write(&id_file, "7\n").unwrap();
    let finished = run(
        command(PRIVATE_RECV, &["--id-file", id_file.to_str().unwrap()]),
        "",
    );
    assert_one_line_failure(&finished, &["write the id file", "it exists already"]);
    assert_eq!(
        std::fs::read_to_string(&id_file).unwrap(),
        "7\n",
        "untouched"
    );
    let created = id_in(&finished.stdout);
    assert!(!queue_exists(created), "the queue recv made is removed");
}

#[test]
fn a_missing_id_file_and_a_stale_id_fail_in_one_line() {
    let dir = TempDir::new("mq-private-missing");
    let missing = dir.path().join("nobody-wrote-this.id");
    let finished = run(
        command(SEND, &["--id-file", missing.to_str().unwrap(), "1", "x"]),
        "",
    );
    assert_one_line_failure(&finished, &["read the id file", "private_recv --id-file"]);

    // An id whose queue is gone: take a fresh one and remove it.
    let gone = msgget(Key::PRIVATE, libc::IPC_CREAT | 0o600).expect("msgget");
    let id = gone.id();
    gone.msgctl_rmid().expect("IPC_RMID");
    let stale = dir.path().join("stale.id");
    std::fs::write(&stale, format!("{id}\n")).unwrap();
    let finished = run(
        command(SEND, &["--id-file", stale.to_str().unwrap(), "1", "x"]),
        "",
    );
    assert_one_line_failure(&finished, &["EINVAL", "no queue has this id"]);

    std::fs::write(&stale, "twelve\n").unwrap();
    let finished = run(
        command(SEND, &["--id-file", stale.to_str().unwrap(), "1", "x"]),
        "",
    );
    assert_one_line_failure(&finished, &["is not a queue id"]);
}

#[test]
fn an_id_replaces_the_key_flags() {
    let both = run(command(SEND, &["--id", "3", "--key", "1234", "1", "x"]), "");
    assert_usage_error(&both, &["--id"]);
    let create = run(
        command(SEND, &["--id-file", "/x", "--create", "1", "x"]),
        "",
    );
    assert_usage_error(&create, &["--create"]);
    // The id is private_recv's way; recv only knows keys.
    let private = run(command(RECV, &["--private"]), "");
    assert_usage_error(&private, &["--private"]);
}

#[test]
fn private_recv_runs_with_no_arguments_and_leaves_nothing() {
    let dir = TempDir::new("mq-private-default");
    let mut recv = Running::spawn({
        let mut command = command(PRIVATE_RECV, &["--count", "1"]);
        command.current_dir(dir.path());
        command
    });
    let id = id_in(&recv.expect_line("private_recv: created queue id="));
    let _cleanup = RemoveOnDrop(id);
    recv.expect_line("into ./queue.id");
    let id_file = dir.path().join("queue.id");
    let sent = run(
        command(SEND, &["--id-file", id_file.to_str().unwrap(), "3", "hi"]),
        "",
    );
    assert!(sent.status.success(), "{sent:?}");
    let finished = recv.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stdout.contains(
            "type=3 hi
"
        ),
        "{finished:?}"
    );
    assert!(!queue_exists(id) && !id_file.exists(), "nothing is left");
}
