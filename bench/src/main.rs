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
//!   ring;
//! - the floors, measured the same way in the same run: a cache line handed back and forth, a
//!   futex wait/wake round trip, and `memcpy`;
//! - with both processes on one CPU, on two, and wherever the scheduler puts them.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks a helper per measurement; every object it made is gone when it ends.
//!
//! Run: `cargo run --release -p bench` (under two minutes), or `-- --quick` (seconds).

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use bench::measure::{self, Budget, Cpus, Placement, Setup};
use bench::report::{LatencyRow, Machine, Run, Settings, Skipped, ThroughputRow, bytes};
use bench::transport::{Mechanism, Scratch};
use clap::Parser;
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Measures every IPC mechanism of ipc-labs against this machine's floors, and prints a table.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A short run, in seconds: three sizes each, 10 ms of warm-up and 40 ms per figure.
    #[arg(long)]
    quick: bool,
    /// Only these mechanisms, comma-separated (the floors are always measured).
    #[arg(long, value_delimiter = ',', value_name = "MECHANISM")]
    only: Vec<Mechanism>,
    /// Only these placements of the two processes, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "PLACEMENT")]
    placement: Vec<Placement>,
    /// Round-trip message sizes in bytes, comma-separated, each 1 to 1048576 [default: 8, 32,
    /// 128, 512, 2048, 8192, 32768, 65536].
    #[arg(long, value_delimiter = ',', value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    sizes: Vec<u64>,
    /// Streaming message sizes in bytes, comma-separated, each 16 to 16777216 [default: 1024,
    /// 4096, 8192, 16384, 65536, 262144, 1048576].
    #[arg(long, value_delimiter = ',', value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(16..=1 << 24))]
    stream_sizes: Vec<u64>,
    /// Warm-up before each figure, in ms, at most 10000 [default: 50, 10 with --quick].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=10_000))]
    warmup_ms: Option<u64>,
    /// How long each figure is measured, in ms, 1 to 60000 [default: 200, 40 with --quick].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    measure_ms: Option<u64>,
    /// How long each floor is measured, in ms, 1 to 60000 [default: as --measure-ms].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    floor_ms: Option<u64>,
    /// At most this many round trips (or streamed messages) per figure, 1 to 10000000.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    max_messages: u64,
    /// Compare every streamed byte, not only each message's number (slower figures).
    #[arg(long)]
    every_byte: bool,
    /// Also write every figure and a description of the machine to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also draw the charts (round trip and throughput against message size) to this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Measure nothing: print the tables (and draw --svg) from a run saved with --json.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["quick", "only", "placement", "sizes",
          "stream_sizes", "warmup_ms", "measure_ms", "floor_ms", "every_byte", "json"])]
    from_json: Option<PathBuf>,
    /// Where the FIFOs and the mapped file go (a fresh directory inside it, removed at the end).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    dir: PathBuf,
}

const SIZES: [usize; 8] = [8, 32, 128, 512, 2048, 8192, 32768, 65536];
const QUICK_SIZES: [usize; 3] = [8, 2048, 65536];
const STREAM_SIZES: [usize; 7] = [
    1 << 10,
    1 << 12,
    1 << 13,
    1 << 14,
    1 << 16,
    1 << 18,
    1 << 20,
];
const QUICK_STREAM_SIZES: [usize; 3] = [1 << 10, 1 << 16, 1 << 20];

fn main() -> ExitCode {
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

fn redraw(args: &Args, path: &PathBuf) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(path).context(format!("read {}", path.display()))?;
    let run: Run =
        serde_json::from_str(&text).context(format!("{}: not a bench run", path.display()))?;
    print!("{}", run.tables());
    save(args, &run)?;
    Ok(ExitCode::SUCCESS)
}

