//! # msg_ls: the message queues on this machine, like `ipcs -q`, explained
//!
//! Part of the port of seed `004_0b92104986517c26.txt`, section 3 (System V message queues):
//! the seed's queues outlive their programs, so students need a way to see them. msg_ls reads
//! `/proc/sysvipc/msg` (the table `ipcs -q` prints) and shows each queue's key, id, owner, mode,
//! and how many messages and bytes wait in it, with a note where something deserves a look: a
//! queue others may write to, a private queue, the queue of the default key `ftok("./file",
//! 'a')`. Named msg_ls, not ls, so that target/debug on PATH does not hide coreutils.
//!
//! Signals: none handled; msg_ls never waits, so the default action (the end) is right.
//!
//! Run: `cargo run -p msgqueue --bin msg_ls`.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use msgqueue::{DEFAULT_KEY_PATH, DEFAULT_PROJ, Limits, ftok};
use support::cli::{Context, parse_args, run};
use sysv::Kind;

/// Lists the System V message queues, with their message and byte counts.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Print only the table, without the notes and limits.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: list
        let queues = sysv::list(Kind::Msg).context("list the queues")?;
        let default_key = ftok(Path::new(DEFAULT_KEY_PATH), DEFAULT_PROJ).ok();
        if !args.quiet {
            let limits = Limits::read()?;
            println!(
                "msg_ls: {} message queue(s) in /proc/sysvipc/msg; a message holds at most \
                 msgmax={} bytes, a new queue at most msgmnb={} bytes",
                queues.len(),
                limits.msgmax,
                limits.msgmnb
            );
        }
        if queues.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        println!("key          id  owner  mode  messages  bytes  note");
        for queue in &queues {
            let note = if Some(queue.key) == default_key {
                "the default key, ftok(\"./file\", 'a')"
            } else if queue.key.is_private() {
                "IPC_PRIVATE: only its creator's family knows the id"
            } else if queue.owner.mode & 0o022 != 0 {
                "others may write to it"
            } else {
                ""
            };
            println!(
                "{:<11} {:>3} {:>6}  {:04o} {:>9} {:>6}  {note}",
                queue.key.to_string(),
                queue.id,
                queue.owner.uid,
                queue.owner.mode,
                queue.field("qnum").unwrap_or(0),
                queue.field("cbytes").unwrap_or(0),
            );
        }
        // ANCHOR_END: list
        if !args.quiet {
            println!("msg_ls: remove one with `msg_rm --id <id>`; its messages go with it");
        }
        Ok(ExitCode::SUCCESS)
    })
}
