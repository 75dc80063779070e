//! # pmq_recv: take messages from a POSIX message queue, highest priority first
//!
//! `mq_open` opens the queue `--name` (default `/ipc-labs-jobs`), or creates it (mode 0600);
//! `mq_receive` takes the oldest message of the highest priority and pmq_recv prints
//! `priority P: TEXT`, until Ctrl-C or `--count N` messages. As `msgqueue`'s `recv`, no text
//! ends it: "end" is a message like any other. The buffer has the queue's `mq_msgsize` bytes
//! (`mq_getattr`); `--buffer` asks for fewer, to show that `mq_receive` then fails (EMSGSIZE)
//! and leaves the message queued.
//!
//! Three ways to wait, one per lesson:
//! - by default, `mq_receive` blocks until a message comes;
//! - `--poll MS`: the queue is a descriptor, opened `O_NONBLOCK`, and `poll(2)` waits for it
//!   to be readable; after MS ms with no message, pmq_recv says so and exits 0;
//! - `--notify`: `mq_notify` (SIGEV_THREAD) makes glibc start a thread when a message arrives
//!   on the EMPTY queue; the thread writes a byte into a pipe that main polls, and main takes
//!   what is queued, non-blocking. One-shot: pmq_recv registers again before each drain.
//!
//! One receiver per queue: pmq_recv takes `flock(LOCK_EX | LOCK_NB)` on the queue's
//! descriptor; a second pmq_recv is refused at once with one line. The kernel drops the lock
//! when its holder exits, even by SIGKILL. A queue whose `mq_msgsize` is over `--max-msgsize`
//! is refused, not used. pmq_recv removes the queue when it stops if it created it, or if
//! `--unlink` asks; after a failure it leaves a queue that still holds messages.
//!
//! Run: `cargo run -p posix --bin pmq_recv`, then `cargo run -p posix --bin pmq_send` in
//! another terminal.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use nix::poll::PollFlags;
use posix::mq::{Access, Create, Notifications, Queue, attr, failed, mq_notify, text};
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish_after};

/// Receives messages from a POSIX message queue and prints them, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The queue: one '/' then a name with no other '/'.
    #[arg(long, value_name = "/NAME", default_value = "/ipc-labs-jobs")]
    name: String,
    /// Stop after N messages (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Wait in poll(2) on the queue's descriptor; after MS ms with no message, exit 0.
    #[arg(long, value_name = "MS", conflicts_with = "notify")]
    poll: Option<u64>,
    /// Wait for mq_notify's thread (SIGEV_THREAD), then take what is queued, non-blocking.
    #[arg(long)]
    notify: bool,
    /// Remove the queue when I stop, even if another process created it.
    #[arg(long)]
    unlink: bool,
    /// Only open a queue that exists (ENOENT otherwise); never create one.
    #[arg(long)]
    existing: bool,
    /// A new queue's mq_maxmsg (limit without privileges: /proc/sys/fs/mqueue/msg_max).
    #[arg(long, value_name = "N", default_value_t = 10)]
    maxmsg: i64,
    /// A new queue's mq_msgsize in bytes (limit: /proc/sys/fs/mqueue/msgsize_max).
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    msgsize: i64,
    /// Refuse a queue whose mq_msgsize is over BYTES (the buffer to allocate).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_msgsize: i64,
    /// The receive buffer's size (default: the queue's mq_msgsize; fewer gives EMSGSIZE).
    #[arg(long, value_name = "BYTES")]
    buffer: Option<usize>,
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
        let nonblocking = args.poll.is_some() || args.notify;
        let wanted = attr(args.maxmsg, args.msgsize);
        let queue = Queue::mq_open(&args.name, Access::Receive, create, &wanted, nonblocking)?;
        let _claim = queue.flock()?; // one receiver per queue; the kernel drops it at exit
        let got = queue.mq_getattr()?;
        let (name, size) = (&args.name, got.msgsize());
        if size > args.max_msgsize {
            return Err(Failure::new(format!(
                "{name}: refused: its mq_msgsize is {size} bytes, over --max-msgsize {}",
                args.max_msgsize
            )));
        }
        match queue.created() {
            true => println!(
                "pmq_recv: created {name} (mode 0600, {} messages of {size} bytes); I remove \
                 it when I stop",
                got.maxmsg()
            ),
            false => println!(
                "pmq_recv: opened {name}, which another process created ({} queued)",
                got.curmsgs()
            ),
        }
        // ANCHOR_END: open
        let buffer = vec![0; args.buffer.unwrap_or(size as usize)];
        let mut taker = Taker {
            queue: &queue,
            buffer,
            size,
            received: 0,
        };
        let outcome = match (args.poll, args.notify) {
            (Some(ms), _) => by_poll(&mut taker, args.count, ms, &stop),
            (None, true) => by_notify(&mut taker, args.count, &stop),
            (None, false) => by_waiting(&mut taker, args.count, &stop),
        };
        let received = taker.received;
        finish(
            queue,
            args.unlink,
            matches!(outcome, Err(Stopped::Failed(_))),
        );
        finish_after(outcome, plural(received, "message"))
    })
}

