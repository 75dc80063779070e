//! The `fifo` lab: a sequence-number server with one well-known FIFO for requests and a private
//! reply FIFO per client.
//!
//! - The server makes `<dir>/seqnum` and reads requests from it. A request is one record of
//!   [`RECORD_SIZE`] bytes holding the client's pid as text (NUL-padded, like the examples'
//!   records): at most `PIPE_BUF` bytes, so requests from many clients never interleave.
//! - A client makes its own reply FIFO `<dir>/reply.<pid>`, opens it for reading, sends its
//!   request, then reads one record: its number, as text.
//! - The server answers each request with the next number (1, 2, 3, ...) by opening the client's
//!   reply FIFO with `O_WRONLY | O_NONBLOCK`: `ENXIO` means nobody has it open for reading (the
//!   client is gone), and the server skips that request and goes on. A number is spent only when
//!   it was written into a reply FIFO.
//!
//! The binaries `lab_fifo_server` and `lab_fifo_client` print what these functions return. See
//! the book's lab page, "Lab: a sequence-number server".

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
use nix::poll::PollFlags;
use nix::sys::stat::{Mode, SFlag, fstat};
use nix::unistd::{getpid, read, write};
use support::cli::{Context, Failure};
use support::stop::{Stop, StopContext, Stopped};

use crate::{Fifo, RecordReader, encode_line};

/// Bytes per record, requests and replies alike: a pid or a number as text, a NUL, and NULs up
/// to this size. Far below `PIPE_BUF`, so each record is written atomically.
pub const RECORD_SIZE: usize = 32;

/// The server's well-known FIFO in `dir`.
pub fn server_path(dir: &Path) -> PathBuf {
    dir.join("seqnum")
}

/// The reply FIFO of the client with process id `pid`, in `dir`.
pub fn reply_path(dir: &Path, pid: i32) -> PathBuf {
    dir.join(format!("reply.{pid}"))
}

/// `text` as one record of [`RECORD_SIZE`] bytes (text, NUL, NUL padding).
pub fn record(text: &str) -> Vec<u8> {
    let mut records = encode_line(text.as_bytes(), RECORD_SIZE).expect("no NUL in the text");
    assert_eq!(records.len(), 1, "{text:?} does not fit in one record");
    records.remove(0)
}

/// Whether the descriptor `opened` is a FIFO (and not, say, a regular file someone put at the
/// path).
pub fn is_fifo(opened: impl AsFd) -> Result<bool, Failure> {
    let found = fstat(opened.as_fd()).context("fstat")?;
    Ok(SFlag::from_bits_truncate(found.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO)
}

/// What the server did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `number` was written into the reply FIFO of client `pid`.
    Sent {
        /// The client's process id, from its request.
        pid: i32,
        /// The number it was given.
        number: u64,
    },
    /// The request could not be answered, and the server went on, with no number spent: the
    /// reply FIFO could not be opened or written (ENXIO, ENOENT, EPIPE, ...), is not a FIFO, or
    /// the request is not a pid.
    Skipped {
        /// The request's text.
        request: String,
        /// Why, in words, with the errno name where there is one.
        why: String,
    },
}

/// The server's side: its well-known FIFO, the descriptors it holds on it, and the next number.
pub struct Server {
    fifo: Fifo,
    /// The read end: requests come out here.
    requests: OwnedFd,
    /// A write end the server holds itself, so that `read` never returns end-of-file between
    /// clients (a FIFO reports end-of-file once it has no writer left).
    _keep_open: OwnedFd,
    /// The number the next client gets.
    next: u64,
    /// Where the reply FIFOs are.
    dir: PathBuf,
}

impl Server {
    /// Makes (or uses) the FIFO `<dir>/seqnum` and opens it with [`open_requests`]. The first
    /// number is 1.
    pub fn start(dir: &Path) -> Result<Server, Failure> {
        let fifo = Fifo::mkfifo_or_use(&server_path(dir))?;
        let (requests, keep_open) = open_requests(&fifo)?;
        Ok(Server {
            fifo,
            requests,
            _keep_open: keep_open,
            next: 1,
            dir: dir.to_owned(),
        })
    }

    /// The well-known FIFO's path.
    pub fn path(&self) -> &Path {
        self.fifo.path()
    }

    /// Closes the FIFO and removes it if this server made it; says what it did.
    pub fn finish(self) -> Option<String> {
        let Server { fifo, .. } = self;
        fifo.remove()
    }

