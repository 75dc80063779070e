//! Anonymous pipes: the pieces the `pipe` examples share.
//!
//! A pipe is a buffer in the kernel with two file descriptors: bytes written to the write end
//! come out of the read end, in order, once. It has no name, so normally only processes that
//! inherit the descriptors across `fork()` can use it. The examples call `pipe2`, `fork`,
//! `read`, `write`, `waitpid`, `dup2` and `execvp` themselves; `fork()` and the guarded
//! [`support::Child`] are in the `support` crate, with the one way every example stops
//! ([`support::stop::Stop`]). This file holds what is particular to the pipe examples, and the
//! crate's only `unsafe` code: resetting SIGPIPE's action.

use nix::sys::signal::{SigHandler, Signal};
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
