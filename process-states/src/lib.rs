//! Process states: the pieces the `process-states` examples share.
//!
//! A textbook gives a process five states (created, ready, running, blocked, terminated) plus a
//! "suspended" one that a person or a debugger can impose. Linux shows its own view as one
//! letter in `/proc/<pid>/stat` (`R`, `S`, `D`, `T`, `t`, `Z`, `X`, `I`). This file reads that
//! view, and the kernel's counters next to it (`/proc/<pid>/status`, `/proc/<pid>/schedstat`),
//! and holds what the examples need to watch the processes they make: a [`Watcher`] that waits
//! with deadlines for `/proc` or `waitpid` to show a change, and CPU pinning. `fork()`, the
//! guarded [`Child`] and the stop mechanism are the workspace's own, in the `support` crate.
//! This crate has no `unsafe` code.

#![forbid(unsafe_code)]

pub mod lab;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use support::cli::{Context, Failure};
use support::stop::{Stop, Stopped};
use support::{Child, LineReader};

/// A reading from `/proc/<pid>/...`, or the news that the process is not there any more.
///
/// A process can end (and be reaped) between any two reads: the file is missing (`ENOENT`), or
/// it disappears while it is read (`ESRCH`). That is an ordinary outcome, not an error.
// ANCHOR: seen
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<T> {
    /// The process exists (possibly as a zombie) and this is what the file said.
    Alive(T),
    /// There is no such process: it ended and its parent reaped it (or it never existed).
    Gone,
}
// ANCHOR_END: seen

/// What one line of `/proc/<pid>/stat` says, in the fields the examples use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Field 1: the process id.
    pub pid: i32,
    /// Field 2: the command name (at most 15 bytes, chosen by the program: any bytes at all).
    pub comm: String,
    /// Field 3: the state letter.
    pub state: char,
    /// Field 4: the parent's process id.
    pub ppid: i32,
    /// Field 14: CPU time spent in user mode, in clock ticks.
    pub utime: u64,
    /// Field 15: CPU time spent in the kernel on behalf of the process, in clock ticks.
    pub stime: u64,
    /// Field 39: the CPU it last ran on.
    pub processor: u32,
}

/// Cuts a `/proc/<pid>/stat` line in three: the pid, the command name, and the fields after it.
///
/// The command name is the one field that may contain spaces and parentheses: a program may
/// call itself `a b) (c`. It is written between `(` and `)`, so it runs from the first `(` to
/// the LAST `)` of the line; every field after it is a number or the state letter, separated
/// by single spaces.
// ANCHOR: split_stat
fn split_stat(text: &str) -> Result<(&str, &str, &str), &'static str> {
    let open = text.find('(').ok_or("no '(' before the command name")?;
    let close = text.rfind(')').ok_or("no ')' after the command name")?;
    if close < open {
        return Err("')' comes before '('");
    }
    Ok((&text[..open], &text[open + 1..close], &text[close + 1..]))
}
// ANCHOR_END: split_stat

/// Parses the contents of `/proc/<pid>/stat`, the command name included, whatever it holds.
pub fn parse_stat(line: &[u8]) -> Result<Stat, Failure> {
    let text = String::from_utf8_lossy(line);
    let bad = |why: &str| Failure::new(format!("/proc stat line {text:?}: {why}"));
    let (pid, comm, rest) = split_stat(&text).map_err(bad)?;
    let pid = pid
        .trim()
        .parse()
        .map_err(|_| bad("field 1 is not a pid"))?;
    let comm = comm.to_owned();
    // Field 3 (the state) is at index 0 here, so field n is at index n - 3.
    let rest: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        rest.get(n - 3)
            .copied()
            .ok_or_else(|| bad("too few fields"))
    };
    let number = |n: usize| {
        field(n)?
            .parse::<u64>()
            .map_err(|_| bad(&format!("field {n} is not a number")))
    };
    let mut letters = field(3)?.chars();
    let state = match (letters.next(), letters.next()) {
        (Some(letter), None) => letter,
        _ => return Err(bad("field 3 is not one state letter")),
    };
    Ok(Stat {
        pid,
        comm,
        state,
        ppid: field(4)?.parse().map_err(|_| bad("field 4 is not a pid"))?,
        utime: number(14)?,
        stime: number(15)?,
        processor: u32::try_from(number(39)?).map_err(|_| bad("field 39 is too large"))?,
    })
}

