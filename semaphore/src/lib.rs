//! System V semaphore sets: the pieces the `semaphore` examples share.
//!
//! A semaphore is a counter in the kernel that never goes below zero. P (`sem_op < 0`) takes
//! units and waits while there are not enough; V (`sem_op > 0`) gives units back and wakes the
//! waiters. Semaphores come in sets, found by a [`Key`] like a message queue, and one `semop`
//! may work on several of them at once, atomically: all of its operations happen, or none does
//! and the caller waits. A semaphore carries no data: what it protects lives beside it, here in
//! an anonymous shared mapping ([`SharedCounter`]).
//!
//! Each system call has a thin wrapper named after it, whose doc names its man page: [`semget`]
//! opens or creates a set; the [`SemaphoreSet`] it returns has
//! [`semop`](SemaphoreSet::semop), [`semtimedop`](SemaphoreSet::semtimedop) and the `semctl_*`
//! commands ([`semctl_setval`](SemaphoreSet::semctl_setval),
//! [`semctl_getall`](SemaphoreSet::semctl_getall), ...,
//! [`semctl_rmid`](SemaphoreSet::semctl_rmid)). A [`SemOp`] is one `struct sembuf`: P, V or
//! wait-for-zero, with `SEM_UNDO` and `IPC_NOWAIT` per operation.
//!
//! Creation is race-free ([`create`], [`open_initialised`]): a new set's values are
//! indeterminate until someone sets them, so the creator uses `IPC_EXCL`, sets the values, and
//! then performs one `semop` that changes nothing, which makes `sem_otime` non-zero; every other
//! opener waits, with a bound, until `sem_otime != 0`
//! ([`wait_until_initialised`](SemaphoreSet::wait_until_initialised)).
//!
//! The wrappers turn -1 and errno into an [`Error`] that says what went wrong in words (EIDRM:
//! "the set was removed", ERANGE: "over SEMVMX (32767)", EFBIG: "no such semaphore in the
//! set"); they never retry and never wait for a signal: the examples run them under
//! `support::stop::Stop::retry`, which retries after EINTR unless a stop was requested.
//! Nothing here prints. This file holds the crate's only `unsafe` code.

use std::fmt::{self, Display};
use std::mem::MaybeUninit;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libc::{c_int, c_short, c_ushort};
use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use support::cli::{Context, Failure};
use support::stop::{Stop, Stopped};

pub use support::keys::KeyArgs;
use sysv::Kind;
pub use sysv::{Error, Handle, Key, NamedKey, ftok};

pub mod lab;

/// The largest value a semaphore may hold on Linux (`SEMVMX`); going over fails with ERANGE.
pub const SEMVMX: u16 = 32767;

/// How long [`SemaphoreSet::wait_until_initialised`] waits for the creator to set the values
/// before giving up.
pub const INIT_WAIT: Duration = Duration::from_secs(2);

/// One operation of a `semop` call: C's `struct sembuf`.
///
/// - `delta < 0`: P, take `-delta` units; wait while the value is smaller.
/// - `delta > 0`: V, give `delta` units back; never waits.
/// - `delta == 0`: wait until the value is zero.
///
/// `flags` are `SEM_UNDO` (the kernel reverses the operation when the process ends) and
/// `IPC_NOWAIT` (fail with EAGAIN instead of waiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemOp {
    /// Which semaphore of the set (`sem_num`), from 0.
    pub num: u16,
    /// What to add (`sem_op`): negative for P, positive for V, 0 to wait for zero.
    pub delta: i16,
    /// `SEM_UNDO`, `IPC_NOWAIT`, both or neither (`sem_flg`).
    pub flags: i16,
}

impl SemOp {
    /// P: take `amount` units from semaphore `num`, waiting while it holds fewer.
    pub const fn p(num: u16, amount: u16) -> SemOp {
        SemOp {
            num,
            delta: -(amount as i16),
            flags: 0,
        }
    }

    /// V: give `amount` units to semaphore `num`.
    pub const fn v(num: u16, amount: u16) -> SemOp {
        SemOp {
            num,
            delta: amount as i16,
            flags: 0,
        }
    }

    /// Wait until semaphore `num` is zero.
    pub const fn zero(num: u16) -> SemOp {
        SemOp {
            num,
            delta: 0,
            flags: 0,
        }
    }

    /// The same operation with `SEM_UNDO`.
    pub const fn undo(self) -> SemOp {
        SemOp {
            flags: self.flags | libc::SEM_UNDO as i16,
            ..self
        }
    }

