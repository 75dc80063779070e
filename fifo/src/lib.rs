//! Named pipes (FIFOs): the pieces the `fifo` examples share.
//!
//! A FIFO is a pipe with a name in the file system. Any process that may open the name can use
//! the pipe, related or not; `open()` for reading waits for a writer and `open()` for writing
//! waits for a reader. This file holds what the examples have in common:
//!
//! - [`Fifo`]: the creation rule. Create the FIFO (mode 0600) if nothing is at the path, use it
//!   if a FIFO is already there, refuse anything else (a regular file, a symlink), and remove it
//!   at the end only if this process made it.
//! - [`encode_line`] and [`RecordReader`]: the seed's wire format, fixed-size records holding
//!   NUL-terminated, NUL-padded text.
//! - [`Stop`]: Ctrl-C and SIGTERM that end a wait at once, with `ctrlc` or with `signal-hook`,
//!   through a self-pipe that `poll()` watches beside the descriptors the example waits on.
//!
//! Every descriptor is opened with `O_NONBLOCK` and every wait is a `poll()`, because both
//! signal crates install their handlers with `SA_RESTART`: a blocking `open()` or `read()`
//! would be restarted after Ctrl-C and never return. The crate has no `unsafe` code.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, fchmodat, fstat};
use support::cli::{Context, Failure, program_name};

/// The seed's FIFO: `./mfifo` in the current directory.
pub const DEFAULT_PATH: &str = "./mfifo";

/// The seed's record size, `sizeof(char buff[100])`.
pub const SEED_RECORD_SIZE: usize = 100;

/// The largest record: a write of at most `PIPE_BUF` bytes to a pipe is atomic, so records from
/// several writers never interleave.
pub const MAX_RECORD_SIZE: usize = libc::PIPE_BUF;

/// How long a writer waits before it tries again to open a FIFO that has no reader yet.
pub const RECHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The signals that stop an example: Ctrl-C, `kill`, and a terminal that closes.
pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

// ANCHOR: fifo
/// A FIFO at a path in the file system, which this process either made or found.
///
/// Dropping it removes the FIFO if this process made it and the path still names that same FIFO.
/// The drop happens on the main thread when the example's main body returns, whichever way it
/// ends: end of file, Ctrl-C, or an error.
pub struct Fifo {
    path: PathBuf,
    /// Device and inode numbers of the FIFO this process made; `None` if another process made it.
    made_here: Option<(u64, u64)>,
}
// ANCHOR_END: fifo

/// Read and write for the owner only, whatever the umask.
const OWNER_ONLY: Mode = Mode::S_IRUSR.union(Mode::S_IWUSR);

impl Fifo {
    // ANCHOR: create_or_use
    /// The creation rule of the seed, made safe: whoever comes first makes the FIFO, the other
    /// side uses it.
    ///
    /// `lstat` (which does not follow symlinks) looks at the path first. A FIFO there is used as
    /// it is. A symlink or any other kind of file is refused and left untouched. Nothing there:
    /// `mkfifo` makes the FIFO, and then its mode is set to 0600, because `mkfifo`'s mode goes
    /// through the umask.
    pub fn create_or_use(path: &Path) -> Result<Self, Failure> {
        let shown = path.display();
        loop {
            match fs::symlink_metadata(path) {
                Ok(found) => {
                    refuse_unless_fifo(path, &found)?;
                    return Ok(Self {
                        path: path.to_owned(),
                        made_here: None,
                    });
                }
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => return Err(err).context(format!("lstat {shown}")),
            }
            match nix::unistd::mkfifo(path, OWNER_ONLY) {
                Ok(()) => break,
                // The other side made it between our lstat and our mkfifo: look at it again.
                Err(Errno::EEXIST) => continue,
                Err(errno) => return Err(errno).context(format!("mkfifo {shown}")),
            }
        }
        let made = fs::symlink_metadata(path).context(format!("lstat {shown}"))?;
        refuse_unless_fifo(path, &made)?;
        // From here on, dropping `fifo` removes what we made, even if the chmod below fails.
        let fifo = Self {
            path: path.to_owned(),
            made_here: Some((made.dev(), made.ino())),
        };
        // The umask can only take bits away from 0600 (leaving, say, 0400); set them back.
        // NoFollowSymlink: if someone swapped in a symlink meanwhile, this fails instead of
        // changing the mode of the file the link points to.
        fchmodat(AT_FDCWD, path, OWNER_ONLY, FchmodatFlags::NoFollowSymlink)
            .context(format!("chmod 0600 {shown}"))?;
        Ok(fifo)
    }
    // ANCHOR_END: create_or_use

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process made the FIFO (and will remove it).
    pub fn made_here(&self) -> bool {
        self.made_here.is_some()
    }

