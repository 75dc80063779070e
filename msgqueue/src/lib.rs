//! System V message queues: the pieces the `msgqueue` examples share.
//!
//! A message queue is a linked list of messages kept by the kernel. Each message has a type (a
//! number, 1 or more) and a body of bytes. Senders append; a receiver takes the first message,
//! the first of one type, or the first with the lowest type up to a bound. The queue is found by
//! a [`Key`] and lives until someone removes it, whether or not any process has it open.
//!
//! Each system call has a thin wrapper named after it, whose doc names its man page:
//! [`ftok`] (from `sysv`, as [`NamedKey::ftok`], which keeps the key file's absolute path for
//! messages) and [`msgget`] make the key and open the queue; the [`MessageQueue`] it returns
//! has [`msgsnd`](MessageQueue::msgsnd), [`msgrcv`](MessageQueue::msgrcv),
//! [`msgctl_stat`](MessageQueue::msgctl_stat), [`msgctl_set`](MessageQueue::msgctl_set) and
//! [`msgctl_rmid`](MessageQueue::msgctl_rmid). The wrappers turn -1 and errno into an
//! [`Error`] that says what went wrong in words; they never retry and never wait for a signal:
//! the examples run them under `support::stop::Stop::retry`, which ends a blocked call on
//! SIGINT, SIGTERM or SIGHUP. [`KeyArgs`] (from `sysv`) are the key flags every binary shares. Nothing
//! here prints: the examples print what the functions return. This file holds the crate's only
//! `unsafe` code.

pub mod lab;

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::mem::{MaybeUninit, align_of, size_of};
use std::path::{Path, PathBuf};

use libc::{c_int, c_long};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow};
use support::cli::{Context, Failure};

pub use support::keys::{DEFAULT_KEY_PATH, DEFAULT_PROJ, KeyArgs};
use sysv::Kind;
pub use sysv::{Error, Handle, Key, NamedKey, create_or_open, ftok};

/// The largest message type: `mtype` and `msgtyp` are C `long`s (LONG_MAX, 2^63 - 1 on 64-bit
/// Linux).
#[allow(clippy::unnecessary_cast)] // c_long is i32 on 32-bit targets
pub const MTYPE_MAX: i64 = c_long::MAX as i64;

/// A message as `msgsnd` and `msgrcv` see it: the type, then the body, laid out like C's
/// `struct { long mtype; T payload; }`. `Envelope<[u8; N]>` is exactly C's
/// `struct msgbuf { long mtype; char mtext[N]; }`, so C programs can read what Rust sends.
// ANCHOR: envelope
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
    /// The `msgtyp` argument of `msgrcv`.
    pub fn msgtyp(self) -> c_long {
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
                .map_err(|_| Failure::new(format!("read {path}: not a number: {text:?}")))
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

/// `msgget(2)`: the queue with `key`. `flags` are `IPC_CREAT` (create it if it is missing),
/// `IPC_EXCL` (with `IPC_CREAT`: fail with EEXIST if it exists) and the mode bits of a new
/// queue (`0o600`); `0` opens an existing queue, whatever its mode. `key` is a [`Key`] or a
/// [`NamedKey`], whose key file every message names.
///
/// The handle removes the queue when it is dropped if this call certainly created it: with
/// `IPC_CREAT | IPC_EXCL`, or with [`Key::PRIVATE`], which always makes a new queue.
// ANCHOR: msgget
pub fn msgget(key: impl Into<NamedKey>, flags: c_int) -> Result<MessageQueue, Error> {
    let key = key.into();
    // SAFETY: msgget takes two integers and touches no memory of ours.
    let id = unsafe { libc::msgget(key.key().raw(), flags) };
    if id == -1 {
        let err = Error::last(format!("msgget {key}"));
        return Err(match err.errno() {
            Some(Errno::ENOENT) => err.because("no queue has this key"),
            Some(Errno::EEXIST) => err.because("a queue with this key exists already"),
            _ => err,
        });
    }
    let exclusive = libc::IPC_CREAT | libc::IPC_EXCL;
    let created = key.key().is_private() || (flags & exclusive) == exclusive;
    Ok(MessageQueue(Handle::new(Kind::Msg, id, key, created)))
}
// ANCHOR_END: msgget

/// A System V message queue this process has opened with [`msgget`].
///
/// Its [`Handle`] holds its id, its key, and whether this process created it; `Deref` lets a
/// `MessageQueue` call the handle's methods as its own: `queue.id()`. The creator cleans up: dropping the handle that created the queue
/// removes it (`msgctl(IPC_RMID)`), on every way out, a panic included. Any other handle leaves
/// the queue alone unless [`MessageQueue::msgctl_rmid`] is called.
#[derive(Debug)]
pub struct MessageQueue(Handle);

impl std::ops::Deref for MessageQueue {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.0
    }
}