    /// The same operation with `IPC_NOWAIT`.
    pub const fn nowait(self) -> SemOp {
        SemOp {
            flags: self.flags | libc::IPC_NOWAIT as i16,
            ..self
        }
    }

    /// Whether it carries `SEM_UNDO`.
    pub fn has_undo(self) -> bool {
        i32::from(self.flags) & libc::SEM_UNDO != 0
    }

    /// Whether it carries `IPC_NOWAIT`.
    pub fn has_nowait(self) -> bool {
        i32::from(self.flags) & libc::IPC_NOWAIT != 0
    }

    /// Whether it would wait if done now on a semaphore holding `value`.
    pub fn would_wait(self, value: u16) -> bool {
        match self.delta {
            0 => value != 0,
            delta if delta < 0 => i32::from(value) < -i32::from(delta),
            _ => false,
        }
    }

    /// What a waiting caller waits for, in words: `semaphore 0 to reach 1`, `semaphore 2 to
    /// reach 0`.
    pub fn waits_for(self) -> String {
        format!(
            "semaphore {} to reach {}",
            self.num,
            -i32::from(self.delta.min(0))
        )
    }

    fn sembuf(self) -> libc::sembuf {
        libc::sembuf {
            sem_num: self.num as c_ushort,
            sem_op: self.delta as c_short,
            sem_flg: self.flags as c_short,
        }
    }
}

impl Display for SemOp {
    /// The `pv op` syntax: `0-1`, `1+2u`, `2=0n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.delta {
            0 => write!(f, "{}=0", self.num)?,
            delta if delta < 0 => write!(f, "{}-{}", self.num, -i32::from(delta))?,
            delta => write!(f, "{}+{delta}", self.num)?,
        }
        if self.has_undo() {
            f.write_str("u")?;
        }
        if self.has_nowait() {
            f.write_str("n")?;
        }
        Ok(())
    }
}

impl FromStr for SemOp {
    type Err = String;

    /// One operation in the `pv op` syntax: `INDEX-AMOUNT` (P), `INDEX+AMOUNT` (V) or
    /// `INDEX=0` (wait for zero), then optionally `u` (SEM_UNDO) and `n` (IPC_NOWAIT).
    fn from_str(text: &str) -> Result<SemOp, String> {
        // An error line quotes at most 40 characters of what it refuses.
        let shown: String = text.chars().take(40).collect();
        let more = if shown.len() < text.len() { "..." } else { "" };
        let bad = |why: &str| format!("{shown:?}{more} is not an operation: {why}");
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("it must start with a semaphore index (0, 1, ...)"));
        }
        let num: u16 = text[..digits]
            .parse()
            .map_err(|_| bad("the index is over 65535"))?;
        let rest = &text[digits..];
        let Some(sign) = rest.chars().next() else {
            return Err(bad("an index must be followed by -N, +N or =0"));
        };
        let rest = &rest[1..];
        let amount_len = rest.chars().take_while(char::is_ascii_digit).count();
        if amount_len == 0 {
            return Err(bad("a number must follow the -, + or ="));
        }
        let amount: u16 = match rest[..amount_len].parse() {
            Ok(n) if n <= SEMVMX => n,
            _ => return Err(bad("the amount is over SEMVMX (32767)")),
        };
        let mut op = match sign {
            '-' if amount > 0 => SemOp::p(num, amount),
            '+' if amount > 0 => SemOp::v(num, amount),
            '=' if amount == 0 => SemOp::zero(num),
            '-' | '+' => return Err(bad("the amount must be 1 or more (=0 waits for zero)")),
            '=' => return Err(bad("only =0 (wait for zero) is allowed")),
            _ => return Err(bad("an index must be followed by -N, +N or =0")),
        };
        for flag in rest[amount_len..].chars() {
            op = match flag {
                'u' if !op.has_undo() => op.undo(),
                'n' if !op.has_nowait() => op.nowait(),
                'u' | 'n' => return Err(bad("a flag letter is repeated")),
                _ => {
                    return Err(bad(
                        "the only flag letters are u (SEM_UNDO) and n (IPC_NOWAIT)",
                    ));
                }
            };
        }
        Ok(op)
    }
}

