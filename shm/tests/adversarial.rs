//! xfr_writer and xfr_reader against what a classroom produces: a semaphore set of another
//! program at their key (the pv exercises, run in the same directory), a set of the wrong
//! shape, and a third process of a role that is taken. Each case asserts: no exit 0 with
//! wrong or missing data, the refusal within the deadline, and the foreign object still there,
//! untouched.

#![forbid(unsafe_code)]

mod common;

use common::TestKey;
use semaphore::SemaphoreSet;
use sysv::Kind;
use testkit::{Running, TempDir, run, sysv_ids, wait_until_blocked_in};

const WRITER: &str = env!("CARGO_BIN_EXE_xfr_writer");
const READER: &str = env!("CARGO_BIN_EXE_xfr_reader");

/// `binary --key-path <file> --proj a <args>`: the test key's 'a', as `pv` uses by default.
fn at(key: &TestKey, binary: &str) -> std::process::Command {
    key.command(binary, &["--proj", "a"])
}

/// A semaphore set with `values`, made at the test key as `pv create --values ...` makes it;
/// removed when dropped.
struct Foreign(SemaphoreSet);

impl Foreign {
    fn at(key: &TestKey, values: &[u16]) -> Foreign {
        Foreign(semaphore::create(key.key(), values).expect("create the foreign set"))
    }

    fn values(&self) -> Vec<u16> {
        self.0
            .semctl_getall()
            .expect("the foreign set is still there")
    }
}

/// The segments and the sets with the test key, but `foreign`.
fn left(key: &TestKey, foreign: i32) -> (Vec<i32>, Vec<i32>) {
    let wanted = key.key();
    let sets = sysv_ids(Kind::Sem, |o| o.key == wanted && o.id != foreign);
    (key.ids(), sets)
}

#[test]
fn a_set_of_another_program_at_the_key_is_refused_used_by_no_one_and_left_as_it_was() {
    for values in [&[0, 0][..], &[5, 5], &[1]] {
        let key = TestKey::new("xfr-foreign-set");
        let foreign = Foreign::at(&key, values);
        let reader = run(at(&key, READER), "");
        let writer = run(at(&key, WRITER), "some data\n");
        for done in [&reader, &writer] {
            assert_eq!(done.status.code(), Some(1), "{values:?}: {done:?}");
            assert!(
                done.stderr.contains("that this pair did not make")
                    && done.stderr.contains("it was left alone"),
                "{values:?}: {done:?}"
            );
            assert!(!done.stdout.contains("some data"), "{done:?}");
        }
        assert_eq!(foreign.values(), values, "the foreign set was changed");
        assert_eq!(left(&key, foreign.0.id()), (vec![], vec![]));
    }
}

#[test]
fn a_set_of_the_wrong_shape_beside_a_live_segment_is_refused_and_left_alone() {
    let key = TestKey::new("xfr-wrong-shape");
    // A segment at the key, made by this (live) test process, and a pv-like set beside it.
    let segment = shm::shmget(key.key(), 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o600)
        .expect("make a segment");
    let foreign = Foreign::at(&key, &[0, 0]);
    let writer = run(at(&key, WRITER), "some data\n");
    assert_eq!(writer.status.code(), Some(1), "{writer:?}");
    assert!(
        writer
            .stderr
            .contains("is not an xfr pair's set (2 semaphores"),
        "{writer:?}"
    );
    assert_eq!(foreign.values(), [0, 0]);
    assert!(
        segment.shmctl_stat().is_ok(),
        "the segment the writer did not make is gone"
    );
    drop(segment);
}

#[test]
fn a_second_reader_is_refused_and_the_first_gets_everything() {
    let key = TestKey::new("xfr-two-readers");
    let mut first = Running::spawn(at(&key, READER));
    first.expect_stderr_line("start xfr_writer");
    let second = run(at(&key, READER), "");
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        second.stderr.contains(&format!(
            "another xfr_reader (pid {}) is already using",
            first.pid()
        )),
        "{second:?}"
    );
    let lines: String = (0..100).map(|n| format!("line {n}\n")).collect();
    let writer = run(at(&key, WRITER), &lines);
    assert!(writer.status.success(), "{writer:?}");
    let done = first.wait();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout, lines,
        "the first reader got every line, in order"
    );
    assert_eq!(left(&key, -1), (vec![], vec![]));
}

