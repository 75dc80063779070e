//! # duplex: parent and child talk both ways over two pipes
//!
//! Ports section 1.2.3 of the course notes (`004_0b92104986517c26.txt`; two-way communication). A
//! pipe carries bytes one way, so a conversation needs two: one from parent to child, one back. The
//! parent sends each line of its stdin to the child (a few built-in lines when stdin is a terminal
//! or empty); the child answers with the line in upper case; the parent prints both.
//!
//! With `--one-pipe` it shows why one pipe is not enough: the child sends a greeting and then
//! reads its own greeting back, because a pipe does not know who wrote what.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p pipe --bin duplex`, or `printf 'a\nb\n' | cargo run -p pipe --bin duplex`.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;

use clap::Parser;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::unistd::{pipe, read, write};
use pipe::Lines;
use support::cli::{Context, Failure, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Forked, describe, fork, run_child};

/// Parent and child hold a conversation over two pipes, one for each direction.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Use a single pipe for both directions, to see why that does not work.
    #[arg(long)]
    one_pipe: bool,
}

const BUILT_IN_LINES: [&str; 3] = ["hello, child", "a pipe carries bytes one way", "goodbye"];

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        if args.one_pipe {
            return finish(one_pipe(&stop));
        }
        // ANCHOR: two_pipes
        let lines = match lines_to_send(&stop) {
            Ok(lines) => lines,
            Err(stopped) => return finish(Err(stopped)),
        };
        let (from_parent, to_child) = pipe().context("pipe")?;
        let (from_child, to_parent) = pipe().context("pipe")?;
        match fork()? {
            Forked::Child => {
                drop((to_child, from_child)); // close(2) the parent's ends
                // Runs this, then `_exit(status)`: the child never returns into main.
                run_child(|| answer_in_upper_case(from_parent, to_parent))
            }
            Forked::Parent(mut child) => {
                drop((from_parent, to_parent)); // close(2) the child's ends
                let talked = converse(&stop, &lines, to_child, from_child);
                let status = match child.waitpid(&stop) {
                    Ok(status) => status,
                    Err(stopped) => return finish(Err(stopped)),
                };
                println!("parent: child {} {}", child.pid(), describe(&status));
                finish(talked.map(|()| ExitCode::SUCCESS))
            }
        }
        // ANCHOR_END: two_pipes
    })
}

// ANCHOR: converse
fn converse(
    stop: &Stop,
    lines: &[String],
    requests: OwnedFd,
    replies: OwnedFd,
) -> Result<(), Stopped> {
    let mut buffer = [0u8; 4096];
    let mut answers = Lines::new();
    for line in lines {
        println!("parent: sending  {line:?}");
        // Our signal handler can cut a write of more than PIPE_BUF bytes (4096 on Linux)
        // short: then the rest follows.
        let request = format!("{line}\n");
        let mut unsent = request.as_bytes();
        while !unsent.is_empty() {
            let written = stop
                .retry(|| write(&requests, unsent))
                .context("write to the child")?;
            unsent = &unsent[written..];
        }
        let reply = loop {
            if let Some(reply) = answers.next_line() {
                break reply;
            }
            let count = stop
                .retry(|| read(&replies, &mut buffer))
                .context("read from the child")?;
            if count == 0 {
                return Err(Failure::new("the child closed its pipe without answering").into());
            }
            answers.push(&buffer[..count]);
        };
        println!("parent: got back {reply:?}");
    }
    drop(requests); // close(2)
    println!("parent: closed the pipe to the child; it will read end-of-file");
    Ok(())
}
// ANCHOR_END: converse

