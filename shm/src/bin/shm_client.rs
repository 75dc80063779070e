//! # shm_client: hand each line of input to shm_server through shared memory
//!
//! Ports the client of the course notes' first pair (`000_e54fa7b2cf8b5b00.txt`), keeping its
//! protocol (key 1111, `struct ShmEntry { bool can_read; char msg[2048]; }`, 1 in `can_read`: a
//! message waits for the server), so that it also works with the notes' C server.
//!
//! What it fixes: it waits for its turn in a futex (woken at once by a Rust server, looking
//! again every 15 ms for a C one) instead of spinning at 100% CPU; the flag is an atomic, set
//! with Release after the message is complete; it ends at the end of its input, once the
//! server has read the last message, and then detaches, which tells the server to stop. It
//! does not create the segment (the notes' client did, with 0666): start the server first.
//!
//! Long and odd lines: a message holds at most 2047 bytes and a NUL (the C server prints it as
//! a C string). A longer line is split into 2047-byte messages, and the client says so; a line
//! holding a NUL byte is refused, with a note, because the C side would cut it there. Other
//! bytes, UTF-8 or not, pass as they are.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the read of stdin and the futex wait then fail with EINTR and `Stop::retry` ends them. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin shm_server` in one terminal, then
//! `cargo run -p shm --bin shm_client` in another, and type lines (Ctrl-D ends).

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Release};

use clap::Parser;
use nix::errno::Errno;
use shm::{
    Access, Claim, Error, Gone, NotesKeyArgs, Segment, ShmEntry, bump_and_wake, key_or_notes,
    shmget, store_bytes, wait_for,
};
use support::LineReader;
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Sends each line of stdin to shm_server through the notes' first segment (key 1111).
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: the course notes' 1111 (0x457) unless --key, --key-path or --proj is given. \
                  One client at a time: a second shm_client is refused. A client written in C, like \
                  the course notes' own, cannot be checked: it does not claim its role."
)]
struct Args {
    /// Without --key, --key-path or --proj: the course notes' key 1111.
    #[command(flatten)]
    key: NotesKeyArgs,
    /// Use a segment that another user owns, or whose owner cannot be checked because you may
    /// not read it (both refused by default).
    #[arg(long)]
    accept_foreign: bool,
}

/// The most bytes one message carries: the field's 2048, less the NUL.
const MAX: usize = 2047;

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(send_lines(&args, &stop))
    })
}

fn send_lines(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = key_or_notes(&args.key, 1111, false)?;
    let segment = match shmget(key, 0, 0) {
        Err(err) if err.errno() == Some(Errno::ENOENT) => {
            return Err(Stopped::Failed(Failure::new(format!(
                "{err}: start shm_server first"
            ))));
        }
        other => other?,
    };
    if let Some(warning) = segment.check_owner(args.accept_foreign)? {
        println!("shm_client: {warning}");
    }
    let attached = segment.shmat(Access::ReadWrite)?;
    let entry = attached.view::<ShmEntry>()?;
    let wake = attached.slack_word(shm::ENTRY_WAKE_AT).expect("page slack");
    // One client: a second one would take turns with this one, and each would think the
    // server read all its lines. A C client cannot be checked: it never looks at this word.
    let claim_word = attached
        .slack_word(shm::ENTRY_CLAIM_AT)
        .expect("page slack");
    let claim = Claim::take(claim_word, "client")?;
    println!("shm_client: attached {segment}; type lines, Ctrl-D to end");
    let mut reader = LineReader::new();
    let mut sent = 0u64;
    let mut number = 0u64;
    // While nobody types, a server that dies is noticed within WATCH_EVERY (200 ms).
    let server_gone = || Ok(server_still_there(&segment)?);
    while let Some(line) = reader.next_line_watching(std::io::stdin().as_fd(), stop, server_gone)? {
        number += 1;
        if line.contains(&0) {
            println!("shm_client: line {number} holds a NUL byte, which ends a C string: not sent");
            continue;
        }
        let parts: Vec<&[u8]> = match line.is_empty() {
            true => vec![&line[..]],
            false => line.chunks(MAX).collect(),
        };
        if parts.len() > 1 {
            let (bytes, count) = (line.len(), parts.len());
            println!(
                "shm_client: line {number} has {bytes} bytes, over {MAX}: sent in {count} parts"
            );
        }
        for part in parts {
            send(&segment, entry, wake, part, stop)?;
            sent += 1;
        }
    }
    // The end: wait until the server has read the last message, then detach (on drop).
    wait_for_turn(&segment, entry, wake, stop)?;
    println!("shm_client: end of input; the server has read all {sent} messages; detaching");
    drop(claim);
    attached.shmdt()?; // the server sees nattch drop to 1, and ends
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: send
/// Waits until the server has read the previous message, then leaves this one.
fn send(
    segment: &Segment,
    entry: &ShmEntry,
    wake: &AtomicU32,
    message: &[u8],
    stop: &Stop,
) -> Result<(), Stopped> {
    // A server that died while this client waited for a line must not make the line vanish.
    server_still_there(segment)?;
    wait_for_turn(segment, entry, wake, stop)?;
    store_bytes(&entry.msg, message); // the bytes and a NUL, while the flag is 0
    entry.can_read.store(true, Release); // publish: everything stored above is visible
    bump_and_wake(wake)?; // a Rust server wakes now; C looks later
    Ok(())
}

/// Waits until `can_read` is 0 again, or fails if the server went away.
fn wait_for_turn(
    segment: &Segment,
    entry: &ShmEntry,
    wake: &AtomicU32,
    stop: &Stop,
) -> Result<(), Stopped> {
    let free = || !entry.can_read.load(Acquire);
    Ok(wait_for(stop, wake, free, || server_still_there(segment))?)
}
// ANCHOR_END: send

/// Fails when the server is gone: it removed the segment, or its process died.
fn server_still_there(segment: &Segment) -> Result<(), Error> {
    match segment.creator_gone()? {
        None => Ok(()),
        Some(Gone::Removed) => Err(Error::refused(
            "wait for the server",
            "it stopped and removed the segment",
        )),
        Some(Gone::Died(pid)) => {
            // Killed without cleaning up: its segment would stay until reboot.
            segment.mark_for_removal()?;
            Err(Error::refused(
                "wait for the server",
                format!("it (pid {pid}) was killed; removed the segment it left"),
            ))
        }
    }
}
