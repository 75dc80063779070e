//! Finding and killing every process a graded test started, wherever it went: into a process
//! group or a session of its own, or detached by a double fork.
//!
//! The grader makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`, prctl(2)): a process
//! whose parent dies is then re-parented to the grader, not to init, so every process a test
//! started stays a descendant of the grader until it is reaped. After each test the grader
//! kills its descendants, looking again until none is left, and reaps the ones that became its
//! children. Under the autograder the student's code also runs under a user id of its own,
//! and [`kill_user`] ends every process of that user.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// How long the killing may take before it is reported as failed.
pub const KILL_DEADLINE: Duration = Duration::from_secs(2);

/// Makes this process the subreaper of everything it starts.
pub fn become_subreaper() -> Result<(), String> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|err| format!("prctl(PR_SET_CHILD_SUBREAPER): {err}"))
}

/// One line of the process table.
#[derive(Clone, Copy, Debug)]
struct Process {
    pid: i32,
    parent: i32,
    uid: u32,
    zombie: bool,
}

/// Every process, read from `/proc/<pid>/stat` and `/proc/<pid>/status`; one that ends while
/// it is read is left out.
fn processes() -> Vec<Process> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
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
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        // The command name may hold spaces and parentheses: the fields go on after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let Some(parent) = fields.next().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Some(uid) = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            .and_then(|uid| uid.parse().ok())
        else {
            continue;
        };
        found.push(Process {
            pid,
            parent,
            uid,
            zombie: state == "Z" || state == "X",
        });
    }
    found
}

/// The descendants of this process, children first.
fn descendants(table: &[Process]) -> Vec<Process> {
    let mut children: BTreeMap<i32, Vec<Process>> = BTreeMap::new();
    for process in table {
        children.entry(process.parent).or_default().push(*process);
    }
    let mut found = Vec::new();
    let mut queue = vec![std::process::id() as i32];
    while let Some(parent) = queue.pop() {
        for child in children.get(&parent).into_iter().flatten() {
            found.push(*child);
            queue.push(child.pid);
        }
    }
    found
}

/// Kills every descendant of this process and reaps those that are its children, looking again
/// until none is left (a process may fork while it is being killed). Returns how many were
/// killed. A child that `std::process::Child` still waits for must have been waited for first.
pub fn kill_descendants() -> Result<usize, String> {
    let me = std::process::id() as i32;
    let deadline = Instant::now() + KILL_DEADLINE;
    let mut killed = 0;
    loop {
        let found = descendants(&processes());
        for process in &found {
            if !process.zombie {
                killed += 1;
                let _ = kill(Pid::from_raw(process.pid), Signal::SIGKILL);
            }
        }
        for process in found.iter().filter(|p| p.parent == me) {
            let _ = waitpid(Pid::from_raw(process.pid), Some(WaitPidFlag::WNOHANG));
        }
        if found.is_empty() {
            return Ok(killed);
        }
        if Instant::now() > deadline {
            let pids: Vec<String> = found.iter().map(|p| p.pid.to_string()).collect();
            return Err(format!(
                "processes a test started are still there after {} s: {}",
                KILL_DEADLINE.as_secs(),
                pids.join(" ")
            ));
        }
        std::thread::yield_now();
    }
}

/// The processes of user `uid` that still run (zombies left out).
pub fn processes_of(uid: u32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|p| p.uid == uid && !p.zombie)
        .map(|p| p.pid)
        .collect()
}

/// Kills every process of user `uid`: `kill -KILL -1` run as that user, which signals every
/// process the user may signal but itself, again until none is left; then reaps what became
/// this process's children.
pub fn kill_user(uid: u32, gid: u32) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let deadline = Instant::now() + KILL_DEADLINE;
    loop {
        if processes_of(uid).is_empty() {
            kill_descendants()?;
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "-1"])
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        kill_descendants()?;
        if Instant::now() > deadline {
            return Err(format!(
                "processes of user {uid} are still there after {} s: {:?}",
                KILL_DEADLINE.as_secs(),
                processes_of(uid)
            ));
        }
    }
}