    /// Where the FIFO came from, in words, for the examples' narration.
    pub fn origin(&self) -> String {
        let shown = self.path.display();
        if self.made_here() {
            format!("created the FIFO {shown} (mode 0600); it will remove it when it ends")
        } else {
            format!("found the FIFO {shown}, made by another process; using it (and leaving it)")
        }
    }

    // ANCHOR: open
    /// Opens the FIFO for reading. Never waits: with `O_NONBLOCK`, opening for reading succeeds
    /// at once even when no writer has the FIFO open yet.
    pub fn open_for_reading(&self) -> Result<OwnedFd, Failure> {
        self.open(OFlag::O_RDONLY)?
            .ok_or_else(|| Failure::new(format!("open {}: {}", self.path.display(), Errno::ENXIO)))
    }

    /// Opens the FIFO for writing if a process has it open for reading; `Ok(None)` if none has.
    /// Never waits: with `O_NONBLOCK`, opening for writing with no reader fails with ENXIO
    /// instead of blocking. The descriptor stays non-blocking.
    pub fn try_open_for_writing(&self) -> Result<Option<OwnedFd>, Failure> {
        self.open(OFlag::O_WRONLY)
    }

    fn open(&self, access: OFlag) -> Result<Option<OwnedFd>, Failure> {
        let shown = self.path.display();
        // O_NOFOLLOW: a symlink swapped in since our lstat makes open fail (ELOOP).
        let flags = access | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::open(&self.path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENXIO) => return Ok(None),
            Err(errno) => return Err(errno).context(format!("open {shown}")),
        };
        // A regular file swapped in is opened (without O_TRUNC: untouched) but refused here.
        let opened = fstat(&fd).context(format!("fstat {shown}"))?;
        if SFlag::from_bits_truncate(opened.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
            return Err(Failure::new(format!(
                "{shown}: refused: it was replaced by something that is not a FIFO"
            )));
        }
        Ok(Some(fd))
    }
    // ANCHOR_END: open
}

// ANCHOR: drop
impl Drop for Fifo {
    fn drop(&mut self) {
        let Some(made) = self.made_here else { return };
        let shown = self.path.display();
        let report = match fs::symlink_metadata(&self.path) {
            Ok(now) if now.file_type().is_fifo() && (now.dev(), now.ino()) == made => {
                match fs::remove_file(&self.path) {
                    Ok(()) => format!("removed {shown}, the FIFO it created"),
                    Err(err) => format!("could not remove {shown}: {err}"),
                }
            }
            Ok(_) => format!("left {shown} alone: it is no longer the FIFO this program made"),
            Err(_) => format!("{shown} is already gone; another process removed it"),
        };
        // writeln! rather than println!: with the terminal gone (SIGHUP), println! would panic.
        let _ = writeln!(std::io::stdout(), "{}: {report}", program_name());
    }
}
// ANCHOR_END: drop

fn refuse_unless_fifo(path: &Path, found: &fs::Metadata) -> Result<(), Failure> {
    let kind = found.file_type();
    let what = if kind.is_fifo() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a FIFO"
    };
    Err(Failure::new(format!(
        "{}: refused: it is {what}, not a FIFO; it was left untouched (remove it or choose \
         another --path)",
        path.display()
    )))
}

