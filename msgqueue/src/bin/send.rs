//! # send: put typed messages into a System V message queue
//!
//! Ports section 3 of the course notes (`004_0b92104986517c26.txt`; System V message queues): a
//! message is a type (1 or more) and a text, appended with `msgsnd` to the queue that `msgget`
//! finds by the key `ftok("./file", 'a')`. `send 3 hello` sends one message of type 3. Without a
//! text, each line of stdin becomes one message of the type (1 by default), sent as soon as it
//! arrives: at a terminal, each line you type goes when you press Enter, until Ctrl-D. The text
//! goes with a final NUL byte, as a C program sends a string. A line that is not UTF-8 is sent as
//! its bytes.
//!
//! Who owns the queue: `recv` creates it and removes it when it stops, so start `recv` first.
//! send refuses a missing queue unless `--create`; a queue that send creates stays in the kernel
//! after send exits if it holds messages (that is the point: they wait for a receiver), and
//! send says how to remove it. An empty one (nothing could be sent) is removed.
//!
//! `--id N` or `--id-file PATH` (written by `recv --id-file PATH`) use a queue by its id
//! instead of a key: the only way to reach a queue that has none (`private_recv`).
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), whose
//! handler makes a waiting `read` or `msgsnd` fail with EINTR; see "Programs that stop cleanly".
//!
//! Run: `cargo run -p msgqueue --bin send -- 1 hello` while `recv` runs in another terminal.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use libc::IPC_NOWAIT;
use msgqueue::{
    Error, KeyArgs, MTYPE_MAX, MessageQueue, NamedKey, create_or_open, msgget, read_id_file,
    with_nul,
};
use nix::errno::Errno;
use support::LineReader;
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish_after};

/// Sends messages of one type into a System V message queue.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    queue: KeyArgs,
    /// The message type, 1 to 9223372036854775807 (C's LONG_MAX); 0 and below go to msgsnd
    /// anyway, to show that the kernel rejects them.
    #[arg(
        value_name = "TYPE",
        allow_negative_numbers = true,
        default_value_t = 1,
        value_parser = clap::value_parser!(i64).range(..=MTYPE_MAX)
    )]
    mtype: i64,
    /// The text to send, as one message. Without it, each line of stdin is one message.
    #[arg(value_name = "TEXT")]
    text: Vec<String>,
    /// Create the queue if it does not exist (and leave it in the kernel afterwards).
    #[arg(long)]
    create: bool,
    /// Fail at once if the queue is full (IPC_NOWAIT) instead of waiting for room.
    #[arg(long)]
    nowait: bool,
    /// Use the queue with this id (as msg_ls shows it; 0 to 2147483647) instead of a key: an
    /// id is valid in every process, and the only way to a queue without a key (IPC_PRIVATE).
    #[arg(long, value_name = "N", conflicts_with_all = ["key_path", "proj", "key", "create"],
          value_parser = clap::value_parser!(i32).range(0..))]
    id: Option<i32>,
    /// Use the queue whose id is in this file (as `recv --id-file PATH` writes it).
    #[arg(long, value_name = "PATH",
          conflicts_with_all = ["key_path", "proj", "key", "create", "id"])]
    id_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // ANCHOR: open
        let queue = match (args.id, &args.id_file) {
            // An id needs no msgget: it names the queue in every process.
            (Some(id), _) => MessageQueue::from_id(id),
            (None, Some(path)) => MessageQueue::from_id(read_id_file(path)?),
            (None, None) => open_by_key(&args)?, // ftok, then msgget
        };
        // ANCHOR_END: open
        say_opened(&queue, &args)?;
        let mut sent = 0;
        let outcome = send_all(&queue, &args, &mut sent, &stop);
        if queue.created() {
            leave_if_not_empty(queue);
        }
        finish_after(outcome, format!("sending {}", plural(sent, "message")))
    })
}

// ANCHOR: say_opened
/// The owner check (another user's queue is refused unless --accept-foreign), and what was
/// opened.
fn say_opened(queue: &MessageQueue, args: &Args) -> Result<(), Failure> {
    let warning = queue.check_owner(args.queue.accept_foreign)?;
    if queue.created() {
        println!("send: created {queue} (a NEW queue: only a receiver with this key reads it)");
    } else {
        println!("send: opened {queue}");
    }
    if let Some(warning) = warning {
        println!("send: {warning}");
    }
    Ok(())
}
// ANCHOR_END: say_opened

