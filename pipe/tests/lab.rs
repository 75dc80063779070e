//! Graded tests of the pipe lab: `lab_pipe` runs the student's `pipeline` on real commands, and
//! these tests check the output, every stage's status, the descriptors the stages and the runner
//! hold, and that no child is left behind.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::process::Command;

use nix::unistd::Pid;
use testkit::{Finished, Running, run};

fn lab_pipe(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab_pipe"));
    command.args(args);
    command
}

/// The lines in which `lab_pipe` says how each stage ended, in order.
fn stage_lines(done: &Finished) -> Vec<&str> {
    done.stdout_lines()
        .into_iter()
        .filter(|line| line.starts_with("lab_pipe: stage "))
        .collect()
}

/// Checks that `lab_pipe` reported, for each stage in order, `expected[i]` (the end of the
/// line: `exited with status 0`, `was killed by signal 13 (SIGPIPE)`).
fn assert_statuses(done: &Finished, stages: &[&str], expected: &[&str]) {
    let lines = stage_lines(done);
    let wanted: Vec<String> = stages
        .iter()
        .zip(expected)
        .enumerate()
        .map(|(n, (stage, end))| format!("lab_pipe: stage {} `{stage}` {end}", n + 1))
        .collect();
    assert_eq!(lines, wanted, "{done:?}");
}

/// The descriptors a program started by this test inherits: 0, 1 and 2, and whatever this test
/// process itself holds without close-on-exec (the test harness may have been started with a
/// few). Read from /proc/self/fdinfo, whose `flags:` field is octal; O_CLOEXEC is 02000000.
fn inherited_fds() -> BTreeSet<i32> {
    let mut fds: BTreeSet<i32> = [0, 1, 2].into();
    for entry in std::fs::read_dir("/proc/self/fdinfo").expect("read /proc/self/fdinfo") {
        let Some(fd) = entry
            .ok()
            .and_then(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        else {
            continue;
        };
        // A descriptor may close between the listing and the read (the listing's own, another
        // test's): then it is not inherited either.
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
            .expect("a flags: line in fdinfo");
        if flags & 0o2000000 == 0 {
            fds.insert(fd);
        }
    }
    fds
}

/// The numbers in `/proc/<pid>/fd`.
fn fds_of(pid: Pid) -> BTreeSet<i32> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The processes whose parent is `parent`, from field 4 of every `/proc/<pid>/stat`.
fn children_of(parent: Pid) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses: the fields follow the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&parent.as_raw().to_string().as_str()) {
            found.push((pid, stat.trim_end().to_owned()));
        }
    }
    found
}

#[test]
fn output_of_three_stages() {
    let done = run(
        lab_pipe(&["--quiet", r"printf a\nb\nc\n", "sort -r", "head -2"]),
        "",
    );
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, "c\nb\n", "{done:?}");
}

#[test]
fn first_stage_reads_stdin_and_last_stage_writes_stdout() {
    let done = run(
        lab_pipe(&["--quiet", "cat", "tr a-z A-Z"]),
        "hello\npipes\n",
    );
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, "HELLO\nPIPES\n", "{done:?}");
}

