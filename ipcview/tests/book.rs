//! The book's "ipcview" moments: each mechanism part shows `ipcview --once` taken while its
//! main demo is blocked, from a file under `book/src/<part>/ipcview.txt` that these tests make.
//! Each runs the demo, waits (through `ipcview --json`) until it is in the state the page
//! describes, takes the `--once` text, puts stand-ins for what changes between runs (pids,
//! ids, keys, inodes, the temporary directory, the user's name) and compares it with the file.
//! `IPCVIEW_BLESS=1 cargo test -p ipcview --test book` rewrites the files instead.

#![forbid(unsafe_code)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{IPCVIEW, example, matches_book_file, objects, stand_ins, until};
use nix::sys::signal::{Signal, kill};
use serde_json::Value;
use testkit::{
    OnTerminal, Queues, RemoveOnDrop, Running, Segments, Sets, TempDir, TestKey, stop_with,
};

/// `ipcview --once <args>`, with stand-ins for what `shown` (the `--json` of the same state)
/// names and for `dir`.
fn once(args: &[&str], shown: &Value, dir: Option<&Path>) -> String {
    let mut command = Command::new(IPCVIEW);
    command.arg("--once").args(args);
    let finished = testkit::run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    stand_ins(&finished.stdout, shown, dir)
}

/// The calls of the processes of the first object of `kind`, sorted.
fn calls(shown: &Value, kind: &str) -> Vec<String> {
    let mut calls: Vec<String> = objects(shown, kind)
        .first()
        .and_then(|o| o["processes"].as_array())
        .into_iter()
        .flatten()
        .map(|p| p["blocked_in"].as_str().unwrap_or("-").to_owned())
        .collect();
    calls.sort();
    calls
}

#[test]
fn msgqueue_recv_waiting_on_an_empty_queue() {
    let key = TestKey::<Queues>::new("iv-book-msg");
    let mut recv = Running::spawn(key.command(&example("recv"), &[]));
    recv.expect_line("waiting for messages");
    let pid = recv.pid().as_raw().to_string();
    let args = ["--filter", "msg", "--pid", &pid];
    let shown = until(&args, |shown| {
        (calls(shown, "msg") == ["msgrcv"]).then(|| shown.clone())
    });
    let text = once(&args, &shown, None);
    matches_book_file("msgqueue/ipcview.txt", &text);
    stop_with(recv, Signal::SIGTERM);
}

#[test]
fn semaphore_order_with_b_and_c_waiting_for_their_turns() {
    let mut command = Command::new(example("order"));
    command.args(["--hold-ms", "60000"]);
    let mut order = Running::spawn(command);
    let created = order.expect_line("order: created semaphore set id=");
    let _set = RemoveOnDrop::<Sets>::new(testkit::number_after(&created, "id="));
    order.expect_line("round 1: A writes");
    let pid = order.pid().as_raw().to_string();
    let args = ["--filter", "sem", "--pid", &pid];
    // A holds its turn (asleep for 60 s), B and C wait in semop, the parent waits for them.
    let shown = until(&args, |shown| {
        let calls = calls(shown, "sem");
        let semop = calls.iter().filter(|c| *c == "semop" || *c == "semtimedop");
        let asleep = calls.iter().any(|c| c.ends_with("nanosleep"));
        let ready = calls.len() == 4 && semop.count() == 2 && asleep;
        (ready && calls.iter().any(|c| c == "waitid")).then(|| shown.clone())
    });
    let text = once(&args, &shown, None);
    matches_book_file("semaphore/ipcview.txt", &text);
    stop_with(order, Signal::SIGTERM);
}

