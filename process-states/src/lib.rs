//! Process states: the pieces the `process-states` examples share.
//!
//! A textbook gives a process five states (created, ready, running, blocked, terminated) plus a
//! "suspended" one that a person or a debugger can impose. Linux shows its own view as one
//! letter in `/proc/<pid>/stat` (`R`, `S`, `D`, `T`, `t`, `Z`, `X`, `I`). This file reads that
//! view, and the kernel's counters next to it (`/proc/<pid>/status`, `/proc/<pid>/schedstat`),
//! and holds what the examples need to make processes on purpose: `fork()` that hands the child
//! to a guard that never lets it outlive the example, signals as readable pipes, CPU pinning.
//! It has no `unsafe` code: the `fork()` system call itself is wrapped in the `support` crate.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid};
use support::cli::{Context, Failure};

// ANCHOR: seen
/// A reading from `/proc/<pid>/...`, or the news that the process is not there any more.
///
/// A process can end (and be reaped) between any two reads: the file is missing (`ENOENT`), or
/// it disappears while it is read (`ESRCH`). That is an ordinary outcome, not an error.
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

// ANCHOR: parse_stat
/// Parses the contents of `/proc/<pid>/stat`.
///
/// The command name is the one field that may contain spaces and parentheses: a program may
/// call itself `a b) (c`. It is written between `(` and `)`, so it runs from the first `(` to
/// the LAST `)` of the line; every field after it is a number or the state letter, separated
/// by single spaces.
pub fn parse_stat(line: &[u8]) -> Result<Stat, Failure> {
    let text = String::from_utf8_lossy(line);
    let bad = |why: &str| Failure::new(format!("/proc stat line {text:?}: {why}"));
    let open = text
        .find('(')
        .ok_or_else(|| bad("no '(' before the command name"))?;
    let close = text
        .rfind(')')
        .ok_or_else(|| bad("no ')' after the command name"))?;
    if close < open {
        return Err(bad("')' comes before '('"));
    }
    let pid = text[..open]
        .trim()
        .parse()
        .map_err(|_| bad("field 1 is not a pid"))?;
    let comm = text[open + 1..close].to_owned();
    // Field 3 (the state) is at index 0 here, so field n is at index n - 3.
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
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
// ANCHOR_END: parse_stat

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

// ANCHOR: schedstat
/// The scheduler's accounting for one process, from `/proc/<pid>/schedstat`.
///
/// This is how to tell "ready" from "running", which share the letter `R`: time on a CPU is
/// running, time on a run queue waiting for a CPU is ready.
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

pub use support::Pipe;

/// Whether `fd` has something to read (data or end-of-file) right now, without waiting.
pub fn readable_now(fd: &impl AsFd) -> Result<bool, Failure> {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(ready) => Ok(ready > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(errno) => Err(errno).context("poll"),
    }
}

// ANCHOR: child
/// A child process of ours that must not outlive us.
///
/// Dropping a `Child` that has not been reaped kills it with SIGKILL and reaps it, so an error
/// or an early return never leaves a process behind. Only the process that forked it does so: a
/// copy of the guard inherited by a later child does nothing.
pub struct Child {
    pid: Pid,
    owner: Pid,
    reaped: bool,
}

impl Child {
    /// Takes charge of `pid`, a process that became our child by re-parenting: its parent
    /// ended while we were its nearest "child subreaper" (`prctl(PR_SET_CHILD_SUBREAPER)`).
    pub fn adopt(pid: Pid) -> Self {
        Self {
            pid,
            owner: getpid(),
            reaped: false,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether a wait has collected the child's exit already.
    pub fn is_reaped(&self) -> bool {
        self.reaped
    }

    /// `waitpid(pid, flags)`, retried when a signal interrupts it. An exit or a death by signal
    /// reaps the child; with `WNOHANG` the answer may be `StillAlive`.
    pub fn wait(&mut self, flags: Option<WaitPidFlag>) -> Result<WaitStatus, Failure> {
        loop {
            match waitpid(self.pid, flags) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno).context(format!("waitpid({})", self.pid)),
                Ok(status) => {
                    if matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
                        self.reaped = true;
                    }
                    return Ok(status);
                }
            }
        }
    }

    /// Kills the child with SIGKILL (which even a stopped process cannot ignore) and reaps it.
    pub fn kill_and_reap(&mut self) -> Result<WaitStatus, Failure> {
        // A zombie can still be sent a signal, so ESRCH means "reaped already" only.
        let _ = kill(self.pid, Signal::SIGKILL);
        self.wait(None)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped && getpid() == self.owner {
            let _ = self.kill_and_reap();
        }
    }
}
// ANCHOR_END: child

/// Which side of a `fork()` this process is on.
pub enum Forked {
    /// The original process.
    Parent {
        /// The new child, killed and reaped if it is dropped before it is waited for.
        child: Child,
    },
    /// The new process. It must end with [`exit_child`] or [`run_child`], never by returning
    /// from `main`.
    Child,
}

pub use support::{exit_child, run_child};

// ANCHOR: fork
/// Forks this process with the workspace's [`support::fork`] (which refuses a multithreaded
/// process, flushes stdout, and gives the child default signal actions), and holds the new
/// child in a [`Child`] guard, so that it is killed and reaped if the parent forgets it.
pub fn fork() -> Result<Forked, Failure> {
    Ok(match support::fork()? {
        support::Forked::Child => Forked::Child,
        support::Forked::Parent { child } => Forked::Parent {
            child: Child::adopt(child),
        },
    })
}
// ANCHOR_END: fork

