//! # duplex: parent and child talk both ways over two pipes
//!
//! Ports seed `004_0b92104986517c26.txt`, section 1.2.3 (two-way communication). A pipe carries
//! bytes one way, so a conversation needs two: one from parent to child, one back. The parent
//! sends each line of its stdin to the child (a few built-in lines when stdin is a terminal or
//! empty); the child answers with the line in upper case; the parent prints both.
//!
//! With `--one-pipe` it shows why one pipe is not enough: the child sends a greeting and then
//! reads its own greeting back, because a pipe does not know who wrote what.
//!
//! Run: `cargo run -p pipe --bin duplex`, or `printf 'a\nb\n' | cargo run -p pipe --bin duplex`.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use clap::Parser;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use pipe::Pipe;
use support::cli::{Context, Failure, explain, parse_args, report_error, run};
use support::{Forked, describe, fork, run_child, wait_for};

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
        if args.one_pipe {
            one_pipe()
        } else {
            two_pipes()
        }
    })
}

// ANCHOR: two_pipes
fn two_pipes() -> Result<ExitCode, Failure> {
    let lines = lines_to_send()?;
    let to_child = Pipe::new()?;
    let to_parent = Pipe::new()?;
    match fork()? {
        Forked::Child => {
            drop(to_child.write_end);
            drop(to_parent.read_end);
            run_child(|| answer_in_upper_case(to_child.read_end, to_parent.write_end))
        }
        Forked::Parent { child } => {
            drop(to_child.read_end);
            drop(to_parent.write_end);
            let talked = converse(&lines, to_child.write_end, to_parent.read_end);
            let status = wait_for(child)?;
            println!("parent: child {child} {}", describe(&status));
            talked.map(|()| ExitCode::SUCCESS)
        }
    }
}

fn converse(lines: &[String], requests: OwnedFd, replies: OwnedFd) -> Result<(), Failure> {
    let mut requests = File::from(requests);
    let mut replies = BufReader::new(File::from(replies));
    for line in lines {
        requests
            .write_all(format!("{line}\n").as_bytes())
            .context("write to the child")?;
        println!("parent: sent     {line:?}");
        let mut reply = String::new();
        if replies
            .read_line(&mut reply)
            .context("read from the child")?
            == 0
        {
            return Err(Failure::new("the child closed its pipe without answering"));
        }
        println!("parent: got back {:?}", reply.trim_end_matches('\n'));
    }
    drop(requests);
    println!("parent: closed the pipe to the child; it will read end-of-file");
    Ok(())
}
// ANCHOR_END: two_pipes

// ANCHOR: child
fn answer_in_upper_case(requests: OwnedFd, replies: OwnedFd) -> i32 {
    let mut replies = File::from(replies);
    for line in BufReader::new(File::from(requests)).lines() {
        let line = match line {
            Ok(line) => line,
            Err(err) => {
                report_error(format!("child: read from the parent: {}", explain(&err)));
                return 1;
            }
        };
        let answer = line.to_uppercase();
        println!("child:  received {line:?}, answering {answer:?}");
        if let Err(err) = replies.write_all(format!("{answer}\n").as_bytes()) {
            report_error(format!("child: write to the parent: {}", explain(&err)));
            return 1;
        }
    }
    println!("child:  end of file from the parent, exiting");
    0
}
// ANCHOR_END: child

fn lines_to_send() -> Result<Vec<String>, Failure> {
    let built_in = || BUILT_IN_LINES.map(String::from).to_vec();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        println!(
            "parent: stdin is a terminal; sending built-in lines (pipe text in to send your own)"
        );
        return Ok(built_in());
    }
    println!("parent: reading the lines to send from stdin, until end of file");
    let lines: Vec<String> = stdin
        .lock()
        .lines()
        .collect::<Result<_, _>>()
        .context("read stdin")?;
    if lines.is_empty() {
        println!("parent: stdin is empty; sending built-in lines");
        return Ok(built_in());
    }
    Ok(lines)
}

// ANCHOR: one_pipe
fn one_pipe() -> Result<ExitCode, Failure> {
    let Pipe {
        read_end,
        write_end,
    } = Pipe::new()?;
    println!("one pipe for both directions: parent and child each hold both ends");
    match fork()? {
        Forked::Child => run_child(|| greet_and_listen(read_end, write_end)),
        Forked::Parent { child } => {
            // The parent lets the child finish before it reads, so the run is the same every
            // time. If both read at once, who gets which message would be a race.
            let status = wait_for(child)?;
            println!("parent: child {child} {}", describe(&status));
            fcntl(&read_end, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).context("fcntl O_NONBLOCK")?;
            match nix::unistd::read(&read_end, &mut [0; 64]) {
                Err(Errno::EAGAIN) => println!(
                    "parent: the pipe is empty: the child read its own greeting, so it never \
                     reached me. Two pipes, one per direction, fix this"
                ),
                Ok(n) => println!("parent: read {n} bytes the child left behind"),
                Err(errno) => return Err(Failure::new(format!("read: {errno}"))),
            }
            drop(write_end);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn greet_and_listen(read_end: OwnedFd, write_end: OwnedFd) -> i32 {
    let greeting = "hello from the child";
    if let Err(errno) = nix::unistd::write(&write_end, format!("{greeting}\n").as_bytes()) {
        report_error(format!("child: write: {errno}"));
        return 1;
    }
    println!("child:  sent {greeting:?} to the parent; now reading the parent's answer");
    let mut answer = String::new();
    if let Err(err) = BufReader::new(File::from(read_end)).read_line(&mut answer) {
        report_error(format!("child: read: {}", explain(&err)));
        return 1;
    }
    println!(
        "child:  read {:?}: my own message! The pipe cannot tell who wrote what",
        answer.trim_end_matches('\n')
    );
    0
}
// ANCHOR_END: one_pipe
