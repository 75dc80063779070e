//! # comm_server: grow a string of 'A's in shared memory for comm_client to print
//!
//! Ports `server.cpp` and `comm.cpp` of the course notes (`003_2714810cb8af4773.txt`), keeping
//! its protocol, so that the notes' C client can read it: the key `ftok("/tmp", 0x666)`, a segment
//! of 4096 bytes, and a C string of 'A's that grows by one 'A' at a time, with a NUL after it. ftok
//! keeps only the low 8 bits of the project id, so the key is really `ftok("/tmp", 0x66)`.
//!
//! What it fixes: mode 0600, not the notes' 0644 (`--mode` asks for another); `IPC_EXCL` as in
//! the notes, with a clear line when the key is taken; the string stops at `--length` (at most
//! 4091) instead of wrapping at 4096, where the notes' C writes its NUL one byte past the segment;
//! each 'A' is stored with Release after the NUL behind it; it waits for a client to attach
//! before it grows (a futex on the last word of the page, which the string never reaches; a
//! C client wakes nobody, and the server looks again every 15 ms); a client that detaches is
//! noticed; the segment is removed on every way out (`shmdt`, then `shmctl(IPC_RMID)`), where
//! the notes' loop never ends and never removes it.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the futex wait and the sleep between two 'A's then end with EINTR and `Stop::retry` or
//! `Stop::sleep` return; the segment is removed on the way out. See "Programs that stop
//! cleanly".
//!
//! Run: `cargo run -p shm --bin comm_server`, then `comm_client` in a second terminal.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use shm::{
    Access, COMM_MAX_LENGTH, COMM_SIZE, COMM_WAKE_AT, Error, NotesKeyArgs, Segment, bump_and_wake,
    key_or_comm, parse_mode, shmget, wait_for,
};
use support::cli::{Failure, cargo_run_command, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Creates the notes' third segment and grows a string of 'A's in it, one every --every ms.
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: the course notes' ftok(\"/tmp\", 0x666), which is ftok(\"/tmp\", 0x66): ftok \
                  keeps only the low 8 bits of the project id. --key, --key-path or --proj \
                  give another."
)]
struct Args {
    /// Without --key, --key-path or --proj: ftok("/tmp", 0x66).
    #[command(flatten)]
    key: NotesKeyArgs,
    /// Milliseconds between two 'A's (the notes: 1000), 1 to 10000.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    every: u64,
    /// How long the string grows, 1 to 4091 'A's; then the server removes the segment.
    #[arg(long, default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=COMM_MAX_LENGTH as i64))]
    length: u16,
    /// The new segment's mode, in octal (the notes: 644).
    #[arg(long, default_value = "600", value_parser = parse_mode)]
    mode: u16,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(serve(&args, &stop))
    })
}

fn serve(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = key_or_comm(&args.key, true)?;
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | libc::c_int::from(args.mode);
    let segment = match shmget(key.clone(), COMM_SIZE, flags) {
        Err(err) if err.errno() == Some(Errno::EEXIST) => {
            let why = format!(
                "{err}: another comm_server runs, or one was killed; `ipcrm -M {}` removes it",
                key.key()
            );
            return Err(Stopped::Failed(Failure::new(why)));
        }
        other => other?,
    };
    let attached = segment.shmat(Access::ReadWrite)?;
    let text = &attached.bytes()[..COMM_WAKE_AT];
    let wake = attached
        .slack_word(COMM_WAKE_AT)
        .expect("the page's last word");
    println!(
        "comm_server: created {segment} ({COMM_SIZE} bytes, mode {:04o}), attached at {:#x}",
        args.mode,
        attached.addr()
    );
    let peer = cargo_run_command("shm", "comm_client", &args.key.flags());
    println!("comm_server: start comm_client in another terminal: {peer}");
    println!("comm_server: waiting for comm_client to attach; Ctrl-C to stop");
    let client_here = || segment.shmctl_stat().is_ok_and(|stat| stat.nattch >= 2);
    wait_for(stop, wake, client_here, || Ok(()))?;
    println!(
        "comm_server: comm_client attached; adding an 'A' every {} ms, up to {}",
        args.every, args.length
    );
    // ANCHOR: grow
    let every = Duration::from_millis(args.every);
    for length in 1..=usize::from(args.length) {
        stop.sleep(every)?;
        if let Err(err) = client_still_there(&segment) {
            let why = format!("{err}, at {} 'A's", length - 1);
            return Err(Stopped::Failed(Failure::new(why))); // drops: shmdt, IPC_RMID
        }
        grow(text, length);
        bump_and_wake(wake)?; // a Rust client wakes at once
    }
    // ANCHOR_END: grow
    println!(
        "comm_server: the string has {} 'A's; shmdt, then shmctl(IPC_RMID)",
        args.length
    );
    attached.shmdt()?; // on a failure or a signal, drops do both
    segment.shmctl_rmid()?;
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: store
/// Makes the string `length` 'A's long: the NUL after it first, then the new 'A' with Release,
/// so that a reader that sees the 'A' (with Acquire) also sees the NUL behind it.
fn grow(text: &[AtomicU8], length: usize) {
    text[length].store(0, Relaxed);
    text[length - 1].store(b'A', Release);
}
// ANCHOR_END: store

/// Fails once the client has left: only the server is attached again.
fn client_still_there(segment: &Segment) -> Result<(), Error> {
    match segment.shmctl_stat()?.nattch {
        0 | 1 => Err(Error::refused(
            "grow the string",
            "comm_client detached (nattch is 1: only this server)",
        )),
        _ => Ok(()),
    }
}
