//! # recv: take messages from a System V message queue, chosen by type
//!
//! Ports section 3 of the course notes (`004_0b92104986517c26.txt`; System V message queues): the
//! key comes from `ftok("./file", 'a')`, the queue from `msgget`, the messages from `msgrcv`. recv
//! prints `type=<n> <text>` for each message and blocks for the next, until Ctrl-C. `--type N`
//! takes only type N; `--below N` takes the lowest type first among 1..=N (a negative `msgtyp`).
//!
//! Who owns the queue: recv opens it, or creates it (mode 0600) if it does not exist yet. If it
//! created the queue, it removes it (`msgctl(IPC_RMID)`) when it stops, so a demo leaves nothing
//! behind. A failure (a message too big for the buffer, say) never discards messages: then recv
//! leaves a non-empty queue in place and says how to remove it.
//!
//! Sharing an id instead of a key, the other way the notes describe, is `private_recv`.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), whose
//! handler makes `msgrcv` fail with EINTR; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p msgqueue --bin recv`, then `cargo run -p msgqueue --bin send -- 1 hello`
//! in another terminal.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use libc::{IPC_NOWAIT, MSG_NOERROR};
use msgqueue::{KeyArgs, Limits, MTYPE_MAX, MessageQueue, Select, create_or_open, msgget};
use nix::errno::Errno;
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish_after};

/// Receives messages from a System V message queue and prints them, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    queue: KeyArgs,
    /// Take only messages of type N (1 to 9223372036854775807, C's LONG_MAX).
    #[arg(long = "type", value_name = "N", conflicts_with = "below",
          value_parser = clap::value_parser!(i64).range(1..=MTYPE_MAX))]
    mtype: Option<i64>,
    /// Take the lowest type first among types 1 to N (msgrcv with msgtyp = -N; N at most
    /// 9223372036854775807, C's LONG_MAX).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=MTYPE_MAX))]
    below: Option<i64>,
    /// Stop after N messages, 1 to 1000000 (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    count: Option<u64>,
    /// The longest message body to accept, in bytes, at most 2147483647 (default: msgmax from
    /// /proc). The kernel caps msgmax at 2^31 - 1, so no larger buffer is ever needed.
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    max_size: Option<u32>,
    /// Cut longer messages to --max-size (MSG_NOERROR) instead of refusing them (E2BIG).
    #[arg(long)]
    truncate: bool,
    /// Do not wait: take what is queued now, then stop (IPC_NOWAIT).
    #[arg(long)]
    nowait: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let queue = open(&args)?;
        let mut received = 0;
        let outcome = receive_all(&queue, &args, &mut received, &stop);
        remove_unless_left_with_data(queue, matches!(outcome, Err(Stopped::Failed(_))))?;
        finish_after(outcome, plural(received, "message"))
    })
}

// ANCHOR: open
fn open(args: &Args) -> Result<MessageQueue, Failure> {
    if let Some(path) = args.queue.make_default_key_file()? {
        println!(
            "recv: created the key file {}: ftok needs an existing file",
            path.display()
        );
    }
    let key = args.queue.ftok_or_key()?; // ftok(--key-path, --proj), or --key
    // msgget with IPC_EXCL, then a plain one (the notes' IPC_CREAT alone hides who created it).
    let queue = create_or_open(0o600, |flags| msgget(key.clone(), flags))?;
    if queue.created() {
        println!("recv: created {queue} and mode 0600; I remove it when I stop");
    } else {
        // The owner check: another user's queue is refused unless --accept-foreign.
        let warning = queue.check_owner(args.queue.accept_foreign)?;
        println!("recv: opened {queue}, which another process created; I leave it there");
        if let Some(warning) = warning {
            println!("recv: {warning}");
        }
    }
    Ok(queue)
}
// ANCHOR_END: open

// ANCHOR: loop
fn receive_all(
    queue: &MessageQueue,
    args: &Args,
    received: &mut u64,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let select = match (args.mtype, args.below) {
        (Some(n), _) => Select::Exact(n),
        (None, Some(n)) => Select::AtMost(n),
        (None, None) => Select::Any,
    };
    let max_size = args.max_size.map_or_else(Limits::msgmax, |n| n as usize);
    let nowait = if args.nowait { IPC_NOWAIT } else { 0 };
    let truncate = if args.truncate { MSG_NOERROR } else { 0 };
    println!("recv: waiting for messages ({select}); Ctrl-C to stop");
    while args.count.is_none_or(|count| *received < count) {
        match stop.retry(|| queue.msgrcv(select, max_size, nowait | truncate)) {
            Ok(message) => {
                println!("type={} {}", message.mtype, message.text());
                *received += 1;
            }
            Err(Stopped::Signal(signal)) => return Err(Stopped::Signal(signal)),
            Err(Stopped::Failed(err))
                if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) =>
            {
                println!(
                    "recv: the queue was removed while I waited ({err}); nothing left to wait for"
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(Stopped::Failed(err)) if err.errno() == Some(Errno::ENOMSG) => {
                println!("recv: no more messages waiting ({select})");
                break;
            }
            Err(Stopped::Failed(err)) => return Err(err.into()),
        }
    }
    println!("recv: done after {}", plural(*received, "message"));
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: loop

/// The creator removes its queue, except after a failure while messages are still queued: those
/// are someone's data, so the queue stays and recv says how to remove it.
// ANCHOR: finish
fn remove_unless_left_with_data(queue: MessageQueue, failed: bool) -> Result<(), Failure> {
    if !queue.created() {
        return Ok(());
    }
    let left = queue.msgctl_stat().map(|stat| stat.messages).unwrap_or(0);
    if failed && left > 0 {
        println!(
            "recv: leaving {queue} in the kernel with {left} messages; `msg_rm --id {}` removes it",
            queue.id()
        );
        queue.leave_in_kernel();
        return Ok(());
    }
    let id = queue.id();
    match queue.msgctl_rmid() {
        Ok(()) => {
            println!("recv: removed the queue I created (id={id}, {left} messages discarded)")
        }
        // Someone removed it first: nothing left to do.
        Err(err) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {}
        Err(err) => return Err(err.into()),
    }
    Ok(())
}
// ANCHOR_END: finish
