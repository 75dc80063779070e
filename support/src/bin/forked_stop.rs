//! # forked_stop: a parent and its child, each stopping on its own signals
//!
//! The parent installs its stop handling, then forks. The child installs its own and waits in
//! `read(2)` on a pipe that nobody writes. A signal sent to the child alone runs the child's
//! handler: the child's `read` fails with EINTR, it says which signal came, and it exits with
//! 128 + its number. A signal to the parent ends the parent's `waitpid`; the parent then kills
//! and reaps the child on its way out. If the parent is killed outright (SIGKILL), the kernel
//! sends the child SIGTERM (`PR_SET_PDEATHSIG`), so the child never outlives it.
//!
//! With `--child-without-handler`, the child skips its own installation: a signal then does
//! what it does by default, and the child dies of it.
//!
//! Run: `cargo run -p support --bin forked_stop`, then `kill -TERM <child pid>` in another
//! terminal (or Ctrl-C, which the terminal sends to both).

use std::process::ExitCode;

use clap::Parser;
use nix::unistd::read;
use support::cli::{parse_args, report_error, run};
use support::stop::{Stop, Stopped, exit_status_for, finish};
use support::{Forked, Pipe, describe, fork, run_child};

/// A parent and a forked child, each stopping on its own signals.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Let the child keep the parent's handlers instead of installing its own.
    #[arg(long)]
    child_without_handler: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: parent
        let stop = Stop::install()?;
        println!(
            "parent {}: stop handling installed (signal-hook)",
            std::process::id()
        );
        let pipe = Pipe::new()?;
        let mut child = match fork()? {
            Forked::Child => run_child(|| child_main(&pipe, args.child_without_handler)),
            Forked::Parent(child) => child,
        };
        drop(pipe);
        println!(
            "parent: forked child {}; waiting for it in waitpid",
            child.pid()
        );
        let outcome = child.waitpid(&stop).map(|status| {
            println!("parent: child {} {}", child.pid(), describe(&status));
            ExitCode::SUCCESS
        });
        // On a stop signal, `child` is dropped on the way out: killed and reaped.
        finish(outcome)
        // ANCHOR_END: parent
    })
}

// ANCHOR: child_main
fn child_main(pipe: &Pipe, without_handler: bool) -> i32 {
    let me = std::process::id();
    let waiting = "waiting in read(2) on a pipe nobody writes";
    if without_handler {
        println!("child {me}: kept the parent's handlers, which act by default here; {waiting}");
        // A stop signal kills this process inside read(): nothing after it runs.
        let _ = read(&pipe.read_end, &mut [0u8; 1]);
        return 0;
    }
    let stop = match Stop::install() {
        Ok(stop) => stop,
        Err(failure) => {
            report_error(failure);
            return 1;
        }
    };
    println!("child {me}: installed its own stop handling; {waiting}");
    match stop.retry(|| read(&pipe.read_end, &mut [0u8; 1])) {
        Ok(_) => {
            println!("child {me}: read returned; exiting");
            0
        }
        Err(Stopped::Signal(signal)) => {
            println!("child {me}: my handler ran: got {signal}; exiting");
            exit_status_for(signal).into()
        }
        Err(Stopped::Failed(errno)) => {
            report_error(format!("read: {errno}"));
            1
        }
    }
}
// ANCHOR_END: child_main
