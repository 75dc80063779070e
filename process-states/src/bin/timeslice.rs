//! # timeslice: CPU-bound processes sharing one CPU, a slice each in turn
//!
//! Ports seed `004_0b92104986517c26.txt`, the part before section 1 (CPU time slices: one CPU
//! runs one process at a time; each gets a little in turn, and loses the CPU when its slice is
//! used up). The parent forks children that only compute, pins them all to one CPU, and every
//! interval prints from /proc what each got: CPU time, time spent ready (waiting for the CPU),
//! and its voluntary and involuntary context switches. Then it does the same with the children
//! free to use every CPU, for contrast.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p process-states --bin timeslice` (add `-- --help` for the flags).

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use process_states::{
    SchedStat, Seen, Switches, Watcher, allowed_cpus, pin_to_cpu, read_schedstat, read_stat,
    read_switches, readable_now,
};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Child, Forked, Pipe, describe, fork, run_child};

/// CPU-bound children share one CPU in time slices, then spread over all CPUs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many CPU-bound children (default: one per CPU this program may use, at least 2).
    #[arg(long)]
    children: Option<usize>,
    /// The CPU to pin them to in the first phase (default: the first one allowed).
    #[arg(long)]
    cpu: Option<usize>,
    /// How long each phase (pinned, then unpinned) lasts, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    duration_ms: u64,
    /// How often to print what each child got, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let watcher = Watcher::new(&stop)?;
        let allowed = allowed_cpus()?;
        let cpus = allowed.len();
        let children = args.children.unwrap_or(cpus.max(2));
        let cpu = args.cpu.unwrap_or(allowed[0]);
        if !allowed.contains(&cpu) {
            return Err(Failure::new(format!(
                "--cpu {cpu}: not a CPU this program may use"
            )));
        }
        println!("timeslice: {children} CPU-bound children, all pinned to CPU {cpu}");
        let told = phase(&watcher, &args, children, Some(cpu)).and_then(|()| {
            println!("timeslice: the same {children} children, free to run on any of {cpus} CPUs");
            phase(&watcher, &args, children, None)
        });
        if let Err(Stopped::Signal(signal)) = told {
            println!("timeslice: {signal}: every child was killed and reaped");
        }
        finish(told.map(|()| ExitCode::SUCCESS))
    })
}

// ANCHOR: spin
/// A child's whole life: compute, and nothing else (so it never gives the CPU up by itself).
/// It stops when the parent's end of `lifeline` closes, or at `limit` if the parent is stuck;
/// `run_child` then ends it with `_exit`.
fn spin(pin: Option<usize>, lifeline: &OwnedFd, limit: Duration) -> i32 {
    if let Some(cpu) = pin
        && let Err(failure) = pin_to_cpu(cpu)
    {
        eprintln!("timeslice: child: {failure}");
        return 1;
    }
    let until = Instant::now() + limit;
    while Instant::now() < until && !readable_now(lifeline).unwrap_or(true) {
        (0..100_000u64).for_each(|i| {
            std::hint::black_box(i);
        });
    }
    0
}
// ANCHOR_END: spin

// ANCHOR: phase
fn phase(watcher: &Watcher, args: &Args, count: usize, pin: Option<usize>) -> Result<(), Stopped> {
    let duration = Duration::from_millis(args.duration_ms);
    let lifeline = Pipe::new()?;
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..count {
        match fork()? {
            Forked::Child => {
                drop(lifeline.write_end);
                let limit = duration + Duration::from_secs(10);
                run_child(|| spin(pin, &lifeline.read_end, limit))
            }
            Forked::Parent(child) => children.push(child),
        }
    }
    drop(lifeline.read_end);
    let label = if pin.is_some() { "pinned" } else { "free" };
    let start = Instant::now();
    // What each child had got at the last report (zero at the fork).
    let mut before: Vec<(SchedStat, Switches)> = vec![Default::default(); count];
    while start.elapsed() < duration {
        let left = duration.saturating_sub(start.elapsed());
        watcher.hold(left.min(Duration::from_millis(args.interval_ms)))?;
        let at = start.elapsed().as_secs_f64();
        for (child, before) in children.iter().zip(before.iter_mut()) {
            report(child.pid(), label, at, before)?;
        }
    }
    // ANCHOR_END: phase
    // ANCHOR: phase_end
    let total: Duration = before.iter().map(|(sched, _)| sched.on_cpu).sum();
    let elapsed = start.elapsed();
    println!(
        "timeslice: {label}: together the children ran {} ms in {} ms: {:.1} CPUs' worth",
        total.as_millis(),
        elapsed.as_millis(),
        total.as_secs_f64() / elapsed.as_secs_f64()
    );
    // SIGKILL them all, then reap each with waitpid (a guard would do both if we returned
    // early: on a stop signal, or an error).
    for child in &children {
        kill(child.pid(), Signal::SIGKILL).context(format!("kill({})", child.pid()))?;
    }
    for mut child in children {
        let status = child.waitpid_with(None)?;
        println!("timeslice: child {} {}", child.pid(), describe(&status));
    }
    Ok(())
}
// ANCHOR_END: phase_end

// ANCHOR: report
/// One line for one child: CPU time, time slices, ready time and context switches since
/// `before` (the last report), and the CPU it ran on last. A child that vanished gets a line
/// that says so.
fn report(
    pid: Pid,
    label: &str,
    at: f64,
    before: &mut (SchedStat, Switches),
) -> Result<(), Failure> {
    let (Seen::Alive(sched), Seen::Alive(switches), Seen::Alive(stat)) =
        (read_schedstat(pid)?, read_switches(pid)?, read_stat(pid)?)
    else {
        println!("{at:6.2}s  child {pid} ({label}): gone");
        return Ok(());
    };
    let (sched_before, switches_before) = before;
    println!(
        "{at:6.2}s  child {pid} ({label}): ran {:4} ms in {:3} slices, ready {:4} ms; switches: \
         {} voluntary, {} involuntary; last on CPU {}",
        (sched.on_cpu - sched_before.on_cpu).as_millis(),
        sched.slices - sched_before.slices,
        (sched.waiting - sched_before.waiting).as_millis(),
        switches.voluntary - switches_before.voluntary,
        switches.involuntary - switches_before.involuntary,
        stat.processor
    );
    *before = (sched, switches);
    Ok(())
}
// ANCHOR_END: report
