//! System V message queues: the pieces the `msgqueue` examples share.
//!
//! A message queue is a linked list of messages kept by the kernel. Each message has a type (a
//! number, 1 or more) and a body of bytes. Senders append; a receiver takes the first message,
//! the first of one type, or the first with the lowest type up to a bound. The queue is found by
//! a [`Key`] and lives until someone removes it, whether or not any process has it open.
//!
//! [`MessageQueue`] wraps `msgget`, `msgsnd`, `msgrcv` and `msgctl`; [`Shutdown`] turns Ctrl-C
//! into an exit code; [`QueueArgs`] are the key flags every binary shares. This file holds the
//! crate's only `unsafe` code.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::mem::{MaybeUninit, align_of, size_of};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libc::{c_int, c_long};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use support::cli::{Context, Failure};

pub use sysv::{Creation, Error, Key, Permissions};

/// The seed's key file: `ftok("./file", 'a')`.
pub const DEFAULT_KEY_PATH: &str = "./file";

/// The seed's project id, `'a'`.
pub const DEFAULT_PROJ: u8 = b'a';

// ANCHOR: envelope
/// A message as `msgsnd` and `msgrcv` see it: the type, then the body, laid out like C's
/// `struct { long mtype; T payload; }`. `Envelope<[u8; N]>` is exactly C's
/// `struct msgbuf { long mtype; char mtext[N]; }`, so C programs can read what Rust sends.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Envelope<T> {
    /// The message type, 1 or more. Not counted in the message's size.
    pub mtype: c_long,
    /// The body: the bytes `msgsz` counts.
    pub payload: T,
}

/// C's `struct msgbuf` with a text of `N` bytes.
pub type MsgBuf<const N: usize> = Envelope<[u8; N]>;
// ANCHOR_END: envelope

/// Plain old data: a value that is nothing but its bytes, so it can travel through a queue and
/// be rebuilt from whatever bytes arrive.
///
/// # Safety
/// Implement it only for types that are `#[repr(C)]` (or primitive), have no padding bytes, hold
/// no pointers or references, are at most 8-byte aligned, and for which every bit pattern is a
/// valid value (so no `bool`, `char` or enums).
pub unsafe trait Plain: Copy + 'static {}

macro_rules! plain_integers {
    ($($t:ty),*) => {$(
        // SAFETY: an integer has no padding and no invalid bit patterns.
        unsafe impl Plain for $t {}
    )*};
}
plain_integers!(u8, i8, u16, i16, u32, i32, u64, i64);

// SAFETY: an array of padding-free, any-bit-pattern elements has no padding between them (an
// element's size is a multiple of its alignment) and accepts any bit pattern too.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// The part of [`Plain`]'s contract the compiler can check: the payload starts right after the
/// `long`, as msgsnd and msgrcv assume (a type aligned to more than a `long` would leave a gap).
/// Evaluated at compile time for each `T` that is sent or received.
const fn assert_payload_follows_mtype<T>() {
    assert!(align_of::<T>() <= align_of::<c_long>());
    assert!(std::mem::offset_of!(Envelope<T>, payload) == size_of::<c_long>());
}

// ANCHOR: tally
/// What a mesh node reports to the coordinator when it is done: how many greetings it got from
/// each node (index 0 is A). Sent as a typed payload, not as text.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// The reporting node's index (0 for A).
    pub node: u32,
    /// `from[i]`: greetings received from node `i`.
    pub from: [u32; 4],
}
// ANCHOR_END: tally

// SAFETY: `#[repr(C)]` of five `u32`: 20 bytes, no padding, every bit pattern valid.
unsafe impl Plain for Tally {}

// ANCHOR: select
/// Which message `msgrcv` takes, its `msgtyp` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// `msgtyp = 0`: the oldest message of any type.
    Any,
    /// `msgtyp = n > 0`: the oldest message of type `n`.
    Exact(i64),
    /// `msgtyp = -n`: the oldest message of the lowest type that is `<= n`.
    AtMost(i64),
}

