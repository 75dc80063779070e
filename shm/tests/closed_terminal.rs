//! A closed terminal is a stop: each example that reads or writes the terminal runs on a
//! pseudo-terminal of the test's own, the test closes the "window" (the pty's master side), and
//! the example must exit as SIGHUP makes it exit, 129, though no SIGHUP comes: only the
//! terminal's EIO. What it made (segment, semaphore set) is gone once its peer is stopped.

#![forbid(unsafe_code)]

mod common;

use common::TestKey;
use sysv::Kind;
use testkit::{OnTerminal, Running, sysv_ids, wait_until_blocked_in};

const SERVER: &str = env!("CARGO_BIN_EXE_shm_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_shm_client");
const READ: &str = env!("CARGO_BIN_EXE_shmread");
const WRITE: &str = env!("CARGO_BIN_EXE_shmwrite");
const TOUR: &str = env!("CARGO_BIN_EXE_shm_tour");
const XFR_WRITER: &str = env!("CARGO_BIN_EXE_xfr_writer");
const XFR_READER: &str = env!("CARGO_BIN_EXE_xfr_reader");

/// Segments and semaphore sets with the key of `key`.
fn left(key: &TestKey) -> (Vec<i32>, Vec<i32>) {
    let wanted = key.key();
    (
        key.ids(),
        sysv_ids(Kind::Sem, |object| object.key == wanted),
    )
}

/// Removes what an xfr pair left with `key` (a failed test), sets included.
struct SetsToo<'a>(&'a TestKey);

impl Drop for SetsToo<'_> {
    fn drop(&mut self) {
        let wanted = self.0.key();
        for id in sysv_ids(Kind::Sem, |object| object.key == wanted) {
            let _ = sysv::remove(Kind::Sem, id);
        }
    }
}

#[test]
fn shm_client_reading_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("shm-pty-client");
    let mut server = Running::spawn(key.command(SERVER, &[]));
    server.expect_line("waiting for shm_client");
    let mut client = OnTerminal::spawn(key.command(CLIENT, &[]));
    client.expect("type lines");
    wait_until_blocked_in(client.pid(), testkit::SYS_POLL);
    client.close_window();
    client.assert_hung_up();
    server.expect_line("the client detached after 0 messages");
    drop(server.wait());
    assert_eq!(left(&key), (vec![], vec![]));
}

#[test]
fn shmwrite_reading_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("shm-pty-write");
    let mut reader = Running::spawn(key.command(READ, &[]));
    reader.expect_line("waiting for shmwrite");
    let mut writer = OnTerminal::spawn(key.command(WRITE, &[]));
    writer.expect("enter some text");
    wait_until_blocked_in(writer.pid(), testkit::SYS_POLL);
    writer.close_window();
    writer.assert_hung_up();
    let finished = reader.wait();
    assert!(
        !finished.status.success(),
        "shmread got no \"end\": {finished:?}"
    );
    assert_eq!(left(&key), (vec![], vec![]));
}

#[test]
fn shm_tour_paused_on_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("shm-pty-tour");
    let mut tour = OnTerminal::spawn(key.command(TOUR, &["--pause", "--children", "2"]));
    tour.expect("press Enter");
    wait_until_blocked_in(tour.pid(), libc::SYS_read);
    tour.close_window();
    tour.assert_hung_up();
    assert_eq!(left(&key), (vec![], vec![]));
}

#[test]
fn xfr_writer_reading_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("shm-pty-xfr-writer");
    let _sets = SetsToo(&key);
    let mut reader = Running::spawn(key.command(XFR_READER, &["--proj", "a"]));
    let mut writer = OnTerminal::spawn(key.command(XFR_WRITER, &["--proj", "a"]));
    writer.type_line("one");
    assert_eq!(reader.expect_line("one"), "one");
    writer.close_window();
    writer.assert_hung_up();
    let finished = reader.wait();
    assert!(
        !finished.status.success(),
        "the data did not all arrive: {finished:?}"
    );
    assert_eq!(left(&key), (vec![], vec![]));
}

#[test]
fn xfr_reader_printing_to_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("shm-pty-xfr-reader");
    let _sets = SetsToo(&key);
    let mut reader = OnTerminal::spawn(key.command(XFR_READER, &["--proj", "a"]));
    let mut writer = Running::spawn(key.command(XFR_WRITER, &["--proj", "a"]));
    writer.write_line("one").unwrap();
    reader.expect("one");
    reader.close_window();
    // The next line makes the reader print it: to a terminal that is gone.
    writer.write_line("two").unwrap();
    writer.close_stdin();
    reader.assert_hung_up();
    let finished = writer.wait();
    assert!(
        !finished.status.success(),
        "the reader did not print it: {finished:?}"
    );
    assert_eq!(left(&key), (vec![], vec![]));
}

#[test]
fn every_shm_example_on_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("shm-closed-terminal");
    let _sets_too = SetsToo(&key);
    let path = key.path.to_str().expect("a UTF-8 temp path");
    let with_key = ["--key-path", path];
    let xfr_key = ["--key-path", path, "--proj", "a"];
    let programs: [(&str, &[&str]); 11] = [
        (env!("CARGO_BIN_EXE_bare_shm"), &[]),
        (SERVER, &with_key),
        (CLIENT, &with_key),
        (READ, &with_key),
        (WRITE, &with_key),
        (env!("CARGO_BIN_EXE_comm_server"), &with_key),
        (env!("CARGO_BIN_EXE_comm_client"), &with_key),
        (TOUR, &with_key),
        (XFR_WRITER, &xfr_key),
        (XFR_READER, &xfr_key),
        (env!("CARGO_BIN_EXE_vs_mmap"), &[]),
    ];
    testkit::assert_each_stops_on_a_closed_terminal("shm-closed-terminal", &programs);
    assert_eq!(
        left(&key),
        (vec![], vec![]),
        "objects left with the test key"
    );
}
