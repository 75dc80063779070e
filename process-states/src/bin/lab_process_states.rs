//! # lab_process_states: runs the process-states lab's `state_of` and `drive_to`
//!
//! - `lab_process_states state PID...` prints the state letter of each process.
//! - `lab_process_states drive [STATE...]` starts a puppet child and drives it through the
//!   states in order (`S R T S Z` by default), saying after each one where it is; then it waits
//!   for a line on stdin (Enter; the end of input lets it go on at once), so that the puppet can
//!   be looked at from another terminal (`ps -o pid,stat,cmd -p PID`). At the end it reaps the
//!   puppet.
//!
//! This binary is the harness; the work is in `src/lab.rs` (see the book's lab page).
//!
//! Run: `cargo run -p process-states --bin lab_process_states -- drive S R T Z`.

#![forbid(unsafe_code)]

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nix::unistd::Pid;
use process_states::lab::{Puppet, drive_to, state_of};
use support::cli::{Context, Failure, parse_args, run};
use support::describe;

/// Reads process states with the lab's `state_of`, and drives a child with its `drive_to`.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Option<Task>,
}

#[derive(Subcommand)]
enum Task {
    /// Print the state letter of each process.
    State {
        /// The process ids.
        #[arg(required = true)]
        pids: Vec<i32>,
    },
    /// Start a puppet child and drive it through STATE... (each one of S, R, T, Z).
    Drive {
        /// The states, in order.
        #[arg(default_values = ["S", "R", "T", "S", "Z"])]
        states: Vec<char>,
    },
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        match args.command {
            Some(Task::State { pids }) => {
                for pid in pids {
                    let letter = state_of(Pid::from_raw(pid))?;
                    println!("lab_process_states: pid {pid} is in state {letter}");
                }
            }
            Some(Task::Drive { states }) => drive(&states)?,
            None => drive(&['S', 'R', 'T', 'S', 'Z'])?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn drive(states: &[char]) -> Result<(), Failure> {
    let mut puppet = Puppet::start()?;
    let pid = puppet.pid();
    println!(
        "lab_process_states: pid {}, puppet pid {pid}",
        std::process::id()
    );
    let mut stdin = std::io::stdin().lock();
    for &state in states {
        drive_to(&mut puppet, state)?;
        println!("lab_process_states: puppet {pid} driven to {state}; Enter goes on");
        stdin.read_line(&mut String::new()).context("read stdin")?;
    }
    let status = puppet.finish()?;
    println!(
        "lab_process_states: puppet {pid} reaped: it {}",
        describe(&status)
    );
    Ok(())
}
