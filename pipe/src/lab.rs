//! The pipe lab: `a | b | c` for any number of commands, the way a shell builds it.
//!
//! [`pipeline`] is the student's work: one pipe between each pair of neighbouring stages, one
//! child per stage, each child's stdin and stdout moved onto its pipe ends with `dup2`, every end
//! nobody needs closed, then `execvp`; the parent waits for every stage and returns their
//! statuses in order. The `lab_pipe` binary runs it from the command line. The book's page for
//! this lab is `book/src/labs/pipe.md`.

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use nix::sys::wait::WaitStatus;
use support::cli::Failure;

/// Runs the commands of `stages` connected by pipes, like the shell's
/// `stages[0] | stages[1] | ... | stages[n-1]`, and returns the status of every stage, in the
/// order of `stages`, once all of them have ended.
///
/// Each stage is a command and its arguments (`["sort", "-r"]`); the program is found on `PATH`
/// as `execvp(3)` does. The first stage reads this process's stdin, the last one writes to this
/// process's stdout; everything in between goes through pipes.
///
/// - Every stage is started before any is waited for: a stage may write more than a pipe holds
///   (64 KiB) before the next one reads.
/// - A stage's program gets no pipe end but its own stdin and stdout, on 0 and 1 (the first
///   and last stages keep this process's). Descriptors this process already held without
///   close-on-exec reach every stage, as they reach any child: leave them open.
/// - Once this returns, this process holds no pipe end.
/// - No stage is left behind, running or as a zombie: each one is reaped before this returns,
///   even when something fails half way. Wait with `Child::waitpid_with(None)` from `support`
///   (`Child::waitpid` needs a `Stop`, and `pipeline` has none).
/// - A stage whose program cannot be found exits with status 127, one that cannot be run with
///   126 (the shells' convention), after one line on stderr naming the command.
/// - A stage starts with SIGPIPE's default action, as under a shell, so that `yes | head -1`
///   ends `yes` by SIGPIPE.
///
/// An empty list, an empty stage or a word holding a NUL byte is an error, and nothing is run.
#[allow(unused_variables)] // The handout's `todo!()` does not use `stages` yet.
pub fn pipeline(stages: &[Vec<String>]) -> Result<Vec<WaitStatus>, Failure> {
    // BEGIN SOLUTION
    use std::ffi::CString;
    use std::os::fd::OwnedFd;

    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::unistd::{dup2_stdin, dup2_stdout, execvp, pipe2};
    use support::cli::{Context, report_error};
    use support::{Child, Forked, exit_child, fork};

    use crate::signal_sigpipe_default;

    // Everything that can be refused is checked before the first fork.
    if stages.is_empty() {
        return Err(Failure::new("pipeline: no stages to run"));
    }
    let mut commands: Vec<Vec<CString>> = Vec::with_capacity(stages.len());
    for (n, stage) in stages.iter().enumerate() {
        if stage.is_empty() {
            return Err(Failure::new(format!("pipeline: stage {} is empty", n + 1)));
        }
        let words = stage
            .iter()
            .map(|word| CString::new(word.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Failure::new(format!("pipeline: stage {} holds a NUL byte", n + 1)))?;
        commands.push(words);
    }

    // The guards: if anything fails below, dropping them kills and reaps the stages started.
    let mut children: Vec<Child> = Vec::with_capacity(commands.len());
    // The read end of the pipe from the previous stage: this stage's stdin.
    let mut from_previous: Option<OwnedFd> = None;
    for (n, words) in commands.iter().enumerate() {
        // The pipe to the next stage (none after the last). O_CLOEXEC: a program we exec must
        // hold a pipe only as its stdin or stdout, never as a stray extra descriptor.
        let mut to_next: Option<(OwnedFd, OwnedFd)> = if n + 1 < commands.len() {
            Some(pipe2(OFlag::O_CLOEXEC).context("pipe2")?)
        } else {
            None
        };
        match fork()? {
            Forked::Parent(child) => children.push(child),
            Forked::Child => {
                // stdin from the previous pipe, stdout into the next one; then the originals
                // go (drop is close(2)): this stage needs neither the next pipe's read end nor
                // any second copy of the ends it uses.
                if let Some(read_end) = from_previous.take() {
                    if let Err(errno) = dup2_stdin(&read_end) {
                        report_error(format!("dup2: {errno}"));
                        exit_child(126);
                    }
                    drop(read_end);
                }
                if let Some((read_end, write_end)) = to_next.take() {
                    drop(read_end);
                    if let Err(errno) = dup2_stdout(&write_end) {
                        report_error(format!("dup2: {errno}"));
                        exit_child(126);
                    }
                    drop(write_end);
                }
                // Rust ignores SIGPIPE, and exec keeps "ignore": give it back its default.
                if let Err(failure) = signal_sigpipe_default() {
                    report_error(failure);
                    exit_child(126);
                }
                // execvp returns only when it failed.
                let Err(errno) = execvp(&words[0], words);
                report_error(format!(
                    "cannot run `{}`: {errno}",
                    words[0].to_string_lossy()
                ));
                exit_child(if errno == Errno::ENOENT { 127 } else { 126 });
            }
        }
        // The parent keeps no end a stage uses: the previous read end now belongs to the stage
        // just started, and so does this write end. A write end left open here would keep the
        // next stage from ever seeing end-of-file.
        from_previous = to_next.map(|(read_end, write_end)| {
            drop(write_end);
            read_end
        });
    }

    // Every stage runs now; wait for each in turn (waiting for one while the others run is
    // fine: they all make progress on their own).
    let mut statuses = Vec::with_capacity(children.len());
    for child in &mut children {
        statuses.push(child.waitpid_with(None)?);
    }
    Ok(statuses)
    // END SOLUTION
}
