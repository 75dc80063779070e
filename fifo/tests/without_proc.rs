//! The examples work on a system without /proc, which is also how glibc ≤ 2.31 (Ubuntu 20.04,
//! Debian 11) behaves for `fchmodat(AT_SYMLINK_NOFOLLOW)`: that call needs /proc, and answered
//! ENOTSUP / EOPNOTSUPP there. Each example here runs in a mount namespace of its own
//! (`unshare -m`) where /proc is unmounted, under a umask of 0277, so that the FIFO it makes
//! needs its mode set back to 0600.
//!
//! `unshare -m` and `umount` need root (CAP_SYS_ADMIN), which CI has. Where they are missing or
//! refused, the tests fail and say why: they do not pass without having run.

#![forbid(unsafe_code)]

mod common;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{assert_gone, assert_no_fifo_in, fifo_in};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use testkit::{Running, TempDir, stop_with};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");

/// Unmounts /proc in the new mount namespace (lazily, with whatever is mounted below it), checks
/// that it is gone, sets the umask, then runs the command that follows.
const WITHOUT_PROC: &str = "umount -l /proc && test ! -e /proc/self && umask 0277 && exec \"$@\"";

/// Checks once that this machine lets the test unmount /proc in a mount namespace of its own,
/// and fails the test with the reason if it does not.
fn require_unshare() {
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", WITHOUT_PROC, "sh", "true"])
        .output()
        .unwrap_or_else(|err| {
            panic!("this test needs unshare(1) (util-linux) to run an example without /proc: {err}")
        });
    assert!(
        probe.status.success(),
        "`unshare -m` then `umount /proc` failed ({}), so the example cannot be run without \
         /proc here; this needs root (CAP_SYS_ADMIN), which CI has. stderr: {}",
        probe.status,
        String::from_utf8_lossy(&probe.stderr).trim()
    );
}

/// `binary --path fifo`, in a mount namespace of its own without /proc, under umask 0277.
/// `unshare` and `sh` both exec: the example keeps the pid that the test signals.
fn without_proc(binary: &str, fifo: &Path) -> Running {
    let mut command = Command::new("unshare");
    command
        .args(["-m", "sh", "-c", WITHOUT_PROC, "sh", binary, "--path"])
        .arg(fifo);
    Running::spawn(command)
}

fn mode_of(path: &Path) -> u32 {
    let found = std::fs::symlink_metadata(path).expect("the FIFO exists");
    found.permissions().mode() & 0o7777
}

#[test]
fn writer_and_reader_without_proc_make_the_fifo_0600_and_exchange_a_line() {
    require_unshare();
    let dir = TempDir::new("fifo-noproc");
    let path = fifo_in(dir.path());
    let mut writer = without_proc(WRITER, &path);
    writer.expect_line("waiting in open()");
    // umask 0277 left 0400; the writer set it back to 0600.
    assert_eq!(mode_of(&path), 0o600, "the writer's FIFO");
    let mut reader = without_proc(READER, &path);
    reader.expect_line("made by another process");
    writer.expect_line("a reader has");
    writer.write_line("hello without /proc").unwrap();
    assert_eq!(reader.expect_line("recv:"), "recv:hello without /proc");
    let writer = writer.wait();
    assert!(writer.status.success(), "{writer:?}");
    assert!(
        writer.stdout.contains("writer: removed"),
        "the writer made the FIFO and removes it: {writer:?}"
    );
    let reader = reader.wait();
    assert!(reader.status.success(), "{reader:?}");
    assert_gone(&path);
}

#[test]
fn a_reader_without_proc_makes_the_fifo_0600_and_stops_cleanly_on_sigterm() {
    require_unshare();
    let dir = TempDir::new("fifo-noproc-reader");
    let path = fifo_in(dir.path());
    let mut reader = without_proc(READER, &path);
    reader.expect_line("waiting in open()");
    assert_eq!(mode_of(&path), 0o600, "the reader's FIFO");
    // The test writes one record itself, without /proc being involved on its side.
    let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    testkit::wait_until_blocked_in(reader.pid(), libc::SYS_openat);
    let mut record = [0u8; 100];
    record[..2].copy_from_slice(b"hi");
    let mut fifo = File::from(nix::fcntl::open(&path, flags, Mode::empty()).unwrap());
    fifo.write_all(&record).unwrap();
    assert_eq!(reader.expect_line("recv:"), "recv:hi");
    let finished = stop_with(reader, Signal::SIGTERM);
    assert!(
        finished.stdout.contains("reader: removed"),
        "the reader made the FIFO and removes it: {finished:?}"
    );
    drop(fifo);
    assert_no_fifo_in(dir.path());
}