fn save(args: &Args, run: &Run) -> Result<(), Failure> {
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(run).context("JSON")?;
        std::fs::write(path, text + "\n").context(format!("write {}", path.display()))?;
        println!("Saved every figure in {}", path.display());
    }
    if let Some(path) = &args.svg {
        let placement = if run.placements().contains(&Placement::OtherCpu) {
            Placement::OtherCpu
        } else {
            run.placements()
                .first()
                .copied()
                .unwrap_or(Placement::Unpinned)
        };
        let svg = bench::chart::svg(run, placement).map_err(Failure::new)?;
        std::fs::write(path, svg).context(format!("write {}", path.display()))?;
        println!("Drew the charts in {}", path.display());
    }
    Ok(())
}

/// One figure to measure.
enum Task {
    Memcpy(usize),
    RoundTrip(Mechanism, Placement, usize),
    Stream(Mechanism, Placement, usize),
}

fn measure_all(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let cpus = Cpus::of_this_process()?;
    let scratch = Scratch::new(&args.dir)?;
    let budget = Budget {
        warmup: Duration::from_millis(args.warmup_ms.unwrap_or(if args.quick { 10 } else { 50 })),
        measure: Duration::from_millis(args.measure_ms.unwrap_or(if args.quick {
            40
        } else {
            200
        })),
        max_messages: args.max_messages as usize,
    };
    let floor_budget = Budget {
        measure: args.floor_ms.map_or(budget.measure, Duration::from_millis),
        ..budget
    };
    let (tasks, mut skipped) = plan(args, &cpus);
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
    let mut run = Run {
        machine: describe_machine(&cpus, &scratch),
        settings: Settings {
            quick: args.quick,
            warmup_ms: budget.warmup.as_millis() as u64,
            measure_ms: budget.measure.as_millis() as u64,
            floor_ms: floor_budget.measure.as_millis() as u64,
            max_messages: budget.max_messages,
            every_byte: args.every_byte,
        },
        latency: Vec::new(),
        throughput: Vec::new(),
        skipped: Vec::new(),
    };
    let estimate = (budget.warmup + budget.measure).as_secs_f64() * tasks.len() as f64;
    eprintln!(
        "bench: {} figures, about {estimate:.0} s; Ctrl-C stops (and removes what it made)",
        tasks.len()
    );
    let mut progress = Progress::new(tasks.len());
    for task in &tasks {
        match *task {
            Task::Memcpy(size) => {
                progress.show(&format!("memcpy ceiling · {}", bytes(size)));
                let copied = measure::memcpy(size, &setup)?;
                run.throughput.push(ThroughputRow {
                    mechanism: Mechanism::Memcpy,
                    placement: None,
                    size,
                    messages: copied.messages,
                    seconds: copied.seconds,
                    gib_per_s: copied.gib_per_s(size),
                    stalled_waits: 0,
                });
            }
            Task::RoundTrip(mechanism, placement, size) => {
                progress.show(&format!(
                    "round trip · {} · {} · {}",
                    placement.label(),
                    mechanism.label(),
                    bytes(size)
                ));
                let (times, stalled_waits) = measure::round_trips(
                    mechanism,
                    size,
                    placement,
                    match mechanism.is_floor() {
                        true => &floor_setup,
                        false => &setup,
                    },
                )?;
                run.latency.push(LatencyRow {
                    mechanism,
                    placement,
                    size,
                    times,
                    stalled_waits,
                });
            }
            Task::Stream(mechanism, placement, size) => {
                progress.show(&format!(
                    "throughput · {} · {} · {}",
                    placement.label(),
                    mechanism.label(),
                    bytes(size)
                ));
                let streamed =
                    measure::stream(mechanism, size, placement, args.every_byte, &setup)?;
                run.throughput.push(ThroughputRow {
                    mechanism,
                    placement: Some(placement),
                    size,
                    messages: streamed.messages,
                    seconds: streamed.seconds,
                    gib_per_s: streamed.gib_per_s(size),
                    stalled_waits: streamed.stalled_waits,
                });
            }
        }
    }
    progress.done();
    run.skipped.append(&mut skipped);
    print!("{}", run.tables());
    save(args, &run)?;
    Ok(ExitCode::SUCCESS)
}

