//! The fifo lab's graded tests: the sequence-number server (`lab_fifo_server`) and its clients
//! (`lab_fifo_client`), each test in a directory of its own.
//!
//! - clients one after another get 1, 2, 3, and nothing is left behind;
//! - ten clients at once get ten distinct numbers, handed out in increasing order;
//! - a request whose reply FIFO nobody opens (or that has none) is skipped, and the next client
//!   is served;
//! - a stop signal ends the server, which removes its FIFO.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use testkit::{Running, TempDir, number_after, run, signal_row, stop_with};

/// The server's FIFO in `dir`, as the lab names it (`seqnum`). The graded tests use no code of
/// the lab's crate, so that nothing a student writes runs inside the grader's process.
fn server_path(dir: &Path) -> PathBuf {
    dir.join("seqnum")
}

/// The reply FIFO of the client with process id `pid`, in `dir` (`reply.<pid>`).
fn reply_path(dir: &Path, pid: i32) -> PathBuf {
    dir.join(format!("reply.{pid}"))
}

/// `text` as one request record: the text, then NUL bytes up to 32 bytes.
fn record(text: &str) -> Vec<u8> {
    let mut record = text.as_bytes().to_vec();
    assert!(record.len() < 32, "{text:?} does not fit in one record");
    record.resize(32, 0);
    record
}

const SERVER: &str = env!("CARGO_BIN_EXE_lab_fifo_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab_fifo_client");

/// Starts the server in `dir` and waits until it says it is ready.
fn start_server(dir: &Path) -> Running {
    let mut command = Command::new(SERVER);
    command.arg("--dir").arg(dir);
    let mut server = Running::spawn(command);
    server.expect_line("server: ready");
    server
}

fn client_command(dir: &Path) -> Command {
    let mut command = Command::new(CLIENT);
    command.arg("--dir").arg(dir);
    command
}

/// Runs one client to the end and returns its number.
fn ask(dir: &Path) -> u64 {
    let finished = run(client_command(dir), "");
    assert!(finished.status.success(), "client: {finished:?}");
    let line = finished
        .stdout_lines()
        .into_iter()
        .find(|line| line.contains("my number is"))
        .unwrap_or_else(|| panic!("the client printed no number: {finished:?}"))
        .to_owned();
    number_after(&line, "my number is ")
}

/// Stops the server with SIGTERM (status 143, nothing left in its group) and returns its
/// stdout.
fn stop_server(server: Running) -> String {
    stop_with(server, Signal::SIGTERM).stdout
}

/// Asserts that `dir` is empty: no server FIFO, no reply FIFO.
fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("read the test's directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Sends one request record holding `text` to the server's FIFO, as a client would.
fn send_request(dir: &Path, text: &str) {
    let mut to_server = std::fs::OpenOptions::new()
        .write(true)
        .open(server_path(dir))
        .expect("open the server's FIFO");
    to_server.write_all(&record(text)).expect("write a request");
}

#[test]
fn clients_one_after_another_get_1_2_3_and_nothing_is_left_behind() {
    let dir = TempDir::new("lab-fifo-seq");
    let server = start_server(dir.path());
    let numbers: Vec<u64> = (0..3).map(|_| ask(dir.path())).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let said = stop_server(server);
    assert!(said.contains("server: gave 3 to pid"), "{said}");
    assert_empty(dir.path());
}

#[test]
fn ten_concurrent_clients_get_distinct_increasing_numbers() {
    let dir = TempDir::new("lab-fifo-ten");
    let server = start_server(dir.path());
    // All ten start before any is waited for: their requests meet in the server's FIFO.
    let clients: Vec<Running> = (0..10)
        .map(|_| Running::spawn(client_command(dir.path())))
        .collect();
    let mut given = Vec::new();
    for client in clients {
        let pid = client.pid();
        let finished = client.wait();
        assert!(finished.status.success(), "client {pid}: {finished:?}");
        let number: u64 = number_after(&finished.stdout, "my number is ");
        given.push((pid.as_raw(), number));
    }
    let mut numbers: Vec<u64> = given.iter().map(|&(_, number)| number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=10).collect::<Vec<u64>>(), "{given:?}");
    let said = stop_server(server);
    // The server handed them out in increasing order, each to the client that printed it.
    let handed: Vec<(i32, u64)> = said
        .lines()
        .filter(|line| line.starts_with("server: gave "))
        .map(|line| (number_after(line, "to pid "), number_after(line, "gave ")))
        .collect();
    let order: Vec<u64> = handed.iter().map(|&(_, number)| number).collect();
    assert_eq!(order, (1..=10).collect::<Vec<u64>>(), "{said}");
    for pair in &given {
        assert!(
            handed.contains(pair),
            "{pair:?} not in the server's log:\n{said}"
        );
    }
    assert_empty(dir.path());
}

