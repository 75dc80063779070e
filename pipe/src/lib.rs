//! Anonymous pipes: the pieces the `pipe` examples share.
//!
//! A pipe is a buffer in the kernel with two file descriptors: bytes written to the write end
//! come out of the read end, in order, once. It has no name, so only processes that inherit
//! the descriptors across `fork()` can use it. This file holds the crate's only `unsafe`
//! code: `fork()`, `_exit()` and resetting a signal's action.

use std::io::Write;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigHandler, Signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use support::cli::{Context, Failure};

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

/// Which side of a `fork()` this process is on.
pub enum Forked {
    /// The original process; `child` is the new process's pid.
    Parent {
        /// The pid of the new child process.
        child: Pid,
    },
    /// The new process. It must end with [`exit_child`], never by returning from `main`.
    Child,
}

// ANCHOR: fork
/// Forks this process: afterwards there are two, and the parent learns the child's pid.
///
/// Refuses when this process runs more than one thread: a child forked from a multithreaded
/// process may only call async-signal-safe functions (no `println!`, no allocation) until it
/// execs, and the examples' children do much more. Whatever stdout holds is flushed first, so
/// that the child does not print it a second time.
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
    // SAFETY: the process has a single thread (checked above, and only this thread could
    // start another), so the child is a complete copy of a single-threaded process and may run
    // any code, allocation and locking included.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Parent { child } => Ok(Forked::Parent { child }),
        ForkResult::Child => Ok(Forked::Child),
    }
}
// ANCHOR_END: fork

/// Ends a forked child with `status`, after flushing its stdout and stderr.
///
/// `_exit` rather than `std::process::exit`: the child must not run exit-time work that belongs
/// to the parent (C `atexit` handlers, stdio buffers the C library copied at the fork).
pub fn exit_child(status: i32) -> ! {
    flush_stdio();
    // SAFETY: `_exit` takes no pointers and cannot fail; it ends the process immediately.
    unsafe { libc::_exit(status) }
}

/// Waits until `child` ends and returns how it ended. Retries when a signal interrupts the wait.
pub fn wait_for(child: Pid) -> Result<WaitStatus, Failure> {
    loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => return other.context(format!("waitpid({child})")),
        }
    }
}

/// Gives SIGPIPE back its default action, "terminate the process".
///
/// Rust's runtime sets SIGPIPE to "ignore" before `main` runs (so that a write to a closed pipe
/// returns the error EPIPE instead), and a forked child inherits that. A C program starts with
/// the default action.
pub fn restore_default_sigpipe() -> Result<(), Failure> {
    // SAFETY: SIG_DFL installs no handler of ours, so no code of ours can ever run in signal
    // context; nothing else in the process depends on SIGPIPE being ignored.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }
        .context("signal(SIGPIPE, SIG_DFL)")?;
    Ok(())
}

fn flush_stdio() {
    // Nothing useful can be done about a failed flush of our own stdout right before a fork or
    // an exit; the bytes are lost either way.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