impl Select {
    fn msgtyp(self) -> c_long {
        match self {
            Select::Any => 0,
            Select::Exact(n) => n as c_long,
            Select::AtMost(n) => -(n as c_long),
        }
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Select::Any => f.write_str("any type"),
            Select::Exact(n) => write!(f, "type {n} only"),
            Select::AtMost(n) => write!(f, "lowest type first, types 1 to {n}"),
        }
    }
}
// ANCHOR_END: select

/// Whether a call may wait: for room in a full queue (send) or for a message (receive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Block until it can be done (or a signal or a removal interrupts).
    #[default]
    Block,
    /// `IPC_NOWAIT`: fail at once with EAGAIN (send) or ENOMSG (receive).
    NoWait,
}

impl Wait {
    fn flags(self) -> c_int {
        match self {
            Wait::Block => 0,
            Wait::NoWait => libc::IPC_NOWAIT,
        }
    }
}

/// A message taken from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its type.
    pub mtype: i64,
    /// Its body.
    pub bytes: Vec<u8>,
}

impl Message {
    /// The body as text, up to the first NUL byte (C senders end their text with one).
    pub fn text(&self) -> Cow<'_, str> {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.bytes.len());
        String::from_utf8_lossy(&self.bytes[..end])
    }
}

/// What `msgctl(IPC_STAT)` says about a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The key it was created with.
    pub key: Key,
    /// Owner, creator and mode.
    pub owner: sysv::Owner,
    /// Messages waiting.
    pub messages: u64,
    /// Bytes waiting (bodies only, not the types).
    pub bytes: u64,
    /// The most bytes it may hold (`msg_qbytes`, msgmnb when it was created).
    pub capacity: u64,
    /// The process that sent last (0 if none).
    pub last_sender: i32,
    /// The process that received last (0 if none).
    pub last_receiver: i32,
}

/// The kernel's limits for message queues, from `/proc/sys/kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `msgmax`: the largest message body, in bytes.
    pub msgmax: usize,
    /// `msgmnb`: the most bytes a new queue may hold.
    pub msgmnb: usize,
    /// `msgmni`: the most queues on the system.
    pub msgmni: usize,
}

impl Limits {
    /// Reads `/proc/sys/kernel/{msgmax,msgmnb,msgmni}`.
    pub fn read() -> Result<Limits, Failure> {
        let read = |name: &str| -> Result<usize, Failure> {
            let path = format!("/proc/sys/kernel/{name}");
            let text = std::fs::read_to_string(&path).context(format!("read {path}"))?;
            text.trim()
                .parse()
                .map_err(|_| Failure::new(format!("{path}: not a number: {text:?}")))
        };
        Ok(Limits {
            msgmax: read("msgmax")?,
            msgmnb: read("msgmnb")?,
            msgmni: read("msgmni")?,
        })
    }

    /// `msgmax`, or Linux's default 8192 if /proc cannot say.
    pub fn msgmax() -> usize {
        Limits::read().map(|l| l.msgmax).unwrap_or(8192)
    }
}

/// A System V message queue this process has opened.
///
/// If this handle created the queue, dropping it removes the queue (`IPC_RMID`): the creator
/// cleans up. A handle that found an existing queue leaves it alone unless [`remove`] is called.
///
/// [`remove`]: MessageQueue::remove
#[derive(Debug)]
pub struct MessageQueue {
    id: c_int,
    key: Key,
    created: bool,
}

impl MessageQueue {
    // ANCHOR: open
    /// Gets the queue with `key` (`msgget`), creating it as `creation` says with `permissions`.
    /// A queue that already existed is checked with `IPC_STAT`: one that another user owns or
    /// that others may write to is refused unless `accept_foreign`.
    pub fn open(
        key: Key,
        creation: Creation,
        permissions: Permissions,
        accept_foreign: bool,
    ) -> Result<Self, Error> {
        let (id, created) = sysv::get("msgget", key, creation, permissions, |key, flags| {
            // SAFETY: msgget takes two integers and touches no memory of ours.
            unsafe { libc::msgget(key, flags) }
        })?;
        let queue = Self { id, key, created };
        if !created {
            queue.check_owner(accept_foreign)?;
        }
        Ok(queue)
    }
    // ANCHOR_END: open

