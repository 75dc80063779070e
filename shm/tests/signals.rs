//! The signal table: every long-running binary of the crate × SIGINT, SIGTERM and SIGHUP × the
//! state in which it waits for its peer. Each case brings the example to the state, checks in
//! /proc that it really sleeps in the system call the row names, sends the signal to the
//! example's main pid only, and then checks: exit within a second with 128 + n, no process left
//! in its group, and nothing left in /proc/sysvipc/{shm,sem} by the example (a segment the test
//! made is the test's to remove). Every case has a key of its own, so the three signals of a
//! row run in parallel.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, id_in, segment_exists};
use shm::{Access, ShmEntry, shmget};
use testkit::{Running, signal_row, stop_with, wait_until_blocked_in};

const SERVER: &str = env!("CARGO_BIN_EXE_shm_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_shm_client");

#[test]
fn shm_server_waiting_for_its_client() {
    signal_row("shm_server in futex, no client yet", |signal| {
        let key = TestKey::new("shm-sig-server");
        let mut server = Running::spawn(key.command(SERVER, &[]));
        let id = id_in(&server.expect_line("created segment id="));
        server.expect_line("waiting for shm_client");
        wait_until_blocked_in(server.pid(), libc::SYS_futex);
        let finished = stop_with(server, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("shm_server: got {signal}; stopping")),
            "{finished:?}"
        );
        assert!(!segment_exists(id), "the server removed segment id={id}");
    });
}

#[test]
fn shm_client_waiting_for_a_line() {
    signal_row("shm_client in poll of stdin, server attached", |signal| {
        let key = TestKey::new("shm-sig-client-read");
        let mut server = Running::spawn(key.command(SERVER, &[]));
        let id = id_in(&server.expect_line("created segment id="));
        let mut client = Running::spawn(key.command(CLIENT, &[]));
        client.expect_line("type lines");
        wait_until_blocked_in(client.pid(), testkit::SYS_POLL);
        stop_with(client, signal);
        server.expect_line("the client detached after 0 messages");
        assert!(server.wait().status.success());
        assert!(!segment_exists(id), "the server removed segment id={id}");
    });
}

#[test]
fn shm_client_waiting_for_a_server_that_never_reads() {
    signal_row("shm_client in futex, its turn never comes", |signal| {
        let key = TestKey::new("shm-sig-client-turn");
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
        let segment = shmget(key.key(), size_of::<ShmEntry>(), flags).unwrap();
        let _attached = segment.shmat(Access::ReadWrite).unwrap(); // a server that sleeps
        let mut client = Running::spawn(key.command(CLIENT, &[]));
        client.expect_line("type lines");
        client.write_line("first: taken by nobody").unwrap();
        client.write_line("second: waits for its turn").unwrap();
        wait_until_blocked_in(client.pid(), libc::SYS_futex);
        stop_with(client, signal);
        assert_eq!(
            segment.shmctl_stat().unwrap().nattch,
            1,
            "the client detached"
        );
    });
}

const READ: &str = env!("CARGO_BIN_EXE_shmread");
const WRITE: &str = env!("CARGO_BIN_EXE_shmwrite");

#[test]
fn shmread_waiting_for_its_writer() {
    signal_row("shmread in futex, no writer yet", |signal| {
        let key = TestKey::new("shm-sig-read");
        let mut reader = Running::spawn(key.command(READ, &[]));
        let id = id_in(&reader.expect_line("created segment id="));
        reader.expect_line("waiting for shmwrite");
        wait_until_blocked_in(reader.pid(), libc::SYS_futex);
        stop_with(reader, signal);
        assert!(!segment_exists(id), "the reader removed segment id={id}");
    });
}

#[test]
fn shmwrite_waiting_for_a_line() {
    signal_row("shmwrite in poll of stdin, reader attached", |signal| {
        let key = TestKey::new("shm-sig-write");
        let mut reader = Running::spawn(key.command(READ, &[]));
        let id = id_in(&reader.expect_line("created segment id="));
        let mut writer = Running::spawn(key.command(WRITE, &[]));
        writer.expect_line("enter some text");
        wait_until_blocked_in(writer.pid(), testkit::SYS_POLL);
        stop_with(writer, signal);
        let finished = reader.wait();
        assert!(
            finished.stderr.contains("without sending \"end\""),
            "{finished:?}"
        );
        assert!(!segment_exists(id), "the reader removed segment id={id}");
    });
}

const COMM_SERVER: &str = env!("CARGO_BIN_EXE_comm_server");
const COMM_CLIENT: &str = env!("CARGO_BIN_EXE_comm_client");

#[test]
fn comm_server_waiting_for_its_client() {
    signal_row("comm_server in futex, no client yet", |signal| {
        let key = TestKey::new("shm-sig-comm-server");
        let mut server = Running::spawn(key.command(COMM_SERVER, &[]));
        let id = id_in(&server.expect_line("created segment id="));
        server.expect_line("waiting for comm_client");
        wait_until_blocked_in(server.pid(), libc::SYS_futex);
        stop_with(server, signal);
        assert!(!segment_exists(id), "the server removed segment id={id}");
    });
}

#[test]
fn comm_server_between_two_as() {
    signal_row("comm_server in poll, growing the string", |signal| {
        let key = TestKey::new("shm-sig-comm-grow");
        let mut server = Running::spawn(key.command(COMM_SERVER, &["--every", "10000"]));
        let id = id_in(&server.expect_line("created segment id="));
        let mut client = Running::spawn(key.command(COMM_CLIENT, &[]));
        client.expect_line("attached segment");
        server.expect_line("comm_client attached");
        wait_until_blocked_in(server.pid(), testkit::SYS_POLL);
        stop_with(server, signal);
        let finished = client.wait();
        assert!(
            finished
                .stdout
                .contains("comm_server ended and removed the segment, at 0"),
            "{finished:?}"
        );
        assert!(!segment_exists(id), "the server removed segment id={id}");
    });
}

#[test]
fn comm_client_waiting_for_the_string_to_grow() {
    signal_row("comm_client in futex, the string never grows", |signal| {
        let key = TestKey::new("shm-sig-comm-client");
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
        let segment = shmget(key.key(), shm::COMM_SIZE, flags).unwrap();
        let _attached = segment.shmat(Access::ReadWrite).unwrap(); // a server that sleeps
        let mut client = Running::spawn(key.command(COMM_CLIENT, &[]));
        client.expect_line("attached segment");
        wait_until_blocked_in(client.pid(), libc::SYS_futex);
        stop_with(client, signal);
        assert_eq!(
            segment.shmctl_stat().unwrap().nattch,
            1,
            "the client detached"
        );
    });
}

const TOUR: &str = env!("CARGO_BIN_EXE_shm_tour");

#[test]
fn shm_tour_paused_with_children_attached() {
    signal_row("shm_tour in read, paused with a child attached", |signal| {
        let key = TestKey::new("shm-sig-tour");
        let mut tour = Running::spawn(key.command(TOUR, &["--pause", "--children", "2"]));
        let id = id_in(&tour.expect_line("created segment id="));
        for _ in 0..3 {
            tour.expect_line("press Enter");
            tour.write_line("").unwrap();
        }
        tour.expect_line("child 1 (pid"); // detached; child 2 is still attached
        tour.expect_line("press Enter");
        wait_until_blocked_in(tour.pid(), libc::SYS_read);
        stop_with(tour, signal);
        assert!(!segment_exists(id), "the tour removed segment id={id}");
    });
}
