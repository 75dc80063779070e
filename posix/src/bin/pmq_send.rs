//! # pmq_send: each line of stdin into a POSIX message queue, with a priority
//!
//! `mq_open` opens the queue `--name` (default `/ipc-labs-jobs`), creating it with mode 0600
//! and `--maxmsg` messages of `--msgsize` bytes if there is none (`--existing` refuses to
//! create: ENOENT). Then each line of stdin becomes one message of priority `--priority`, sent
//! with `mq_send` as soon as it arrives; the receiver (`pmq_recv`) gets higher priorities first.
//! The message is the line's bytes, without a newline or a final NUL (a POSIX message carries
//! its length). A line longer than the queue's `mq_msgsize` is refused by the kernel
//! (EMSGSIZE): one line says so and pmq_send exits 1; nothing is ever cut.
//!
//! A full queue: the descriptor is non-blocking, so `mq_send` says EAGAIN; pmq_send says it
//! waits, makes the descriptor blocking (`mq_setattr`) and sends again, which sleeps until a
//! receiver makes room. Ctrl-C, SIGTERM and SIGHUP still end that wait (the `support` stop
//! mechanism makes `mq_send` fail with EINTR).
//!
//! Who owns the queue, as `msgqueue`'s `send`: a queue pmq_send created stays after it exits
//! if it holds messages (they wait for a receiver; `pmq_recv --unlink` takes them and removes
//! the queue), and is removed if it is empty. A queue someone else made is never removed.
//!
//! Run: `cargo run -p posix --bin pmq_send -- --priority 5` while `pmq_recv` runs elsewhere.

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

use clap::Parser;
use nix::errno::Errno;
use posix::mq::{Access, Create, PRIORITY_MAX, Queue, attr, failed};
use support::LineReader;
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish_after};

/// Sends each line of stdin into a POSIX message queue, with one priority.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The queue: one '/' then a name with no other '/'.
    #[arg(long, value_name = "/NAME", default_value = "/ipc-labs-jobs")]
    name: String,
    /// The priority of every message, 0 to 32767; pmq_recv gets the highest first.
    #[arg(long, value_name = "P", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=PRIORITY_MAX as i64))]
    priority: u32,
    /// Only open a queue that exists (ENOENT otherwise); never create one.
    #[arg(long)]
    existing: bool,
    /// A new queue's mq_maxmsg: how many messages it holds (the limit without privileges is
    /// /proc/sys/fs/mqueue/msg_max; more is EINVAL).
    #[arg(long, value_name = "N", default_value_t = 10)]
    maxmsg: i64,
    /// A new queue's mq_msgsize: the longest message in bytes (limit: msgsize_max).
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    msgsize: i64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // ANCHOR: open
        let create = if args.existing {
            Create::Never
        } else {
            Create::IfAbsent
        };
        let wanted = attr(args.maxmsg, args.msgsize); // used only if the queue is created
        let queue = Queue::mq_open(&args.name, Access::Send, create, &wanted, true)?;
        let got = queue.mq_getattr()?; // the queue's own: someone else may have made it
        let size = format!("{} messages of {} bytes", got.maxmsg(), got.msgsize());
        match queue.created() {
            true => println!("pmq_send: created {} (mode 0600, {size})", args.name),
            false => println!("pmq_send: opened {} ({size})", args.name),
        }
        // ANCHOR_END: open
        if std::io::stdin().is_terminal() {
            println!("pmq_send: type one message per line; Enter sends it, Ctrl-D ends");
        } else {
            println!("pmq_send: sending each line of stdin, until end of input");
        }
        let mut sent = 0;
        let outcome = send_all(&queue, &args, &mut sent, &stop);
        if queue.created() {
            leave_if_not_empty(queue);
        }
        finish_after(outcome, format!("sending {}", plural(sent, "message")))
    })
}

// ANCHOR: send
fn send_all(queue: &Queue, args: &Args, sent: &mut u64, stop: &Stop) -> Result<ExitCode, Stopped> {
    let name = &args.name;
    let mut lines = LineReader::new();
    while let Some(line) = lines.next_line(std::io::stdin().as_fd(), stop)? {
        let done = match queue.mq_send(&line, args.priority) {
            Err(Errno::EAGAIN) => {
                println!("pmq_send: {name} is full; waiting for room (mq_send blocks)");
                queue.set_nonblocking(false)?;
                let done = stop.retry(|| queue.mq_send(&line, args.priority));
                queue.set_nonblocking(true)?;
                done
            }
            tried => tried.map_err(Stopped::Failed),
        };
        match done {
            Ok(()) => {}
            Err(Stopped::Failed(Errno::EMSGSIZE)) => {
                let limit = queue.mq_getattr()?.msgsize();
                return Err(Failure::new(format!(
                    "{}; line {} has {} bytes, more than {name}'s mq_msgsize ({limit}): not \
                     sent{}",
                    failed(format!("mq_send {name}"), Errno::EMSGSIZE),
                    *sent + 1,
                    line.len(),
                    before(*sent)
                ))
                .into());
            }
            Err(other) => return Err(other.context(format!("mq_send {name}"))),
        }
        let text = String::from_utf8_lossy(&line);
        println!("pmq_send: sent priority {}: {text}", args.priority);
        *sent += 1;
    }
    println!(
        "pmq_send: end of input after sending {}",
        plural(*sent, "message")
    );
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: send

/// `; the 2 lines before it were sent`, or nothing for the first line.
fn before(sent: u64) -> String {
    match sent {
        0 => String::new(),
        1 => "; the line before it was sent".to_owned(),
        n => format!("; the {n} lines before it were sent"),
    }
}

/// A queue pmq_send created stays if it holds messages (they wait for a receiver), and goes if
/// it is empty. Written with `write!`, whose error is ignored: a stop may have closed stdout.
fn leave_if_not_empty(queue: Queue) {
    let name = queue.name().to_owned();
    let waiting = queue.mq_getattr().map(|got| got.curmsgs()).unwrap_or(0);
    let said = if waiting > 0 {
        queue.leave();
        format!(
            "pmq_send: {name} stays with {} for a receiver; `pmq_recv --name {name} \
             --unlink` empties and removes it\n",
            plural(waiting.max(0) as u64, "message")
        )
    } else {
        match queue.mq_unlink() {
            Ok(()) => format!("pmq_send: removed {name}, which I created (empty)\n"),
            Err(err) => format!("pmq_send: {err}\n"),
        }
    };
    let _ = std::io::stdout().write_all(said.as_bytes());
}