    /// Opens the queue with identifier `id` (as `ipcs -q` shows it), with the same owner check
    /// as [`open`](MessageQueue::open). This handle never removes the queue on drop.
    pub fn from_id(id: i32, accept_foreign: bool) -> Result<Self, Error> {
        let mut queue = Self {
            id,
            key: Key::PRIVATE,
            created: false,
        };
        queue.key = queue.stat()?.key;
        queue.check_owner(accept_foreign)?;
        Ok(queue)
    }

    fn check_owner(&self, accept_foreign: bool) -> Result<(), Error> {
        let owner = self.stat()?.owner;
        sysv::check_owner(
            &format!("queue id={} key={}", self.id, self.key),
            &owner,
            sysv::effective_uid(),
            accept_foreign,
        )
    }

    /// The identifier `msgget` returned.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key it was opened with.
    pub fn key(&self) -> Key {
        self.key
    }

    /// Whether this handle created the queue (and so removes it when dropped).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Gives up the duty to remove the queue: it stays in the kernel after this handle is gone,
    /// with its messages, until someone removes it.
    pub fn leave_in_kernel(mut self) {
        self.created = false;
    }

    // ANCHOR: send
    /// Sends `bytes` as one message of type `mtype` (1 or more).
    pub fn send(&self, mtype: i64, bytes: &[u8], wait: Wait) -> Result<(), Error> {
        // The buffer is C's `struct msgbuf`: one `long` for the type, then the body. It is made
        // of `long`s so that the type is aligned as C would align it.
        const WORD: usize = size_of::<c_long>();
        let mut words: Vec<c_long> = vec![0; 1 + bytes.len().div_ceil(WORD)];
        words[0] = mtype as c_long;
        for (word, chunk) in words[1..].iter_mut().zip(bytes.chunks(WORD)) {
            let mut raw = [0; WORD];
            raw[..chunk.len()].copy_from_slice(chunk);
            *word = c_long::from_ne_bytes(raw);
        }
        // SAFETY: `words` holds the type and then at least `bytes.len()` initialized bytes;
        // msgsnd only reads them during the call.
        let sent =
            unsafe { libc::msgsnd(self.id, words.as_ptr().cast(), bytes.len(), wait.flags()) };
        if sent == -1 {
            return Err(send_error(mtype, bytes.len()));
        }
        Ok(())
    }
    // ANCHOR_END: send

