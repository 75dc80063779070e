//! Every mechanism the benchmark measures: set up in the parent before `fork` ([`Link::new`]),
//! then split into the parent's and the child's ends ([`Link::into_end`]).
//!
//! Each end sends and receives whole messages of the size both sides agreed on. A stream
//! ([`Endpoint::finish`]) ends with end-of-file, or an empty message for the message queues, or a
//! flag for the ring.
//!
//! The floors are set up here too: the cache line and the futex round trip are the mailbox with
//! no message, the transfer floor is the ring with its data written and read in place.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_close, mq_open, mq_receive, mq_send, mq_unlink};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::socket::{Shutdown, getsockopt, setsockopt, shutdown, sockopt};
use nix::sys::stat::Mode;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, ftruncate, mkfifo, read, write};
use shm::{Access, Woke, futex_wait, futex_wake};
use support::cli::{Context, Failure};
use support::stop::{Interrupted, Stop, Stopped};
use sysv::Key;

use crate::mechanism::{Buffer, Mechanism, ONE_MIB, read_number};
use crate::{MsgBuffer, SharedRegion, futex_wait_untimed};

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
    buffer_bytes: Option<usize>,
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
        in_place: bool,
    },
}

/// How a mailbox side waits for the other's message.
enum Wait {
    /// `shm-futex`, `mmap-file`, `shm-open`: a futex wait with a timeout, a wake on every send.
    Futex,
    /// The futex floor: a wait with no timeout, a wake only when the other side sleeps.
    FutexFloor,
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
    /// Sets up `mechanism` for messages of up to `max_size` bytes; files go in `scratch`. A
    /// stream over a pipe or a socket runs with `buffer` (see [`Buffer`]); `None` leaves the
    /// system's default, as a round trip does.
    pub fn new(
        mechanism: Mechanism,
        max_size: usize,
        buffer: Option<Buffer>,
        scratch: &Scratch,
    ) -> Result<Link, Failure> {
        let mut buffer_bytes = None;
        if buffer == Some(Buffer::OneMib) && !mechanism.buffers().contains(&Buffer::OneMib) {
            return Err(Failure::new(format!(
                "{}: no 1 MiB buffer (a System V queue holds msgmnb bytes; raising it needs \
                 root)",
                mechanism.name()
            )));
        }
        let parts = match mechanism {
            Mechanism::Pipe => {
                let (a, b) = (support::Pipe::new()?, support::Pipe::new()?);
                if buffer.is_some() {
                    pipe_buffer(&a.write_end, buffer)?;
                    // A stream goes through the second pipe, child to parent.
                    buffer_bytes = Some(pipe_buffer(&b.write_end, buffer)?);
                }
                Parts::Fds {
                    to_child: (a.read_end, a.write_end),
                    to_parent: (b.read_end, b.write_end),
                }
            }
            Mechanism::UnixSocket => {
                let (parent, child) = UnixStream::pair().context("socketpair")?;
                let (parent, child) = (OwnedFd::from(parent), OwnedFd::from(child));
                if buffer.is_some() {
                    // A stream goes from the child's socket to the parent's.
                    buffer_bytes = Some(socket_buffer(&child, &parent, buffer)?);
                    socket_buffer(&parent, &child, buffer)?;
                }
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
            Mechanism::SysvMsg => {
                if buffer.is_some() {
                    // A new queue holds at most msgmnb bytes (its msg_qbytes).
                    buffer_bytes = msgqueue::Limits::read().ok().map(|limits| limits.msgmnb);
                }
                Parts::SysvMsg {
                    queue: msgqueue::msgget(Key::PRIVATE, libc::IPC_CREAT | 0o600)?,
                    capacity: max_size,
                }
            }
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
            Mechanism::CacheLine | Mechanism::Futex | Mechanism::FutexBusy => Parts::Mailbox {
                region: SharedRegion::anonymous(4096).context("mmap MAP_SHARED|MAP_ANONYMOUS")?,
                wait: if mechanism == Mechanism::CacheLine {
                    Wait::Spin
                } else {
                    Wait::FutexFloor
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
            Mechanism::ShmRing | Mechanism::Transfer => {
                let capacity = RING_CAPACITY;
                buffer_bytes = buffer.map(|_| capacity);
                Parts::Ring {
                    region: system_v_region(RING_DATA + capacity)?,
                    capacity,
                    in_place: mechanism == Mechanism::Transfer,
                }
            }
            Mechanism::Memcpy | Mechanism::CPipe | Mechanism::CFutex => {
                return Err(Failure::new(format!(
                    "{} is measured without a link",
                    mechanism.name()
                )));
            }
        };
        Ok(Link {
            parts,
            buffer_bytes,
        })
    }

    /// The buffer the stream really has, in bytes, where `new` was given one: the pipe's
    /// `F_GETPIPE_SZ`, the socket's `SO_SNDBUF` as `getsockopt` reports it, the System V
    /// queue's `msgmnb`, the ring's size.
    pub fn buffer_bytes(&self) -> Option<usize> {
        self.buffer_bytes
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
            Parts::Ring {
                region,
                capacity,
                in_place,
            } => Box::new(Ring {
                region,
                capacity,
                in_place,
                scratch: match in_place {
                    true => vec![0; RING_PIECE.min(capacity / 2)],
                    false => Vec::new(),
                },
            }),
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

/// A pipe's buffer for `buffer`, set on its write end (`fcntl(F_SETPIPE_SZ)` for 1 MiB), and
/// what the kernel gave (`F_GETPIPE_SZ`). An unprivileged process may not go over
/// /proc/sys/fs/pipe-max-size (EPERM).
fn pipe_buffer(end: &OwnedFd, buffer: Option<Buffer>) -> Result<usize, Failure> {
    if buffer == Some(Buffer::OneMib) {
        let limit = read_number("/proc/sys/fs/pipe-max-size").unwrap_or(0);
        fcntl(end, FcntlArg::F_SETPIPE_SZ(ONE_MIB as libc::c_int)).context(format!(
            "fcntl F_SETPIPE_SZ {ONE_MIB} (/proc/sys/fs/pipe-max-size is {limit})"
        ))?;
    }
    let size = fcntl(end, FcntlArg::F_GETPIPE_SZ).context("fcntl F_GETPIPE_SZ")?;
    Ok(size as usize)
}

/// A socket pair's buffers for `buffer`: `SO_SNDBUF` on the sending socket and `SO_RCVBUF` on
/// the receiving one, 1 MiB each for [`Buffer::OneMib`] (the `FORCE` forms where the limits in
/// net.core.wmem_max and rmem_max are lower and this process may pass them). Returns
/// `SO_SNDBUF` as `getsockopt` reports it: twice what was set, the kernel's room for its
/// bookkeeping (socket(7)); fails where the kernel gave less than 1 MiB.
fn socket_buffer(
    sender: &OwnedFd,
    receiver: &OwnedFd,
    buffer: Option<Buffer>,
) -> Result<usize, Failure> {
    if buffer == Some(Buffer::OneMib) {
        setsockopt(sender, sockopt::SndBuf, &ONE_MIB).context("setsockopt SO_SNDBUF")?;
        setsockopt(receiver, sockopt::RcvBuf, &ONE_MIB).context("setsockopt SO_RCVBUF")?;
        if getsockopt(sender, sockopt::SndBuf).context("getsockopt SO_SNDBUF")? < 2 * ONE_MIB {
            setsockopt(sender, sockopt::SndBufForce, &ONE_MIB).context(format!(
                "setsockopt SO_SNDBUFFORCE (net.core.wmem_max is {})",
                read_number("/proc/sys/net/core/wmem_max").unwrap_or(0)
            ))?;
        }
        if getsockopt(receiver, sockopt::RcvBuf).context("getsockopt SO_RCVBUF")? < 2 * ONE_MIB {
            setsockopt(receiver, sockopt::RcvBufForce, &ONE_MIB).context(format!(
                "setsockopt SO_RCVBUFFORCE (net.core.rmem_max is {})",
                read_number("/proc/sys/net/core/rmem_max").unwrap_or(0)
            ))?;
        }
    }
    getsockopt(sender, sockopt::SndBuf).context("getsockopt SO_SNDBUF")
}

/// How many bytes the ring holds, and the largest piece a message travels in. Measured at
/// 1 MiB messages on two vCPUs: 1–2 MiB rings with 16–64 KiB pieces gave 12–14 GiB/s; whole
/// 1 MiB messages in a 2 MiB ring about 11, and 8 KiB pieces or a 256 KiB ring less. 1 MiB,
/// the size the pipe and the socket get for their "1 MiB buffer" streams.
pub const RING_CAPACITY: usize = ONE_MIB;
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

    /// The futex floor's flag, 4 bytes after a direction's counter: 1 while its receiver
    /// sleeps (or is about to).
    fn sleeping(&self, direction: usize) -> &AtomicU32 {
        self.region.word(direction * self.block + 4)
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
            Wait::FutexFloor => {
                counter.store(self.sent, Ordering::SeqCst);
                wake_a_sleeper(counter, self.sleeping(self.tx), watch)
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
            Wait::FutexFloor => {
                self.seen = sleep_until_changed(counter, self.sleeping(self.rx), self.seen, watch)?
            }
        }
        self.region.copy_out(self.message_at(self.rx), into);
        Ok(true)
    }
    // ANCHOR_END: mailbox_recv

    fn finish(&mut self, _watch: &Watch) -> Result<(), Stopped> {
        Ok(())
    }
}

// ANCHOR: futex_floor
/// The futex floor's wait: sleeps until `counter` differs from `seen`, with `sleeping` raised
/// so that the sender knows to wake it; returns the new value.
fn sleep_until_changed(
    counter: &AtomicU32,
    sleeping: &AtomicU32,
    seen: u32,
    watch: &Watch,
) -> Result<u32, Stopped> {
    loop {
        let now = counter.load(Ordering::Acquire);
        if now != seen {
            return Ok(now);
        }
        sleeping.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst); // the flag is visible before we look again
        if counter.load(Ordering::SeqCst) == now {
            // No timeout: nothing on the measured path arms a timer. A wait of the parent
            // still ends if the helper dies: SIGCHLD and the parent's periodic SIGALRM (see
            // `measure::PeerCheck`) interrupt it, and `watch.call` looks whether the helper
            // lives. The helper dies with the parent (PR_SET_PDEATHSIG).
            watch.call("futex wait", || futex_wait_untimed(counter, now))?;
        }
        sleeping.store(0, Ordering::Relaxed);
    }
}

/// The futex floor's wake: a system call only if the receiver sleeps (or is about to).
fn wake_a_sleeper(counter: &AtomicU32, sleeping: &AtomicU32, watch: &Watch) -> Result<(), Stopped> {
    // The new count is visible before we look at the flag, as the receiver's flag is before it
    // looks at the count: one of the two sees the other.
    fence(Ordering::SeqCst);
    if sleeping.load(Ordering::SeqCst) != 0 {
        watch.call("futex wake", || futex_wake(counter, 1))?;
    }
    Ok(())
}
// ANCHOR_END: futex_floor

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
///
/// `in_place`: the transfer floor. The same ring, the same pieces and the same gates, but
/// neither side's own buffer: the producer writes each piece where it lies in the ring
/// (`memset`), the consumer reads every byte of it where it lies, into one piece-sized
/// `scratch` buffer that never leaves its cache (`memcpy`). What is left is the data moving
/// from the producer's CPU to the consumer's, which no stream between two CPUs avoids.
///
/// Why `memset` and `memcpy`, not a loop of stores and a loop of loads: on x86 the string
/// instructions that glibc uses for them write whole cache lines without first fetching them
/// from the other CPU, and fetch lines from the other CPU's cache with more requests in flight;
/// loops of 8-byte stores and loads moved a third to half as many bytes a second here, which
/// would make a floor that the copying ring beats. Only the message's number (its first and
/// last 8 bytes) reaches the consumer's message, so that the stream's checks still see every
/// message arrive, in order.
struct Ring {
    region: SharedRegion,
    capacity: usize,
    in_place: bool,
    scratch: Vec<u8>,
}

/// What the transfer floor's producer writes in place.
const FILL: u8 = 0x5a;

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

    /// The ring's ranges for `len` bytes from `position`: one, or two where it wraps.
    fn ranges(&self, position: u64, len: usize) -> [(usize, usize); 2] {
        let start = (position % self.capacity as u64) as usize;
        let first = len.min(self.capacity - start);
        [(RING_DATA + start, first), (RING_DATA, len - first)]
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
        let piece = self.piece();
        for (n, part) in message.chunks(piece).enumerate() {
            let from = n * piece;
            self.send_piece(part.len(), watch, |ring, position| {
                if !ring.in_place {
                    return ring.copy_in_at(position, part);
                }
                for (at, len) in ring.ranges(position, part.len()) {
                    ring.region.fill(at, len, FILL);
                }
                for (lo, hi) in stamps_within(message.len(), from, from + part.len()) {
                    ring.copy_in_at(position + (lo - from) as u64, &message[lo..hi]);
                }
            })?;
        }
        Ok(())
    }

    fn recv(&mut self, into: &mut [u8], watch: &Watch) -> Result<bool, Stopped> {
        // The scratch buffer leaves `self` while the pieces borrow it.
        let mut scratch = std::mem::take(&mut self.scratch);
        let received = self.recv_pieces(into, &mut scratch, watch);
        self.scratch = scratch;
        received
    }

    fn finish(&mut self, watch: &Watch) -> Result<(), Stopped> {
        self.region.word(CLOSED).store(1, Ordering::Release);
        self.open_gate(DATA_GATE, watch)
    }
}

impl Ring {
    /// Receives a message piece by piece (see [`Endpoint::recv`]); the transfer floor reads
    /// each piece into `scratch`.
    fn recv_pieces(
        &mut self,
        into: &mut [u8],
        scratch: &mut [u8],
        watch: &Watch,
    ) -> Result<bool, Stopped> {
        let (piece, size) = (self.piece(), into.len());
        for n in 0..size.div_ceil(piece) {
            let (from, to) = (n * piece, ((n + 1) * piece).min(size));
            let arrived = self.recv_piece(to - from, watch, |ring, position| {
                if !ring.in_place {
                    return ring.copy_out_at(position, &mut into[from..to]);
                }
                let read = &mut scratch[..to - from];
                ring.copy_out_at(position, read);
                for (lo, hi) in stamps_within(size, from, to) {
                    into[lo..hi].copy_from_slice(&read[lo - from..hi - from]);
                }
                std::hint::black_box(read);
            })?;
            if !arrived {
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

    /// Large messages travel in pieces, so that the consumer copies one out while the
    /// producer copies the next in.
    fn piece(&self) -> usize {
        RING_PIECE.min(self.capacity / 2)
    }

    /// Waits for room for `len` bytes, has `put` write them at the ring's position, and
    /// publishes them.
    fn send_piece(
        &mut self,
        len: usize,
        watch: &Watch,
        put: impl FnOnce(&Ring, u64),
    ) -> Result<(), Stopped> {
        assert!(2 * len <= self.capacity, "message too large for the ring");
        let written = self.region.word64(WRITTEN);
        let read = self.region.word64(READ);
        let position = written.load(Ordering::Relaxed); // only we move it
        let capacity = self.capacity as u64;
        let fits = || capacity - (position - read.load(Ordering::Acquire)) >= len as u64;
        self.wait_at(SPACE_GATE, watch, fits)?;
        put(self, position);
        written.store(position + len as u64, Ordering::Release);
        self.open_gate(DATA_GATE, watch)
    }

    /// Waits for `len` bytes, has `take` read them at the ring's position, and gives their
    /// room back. `Ok(false)`: the producer finished, and nothing came.
    fn recv_piece(
        &mut self,
        len: usize,
        watch: &Watch,
        take: impl FnOnce(&Ring, u64),
    ) -> Result<bool, Stopped> {
        let written = self.region.word64(WRITTEN);
        let read = self.region.word64(READ);
        let closed = self.region.word(CLOSED);
        let position = read.load(Ordering::Relaxed);
        let len = len as u64;
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
        take(self, position);
        read.store(position + len, Ordering::Release);
        self.open_gate(SPACE_GATE, watch)?;
        Ok(true)
    }
}

/// The parts of a message's number stamps (its first 8 bytes, and its last 8 from 16 bytes on,
/// see `measure::stamp`) that lie in its bytes `from..to`.
fn stamps_within(size: usize, from: usize, to: usize) -> impl Iterator<Item = (usize, usize)> {
    let tail = (size >= 16).then(|| (size - 8, size));
    std::iter::once((0, size.min(8)))
        .chain(tail)
        .map(move |(lo, hi)| (lo.max(from), hi.min(to)))
        .filter(|(lo, hi)| lo < hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_in_the_pieces_that_hold_them() {
        let within = |size, from, to| stamps_within(size, from, to).collect::<Vec<_>>();
        assert_eq!(within(100, 0, 100), [(0, 8), (92, 100)]);
        assert_eq!(within(100, 0, 50), [(0, 8)]);
        assert_eq!(within(100, 50, 100), [(92, 100)]);
        assert_eq!(within(100, 4, 95), [(4, 8), (92, 95)]);
        assert_eq!(within(12, 0, 12), [(0, 8)]);
        assert_eq!(within(100, 10, 90), []);
    }
}