/// A comma-separated list of operations in the `pv op` syntax (`0-1,1+2u`), done by one
/// `semop`, atomically.
pub fn parse_ops(text: &str) -> Result<Vec<SemOp>, String> {
    if text.is_empty() {
        return Err("no operation given: write one such as 0-1".to_owned());
    }
    let ops: Vec<SemOp> = text
        .split(',')
        .enumerate()
        .map(|(at, item)| match item {
            "" => Err(format!(
                "operation {} is empty: two commas in a row, or one at an end",
                at + 1
            )),
            item => item.parse(),
        })
        .collect::<Result<_, String>>()?;
    // One semop takes at most SEMOPM operations (500 by default on Linux); a longer list would
    // fail with E2BIG after parsing, with an error line as long as the list.
    if ops.len() > MAX_OPS {
        return Err(format!(
            "{} operations in one list: one semop takes at most {MAX_OPS} (SEMOPM)",
            ops.len()
        ));
    }
    Ok(ops)
}

/// The most operations one `semop` takes on Linux by default (`SEMOPM`, the third field of
/// /proc/sys/kernel/sem).
pub const MAX_OPS: usize = 500;

/// What `semctl` says about one semaphore of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemState {
    /// Its value (`GETVAL`).
    pub value: u16,
    /// How many processes wait for it to grow (`GETNCNT`).
    pub ncnt: u32,
    /// How many processes wait for it to reach zero (`GETZCNT`).
    pub zcnt: u32,
    /// The process that operated on it last (`GETPID`; 0 if none has).
    pub pid: i32,
}

/// What `semctl(IPC_STAT)` says about a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The key it was created with.
    pub key: Key,
    /// Owner, creator and mode.
    pub owner: sysv::Owner,
    /// How many semaphores it has.
    pub nsems: u16,
    /// When the last `semop` happened (seconds since the epoch; 0: never, so the creator has
    /// not finished initialising it).
    pub otime: i64,
}

/// `semget(2)`: the set with `key`, of `nsems` semaphores. `flags` are `IPC_CREAT`, `IPC_EXCL`
/// and the mode bits of a new set (`0o600`); `nsems` may be 0 when opening an existing set.
///
/// A new set's values are indeterminate (Linux happens to start them at 0; POSIX says
/// nothing): set them before anyone uses the set. [`create`] does, race-free.
///
/// The handle removes the set when it is dropped if this call certainly created it: with
/// `IPC_CREAT | IPC_EXCL`, or with [`Key::PRIVATE`].
// ANCHOR: semget
pub fn semget(key: impl Into<NamedKey>, nsems: u16, flags: c_int) -> Result<SemaphoreSet, Error> {
    let key = key.into();
    // SAFETY: semget takes three integers and touches no memory of ours.
    let id = unsafe { libc::semget(key.key().raw(), c_int::from(nsems), flags) };
    if id == -1 {
        let err = Error::last(format!("semget {key}"));
        return Err(match err.errno() {
            Some(Errno::ENOENT) => err.because("no semaphore set has this key"),
            Some(Errno::EEXIST) => err.because("a semaphore set with this key exists already"),
            Some(Errno::EINVAL) => err.because(format!(
                "{nsems} semaphores: the set has fewer, or the number is over the limit \
                 (semmsl, /proc/sys/kernel/sem)"
            )),
            _ => err,
        });
    }
    let exclusive = libc::IPC_CREAT | libc::IPC_EXCL;
    let created = key.key().is_private() || (flags & exclusive) == exclusive;
    Ok(SemaphoreSet(Handle::new(Kind::Sem, id, key, created)))
}
// ANCHOR_END: semget

/// Creates a NEW set with `values.len()` semaphores set to `values`, mode 0600, race-free:
///
/// 1. `semget(IPC_CREAT | IPC_EXCL)`: a new set or EEXIST, never somebody else's;
/// 2. `semctl(SETALL)`: the values;
/// 3. one `semop` that changes nothing (+1 then -1 on semaphore 0, in one call), so that
///    `sem_otime` becomes non-zero: the sign, for [`SemaphoreSet::wait_until_initialised`],
///    that the values are set.
pub fn create(key: impl Into<NamedKey>, values: &[u16]) -> Result<SemaphoreSet, Error> {
    let nsems = u16::try_from(values.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::refused("semget", "a set has 1 to 65535 semaphores"))?;
    let set = semget(key, nsems, libc::IPC_CREAT | libc::IPC_EXCL | 0o600)?;
    set.semctl_setall(values)?;
    set.semop(&changes_nothing(values[0]))?;
    Ok(set)
}

