//! # pipeline: `ls | wc -l` built by hand with pipe, fork, dup2 and exec
//!
//! What a shell does for `ls | wc -l`, the lesson the seed (`004_0b92104986517c26.txt`,
//! section 1) stops short of: create a pipe, fork one child per command, make the first child's
//! stdout the write end and the second child's stdin the read end (dup2), exec the commands,
//! close every end in the parent, and wait for both. The exit status of each stage is reported.
//!
//! Run: `cargo run -p pipe --bin pipeline`, or `... --bin pipeline -- 'ls -l /' 'wc -l'`.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use clap::Parser;
use nix::sys::wait::WaitStatus;
use nix::unistd::{Pid, dup2_stdin, dup2_stdout, execvp};
use pipe::Pipe;
use support::cli::{Failure, parse_args, program_name, run};
use support::{Forked, describe, exit_child, fork, wait_for};

/// Runs `FIRST | SECOND` the way a shell does, with pipe, fork, dup2 and exec.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The first command, split on whitespace; its stdout goes into the pipe.
    #[arg(default_value = "ls")]
    first: String,
    /// The second command, split on whitespace; its stdin comes from the pipe.
    #[arg(default_value = "wc -l")]
    second: String,
    /// Print only what the pipeline prints, without the narration.
    #[arg(long)]
    quiet: bool,
}

/// Which end of the pipe replaces which standard stream in a stage.
enum Plumbing {
    StdoutIntoPipe,
    StdinFromPipe,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    let say = |text: String| {
        if !args.quiet {
            println!("pipeline: {text}");
        }
    };
    run(|| {
        let first = command_words(&args.first, "first")?;
        let second = command_words(&args.second, "second")?;
        say(format!("running `{} | {}`", args.first, args.second));
        // ANCHOR: plumbing
        let Pipe {
            read_end,
            write_end,
        } = Pipe::new()?;
        let writer = start_stage(&first, Plumbing::StdoutIntoPipe, &read_end, &write_end)?;
        say(format!(
            "started `{}` as pid {writer}; its stdout is the pipe",
            args.first
        ));
        let reader = start_stage(&second, Plumbing::StdinFromPipe, &read_end, &write_end)?;
        say(format!(
            "started `{}` as pid {reader}; its stdin is the pipe",
            args.second
        ));
        // The parent's copies must go too: while any write end is open, `wc` never sees
        // end-of-file and the pipeline never ends.
        drop(read_end);
        drop(write_end);
        // ANCHOR_END: plumbing
        let mut all_succeeded = true;
        for (pid, command) in [(writer, &args.first), (reader, &args.second)] {
            let status = wait_for(pid)?;
            let note = match status {
                WaitStatus::Exited(_, 127) => ": the command could not be run",
                _ => "",
            };
            say(format!(
                "`{command}` (pid {pid}) {}{note}",
                describe(&status)
            ));
            all_succeeded &= matches!(status, WaitStatus::Exited(_, 0));
        }
        Ok(if all_succeeded {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

// ANCHOR: stage
fn start_stage(
    words: &[CString],
    plumbing: Plumbing,
    read_end: &OwnedFd,
    write_end: &OwnedFd,
) -> Result<Pid, Failure> {
    match fork()? {
        Forked::Parent { child } => Ok(child),
        Forked::Child => {
            let redirected = match plumbing {
                Plumbing::StdoutIntoPipe => dup2_stdout(write_end),
                Plumbing::StdinFromPipe => dup2_stdin(read_end),
            };
            if let Err(errno) = redirected {
                eprintln!("{}: dup2: {errno}", program_name());
                exit_child(126);
            }
            // The pipe's own descriptors are close-on-exec: after exec, the command holds the
            // pipe only as its stdin or stdout. execvp returns only when it failed.
            let Err(errno) = execvp(&words[0], words);
            eprintln!(
                "{}: cannot run `{}`: {errno}",
                program_name(),
                words[0].to_string_lossy()
            );
            // 127 is what shells report for a command that could not be found.
            exit_child(127)
        }
    }
}
// ANCHOR_END: stage

fn command_words(command: &str, which: &str) -> Result<Vec<CString>, Failure> {
    let words: Vec<CString> = command
        .split_whitespace()
        .map(CString::new)
        .collect::<Result<_, _>>()
        .map_err(|_| Failure::new(format!("the {which} command contains a NUL byte")))?;
    if words.is_empty() {
        return Err(Failure::new(format!("the {which} command is empty")));
    }
    Ok(words)
}
