//! # states: one child process walked through the textbook's life cycle, seen from /proc
//!
//! Ports the part of the course notes before section 1 (`004_0b92104986517c26.txt`; CPU time
//! slices; the created, ready, running, blocked and terminated states; suspend and activate). The
//! parent forks a child and drives it: a busy loop (`R`), a `read()` on an empty pipe (`S`),
//! SIGSTOP (`T`), SIGCONT (back to `S`), data in the pipe (`R` again), exit (`Z`, a zombie) and
//! `waitpid` (gone). After each step it samples `/proc/<child>/stat` until the letter changes, and
//! prints the textbook name, the Linux letter and the cause; `waitpid` with `WUNTRACED` and
//! `WCONTINUED`, woken by SIGCHLD, prints the parent's own view next to it.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p process-states --bin states` (add `-- --help` for the flags).

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitPidFlag;
use nix::unistd::{getpid, read, write};
use process_states::{Seen, Watcher, letter_meaning, read_schedstat, read_stat, readable_now};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Child, Forked, Pipe, describe, fork, run_child};

/// Drive a child through running, blocked, stopped, zombie and reaped, watching /proc.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How long the child stays in each state, in milliseconds, so that you can watch it
    /// (try `ps -o pid,stat,comm -p <pid>` in another terminal; at most 60000).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(..=60_000))]
    pause_ms: u64,
    /// Keep the child in this state until you press Enter (or stdin ends), however long that
    /// takes; the other states last --pause-ms.
    #[arg(long, value_enum)]
    hold: Option<Hold>,
    /// How long to wait for an expected state before giving up, in milliseconds (at most
    /// 60000).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    deadline_ms: u64,
}

/// The states the parent leaves the child in for a while, by their names in the timeline.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Hold {
    Running,
    Blocked,
    Suspended,
    Activated,
    Ready,
    Terminated,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: setup
        let stop = Stop::install()?;
        let watcher = Watcher::new(&stop)?;
        let control = Pipe::new()?;
        let child = match fork()? {
            Forked::Child => {
                drop(control.write_end);
                run_child(|| child_life(control.read_end))
            }
            Forked::Parent(child) => child,
        };
        drop(control.read_end);
        println!("states: parent pid {}, child pid {}", getpid(), child.pid());
        // ANCHOR_END: setup
        let mut story = Story {
            child,
            watcher,
            start: Instant::now(),
            pause: Duration::from_millis(args.pause_ms),
            hold: args.hold,
            deadline: Duration::from_millis(args.deadline_ms),
        };
        let told = story.tell(control.write_end);
        // ANCHOR: interrupted
        if let Err(Stopped::Signal(signal)) = told {
            // SIGKILL: the one signal that also ends a stopped child.
            let status = story.child.kill_and_reap()?;
            let pid = story.child.pid();
            println!(
                "states: {signal}: child {pid} {}; reaped, nothing left",
                describe(&status)
            );
        }
        finish(told.map(|()| ExitCode::SUCCESS))
        // ANCHOR_END: interrupted
    })
}

/// The child's side: spin, block in read(), spin again, exit. Each step waits for one byte from
/// the parent. End-of-file means the parent is gone, and the child exits at once.
// ANCHOR: child_life
fn child_life(control: OwnedFd) -> i32 {
    let mut byte = [0u8; 1];
    for step in ["spin", "block", "spin"] {
        if step == "spin" {
            // Busy: state R. Between rounds of work, ask (without waiting) whether a byte came.
            while !readable_now(&control).unwrap_or(true) {
                (0..100_000u64).for_each(|i| {
                    std::hint::black_box(i);
                });
            }
        }
        // When step is "block" the pipe is empty: read() sleeps (state S) until a byte comes.
        if !matches!(read(&control, &mut byte), Ok(1)) {
            return 1;
        }
    }
    0 // run_child ends the child with _exit(0): state Z until the parent waits
}
// ANCHOR_END: child_life

struct Story<'a> {
    child: Child,
    watcher: Watcher<'a>,
    start: Instant,
    pause: Duration,
    hold: Option<Hold>,
    deadline: Duration,
}

