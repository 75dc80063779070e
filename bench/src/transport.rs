//! Every mechanism the benchmark measures: set up in the parent before `fork` ([`Link::new`]),
//! then split into the parent's and the child's ends ([`Link::into_end`]).
//!
//! Each end sends and receives whole messages of the size both sides agreed on. A stream
//! ([`Endpoint::finish`]) ends with end-of-file, or an empty message for the message queues, or a
//! flag for the ring.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_close, mq_open, mq_receive, mq_send, mq_unlink};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::socket::{Shutdown, shutdown};
use nix::sys::stat::Mode;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, ftruncate, mkfifo, read, write};
use serde::{Deserialize, Serialize};
use shm::{Access, Woke, futex_wait, futex_wake};
use support::cli::{Context, Failure};
use support::stop::{Interrupted, Stop, Stopped};
use sysv::Key;

use crate::{MsgBuffer, SharedRegion};

/// What the benchmark measures: the mechanisms, and the floors they are compared with.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// Two pipes, one each way.
    Pipe,
    /// Two FIFOs (named pipes), one each way.
    Fifo,
    /// One System V message queue, a message type per direction.
    SysvMsg,
    /// Two POSIX message queues, one each way.
    PosixMq,
    /// A Unix domain stream socket pair (std's `UnixStream`).
    UnixSocket,
    /// A System V segment; two System V semaphores say whose turn it is.
    ShmSem,
    /// A System V segment; a counter per direction, and a futex to sleep on it.
    ShmFutex,
    /// A System V segment; a counter per direction that the other side spins on.
    ShmSpin,
    /// A file on disk mapped `MAP_SHARED`, with the futex handshake of `shm-futex`.
    MmapFile,
    /// A POSIX `shm_open` object mapped `MAP_SHARED`, with the same futex handshake.
    ShmOpen,
    /// A ring buffer in a System V segment (streaming only).
    ShmRing,
    /// Floor: one cache line handed back and forth by two spinning processes.
    #[value(skip)]
    CacheLine,
    /// Floor: a futex wait/wake round trip, no data.
    #[value(skip)]
    Futex,
    /// Floor: `memcpy` bandwidth in one process.
    #[value(skip)]
    Memcpy,
}

impl Mechanism {
    /// The mechanisms timed by ping-pong, in the order the tables list them.
    pub const ROUND_TRIP: [Mechanism; 10] = [
        Mechanism::Pipe,
        Mechanism::Fifo,
        Mechanism::UnixSocket,
        Mechanism::SysvMsg,
        Mechanism::PosixMq,
        Mechanism::ShmSem,
        Mechanism::ShmFutex,
        Mechanism::MmapFile,
        Mechanism::ShmOpen,
        Mechanism::ShmSpin,
    ];

    /// The mechanisms timed by streaming.
    pub const STREAMING: [Mechanism; 4] = [
        Mechanism::Pipe,
        Mechanism::UnixSocket,
        Mechanism::SysvMsg,
        Mechanism::ShmRing,
    ];

    /// The round-trip floors.
    pub const LATENCY_FLOORS: [Mechanism; 2] = [Mechanism::CacheLine, Mechanism::Futex];