// ANCHOR: signal_pipes
/// Signals delivered as bytes in pipes, so that the main loop can wait for a signal, a
/// deadline, or both, with `poll`.
///
/// Uses `signal_hook::low_level::pipe`: the handler only writes one byte (async-signal-safe) and
/// no thread is started, so the process can still `fork()` afterwards.
pub struct SignalPipes {
    pipes: Vec<(Signal, OwnedFd)>,
}

impl SignalPipes {
    /// Installs a handler for each of `signals`.
    pub fn register(signals: &[Signal]) -> Result<Self, Failure> {
        let mut pipes = Vec::new();
        for &signal in signals {
            let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
                .context("pipe for a signal")?;
            signal_hook::low_level::pipe::register(signal as i32, write_end)
                .context(format!("install a handler for {signal}"))?;
            pipes.push((signal, read_end));
        }
        Ok(Self { pipes })
    }

    /// Waits until one of the signals arrives or `timeout` passes, and returns the signals that
    /// arrived (none on timeout). `poll` is never restarted after a signal, so this never hangs.
    pub fn wait(&self, timeout: Duration) -> Result<Vec<Signal>, Failure> {
        let millis = i32::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
        let mut fds: Vec<PollFd> = self
            .pipes
            .iter()
            .map(|(_, fd)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno).context("poll the signal pipes"),
        }
        let mut arrived = Vec::new();
        for (signal, fd) in &self.pipes {
            let mut buffer = [0u8; 64];
            let mut got = false;
            while matches!(nix::unistd::read(fd, &mut buffer), Ok(n) if n > 0) {
                got = true;
            }
            if got {
                arrived.push(*signal);
            }
        }
        Ok(arrived)
    }
}
// ANCHOR_END: signal_pipes

// ANCHOR: watcher
/// A parent's watch over its children: it samples `/proc`, waits with deadlines, and notices
/// SIGCHLD, SIGINT and SIGTERM meanwhile (through [`SignalPipes`]).
///
/// SIGINT or SIGTERM turns every wait into an error, and [`Watcher::interrupted`] tells which
/// signal it was, so the example can kill and reap its children and exit with 128 + signal.
pub struct Watcher {
    signals: SignalPipes,
    interrupted: Option<Signal>,
}

impl Watcher {
    /// Installs the handlers for SIGINT, SIGTERM and SIGCHLD.
    pub fn new() -> Result<Self, Failure> {
        Ok(Self {
            signals: SignalPipes::register(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD])?,
            interrupted: None,
        })
    }

    /// The signal that interrupted a wait, if one did.
    pub fn interrupted(&self) -> Option<Signal> {
        self.interrupted
    }

    /// Waits up to `timeout` for a signal: returns early when SIGCHLD comes, fails when SIGINT
    /// or SIGTERM does.
    pub fn pump(&mut self, timeout: Duration) -> Result<(), Failure> {
        for signal in self.signals.wait(timeout)? {
            if signal != Signal::SIGCHLD {
                self.interrupted = Some(signal);
                return Err(Failure::new(format!("interrupted by {signal}")));
            }
        }
        Ok(())
    }

    /// Lets `time` pass, unless SIGINT or SIGTERM comes first.
    pub fn hold(&mut self, time: Duration) -> Result<(), Failure> {
        let until = Instant::now() + time;
        while Instant::now() < until {
            self.pump(until.saturating_duration_since(Instant::now()))?;
        }
        Ok(())
    }

    /// Samples `/proc/<pid>/stat` every 2 ms until `check` returns something, for at most
    /// `deadline`. There is no event for "that process now sleeps" or "its parent changed", so
    /// sampling is the only way to see it; `what` names the awaited change for the error.
    pub fn sample_until<T>(
        &mut self,
        pid: Pid,
        deadline: Duration,
        what: &str,
        mut check: impl FnMut(&Seen<Stat>) -> Option<T>,
    ) -> Result<T, Failure> {
        let give_up = Instant::now() + deadline;
        loop {
            let seen = read_stat(pid)?;
            if let Some(found) = check(&seen) {
                return Ok(found);
            }
            if Instant::now() > give_up {
                return Err(Failure::new(format!(
                    "process {pid}: {what} did not happen within {deadline:?} (last seen: {seen:?})"
                )));
            }
            self.hold(Duration::from_millis(2))?;
        }
    }

    /// Collects news of `child` with `waitpid(flags | WNOHANG)`: at once if there is some, else
    /// each time SIGCHLD wakes us, for at most `deadline`. Standard signals do not queue (one
    /// SIGCHLD may stand for several changes, and one may have come before we got here), so a
    /// SIGCHLD is a reason to ask `waitpid`, never something to count.
    pub fn wait_for(
        &mut self,
        child: &mut Child,
        flags: WaitPidFlag,
        deadline: Duration,
    ) -> Result<WaitStatus, Failure> {
        let give_up = Instant::now() + deadline;
        loop {
            let status = child.wait(Some(flags | WaitPidFlag::WNOHANG))?;
            if status != WaitStatus::StillAlive {
                return Ok(status);
            }
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let pid = child.pid();
                return Err(Failure::new(format!(
                    "waitpid({pid}): no news within {deadline:?}"
                )));
            }
            self.pump(left)?;
        }
    }
}
// ANCHOR_END: watcher

/// The exit status of a program that ends because of `signal`, by the shell's convention
/// (128 + the signal's number: 130 for SIGINT).
pub fn exit_status_for(signal: Signal) -> u8 {
    128u8.saturating_add(signal as u8)
}

// ANCHOR: pin
/// The lowest-numbered CPU this process may run on.
pub fn first_allowed_cpu() -> Result<usize, Failure> {
    let allowed = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
    (0..CpuSet::count())
        .find(|&cpu| allowed.is_set(cpu).unwrap_or(false))
        .ok_or_else(|| Failure::new("sched_getaffinity: no CPU allowed"))
}

/// Restricts the calling process to one CPU.
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
