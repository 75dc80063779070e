//! Tests of the `orphan_zombie` example: the zombie shows `Z` and is reaped, the orphan gets a
//! new parent (this program itself with `--subreaper`), and neither outlives the example, even
//! after Ctrl-C.

use std::process::Command;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use process_states::{Seen, read_stat};
use support::testing::{Finished, Running, run};

fn orphan_zombie(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orphan_zombie"));
    command.args(args);
    command
}

/// The number right after `before` in `line`.
fn number_after(line: &str, before: &str) -> i32 {
    line.split_once(before)
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or_else(|| panic!("no number after {before:?} in {line:?}"))
}

fn line_with<'a>(finished: &'a Finished, needle: &str) -> &'a str {
    finished
        .stdout_lines()
        .into_iter()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", finished.stdout))
}

/// Not running any more: gone, or (when pid 1 adopted it) a zombie that pid 1 has yet to reap.
fn assert_not_running(pid: Pid) {
    match read_stat(pid).expect("read /proc") {
        Seen::Gone => {}
        Seen::Alive(stat) => assert!(stat.state == 'Z' && stat.ppid != 0, "{stat:?} still runs"),
    }
}

#[test]
fn the_zombie_is_reaped_and_the_orphan_gets_a_new_parent() {
    let finished = run(orphan_zombie(&["--pause-ms", "10"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let zombie = number_after(line_with(&finished, "forked child"), "forked child ");
    line_with(&finished, &format!("/proc/{zombie}/stat: state Z (zombie)"));
    line_with(&finished, "the child exited with status 7");
    assert_eq!(read_stat(Pid::from_raw(zombie)).unwrap(), Seen::Gone);

    let first_parent = number_after(line_with(&finished, "here, my parent is"), "parent is ");
    let adopted = line_with(&finished, "its ppid is now");
    let orphan = number_after(adopted, "/proc/");
    let new_parent = number_after(adopted, "its ppid is now ");
    assert_ne!(new_parent, first_parent, "{adopted}");
    assert_ne!(new_parent, orphan);
    line_with(&finished, "ECHILD");
    line_with(&finished, "lifeline closed");
    // `run` returned, so nothing holds stdout any more: the orphan has exited.
    assert_not_running(Pid::from_raw(orphan));
}

#[test]
fn a_subreaper_adopts_the_orphan_and_reaps_it() {
    let running = Running::spawn(orphan_zombie(&["--subreaper", "--pause-ms", "10"]));
    let me = running.pid().as_raw();
    let finished = running.wait();
    assert!(finished.status.success(), "{finished:?}");
    let adopted = line_with(&finished, "its ppid is now");
    assert_eq!(number_after(adopted, "its ppid is now "), me, "{adopted}");
    line_with(&finished, "my adopted child exited with status 0");
    let orphan = number_after(adopted, "/proc/");
    assert_eq!(read_stat(Pid::from_raw(orphan)).unwrap(), Seen::Gone);
}

#[test]
fn ctrl_c_while_the_zombie_waits_reaps_it() {
    let mut running = Running::spawn(orphan_zombie(&["--pause-ms", "5000"]));
    let zombie = number_after(&running.expect_line("forked child"), "forked child ");
    running.expect_line("state Z");
    running.signal_group(Signal::SIGINT);
    let finished = running.wait();
    assert_eq!(finished.status.code(), Some(130), "{finished:?}");
    assert_eq!(read_stat(Pid::from_raw(zombie)).unwrap(), Seen::Gone);
}

#[test]
fn ctrl_c_while_the_orphan_lives_ends_it() {
    for subreaper in [true, false] {
        let mut args = vec!["--pause-ms", "2000"];
        if subreaper {
            args.push("--subreaper");
        }
        let mut running = Running::spawn(orphan_zombie(&args));
        let orphan = number_after(&running.expect_line("its ppid is now"), "/proc/");
        running.signal(Signal::SIGINT);
        let finished = running.wait();
        assert_eq!(finished.status.code(), Some(130), "{finished:?}");
        let orphan = Pid::from_raw(orphan);
        if subreaper {
            // Adopted, so killed and reaped by the example itself.
            assert_eq!(read_stat(orphan).unwrap(), Seen::Gone);
        } else {
            assert_not_running(orphan);
        }
    }
}
