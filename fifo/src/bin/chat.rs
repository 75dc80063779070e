//! # chat: a two-way conversation over two named pipes
//!
//! Ports section 2.4.3 of the course notes (`004_0b92104986517c26.txt`; two-way communication with
//! FIFOs).
//! A FIFO carries bytes one way, and a process that both writes and reads one FIFO can read
//! back its own words. So side `a` writes into `chat_a_to_b` and reads `chat_b_to_a`, and side
//! `b` the other way round. Each line typed on one side appears on the other, as `b: hello`.
//!
//! Each side makes the two FIFOs with `mkfifo` unless the other side did, then `open`s both.
//! Each blocking `open` waits for the other side to open the same FIFO the other way, so both
//! sides open `chat_a_to_b` first, then `chat_b_to_a` (side `a`: write, then read; side `b`:
//! read, then write). If each opened its outgoing FIFO first, each would block in `open()`
//! waiting for a reader forever. Then one `poll` watches the keyboard, the incoming FIFO and
//! (while typed records wait for room) the outgoing one; typed lines are `write`n as records,
//! without ever blocking, so two sides that paste a lot at once never both wait in `write`.
//! Ctrl-D (the end of input) closes only this side's direction: the other side reads end of
//! file there, and this side goes on printing what arrives until the other direction ends too
//! (a half-close). SIGINT (Ctrl-C), SIGTERM or SIGHUP close both at once. Chat leaves when both
//! directions are closed. Each side removes the FIFOs it created.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), whose
//! handler wakes the `poll` through a self-pipe; see the book's "Ctrl-C and cleanup".
//!
//! Run: `cargo run -p fifo --bin chat -- --side a` and, in another terminal,
//! `cargo run -p fifo --bin chat -- --side b`.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use fifo::{
    Fifo, MAX_RECORD_SIZE, NOTES_RECORD_SIZE, RecordReader, cargo_run_command, encode_line,
    parse_record_size,
};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::{read, write};
use support::cli::{Context, Failure, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Input, LineReader};

/// One side of a two-way chat over two FIFOs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Which side this is; start the other one in another terminal.
    #[arg(long, value_enum, default_value = "a")]
    side: Side,
    /// The directory that holds the two FIFOs.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Bytes per record, 2 to 4096 (PIPE_BUF); both sides must use the same.
    #[arg(long, default_value_t = NOTES_RECORD_SIZE, value_parser = parse_record_size)]
    record_size: usize,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Side {
    A,
    B,
}

impl Side {
    /// This side's name, then the other side's.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Side::A => ("a", "b"),
            Side::B => ("b", "a"),
        }
    }
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    let (me, other) = args.side.names();
    run(|| {
        // ANCHOR: main
        let stop = Stop::install()?;
        // mkfifo(3) for each direction, mode 0600, unless the other side made it first.
        let outgoing = Fifo::mkfifo_or_use(&args.dir.join(format!("chat_{me}_to_{other}")))?;
        let incoming = Fifo::mkfifo_or_use(&args.dir.join(format!("chat_{other}_to_{me}")))?;
        println!("chat {me}: {}", outgoing.origin());
        println!("chat {me}: {}", incoming.origin());
        println!(
            "chat {me}: one FIFO per direction: on a single FIFO, whoever reads first takes the \
             bytes, so each side could read back its own lines"
        );
        if outgoing.made_here() && incoming.made_here() {
            // We made both FIFOs, so the other side has not started yet: say how to start it.
            let command = other_side_command(&args);
            println!("chat {me}: start side {other} in another terminal: {command}");
        }
        let outcome = connect(args.side, &outgoing, &incoming, &stop).and_then(|(to, from)| {
            talk(args.side, to, from, &stop, args.record_size).inspect(|_| {
                println!("chat {me}: both directions are closed; leaving");
            })
        });
        let status = finish(outcome);
        // Each side removes the FIFOs it created. (writeln!: println! panics on a lost terminal.)
        for removal in [outgoing.remove(), incoming.remove()].into_iter().flatten() {
            let _ = writeln!(std::io::stdout(), "chat {me}: {removal}");
        }
        status
        // ANCHOR_END: main
    })
}

