//! The one way every example stops: SIGINT, SIGTERM and SIGHUP end whatever the program waits
//! for, and the program leaves through its main path, where it cleans up.
//!
//! A handler may only do async-signal-safe work, so ours does three small things and returns:
//!
//! 1. it stores the signal's number in an atomic, which the main path reads;
//! 2. it writes a byte into a self-pipe, which [`Stop::wait`] polls beside the descriptors the
//!    example waits on, so that a `poll()` always wakes;
//! 3. it arms a timer that sends SIGALRM to the main thread every 50 ms from then on.
//!
//! Why the timer: a blocking call (`msgrcv`, `semop`, `read`, `open`, `waitpid`) started just
//! after the main path checked the atomic, but before the signal came, would otherwise sleep on:
//! the signal was spent before the call began. SIGALRM interrupts that call within 50 ms, the
//! call fails with EINTR, and the check sees the number. `timer_settime` is on
//! signal-safety(7)'s list (`setitimer` is not).
//!
//! Why "every blocking call fails with EINTR": both signal crates install their handlers with
//! SA_RESTART, which makes the kernel restart a `read`, an `open` or a `waitpid` after the
//! handler. So after signal-hook has installed its handler, [`Stop`] reads the action back with
//! `sigaction`, clears SA_RESTART, and writes it again (what `siginterrupt(3)` does): the
//! handler is still signal-hook's, only that flag changed. Those calls then fail with EINTR like
//! `msgrcv` and `semop` always do, and [`Stop::retry`] runs a call again after each EINTR that
//! was not a stop. (With ctrlc, signal-hook registers on top of ctrlc's handler, calls it first,
//! and the flag is cleared the same way.)
//!
//! SIGQUIT (Ctrl-\) is deliberately left alone: its default action ends the program at once,
//! with a core dump where they are enabled, and runs no cleanup. It is the emergency exit, and
//! it shows what every other signal would do without a handler: `msg_ls` lists what it left.
//!
//! Forked children: a child inherits the handlers, but our action checks which process it runs
//! in. In a child that has not called [`Stop::install`] itself, a stop signal does what it would
//! do by default (the child dies), as if the handler had been reset at fork. A child that calls
//! [`Stop::install`] gets its own self-pipe, timer and flag, and its own signals stop it.
//!
//! The handler half, with all the `unsafe` it needs, is in `handler.rs`; this file is the half
//! an example calls.

mod handler;

use std::fmt::Display;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use crate::cli::{Context, Failure, program_name};

/// The signals that stop an example: Ctrl-C, `kill`, and a terminal that closes.
pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// How often SIGALRM interrupts a blocking call once a stop signal came.
pub const NUDGE_EVERY: Duration = Duration::from_millis(50);

/// Why a piece of work ended before it was done.
#[derive(Debug)]
pub enum Stopped<E = Failure> {
    /// A stop signal came (SIGINT, SIGTERM or SIGHUP).
    Signal(Signal),
    /// The call failed.
    Failed(E),
}

/// A stop signal came: what [`Stop::check`] returns. `?` turns it into `Stopped::Signal`,
/// whatever the error type of the function it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSignal(pub Signal);

/// `?` on a call whose error is already the one the function returns beside a stop: the error
/// becomes `Stopped::Failed`, and a [`StopSignal`] becomes `Stopped::Signal`.
macro_rules! stopped_from {
    ($($error:ty),*) => {$(
        impl From<$error> for Stopped<$error> {
            fn from(error: $error) -> Self {
                Self::Failed(error)
            }
        }

        impl From<StopSignal> for Stopped<$error> {
            fn from(StopSignal(signal): StopSignal) -> Self {
                Self::Signal(signal)
            }
        }
    )*};
}

stopped_from!(Failure, sysv::Error, Errno, std::io::Error);

