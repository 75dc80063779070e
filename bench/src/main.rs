//! # bench: which IPC is fastest here, next to what this machine allows
//!
//! Every document of the course notes says that shared memory is the fastest IPC, and
//! `002_b86b31b4906bcfc4.txt` says that it beats a memory-mapped file. This program measures both
//! claims, on this machine:
//!
//! - round trips (ping-pong between two processes) over pipes, FIFOs, a Unix socket, System V
//!   and POSIX message queues, and shared memory handed over by semaphores, by a futex or by a
//!   spinning flag, in a System V segment, a mapped file and a `shm_open` object;
//! - streaming throughput over a pipe, a Unix socket, a System V queue and a shared-memory
//!   ring, with the system's default buffers and with 1 MiB buffers each;
//! - the bounds, measured the same way in the same run: a cache line handed back and forth, a
//!   futex round trip, `memcpy`, and a ring that moves data between CPUs with no copy; a
//!   control (the futex round trip with both CPUs kept busy); and the same ping-pong in plain C
//!   (bench/c/), so that "Rust against C" is a ratio from the same run;
//! - with both processes on one CPU and on two (and, on request, wherever the scheduler puts
//!   them);
//! - every figure in several rounds, interleaved, reported as the median with the lowest and
//!   the highest round; every ratio within each round.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks a helper per measurement; every object and process it made is gone when it ends.
//!
//! Run: `cargo run --release -p bench` (under two minutes on two CPUs), or `-- --quick`
//! (seconds).

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use bench::measure::{self, Budget, Cpus, Placement, Setup};
use bench::mechanism::{Buffer, Mechanism};
use bench::report::{FORMAT, Figure, Key, Kind, Machine, Round, Run, Settings, Skipped, bytes};
use bench::transport::{Link, Scratch};
use clap::Parser;
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Measures every IPC mechanism of ipc-labs against this machine's bounds, in several
/// interleaved rounds, and prints tables.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A short run, in seconds: one round, two sizes each, 10 ms of warm-up and 40 ms per
    /// figure. One round gives figures and ratios but no verdict on the targets.
    #[arg(long)]
    quick: bool,
    /// How many rounds, 1 to 100: every figure is measured once per round, in the same order
    /// [default: 5, 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100))]
    rounds: Option<u64>,
    /// Only these, comma-separated, and the bounds their ratios need (a mechanism's floor, the
    /// pipe's C reference, a stream's transfer floor and memcpy).
    #[arg(long, value_delimiter = ',', value_name = "MECHANISM")]
    only: Vec<Mechanism>,
    /// Only these placements of the two processes, comma-separated [default: same-cpu,
    /// other-cpu].
    #[arg(long, value_delimiter = ',', value_name = "PLACEMENT")]
    placement: Vec<Placement>,
    /// Round-trip message sizes in bytes, comma-separated, each 1 to 1048576 [default: 8, 128,
    /// 2048, 8192, 65536].
    #[arg(long, value_delimiter = ',', value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    sizes: Vec<u64>,
    /// Streaming message sizes in bytes, comma-separated, each 16 to 16777216 [default: 1024,
    /// 8192, 65536, 1048576].
    #[arg(long, value_delimiter = ',', value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(16..=1 << 24))]
    stream_sizes: Vec<u64>,
    /// The buffers of the pipe and socket streams, comma-separated (the ring always has its
    /// 1 MiB, a System V queue its msgmnb) [default: default,1mib].
    #[arg(long, value_delimiter = ',', value_name = "BUFFER")]
    buffers: Vec<Buffer>,
    /// Warm-up before each figure, in ms, at most 10000 [default: 20, 10 with --quick].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=10_000))]
    warmup_ms: Option<u64>,
    /// How long each figure is measured, in ms, 1 to 60000 [default: 80, 40 with --quick].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    measure_ms: Option<u64>,
    /// How long each bound, the control and the C references are measured, in ms, 1 to 60000
    /// [default: as --measure-ms].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    floor_ms: Option<u64>,
    /// At most this many round trips (or streamed messages) per figure, 1 to 10000000.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    max_messages: u64,
    /// Compare every streamed byte, not only each message's number (slower figures).
    #[arg(long)]
    every_byte: bool,
    /// Also write every round of every figure, the ratios, the targets and a description of the
    /// machine to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write every figure, with its ratio to its bound, to this CSV file.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also draw the charts (round trip and throughput against message size) to this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Measure nothing: print the tables (and write --csv, draw --svg) from a run saved with
    /// --json.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["quick", "rounds", "only",
          "placement", "sizes", "stream_sizes", "buffers", "warmup_ms", "measure_ms",
          "floor_ms", "every_byte", "json"])]
    from_json: Option<PathBuf>,
    /// Where the FIFOs and the mapped file go (a fresh directory inside it, removed at the end).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    dir: PathBuf,
}

