//! # lab_posix: a job queue with priorities, for the posix lab
//!
//! Runs the lab (`posix::lab`): producers and workers, each a forked process, share one POSIX
//! message queue and one named semaphore. Producers submit jobs with priorities 1 to 9, workers
//! take the highest first and post the semaphore once per job done, and the parent waits until
//! the semaphore has counted every job, with a deadline. Then it compares the count with the
//! workers' log. The queue and the semaphore are created 0600 and removed at the end, whatever
//! happens.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP (`Stop::install`); the children are killed (the
//! `Child` guards) and both names removed on the way out.
//!
//! Run: `cargo run -p posix --bin lab_posix -- --producers 3 --workers 4 --jobs 30`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use posix::lab::{Plan, open_shop, run as run_jobs};
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, finish};

/// A job queue with priorities: P producers, W workers, one POSIX queue, one named semaphore.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The queue's name: one '/' then up to 250 characters, no other '/'.
    #[arg(long, value_name = "NAME", default_value = "/ipc-labs-lab-jobs", value_parser = posix_name)]
    queue: String,
    /// The semaphore that counts jobs done (a file /dev/shm/sem.NAME).
    #[arg(long, value_name = "NAME", default_value = "/ipc-labs-lab-done",
          value_parser = posix_name)]
    done: String,
    /// How many producer processes, 1 to 64.
    #[arg(long, short = 'p', value_name = "P", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    producers: u32,
    /// How many worker processes, 1 to 64.
    #[arg(long, short = 'w', value_name = "W", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// How many jobs each producer submits, 1 to 100000.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    jobs: u32,
    /// How many messages the queue holds (mq_maxmsg); 10 at most without privileges.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(i64).range(1..=65_536))]
    capacity: i64,
    /// The largest message in bytes (mq_msgsize); 8192 at most without privileges.
    #[arg(long, value_name = "BYTES", default_value_t = 256,
          value_parser = clap::value_parser!(i64).range(1..=1_048_576))]
    msgsize: i64,
    /// The payload of each job in bytes, 0 to 65536 (over --msgsize: EMSGSIZE).
    #[arg(long, value_name = "BYTES", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(0..=65_536))]
    payload: u32,
    /// How long one job takes a worker, in microseconds, 0 to 1000000.
    #[arg(long, value_name = "US", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    work_us: u64,
    /// Queue every job before any worker starts (needs --capacity >= producers × jobs).
    #[arg(long)]
    jobs_first: bool,
    /// The worker that takes job P.J hangs in it (kill it to see what the count says).
    #[arg(long, value_name = "P.J", value_parser = job_id)]
    hang_on: Option<(u32, u32)>,
    /// How long the jobs may take in all, in milliseconds, 1 to 600000.
    #[arg(long, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    deadline_ms: u64,
    /// The workers' log, one record per job done (created, or emptied).
    #[arg(long, value_name = "PATH", default_value = "jobs.log")]
    log: PathBuf,
}

/// A POSIX IPC name as mq_overview(7) and sem_overview(7) want it.
fn posix_name(name: &str) -> Result<String, String> {
    let rest = name.strip_prefix('/').ok_or("a name starts with '/'")?;
    if rest.is_empty() || rest.contains('/') || rest.len() > 250 || rest.contains('\0') {
        return Err("one '/', then 1 to 250 characters with no other '/'".to_owned());
    }
    Ok(name.to_owned())
}

/// `P.J`: job J of producer P.
fn job_id(text: &str) -> Result<(u32, u32), String> {
    let parsed = text
        .split_once('.')
        .and_then(|(p, j)| Some((p.parse().ok()?, j.parse().ok()?)));
    parsed.ok_or_else(|| "a job is P.J, such as 0.3".to_owned())
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let plan = Plan {
            queue: args.queue.clone(),
            done: args.done.clone(),
            producers: args.producers,
            workers: args.workers,
            jobs: args.jobs,
            capacity: args.capacity,
            msgsize: args.msgsize,
            payload: args.payload as usize,
            work: Duration::from_micros(args.work_us),
            jobs_first: args.jobs_first,
            hang_on: args.hang_on,
            deadline: Duration::from_millis(args.deadline_ms),
            log: args.log.clone(),
        };
        let shop = open_shop(&plan)?;
        println!(
            "lab_posix: created queue {} ({} messages of at most {} bytes) and semaphore {} at 0, \
             both 0600; I remove them when I stop",
            plan.queue, plan.capacity, plan.msgsize, plan.done
        );
        println!(
            "lab_posix: {} × {}, {}{}; log in {}",
            plural(plan.producers, "producer"),
            plural(plan.jobs, "job"),
            plural(plan.workers, "worker"),
            if plan.jobs_first {
                ", after every job is queued"
            } else {
                ""
            },
            plan.log.display()
        );
        finish(run_jobs(&shop, &plan, &stop).and_then(|outcome| {
            println!(
                "lab_posix: the semaphore counted {} jobs done ({} within the deadline); the log \
                 holds {} records; {} jobs to do",
                outcome.counted,
                outcome.in_time,
                outcome.records,
                plan.total()
            );
            if !outcome.failures.is_empty() {
                return Err(Failure::new(outcome.failures.join("; ")).into());
            }
            println!(
                "lab_posix: every job done exactly once, in {:?}",
                outcome.took
            );
            Ok(ExitCode::SUCCESS)
        }))
    })
}
