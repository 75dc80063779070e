//! # msg_rm: remove a message queue, like `ipcrm -q`, explained
//!
//! Part of the port of seed `004_0b92104986517c26.txt`, section 3 (System V message queues),
//! whose last step, `msgctl(id, IPC_RMID, NULL)`, its programs never reach. msg_rm finds the
//! queue by the same key flags as send and recv (`ftok("./file", 'a')` by default), or by the id
//! that msg_ls shows, says what is discarded with it, and removes it. Processes blocked on the
//! queue wake up with EIDRM. A queue of another user, or one that others may write to, is
//! refused unless `--accept-foreign`. Named msg_rm, not rm, so that it never hides coreutils.
//!
//! Signals: none handled; msg_rm never waits, so the default action (the end) is right.
//!
//! Run: `cargo run -p msgqueue --bin msg_rm -- --id 3` (ids from msg_ls).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use msgqueue::{MessageQueue, QueueArgs, ftok, msgget};
use support::cli::{Context, parse_args, run};

/// Removes a System V message queue, named by key (like send and recv) or by id.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    queue: QueueArgs,
    /// Remove the queue with this id (as msg_ls shows it) instead of looking up a key.
    #[arg(long, conflicts_with_all = ["key_path", "proj", "key"])]
    id: Option<i32>,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: remove
        let accept_foreign = args.queue.accept_foreign;
        let queue = match (args.id, args.queue.key) {
            (Some(id), _) => MessageQueue::from_id(id, accept_foreign),
            (None, Some(key)) => msgget(key, 0).and_then(|q| q.check_owner(accept_foreign)),
            (None, None) => ftok(&args.queue.key_path, args.queue.proj)
                .and_then(|key| msgget(key, 0))
                .and_then(|q| q.check_owner(accept_foreign)),
        }
        .context("find the queue")?;
        let stat = queue.msgctl_stat().context("inspect the queue")?;
        println!(
            "msg_rm: {queue} holds {} messages ({} bytes); they are discarded with it, and any \
             process blocked on it wakes up with EIDRM",
            stat.messages, stat.bytes
        );
        let id = queue.id();
        queue.msgctl_rmid().context("remove the queue")?;
        println!("msg_rm: removed queue id={id}");
        // ANCHOR_END: remove
        Ok(ExitCode::SUCCESS)
    })
}