const SIZES: [usize; 5] = [8, 128, 2048, 8192, 65536];
const QUICK_SIZES: [usize; 2] = [8, 65536];
const STREAM_SIZES: [usize; 4] = [1 << 10, 1 << 13, 1 << 16, 1 << 20];
const QUICK_STREAM_SIZES: [usize; 2] = [1 << 16, 1 << 20];
const ROUNDS: usize = 5;

fn main() -> ExitCode {
    // `bench --c-reference ...`: this process is one of the plain-C references, nothing else.
    if let Some(status) = bench::c_reference::run_if_asked() {
        return status;
    }
    let args: Args = parse_args();
    run(|| match &args.from_json {
        Some(path) => redraw(&args, path),
        None => {
            let stop = Stop::install()?;
            stop.watch_children()?;
            finish(measure_all(&args, &stop))
        }
    })
}

fn redraw(args: &Args, path: &Path) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(path).context(format!("read {}", path.display()))?;
    let run = Run::from_json(&text)
        .map_err(|why| Failure::new(format!("{}: not a bench run: {why}", path.display())))?;
    print!("{}", run.tables());
    save(args, &run)?;
    Ok(ExitCode::SUCCESS)
}

fn save(args: &Args, run: &Run) -> Result<(), Failure> {
    if let Some(path) = &args.json {
        std::fs::write(path, run.to_json()).context(format!("write {}", path.display()))?;
        println!("Saved every figure in {}", path.display());
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, run.csv()).context(format!("write {}", path.display()))?;
        println!("Wrote every figure as CSV in {}", path.display());
    }
    if let Some(path) = &args.svg {
        let svg = bench::chart::svg(run, run.main_placement()).map_err(Failure::new)?;
        std::fs::write(path, svg).context(format!("write {}", path.display()))?;
        println!("Drew the charts in {}", path.display());
    }
    Ok(())
}