    /// The name on the command line and in the JSON file.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "fifo",
            Mechanism::SysvMsg => "sysv-msg",
            Mechanism::PosixMq => "posix-mq",
            Mechanism::UnixSocket => "unix-socket",
            Mechanism::ShmSem => "shm-sem",
            Mechanism::ShmFutex => "shm-futex",
            Mechanism::ShmSpin => "shm-spin",
            Mechanism::MmapFile => "mmap-file",
            Mechanism::ShmOpen => "shm-open",
            Mechanism::ShmRing => "shm-ring",
            Mechanism::CacheLine => "cache-line",
            Mechanism::Futex => "futex",
            Mechanism::Memcpy => "memcpy",
        }
    }

    /// The name in tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "FIFO",
            Mechanism::SysvMsg => "System V msg queue",
            Mechanism::PosixMq => "POSIX msg queue",
            Mechanism::UnixSocket => "Unix socket",
            Mechanism::ShmSem => "shm + semaphores",
            Mechanism::ShmFutex => "shm + futex",
            Mechanism::ShmSpin => "shm + spinning flag",
            Mechanism::MmapFile => "mmap'd file + futex",
            Mechanism::ShmOpen => "shm_open + futex",
            Mechanism::ShmRing => "shm ring buffer",
            Mechanism::CacheLine => "cache-line floor",
            Mechanism::Futex => "futex floor",
            Mechanism::Memcpy => "memcpy ceiling",
        }
    }

    /// Whether this is one of the floors rather than a mechanism.
    pub fn is_floor(self) -> bool {
        matches!(
            self,
            Mechanism::CacheLine | Mechanism::Futex | Mechanism::Memcpy
        )
    }

    /// The floor a round trip over this mechanism is compared with: the cache line for the one
    /// that spins, the futex round trip for every one that sleeps until woken.
    pub fn latency_floor(self) -> Mechanism {
        match self {
            Mechanism::ShmSpin | Mechanism::CacheLine => Mechanism::CacheLine,
            _ => Mechanism::Futex,
        }
    }

    /// The largest message the mechanism takes, when the system sets one, and why.
    pub fn size_limit(self) -> Option<(usize, String)> {
        match self {
            Mechanism::SysvMsg => {
                // A message over msgmnb (the queue's byte limit) would wait forever for room.
                let (msgmax, msgmnb) = match msgqueue::Limits::read() {
                    Ok(limits) => (limits.msgmax, limits.msgmnb),
                    Err(_) => (8192, 16384),
                };
                Some(if msgmax <= msgmnb {
                    (msgmax, format!("over msgmax ({msgmax} bytes)"))
                } else {
                    (msgmnb, format!("over msgmnb ({msgmnb} bytes)"))
                })
            }
            Mechanism::PosixMq => {
                // The limit for an unprivileged user; root may go to 16 MiB, but the figures
                // should be the ones a student gets.
                let max = read_number("/proc/sys/fs/mqueue/msgsize_max").unwrap_or(8192);
                Some((max, format!("over mqueue msgsize_max ({max} bytes)")))
            }
            _ => None,
        }
    }
}

fn read_number(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Futex waits that timed out although what they waited for had happened: a lost wake-up
/// (or a peer delayed by more than a second). Counted in each process; the helper reports its
/// own through the control page. Every figure should have none.
static STALLED_WAITS: AtomicU64 = AtomicU64::new(0);

/// How many futex waits of this process so far timed out although what they waited for had
/// come: lost wake-ups (or a peer delayed by more than a second).
pub fn stalled_waits() -> u64 {
    STALLED_WAITS.load(Ordering::Relaxed)
}

/// Counts a wait that timed out, if what it waited for had come all the same.
fn count_if_stalled(event_came: bool) {
    if event_came {
        STALLED_WAITS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which end of a link a process holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The process that measures.
    Parent,
    /// The forked process that answers (ping-pong) or produces (streaming).
    Child,
}

/// What a blocked call needs to know to give up: the stop request, and the other process.
pub struct Watch<'a> {
    /// Ends every wait when a stop signal came.
    pub stop: &'a Stop,
    /// The other process, when it is our child: a wait ends with an error if it has ended.
    /// (A child needs no such check: it dies with its parent, `PR_SET_PDEATHSIG`.)
    pub peer: Option<Pid>,
}

impl Watch<'_> {
    /// Runs a blocking call until it is done: again after an EINTR, unless a stop signal came
    /// or the other process has ended (SIGCHLD interrupts the call, see
    /// `Stop::watch_children`).
    pub fn call<T, E: Interrupted + std::fmt::Display>(
        &self,
        what: &str,
        mut call: impl FnMut() -> Result<T, E>,
    ) -> Result<T, Stopped> {
        loop {
            self.stop.check()?;
            match call() {
                Ok(value) => return Ok(value),
                Err(err) if err.is_interrupted() => self.peer_still_there()?,
                Err(err) => return Err(Stopped::Failed(Failure::new(format!("{what}: {err}")))),
            }
        }
    }

    /// An error if the other process has died or failed (it is not reaped: `WNOWAIT`).
    pub fn peer_still_there(&self) -> Result<(), Stopped> {
        self.stop.check()?;
        let Some(pid) = self.peer else {
            return Ok(());
        };
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(pid), flags) {
            // A helper that exited 0 finished its part: what it sent is there to read.
            Ok(WaitStatus::StillAlive | WaitStatus::Exited(_, 0)) | Err(Errno::EINTR) => Ok(()),
            Ok(status) => Err(Stopped::Failed(Failure::new(format!(
                "the other process (pid {pid}) {} in the middle of the exchange",
                support::describe(&status)
            )))),
            Err(errno) => Err(Stopped::Failed(Failure::new(format!("waitid: {errno}")))),
        }
    }
}

