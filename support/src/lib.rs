//! Shared plumbing for the ipc-labs examples, kept out of the examples so that each one shows
//! only its mechanism.
//!
//! - [`cli`]: command-line parsing that fails in one clear line, and errors that name the
//!   operation that failed (`fork: EAGAIN: Resource temporarily unavailable`).
//! - [`stop`]: the one way every example stops on SIGINT, SIGTERM and SIGHUP, whatever it is
//!   blocked in, and leaves through its main path, where it cleans up.
//! - [`fork`] and [`Child`]: `fork()` made safe to call from the examples; the child dies with
//!   its parent, and a [`Child`] the parent drops is killed and reaped.
//! - [`run_child`] and [`exit_child`]: how a forked child ends without running the parent's
//!   destructors.
//! - [`Pipe`]: a pipe's two ends, close-on-exec.
//! - [`LineReader`]: stdin read line by line with `read(2)`, so that a signal can end the wait.
//! - [`describe`]: a `waitpid` result in words (`killed by signal 13 (SIGPIPE)`).
//!
//! The integration tests' harness is the separate `testkit` crate, a dev-dependency only, so
//! that no example binary carries test code.
//!
//! This file holds the crate's only `unsafe` code, in the module `raw` at its end.

pub mod cli;
pub mod keys;
mod lines;
pub mod stop;

pub use lines::{Input, LineReader, WATCH_EVERY, wait_readable};

use std::io::Write;
use std::os::fd::OwnedFd;

use cli::{Context, Failure};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, getpid, getppid};
use stop::{Stop, StopContext, Stopped};

// ANCHOR: pipe
/// The two ends of a new pipe.
pub struct Pipe {
    /// What the other end wrote comes out here.
    pub read_end: OwnedFd,
    /// What is written here goes in.
    pub write_end: OwnedFd,
}

impl Pipe {
    /// Creates a pipe. Both ends are close-on-exec: a program we `exec` does not inherit a stray
    /// copy, which (for a write end) would keep the reader from ever seeing end-of-file.
    pub fn new() -> Result<Self, Failure> {
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
        Ok(Self {
            read_end,
            write_end,
        })
    }
}
// ANCHOR_END: pipe

/// Which side of a `fork()` this process is on.
pub enum Forked {
    /// The original process, holding the new child.
    Parent(Child),
    /// The new process. It must end with [`exit_child`] or [`run_child`], never by returning
    /// from `main`.
    Child,
}

/// `fork(2)`: afterwards there are two processes; the parent gets the child as a [`Child`],
/// which is killed and reaped if the parent drops it without waiting for it.
///
/// What a bare `fork()` does not do:
/// - It refuses when this process runs more than one thread: a child forked from a
///   multithreaded process may only call async-signal-safe functions until it execs.
/// - It flushes stdout and stderr first, so that the child does not print the parent's buffered
///   output a second time.
/// - The child asks the kernel for SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), so that
///   no child outlives its parent, even one killed by SIGKILL.
/// - The child inherits the parent's stop handlers, which in a child act as the default
///   action (the child dies) until it calls [`stop::Stop::install`] itself.
pub fn fork() -> Result<Forked, Failure> {
    fork_with(DiesWithParent::Yes)
}

/// Like [`fork`], but the child may outlive its parent: for a demonstration of orphans only,
/// where something else (a lifeline pipe) ends the child.
pub fn fork_outliving_parent() -> Result<Forked, Failure> {
    fork_with(DiesWithParent::No)
}

#[derive(Clone, Copy, PartialEq)]
enum DiesWithParent {
    Yes,
    No,
}