fn measure_all(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let started = Instant::now();
    let cpus = Cpus::of_this_process()?;
    let scratch = Scratch::new(&args.dir)?;
    let budget = Budget {
        warmup: Duration::from_millis(args.warmup_ms.unwrap_or(if args.quick { 10 } else { 20 })),
        measure: Duration::from_millis(args.measure_ms.unwrap_or(if args.quick { 40 } else { 80 })),
        max_messages: args.max_messages as usize,
    };
    let floor_budget = Budget {
        measure: args.floor_ms.map_or(budget.measure, Duration::from_millis),
        ..budget
    };
    let rounds = args
        .rounds
        .map_or(if args.quick { 1 } else { ROUNDS }, |n| n as usize);
    let (tasks, skipped) = plan(args, &cpus, &scratch);
    let setup = Setup {
        cpus: &cpus,
        budget: &budget,
        scratch: &scratch,
        stop,
    };
    let floor_setup = Setup {
        budget: &floor_budget,
        ..setup
    };
    let per_round: f64 = tasks
        .iter()
        .map(|key| {
            let b = if key.mechanism.is_floor() {
                &floor_budget
            } else {
                &budget
            };
            (b.warmup + b.measure).as_secs_f64()
        })
        .sum();
    eprintln!(
        "bench: {} figures × {rounds} round{}, about {:.0} s; Ctrl-C stops (and removes what it \
         made)",
        tasks.len(),
        if rounds == 1 { "" } else { "s" },
        per_round * rounds as f64 * 1.1,
    );
    let mut measured: Vec<Vec<Round>> = vec![Vec::new(); tasks.len()];
    let mut progress = Progress::new(tasks.len(), rounds);
    // Interleaved: the whole list once per round, so that a figure and its bound are measured
    // minutes apart never, seconds apart always, and a drift of the machine shows as spread.
    for round in 0..rounds {
        for (task, key) in tasks.iter().enumerate() {
            progress.show(round, &describe(key));
            let setup = if key.mechanism.is_floor() {
                &floor_setup
            } else {
                &setup
            };
            measured[task].push(measure_one(key, round, args.every_byte, setup)?);
        }
    }
    progress.done();
    let run = Run {
        format: FORMAT,
        machine: describe_machine(&cpus, &scratch, started),
        settings: Settings {
            quick: args.quick,
            rounds,
            warmup_ms: budget.warmup.as_millis() as u64,
            measure_ms: budget.measure.as_millis() as u64,
            floor_ms: floor_budget.measure.as_millis() as u64,
            max_messages: budget.max_messages,
            every_byte: args.every_byte,
        },
        figures: tasks
            .iter()
            .zip(measured)
            .filter_map(|(key, rounds)| Figure::from_rounds(*key, rounds))
            .collect(),
        skipped,
    };
    print!("{}", run.tables());
    save(args, &run)?;
    Ok(ExitCode::SUCCESS)
}

/// Measures the figure `key` once, as round `round`.
fn measure_one(key: &Key, round: usize, every_byte: bool, setup: &Setup) -> Result<Round, Stopped> {
    let placement = key.placement.unwrap_or(Placement::SameCpu);
    Ok(match (key.kind, key.mechanism) {
        (Kind::RoundTrip, Mechanism::CPipe | Mechanism::CFutex) => {
            let timed = bench::c_reference::round_trips(key.mechanism, key.size, placement, setup)?;
            Round::of_round_trips(round, &timed)
        }
        (Kind::RoundTrip, Mechanism::FutexBusy) => {
            let timed = measure::with_busy_cpus(placement, setup, || {
                measure::round_trips(key.mechanism, key.size, placement, setup)
            })?;
            Round::of_round_trips(round, &timed)
        }
        (Kind::RoundTrip, mechanism) => {
            let timed = measure::round_trips(mechanism, key.size, placement, setup)?;
            Round::of_round_trips(round, &timed)
        }
        (Kind::Stream, Mechanism::Memcpy) => {
            Round::of_stream(round, key.size, &measure::memcpy(key.size, setup)?)
        }
        (Kind::Stream, mechanism) => {
            let streamed = measure::stream(
                mechanism, key.size, placement, key.buffer, every_byte, setup,
            )?;
            Round::of_stream(round, key.size, &streamed)
        }
    })
}

/// `round trip · other CPU · pipe · 8 B`: the progress line's words for a figure.
fn describe(key: &Key) -> String {
    let kind = match key.kind {
        Kind::RoundTrip => "round trip",
        Kind::Stream => "throughput",
    };
    let mut words = vec![kind.to_owned()];
    words.extend(key.placement.map(|p| p.label().to_owned()));
    words.push(key.label());
    if key.size > 0 {
        words.push(bytes(key.size));
    }
    words.join(" · ")
}

