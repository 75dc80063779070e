//! # pshm_reader: print the lines pshm_writer sends through POSIX shared memory, until "end"
//!
//! The reading half of the course notes' "lines until end" pair (shmread), redone with
//! `shm_open` and two unnamed semaphores in the segment: it waits in `sem_wait(full)`, copies
//! the piece out, and `sem_post(empty)` gives the buffer back to the writer. Pieces of one long
//! line are joined, so every line arrives whole, in order, once.
//!
//! Either side may start first (see pshm_writer, and `posix::pshm::create_or_open`); the one that
//! created the object removes its name on every way out, and a survivor removes the name that a
//! killed creator left. One reader per channel: a second is refused in one line. A writer that
//! dies (or stops) before "end" is noticed within 100 ms: the reader exits 1 naming it, never
//! 0. INT, TERM and HUP stop it within a second, even inside `sem_wait`.
//!
//! Run: `cargo run -p posix --bin pshm_reader`, then `pshm_writer` in a second terminal.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

use clap::Parser;
use posix::pshm::{Claim, Opened, Peer, create_or_open, load_bytes, parse_name};
use support::cli::{Context, Failure, cargo_run_command, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish};

/// Prints each line pshm_writer sends through POSIX shared memory, until "end".
#[derive(Parser)]
#[command(
    version,
    after_help = "Start pshm_writer with the same --name, before or after. One reader per \
                  channel: a second is refused."
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
        finish(read_lines(&args.name, &stop))
    })
}

fn read_lines(name: &str, stop: &Stop) -> Result<ExitCode, Stopped> {
    let opened = create_or_open(name, stop)?;
    let channel = opened.channel();
    let _claim = Claim::take(&channel.reader, "reader")?;
    say_opened(name, &opened);
    let mut writer = Peer::new(&channel.writer, "writer");
    let mut count = 0u64;
    // ANCHOR: read
    let mut line = Vec::new();
    loop {
        channel
            .full
            .sem_wait_watching(stop, || watch(&mut writer, count))?; // sem_wait(full)
        // The piece is there, and the writer's stores before its sem_post are visible.
        let length = channel.length.load(Relaxed) as usize;
        line.extend(load_bytes(&channel.text, length));
        let more = channel.more.load(Relaxed) == 1;
        channel.empty.sem_post()?; // sem_post(empty): the writer may fill the buffer again
        if more {
            continue; // a long line: the next piece follows
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&[b"You wrote: ", &line[..], b"\n"].concat())
            .and_then(|()| out.flush())
            .context("write stdout")?;
        count += 1;
        if line == b"end" {
            break;
        }
        line.clear();
    }
    // ANCHOR_END: read
    let lines = plural(count, "line");
    match opened.created() {
        true => println!("pshm_reader: \"end\" after {lines}; shm_unlink {name}"),
        false => println!("pshm_reader: \"end\" after {lines}; its creator removes {name}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Says when a writer first shows up, and fails, naming it, once it has gone.
fn watch(writer: &mut Peer, count: u64) -> Result<(), Failure> {
    let before = writer.pid();
    let there = writer.still_there();
    if let (None, Some(pid)) = (before, writer.pid()) {
        println!("pshm_reader: the writer is pid {pid}");
    }
    there.map_err(|why| {
        let lines = plural(count, "line");
        Failure::new(format!("{why} after {lines}, without sending \"end\""))
    })
}

fn say_opened(name: &str, opened: &Opened) {
    if opened.created() {
        println!(
            "pshm_reader: created {name} (shm_open O_CREAT|O_EXCL, mode 0600, {} bytes), \
             sem_init empty=1 full=0",
            opened.map.len()
        );
    } else {
        println!("pshm_reader: opened {name}, made by pid {}", opened.creator);
    }
    let peer = cargo_run_command("posix", "pshm_writer", &[("--name", name.to_owned())]);
    println!("pshm_reader: waiting in sem_wait(full); start the writer: {peer}");
}