/// `?` on a System V call in a function that a stop signal may also end.
impl From<sysv::Error> for Stopped {
    fn from(error: sysv::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// `?` on a nix call in a function that a stop signal may also end.
impl From<Errno> for Stopped {
    fn from(errno: Errno) -> Self {
        Self::Failed(errno.into())
    }
}

/// `?` on a System V wait that a stop signal may end, such as `stop.retry(|| set.semop(..))`:
/// a stop stays a stop, and the error becomes the examples' one error type.
impl From<Stopped<sysv::Error>> for Stopped {
    fn from(stopped: Stopped<sysv::Error>) -> Self {
        match stopped {
            Stopped::Signal(signal) => Stopped::Signal(signal),
            Stopped::Failed(error) => Stopped::Failed(error.into()),
        }
    }
}

/// `msgrcv`, `msgsnd`, `semop` and `semtimedop` fail with EINTR whenever a signal handler ran
/// while they waited, even when the handler was installed with `SA_RESTART`: that is how
/// [`Stop::retry`] notices a stop signal, and retries after any other.
impl Interrupted for sysv::Error {
    fn is_interrupted(&self) -> bool {
        self.errno() == Some(Errno::EINTR)
    }
}

impl<E: Display> Stopped<E> {
    /// Turns the error of a failed call into a [`Failure`] that says what was being done:
    /// `Stopped<Errno>` becomes `Stopped<Failure>` reading `open ./mfifo: ENOENT: ...`.
    pub fn context(self, what: impl Display) -> Stopped {
        match self {
            Self::Signal(signal) => Stopped::Signal(signal),
            Self::Failed(error) => Stopped::Failed(Failure::new(format!("{what}: {error}"))),
        }
    }
}

/// Adds what was being done to the error of a call that a stop signal may also end.
pub trait StopContext<T> {
    /// Like [`Context::context`], for `Result<T, Stopped<E>>`.
    fn context(self, what: impl Display) -> Result<T, Stopped>;
}

impl<T, E: Display> StopContext<T> for Result<T, Stopped<E>> {
    fn context(self, what: impl Display) -> Result<T, Stopped> {
        self.map_err(|stopped| stopped.context(what))
    }
}

/// A read of stdin or a write to stdout or stderr, which a stop signal may end.
pub trait TerminalContext<T> {
    /// Like [`StopContext::context`], but EIO (the terminal was closed) is a hang-up:
    /// `Stopped::Signal(SIGHUP)`, so that the program stops as SIGHUP makes it stop (exit 129,
    /// cleanup done), even before the SIGHUP comes, or when none comes.
    fn terminal_context(self, what: impl Display) -> Result<T, Stopped>;
}

impl<T> TerminalContext<T> for Result<T, Stopped<Errno>> {
    fn terminal_context(self, what: impl Display) -> Result<T, Stopped> {
        match self {
            Err(Stopped::Failed(errno)) if crate::cli::terminal_closed(errno) => {
                Err(Stopped::Signal(Signal::SIGHUP))
            }
            other => other.context(what),
        }
    }
}

/// For a read that returned end of file (0 bytes): a terminal that was closed gives that too,
/// as well as EIO. A terminal that was hung up fails `tcgetattr` with EIO, where one that only
/// saw Ctrl-D answers it: then this is the hang-up, `Stopped::Signal(SIGHUP)`.
pub fn check_hang_up(input: std::os::fd::BorrowedFd<'_>) -> Result<(), Stopped> {
    // isatty itself is a tcgetattr: on a hung-up terminal it fails with EIO too.
    let hung_up = match nix::unistd::isatty(input) {
        Err(Errno::EIO) => true,
        Ok(true) => nix::sys::termios::tcgetattr(input) == Err(Errno::EIO),
        _ => false,
    };
    if hung_up && crate::cli::terminal_closed(Errno::EIO) {
        return Err(Stopped::Signal(Signal::SIGHUP));
    }
    Ok(())
}

/// An error that may mean "a signal interrupted the call" (EINTR).
pub trait Interrupted {
    /// Whether the call failed with EINTR.
    fn is_interrupted(&self) -> bool;
}

impl Interrupted for Errno {
    fn is_interrupted(&self) -> bool {
        *self == Errno::EINTR
    }
}

impl Interrupted for std::io::Error {
    fn is_interrupted(&self) -> bool {
        self.kind() == std::io::ErrorKind::Interrupted
    }
}

/// This process's stop request: installed once, early in `main`, then passed to every wait.
pub struct Stop {
    wake_read: OwnedFd,
    // Kept open for the handler, which writes into it through its raw number.
    _wake_write: OwnedFd,
}

/// Which crate catches the stop signals.
#[derive(Clone, Copy)]
enum Catcher {
    SignalHook,
    Ctrlc,
}

impl Stop {
    /// Catches SIGINT, SIGTERM and SIGHUP with `signal-hook`, whose handler runs our action
    /// (store the number, wake the self-pipe, start the nudge) inside the signal handler.
    /// No thread is started, so the process may still fork.
    ///
    /// Call it from the main thread, which is the one the nudge interrupts. In a forked child,
    /// call it again: the child then stops on its own signals.
    pub fn install() -> Result<Stop, Failure> {
        Self::install_with(Catcher::SignalHook)
    }

    /// Catches SIGINT, SIGTERM and SIGHUP with `ctrlc` (its `termination` feature adds the
    /// last two). ctrlc's closure runs on a thread of its own, outside the signal handler, so it
    /// may do anything; ours wakes the main thread (the self-pipe and the nudge). ctrlc cannot
    /// say which signal came, so a `signal-hook` action records the number inside the handler.
    ///
    /// ctrlc's thread makes the process multithreaded: [`crate::fork`] refuses afterwards.
    pub fn install_with_ctrlc() -> Result<Stop, Failure> {
        Self::install_with(Catcher::Ctrlc)
    }

    fn install_with(catcher: Catcher) -> Result<Stop, Failure> {
        // Held until every piece is in place; a signal that comes meanwhile waits, then is
        // handled. ctrlc's thread inherits the mask and keeps it, so the handler always runs on
        // the main thread, and EINTR reaches the call the main thread is blocked in.
        let held: SigSet = STOP_SIGNALS
            .into_iter()
            .chain([Signal::SIGALRM, Signal::SIGCHLD])
            .collect();
        let mut before = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut before))
            .context("block the stop signals")?;
        let installed = Self::install_held(catcher);
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&before), None)
            .context("unblock the stop signals")?;
        installed
    }

    fn install_held(catcher: Catcher) -> Result<Stop, Failure> {
        let (wake_read, wake_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).context("pipe2")?;
        handler::claim_stop_state(wake_write.as_raw_fd())?;
        if let Catcher::Ctrlc = catcher {
            ctrlc::set_handler(handler::wake_from_ctrlc_thread).context("ctrlc::set_handler")?;
        }
        // Registered after ctrlc, signal-hook keeps ctrlc's handler and calls it first.
        let action = match catcher {
            Catcher::SignalHook => handler::Action::StopAndWake,
            Catcher::Ctrlc => handler::Action::RecordNumber,
        };
        for signal in STOP_SIGNALS {
            handler::handle(signal, action)?;
        }
        handler::handle(Signal::SIGALRM, handler::Action::Interrupt)?;
        Ok(Stop {
            wake_read,
            _wake_write: wake_write,
        })
    }

    /// Also lets SIGCHLD end a [`Stop::wait`] early (without stopping anything), for a parent
    /// that waits for news of its children with deadlines.
    pub fn watch_children(&self) -> Result<(), Failure> {
        handler::handle(Signal::SIGCHLD, handler::Action::Wake)
    }

    /// The stop signal that came, if one has.
    pub fn requested(&self) -> Option<Signal> {
        handler::requested()
    }

    /// `Err(StopSignal)` if a stop signal came, else `Ok(())`; `?` makes it `Stopped::Signal`.
    pub fn check(&self) -> Result<(), StopSignal> {
        match self.requested() {
            Some(signal) => {
                handler::disarm_nudge();
                Err(StopSignal(signal))
            }
            None => Ok(()),
        }
    }

    /// Runs a blocking system call, again after each EINTR, until it is done, it fails, or a
    /// stop signal came. The stop is checked before each try, so no new wait starts once a
    /// signal came; one that lands just before the call is caught by the nudge.
    ///
    /// ```ignore
    /// let to_reader = stop.retry(|| open(path, OFlag::O_WRONLY, Mode::empty()))?;
    /// ```
    // ANCHOR: retry
    pub fn retry<T, E: Interrupted>(
        &self,
        mut call: impl FnMut() -> Result<T, E>,
    ) -> Result<T, Stopped<E>> {
        loop {
            if let Err(StopSignal(signal)) = self.check() {
                return Err(Stopped::Signal(signal));
            }
            match call() {
                Err(error) if error.is_interrupted() => continue,
                Err(error) => return Err(Stopped::Failed(error)),
                Ok(value) => return Ok(value),
            }
        }
    }
    // ANCHOR_END: retry

    /// `poll()`s `watched` and the self-pipe until a descriptor is ready, a stop signal comes,
    /// SIGCHLD comes (after [`Stop::watch_children`]), or `timeout` passes. Returns, for each
    /// watched descriptor in order, whether it is ready (all false after a timeout or a
    /// SIGCHLD). Never misses a signal: the self-pipe stays readable until it is read.
    pub fn wait(
        &self,
        watched: &[(BorrowedFd<'_>, PollFlags)],
        timeout: Option<Duration>,
    ) -> Result<Vec<bool>, Stopped> {
        let mut fds = vec![PollFd::new(self.wake_read.as_fd(), PollFlags::POLLIN)];
        fds.extend(watched.iter().map(|&(fd, events)| PollFd::new(fd, events)));
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            self.check()?;
            let left = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    PollTimeout::try_from(left.as_micros().div_ceil(1000))
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            match poll(&mut fds, left) {
                Ok(_) => {}
                // A SIGALRM nudge, or a signal we do not stop for: check and poll again.
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Stopped::Failed(Failure::new(format!("poll: {errno}")))),
            }
            // Drain first, then look: a signal after the drain leaves a new byte behind.
            let woken = fds[0].any().unwrap_or(false);
            if woken {
                self.drain();
            }
            self.check()?;
            let ready: Vec<bool> = fds[1..]
                .iter()
                .map(|fd| fd.any().unwrap_or(false))
                .collect();
            let timed_out = deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if woken || timed_out || ready.contains(&true) {
                return Ok(ready);
            }
        }
    }

    /// Lets `time` pass, unless a stop signal comes first.
    pub fn sleep(&self, time: Duration) -> Result<(), Stopped> {
        let until = Instant::now() + time;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            self.wait(&[], Some(left))?;
        }
    }

    fn drain(&self) {
        let mut sink = [0u8; 64];
        while matches!(nix::unistd::read(&self.wake_read, &mut sink), Ok(n) if n > 0) {}
    }
}

