//! # shm_server: print every message a client leaves in shared memory
//!
//! Ports the server of the course notes' first pair (`000_e54fa7b2cf8b5b00.txt`), keeping its
//! protocol, so that the notes' C client can talk to it: key 1111, `struct ShmEntry { bool
//! can_read; char msg[2048]; }`, and the flag's meaning (1: a message waits for the server; the
//! server sets it back to 0). It prints `Received message: ...` once for each message, in order.
//!
//! What it fixes: it creates the segment itself (`IPC_CREAT | IPC_EXCL`, mode 0600, not 0666)
//! and removes it on every way out; the flag is an atomic (Release/Acquire), not a plain bool
//! that both sides race on; it sleeps in a futex instead of `sleep(1)`, woken at once by a
//! Rust client and looking again every 15 ms for a C client, which wakes nobody. The notes'
//! server never ends. This one ends when the client detaches (its input ended, or it was
//! killed): `shmctl(IPC_STAT)` then shows one attachment again (nattch 1) and a detach time.
//!
//! The futex word: `ShmEntry` has no 4-byte field (the bool is one byte), so the Rust pair keeps
//! a wake-up counter in the page's slack right after the struct (offset 2052), where the C
//! programs never look.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the futex wait then fails with EINTR and `Stop::retry` ends it; the segment is removed on
//! the way out. See "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin shm_server`, then `shm_client` in a second terminal.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Release};

use clap::Parser;
use nix::errno::Errno;
use shm::{
    Access, Claim, Error, NotesKeyArgs, Segment, ShmEntry, bump_and_wake, key_or_notes, load_bytes,
    shmget, wait_for,
};
use support::cli::{Context, Failure, cargo_run_command, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish};

/// Creates the notes' first segment (key 1111) and prints each message a client leaves in it.
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: the course notes' 1111 (0x457) unless --key, --key-path or --proj is given."
)]
struct Args {
    /// Without --key, --key-path or --proj: the course notes' key 1111.
    #[command(flatten)]
    key: NotesKeyArgs,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(serve(&args, &stop))
    })
}

fn serve(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = key_or_notes(&args.key, 1111, true)?;
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let segment = match shmget(key.clone(), size_of::<ShmEntry>(), flags) {
        Err(err) if err.errno() == Some(Errno::EEXIST) => {
            let why = format!(
                "{err}: another shm_server runs, or one was killed; `ipcs -m` shows it, \
                 `ipcrm -M {}` removes it",
                key.key()
            );
            return Err(Stopped::Failed(Failure::new(why)));
        }
        other => other?,
    };
    let attached = segment.shmat(Access::ReadWrite)?;
    let entry = attached.view::<ShmEntry>()?;
    let wake = attached
        .slack_word(shm::ENTRY_WAKE_AT)
        .expect("a page has room after 2049 bytes");
    println!(
        "shm_server: created {segment} ({} bytes, mode 0600), attached at {:#x}",
        attached.size(),
        attached.addr()
    );
    let peer = cargo_run_command("shm", "shm_client", &args.key.flags());
    println!("shm_server: start shm_client in another terminal: {peer}");
    println!("shm_server: waiting for shm_client; Ctrl-C to stop");
    let received = receive_all(&segment, entry, wake, stop)?;
    let claim = attached
        .slack_word(shm::ENTRY_CLAIM_AT)
        .expect("room for the claim");
    if let Some(pid) = Claim::killed_holder(claim) {
        let why = format!(
            "shm_client (pid {pid}) was killed after {}; removed the segment",
            plural(received, "message")
        );
        return Err(Failure::new(why).into()); // drops: shmdt, IPC_RMID
    }
    println!(
        "shm_server: the client detached after {}; removing the segment",
        plural(received, "message")
    );
    attached.shmdt()?; // on a failure or a signal, drops do both
    segment.shmctl_rmid()?;
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: receive
/// Prints each message as it comes, until the client detaches. Returns how many came.
fn receive_all(
    segment: &Segment,
    entry: &ShmEntry,
    wake: &AtomicU32,
    stop: &Stop,
) -> Result<u64, Stopped> {
    let mut received = 0;
    loop {
        let can_read = || entry.can_read.load(Acquire);
        match wait_for(stop, wake, can_read, || client_still_there(segment)) {
            // Gone: but it may have left a last message between the look and the stat.
            Err(Stopped::Failed(_)) if !can_read() => return Ok(received),
            Err(Stopped::Failed(_)) => {}
            other => other?,
        }
        let mut message = load_bytes(&entry.msg); // complete: can_read was stored last
        if message.last() == Some(&b'\n') {
            message.pop(); // the notes' C client sends what fgets read, newline included
        }
        entry.can_read.store(false, Release); // the client may write the next one
        bump_and_wake(wake)?;
        received += 1;
        print_raw(&[b"Received message: ", &message[..], b"\n"].concat())?;
    }
}

/// Fails once the client has left: only the server is attached, and somebody detached.
fn client_still_there(segment: &Segment) -> Result<(), Error> {
    let stat = segment.shmctl_stat()?;
    match stat.nattch <= 1 && stat.dtime != 0 {
        true => Err(Error::refused("wait for shm_client", "it detached")),
        false => Ok(()),
    }
}
// ANCHOR_END: receive

/// Writes `bytes` to stdout as they are (a message need not be UTF-8).
fn print_raw(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("write stdout")
}
