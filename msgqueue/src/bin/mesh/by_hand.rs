//! `mesh --node B`: one node by hand, on the queue of the key flags. Lines like `C hello` go to
//! C; what arrives for this node is printed.

use std::io::BufRead;
use std::process::ExitCode;

use msgqueue::{Creation, MessageQueue, QueueArgs, Select, Shutdown, Wait};
use nix::errno::Errno;
use support::cli::{Context, Failure, report_error};

use crate::{NAMES, mtype, parse_node};

// ANCHOR: by_hand
pub fn by_hand(me: usize, queue_args: &QueueArgs) -> Result<ExitCode, Failure> {
    let name = NAMES[me];
    let shutdown = Shutdown::install()?;
    let queue = queue_args
        .open(Creation::OpenOrCreate)
        .context("open the queue")?;
    let role = if queue.created() {
        "created (I remove it when I quit)"
    } else {
        "opened"
    };
    println!("node {name}: {role} {queue}; I receive type {}", mtype(me));
    // The lines are read on a thread of their own, with its own handle that never removes the
    // queue. It blocks SIGINT, SIGTERM and SIGALRM, so that they interrupt the main thread's
    // msgrcv.
    let sender = MessageQueue::from_id(queue.id(), true).context("open a second handle")?;
    std::thread::spawn(move || send_lines(&sender, me));
    println!("node {name}: waiting for messages; type lines like `C hello`, Ctrl-C to quit");
    loop {
        let select = Select::Exact(mtype(me));
        match shutdown.retry(|| queue.receive(select, 8192, Wait::Block, false)) {
            Ok(Some(message)) => println!("node {name}: received: {}", message.text()),
            Ok(None) => {
                println!("node {name}: stopped by a signal");
                return Ok(shutdown.exit_code());
            }
            Err(err) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {
                println!("node {name}: the queue was removed (its creator quit?): {err}");
                return Ok(ExitCode::SUCCESS);
            }
            Err(err) => return Err(err).context("receive"),
        }
    }
}

fn send_lines(queue: &MessageQueue, me: usize) {
    let _ = Shutdown::hold();
    let name = NAMES[me];
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let (to, text) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        let Some(to) = parse_node(to).ok().filter(|_| !text.is_empty()) else {
            println!("node {name}: start a line with A, B, C or D, then the text: `C hello`");
            continue;
        };
        match queue.send_text(mtype(to), &format!("{name}: {text}"), Wait::Block) {
            Ok(()) => println!(
                "node {name}: sent type {} (to {}): {text}",
                mtype(to),
                NAMES[to]
            ),
            Err(err) => return report_error(format!("node {name}: {err}")),
        }
    }
    println!("node {name}: end of input; still receiving until Ctrl-C");
}
// ANCHOR_END: by_hand
