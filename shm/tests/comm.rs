//! `comm_server` and `comm_client` (the notes' third pair): the string grows and the client prints
//! each length it sees; either side notices the other's end; bad flags are refused. No segment is
//! left behind.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, assert_one_line_failure, id_in, segment_exists};
use nix::sys::signal::Signal;
use shm::{COMM_SIZE, shmget};
use testkit::{Running, assert_refused_out_of_range, run};

const SERVER: &str = env!("CARGO_BIN_EXE_comm_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_comm_client");

fn start_server(key: &TestKey, args: &[&str]) -> (Running, i32) {
    let mut server = Running::spawn(key.command(SERVER, args));
    let id = id_in(&server.expect_line("comm_server: created segment id="));
    server.expect_line("waiting for comm_client");
    (server, id)
}

/// The `length N: AAA` lines: each N, checked against the string printed after it.
fn lengths(stdout: &str) -> Vec<usize> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("comm_client: length "))
        .map(|rest| {
            let (number, string) = rest.split_once(": ").expect("length N: string");
            let number: usize = number.parse().expect("a length");
            assert_eq!(string.len(), number, "the printed length is the string's");
            assert!(string.bytes().all(|byte| byte == b'A'), "{string:?}");
            number
        })
        .collect()
}

#[test]
fn the_client_prints_the_string_as_it_grows_and_both_end() {
    let key = TestKey::new("shm-003-grow");
    let (server, id) = start_server(&key, &["--every", "20", "--length", "12"]);
    let client = run(key.command(CLIENT, &[]), "");
    assert!(client.status.success(), "{client:?}");
    let seen = lengths(&client.stdout);
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&12), "the last length: {client:?}");
    assert!(
        client
            .stdout
            .contains("comm_server ended and removed the segment, at 12 'A's"),
        "{client:?}"
    );
    let finished = server.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stdout.contains("the string has 12 'A's"));
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn a_killed_client_is_noticed_by_the_server() {
    let key = TestKey::new("shm-003-client-killed");
    let (server, id) = start_server(&key, &["--every", "20", "--length", "4000"]);
    let mut client = Running::spawn(key.command(CLIENT, &[]));
    client.expect_line("length 3: AAA");
    client.signal(Signal::SIGKILL);
    client.wait();
    let finished = server.wait();
    assert_one_line_failure(&finished, 1, &["comm_client detached"]);
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn a_killed_server_is_noticed_by_the_client_which_removes_the_segment() {
    let key = TestKey::new("shm-003-server-killed");
    let (server, id) = start_server(&key, &["--every", "20", "--length", "4000"]);
    let mut client = Running::spawn(key.command(CLIENT, &[]));
    client.expect_line("length 3: AAA");
    server.signal(Signal::SIGKILL);
    server.wait();
    let finished = client.wait();
    assert_one_line_failure(&finished, 1, &["comm_server (pid", "was killed at"]);
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn several_clients_each_see_every_a_and_one_killed_ends_nothing() {
    // comm's clients only read: a second one is welcome, unlike a second shm_client.
    let key = TestKey::new("shm-003-clients");
    let (server, id) = start_server(&key, &["--every", "20", "--length", "40"]);
    let mut first = Running::spawn(key.command(CLIENT, &[]));
    first.expect_line("length 2: AA");
    let mut second = Running::spawn(key.command(CLIENT, &[]));
    second.expect_line("comm_client: length");
    let mut third = Running::spawn(key.command(CLIENT, &[]));
    third.expect_line("comm_client: length");
    third.signal(Signal::SIGKILL);
    third.wait();
    for client in [first, second] {
        let finished = client.wait();
        assert!(finished.status.success(), "{finished:?}");
        assert_eq!(lengths(&finished.stdout).last(), Some(&40), "{finished:?}");
    }
    let finished = server.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn a_client_without_a_server_or_with_a_small_segment_is_refused() {
    let key = TestKey::new("shm-003-refused");
    let finished = run(key.command(CLIENT, &[]), "");
    assert_one_line_failure(
        &finished,
        1,
        &["no segment has this key", "start comm_server first"],
    );
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let small = shmget(key.key(), COMM_SIZE / 2, flags).unwrap();
    let finished = run(key.command(CLIENT, &[]), "");
    assert_one_line_failure(&finished, 1, &["has 2048 bytes", "something else"]);
    assert_eq!(small.shmctl_stat().unwrap().nattch, 0, "it detached");
}

#[test]
fn the_mode_flag_sets_the_mode_and_a_taken_key_is_refused() {
    let key = TestKey::new("shm-003-mode");
    let (server, id) = start_server(&key, &["--mode", "640"]);
    let mode = common::segment_ids(|object| object.id == id && object.owner.mode == 0o640);
    assert_eq!(mode, vec![id], "mode 0640 in /proc/sysvipc/shm");
    let second = run(key.command(SERVER, &[]), "");
    assert_one_line_failure(&second, 1, &["exists already", "ipcrm -M"]);
    server.signal(Signal::SIGTERM);
    assert_eq!(server.wait().status.code(), Some(128 + 15));
    assert!(!segment_exists(id), "segment id={id} is left");
}

#[test]
fn out_of_range_flags_are_refused_and_help_names_the_key() {
    let command = |args: &[&str]| {
        let mut command = std::process::Command::new(SERVER);
        command.args(args);
        command
    };
    assert_refused_out_of_range(command(&["--length", "4092"]), "--length");
    assert_refused_out_of_range(command(&["--length", "0"]), "--length");
    assert_refused_out_of_range(command(&["--every", "0"]), "--every");
    assert_refused_out_of_range(command(&["--mode", "1000"]), "--mode");
    for binary in [SERVER, CLIENT] {
        let mut command = std::process::Command::new(binary);
        command.arg("--help");
        let help = run(command, "");
        assert!(help.status.success(), "{help:?}");
        assert!(help.stdout.contains("ftok(\"/tmp\", 0x66)"), "{help:?}");
    }
}

/// The notes' C server, as a thread of this test: it creates the segment, then writes one more
/// 'A' (and the NUL behind it) every 20 ms with plain stores, waking nobody, as the C program
/// does; after `length` of them it marks the segment for removal and detaches.
fn notes_comm_server(key: shm::Key, length: usize) -> std::thread::JoinHandle<()> {
    use std::sync::atomic::Ordering::Release;
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let segment = shmget(key, COMM_SIZE, flags).expect("shmget");
    std::thread::spawn(move || {
        let attached = segment.shmat(shm::Access::ReadWrite).expect("shmat");
        let bytes = attached.bytes();
        // Waits for the client to attach, as the C server's first sleep gives it time to.
        let deadline = std::time::Instant::now() + testkit::DEADLINE;
        while segment.shmctl_stat().expect("IPC_STAT").nattch < 2 {
            assert!(std::time::Instant::now() < deadline, "no client attached");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for at in 0..length {
            bytes[at + 1].store(0, Release);
            bytes[at].store(b'A', Release); // no futex wake: the C server has none
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        segment.mark_for_removal().expect("IPC_RMID");
        attached.shmdt().expect("shmdt");
    })
}

#[test]
fn the_client_follows_a_c_style_server_that_never_wakes_it() {
    let key = TestKey::new("shm-comm-c-server");
    let server = notes_comm_server(key.key(), 8);
    let finished = run(key.command(CLIENT, &[]), "");
    server.join().expect("the C-style server");
    assert!(finished.status.success(), "{finished:?}");
    let seen = lengths(&finished.stdout);
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
    assert_eq!(
        seen.last(),
        Some(&8),
        "the client saw the whole string: {finished:?}"
    );
    assert_eq!(key.ids(), Vec::<i32>::new(), "a segment is left");
}

#[test]
fn the_server_serves_a_c_style_client_that_only_reads() {
    // The notes' C client attaches and reads the string now and then; it never wakes anyone
    // and never writes. The server must still grow the string and end by itself.
    let key = TestKey::new("shm-comm-c-client");
    let (server, id) = start_server(&key, &["--every", "10", "--length", "6"]);
    let segment = shm::Segment::from_id(id);
    let attached = segment.shmat(shm::Access::ReadOnly).expect("shmat");
    let bytes = attached.bytes();
    let deadline = std::time::Instant::now() + testkit::DEADLINE;
    let mut longest = 0;
    while longest < 6 {
        assert!(
            std::time::Instant::now() < deadline,
            "the string stopped at {longest}"
        );
        let length = bytes
            .iter()
            .take_while(|byte| byte.load(std::sync::atomic::Ordering::Acquire) == b'A')
            .count();
        assert!(
            length >= longest,
            "the string shrank from {longest} to {length}"
        );
        longest = length;
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    drop(attached);
    let finished = server.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(!segment_exists(id), "segment id={id} is left");
}
