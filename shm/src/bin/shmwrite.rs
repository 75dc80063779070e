//! # shmwrite: hand each line of input to shmread through shared memory
//!
//! Ports `shmwrite.c` of the course notes (`001_7332a502e5643986.txt`), keeping its protocol (key
//! 1234, `struct shared_use_st { int written; char text[2048]; }`, `written` 1 when a line waits
//! for the reader, the line `end` stopping both), so that it also works with the notes' C reader.
//!
//! What it fixes: it does not create the segment (the reader does, 0600; start it first); it
//! waits for its turn in a futex on `written` (woken at once by the Rust reader, looking again
//! every 15 ms for a C one) instead of `sleep(1)` and "Waiting..."; `written` is an atomic,
//! stored with Release after the text is complete; the end of input sends "end" for you, so
//! Ctrl-D ends both too; it waits until the reader has taken "end" instead of `sleep(2)`; a
//! reader that was killed is noticed by its pid (the segment's creator is gone).
//!
//! Long and odd lines: a line carries at most 2047 bytes and a NUL (the C reader prints it as
//! a C string; the notes' `strncpy` of up to 2048 bytes could leave no NUL at all). A longer
//! line is split into 2047-byte pieces, and it says so; a line holding a NUL byte is refused,
//! with a note. Other bytes, UTF-8 or not, pass as they are.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the read of stdin and the futex wait then fail with EINTR and `Stop::retry` ends them. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin shmread` in one terminal, then
//! `cargo run -p shm --bin shmwrite` in another, and type lines; `end` stops both.

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::Ordering::{Acquire, Release};

use clap::Parser;
use nix::errno::Errno;
use shm::{
    Access, Claim, Error, Gone, NotesKeyArgs, Segment, SharedUse, futex_wake, key_or_notes, shmget,
    store_bytes, wait_for,
};
use support::LineReader;
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Sends each line of stdin to shmread through the notes' second segment (key 1234); "end" stops
/// both.
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: the course notes' 1234 (0x4d2) unless --key, --key-path or --proj is given. \
                  One writer at a time: a second shmwrite is refused. A writer written in C, like \
                  the course notes' own, cannot be checked: it does not claim its role."
)]
struct Args {
    /// Without --key, --key-path or --proj: the course notes' key 1234.
    #[command(flatten)]
    key: NotesKeyArgs,
    /// Use a segment that another user owns, or whose owner cannot be checked because you may
    /// not read it (both refused by default).
    #[arg(long)]
    accept_foreign: bool,
}

/// The most bytes one line carries: the field's 2048, less the NUL.
const MAX: usize = 2047;

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(write_lines(&args, &stop))
    })
}

fn write_lines(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = key_or_notes(&args.key, 1234, false)?;
    let segment = match shmget(key, 0, 0) {
        Err(err) if err.errno() == Some(Errno::ENOENT) => {
            let why = format!("{err}: start shmread first");
            return Err(Stopped::Failed(Failure::new(why)));
        }
        other => other?,
    };
    if let Some(warning) = segment.check_owner(args.accept_foreign)? {
        println!("shmwrite: {warning}");
    }
    let attached = segment.shmat(Access::ReadWrite)?;
    let shared = attached.view::<SharedUse>()?;
    // One writer: two would take turns, and shmread would print their lines interleaved. A C
    // writer cannot be checked: it never looks at this word.
    let claim_word = attached
        .slack_word(size_of::<SharedUse>())
        .expect("page slack");
    let _claim = Claim::take(claim_word, "writer")?;
    println!("shmwrite: attached {segment} at {:#x}", attached.addr());
    println!("shmwrite: enter some text; \"end\" (or Ctrl-D) stops both");
    let mut reader = LineReader::new();
    let mut number = 0u64;
    loop {
        // While nobody types, a reader that dies is noticed within WATCH_EVERY (200 ms).
        let reader_gone = || Ok(reader_still_there(&segment)?);
        let Some(line) = reader.next_line_watching(std::io::stdin().as_fd(), stop, reader_gone)?
        else {
            println!("shmwrite: end of input: sending \"end\"");
            send(&segment, shared, b"end", stop)?;
            break;
        };
        number += 1;
        if line.contains(&0) {
            println!("shmwrite: line {number} holds a NUL byte, which ends a C string: not sent");
            continue;
        }
        let parts: Vec<&[u8]> = match line.is_empty() {
            true => vec![&line[..]],
            false => line.chunks(MAX).collect(),
        };
        if parts.len() > 1 {
            let (bytes, count) = (line.len(), parts.len());
            println!(
                "shmwrite: line {number} has {bytes} bytes, over {MAX}: sent in {count} parts"
            );
        }
        for part in parts {
            send(&segment, shared, part, stop)?;
        }
        if line == b"end" {
            break;
        }
    }
    // Wait until the reader has taken "end" (it then detaches and removes the segment).
    wait_for_turn(&segment, shared, stop)?;
    println!("shmwrite: shmread has read \"end\"; detaching");
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: send
/// Waits until the reader has taken the previous line, then leaves this one.
fn send(segment: &Segment, shared: &SharedUse, line: &[u8], stop: &Stop) -> Result<(), Stopped> {
    // A reader that died while this writer waited for a line must not make the line vanish.
    reader_still_there(segment)?;
    wait_for_turn(segment, shared, stop)?;
    store_bytes(&shared.text, line); // the bytes and a NUL, while written is 0
    shared.written.store(1, Release); // publish: the text above is complete
    futex_wake(&shared.written, u32::MAX)?; // written is the word
    Ok(())
}

/// Waits until `written` is 0 again, or fails if the reader went away.
fn wait_for_turn(segment: &Segment, shared: &SharedUse, stop: &Stop) -> Result<(), Stopped> {
    let free = || shared.written.load(Acquire) == 0;
    let still_there = || {
        shared.check_written()?;
        reader_still_there(segment)
    };
    Ok(wait_for(stop, &shared.written, free, still_there)?)
}
// ANCHOR_END: send

/// Fails when shmread is gone: it removed the segment, or its process died.
fn reader_still_there(segment: &Segment) -> Result<(), Error> {
    match segment.creator_gone()? {
        None => Ok(()),
        Some(Gone::Removed) => Err(Error::refused(
            "wait for shmread",
            "it stopped and removed the segment",
        )),
        Some(Gone::Died(pid)) => {
            // Killed without cleaning up: its segment would stay until reboot.
            segment.mark_for_removal()?;
            Err(Error::refused(
                "wait for shmread",
                format!("it (pid {pid}) was killed; removed the segment it left"),
            ))
        }
    }
}