// ANCHOR: encode
/// Cuts a line into records of `record_size` bytes, ready to write one by one.
///
/// Each record is the text, a NUL, and NULs up to `record_size`: what the seed's `read.c`
/// expects (its `write.c` sends whatever follows the NUL in its buffer; we send zeros). A line
/// longer than `record_size - 1` bytes is split into several records, cut between UTF-8
/// characters. A line holding a NUL byte is refused: the reader would stop at it.
pub fn encode_line(line: &[u8], record_size: usize) -> Result<Vec<Vec<u8>>, Failure> {
    if line.contains(&0) {
        return Err(Failure::new(
            "the line contains a NUL byte, which marks the end of a record's text; not sent",
        ));
    }
    let room = record_size - 1;
    let mut records = Vec::new();
    let mut rest = line;
    loop {
        let mut cut = rest.len().min(room);
        // Back up over UTF-8 continuation bytes (0b10xx_xxxx) so that no character is split.
        while cut < rest.len() && cut > 0 && rest[cut] & 0b1100_0000 == 0b1000_0000 {
            cut -= 1;
        }
        if cut == 0 && !rest.is_empty() {
            cut = rest.len().min(room); // not UTF-8 at all: cut anywhere
        }
        let mut record = rest[..cut].to_vec();
        record.resize(record_size, 0);
        records.push(record);
        rest = &rest[cut..];
        if rest.is_empty() {
            return Ok(records);
        }
    }
}

/// The text of a record: the bytes before the first NUL.
pub fn decode_record(record: &[u8]) -> &[u8] {
    let end = record
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(record.len());
    &record[..end]
}
// ANCHOR_END: encode

/// Checks a `--record-size` value: room for at least one byte of text and its NUL, and at most
/// `PIPE_BUF` so that each record is written atomically.
pub fn parse_record_size(text: &str) -> Result<usize, String> {
    let size: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (2..=MAX_RECORD_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(format!(
            "{size} is out of range: a record holds 2 to {MAX_RECORD_SIZE} (PIPE_BUF) bytes"
        ))
    }
}

// ANCHOR: record_reader
/// Collects the bytes read from a FIFO into whole records.
///
/// A pipe carries bytes, not messages, so one `read()` may return less than a record (a writer
/// using another record size) or several records; whole records come out in order.
pub struct RecordReader {
    record_size: usize,
    pending: Vec<u8>,
}

/// What one read from the FIFO brought.
pub enum Received {
    /// The texts of the records completed by this read (possibly none).
    Records(Vec<Vec<u8>>),
    /// End of file: every writer has closed the FIFO. Holds the number of bytes of a last,
    /// incomplete record that are thrown away (0 normally).
    EndOfFile(usize),
}

impl RecordReader {
    /// A reader of records of `record_size` bytes.
    pub fn new(record_size: usize) -> Self {
        Self {
            record_size,
            pending: Vec::new(),
        }
    }

    /// Reads what the FIFO holds now. Call it when `poll()` said the FIFO is ready; it does not
    /// wait (the descriptor is non-blocking).
    pub fn read_from(&mut self, fifo: BorrowedFd<'_>) -> Result<Received, Failure> {
        let mut buffer = vec![0; MAX_RECORD_SIZE * 4];
        let count = match nix::unistd::read(fifo, &mut buffer) {
            Ok(0) => return Ok(Received::EndOfFile(self.pending.len())),
            Ok(count) => count,
            // poll() woke us, but another reader took the bytes first.
            Err(Errno::EAGAIN) => 0,
            Err(errno) => return Err(errno).context("read from the FIFO"),
        };
        self.pending.extend_from_slice(&buffer[..count]);
        let whole = self.pending.len() / self.record_size * self.record_size;
        let texts = self.pending[..whole]
            .chunks(self.record_size)
            .map(|record| decode_record(record).to_vec())
            .collect();
        self.pending.drain(..whole);
        Ok(Received::Records(texts))
    }
}
// ANCHOR_END: record_reader

