//! `shm_server` and `shm_client` (the notes' first pair) driven as a student would, each other's
//! peer and each against a C-style peer that wakes nobody; bad input and faults, each one line on
//! stderr and a non-zero status. No segment is left behind.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{
    TestKey, assert_one_line_failure, id_in, notes_client, notes_server, run_raw, segment_exists,
};
use nix::sys::signal::Signal;
use shm::shmget;
use testkit::{Running, run};

const SERVER: &str = env!("CARGO_BIN_EXE_shm_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_shm_client");
const BARE: &str = env!("CARGO_BIN_EXE_bare_shm");

#[test]
fn bare_shm_writes_the_child_reads_and_the_segment_goes() {
    let finished = run(Command::new(BARE), "");
    assert!(finished.status.success(), "{finished:?}");
    let id = id_in(&finished.stdout);
    let lines = finished.stdout_lines();
    assert_eq!(
        lines[2],
        "child: can_read=true, read \"hello through shared memory\""
    );
    assert!(!segment_exists(id), "segment id={id} is left");
}

/// Starts shm_server with `key` and returns it with its segment's id.
fn start_server(key: &TestKey) -> (Running, i32) {
    let mut server = Running::spawn(key.command(SERVER, &[]));
    let id = id_in(&server.expect_line("shm_server: created segment id="));
    server.expect_line("waiting for shm_client");
    (server, id)
}

#[test]
fn every_message_arrives_once_in_order_and_the_end_of_input_ends_both() {
    let key = TestKey::new("shm-000-order");
    let (server, id) = start_server(&key);
    let input: String = (1..=200).map(|n| format!("message {n}\n")).collect();
    let client = run(key.command(CLIENT, &[]), &input);
    assert!(client.status.success(), "{client:?}");
    assert!(
        client
            .stdout
            .contains("the server has read all 200 messages"),
        "{client:?}"
    );
    let finished = server.wait();
    assert!(finished.status.success(), "{finished:?}");
    let received: Vec<&str> = finished
        .stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("Received message: "))
        .collect();
    let expected: Vec<String> = (1..=200)
        .map(|n| format!("Received message: message {n}"))
        .collect();
    assert_eq!(received, expected);
    assert!(
        finished
            .stdout
            .contains("the client detached after 200 messages")
    );
    assert!(!segment_exists(id), "the server removed segment id={id}");
}

#[test]
fn non_utf8_passes_byte_exact_and_a_long_line_is_split_not_cut() {
    let key = TestKey::new("shm-000-bytes");
    let (ready, started) = std::sync::mpsc::channel();
    let server_command = key.command(SERVER, &[]);
    let server = std::thread::spawn(move || {
        let outcome = run_raw(server_command, b"");
        ready.send(()).ok();
        outcome
    });
    // The server creates the segment; the client needs it.
    let deadline = std::time::Instant::now() + testkit::DEADLINE;
    while key.ids().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no segment");
        std::thread::sleep(Duration::from_millis(1));
    }
    let long = vec![b'x'; 5000];
    let mut input = b"caf\xe9 \xff\xfe\n".to_vec();
    input.extend_from_slice(&long);
    input.extend_from_slice(b"\n\nlast");
    let (status, stdout, _) = run_raw(key.command(CLIENT, &[]), &input);
    assert!(status.success());
    let said = String::from_utf8_lossy(&stdout);
    assert!(
        said.contains("line 2 has 5000 bytes, over 2047: sent in 3 parts"),
        "{said}"
    );
    started
        .recv_timeout(testkit::DEADLINE)
        .expect("server ended");
    let (status, stdout, _) = server.join().unwrap();
    assert!(status.success());
    let mut expected = b"Received message: caf\xe9 \xff\xfe\n".to_vec();
    for part in long.chunks(2047) {
        expected.extend_from_slice(b"Received message: ");
        expected.extend_from_slice(part);
        expected.push(b'\n');
    }
    expected.extend_from_slice(b"Received message: \nReceived message: last\n");
    let start = stdout.windows(9).position(|w| w == b"Received ").unwrap();
    let end = stdout.len()
        - stdout
            .iter()
            .rev()
            .skip(1)
            .position(|&b| b == b'\n')
            .unwrap()
        - 1;
    assert_eq!(&stdout[start..end], &expected[..]);
}

