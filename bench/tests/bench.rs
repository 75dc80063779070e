//! The benchmark is tested for correctness, never for speed: every transport delivers every
//! byte at every size, a short run completes and saves what it printed, a stop signal or a
//! helper that dies ends it cleanly, and bad input is refused. No test looks at a figure.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::process::Command;

use bench::measure::Placement;
use bench::report::Run;
use bench::transport::Mechanism;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use testkit::{
    Running, TempDir, assert_refused_out_of_range, processes_in_group, run, signal_row, stop_with,
    wait_until_blocked_in,
};

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

/// Tiny counts: the point is that every figure is made, not what it says.
const TINY: [&str; 6] = [
    "--warmup-ms",
    "0",
    "--measure-ms",
    "1",
    "--max-messages",
    "12",
];

fn bench(dir: &TempDir, args: &[&str]) -> Command {
    let mut command = Command::new(BENCH);
    command.args(args).arg("--dir").arg(dir.path());
    command
}

fn load(path: &std::path::Path) -> Run {
    let text = std::fs::read_to_string(path).expect("the JSON file");
    serde_json::from_str(&text).expect("a run")
}

/// The run's private directory (`ipc-labs-bench.XXXXXX`, with its FIFOs and mapped files) is
/// gone.
fn scratch_is_gone(dir: &TempDir) {
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with("ipc-labs-bench."))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The bench process and its helper, once the helper is there (it is forked right after the
/// progress line). Waits for the event, with a deadline.
fn bench_and_helper(group: Pid) -> (Vec<Pid>, Pid) {
    let deadline = std::time::Instant::now() + testkit::DEADLINE;
    loop {
        let pids = processes_in_group(group);
        if let Some(helper) = pids.iter().copied().find(|&pid| pid != group) {
            return (pids, helper);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no helper in {pids:?}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn every_transport_delivers_every_byte_at_every_size() {
    let dir = TempDir::new("bench-bytes");
    let json = dir.path().join("run.json");
    // The default sizes, plus odd ones that end mid-word and mid-page.
    let sizes = "1,7,8,32,100,128,512,2048,4095,8192,32768,65536";
    let stream_sizes = "16,1000,1024,4096,16384,65536,100003,262144,1048576";
    let mut command = bench(
        &dir,
        &[
            "--sizes",
            sizes,
            "--stream-sizes",
            stream_sizes,
            "--every-byte",
        ],
    );
    command.args(TINY).arg("--json").arg(&json);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        !finished.stderr.contains("corrupted"),
        "{}",
        finished.stderr
    );

    let figures = load(&json);
    let placements: Vec<Placement> = figures.placements();
    assert!(!placements.is_empty());
    let limit = |mechanism: Mechanism| mechanism.size_limit().map_or(usize::MAX, |(max, _)| max);
    for placement in &placements {
        for mechanism in Mechanism::ROUND_TRIP {
            for size in sizes.split(',').map(|size| size.parse::<usize>().unwrap()) {
                let row = figures.latency(mechanism, *placement, size);
                if size > limit(mechanism) {
                    assert!(row.is_none(), "{mechanism:?} over its limit at {size}");
                    continue;
                }
                let row = row.unwrap_or_else(|| panic!("{mechanism:?} {placement:?} {size} B"));
                assert!(row.times.samples >= 1);
            }
        }
        for mechanism in Mechanism::STREAMING {
            for size in stream_sizes
                .split(',')
                .map(|size| size.parse::<usize>().unwrap())
            {
                let row = figures.throughput(mechanism, Some(*placement), size);
                if size > limit(mechanism) {
                    assert!(row.is_none(), "{mechanism:?} over its limit at {size}");
                    continue;
                }
                let row = row.unwrap_or_else(|| panic!("{mechanism:?} {placement:?} {size} B"));
                assert!(row.messages >= 1);
            }
        }
    }
    assert!(figures.settings.every_byte);
    // No futex wait timed out while what it waited for had happened: no lost wake-up.
    let stalls: u64 = figures
        .latency
        .iter()
        .map(|row| row.stalled_waits)
        .sum::<u64>()
        + figures
            .throughput
            .iter()
            .map(|row| row.stalled_waits)
            .sum::<u64>();
    assert_eq!(stalls, 0, "lost wake-ups");
    scratch_is_gone(&dir);
}

#[test]
fn quick_completes_and_its_json_redraws_the_same_tables() {
    let dir = TempDir::new("bench-quick");
    let json = dir.path().join("run.json");
    let svg = dir.path().join("run.svg");
    let mut command = bench(&dir, &["--quick"]);
    command
        .args(TINY)
        .arg("--json")
        .arg(&json)
        .arg("--svg")
        .arg(&svg);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");

    // Progress on stderr: which figure, how far along.
    let progress: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|l| l.contains('/'))
        .collect();
    assert!(
        progress
            .iter()
            .any(|l| l.contains("round trip") && l.contains("pipe"))
    );
    assert!(
        progress
            .iter()
            .any(|l| l.contains("throughput") && l.contains("shm ring"))
    );
    assert!(finished.stderr.contains("bench: measured"));

    // The tables name every mechanism and the three floors.
    for mechanism in Mechanism::ROUND_TRIP
        .into_iter()
        .chain(Mechanism::STREAMING)
    {
        assert!(
            finished.stdout.contains(mechanism.label()),
            "{}",
            mechanism.label()
        );
    }
    for floor in ["cache-line floor", "futex floor", "memcpy GiB/s"] {
        assert!(finished.stdout.contains(floor), "{floor}");
    }

    let figures = load(&json);
    assert!(figures.settings.quick);
    assert!(!figures.machine.cpu_model.is_empty());
    assert!(figures.machine.cpus_online >= 1);
    let sizes: BTreeSet<usize> = figures.latency_sizes().into_iter().collect();
    assert_eq!(sizes, BTreeSet::from([8, 2048, 65536]));

    let chart = std::fs::read_to_string(&svg).expect("the SVG file");
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..chart.len().min(80)]
    );
    for words in ["Round trip", "Throughput", "shm + futex", "memcpy ceiling"] {
        assert!(chart.contains(words), "{words} missing from the chart");
    }

    // --from-json prints the same tables without measuring anything.
    let mut again = Command::new(BENCH);
    again.arg("--from-json").arg(&json);
    let redrawn = run(again, "");
    assert!(redrawn.status.success(), "{redrawn:?}");
    let tables = |text: &str| -> String {
        text.lines()
            .take_while(|line| !line.starts_with("Saved every figure"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(tables(&redrawn.stdout), tables(&finished.stdout));
    assert!(redrawn.stderr.is_empty(), "{}", redrawn.stderr);
}

/// Starts a run that stays on `mechanism` (a minute per figure; the floors come after it), and
/// waits until it measures it: the progress line names it.
fn start_long(dir: &TempDir, mechanism: &str, progress: &str) -> Running {
    let mut command = bench(
        dir,
        &[
            "--only",
            mechanism,
            "--placement",
            "other-cpu",
            "--sizes",
            "8",
            "--stream-sizes",
            "4096",
            "--warmup-ms",
            "0",
            "--measure-ms",
            "60000",
            "--floor-ms",
            "1",
            "--max-messages",
            "10000000",
        ],
    );
    command.env_remove("RUST_BACKTRACE");
    let mut running = Running::spawn(command);
    running.expect_stderr_line(progress);
    running
}

/// Whether a System V queue or semaphore set that `pids` used is still in the kernel.
fn system_v_left_by(pids: &[Pid]) -> Vec<String> {
    let mut left = Vec::new();
    for queue in sysv::list(sysv::Kind::Msg).unwrap() {
        let used = ["lspid", "lrpid"]
            .iter()
            .filter_map(|field| queue.field(field))
            .any(|pid| pids.iter().any(|p| p.as_raw() as u64 == pid));
        if used {
            left.push(format!("queue {:?}", queue.field("msqid")));
        }
    }
    for set in sysv::list(sysv::Kind::Sem).unwrap() {
        let Some(id) = set.field("semid") else {
            continue;
        };
        let set = semaphore::SemaphoreSet::from_id(id as i32).leave_in_kernel();
        if let Ok(pid) = set.semctl_getpid(0)
            && pids.iter().any(|p| p.as_raw() == pid)
        {
            left.push(format!("semaphore set {id}"));
        }
    }
    left
}

/// One row of the signal table: `bench` measuring `mechanism`, seen in `blocked_in` (a system
/// call number) when there is one to see, gets each stop signal.
fn stop_row(
    row: &str,
    mechanism: &'static str,
    progress: &'static str,
    blocked_in: Option<libc::c_long>,
) {
    signal_row(row, |signal| {
        let dir = TempDir::new("bench-stop");
        let running = start_long(&dir, mechanism, progress);
        let (pids, _) = bench_and_helper(running.pid());
        if let Some(call) = blocked_in {
            wait_until_blocked_in(running.pid(), call);
        }
        let finished = stop_with(running, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("bench: got {signal}; stopping")),
            "{finished:?}"
        );
        assert_eq!(system_v_left_by(&pids), Vec::<String>::new());
        scratch_is_gone(&dir);
    });
}

#[test]
fn a_stop_signal_ends_a_round_trip_through_a_system_v_queue() {
    stop_row(
        "bench in msgrcv",
        "sysv-msg",
        "System V msg queue",
        Some(libc::SYS_msgrcv),
    );
}

#[test]
fn a_stop_signal_ends_a_round_trip_through_shm_and_semaphores() {
    stop_row(
        "bench in semop",
        "shm-sem",
        "shm + semaphores",
        Some(libc::SYS_semtimedop),
    );
}

#[test]
fn a_stop_signal_ends_a_round_trip_through_fifos() {
    stop_row(
        "bench in read on a FIFO",
        "fifo",
        "round trip · other CPU · FIFO",
        Some(libc::SYS_read),
    );
}

#[test]
fn a_stop_signal_ends_a_spinning_round_trip() {
    stop_row("bench spinning", "shm-spin", "shm + spinning flag", None);
}

#[test]
fn a_stop_signal_ends_a_stream_through_the_ring() {
    stop_row("bench streaming", "shm-ring", "shm ring buffer", None);
}

#[test]
fn a_helper_that_dies_ends_the_run_with_its_cause() {
    for (mechanism, progress) in [
        ("sysv-msg", "System V msg queue"),
        ("posix-mq", "POSIX msg queue"),
        ("shm-sem", "shm + semaphores"),
        ("shm-futex", "shm + futex"),
        ("shm-spin", "shm + spinning flag"),
        ("pipe", "round trip · other CPU · pipe"),
    ] {
        let dir = TempDir::new("bench-helper-dies");
        let running = start_long(&dir, mechanism, progress);
        let group = running.pid();
        let (pids, helper) = bench_and_helper(group);
        nix::sys::signal::kill(helper, Signal::SIGKILL).unwrap();
        let finished = running.wait();
        assert_eq!(finished.status.code(), Some(1), "{mechanism}: {finished:?}");
        let last = finished.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("bench: ") && last.contains("SIGKILL"),
            "{mechanism}: {last:?}"
        );
        assert!(processes_in_group(group).is_empty());
        assert_eq!(system_v_left_by(&pids), Vec::<String>::new());
        scratch_is_gone(&dir);
    }
}

#[test]
fn bad_input_is_refused_in_one_line() {
    let dir = TempDir::new("bench-refused");
    for (flag, value) in [
        ("--sizes", "0"),
        ("--sizes", "1048577"),
        ("--stream-sizes", "8"),
        ("--measure-ms", "0"),
        ("--max-messages", "0"),
    ] {
        assert_refused_out_of_range(bench(&dir, &[flag, value]), flag);
    }
    let finished = run(bench(&dir, &["--only", "carrier-pigeon"]), "");
    assert_eq!(finished.status.code(), Some(2));
    assert!(
        finished.stderr.contains("possible values"),
        "{}",
        finished.stderr
    );

    let missing = dir.path().join("no-such-run.json");
    let mut command = Command::new(BENCH);
    command.arg("--from-json").arg(&missing);
    let finished = run(command, "");
    assert_eq!(finished.status.code(), Some(1));
    assert_eq!(finished.stderr.lines().count(), 1, "{}", finished.stderr);
    assert!(finished.stderr.contains("ENOENT") || finished.stderr.contains("No such file"));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"machine\": 1}").unwrap();
    let mut command = Command::new(BENCH);
    command.arg("--from-json").arg(&garbage);
    let finished = run(command, "");
    assert_eq!(finished.status.code(), Some(1));
    assert!(
        finished.stderr.contains("not a bench run"),
        "{}",
        finished.stderr
    );
}