// ANCHOR: changes_nothing
/// Two operations on semaphore 0 that change nothing when one `semop` does both: +1 then -1.
/// Their only effect is that `sem_otime` becomes non-zero, the creator's sign that the values
/// are set. `value` is semaphore 0's value now: at SEMVMX, +1 would fail with ERANGE, so -1
/// comes first (the value is not 0).
pub const fn changes_nothing(value: u16) -> [SemOp; 2] {
    if value == SEMVMX {
        [SemOp::p(0, 1), SemOp::v(0, 1)]
    } else {
        [SemOp::v(0, 1), SemOp::p(0, 1)]
    }
}
// ANCHOR_END: changes_nothing

/// Opens the EXISTING set with `key` (`semget(key, 0, 0)`) and waits until its creator has set
/// its values ([`SemaphoreSet::wait_until_initialised`]). Returns the set and how long it
/// waited.
pub fn open_initialised(
    key: impl Into<NamedKey>,
    stop: &Stop,
) -> Result<(SemaphoreSet, Duration), Stopped<Error>> {
    let set = semget(key, 0, 0)?;
    let waited = set.wait_until_initialised(stop)?;
    Ok((set, waited))
}

/// A System V semaphore set this process has opened with [`semget`].
///
/// Its [`Handle`] holds its id, its key, and whether this process created it; `Deref` lets a
/// `SemaphoreSet` call the handle's methods as its own: `set.id()`. The creator cleans up: dropping the handle that created the set removes
/// it (`semctl(IPC_RMID)`), on every way out, a panic included. Any other handle leaves the set
/// alone unless [`SemaphoreSet::semctl_rmid`] is called.
#[derive(Debug)]
pub struct SemaphoreSet(Handle);

impl std::ops::Deref for SemaphoreSet {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.0
    }
}

impl SemaphoreSet {
    /// The set with identifier `id`, as `ipcs -s` shows it. No system call; this handle never
    /// removes the set on drop.
    pub fn from_id(id: i32) -> Self {
        Self(Handle::from_id(Kind::Sem, id))
    }

    /// Gives up the duty to remove the set: it stays in the kernel until someone removes it.
    /// Returns the same set as a handle that never removes it.
    pub fn leave_in_kernel(mut self) -> SemaphoreSet {
        self.0.leave_in_kernel();
        self
    }

    /// The owner check for a set this process did not create (see `sysv::check_owner`): your
    /// own passes, with a warning if others may write to it; another user's is refused unless
    /// `accept_foreign`. `Ok(Some(line))`: a line for the example to print.
    pub fn check_owner(&self, accept_foreign: bool) -> Result<Option<String>, Error> {
        let owner = || self.semctl_stat().map(|stat| stat.owner);
        self.0.check_owner(owner, accept_foreign)
    }