/// What takes the messages: the queue, a buffer, and how many it took.
struct Taker<'a> {
    queue: &'a Queue,
    buffer: Vec<u8>,
    size: i64,
    received: u64,
}

impl Taker<'_> {
    /// One `mq_receive`, printed as `priority P: TEXT`; `Ok(false)` if the queue is empty and
    /// the descriptor non-blocking (EAGAIN). A blocking one waits, until a stop signal.
    fn take(&mut self, stop: &Stop) -> Result<bool, Stopped> {
        let name = self.queue.name();
        match stop.retry(|| self.queue.mq_receive(&mut self.buffer)) {
            Ok((length, priority)) => {
                println!("priority {priority}: {}", text(&self.buffer[..length]));
                self.received += 1;
                Ok(true)
            }
            Err(Stopped::Failed(Errno::EAGAIN)) => Ok(false),
            Err(Stopped::Failed(Errno::EMSGSIZE)) => Err(Failure::new(format!(
                "{}; the buffer has {} bytes, {name}'s mq_msgsize is {}: the message stays \
                 queued",
                failed(format!("mq_receive {name}"), Errno::EMSGSIZE),
                self.buffer.len(),
                self.size
            ))
            .into()),
            Err(other) => Err(other.context(format!("mq_receive {name}"))),
        }
    }

    fn done(&self, count: Option<u64>) -> bool {
        count.is_some_and(|count| self.received >= count)
    }
}

// ANCHOR: wait
fn by_waiting(taker: &mut Taker, count: Option<u64>, stop: &Stop) -> Result<ExitCode, Stopped> {
    println!("pmq_recv: waiting for messages (mq_receive blocks); Ctrl-C to stop");
    while !taker.done(count) {
        taker.take(stop)?;
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: wait

// ANCHOR: poll
fn by_poll(
    taker: &mut Taker,
    count: Option<u64>,
    ms: u64,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    println!("pmq_recv: waiting in poll(2) on the queue's descriptor, at most {ms} ms");
    let readable = [(taker.queue.as_fd(), PollFlags::POLLIN)];
    while !taker.done(count) {
        if taker.take(stop)? {
            continue; // O_NONBLOCK: mq_receive took one, or said EAGAIN
        }
        let ready = stop.wait(&readable, Some(Duration::from_millis(ms)))?; // poll
        if !ready[0] {
            println!("pmq_recv: no message for {ms} ms");
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: poll

// ANCHOR: notify
fn by_notify(taker: &mut Taker, count: Option<u64>, stop: &Stop) -> Result<ExitCode, Stopped> {
    let wake = Notifications::get()?; // the pipe from glibc's thread to main
    let pipe = [(wake.read_end(), PollFlags::POLLIN)];
    loop {
        mq_notify(taker.queue, wake)?; // one-shot: register again BEFORE draining
        while !taker.done(count) && taker.take(stop)? {} // O_NONBLOCK: until EAGAIN
        if taker.done(count) {
            return Ok(ExitCode::SUCCESS);
        }
        println!("pmq_recv: queue empty; registered with mq_notify, waiting for its thread");
        stop.wait(&pipe, None)?; // poll: a byte from the thread, or a stop signal
        wake.take();
        println!("pmq_recv: notified: a message arrived on the empty queue");
    }
}
// ANCHOR_END: notify

/// A queue pmq_recv created, or that --unlink names, goes, except after a failure while it
/// still holds messages: those are someone's data. Written with `write!`, whose error is
/// ignored: a stop may have closed stdout.
fn finish(queue: Queue, unlink: bool, failed: bool) {
    let name = queue.name().to_owned();
    let left = queue.mq_getattr().map(|got| got.curmsgs()).unwrap_or(0);
    let said = if !(queue.created() || unlink) {
        queue.leave();
        format!("pmq_recv: left {name} in place: another process created it\n")
    } else if failed && left > 0 {
        queue.leave();
        let left = plural(left.max(0) as u64, "message");
        format!("pmq_recv: left {name} with {left}; --unlink removes it\n")
    } else {
        match queue.mq_unlink() {
            Ok(()) => format!(
                "pmq_recv: removed {name} ({} discarded)\n",
                plural(left.max(0) as u64, "message")
            ),
            Err(err) => format!("pmq_recv: {err}\n"),
        }
    };
    let _ = std::io::stdout().write_all(said.as_bytes());
}