impl MessageQueue {
    /// The queue with identifier `id`, as `ipcs -q` and msg_ls show it. No system call: whether
    /// such a queue exists shows at the first call on it. This handle never removes it on drop.
    pub fn from_id(id: i32) -> Self {
        Self(Handle::from_id(Kind::Msg, id))
    }

    /// The safety check for a queue this process did not create: asks `IPC_STAT` who owns it.
    /// A queue of your own passes, with a warning if its mode lets others write to it (the
    /// course notes' 0664); another user's is refused, and so is one that `IPC_STAT` may not read
    /// (EACCES), unless `accept_foreign`, which uses it with a note. See `sysv::check_owner`.
    /// A queue this handle created passes. `Ok(Some(line))`: a line for the example to print.
    pub fn check_owner(&self, accept_foreign: bool) -> Result<Option<String>, Error> {
        let owner = || self.msgctl_stat().map(|stat| stat.owner);
        self.0.check_owner(owner, accept_foreign)
    }

    /// A second handle on the same queue, for another thread, which never removes it.
    pub fn handle(&self) -> MessageQueue {
        Self(self.0.second())
    }

    /// Gives up the duty to remove the queue: it stays in the kernel after this handle is gone,
    /// with its messages, until someone removes it.
    pub fn leave_in_kernel(mut self) {
        self.0.leave_in_kernel();
    }

    /// `msgsnd(2)`: appends `bytes` as one message of type `mtype` (1 or more). `flags`: `0`
    /// waits while the queue is full; `IPC_NOWAIT` fails with EAGAIN instead.
    // ANCHOR: msgsnd
    pub fn msgsnd(&self, mtype: i64, bytes: &[u8], flags: c_int) -> Result<(), Error> {
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
        let sent = unsafe { libc::msgsnd(self.id(), words.as_ptr().cast(), bytes.len(), flags) };
        if sent == -1 {
            return Err(send_error(mtype, bytes.len()));
        }
        Ok(())
    }
    // ANCHOR_END: msgsnd