// ANCHOR: fork_with
fn fork_with(dies_with_parent: DiesWithParent) -> Result<Forked, Failure> {
    let threads = std::fs::read_dir("/proc/self/task")
        .context("count threads in /proc/self/task")?
        .count();
    if threads != 1 {
        return Err(Failure::new(format!(
            "fork: refused: this process runs {threads} threads, and a child forked from a \
             multithreaded process may only call async-signal-safe functions"
        )));
    }
    flush_stdio();
    let parent = getpid();
    match raw::fork().context("fork")? {
        ForkResult::Parent { child } => Ok(Forked::Parent(Child::adopt(child))),
        ForkResult::Child => {
            if dies_with_parent == DiesWithParent::Yes {
                if set_pdeathsig(Signal::SIGTERM).is_err() {
                    exit_child(127);
                }
                // The parent may have died before the request was made: then nobody sends it.
                if getppid() != parent {
                    exit_child(128 + Signal::SIGTERM as i32);
                }
            }
            Ok(Forked::Child)
        }
    }
}
// ANCHOR_END: fork_with

// ANCHOR: child
/// A child process of ours that must not outlive us.
///
/// Dropping a `Child` that has not been reaped kills it with SIGKILL and reaps it, so an error
/// or an early return never leaves a process behind. Only the process that forked it does so:
/// a copy of the guard inherited by a later child does nothing.
pub struct Child {
    pid: Pid,
    owner: Pid,
    reaped: bool,
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped && getpid() == self.owner {
            let _ = self.kill_and_reap();
        }
    }
}
// ANCHOR_END: child

impl Child {
    /// Takes charge of `pid`, a child of this process (by `fork`, or by re-parenting to a
    /// "child subreaper", `prctl(PR_SET_CHILD_SUBREAPER)`).
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

    /// `waitpid(2)`: waits until the child ends, and reaps it. A stop signal ends the wait.
    pub fn waitpid(&mut self, stop: &Stop) -> Result<WaitStatus, Stopped> {
        let status = stop
            .retry(|| waitpid(self.pid, None))
            .context(format!("waitpid({})", self.pid))?;
        self.note(status);
        Ok(status)
    }

    /// `waitpid(pid, flags)`, retried after EINTR, not ended by a stop signal (for cleanup, and
    /// for `WNOHANG` polls). An exit or a death by signal reaps the child; with `WNOHANG` the
    /// answer may be `StillAlive`.
    pub fn waitpid_with(&mut self, flags: Option<WaitPidFlag>) -> Result<WaitStatus, Failure> {
        loop {
            match waitpid(self.pid, flags) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno).context(format!("waitpid({})", self.pid)),
                Ok(status) => {
                    self.note(status);
                    return Ok(status);
                }
            }
        }
    }

    fn note(&mut self, status: WaitStatus) {
        if matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
            self.reaped = true;
        }
    }

    /// Kills the child with SIGKILL (which even a stopped process cannot ignore) and reaps it.
    pub fn kill_and_reap(&mut self) -> Result<WaitStatus, Failure> {
        // A zombie can still be sent a signal, so ESRCH means "reaped already" only.
        let _ = kill(self.pid, Signal::SIGKILL);
        self.waitpid_with(None)
    }
}

/// Whether process `pid` has ended: it no longer exists (`kill(pid, 0)` fails with ESRCH), or
/// it is a zombie that its parent has not reaped yet, which holds nothing but its exit status
/// (state `Z` in `/proc/<pid>/stat`). A peer killed a moment ago is often still a zombie.
pub fn has_ended(pid: Pid) -> bool {
    if kill(pid, None) == Err(Errno::ESRCH) {
        return true;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some('Z' | 'X'))
}

