//! Driving the example binaries from integration tests. A dev-dependency only: no example
//! binary links this code (threads, watchdogs).
//!
//! Every example runs in a process group of its own, so that a test can send Ctrl-C the way a
//! terminal does (to the whole group) and so that nothing it forked outlives the test: a
//! watchdog kills the group when the test overruns, and dropping a [`Running`] kills whatever is
//! left. Waiting is always for an event (a line, an exit) with a deadline, never a sleep.

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

/// How long a test waits for one expected event (a line, an exit) before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How long one example may run in all before the watchdog kills its process group.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// An example binary started by a test.
pub struct Running {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    stdout_seen: Vec<String>,
    stderr_seen: Vec<String>,
    watchdog: Option<Sender<()>>,
    watchdog_fired: Arc<AtomicBool>,
    reaped: bool,
}

/// What an example left behind when it ended.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it printed on stdout, including lines already returned by `expect_line`.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Finished {
    /// The stdout lines, in order.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

impl Running {
    /// Starts `command` in a new process group with stdin, stdout and stderr piped to the test.
    pub fn spawn(command: Command) -> Self {
        Self::start(command, Stdio::piped())
    }

    fn start(mut command: Command, stdout: Stdio) -> Self {
        let name = Path::new(command.get_program())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        command
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        let stdout = match child.stdout.take() {
            Some(stdout) => forward_lines(stdout),
            None => mpsc::channel().1,
        };
        let stderr = forward_lines(child.stderr.take().expect("stderr is piped"));
        let stdin = child.stdin.take();
        let group = Pid::from_raw(child.id() as i32);
        let (watchdog, watchdog_fired) = start_watchdog(group, WATCHDOG);
        Self {
            name,
            child,
            stdin,
            stdout,
            stderr,
            stdout_seen: Vec::new(),
            stderr_seen: Vec::new(),
            watchdog: Some(watchdog),
            watchdog_fired,
            reaped: false,
        }
    }

    /// The process id of the example (also its process group id).
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// The stdout lines read so far, by [`Running::expect_line`].
    pub fn stdout_seen(&self) -> &[String] {
        &self.stdout_seen
    }