#[test]
fn the_server_notices_a_c_style_client_that_never_wakes_it() {
    let key = TestKey::new("shm-000-cpeer");
    let (server, id) = start_server(&key);
    let messages: Vec<Vec<u8>> = (1..=20)
        .map(|n| format!("from C {n}").into_bytes())
        .collect();
    let latencies = notes_client(key.key(), messages).join().unwrap();
    let finished = server.wait();
    assert!(finished.status.success(), "{finished:?}");
    for n in 1..=20 {
        assert!(
            finished
                .stdout
                .contains(&format!("Received message: from C {n}\n")),
            "the newline fgets keeps is dropped: {finished:?}"
        );
    }
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    assert!(
        mean < Duration::from_millis(60),
        "the polling fallback looks every 15 ms; mean {mean:?}"
    );
    assert!(!segment_exists(id));
}

#[test]
fn the_client_works_with_a_c_style_server_that_never_wakes_it() {
    let key = TestKey::new("shm-000-speer");
    let (id, peer) = notes_server(key.key(), 5);
    let input: String = (1..=5).map(|n| format!("to C {n}\n")).collect();
    let client = run(key.command(CLIENT, &[]), &input);
    assert!(client.status.success(), "{client:?}");
    let got = peer.join().unwrap();
    let expected: Vec<Vec<u8>> = (1..=5).map(|n| format!("to C {n}").into_bytes()).collect();
    assert_eq!(got, expected);
    assert!(!segment_exists(id), "the peer's segment went with it");
}

#[test]
fn a_killed_server_is_noticed_by_the_client_which_removes_the_segment() {
    let key = TestKey::new("shm-000-kill-server");
    let (server, id) = start_server(&key);
    let mut server = server;
    let mut client = Running::spawn(key.command(CLIENT, &[]));
    client.expect_line("type lines");
    client.write_line("one").unwrap();
    server.expect_line("Received message: one");
    server.signal(Signal::SIGKILL);
    drop(server.wait());
    client.write_line("two").unwrap(); // left in the segment; nobody will read it
    client.close_stdin();
    let finished = client.wait();
    assert_one_line_failure(&finished, 1, &["was killed", "removed the segment it left"]);
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn a_killed_client_ends_the_server_which_names_it_and_fails() {
    let key = TestKey::new("shm-000-kill-client");
    let (mut server, id) = start_server(&key);
    let mut client = Running::spawn(key.command(CLIENT, &[]));
    client.expect_line("type lines");
    client.write_line("one").unwrap();
    server.expect_line("Received message: one");
    client.signal(Signal::SIGKILL);
    drop(client.wait());
    // Its claim still holds its pid: it did not end, it was killed.
    let finished = server.wait();
    assert_one_line_failure(
        &finished,
        1,
        &["shm_client (pid", "was killed after 1 message"],
    );
    assert!(!segment_exists(id));
}

#[test]
fn a_segment_too_small_or_foreign_is_refused_in_one_line() {
    let key = TestKey::new("shm-000-small");
    let small = shmget(key.key(), 100, libc::IPC_CREAT | libc::IPC_EXCL | 0o600).unwrap();
    let finished = run(key.command(CLIENT, &[]), "hello\n");
    assert_one_line_failure(&finished, 1, &["100 bytes", "the struct needs 2049"]);
    let finished = run(key.command(SERVER, &[]), "");
    assert_one_line_failure(&finished, 1, &["EEXIST", "ipcrm -M"]);
    drop(small);

    let key = TestKey::new("shm-000-foreign");
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let foreign = shmget(key.key(), 2049, flags).unwrap();
    foreign.shmctl_set_owner(65534).unwrap();
    let finished = run(key.command(CLIENT, &[]), "hello\n");
    assert_one_line_failure(&finished, 1, &["belongs to uid 65534", "--accept-foreign"]);
}

#[test]
fn the_client_alone_says_what_it_needs_and_help_works() {
    let key = TestKey::new("shm-000-alone");
    let finished = run(key.command(CLIENT, &[]), "");
    assert_one_line_failure(&finished, 1, &["ENOENT", "start shm_server first"]);
    for binary in [SERVER, CLIENT] {
        let mut command = Command::new(binary);
        command.arg("--help");
        let help = run(command, "");
        assert!(help.status.success());
        assert!(help.stdout.contains("1111"), "{help:?}");
    }
}
