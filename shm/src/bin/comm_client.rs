//! # comm_client: print the string of 'A's that comm_server grows in shared memory
//!
//! Ports `client.cpp` and `comm.cpp` of the course notes (`003_2714810cb8af4773.txt`), keeping
//! its protocol, so that it can also read the notes' C server: the key `ftok("/tmp", 0x666)` (ftok
//! keeps only the low 8 bits of the project id: `ftok("/tmp", 0x66)`), a segment of 4096 bytes, and
//! a C string of 'A's ended by a NUL. It attaches read-write, unlike what it needs for the string,
//! because it wakes the server through the futex word at the page's end.
//!
//! What it fixes: it opens the segment without `IPC_CREAT` (the notes' `get_shm` would try to
//! create one of 0 bytes), and refuses one smaller than 4096 bytes or another user's; it
//! prints the string each time it grows, with its length, instead of once a second whatever
//! happened; it sleeps in a futex on the page's last word, woken at once by the Rust server
//! and looking again every 15 ms for a C one; it reads the string with atomic loads, never
//! past the segment; it ends when the server removes the segment (`SHM_DEST`), or notices
//! that the server was killed (its pid, the segment's creator, is gone): then it removes what
//! it left and exits 1.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the futex wait then fails with EINTR and `Stop::retry` ends it; it detaches on the way out.
//! See "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin comm_server` in one terminal, then
//! `cargo run -p shm --bin comm_client` in another.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::Acquire;

use clap::Parser;
use nix::errno::Errno;
use shm::{Access, COMM_SIZE, Error, Gone, NotesKeyArgs, bump_and_wake, key_or_comm, shmget};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Prints the string of 'A's that comm_server grows, each time it grows, until the server ends.
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: the course notes' ftok(\"/tmp\", 0x666), which is ftok(\"/tmp\", 0x66): ftok \
                  keeps only the low 8 bits of the project id. --key, --key-path or --proj \
                  give another. Several comm_clients may watch one server: each only reads."
)]
struct Args {
    /// Without --key, --key-path or --proj: ftok("/tmp", 0x66).
    #[command(flatten)]
    key: NotesKeyArgs,
    /// Use a segment that another user owns, or whose owner cannot be checked because you may
    /// not read it (both refused by default).
    #[arg(long)]
    accept_foreign: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(watch(&args, &stop))
    })
}

fn watch(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = key_or_comm(&args.key, false)?;
    let segment = match shmget(key, 0, 0) {
        Err(err) if err.errno() == Some(Errno::ENOENT) => {
            let why = format!("{err}: start comm_server first");
            return Err(Stopped::Failed(Failure::new(why)));
        }
        other => other?,
    };
    if let Some(warning) = segment.check_owner(args.accept_foreign)? {
        println!("comm_client: {warning}");
    }
    let attached = segment.shmat(Access::ReadWrite)?;
    if attached.size() < COMM_SIZE {
        let why = format!(
            "{segment} has {} bytes, and comm_server's has {COMM_SIZE}: it was made for \
             something else",
            attached.size()
        );
        return Err(Stopped::Failed(Failure::new(why)));
    }
    // The string ends before the page's last word, which is the futex word, not text.
    let text = &attached.bytes()[..shm::COMM_WAKE_AT];
    let wake = attached
        .slack_word(shm::COMM_WAKE_AT)
        .expect("the page's last word");
    println!("comm_client: attached {segment} at {:#x}", attached.addr());
    bump_and_wake(wake)?; // tell the server we are here
    // ANCHOR: watch
    let mut shown = 0;
    let ended = loop {
        let mut gone = None;
        let grew = |shown: usize| length(text) != shown;
        let server_there = || {
            gone = segment.creator_gone()?; // by its pid: a third process cannot fool it
            gone.map_or(Ok(()), |_| {
                Err(Error::refused("wait", "comm_server is gone"))
            })
        };
        let waited = shm::wait_for(stop, wake, || grew(shown), server_there);
        if grew(shown) {
            shown = print_string(text)?; // also the last 'A's before the server left
        }
        match (waited, gone) {
            (Ok(()), _) => {}
            (Err(_), Some(gone)) => break gone,
            (Err(other), None) => return Err(other.into()),
        }
    };
    // ANCHOR_END: watch
    match ended {
        Gone::Removed => {
            println!("comm_client: comm_server ended and removed the segment, at {shown} 'A's");
            attached.shmdt()?;
            Ok(ExitCode::SUCCESS)
        }
        Gone::Died(pid) => {
            segment.mark_for_removal()?; // the last one out cleans up
            attached.shmdt()?;
            let why = format!(
                "comm_server (pid {pid}) was killed at {shown} 'A's; removed the segment it left"
            );
            Err(Failure::new(why).into())
        }
    }
}

/// How many bytes come before the first NUL (all of them if there is none).
fn length(text: &[AtomicU8]) -> usize {
    text.iter()
        .position(|byte| byte.load(Acquire) == 0)
        .unwrap_or(text.len())
}

/// Prints `length N: AAA...` and returns N.
fn print_string(text: &[AtomicU8]) -> Result<usize, Failure> {
    let string = shm::load_bytes(text);
    let mut out = std::io::stdout().lock();
    write!(out, "comm_client: length {}: ", string.len())
        .and_then(|()| out.write_all(&string))
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
        .context("write stdout")?;
    Ok(string.len())
}
