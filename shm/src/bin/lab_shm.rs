//! # lab_shm: a ring buffer in shared memory, for the shm lab
//!
//! Runs the lab's exchange (`shm::lab`): P producers, each a forked process, put their items
//! (producer, sequence number, value) into a ring of slots in a System V segment; C consumers
//! take them out. Three semaphores guard the ring: EMPTY (free slots), FULL (filled slots) and
//! MUTEX. Each consumer prints what it got from each producer (count, sum of the values, items
//! out of order); then this prints what each producer sent. The segment and the set are
//! private and removed at the end, whatever happens.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`); the
//! children are killed (the `Child` guards) and both objects removed on the way out.
//!
//! Run: `cargo run -p shm --bin lab_shm -- --producers 4 --consumers 3 --items 100000`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use shm::lab::{HEADER, Plan, SLOT, create_objects, exchange, share_of, value_of};
use support::cli::{parse_args, run};
use support::stop::{Stop, finish};

/// Producers and consumers through a ring buffer in a shared segment, with three semaphores.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many producers, 1 to 64.
    #[arg(long, short = 'p', value_name = "P", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    producers: u32,
    /// How many consumers, 1 to 64.
    #[arg(long, short = 'c', value_name = "C", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    consumers: u32,
    /// How many items in all, 1 to 10000000.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    items: u32,
    /// How many slots the ring has, 1 to 32767.
    #[arg(long, value_name = "S", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=32767))]
    slots: u32,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let plan = Plan {
            producers: args.producers,
            consumers: args.consumers,
            items: args.items,
            slots: args.slots,
        };
        let objects = create_objects(&plan)?;
        println!(
            "lab_shm: created {}: a ring of {} slots of {SLOT} bytes after a {HEADER}-byte \
             header; I remove it when I stop",
            objects.segment, plan.slots
        );
        println!(
            "lab_shm: created {}: empty = {}, full = 0, mutex = 1; I remove it when I stop",
            objects.set, plan.slots
        );
        println!(
            "lab_shm: {} producers, {} consumers, {} items",
            plan.producers, plan.consumers, plan.items
        );
        let started = Instant::now();
        finish(exchange(&objects, &plan, &stop).map(|()| {
            println!("lab_shm: done in {:?}", started.elapsed());
            for producer in 0..plan.producers {
                let count = share_of(producer, plan.producers, plan.items);
                let sum =
                    (0..count).fold(0u64, |sum, seq| sum.wrapping_add(value_of(producer, seq)));
                println!("producer {producer}: sent {count} items, sum {sum}");
            }
            ExitCode::SUCCESS
        }))
    })
}
