//! # xfr_writer: copy a file or stdin, of any size, to xfr_reader through shared memory
//!
//! The careful version a careful engineer would write, beside the notes' polled flags: a
//! buffer in a System V segment, handed back and forth with two semaphores (semaphore 0: the
//! writer's turn, starting at 1; semaphore 1: the reader's turn, starting at 0). The writer
//! does P(writer's turn), fills the buffer, V(reader's turn); the reader does P(reader's turn),
//! copies it out, V(writer's turn). Nobody polls a flag and nobody spins: a waiting side sleeps
//! in `semop` until the other one hands the buffer over.
//!
//! The segment: a 4-byte length word (little-endian), then the buffer (`--buffer-size` bytes).
//! Every access goes through the crate's atomic bytes (`Attached::bytes`), never a `&[u8]`.
//! The end is marked in the data: a length of 0 means "no more". Each side creates the
//! segment (`shmget` with `IPC_CREAT | IPC_EXCL`, mode 0600) and the semaphore set if it is
//! first, and opens them otherwise, so either may start first. A set already at the key that
//! the pair did not make (`pv`'s, a killed run's) or of another shape is refused and left alone.
//!
//! One writer and one reader: semaphores 2 and 3 of the set are their claims, taken with
//! `SEM_UNDO` and `IPC_NOWAIT` (`xfr/pair.rs`). A second writer finds the claim taken and is
//! refused at once; the kernel gives a claim back when its holder exits, however it exits.
//!
//! The teardown handshake: after the end mark the writer waits for its turn once more, which
//! the reader gives after its last look at the segment; then the writer, the last one to use
//! them, removes the semaphore set and the segment (`semctl`/`shmctl` `IPC_RMID`; the segment
//! goes when the reader has detached too). Any other way out (a signal, an error) removes both
//! at once: the peer's `semop` then fails with EIDRM, and it says so and stops. A peer that is
//! killed (SIGKILL: no cleanup) is noticed within 100 ms: every wait is a `semtimedop` of
//! 100 ms, after which the peer's claim tells whether it is still alive.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! it installs no thread and clears SA_RESTART, so `read` of the input and `semtimedop` fail
//! with EINTR and `Stop::retry` ends them; both objects are removed on the way out. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin xfr_writer -- --input FILE` in one terminal (or with no
//! arguments: it reads stdin), and `cargo run -p shm --bin xfr_reader > copy` in another,
//! from the same directory (the key is ftok("./file", 'x')). Narration goes to stderr.

#![forbid(unsafe_code)]

#[path = "xfr/pair.rs"]
mod pair;

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::Relaxed;

use clap::Parser;
use pair::{HEADER, LIVENESS, Peer, READER_TURN, Role, WRITER_TURN, join, remove_both};
use semaphore::{SemOp, SemaphoreSet};
use shm::{Access, KeyArgs, Segment};
use support::cli::{Context, parse_args, run};
use support::stop::{Stop, Stopped, TerminalContext, check_hang_up, finish_on_stderr};

/// Copies a file or stdin to xfr_reader's stdout through a shared buffer and two semaphores.
#[derive(Parser)]
#[command(
    version,
    mut_arg("proj", |arg| arg.default_value(pair::PROJ)
        .help("ftok's project id: one character or a number from 1 to 255 (xfr's own 'x', so \
               that pv's set, at 'a', is never taken for the pair's)")),
    after_help = "The segment holds a 4-byte length word and the buffer; a length of 0 marks \
                  the end. Start xfr_reader in another terminal, in the same directory."
)]
struct Args {
    /// The file to send (default: stdin, until end of file).
    #[arg(long, value_name = "PATH")]
    input: Option<PathBuf>,
    /// The buffer's size in bytes, 1 to 16777216 (16 MiB); used if this side creates the
    /// segment, else the existing segment's size counts.
    #[arg(long, value_name = "BYTES", default_value_t = 65536,
          value_parser = clap::value_parser!(u32).range(1..=16 << 20))]
    buffer_size: u32,
    /// Default key: ftok("./file", 'x'), ./file created if missing. xfr's own 'x': pv and the
    /// other semaphore examples use 'a' with the same ./file.
    #[command(flatten)]
    key: KeyArgs,
}

