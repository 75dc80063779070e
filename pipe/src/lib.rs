//! Anonymous pipes: the pieces the `pipe` examples share.
//!
//! A pipe is a buffer in the kernel with two file descriptors: bytes written to the write end
//! come out of the read end, in order, once. It has no name, so only processes that inherit
//! the descriptors across `fork()` can use it. (`fork()` itself, with `exit_child()` and
//! `wait_for()`, is in the `support` crate: every crate that forks shares it.) This file holds
//! the crate's only `unsafe` code, resetting SIGPIPE's action.

use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sys::signal::{SigHandler, Signal};
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