    // ANCHOR: wait_until_initialised
    /// Waits, at most [`INIT_WAIT`], until the creator of this set has set its values: until
    /// `sem_otime != 0` (see [`create`]). A stop signal ends the wait. Returns how long it
    /// waited. A set you may not read returns at once: whether it is initialised cannot be
    /// seen, and [`SemaphoreSet::check_owner`] refuses it by default.
    pub fn wait_until_initialised(&self, stop: &Stop) -> Result<Duration, Stopped<Error>> {
        let started = Instant::now();
        loop {
            match self.semctl_stat() {
                Ok(stat) if stat.otime != 0 => break,
                Err(err) if err.errno() == Some(Errno::EACCES) => break,
                Ok(_) => {}
                Err(err) => return Err(err.into()),
            }
            stop.check()?;
            if started.elapsed() > INIT_WAIT {
                return Err(Stopped::Failed(Error::refused(
                    format!("open {self}"),
                    format!(
                        "its creator has not set its values after {INIT_WAIT:?} (sem_otime is \
                         still 0); it may have died between semget and semctl"
                    ),
                )));
            }
            // No event says "initialised": poll, briefly, for at most INIT_WAIT.
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(started.elapsed())
    }
    // ANCHOR_END: wait_until_initialised

    // ANCHOR: semop
    /// `semop(2)`: does all of `ops` at once, atomically, or waits until it can (unless one of
    /// them has `IPC_NOWAIT`: then EAGAIN). A signal ends the wait with EINTR, whatever
    /// SA_RESTART says.
    pub fn semop(&self, ops: &[SemOp]) -> Result<(), Error> {
        let mut bufs: Vec<libc::sembuf> = ops.iter().map(|op| op.sembuf()).collect();
        // SAFETY: `bufs` holds `bufs.len()` valid sembufs; semop only reads them.
        let done = unsafe { libc::semop(self.id(), bufs.as_mut_ptr(), bufs.len()) };
        if done == -1 {
            return Err(op_error("semop", ops));
        }
        Ok(())
    }
    // ANCHOR_END: semop

    /// P on semaphore `num`, which a child of this process is to V: waits until it does, or
    /// until a child has ended, which may never V (killed, or its terminal closed). Returns
    /// false then; the child is left for its `waitpid`. A stop signal ends the wait.
    pub fn p_from_child(&self, num: u16, stop: &Stop) -> Result<bool, Stopped<Error>> {
        // No wait covers "a V, or a child's end" at once: wait for the V a moment at a time.
        let moment = Duration::from_millis(50);
        loop {
            match stop.retry(|| self.semtimedop(&[SemOp::p(num, 1)], moment)) {
                Ok(()) => return Ok(true),
                Err(Stopped::Failed(err)) if err.errno() == Some(Errno::EAGAIN) => {
                    let ended =
                        support::ended_child().map_err(|errno| Error::new("waitid", errno))?;
                    if ended.is_some() {
                        return Ok(false);
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// `semtimedop(2)`: [`semop`](SemaphoreSet::semop) that waits at most `timeout`; then it
    /// fails with EAGAIN, and nothing was done.
    pub fn semtimedop(&self, ops: &[SemOp], timeout: Duration) -> Result<(), Error> {
        let mut bufs: Vec<libc::sembuf> = ops.iter().map(|op| op.sembuf()).collect();
        let limit = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: libc has no semtimedop wrapper on every target, so this is the system call
        // itself: `bufs` holds `bufs.len()` valid sembufs and `limit` a valid timespec; the
        // kernel only reads both during the call.
        let done = unsafe {
            libc::syscall(
                libc::SYS_semtimedop,
                self.id(),
                bufs.as_mut_ptr(),
                bufs.len(),
                &raw const limit,
            )
        };
        if done == -1 {
            let err = op_error("semtimedop", ops);
            return Err(match err.errno() {
                Some(Errno::EAGAIN) if !ops.iter().any(|op| op.has_nowait()) => {
                    Error::new("semtimedop", Errno::EAGAIN)
                        .because(format!("still waiting after {timeout:?}, the timeout"))
                }
                _ => err,
            });
        }
        Ok(())
    }

    /// P: takes `amount` units from semaphore `num` (one `semop`), waiting while it has fewer.
    pub fn p(&self, num: u16, amount: u16) -> Result<(), Error> {
        self.semop(&[SemOp::p(num, amount)])
    }

    /// V: gives `amount` units to semaphore `num` (one `semop`).
    pub fn v(&self, num: u16, amount: u16) -> Result<(), Error> {
        self.semop(&[SemOp::v(num, amount)])
    }

    /// Waits until semaphore `num` is zero (one `semop` with `sem_op = 0`).
    pub fn wait_zero(&self, num: u16) -> Result<(), Error> {
        self.semop(&[SemOp::zero(num)])
    }

    /// `semctl(2)` with `SETVAL`: sets semaphore `num` to `value`. Clears every process's undo
    /// record for it.
    pub fn semctl_setval(&self, num: u16, value: u16) -> Result<(), Error> {
        // libc has no `union semun`: for SETVAL the argument is the int itself (x86_64 and the
        // other 64-bit Linux targets pass it in the same register as the union).
        // SAFETY: SETVAL reads only the int argument; no memory of ours is touched.
        let done = unsafe {
            libc::semctl(
                self.id(),
                c_int::from(num),
                libc::SETVAL,
                c_int::from(value),
            )
        };
        self.check(done, format!("semctl SETVAL semaphore {num} = {value}"))
    }

    /// `semctl(2)` with `SETALL`: sets every semaphore at once (`values.len()` must be the
    /// set's size). Clears every undo record for the set.
    pub fn semctl_setall(&self, values: &[u16]) -> Result<(), Error> {
        let mut array: Vec<c_ushort> = values.to_vec();
        // SAFETY: SETALL reads nsems `unsigned short`s from the pointer (union semun's
        // `array` member, passed as the pointer itself); the caller gives one per semaphore,
        // and `array` lives across the call.
        let done = unsafe { libc::semctl(self.id(), 0, libc::SETALL, array.as_mut_ptr()) };
        self.check(done, format!("semctl SETALL {values:?}"))
    }

    /// `semctl(2)` with `GETVAL`: the value of semaphore `num`.
    pub fn semctl_getval(&self, num: u16) -> Result<u16, Error> {
        self.get(libc::GETVAL, "GETVAL", num).map(|v| v as u16)
    }

    /// `semctl(2)` with `GETNCNT`: how many processes wait for semaphore `num` to grow.
    pub fn semctl_getncnt(&self, num: u16) -> Result<u32, Error> {
        self.get(libc::GETNCNT, "GETNCNT", num).map(|v| v as u32)
    }

    /// `semctl(2)` with `GETZCNT`: how many processes wait for semaphore `num` to be zero.
    pub fn semctl_getzcnt(&self, num: u16) -> Result<u32, Error> {
        self.get(libc::GETZCNT, "GETZCNT", num).map(|v| v as u32)
    }

    /// `semctl(2)` with `GETPID`: the process that operated on semaphore `num` last.
    pub fn semctl_getpid(&self, num: u16) -> Result<i32, Error> {
        self.get(libc::GETPID, "GETPID", num)
    }

    fn get(&self, cmd: c_int, name: &str, num: u16) -> Result<c_int, Error> {
        // SAFETY: GETVAL, GETNCNT, GETZCNT and GETPID take no fourth argument and touch no
        // memory of ours.
        let value = unsafe { libc::semctl(self.id(), c_int::from(num), cmd) };
        self.check(value, format!("semctl {name} semaphore {num}"))?;
        Ok(value)
    }

    /// `semctl(2)` with `GETALL`: every value, in order.
    pub fn semctl_getall(&self) -> Result<Vec<u16>, Error> {
        let nsems = self.semctl_stat()?.nsems;
        let mut array: Vec<c_ushort> = vec![0; usize::from(nsems)];
        // SAFETY: GETALL writes nsems `unsigned short`s through the pointer; `array` has room
        // for exactly that many (nsems from IPC_STAT just above; a set never changes size).
        let done = unsafe { libc::semctl(self.id(), 0, libc::GETALL, array.as_mut_ptr()) };
        self.check(done, "semctl GETALL")?;
        Ok(array)
    }

    // ANCHOR: stat
    /// `semctl(2)` with `IPC_STAT`: size, owner, and when the last `semop` happened.
    pub fn semctl_stat(&self) -> Result<Stat, Error> {
        let mut ds = MaybeUninit::<libc::semid_ds>::uninit();
        // SAFETY: `ds` has room for a `semid_ds`, which IPC_STAT fills in whole on success.
        let done = unsafe { libc::semctl(self.id(), 0, libc::IPC_STAT, ds.as_mut_ptr()) };
        self.check(done, "semctl IPC_STAT")?;
        // SAFETY: semctl succeeded, so the kernel filled `ds`.
        let ds = unsafe { ds.assume_init() };
        Ok(Stat {
            key: Key::from_number(ds.sem_perm.__key),
            owner: sysv::Owner::from(&ds.sem_perm),
            nsems: ds.sem_nsems as u16,
            otime: ds.sem_otime,
        })
    }
    // ANCHOR_END: stat

    /// Every semaphore's value, waiting counts and last pid: GETALL, then GETNCNT, GETZCNT and
    /// GETPID for each (not one atomic picture: a value may change between the calls).
    pub fn states(&self) -> Result<Vec<SemState>, Error> {
        let values = self.semctl_getall()?;
        (0..values.len() as u16)
            .map(|num| {
                Ok(SemState {
                    value: values[usize::from(num)],
                    ncnt: self.semctl_getncnt(num)?,
                    zcnt: self.semctl_getzcnt(num)?,
                    pid: self.semctl_getpid(num)?,
                })
            })
            .collect()
    }

    /// `semctl(2)` with `IPC_RMID`: removes the set now. Every process waiting in `semop` on
    /// it wakes with EIDRM. Takes the handle: the set is gone afterwards.
    pub fn semctl_rmid(mut self) -> Result<(), Error> {
        self.0.leave_in_kernel(); // removed here, not again on drop
        // SAFETY: IPC_RMID takes no fourth argument.
        let done = unsafe { libc::semctl(self.id(), 0, libc::IPC_RMID) };
        let err = match self.check(done, "semctl IPC_RMID") {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        Err(match err.errno() {
            Some(Errno::EPERM) => {
                err.because("only the set's owner or creator may remove it, whatever its mode")
            }
            _ => err,
        })
    }

    fn check(&self, result: c_int, operation: impl Display) -> Result<(), Error> {
        if result == -1 {
            let err = Error::last(format!("{operation} (set id={})", self.id()));
            return Err(explain(err));
        }
        Ok(())
    }
}

impl Display for SemaphoreSet {
    /// `semaphore set id=7 with key 0x61001234 = ftok("/home/me/file", 'a')`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// ANCHOR: errors
/// The errno of a failed `semop`/`semtimedop`/`semctl`, in words.
fn explain(err: Error) -> Error {
    match err.errno() {
        Some(Errno::EIDRM) => err.because("the set was removed"),
        Some(Errno::EINVAL) => err.because("no set has this id: it was removed, or never was"),
        Some(Errno::ERANGE) => err.because(format!("over SEMVMX ({SEMVMX})")),
        Some(Errno::EFBIG) => err.because("no such semaphore in the set"),
        Some(Errno::EACCES) => err.because("the set's mode does not let you do this"),
        Some(Errno::E2BIG) => err.because("too many operations in one call (semopm)"),
        _ => err,
    }
}
// ANCHOR_END: errors

fn op_error(call: &str, ops: &[SemOp]) -> Error {
    let list: Vec<String> = ops.iter().map(SemOp::to_string).collect();
    let err = Error::last(format!("{call} {}", list.join(",")));
    match err.errno() {
        Some(Errno::EAGAIN) => err.because("it would have to wait, and IPC_NOWAIT says not to"),
        // A set that is not there answers EINVAL; semctl's EINVAL explanation fits.
        _ => explain(err),
    }
}

/// A `u64` counter in an anonymous shared mapping (`mmap(MAP_SHARED | MAP_ANONYMOUS)`): a
/// child forked afterwards shares it with its parent, so every process sees one counter. The
/// semaphore only guards it; the data lives here, beside it.
pub struct SharedCounter {
    counter: NonNull<AtomicU64>,
}

impl SharedCounter {
    /// `mmap(2)`: one page, shared, anonymous, read-write, zero-filled.
    pub fn new() -> Result<SharedCounter, Failure> {
        let length = NonZeroUsize::new(size_of::<AtomicU64>()).expect("non-zero size");
        // SAFETY: a new anonymous mapping at an address the kernel picks overlaps nothing of
        // ours; it is zero-filled and page-aligned, so it holds a valid, aligned AtomicU64.
        let mapped = unsafe {
            mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .context("mmap MAP_SHARED | MAP_ANONYMOUS")?;
        Ok(SharedCounter {
            counter: mapped.cast(),
        })
    }
}

// ANCHOR: counter
impl SharedCounter {
    fn atomic(&self) -> &AtomicU64 {
        // SAFETY: the mapping lives until `self` is dropped, is aligned and initialised (zero
        // bytes are a valid AtomicU64), and is only ever accessed through atomics, from any
        // process that shares it, so no `&mut` or plain access aliases it.
        unsafe { self.counter.as_ref() }
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.atomic().load(Ordering::SeqCst)
    }

    /// Adds 1 the way `counter += 1` does in C: read, then write back the read value plus one.
    /// Two separate steps: another process may write between them, and its update is then
    /// lost. Relaxed atomics keep each step defined behaviour in Rust (a plain `+=` through a
    /// raw pointer that another process writes would be a data race) without making the pair
    /// atomic: that is the semaphore's job.
    pub fn add_one_in_two_steps(&self) {
        let seen = self.atomic().load(Ordering::Relaxed);
        self.atomic().store(seen + 1, Ordering::Relaxed);
    }
}
// ANCHOR_END: counter

impl Drop for SharedCounter {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this length and is not used after this;
        // a forked child's copy stays mapped in that child.
        let _ = unsafe { munmap(self.counter.cast(), size_of::<AtomicU64>()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_and_print_in_the_pv_syntax() {
        assert_eq!(parse_ops("0-1"), Ok(vec![SemOp::p(0, 1)]));
        assert_eq!(
            parse_ops("0-1,1+2u"),
            Ok(vec![SemOp::p(0, 1), SemOp::v(1, 2).undo()])
        );
        assert_eq!(parse_ops("2=0nu"), Ok(vec![SemOp::zero(2).nowait().undo()]));
        for op in ["0-1", "1+2u", "2=0n", "3-4un"] {
            assert_eq!(op.parse::<SemOp>().unwrap().to_string(), op);
        }
        for bad in [
            "0-", "x+1", "0+1,,", "", "0", "0-0", "0=1", "0+40000", "0-1uu", "0-1q",
        ] {
            assert!(parse_ops(bad).is_err(), "{bad:?} parses");
        }
    }

    #[test]
    fn would_wait_and_waits_for_say_what_blocks() {
        assert!(SemOp::p(0, 2).would_wait(1));
        assert!(!SemOp::p(0, 2).would_wait(2));
        assert!(SemOp::zero(1).would_wait(3));
        assert!(!SemOp::v(0, 1).would_wait(0));
        assert_eq!(SemOp::p(0, 1).waits_for(), "semaphore 0 to reach 1");
        assert_eq!(SemOp::zero(2).waits_for(), "semaphore 2 to reach 0");
    }

    #[test]
    fn a_private_set_does_p_v_zero_and_several_at_once() {
        let set = create(Key::PRIVATE, &[1, 0, 5]).unwrap();
        assert!(set.created());
        let stat = set.semctl_stat().unwrap();
        assert_eq!(stat.nsems, 3);
        assert_eq!(stat.owner.mode, 0o600);
        assert_ne!(stat.otime, 0, "create leaves sem_otime set");
        assert_eq!(set.semctl_getall().unwrap(), [1, 0, 5]);
        set.p(0, 1).unwrap();
        set.v(1, 3).unwrap();
        set.semop(&[SemOp::p(2, 5), SemOp::v(0, 2)]).unwrap();
        assert_eq!(set.semctl_getall().unwrap(), [2, 3, 0]);
        set.wait_zero(2).unwrap();
        // All or nothing: the second op would wait, so the first does not happen either.
        let all = set.semop(&[SemOp::p(0, 1), SemOp::p(2, 1).nowait()]);
        assert_eq!(all.unwrap_err().errno(), Some(Errno::EAGAIN));
        assert_eq!(set.semctl_getval(0).unwrap(), 2);
        assert_eq!(set.semctl_getpid(0).unwrap(), std::process::id() as i32);
        assert_eq!(set.semctl_getncnt(0).unwrap(), 0);
        assert_eq!(set.semctl_getzcnt(0).unwrap(), 0);
        set.semctl_setval(1, 7).unwrap();
        assert_eq!(set.states().unwrap()[1].value, 7);
    }

    #[test]
    fn semtimedop_gives_up_after_its_timeout() {
        let set = create(Key::PRIVATE, &[0]).unwrap();
        let started = Instant::now();
        let err = set
            .semtimedop(&[SemOp::p(0, 1)], Duration::from_millis(50))
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(err.errno(), Some(Errno::EAGAIN));
        assert!(
            err.to_string().contains("still waiting after 50ms"),
            "{err}"
        );
        set.v(0, 1).unwrap();
        set.semtimedop(&[SemOp::p(0, 1)], Duration::from_secs(1))
            .unwrap();
    }

    #[test]
    fn errors_are_said_in_words() {
        let set = create(Key::PRIVATE, &[SEMVMX, 0]).unwrap();
        let over = set.v(0, 1).unwrap_err();
        assert_eq!(over.errno(), Some(Errno::ERANGE));
        assert!(
            over.to_string().ends_with("(over SEMVMX (32767))"),
            "{over}"
        );
        let missing = set.p(5, 1).unwrap_err();
        assert_eq!(missing.errno(), Some(Errno::EFBIG));
        assert!(
            missing
                .to_string()
                .ends_with("(no such semaphore in the set)"),
            "{missing}"
        );
        let id = set.id();
        drop(set);
        let gone = SemaphoreSet::from_id(id).semctl_getval(0).unwrap_err();
        assert_eq!(
            gone.errno(),
            Some(Errno::EINVAL),
            "the creator's drop removed it"
        );
        let no_key = semget(Key::from_number(0x7fff_fff5), 0, 0).unwrap_err();
        assert!(
            no_key.to_string().contains("no semaphore set has this key"),
            "{no_key}"
        );
    }

    #[test]
    fn only_the_creator_removes_the_set_on_drop() {
        let set = create(Key::PRIVATE, &[1]).unwrap();
        drop(SemaphoreSet::from_id(set.id()));
        assert!(set.semctl_getval(0).is_ok(), "another handle left it alone");
        SemaphoreSet::from_id(set.id()).semctl_rmid().unwrap();
        assert_eq!(
            set.semctl_getval(0).unwrap_err().errno(),
            Some(Errno::EINVAL)
        );
    }

    #[test]
    fn the_shared_counter_counts() {
        let counter = SharedCounter::new().unwrap();
        for _ in 0..3 {
            counter.add_one_in_two_steps();
        }
        assert_eq!(counter.get(), 3);
    }
}
