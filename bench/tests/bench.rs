//! The benchmark is tested for correctness, never for speed: every transport delivers every
//! byte at every size, a short run completes and saves what it printed (JSON, CSV) in as many
//! rounds as asked, the C reference runs or says why not, a stop signal or a helper that dies
//! ends it cleanly, and bad input is refused. No test looks at a figure.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::process::Command;

use clap::ValueEnum;

use bench::measure::Placement;
use bench::mechanism::{Buffer, Mechanism};
use bench::report::{Kind, Run};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use testkit::{
    Running, TempDir, assert_refused_out_of_range, processes_in_group, run, signal_row, stop_with,
    wait_until_blocked_in,
};

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

/// Tiny counts: the point is that every figure is made, not what it says.
const TINY: [&str; 8] = [
    "--warmup-ms",
    "0",
    "--measure-ms",
    "1",
    "--max-messages",
    "12",
    "--rounds",
    "1",
];

fn bench(dir: &TempDir, args: &[&str]) -> Command {
    let mut command = Command::new(BENCH);
    command.args(args).arg("--dir").arg(dir.path());
    command
}

fn load(path: &std::path::Path) -> Run {
    let text = std::fs::read_to_string(path).expect("the JSON file");
    Run::from_json(&text).expect("a run")
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
    let sizes_list = "1,7,8,32,100,128,512,2048,4095,8192,32768,65536";
    let stream_sizes = "16,1000,1024,4096,16384,65536,100003,262144,1048576";
    let mut command = bench(
        &dir,
        &[
            "--sizes",
            sizes_list,
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
    assert_eq!(placements, [Placement::SameCpu, Placement::OtherCpu]);
    let limit = |mechanism: Mechanism| mechanism.size_limit().map_or(usize::MAX, |(max, _)| max);
    let sizes = |list: &str| -> Vec<usize> {
        list.split(',')
            .map(|size| size.parse::<usize>().unwrap())
            .collect()
    };
    for &placement in &placements {
        for mechanism in Mechanism::ROUND_TRIP {
            for size in sizes(sizes_list) {
                let figure = figures.round_trip(mechanism, placement, size);
                if size > limit(mechanism) {
                    assert!(figure.is_none(), "{mechanism:?} over its limit at {size}");
                    continue;
                }
                let figure =
                    figure.unwrap_or_else(|| panic!("{mechanism:?} {placement:?} {size} B"));
                assert!(figure.messages >= 1);
                assert_eq!(figure.per_round.len(), 1);
            }
        }
        for mechanism in Mechanism::STREAMING {
            for &buffer in mechanism.buffers() {
                for size in sizes(stream_sizes) {
                    let figure = figures.stream(mechanism, Some(placement), size, Some(buffer));
                    if size > limit(mechanism) {
                        assert!(figure.is_none(), "{mechanism:?} over its limit at {size}");
                        continue;
                    }
                    let figure = figure.unwrap_or_else(|| {
                        panic!("{mechanism:?} {buffer:?} {placement:?} {size} B")
                    });
                    assert!(figure.messages >= 1);
                    assert!(figure.buffer_bytes.is_some(), "{mechanism:?} {buffer:?}");
                }
            }
        }
        // The transfer floor carries every message number too (its bytes are written and read
        // in place, not copied), across CPUs.
        for size in sizes(stream_sizes) {
            let transfer = figures.stream(Mechanism::Transfer, Some(placement), size, None);
            assert_eq!(
                transfer.is_some(),
                placement == Placement::OtherCpu,
                "{size} B"
            );
        }
    }
    for size in sizes(stream_sizes) {
        assert!(
            figures
                .stream(Mechanism::Memcpy, None, size, None)
                .is_some()
        );
    }
    assert!(figures.settings.every_byte);
    // No futex wait timed out while what it waited for had happened: no lost wake-up.
    let stalls: u64 = figures.figures.iter().map(|f| f.stalled_waits).sum();
    assert_eq!(stalls, 0, "lost wake-ups");
    scratch_is_gone(&dir);
}

#[test]
fn quick_completes_and_its_json_redraws_the_same_tables() {
    let dir = TempDir::new("bench-quick");
    let json = dir.path().join("run.json");
    let svg = dir.path().join("run.svg");
    let csv = dir.path().join("run.csv");
    // The real --quick: one round, no verdict on the targets.
    let mut command = bench(&dir, &["--quick"]);
    command
        .arg("--json")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .arg("--csv")
        .arg(&csv);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");

    // Progress on stderr: which figure, which round, how far along.
    let progress: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|l| l.contains('/'))
        .collect();
    assert!(
        progress
            .iter()
            .any(|l| l.contains("round 1/1") && l.contains("round trip") && l.contains("pipe"))
    );
    assert!(
        progress
            .iter()
            .any(|l| l.contains("throughput") && l.contains("shm ring"))
    );
    assert!(finished.stderr.contains("bench: measured"));

    // The tables name every mechanism, every bound, both buffers and the C reference (or say
    // why it is missing).
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
    for words in [
        "cache-line floor",
        "futex floor",
        "futex, CPUs kept busy",
        "memcpy ceiling",
        "cross-CPU transfer floor",
        "default buffer",
        "1 MiB buffer",
        "wake-ups / MiB",
        "Targets",
        "no verdict (a verdict needs 3 rounds)",
        "Summary: fastest at 8 B: same CPU ",
    ] {
        assert!(finished.stdout.contains(words), "{words}");
    }
    if bench::HAS_C_REFERENCE {
        assert!(finished.stdout.contains("C two-pipe ping-pong"));
    } else {
        assert!(finished.stdout.contains("skipped: no C compiler"));
    }
    // One round: no target is judged, and no median of one round is called met.
    assert!(!finished.stdout.contains(": met"), "{}", finished.stdout);

    let figures = load(&json);
    assert!(figures.settings.quick);
    assert_eq!(figures.settings.rounds, 1);
    assert!(!figures.machine.cpu_model.is_empty());
    assert!(figures.machine.cpus_online >= 1);
    let sizes: BTreeSet<usize> = figures.round_trip_sizes().into_iter().collect();
    assert_eq!(sizes, BTreeSet::from([8, 65536]));
    assert!(figures.figures.iter().all(|f| f.rounds == 1));

    let chart = std::fs::read_to_string(&svg).expect("the SVG file");
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..chart.len().min(80)]
    );
    for words in [
        "Round trip",
        "Throughput",
        "shm + futex",
        "memcpy ceiling",
        "cross-CPU transfer floor",
        "pipe, 1 MiB buffer",
    ] {
        assert!(chart.contains(words), "{words} missing from the chart");
    }

    // The CSV: a header, then a line per figure, every line with as many fields.
    let table = std::fs::read_to_string(&csv).expect("the CSV file");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("kind,mechanism,placement,size,buffer,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 1 + figures.figures.len());
    let columns = lines[0].split(',').count();
    for line in &lines {
        assert_eq!(line.split(',').count(), columns, "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("stream,shm-ring,other-cpu,1048576,1mib,"))
    );

    // --from-json prints the same tables without measuring anything, and writes the same CSV.
    let again_csv = dir.path().join("again.csv");
    let mut again = Command::new(BENCH);
    again
        .arg("--from-json")
        .arg(&json)
        .arg("--csv")
        .arg(&again_csv);
    let redrawn = run(again, "");
    assert!(redrawn.status.success(), "{redrawn:?}");
    let tables = |text: &str| -> String {
        text.lines()
            .take_while(|line| !line.starts_with("Saved every figure"))
            .take_while(|line| !line.starts_with("Wrote every figure"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(tables(&redrawn.stdout), tables(&finished.stdout));
    assert!(redrawn.stderr.is_empty(), "{}", redrawn.stderr);
    assert_eq!(std::fs::read_to_string(&again_csv).unwrap(), table);
    scratch_is_gone(&dir);
}

#[test]
fn every_figure_is_measured_once_per_round_and_judged_by_its_median() {
    let dir = TempDir::new("bench-rounds");
    let json = dir.path().join("run.json");
    let mut command = bench(
        &dir,
        &[
            "--only",
            "shm-spin,shm-futex,pipe",
            "--sizes",
            "8",
            "--stream-sizes",
            "65536",
            "--buffers",
            "1mib",
            "--warmup-ms",
            "0",
            "--measure-ms",
            "2",
            "--rounds",
            "3",
        ],
    );
    command.arg("--json").arg(&json);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    // Interleaved: the whole list once per round, so the progress goes round 1, 2, 3, and the
    // first figure of round 2 comes after the last of round 1.
    let rounds: Vec<usize> = finished
        .stderr
        .lines()
        .filter_map(|line| line.strip_prefix("bench: round "))
        .map(|rest| rest.split('/').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        rounds.windows(2).all(|pair| pair[0] <= pair[1]),
        "{rounds:?}"
    );
    assert_eq!((rounds.first(), rounds.last()), (Some(&1), Some(&3)));

    let figures = load(&json);
    assert_eq!(figures.settings.rounds, 3);
    for figure in &figures.figures {
        assert_eq!(figure.rounds, 3, "{:?}", figure.key);
        let rounds: Vec<usize> = figure.per_round.iter().map(|r| r.round).collect();
        assert_eq!(rounds, [0, 1, 2], "{:?}", figure.key);
        assert!(figure.min <= figure.median && figure.median <= figure.max);
        if figure.key.kind == Kind::RoundTrip {
            assert!(figure.p99.is_some(), "{:?}", figure.key);
        }
    }
    // Only what --only asked for and the bounds its ratios need.
    let mechanisms: BTreeSet<Mechanism> = figures.figures.iter().map(|f| f.key.mechanism).collect();
    for unwanted in [Mechanism::Fifo, Mechanism::ShmRing, Mechanism::FutexBusy] {
        assert!(!mechanisms.contains(&unwanted), "{unwanted:?}");
    }
    for needed in [
        Mechanism::CacheLine,
        Mechanism::Futex,
        Mechanism::Transfer,
        Mechanism::Memcpy,
    ] {
        assert!(mechanisms.contains(&needed), "{needed:?}");
    }
    // --buffers 1mib: the pipe's stream with its 1 MiB buffer only.
    let pipe_buffers: BTreeSet<Option<Buffer>> = figures
        .figures
        .iter()
        .filter(|f| f.key.kind == Kind::Stream && f.key.mechanism == Mechanism::Pipe)
        .map(|f| f.key.buffer)
        .collect();
    assert_eq!(pipe_buffers, BTreeSet::from([Some(Buffer::OneMib)]));
    // Each target with a ratio says in how many rounds it held, and from 3 rounds on whether it
    // was met (how many rounds have a ratio depends on how many round trips each counted).
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let targets = saved["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 5);
    for target in targets {
        let Some(rounds) = target["per_round"].as_array().map(Vec::len) else {
            continue; // not measured
        };
        let held = target["rounds_held"].as_u64().expect("rounds_held") as usize;
        assert!(held <= rounds, "{target}");
        assert_eq!(target["met"].is_boolean(), rounds >= 3, "{target}");
    }
    for line in finished.stdout.lines().filter(|l| l.contains("this run")) {
        assert!(line.contains("held in"), "{line}");
    }
    scratch_is_gone(&dir);
}

#[test]
fn the_c_reference_runs_or_says_why_not() {
    let dir = TempDir::new("bench-c");
    let json = dir.path().join("run.json");
    let mut command = bench(&dir, &["--only", "c-pipe,c-futex", "--sizes", "8"]);
    command.args(TINY).arg("--json").arg(&json);
    let finished = run(command, "");
    assert!(finished.status.success(), "{finished:?}");
    let figures = load(&json);
    if !bench::HAS_C_REFERENCE {
        assert!(
            finished.stdout.contains("skipped: no C compiler"),
            "{}",
            finished.stdout
        );
        assert!(figures.figures.is_empty());
        return;
    }
    for placement in [Placement::SameCpu, Placement::OtherCpu] {
        let pipe = figures.round_trip(Mechanism::CPipe, placement, 8);
        let futex = figures.round_trip(Mechanism::CFutex, placement, 0);
        for figure in [pipe, futex] {
            let figure = figure.unwrap_or_else(|| panic!("{placement:?}"));
            assert!(figure.messages >= 1);
            assert!(figure.median > 0.0);
        }
    }

    // The C program on its own, as bench starts it: one line of figures.
    let mut direct = Command::new(BENCH);
    direct.args(["--c-reference", "pipe", "-1", "-1", "8", "0", "2", "20"]);
    let alone = run(direct, "");
    assert!(alone.status.success(), "{alone:?}");
    assert!(alone.stdout.starts_with("samples "), "{}", alone.stdout);
    assert!(bench::c_reference::parse(&alone.stdout).is_some());
    let mut unknown = Command::new(BENCH);
    unknown.args(["--c-reference", "carrier-pigeon"]);
    let refused = run(unknown, "");
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
}

/// Starts a run that stays on `mechanism` (a minute per figure; the rest takes a millisecond
/// each), and waits until it measures it: the progress line names it. A bound, the control or
/// a C reference is measured for `--floor-ms`, a mechanism for `--measure-ms`.
fn start_long(dir: &TempDir, mechanism: &str, progress: &str) -> Running {
    let is_bound = Mechanism::from_str(mechanism, false)
        .map(Mechanism::is_floor)
        .unwrap_or(false);
    let (measure, floor) = if is_bound {
        ("1", "60000")
    } else {
        ("60000", "1")
    };
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
            measure,
            "--floor-ms",
            floor,
            "--max-messages",
            "10000000",
            "--rounds",
            "1",
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
fn a_stop_signal_ends_the_transfer_floor() {
    stop_row(
        "bench on the transfer floor",
        "transfer",
        "cross-CPU transfer floor",
        None,
    );
}

#[test]
fn a_stop_signal_ends_the_futex_floor_and_its_untimed_wait() {
    stop_row(
        "bench in the futex floor",
        "futex",
        "round trip · other CPU · futex floor",
        Some(libc::SYS_futex),
    );
}

#[test]
fn a_stop_signal_ends_the_busy_cpus_and_their_spinners() {
    stop_row(
        "bench with spinners",
        "futex-busy",
        "futex, CPUs kept busy",
        None,
    );
}

#[test]
fn a_stop_signal_ends_the_c_reference_and_its_child() {
    if !bench::HAS_C_REFERENCE {
        return; // the_c_reference_runs_or_says_why_not checks the "skipped" line
    }
    stop_row(
        "bench running the C reference",
        "c-pipe",
        "C two-pipe ping-pong",
        None,
    );
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
        // A wait with no timeout: SIGCHLD and the periodic SIGALRM end it.
        ("futex", "round trip · other CPU · futex floor"),
        ("transfer", "cross-CPU transfer floor"),
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
        ("--rounds", "0"),
        ("--rounds", "101"),
    ] {
        assert_refused_out_of_range(bench(&dir, &[flag, value]), flag);
    }
    for (flag, value) in [("--only", "carrier-pigeon"), ("--buffers", "2mib")] {
        let finished = run(bench(&dir, &[flag, value]), "");
        assert_eq!(finished.status.code(), Some(2));
        assert!(
            finished.stderr.contains("possible values"),
            "{}",
            finished.stderr
        );
    }

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

    // A run saved by the bench before rounds (one measurement per figure) is named as such.
    let old = dir.path().join("old.json");
    std::fs::write(
        &old,
        "{\"machine\": {}, \"latency\": [], \"throughput\": []}",
    )
    .unwrap();
    let mut command = Command::new(BENCH);
    command.arg("--from-json").arg(&old);
    let finished = run(command, "");
    assert_eq!(finished.status.code(), Some(1));
    assert!(
        finished.stderr.contains("older bench"),
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
    for other in [
        Mechanism::CPipe,
        Mechanism::CFutex,
        Mechanism::FutexBusy,
        Mechanism::Transfer,
    ] {
        assert!(finished.stdout.contains(other.name()), "{}", other.name());
    }
    for buffer in Buffer::ALL {
        assert!(finished.stdout.contains(buffer.name()), "{}", buffer.name());
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
