//! `memfd_pass`: a sealed memfd passed over a Unix socket to an unrelated process. Each test
//! uses a socket in a temporary directory of its own and checks that the file is gone after.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::Command;

use testkit::{
    Finished, Running, TempDir, assert_each_stops_on_a_closed_terminal, assert_help_only, run,
    signal_row, stop_with,
};

const PASS: &str = env!("CARGO_BIN_EXE_memfd_pass");

fn command(role: &str, socket: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(PASS);
    command.arg(role).arg("--socket").arg(socket).args(extra);
    command
}

fn serve(socket: &Path, extra: &[&str]) -> Running {
    let mut server = Running::spawn(command("serve", socket, extra));
    server.expect_line("waiting on");
    server
}

fn assert_one_line_failure(finished: &Finished, needles: &[&str]) {
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {finished:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} in {:?}", lines[0]);
    }
}

#[test]
fn the_content_arrives_sealed_and_the_memfd_has_no_name() {
    let dir = TempDir::new("memfd-content");
    let socket = dir.path().join("s");
    let text = "a note passed as a descriptor, ünïcode too";
    let server = serve(&socket, &["--text", text]);
    let line = &server.stdout_seen()[0];
    assert!(line.contains("memfd_create: /proc/"), "{line}");
    assert!(
        line.ends_with("-> /memfd:ipc-labs-note (deleted)"),
        "{line}"
    );
    let taker = run(command("take", &socket, &[]), "");
    assert!(taker.status.success(), "{taker:?}");
    assert!(
        taker.stdout.contains("-> /memfd:ipc-labs-note (deleted)"),
        "{taker:?}"
    );
    let expected = format!("{} bytes: {text}", text.len());
    assert!(taker.stdout.contains(&expected), "{taker:?}");
    assert!(
        taker
            .stdout
            .contains("F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE")
    );
    let served = server.wait();
    assert!(served.status.success(), "{served:?}");
    assert!(served.stdout.contains("sent the descriptor (SCM_RIGHTS)"));
    assert!(!socket.exists(), "the socket file is left");
}

#[test]
fn an_unsealed_or_shrinkable_memfd_is_refused_by_the_receiver() {
    for (seals, shown) in [("none", "none"), ("write-only", "F_SEAL_WRITE;")] {
        let dir = TempDir::new("memfd-unsealed");
        let socket = dir.path().join("s");
        let server = serve(&socket, &["--seals", seals]);
        let taker = run(command("take", &socket, &[]), "");
        let why = format!("its seals are {shown}");
        assert_one_line_failure(&taker, &["refused the memfd", &why, "F_SEAL_SHRINK"]);
        assert!(!taker.stdout.contains("bytes:"), "printed what it refused");
        assert!(server.wait().status.success());
        assert!(!socket.exists());
    }
}

#[test]
fn no_server_and_a_socket_in_use_are_one_line_each() {
    let dir = TempDir::new("memfd-faults");
    let socket = dir.path().join("s");
    let taker = run(command("take", &socket, &[]), "");
    assert_one_line_failure(
        &taker,
        &["connect", "ENOENT", "start `memfd_pass serve` first"],
    );
    std::fs::write(&socket, "not a socket").unwrap();
    let server = run(command("serve", &socket, &[]), "");
    assert_one_line_failure(&server, &["bind", "EADDRINUSE"]);
    assert_eq!(
        std::fs::read(&socket).unwrap(),
        b"not a socket",
        "left alone"
    );
    assert_help_only(PASS);
    let bare = run(Command::new(PASS), "");
    assert_eq!(bare.status.code(), Some(2), "{bare:?}");
    assert_eq!(
        bare.stderr,
        "memfd_pass: two programs share the memory: run `memfd_pass serve` in one terminal, \
         then `memfd_pass take` in another (see --help)\n"
    );
}

#[test]
fn signal_table_serve_waiting_for_a_taker() {
    signal_row("memfd_pass serve waiting in poll", |signal| {
        let dir = TempDir::new("memfd-signal");
        let socket = dir.path().join("s");
        let server = serve(&socket, &[]);
        testkit::wait_until_blocked_in(server.pid(), testkit::SYS_POLL);
        stop_with(server, signal);
        assert!(!socket.exists(), "the socket file is left after {signal}");
    });
}

#[test]
fn a_closed_terminal_stops_serve_as_sighup_does() {
    let dirs = assert_each_stops_on_a_closed_terminal(
        "memfd-closed-terminal",
        &[(PASS, &["serve", "--socket", "s"])],
    );
    assert!(!dirs[0].path().join("s").exists());
}
