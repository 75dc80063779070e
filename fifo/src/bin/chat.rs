//! # chat: a two-way conversation over two named pipes
//!
//! Ports seed `004_0b92104986517c26.txt`, section 2.4.3 (two-way communication with FIFOs).
//! A FIFO carries bytes one way, and a process that both writes and reads one FIFO can read
//! back its own words. So side `a` writes into `chat_a_to_b` and reads `chat_b_to_a`, and side
//! `b` the other way round. Each line typed on one side appears on the other, as `b: hello`.
//!
//! Each side makes the two FIFOs with `mkfifo` unless the other side did, then `open`s both.
//! Each blocking `open` waits for the other side to open the same FIFO the other way, so both
//! sides open `chat_a_to_b` first, then `chat_b_to_a` (side `a`: write, then read; side `b`:
//! read, then write). If each opened its outgoing FIFO first, each would block in `open()`
//! waiting for a reader forever. Then one `poll` watches the keyboard and the incoming FIFO, and
//! what is ready is `read`; typed lines are `write`n as records. Either side leaves on Ctrl-D,
//! SIGINT (Ctrl-C), SIGTERM or SIGHUP; the other then sees end of file and leaves too. Each side
//! removes the FIFOs it created.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), whose
//! handler wakes the `poll` through a self-pipe; see the book's "Ctrl-C and cleanup".
//!
//! Run: `cargo run -p fifo --bin chat -- --side a` and, in another terminal,
//! `cargo run -p fifo --bin chat -- --side b`.

#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use fifo::{
    Fifo, MAX_RECORD_SIZE, RecordReader, SEED_RECORD_SIZE, cargo_run_command, encode_line,
    parse_record_size,
};
use nix::fcntl::{OFlag, open};
use nix::poll::PollFlags;
use nix::sys::stat::Mode;
use nix::unistd::{read, write};
use support::cli::{parse_args, report_error, run};
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
    /// Bytes per record, at most PIPE_BUF; both sides must use the same.
    #[arg(long, default_value_t = SEED_RECORD_SIZE, value_parser = parse_record_size)]
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
            talk(args.side, &to, &from, &stop, args.record_size).inspect(|_| {
                println!("chat {me}: leaving; each side removes the FIFOs it created");
            })
        });
        finish(outcome)
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
    println!("chat {me}: connected to side {other}; type lines (Ctrl-D or Ctrl-C leaves)");
    Ok((to_other, from_other))
}

// ANCHOR_END: connect

// ANCHOR: open_fifo
/// `open(2)` of one of the FIFOs, blocking until the other side opens it too; a stop signal
/// ends the wait (EINTR).
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
    to_other: &OwnedFd,
    from_other: &OwnedFd,
    stop: &Stop,
    record_size: usize,
) -> Result<ExitCode, Stopped> {
    let (me, other) = side.names();
    let stdin = std::io::stdin();
    let mut typed = LineReader::new();
    let mut received = RecordReader::new(record_size);
    let mut buffer = [0; MAX_RECORD_SIZE * 4];
    loop {
        // Two descriptors to watch, so poll() (with the stop's self-pipe) rather than a read.
        let watched = [
            (stdin.as_fd(), PollFlags::POLLIN),
            (from_other.as_fd(), PollFlags::POLLIN),
        ];
        let ready = stop.wait(&watched, None)?;
        if ready[1] {
            // poll() said it is ready: this read returns at once, 0 when the other side left.
            let count = stop
                .retry(|| read(from_other, &mut buffer))
                .context("read from the FIFO")?;
            if count == 0 {
                println!("chat {me}: side {other} left the chat (end of file)");
                return Ok(ExitCode::SUCCESS);
            }
            for text in received.push(&buffer[..count]) {
                println!("{other}: {}", String::from_utf8_lossy(&text));
            }
        }
        // ANCHOR_END: talk
        // ANCHOR: typed
        if ready[0] {
            let (lines, at_end) = match typed.read_from(stdin.as_fd())? {
                Input::Lines(lines) => (lines, false),
                Input::EndOfFile(last) => (last.into_iter().collect(), true),
            };
            for line in lines {
                write_line(to_other, &line, stop, record_size)?;
            }
            if at_end {
                println!("chat {me}: end of input");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

/// `write(2)` of a typed line into the FIFO, as one record or several.
fn write_line(
    to_other: &OwnedFd,
    line: &[u8],
    stop: &Stop,
    record_size: usize,
) -> Result<(), Stopped> {
    match encode_line(line, record_size) {
        Ok(records) => {
            for record in &records {
                // At most PIPE_BUF bytes: written whole, or (on EINTR) not at all.
                stop.retry(|| write(to_other, record))
                    .context("write to the FIFO")?;
            }
        }
        Err(refused) => report_error(refused),
    }
    Ok(())
}
// ANCHOR_END: typed

/// How to start the other side so that it meets this one: `--side`, and the flags that must be
/// the same on both sides when they differ from their defaults.
fn other_side_command(args: &Args) -> String {
    let (_, other) = args.side.names();
    let mut flags = vec![("--side", other.to_owned())];
    if args.dir != Path::new(".") {
        flags.push(("--dir", args.dir.display().to_string()));
    }
    if args.record_size != SEED_RECORD_SIZE {
        flags.push(("--record-size", args.record_size.to_string()));
    }
    cargo_run_command("chat", &flags)
}
