//! Shared plumbing for the ipc-labs examples, kept out of the examples so that each one shows
//! only its mechanism.
//!
//! - [`cli`]: command-line parsing that fails in one clear line, and errors that name the
//!   operation that failed (`fork: EAGAIN: Resource temporarily unavailable`).
//! - [`fork`], [`run_child`], [`exit_child`] and [`wait_for`]: `fork()` made safe to call from
//!   the examples, and its companions. This file holds the crate's only `unsafe` code.
//! - [`Pipe`]: a pipe's two ends, close-on-exec; the examples use pipes to signal each other.
//! - [`describe`]: a `waitpid` result in words (`killed by signal 13 (SIGPIPE)`).
//! - [`testing`]: what the integration tests use to drive the real binaries: a process group
//!   per example, stdout read line by line with a deadline, and a watchdog that kills whatever
//!   is still running when a test gives up.

pub mod cli;
pub mod testing;

use std::io::Write;
use std::os::fd::OwnedFd;

use cli::{Context, Failure};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

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
    /// The original process.
    Parent {
        /// The pid of the new child process.
        child: Pid,
    },
    /// The new process. It must end with [`exit_child`], never by returning from `main`.
    Child,
}

/// The signals an example may handle (to clean up on Ctrl-C, or to hear of its children), and
/// that a new child must not handle with the parent's handler.
const RESET_IN_CHILD: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGCHLD,
];

// ANCHOR: fork
/// Forks this process: afterwards there are two, and the parent learns the child's pid.
///
/// Three things a bare `fork()` does not do:
/// - It refuses when this process runs more than one thread. A child forked from a
///   multithreaded process contains only the calling thread; a lock another thread held (the
///   allocator's, stdout's) stays locked forever, so such a child may only call
///   async-signal-safe functions until it execs. The examples' children do much more.
/// - It flushes stdout and stderr first, so that the child does not print the parent's buffered
///   output a second time.
/// - In the child it gives SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGCHLD back their default
///   action if the parent had a handler for them, as `exec` would. A child that kept the
///   parent's Ctrl-C handler would only notify the parent's main loop, and live on. The signals
///   are blocked around the `fork()`, so none reaches the child before the reset; one that
///   arrives meanwhile waits, then acts by default.
pub fn fork() -> Result<Forked, Failure> {
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
    let held: SigSet = RESET_IN_CHILD.into_iter().collect();
    let mut before = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut before))
        .context("sigprocmask(SIG_BLOCK)")?;
    // SAFETY: the process has a single thread (checked above, and only this thread could start
    // another), so the child is a complete copy of a single-threaded process and may run any
    // code, allocation and locking included.
    let forked = unsafe { nix::unistd::fork() };
    if let Ok(ForkResult::Child) = forked
        && reset_handlers_in_child().is_err()
    {
        exit_child(127);
    }
    let unblocked = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
    match forked.context("fork")? {
        ForkResult::Child => {
            if unblocked.is_err() {
                exit_child(127);
            }
            Ok(Forked::Child)
        }
        ForkResult::Parent { child } => {
            unblocked.context("sigprocmask(SIG_SETMASK)")?;
            Ok(Forked::Parent { child })
        }
    }
}
// ANCHOR_END: fork

fn reset_handlers_in_child() -> nix::Result<()> {
    for signal in RESET_IN_CHILD {
        // SAFETY: SIG_DFL and SIG_IGN install no handler, so no code of ours can run in signal
        // context. The handler replaced belongs to the parent's signal handling, not the child's.
        let previous = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) }?;
        if matches!(previous, SigHandler::SigIgn) {
            // An ignored signal stays ignored, as across exec (`nohup` relies on that).
            // SAFETY: as above.
            unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) }?;
        }
    }
    Ok(())
}

/// Ends a forked child with `status`, after flushing its stdout and stderr.
///
/// `_exit` rather than `std::process::exit` or returning from `main`: the child must not run
/// exit-time work that belongs to the parent, nor the destructors of the parent's values it
/// holds copies of (a copy of a queue's owner would remove the parent's queue).
pub fn exit_child(status: i32) -> ! {
    flush_stdio();
    // SAFETY: `_exit` takes no pointers and cannot fail; it ends the process immediately.
    unsafe { libc::_exit(status) }
}

// ANCHOR: run_child
/// Runs the child's half of a fork and ends the child with the status `body` returns.
///
/// The child never returns from `main`, whatever happens: a panic (including the one `println!`
/// raises when stdout is gone, see [`cli::run`]) ends it with status 101 (1 when stdout is
/// gone) instead of unwinding into the frames it shares with the parent's code, where it would
/// run destructors on its copies of the parent's values.
pub fn run_child(body: impl FnOnce() -> i32) -> ! {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(status) => exit_child(status),
        Err(_) if cli::stdout_is_gone() => exit_child(1),
        Err(_) => exit_child(101),
    }
}
// ANCHOR_END: run_child

/// Waits until `child` ends and returns how it ended. Retries when a signal interrupts the wait.
pub fn wait_for(child: Pid) -> Result<WaitStatus, Failure> {
    loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => return other.context(format!("waitpid({child})")),
        }
    }
}

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