/// What to measure in each round, in order, and what cannot be measured here.
///
/// The order keeps each figure near its bound: in each placement the round-trip bounds come
/// just before the round trips, smallest size first; the streams of each size come between
/// the transfer floor and memcpy at that size.
fn plan(args: &Args, cpus: &Cpus, scratch: &Scratch) -> (Vec<Key>, Vec<Skipped>) {
    let pick = |given: &[u64], quick: &[usize], full: &[usize]| -> Vec<usize> {
        match (given.is_empty(), args.quick) {
            (false, _) => given.iter().map(|&size| size as usize).collect(),
            (true, true) => quick.to_vec(),
            (true, false) => full.to_vec(),
        }
    };
    let sizes = pick(&args.sizes, &QUICK_SIZES, &SIZES);
    let stream_sizes = pick(&args.stream_sizes, &QUICK_STREAM_SIZES, &STREAM_SIZES);
    let wanted = wanted(&args.only);
    let buffers: Vec<Buffer> = match args.buffers.is_empty() {
        true => Buffer::ALL.to_vec(),
        false => args.buffers.clone(),
    };
    let mut skipped = Vec::new();
    let mut placements = Vec::new();
    let asked: &[Placement] = match args.placement.is_empty() {
        true => &[Placement::SameCpu, Placement::OtherCpu],
        false => &args.placement,
    };
    for placement in Placement::ALL {
        if !asked.contains(&placement) {
            continue;
        }
        if placement == Placement::OtherCpu && cpus.second.is_none() {
            skipped.push(Skipped {
                mechanism: Mechanism::CacheLine,
                placement: Some(placement),
                size: None,
                buffer: None,
                why: "this process may use one CPU only".into(),
            });
            continue;
        }
        placements.push(placement);
    }
    let fits = |mechanism: Mechanism, placement, size, skipped: &mut Vec<Skipped>| match mechanism
        .size_limit()
    {
        Some((max, why)) if size > max => {
            skipped.push(Skipped {
                mechanism,
                placement: Some(placement),
                size: Some(size),
                buffer: None,
                why,
            });
            false
        }
        _ => true,
    };
    let c_reference = bench::c_reference::available();
    if !c_reference {
        for reference in Mechanism::C_REFERENCES.into_iter().filter(|m| wanted(*m)) {
            skipped.push(Skipped {
                mechanism: reference,
                placement: None,
                size: None,
                buffer: None,
                why: bench::c_reference::SKIPPED.into(),
            });
        }
    }
    // A 1 MiB buffer the kernel refuses (over pipe-max-size, wmem_max) is named, not measured.
    let mut streams: Vec<(Mechanism, Buffer)> = Vec::new();
    for mechanism in Mechanism::STREAMING.into_iter().filter(|m| wanted(*m)) {
        for &buffer in mechanism.buffers() {
            // --buffers chooses for the pipe and the socket; the ring has only its own 1 MiB,
            // a System V queue only its msgmnb.
            if mechanism.buffers().len() > 1 && !buffers.contains(&buffer) {
                continue;
            }
            if let Err(refused) = Link::new(mechanism, 16, Some(buffer), scratch) {
                skipped.push(Skipped {
                    mechanism,
                    placement: None,
                    size: None,
                    buffer: Some(buffer),
                    why: refused.to_string(),
                });
                continue;
            }
            streams.push((mechanism, buffer));
        }
    }

    let mut tasks = Vec::new();
    let smallest = sizes.iter().copied().min().unwrap_or(8);
    for &placement in &placements {
        let mut bound = |mechanism: Mechanism, size: usize| {
            if wanted(mechanism) {
                tasks.push(Key::round_trip(mechanism, placement, size));
            }
        };
        bound(Mechanism::CacheLine, 0);
        if placement == Placement::OtherCpu {
            bound(Mechanism::FutexBusy, 0);
        }
        bound(Mechanism::Futex, 0);
        if c_reference {
            bound(Mechanism::CFutex, 0);
            bound(Mechanism::CPipe, smallest);
        }
        for &size in &sizes {
            for mechanism in Mechanism::ROUND_TRIP.into_iter().filter(|m| wanted(*m)) {
                if fits(mechanism, placement, size, &mut skipped) {
                    tasks.push(Key::round_trip(mechanism, placement, size));
                }
            }
        }
    }
    for &size in &stream_sizes {
        for &placement in &placements {
            if placement == Placement::OtherCpu && wanted(Mechanism::Transfer) {
                tasks.push(Key::stream(
                    Mechanism::Transfer,
                    Some(placement),
                    size,
                    None,
                ));
            }
            for &(mechanism, buffer) in &streams {
                if fits(mechanism, placement, size, &mut skipped) {
                    tasks.push(Key::stream(mechanism, Some(placement), size, Some(buffer)));
                }
            }
        }
        if wanted(Mechanism::Memcpy) {
            tasks.push(Key::stream(Mechanism::Memcpy, None, size, None));
        }
    }
    (tasks, skipped)
}