    /// `msgsnd(2)` with `payload`'s bytes as the body: a `#[repr(C)]` struct travels as it lies
    /// in memory, and a C program with the same struct reads it field by field.
    pub fn msgsnd_typed<T: Plain>(
        &self,
        mtype: i64,
        payload: &T,
        flags: c_int,
    ) -> Result<(), Error> {
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
                self.id(),
                (&raw const envelope).cast(),
                size_of::<T>(),
                flags,
            )
        };
        if sent == -1 {
            return Err(send_error(mtype, size_of::<T>()));
        }
        Ok(())
    }

    /// `msgrcv(2)`: takes the message `select` picks (its `msgtyp`), whose body may be at most
    /// `max_len` bytes. `flags`: `IPC_NOWAIT` fails with ENOMSG instead of waiting for one;
    /// `MSG_NOERROR` cuts a longer body to `max_len` bytes, where without it the call fails
    /// with E2BIG and the message stays in the queue.
    // ANCHOR: msgrcv
    pub fn msgrcv(&self, select: Select, max_len: usize, flags: c_int) -> Result<Message, Error> {
        const WORD: usize = size_of::<c_long>();
        let mut words: Vec<c_long> = vec![0; 1 + max_len.div_ceil(WORD)];
        // SAFETY: `words` has room for the type and at least `max_len` bytes after it, and
        // msgrcv writes at most that much.
        let received = unsafe {
            libc::msgrcv(
                self.id(),
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
    // ANCHOR_END: msgrcv

    /// `msgrcv(2)` into a `T`: takes the message `select` picks and rebuilds a `T` from its
    /// body. A body of another size fails (a longer one with E2BIG, and it stays queued; a
    /// shorter one is consumed).
    pub fn msgrcv_typed<T: Plain>(&self, select: Select, flags: c_int) -> Result<(i64, T), Error> {
        const { assert_payload_follows_mtype::<T>() };
        let mut envelope = MaybeUninit::<Envelope<T>>::uninit();
        // SAFETY: the buffer is an `Envelope<T>`: room for the type and size_of::<T>() bytes
        // after it; msgrcv writes at most that much.
        let received = unsafe {
            libc::msgrcv(
                self.id(),
                envelope.as_mut_ptr().cast(),
                size_of::<T>(),
                select.msgtyp(),
                flags,
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
    /// `msgctl(2)` with `IPC_STAT`: what the kernel knows about the queue.
    pub fn msgctl_stat(&self) -> Result<Stat, Error> {
        let mut ds = MaybeUninit::<libc::msqid_ds>::uninit();
        // SAFETY: `ds` has room for a `msqid_ds`, which IPC_STAT fills in whole on success.
        if unsafe { libc::msgctl(self.id(), libc::IPC_STAT, ds.as_mut_ptr()) } == -1 {
            let err = Error::last(format!("msgctl IPC_STAT id={}", self.id()));
            return Err(match err.errno() {
                Some(Errno::EACCES) => err.because("IPC_STAT needs read permission on the queue"),
                _ => gone_or(err),
            });
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

    /// `msgctl(2)` with `IPC_SET`: gives the queue to user `uid` and group `gid`, with the
    /// read/write bits `mode` (the other fields stay as `IPC_STAT` reads them). Only the queue's
    /// owner or creator may, or a privileged process; others get EPERM.
    pub fn msgctl_set(&self, uid: libc::uid_t, gid: libc::gid_t, mode: u16) -> Result<(), Error> {
        let operation = format!("msgctl IPC_SET id={}", self.id());
        let mut ds = MaybeUninit::<libc::msqid_ds>::uninit();
        // SAFETY: as in msgctl_stat: IPC_STAT fills the whole `msqid_ds` on success.
        if unsafe { libc::msgctl(self.id(), libc::IPC_STAT, ds.as_mut_ptr()) } == -1 {
            return Err(gone_or(Error::last(operation)));
        }
        // SAFETY: msgctl returned 0, so the kernel filled `ds`.
        let mut ds = unsafe { ds.assume_init() };
        ds.msg_perm.uid = uid;
        ds.msg_perm.gid = gid;
        ds.msg_perm.mode = mode & 0o777;
        // SAFETY: `ds` is a valid `msqid_ds`; IPC_SET only reads it during the call.
        if unsafe { libc::msgctl(self.id(), libc::IPC_SET, &mut ds) } == -1 {
            let err = Error::last(operation);
            return Err(match err.errno() {
                Some(Errno::EPERM) => {
                    err.because("only the queue's owner or creator may change it")
                }
                _ => gone_or(err),
            });
        }
        Ok(())
    }

    /// `msgctl(2)` with `IPC_RMID`: removes the queue now, with any messages in it. Processes
    /// blocked on it wake up with EIDRM. Takes the handle: the queue is gone afterwards.
    // ANCHOR: remove
    pub fn msgctl_rmid(mut self) -> Result<(), Error> {
        self.0.leave_in_kernel(); // removed here, not again on drop
        // SAFETY: IPC_RMID does not use the buffer argument, so NULL is allowed.
        if unsafe { libc::msgctl(self.id(), libc::IPC_RMID, std::ptr::null_mut()) } == -1 {
            let err = Error::last(format!("msgctl IPC_RMID id={}", self.id()));
            return Err(match err.errno() {
                Some(Errno::EPERM) => err.because(
                    "only the queue's owner or creator may remove it, whatever its mode says",
                ),
                _ => gone_or(err),
            });
        }
        Ok(())
    }
}

// ANCHOR_END: remove

impl Display for MessageQueue {
    /// `queue id=7 with key 0x61001234 = ftok("/home/me/file", 'a')`, or `queue id=7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Starts a thread that never takes SIGINT, SIGTERM or SIGHUP: it is born with them blocked
/// (a new thread inherits its creator's mask), so they always reach the main thread, whose
/// blocking call they end at once. Blocking them inside the new thread would leave a window at
/// its start in which it could take the signal and leave the main thread's call asleep.
pub fn spawn_with_stop_signals_blocked(
    body: impl FnOnce() + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, Failure> {
    let stop_signals: SigSet = support::stop::STOP_SIGNALS.into_iter().collect();
    let before = stop_signals
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .context("pthread_sigmask SIG_BLOCK")?;
    let spawned = std::thread::Builder::new().spawn(body);
    before
        .thread_set_mask()
        .context("pthread_sigmask SIG_SETMASK")?;
    spawned.context("pthread_create")
}

/// `text` and a final NUL byte, the way a C program sends a string (`strlen + 1` bytes), so
/// that a C receiver can print it with `%s`.
pub fn with_nul(text: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text);
    bytes.push(0);
    bytes
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
        Some(Errno::EACCES) => err.because("you may not write to this queue: its mode says so"),
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
        Some(Errno::EACCES) => err.because("you may not read this queue: its mode says so"),
        _ => gone_or(err),
    }
}

/// A file that holds a queue's id, the way the course notes share one: the creator writes the
/// id into a file, and the others read it instead of calling `msgget`. For a queue that has no
/// key (`IPC_PRIVATE`), the id is the only way in for a process that is not the creator's child.
///
/// Dropping it removes the file: the id means nothing once its queue is gone.
#[derive(Debug)]
pub struct IdFile {
    path: PathBuf,
}

impl IdFile {
    /// Writes `id` and a newline to a NEW file at `path`; fails if `path` exists. The text goes
    /// first into a temporary file beside it, which `link(2)` then names `path`: a reader sees
    /// no file or the whole id, never an empty or half-written one, and `link` fails with
    /// EEXIST rather than replace a file that is there (another creator's, or a stale one).
    pub fn create(path: &Path, id: i32) -> Result<IdFile, Failure> {
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let context = format!("write the id file {}", temporary.display());
        let mut file = std::fs::File::create_new(&temporary).context(&context)?;
        if let Err(err) = std::io::Write::write_all(&mut file, format!("{id}\n").as_bytes()) {
            let _ = std::fs::remove_file(&temporary);
            return Err(err).context(context);
        }
        drop(file);
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let why = "it exists already: another queue's, or a stale one whose queue is \
                           gone; remove it or choose another path";
                return Err(Failure::new(format!(
                    "write the id file {}: {why}",
                    path.display()
                )));
            }
            linked => linked.context(format!("link the id file {}", path.display()))?,
        }
        Ok(IdFile {
            path: path.to_owned(),
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for IdFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The queue id in the file at `path`, as [`IdFile::create`] writes it: a number and a newline.
/// Whether a queue has that id shows at the first call on it.
pub fn read_id_file(path: &Path) -> Result<i32, Failure> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let why = "no such file: start `private_recv --id-file PATH` first";
            return Err(Failure::new(format!("read the id file {shown}: {why}")));
        }
        read => read.context(format!("read the id file {shown}"))?,
    };
    match text.trim().parse::<i32>() {
        Ok(id) if id >= 0 => Ok(id),
        _ => Err(Failure::new(format!(
            "read the id file {shown}: {text:?} is not a queue id (a number, 0 or more)"
        ))),
    }
}

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

    fn private_queue() -> MessageQueue {
        msgget(Key::PRIVATE, libc::IPC_CREAT | 0o600).expect("msgget IPC_PRIVATE")
    }

    #[test]
    fn a_private_queue_carries_bytes_and_typed_payloads() {
        let queue = private_queue();
        assert!(queue.created());
        let nowait = libc::IPC_NOWAIT;
        queue.msgsnd(2, b"two", nowait).unwrap();
        queue.msgsnd(1, &with_nul(b"one"), nowait).unwrap();
        let tally = Tally {
            node: 2,
            from: [1, 1, 0, 1],
        };
        queue.msgsnd_typed(5, &tally, nowait).unwrap();
        let stat = queue.msgctl_stat().unwrap();
        assert_eq!((stat.messages, stat.bytes), (3, 3 + 4 + 20));
        assert_eq!(stat.owner.mode, 0o600);
        // The lowest type first: 1 before 2, although 2 was sent first.
        let first = queue.msgrcv(Select::AtMost(4), 64, nowait).unwrap();
        assert_eq!((first.mtype, first.text()), (1, "one".into()));
        let second = queue.msgrcv(Select::Any, 64, nowait).unwrap();
        assert_eq!((second.mtype, second.bytes), (2, b"two".to_vec()));
        assert_eq!(
            queue.msgrcv_typed::<Tally>(Select::Exact(5), nowait),
            Ok((5, tally))
        );
        let empty = queue.msgrcv(Select::Any, 64, nowait);
        assert_eq!(empty.unwrap_err().errno(), Some(Errno::ENOMSG));
    }

    #[test]
    fn a_c_style_msgbuf_round_trips() {
        let queue = private_queue();
        let mut text = [0u8; 16];
        text[..5].copy_from_slice(b"hello");
        queue.msgsnd_typed(3, &text, libc::IPC_NOWAIT).unwrap();
        let message = queue
            .msgrcv(Select::Exact(3), 16, libc::IPC_NOWAIT)
            .unwrap();
        assert_eq!(message.bytes.len(), 16);
        assert_eq!(message.text(), "hello");
    }

    #[test]
    fn bad_sends_and_small_buffers_fail_without_losing_anything() {
        let queue = private_queue();
        let nowait = libc::IPC_NOWAIT;
        let zero = queue.msgsnd(0, b"x", nowait).unwrap_err();
        assert!(zero.to_string().contains("types start at 1"), "{zero}");
        let big = vec![b'x'; Limits::msgmax() + 1];
        let too_big = queue.msgsnd(1, &big, nowait).unwrap_err();
        assert!(
            too_big.to_string().contains("more than msgmax"),
            "{too_big}"
        );
        queue.msgsnd(1, b"twelve bytes", nowait).unwrap();
        let small = queue.msgrcv(Select::Any, 4, nowait).unwrap_err();
        assert_eq!(small.errno(), Some(Errno::E2BIG));
        assert!(small.to_string().contains("stays in the queue"), "{small}");
        assert_eq!(queue.msgctl_stat().unwrap().messages, 1);
        let cut = queue
            .msgrcv(Select::Any, 4, nowait | libc::MSG_NOERROR)
            .unwrap();
        assert_eq!(cut.bytes, b"twel");
    }

    #[test]
    fn dropping_the_creator_removes_the_queue_and_a_second_handle_does_not() {
        let queue = private_queue();
        let id = queue.id();
        drop(queue.handle());
        assert!(
            MessageQueue::from_id(id).msgctl_stat().is_ok(),
            "still there"
        );
        drop(queue);
        let gone = MessageQueue::from_id(id).msgctl_stat().unwrap_err();
        assert_eq!(gone.errno(), Some(Errno::EINVAL));
    }

    #[test]
    fn only_an_exclusive_or_private_msgget_counts_as_the_creator() {
        let queue = private_queue();
        let removed = queue.handle().msgctl_rmid();
        assert_eq!(removed, Ok(()));
        // The creator's drop then finds the queue gone, which is fine.
        drop(queue);
        let missing = msgget(Key::from_number(0x7fff_fff3), 0).unwrap_err();
        assert_eq!(missing.errno(), Some(Errno::ENOENT));
        assert!(
            missing.to_string().contains("no queue has this key"),
            "{missing}"
        );
    }
}
