//! # shmread: print each line shmwrite leaves in shared memory, until "end"
//!
//! Ports `shmread.c` of the course notes (`001_7332a502e5643986.txt`), keeping its protocol, so
//! that the notes' `shmwrite.c` can talk to it: key 1234, `struct shared_use_st { int written; char
//! text[2048]; }`, `written` 1 when a line waits for the reader, and the line `end` stopping
//! both. Like the C original, the reader creates the segment and removes it at the end: `shmdt`,
//! then `shmctl(IPC_RMID)`.
//!
//! What it fixes: mode 0600, not 0666, and `IPC_EXCL`, so that it never reads a stranger's
//! segment; `written` is an atomic (Release/Acquire), not a plain int both sides race on; it
//! sleeps in a futex on `written` itself (a 4-byte word at offset 0), woken at once by the Rust
//! writer and looking again every 15 ms for a C one, instead of `sleep(1)`; it checks every
//! call; it prints the address with `{:#x}`, not `%X` of a pointer cut to an int; "end" must
//! be the whole line (the notes' `strncmp(text, "end", 3)` also stops at "endless"); a writer
//! that detaches without "end" (killed) is noticed (nattch drops to 1), and the reader stops
//! with a clear message; the segment is removed on every way out.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the futex wait then fails with EINTR and `Stop::retry` ends it; the segment is removed on
//! the way out. See "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin shmread`, then `shmwrite` in a second terminal.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering::{Acquire, Release};

use clap::Parser;
use nix::errno::Errno;
use shm::{
    Access, Error, NotesKeyArgs, SharedUse, futex_wake, key_or_notes, load_bytes, shmget, wait_for,
};
use support::cli::{Context, Failure, cargo_run_command, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish};

/// Creates the notes' second segment (key 1234) and prints each line shmwrite leaves, until "end".
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: the course notes' 1234 (0x4d2) unless --key, --key-path or --proj is given."
)]
struct Args {
    /// Without --key, --key-path or --proj: the course notes' key 1234.
    #[command(flatten)]
    key: NotesKeyArgs,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(read_lines(&args, &stop))
    })
}

fn read_lines(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = key_or_notes(&args.key, 1234, true)?;
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let segment = match shmget(key.clone(), size_of::<SharedUse>(), flags) {
        Err(err) if err.errno() == Some(Errno::EEXIST) => {
            let why = format!(
                "{err}: another shmread runs, or one was killed; `ipcrm -M {}` removes it",
                key.key()
            );
            return Err(Stopped::Failed(Failure::new(why)));
        }
        other => other?,
    };
    let attached = segment.shmat(Access::ReadWrite)?;
    let shared = attached.view::<SharedUse>()?;
    shared.written.store(0, Release);
    println!(
        "shmread: created {segment}, mode 0600, attached at {:#x}",
        attached.addr()
    );
    let peer = cargo_run_command("shm", "shmwrite", &args.key.flags());
    println!("shmread: start shmwrite in another terminal: {peer}");
    println!("shmread: waiting for shmwrite; the line \"end\" stops both");
    // ANCHOR: read
    let mut count = 0u64;
    loop {
        let mut gone = false;
        let ready = || shared.written.load(Acquire) == 1;
        let waited = wait_for(stop, &shared.written, ready, || {
            shared.check_written()?;
            let stat = segment.shmctl_stat()?;
            gone = stat.nattch <= 1 && stat.dtime != 0; // the writer detached
            match gone {
                true => Err(Error::refused("wait for shmwrite", "it detached")),
                false => Ok(()),
            }
        });
        if gone {
            let lines = plural(count, "line");
            let why = format!("shmwrite detached after {lines} without sending \"end\"");
            return Err(Stopped::Failed(Failure::new(why))); // killed: drop removes the segment
        }
        waited?;
        let mut line = load_bytes(&shared.text);
        if line.last() == Some(&b'\n') {
            line.pop(); // a C writer sends what fgets read, newline included
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&[b"You wrote: ", &line[..], b"\n"].concat())
            .and_then(|()| out.flush())
            .context("write stdout")?;
        count += 1;
        shared.written.store(0, Release); // the writer may write the next line
        futex_wake(&shared.written, u32::MAX)?; // written is the word
        if line == b"end" {
            break;
        }
    }
    attached.shmdt()?; // as the notes' C: detach, then remove
    let shown = segment.to_string();
    segment.shmctl_rmid()?;
    let lines = plural(count, "line");
    println!("shmread: \"end\" after {lines}; shmdt, then shmctl(IPC_RMID): removed {shown}");
    // ANCHOR_END: read
    Ok(ExitCode::SUCCESS)
}