    /// Answers the client `pid`: opens `<dir>/reply.<pid>` with `O_WRONLY | O_NONBLOCK` (and
    /// `O_NOFOLLOW`, `O_CLOEXEC`), refuses it unless it is a FIFO, and writes the next number
    /// into it as one record. Only a number that was written is spent.
    ///
    /// Whatever goes wrong with the client's reply FIFO is the client's problem, not an error of
    /// the server's: `Ok(Answer::Skipped)`, with the errno's name in `why`. That is any errno
    /// from the open (ENXIO: nobody has it open for reading, the client is gone; ENOENT: it does
    /// not exist; ELOOP: a symbolic link; EISDIR, EACCES, ...), a file that is not a FIFO, any
    /// errno from the write (EPIPE: the reader left after the open, as SIGPIPE is ignored in
    /// Rust programs; EAGAIN: the FIFO is full), and a write of less than a record. `Err` is
    /// only for a failure of the server's own, such as `fstat` on the descriptor it opened.
    pub fn answer(&mut self, pid: i32) -> Result<Answer, Failure> {
        // BEGIN SOLUTION
        let path = reply_path(&self.dir, pid);
        let skip = |why: String| {
            Ok(Answer::Skipped {
                request: pid.to_string(),
                why,
            })
        };
        let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let to_client = match open(&path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENXIO) => {
                return skip(format!(
                    "open {}: ENXIO: nobody has it open for reading (the client is gone)",
                    path.display()
                ));
            }
            Err(errno) => return skip(format!("open {}: {errno}", path.display())),
        };
        if !is_fifo(&to_client)? {
            return skip(format!("{} is not a FIFO; nothing written", path.display()));
        }
        let number = self.next;
        match write(&to_client, &record(&number.to_string())) {
            Ok(count) if count == RECORD_SIZE => {
                self.next += 1;
                Ok(Answer::Sent { pid, number })
            }
            Ok(count) => skip(format!(
                "write: only {count} of {RECORD_SIZE} bytes written"
            )),
            Err(errno) => skip(format!("write {}: {errno}", path.display())),
        }
        // END SOLUTION
    }
}

/// Opens the well-known FIFO for the server: its read end, and a write end that the server
/// keeps so that the FIFO never reports end-of-file while no client is writing.
///
/// The read end is opened with `O_NONBLOCK`, which returns at once instead of waiting for a
/// writer; then the write end (which finds a reader, so it does not wait either); then
/// `fcntl(F_SETFL)` clears `O_NONBLOCK` on the read end, so that `read` waits for requests.
/// Both with `O_CLOEXEC`, and refused unless the file is a FIFO.
pub fn open_requests(fifo: &Fifo) -> Result<(OwnedFd, OwnedFd), Failure> {
    // BEGIN SOLUTION
    let shown = fifo.path().display();
    let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let requests = open(
        fifo.path(),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | nofollow,
        Mode::empty(),
    )
    .context(format!("open {shown} for reading"))?;
    fifo.refuse_if_replaced(&requests)?;
    let keep_open = open(fifo.path(), OFlag::O_WRONLY | nofollow, Mode::empty())
        .context(format!("open {shown} for writing"))?;
    fcntl(&requests, FcntlArg::F_SETFL(OFlag::O_RDONLY))
        .context(format!("fcntl {shown}: clear O_NONBLOCK"))?;
    Ok((requests, keep_open))
    // END SOLUTION
}

/// The server's loop: reads requests from the well-known FIFO, answers each one with
/// [`Server::answer`], and calls `report` with each [`Answer`]. It runs until a stop signal
/// (`Err(Stopped::Signal)`) or an error of the server's own (`Err(Stopped::Failed)`): a failed
/// `read`, end of file on its FIFO, or an `Err` from [`Server::answer`]. An
/// [`Answer::Skipped`] is reported like any answer, and the loop goes on.
///
/// A request is a pid when its text (the bytes before the first NUL) is a decimal number from
/// 1 to `i32::MAX`, as `str::parse::<i32>` reads it; whether such a process exists does not
/// matter. Any other request is reported as an [`Answer::Skipped`] naming it, without calling
/// [`Server::answer`].
///
/// A `read` may return less than a record or several records: collect them with
/// [`RecordReader`]. Each blocking call runs under [`Stop::retry`].
pub fn serve(
    server: &mut Server,
    stop: &Stop,
    mut report: impl FnMut(&Answer),
) -> Result<(), Stopped> {
    // BEGIN SOLUTION
    let mut records = RecordReader::new(RECORD_SIZE);
    let mut buffer = [0; RECORD_SIZE * 64];
    loop {
        let count = stop
            .retry(|| read(&server.requests, &mut buffer))
            .context(format!("read {}", server.path().display()))?;
        if count == 0 {
            // Impossible while we hold a write end; say so rather than spin.
            return Err(Stopped::Failed(Failure::new(
                "read: end of file on the server FIFO",
            )));
        }
        for text in records.push(&buffer[..count]) {
            let request = String::from_utf8_lossy(&text).into_owned();
            let answer = match request.parse::<i32>() {
                Ok(pid) if pid > 0 => server.answer(pid)?,
                _ => Answer::Skipped {
                    why: "not a process id".to_owned(),
                    request,
                },
            };
            report(&answer);
        }
    }
    // END SOLUTION
}

