//! # lab_pipe: runs the pipe lab's `pipeline` from the command line
//!
//! Each argument is one stage, split on whitespace: `lab_pipe 'ls -l' 'grep -c rs'` runs
//! `ls -l | grep -c rs`. The pipeline's output comes first; then one line per stage says how it
//! ended. The exit status is the last stage's, as in a shell.
//!
//! This binary is the harness; the work is in `src/lab.rs` (see the book's lab page).
//!
//! Run: `cargo run -p pipe --bin lab_pipe`, or `... --bin lab_pipe -- 'seq 5' 'sort -r'`.

#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use nix::sys::wait::WaitStatus;
use pipe::lab::pipeline;
use support::cli::{Context, Failure, parse_args, run};
use support::describe;

/// Runs STAGE... connected by pipes, like a shell's `a | b | c`, with the lab's `pipeline`.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The commands, one per argument, each split on whitespace.
    #[arg(default_values = ["ls", "wc -l"])]
    stages: Vec<String>,
    /// Print only what the pipeline prints, not how each stage ended.
    #[arg(long)]
    quiet: bool,
    /// After `pipeline` returns, say so and wait for the end of stdin before exiting, so that
    /// this process can be inspected in /proc (children, descriptors).
    #[arg(long)]
    hold: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stages: Vec<Vec<String>> = args
            .stages
            .iter()
            .map(|stage| stage.split_whitespace().map(str::to_owned).collect())
            .collect();
        let statuses = pipeline(&stages)?;
        if statuses.len() != stages.len() {
            return Err(Failure::new(format!(
                "pipeline returned {} statuses for {} stages",
                statuses.len(),
                stages.len()
            )));
        }
        if !args.quiet {
            for (n, (command, status)) in args.stages.iter().zip(&statuses).enumerate() {
                println!("lab_pipe: stage {} `{command}` {}", n + 1, describe(status));
            }
        }
        if args.hold {
            println!(
                "lab_pipe: pipeline returned in pid {}; holding until the end of stdin",
                std::process::id()
            );
            std::io::stdin()
                .read_to_end(&mut Vec::new())
                .context("read stdin")?;
        }
        Ok(match statuses.last() {
            Some(WaitStatus::Exited(_, code)) => ExitCode::from(*code as u8),
            Some(WaitStatus::Signaled(_, signal, _)) => ExitCode::from(128 + *signal as u8),
            _ => ExitCode::FAILURE,
        })
    })
}