impl Watch<'_> {
    /// What to report for `failed`, a call that failed or an exchange that ended early: the
    /// other process's death, if that is the cause (its end of file or EPIPE comes a moment
    /// before its exit status, so this looks for up to 200 ms), or else `failed` itself.
    pub fn cause_of(&self, failed: Stopped) -> Stopped {
        if self.peer.is_none() || !matches!(failed, Stopped::Failed(_)) {
            return failed;
        }
        for _ in 0..100 {
            if let Err(death) = self.peer_still_there() {
                return death;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        failed
    }
}

/// One end of a link: whole messages out and in.
pub trait Endpoint {
    /// Sends `message`, all of it, as one message.
    fn send(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped>;

    /// Receives one message of `into.len()` bytes into `into`. `Ok(false)`: the other side
    /// finished its stream ([`Endpoint::finish`]) and nothing came.
    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped>;

    /// Ends a stream: the other side's next [`Endpoint::recv`] says so once it has read
    /// everything sent before.
    fn finish(&mut self, watch: &Watch) -> Result<(), Stopped>;
}

/// Where a link keeps what it made on disk (FIFOs, the mapped file): a private directory that
/// the run removes at its end.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A new directory `ipc-labs-bench.XXXXXX` in `parent` (mode 0700).
    pub fn new(parent: &Path) -> Result<Scratch, Failure> {
        let template = parent.join("ipc-labs-bench.XXXXXX");
        let dir =
            nix::unistd::mkdtemp(&template).context(format!("mkdtemp {}", template.display()))?;
        Ok(Scratch { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes a path when the parent's end is dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A POSIX message queue descriptor, closed on drop (nix's `MqdT` is not).
struct Mq(Option<MqdT>);

impl Drop for Mq {
    fn drop(&mut self) {
        if let Some(queue) = self.0.take() {
            let _ = mq_close(queue);
        }
    }
}

impl Mq {
    fn get(&self) -> &MqdT {
        self.0.as_ref().expect("open until dropped")
    }
}

/// A mechanism set up before `fork`, not yet split into its two ends.
pub struct Link {
    parts: Parts,
}

enum Parts {
    Fds {
        to_child: (OwnedFd, OwnedFd),
        to_parent: (OwnedFd, OwnedFd),
    },
    Fifos {
        to_child: PathBuf,
        to_parent: PathBuf,
    },
    SysvMsg {
        queue: msgqueue::MessageQueue,
        capacity: usize,
    },
    PosixMq {
        to_child: Mq,
        to_parent: Mq,
        capacity: usize,
    },
    Mailbox {
        region: SharedRegion,
        wait: Wait,
        block: usize,
        /// The mapped file, for `mmap-file`.
        file: Option<PathBuf>,
    },
    Ring {
        region: SharedRegion,
        capacity: usize,
    },
}

/// How a mailbox side waits for the other's message.
enum Wait {
    Futex,
    Spin,
    Semaphores(semaphore::SemaphoreSet),
}

static NEXT_NAME: AtomicU32 = AtomicU32::new(0);

fn unique_name(what: &str) -> String {
    let n = NEXT_NAME.fetch_add(1, Ordering::Relaxed);
    format!("/ipc-labs-bench-{}-{what}-{n}", std::process::id())
}

/// The mailbox layout: a block per direction, each starting on a cache line with its counter,
/// the message 8 bytes after it. A message of up to 56 bytes shares its counter's cache line,
/// so one cache-line transfer carries both the news and the bytes.
const MESSAGE_AFTER_COUNTER: usize = 8;

/// The size of one direction's block, for messages of up to `max_size` bytes.
fn mailbox_block(max_size: usize) -> usize {
    (MESSAGE_AFTER_COUNTER + max_size).next_multiple_of(64)
}

/// The ring layout: positions and gates on their own cache lines, the data from `RING_DATA`.
const WRITTEN: usize = 0;
const READ: usize = 64;
const DATA_GATE: usize = 128;
const SPACE_GATE: usize = 192;
const CLOSED: usize = 256;
const RING_DATA: usize = 4096;

impl Link {
    /// Sets up `mechanism` for messages of up to `max_size` bytes; files go in `scratch`.
    pub fn new(mechanism: Mechanism, max_size: usize, scratch: &Scratch) -> Result<Link, Failure> {
        let parts = match mechanism {
            Mechanism::Pipe => {
                let (a, b) = (support::Pipe::new()?, support::Pipe::new()?);
                Parts::Fds {
                    to_child: (a.read_end, a.write_end),
                    to_parent: (b.read_end, b.write_end),
                }
            }
            Mechanism::UnixSocket => {
                let (parent, child) = UnixStream::pair().context("socketpair")?;
                let (parent, child) = (OwnedFd::from(parent), OwnedFd::from(child));
                Parts::Fds {
                    to_child: (
                        child.try_clone().context("dup")?,
                        parent.try_clone().context("dup")?,
                    ),
                    to_parent: (parent, child),
                }
            }
            Mechanism::Fifo => {
                let name = unique_name("fifo");
                let to_child = scratch.path().join(format!("{}-to-child", &name[1..]));
                let to_parent = scratch.path().join(format!("{}-to-parent", &name[1..]));
                for path in [&to_child, &to_parent] {
                    mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)
                        .context(format!("mkfifo {}", path.display()))?;
                }
                Parts::Fifos {
                    to_child,
                    to_parent,
                }
            }
            Mechanism::SysvMsg => Parts::SysvMsg {
                queue: msgqueue::msgget(Key::PRIVATE, libc::IPC_CREAT | 0o600)?,
                capacity: max_size,
            },
            Mechanism::PosixMq => {
                let capacity = max_size.max(1);
                let max_messages = read_number("/proc/sys/fs/mqueue/msg_max")
                    .unwrap_or(10)
                    .min(10);
                let attr = MqAttr::new(0, max_messages as _, capacity as _, 0);
                let open_new = |name: &str| -> Result<Mq, Failure> {
                    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
                    let queue = mq_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR, Some(&attr))
                        .context(format!("mq_open {name}"))?;
                    // Both processes reach it through the descriptor (fork copies it), so its
                    // name can go at once: nothing is left behind, even after SIGKILL.
                    mq_unlink(name).context(format!("mq_unlink {name}"))?;
                    Ok(Mq(Some(queue)))
                };
                Parts::PosixMq {
                    to_child: open_new(&unique_name("mq"))?,
                    to_parent: open_new(&unique_name("mq"))?,
                    capacity,
                }
            }
            Mechanism::ShmSem | Mechanism::ShmFutex | Mechanism::ShmSpin => {
                let block = mailbox_block(max_size);
                let region = system_v_region(2 * block)?;
                let wait = match mechanism {
                    Mechanism::ShmSem => {
                        Wait::Semaphores(semaphore::create(Key::PRIVATE, &[0, 0])?)
                    }
                    Mechanism::ShmSpin => Wait::Spin,
                    _ => Wait::Futex,
                };
                Parts::Mailbox {
                    region,
                    wait,
                    block,
                    file: None,
                }
            }
            Mechanism::CacheLine | Mechanism::Futex => Parts::Mailbox {
                region: SharedRegion::anonymous(4096).context("mmap MAP_SHARED|MAP_ANONYMOUS")?,
                wait: if mechanism == Mechanism::CacheLine {
                    Wait::Spin
                } else {
                    Wait::Futex
                },
                block: mailbox_block(0),
                file: None,
            },
            Mechanism::MmapFile => {
                let block = mailbox_block(max_size);
                let len = 2 * block;
                let path = scratch.path().join(&unique_name("mapped")[1..]);
                let file = File::options()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .context(format!("open {}", path.display()))?;
                file.set_len(len as u64).context("ftruncate")?;
                let mapping = shm::mmap_shared(file.as_fd(), len)?;
                Parts::Mailbox {
                    region: SharedRegion::mapped(mapping, len),
                    wait: Wait::Futex,
                    block,
                    file: Some(path),
                }
            }
            Mechanism::ShmOpen => {
                let block = mailbox_block(max_size);
                let len = 2 * block;
                let name = unique_name("shm");
                let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
                let fd = shm_open(name.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
                    .context(format!("shm_open {name}"))?;
                // The mapping keeps the pages; the name can go at once.
                shm_unlink(name.as_str()).context(format!("shm_unlink {name}"))?;
                ftruncate(&fd, len as i64).context("ftruncate")?;
                let mapping = shm::mmap_shared(fd.as_fd(), len)?;
                Parts::Mailbox {
                    region: SharedRegion::mapped(mapping, len),
                    wait: Wait::Futex,
                    block,
                    file: None,
                }
            }
            Mechanism::ShmRing => {
                let capacity = RING_CAPACITY;
                Parts::Ring {
                    region: system_v_region(RING_DATA + capacity)?,
                    capacity,
                }
            }
            Mechanism::Memcpy => {
                return Err(Failure::new("memcpy is measured in one process: no link"));
            }
        };
        Ok(Link { parts })
    }

    /// This side's end. The parent's end owns what the link made (the queue, the FIFOs, the
    /// semaphores) and removes it when dropped; the child ends with `_exit`, which drops
    /// nothing. A FIFO's `open` waits for the other side to open it too.
    pub fn into_end(self, side: Side, watch: &Watch) -> Result<Box<dyn Endpoint>, Stopped> {
        let ours = |to_child: usize, to_parent: usize| match side {
            Side::Parent => (to_child, to_parent),
            Side::Child => (to_parent, to_child),
        };
        Ok(match self.parts {
            Parts::Fds {
                to_child,
                to_parent,
            } => {
                // Our copies of the other side's ends must go, or a read would never see
                // end-of-file.
                let (rx, tx) = match side {
                    Side::Parent => (to_parent.0, to_child.1),
                    Side::Child => (to_child.0, to_parent.1),
                };
                Box::new(Stream {
                    rx,
                    tx: Some(tx),
                    _remove: Vec::new(),
                })
            }
            Parts::Fifos {
                to_child,
                to_parent,
            } => {
                let open_fifo = |path: &Path, flags: OFlag| {
                    watch.call(&format!("open {}", path.display()), || {
                        open(path, flags | OFlag::O_CLOEXEC, Mode::empty())
                    })
                };
                // The same order on both sides (to_child first), or both would wait forever
                // in open for a partner that waits on the other FIFO.
                let (rx, tx) = match side {
                    Side::Parent => {
                        let tx = open_fifo(&to_child, OFlag::O_WRONLY)?;
                        (open_fifo(&to_parent, OFlag::O_RDONLY)?, tx)
                    }
                    Side::Child => {
                        let rx = open_fifo(&to_child, OFlag::O_RDONLY)?;
                        (rx, open_fifo(&to_parent, OFlag::O_WRONLY)?)
                    }
                };
                let remove = if side == Side::Parent {
                    vec![RemoveOnDrop(to_child), RemoveOnDrop(to_parent)]
                } else {
                    Vec::new()
                };
                Box::new(Stream {
                    rx,
                    tx: Some(tx),
                    _remove: remove,
                })
            }
            Parts::SysvMsg { queue, capacity } => {
                let (send_type, recv_type) = ours(1, 2);
                let id = queue.id();
                let queue = match side {
                    Side::Parent => queue,
                    // The child's copy must never remove the parent's queue.
                    Side::Child => {
                        queue.leave_in_kernel();
                        msgqueue::MessageQueue::from_id(id)
                    }
                };
                Box::new(SysvMsg {
                    id,
                    _queue: queue,
                    buffer: MsgBuffer::new(capacity),
                    send_type: send_type as i64,
                    recv_type: recv_type as i64,
                })
            }
            Parts::PosixMq {
                to_child,
                to_parent,
                capacity,
            } => {
                let (tx, rx) = match side {
                    Side::Parent => (to_child, to_parent),
                    Side::Child => (to_parent, to_child),
                };
                Box::new(PosixMq {
                    tx,
                    rx,
                    buffer: vec![0; capacity],
                })
            }
            Parts::Mailbox {
                region,
                wait,
                block,
                file,
            } => {
                let (tx, rx) = ours(0, 1);
                let (wait, remove) = match (side, wait) {
                    (Side::Parent, wait) => (wait, file.map(RemoveOnDrop)),
                    // The child's copy must never remove the parent's semaphores.
                    (Side::Child, Wait::Semaphores(set)) => {
                        (Wait::Semaphores(set.leave_in_kernel()), None)
                    }
                    (Side::Child, wait) => (wait, None),
                };
                Box::new(Mailbox {
                    _remove: remove,
                    region,
                    wait,
                    block,
                    tx,
                    rx,
                    // The counters start at 0 in a new region. Not read here: the other side
                    // may have sent already, and its message would be taken for an old one.
                    seen: 0,
                    sent: 0,
                })
            }
            Parts::Ring { region, capacity } => Box::new(Ring { region, capacity }),
        })
    }
}

/// A System V segment of `len` bytes, attached, and marked for removal at once: it stays
/// until the last process detaches (at exit, whatever kills it), and nothing can leak.
fn system_v_region(len: usize) -> Result<SharedRegion, Failure> {
    let segment = shm::shmget(Key::PRIVATE, len, libc::IPC_CREAT | 0o600)?;
    let attached = segment.shmat(Access::ReadWrite)?;
    segment.mark_for_removal()?;
    Ok(SharedRegion::attached(attached))
}

/// How many bytes the ring holds, and the largest piece a message travels in. Measured at
/// 1 MiB messages on two vCPUs: 1–2 MiB rings with 16–64 KiB pieces gave 12–14 GiB/s; whole
/// 1 MiB messages in a 2 MiB ring about 11, and 8 KiB pieces or a 256 KiB ring less.
pub const RING_CAPACITY: usize = 2 << 20;
const RING_PIECE: usize = 64 << 10;

/// Pipes, FIFOs and sockets: a byte stream each way, read and written until whole.
struct Stream {
    rx: OwnedFd,
    tx: Option<OwnedFd>,
    _remove: Vec<RemoveOnDrop>,
}

impl Endpoint for Stream {
    fn send(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped> {
        let tx = self.tx.as_ref().expect("send after finish");
        let mut sent = 0;
        while sent < message.len() {
            sent += watch.call("write", || write(tx, &message[sent..]))?;
        }
        Ok(())
    }

    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        let mut got = 0;
        while got < into.len() {
            match watch.call("read", || read(&self.rx, &mut into[got..]))? {
                0 if got == 0 => return Ok(false),
                0 => {
                    return Err(Stopped::Failed(Failure::new(format!(
                        "read: end of file after {got} of {} bytes",
                        into.len()
                    ))));
                }
                n => got += n,
            }
        }
        Ok(true)
    }

    fn finish(&mut self, _watch: &Watch) -> Result<(), Stopped> {
        if let Some(tx) = self.tx.take() {
            // A socket's two directions share one descriptor (and the other process holds a
            // copy): closing ours would not end the stream, shutdown does. A pipe's write end
            // is its own descriptor, and closing it is enough (ENOTSOCK).
            match shutdown(tx.as_raw_fd(), Shutdown::Write) {
                Ok(()) | Err(Errno::ENOTSOCK) => {}
                Err(errno) => {
                    return Err(Stopped::Failed(Failure::new(format!("shutdown: {errno}"))));
                }
            }
        }
        Ok(())
    }
}

/// One System V queue; the type says the direction. An empty message ends a stream.
struct SysvMsg {
    id: i32,
    _queue: msgqueue::MessageQueue,
    buffer: MsgBuffer,
    send_type: i64,
    recv_type: i64,
}

impl Endpoint for SysvMsg {
    fn send(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped> {
        let (id, mtype) = (self.id, self.send_type);
        watch.call("msgsnd", || self.buffer.msgsnd(id, mtype, message))
    }

    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        let (id, mtype) = (self.id, self.recv_type);
        let got = watch.call("msgrcv", || self.buffer.msgrcv(id, mtype, into))?;
        whole_message(got, into.len())
    }

    fn finish(&mut self, watch: &Watch) -> Result<(), Stopped> {
        self.send(&[], watch)
    }
}

fn whole_message(got: usize, expected: usize) -> Result<bool, Stopped> {
    match got {
        0 if expected > 0 => Ok(false),
        n if n == expected => Ok(true),
        n => Err(Stopped::Failed(Failure::new(format!(
            "received a message of {n} bytes where {expected} were sent"
        )))),
    }
}

/// Two POSIX queues, one each way. An empty message ends a stream.
struct PosixMq {
    tx: Mq,
    rx: Mq,
    buffer: Vec<u8>,
}

impl Endpoint for PosixMq {
    fn send(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped> {
        watch.call("mq_send", || mq_send(self.tx.get(), message, 0))
    }

    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        let mut priority = 0;
        // mq_receive wants room for the largest message the queue allows.
        let got = watch.call("mq_receive", || {
            mq_receive(self.rx.get(), &mut self.buffer, &mut priority)
        })?;
        let whole = whole_message(got, into.len())?;
        into[..got].copy_from_slice(&self.buffer[..got]);
        Ok(whole)
    }

    fn finish(&mut self, watch: &Watch) -> Result<(), Stopped> {
        self.send(&[], watch)
    }
}

/// One message slot each way in shared memory, and a counter per direction that the sender
/// bumps after filling its slot. Ping-pong only: a sender assumes its slot was read, which holds
/// because each side waits for the answer before it sends again.
struct Mailbox {
    /// The parent removes a mapped file when the figure is done.
    _remove: Option<RemoveOnDrop>,
    region: SharedRegion,
    wait: Wait,
    block: usize,
    tx: usize,
    rx: usize,
    /// The receive counter's value when this side last looked.
    seen: u32,
    /// How many messages this side has sent: its counter's value (only this side writes it).
    sent: u32,
}

/// How long a futex sleep lasts before the sleeper checks that the other process still runs.
const CHECK_PEER_EVERY: Duration = Duration::from_secs(1);

impl Mailbox {
    fn counter(&self, direction: usize) -> &AtomicU32 {
        self.region.word(direction * self.block)
    }

    fn message_at(&self, direction: usize) -> usize {
        direction * self.block + MESSAGE_AFTER_COUNTER
    }
}

impl Endpoint for Mailbox {
    // ANCHOR: mailbox_send
    fn send(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped> {
        self.region.copy_in(self.message_at(self.tx), message);
        self.sent = self.sent.wrapping_add(1);
        let counter = self.counter(self.tx);
        match &self.wait {
            Wait::Semaphores(set) => watch.call("semop V", || set.v(self.tx as u16, 1)),
            Wait::Spin => {
                counter.store(self.sent, Ordering::Release); // the bytes are in before this
                Ok(())
            }
            Wait::Futex => {
                counter.store(self.sent, Ordering::Release);
                watch
                    .call("futex wake", || futex_wake(counter, 1))
                    .map(drop)
            }
        }
    }
    // ANCHOR_END: mailbox_send

    // ANCHOR: mailbox_recv
    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        let counter = self.counter(self.rx);
        match &self.wait {
            Wait::Semaphores(set) => watch.call("semop P", || set.p(self.rx as u16, 1))?,
            Wait::Spin => self.seen = spin_until_changed(counter, self.seen, watch)?,
            Wait::Futex => loop {
                let now = counter.load(Ordering::Acquire); // and the bytes with it
                if now != self.seen {
                    self.seen = now;
                    break;
                }
                // Sleeps only while the counter still holds `now`: no wake-up is lost.
                let woke =
                    watch.call("futex wait", || futex_wait(counter, now, CHECK_PEER_EVERY))?;
                if woke == Woke::TimedOut {
                    count_if_stalled(counter.load(Ordering::Acquire) != now);
                    watch.peer_still_there()?;
                }
            },
        }
        self.region.copy_out(self.message_at(self.rx), into);
        Ok(true)
    }
    // ANCHOR_END: mailbox_recv

    fn finish(&mut self, _watch: &Watch) -> Result<(), Stopped> {
        Ok(())
    }
}

/// Spins until `counter` differs from `seen`; returns the new value. Every few thousand
/// turns it checks for a stop signal, and now and then that the other process is alive.
fn spin_until_changed(counter: &AtomicU32, seen: u32, watch: &Watch) -> Result<u32, Stopped> {
    let mut turns: u32 = 0;
    loop {
        let now = counter.load(Ordering::Acquire);
        if now != seen {
            return Ok(now);
        }
        std::hint::spin_loop();
        turns = turns.wrapping_add(1);
        if turns.is_multiple_of(4096) {
            watch.stop.check()?;
            if turns.is_multiple_of(1 << 22) {
                watch.peer_still_there()?;
            }
        }
    }
}

/// A ring buffer in shared memory for a stream: the producer copies messages in behind the
/// `written` position, the consumer copies them out behind `read`. Each side sleeps on a futex
/// "gate" only when it must (ring full, ring empty), and the other wakes it only if it sleeps.
struct Ring {
    region: SharedRegion,
    capacity: usize,
}

/// Spins this many times before sleeping: a gap shorter than a system call.
const SPINS_BEFORE_SLEEP: u32 = 200;

impl Ring {
    fn copy_in_at(&self, position: u64, message: &[u8]) {
        let start = (position % self.capacity as u64) as usize;
        let first = message.len().min(self.capacity - start);
        self.region.copy_in(RING_DATA + start, &message[..first]);
        self.region.copy_in(RING_DATA, &message[first..]);
    }

    fn copy_out_at(&self, position: u64, into: &mut [u8]) {
        let start = (position % self.capacity as u64) as usize;
        let first = into.len().min(self.capacity - start);
        let (head, tail) = into.split_at_mut(first);
        self.region.copy_out(RING_DATA + start, head);
        self.region.copy_out(RING_DATA, tail);
    }

    // ANCHOR: gates
    /// Waits at `gate` until `ready()`: spins a little, then sleeps on the gate's counter with
    /// its "sleeping" flag raised, looking once more after raising it.
    fn wait_at(&self, gate: usize, watch: &Watch, ready: impl Fn() -> bool) -> Result<(), Stopped> {
        for _ in 0..SPINS_BEFORE_SLEEP {
            if ready() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let (counter, sleeping) = (self.region.word(gate), self.region.word(gate + 4));
        loop {
            let before = counter.load(Ordering::SeqCst);
            sleeping.store(1, Ordering::SeqCst);
            fence(Ordering::SeqCst); // the flag is visible before we look
            if ready() {
                sleeping.store(0, Ordering::Relaxed);
                return Ok(());
            }
            let woke = watch.call("futex wait", || {
                futex_wait(counter, before, CHECK_PEER_EVERY)
            })?;
            sleeping.store(0, Ordering::Relaxed);
            if woke == Woke::TimedOut {
                count_if_stalled(ready());
                watch.peer_still_there()?;
            }
        }
    }

    /// Wakes whoever sleeps at `gate`, if anyone does: a system call only when needed.
    fn open_gate(&self, gate: usize, watch: &Watch) -> Result<(), Stopped> {
        fence(Ordering::SeqCst); // the position is visible before we look at the flag
        if self.region.word(gate + 4).load(Ordering::SeqCst) != 0 {
            let counter = self.region.word(gate);
            counter.fetch_add(1, Ordering::SeqCst);
            watch.call("futex wake", || futex_wake(counter, 1))?;
        }
        Ok(())
    }
    // ANCHOR_END: gates
}

impl Endpoint for Ring {
    fn send(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped> {
        for piece in message.chunks(self.piece()) {
            self.send_piece(piece, watch)?;
        }
        Ok(())
    }

    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        let piece = self.piece();
        for (n, part) in into.chunks_mut(piece).enumerate() {
            if !self.recv_piece(part, watch)? {
                return match n {
                    0 => Ok(false),
                    _ => Err(Stopped::Failed(Failure::new(
                        "the ring closed inside a message",
                    ))),
                };
            }
        }
        Ok(true)
    }

    fn finish(&mut self, watch: &Watch) -> Result<(), Stopped> {
        self.region.word(CLOSED).store(1, Ordering::Release);
        self.open_gate(DATA_GATE, watch)
    }
}

impl Ring {
    /// Large messages travel in pieces, so that the consumer copies one out while the
    /// producer copies the next in.
    fn piece(&self) -> usize {
        RING_PIECE.min(self.capacity / 2)
    }

    fn send_piece(&mut self, message: &[u8], watch: &Watch) -> Result<(), Stopped> {
        assert!(
            2 * message.len() <= self.capacity,
            "message too large for the ring"
        );
        let written = self.region.word64(WRITTEN);
        let read = self.region.word64(READ);
        let position = written.load(Ordering::Relaxed); // only we move it
        let capacity = self.capacity as u64;
        let fits = || capacity - (position - read.load(Ordering::Acquire)) >= message.len() as u64;
        self.wait_at(SPACE_GATE, watch, fits)?;
        self.copy_in_at(position, message);
        written.store(position + message.len() as u64, Ordering::Release);
        self.open_gate(DATA_GATE, watch)
    }

    fn recv_piece(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        let written = self.region.word64(WRITTEN);
        let read = self.region.word64(READ);
        let closed = self.region.word(CLOSED);
        let position = read.load(Ordering::Relaxed);
        let len = into.len() as u64;
        let arrived_or_closed = || {
            written.load(Ordering::Acquire) - position >= len || closed.load(Ordering::Acquire) != 0
        };
        self.wait_at(DATA_GATE, watch, arrived_or_closed)?;
        let available = written.load(Ordering::Acquire) - position;
        if available < len {
            return match available {
                0 => Ok(false),
                _ => Err(Stopped::Failed(Failure::new(format!(
                    "the ring closed after {available} of {len} bytes"
                )))),
            };
        }
        self.copy_out_at(position, into);
        read.store(position + len, Ordering::Release);
        self.open_gate(SPACE_GATE, watch)?;
        Ok(true)
    }
}