#[test]
fn shm_server_waiting_for_its_client() {
    let key = TestKey::<Segments>::new("iv-book-shm");
    let mut server = Running::spawn(key.command(&example("shm_server"), &[]));
    server.expect_line("waiting for shm_client");
    let pid = server.pid().as_raw().to_string();
    let args = ["--filter", "shm", "--pid", &pid];
    // It wakes every 15 ms to look for a C client: wait for a look that finds it asleep.
    let shown = until(&args, |shown| {
        (calls(shown, "shm") == ["futex"]).then(|| shown.clone())
    });
    let text = once(&args, &shown, None);
    let text = if text.contains("futex") {
        text
    } else {
        // Caught awake by --once itself: one look more, after a JSON look that found it asleep.
        let shown = until(&args, |shown| {
            (calls(shown, "shm") == ["futex"]).then(|| shown.clone())
        });
        once(&args, &shown, None)
    };
    matches_book_file("shm/ipcview.txt", &text);
    stop_with(server, Signal::SIGTERM);
}

#[test]
fn fifo_reader_waiting_in_open_for_a_writer() {
    let dir = TempDir::new("iv-book-fifo");
    let mut command = Command::new(example("reader"));
    command.current_dir(dir.path());
    let mut reader = Running::spawn(command);
    reader.expect_line("waiting in open()");
    let pid = reader.pid().as_raw().to_string();
    let args = ["--filter", "fifo", "--pid", &pid];
    let shown = until(&args, |shown| {
        (calls(shown, "fifo") == ["openat"]).then(|| shown.clone())
    });
    let text = once(&args, &shown, Some(dir.path()));
    matches_book_file("fifo/ipcview.txt", &text);
    stop_with(reader, Signal::SIGTERM);
}

#[test]
fn pipes_parent_child_with_the_child_waiting_for_the_next_number() {
    let args = ["--count", "3", "--interval-ms", "60000"];
    let mut run = as_from_a_terminal("parent_child", &args);
    run.expect("child:  received 1");
    let parent = run.pid();
    let pid = parent.as_raw().to_string();
    let args = ["--filter", "pipe", "--pid", &pid];
    let shown = until(&args, |shown| {
        (calls(shown, "pipe") == ["poll", "read"]).then(|| shown.clone())
    });
    let text = once(&args, &shown, None);
    matches_book_file("pipes/ipcview.txt", &text);
    kill(parent, Signal::SIGTERM).expect("kill");
    let status = run.wait_for_exit();
    assert_eq!(status.code(), Some(143), "{status:?}");
}

/// `program args` on a pseudo-terminal, as a student runs it: its stdin, stdout and stderr are
/// the terminal, not pipes, and no other descriptor is open (the test inherits cargo's, such
/// as its jobserver pipe): bash closes every descriptor above 2, then execs it.
fn as_from_a_terminal(program: &str, args: &[&str]) -> OnTerminal {
    let mut command = Command::new("bash");
    let close_the_rest = r#"for fd in /proc/self/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec "$0" "$@""#;
    command
        .args(["-c", close_the_rest, &example(program)])
        .args(args);
    OnTerminal::spawn(command)
}

#[test]
fn process_states_a_stopped_child_inside_read() {
    let mut run = as_from_a_terminal("states", &["--hold", "suspended"]);
    run.expect("press Enter to go on");
    let pid = run.pid().as_raw().to_string();
    let args = ["--filter", "pipe", "--pid", &pid];
    let shown = until(&args, |shown| {
        let pipe = objects(shown, "pipe").into_iter().next()?;
        let states: Vec<&str> = pipe["processes"]
            .as_array()?
            .iter()
            .filter_map(|p| p["state"].as_str())
            .collect();
        (states == ["S", "T"] && calls(shown, "pipe") == ["read", "read"]).then(|| shown.clone())
    });
    let text = once(&args, &shown, None);
    matches_book_file("process-states/ipcview.txt", &text);
    run.type_line("");
    let status = run.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn stand_ins_keep_the_columns() {
    let shown: Value = serde_json::json!({
        "objects": [{"processes": [{"pid": 12917}, {"pid": 7}], "details": {}}]
    });
    let text = "sem        id 3571733  key 0x6100c0e0  owner x  mode 0600\n  \
                > 12917   order  S\n  > 7       order  S  last pid 12917\n";
    assert_eq!(
        stand_ins(text, &shown, None),
        "sem        id <id>  key <key>  owner x  mode 0600\n  \
         > <pid2>  order  S\n  > <pid1>  order  S  last pid <pid2>\n"
    );
}