    /// Sends `text` followed by a NUL byte, the way a C program sends a string, so that a C
    /// receiver can print it with `%s`.
    pub fn send_text(&self, mtype: i64, text: &str, wait: Wait) -> Result<(), Error> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        self.send(mtype, &bytes, wait)
    }

    /// Sends `payload`'s bytes as one message of type `mtype`: a `#[repr(C)]` struct travels
    /// as it lies in memory, and a C program with the same struct reads it field by field.
    pub fn send_typed<T: Plain>(&self, mtype: i64, payload: &T, wait: Wait) -> Result<(), Error> {
        const { assert_payload_follows_mtype::<T>() };
        let envelope = Envelope {
            mtype: mtype as c_long,
            payload: *payload,
        };
        // SAFETY: `envelope` is `#[repr(C)]`: the type, then `payload` at offset
        // size_of::<c_long>() (T is at most 8-byte aligned, so no gap). T: Plain has no padding,
        // so the size_of::<T>() bytes msgsnd reads are initialized. It only reads them.
        let sent = unsafe {
            libc::msgsnd(
                self.id,
                (&raw const envelope).cast(),
                size_of::<T>(),
                wait.flags(),
            )
        };
        if sent == -1 {
            return Err(send_error(mtype, size_of::<T>()));
        }
        Ok(())
    }

    // ANCHOR: receive
    /// Takes one message chosen by `select`, whose body may be at most `max_len` bytes.
    ///
    /// A longer message fails with E2BIG and stays in the queue, unless `truncate`
    /// (`MSG_NOERROR`) says to cut it to `max_len` bytes, losing the rest.
    pub fn receive(
        &self,
        select: Select,
        max_len: usize,
        wait: Wait,
        truncate: bool,
    ) -> Result<Message, Error> {
        const WORD: usize = size_of::<c_long>();
        let mut words: Vec<c_long> = vec![0; 1 + max_len.div_ceil(WORD)];
        let flags = wait.flags() | if truncate { libc::MSG_NOERROR } else { 0 };
        // SAFETY: `words` has room for the type and at least `max_len` bytes after it, and
        // msgrcv writes at most that much.
        let received = unsafe {
            libc::msgrcv(
                self.id,
                words.as_mut_ptr().cast(),
                max_len,
                select.msgtyp(),
                flags,
            )
        };
        if received == -1 {
            return Err(receive_error(select, max_len));
        }
        let bytes = words[1..]
            .iter()
            .flat_map(|word| word.to_ne_bytes())
            .take(received as usize)
            .collect();
        Ok(Message {
            mtype: words[0] as i64,
            bytes,
        })
    }
    // ANCHOR_END: receive

    /// Takes one message chosen by `select` and rebuilds a `T` from its body. A body of another
    /// size fails (a longer one with E2BIG, and it stays queued; a shorter one is consumed).
    pub fn receive_typed<T: Plain>(&self, select: Select, wait: Wait) -> Result<(i64, T), Error> {
        const { assert_payload_follows_mtype::<T>() };
        let mut envelope = MaybeUninit::<Envelope<T>>::uninit();
        // SAFETY: the buffer is an `Envelope<T>`: room for the type and size_of::<T>() bytes
        // after it; msgrcv writes at most that much.
        let received = unsafe {
            libc::msgrcv(
                self.id,
                envelope.as_mut_ptr().cast(),
                size_of::<T>(),
                select.msgtyp(),
                wait.flags(),
            )
        };
        if received == -1 {
            return Err(receive_error(select, size_of::<T>()));
        }
        if received as usize != size_of::<T>() {
            return Err(Error::refused(
                "msgrcv",
                format!(
                    "the message has {received} bytes, but a {} has {}",
                    std::any::type_name::<T>(),
                    size_of::<T>()
                ),
            ));
        }
        // SAFETY: msgrcv wrote the type and all size_of::<T>() bytes of the payload (checked
        // just above); T: Plain is valid for any bytes. Only padding may be left unwritten.
        let envelope = unsafe { envelope.assume_init() };
        let mtype: c_long = envelope.mtype;
        Ok((mtype as i64, envelope.payload))
    }

    // ANCHOR: stat
    /// Asks the kernel about the queue (`msgctl(IPC_STAT)`).
    pub fn stat(&self) -> Result<Stat, Error> {
        let mut ds = MaybeUninit::<libc::msqid_ds>::uninit();
        // SAFETY: `ds` has room for a `msqid_ds`, which IPC_STAT fills in whole on success.
        if unsafe { libc::msgctl(self.id, libc::IPC_STAT, ds.as_mut_ptr()) } == -1 {
            return Err(gone_or(Error::last(format!(
                "msgctl IPC_STAT id={}",
                self.id
            ))));
        }
        // SAFETY: msgctl returned 0, so the kernel filled `ds`.
        let ds = unsafe { ds.assume_init() };
        Ok(Stat {
            key: Key::from_number(ds.msg_perm.__key),
            owner: sysv::Owner::from(&ds.msg_perm),
            messages: ds.msg_qnum,
            bytes: ds.__msg_cbytes,
            capacity: ds.msg_qbytes,
            last_sender: ds.msg_lspid,
            last_receiver: ds.msg_lrpid,
        })
    }
    // ANCHOR_END: stat

    // ANCHOR: remove
    /// Removes the queue (`msgctl(IPC_RMID)`) now, with any messages in it. Processes blocked
    /// on it wake up with EIDRM.
    pub fn remove(mut self) -> Result<(), Error> {
        self.created = false;
        self.remove_now()
    }

    fn remove_now(&self) -> Result<(), Error> {
        // SAFETY: IPC_RMID does not use the buffer argument, so NULL is allowed.
        if unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) } == -1 {
            return Err(gone_or(Error::last(format!(
                "msgctl IPC_RMID id={}",
                self.id
            ))));
        }
        Ok(())
    }
}