/// The exit status of a program that stops because of `signal`, by the shells' convention:
/// 128 + its number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
pub fn exit_code_for(signal: Signal) -> ExitCode {
    ExitCode::from(exit_status_for(signal))
}

/// [`exit_code_for`] as a number, for a forked child's `_exit`.
pub fn exit_status_for(signal: Signal) -> u8 {
    128u8.saturating_add(signal as u8)
}

/// Turns how an example's work ended into its exit status: the work's own status, or 128 + n
/// after a stop signal, which is also said in one line on stdout (`writer: got SIGINT;
/// stopping`); a failure stays a failure (one line on stderr, status 1, through
/// [`crate::cli::run`]). Every stop of every example ends here or in one of its variants below.
pub fn finish(outcome: Result<ExitCode, Stopped>) -> Result<ExitCode, Failure> {
    finish_saying(outcome, Said::Stdout(program_name()), "")
}

/// [`finish`], saying how far the work got: `recv: got SIGINT after 2 messages; stopping`.
pub fn finish_after(
    outcome: Result<ExitCode, Stopped>,
    progress: impl Display,
) -> Result<ExitCode, Failure> {
    finish_saying(
        outcome,
        Said::Stdout(program_name()),
        format!(" after {progress}"),
    )
}

/// [`finish`] in the name of one part of the program: `node C: got SIGINT; stopping`.
pub fn finish_as(
    who: impl Display,
    outcome: Result<ExitCode, Stopped>,
) -> Result<ExitCode, Failure> {
    finish_saying(outcome, Said::Stdout(who.to_string()), "")
}