/// `waitid(P_ALL, WEXITED | WNOWAIT)`: waits until one of this process's children has ended,
/// and says which, without reaping it (its [`Child`]'s `waitpid` does). So a parent learns at
/// once that any child failed, not only the one it happens to wait for. A stop signal ends the
/// wait.
pub fn first_to_end(stop: &Stop) -> Result<Pid, Stopped> {
    use nix::sys::wait::{Id, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    let ended = stop.retry(|| waitid(Id::All, flags)).context("waitid")?;
    ended
        .pid()
        .ok_or_else(|| Stopped::Failed(Failure::new(format!("waitid: {ended:?} names no child"))))
}

/// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)`: a child of this process that has ended, if
/// any, without waiting and without reaping it.
pub fn ended_child() -> Result<Option<Pid>, Errno> {
    use nix::sys::wait::{Id, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::All, flags) {
        Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => Ok(None),
        Ok(ended) => Ok(ended.pid()),
        Err(errno) => Err(errno),
    }
}

/// Ends a forked child with `status`, after flushing its stdout and stderr.
///
/// `_exit` rather than `std::process::exit` or returning from `main`: the child must not run
/// exit-time work that belongs to the parent, nor the destructors of the parent's values it
/// holds copies of (a copy of a queue's owner would remove the parent's queue).
pub fn exit_child(status: i32) -> ! {
    flush_stdio();
    raw::exit_now(status)
}

// ANCHOR: run_child
/// Runs the child's half of a fork and ends the child with the status `body` returns.
///
/// The child never returns from `main`, whatever happens: a panic (including the one `println!`
/// raises when stdout is gone, see [`cli::run`]) ends it with status 101 (1 when stdout is
/// gone, 129 when its terminal was closed) instead of unwinding into the frames it shares with
/// the parent's code, where it would run destructors on its copies of the parent's values.
pub fn run_child(body: impl FnOnce() -> i32) -> ! {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        _ if cli::terminal_is_gone() => exit_child(128 + libc::SIGHUP),
        Ok(status) => exit_child(status),
        Err(_) if cli::stdout_is_gone() => exit_child(1),
        Err(_) => exit_child(101),
    }
}
// ANCHOR_END: run_child

fn flush_stdio() {
    // Nothing useful can be done about a failed flush of our own stdout right before a fork or
    // an exit; the bytes are lost either way.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Says in words what `waitpid` reported about a child: `exited with status 0`, `was killed by
/// signal 13 (SIGPIPE)`, `was stopped by signal 19 (SIGSTOP)`.
pub fn describe(status: &WaitStatus) -> String {
    match *status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, dumped_core) => format!(
            "was killed by signal {} ({signal}){}",
            signal as i32,
            if dumped_core { " and dumped core" } else { "" }
        ),
        WaitStatus::Stopped(_, signal) => {
            format!("was stopped by signal {} ({signal})", signal as i32)
        }
        WaitStatus::Continued(_) => "was continued by SIGCONT".to_owned(),
        WaitStatus::StillAlive => "is still running".to_owned(),
        other => format!("changed state: {other:?}"),
    }
}

