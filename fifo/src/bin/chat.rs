//! # chat: a two-way conversation over two named pipes
//!
//! Ports seed `004_0b92104986517c26.txt`, section 2.4.3 (two-way communication with FIFOs).
//! A FIFO carries bytes one way, and a process that both writes and reads one FIFO can read
//! back its own words. So side `a` writes into `chat_a_to_b` and reads `chat_b_to_a`, and side
//! `b` the other way round. Each line typed on one side appears on the other, as `b: hello`.
//!
//! Each side opens its incoming FIFO first, for reading (that never waits), then waits for the
//! other side to do the same before it can open its outgoing FIFO for writing. Either side
//! leaves on Ctrl-D or Ctrl-C; the other then sees end of file and leaves too. Each side
//! removes the FIFOs it created. Signals are handled with the `signal-hook` crate.
//!
//! Run: `cargo run -p fifo --bin chat -- --side a` and, in another terminal,
//! `cargo run -p fifo --bin chat -- --side b`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use fifo::{
    Fifo, Input, LineReader, RECHECK_INTERVAL, Received, RecordReader, SEED_RECORD_SIZE, Stop,
    Stopped, encode_line, exit_status, parse_record_size, send_record,
};
use nix::poll::PollFlags;
use support::cli::{parse_args, report_error, run};

/// One side of a two-way chat over two FIFOs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Which side this is; start the other one in another terminal.
    #[arg(long, value_enum, default_value = "a")]
    side: Side,
    /// The directory that holds the two FIFOs.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Bytes per record, at most PIPE_BUF; both sides must use the same.
    #[arg(long, default_value_t = SEED_RECORD_SIZE, value_parser = parse_record_size)]
    record_size: usize,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Side {
    A,
    B,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    let (me, other) = match args.side {
        Side::A => ("a", "b"),
        Side::B => ("b", "a"),
    };
    run(|| {
        // ANCHOR: main
        let stop = Stop::with_signal_hook()?;
        let outgoing = Fifo::create_or_use(&args.dir.join(format!("chat_{me}_to_{other}")))?;
        let incoming = Fifo::create_or_use(&args.dir.join(format!("chat_{other}_to_{me}")))?;
        println!("chat {me}: {}", outgoing.origin());
        println!("chat {me}: {}", incoming.origin());
        println!(
            "chat {me}: one FIFO per direction: on a single FIFO, whoever reads first takes the \
             bytes, so each side could read back its own lines"
        );
        let outcome = connect(me, other, &outgoing, &incoming, &stop).and_then(|(to, from)| {
            talk(other, &to, &from, &stop, args.record_size).inspect(|()| {
                println!("chat {me}: leaving; each side removes the FIFOs it created");
            })
        });
        exit_status(outcome)
        // ANCHOR_END: main
    })
}

// ANCHOR: connect
fn connect(
    me: &str,
    other: &str,
    outgoing: &Fifo,
    incoming: &Fifo,
    stop: &Stop,
) -> Result<(OwnedFd, OwnedFd), Stopped> {
    // Reading end first: opening for reading never waits, and it is what the other side's
    // open for writing waits for. Were both opens blocking and each side opened its outgoing
    // FIFO first, each would wait for the other forever.
    let from_other = incoming.open_for_reading()?;
    let mut told = false;
    loop {
        if let Some(to_other) = outgoing.try_open_for_writing()? {
            println!("chat {me}: connected to side {other}; type lines (Ctrl-D or Ctrl-C leaves)");
            return Ok((to_other, from_other));
        }
        if !told {
            println!("chat {me}: waiting for side {other}: run `chat --side {other}` elsewhere");
            told = true;
        }
        stop.wait(&[], Some(RECHECK_INTERVAL))?;
    }
}
// ANCHOR_END: connect

// ANCHOR: talk
fn talk(
    other: &str,
    to_other: &OwnedFd,
    from_other: &OwnedFd,
    stop: &Stop,
    record_size: usize,
) -> Result<(), Stopped> {
    let stdin = std::io::stdin();
    let mut typed = LineReader::new();
    let mut received = RecordReader::new(record_size);
    loop {
        let watched = [
            (stdin.as_fd(), PollFlags::POLLIN),
            (from_other.as_fd(), PollFlags::POLLIN),
        ];
        let ready = stop.wait(&watched, None)?;
        if ready[1] {
            match received.read_from(from_other.as_fd())? {
                Received::Records(texts) => {
                    for text in texts {
                        println!("{other}: {}", String::from_utf8_lossy(&text));
                    }
                }
                Received::EndOfFile(_) => {
                    println!("side {other} left the chat (end of file)");
                    return Ok(());
                }
            }
        }
        if ready[0] {
            let (lines, at_end) = match typed.read_from(stdin.as_fd())? {
                Input::Lines(lines) => (lines, false),
                Input::EndOfFile(last) => (last.into_iter().collect(), true),
            };
            for line in lines {
                match encode_line(&line, record_size) {
                    Ok(records) => {
                        for record in &records {
                            send_record(to_other.as_fd(), record, stop)?;
                        }
                    }
                    Err(refused) => report_error(refused),
                }
            }
            if at_end {
                println!("end of input");
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: talk
