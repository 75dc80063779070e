//! Helpers shared by the `fifo` integration tests.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use testkit::{DEADLINE, Finished, Running};

/// A command that runs the example binary `path` on the FIFO at `fifo`.
pub fn example(binary: &str, fifo: &Path) -> Command {
    let mut command = Command::new(binary);
    command.arg("--path").arg(fifo);
    command
}

/// The FIFO path inside a test's own temporary directory.
pub fn fifo_in(dir: &Path) -> PathBuf {
    dir.join("mfifo")
}

/// Sends `signal` the way a user would (Ctrl-C goes to the whole process group, `kill` to one
/// process), waits for the example to exit, and returns what it left and how long that took.
///
/// It waits for the example to say that it got the signal before it closes the example's stdin
/// (which `Running::wait` does), so that the time measured is the example's own. (The race of
/// a signal with the end of input has a test of its own in `signals.rs`.)
pub fn stop_as_a_user(mut running: Running, signal: Signal) -> (Finished, Duration) {
    let sent = Instant::now();
    if signal == Signal::SIGINT {
        running.signal_group(signal);
    } else {
        running.signal(signal);
    }
    running.expect_line(&format!("got {signal}; stopping"));
    let finished = running.wait();
    let took = sent.elapsed();
    println!("{signal}: exited {took:?} after the signal"); // shown with --nocapture
    (finished, took)
}

/// Asserts that an example stopped by `signal` did so within a second, with status 128 + the
/// signal's number, and said so.
pub fn assert_stopped_by(finished: &Finished, took: Duration, signal: Signal) {
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} to exit after {signal}"
    );
    assert_eq!(
        finished.status.code(),
        Some(128 + signal as i32),
        "{finished:?}"
    );
    assert!(
        finished.stdout.contains(&format!("got {signal}; stopping")),
        "{finished:?}"
    );
}

/// Asserts that nothing is left at `path`, not even a dangling symlink.
pub fn assert_gone(path: &Path) {
    assert!(
        std::fs::symlink_metadata(path).is_err(),
        "{} was left behind",
        path.display()
    );
}

/// Asserts that `path` is a FIFO.
pub fn assert_fifo(path: &Path) {
    let found = std::fs::symlink_metadata(path).expect("the FIFO exists");
    assert!(
        found.file_type().is_fifo(),
        "{} is not a FIFO",
        path.display()
    );
}

/// Asserts that no FIFO is left in the directory `dir`.
pub fn assert_no_fifo_in(dir: &Path) {
    let fifos: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the test's directory")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_fifo()))
        .map(|entry| entry.path())
        .collect();
    assert!(fifos.is_empty(), "FIFOs left behind: {fifos:?}");
}

/// Waits until the main thread of `pid` sleeps in `write(2)` on a descriptor of the FIFO at
/// `fifo`: the FIFO is full. (A write to stdout is a `write` too; the descriptor tells them
/// apart.) Reads `/proc/<pid>/syscall`, whose first fields are the call's number and its first
/// argument, the descriptor. Fails the test after [`DEADLINE`].
pub fn wait_until_blocked_writing_to(pid: Pid, fifo: &Path) {
    let wanted = std::fs::canonicalize(fifo).expect("the FIFO exists");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let mut fields = seen.split_whitespace();
        let call = fields.next();
        let fd = fields
            .next()
            .and_then(|arg| i64::from_str_radix(arg.trim_start_matches("0x"), 16).ok());
        if call == Some(libc::SYS_write.to_string().as_str())
            && let Some(fd) = fd
            && std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|to| to == wanted)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never blocked writing to {}; last seen in: {seen:?}",
            fifo.display()
        );
        // Waits for a state it can see; the millisecond only spares the CPU.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Opens the FIFO at `path` the way the test plays the other side: non-blocking, so that the
/// test itself never waits (for reading, this succeeds at once; for writing, the example must
/// already have it open for reading, or be blocked opening it so).
pub fn open_as_peer(path: &Path, access: OFlag) -> OwnedFd {
    let flags = access | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    nix::fcntl::open(path, flags, Mode::empty()).expect("open the FIFO as the other side")
}
