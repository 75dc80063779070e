//! # bare_queue: the whole of a System V message queue in one short program
//!
//! The five calls of the course notes on System V message queues (section 3
//! of `004_0b92104986517c26.txt`), one after the other, with nothing around them:
//! `ftok` makes a key, `msgget` creates a queue with it, `msgsnd` puts two messages of two
//! types into it, `msgrcv` takes them back by type (the type-1 message first, although the
//! type-2 one is older: the type selects), and `msgctl(IPC_RMID)` removes the queue.
//!
//! The key file is `.`, the current directory: ftok needs a file that exists, and a process
//! always has a current directory, so the example needs no file of its own (a file it made
//! would be one more thing to leave behind). Run it in another directory and you get another
//! key. `IPC_CREAT | IPC_EXCL` makes the call fail with EEXIST rather than use a queue that
//! someone else made with the same key.
//!
//! Nothing is left behind, even when a step fails: the handle that `msgget` returned created
//! the queue, so dropping it on the way out removes it. Both receives use `IPC_NOWAIT`: the
//! messages are there already, and a wait could only end by a signal, which would leave the
//! queue behind. For signals, owners, limits and everything else, see `send` and `recv`.
//!
//! Run: `cargo run -p msgqueue --bin bare_queue`.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use libc::{IPC_CREAT, IPC_EXCL, IPC_NOWAIT};
use msgqueue::{Select, ftok, msgget};
use support::cli::{Failure, parse_args, run};

// ANCHOR: bare
fn bare() -> Result<ExitCode, Failure> {
    let key = ftok(Path::new("."), b'a')?; // "." always exists: no key file to make
    println!("ftok(\".\", 'a') = key {key}");
    let queue = msgget(key, IPC_CREAT | IPC_EXCL | 0o600)?; // a NEW queue, or EEXIST
    println!("msgget: created queue id={} (mode 0600)", queue.id());

    queue.msgsnd(2, b"for type 2", 0)?; // first in line
    queue.msgsnd(1, b"for type 1", 0)?;
    println!("msgsnd: sent \"for type 2\" (type 2), then \"for type 1\" (type 1)");

    let one = queue.msgrcv(Select::Exact(1), 64, IPC_NOWAIT)?; // msgtyp = 1
    println!("msgrcv(msgtyp=1): type {}: {:?}", one.mtype, one.text());
    let two = queue.msgrcv(Select::Exact(2), 64, IPC_NOWAIT)?; // msgtyp = 2
    println!("msgrcv(msgtyp=2): type {}: {:?}", two.mtype, two.text());

    let id = queue.id();
    queue.msgctl_rmid()?; // a failed step above drops `queue`, which removes it too
    println!("msgctl(IPC_RMID): removed queue id={id}");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: bare

/// One message queue with nothing around it: ftok, msgget, msgsnd, msgrcv, msgctl(IPC_RMID).
#[derive(clap::Parser)]
#[command(version)]
struct Args {}

fn main() -> ExitCode {
    let _: Args = parse_args(); // --help and --version; no other argument
    run(bare) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
