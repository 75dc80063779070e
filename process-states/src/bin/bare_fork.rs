//! # bare_fork: fork, _exit and waitpid, and nothing else
//!
//! The idea of the processes part in a few lines. `fork()` makes a second process. The child
//! prints its own pid and its parent's, and ends with `_exit(7)`. The parent waits for it with
//! `waitpid` and says how it ended: it exited (WIFEXITED), with status 7 (WEXITSTATUS). It
//! takes no flags and handles no signals, and it leaves nothing behind: the child is reaped.
//!
//! Run: `cargo run -p process-states --bin bare_fork`

#![forbid(unsafe_code)]

use std::process::ExitCode;

use nix::sys::wait::WaitStatus;
use nix::unistd::{getpid, getppid};
use support::cli::{Failure, parse_args, run};
use support::{Forked, exit_child, fork};

/// fork, exit and wait, with nothing around them: a parent, a child that exits with status 7, and the parent reaping it.
#[derive(clap::Parser)]
#[command(version)]
struct Args {}

// ANCHOR: bare
fn bare() -> Result<ExitCode, Failure> {
    match fork()? {
        Forked::Child => {
            println!("child: I am {}, my parent is {}", getpid(), getppid());
            exit_child(7) // _exit(7): this process ends here, with status 7
        }
        Forked::Parent(mut child) => {
            println!("parent: I am {}, I forked child {}", getpid(), child.pid());
            // waitpid(pid, &status, 0): sleeps until the child ends, then reaps it.
            match child.waitpid_with(None)? {
                // WIFEXITED(status) is true; WEXITSTATUS(status) is the code.
                WaitStatus::Exited(pid, code) => {
                    println!("parent: child {pid} exited normally, with status {code}")
                }
                // WIFSIGNALED(status) is true; WTERMSIG(status) is the signal.
                WaitStatus::Signaled(pid, signal, _) => {
                    println!("parent: child {pid} was killed by {signal}")
                }
                other => println!("parent: waitpid reported {other:?}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: bare

fn main() -> ExitCode {
    let _: Args = parse_args(); // --help and --version; no other argument
    run(bare) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
