//! # pipeline: `ls | wc -l` built by hand with pipe, fork, dup2 and exec
//!
//! What a shell does for `ls | wc -l`, the lesson the course notes (`004_0b92104986517c26.txt`,
//! section 1) stops short of: create a pipe, fork one child per command, make the first child's
//! stdout the write end and the second child's stdin the read end (dup2), exec the commands,
//! close every end in the parent, and wait for both. The exit status of each stage is reported.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p pipe --bin pipeline`, or `... --bin pipeline -- 'ls -l /' 'wc -l'`.

#![forbid(unsafe_code)]

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use clap::Parser;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{dup2_stdin, dup2_stdout, execvp, pipe2};
use pipe::signal_sigpipe_default;
use support::cli::{Context, Failure, parse_args, report_error, run};
use support::stop::{Stop, Stopped, finish};
use support::{Child, Forked, describe, exit_child, fork};

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
#[derive(Clone, Copy)]
enum Plumbing {
    StdoutIntoPipe,
    StdinFromPipe,
}

impl Args {
    /// The narration, unless `--quiet` asked for none.
    fn say(&self, text: String) {
        if !self.quiet {
            println!("pipeline: {text}");
        }
    }
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let first = command_words(&args.first, "first")?;
        let second = command_words(&args.second, "second")?;
        args.say(format!("running `{} | {}`", args.first, args.second));
        // ANCHOR: plumbing
        // O_CLOEXEC: the commands we exec must hold the pipe only as their stdin or stdout.
        let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
        let writer = match fork()? {
            Forked::Child => exec_stage(&first, Plumbing::StdoutIntoPipe, &read_end, &write_end),
            Forked::Parent(child) => child,
        };
        let pid = writer.pid();
        args.say(format!(
            "started `{}` as pid {pid}; its stdout is the pipe",
            args.first
        ));
        // If this fork fails, `writer`'s guard kills and reaps the first stage.
        let reader = match fork()? {
            Forked::Child => exec_stage(&second, Plumbing::StdinFromPipe, &read_end, &write_end),
            Forked::Parent(child) => child,
        };
        let pid = reader.pid();
        args.say(format!(
            "started `{}` as pid {pid}; its stdin is the pipe",
            args.second
        ));
        // The parent's copies must go too (drop is close(2)): while any write end is open, `wc`
        // never sees end-of-file and the pipeline never ends.
        drop(read_end);
        drop(write_end);
        // ANCHOR_END: plumbing
        finish(wait_for_both(&stop, &args, writer, reader))
    })
}

// ANCHOR: stage
/// The child's side of a `fork`: `dup2` and `execvp`. It never returns.
fn exec_stage(words: &[CString], plumbing: Plumbing, read_end: &OwnedFd, write_end: &OwnedFd) -> ! {
    // The pipe's end becomes this process's stdout (1) or stdin (0).
    let redirected = match plumbing {
        Plumbing::StdoutIntoPipe => dup2_stdout(write_end),
        Plumbing::StdinFromPipe => dup2_stdin(read_end),
    };
    if let Err(errno) = redirected {
        report_error(format!("dup2: {errno}"));
        exit_child(126);
    }
    // signal(SIGPIPE, SIG_DFL): back to the default action a C program starts with
    // (exec keeps Rust's "ignore"). Without it, `yes` would get EPIPE once `head` is
    // done and exit with an error, not die quietly of SIGPIPE as under a shell.
    if let Err(failure) = signal_sigpipe_default() {
        report_error(failure);
        exit_child(126);
    }
    // The pipe's own descriptors are close-on-exec: after exec, the command holds the
    // pipe only as its stdin or stdout. support::fork's PR_SET_PDEATHSIG survives exec.
    // execvp returns only when it failed.
    let Err(errno) = execvp(&words[0], words);
    report_error(format!(
        "cannot run `{}`: {errno}",
        words[0].to_string_lossy()
    ));
    // The shells' convention: 127 for a command not found, 126 for one found but not
    // runnable (no permission, not an executable).
    exit_child(if errno == Errno::ENOENT { 127 } else { 126 })
}
// ANCHOR_END: stage

// ANCHOR: wait
fn wait_for_both(
    stop: &Stop,
    args: &Args,
    mut writer: Child,
    mut reader: Child,
) -> Result<ExitCode, Stopped> {
    // A stop signal ends either wait; the guards then kill and reap both stages.
    let statuses = [writer.waitpid(stop)?, reader.waitpid(stop)?];
    let reader_done = matches!(statuses[1], WaitStatus::Exited(_, 0));
    let mut all_succeeded = true;
    let stages = [(&writer, &args.first), (&reader, &args.second)];
    for ((stage, command), status) in stages.into_iter().zip(statuses) {
        let (succeeded, note) = match status {
            WaitStatus::Exited(_, 0) => (true, ""),
            // The usual end of a producer whose consumer has read all it wanted (`yes |
            // head -1`): its next write met a pipe with no reader.
            WaitStatus::Signaled(_, Signal::SIGPIPE, _) if reader_done => (
                true,
                ": its reader had finished, the normal end of `yes | head`",
            ),
            WaitStatus::Signaled(_, Signal::SIGPIPE, _) => (false, ": its reader had ended"),
            WaitStatus::Exited(_, 127) => (false, ": the command was not found"),
            WaitStatus::Exited(_, 126) => (false, ": the command could not be run"),
            _ => (false, ""),
        };
        let pid = stage.pid();
        args.say(format!(
            "`{command}` (pid {pid}) {}{note}",
            describe(&status)
        ));
        all_succeeded &= succeeded;
    }
    Ok(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
// ANCHOR_END: wait

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