impl Story<'_> {
    // ANCHOR: story
    fn tell(&mut self, control: OwnedFd) -> Result<(), Stopped> {
        let pid = self.child.pid();
        let write_to_child = |byte: &[u8]| {
            write(&control, byte)
                .map(drop)
                .context("write to the child")
        };
        println!(
            "{:>8}  {:<10}  {:<38}  cause",
            "time", "textbook", "what Linux shows"
        );
        self.expect("created", "RS", "fork() returned: no letter for 'created'")?;
        self.expect("running", "R", "the child spins in a busy loop")?;
        self.ready_or_running()?;
        write_to_child(b"b")?;
        self.expect("blocked", "S", "the child read()s an empty pipe and sleeps")?;
        self.pause(Hold::Blocked)?;
        kill(pid, Signal::SIGSTOP).context("kill(SIGSTOP)")?;
        self.expect("suspended", "T", "the parent sent SIGSTOP")?;
        self.waitpid_and_show(WaitPidFlag::WUNTRACED, "waitpid(WUNTRACED)")?;
        // ANCHOR_END: story
        // ANCHOR: story_end
        self.pause(Hold::Suspended)?;
        kill(pid, Signal::SIGCONT).context("kill(SIGCONT)")?;
        self.expect(
            "activated",
            "S",
            "SIGCONT: it resumes, still waiting in read()",
        )?;
        self.waitpid_and_show(WaitPidFlag::WCONTINUED, "waitpid(WCONTINUED)")?;
        self.pause(Hold::Activated)?;
        write_to_child(b"r")?;
        self.expect(
            "ready/run",
            "R",
            "a byte came: read() returned, it spins again",
        )?;
        self.pause(Hold::Ready)?;
        write_to_child(b"x")?;
        self.expect(
            "terminated",
            "Z",
            "the child exited; nobody has waited for it yet",
        )?;
        self.pause(Hold::Terminated)?;
        self.waitpid_and_show(WaitPidFlag::empty(), "waitpid()")?;
        match read_stat(pid)? {
            Seen::Gone => self.line(
                "reaped",
                "/proc: no entry",
                "waitpid() collected the zombie",
            ),
            Seen::Alive(stat) => {
                return Err(Failure::new(format!("child {pid} still in /proc: {stat:?}")).into());
            }
        }
        Ok(())
    }
    // ANCHOR_END: story_end

    /// Samples `/proc/<child>/stat` until its state is one of `letters`, then prints the line.
    // ANCHOR: expect
    fn expect(&mut self, textbook: &str, letters: &str, cause: &str) -> Result<(), Stopped> {
        let (pid, deadline) = (self.child.pid(), self.deadline);
        let letter = self
            .watcher
            .sample_until(pid, deadline, letters, |seen| match seen {
                Seen::Alive(stat) if letters.contains(stat.state) => Some(stat.state),
                _ => None,
            })?;
        let (meaning, _) = letter_meaning(letter);
        self.line(textbook, &format!("/proc: {letter} ({meaning})"), cause);
        Ok(())
    }
    // ANCHOR_END: expect

    /// Leaves the child in its state for `--pause-ms`; in the state that `--hold` names, until a
    /// line (Enter) or the end of stdin comes.
    fn pause(&self, state: Hold) -> Result<(), Stopped> {
        if self.hold != Some(state) {
            return self.watcher.hold(self.pause);
        }
        println!("{:10}holding the child here: press Enter to go on", "");
        self.watcher.hold_until_enter()
    }

    fn line(&self, textbook: &str, seen: &str, cause: &str) {
        let at = self.start.elapsed().as_secs_f64();
        println!("{at:7.3}s  {textbook:<10}  {seen:<38}  {cause}");
    }

    /// `R` covers both ready (waiting for a CPU) and running. The scheduler's own accounting
    /// tells them apart: `/proc/<pid>/schedstat` counts time on a CPU and time on a run queue.
    // ANCHOR: ready
    fn ready_or_running(&mut self) -> Result<(), Stopped> {
        let pid = self.child.pid();
        let Seen::Alive(before) = read_schedstat(pid)? else {
            return Ok(());
        };
        let held = Instant::now();
        self.pause(Hold::Running)?;
        let held = held.elapsed();
        let Seen::Alive(after) = read_schedstat(pid)? else {
            return Ok(());
        };
        let (ran, waited) = (after.on_cpu - before.on_cpu, after.waiting - before.waiting);
        println!(
            "{:10}R is one letter for ready and running; schedstat tells them apart:",
            ""
        );
        println!(
            "{:10}in {} ms the child ran on a CPU for {} ms (running) and waited in a run queue \
             for {} ms (ready)",
            "",
            held.as_millis(),
            ran.as_millis(),
            waited.as_millis()
        );
        Ok(())
    }
    // ANCHOR_END: ready

    /// `waitpid(2)` for the news `flags` ask for, then prints what it told the parent, next to
    /// what /proc showed. `waitpid_within` adds WNOHANG: each call answers at once, and the
    /// watcher asks again each time SIGCHLD comes, until the deadline.
    // ANCHOR: waitpid_and_show
    fn waitpid_and_show(&mut self, flags: WaitPidFlag, call: &str) -> Result<(), Stopped> {
        let status = self
            .watcher
            .waitpid_within(&mut self.child, flags, self.deadline)?;
        let cause = format!("child {} (announced by SIGCHLD)", describe(&status));
        self.line("", &format!("{call} in the parent"), &cause);
        Ok(())
    }
    // ANCHOR_END: waitpid_and_show
}