/// Reads `/proc/<pid>/<file>`; a process that is not there (any more) is [`Seen::Gone`].
pub fn read_proc(pid: Pid, file: &str) -> Result<Seen<Vec<u8>>, Failure> {
    match std::fs::read(format!("/proc/{pid}/{file}")) {
        Ok(bytes) => Ok(Seen::Alive(bytes)),
        Err(err) if matches!(err.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => {
            Ok(Seen::Gone)
        }
        Err(err) => Err(err).context(format!("read /proc/{pid}/{file}")),
    }
}

/// Reads and parses `/proc/<pid>/stat`.
pub fn read_stat(pid: Pid) -> Result<Seen<Stat>, Failure> {
    Ok(match read_proc(pid, "stat")? {
        Seen::Alive(line) => Seen::Alive(parse_stat(&line)?),
        Seen::Gone => Seen::Gone,
    })
}

/// Context switches of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Switches {
    /// The process gave the CPU up itself: it blocked (read, sleep, wait...).
    pub voluntary: u64,
    /// The scheduler took the CPU away: its time slice was used up, or a more urgent task woke.
    pub involuntary: u64,
}

/// Finds `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` in the text of
/// `/proc/<pid>/status`.
pub fn parse_switches(status: &str) -> Result<Switches, Failure> {
    let value = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| Failure::new(format!("/proc/<pid>/status: no number for {key}")))
    };
    Ok(Switches {
        voluntary: value("voluntary_ctxt_switches")?,
        involuntary: value("nonvoluntary_ctxt_switches")?,
    })
}

/// Reads the context switch counters of `pid`.
pub fn read_switches(pid: Pid) -> Result<Seen<Switches>, Failure> {
    Ok(match read_proc(pid, "status")? {
        Seen::Alive(text) => Seen::Alive(parse_switches(&String::from_utf8_lossy(&text))?),
        Seen::Gone => Seen::Gone,
    })
}

/// The scheduler's accounting for one process, from `/proc/<pid>/schedstat`.
///
/// This is how to tell "ready" from "running", which share the letter `R`: time on a CPU is
/// running, time on a run queue waiting for a CPU is ready.
// ANCHOR: schedstat
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedStat {
    /// Time spent running on a CPU.
    pub on_cpu: Duration,
    /// Time spent runnable but waiting on a run queue (the textbook's "ready").
    pub waiting: Duration,
    /// How many times it was given a CPU (time slices, more or less).
    pub slices: u64,
}
// ANCHOR_END: schedstat

/// Parses the three numbers of `/proc/<pid>/schedstat` (nanoseconds, nanoseconds, count).
pub fn parse_schedstat(text: &str) -> Result<SchedStat, Failure> {
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| Failure::new(format!("/proc/<pid>/schedstat: {text:?} is not 3 numbers")))?;
    match numbers[..] {
        [on_cpu, waiting, slices] => Ok(SchedStat {
            on_cpu: Duration::from_nanos(on_cpu),
            waiting: Duration::from_nanos(waiting),
            slices,
        }),
        _ => Err(Failure::new(format!(
            "/proc/<pid>/schedstat: {text:?} is not 3 numbers"
        ))),
    }
}

/// Reads the scheduler's accounting for `pid`.
pub fn read_schedstat(pid: Pid) -> Result<Seen<SchedStat>, Failure> {
    Ok(match read_proc(pid, "schedstat")? {
        Seen::Alive(text) => Seen::Alive(parse_schedstat(&String::from_utf8_lossy(&text))?),
        Seen::Gone => Seen::Gone,
    })
}

// ANCHOR: letters
/// What a state letter of `/proc/<pid>/stat` means, and which textbook state it belongs to.
pub fn letter_meaning(letter: char) -> (&'static str, &'static str) {
    match letter {
        'R' => ("running or runnable", "ready or running"),
        'S' => ("sleeping, wakes on a signal", "blocked"),
        'D' => ("sleeping, uninterruptible", "blocked"),
        'I' => ("idle kernel thread", "blocked"),
        'T' => ("stopped by a signal", "suspended"),
        't' => ("stopped by a debugger", "suspended"),
        'Z' => ("zombie: ended, not reaped", "terminated"),
        'X' => ("dead, being removed", "terminated"),
        _ => ("a letter this table does not know", "?"),
    }
}
// ANCHOR_END: letters

/// Whether `fd` has something to read (data or end-of-file) right now, without waiting.
pub fn readable_now(fd: &impl AsFd) -> Result<bool, Failure> {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(ready) => Ok(ready > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(errno) => Err(errno).context("poll"),
    }
}