/// Collects the bytes read from a descriptor (stdin) into lines, without the newline.
pub struct LineReader {
    pending: Vec<u8>,
}

/// What one read from the input brought.
pub enum Input {
    /// The lines completed by this read (possibly none).
    Lines(Vec<Vec<u8>>),
    /// End of file, with the last line if it had no newline.
    EndOfFile(Option<Vec<u8>>),
}

impl LineReader {
    /// A reader with nothing pending.
    pub fn new() -> Self {
        Self {
            pending: Vec::new(),
        }
    }

    /// Reads what `input` holds now. Call it when `poll()` said the input is ready: the read
    /// then returns at once. (A `BufReader` would hide buffered lines from `poll()`.)
    pub fn read_from(&mut self, input: BorrowedFd<'_>) -> Result<Input, Failure> {
        let mut buffer = [0; 4096];
        let count = loop {
            match nix::unistd::read(input, &mut buffer) {
                Ok(count) => break count,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(Input::Lines(Vec::new())),
                Err(errno) => return Err(errno).context("read stdin"),
            }
        };
        if count == 0 {
            let last = std::mem::take(&mut self.pending);
            return Ok(Input::EndOfFile((!last.is_empty()).then_some(last)));
        }
        self.pending.extend_from_slice(&buffer[..count]);
        let mut lines = Vec::new();
        while let Some(newline) = self.pending.iter().position(|&byte| byte == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=newline).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(line);
        }
        Ok(Input::Lines(lines))
    }
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: stopped
/// Why an example stops before its work is done.
pub enum Stopped {
    /// A signal asked it to stop (SIGINT, SIGTERM or SIGHUP).
    BySignal(Signal),
    /// Something failed.
    ByFailure(Failure),
}

impl From<Failure> for Stopped {
    fn from(failure: Failure) -> Self {
        Self::ByFailure(failure)
    }
}

/// Turns how the example's main loop ended into its exit status: 0 when it finished, 128 + the
/// signal's number when a signal stopped it (130 for SIGINT, 143 for SIGTERM), as shells report
/// a process killed by that signal; a failure becomes one line on stderr and status 1.
pub fn exit_status(outcome: Result<(), Stopped>) -> Result<ExitCode, Failure> {
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Stopped::BySignal(signal)) => {
            // writeln! rather than println!: after SIGHUP the terminal is gone, and println!
            // would panic (EIO).
            let _ = writeln!(
                std::io::stdout(),
                "{}: got {signal}; stopping",
                program_name()
            );
            Ok(ExitCode::from(128 + signal as u8))
        }
        Err(Stopped::ByFailure(failure)) => Err(failure),
    }
}
// ANCHOR_END: stopped

// ANCHOR: stop
/// A stop request from a signal: the signal's number, and a self-pipe that `poll()` can watch.
///
/// Inside the signal handler, signal-hook stores the signal's number in `signal` (0 until a
/// signal comes). Then a byte is written into the self-pipe, to wake a `poll()` that the
/// handler did not interrupt; nobody reads it, so the read end stays readable and every later
/// wait ends at once. The order matters: whoever sees the byte also finds the number.
pub struct Stop {
    wake_read: OwnedFd,
    wake_write: OwnedFd,
    signal: Arc<AtomicUsize>,
}
// ANCHOR_END: stop