#[test]
fn stages_run_at_the_same_time() {
    // seq writes about 1.3 MB, far more than a pipe holds: a pipeline that waited for one stage
    // before starting the next would never end (the watchdog would kill it).
    let done = run(lab_pipe(&["--quiet", "seq 200000", "cat", "wc -l"]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout.trim(), "200000", "{done:?}");
}

#[test]
fn every_stage_status_in_order() {
    // A failing stage in the middle does not end the pipeline: each stage has its own status.
    let stages = ["true", "false", "true"];
    let done = run(lab_pipe(&stages), "");
    assert_statuses(
        &done,
        &stages,
        &[
            "exited with status 0",
            "exited with status 1",
            "exited with status 0",
        ],
    );
    assert_eq!(
        done.status.code(),
        Some(0),
        "the last stage's status: {done:?}"
    );
    let failing_last = ["true", "false"];
    let done = run(lab_pipe(&failing_last), "");
    assert_statuses(
        &done,
        &failing_last,
        &["exited with status 0", "exited with status 1"],
    );
    assert_eq!(done.status.code(), Some(1), "{done:?}");
}

#[test]
fn a_missing_command_exits_127() {
    let stages = ["true", "no-such-command-for-the-lab", "true"];
    let done = run(lab_pipe(&stages), "");
    assert_statuses(
        &done,
        &stages,
        &[
            "exited with status 0",
            "exited with status 127",
            "exited with status 0",
        ],
    );
    assert!(
        done.stderr.contains("no-such-command-for-the-lab") && !done.stderr.contains("panicked"),
        "one line on stderr names the command: {done:?}"
    );
}

#[test]
fn a_producer_dies_of_sigpipe_as_under_a_shell() {
    // `yes` never ends by itself: only SIGPIPE, once `head` has exited, stops it, and only if
    // the stage has SIGPIPE's default action back (Rust ignores it, and exec keeps that).
    let stages = ["yes", "head -1"];
    let done = run(lab_pipe(&stages), "");
    assert_eq!(done.stdout_lines().first(), Some(&"y"), "{done:?}");
    assert_statuses(
        &done,
        &stages,
        &["was killed by signal 13 (SIGPIPE)", "exited with status 0"],
    );
    assert!(done.stderr.is_empty(), "{done:?}");
}

#[test]
fn no_leaked_descriptors_in_the_stages() {
    // `ls /proc/self/fd` lists the descriptors of the ls process: what it inherited, and the one
    // it opened itself to read the directory. In each position of the pipeline, the inherited
    // ones must be 0, 1 and 2 only (plus whatever this test itself passes on to every child).
    let inherited = inherited_fds();
    let list = "ls /proc/self/fd";
    for stages in [
        vec![list, "cat"],
        vec!["true", list, "cat"],
        vec!["true", "cat", list],
    ] {
        let mut args = vec!["--quiet"];
        args.extend(&stages);
        let done = run(lab_pipe(&args), "");
        assert!(done.status.success(), "{stages:?}: {done:?}");
        let listed: BTreeSet<i32> = done
            .stdout_lines()
            .iter()
            .map(|line| line.parse().expect("a descriptor number"))
            .collect();
        let extra: Vec<i32> = listed.difference(&inherited).copied().collect();
        assert!(
            inherited.is_subset(&listed) && extra.len() == 1,
            "{stages:?}: the stage `{list}` holds {listed:?}; expected {inherited:?} and the one \
             ls opens; the others leaked from the pipeline"
        );
    }
}

/// Runs `stages` with `--hold`, and calls `check` with the runner's pid once `pipeline` has
/// returned, while the runner still exists.
fn while_held(stages: &[&str], check: impl FnOnce(Pid)) -> Finished {
    let mut args = vec!["--hold"];
    args.extend(stages);
    let mut running = Running::spawn(lab_pipe(&args));
    running.expect_line("lab_pipe: pipeline returned");
    check(running.pid());
    running.wait()
}

#[test]
fn no_zombies_after_pipeline_returns() {
    // Stages that end at different times, in a different order from their position.
    let stages = ["seq 50000", "head -1", "cat", "false"];
    let done = while_held(&stages, |runner| {
        let left = children_of(runner);
        assert!(
            left.is_empty(),
            "after pipeline returned, the runner still has children (a zombie shows Z): {left:#?}"
        );
    });
    assert_eq!(stage_lines(&done).len(), stages.len(), "{done:?}");
}

#[test]
fn the_runner_keeps_no_pipe_end() {
    let inherited = inherited_fds();
    let done = while_held(&["printf x", "cat", "cat"], |runner| {
        let open = fds_of(runner);
        assert_eq!(
            open, inherited,
            "after pipeline returned, the runner holds descriptors it did not start with"
        );
    });
    assert!(done.stdout.starts_with("x"), "{done:?}");
}

// BEGIN HIDDEN TESTS
#[test]
fn one_stage_and_ten_stages() {
    let done = run(lab_pipe(&["--quiet", "echo alone"]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, "alone\n", "{done:?}");
    let mut args = vec!["--quiet", "printf through-ten"];
    args.extend(["cat"; 9]);
    let done = run(lab_pipe(&args), "");
    assert!(done.status.success(), "{done:?}");
    // The test harness ends the last line of what it read with a newline.
    assert_eq!(done.stdout, "through-ten\n", "{done:?}");
}

#[test]
fn an_empty_stage_is_refused_and_nothing_runs() {
    let done = run(lab_pipe(&["echo should-not-run", "   "]), "");
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{done:?}");
    assert!(
        done.stderr.starts_with("lab_pipe: ") && !done.stderr.contains("panicked"),
        "{done:?}"
    );
}
// END HIDDEN TESTS