    /// Writes `line` and a newline to the example's stdin.
    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(format!("{line}\n").as_bytes())?;
        stdin.flush()
    }

    /// Closes the example's stdin, so that it reads end-of-file.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next stdout line that contains `needle` and returns it. Lines before it
    /// are skipped (and kept for [`Finished::stdout`]). Fails the test after [`DEADLINE`].
    pub fn expect_line(&mut self, needle: &str) -> String {
        self.expect_in(Stream::Stdout, needle)
    }

    /// Like [`Running::expect_line`], for stderr (where a long run shows its progress).
    pub fn expect_stderr_line(&mut self, needle: &str) -> String {
        self.expect_in(Stream::Stderr, needle)
    }

    fn expect_in(&mut self, stream: Stream, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (lines, seen) = match stream {
                Stream::Stdout => (&self.stdout, &mut self.stdout_seen),
                Stream::Stderr => (&self.stderr, &mut self.stderr_seen),
            };
            match lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(why) => {
                    let stderr: Vec<String> = self
                        .stderr_seen
                        .iter()
                        .cloned()
                        .chain(self.stderr.try_iter())
                        .collect();
                    panic!(
                        "{}: no {stream:?} line containing {needle:?} ({}).\nstdout so far:\n{}\nstderr so far:\n{}",
                        self.name,
                        match why {
                            RecvTimeoutError::Timeout => "deadline passed",
                            RecvTimeoutError::Disconnected => "the stream closed",
                        },
                        self.stdout_seen.join("\n"),
                        stderr.join("\n"),
                    );
                }
            }
        }
    }

    /// Sends `signal` to the example's main process only.
    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("kill");
    }

    /// Sends `signal` to the example's whole process group, as a terminal does for Ctrl-C.
    pub fn signal_group(&self, signal: Signal) {
        killpg(self.pid(), signal).expect("killpg");
    }

    /// Closes stdin, waits for the example to exit (the watchdog bounds the wait) and collects
    /// the rest of its output. Fails the test if its output is still held open by a process it
    /// left behind, [`DEADLINE`] after it exited.
    pub fn wait(mut self) -> Finished {
        self.close_stdin();
        self.wait_with_stdin_open()
    }

    /// Like [`Running::wait`], but stdin stays open: the example must end by itself, with no
    /// end of input to tell it.
    pub fn wait_with_stdin_open(mut self) -> Finished {
        self.wait_for_exit(None);
        assert!(
            !self.watchdog_fired.load(Ordering::SeqCst),
            "{}: still running after {WATCHDOG:?}; the watchdog killed it.\nstdout:\n{}",
            self.name,
            self.stdout_seen.join("\n"),
        );
        let deadline = Instant::now() + DEADLINE;
        let mut rest = drain(&self.stdout, deadline, &self.name, "stdout");
        self.stdout_seen.append(&mut rest);
        let mut rest = drain(&self.stderr, deadline, &self.name, "stderr");
        self.stderr_seen.append(&mut rest);
        let status = self.reap();
        Finished {
            status,
            stdout: join_lines(&self.stdout_seen),
            stderr: join_lines(&self.stderr_seen),
        }
    }

    /// Waits until the example has exited, without reaping it (`waitid` with `WNOWAIT`): while
    /// its zombie is there, its pid cannot be reused, so its process group may still be
    /// signalled safely. Gives up at `deadline` (false); the watchdog bounds an unlimited wait.
    fn wait_for_exit(&self, deadline: Option<Instant>) -> bool {
        loop {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
            let flags = if deadline.is_some() {
                flags | WaitPidFlag::WNOHANG
            } else {
                flags
            };
            match waitid(Id::Pid(self.pid()), flags) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(_) => return true,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(errno) => panic!("{}: waitid: {errno}", self.name),
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            // Waits for an exit it can see; the millisecond only spares the CPU.
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Kills what is left of the example's group (its exited leader still pins the group id),
    /// then reaps the leader.
    fn reap(&mut self) -> ExitStatus {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let status = self.child.wait().expect("wait for the example");
        self.reaped = true;
        self.watchdog.take();
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Whatever the example (or anything it forked) still runs dies with the test. Once the
        // leader is reaped its group id may be reused: then there is nothing left to signal.
        if !self.reaped {
            self.reap();
        }
    }
}

/// Runs `command` to completion with `input` on its stdin and returns what it left.
pub fn run(command: Command, input: &str) -> Finished {
    let mut running = Running::spawn(command);
    if !input.is_empty() {
        // An example may exit without reading all of its input; that is its business.
        let _ = running
            .stdin
            .as_mut()
            .expect("stdin is piped")
            .write_all(input.as_bytes());
    }
    running.wait()
}

/// Runs `command` with its stdout connected to a pipe whose read end is already closed, as in
/// `example | true` once `true` has exited, but without the race: the first line the example
/// prints meets a broken pipe (EPIPE).
pub fn run_with_stdout_gone(command: Command) -> Finished {
    // Close-on-exec, so that no other test's child inherits a copy of the write end.
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
    drop(read_end);
    Running::start(command, Stdio::from(write_end)).wait()
}

/// Waits until the main thread of process `pid` sleeps in the system call numbered `syscall`
/// (`libc::SYS_msgrcv`, `libc::SYS_semop`, ...), so that what the test does next (remove the
/// object, send a signal) meets a blocked caller, not one still on its way. There is no event
/// for "has started to wait", so this reads `/proc/<pid>/syscall`, whose first field is the
/// number of the call the thread is in, until it matches. Fails the test after [`DEADLINE`].
pub fn wait_until_blocked_in(pid: Pid, syscall: libc::c_long) {
    let path = format!("/proc/{pid}/syscall");
    let wanted = syscall.to_string();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = std::fs::read_to_string(&path).unwrap_or_default();
        if seen.split_whitespace().next() == Some(wanted.as_str()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never blocked in system call {syscall}; {path}: {seen:?}"
        );
        // Not synchronisation by sleeping: the loop waits for a state it can see, and the
        // millisecond only keeps it from taking a CPU from the process it waits for.
        thread::sleep(Duration::from_millis(1));
    }
}

/// One kind of System V object that a [`TestKey`] cleans up after a test.
pub trait SysvKind {
    /// Where `/proc/sysvipc` lists them.
    const KIND: sysv::Kind;
    /// Removes the object with this id (`IPC_RMID`), whoever made it; errors are ignored.
    fn remove(id: i32) {
        let _ = sysv::remove(Self::KIND, id);
    }
}

