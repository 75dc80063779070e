//! The queues of the mesh: their shape, and how a node claims its own (`flock` on the queue's
//! descriptor) and gives it back (`mq_unlink`, only if the name still is the queue it claimed).

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_close, mq_getattr, mq_open, mq_unlink};
use nix::sys::stat::{Mode, fstat};
use support::cli::{Context, Failure};

/// At most this many messages wait in a queue: the default `/proc/sys/fs/mqueue/msg_max`, the
/// most an unprivileged `mq_open` may ask for.
pub const MAXMSG: i64 = 10;
/// The largest message, in bytes: a line typed by hand, with its sender's name in front.
pub const MSGSIZE: i64 = 1024;

/// `mq_open(3)` with `O_CREAT`: the attributes must be given (nix refuses `None`, EINVAL).
pub fn mesh_attr() -> MqAttr {
    MqAttr::new(0, MAXMSG, MSGSIZE, 0)
}

/// `mq_getattr(3)`, and a refusal of a queue that another program made with another shape: a
/// receive buffer of our size would fail on it (EMSGSIZE), and it is not ours to remove.
pub fn check_shape(name: &str, queue: &MqdT) -> Result<MqAttr, Failure> {
    let attr = mq_getattr(queue).context(format!("mq_getattr {name}"))?;
    if attr.msgsize() != MSGSIZE {
        return Err(Failure::new(format!(
            "{name}: refused: its mq_msgsize is {}, a mesh queue's is {MSGSIZE}; it is not a \
             mesh queue, and I leave it as it is",
            attr.msgsize()
        )));
    }
    Ok(attr)
}

/// How a node came to hold its queue.
pub enum Found {
    /// The name was free: the node made the queue.
    Created,
    /// A queue was at the name and nobody held its lock: its node died without removing it
    /// (SIGKILL, a crash). The messages sent to it meanwhile wait in it.
    Stale { waiting: i64 },
}

/// A node's own queue, held with an exclusive `flock(2)` on its descriptor. The kernel drops
/// the lock when the process ends, however it ends: a queue whose lock is free has no node.
pub struct Claimed {
    pub name: String,
    pub queue: MqdT,
    lock: Option<Flock<OwnedFd>>,
}

/// Claims the queue `name` for this node: creates it (0600), or takes over one that no live
/// node holds. A second claimant of the same name is refused.
pub fn claim(name: &str) -> Result<(Claimed, Found), Failure> {
    // ANCHOR: open
    let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK;
    let owner_only = Mode::S_IRUSR | Mode::S_IWUSR;
    let (queue, created) = match mq_open(
        name,
        flags | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL,
        owner_only,
        Some(&mesh_attr()),
    ) {
        Ok(queue) => (queue, true),
        Err(Errno::EEXIST) => {
            let queue =
                mq_open(name, flags, Mode::empty(), None).context(format!("mq_open {name}"))?;
            (queue, false)
        }
        Err(errno) => return Err(Failure::new(format!("mq_open {name}: {errno}"))),
    };
    let attr = check_shape(name, &queue)?;
    let owner = fstat(&queue).context(format!("fstat {name}"))?.st_uid;
    if !created && owner != nix::unistd::geteuid().as_raw() {
        return Err(Failure::new(format!(
            "{name}: refused: it belongs to uid {owner}, not to me; I leave it as it is"
        )));
    }
    // ANCHOR_END: open
    // ANCHOR: lock
    // flock works on a queue's descriptor: the lock belongs to the open queue, which a dup
    // shares, and goes when the last descriptor of it closes.
    let copy = nix::unistd::dup(&queue).context(format!("dup {name}"))?;
    let lock = match Flock::lock(copy, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, Errno::EWOULDBLOCK)) => {
            return Err(Failure::new(format!(
                "flock {name}: EWOULDBLOCK: another process holds this queue: its node is \
                 running already"
            )));
        }
        Err((_, errno)) => {
            if created {
                let _ = mq_unlink(name); // nobody else can hold what nobody could lock
            }
            return Err(Failure::new(format!("flock {name}: {errno}")));
        }
    };
    // ANCHOR_END: lock
    let found = match created {
        true => Found::Created,
        false => Found::Stale {
            waiting: attr.curmsgs(),
        },
    };
    let claimed = Claimed {
        name: name.to_owned(),
        queue,
        lock: Some(lock),
    };
    Ok((claimed, found))
}

// ANCHOR: drop
impl Drop for Claimed {
    /// Removes the name while the lock is still held, then lets the lock go (the descriptor
    /// itself closes when the process ends). If the name now leads to another queue (someone
    /// removed ours, and a new node made one), that queue is left alone.
    fn drop(&mut self) {
        let ours = fstat(&self.queue).ok();
        if let Ok(there) = mq_open(self.name.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None) {
            let same = fstat(&there)
                .ok()
                .zip(ours)
                .is_some_and(|(a, b)| (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino));
            let _ = mq_close(there);
            if same {
                let _ = mq_unlink(self.name.as_str()); // mq_unlink(3)
            }
        }
        self.lock.take(); // LOCK_UN, then the copy closes
    }
}
// ANCHOR_END: drop

/// Opens a peer's queue to send to it: `mq_open(3)` with `O_WRONLY`, never `O_CREAT` (a queue
/// belongs to its node), and `O_NONBLOCK`, so that a full queue is a line, not a wait.
pub fn open_peer(name: &str) -> Result<MqdT, Failure> {
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK;
    let queue = mq_open(name, flags, Mode::empty(), None).context(format!("mq_open {name}"))?;
    if let Err(refused) = check_shape(name, &queue) {
        let _ = mq_close(queue);
        return Err(refused);
    }
    Ok(queue)
}