// ANCHOR: connect
fn connect(
    side: Side,
    outgoing: &Fifo,
    incoming: &Fifo,
    stop: &Stop,
) -> Result<(OwnedFd, OwnedFd), Stopped> {
    let (me, other) = side.names();
    println!("chat {me}: waiting in open() for side {other} (Ctrl-C quits)");
    // Each open waits until the other side opens the same FIFO the other way. Both sides open
    // chat_a_to_b first, then chat_b_to_a (a: write, then read; b: read, then write). If each
    // opened its outgoing FIFO first, each would block in open() waiting for a reader forever.
    let (to_other, from_other) = match side {
        Side::A => {
            let to_other = open_fifo(outgoing, OFlag::O_WRONLY, stop)?;
            (to_other, open_fifo(incoming, OFlag::O_RDONLY, stop)?)
        }
        Side::B => {
            let from_other = open_fifo(incoming, OFlag::O_RDONLY, stop)?;
            (open_fifo(outgoing, OFlag::O_WRONLY, stop)?, from_other)
        }
    };
    println!(
        "chat {me}: connected to side {other}; type lines (Ctrl-D: done typing, Ctrl-C quits)"
    );
    Ok((to_other, from_other))
}

// ANCHOR_END: connect

/// `open(2)` of one of the FIFOs, blocking until the other side opens it too; a stop signal
/// ends the wait (EINTR).
// ANCHOR: open_fifo
fn open_fifo(fifo: &Fifo, access: OFlag, stop: &Stop) -> Result<OwnedFd, Stopped> {
    // O_NOFOLLOW: a symlink swapped in since mkfifo makes open fail instead of being followed.
    let flags = access | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = stop
        .retry(|| open(fifo.path(), flags, Mode::empty()))
        .context(format!("open {}", fifo.path().display()))?;
    fifo.refuse_if_replaced(&fd)?;
    Ok(fd)
}
// ANCHOR_END: open_fifo

