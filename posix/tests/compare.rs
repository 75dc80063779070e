//! The POSIX side of the book's "System V and POSIX side by side" table, one test per row that
//! a program of this part does not already show: how names are formed, what unlink does to an
//! object still open, where each object appears as a file, and which message a receive takes.
//! (The System V side is held by the tests of the msgqueue, semaphore and shm crates, which the
//! page names.)

use std::fs;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::{
    MQ_OFlag, MqAttr, MqdT, mq_close, mq_getattr, mq_open, mq_receive, mq_send, mq_unlink,
};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;
use posix::psem::{NamedSemaphore, OpenMode, sem_file, sem_unlink};

/// A name no other test or run uses.
fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "/ipc-labs-compare-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a queue of 10 messages of 64 bytes, read-write, and unlinks its name when dropped
/// (a failed assertion included), so that no test leaves a queue behind.
struct Queue {
    name: String,
    mqd: Option<MqdT>,
}

impl Queue {
    fn create(tag: &str, flags: MQ_OFlag) -> Queue {
        let name = unique(tag);
        let attr = MqAttr::new(0, 10, 64, 0);
        let mqd = mq_open(
            name.as_str(),
            MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | flags,
            Mode::from_bits_truncate(0o600),
            Some(&attr),
        )
        .unwrap();
        Queue {
            name,
            mqd: Some(mqd),
        }
    }

    fn mqd(&self) -> &MqdT {
        self.mqd.as_ref().unwrap()
    }

    fn receive(&self) -> (String, u32) {
        let mut buf = [0u8; 64];
        let mut priority = 0;
        let n = mq_receive(self.mqd(), &mut buf, &mut priority).unwrap();
        (String::from_utf8_lossy(&buf[..n]).into_owned(), priority)
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = mq_unlink(self.name.as_str());
        if let Some(mqd) = self.mqd.take() {
            let _ = mq_close(mqd);
        }
    }
}

/// Naming: a key is a number anyone may pick; a POSIX name is `/` and then a name with no other
/// `/`. Without the leading slash glibc says EINVAL; a second slash, the kernel says EACCES.
#[test]
fn a_name_is_one_slash_then_a_name() {
    let mode = Mode::from_bits_truncate(0o600);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_RDWR;
    assert_eq!(
        mq_open("no-slash", flags, mode, None).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        mq_open("/two/slashes", flags, mode, None).unwrap_err(),
        Errno::EACCES
    );
    assert_eq!(
        shm_open("/two/slashes", OFlag::O_CREAT | OFlag::O_RDWR, mode).unwrap_err(),
        Errno::EINVAL
    );
}

/// Lifetime: System V's IPC_RMID removes a queue at once, messages and all. `mq_unlink`
/// removes only the name: a process that has the queue open goes on sending and receiving, and
/// the queue goes with the last descriptor.
#[test]
fn unlink_removes_the_name_and_the_open_queue_lives_on() {
    let mut queue = Queue::create("unlink", MQ_OFlag::empty());
    mq_unlink(queue.name.as_str()).unwrap();
    assert_eq!(
        mq_open(queue.name.as_str(), MQ_OFlag::O_RDWR, Mode::empty(), None).unwrap_err(),
        Errno::ENOENT
    );
    mq_send(queue.mqd(), b"after unlink", 0).unwrap();
    assert_eq!(queue.receive(), ("after unlink".to_owned(), 0));
    mq_close(queue.mqd.take().unwrap()).unwrap();
}

/// The same for shared memory: the file in /dev/shm goes at `shm_unlink`, the object lives on
/// behind the descriptor.
#[test]
fn an_unlinked_shm_object_lives_on_behind_its_descriptor() {
    let name = unique("shm");
    let fd = shm_open(
        name.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
        Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let file = Path::new("/dev/shm").join(&name[1..]);
    let mode = fs::metadata(&file).map(|meta| {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o777
    });
    shm_unlink(name.as_str()).unwrap();
    assert_eq!(mode.unwrap(), 0o600, "{} before the unlink", file.display());
    assert!(!file.exists());
    nix::unistd::ftruncate(&fd, 4096).unwrap();
    assert_eq!(nix::sys::stat::fstat(&fd).unwrap().st_size, 4096);
}

/// Where objects live: /proc/sysvipc lists System V objects; each POSIX object is a file.
/// A queue's file in the mqueue file system reads as one line of counts.
#[test]
fn each_object_is_a_file() {
    let semaphore = unique("sem");
    let opened = NamedSemaphore::sem_open(&semaphore, OpenMode::CreateNew, 0o600, 0).unwrap();
    let sem_seen = sem_file(&semaphore).exists();
    sem_unlink(&semaphore).unwrap();
    drop(opened);
    assert!(sem_seen, "{}", sem_file(&semaphore).display());

    let mqueue = Path::new("/dev/mqueue");
    if !mqueue.is_dir() {
        eprintln!("no mqueue file system on /dev/mqueue: the queue's file is not checked");
        return;
    }
    let queue = Queue::create("file", MQ_OFlag::empty());
    mq_send(queue.mqd(), b"12345", 0).unwrap();
    let line = fs::read_to_string(mqueue.join(&queue.name[1..])).unwrap();
    assert!(
        line.starts_with("QSIZE:5 "),
        "{line:?}: QSIZE counts the bytes queued"
    );
}

/// Selection: System V's msgrcv picks by type; mq_receive always takes the oldest message of
/// the highest priority.
#[test]
fn the_highest_priority_comes_first_and_equal_ones_in_order() {
    let queue = Queue::create("prio", MQ_OFlag::empty());
    for (text, priority) in [("low", 1), ("high a", 9), ("middle", 5), ("high b", 9)] {
        mq_send(queue.mqd(), text.as_bytes(), priority).unwrap();
    }
    let taken: Vec<(String, u32)> = (0..4).map(|_| queue.receive()).collect();
    let expected = [("high a", 9), ("high b", 9), ("middle", 5), ("low", 1)];
    let expected: Vec<(String, u32)> = expected.iter().map(|(t, p)| (t.to_string(), *p)).collect();
    assert_eq!(taken, expected);
}

/// Notification: a System V queue has no descriptor; a POSIX queue is one, and poll says when
/// a message is there. mq_getattr's count agrees.
#[test]
fn poll_sees_a_message_arrive() {
    let queue = Queue::create("poll", MQ_OFlag::O_NONBLOCK);
    let ready = |timeout: u8| {
        let mut fds = [PollFd::new(queue.mqd().as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(timeout)).unwrap()
    };
    assert_eq!(ready(0), 0, "an empty queue is not readable");
    mq_send(queue.mqd(), b"now", 3).unwrap();
    assert_eq!(ready(0), 1, "one message makes it readable");
    assert_eq!(mq_getattr(queue.mqd()).unwrap().curmsgs(), 1);
    assert_eq!(queue.receive(), ("now".to_owned(), 3));
    assert_eq!(ready(0), 0);
}