impl Drop for MessageQueue {
    /// The creator removes the queue. If it is gone already (someone ran `msg_rm`), fine.
    fn drop(&mut self) {
        if self.created {
            let _ = self.remove_now();
        }
    }
}
// ANCHOR_END: remove

impl Display for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "queue id={} key={}", self.id, self.key)
    }
}

fn gone_or(err: Error) -> Error {
    match err.errno() {
        Some(Errno::EIDRM) => err.because("the queue was removed"),
        Some(Errno::EINVAL) => err.because("no queue has this id: it was removed, or never was"),
        _ => err,
    }
}

// ANCHOR: send_error
fn send_error(mtype: i64, len: usize) -> Error {
    let err = Error::last("msgsnd");
    match err.errno() {
        Some(Errno::EAGAIN) => err.because("the queue is full, and IPC_NOWAIT says not to wait"),
        Some(Errno::EINVAL) if mtype < 1 => err.because(format!(
            "message type {mtype}: types start at 1 (0 and below mean something else to msgrcv)"
        )),
        Some(Errno::EINVAL) if len > Limits::msgmax() => err.because(format!(
            "the message is {len} bytes, more than msgmax ({} bytes, /proc/sys/kernel/msgmax)",
            Limits::msgmax()
        )),
        _ => gone_or(err),
    }
}
// ANCHOR_END: send_error

fn receive_error(select: Select, max_len: usize) -> Error {
    let err = Error::last("msgrcv");
    match err.errno() {
        Some(Errno::E2BIG) => err.because(format!(
            "the next message ({select}) is longer than the {max_len} bytes asked for; it stays \
             in the queue"
        )),
        Some(Errno::ENOMSG) => err.because(format!("no message ({select}) is waiting")),
        _ => gone_or(err),
    }
}

// ANCHOR: shutdown
/// Ctrl-C (SIGINT) and SIGTERM, turned into a flag that blocking calls check when they are
/// interrupted.
///
/// The handler stores the signal's number and arms a 50 ms interval timer, both
/// async-signal-safe. `msgsnd` and `msgrcv` are never restarted after a handler ran, so a
/// process blocked in them gets EINTR, checks the flag, and ends on its main path, where it can
/// clean up. The timer closes the one window the flag leaves open: a signal that lands after the
/// flag was checked but before `msgrcv` starts to sleep. Then `msgrcv` sleeps anyway, and the
/// timer's SIGALRM interrupts it 50 ms later, and every 50 ms after that until the process ends.
pub struct Shutdown {
    signal: Arc<AtomicUsize>,
}

impl Shutdown {
    /// Installs the handlers for SIGINT and SIGTERM (and a do-nothing one for SIGALRM, the
    /// timer's), then unblocks them in this thread (see [`Shutdown::hold`]): a signal that came
    /// while they were blocked is handled now. No thread is started: a process may still fork
    /// afterwards, though the examples fork first.
    pub fn install() -> Result<Shutdown, Failure> {
        let signal = Arc::new(AtomicUsize::new(0));
        // SIGALRM only has to interrupt; its handler sets a flag that nobody reads.
        signal_hook::flag::register(libc::SIGALRM, Arc::new(AtomicBool::new(false)))
            .context("install a handler for SIGALRM")?;
        for number in [libc::SIGINT, libc::SIGTERM] {
            let flag = Arc::clone(&signal);
            let action = move || {
                flag.store(number as usize, Ordering::SeqCst);
                keep_interrupting();
            };
            // SAFETY: `action` runs in signal context, so it may only do async-signal-safe
            // work: an atomic store and `setitimer`, a bare system call (no lock, no
            // allocation). It captures only an `Arc` that lives as long as the registration.
            unsafe { signal_hook::low_level::register(number, action) }
                .context(format!("install a handler for signal {number}"))?;
        }
        Shutdown::signals()
            .thread_unblock()
            .context("unblock SIGINT, SIGTERM and SIGALRM")?;
        Ok(Shutdown { signal })
    }