// ANCHOR: talk
fn talk(
    side: Side,
    to_other: OwnedFd,
    from_other: OwnedFd,
    stop: &Stop,
    record_size: usize,
) -> Result<ExitCode, Stopped> {
    let (me, other) = side.names();
    // Each direction ends on its own: ours at the end of our input, theirs at end of file.
    // None: that direction is closed. Chat leaves when both are.
    let mut outgoing = Some(Outgoing::new(to_other, me, other)?);
    let mut incoming = Some(from_other);
    let stdin = std::io::stdin();
    let mut typed = LineReader::new();
    let mut received = RecordReader::new(record_size);
    let mut buffer = [0; MAX_RECORD_SIZE * 4];
    while outgoing.is_some() || incoming.is_some() {
        // One poll() (with the stop's self-pipe) over what is still open: the keyboard, once
        // every typed record is written; the outgoing FIFO, for room (POLLOUT) while records
        // wait; the incoming FIFO. Writes never block, so two sides that both paste more than
        // a FIFO holds go on reading each other instead of both waiting in write().
        let mut watched = Vec::new();
        if let Some(out) = &outgoing {
            if out.wants_input() {
                watched.push((stdin.as_fd(), PollFlags::POLLIN));
            }
            watched.push((out.fd.as_fd(), out.events()));
        }
        if let Some(from) = &incoming {
            watched.push((from.as_fd(), PollFlags::POLLIN));
        }
        let mut ready = stop.wait(&watched, None)?.into_iter();
        // ANCHOR_END: talk
        // ANCHOR: ready
        if let Some(out) = &mut outgoing {
            let keyboard = out.wants_input() && ready.next() == Some(true);
            // Ready with no POLLOUT asked for: POLLERR, the other side closed its reading end.
            let mut reader_gone = ready.next() == Some(true) && out.unsent.is_empty();
            if keyboard {
                match typed.read_from(stdin.as_fd())? {
                    Input::Lines(lines) => out.queue(&lines, record_size),
                    Input::EndOfFile(last) => out.end_of_input(last, record_size),
                    // The terminal was closed (EIO): a hang-up, even before SIGHUP comes.
                    Input::HungUp => return Err(Stopped::Signal(Signal::SIGHUP)),
                }
            }
            // Each record in one write(2), whole, for as long as the FIFO has room.
            while !reader_gone && let Some(record) = out.unsent.front() {
                match stop.retry(|| write(&out.fd, record)) {
                    Ok(_) => drop(out.unsent.pop_front()),
                    Err(Stopped::Failed(Errno::EAGAIN)) => break, // full: poll() for POLLOUT
                    Err(Stopped::Failed(Errno::EPIPE)) => reader_gone = true,
                    Err(stopped) => return Err(stopped.context("write to the FIFO")),
                }
            }
            if out.is_done(reader_gone) {
                outgoing = None; // dropping the descriptor closes our direction
            }
        }
        // ANCHOR_END: ready
        // ANCHOR: receive
        if let Some(from) = &incoming
            && ready.next() == Some(true)
        {
            // Returns at once: poll() said that bytes, or end of file, are there.
            let count = stop
                .retry(|| read(from, &mut buffer))
                .context("read from the FIFO")?;
            for text in received.push(&buffer[..count]) {
                println!("{other}: {}", String::from_utf8_lossy(&text));
            }
            if count == 0 {
                println!("chat {me}: side {other} closed chat_{other}_to_{me}: it sends no more");
                incoming = None;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: receive

/// Our direction: the outgoing FIFO, made non-blocking, and the records typed but not yet
/// written because the FIFO was full.
// ANCHOR: typed
struct Outgoing {
    fd: OwnedFd,
    unsent: VecDeque<Vec<u8>>,
    input_ended: bool,
    names: (&'static str, &'static str),
}

impl Outgoing {
    fn new(fd: OwnedFd, me: &'static str, other: &'static str) -> Result<Self, Failure> {
        // O_NONBLOCK: a write() that does not fit fails with EAGAIN instead of waiting; a
        // record of at most PIPE_BUF bytes is still written whole or not at all.
        let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).context("fcntl")?);
        fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).context("fcntl O_NONBLOCK")?;
        let (unsent, input_ended) = (VecDeque::new(), false);
        Ok(Self {
            fd,
            unsent,
            input_ended,
            names: (me, other),
        })
    }
    // ANCHOR_END: typed

    /// Reads the keyboard only when everything typed so far is written: a paste waits in
    /// stdin's pipe, not in our memory.
    fn wants_input(&self) -> bool {
        !self.input_ended && self.unsent.is_empty()
    }

    /// POLLOUT while records wait. poll() reports POLLERR anyway, asked or not, once the other
    /// side has closed its reading end.
    fn events(&self) -> PollFlags {
        if self.unsent.is_empty() {
            PollFlags::empty()
        } else {
            PollFlags::POLLOUT
        }
    }

    fn queue(&mut self, lines: &[Vec<u8>], record_size: usize) {
        for line in lines {
            match encode_line(line, record_size) {
                Ok(records) => self.unsent.extend(records),
                Err(refused) => report_error(refused),
            }
        }
    }

    fn end_of_input(&mut self, last: Option<Vec<u8>>, record_size: usize) {
        self.queue(&Vec::from_iter(last), record_size);
        self.input_ended = true;
    }

    /// Whether our direction is done, saying why: the other side stopped reading, or the
    /// input ended and all of it was written. Dropping the descriptor then closes our write
    /// end, and the other side reads end of file.
    // ANCHOR: is_done
    fn is_done(&self, reader_gone: bool) -> bool {
        let (me, other) = self.names;
        if reader_gone {
            let lost = match self.unsent.len() {
                0 => String::new(),
                count => format!(" ({count} records not sent)"),
            };
            println!(
                "chat {me}: side {other} closed its end of chat_{me}_to_{other}: nobody reads \
                 what this side types any more{lost}"
            );
            return true;
        }
        if self.input_ended && self.unsent.is_empty() {
            println!(
                "chat {me}: end of input: closing chat_{me}_to_{other}, so side {other} reads end \
                 of file; what it still sends is printed (Ctrl-C quits)"
            );
            return true;
        }
        false
    }
    // ANCHOR_END: is_done
}

/// How to start the other side so that it meets this one: `--side`, and the flags that must be
/// the same on both sides when they differ from their defaults.
fn other_side_command(args: &Args) -> String {
    let (_, other) = args.side.names();
    let mut flags = vec![("--side", other.to_owned())];
    if args.dir != Path::new(".") {
        flags.push(("--dir", args.dir.display().to_string()));
    }
    if args.record_size != NOTES_RECORD_SIZE {
        flags.push(("--record-size", args.record_size.to_string()));
    }
    cargo_run_command("chat", &flags)
}
