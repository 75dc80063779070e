//! # bare_mq: a POSIX message queue in one short program
//!
//! The calls of a POSIX message queue one after the other, with nothing around them:
//! `mq_open` creates a queue (`O_CREAT | O_EXCL`, mode 0600, at most 10 messages of 64 bytes),
//! `mq_send` puts three messages into it with priorities 1, 9 and 5, `mq_getattr` shows how full
//! it is, `mq_receive` takes them back (highest priority first: 9, 5, 1, whatever the order they
//! were sent in), and `mq_close` and `mq_unlink` close it and remove its name. The course notes
//! show System V queues only; this is their POSIX counterpart (see `msgqueue`'s `bare_queue`).
//!
//! The default name holds the process id, so two students on one machine never meet:
//! `/ipc-labs-bare-mq-<pid>`. `O_EXCL` makes `mq_open` fail with EEXIST rather than use a queue
//! somebody else made. The queue is opened non-blocking: the messages are there already, and a
//! wait could only end by a signal, which would leave the queue behind. A failed step still
//! reaches `mq_unlink`. For priorities, limits, signals and claims, see `pmq_send` and
//! `pmq_recv`.
//!
//! Run: `cargo run -p posix --bin bare_mq`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use nix::mqueue::{
    MQ_OFlag, MqAttr, mq_close, mq_getattr, mq_open, mq_receive, mq_send, mq_unlink,
};
use nix::sys::stat::Mode;
use support::cli::{Context, Failure, parse_args, run};

// ANCHOR: bare
fn bare(name: &str) -> Result<ExitCode, Failure> {
    let attr = MqAttr::new(0, 10, 64, 0); // mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK;
    let queue = mq_open(name, flags, Mode::from_bits_truncate(0o600), Some(&attr))
        .context(format!("mq_open {name}"))?; // a NEW queue, or EEXIST
    println!("mq_open: created {name} (mode 0600, at most 10 messages of 64 bytes)");
    let steps = || -> Result<(), Failure> {
        for (text, priority) in [("low", 1), ("high", 9), ("middle", 5)] {
            mq_send(&queue, text.as_bytes(), priority).context("mq_send")?;
            println!("mq_send: {text:?} with priority {priority}");
        }
        let attr = mq_getattr(&queue).context("mq_getattr")?;
        let (now, size, max) = (attr.curmsgs(), attr.msgsize(), attr.maxmsg());
        println!("mq_getattr: mq_curmsgs={now} mq_msgsize={size} mq_maxmsg={max}");
        let mut buffer = vec![0; size as usize]; // a smaller buffer: EMSGSIZE
        for _ in 0..now {
            let mut priority = 0;
            let length = mq_receive(&queue, &mut buffer, &mut priority).context("mq_receive")?;
            let text = String::from_utf8_lossy(&buffer[..length]);
            println!("mq_receive: {text:?} (priority {priority})");
        }
        Ok(())
    };
    let done = steps(); // whatever happened, the queue goes:
    mq_close(queue).context("mq_close")?;
    mq_unlink(name).context(format!("mq_unlink {name}"))?;
    println!("mq_close, mq_unlink: {name} is gone");
    done.map(|()| ExitCode::SUCCESS)
}
// ANCHOR_END: bare

/// One POSIX message queue with nothing around it: mq_open, mq_send, mq_getattr, mq_receive,
/// mq_close, mq_unlink.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The queue's name: one '/' then up to 255 bytes, no other '/' (default:
    /// `/ipc-labs-bare-mq-<pid>`). It must not exist yet.
    #[arg(long, value_name = "/NAME")]
    name: Option<String>,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    let name = args
        .name
        .unwrap_or_else(|| format!("/ipc-labs-bare-mq-{}", std::process::id()));
    run(|| bare(&name)) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
