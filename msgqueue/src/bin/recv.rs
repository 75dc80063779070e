//! # recv: take messages from a System V message queue, chosen by type
//!
//! Ports seed `004_0b92104986517c26.txt`, section 3 (System V message queues): the key comes
//! from `ftok("./file", 'a')`, the queue from `msgget`, the messages from `msgrcv`. recv prints
//! `type=<n> <text>` for each message and blocks for the next, until Ctrl-C. `--type N` takes
//! only type N; `--below N` takes the lowest type first among 1..=N (a negative `msgtyp`).
//!
//! Who owns the queue: recv opens it, or creates it (mode 0600) if it does not exist yet. If it
//! created the queue, it removes it when it stops, so a demo leaves nothing behind. A failure
//! (a message too big for the buffer, say) never discards messages: then recv leaves a
//! non-empty queue in place and says how to remove it.
//!
//! Run: `cargo run -p msgqueue --bin recv`, then `cargo run -p msgqueue --bin send -- 1 hello`
//! in another terminal.

use std::process::ExitCode;

use clap::Parser;
use msgqueue::{Creation, Limits, MessageQueue, QueueArgs, Select, Shutdown, Wait};
use nix::errno::Errno;
use support::cli::{Context, Failure, parse_args, run};

/// Receives messages from a System V message queue and prints them, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    queue: QueueArgs,
    /// Take only messages of type N.
    #[arg(long = "type", value_name = "N", conflicts_with = "below",
          value_parser = clap::value_parser!(i64).range(1..))]
    mtype: Option<i64>,
    /// Take the lowest type first among types 1 to N (msgrcv with msgtyp = -N).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    below: Option<i64>,
    /// Stop after N messages (default: run until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// The longest message body to accept, in bytes (default: msgmax from /proc). The kernel
    /// caps msgmax at 2^31 - 1, so no larger buffer is ever needed.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
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
        let shutdown = Shutdown::install()?;
        let queue = args
            .queue
            .open(Creation::OpenOrCreate)
            .context("open the queue")?;
        if queue.created() {
            println!("recv: created {queue} with mode 0600; I remove it when I stop");
        } else {
            println!("recv: opened {queue}, which another process created; I leave it there");
        }
        let outcome = receive_all(&queue, &args, &shutdown);
        finish(queue, outcome.is_err())?;
        outcome
    })
}

// ANCHOR: loop
fn receive_all(
    queue: &MessageQueue,
    args: &Args,
    shutdown: &Shutdown,
) -> Result<ExitCode, Failure> {
    let select = match (args.mtype, args.below) {
        (Some(n), _) => Select::Exact(n),
        (None, Some(n)) => Select::AtMost(n),
        (None, None) => Select::Any,
    };
    let max_size = args
        .max_size
        .map_or_else(Limits::msgmax, |bytes| bytes as usize);
    let wait = if args.nowait {
        Wait::NoWait
    } else {
        Wait::Block
    };
    println!("recv: waiting for messages ({select}); Ctrl-C to stop");
    let mut received = 0;
    while args.count.is_none_or(|count| received < count) {
        match shutdown.retry(|| queue.receive(select, max_size, wait, args.truncate)) {
            Ok(Some(message)) => {
                println!("type={} {}", message.mtype, message.text());
                received += 1;
            }
            Ok(None) => {
                println!(
                    "recv: stopped by signal {} after {received} messages",
                    shutdown.requested().unwrap_or(0)
                );
                return Ok(shutdown.exit_code());
            }
            Err(err) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {
                println!(
                    "recv: the queue was removed while I waited ({err}); nothing left to wait for"
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(err) if err.errno() == Some(Errno::ENOMSG) => {
                println!("recv: no more messages waiting ({select})");
                break;
            }
            Err(err) => return Err(err).context("receive"),
        }
    }
    println!("recv: done after {received} messages");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: loop

// ANCHOR: finish
/// The creator removes its queue, except after a failure while messages are still queued: those
/// are someone's data, so the queue stays and recv says how to remove it.
fn finish(queue: MessageQueue, failed: bool) -> Result<(), Failure> {
    if !queue.created() {
        return Ok(());
    }
    let left = queue.stat().map(|stat| stat.messages).unwrap_or(0);
    if failed && left > 0 {
        println!(
            "recv: leaving {queue} in the kernel with {left} messages; `msg_rm --id {}` removes it",
            queue.id()
        );
        queue.leave_in_kernel();
        return Ok(());
    }
    let id = queue.id();
    match queue.remove() {
        Ok(()) => {
            println!("recv: removed the queue I created (id={id}, {left} messages discarded)")
        }
        // Someone removed it first: nothing left to do.
        Err(err) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {}
        Err(err) => return Err(err).context("remove the queue"),
    }
    Ok(())
}
// ANCHOR_END: finish
