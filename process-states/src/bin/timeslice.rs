//! # timeslice: CPU-bound processes sharing one CPU, a slice each in turn
//!
//! Ports the part of the course notes before section 1 (`004_0b92104986517c26.txt`; CPU time
//! slices: one CPU runs one process at a time; each gets a little in turn, and loses the CPU when
//! its slice is used up). The parent forks children that only compute, pins them all to one CPU,
//! and every interval prints from /proc what each got: CPU time, time spent ready (waiting for the
//! CPU), and its voluntary and involuntary context switches. Then it does the same with the
//! children free to use every CPU, for contrast.
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
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, read};
use process_states::{
    SchedStat, Seen, Switches, Watcher, allowed_cpus, pin_to_cpu, read_schedstat, read_stat,
    read_switches, readable_now,
};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Child, Forked, Pipe, describe, fork, run_child};

/// The most children `--children` may ask for: enough to crowd any CPU, too few to be a fork
/// bomb.
const MAX_CHILDREN: usize = 64;

/// CPU-bound children share one CPU in time slices, then spread over all CPUs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many CPU-bound children, at most 64 (default: one per CPU this program may use, at
    /// least 2 and at most 64).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=MAX_CHILDREN as i64))]
    children: Option<u8>,
    /// The CPU to pin them to in the first phase, one this program may use (default: the
    /// first one it may use).
    #[arg(long, value_parser = usable_cpu)]
    cpu: Option<usize>,
    /// How long each phase (pinned, then unpinned) lasts, in milliseconds (at most 60000).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    duration_ms: u64,
    /// How often to print what each child got, in milliseconds (at most 60000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    interval_ms: u64,
}

/// Parses `--cpu`: a CPU number that `sched_getaffinity` allows this program.
fn usable_cpu(text: &str) -> Result<usize, String> {
    let cpu: usize = text.parse().map_err(|err| format!("{err}"))?;
    let allowed = allowed_cpus().map_err(|failure| failure.to_string())?;
    if allowed.contains(&cpu) {
        return Ok(cpu);
    }
    // The list as `taskset -c` writes it: 0-3,8.
    let mut list = String::new();
    for (i, &each) in allowed.iter().enumerate() {
        let follows = i > 0 && allowed[i - 1] + 1 == each;
        let followed = allowed.get(i + 1) == Some(&(each + 1));
        match (follows, followed, i) {
            (true, true, _) => {}
            (true, false, _) => list.push_str(&format!("-{each}")),
            (false, _, 0) => list.push_str(&each.to_string()),
            (false, _, _) => list.push_str(&format!(",{each}")),
        }
    }
    Err(format!(
        "not a CPU this program may use (it may use {list})"
    ))
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let watcher = Watcher::new(&stop)?;
        let allowed = allowed_cpus()?;
        let cpus = allowed.len();
        let children = args
            .children
            .map_or(cpus.clamp(2, MAX_CHILDREN), usize::from);
        let cpu = args.cpu.unwrap_or(allowed[0]);
        println!("timeslice: {children} CPU-bound children, all pinned to CPU {cpu}");
        let told = phase(&watcher, &args, children, Some(cpu)).and_then(|()| {
            println!("timeslice: {children} new children, free to run on any of {cpus} CPUs");
            phase(&watcher, &args, children, None)
        });
        if let Err(Stopped::Signal(signal)) = told {
            println!("timeslice: {signal}: every child was killed and reaped");
        }
        finish(told.map(|()| ExitCode::SUCCESS))
    })
}

/// A child's whole life: wait for the start, then compute, and nothing else (so it never gives
/// the CPU up by itself). It starts when the parent closes its end of `start`, and stops when
/// the parent's end of `lifeline` closes, or at `limit` if the parent is stuck; `run_child`
/// then ends it with `_exit`.
// ANCHOR: spin
fn spin(pin: Option<usize>, start: &OwnedFd, lifeline: &OwnedFd, limit: Duration) -> i32 {
    if let Some(cpu) = pin
        && let Err(failure) = pin_to_cpu(cpu)
    {
        eprintln!("timeslice: child: {failure}");
        return 1;
    }
    // Sleeps until end-of-file: the parent has forked every child, and the phase begins.
    while read(start, &mut [0u8; 1]) == Err(Errno::EINTR) {}
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
    let (lifeline, go) = (Pipe::new()?, Pipe::new()?);
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..count {
        match fork()? {
            Forked::Child => {
                drop((lifeline.write_end, go.write_end));
                let limit = duration + Duration::from_secs(10);
                run_child(|| spin(pin, &go.read_end, &lifeline.read_end, limit))
            }
            Forked::Parent(child) => children.push(child),
        }
    }
    drop((lifeline.read_end, go.read_end));
    let label = if pin.is_some() { "pinned" } else { "free" };
    // What each child had got at the last report; first, at the start, before any computed.
    let mut before = counters_asleep(watcher, &children)?;
    let at_start = before.clone();
    let start = Instant::now();
    drop(go.write_end); // close(2): every child reads end-of-file, and computes
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
    let elapsed = start.elapsed();
    let total: Duration = (before.iter().zip(&at_start))
        .map(|((now, _), (then, _))| now.on_cpu - then.on_cpu)
        .sum();
    let cpus = if pin.is_some() {
        1
    } else {
        allowed_cpus()?.len()
    };
    println!(
        "timeslice: {label}: together the children ran {} ms in {} ms: {:.1} CPUs' worth, of \
         the {cpus} they may use",
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

/// What the scheduler has counted for each child, read once every child sleeps on `go`: then
/// none computes, and each one's counters are up to date (the kernel brings them up to date
/// when a process stops running). The phase counts from there.
// ANCHOR: counters_asleep
fn counters_asleep(
    watcher: &Watcher,
    children: &[Child],
) -> Result<Vec<(SchedStat, Switches)>, Stopped> {
    for child in children {
        // R: still on its way to read(); D: moving to the CPU it pinned itself to.
        let deadline = Duration::from_secs(5);
        watcher.sample_until(child.pid(), deadline, "asleep on the start", |seen| {
            (!matches!(seen, Seen::Alive(stat) if "RD".contains(stat.state))).then_some(())
        })?;
    }
    let counted = children.iter().map(|child| counters(child.pid()));
    Ok(counted.collect::<Result<_, _>>()?)
}
// ANCHOR_END: counters_asleep

/// What the scheduler has counted for `pid` so far (nothing for a child that is gone).
fn counters(pid: Pid) -> Result<(SchedStat, Switches), Failure> {
    Ok(match (read_schedstat(pid)?, read_switches(pid)?) {
        (Seen::Alive(sched), Seen::Alive(switches)) => (sched, switches),
        _ => Default::default(),
    })
}

/// One line for one child: CPU time, time slices, ready time and context switches since
/// `before` (the last report), and the CPU it ran on last. A child that vanished gets a line
/// that says so.
// ANCHOR: report
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