/// A client that has sent its request and waits for its number.
pub struct Client {
    /// Its reply FIFO; dropping it removes the FIFO.
    reply: Fifo,
    /// The reply FIFO's read end, opened before the request was sent.
    from_server: OwnedFd,
}

impl Client {
    /// Sends this process's request to the server in `dir`:
    ///
    /// 1. `mkfifo` its reply FIFO `<dir>/reply.<pid>` (with [`Fifo::mkfifo_or_use`]);
    /// 2. opens it for reading with `O_NONBLOCK`, BEFORE sending: a server that answers at once
    ///    must find a reader, or its `O_WRONLY | O_NONBLOCK` open fails with ENXIO;
    /// 3. opens the server's FIFO for writing (no `O_CREAT`: a missing FIFO means no server)
    ///    under [`Stop::retry`], and writes one record holding its pid, in one `write`.
    pub fn send_request(dir: &Path, stop: &Stop) -> Result<Client, Stopped> {
        // BEGIN SOLUTION
        let pid = getpid().as_raw();
        let reply = Fifo::mkfifo_or_use(&reply_path(dir, pid))?;
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let from_server = open(reply.path(), flags, Mode::empty())
            .context(format!("open {} for reading", reply.path().display()))?;
        reply.refuse_if_replaced(&from_server)?;
        let server = server_path(dir);
        let flags = OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let to_server = stop
            .retry(|| open(&server, flags, Mode::empty()))
            .context(format!(
                "open {} (is the server running?)",
                server.display()
            ))?;
        if !is_fifo(&to_server)? {
            return Err(Stopped::Failed(Failure::new(format!(
                "{}: refused: not a FIFO",
                server.display()
            ))));
        }
        let request = record(&pid.to_string());
        let written = stop
            .retry(|| write(&to_server, &request))
            .context(format!("write {}", server.display()))?;
        if written != RECORD_SIZE {
            return Err(Stopped::Failed(Failure::new(format!(
                "write: only {written} of {RECORD_SIZE} bytes written"
            ))));
        }
        Ok(Client { reply, from_server })
        // END SOLUTION
    }

    /// The reply FIFO's path.
    pub fn reply_path(&self) -> &Path {
        self.reply.path()
    }

    /// Waits for the server's answer and returns the number in it. The read end is
    /// non-blocking, so wait with [`Stop::wait`] (a `poll` for `POLLIN`) and then `read`
    /// (`EAGAIN`: nothing yet, wait again). End of file before a whole record means the server
    /// closed the reply FIFO without answering: an error. The reply FIFO is removed when the
    /// `Client` is dropped.
    pub fn read_reply(self, stop: &Stop) -> Result<u64, Stopped> {
        // BEGIN SOLUTION
        let mut records = RecordReader::new(RECORD_SIZE);
        let mut buffer = [0; RECORD_SIZE];
        loop {
            stop.wait(&[(self.from_server.as_fd(), PollFlags::POLLIN)], None)?;
            let count = match read(&self.from_server, &mut buffer) {
                Ok(count) => count,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(errno) => return Err(Stopped::Failed(errno)).context("read my reply"),
            };
            if count == 0 {
                return Err(Stopped::Failed(Failure::new(
                    "the server closed my reply FIFO without an answer",
                )));
            }
            if let Some(text) = records.push(&buffer[..count]).first() {
                let text = String::from_utf8_lossy(text);
                return text.parse().map_err(|_| {
                    Stopped::Failed(Failure::new(format!("the reply {text:?} is not a number")))
                });
            }
        }
        // END SOLUTION
    }
}
