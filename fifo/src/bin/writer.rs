//! # writer: sends the lines you type through a named pipe
//!
//! Ports `write.c` of the course notes (section 2.4.2 of `004_0b92104986517c26.txt`). Makes the
//! FIFO `./mfifo` with `mkfifo` (mode 0600) unless it exists, then `open`s it for writing: that
//! `open` blocks until a reader opens the FIFO too, which is how the two processes meet. Then it
//! sends each line of stdin with one `write` per 100-byte record: the text, a NUL, and NULs up to
//! 100 bytes, so that the notes' `read.c` reads it. A longer line goes as several records.
//!
//! It ends at the end of its input (Ctrl-D), when the reader goes away (EPIPE, status 1), or on
//! SIGINT (Ctrl-C), SIGTERM or SIGHUP at any moment, even while it waits for a reader
//! (status 128 + the signal's number). It removes the FIFO if it created it.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with ctrlc (`Stop::install_with_ctrlc`),
//! whose thread is fine as the writer never forks; see the book's "Ctrl-C and cleanup".
//!
//! Run: `cargo run -p fifo --bin writer`, and `cargo run -p fifo --bin reader` in another
//! terminal.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fifo::{
    DEFAULT_PATH, Fifo, NOTES_RECORD_SIZE, cargo_run_command, encode_line, parse_record_size,
};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::write;
use support::LineReader;
use support::cli::{Failure, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};

/// Sends the lines of stdin, one record each, through a named pipe.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The FIFO's path; created (mode 0600) if nothing is there.
    #[arg(long, default_value = DEFAULT_PATH)]
    path: PathBuf,
    /// Bytes per record (text, NUL, padding): 2 to 4096 (PIPE_BUF); the reader must use the same.
    #[arg(long, default_value_t = NOTES_RECORD_SIZE, value_parser = parse_record_size)]
    record_size: usize,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: main
        // First the signal handling, so that a Ctrl-C right after mkfifo is caught too.
        let stop = Stop::install_with_ctrlc()?;
        // mkfifo(3), mode 0600; if a FIFO is there already, the reader made it: use that one.
        let fifo = Fifo::mkfifo_or_use(&args.path)?;
        println!("writer: {}", fifo.origin());
        if fifo.made_here() {
            // We made the FIFO, so no reader has started yet: say how to start one.
            let command = reader_command(&args);
            println!("writer: start a reader in another terminal: {command}");
        }
        let outcome = open_for_writing(&fifo, &stop)
            .and_then(|to_reader| send_lines(&to_reader, &stop, args.record_size));
        let status = finish(outcome);
        // On the main thread, after the work ended however it ended: removes the FIFO if this
        // process created it. (writeln!: after SIGHUP, println! would panic on a lost terminal.)
        if let Some(removal) = fifo.remove() {
            let _ = writeln!(std::io::stdout(), "writer: {removal}");
        }
        status
        // ANCHOR_END: main
    })
}

// ANCHOR: open
fn open_for_writing(fifo: &Fifo, stop: &Stop) -> Result<OwnedFd, Stopped> {
    let path = fifo.path().display();
    println!("writer: waiting in open() until a reader opens {path} (Ctrl-C quits)");
    // Blocks until a reader opens the FIFO. A stop signal makes it fail with EINTR.
    // O_NOFOLLOW: a symlink swapped in since mkfifo makes open fail instead of being followed.
    let flags = OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let to_reader = stop
        .retry(|| open(fifo.path(), flags, Mode::empty()))
        .context(format!("open {path}"))?;
    fifo.refuse_if_replaced(&to_reader)?;
    println!("writer: a reader has {path} open; type lines to send (Ctrl-D ends, Ctrl-C quits)");
    Ok(to_reader)
}
// ANCHOR_END: open

// ANCHOR: send_lines
fn send_lines(to_reader: &OwnedFd, stop: &Stop, record_size: usize) -> Result<ExitCode, Stopped> {
    let stdin = std::io::stdin();
    let mut input = LineReader::new();
    // Each line as soon as it is typed, read with read(2), which a stop signal interrupts.
    while let Some(line) = input.next_line(stdin.as_fd(), stop)? {
        let text = String::from_utf8_lossy(&line);
        let records = match encode_line(&line, record_size) {
            Ok(records) => records,
            Err(refused) => {
                report_error(format!("{text:?}: {refused}"));
                continue;
            }
        };
        for record in &records {
            // ANCHOR: write
            // At most PIPE_BUF bytes: written whole, or (on EINTR) not at all. Blocks while full.
            match stop.retry(|| write(to_reader, record)) {
                Ok(_) => {}
                // Rust ignores SIGPIPE: a reader that went away gives EPIPE instead of killing us.
                Err(Stopped::Failed(Errno::EPIPE)) => {
                    let gone =
                        format!("write to the FIFO: the reader went away ({})", Errno::EPIPE);
                    return Err(Failure::new(gone).into());
                }
                Err(stopped) => return Err(stopped.context("write to the FIFO")),
            }
            // ANCHOR_END: write
        }
        println!("writer: {}", sent(&line, records.len(), record_size));
    }
    println!("writer: end of input; closing the FIFO, so the reader sees end of file");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: send_lines

/// What the writer says once `line` went out in `records` records.
fn sent(line: &[u8], records: usize, record_size: usize) -> String {
    let text = String::from_utf8_lossy(line);
    match records {
        1 => format!("sent {text:?} as one {record_size}-byte record"),
        count => format!(
            "{text:?} has {} bytes, more than one record holds ({}); sent it as {count} records",
            line.len(),
            record_size - 1
        ),
    }
}

/// How to start a reader that meets this writer: the flags that must be the same on both sides,
/// when they differ from their defaults.
fn reader_command(args: &Args) -> String {
    let mut flags = Vec::new();
    if args.path != Path::new(DEFAULT_PATH) {
        flags.push(("--path", args.path.display().to_string()));
    }
    if args.record_size != NOTES_RECORD_SIZE {
        flags.push(("--record-size", args.record_size.to_string()));
    }
    cargo_run_command("reader", &flags)
}