impl Stop {
    fn new() -> Result<Self, Failure> {
        let (wake_read, wake_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe2")?;
        Ok(Self {
            wake_read,
            wake_write,
            signal: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Registers, for each stop signal, a signal-hook action that stores its number.
    fn record_numbers(&self) -> Result<(), Failure> {
        for signal in STOP_SIGNALS {
            let number = signal as i32;
            signal_hook::flag::register_usize(number, Arc::clone(&self.signal), number as usize)
                .context(format!("signal-hook: register {signal}"))?;
        }
        Ok(())
    }

    // ANCHOR: with_signal_hook
    /// Stops on SIGINT, SIGTERM and SIGHUP, with `signal-hook` alone.
    ///
    /// For each signal, signal-hook's handler runs two actions, in the order they were
    /// registered: store the signal's number, then write a byte into the self-pipe. Both are
    /// async-signal-safe (an atomic store, one `write()`); nothing else runs in the handler.
    pub fn with_signal_hook() -> Result<Self, Failure> {
        let stop = Self::new()?;
        stop.record_numbers()?;
        for signal in STOP_SIGNALS {
            let waker = stop.wake_write.try_clone().context("dup the self-pipe")?;
            signal_hook::low_level::pipe::register(signal as i32, waker)
                .context(format!("signal-hook: register a self-pipe for {signal}"))?;
        }
        Ok(stop)
    }
    // ANCHOR_END: with_signal_hook

    // ANCHOR: with_ctrlc
    /// Stops on SIGINT, SIGTERM and SIGHUP, with `ctrlc` (its `termination` feature adds the
    /// last two) for the wake-up and `signal-hook` for the signal's number.
    ///
    /// ctrlc's handler only posts a semaphore; our closure runs afterwards on ctrlc's own
    /// thread and writes the byte into the self-pipe. It cannot tell which signal came, so
    /// signal-hook stores the number, registered *after* ctrlc: its handler then keeps ctrlc's
    /// handler and calls it before storing the number. (Registered before, it would be replaced
    /// without a word by ctrlc's.)
    ///
    /// The kernel runs a handler on any thread that does not block the signal, and ctrlc's
    /// thread would do: `poll()` on the main thread would then see an event that came with the
    /// signal before the number is stored. So the stop signals stay blocked while ctrlc starts
    /// its thread, which inherits that mask and keeps it; the handler always runs on the main
    /// thread. The closure may still run between ctrlc's part of the handler and the storing of
    /// the number; it then records SIGINT, and the handler overwrites that with the right
    /// number before the main thread can look. So a byte in the pipe always comes with a number.
    pub fn with_ctrlc() -> Result<Self, Failure> {
        let stop = Self::new()?;
        let waker = stop.wake_write.try_clone().context("dup the self-pipe")?;
        let signal = Arc::clone(&stop.signal);
        let stop_signals: SigSet = STOP_SIGNALS.into_iter().collect();
        let mut before = SigSet::empty();
        pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&stop_signals),
            Some(&mut before),
        )
        .context("block the stop signals")?;
        let installed = ctrlc::set_handler(move || {
            let sigint = Signal::SIGINT as usize;
            let _ = signal.compare_exchange(0, sigint, Ordering::SeqCst, Ordering::SeqCst);
            // Non-blocking: if the pipe is full, a byte is already waiting there anyway.
            let _ = nix::unistd::write(&waker, b"!");
        });
        let recorded = installed
            .context("ctrlc::set_handler")
            .and_then(|()| stop.record_numbers());
        // A signal that came meanwhile was held; it is handled now, by both crates.
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&before), None)
            .context("unblock the stop signals")?;
        recorded?;
        Ok(stop)
    }
    // ANCHOR_END: with_ctrlc

