//! # send: put typed messages into a System V message queue
//!
//! Ports seed `004_0b92104986517c26.txt`, section 3 (System V message queues): a message is a
//! type (1 or more) and a text, appended to the queue found by `ftok("./file", 'a')`.
//! `send 3 hello` sends one message of type 3. Without a text, each line of stdin becomes one
//! message of the type (1 by default); when stdin is a terminal and no text is given, send
//! sends one greeting, so that it runs with no arguments. The text goes with a final NUL byte,
//! as a C program sends a string.
//!
//! Who owns the queue: `recv` creates it and removes it when it stops, so start `recv` first.
//! send refuses a missing queue unless `--create`; a queue that send creates stays in the kernel
//! after send exits if it holds messages (that is the point: they wait for a receiver), and
//! send says how to remove it. An empty one (nothing could be sent) is removed.
//!
//! Run: `cargo run -p msgqueue --bin send -- 1 hello` while `recv` runs in another terminal.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use msgqueue::{Creation, MessageQueue, QueueArgs, Shutdown, Wait};
use nix::errno::Errno;
use support::cli::{Context, Failure, parse_args, run};

/// Sends messages of one type into a System V message queue.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    queue: QueueArgs,
    /// The message type, 1 or more (0 and below are rejected by the kernel).
    #[arg(
        value_name = "TYPE",
        allow_negative_numbers = true,
        default_value_t = 1
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
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let shutdown = Shutdown::install()?;
        let queue = open(&args)?;
        let outcome = send_all(&queue, &args, &shutdown);
        if queue.created() {
            leave_if_not_empty(queue);
        }
        outcome
    })
}

fn send_all(queue: &MessageQueue, args: &Args, shutdown: &Shutdown) -> Result<ExitCode, Failure> {
    let texts = texts_to_send(args)?;
    let wait = if args.nowait {
        Wait::NoWait
    } else {
        Wait::Block
    };
    // ANCHOR: send
    for (number, text) in texts.iter().enumerate() {
        let sent = shutdown.retry(|| queue.send_text(args.mtype, text, wait));
        match sent.context(format!("message {}", number + 1))? {
            Some(()) => println!("send: sent type={} {text}", args.mtype),
            None => {
                println!("send: stopped by a signal after {number} messages");
                return Ok(shutdown.exit_code());
            }
        }
    }
    // ANCHOR_END: send
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: leave
/// A queue that send created (`--create`) stays in the kernel if it holds messages: they wait
/// for a receiver. An empty one (nothing could be sent) is removed, so a failed send leaves
/// nothing behind.
fn leave_if_not_empty(queue: MessageQueue) {
    if queue.stat().is_ok_and(|stat| stat.messages > 0) {
        println!(
            "send: the queue stays in the kernel after I exit, with its messages, until a \
             receiver takes them; `msg_rm --id {}` removes it",
            queue.id()
        );
        queue.leave_in_kernel();
    }
}
// ANCHOR_END: leave

// ANCHOR: open
fn open(args: &Args) -> Result<MessageQueue, Failure> {
    let creation = if args.create {
        Creation::OpenOrCreate
    } else {
        Creation::OpenExisting
    };
    let queue = args.queue.open(creation).map_err(|err| match err.errno() {
        Some(Errno::ENOENT) => Failure::new(format!(
            "open the queue: {err}; start `recv` first (it creates the queue and removes it when \
             it stops), or pass --create"
        )),
        _ => Failure::new(format!("open the queue: {err}")),
    })?;
    let how = if queue.created() { "created" } else { "opened" };
    println!("send: {how} {queue}");
    Ok(queue)
}
// ANCHOR_END: open

fn texts_to_send(args: &Args) -> Result<Vec<String>, Failure> {
    if !args.text.is_empty() {
        return Ok(vec![args.text.join(" ")]);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        println!("send: no text given and stdin is a terminal: sending a greeting");
        return Ok(vec![format!(
            "hello from send (pid {})",
            std::process::id()
        )]);
    }
    stdin
        .lock()
        .lines()
        .collect::<Result<_, _>>()
        .context("read stdin")
}
