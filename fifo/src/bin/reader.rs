//! # reader: prints what arrives through a named pipe
//!
//! Ports seed `004_0b92104986517c26.txt`, section 2.4.2, `read.c`. Creates the FIFO `./mfifo`
//! (mode 0600) unless it exists, opens it for reading, and prints every 100-byte record as it
//! arrives, as `recv:<text>` like the seed, so that it reads what the seed's `write.c` sends.
//!
//! Unlike the seed, it ends: when every writer has closed the FIFO (end of file, status 0), and
//! on Ctrl-C or SIGTERM at any moment, even while it waits for a writer (status 130 or 143). It
//! removes the FIFO if it created it. Signals are handled with the `signal-hook` crate.
//!
//! Run: `cargo run -p fifo --bin reader`, and `cargo run -p fifo --bin writer` in another
//! terminal.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fifo::{
    DEFAULT_PATH, Fifo, Received, RecordReader, SEED_RECORD_SIZE, Stop, Stopped, exit_status,
    parse_record_size,
};
use nix::poll::PollFlags;
use support::cli::{parse_args, report_error, run};

/// Prints every record that arrives through a named pipe.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The FIFO's path; created (mode 0600) if nothing is there.
    #[arg(long, default_value = DEFAULT_PATH)]
    path: PathBuf,
    /// Bytes per record, at most PIPE_BUF; the writer must use the same.
    #[arg(long, default_value_t = SEED_RECORD_SIZE, value_parser = parse_record_size)]
    record_size: usize,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: main
        let stop = Stop::with_signal_hook()?;
        let fifo = Fifo::create_or_use(&args.path)?;
        println!("reader: {}", fifo.origin());
        let outcome = receive(&fifo, &stop, args.record_size);
        exit_status(outcome)
        // `fifo` is dropped here: the FIFO is removed if this process created it.
        // ANCHOR_END: main
    })
}

// ANCHOR: receive
fn receive(fifo: &Fifo, stop: &Stop, record_size: usize) -> Result<(), Stopped> {
    let path = fifo.path().display();
    let from_writers = fifo.open_for_reading()?;
    println!("reader: opened {path}; waiting for a writer");
    let mut records = RecordReader::new(record_size);
    loop {
        // Until a first writer opens the FIFO, poll() reports nothing, neither data nor end of
        // file; afterwards it reports data, and end of file once every writer has closed it.
        stop.wait(&[(from_writers.as_fd(), PollFlags::POLLIN)], None)?;
        match records.read_from(from_writers.as_fd())? {
            Received::Records(texts) => {
                for text in texts {
                    println!("recv:{}", String::from_utf8_lossy(&text));
                }
            }
            Received::EndOfFile(0) => {
                println!("reader: every writer has closed {path} (end of file); exiting");
                return Ok(());
            }
            Received::EndOfFile(leftover) => {
                report_error(format!(
                    "end of file inside a record: dropped its {leftover} bytes (does the \
                     writer use another --record-size?)"
                ));
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: receive
