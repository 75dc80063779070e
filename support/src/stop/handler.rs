//! The handler half of the stop mechanism: what runs inside a signal handler, and the
//! `unsafe` that installs it. Everything here is async-signal-safe where it must be; the public
//! half, [`super::Stop`], is in `mod.rs`.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU64, Ordering};

use nix::sys::signal::Signal;

use super::NUDGE_EVERY;
use crate::cli::{Context, Failure};

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
