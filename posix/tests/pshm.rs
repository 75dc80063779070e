//! `pshm_writer` and `pshm_reader`: lines through POSIX shared memory and two unnamed
//! semaphores. Each test uses a name of its own and checks that nothing is left in /dev/shm.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::Signal;
use posix::pshm::Channel;
use testkit::{
    Finished, Nobody, Running, assert_each_stops_on_a_closed_terminal, assert_help_only, run,
    signal_row, stop_with,
};

const WRITE: &str = env!("CARGO_BIN_EXE_pshm_writer");
const READ: &str = env!("CARGO_BIN_EXE_pshm_reader");
const BARE: &str = env!("CARGO_BIN_EXE_bare_pshm");

/// A name of this test's own; whatever is left at it is removed on drop (after a failure).
struct Name(String);

impl Name {
    fn new(label: &str) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        Self(format!("/ipc-labs-test-{label}-{}-{n}", std::process::id()))
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm{}", self.0))
    }

    fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(binary);
        command.args(["--name", &self.0]);
        command
    }

    fn assert_gone(&self) {
        assert!(!self.path().exists(), "{} is left", self.path().display());
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

fn start_reader(name: &Name) -> Running {
    let mut reader = Running::spawn(name.command(READ));
    reader.expect_line("waiting in sem_wait(full)");
    reader
}

fn wrote(finished: &Finished) -> Vec<&str> {
    let lines = finished.stdout_lines().into_iter();
    lines
        .filter(|line| line.starts_with("You wrote: "))
        .collect()
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
fn lines_arrive_in_order_exactly_once_and_end_stops_both() {
    let name = Name::new("order");
    let reader = start_reader(&name);
    let mut input: String = (1..=200).map(|n| format!("line {n}\n")).collect();
    input.push_str("\n  spaces kept  \nendless is not the end\nend\nnever sent\n");
    let writer = run(name.command(WRITE), &input);
    assert!(writer.status.success(), "{writer:?}");
    assert!(
        writer
            .stdout
            .contains("the reader took \"end\" after 204 lines")
    );
    let finished = reader.wait();
    assert!(finished.status.success(), "{finished:?}");
    let mut expected: Vec<String> = (1..=200).map(|n| format!("You wrote: line {n}")).collect();
    for line in ["", "  spaces kept  ", "endless is not the end", "end"] {
        expected.push(format!("You wrote: {line}"));
    }
    assert_eq!(wrote(&finished), expected);
    assert!(
        finished
            .stdout
            .contains("\"end\" after 204 lines; shm_unlink")
    );
    name.assert_gone();
}

#[test]
fn the_writer_may_start_first_and_end_of_input_sends_end_and_long_lines_arrive_whole() {
    let name = Name::new("large");
    let mut writer = Running::spawn(name.command(WRITE));
    writer.expect_line("created");
    assert!(name.path().exists());
    let long = "x".repeat(10_000) + "y";
    let mut input: Vec<String> = (0..3000).map(|n| format!("{n:05}")).collect();
    input.insert(1500, long.clone());
    let reader = Running::spawn(name.command(READ));
    for line in &input {
        writer.write_line(line).unwrap();
    }
    let writer = writer.wait(); // closes stdin: end of input sends "end"
    assert!(writer.status.success(), "{writer:?}");
    assert!(writer.stdout.contains("end of input: sending \"end\""));
    let finished = reader.wait();
    assert!(finished.status.success(), "{finished:?}");
    let mut expected: Vec<String> = input.iter().map(|l| format!("You wrote: {l}")).collect();
    expected.push("You wrote: end".to_owned());
    assert_eq!(wrote(&finished), expected);
    assert!(finished.stdout.contains("its creator removes"));
    name.assert_gone();
}

#[test]
fn a_killed_writer_is_named_by_the_reader_which_exits_1() {
    for writer_creates in [false, true] {
        let name = Name::new("kill-writer");
        let (mut reader, mut writer);
        if writer_creates {
            writer = Running::spawn(name.command(WRITE));
            writer.expect_line("created");
            reader = start_reader(&name);
        } else {
            reader = start_reader(&name);
            writer = Running::spawn(name.command(WRITE));
        }
        writer.write_line("one").unwrap();
        reader.expect_line("You wrote: one");
        let pid = writer.pid();
        writer.signal(Signal::SIGKILL);
        drop(writer.wait());
        let finished = reader.wait_with_stdin_open();
        let named = format!("the writer (pid {pid}) was killed after 1 line");
        assert_one_line_failure(&finished, &[&named, "without sending \"end\""]);
        // Killed, the creator removed nothing: the survivor removed what it left.
        name.assert_gone();
    }
}

#[test]
fn a_killed_reader_is_named_by_the_writer_which_exits_1() {
    let name = Name::new("kill-reader");
    let mut reader = start_reader(&name);
    let mut writer = Running::spawn(name.command(WRITE));
    writer.write_line("one").unwrap();
    reader.expect_line("You wrote: one");
    let pid = reader.pid();
    reader.signal(Signal::SIGKILL);
    drop(reader.wait());
    let finished = writer.wait_with_stdin_open();
    assert_one_line_failure(&finished, &[&format!("the reader (pid {pid}) was killed")]);
    name.assert_gone();
}

#[test]
fn a_second_writer_and_a_second_reader_are_refused() {
    let name = Name::new("second");
    let reader = start_reader(&name);
    let second = run(name.command(READ), "");
    let holder = format!("process {} is the reader already", reader.pid());
    assert_one_line_failure(&second, &[&holder]);
    let mut writer = Running::spawn(name.command(WRITE));
    writer.expect_line("type lines");
    let second = run(name.command(WRITE), "sneaky\n");
    let holder = format!("process {} is the writer already", writer.pid());
    assert_one_line_failure(&second, &[&holder]);
    writer.write_line("end").unwrap();
    assert!(writer.wait().status.success());
    let finished = reader.wait();
    assert_eq!(wrote(&finished), ["You wrote: end"], "{finished:?}");
    name.assert_gone();
}

#[test]
fn a_wrong_size_or_a_bad_magic_is_refused_never_used_and_left() {
    let name = Name::new("stranger");
    std::fs::write(name.path(), [7u8; 100]).unwrap();
    for binary in [WRITE, READ] {
        let finished = run(name.command(binary), "hello\n");
        assert_one_line_failure(&finished, &["has 100 bytes", "left as it is"]);
        assert_eq!(std::fs::read(name.path()).unwrap(), [7u8; 100], "untouched");
    }
    let garbage = vec![0xffu8; size_of::<Channel>()];
    std::fs::write(name.path(), &garbage).unwrap();
    for binary in [WRITE, READ] {
        let finished = run(name.command(binary), "hello\n");
        assert_one_line_failure(&finished, &["0xffffffff", "not the channel's magic"]);
        assert_eq!(std::fs::read(name.path()).unwrap(), garbage, "untouched");
    }
    std::fs::write(name.path(), vec![0u8; size_of::<Channel>()]).unwrap();
    let finished = run(name.command(WRITE), "");
    assert_one_line_failure(&finished, &["was never initialised"]);
    std::fs::remove_file(name.path()).unwrap();
}

#[test]
fn another_users_channel_gives_eacces_with_its_owner() {
    let Some(nobody) = Nobody::new("pshm-eacces") else {
        return;
    };
    let name = Name::new("eacces");
    let reader = start_reader(&name);
    for binary in [WRITE, READ] {
        let finished = run(nobody.command(binary, &["--name", &name.0]), "hi\n");
        let opening = format!("shm_open {}: EACCES", name.0);
        assert_one_line_failure(&finished, &[&opening, "owned by uid 0, mode 0600"]);
    }
    stop_with(reader, Signal::SIGTERM);
    name.assert_gone();
}

#[test]
fn help_and_bad_names() {
    assert_help_only(WRITE);
    assert_help_only(READ);
    for bad in ["noslash", "/a/b", "/"] {
        let mut command = Command::new(WRITE);
        command.args(["--name", bad]);
        let finished = run(command, "");
        assert_eq!(finished.status.code(), Some(2), "{finished:?}");
        assert!(
            finished.stderr.contains("not a POSIX IPC name"),
            "{finished:?}"
        );
    }
}

#[test]
fn signal_table_reader_blocked_in_sem_wait() {
    signal_row("pshm_reader in sem_wait(full)", |signal| {
        let name = Name::new("sig-reader");
        let reader = start_reader(&name);
        stop_with(reader, signal);
        name.assert_gone();
    });
}

#[test]
fn signal_table_writer_blocked_in_sem_wait_and_on_stdin() {
    signal_row("pshm_writer in sem_wait(empty)", |signal| {
        let name = Name::new("sig-writer");
        let mut writer = Running::spawn(name.command(WRITE));
        writer.expect_line("created");
        // No reader: the first line fills the buffer, the second waits for it in sem_wait.
        writer.write_line("one").unwrap();
        writer.write_line("two").unwrap();
        testkit::wait_until_blocked_in(writer.pid(), libc::SYS_futex);
        stop_with(writer, signal);
        name.assert_gone();
    });
    signal_row("pshm_writer reading stdin", |signal| {
        let name = Name::new("sig-stdin");
        let reader = start_reader(&name);
        let writer = Running::spawn(name.command(WRITE));
        let mut reader = reader;
        reader.expect_line(&format!("the writer is pid {}", writer.pid()));
        stop_with(writer, signal);
        // The reader sees its writer leave without "end": one line, exit 1, and it removes.
        let finished = reader.wait_with_stdin_open();
        assert_one_line_failure(&finished, &["the writer (pid", "left after 0 lines"]);
        name.assert_gone();
    });
}

#[test]
fn a_closed_terminal_stops_both_as_sighup_does() {
    let (one, two) = (Name::new("tty-reader"), Name::new("tty-writer"));
    assert_each_stops_on_a_closed_terminal(
        "pshm-closed-terminal",
        &[(READ, &["--name", &one.0]), (WRITE, &["--name", &two.0])],
    );
    one.assert_gone();
    two.assert_gone();
}

#[test]
fn bare_pshm_shares_a_page_with_its_child_both_ways_and_leaves_nothing() {
    let finished = run(Command::new(BARE), "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let pid: u32 = testkit::number_after(lines[0], "/ipc-labs-bare-pshm-");
    let file = format!("/dev/shm/ipc-labs-bare-pshm-{pid}");
    assert_eq!(
        lines,
        [
            format!("shm_open, ftruncate: {file}: 4096 bytes, mode 0600, uid 0"),
            "child: read \"hello from the parent\"".to_owned(),
            "parent: the child exited with status 0; it left \"hello from the child\"".to_owned(),
            format!("munmap, shm_unlink: {file}: no such file"),
        ]
        .map(|line| if nix::unistd::geteuid().is_root() {
            line
        } else {
            line.replace("uid 0", &format!("uid {}", nix::unistd::geteuid()))
        })
    );
    assert!(!std::path::Path::new(&file).exists());
}

#[test]
fn bare_pshm_refuses_a_name_that_exists_and_leaves_that_object_alone() {
    let name = Name::new("bare-eexist");
    std::fs::write(name.path(), b"someone's").unwrap();
    let refused = run(name.command(BARE), "");
    assert_one_line_failure(&refused, &[&format!("shm_open {}: EEXIST", name.0)]);
    assert_eq!(std::fs::read(name.path()).unwrap(), b"someone's");
}
