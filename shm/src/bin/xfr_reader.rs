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
//! which `shmctl(IPC_STAT)` tells whether it has detached (nattch 1); then this side removes
//! both objects and exits with status 1.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! it installs no thread and clears SA_RESTART, so `semtimedop` and a `write` to a full pipe
//! fail with EINTR and `Stop::retry` ends them; both objects are removed on the way out. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin xfr_reader > copy` in one terminal and
//! `cargo run -p shm --bin xfr_writer -- --input FILE` in another, from the same directory
//! (the key is ftok of ./file); either may start first.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, Ordering, fence};
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use semaphore::{SemOp, SemaphoreSet, create_or_open};
use shm::{Access, Error, KeyArgs, NamedKey, Segment, lift, shmget};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, TerminalContext, exit_code_for};

/// Writes what xfr_writer sends through a shared buffer and two semaphores to stdout.
#[derive(Parser)]
#[command(
    version,
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
    let _ = writeln!(std::io::stderr(), "xfr_reader: {what}"); // no panic if stderr is gone
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        match receive(&args, &stop) {
            Ok(code) => Ok(code),
            Err(Stopped::Signal(signal)) => {
                say(format!("got {signal}; stopping"));
                Ok(exit_code_for(signal))
            }
            Err(Stopped::Failed(failure)) => Err(failure),
        }
    })
}

fn receive(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
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
    let outcome = copy(&segment, &set, first, stop);
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
        "opened {segment}, made by xfr_writer: a buffer of {} bytes",
        stat.size - HEADER
    ));
    Ok((segment, false))
}

fn copy(
    segment: &Segment,
    set: &SemaphoreSet,
    first: bool,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let attached = segment.shmat(Access::ReadWrite).map_err(Failure::from)?;
    let bytes = attached.bytes();
    let mut peer = Peer::default();
    say(format!(
        "{set}: 0 = the writer's turn, 1 = the reader's turn"
    ));
    say("writing what xfr_writer sends to stdout");
    if first {
        say("start xfr_writer in another terminal, in this directory, to send it");
    }
    let stdout = std::io::stdout();
    let mut chunk = Vec::with_capacity(bytes.len() - HEADER);
    let (mut received, mut turns) = (0u64, 0u64);
    // ANCHOR: reader_loop
    loop {
        // semop P(reader's turn): wait until the writer has filled the buffer.
        peer.take_turn(set, segment, READER_TURN, stop)?;
        fence(Ordering::Acquire); // the semop above made the writer's stores visible
        take_out(bytes, &mut chunk)?; // the length word, then that many bytes
        // semop V(writer's turn): the writer refills while we write stdout.
        peer.give_turn(set, WRITER_TURN)?;
        if chunk.is_empty() {
            break; // the end mark; the V above was our last use of the set
        }
        write_all(stdout.as_fd(), &chunk, stop)?;
        (received, turns) = (received + chunk.len() as u64, turns + 1);
    }
    // ANCHOR_END: reader_loop
    attached.shmdt().map_err(Failure::from)?;
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

/// Removes the semaphore set first (a peer waiting in semop wakes with EIDRM at once), then
/// the segment (it goes when the peer detaches). Either may be gone already.
fn remove_both(set: &SemaphoreSet, segment: &Segment) {
    let _ = SemaphoreSet::from_id(set.id()).semctl_rmid();
    let _ = segment.mark_for_removal();
}

/// What this side knows of xfr_writer.
#[derive(Default)]
struct Peer {
    said_waiting: bool,
}

impl Peer {
    /// P on `turn`, in waits of [`LIVENESS`]; between them, `shmctl(IPC_STAT)` says whether
    /// the writer is still attached.
    fn take_turn(
        &mut self,
        set: &SemaphoreSet,
        segment: &Segment,
        turn: u16,
        stop: &Stop,
    ) -> Result<(), Stopped> {
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
                    "xfr_writer is gone: nattch dropped to 1 (only this reader) before the end \
                     mark; it was killed. Removed the segment and the set",
                )
                .into());
            }
            if !self.said_waiting {
                say("waiting for xfr_writer (nattch is 1: only this reader)");
                self.said_waiting = true;
            }
        }
    }

    /// V on `turn`.
    fn give_turn(&self, set: &SemaphoreSet, turn: u16) -> Result<(), Stopped> {
        set.semop(&[SemOp::v(turn, 1)]).map_err(peer_stopped)
    }
}

/// EIDRM or EINVAL: the writer stopped (a signal, an error) and removed the objects.
fn peer_stopped(err: Error) -> Stopped {
    match err.errno() {
        Some(Errno::EIDRM | Errno::EINVAL) => {
            Failure::new(format!("xfr_writer stopped and removed the objects: {err}")).into()
        }
        _ => Failure::from(err).into(),
    }
}
