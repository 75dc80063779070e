//! # msg_rm: remove a message queue, like `ipcrm -q`, explained
//!
//! Part of the port of section 3 of the course notes (`004_0b92104986517c26.txt`; System V message
//! queues), whose last step, `msgctl(id, IPC_RMID, NULL)`, its programs never reach. msg_rm finds
//! the queue by the same key flags as send and recv (`ftok("./file", 'a')` by default), or by the id
//! that msg_ls shows, says what is discarded with it, and removes it. Processes blocked on the
//! queue wake up with EIDRM. A queue of another user, or one whose owner cannot be checked
//! (IPC_STAT needs read permission), is refused unless `--accept-foreign`. Named msg_rm, not
//! rm, so that it never hides coreutils.
//!
//! Signals: none handled; msg_rm never waits, so the default action (the end) is right.
//!
//! Run: `cargo run -p msgqueue --bin msg_rm -- --id 3` (ids from msg_ls).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use msgqueue::{KeyArgs, MessageQueue, msgget};
use nix::errno::Errno;
use support::cli::{Failure, parse_args, run};

/// Removes a System V message queue, named by key (like send and recv) or by id.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    queue: KeyArgs,
    /// Remove the queue with this id (as msg_ls shows it; 0 to 2147483647) instead of looking
    /// up a key.
    #[arg(long, conflicts_with_all = ["key_path", "proj", "key"],
          value_parser = clap::value_parser!(i32).range(0..))]
    id: Option<i32>,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: remove
        let queue = match args.id {
            Some(id) => MessageQueue::from_id(id),
            None => {
                let key = args.queue.ftok_or_key()?; // ftok(--key-path, --proj), or --key
                match msgget(key.clone(), 0) {
                    Err(err) if err.errno() == Some(Errno::ENOENT) => {
                        let why = format!("no queue has {key} (msgget: ENOENT)");
                        return Err(Failure::new(format!("{why}; `msg_ls` lists the queues")));
                    }
                    found => found?,
                }
            }
        };
        // The owner check: another user's queue is refused unless --accept-foreign.
        if let Some(warning) = queue.check_owner(args.queue.accept_foreign)? {
            println!("msg_rm: {warning}");
        }
        match queue.msgctl_stat() {
            Ok(stat) => println!(
                "msg_rm: {queue} holds {} messages ({} bytes); they are discarded with it, and \
                 any process blocked on it wakes up with EIDRM",
                stat.messages, stat.bytes
            ),
            // Accepted although IPC_STAT may not read it: removed without counting.
            Err(err) if err.errno() == Some(Errno::EACCES) => {
                println!("msg_rm: I may not read {queue}, so I cannot count what goes with it")
            }
            Err(err) => return Err(err.into()),
        }
        let id = queue.id();
        queue.msgctl_rmid()?;
        println!("msg_rm: removed queue id={id}");
        // ANCHOR_END: remove
        Ok(ExitCode::SUCCESS)
    })
}
