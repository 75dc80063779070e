//! `pmq_mesh --node B`: one node by hand. It claims its own queue, sends lines like `C hello`
//! to C's queue, and prints what arrives in its own: one `poll` waits for both.

use std::os::fd::AsFd;
use std::process::ExitCode;

use nix::errno::Errno;
use nix::mqueue::{mq_close, mq_receive, mq_send};
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use support::cli::{Failure, plural, report_error};
use support::stop::{Stop, Stopped, check_hang_up, finish_as};
use support::{Input, LineReader};

use crate::queue::{Claimed, Found, MAXMSG, MSGSIZE, claim, open_peer};
use crate::{NAMES, parse_node, queue_name};

pub fn by_hand(me: usize, prefix: &str) -> Result<ExitCode, Failure> {
    let stop = Stop::install()?;
    let name = NAMES[me];
    let (mine, found) = claim(&queue_name(prefix, me))?; // mq_open, then flock
    match found {
        Found::Created => println!(
            "node {name}: created {} (I remove it when I quit)",
            mine.name
        ),
        Found::Stale { waiting } => println!(
            "node {name}: took over {}, left by a node {name} that is gone (nobody held its \
             lock); {} waiting in it; I remove it when I quit",
            mine.name,
            plural(waiting.unsigned_abs(), "message")
        ),
    }
    println!("node {name}: waiting for messages; type lines like `C hello`, Ctrl-C to quit");
    let outcome = serve(&mine, me, prefix, &stop);
    finish_as(format!("node {name}"), outcome)
    // `mine` is dropped here: its name is removed while this node still holds the lock.
}

// ANCHOR: serve
/// Waits in one `poll(2)` for a line on stdin and for a message in this node's queue (a POSIX
/// queue is a descriptor), until a stop signal or a closed terminal.
fn serve(mine: &Claimed, me: usize, prefix: &str, stop: &Stop) -> Result<ExitCode, Stopped> {
    let stdin = std::io::stdin();
    let mut lines = LineReader::new();
    let mut typing = true; // until the end of input
    loop {
        let mut watched = vec![(mine.queue.as_fd(), PollFlags::POLLIN)];
        if typing {
            watched.push((stdin.as_fd(), PollFlags::POLLIN));
        }
        let ready = stop.wait(&watched, None)?;
        if ready[0] {
            receive_all(mine, me)?;
        }
        if ready.get(1) == Some(&true) {
            match lines.read_from(stdin.as_fd())? {
                Input::Lines(lines) => lines.iter().for_each(|l| send_line(l, me, prefix)),
                Input::EndOfFile(last) => {
                    check_hang_up(stdin.as_fd())?; // a closed terminal may read as the end
                    last.iter().for_each(|l| send_line(l, me, prefix));
                    println!(
                        "node {}: end of input; still receiving until Ctrl-C",
                        NAMES[me]
                    );
                    typing = false;
                }
                Input::HungUp => return Err(Stopped::Signal(Signal::SIGHUP)),
            }
        }
    }
}

// ANCHOR_END: serve

/// Takes every message that waits, highest priority first (the queue is `O_NONBLOCK`).
fn receive_all(mine: &Claimed, me: usize) -> Result<(), Stopped> {
    let mut buffer = vec![0; MSGSIZE as usize];
    loop {
        let mut priority = 0;
        match mq_receive(&mine.queue, &mut buffer, &mut priority) {
            Ok(got) => {
                let text = String::from_utf8_lossy(&buffer[..got]);
                println!("node {}: received (priority {priority}): {text}", NAMES[me]);
            }
            Err(Errno::EAGAIN) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(errno) => {
                let why = format!("mq_receive {}: {errno}", mine.name);
                return Err(Stopped::Failed(Failure::new(why)));
            }
        }
    }
}

/// Sends `C hello` to C's queue as "B: hello". A line that cannot go says why on stderr and the
/// node goes on: C may simply not be running yet.
fn send_line(line: &[u8], me: usize, prefix: &str) {
    let name = NAMES[me];
    let line = String::from_utf8_lossy(line);
    let (to, text) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    let Some(to) = parse_node(to).ok().filter(|_| !text.trim().is_empty()) else {
        println!("node {name}: start a line with A, B, C or D, then the text: `C hello`");
        return;
    };
    let message = format!("{name}: {}", text.trim());
    if message.len() > MSGSIZE as usize {
        report_error(format!(
            "node {name}: not sent: {} bytes, at most {MSGSIZE}",
            message.len()
        ));
        return;
    }
    // ANCHOR: send
    let peer = queue_name(prefix, to);
    let queue = match open_peer(&peer) {
        Ok(queue) => queue, // mq_open(O_WRONLY | O_NONBLOCK), never O_CREAT
        Err(failure) => {
            let hint = if failure.to_string().contains("ENOENT") {
                format!(" (is node {} running?)", NAMES[to])
            } else {
                String::new()
            };
            return report_error(format!("node {name}: not sent: {failure}{hint}"));
        }
    };
    match mq_send(&queue, message.as_bytes(), 0) {
        Ok(()) => println!("node {name}: sent to {peer}: {}", text.trim()),
        Err(Errno::EAGAIN) => report_error(format!(
            "node {name}: not sent: mq_send {peer}: EAGAIN: the queue is full ({MAXMSG} \
             messages wait; is node {} reading?)",
            NAMES[to]
        )),
        Err(errno) => report_error(format!("node {name}: not sent: mq_send {peer}: {errno}")),
    }
    let _ = mq_close(queue); // mq_close(3): one descriptor per line, given back at once
    // ANCHOR_END: send
}
