//! # pshm_writer: send lines through POSIX shared memory, two unnamed semaphores taking turns
//!
//! The course notes' "lines until end" pair (shmwrite/shmread), redone with `shm_open` and two
//! unnamed semaphores inside the segment (see `posix::pshm::Channel`): the writer waits in
//! `sem_wait(empty)`, fills the buffer, `sem_post(full)`; the reader does the opposite. Nobody
//! polls a flag, nobody spins: a waiting side sleeps in the kernel until the other posts.
//!
//! Either side may start first: whoever creates the object (`O_CREAT | O_EXCL`) sizes it, runs
//! `sem_init` on both semaphores and publishes a magic word; the other waits for it (at most 2 s)
//! and refuses an object of another size, owner or magic, which it leaves alone. The creator
//! removes the name (`shm_unlink`) on every way out.
//!
//! Each stdin line is sent whole: a line longer than the buffer (2048 bytes) goes in pieces
//! that the reader joins. "end", or the end of input, which sends "end", stops both; the writer
//! then waits until the reader has taken it. One writer per channel (a pid claimed with
//! compare-and-swap); a reader that dies is noticed within 100 ms, and the writer exits 1
//! naming it. INT, TERM and HUP stop it within a second, even inside `sem_wait` (which a signal
//! always interrupts: it is never restarted).
//!
//! Run: `cargo run -p posix --bin pshm_reader` in one terminal and
//! `cargo run -p posix --bin pshm_writer` in another, in either order; type lines.

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

use clap::Parser;
use posix::pshm::{
    Channel, Claim, Opened, Peer, TEXT_MAX, create_or_open, parse_name, store_bytes,
};
use support::LineReader;
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish};

/// Sends each line of stdin to pshm_reader through POSIX shared memory; "end" stops both.
#[derive(Parser)]
#[command(
    version,
    after_help = "Start pshm_reader with the same --name, before or after. Type lines; \"end\" \
                  or Ctrl-D stops both. One writer per channel: a second is refused."
)]
struct Args {
    /// The shared memory object: one leading '/', no other (it is /dev/shm/NAME).
    #[arg(long, default_value = "/ipc-labs-lines", value_parser = parse_name)]
    name: String,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(write_lines(&args.name, &stop))
    })
}

fn write_lines(name: &str, stop: &Stop) -> Result<ExitCode, Stopped> {
    let opened = create_or_open(name, stop)?;
    let channel = opened.channel();
    let _claim = Claim::take(&channel.writer, "writer")?;
    say_opened(name, &opened);
    println!("pshm_writer: type lines; \"end\" (or Ctrl-D) stops both");
    let mut reader = Peer::new(&channel.reader, "reader");
    let mut input = LineReader::new();
    let mut sent = 0u64;
    loop {
        // While nobody types, a reader that dies is noticed within 200 ms.
        let watch = || Ok(reader.still_there()?);
        let line = input.next_line_watching(std::io::stdin().as_fd(), stop, watch)?;
        let Some(line) = line else {
            println!("pshm_writer: end of input: sending \"end\"");
            send(channel, b"end", &mut reader, stop, sent)?;
            sent += 1;
            break;
        };
        send(channel, &line, &mut reader, stop, sent)?;
        sent += 1;
        if line == b"end" {
            break;
        }
    }
    // The reader posts `empty` once it has taken "end": then, and only then, it has it all.
    channel
        .empty
        .sem_wait_watching(stop, || gone(&mut reader, sent))?;
    println!(
        "pshm_writer: the reader took \"end\" after {}",
        plural(sent, "line")
    );
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: send
/// Sends one line, in pieces of at most TEXT_MAX bytes: each waits for the buffer to be free.
fn send(
    channel: &Channel,
    line: &[u8],
    reader: &mut Peer,
    stop: &Stop,
    sent: u64,
) -> Result<(), Stopped> {
    let mut pieces = line.chunks(TEXT_MAX).peekable();
    let mut piece = pieces.next().unwrap_or_default(); // an empty line is one empty piece
    loop {
        channel
            .empty
            .sem_wait_watching(stop, || gone(reader, sent))?; // sem_wait(empty)
        store_bytes(&channel.text, piece);
        channel.length.store(piece.len() as u32, Relaxed);
        channel
            .more
            .store(u32::from(pieces.peek().is_some()), Relaxed);
        channel.full.sem_post()?; // sem_post(full): publishes the stores above
        match pieces.next() {
            Some(next) => piece = next,
            None => return Ok(()),
        }
    }
}
// ANCHOR_END: send

/// The reader's check, with how far the writer got.
fn gone(reader: &mut Peer, sent: u64) -> Result<(), Failure> {
    reader.still_there().map_err(|why| {
        let lines = plural(sent, "line");
        Failure::new(format!(
            "{why} after {lines}; what it had not taken is lost"
        ))
    })
}

fn say_opened(name: &str, opened: &Opened) {
    match opened.created() {
        true => println!(
            "pshm_writer: created {name} (shm_open O_CREAT|O_EXCL, mode 0600, {} bytes), \
             sem_init empty=1 full=0",
            opened.map.len()
        ),
        false => println!("pshm_writer: opened {name}, made by pid {}", opened.creator),
    }
}