#[test]
fn a_second_writer_is_refused_and_the_reader_gets_only_the_first() {
    let key = TestKey::new("xfr-two-writers");
    let mut first = Running::spawn(at(&key, WRITER));
    first.expect_stderr_line("start xfr_reader");
    let second = run(at(&key, WRITER), "from the second writer\n");
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        second.stderr.contains(&format!(
            "another xfr_writer (pid {}) is already using",
            first.pid()
        )),
        "{second:?}"
    );
    let mut reader = Running::spawn(at(&key, READER));
    first.write_line("from the first writer").unwrap();
    assert_eq!(
        reader.expect_line("from the first writer"),
        "from the first writer"
    );
    first.close_stdin();
    assert!(first.wait().status.success());
    let done = reader.wait();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, "from the first writer\n");
    assert_eq!(left(&key, -1), (vec![], vec![]));
}

#[test]
fn by_default_xfr_and_pv_have_different_keys_in_the_same_directory() {
    let dir = TempDir::new("xfr-beside-pv");
    let file = dir.path().join("file");
    std::fs::write(&file, b"").expect("the course notes' ./file");
    // pv's default key there: ftok("./file", 'a'), a set left with values 0, 0.
    let pv_key = sysv::ftok(&file, b'a').expect("ftok");
    let pv_set = semaphore::create(pv_key, &[0, 0]).expect("pv's set");
    let in_dir = |binary: &str| {
        let mut command = std::process::Command::new(binary);
        command.current_dir(dir.path());
        command
    };
    let mut reader = Running::spawn(in_dir(READER));
    reader.expect_stderr_line("ftok(");
    wait_until_blocked_in(reader.pid(), libc::SYS_semtimedop);
    let writer = run(in_dir(WRITER), "through the pair's own set\n");
    assert!(writer.status.success(), "{writer:?}");
    let done = reader.wait();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, "through the pair's own set\n");
    assert!(done.stderr.contains("'x')"), "xfr's own key: {done:?}");
    assert_eq!(pv_set.semctl_getall().expect("pv's set"), [0, 0]);
}

/// Stores `value` into the `written` flag of the segment at the test key, as a stray program
/// (or `python3 -c 'import sysv_ipc ...'`) would.
fn scribble_written(key: &TestKey, value: u32) {
    let segment = shm::shmget(key.key(), 0, 0).expect("the segment at the test key");
    let attached = segment
        .shmat(shm::Access::ReadWrite)
        .expect("shmat the segment");
    let shared = attached
        .view::<shm::SharedUse>()
        .expect("the course notes' struct");
    shared
        .written
        .store(value, std::sync::atomic::Ordering::Release);
}

#[test]
fn garbage_in_the_written_flag_stops_shmread_and_shmwrite_instead_of_hanging() {
    const READ: &str = env!("CARGO_BIN_EXE_shmread");
    const WRITE: &str = env!("CARGO_BIN_EXE_shmwrite");
    // shmread waiting for a line finds 7 in the flag.
    let key = TestKey::new("shm-garbage-read");
    let mut reader = Running::spawn(key.command(READ, &[]));
    reader.expect_line("waiting for shmwrite");
    scribble_written(&key, 7);
    let done = reader.wait();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stderr.contains("holds 7, neither 0 nor 1"), "{done:?}");
    assert_eq!(key.ids(), [], "shmread removes the segment it made");

    // shmwrite with a line to send finds 7 in the flag (its reader is alive).
    let key = TestKey::new("shm-garbage-write");
    let mut reader = Running::spawn(key.command(READ, &[]));
    reader.expect_line("waiting for shmwrite");
    let mut writer = Running::spawn(key.command(WRITE, &[]));
    writer.expect_line("enter some text");
    reader.signal(nix::sys::signal::Signal::SIGSTOP); // it must not take the 7 for a line
    scribble_written(&key, 7);
    writer
        .write_line("a line that cannot be delivered")
        .unwrap();
    let done = writer.wait();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stderr.contains("holds 7, neither 0 nor 1"), "{done:?}");
    reader.signal(nix::sys::signal::Signal::SIGKILL);
    drop(reader.wait());
}

