//! # msg_rm: remove a message queue, like `ipcrm -q`, explained
//!
//! Part of the port of seed `004_0b92104986517c26.txt`, section 3 (System V message queues),
//! whose last step, `msgctl(id, IPC_RMID, NULL)`, its programs never reach. msg_rm finds the
//! queue by the same key flags as send and recv (`ftok("./file", 'a')` by default), or by the id
//! that msg_ls shows, says what is discarded with it, and removes it. Processes blocked on the
//! queue wake up with EIDRM. A queue of another user, or one that others may write to, is
//! refused unless `--accept-foreign`. Named msg_rm, not rm, so that it never hides coreutils.
//!
//! Run: `cargo run -p msgqueue --bin msg_rm -- --id 3` (ids from msg_ls).

use std::process::ExitCode;

use clap::Parser;
use msgqueue::{Creation, MessageQueue, QueueArgs};
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
        let queue = match args.id {
            Some(id) => MessageQueue::from_id(id, args.queue.accept_foreign),
            None => args.queue.open(Creation::OpenExisting),
        }
        .context("find the queue")?;
        let stat = queue.stat().context("inspect the queue")?;
        println!(
            "msg_rm: {queue} holds {} messages ({} bytes); they are discarded with it, and any \
             process blocked on it wakes up with EIDRM",
            stat.messages, stat.bytes
        );
        let id = queue.id();
        queue.remove().context("remove the queue")?;
        println!("msg_rm: removed queue id={id}");
        // ANCHOR_END: remove
        Ok(ExitCode::SUCCESS)
    })
}
