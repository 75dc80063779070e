//! # writer: sends the lines you type through a named pipe
//!
//! Ports seed `004_0b92104986517c26.txt`, section 2.4.2, `write.c`. Creates the FIFO `./mfifo`
//! (mode 0600) unless it exists, opens it for writing, which waits until a reader opens it too,
//! and sends each line of stdin as one 100-byte record: the text, a NUL, and NULs up to 100
//! bytes, so that the seed's `read.c` reads it. A longer line goes as several records.
//!
//! It ends at the end of its input (Ctrl-D), when the reader goes away (EPIPE, status 1), or on
//! Ctrl-C or SIGTERM at any moment, even while it waits for a reader (status 130 or 143). It
//! removes the FIFO if it created it. Signals are handled with the `ctrlc` crate.
//!
//! Run: `cargo run -p fifo --bin writer`, and `cargo run -p fifo --bin reader` in another
//! terminal.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fifo::{
    DEFAULT_PATH, Fifo, Input, LineReader, RECHECK_INTERVAL, SEED_RECORD_SIZE, Stop, Stopped,
    encode_line, exit_status, parse_record_size, send_record,
};
use nix::poll::PollFlags;
use support::cli::{parse_args, report_error, run};

/// Sends the lines of stdin, one record each, through a named pipe.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The FIFO's path; created (mode 0600) if nothing is there.
    #[arg(long, default_value = DEFAULT_PATH)]
    path: PathBuf,
    /// Bytes per record (text, NUL, padding), at most PIPE_BUF; the reader must use the same.
    #[arg(long, default_value_t = SEED_RECORD_SIZE, value_parser = parse_record_size)]
    record_size: usize,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: main
        // First the signal handling, so that a Ctrl-C right after mkfifo is caught too.
        let stop = Stop::with_ctrlc()?;
        let fifo = Fifo::create_or_use(&args.path)?;
        println!("writer: {}", fifo.origin());
        let outcome = open_for_writing(&fifo, &stop)
            .and_then(|to_reader| send_lines(&to_reader, &stop, args.record_size));
        exit_status(outcome)
        // `fifo` is dropped here, on the main thread, after the work ended however it ended:
        // that removes the FIFO if this process created it.
        // ANCHOR_END: main
    })
}

// ANCHOR: open
fn open_for_writing(fifo: &Fifo, stop: &Stop) -> Result<OwnedFd, Stopped> {
    let path = fifo.path().display();
    let mut told = false;
    loop {
        if let Some(to_reader) = fifo.try_open_for_writing()? {
            println!("writer: a reader has {path} open; type lines to send (Ctrl-D ends)");
            return Ok(to_reader);
        }
        if !told {
            println!("writer: waiting for a reader to open {path}");
            told = true;
        }
        // Nothing becomes ready when a reader opens the FIFO, so there is no event to poll()
        // for: look again every 100 ms. Ctrl-C ends this wait at once through the self-pipe.
        stop.wait(&[], Some(RECHECK_INTERVAL))?;
    }
}
// ANCHOR_END: open

// ANCHOR: send_lines
fn send_lines(to_reader: &OwnedFd, stop: &Stop, record_size: usize) -> Result<(), Stopped> {
    let stdin = std::io::stdin();
    let mut input = LineReader::new();
    loop {
        // Read stdin only when poll() says a line is there, so that Ctrl-C is never stuck
        // behind a blocking read().
        stop.wait(&[(stdin.as_fd(), PollFlags::POLLIN)], None)?;
        match input.read_from(stdin.as_fd())? {
            Input::Lines(lines) => {
                for line in lines {
                    send_line(to_reader, &line, stop, record_size)?;
                }
            }
            Input::EndOfFile(last) => {
                if let Some(line) = last {
                    send_line(to_reader, &line, stop, record_size)?;
                }
                println!("writer: end of input; closing the FIFO, so the reader sees end of file");
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: send_lines

// ANCHOR: send_line
fn send_line(
    to_reader: &OwnedFd,
    line: &[u8],
    stop: &Stop,
    record_size: usize,
) -> Result<(), Stopped> {
    let text = String::from_utf8_lossy(line);
    let records = match encode_line(line, record_size) {
        Ok(records) => records,
        Err(refused) => {
            report_error(format!("{text:?}: {refused}"));
            return Ok(());
        }
    };
    for record in &records {
        send_record(to_reader.as_fd(), record, stop)?;
    }
    match records.len() {
        1 => println!("writer: sent {text:?} as one {record_size}-byte record"),
        count => println!(
            "writer: {text:?} has {} bytes, more than one record holds ({}); sent it as \
             {count} records",
            line.len(),
            record_size - 1
        ),
    }
    Ok(())
}
// ANCHOR_END: send_line
