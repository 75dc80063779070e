//! # private_recv: a queue with no key, reached by its id
//!
//! The other way that the course notes (`004_0b92104986517c26.txt`, section 3) give to share a
//! queue: the creator writes the queue's id into a file, and the others use the id and never call
//! `msgget`. This port goes one step further: the queue has no key at all. `msgget(IPC_PRIVATE,
//! ...)` makes a new queue every time, which no process can find by key; so private_recv tells its
//! id, on stdout and in a new file (`--id-file`, by default `./queue.id`) that `send --id-file
//! PATH` reads. An id is valid in every process: whoever learns it, and has the permission, can use
//! the queue.
//!
//! It prints `type=<n> <text>` for each message until Ctrl-C (or `--count N`); then it removes
//! the file first (nobody should read the id of a queue about to go), and the queue after.
//! recv does the same with a key; this program is only about the id.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), whose
//! handler makes `msgrcv` fail with EINTR; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p msgqueue --bin private_recv`, then
//! `cargo run -p msgqueue --bin send -- --id-file queue.id 1 hello` in another terminal, in the
//! same directory.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use libc::IPC_CREAT;
use msgqueue::{IdFile, Key, Limits, MessageQueue, Select, msgget};
use support::cli::{parse_args, plural, run};
use support::stop::{Stop, Stopped, finish_after};

/// Creates a queue with no key (IPC_PRIVATE), writes its id into a file for send, and prints
/// each message, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The new file to write the queue's id into, for `send --id-file PATH`; it must not
    /// exist. Removed when private_recv stops.
    #[arg(long, value_name = "PATH", default_value = "./queue.id")]
    id_file: PathBuf,
    /// Stop after N messages, 1 to 1000000 (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    count: Option<u64>,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // ANCHOR: private
        let queue = msgget(Key::PRIVATE, IPC_CREAT | 0o600)?; // a NEW queue, with no key
        let id = queue.id();
        println!("private_recv: created {queue}, mode 0600; `send --id {id}` reaches it");
        let id_file = IdFile::create(&args.id_file, id)?; // link(2)s a new file: never replaces
        let path = id_file.path().display();
        println!("private_recv: wrote the id {id} into {path}: `send --id-file {path} 1 hello`");
        // ANCHOR_END: private
        let mut received = 0;
        let outcome = receive(&queue, args.count, &mut received, &stop);
        drop(id_file); // the file goes first: nobody reads the id of a queue about to go
        finish_after(outcome, plural(received, "message")) // then `queue`: its creator removes it
    })
}

fn receive(
    queue: &MessageQueue,
    count: Option<u64>,
    received: &mut u64,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    println!("private_recv: waiting for messages; Ctrl-C to stop");
    while count.is_none_or(|count| *received < count) {
        let message = stop.retry(|| queue.msgrcv(Select::Any, Limits::msgmax(), 0))?;
        println!("type={} {}", message.mtype, message.text());
        *received += 1;
    }
    println!("private_recv: done after {}", plural(*received, "message"));
    Ok(ExitCode::SUCCESS)
}