// ANCHOR: open_by_key
fn open_by_key(args: &Args) -> Result<MessageQueue, Failure> {
    // Only a sender that may create the queue makes the key file ftok needs.
    if args.create
        && let Some(path) = args.queue.make_default_key_file()?
    {
        println!(
            "send: created the key file {}: ftok needs an existing file",
            path.display()
        );
    }
    let key = args.queue.ftok_or_key()?; // ftok(--key-path, --proj), or --key
    let opened = match args.create {
        true => create_or_open(0o600, |flags| msgget(key.clone(), flags)), // or the one there
        false => msgget(key.clone(), 0),
    };
    match opened {
        Err(err) if err.errno() == Some(Errno::ENOENT) => Err(no_queue(&err, &key)),
        tried => Ok(tried?),
    }
}
// ANCHOR_END: open_by_key

/// No queue has the key: say which key was looked for, and what each way out does. A recv
/// started in another directory computed its key from another ./file: the paths tell.
fn no_queue(err: &Error, key: &NamedKey) -> Failure {
    let same_key = match key.path() {
        Some(path) => format!(
            "with the same key file (`--key-path {}`; a recv started in another directory \
             uses that directory's ./file, and so another key)",
            path.display()
        ),
        None => "with the same --key".to_owned(),
    };
    Failure::new(format!(
        "{err}; start `recv` first {same_key}, or pass --create to make a NEW queue with this \
         key, which only a receiver with this key will read"
    ))
}

// ANCHOR: send
fn send_all(
    queue: &MessageQueue,
    args: &Args,
    sent: &mut u64,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let mut lines = Lines::new(args);
    loop {
        let Some(line) = lines.next(stop)? else {
            return Ok(ExitCode::SUCCESS);
        };
        let bytes = with_nul(&line);
        // IPC_NOWAIT first, so that send can say that it waits before msgsnd blocks.
        let done = match queue.msgsnd(args.mtype, &bytes, IPC_NOWAIT) {
            Err(full) if full.errno() == Some(Errno::EAGAIN) && !args.nowait => {
                println!("send: queue full; waiting for room");
                stop.retry(|| queue.msgsnd(args.mtype, &bytes, 0))
            }
            tried => tried.map_err(Stopped::Failed),
        };
        match done {
            Ok(()) => println!(
                "send: sent type={} {}",
                args.mtype,
                String::from_utf8_lossy(&line)
            ),
            Err(Stopped::Signal(signal)) => return Err(Stopped::Signal(signal)),
            Err(Stopped::Failed(err)) => return Err(not_sent(&err, *sent).into()),
        }
        *sent += 1;
    }
}
// ANCHOR_END: send

/// The error, and how far send got: `msgsnd: EAGAIN: ...; message 3 was not sent; the 2 before
/// it were`.
fn not_sent(err: &Error, sent: u64) -> Failure {
    let number = sent + 1;
    let before = match sent {
        0 => String::new(),
        n => format!("; the {n} before it were"),
    };
    Failure::new(format!("{err}; message {number} was not sent{before}"))
}

/// Where the messages come from: the text on the command line, or stdin's lines, each returned
/// as soon as it arrives (bytes, not necessarily UTF-8).
enum Lines {
    One(Option<Vec<u8>>),
    Stdin(LineReader),
}

impl Lines {
    fn new(args: &Args) -> Self {
        if !args.text.is_empty() {
            return Lines::One(Some(args.text.join(" ").into_bytes()));
        }
        if std::io::stdin().is_terminal() {
            println!(
                "send: type one message per line (type {}); Enter sends it, Ctrl-D ends, \
                 Ctrl-C stops",
                args.mtype
            );
        } else {
            println!("send: sending each line of stdin as it arrives, until end of input");
        }
        Lines::Stdin(LineReader::new())
    }

    /// The next message's bytes; `None` when there are no more. A stop signal ends the wait.
    fn next(&mut self, stop: &Stop) -> Result<Option<Vec<u8>>, Stopped> {
        stop.check()?;
        match self {
            Lines::One(text) => Ok(text.take()),
            Lines::Stdin(reader) => reader.next_line(std::io::stdin().as_fd(), stop),
        }
    }
}

/// A queue that send created (`--create`) stays in the kernel if it holds messages: they wait
/// for a receiver. An empty one (nothing could be sent) is removed, so a failed send leaves
/// nothing behind.
fn leave_if_not_empty(queue: MessageQueue) {
    if queue.msgctl_stat().is_ok_and(|stat| stat.messages > 0) {
        println!(
            "send: the queue stays in the kernel after I exit, with its messages, until a \
             receiver takes them; `msg_rm --id {}` removes it",
            queue.id()
        );
        queue.leave_in_kernel();
    }
}
