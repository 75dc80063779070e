//! Shared plumbing for the ipc-labs examples, kept out of the examples so that each one shows
//! only its mechanism.
//!
//! - [`cli`]: command-line parsing that fails in one clear line, and errors that name the
//!   operation that failed (`fork: EAGAIN: Resource temporarily unavailable`).
//! - [`stop`]: the one way every example stops on SIGINT, SIGTERM and SIGHUP, whatever it is
//!   blocked in, and leaves through its main path, where it cleans up.
//! - [`fork`] and [`Child`]: `fork()` made safe to call from the examples; the child dies with
//!   its parent, and a [`Child`] the parent drops is killed and reaped.
//! - [`run_child`] and [`exit_child`]: how a forked child ends without running the parent's
//!   destructors.
//! - [`Pipe`]: a pipe's two ends, close-on-exec.
//! - [`LineReader`]: stdin read line by line with `read(2)`, so that a signal can end the wait.
//! - [`describe`]: a `waitpid` result in words (`killed by signal 13 (SIGPIPE)`).
//!
//! The integration tests' harness is the separate `testkit` crate, a dev-dependency only, so
//! that no example binary carries test code.
//!
//! This file holds the crate's only `unsafe` code, in the module `raw` at its end.

pub mod cli;
pub mod keys;
mod lines;
pub mod stop;

pub use lines::{Input, LineReader, WATCH_EVERY, wait_readable};

use std::io::Write;
use std::os::fd::OwnedFd;

use cli::{Context, Failure};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, getpid, getppid};
use stop::{Stop, StopContext, Stopped};

// ANCHOR: pipe
/// The two ends of a new pipe.
pub struct Pipe {
    /// What the other end wrote comes out here.
    pub read_end: OwnedFd,
    /// What is written here goes in.
    pub write_end: OwnedFd,
}

impl Pipe {
    /// Creates a pipe. Both ends are close-on-exec: a program we `exec` does not inherit a stray
    /// copy, which (for a write end) would keep the reader from ever seeing end-of-file.
    pub fn new() -> Result<Self, Failure> {
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
        Ok(Self {
            read_end,
            write_end,
        })
    }
}
// ANCHOR_END: pipe

/// Which side of a `fork()` this process is on.
pub enum Forked {
    /// The original process, holding the new child.
    Parent(Child),
    /// The new process. It must end with [`exit_child`] or [`run_child`], never by returning
    /// from `main`.
    Child,
}

/// `fork(2)`: afterwards there are two processes; the parent gets the child as a [`Child`],
/// which is killed and reaped if the parent drops it without waiting for it.
///
/// What a bare `fork()` does not do:
/// - It refuses when this process runs more than one thread: a child forked from a
///   multithreaded process may only call async-signal-safe functions until it execs.
/// - It flushes stdout and stderr first, so that the child does not print the parent's buffered
///   output a second time.
/// - The child asks the kernel for SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), so that
///   no child outlives its parent, even one killed by SIGKILL.
/// - The child inherits the parent's stop handlers, which in a child act as the default
///   action (the child dies) until it calls [`stop::Stop::install`] itself.
pub fn fork() -> Result<Forked, Failure> {
    fork_with(DiesWithParent::Yes)
}

/// Like [`fork`], but the child may outlive its parent: for a demonstration of orphans only,
/// where something else (a lifeline pipe) ends the child.
pub fn fork_outliving_parent() -> Result<Forked, Failure> {
    fork_with(DiesWithParent::No)
}

#[derive(Clone, Copy, PartialEq)]
enum DiesWithParent {
    Yes,
    No,
}