/// Message queues, for [`TestKey`].
pub struct Queues;

impl SysvKind for Queues {
    const KIND: sysv::Kind = sysv::Kind::Msg;
}

/// Semaphore sets, for [`TestKey`].
pub struct Sets;

impl SysvKind for Sets {
    const KIND: sysv::Kind = sysv::Kind::Sem;
}

/// Shared memory segments, for [`TestKey`].
pub struct Segments;

impl SysvKind for Segments {
    const KIND: sysv::Kind = sysv::Kind::Shm;
}

/// Removes the System V object of kind `K` with this id when dropped, whoever made it (a
/// failed run may leave it).
pub struct RemoveOnDrop<K: SysvKind>(pub i32, pub std::marker::PhantomData<K>);

impl<K: SysvKind> RemoveOnDrop<K> {
    /// Removes the object `id` of kind `K` when dropped.
    pub fn new(id: i32) -> Self {
        Self(id, std::marker::PhantomData)
    }
}

impl<K: SysvKind> Drop for RemoveOnDrop<K> {
    fn drop(&mut self) {
        K::remove(self.0);
    }
}

/// A key nobody else uses: ftok of a new empty file in a directory of this test's own. A test
/// that fails midway has its examples killed (SIGKILL), which leaves their objects: dropping
/// the key removes every object of kind `K` that still has it, so a failed test leaks nothing
/// either.
pub struct TestKey<K: SysvKind> {
    _dir: TempDir,
    /// The key file, for `--key-path`.
    pub path: PathBuf,
    kind: std::marker::PhantomData<K>,
}

impl<K: SysvKind> TestKey<K> {
    /// Creates the key file in a new directory named after `label`.
    pub fn new(label: &str) -> Self {
        let dir = TempDir::new(label);
        let path = dir.path().join("key");
        std::fs::write(&path, b"").expect("create the key file");
        Self {
            _dir: dir,
            path,
            kind: std::marker::PhantomData,
        }
    }

    /// The key the binaries compute from `--key-path <path>` and the default `--proj a`.
    pub fn key(&self) -> sysv::Key {
        sysv::ftok(&self.path, b'a').expect("ftok")
    }

    /// `binary --key-path <path> <args>`.
    pub fn command(&self, binary: &str, args: &[&str]) -> Command {
        let mut command = Command::new(binary);
        command.arg("--key-path").arg(&self.path).args(args);
        command
    }

    /// The ids of the objects of kind `K` with this key now (none, once all is cleaned up).
    pub fn ids(&self) -> Vec<i32> {
        let key = self.key();
        sysv_ids(K::KIND, |object| object.key == key)
    }
}

impl<K: SysvKind> Drop for TestKey<K> {
    fn drop(&mut self) {
        for id in self.ids() {
            K::remove(id);
        }
    }
}

/// The ids of the objects of `kind` in `/proc/sysvipc` that `wanted` picks.
pub fn sysv_ids(kind: sysv::Kind, wanted: impl Fn(&sysv::Object) -> bool) -> Vec<i32> {
    sysv::list(kind)
        .unwrap_or_else(|err| panic!("read /proc/sysvipc/{}: {err}", kind.name()))
        .iter()
        .filter(|object| wanted(object))
        .map(|object| object.id)
        .collect()
}

/// A fresh directory under the system temp dir, removed with everything in it on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/ipc-labs-<label>-XXXXXX` with `mkdtemp(3)`: a name nobody can predict,
    /// made mode 0700 by this call (never a directory someone else planted).
    pub fn new(label: &str) -> Self {
        let template = std::env::temp_dir().join(format!("ipc-labs-{label}-XXXXXX"));
        let path = nix::unistd::mkdtemp(&template).expect("mkdtemp");
        Self { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn forward_lines(source: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            if sender.send(text.trim_end_matches('\n').to_owned()).is_err() {
                break;
            }
            line.clear();
        }
    });
    receiver
}