#[test]
fn a_second_shm_client_or_shmwrite_is_refused_and_the_first_delivers_everything() {
    const SERVER: &str = env!("CARGO_BIN_EXE_shm_server");
    const CLIENT: &str = env!("CARGO_BIN_EXE_shm_client");
    let key = TestKey::new("shm-two-clients");
    let mut server = Running::spawn(key.command(SERVER, &[]));
    server.expect_line("waiting for shm_client");
    let mut first = Running::spawn(key.command(CLIENT, &[]));
    first.expect_line("type lines");
    let second = run(key.command(CLIENT, &[]), "from the second client\n");
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        second.stderr.contains(&format!(
            "process {} is the client already; the protocol has one",
            first.pid()
        )),
        "{second:?}"
    );
    for n in 0..50 {
        first.write_line(&format!("line {n}")).unwrap();
    }
    first.close_stdin();
    let sent = first.wait();
    assert!(sent.status.success(), "{sent:?}");
    assert!(sent.stdout.contains("the server has read all 50 messages"));
    let served = server.wait();
    let got: Vec<&str> = served
        .stdout_lines()
        .into_iter()
        .filter(|line| line.contains("Received message:"))
        .collect();
    assert_eq!(got.len(), 50, "{served:?}");
    assert!(
        !served.stdout.contains("from the second client"),
        "{served:?}"
    );

    const READ: &str = env!("CARGO_BIN_EXE_shmread");
    const WRITE: &str = env!("CARGO_BIN_EXE_shmwrite");
    let key = TestKey::new("shm-two-writers");
    let mut reader = Running::spawn(key.command(READ, &[]));
    reader.expect_line("waiting for shmwrite");
    let mut first = Running::spawn(key.command(WRITE, &[]));
    first.expect_line("enter some text");
    let second = run(key.command(WRITE, &[]), "from the second writer\n");
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        second.stderr.contains("is the writer already"),
        "{second:?}"
    );
    first.write_line("end").unwrap();
    assert!(first.wait().status.success());
    let done = reader.wait();
    assert!(done.status.success(), "{done:?}");
    assert!(!done.stdout.contains("from the second writer"), "{done:?}");
}

#[test]
fn a_line_typed_after_the_server_died_is_reported_not_lost() {
    const SERVER: &str = env!("CARGO_BIN_EXE_shm_server");
    const CLIENT: &str = env!("CARGO_BIN_EXE_shm_client");
    let key = TestKey::new("shm-lost-line");
    let mut server = Running::spawn(key.command(SERVER, &[]));
    server.expect_line("waiting for shm_client");
    let mut client = Running::spawn(key.command(CLIENT, &[]));
    client.expect_line("type lines");
    client.write_line("one").unwrap();
    server.expect_line("Received message: one");
    server.signal(nix::sys::signal::Signal::SIGKILL);
    drop(server.wait());
    // The client notices while it waits for input, or at the latest on the next line, which
    // fails and says why: it is not left in a segment nobody reads.
    let _ = client.write_line("two");
    let done = client.wait();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stderr.contains("was killed"), "{done:?}");
    assert!(!done.stdout.contains("read all"), "{done:?}");
    assert_eq!(
        key.ids(),
        [],
        "the client removed the segment the server left"
    );
}

#[test]
fn comm_server_refuses_a_mode_it_could_not_attach_and_shm_server_makes_its_key_file() {
    let refused = run(
        {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_comm_server"));
            command.args(["--mode", "0"]);
            command
        },
        "",
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("leaves out the owner's read and write"),
        "{refused:?}"
    );
    // `--proj b` in a directory without ./file: the server makes the file, as pv does. And
    // `--proj a`, the value a default would have, still means ftok: it was given.
    for proj in ["b", "a"] {
        let dir = TempDir::new("shm-proj");
        let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_shm_server"));
        server.args(["--proj", proj]).current_dir(dir.path());
        let mut server = Running::spawn(server);
        let created = server.expect_line("created segment");
        assert!(
            created.contains(&format!("/file\", '{proj}')")),
            "{created}"
        );
        server.expect_line(&format!("shm_client -- --proj {proj}"));
        server.expect_line("waiting for shm_client");
        assert!(dir.path().join("file").is_file(), "the key file was made");
        testkit::stop_with(server, nix::sys::signal::Signal::SIGTERM);
    }
}