// ANCHOR: fork_with
fn fork_with(dies_with_parent: DiesWithParent) -> Result<Forked, Failure> {
    let threads = std::fs::read_dir("/proc/self/task")
        .context("count threads in /proc/self/task")?
        .count();
    if threads != 1 {
        return Err(Failure::new(format!(
            "fork: refused: this process runs {threads} threads, and a child forked from a \
             multithreaded process may only call async-signal-safe functions"
        )));
    }
    flush_stdio();
    let parent = getpid();
    match raw::fork().context("fork")? {
        ForkResult::Parent { child } => Ok(Forked::Parent(Child::adopt(child))),
        ForkResult::Child => {
            if dies_with_parent == DiesWithParent::Yes {
                if set_pdeathsig(Signal::SIGTERM).is_err() {
                    exit_child(127);
                }
                // The parent may have died before the request was made: then nobody sends it.
                if getppid() != parent {
                    exit_child(128 + Signal::SIGTERM as i32);
                }
            }
            Ok(Forked::Child)
        }
    }
}
// ANCHOR_END: fork_with

// ANCHOR: child
/// A child process of ours that must not outlive us.
///
/// Dropping a `Child` that has not been reaped kills it with SIGKILL and reaps it, so an error
/// or an early return never leaves a process behind. Only the process that forked it does so:
/// a copy of the guard inherited by a later child does nothing.
pub struct Child {
    pid: Pid,
    owner: Pid,
    reaped: bool,
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped && getpid() == self.owner {
            let _ = self.kill_and_reap();
        }
    }
}
// ANCHOR_END: child

impl Child {
    /// Takes charge of `pid`, a child of this process (by `fork`, or by re-parenting to a
    /// "child subreaper", `prctl(PR_SET_CHILD_SUBREAPER)`).
    pub fn adopt(pid: Pid) -> Self {
        Self {
            pid,
            owner: getpid(),
            reaped: false,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether a wait has collected the child's exit already.
    pub fn is_reaped(&self) -> bool {
        self.reaped
    }

    /// `waitpid(2)`: waits until the child ends, and reaps it. A stop signal ends the wait.
    pub fn waitpid(&mut self, stop: &Stop) -> Result<WaitStatus, Stopped> {
        let status = stop
            .retry(|| waitpid(self.pid, None))
            .context(format!("waitpid({})", self.pid))?;
        self.note(status);
        Ok(status)
    }

    /// `waitpid(pid, flags)`, retried after EINTR, not ended by a stop signal (for cleanup, and
    /// for `WNOHANG` polls). An exit or a death by signal reaps the child; with `WNOHANG` the
    /// answer may be `StillAlive`.
    pub fn waitpid_with(&mut self, flags: Option<WaitPidFlag>) -> Result<WaitStatus, Failure> {
        loop {
            match waitpid(self.pid, flags) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno).context(format!("waitpid({})", self.pid)),
                Ok(status) => {
                    self.note(status);
                    return Ok(status);
                }
            }
        }
    }

    fn note(&mut self, status: WaitStatus) {
        if matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
            self.reaped = true;
        }
    }

    /// Kills the child with SIGKILL (which even a stopped process cannot ignore) and reaps it.
    pub fn kill_and_reap(&mut self) -> Result<WaitStatus, Failure> {
        // A zombie can still be sent a signal, so ESRCH means "reaped already" only.
        let _ = kill(self.pid, Signal::SIGKILL);
        self.waitpid_with(None)
    }
}

/// Whether process `pid` has ended: it no longer exists (`kill(pid, 0)` fails with ESRCH), or
/// it is a zombie that its parent has not reaped yet, which holds nothing but its exit status
/// (state `Z` in `/proc/<pid>/stat`). A peer killed a moment ago is often still a zombie.
pub fn has_ended(pid: Pid) -> bool {
    if kill(pid, None) == Err(Errno::ESRCH) {
        return true;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some('Z' | 'X'))
}