/// A parent's watch over its children: it samples `/proc` and waits for news of a child, each
/// with a deadline, on top of the workspace's one stop mechanism ([`Stop`]).
///
/// SIGCHLD ends a wait early (it says "ask `waitpid`"); a stop signal (SIGINT, SIGTERM, SIGHUP)
/// ends every wait with [`Stopped::Signal`], so that the example kills and reaps its children
/// and exits with 128 + the signal's number.
// ANCHOR: watcher
pub struct Watcher<'a> {
    stop: &'a Stop,
}

impl<'a> Watcher<'a> {
    /// Watches with `stop`, and lets SIGCHLD end its waits early.
    pub fn new(stop: &'a Stop) -> Result<Self, Failure> {
        stop.watch_children()?;
        Ok(Self { stop })
    }

    /// The stop mechanism, for a blocking call of the example's own (`stop.retry(|| read(..))`).
    pub fn stop(&self) -> &'a Stop {
        self.stop
    }

    /// Lets `time` pass, unless a stop signal comes first.
    pub fn hold(&self, time: Duration) -> Result<(), Stopped> {
        self.stop.sleep(time)
    }
    // ANCHOR_END: watcher

    /// Holds until a line (Enter) or the end of input comes on stdin, unless a stop signal comes
    /// first: for a person who wants to look at one state for as long as they like (`--hold`).
    pub fn hold_until_enter(&self) -> Result<(), Stopped> {
        LineReader::new().next_line(std::io::stdin().as_fd(), self.stop)?;
        Ok(())
    }

    /// Samples `/proc/<pid>/stat` every 2 ms until `check` returns something, for at most
    /// `deadline`. There is no event for "that process now sleeps" or "its parent changed", so
    /// sampling is the only way to see it; `what` names the awaited change for the error.
    // ANCHOR: sample_until
    pub fn sample_until<T>(
        &self,
        pid: Pid,
        deadline: Duration,
        what: &str,
        mut check: impl FnMut(&Seen<Stat>) -> Option<T>,
    ) -> Result<T, Stopped> {
        let give_up = Instant::now() + deadline;
        loop {
            let seen = read_stat(pid)?;
            if let Some(found) = check(&seen) {
                return Ok(found);
            }
            if Instant::now() > give_up {
                return Err(Failure::new(format!(
                    "process {pid}: {what} did not happen within {deadline:?} (last seen: {seen:?})"
                ))
                .into());
            }
            self.stop.sleep(Duration::from_millis(2))?;
        }
    }
    // ANCHOR_END: sample_until

    /// `waitpid(2)` within a deadline: waits until `waitpid` has news of `child`, for at most
    /// `deadline`. Pass only the flags that say which news counts (`WaitPidFlag::empty()` for an
    /// exit, `WUNTRACED` for a stop, `WCONTINUED` for a continue): this adds `WNOHANG` itself,
    /// and asks `waitpid(child, flags | WNOHANG)` at once, then again each time SIGCHLD comes.
    /// Standard signals do not queue (one SIGCHLD may stand for several changes, and one may
    /// have come before we got here), so a SIGCHLD is a reason to ask `waitpid`, never something
    /// to count.
    // ANCHOR: watcher_waitpid
    pub fn waitpid_within(
        &self,
        child: &mut Child,
        flags: WaitPidFlag,
        deadline: Duration,
    ) -> Result<WaitStatus, Stopped> {
        let give_up = Instant::now() + deadline;
        loop {
            let status = child.waitpid_with(Some(flags | WaitPidFlag::WNOHANG))?;
            if status != WaitStatus::StillAlive {
                return Ok(status);
            }
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let pid = child.pid();
                return Err(
                    Failure::new(format!("waitpid({pid}): no news within {deadline:?}")).into(),
                );
            }
            // Ends at SIGCHLD (or a stop signal, or the deadline): the self-pipe keeps a
            // SIGCHLD that came since the last waitpid, so none is missed.
            self.stop.wait(&[], Some(left))?;
        }
    }
    // ANCHOR_END: watcher_waitpid
}

// ANCHOR: allowed_cpus
/// `sched_getaffinity(2)`: the CPUs this process may run on, lowest first (never none).
pub fn allowed_cpus() -> Result<Vec<usize>, Failure> {
    let allowed = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
    let cpus: Vec<usize> = (0..CpuSet::count())
        .filter(|&cpu| allowed.is_set(cpu).unwrap_or(false))
        .collect();
    if cpus.is_empty() {
        return Err(Failure::new("sched_getaffinity: no CPU allowed"));
    }
    Ok(cpus)
}