fn say(what: impl std::fmt::Display) {
    Role::Writer.say(what);
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let file = match &args.input {
            Some(path) => Some(File::open(path).context(format!("open {}", path.display()))?),
            None => None,
        };
        let stdin = std::io::stdin();
        let input = match &file {
            Some(file) => file.as_fd(),
            None => stdin.as_fd(),
        };
        if let Some(made) = args.key.make_default_key_file()? {
            say(format!("created the key file {}", made.display()));
        }
        let key = args.key.ftok_or_key()?;
        let size = HEADER + args.buffer_size as usize;
        // shmget, semget and this side's claim (a semop): see xfr/pair.rs.
        let joined = join(Role::Writer, key, size, args.key.accept_foreign, &stop);
        let outcome = joined.and_then(|(segment, set, first)| {
            send(input, &segment, &set, first, &args, &stop).inspect_err(|_| {
                remove_both(&set, &segment); // the reader's semop fails with EIDRM: it stops too
            })
        });
        finish_on_stderr(outcome) // the narration's stream
    })
}

/// Attaches the segment, sends the input one buffer at a time, then removes both objects.
fn send(
    input: BorrowedFd<'_>,
    segment: &Segment,
    set: &SemaphoreSet,
    first: bool,
    args: &Args,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let attached = segment.shmat(Access::ReadWrite)?;
    let bytes = attached.bytes();
    say(format!(
        "{set}: 0 = the writer's turn, 1 = the reader's turn"
    ));
    match &args.input {
        Some(path) => say(format!("sending {}", path.display())),
        None => say("sending stdin until end of file (Ctrl-D at a terminal)"),
    }
    if first {
        say("start xfr_reader in another terminal, in this directory, to receive it");
    }
    let mut peer = Peer::of(Role::Writer);
    let p_writer_turn = [SemOp::p(WRITER_TURN, 1)];
    let v_reader_turn = [SemOp::v(READER_TURN, 1)];
    let mut chunk = vec![0u8; bytes.len() - HEADER];
    let (mut sent, mut turns) = (0u64, 0u64);
    // ANCHOR: writer_loop
    loop {
        // While the input has nothing, a reader that dies is noticed within WATCH_EVERY.
        support::wait_readable(input, stop, || peer.check_still_there(set).map(drop))?;
        let count = stop
            .retry(|| nix::unistd::read(input, &mut chunk))
            .terminal_context("read")?;
        if count == 0 {
            check_hang_up(input)?; // a closed terminal may read as end of file: not the end
        }
        // semtimedop P(writer's turn), 100 ms at a time, until the reader has emptied the
        // buffer; after each timeout, is the reader still there?
        while let Err(ended) = stop.retry(|| set.semtimedop(&p_writer_turn, LIVENESS)) {
            peer.after_timeout(ended, set, WRITER_TURN)?;
        }
        fill(bytes, &chunk[..count]); // the bytes, then the length word; 0 marks the end
        // No fence: the V below orders these stores before the reader's loads, through the
        // kernel (its lock on the set, or the release store that hands a sleeper its P).
        // semop V(reader's turn): the buffer is the reader's now.
        set.semop(&v_reader_turn).map_err(|err| peer.stopped(err))?;
        if count == 0 {
            break;
        }
        (sent, turns) = (sent + count as u64, turns + 1);
    }
    // The teardown handshake: the reader gives the turn back after its last look.
    while let Err(ended) = stop.retry(|| set.semtimedop(&p_writer_turn, LIVENESS)) {
        peer.after_timeout(ended, set, WRITER_TURN)?;
    }
    // ANCHOR_END: writer_loop
    attached.shmdt()?;
    say(format!(
        "sent {sent} bytes in {turns} turns, and the end mark; xfr_reader has seen it"
    ));
    say(format!(
        "semctl(IPC_RMID) of {set}, shmctl(IPC_RMID) of {segment}: the last one out"
    ));
    SemaphoreSet::from_id(set.id()).semctl_rmid()?;
    Segment::from_id(segment.id()).shmctl_rmid()?;
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: fill
/// Stores `data` after the length word, then its length, with atomic stores: no `&mut [u8]`
/// into memory that another process reads.
fn fill(bytes: &[AtomicU8], data: &[u8]) {
    for (cell, &byte) in bytes[HEADER..].iter().zip(data) {
        cell.store(byte, Relaxed);
    }
    let length = (data.len() as u32).to_le_bytes();
    for (cell, byte) in bytes[..HEADER].iter().zip(length) {
        cell.store(byte, Relaxed);
    }
}
// ANCHOR_END: fill