fn start_watchdog(group: Pid, limit: Duration) -> (Sender<()>, Arc<AtomicBool>) {
    let (stand_down, orders) = mpsc::channel::<()>();
    let fired = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&fired);
    thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = orders.recv_timeout(limit) {
            flag.store(true, Ordering::SeqCst);
            let _ = killpg(group, Signal::SIGKILL);
        }
    });
    (stand_down, fired)
}

fn drain(lines: &Receiver<String>, deadline: Instant, name: &str, stream: &str) -> Vec<String> {
    let mut collected = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => collected.push(line),
            Err(RecvTimeoutError::Disconnected) => return collected,
            Err(RecvTimeoutError::Timeout) => panic!(
                "{name} exited but its {stream} is still open: a process it started is still running"
            ),
        }
    }
}

/// Which output of the example a test waits on.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn join_lines(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// The processes whose process group is `group`, read from `/proc/<pid>/stat` (field 5).
pub fn processes_in_group(group: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // The command name may hold spaces and parentheses: fields start after the last ')'.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            fields.get(2) == Some(&group.as_raw().to_string().as_str())
        })
        .map(Pid::from_raw)
        .collect()
}

/// Waits until no process is left in process group `group` (each exited and was reaped, or
/// was re-parented and reaped by init). Fails the test after [`DEADLINE`], naming what is left.
pub fn wait_until_group_is_empty(group: Pid) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = processes_in_group(group);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process group {group} still has processes {left:?} {DEADLINE:?} after its leader ended"
        );
        // Waits for a state it can see; the millisecond only spares the CPU.
        thread::sleep(Duration::from_millis(1));
    }
}

/// How long a stopped example may take to exit after the signal. Generous: the mechanism
/// answers within 50 ms; the margin is for a loaded machine.
pub const STOP_DEADLINE: Duration = Duration::from_secs(1);

impl Running {
    /// Waits for the example to exit within `limit` after now. Fails the test (and kills the
    /// group) if it is still running then. Returns what it left, like [`Running::wait`].
    pub fn wait_within(mut self, limit: Duration) -> Finished {
        if !self.wait_for_exit(Some(Instant::now() + limit)) {
            self.reap();
            panic!(
                "{}: still running {limit:?} after the signal.\nstdout:\n{}",
                self.name,
                self.stdout_seen.join("\n")
            );
        }
        self.wait()
    }
}

