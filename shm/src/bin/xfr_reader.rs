//! # xfr_reader: receive what xfr_writer sends through shared memory, byte-exact, on stdout
//!
//! The careful version a careful engineer would write: the other half of `xfr_writer` (see
//! its top comment for the whole protocol). A buffer in a System V segment (a 4-byte length
//! word, then the bytes) is handed back and forth with two semaphores: semaphore 0 is the
//! writer's turn, semaphore 1 the reader's. This side does P(reader's turn) in `semop`, copies
//! the bytes out with atomic loads (`Attached::bytes`, never a `&[u8]` into the segment), gives
//! the buffer back with V(writer's turn), and writes the bytes to stdout while the writer
//! refills it. A length of 0 marks the end.
//!
//! Stdout is the data, byte for byte: every word of narration goes to stderr.
//!
//! The teardown handshake: the V after the end mark is this side's last use of the semaphore
//! set; then it detaches (`shmdt`) and leaves, and the writer, the last one out, removes the set
//! and the segment. Any other way out (a signal, an error such as a closed stdout) removes both
//! at once (`semctl`/`shmctl` `IPC_RMID`), and the writer's `semop` fails with EIDRM. A writer
//! killed with SIGKILL is noticed within 100 ms: every wait is a `semtimedop` of 100 ms, after
//! which the writer's claim (semaphore 2, taken with `SEM_UNDO`, given back by the kernel when
//! its holder exits) tells whether it is still alive; then this side removes both objects and
//! exits with status 1. A second reader finds semaphore 3 taken and is refused at once.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! it installs no thread and clears SA_RESTART, so `semtimedop` and a `write` to a full pipe
//! fail with EINTR and `Stop::retry` ends them; both objects are removed on the way out. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin xfr_reader > copy` in one terminal and
//! `cargo run -p shm --bin xfr_writer -- --input FILE` in another, from the same directory
//! (the key is ftok("./file", 'x')); either may start first.

#![forbid(unsafe_code)]

#[path = "xfr/pair.rs"]
mod pair;

use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitCode;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::Relaxed;

use clap::Parser;
use pair::{HEADER, LIVENESS, Peer, READER_TURN, Role, WRITER_TURN, join, remove_both};
use semaphore::{SemOp, SemaphoreSet};
use shm::{Access, KeyArgs, Segment};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, TerminalContext, finish_on_stderr};

/// Writes what xfr_writer sends through a shared buffer and two semaphores to stdout.
#[derive(Parser)]
#[command(
    version,
    mut_arg("proj", |arg| arg.default_value(pair::PROJ)
        .help("ftok's project id: one character or a number from 1 to 255 (xfr's own 'x', so \
               that pv's set, at 'a', is never taken for the pair's)")),
    after_help = "Stdout is the data; the narration goes to stderr. A length of 0 in the \
                  segment's length word marks the end. Start xfr_writer in another terminal, \
                  in the same directory."
)]
struct Args {
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
    Role::Reader.say(what);
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        if let Some(made) = args.key.make_default_key_file()? {
            say(format!("created the key file {}", made.display()));
        }
        let key = args.key.ftok_or_key()?;
        let size = HEADER + args.buffer_size as usize;
        // shmget, semget and this side's claim (a semop): see xfr/pair.rs.
        let joined = join(Role::Reader, key, size, args.key.accept_foreign, &stop);
        let outcome = joined.and_then(|(segment, set, first)| {
            receive(&segment, &set, first, &stop).inspect_err(|_| {
                remove_both(&set, &segment); // the writer's semop fails with EIDRM: it stops too
            })
        });
        finish_on_stderr(outcome) // stdout carries the data: the stop line goes to stderr
    })
}

/// Attaches the segment and writes what each turn brings to stdout, up to the end mark.
fn receive(
    segment: &Segment,
    set: &SemaphoreSet,
    first: bool,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let attached = segment.shmat(Access::ReadWrite)?;
    let bytes = attached.bytes();
    say(format!(
        "{set}: 0 = the writer's turn, 1 = the reader's turn"
    ));
    say("writing what xfr_writer sends to stdout");
    if first {
        say("start xfr_writer in another terminal, in this directory, to send it");
    }
    let mut peer = Peer::of(Role::Reader);
    let p_reader_turn = [SemOp::p(READER_TURN, 1)];
    let v_writer_turn = [SemOp::v(WRITER_TURN, 1)];
    let stdout = std::io::stdout();
    let mut chunk = Vec::with_capacity(bytes.len() - HEADER);
    let (mut received, mut turns) = (0u64, 0u64);
    // ANCHOR: reader_loop
    loop {
        // semtimedop P(reader's turn), 100 ms at a time, until the writer has filled the
        // buffer; after each timeout, is the writer still there?
        while let Err(ended) = stop.retry(|| set.semtimedop(&p_reader_turn, LIVENESS)) {
            peer.after_timeout(ended, set, READER_TURN)?;
        }
        // The P above went through after the writer's V, through the kernel's lock on the set:
        // the writer's stores come before these loads.
        take_out(bytes, &mut chunk)?; // the length word, then that many bytes
        // semop V(writer's turn): the writer refills while we write stdout.
        set.semop(&v_writer_turn).map_err(|err| peer.stopped(err))?;
        if chunk.is_empty() {
            break; // the end mark; the V above was our last use of the set
        }
        write_all(stdout.as_fd(), &chunk, stop)?;
        (received, turns) = (received + chunk.len() as u64, turns + 1);
    }
    // ANCHOR_END: reader_loop
    attached.shmdt()?;
    say(format!(
        "received {received} bytes in {turns} turns, and the end mark; shmdt, and xfr_writer \
         removes the segment and the semaphore set"
    ));
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: take_out
/// Loads the length word, checks it, then copies that many bytes out with atomic loads.
fn take_out(bytes: &[AtomicU8], chunk: &mut Vec<u8>) -> Result<(), Failure> {
    let mut length = [0u8; HEADER];
    for (byte, cell) in length.iter_mut().zip(&bytes[..HEADER]) {
        *byte = cell.load(Relaxed);
    }
    let length = u32::from_le_bytes(length) as usize;
    let room = bytes.len() - HEADER;
    if length > room {
        let why = format!("the length word says {length} bytes, over the buffer's {room}");
        return Err(Failure::new(why));
    }
    chunk.clear();
    chunk.extend(
        bytes[HEADER..HEADER + length]
            .iter()
            .map(|cell| cell.load(Relaxed)),
    );
    Ok(())
}
// ANCHOR_END: take_out

/// All of `data` to stdout, one `write` at a time, each ended by a stop signal.
fn write_all(stdout: BorrowedFd<'_>, mut data: &[u8], stop: &Stop) -> Result<(), Stopped> {
    while !data.is_empty() {
        let written = stop
            .retry(|| nix::unistd::write(stdout, data))
            .terminal_context("write stdout")?;
        data = &data[written..];
    }
    Ok(())
}