    /// Blocks SIGINT, SIGTERM and SIGALRM in this thread until [`Shutdown::install`]: they stay
    /// pending instead of killing the process before its handlers are in place. Children forked
    /// in between inherit the block, and each unblocks when it installs its own handlers. A
    /// thread that must not take these signals from the main thread (a stdin reader) calls it
    /// too.
    pub fn hold() -> Result<(), Failure> {
        Shutdown::signals()
            .thread_block()
            .context("block SIGINT, SIGTERM and SIGALRM")
    }

    fn signals() -> SigSet {
        SigSet::from_iter([Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM])
    }

    /// Also lets `signal` (SIGCHLD, say) interrupt blocking calls: its handler sets the returned
    /// flag and arms the same interval timer as Ctrl-C. Call [`Shutdown::settle`] before each
    /// check of the flag, so that the timer stops once the signal has been noticed.
    pub fn watch(&self, signal: c_int) -> Result<Arc<AtomicBool>, Failure> {
        let seen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&seen);
        let action = move || {
            flag.store(true, Ordering::SeqCst);
            keep_interrupting();
        };
        // SAFETY: as in `install`: an atomic store and `setitimer`, both async-signal-safe.
        unsafe { signal_hook::low_level::register(signal, action) }
            .context(format!("install a handler for signal {signal}"))?;
        Ok(seen)
    }

    /// Stops the interval timer. Call it *before* checking the flags: a signal that comes after
    /// this call arms the timer again, and one that came before has set its flag.
    pub fn settle(&self) {
        set_interval_timer(Duration::ZERO);
    }

    /// The signal that asked this process to stop, if one came.
    pub fn requested(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            number => Some(number as i32),
        }
    }

    /// Runs `call` again after each EINTR, until it is done (`Ok(Some(..))`) or a shutdown was
    /// asked for (`Ok(None)`). See [`sysv::retry_eintr`].
    pub fn retry<T>(&self, call: impl FnMut() -> Result<T, Error>) -> Result<Option<T>, Error> {
        sysv::retry_eintr(&self.signal, call)
    }

    /// The exit status for a process that stopped on a signal: 128 + its number, as shells
    /// report it (130 for Ctrl-C, 143 for SIGTERM).
    pub fn exit_code(&self) -> ExitCode {
        match self.requested() {
            Some(number) => ExitCode::from(128 + number as u8),
            None => ExitCode::SUCCESS,
        }
    }

    /// Waits for `pause` to pass, or less if a shutdown is asked for; false in that case. A
    /// `poll` with no descriptors, because it fails with EINTR when a signal comes (Rust's
    /// `thread::sleep` would sleep on).
    pub fn pause(&self, pause: Duration) -> bool {
        let deadline = Instant::now() + pause;
        while self.requested().is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            let millis = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let _ = nix::poll::poll(&mut [], millis);
        }
        false
    }
}

/// How often SIGALRM interrupts a blocking call once a watched signal came.
const INTERRUPT_EVERY: Duration = Duration::from_millis(50);

/// Called from signal handlers: SIGALRM every [`INTERRUPT_EVERY`] from now on.
fn keep_interrupting() {
    set_interval_timer(INTERRUPT_EVERY);
}

/// Arms `ITIMER_REAL` to fire every `every` (zero disarms it). Async-signal-safe: one system
/// call, nothing else.
fn set_interval_timer(every: Duration) {
    let every = libc::timeval {
        tv_sec: every.as_secs() as libc::time_t,
        tv_usec: every.subsec_micros() as libc::suseconds_t,
    };
    let timer = libc::itimerval {
        it_interval: every,
        it_value: every,
    };
    // SAFETY: `timer` is a valid `itimerval` that lives across the call; the old value is not
    // asked for (NULL). setitimer cannot fail with these arguments, and there is nothing a
    // signal handler could do about a failure anyway.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}
// ANCHOR_END: shutdown

// ANCHOR: queue_args
/// How the binaries find their queue: `ftok(--key-path, --proj)` as in the seed, or `--key`.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueArgs {
    /// The key file for ftok: its inode number goes into the key. The default, the seed's
    /// ./file, is created if missing; any other path must exist.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_KEY_PATH)]
    pub key_path: PathBuf,
    /// ftok's project id: one character (the seed's 'a') or a number from 1 to 255.
    #[arg(long, value_name = "CHAR", default_value = "a", value_parser = parse_proj)]
    pub proj: u8,
    /// Use this key instead of ftok: decimal, or hex with 0x.
    #[arg(long, value_parser = parse_key, conflicts_with_all = ["key_path", "proj"])]
    pub key: Option<Key>,
    /// Use a queue that another user owns or that others may write to (refused by default).
    #[arg(long)]
    pub accept_foreign: bool,
}

