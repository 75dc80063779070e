//! Lines from a descriptor, read with `read(2)` so that a stop signal can end the wait.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;

use crate::cli::{Context, Failure};
use crate::stop::{Stop, StopContext, Stopped, TerminalContext};

/// Collects the bytes read from a descriptor (stdin) into lines, without the newline (and
/// without a `\r` before it). Bytes are kept as they came: a line need not be UTF-8.
///
/// std's `stdin().lines()` retries a read that a signal interrupted, and its buffer hides lines
/// from `poll()`; this reader does neither.
#[derive(Default)]
pub struct LineReader {
    pending: Vec<u8>,
    ended: bool,
}

/// How often a wait for input asks whether the peer is still there (see [`wait_readable`]).
pub const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Waits until `input` can be read (data, its end, or a hang-up), asking `still_there()` every
/// [`WATCH_EVERY`] meanwhile: a peer that dies while nobody types is noticed at once, not at
/// the next line. A stop signal ends the wait.
pub fn wait_readable(
    input: BorrowedFd<'_>,
    stop: &Stop,
    mut still_there: impl FnMut() -> Result<(), Stopped>,
) -> Result<(), Stopped> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let every = PollTimeout::try_from(WATCH_EVERY).expect("a short timeout");
    loop {
        let mut fds = [PollFd::new(input, PollFlags::POLLIN)];
        if stop.retry(|| poll(&mut fds, every)).context("poll")? > 0 {
            return Ok(());
        }
        still_there()?;
    }
}

/// What one read brought.
pub enum Input {
    /// The lines completed by this read (possibly none).
    Lines(Vec<Vec<u8>>),
    /// End of input, with the last line if it had no newline.
    EndOfFile(Option<Vec<u8>>),
    /// The terminal was closed (EIO): stop as SIGHUP would make you stop.
    HungUp,
}

impl LineReader {
    /// A reader with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next line, waiting for it in `read(2)`; `None` at the end of the input. A stop
    /// signal ends the wait, and so does a closed terminal (EIO), as a SIGHUP. Each line is returned as soon as its newline arrives, so a
    /// terminal's lines come one by one, as they are typed.
    pub fn next_line(
        &mut self,
        input: BorrowedFd<'_>,
        stop: &Stop,
    ) -> Result<Option<Vec<u8>>, Stopped> {
        self.next_line_with(input, stop, None)
    }

    /// [`next_line`](Self::next_line), asking `still_there()` every [`WATCH_EVERY`] while
    /// nobody types: an error from it (the peer died) ends the wait.
    pub fn next_line_watching(
        &mut self,
        input: BorrowedFd<'_>,
        stop: &Stop,
        mut still_there: impl FnMut() -> Result<(), Stopped>,
    ) -> Result<Option<Vec<u8>>, Stopped> {
        self.next_line_with(input, stop, Some(&mut still_there))
    }

    fn next_line_with(
        &mut self,
        input: BorrowedFd<'_>,
        stop: &Stop,
        mut watch: Option<&mut dyn FnMut() -> Result<(), Stopped>>,
    ) -> Result<Option<Vec<u8>>, Stopped> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(Some(line));
            }
            if self.ended {
                let last = std::mem::take(&mut self.pending);
                return Ok((!last.is_empty()).then_some(last));
            }
            if let Some(still_there) = watch.as_mut() {
                wait_readable(input, stop, still_there)?;
            }
            let mut buffer = [0; 4096];
            let count = stop
                .retry(|| nix::unistd::read(input, &mut buffer))
                .terminal_context("read stdin")?;
            if count == 0 {
                // A stop signal that came with the end of input may complete read() with 0
                // rather than EINTR: it still wins, or Ctrl-C would look like Ctrl-D. So does a
                // closed terminal, which may give end of file rather than EIO.
                stop.check()?;
                crate::stop::check_hang_up(input)?;
                self.ended = true;
            }
            self.pending.extend_from_slice(&buffer[..count]);
        }
    }

    /// Reads what `input` holds now, in one `read(2)`. Call it when `poll()` said the input is
    /// ready: the read then returns at once.
    pub fn read_from(&mut self, input: BorrowedFd<'_>) -> Result<Input, Failure> {
        let mut buffer = [0; 4096];
        let count = loop {
            match nix::unistd::read(input, &mut buffer) {
                Ok(count) => break count,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(Input::Lines(Vec::new())),
                Err(errno) if crate::cli::terminal_closed(errno) => return Ok(Input::HungUp),
                Err(errno) => return Err(errno).context("read stdin"),
            }
        };
        if count == 0 {
            let last = std::mem::take(&mut self.pending);
            return Ok(Input::EndOfFile((!last.is_empty()).then_some(last)));
        }
        self.pending.extend_from_slice(&buffer[..count]);
        Ok(Input::Lines(
            std::iter::from_fn(|| self.take_line()).collect(),
        ))
    }

    fn take_line(&mut self) -> Option<Vec<u8>> {
        let newline = self.pending.iter().position(|&byte| byte == b'\n')?;
        let mut line: Vec<u8> = self.pending.drain(..=newline).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(line)
    }
}
