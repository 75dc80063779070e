//! `mesh --node B`: one node by hand, on the queue of the key flags. Lines like `C hello` go to
//! C; what arrives for this node is printed.

use std::io::BufRead;
use std::process::ExitCode;

use msgqueue::{
    KeyArgs, Limits, Select, create_or_open, msgget, spawn_with_stop_signals_blocked, with_nul,
};
use nix::errno::Errno;
use support::cli::{Failure, hang_up_if_terminal_closed, report_error};
use support::stop::{Stop, Stopped, finish_as};

use crate::{NAMES, mtype, parse_node};

pub fn by_hand(me: usize, args: &KeyArgs) -> Result<ExitCode, Failure> {
    let stop = Stop::install()?;
    let name = NAMES[me];
    // ANCHOR: open
    if let Some(path) = args.make_default_key_file()? {
        println!("node {name}: created the key file {}", path.display());
    }
    let key = args.ftok_or_key()?; // ftok(--key-path, --proj), or --key
    // msgget with IPC_EXCL, then a plain one: so this node learns whether it must remove it.
    let queue = create_or_open(0o600, |flags| msgget(key.clone(), flags))?;
    let warning = queue.check_owner(args.accept_foreign)?;
    if queue.created() {
        println!("node {name}: created {queue} (I remove it when I quit)");
    } else {
        println!("node {name}: opened {queue}");
    }
    if let Some(warning) = warning {
        println!("node {name}: {warning}");
    }
    // ANCHOR_END: open
    println!("node {name}: I receive type {}", mtype(me));
    // ANCHOR: send_lines
    // Lines are read on a thread of their own, with a handle that never removes the queue.
    let sender = queue.handle();
    let send_lines = move || {
        for line in std::io::stdin().lock().split(b'\n') {
            let line = match line {
                Ok(line) => line,
                // The window was closed: the whole node stops, as on SIGHUP.
                Err(err) if hang_up_if_terminal_closed(&err) => return,
                Err(_) => break,
            };
            let line = String::from_utf8_lossy(&line);
            let (to, text) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            let Some(to) = parse_node(to).ok().filter(|_| !text.is_empty()) else {
                println!("node {name}: start a line with A, B, C or D, then the text: `C hello`");
                continue;
            };
            let bytes = with_nul(format!("{name}: {text}").as_bytes());
            match sender.msgsnd(mtype(to), &bytes, 0) {
                Ok(()) => println!(
                    "node {name}: sent type {} (to {}): {text}",
                    mtype(to),
                    NAMES[to]
                ),
                Err(err) => return report_error(format!("node {name}: {err}")),
            }
        }
        println!("node {name}: end of input; still receiving until Ctrl-C");
    };
    spawn_with_stop_signals_blocked(send_lines)?;
    // ANCHOR_END: send_lines
    // ANCHOR: receive
    println!("node {name}: waiting for messages; type lines like `C hello`, Ctrl-C to quit");
    let outcome = loop {
        match stop.retry(|| queue.msgrcv(Select::Exact(mtype(me)), Limits::msgmax(), 0)) {
            Ok(message) => println!("node {name}: received: {}", message.text()),
            Err(Stopped::Failed(err))
                if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) =>
            {
                println!("node {name}: the queue was removed (its creator quit?): {err}");
                break Ok(ExitCode::SUCCESS);
            }
            Err(stopped) => break Err(stopped.into()),
        }
    };
    finish_as(format!("node {name}"), outcome)
    // ANCHOR_END: receive
}