#[test]
fn a_request_whose_reply_fifo_nobody_opens_is_skipped() {
    let dir = TempDir::new("lab-fifo-skip");
    let mut server = start_server(dir.path());
    // A reply FIFO that nobody opens for reading: the server's open fails with ENXIO.
    let nobody = 2_000_000_001;
    let unread = reply_path(dir.path(), nobody);
    nix::unistd::mkfifo(&unread, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    send_request(dir.path(), &nobody.to_string());
    let skipped = server.expect_line("server: skipped request");
    assert!(skipped.contains(&nobody.to_string()), "{skipped}");
    assert!(skipped.contains("ENXIO"), "{skipped}");
    // No reply FIFO at all: skipped too.
    let missing = 2_000_000_002;
    send_request(dir.path(), &missing.to_string());
    let skipped = server.expect_line("server: skipped request");
    assert!(skipped.contains(&missing.to_string()), "{skipped}");
    // The server goes on, and spent no number on either.
    assert_eq!(ask(dir.path()), 1);
    assert_eq!(ask(dir.path()), 2);
    std::fs::remove_file(&unread).expect("remove the test's own FIFO");
    stop_server(server);
    assert_empty(dir.path());
}

#[test]
fn a_stop_signal_ends_the_server_and_removes_its_fifo() {
    signal_row("server waiting for requests", |signal| {
        let dir = TempDir::new("lab-fifo-stop");
        let server = start_server(dir.path());
        testkit::wait_until_blocked_in(server.pid(), libc::SYS_read);
        let finished = stop_with(server, signal);
        assert!(
            finished.stdout.contains("removed") && finished.stdout.contains("seqnum"),
            "{finished:?}"
        );
        assert_empty(dir.path());
    });
}

// BEGIN HIDDEN TESTS
#[test]
fn the_server_survives_a_client_killed_before_it_reads_its_reply() {
    let dir = TempDir::new("lab-fifo-killed");
    let mut server = start_server(dir.path());
    // Freeze the server so that the client's request waits in the FIFO, unanswered.
    testkit::wait_until_blocked_in(server.pid(), libc::SYS_read);
    server.signal(Signal::SIGSTOP);
    let mut doomed = Running::spawn(client_command(dir.path()));
    doomed.expect_line("sent my request");
    let doomed_pid = doomed.pid();
    doomed.signal(Signal::SIGKILL);
    let killed = doomed.wait();
    assert_eq!(killed.status.code(), None, "{killed:?}");
    server.signal(Signal::SIGCONT);
    let skipped = server.expect_line("server: skipped request");
    assert!(skipped.contains(&doomed_pid.to_string()), "{skipped}");
    assert!(skipped.contains("ENXIO"), "{skipped}");
    assert_eq!(ask(dir.path()), 1);
    assert_eq!(ask(dir.path()), 2);
    // The killed client could not remove its reply FIFO; the test does.
    std::fs::remove_file(reply_path(dir.path(), doomed_pid.as_raw())).expect("its reply FIFO");
    stop_server(server);
    assert_empty(dir.path());
}
// END HIDDEN TESTS