impl QueueArgs {
    /// The key these flags name. `create_key_file`: create the default key file if missing
    /// (only a process that may create the queue should).
    pub fn key(&self, create_key_file: bool) -> Result<Key, Error> {
        if let Some(key) = self.key {
            return Ok(key);
        }
        let path = &self.key_path;
        if create_key_file && path == Path::new(DEFAULT_KEY_PATH) && !path.exists() {
            std::fs::File::create(path).map_err(|err| {
                let errno = Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO));
                Error::new(format!("create the key file {}", path.display()), errno)
            })?;
            println!(
                "created the key file {}: ftok needs an existing file, whose inode number goes \
                 into the key",
                path.display()
            );
        }
        Key::from_path(path, self.proj).map_err(|err| match err.errno() {
            Some(Errno::ENOENT) => {
                err.because("the key file must exist: ftok combines its inode number with --proj")
            }
            _ => err,
        })
    }

    /// Opens the queue these flags name, 0600 if this call creates it.
    pub fn open(&self, creation: Creation) -> Result<MessageQueue, Error> {
        let key = self.key(creation != Creation::OpenExisting)?;
        MessageQueue::open(key, creation, Permissions::default(), self.accept_foreign)
    }
}

fn parse_proj(text: &str) -> Result<u8, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() && !c.is_ascii_digit() => Ok(c as u8),
        _ => match text.parse::<u8>() {
            Ok(0) | Err(_) => Err(format!(
                "{text:?} is not one ASCII character or a number from 1 to 255"
            )),
            Ok(n) => Ok(n),
        },
    }
}