/// The lowest-numbered CPU this process may run on.
pub fn first_allowed_cpu() -> Result<usize, Failure> {
    Ok(allowed_cpus()?[0])
}
// ANCHOR_END: allowed_cpus

/// Restricts the calling process to one CPU: `sched_setaffinity(2)` with a set of one.
// ANCHOR: pin
pub fn pin_to_cpu(cpu: usize) -> Result<(), Failure> {
    let mut set = CpuSet::new();
    set.set(cpu).context(format!("CPU {cpu}"))?;
    sched_setaffinity(Pid::from_raw(0), &set).context(format!("sched_setaffinity(CPU {cpu})"))
}
// ANCHOR_END: pin

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(comm: &str) -> String {
        format!(
            "4242 ({comm}) S 17 4242 4242 0 -1 4194304 98 0 0 0 25 7 0 0 20 0 1 0 62298 \
             3133440 373 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 \
             6 7 0\n"
        )
    }

    fn parsed(comm: &str) -> Stat {
        parse_stat(sample(comm).as_bytes()).expect("sample line parses")
    }

    #[test]
    fn plain_line() {
        let stat = parsed("cat");
        assert_eq!(
            stat,
            Stat {
                pid: 4242,
                comm: "cat".into(),
                state: 'S',
                ppid: 17,
                utime: 25,
                stime: 7,
                processor: 1,
            }
        );
    }

    #[test]
    fn comm_with_spaces_and_parentheses() {
        for comm in [
            "a b",
            "(a b) (c)",
            "((x)",
            "x))",
            ")",
            "(",
            "",
            ") S 1 2 3 (",
            "a\nb",
        ] {
            let stat = parsed(comm);
            assert_eq!(stat.comm, comm);
            assert_eq!(
                (stat.state, stat.ppid, stat.utime),
                ('S', 17, 25),
                "{comm:?}"
            );
        }
    }

    #[test]
    fn comm_that_is_not_utf8() {
        let mut line = b"7 (\xff\xfe) Z 1 ".to_vec();
        // The sample's fields from field 5 on: "4242 (x) S 17 " is 14 bytes.
        line.extend_from_slice(&sample("x").as_bytes()[14..]);
        let stat = parse_stat(&line).expect("parses");
        assert_eq!((stat.pid, stat.state, stat.ppid), (7, 'Z', 1));
    }

    #[test]
    fn broken_lines_are_errors_not_panics() {
        for line in [
            "",
            "12",
            "12 (x",
            "12 x) S",
            "12 (x) S 1",
            ") 12 (",
            "12 (x) SS 1",
        ] {
            assert!(parse_stat(line.as_bytes()).is_err(), "{line:?}");
        }
    }

    #[test]
    fn switches_and_schedstat() {
        let status = "Name:\tx\nvoluntary_ctxt_switches:\t95\nnonvoluntary_ctxt_switches:\t17\n";
        assert_eq!(
            parse_switches(status).unwrap(),
            Switches {
                voluntary: 95,
                involuntary: 17
            }
        );
        assert!(parse_switches("Name:\tx\n").is_err());
        let sched = parse_schedstat("34521962 5820949 112\n").unwrap();
        assert_eq!(sched.on_cpu, Duration::from_nanos(34_521_962));
        assert_eq!(sched.slices, 112);
        assert!(parse_schedstat("1 2").is_err());
    }

    #[test]
    fn a_process_that_does_not_exist_is_gone() {
        // Pids are at most 2^22 on Linux, so this one cannot exist.
        let nobody = Pid::from_raw(i32::MAX);
        assert_eq!(read_stat(nobody).unwrap(), Seen::Gone);
        assert_eq!(read_switches(nobody).unwrap(), Seen::Gone);
    }

    #[test]
    fn the_thread_reading_its_own_stat_is_running() {
        // Not /proc/<pid>/stat: that is the test harness's main thread, asleep waiting for us.
        let line = std::fs::read("/proc/thread-self/stat").expect("read /proc/thread-self/stat");
        let stat = parse_stat(&line).expect("parses");
        assert_eq!(
            (stat.pid, stat.state),
            (nix::unistd::gettid().as_raw(), 'R')
        );
    }
}
