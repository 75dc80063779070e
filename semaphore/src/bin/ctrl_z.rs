//! # ctrl_z: what Ctrl-Z and `fg` do to a P that is waiting
//!
//! A process that waits in `semop` (or `semtimedop`) and is stopped, by
//! Ctrl-Z (SIGTSTP) or SIGSTOP, then continued, by `fg` or SIGCONT, does not go back to
//! waiting. On Linux the call returns -1 with errno EINTR, although no signal handler ran: see
//! signal(7), "Interruption of system calls and library functions by stop signals". A C program
//! that ignores the -1 goes on as if its P had succeeded, into its critical section, without the
//! lock.
//!
//! ctrl_z creates a private set of one semaphore at 0, so that a P on it waits, and does that
//! P once with `semtimedop`, as a C program that does not check would: no second try. It then
//! says what the call returned, and whether it holds the semaphore. Nothing in the course notes
//! covers this; their P and V are the section on semaphores of `004_0b92104986517c26.txt`.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), and tells
//! the EINTR they cause from the one a stop and continue causes: only the first has a stop
//! signal behind it. SIGTSTP and SIGCONT keep their default actions. The set is removed on
//! every way out.
//!
//! Run: `cargo run -p semaphore --bin ctrl_z`, press Ctrl-Z, then type `fg`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use semaphore::{Key, SemOp, semget};
use support::cli::{parse_args, run};
use support::stop::{Stop, StopSignal, Stopped, finish};

/// Waits in one P, once, and says what Ctrl-Z and `fg` (stop and continue) make it return.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How long the P waits at most, in seconds, 1 to 3600.
    #[arg(long, value_name = "S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout_s: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(wait_once(&args, &stop))
    })
}

// ANCHOR: wait_once
fn wait_once(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let set = semget(Key::PRIVATE, 1, libc::IPC_CREAT | 0o600)?; // removed when `set` drops
    set.semctl_setval(0, 0)?; // 0: a P waits
    println!("ctrl_z: created {set}; semaphore 0 = 0, so a P waits");
    println!(
        "ctrl_z: waiting in semtimedop(P) for at most {} s: press Ctrl-Z, then type fg",
        args.timeout_s
    );
    // One call, and its result taken as it comes: what a C program that does not check does.
    let result = set.semtimedop(&[SemOp::p(0, 1)], Duration::from_secs(args.timeout_s));
    let value = set.semctl_getval(0)?;
    match result {
        Err(err) if err.errno() == Some(Errno::EINTR) => {
            if let Err(StopSignal(signal)) = stop.check() {
                return Err(Stopped::Signal(signal)); // Ctrl-C, SIGTERM or SIGHUP
            }
            println!("ctrl_z: semtimedop returned -1, errno EINTR, and no handler ran:");
            println!("ctrl_z: the stop and the continue ended the wait, and the P was not done");
            println!(
                "ctrl_z: semaphore 0 is still {value}; a program that ignored the -1 would now \
                 be in its critical section without the lock"
            );
        }
        Err(err) if err.errno() == Some(Errno::EAGAIN) => println!(
            "ctrl_z: nobody stopped me: semtimedop gave up after {} s (EAGAIN); run me again \
             and press Ctrl-Z while I wait",
            args.timeout_s
        ),
        Err(err) => return Err(err.into()),
        Ok(()) => println!("ctrl_z: the P went through: another process did a V on {set}"),
    }
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: wait_once