fn parse_key(text: &str) -> Result<Key, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).map(|k| k as i32),
        None => text.parse::<i32>(),
    };
    match parsed {
        Ok(0) => Err("key 0 is IPC_PRIVATE, which no other process can find".to_owned()),
        Ok(key) => Ok(Key::from_number(key)),
        Err(_) => Err(format!(
            "{text:?} is not a number (decimal, or hex with 0x)"
        )),
    }
}
// ANCHOR_END: queue_args

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn the_envelope_is_laid_out_like_c_struct_msgbuf() {
        assert_eq!(offset_of!(MsgBuf<16>, mtype), 0);
        assert_eq!(offset_of!(MsgBuf<16>, payload), size_of::<c_long>());
        assert_eq!(size_of::<MsgBuf<16>>(), size_of::<c_long>() + 16);
        // Tally is sent as raw bytes, so it must have no padding (padding is uninitialised):
        // its size must be exactly the sum of its fields' sizes.
        assert_eq!(
            size_of::<Tally>(),
            size_of::<u32>() + size_of::<[u32; 4]>(),
            "Tally has padding"
        );
        assert_eq!(offset_of!(Tally, from), size_of::<u32>());
        assert_eq!(offset_of!(Envelope<Tally>, payload), size_of::<c_long>());
    }

    #[test]
    fn select_maps_to_msgtyp() {
        assert_eq!(Select::Any.msgtyp(), 0);
        assert_eq!(Select::Exact(3).msgtyp(), 3);
        assert_eq!(Select::AtMost(3).msgtyp(), -3);
    }

    #[test]
    fn text_stops_at_the_first_nul() {
        let message = Message {
            mtype: 1,
            bytes: b"hello\0garbage".to_vec(),
        };
        assert_eq!(message.text(), "hello");
    }

    #[test]
    fn proj_and_key_flags_parse() {
        assert_eq!(parse_proj("a"), Ok(b'a'));
        assert_eq!(parse_proj("7"), Ok(7));
        assert!(parse_proj("0").is_err());
        assert!(parse_proj("ab").is_err());
        assert_eq!(parse_key("0x45a"), Ok(Key::from_number(0x45a)));
        assert_eq!(parse_key("1111"), Ok(Key::from_number(1111)));
        assert!(parse_key("0").is_err());
    }

    #[test]
    fn a_private_queue_carries_bytes_and_typed_payloads() {
        let queue = MessageQueue::open(
            Key::PRIVATE,
            Creation::CreateNew,
            Permissions::default(),
            false,
        )
        .unwrap();
        assert!(queue.created());
        queue.send(2, b"two", Wait::NoWait).unwrap();
        queue.send_text(1, "one", Wait::NoWait).unwrap();
        let tally = Tally {
            node: 2,
            from: [1, 1, 0, 1],
        };
        queue.send_typed(5, &tally, Wait::NoWait).unwrap();
        let stat = queue.stat().unwrap();
        assert_eq!((stat.messages, stat.bytes), (3, 3 + 4 + 20));
        assert_eq!(stat.owner.mode, 0o600);
        // The lowest type first: 1 before 2, although 2 was sent first.
        let first = queue
            .receive(Select::AtMost(4), 64, Wait::NoWait, false)
            .unwrap();
        assert_eq!((first.mtype, first.text()), (1, "one".into()));
        let second = queue.receive(Select::Any, 64, Wait::NoWait, false).unwrap();
        assert_eq!((second.mtype, second.bytes), (2, b"two".to_vec()));
        assert_eq!(
            queue.receive_typed::<Tally>(Select::Exact(5), Wait::NoWait),
            Ok((5, tally))
        );
        let empty = queue.receive(Select::Any, 64, Wait::NoWait, false);
        assert_eq!(empty.unwrap_err().errno(), Some(Errno::ENOMSG));
    }

    #[test]
    fn a_c_style_msgbuf_round_trips() {
        let queue = MessageQueue::open(
            Key::PRIVATE,
            Creation::CreateNew,
            Permissions::default(),
            false,
        )
        .unwrap();
        let mut text = [0u8; 16];
        text[..5].copy_from_slice(b"hello");
        queue.send_typed(3, &text, Wait::NoWait).unwrap();
        let message = queue
            .receive(Select::Exact(3), 16, Wait::NoWait, false)
            .unwrap();
        assert_eq!(message.bytes.len(), 16);
        assert_eq!(message.text(), "hello");
    }

    #[test]
    fn bad_sends_and_small_buffers_fail_without_losing_anything() {
        let queue = MessageQueue::open(
            Key::PRIVATE,
            Creation::CreateNew,
            Permissions::default(),
            false,
        )
        .unwrap();
        let zero = queue.send(0, b"x", Wait::NoWait).unwrap_err();
        assert!(zero.to_string().contains("types start at 1"), "{zero}");
        let big = vec![b'x'; Limits::msgmax() + 1];
        let too_big = queue.send(1, &big, Wait::NoWait).unwrap_err();
        assert!(
            too_big.to_string().contains("more than msgmax"),
            "{too_big}"
        );
        queue.send(1, b"twelve bytes", Wait::NoWait).unwrap();
        let small = queue
            .receive(Select::Any, 4, Wait::NoWait, false)
            .unwrap_err();
        assert_eq!(small.errno(), Some(Errno::E2BIG));
        assert!(small.to_string().contains("stays in the queue"), "{small}");
        assert_eq!(queue.stat().unwrap().messages, 1);
        let cut = queue.receive(Select::Any, 4, Wait::NoWait, true).unwrap();
        assert_eq!(cut.bytes, b"twel");
    }

    #[test]
    fn dropping_the_creator_removes_the_queue() {
        let queue = MessageQueue::open(
            Key::PRIVATE,
            Creation::CreateNew,
            Permissions::default(),
            false,
        )
        .unwrap();
        let id = queue.id();
        drop(queue);
        let gone = MessageQueue::from_id(id, false).unwrap_err();
        assert_eq!(gone.errno(), Some(Errno::EINVAL));
    }
}