/// [`finish`] for a program whose stdout carries data (xfr_reader): the line goes to stderr.
pub fn finish_on_stderr(outcome: Result<ExitCode, Stopped>) -> Result<ExitCode, Failure> {
    finish_saying(outcome, Said::Stderr(program_name()), "")
}

/// [`finish_as`] for a forked child, whose status goes to `_exit` (see `run_child`): 0 when
/// the work is done, 128 + n after a stop signal, 1 after a failure, which is reported as
/// `<program>: <who>: <failure>`.
pub fn child_status(who: impl Display, outcome: Result<(), Stopped>) -> i32 {
    match outcome {
        Ok(()) => 0,
        Err(Stopped::Signal(signal)) => {
            say_stopped(Said::Stdout(who.to_string()), signal, "");
            i32::from(exit_status_for(signal))
        }
        Err(Stopped::Failed(failure)) => {
            crate::cli::report_error(format!("{who}: {failure}"));
            1
        }
    }
}

/// Where the stop line goes, in whose name.
enum Said {
    Stdout(String),
    Stderr(String),
}

fn finish_saying(
    outcome: Result<ExitCode, Stopped>,
    said: Said,
    progress: impl Display,
) -> Result<ExitCode, Failure> {
    match outcome {
        Ok(code) => Ok(code),
        Err(Stopped::Signal(signal)) => {
            say_stopped(said, signal, progress);
            Ok(exit_code_for(signal))
        }
        Err(Stopped::Failed(failure)) => Err(failure),
    }
}

/// Writes `<who>: got <signal><progress>; stopping` in one write, its error ignored: after
/// SIGHUP the terminal is gone, and `println!` would panic (EIO).
fn say_stopped(said: Said, signal: Signal, progress: impl Display) {
    let (Said::Stdout(who) | Said::Stderr(who)) = &said;
    let line = format!("{who}: got {signal}{progress}; stopping\n");
    let _ = match said {
        Said::Stdout(_) => std::io::stdout().write_all(line.as_bytes()),
        Said::Stderr(_) => std::io::stderr().write_all(line.as_bytes()),
    };
}