/// The three stop signals every long-running example handles, in the table's order.
pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Runs one row of a signal table: `case` once per stop signal, each in its own thread so a
/// failure in one does not hide the others. Then fails with every failed case named
/// `<row> × <signal>: <why>`.
///
/// `case` starts the example, brings it to the blocking state the row names, sends the
/// signal, and checks the outcome (typically with [`assert_stopped_cleanly`]).
pub fn signal_row(row: &str, case: impl Fn(Signal) + Send + Sync) {
    let case = &case;
    let failures: Vec<String> = thread::scope(|scope| {
        let runs: Vec<_> = STOP_SIGNALS
            .into_iter()
            .map(|signal| (signal, scope.spawn(move || case(signal))))
            .collect();
        runs.into_iter()
            .filter_map(|(signal, run)| {
                run.join().err().map(|panic| {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("{row} × {signal}: {why}")
                })
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Sends `signal` to the example's main process alone (not its group: the example must pass
/// it on to its children itself), waits at most [`STOP_DEADLINE`] for it to exit, and checks
/// that it exited with 128 + the signal's number and left no process in its group.
pub fn stop_with(running: Running, signal: Signal) -> Finished {
    let group = running.pid();
    running.signal(signal);
    let finished = running.wait_within(STOP_DEADLINE);
    assert_stopped_cleanly(&finished, signal, group);
    finished
}

/// Checks that an example ended by `signal` exited with status 128 + its number and that no
/// process is left in its process group `group`.
pub fn assert_stopped_cleanly(finished: &Finished, signal: Signal, group: Pid) {
    let expected = 128 + signal as i32;
    assert_eq!(
        finished.status.code(),
        Some(expected),
        "expected exit status {expected} after {signal}, got {:?}.\nstdout:\n{}\nstderr:\n{}",
        finished.status,
        finished.stdout,
        finished.stderr
    );
    let left = processes_in_group(group);
    assert!(
        left.is_empty(),
        "processes {left:?} are still running in the example's group after it exited"
    );
}

/// `poll(2)` as `/proc/<pid>/syscall` shows it: glibc's poll is the poll system call where the
/// architecture has one, and ppoll elsewhere (arm64).
#[cfg(target_arch = "x86_64")]
pub const SYS_POLL: libc::c_long = libc::SYS_poll;
/// `poll(2)` as `/proc/<pid>/syscall` shows it (ppoll: this architecture has no poll call).
#[cfg(not(target_arch = "x86_64"))]
pub const SYS_POLL: libc::c_long = libc::SYS_ppoll;

/// The number right after `before` in `line` (`number_after("child 42 exited", "child ")`).
/// Fails the test if there is none.
pub fn number_after<T: std::str::FromStr>(line: &str, before: &str) -> T {
    line.split_once(before)
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or_else(|| panic!("no number after {before:?} in {line:?}"))
}

/// Waits until `/proc/<pid>/stat` shows the state `letter` (`S`, `T`, `Z`...). Fails the test
/// after [`DEADLINE`].
pub fn wait_until_state(pid: Pid, letter: char) {
    let path = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stat = std::fs::read_to_string(&path).unwrap_or_default();
        // The command name may hold spaces and parentheses: the state follows the last ')'.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if state == Some(letter.encode_utf8(&mut [0; 4])) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} never showed state {letter}; {path}: {stat:?}"
        );
        // Waits for a state it can see; the millisecond only spares the CPU.
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `command` and checks that it refused its command line the way every example does: exit
/// status 2, one line on stderr that names `flag` and says the value is out of range (clap's
/// "is not in"), and nothing on stdout.
pub fn assert_refused_out_of_range(command: Command, flag: &str) {
    let finished = run(command, "");
    assert_eq!(finished.status.code(), Some(2), "{flag}: {finished:?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{}", finished.stderr);
    assert!(
        finished.stderr.contains(flag) && finished.stderr.contains("is not in"),
        "{}",
        finished.stderr
    );
    assert!(finished.stdout.is_empty(), "{}", finished.stdout);
}

/// An example running in a terminal window of the test's own: its stdin, stdout and stderr are
/// the slave side of a pseudo-terminal (`posix_openpt(3)`), and the test holds the master side, as a
/// terminal emulator does. [`OnTerminal::close_window`] closes the master: the example's next
/// read or write of the terminal fails with EIO, as when a window is closed or a tmux pane
/// killed. The terminal is not the example's controlling terminal, so no SIGHUP follows: the
/// EIO alone must stop it (a real terminal's SIGHUP may come later, or not reach it).
pub struct OnTerminal {
    /// The program's file name, for messages.
    name: String,
    child: Child,
    master: Option<std::os::fd::OwnedFd>,
    /// The test's own copy of the slave side, to see when the terminal has been hung up.
    slave: std::os::fd::OwnedFd,
    seen: String,
}

impl OnTerminal {
    /// Starts `command` on a new pseudo-terminal, in a process group of its own.
    pub fn spawn(command: Command) -> Self {
        Self::spawn_with(command, false)
    }

    fn spawn_with(mut command: Command, closed: bool) -> Self {
        // Both sides close-on-exec from the start (posix_openpt and open with O_CLOEXEC, not
        // openpty): a copy of the master inherited by another test's child, forked in
        // between, would keep the window open.
        use nix::fcntl::OFlag;
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = nix::pty::posix_openpt(flags).expect("posix_openpt");
        nix::pty::grantpt(&master).expect("grantpt");
        nix::pty::unlockpt(&master).expect("unlockpt");
        let name = nix::pty::ptsname_r(&master).expect("ptsname_r");
        let slave_end = nix::fcntl::open(name.as_str(), flags, nix::sys::stat::Mode::empty())
            .expect("open the pty's slave side");
        let slave = |what| {
            Stdio::from(
                slave_end
                    .try_clone()
                    .unwrap_or_else(|err| panic!("dup the pty's slave for {what}: {err}")),
            )
        };
        command
            .process_group(0)
            .stdin(slave("stdin"))
            .stdout(slave("stdout"))
            .stderr(slave("stderr"));
        let master = (!closed).then(|| std::os::fd::OwnedFd::from(master));
        if closed {
            wait_until_hung_up(&slave_end);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {:?}: {err}", command.get_program()));
        let name = Path::new(command.get_program())
            .file_name()
            .unwrap_or_default();
        Self {
            name: name.to_string_lossy().into_owned(),
            child,
            master,
            slave: slave_end,
            seen: String::new(),
        }
    }

    /// Starts `command` on a terminal whose window is closed already: its first read or write
    /// of the terminal fails with EIO. So a program that prints and ends at once meets the
    /// closed terminal too, with no race against the test.
    pub fn spawn_closed(command: Command) -> Self {
        Self::spawn_with(command, true)
    }

    /// The example's process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Waits until the terminal has shown `text` (the example's output, with the terminal's
    /// `\r\n`). Fails the test after [`DEADLINE`].
    pub fn expect(&mut self, text: &str) {
        use std::os::fd::AsFd;
        let master = self.master.as_ref().expect("the window is closed");
        let deadline = Instant::now() + DEADLINE;
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the terminal never showed {text:?}; it showed:\n{}",
                self.seen
            );
            let mut fds = [nix::poll::PollFd::new(
                master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(millis)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(err) => panic!("poll the terminal: {err}"),
            }
            let mut buffer = [0; 4096];
            match nix::unistd::read(master.as_fd(), &mut buffer) {
                Ok(0) | Err(nix::errno::Errno::EIO) => panic!(
                    "the example left the terminal before it showed {text:?}; it showed:\n{}",
                    self.seen
                ),
                Ok(count) => self
                    .seen
                    .push_str(&String::from_utf8_lossy(&buffer[..count])),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(err) => panic!("read the terminal: {err}"),
            }
        }
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        let master = self.master.as_ref().expect("the window is closed");
        nix::unistd::write(master, format!("{line}\n").as_bytes()).expect("type into the terminal");
    }

    /// Closes the window: the master side goes, and the example's terminal gives EIO. Returns
    /// once the kernel has hung the terminal up, which it does when the last copy of the master
    /// closes: a child that another test thread is starting holds a copy until it execs.
    pub fn close_window(&mut self) {
        self.master = None;
        wait_until_hung_up(&self.slave);
    }

    /// Waits for the example to exit, within [`DEADLINE`], and checks that it stopped as a
    /// hang-up does: exit status 129 (128 + SIGHUP), no panic, and no process left in its
    /// group. What it printed after the window closed went nowhere; `seen` is what it showed.
    pub fn assert_hung_up(mut self) {
        let group = self.pid();
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the example") {
                break status;
            }
            if Instant::now() > deadline {
                let blocked_in =
                    std::fs::read_to_string(format!("/proc/{group}/syscall")).unwrap_or_default();
                let _ = killpg(group, Signal::SIGKILL);
                let _ = self.child.wait();
                panic!(
                    "{} did not stop within {DEADLINE:?} after its terminal was closed (it was \
                     in system call {}); it showed:\n{}",
                    self.name,
                    blocked_in.split_whitespace().next().unwrap_or("?"),
                    self.seen
                );
            }
            // Waits for an exit, which has no event a test can block on with a deadline here;
            // the millisecond only spares the CPU.
            thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(
            status.code(),
            Some(129),
            "a closed terminal must stop {} as SIGHUP does (exit 129), got {status:?}; it \
             showed:\n{}",
            self.name,
            self.seen
        );
        let left = processes_in_group(group);
        assert!(
            left.is_empty(),
            "processes {left:?} are still running in {}'s group",
            self.name
        );
    }
}

impl OnTerminal {
    /// The terminal's settings now (`tcgetattr(3)` on the test's copy of the slave side): for a
    /// full-screen program, to check that it put the terminal in raw mode, and back on exit.
    pub fn termios(&self) -> nix::sys::termios::Termios {
        nix::sys::termios::tcgetattr(&self.slave).expect("tcgetattr on the pty")
    }

    /// Waits for the program to exit by itself (a key, a signal the test sent), within
    /// [`DEADLINE`], and returns how it ended. The window stays open: [`OnTerminal::expect`]
    /// still reads what it showed last. Fails the test, and kills its group, if it runs on.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the program") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = killpg(self.pid(), Signal::SIGKILL);
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {DEADLINE:?}; it showed:\n{}",
                    self.name, self.seen
                );
            }
            // Waits for an exit, which has no event a test can block on with a deadline here;
            // the millisecond only spares the CPU.
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Runs each `(binary, args)` in a new directory of its own, on a terminal whose window was
/// closed before it started, and checks that each stops as a hang-up does: exit 129, no panic,
/// no process left. Returns the directories, for the caller to look for what was left in them.
pub fn assert_each_stops_on_a_closed_terminal(
    label: &str,
    programs: &[(&str, &[&str])],
) -> Vec<TempDir> {
    programs
        .iter()
        .map(|(binary, args)| {
            let dir = TempDir::new(label);
            let mut command = Command::new(binary);
            command.args(*args).current_dir(dir.path());
            OnTerminal::spawn_closed(command).assert_hung_up();
            dir
        })
        .collect()
}

/// Waits until the terminal whose slave side is `slave` has been hung up: the kernel does it
/// when the last copy of the master side closes.
fn wait_until_hung_up(slave: &std::os::fd::OwnedFd) {
    use std::os::fd::AsFd;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut fds = [nix::poll::PollFd::new(
            slave.as_fd(),
            nix::poll::PollFlags::empty(),
        )];
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the terminal was never hung up");
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(millis));
        let hung_up = fds[0]
            .revents()
            .is_some_and(|events| events.contains(nix::poll::PollFlags::POLLHUP));
        if hung_up {
            return;
        }
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = killpg(self.pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Runs `binary --help` in a new empty directory and checks that it only printed its help:
/// exit 0, a usage line on stdout, nothing on stderr, and nothing made in the directory (a
/// program that took `--help` for a path would make a FIFO or a key file named so).
pub fn assert_help_only(binary: &str) {
    let dir = TempDir::new("help");
    let mut command = Command::new(binary);
    command.arg("--help").current_dir(dir.path());
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stdout.contains("Usage:"), "{finished:?}");
    assert!(finished.stderr.is_empty(), "{finished:?}");
    let made: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read the test's directory")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert!(made.is_empty(), "--help made {made:?}");
}

/// The example binaries run as user nobody, through `setpriv --reuid=nobody --regid=nogroup
/// --clear-groups`. The tests run as root, and root passes every System V permission check
/// (CAP_IPC_OWNER): a permission path shows only in a process without it.
///
/// Each binary is copied into a directory of this test's own that nobody may search (mode
/// 0755), and runs there: the checkout may lie under a directory nobody may not enter.
pub struct Nobody {
    dir: TempDir,
    /// nobody's user id.
    pub uid: libc::uid_t,
    /// nogroup's group id.
    pub gid: libc::gid_t,
}

impl Nobody {
    /// `None` (after saying so on stderr) when the tests do not run as root: only root can make
    /// objects for another user and become nobody. Panics when setpriv is missing: a permission
    /// test must not pass without having run.
    pub fn new(label: &str) -> Option<Self> {
        if sysv::effective_uid() != 0 {
            eprintln!(
                "SKIPPED {label}: the permission tests run as root, to create queues for another \
                 user and to run the examples as nobody"
            );
            return None;
        }
        let found = Command::new("setpriv").arg("--version").output();
        assert!(
            found.is_ok_and(|out| out.status.success()),
            "setpriv is missing: install util-linux; the permission tests run the examples as \
             nobody with it, and must not pass without having run"
        );
        let dir = TempDir::new(label);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 the test's directory");
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, "nobody"])
                .output()
                .expect("id nobody");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a number from id")
        };
        Some(Self {
            dir,
            uid: id("-u"),
            gid: id("-g"),
        })
    }

    /// `binary args`, run as nobody in this test's directory.
    pub fn command(&self, binary: &str, args: &[&str]) -> Command {
        let name = Path::new(binary).file_name().expect("a binary's file name");
        let copy = self.dir.path().join(name);
        if !copy.exists() {
            // cp, not std::fs::copy: a file open for writing in this process would be inherited
            // by a child that another test thread forks at that moment, and exec of the copy
            // would then fail with ETXTBSY until that child has exec'd.
            let copied = Command::new("cp").arg(binary).arg(&copy).status();
            assert!(copied.is_ok_and(|status| status.success()), "cp {binary}");
        }
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&copy)
            .args(args)
            .current_dir(self.dir.path());
        command
    }
}
