//! # xfr_writer: copy a file or stdin, of any size, to xfr_reader through shared memory
//!
//! The careful version a careful engineer would write, beside the seeds' polled flags: a
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
//! first, and opens them otherwise, so either may start first.
//!
//! The teardown handshake: after the end mark the writer waits for its turn once more, which
//! the reader gives after its last look at the segment; then the writer, the last one to use
//! them, removes the semaphore set and the segment (`semctl`/`shmctl` `IPC_RMID`; the segment
//! goes when the reader has detached too). Any other way out (a signal, an error) removes both
//! at once: the peer's `semop` then fails with EIDRM, and it says so and stops. A peer that is
//! killed (SIGKILL: no cleanup) is noticed within 100 ms: every wait is a `semtimedop` of
//! 100 ms, after which `shmctl(IPC_STAT)` tells whether the peer has detached (nattch 1).
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! it installs no thread and clears SA_RESTART, so `read` of the input and `semtimedop` fail
//! with EINTR and `Stop::retry` ends them; both objects are removed on the way out. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin xfr_writer -- --input FILE` in one terminal (or with no
//! arguments: it reads stdin), and `cargo run -p shm --bin xfr_reader > copy` in another,
//! from the same directory (the key is ftok of ./file). Narration goes to stderr.

#![forbid(unsafe_code)]

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, Ordering, fence};
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use semaphore::{SemOp, SemaphoreSet, create_or_open};
use shm::{Access, Error, KeyArgs, NamedKey, Segment, lift, shmget};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, TerminalContext, exit_code_for};

/// Copies a file or stdin to xfr_reader's stdout through a shared buffer and two semaphores.
#[derive(Parser)]
#[command(
    version,
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
    /// Default key: ftok("./file", 'a'), ./file created if missing.
    #[command(flatten)]
    key: KeyArgs,
}

/// The length word before the buffer.
const HEADER: usize = 4;
/// The semaphores: whose turn it is.
const WRITER_TURN: u16 = 0;
const READER_TURN: u16 = 1;
/// How long a wait lasts before it checks that the peer is still attached.
const LIVENESS: Duration = Duration::from_millis(100);

fn say(what: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "xfr_writer: {what}"); // no panic if stderr is gone
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        match send(&args, &stop) {
            Ok(code) => Ok(code),
            Err(Stopped::Signal(signal)) => {
                say(format!("got {signal}; stopping"));
                Ok(exit_code_for(signal))
            }
            Err(Stopped::Failed(failure)) => Err(failure),
        }
    })
}

fn send(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
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
    let key = args.key.named_key().map_err(Failure::from)?;
    let size = HEADER + args.buffer_size as usize;
    let (segment, first) = open_segment(key.clone(), size, args.key.accept_foreign)?;
    let set = match create_or_open(key, &[1, 0], stop) {
        Ok((set, _, _)) => set.leave_in_kernel(), // removed by hand: see `remove_both`
        Err(err) => {
            let _ = segment.mark_for_removal();
            return Err(lift(err));
        }
    };
    let outcome = copy(input, &segment, &set, first, args, stop);
    if outcome.is_err() {
        remove_both(&set, &segment); // the peer's semop fails with EIDRM: it stops too
    }
    outcome
}

/// `shmget`: creates the segment (0600) if this side is first, else opens the peer's.
fn open_segment(
    key: NamedKey,
    size: usize,
    accept_foreign: bool,
) -> Result<(Segment, bool), Stopped> {
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let segment = match shmget(key.clone(), size, flags) {
        Ok(segment) => {
            say(format!("created {segment}, {size} bytes, mode 0600"));
            return Ok((segment.leave_in_kernel(), true)); // removed by hand: `remove_both`
        }
        Err(err) if err.errno() == Some(Errno::EEXIST) => shmget(key.clone(), 0, 0),
        Err(err) => Err(err),
    };
    let segment = segment.map_err(Failure::from)?;
    if let Some(warning) = segment.check_owner(accept_foreign).map_err(Failure::from)? {
        say(warning);
    }
    let stat = segment.shmctl_stat().map_err(Failure::from)?;
    let creator_gone =
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(stat.cpid), None) == Err(Errno::ESRCH);
    if stat.nattch == 0 && creator_gone {
        let k = key.key();
        return Err(Failure::new(format!(
            "{segment} was left by a run that was killed (its creator, pid {}, is gone): \
             `ipcrm -M {k} -S {k}` removes it and its semaphore set",
            stat.cpid
        ))
        .into());
    }
    if stat.size <= HEADER {
        let why = format!("{segment} has {} bytes: no room for a buffer", stat.size);
        return Err(Failure::new(why).into());
    }
    say(format!(
        "opened {segment}, made by xfr_reader: a buffer of {} bytes",
        stat.size - HEADER
    ));
    Ok((segment, false))
}

