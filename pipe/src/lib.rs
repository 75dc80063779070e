//! Anonymous pipes: the pieces the `pipe` examples share.
//!
//! A pipe is a buffer in the kernel with two file descriptors: bytes written to the write end
//! come out of the read end, in order, once. It has no name, so normally only processes that
//! inherit the descriptors across `fork()` can use it. [`Pipe`] itself, `fork()`, `run_child()`
//! and `wait_for()` are in the `support` crate, because every crate that forks shares them.
//! This file holds what is particular to the pipe examples, and the crate's only `unsafe` code:
//! resetting SIGPIPE's action.

use nix::sys::signal::{SigHandler, Signal};
use support::cli::{Context, Failure};

/// The two ends of a new pipe, both close-on-exec. Defined in the `support` crate, because the
/// other crates' examples use pipes too (as lifelines, and to tell a child what to do).
pub use support::Pipe;

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