#[test]
fn help_names_every_mechanism_and_placement() {
    let finished = run(
        {
            let mut command = Command::new(BENCH);
            command.arg("--help");
            command
        },
        "",
    );
    assert!(finished.status.success());
    for mechanism in Mechanism::ROUND_TRIP
        .into_iter()
        .chain(Mechanism::STREAMING)
    {
        assert!(
            finished.stdout.contains(mechanism.name()),
            "{}",
            mechanism.name()
        );
    }
    for placement in ["same-cpu", "other-cpu", "unpinned"] {
        assert!(finished.stdout.contains(placement), "{placement}");
    }
}

#[test]
fn bare_pingpong_times_its_round_trips() {
    let finished = run(Command::new(env!("CARGO_BIN_EXE_bare_pingpong")), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished
            .stdout
            .starts_with("20000 round trips through two pipes: median "),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("99% within"),
        "{}",
        finished.stdout
    );
}

#[test]
fn cargo_run_p_bench_picks_the_benchmark() {
    // The package has two binaries; without `default-run`, `cargo run -p bench` (the command
    // the README and the book give) stops and asks which one.
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("bench/Cargo.toml");
    assert!(
        manifest
            .lines()
            .any(|line| line.trim() == "default-run = \"bench\""),
        "bench/Cargo.toml has no default-run = \"bench\""
    );
}

#[test]
fn bare_pingpong_help_runs_nothing() {
    testkit::assert_help_only(env!("CARGO_BIN_EXE_bare_pingpong"));
}

#[test]
fn bench_and_bare_pingpong_on_a_closed_terminal_stop_as_on_sighup() {
    // bench's progress line meets the closed terminal at once; bare_pingpong at its one line.
    testkit::assert_each_stops_on_a_closed_terminal(
        "bench-closed-terminal",
        &[
            (BENCH, &["--quick"]),
            (env!("CARGO_BIN_EXE_bare_pingpong"), &[]),
        ],
    );
}
