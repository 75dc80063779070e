//! # lab_semaphore: the dining philosophers, for the semaphore lab
//!
//! Runs the lab's dinner (`semaphore::lab`): N philosophers, each a forked process, share N
//! forks, one semaphore each, and eat K times; every meal goes to a log file (`start I T`,
//! `end I T`). Then it reads the log back and says how many meals each one had and whether two
//! neighbours ever ate at once. The set is private and removed at the end, whatever happens.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`); the
//! philosophers are killed (the `Child` guards) and the set removed on the way out.
//!
//! Run: `cargo run -p semaphore --bin lab_semaphore -- --philosophers 5 --meals 20`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use semaphore::lab::{Dinner, dinner, set_table, summarize};
use support::cli::{Context, parse_args, run};
use support::stop::{Stop, finish};

/// The dining philosophers: N processes, N forks (semaphores), K meals each, and a log.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many philosophers (and forks), 2 to 64.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(2..=64))]
    philosophers: u16,
    /// How many times each one eats, 1 to 100000.
    #[arg(long, short = 'k', value_name = "K", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    meals: u32,
    /// How long a meal takes, in microseconds, 0 to 1000000.
    #[arg(long, value_name = "US", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    eat_us: u64,
    /// How long a philosopher thinks between meals at most, in microseconds, 0 to 1000000.
    #[arg(long, value_name = "US", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    think_us: u64,
    /// The log file (created, or emptied).
    #[arg(long, value_name = "PATH", default_value = "philosophers.log")]
    log: PathBuf,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let plan = Dinner {
            philosophers: args.philosophers,
            meals: args.meals,
            eat: Duration::from_micros(args.eat_us),
            think: Duration::from_micros(args.think_us),
            log: args.log.clone(),
        };
        let table = set_table(&plan)?;
        println!(
            "lab_semaphore: created {}: forks 0..{} at 1 (on the table), start line {} at 1; \
             I remove it when I stop",
            table.set, plan.philosophers, plan.philosophers
        );
        println!(
            "lab_semaphore: {} philosophers, {} meals each; log in {}",
            plan.philosophers,
            plan.meals,
            plan.log.display()
        );
        finish(dinner(&table, plan.meals, &stop).and_then(|took| {
            let text = std::fs::read_to_string(&plan.log)
                .context(format!("read {}", plan.log.display()))?;
            let summary = summarize(&text, plan.philosophers);
            println!("lab_semaphore: dinner over in {took:?}");
            for (me, meals) in summary.meals.iter().enumerate() {
                println!("philosopher {me}: ate {meals} times");
            }
            println!(
                "lab_semaphore: neighbours eating at once: {}; records out of place: {}",
                summary.overlaps, summary.malformed
            );
            Ok(ExitCode::SUCCESS)
        }))
    })
}