/// Whether `--only` (empty: everything) asks for a mechanism: named, or needed by one named
/// (its floor, its C reference, its stream bounds), transitively.
fn wanted(only: &[Mechanism]) -> impl Fn(Mechanism) -> bool {
    let mut chosen: Vec<Mechanism> = only.to_vec();
    let mut at = 0;
    while at < chosen.len() {
        for &needed in chosen[at].needs() {
            if !chosen.contains(&needed) {
                chosen.push(needed);
            }
        }
        at += 1;
    }
    let everything = only.is_empty();
    move |mechanism| everything || chosen.contains(&mechanism)
}

fn describe_machine(cpus: &Cpus, scratch: &Scratch, started: Instant) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cpus_online = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    let scratch_dir = scratch
        .path()
        .parent()
        .unwrap_or(scratch.path())
        .display()
        .to_string();
    Machine {
        cpu_model,
        cpus_online,
        cpus_pinned: std::iter::once(cpus.first).chain(cpus.second).collect(),
        pinned_cpus_share_a_core: cpus.second_shares_a_core,
        kernel,
        scratch_dir,
        scratch_fs: file_system(scratch.path()),
        started_unix: SystemTime::now()
            .checked_sub(started.elapsed())
            .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|time| time.as_secs())
            .unwrap_or(0),
        wall_seconds: started.elapsed().as_secs_f64(),
    }
}

/// The type of the file system `path` is on (`statfs`), by name where it is a common one.
fn file_system(path: &std::path::Path) -> String {
    use nix::sys::statfs::{
        BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, OVERLAYFS_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC,
        statfs,
    };
    let Ok(info) = statfs(path) else {
        return "unknown".into();
    };
    let kind = info.filesystem_type();
    let known = [
        (EXT4_SUPER_MAGIC, "ext4"),
        (TMPFS_MAGIC, "tmpfs"),
        (BTRFS_SUPER_MAGIC, "btrfs"),
        (XFS_SUPER_MAGIC, "xfs"),
        (OVERLAYFS_SUPER_MAGIC, "overlayfs"),
    ];
    known
        .iter()
        .find(|(magic, _)| *magic == kind)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("type {:#x}", kind.0))
}

/// "Which figure, which round, how far along" on stderr: one line rewritten in place at a
/// terminal, a line per figure otherwise (a log).
struct Progress {
    done: usize,
    per_round: usize,
    rounds: usize,
    started: Instant,
    terminal: bool,
}

impl Progress {
    fn new(per_round: usize, rounds: usize) -> Progress {
        Progress {
            done: 0,
            per_round,
            rounds,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, round: usize, what: &str) {
        self.done += 1;
        let total = self.per_round * self.rounds;
        let width = total.to_string().len();
        let elapsed = self.started.elapsed().as_secs_f64();
        let left = match self.done {
            1 => String::new(),
            done => format!(
                ", {:.0} s left",
                elapsed / (done - 1) as f64 * (total - done + 1) as f64
            ),
        };
        let line = format!(
            "bench: round {}/{} [{:>width$}/{total}] {elapsed:>3.0} s{left}  {what}",
            round + 1,
            self.rounds,
            self.done,
        );
        let mut err = std::io::stderr().lock();
        let shown = if self.terminal {
            write!(err, "\r\x1b[K{line}")
        } else {
            writeln!(err, "{line}")
        };
        if let Err(err) = shown.and_then(|()| err.flush()) {
            // A closed terminal stops the run as its SIGHUP would; any other loss does not.
            support::cli::hang_up_if_terminal_closed(&err);
        }
    }

    fn done(&self) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(
            err,
            "bench: measured {} figures × {} round{} in {:.1} s",
            self.per_round,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.started.elapsed().as_secs_f64()
        );
    }
}