#[test]
fn every_port_of_the_notes_states_its_real_default_key_in_its_help() {
    let programs = [
        (env!("CARGO_BIN_EXE_shm_server"), "1111"),
        (env!("CARGO_BIN_EXE_shm_client"), "1111"),
        (env!("CARGO_BIN_EXE_shmread"), "1234"),
        (env!("CARGO_BIN_EXE_shmwrite"), "1234"),
        (env!("CARGO_BIN_EXE_comm_server"), "ftok(\"/tmp\", 0x666)"),
        (env!("CARGO_BIN_EXE_comm_client"), "ftok(\"/tmp\", 0x666)"),
        (env!("CARGO_BIN_EXE_shm_tour"), "0x7002"),
    ];
    for (program, key) in programs {
        let help = run(
            {
                let mut command = std::process::Command::new(program);
                command.arg("--help");
                command
            },
            "",
        );
        assert!(help.status.success(), "{help:?}");
        let stated = help.stdout.lines().find(|line| line.starts_with("Key: "));
        assert!(
            stated.is_some_and(|line| line.contains(key)),
            "{program}: {help:?}"
        );
        assert!(
            !help.stdout.contains("[default: ./file]"),
            "{program}: {help:?}"
        );
    }
}

#[test]
fn comm_client_never_counts_its_futex_word_as_text() {
    let key = TestKey::new("shm-comm-word");
    // A segment of 'A's to the last byte, no NUL: as a C server that overran would leave it.
    let segment = shm::shmget(
        key.key(),
        shm::COMM_SIZE,
        libc::IPC_CREAT | libc::IPC_EXCL | 0o600,
    )
    .expect("make the segment");
    let attached = segment.shmat(shm::Access::ReadWrite).expect("shmat");
    for byte in attached.bytes() {
        byte.store(b'A', std::sync::atomic::Ordering::Release);
    }
    let mut client = Running::spawn(key.command(env!("CARGO_BIN_EXE_comm_client"), &[]));
    let line = client.expect_line("comm_client: length");
    assert!(
        line.starts_with(&format!("comm_client: length {}: ", shm::COMM_WAKE_AT)),
        "the text stops before the futex word: {}",
        &line[..40]
    );
    segment
        .mark_for_removal()
        .expect("remove it: the client sees the server end");
    let done = client.wait();
    assert!(done.status.success(), "{done:?}");
    drop(attached);
}

#[test]
fn a_peer_killed_while_nobody_types_is_noticed_without_input() {
    const SERVER: &str = env!("CARGO_BIN_EXE_shm_server");
    const CLIENT: &str = env!("CARGO_BIN_EXE_shm_client");
    const READ: &str = env!("CARGO_BIN_EXE_shmread");
    const WRITE: &str = env!("CARGO_BIN_EXE_shmwrite");
    // (the program that waits for input, its peer, what the peer prints once ready)
    let pairs = [
        (CLIENT, SERVER, "waiting for shm_client"),
        (WRITE, READ, "waiting for shmwrite"),
    ];
    for (typist, peer, ready) in pairs {
        let key = TestKey::new("shm-idle-typist");
        let mut peer = Running::spawn(key.command(peer, &[]));
        peer.expect_line(ready);
        let mut typist = Running::spawn(key.command(typist, &[]));
        typist.expect_line("attached");
        wait_until_blocked_in(typist.pid(), testkit::SYS_POLL);
        peer.signal(nix::sys::signal::Signal::SIGKILL);
        drop(peer.wait());
        // Its stdin stays open, and nothing is typed: the peer's death alone ends it.
        let done = typist.wait_with_stdin_open();
        assert_eq!(done.status.code(), Some(1), "{done:?}");
        assert!(done.stderr.contains("was killed"), "{done:?}");
        assert_eq!(key.ids(), [], "the segment the peer left was removed");
    }
    // xfr_writer waiting for more of its stdin, the reader killed mid-transfer.
    let key = TestKey::new("shm-idle-xfr");
    let mut reader = Running::spawn(at(&key, READER));
    reader.expect_stderr_line("waiting for xfr_writer");
    let mut writer = Running::spawn(at(&key, WRITER));
    writer.write_line("the first line").unwrap();
    reader.expect_line("the first line");
    wait_until_blocked_in(writer.pid(), testkit::SYS_POLL);
    reader.signal(nix::sys::signal::Signal::SIGKILL);
    drop(reader.wait());
    let done = writer.wait_with_stdin_open();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.contains("xfr_reader (pid") && done.stderr.contains("it was killed"),
        "{done:?}"
    );
    assert_eq!(left(&key, -1), (vec![], vec![]), "the writer removed both");
}
