//! Anonymous pipes: the pieces the `pipe` examples share.
//!
//! A pipe is a buffer in the kernel with two file descriptors: bytes written to the write end
//! come out of the read end, in order, once. It has no name, so normally only processes that
//! inherit the descriptors across `fork()` can use it. The examples call `pipe` (`pipeline`:
//! `pipe2` with `O_CLOEXEC`, as it execs), `fork`, `read`, `write`, `waitpid`, `dup2` and
//! `execvp` themselves; `fork()` and the guarded
//! [`support::Child`] are in the `support` crate, with the one way every example stops
//! ([`support::stop::Stop`]). This file holds what is particular to the pipe examples, and the
//! crate's only `unsafe` code: changing SIGPIPE's action (back to the default, or to a handler).

pub mod lab;

use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use support::cli::{Context, Failure};

/// `signal(SIGPIPE, SIG_DFL)` (signal(2)): gives SIGPIPE back its default action, "terminate
/// the process".
///
/// Rust's runtime sets SIGPIPE to "ignore" before `main` runs (so that a write to a closed pipe
/// returns the error EPIPE instead), and a forked child inherits that. A C program starts with
/// the default action.
pub fn signal_sigpipe_default() -> Result<(), Failure> {
    // SAFETY: SIG_DFL installs no handler of ours, so no code of ours can ever run in signal
    // context; nothing else in the process depends on SIGPIPE being ignored.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }
        .context("signal(SIGPIPE, SIG_DFL)")?;
    Ok(())
}

/// How many times the handler that [`catch_sigpipe`] installs has run in this process.
static SIGPIPE_CAUGHT: AtomicU32 = AtomicU32::new(0);

/// The SIGPIPE handler: it only counts. An atomic add is async-signal-safe (no lock, no
/// allocation); printing is not, so the main path reads the count and prints it.
extern "C" fn count_sigpipe(_signal: i32) {
    SIGPIPE_CAUGHT.fetch_add(1, Ordering::SeqCst);
}

/// `sigaction(SIGPIPE, ...)` (sigaction(2)) with a handler that counts the SIGPIPEs this process
/// gets; [`sigpipe_caught`] reads the count. A caught SIGPIPE does not end the process: the
/// handler runs, and then the `write` that raised it fails with EPIPE.
pub fn catch_sigpipe() -> Result<(), Failure> {
    let action = SigAction::new(
        SigHandler::Handler(count_sigpipe),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only adds to an atomic counter, which is async-signal-safe; nothing
    // else in the process depends on SIGPIPE's previous action (Rust's "ignore").
    unsafe { sigaction(Signal::SIGPIPE, &action) }.context("sigaction(SIGPIPE)")?;
    Ok(())
}

/// How many times the handler of [`catch_sigpipe`] has run.
pub fn sigpipe_caught() -> u32 {
    SIGPIPE_CAUGHT.load(Ordering::SeqCst)
}

/// Whether a SIGPIPE is pending: sent, but held back by the signal mask. This is the set that
/// `sigpending(2)` returns, read from `/proc/thread-self/status`: `SigPnd` (pending for this
/// thread) and `ShdPnd` (for the whole process) are hexadecimal masks, bit n-1 for signal n.
pub fn sigpipe_pending() -> Result<bool, Failure> {
    let path = "/proc/thread-self/status";
    let status = std::fs::read_to_string(path).context(format!("read {path}"))?;
    let bit = 1u64 << (Signal::SIGPIPE as u32 - 1);
    for line in status.lines() {
        if let Some(mask) = line
            .strip_prefix("SigPnd:")
            .or_else(|| line.strip_prefix("ShdPnd:"))
        {
            let mask = u64::from_str_radix(mask.trim(), 16).context(format!("{path}: {line}"))?;
            if mask & bit != 0 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Cuts the bytes that `read(2)` brings out of a pipe into lines.
///
/// A pipe carries bytes, not messages: one `read` may return half a line, or three lines, or
/// the end of one and the start of the next. The examples end every message with a newline,
/// hand each read's bytes to [`Lines::push`], and take whole lines out with
/// [`Lines::next_line`].
#[derive(Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Nothing pending yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the bytes one `read` returned.
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete line, without its newline, if one has arrived.
    pub fn next_line(&mut self) -> Option<String> {
        let newline = self.pending.iter().position(|&byte| byte == b'\n')?;
        let line: Vec<u8> = self.pending.drain(..=newline).collect();
        Some(String::from_utf8_lossy(&line[..newline]).into_owned())
    }

    /// What is left after end-of-file: a last line that had no newline, if any.
    pub fn rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn lines_come_whole_however_the_reads_cut_them() {
        let mut lines = Lines::new();
        lines.push(b"1\n2");
        assert_eq!(lines.next_line().as_deref(), Some("1"));
        assert_eq!(lines.next_line(), None);
        lines.push(b"2\n\n3");
        assert_eq!(lines.next_line().as_deref(), Some("22"));
        assert_eq!(lines.next_line().as_deref(), Some(""));
        assert_eq!(lines.next_line(), None);
        assert_eq!(lines.rest().as_deref(), Some("3"));
        assert_eq!(lines.rest(), None);
    }
}