// ANCHOR: child
fn answer_in_upper_case(requests: OwnedFd, replies: OwnedFd) -> i32 {
    let mut buffer = [0u8; 4096];
    let mut lines = Lines::new();
    loop {
        match read(&requests, &mut buffer) {
            Ok(0) => break,
            Ok(count) => lines.push(&buffer[..count]),
            Err(errno) => {
                report_error(format!("child: read from the parent: {errno}"));
                return 1;
            }
        }
        while let Some(line) = lines.next_line() {
            let answer = line.to_uppercase();
            println!("child:  received {line:?}, answering {answer:?}");
            // A blocking write returns when every byte is in the pipe. Only a signal could cut
            // it short, and a stop signal kills this child here (its inherited handler acts by
            // default in a child).
            if let Err(errno) = write(&replies, format!("{answer}\n").as_bytes()) {
                report_error(format!("child: write to the parent: {errno}"));
                return 1;
            }
        }
    }
    println!("child:  end of file from the parent, exiting");
    0
}
// ANCHOR_END: child

fn lines_to_send(stop: &Stop) -> Result<Vec<String>, Stopped> {
    let built_in = || BUILT_IN_LINES.map(String::from).to_vec();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        println!(
            "parent: stdin is a terminal; sending built-in lines (pipe text in to send your own)"
        );
        return Ok(built_in());
    }
    println!("parent: reading the lines to send from stdin, until end of file");
    let mut buffer = [0u8; 4096];
    let mut input = Lines::new();
    let mut lines = Vec::new();
    loop {
        // std's stdin would retry a read that a signal interrupted; this one ends on a stop.
        let count = stop
            .retry(|| read(stdin.as_fd(), &mut buffer))
            .context("read stdin")?;
        if count == 0 {
            lines.extend(input.rest());
            break;
        }
        input.push(&buffer[..count]);
        lines.extend(std::iter::from_fn(|| input.next_line()));
    }
    if lines.is_empty() {
        println!("parent: stdin is empty; sending built-in lines");
        return Ok(built_in());
    }
    Ok(lines)
}

// ANCHOR: one_pipe
fn one_pipe(stop: &Stop) -> Result<ExitCode, Stopped> {
    let (read_end, write_end) = pipe().context("pipe")?;
    println!("parent: one pipe for both directions: parent and child each hold both ends");
    match fork()? {
        Forked::Child => run_child(|| greet_and_listen(read_end, write_end)),
        Forked::Parent(mut child) => {
            // The parent lets the child finish before it reads, so the run is the same every
            // time. If both read at once, who gets which message would be a race.
            let status = child.waitpid(stop)?;
            println!("parent: child {} {}", child.pid(), describe(&status));
            // O_NONBLOCK: reading the empty pipe returns EAGAIN instead of sleeping forever (we
            // hold a write end ourselves, so no end-of-file comes).
            fcntl(&read_end, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).context("fcntl O_NONBLOCK")?;
            match read(&read_end, &mut [0; 64]) {
                Err(Errno::EAGAIN) => println!(
                    "parent: the pipe is empty: the child read its own greeting, so it never \
                     reached me. Two pipes, one per direction, fix this"
                ),
                Ok(n) => println!("parent: read {n} bytes the child left behind"),
                Err(errno) => return Err(Failure::new(format!("read: {errno}")).into()),
            }
            drop(write_end);
            Ok(ExitCode::SUCCESS)
        }
    }
}
// ANCHOR_END: one_pipe

// ANCHOR: greet_and_listen
fn greet_and_listen(read_end: OwnedFd, write_end: OwnedFd) -> i32 {
    let greeting = "hello from the child";
    if let Err(errno) = write(&write_end, format!("{greeting}\n").as_bytes()) {
        report_error(format!("child: write: {errno}"));
        return 1;
    }
    println!("child:  sent {greeting:?} to the parent; now reading the parent's answer");
    let mut answer = [0u8; 64];
    let count = match read(&read_end, &mut answer) {
        Ok(count) => count,
        Err(errno) => {
            report_error(format!("child: read: {errno}"));
            return 1;
        }
    };
    println!(
        "child:  read {:?}: my own message! The pipe cannot tell who wrote what",
        String::from_utf8_lossy(&answer[..count]).trim_end_matches('\n')
    );
    0
}
// ANCHOR_END: greet_and_listen