    // ANCHOR: wait
    /// Waits until one of `watched` is ready for its events, a stop signal arrives, or `timeout`
    /// (if any) passes. Returns, for each watched descriptor in order, whether it is ready
    /// (which includes end of file and errors: the next read or write will say which); all false
    /// after a timeout. A stop signal ends the wait with [`Stopped::BySignal`].
    pub fn wait(
        &self,
        watched: &[(BorrowedFd<'_>, PollFlags)],
        timeout: Option<Duration>,
    ) -> Result<Vec<bool>, Stopped> {
        let mut fds = vec![PollFd::new(self.wake_read.as_fd(), PollFlags::POLLIN)];
        fds.extend(watched.iter().map(|&(fd, events)| PollFd::new(fd, events)));
        let timeout = match timeout {
            Some(duration) => PollTimeout::try_from(duration).unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        loop {
            let polled = poll(&mut fds, timeout);
            // The number first, whatever poll() says: a signal that came while poll() returned
            // for another reason (stdin at its end, say) still wins, and the byte in the
            // self-pipe always comes with a number.
            if let Some(signal) = self.requested() {
                return Err(Stopped::BySignal(signal));
            }
            match polled {
                Ok(_) => break,
                // poll() is never restarted after a handler, SA_RESTART or not. No number was
                // stored, so the handler that ran was not a stop signal's: wait again.
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Failure::new(format!("poll: {errno}")).into()),
            }
        }
        Ok(fds[1..]
            .iter()
            .map(|fd| fd.any().unwrap_or(false))
            .collect())
    }
    // ANCHOR_END: wait

    /// The signal that asked to stop, if one has.
    fn requested(&self) -> Option<Signal> {
        Signal::try_from(self.signal.load(Ordering::SeqCst) as i32).ok()
    }
}

// ANCHOR: send
/// Writes one record into the FIFO, waiting (cancellably) while the FIFO is full.
///
/// A record is at most `PIPE_BUF` bytes, so the kernel writes it whole or not at all: on a
/// non-blocking descriptor, a full FIFO gives EAGAIN, never half a record. A reader that went
/// away gives EPIPE (SIGPIPE is ignored in Rust programs, so it does not kill us).
pub fn send_record(fifo: BorrowedFd<'_>, record: &[u8], stop: &Stop) -> Result<(), Stopped> {
    loop {
        match nix::unistd::write(fifo, record) {
            Ok(written) if written == record.len() => return Ok(()),
            Ok(written) => {
                let total = record.len();
                return Err(
                    Failure::new(format!("short write: {written} of {total} bytes")).into(),
                );
            }
            Err(Errno::EAGAIN) => {
                stop.wait(&[(fifo, PollFlags::POLLOUT)], None)?;
            }
            Err(Errno::EPIPE) => {
                let why = format!("write to the FIFO: the reader went away ({})", Errno::EPIPE);
                return Err(Failure::new(why).into());
            }
            Err(errno) => return Err(Failure::new(format!("write to the FIFO: {errno}")).into()),
        }
    }
}
// ANCHOR_END: send

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_line_is_one_record_padded_with_nuls() {
        let records = encode_line(b"hello", SEED_RECORD_SIZE).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].len(), 100);
        assert_eq!(&records[0][..5], b"hello");
        assert!(records[0][5..].iter().all(|&byte| byte == 0));
        assert_eq!(decode_record(&records[0]), b"hello");
    }

    #[test]
    fn an_empty_line_is_one_empty_record() {
        let records = encode_line(b"", 8).unwrap();
        assert_eq!(records, vec![vec![0; 8]]);
    }

    #[test]
    fn a_long_line_is_split_between_characters() {
        // "é" is two bytes; with 3 bytes of text per record, "aé" fits and "éé" does not.
        let line = "aéé".as_bytes();
        let texts: Vec<Vec<u8>> = encode_line(line, 4)
            .unwrap()
            .iter()
            .map(|record| decode_record(record).to_vec())
            .collect();
        assert_eq!(texts, vec!["aé".as_bytes(), "é".as_bytes()]);
        assert_eq!(texts.concat(), line);
    }

    #[test]
    fn a_line_with_a_nul_is_refused() {
        assert!(encode_line(b"a\0b", SEED_RECORD_SIZE).is_err());
    }

    #[test]
    fn a_record_without_nul_decodes_whole() {
        assert_eq!(decode_record(b"abc"), b"abc");
    }

    #[test]
    fn record_size_is_bounded_by_pipe_buf() {
        assert_eq!(parse_record_size("100"), Ok(100));
        assert_eq!(parse_record_size("4096"), Ok(4096));
        assert!(parse_record_size("4097").is_err());
        assert!(parse_record_size("1").is_err());
        assert!(parse_record_size("x").is_err());
    }
}
