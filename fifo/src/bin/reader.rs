//! # reader: prints what arrives through a named pipe
//!
//! Ports `read.c` of the course notes (section 2.4.2 of `004_0b92104986517c26.txt`). Makes the FIFO
//! `./mfifo` with `mkfifo` (mode 0600) unless it exists, then `open`s it for reading: that `open`
//! blocks until a writer opens the FIFO too. Then it `read`s, and prints every 100-byte record as
//! it arrives, as `recv:<text>` like the notes' C, so that it reads what the notes' `write.c`
//! sends.
//!
//! Unlike the notes' C, it ends: when every writer has closed the FIFO (`read` returns 0, end of
//! file, status 0), and on SIGINT (Ctrl-C), SIGTERM or SIGHUP at any moment, even while it
//! waits for a writer (status 128 + the signal's number). It removes the FIFO if it created it.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), which
//! needs no thread (the writer shows `ctrlc`); see the book's "Ctrl-C and cleanup".
//!
//! Run: `cargo run -p fifo --bin reader`, and `cargo run -p fifo --bin writer` in another
//! terminal.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fifo::{
    DEFAULT_PATH, Fifo, MAX_RECORD_SIZE, NOTES_RECORD_SIZE, RecordReader, cargo_run_command,
    parse_record_size,
};
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::read;
use support::cli::{parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};

/// Prints every record that arrives through a named pipe.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The FIFO's path; created (mode 0600) if nothing is there.
    #[arg(long, default_value = DEFAULT_PATH)]
    path: PathBuf,
    /// Bytes per record, 2 to 4096 (PIPE_BUF); the writer must use the same.
    #[arg(long, default_value_t = NOTES_RECORD_SIZE, value_parser = parse_record_size)]
    record_size: usize,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: main
        let stop = Stop::install()?;
        // mkfifo(3), mode 0600; if a FIFO is there already, the writer made it: use that one.
        let fifo = Fifo::mkfifo_or_use(&args.path)?;
        println!("reader: {}", fifo.origin());
        if fifo.made_here() {
            // We made the FIFO, so no writer has started yet: say how to start one.
            let command = writer_command(&args);
            println!("reader: start a writer in another terminal: {command}");
        }
        let outcome = open_for_reading(&fifo, &stop)
            .and_then(|from_writers| receive(&fifo, &from_writers, &stop, args.record_size));
        let status = finish(outcome);
        // On the main thread, after the work ended however it ended: removes the FIFO if this
        // process created it. (writeln!: after SIGHUP, println! would panic on a lost terminal.)
        if let Some(removal) = fifo.remove() {
            let _ = writeln!(std::io::stdout(), "reader: {removal}");
        }
        status
        // ANCHOR_END: main
    })
}

// ANCHOR: open
fn open_for_reading(fifo: &Fifo, stop: &Stop) -> Result<OwnedFd, Stopped> {
    let path = fifo.path().display();
    println!("reader: waiting in open() until a writer opens {path} (Ctrl-C quits)");
    // Blocks until a writer opens the FIFO. A stop signal makes it fail with EINTR.
    // O_NOFOLLOW: a symlink swapped in since mkfifo makes open fail instead of being followed.
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let from_writers = stop
        .retry(|| open(fifo.path(), flags, Mode::empty()))
        .context(format!("open {path}"))?;
    fifo.refuse_if_replaced(&from_writers)?;
    println!("reader: a writer has {path} open; printing what it sends (Ctrl-C quits)");
    Ok(from_writers)
}
// ANCHOR_END: open

// ANCHOR: receive
fn receive(
    fifo: &Fifo,
    from_writers: &OwnedFd,
    stop: &Stop,
    record_size: usize,
) -> Result<ExitCode, Stopped> {
    let mut records = RecordReader::new(record_size);
    let mut buffer = [0; MAX_RECORD_SIZE * 4];
    loop {
        // Blocks until a writer sends something; 0 (end of file) once every writer has closed.
        let count = stop
            .retry(|| read(from_writers, &mut buffer))
            .context("read from the FIFO")?;
        if count == 0 {
            break;
        }
        for text in records.push(&buffer[..count]) {
            println!("recv:{}", String::from_utf8_lossy(&text));
        }
    }
    // A signal that came together with the end of file still decides how we end.
    stop.check()?;
    match records.leftover() {
        0 => println!(
            "reader: every writer has closed {} (end of file); exiting",
            fifo.path().display()
        ),
        leftover => report_error(format!(
            "end of file inside a record: dropped its {leftover} bytes (does the writer use \
             another --record-size?)"
        )),
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: receive

/// How to start a writer that meets this reader: the flags that must be the same on both sides,
/// when they differ from their defaults.
fn writer_command(args: &Args) -> String {
    let mut flags = Vec::new();
    if args.path != Path::new(DEFAULT_PATH) {
        flags.push(("--path", args.path.display().to_string()));
    }
    if args.record_size != NOTES_RECORD_SIZE {
        flags.push(("--record-size", args.record_size.to_string()));
    }
    cargo_run_command("writer", &flags)
}