/// `waitid(P_ALL, WEXITED | WNOWAIT)`: waits until one of this process's children has ended,
/// and says which, without reaping it (its [`Child`]'s `waitpid` does). So a parent learns at
/// once that any child failed, not only the one it happens to wait for. A stop signal ends the
/// wait.
pub fn first_to_end(stop: &Stop) -> Result<Pid, Stopped> {
    use nix::sys::wait::{Id, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    let ended = stop.retry(|| waitid(Id::All, flags)).context("waitid")?;
    ended
        .pid()
        .ok_or_else(|| Stopped::Failed(Failure::new(format!("waitid: {ended:?} names no child"))))
}

/// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)`: a child of this process that has ended, if
/// any, without waiting and without reaping it.
pub fn ended_child() -> Result<Option<Pid>, Errno> {
    use nix::sys::wait::{Id, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::All, flags) {
        Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => Ok(None),
        Ok(ended) => Ok(ended.pid()),
        Err(errno) => Err(errno),
    }
}

/// Ends a forked child with `status`, after flushing its stdout and stderr.
///
/// `_exit` rather than `std::process::exit` or returning from `main`: the child must not run
/// exit-time work that belongs to the parent, nor the destructors of the parent's values it
/// holds copies of (a copy of a queue's owner would remove the parent's queue).
pub fn exit_child(status: i32) -> ! {
    flush_stdio();
    raw::exit_now(status)
}

// ANCHOR: run_child
/// Runs the child's half of a fork and ends the child with the status `body` returns.
///
/// The child never returns from `main`, whatever happens: a panic (including the one `println!`
/// raises when stdout is gone, see [`cli::run`]) ends it with status 101 (1 when stdout is
/// gone, 129 when its terminal was closed) instead of unwinding into the frames it shares with
/// the parent's code, where it would run destructors on its copies of the parent's values.
pub fn run_child(body: impl FnOnce() -> i32) -> ! {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        _ if cli::terminal_is_gone() => exit_child(128 + libc::SIGHUP),
        Ok(status) => exit_child(status),
        Err(_) if cli::stdout_is_gone() => exit_child(1),
        Err(_) => exit_child(101),
    }
}
// ANCHOR_END: run_child

fn flush_stdio() {
    // Nothing useful can be done about a failed flush of our own stdout right before a fork or
    // an exit; the bytes are lost either way.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Says in words what `waitpid` reported about a child: `exited with status 0`, `was killed by
/// signal 13 (SIGPIPE)`, `was stopped by signal 19 (SIGSTOP)`.
pub fn describe(status: &WaitStatus) -> String {
    match *status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, dumped_core) => format!(
            "was killed by signal {} ({signal}){}",
            signal as i32,
            if dumped_core { " and dumped core" } else { "" }
        ),
        WaitStatus::Stopped(_, signal) => {
            format!("was stopped by signal {} ({signal})", signal as i32)
        }
        WaitStatus::Continued(_) => "was continued by SIGCONT".to_owned(),
        WaitStatus::StillAlive => "is still running".to_owned(),
        other => format!("changed state: {other:?}"),
    }
}

/// The `unsafe` of the fork API: `fork` and `_exit`. (The stop mechanism's is in
/// `stop/handler.rs`, beside the code that uses it.)
mod raw {
    use nix::unistd::ForkResult;

    /// `fork(2)`.
    pub fn fork() -> nix::Result<ForkResult> {
        // SAFETY: the caller checked that the process has a single thread (and only this thread
        // could start another), so the child is a complete copy of a single-threaded process and
        // may run any code, allocation and locking included.
        unsafe { nix::unistd::fork() }
    }

    /// `_exit(2)`: ends the process at once, without running exit-time work.
    pub fn exit_now(status: i32) -> ! {
        // SAFETY: `_exit` takes no pointers and cannot fail.
        unsafe { libc::_exit(status) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn fork_refuses_a_multithreaded_process() {
        // The test harness runs this on a thread of its own, so the process has at least two:
        // fork() must say no, and must not have forked (a forked test harness would run every
        // remaining test twice).
        let refused = fork().err().expect("fork refused").to_string();
        assert!(
            refused.starts_with("fork: refused: this process runs "),
            "{refused}"
        );
    }

    #[test]
    fn describe_names_the_signal_by_number_and_name() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            describe(&WaitStatus::Signaled(pid, Signal::SIGPIPE, false)),
            "was killed by signal 13 (SIGPIPE)"
        );
        assert_eq!(
            describe(&WaitStatus::Exited(pid, 3)),
            "exited with status 3"
        );
    }
}