/// What to measure, in order, and what cannot be measured here.
fn plan(args: &Args, cpus: &Cpus) -> (Vec<Task>, Vec<Skipped>) {
    let pick = |given: &[u64], quick: &[usize], full: &[usize]| -> Vec<usize> {
        match (given.is_empty(), args.quick) {
            (false, _) => given.iter().map(|&size| size as usize).collect(),
            (true, true) => quick.to_vec(),
            (true, false) => full.to_vec(),
        }
    };
    let sizes = pick(&args.sizes, &QUICK_SIZES, &SIZES);
    let stream_sizes = pick(&args.stream_sizes, &QUICK_STREAM_SIZES, &STREAM_SIZES);
    let wanted = |mechanism: &Mechanism| args.only.is_empty() || args.only.contains(mechanism);
    let mut skipped = Vec::new();
    let mut placements = Vec::new();
    for placement in Placement::ALL {
        if !args.placement.is_empty() && !args.placement.contains(&placement) {
            continue;
        }
        if placement == Placement::OtherCpu && cpus.second.is_none() {
            skipped.push(Skipped {
                mechanism: Mechanism::CacheLine,
                placement: Some(placement),
                size: None,
                why: "this process may use one CPU only".into(),
            });
            continue;
        }
        placements.push(placement);
    }
    let fits =
        |mechanism: Mechanism, placement: Placement, size: usize, skipped: &mut Vec<Skipped>| {
            match mechanism.size_limit() {
                Some((max, why)) if size > max => {
                    skipped.push(Skipped {
                        mechanism,
                        placement: Some(placement),
                        size: Some(size),
                        why,
                    });
                    false
                }
                _ => true,
            }
        };
    let streams: Vec<Mechanism> = Mechanism::STREAMING.into_iter().filter(wanted).collect();
    let mut tasks = Vec::new();
    for &placement in &placements {
        // The floors before and after the mechanisms: the machine's state drifts (on a virtual
        // machine, by 10-20 % within seconds), and the faster of the two is the floor.
        for floor in Mechanism::LATENCY_FLOORS {
            tasks.push(Task::RoundTrip(floor, placement, 0));
        }
        for mechanism in Mechanism::ROUND_TRIP.into_iter().filter(wanted) {
            for &size in &sizes {
                if fits(mechanism, placement, size, &mut skipped) {
                    tasks.push(Task::RoundTrip(mechanism, placement, size));
                }
            }
        }
        for &mechanism in &streams {
            for &size in &stream_sizes {
                if fits(mechanism, placement, size, &mut skipped) {
                    tasks.push(Task::Stream(mechanism, placement, size));
                }
            }
        }
        for floor in Mechanism::LATENCY_FLOORS {
            tasks.push(Task::RoundTrip(floor, placement, 0));
        }
    }
    if !streams.is_empty() {
        tasks.extend(stream_sizes.iter().map(|&size| Task::Memcpy(size)));
    }
    (tasks, skipped)
}

fn describe_machine(cpus: &Cpus, scratch: &Scratch) -> Machine {
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
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|time| time.as_secs())
            .unwrap_or(0),
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

/// "Which figure, how far along" on stderr: one line rewritten in place at a terminal, a line
/// per figure otherwise (a log).
struct Progress {
    done: usize,
    total: usize,
    started: Instant,
    terminal: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            done: 0,
            total,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, what: &str) {
        self.done += 1;
        let width = self.total.to_string().len();
        let line = format!(
            "bench: [{:>width$}/{}] {:>3.0} s  {what}",
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64()
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
            "bench: measured {} figures in {:.1} s",
            self.total,
            self.started.elapsed().as_secs_f64()
        );
    }
}
