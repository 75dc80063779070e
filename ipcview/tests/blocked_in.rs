//! Each example's blocking state, as `ipcview --json` shows it: the object, the process on it,
//! the system call it is blocked in (`blocked_in`) and what it waits for. Each test runs the
//! real example with a key or a path of its own, and `--pid` keeps the other tests' objects
//! out of view. Nothing is left: the examples are stopped with SIGTERM (they remove what they
//! made) and the keys remove whatever a failed test left.

#![forbid(unsafe_code)]

mod common;

use common::{example, objects, process, until};
use nix::sys::signal::Signal;
use testkit::{Queues, Running, Segments, Sets, TempDir, TestKey, stop_with};

/// The call glibc's `semop` makes: `semop` where the architecture has it, `semtimedop` where
/// glibc routes it there (x86-64 among them).
fn is_semop(call: &serde_json::Value) -> bool {
    call == "semop" || call == "semtimedop"
}

#[test]
fn recv_on_an_empty_queue_is_blocked_in_msgrcv() {
    let key = TestKey::<Queues>::new("iv-recv");
    let mut recv = Running::spawn(key.command(&example("recv"), &[]));
    recv.expect_line("waiting for messages");
    let pid = recv.pid().as_raw();
    let pid_arg = pid.to_string();
    let (id, entry) = until(&["--filter", "msg", "--pid", &pid_arg], |shown| {
        let queue = objects(shown, "msg").into_iter().next()?;
        let entry = process(queue, pid)?.clone();
        (entry["blocked_in"] == "msgrcv").then(|| (queue["id"].clone(), entry))
    });
    assert_eq!(
        id,
        serde_json::json!(key.ids()[0]),
        "the queue of the test's key"
    );
    assert_eq!(entry["comm"], "recv");
    assert_eq!(entry["state"], "S");
    assert_eq!(entry["role"], "waiting");
    assert_eq!(entry["waits_for"], "a message of any type");
    stop_with(recv, Signal::SIGTERM);
    assert!(key.ids().is_empty(), "recv removes its queue");
}

#[test]
fn pv_waiting_for_a_p_is_in_semop_and_the_set_counts_one_waiter() {
    let key = TestKey::<Sets>::new("iv-pv");
    let pv = example("pv");
    let created = testkit::run(key.command(&pv, &["create", "--values", "0,5"]), "");
    assert!(created.status.success(), "{created:?}");
    let mut waiter = Running::spawn(key.command(&pv, &["op", "0-1"]));
    waiter.expect_line("waiting for semaphore 0");
    let pid = waiter.pid().as_raw();
    let pid_arg = pid.to_string();
    let set = until(&["--filter", "sem", "--pid", &pid_arg], |shown| {
        let set = objects(shown, "sem").into_iter().next()?;
        is_semop(&process(set, pid)?["blocked_in"]).then(|| set.clone())
    });
    let sems = set["details"]["semaphores"]
        .as_array()
        .expect("values seen");
    assert_eq!(sems[0]["value"], 0);
    assert_eq!(
        sems[0]["ncnt"], 1,
        "one process waits for semaphore 0: {set:#}"
    );
    assert_eq!(sems[1]["ncnt"], 0);
    let entry = process(&set, pid).expect("the waiter");
    assert_eq!(entry["role"], "waiting");
    assert_eq!(entry["waits_for"], "P on sem 0 (-1); it is 0 now");
    stop_with(waiter, Signal::SIGTERM);
    // pv create leaves its set for the others; the key removes it.
}

#[test]
fn shm_server_waiting_for_a_client_is_in_futex_on_its_segment() {
    let key = TestKey::<Segments>::new("iv-shm");
    let mut server = Running::spawn(key.command(&example("shm_server"), &[]));
    server.expect_line("waiting for shm_client");
    let pid = server.pid().as_raw();
    let pid_arg = pid.to_string();
    // It looks again every 15 ms for a C client: each look at /proc may find it awake.
    let segment = until(&["--filter", "shm", "--pid", &pid_arg], |shown| {
        let segment = objects(shown, "shm").into_iter().next()?;
        (process(segment, pid)?["blocked_in"] == "futex").then(|| segment.clone())
    });
    assert_eq!(segment["id"], serde_json::json!(key.ids()[0]));
    assert_eq!(segment["details"]["nattch"], 1);
    assert_eq!(segment["details"]["creator_pid"], pid);
    let entry = process(&segment, pid).expect("the server");
    assert_eq!(entry["role"], "attached");
    assert_eq!(
        entry["waits_for"],
        "a futex wake-up on the word at offset 2052"
    );
    stop_with(server, Signal::SIGTERM);
    assert!(key.ids().is_empty(), "shm_server removes its segment");
}

#[test]
fn reader_before_a_writer_is_in_openat_on_its_fifo() {
    let dir = TempDir::new("iv-fifo");
    let path = dir.path().join("mfifo");
    let path_arg = path.to_string_lossy().into_owned();
    let mut command = std::process::Command::new(example("reader"));
    command.args(["--path", &path_arg]);
    let mut reader = Running::spawn(command);
    reader.expect_line("waiting in open()");
    let pid = reader.pid().as_raw();
    let pid_arg = pid.to_string();
    let fifo = until(&["--filter", "fifo", "--pid", &pid_arg], |shown| {
        let fifo = objects(shown, "fifo").into_iter().next()?;
        (process(fifo, pid)?["blocked_in"] == "openat").then(|| fifo.clone())
    });
    assert_eq!(fifo["details"]["path"], path_arg.as_str(), "{fifo:#}");
    assert_eq!(fifo["key"], serde_json::Value::Null);
    let entry = process(&fifo, pid).expect("the reader");
    assert_eq!(entry["role"], "reader");
    assert_eq!(entry["waits_for"], "a writer to open the FIFO");
    stop_with(reader, Signal::SIGTERM);
    assert!(!path.exists(), "reader removes its FIFO");
}

#[test]
fn parent_child_s_pipe_has_the_parent_on_the_write_end_and_the_child_on_the_read_end() {
    let mut command = std::process::Command::new(example("parent_child"));
    command.args(["--count", "2", "--interval-ms", "60000"]);
    let mut run = Running::spawn(command);
    run.expect_line("child:  received 1");
    let parent = run.pid().as_raw();
    let parent_arg = parent.to_string();
    // Its stdin, stdout and stderr are pipes to this test too: the one pipe held by the parent
    // and the child alone is theirs.
    let pipe = until(&["--filter", "pipe", "--pid", &parent_arg], |shown| {
        objects(shown, "pipe").into_iter().find_map(|pipe| {
            let holders = pipe["processes"].as_array()?;
            let ours = holders.len() == 2 && process(pipe, parent).is_some();
            let child = holders.iter().find(|p| p["pid"] != parent)?;
            (ours && child["blocked_in"] == "read").then(|| pipe.clone())
        })
    });
    let writer = process(&pipe, parent).expect("the parent");
    assert_eq!(writer["role"], "writer", "{pipe:#}");
    let child = pipe["processes"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["pid"] != parent))
        .expect("the child");
    let child_pid = child["pid"].as_i64().expect("a pid") as i32;
    assert_eq!(
        common::parent_of(child_pid),
        parent,
        "the other end is its child"
    );
    assert_eq!(child["role"], "reader");
    assert_eq!(child["comm"], "parent_child");
    assert_eq!(child["waits_for"], "data: the pipe is empty");
    assert_eq!(pipe["details"]["read_ends"], 1);
    assert_eq!(pipe["details"]["write_ends"], 1);
    stop_with(run, Signal::SIGTERM);
}