/// Everything `unsafe` in this crate: `fork`, `_exit`, and the pieces of the stop mechanism
/// that run inside a signal handler or set one up.
mod raw {
    use std::ffi::c_void;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU64, Ordering};

    use nix::sys::signal::Signal;
    use nix::unistd::ForkResult;

    use crate::cli::{Context, Failure};
    use crate::stop::NUDGE_EVERY;

    /// `fork(2)`.
    pub fn fork() -> nix::Result<ForkResult> {
        // SAFETY: the caller checked that the process has a single thread (and only this thread
        // could start another), so the child is a complete copy of a single-threaded process and
        // may run any code, allocation and locking included.
        unsafe { nix::unistd::fork() }
    }

    /// `_exit(2)`: ends the process at once, without running exit-time work.
    pub fn exit_now(status: i32) -> ! {
        // SAFETY: `_exit` takes no pointers and cannot fail.
        unsafe { libc::_exit(status) }
    }

    /// What our action does when a signal comes, in the process that installed it.
    #[derive(Clone, Copy, PartialEq)]
    #[repr(u8)]
    pub enum Action {
        /// Nothing registered yet.
        Unset = 0,
        /// A stop signal: record its number, wake the self-pipe, start the nudge.
        StopAndWake = 1,
        /// A stop signal caught with ctrlc: record its number only (ctrlc's thread wakes).
        RecordNumber = 2,
        /// SIGALRM, the nudge: only interrupt the blocking call.
        Interrupt = 3,
        /// SIGCHLD: wake the self-pipe, stop nothing.
        Wake = 4,
    }

    impl Action {
        fn of(number: i32) -> Action {
            match ACTIONS[number as usize].load(Ordering::SeqCst) {
                1 => Action::StopAndWake,
                2 => Action::RecordNumber,
                3 => Action::Interrupt,
                4 => Action::Wake,
                _ => Action::Unset,
            }
        }
    }

    const SIGNALS: usize = 65;
    /// The action per signal number; read by the handler.
    static ACTIONS: [AtomicU8; SIGNALS] = [const { AtomicU8::new(Action::Unset as u8) }; SIGNALS];
    /// Bit n: signal n has our signal-hook action registered in this process image (a forked
    /// child inherits the registration with the memory).
    static REGISTERED: AtomicU64 = AtomicU64::new(0);
    /// The pid of the process whose stop state this is; in any other (a forked child that did
    /// not install its own), a signal acts by default.
    static OWNER: AtomicI32 = AtomicI32::new(0);
    /// The first stop signal's number, 0 until one comes.
    static REQUESTED: AtomicI32 = AtomicI32::new(0);
    /// The self-pipe's write end, -1 until installed.
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    /// Whether [`NUDGE`] holds a timer: the kernel numbers a process's timers from 0, and glibc
    /// hands out the number as the `timer_t` pointer, so the first timer is a null pointer.
    static NUDGE_MADE: AtomicBool = AtomicBool::new(false);
    /// The nudge timer (a `timer_t`).
    static NUDGE: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

    /// Makes this process the owner of the stop state, with a fresh flag, self-pipe and timer.
    /// Call with the stop signals blocked.
    pub fn claim_stop_state(wake_fd: i32) -> Result<(), Failure> {
        let me = std::process::id() as i32;
        if OWNER.load(Ordering::SeqCst) == me {
            return Err(Failure::new(
                "Stop::install: this process has installed its stop handling already",
            ));
        }
        // In a forked child, the parent's timer id means nothing: timers are not inherited.
        let timer = create_nudge_timer()?;
        NUDGE.store(timer, Ordering::SeqCst);
        NUDGE_MADE.store(true, Ordering::SeqCst);
        WAKE_FD.store(wake_fd, Ordering::SeqCst);
        REQUESTED.store(0, Ordering::SeqCst);
        OWNER.store(me, Ordering::SeqCst);
        Ok(())
    }

    /// A timer that sends SIGALRM to the calling thread (not to the process, where another
    /// thread might take it), disarmed until a stop signal arms it.
    fn create_nudge_timer() -> Result<*mut c_void, Failure> {
        // SAFETY: sigevent is a plain C struct for which all-zero bytes are a valid value;
        // the fields that matter are set below.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = libc::SIGALRM;
        event.sigev_notify_thread_id = nix::unistd::gettid().as_raw();
        let mut timer: libc::timer_t = ptr::null_mut();
        // SAFETY: both pointers are valid for the call; the kernel copies `event` and writes
        // the new timer's id into `timer`.
        let made = unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) };
        if made == -1 {
            return Err(nix::errno::Errno::last()).context("timer_create");
        }
        Ok(timer)
    }

    /// Registers our signal-hook action for `signal` (once per process image) and sets what it
    /// does. Then clears SA_RESTART on the handler, as `siginterrupt(signal, 1)` would, so that
    /// a blocking `read`, `open` or `waitpid` fails with EINTR instead of being restarted.
    pub fn handle(signal: Signal, action: Action) -> Result<(), Failure> {
        let number = signal as i32;
        ACTIONS[number as usize].store(action as u8, Ordering::SeqCst);
        let bit = 1u64 << number;
        if REGISTERED.load(Ordering::SeqCst) & bit == 0 {
            // SAFETY: the action runs in signal context; `on_signal` does only
            // async-signal-safe work: atomic loads and stores, getpid, write, timer_settime,
            // and (in a child that did not install its own) signal-hook's
            // emulate_default_handler, which its documentation says is async-signal-safe.
            unsafe { signal_hook::low_level::register(number, move || on_signal(number)) }
                .context(format!("signal-hook: register {signal}"))?;
            REGISTERED.fetch_or(bit, Ordering::SeqCst);
        }
        let mut current = std::mem::MaybeUninit::<libc::sigaction>::uninit();
        // SAFETY: a null new action only reads the current one into `current`.
        if unsafe { libc::sigaction(number, ptr::null(), current.as_mut_ptr()) } == -1 {
            return Err(nix::errno::Errno::last()).context(format!("sigaction({signal})"));
        }
        // SAFETY: sigaction succeeded, so it filled `current`.
        let mut current = unsafe { current.assume_init() };
        current.sa_flags &= !libc::SA_RESTART;
        // SAFETY: `current` is the installed action (signal-hook's handler) with one flag
        // cleared: the handler stays the one signal-hook's registry believes is installed.
        if unsafe { libc::sigaction(number, &current, ptr::null_mut()) } == -1 {
            return Err(nix::errno::Errno::last()).context(format!("sigaction({signal})"));
        }
        Ok(())
    }

    // ANCHOR: on_signal
    fn on_signal(number: i32) {
        // SAFETY: getpid takes no arguments and is async-signal-safe.
        let me = unsafe { libc::getpid() };
        if OWNER.load(Ordering::SeqCst) != me {
            // A forked child that did not install its own: act as if no handler were there.
            let _ = signal_hook::low_level::emulate_default_handler(number);
            return;
        }
        match Action::of(number) {
            Action::StopAndWake => {
                record(number);
                arm_nudge(NUDGE_EVERY);
                wake();
            }
            Action::RecordNumber => record(number),
            Action::Wake => wake(),
            Action::Interrupt | Action::Unset => {}
        }
    }

    /// Keeps the first stop signal's number: the exit status names the signal that stopped us.
    fn record(number: i32) {
        let _ = REQUESTED.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
    }
    // ANCHOR_END: on_signal

    /// ctrlc's closure: runs on ctrlc's thread after the handler recorded the number.
    pub fn wake_from_ctrlc_thread() {
        arm_nudge(NUDGE_EVERY);
        wake();
    }

    /// The stop signal that came, if any.
    pub fn requested() -> Option<Signal> {
        match REQUESTED.load(Ordering::SeqCst) {
            0 => None,
            number => Signal::try_from(number).ok(),
        }
    }

    /// Stops the nudge once the main path has seen the stop: cleanup then runs undisturbed.
    pub fn disarm_nudge() {
        arm_nudge(std::time::Duration::ZERO);
    }

    fn wake() {
        let fd = WAKE_FD.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe; the buffer is a valid one-byte static. The
            // pipe is non-blocking: when it is full, a byte is waiting there already.
            unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
        }
    }

    /// Arms the nudge timer to fire every `every` (zero disarms it).
    fn arm_nudge(every: std::time::Duration) {
        if !NUDGE_MADE.load(Ordering::SeqCst) {
            return;
        }
        let timer = NUDGE.load(Ordering::SeqCst);
        let every = libc::timespec {
            tv_sec: every.as_secs() as libc::time_t,
            tv_nsec: every.subsec_nanos() as libc::c_long,
        };
        let setting = libc::itimerspec {
            it_interval: every,
            it_value: every,
        };
        // SAFETY: timer_settime is async-signal-safe (signal-safety(7)); `timer` was made by
        // timer_create in this process, `setting` is valid for the call, and the old value is
        // not asked for. A failure leaves a blocked call uninterrupted, which the nudge only
        // shortens; there is nothing a handler could do about it.
        unsafe { libc::timer_settime(timer, 0, &setting, ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn fork_refuses_a_multithreaded_process() {
        // The test harness runs this on a thread of its own, so the process has at least two:
        // fork() must say no, and must not have forked (a forked test harness would run every
        // remaining test twice).
        let refused = fork().err().expect("fork refused").to_string();
        assert!(
            refused.starts_with("fork: refused: this process runs "),
            "{refused}"
        );
    }

    #[test]
    fn describe_names_the_signal_by_number_and_name() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            describe(&WaitStatus::Signaled(pid, Signal::SIGPIPE, false)),
            "was killed by signal 13 (SIGPIPE)"
        );
        assert_eq!(
            describe(&WaitStatus::Exited(pid, 3)),
            "exited with status 3"
        );
    }
}