fn copy(
    input: BorrowedFd<'_>,
    segment: &Segment,
    set: &SemaphoreSet,
    first: bool,
    args: &Args,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let attached = segment.shmat(Access::ReadWrite).map_err(Failure::from)?;
    let bytes = attached.bytes();
    let mut peer = Peer::default();
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
    let mut chunk = vec![0u8; bytes.len() - HEADER];
    let (mut sent, mut turns) = (0u64, 0u64);
    // ANCHOR: writer_loop
    loop {
        let count = stop
            .retry(|| nix::unistd::read(input, &mut chunk))
            .terminal_context("read")?;
        // semop P(writer's turn): wait until the reader has emptied the buffer.
        peer.take_turn(set, segment, WRITER_TURN, stop)?;
        fill(bytes, &chunk[..count]); // the bytes, then the length word; 0 marks the end
        fence(Ordering::Release); // the semop below publishes them (it is a full barrier)
        // semop V(reader's turn): the buffer is the reader's now.
        peer.give_turn(set, READER_TURN)?;
        if count == 0 {
            break;
        }
        (sent, turns) = (sent + count as u64, turns + 1);
    }
    // The teardown handshake: the reader gives the turn back after its last look.
    peer.take_turn(set, segment, WRITER_TURN, stop)?;
    // ANCHOR_END: writer_loop
    attached.shmdt().map_err(Failure::from)?;
    say(format!(
        "sent {sent} bytes in {turns} turns, and the end mark; xfr_reader has seen it"
    ));
    say(format!(
        "semctl(IPC_RMID) of {set}, shmctl(IPC_RMID) of {segment}: the last one out"
    ));
    SemaphoreSet::from_id(set.id())
        .semctl_rmid()
        .map_err(Failure::from)?;
    Segment::from_id(segment.id())
        .shmctl_rmid()
        .map_err(Failure::from)?;
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

/// Removes the semaphore set first (a peer waiting in semop wakes with EIDRM at once), then
/// the segment (it goes when the peer detaches). Either may be gone already.
fn remove_both(set: &SemaphoreSet, segment: &Segment) {
    let _ = SemaphoreSet::from_id(set.id()).semctl_rmid();
    let _ = segment.mark_for_removal();
}

/// What this side knows of xfr_reader.
#[derive(Default)]
struct Peer {
    said_waiting: bool,
}

impl Peer {
    /// P on `turn`, in waits of [`LIVENESS`]; between them, `shmctl(IPC_STAT)` says whether
    /// the reader is still attached.
    fn take_turn(
        &mut self,
        set: &SemaphoreSet,
        segment: &Segment,
        turn: u16,
        stop: &Stop,
    ) -> Result<(), Stopped> {
        // ANCHOR: take_turn
        loop {
            let err = match stop.retry(|| set.semtimedop(&[SemOp::p(turn, 1)], LIVENESS)) {
                Ok(()) => return Ok(()),
                Err(Stopped::Failed(err)) => err,
                Err(signal) => return Err(lift(signal)),
            };
            if err.errno() != Some(Errno::EAGAIN) {
                return Err(peer_stopped(err));
            }
            let stat = segment.shmctl_stat().map_err(peer_stopped)?;
            if stat.nattch >= 2 {
                continue;
            }
            // Detached: killed, or done after its last V (then the P below succeeds).
            if stat.dtime != 0 || stat.dest {
                if set.semop(&[SemOp::p(turn, 1).nowait()]).is_ok() {
                    return Ok(());
                }
                return Err(Failure::new(
                    "xfr_reader is gone: nattch dropped to 1 (only this writer) without the \
                     end of the handshake; it was killed. Removed the segment and the set",
                )
                .into());
            }
            if !self.said_waiting {
                say("waiting for xfr_reader (nattch is 1: only this writer)");
                self.said_waiting = true;
            }
        }
        // ANCHOR_END: take_turn
    }

    /// V on `turn`.
    fn give_turn(&self, set: &SemaphoreSet, turn: u16) -> Result<(), Stopped> {
        set.semop(&[SemOp::v(turn, 1)]).map_err(peer_stopped)
    }
}

/// EIDRM or EINVAL: the reader stopped (a signal, an error) and removed the objects.
fn peer_stopped(err: Error) -> Stopped {
    match err.errno() {
        Some(Errno::EIDRM | Errno::EINVAL) => {
            Failure::new(format!("xfr_reader stopped and removed the objects: {err}")).into()
        }
        _ => Failure::from(err).into(),
    }
}
