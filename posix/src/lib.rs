//! POSIX IPC: the same ideas as the System V crates, with the newer calls.
//!
//! Every object has a name that starts with `/` instead of a key, lives in a file system
//! (`/dev/mqueue` for queues, `/dev/shm` for semaphores and shared memory), and is opened as a
//! descriptor or a mapping that the kernel counts: `*_unlink` removes the name at once, and the
//! object goes when the last process closes it.
//!
//! Each call has a thin wrapper named after it, whose doc names its man page. This file holds the
//! crate's only `unsafe` code.

pub mod mq {
    //! POSIX message queues: `mq_open`, `mq_send`, `mq_receive`, `mq_getattr`, `mq_notify`,
    //! `mq_close`, `mq_unlink`.
    //!
    //! A queue has a name such as `/jobs`, holds at most `mq_maxmsg` messages of at most
    //! `mq_msgsize` bytes each, and hands out the oldest message of the highest priority first.
    //! `mq_open` returns a descriptor: `poll(2)` waits on it, `flock(2)` locks it, `fstat(2)` and
    //! `read(2)` describe it (a line `QSIZE:... NOTIFY:... NOTIFY_PID:...`). The name lives in the
    //! mqueue file system (`/dev/mqueue` where it is mounted) until `mq_unlink`.
    //!
    //! nix wraps every call but `mq_notify`, which is here, with the crate's only `unsafe` for
    //! queues. The wrappers return nix's [`Errno`]; [`Queue::mq_open`] and [`opened_why`] turn a
    //! failed open into one line that names the queue, the errno, and what it means here.

    use std::fmt::Display;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use nix::errno::Errno;
    use nix::fcntl::{Flock, FlockArg, OFlag};
    use nix::mqueue::{MQ_OFlag, MqAttr, MqdT};
    use nix::sys::stat::Mode;
    use support::cli::{Context, Failure};

    /// Where the limits on a new queue's attributes are, per IPC namespace.
    pub const LIMITS_DIR: &str = "/proc/sys/fs/mqueue";

    /// The highest priority `mq_send` takes on Linux (`MQ_PRIO_MAX` - 1).
    pub const PRIORITY_MAX: u32 = 32767;

    /// `msg_max`, `msgsize_max` and `queues_max` from [`LIMITS_DIR`], as read now.
    #[derive(Debug, Clone, Copy)]
    pub struct Limits {
        /// The largest `mq_maxmsg` a process without CAP_SYS_RESOURCE may ask for.
        pub msg_max: i64,
        /// The largest `mq_msgsize` a process without CAP_SYS_RESOURCE may ask for.
        pub msgsize_max: i64,
        /// How many queues the IPC namespace may hold.
        pub queues_max: i64,
    }

    impl Limits {
        /// Reads the limits; one that cannot be read is -1.
        pub fn read() -> Self {
            let read = |file: &str| {
                std::fs::read_to_string(format!("{LIMITS_DIR}/{file}"))
                    .ok()
                    .and_then(|text| text.trim().parse().ok())
                    .unwrap_or(-1)
            };
            Self {
                msg_max: read("msg_max"),
                msgsize_max: read("msgsize_max"),
                queues_max: read("queues_max"),
            }
        }
    }

    /// What this process does with the queue: the access mode `mq_open` asks for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Access {
        /// `O_WRONLY`: `mq_send` only.
        Send,
        /// `O_RDONLY`: `mq_receive`, and `read(2)` of the status line.
        Receive,
    }

    /// Whether [`Queue::mq_open`] may create the queue.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Create {
        /// `O_CREAT | O_EXCL` first (so we know that we made it), then a plain open if it exists.
        IfAbsent,
        /// A plain open: ENOENT if there is no queue with the name.
        Never,
        /// `O_CREAT | O_EXCL` only: EEXIST if the name is taken.
        New,
    }

    /// An open queue. Dropping it closes the descriptor (`mq_close`) and, if this process created
    /// the queue and did not [`leave`](Queue::leave) it, removes the name (`mq_unlink`) without a
    /// word, so that an error or a closed terminal leaves nothing behind. The main path calls
    /// [`Queue::mq_unlink`] itself and says so.
    #[derive(Debug)]
    pub struct Queue {
        mqd: Option<MqdT>,
        name: String,
        created: bool,
        remove_on_drop: bool,
    }

    impl Queue {
        /// `mq_open(3)`: opens the queue `name` for `access`; creating it (mode 0600, attributes
        /// `attr`) as `create` says. `nonblocking` adds `O_NONBLOCK`: `mq_send` and `mq_receive`
        /// then fail with EAGAIN instead of waiting. A failure is one line: `mq_open /jobs:
        /// ENOENT: No such file or directory; ...` (see [`opened_why`]).
        pub fn mq_open(
            name: &str,
            access: Access,
            create: Create,
            attr: &MqAttr,
            nonblocking: bool,
        ) -> Result<Queue, Failure> {
            let mut flags = match access {
                Access::Send => MQ_OFlag::O_WRONLY,
                Access::Receive => MQ_OFlag::O_RDONLY,
            };
            if nonblocking {
                flags |= MQ_OFlag::O_NONBLOCK;
            }
            let mode = Mode::from_bits_truncate(0o600);
            let exclusive = flags | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
            // Between a failed O_EXCL and the plain open, the creator may unlink it: try again.
            for _ in 0..10 {
                let tried = match create {
                    Create::Never => {
                        nix::mqueue::mq_open(name, flags, mode, None).map(|q| (q, false))
                    }
                    Create::New => {
                        nix::mqueue::mq_open(name, exclusive, mode, Some(attr)).map(|q| (q, true))
                    }
                    Create::IfAbsent => {
                        match nix::mqueue::mq_open(name, exclusive, mode, Some(attr)) {
                            Err(Errno::EEXIST) => {
                                match nix::mqueue::mq_open(name, flags, mode, None) {
                                    Err(Errno::ENOENT) => continue, // removed in between
                                    other => other.map(|q| (q, false)),
                                }
                            }
                            other => other.map(|q| (q, true)),
                        }
                    }
                };
                match tried {
                    Err(errno) => return Err(Failure::new(opened_why(name, errno, attr))),
                    Ok((mqd, created)) => {
                        return Ok(Queue {
                            mqd: Some(mqd),
                            name: name.to_owned(),
                            created,
                            remove_on_drop: created,
                        });
                    }
                }
            }
            Err(Failure::new(format!(
                "mq_open {name}: created and removed by someone else ten times in a row; giving up"
            )))
        }

        /// The queue's name, such as `/jobs`.
        pub fn name(&self) -> &str {
            &self.name
        }

        /// Whether this process created the queue.
        pub fn created(&self) -> bool {
            self.created
        }

        fn mqd(&self) -> &MqdT {
            self.mqd.as_ref().expect("open until dropped")
        }

        /// `mq_getattr(3)`: `mq_maxmsg`, `mq_msgsize`, `mq_curmsgs` (and `mq_flags`).
        pub fn mq_getattr(&self) -> Result<MqAttr, Failure> {
            nix::mqueue::mq_getattr(self.mqd()).context(format!("mq_getattr {}", self.name))
        }

        /// `mq_send(3)`: adds `message` with `priority`; waits while the queue is full, unless the
        /// descriptor is non-blocking (then EAGAIN). EMSGSIZE if it is longer than `mq_msgsize`.
        pub fn mq_send(&self, message: &[u8], priority: u32) -> Result<(), Errno> {
            nix::mqueue::mq_send(self.mqd(), message, priority)
        }

        /// `mq_receive(3)`: takes the oldest message of the highest priority into `buffer`, which
        /// must hold `mq_msgsize` bytes (EMSGSIZE otherwise, and the message stays queued). Returns
        /// its length and priority. Waits while the queue is empty, unless non-blocking (EAGAIN).
        pub fn mq_receive(&self, buffer: &mut [u8]) -> Result<(usize, u32), Errno> {
            let mut priority = 0;
            let length = nix::mqueue::mq_receive(self.mqd(), buffer, &mut priority)?;
            Ok((length, priority))
        }

        /// `mq_setattr(3)` of `O_NONBLOCK` alone: whether `mq_send` and `mq_receive` wait.
        pub fn set_nonblocking(&self, nonblocking: bool) -> Result<(), Failure> {
            let done = match nonblocking {
                true => nix::mqueue::mq_set_nonblock(self.mqd()),
                false => nix::mqueue::mq_remove_nonblock(self.mqd()),
            };
            done.map(drop).context(format!("mq_setattr {}", self.name))
        }

        /// The status line the kernel gives for `read(2)` on the descriptor (a receiver's only):
        /// `QSIZE:11 NOTIFY:0 SIGNO:0 NOTIFY_PID:0`, with the runs of spaces squeezed.
        pub fn status(&self) -> Result<String, Failure> {
            let mut buffer = [0u8; 128];
            let length = nix::sys::uio::pread(self.mqd(), &mut buffer, 0)
                .context(format!("read {}", self.name))?;
            let text = String::from_utf8_lossy(&buffer[..length]);
            Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
        }

        /// The claim of a receiver: `flock(LOCK_EX | LOCK_NB)` on the descriptor. A second process
        /// that opens the same queue and asks gets EWOULDBLOCK; the kernel drops the lock when its
        /// holder closes the queue or dies, however it dies. The lock is held until `Claim` drops.
        pub fn flock(&self) -> Result<Claim, Failure> {
            let mqd = self.mqd().as_fd().try_clone_to_owned().context("dup")?;
            match Flock::lock(mqd, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => Ok(Claim(lock)),
                Err((_, errno)) => {
                    let holder = match self.lock_holder() {
                        Some(pid) => format!("process {pid}"),
                        None => "another process".to_owned(),
                    };
                    Err(Failure::new(format!(
                        "flock {}: {errno}: {holder} receives from this queue already; one \
                     receiver per queue",
                        self.name
                    )))
                }
            }
        }

        /// Who holds a `flock` on the queue, from `/proc/locks` (`1: FLOCK ADVISORY WRITE <pid>
        /// <major>:<minor>:<inode> 0 EOF`).
        fn lock_holder(&self) -> Option<i32> {
            let stat = nix::sys::stat::fstat(self.mqd().as_fd()).ok()?;
            let inode = format!(":{}", stat.st_ino);
            let locks = std::fs::read_to_string("/proc/locks").ok()?;
            let line = locks.lines().find(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(1) == Some(&"FLOCK")
                    && fields.get(5).is_some_and(|f| f.ends_with(&inode))
            })?;
            line.split_whitespace().nth(4)?.parse().ok()
        }

        /// `mq_unlink(3)` of a queue this process opened: the name goes at once; the queue itself
        /// when the last descriptor closes (this one, when `self` drops here).
        pub fn mq_unlink(mut self) -> Result<(), Failure> {
            self.remove_on_drop = false;
            nix::mqueue::mq_unlink(self.name.as_str()).context(format!("mq_unlink {}", self.name))
        }

        /// Closes the queue (`mq_close`) and leaves its name in place, even if we created it.
        pub fn leave(mut self) {
            self.remove_on_drop = false;
        }
    }

    impl AsFd for Queue {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.mqd().as_fd()
        }
    }

    impl Drop for Queue {
        fn drop(&mut self) {
            if self.remove_on_drop {
                let _ = nix::mqueue::mq_unlink(self.name.as_str());
            }
            if let Some(mqd) = self.mqd.take() {
                // Nothing useful can be done about a failed close on the way out.
                let _ = nix::mqueue::mq_close(mqd);
            }
        }
    }

    /// A receiver's claim on a queue (see [`Queue::flock`]): dropped, it unlocks.
    pub struct Claim(#[allow(dead_code)] Flock<OwnedFd>);

    /// The attributes for a new queue: `mq_maxmsg` messages of `mq_msgsize` bytes.
    pub fn attr(maxmsg: i64, msgsize: i64) -> MqAttr {
        MqAttr::new(0, maxmsg as _, msgsize as _, 0)
    }

    /// A failed `mq_open` in one line: the call, the name, the errno, and what that errno means
    /// here (a name without its `/`, a second `/`, attributes over the limits, another user's
    /// queue with its owner, ...).
    pub fn opened_why(name: &str, errno: Errno, attr: &MqAttr) -> String {
        let why = match errno {
            Errno::EINVAL if !name.starts_with('/') => {
                format!("a queue name starts with '/' (try /{name})")
            }
            Errno::EINVAL => {
                let limits = Limits::read();
                format!(
                    "mq_maxmsg {} and mq_msgsize {} must be 1 to {LIMITS_DIR}/msg_max ({}) and 1 \
                 to msgsize_max ({}); more needs CAP_SYS_RESOURCE",
                    attr.maxmsg(),
                    attr.msgsize(),
                    limits.msg_max,
                    limits.msgsize_max
                )
            }
            Errno::EACCES if name[1..].contains('/') => {
                "a queue name holds no '/' after the first (the kernel says EACCES)".to_owned()
            }
            Errno::EACCES => match owner_of(name) {
                Some((uid, mode)) => format!(
                    "the queue belongs to uid {uid} with mode {:04o}, and you are uid {}",
                    mode & 0o7777,
                    nix::unistd::geteuid()
                ),
                None => "another user's queue; mount the mqueue file system to see whose (mount \
                     -t mqueue none /dev/mqueue)"
                    .to_owned(),
            },
            Errno::ENOENT if name == "/" => "'/' alone names no queue".to_owned(),
            Errno::ENOENT => "no queue has this name".to_owned(),
            Errno::EEXIST => "a queue with this name exists already".to_owned(),
            Errno::EMFILE => format!(
                "this user's queues use up RLIMIT_MSGQUEUE ({} bytes), or this process has no \
             descriptor left",
                msgqueue_rlimit().unwrap_or_else(|| "?".to_owned())
            ),
            Errno::ENOSPC => format!(
                "the system holds {LIMITS_DIR}/queues_max ({}) queues already",
                Limits::read().queues_max
            ),
            Errno::ENAMETOOLONG => "a queue name has at most 255 bytes after the '/'".to_owned(),
            _ => return format!("mq_open {name}: {errno}"),
        };
        format!("mq_open {name}: {errno}; {why}")
    }

    /// RLIMIT_MSGQUEUE, the bytes a user's queues may take, as `/proc/self/limits` shows it.
    fn msgqueue_rlimit() -> Option<String> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits
            .lines()
            .find(|line| line.starts_with("Max msgqueue size"))?;
        Some(line.split_whitespace().nth(3)?.to_owned())
    }

    /// The owner and mode of queue `name`, from its file in a mounted mqueue file system (any
    /// mount point; `/proc/self/mountinfo` says where), or `None` where none is mounted.
    pub fn owner_of(name: &str) -> Option<(u32, u32)> {
        let file = mqueue_mount()?.join(name.trim_start_matches('/'));
        let meta = std::fs::metadata(file).ok()?;
        Some((meta.uid(), meta.mode()))
    }

    /// Where the mqueue file system is mounted in this process's view, if anywhere.
    pub fn mqueue_mount() -> Option<PathBuf> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mounts.lines().find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mount_point = before.split_whitespace().nth(4)?;
            (after.split_whitespace().next() == Some("mqueue")).then(|| PathBuf::from(mount_point))
        })
    }

    /// The pipe between the thread that glibc starts for an `mq_notify` notification and the main
    /// thread, which `poll()`s its read end beside the stop signals. One per process.
    pub struct Notifications {
        read_end: OwnedFd,
        write_end: OwnedFd,
    }

    static NOTIFICATIONS: OnceLock<Notifications> = OnceLock::new();

    impl Notifications {
        /// The process's pipe, made on the first call (non-blocking, close-on-exec).
        pub fn get() -> Result<&'static Notifications, Failure> {
            if let Some(made) = NOTIFICATIONS.get() {
                return Ok(made);
            }
            let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
                .context("pipe2 for notifications")?;
            // A second caller racing us may win: then its pipe is the one, and ours closes here.
            let _ = NOTIFICATIONS.set(Notifications {
                read_end,
                write_end,
            });
            Ok(NOTIFICATIONS.get().expect("set just now"))
        }

        /// The end that becomes readable when a notification came.
        pub fn read_end(&self) -> BorrowedFd<'_> {
            self.read_end.as_fd()
        }

        /// How many notifications came since the last call (the bytes in the pipe, read out).
        pub fn take(&self) -> usize {
            let mut buffer = [0u8; 64];
            let mut count = 0;
            while let Ok(length @ 1..) = nix::unistd::read(&self.read_end, &mut buffer) {
                count += length;
            }
            count
        }
    }

    // ANCHOR: mq_sigevent
    /// What glibc's notification thread runs (`sigev_notify_function`): one byte into the pipe.
    /// It may not block (the pipe is non-blocking: a full pipe has a byte to wake main already).
    extern "C" fn notified(_value: libc::sigval) {
        if let Some(pipe) = NOTIFICATIONS.get() {
            let _ = nix::unistd::write(&pipe.write_end, b"!");
        }
    }

    /// glibc's `struct sigevent` with the members of its `SIGEV_THREAD` form, which libc's
    /// `sigevent` leaves out (it shows only `sigev_notify_thread_id` of that union).
    #[repr(C)]
    struct SigeventThread {
        sigev_value: libc::sigval,
        sigev_signo: libc::c_int,
        sigev_notify: libc::c_int,
        sigev_notify_function: Option<extern "C" fn(libc::sigval)>,
        sigev_notify_attributes: *mut libc::pthread_attr_t,
        _pad: [u8; SIGEVENT_PAD],
    }
    // ANCHOR_END: mq_sigevent

    const SIGEVENT_UNION: usize = std::mem::offset_of!(libc::sigevent, sigev_notify_thread_id);
    const SIGEVENT_PAD: usize =
        size_of::<libc::sigevent>() - SIGEVENT_UNION - 2 * size_of::<*const u8>();
    // The layout checks that make the cast in `mq_notify` sound: same size, union at the same place.
    const _: () = assert!(size_of::<SigeventThread>() == size_of::<libc::sigevent>());
    const _: () =
        assert!(std::mem::offset_of!(SigeventThread, sigev_notify_function) == SIGEVENT_UNION);
    const _: () = assert!(align_of::<SigeventThread>() == align_of::<libc::sigevent>());

    /// `mq_notify(3)` with `SIGEV_THREAD`: asks that the next message to arrive on the EMPTY queue
    /// start a thread that writes a byte into [`Notifications`]. One-shot: once it fires, the
    /// registration is gone and must be made again. EBUSY if a process (this one included) is
    /// registered already. No notification while another process waits in `mq_receive`: that one
    /// gets the message.
    // ANCHOR: mq_notify
    pub fn mq_notify(queue: &Queue, _wake: &Notifications) -> Result<(), Failure> {
        let request = SigeventThread {
            sigev_value: libc::sigval {
                sival_ptr: std::ptr::null_mut(),
            },
            sigev_signo: 0,
            sigev_notify: libc::SIGEV_THREAD,
            sigev_notify_function: Some(notified),
            sigev_notify_attributes: std::ptr::null_mut(),
            _pad: [0; SIGEVENT_PAD],
        };
        let mqd = std::os::fd::AsRawFd::as_raw_fd(queue.mqd());
        // SAFETY: `request` is a complete glibc `struct sigevent` for SIGEV_THREAD (size and union
        // offset checked above), alive for the call, which copies what it needs; `notified` is an
        // `extern "C"` function that lives as long as the program and never unwinds; a null
        // attributes pointer asks for default thread attributes. `mqd` is an open queue descriptor
        // (mqd_t is the descriptor on Linux).
        let result = unsafe { libc::mq_notify(mqd, (&raw const request).cast::<libc::sigevent>()) };
        // ANCHOR_END: mq_notify
        Errno::result(result).map(drop).map_err(|errno| {
            Failure::new(match errno {
                Errno::EBUSY => format!(
                    "mq_notify {}: {errno}; {} is registered for this queue's notification \
                 already, and a queue notifies one process",
                    queue.name,
                    notify_pid(queue)
                        .map_or("another process".to_owned(), |pid| format!("process {pid}"))
                ),
                _ => format!("mq_notify {}: {errno}", queue.name),
            })
        })
    }

    /// The registered process, from the status line (`NOTIFY_PID:1234`), where we may read it.
    fn notify_pid(queue: &Queue) -> Option<i32> {
        let status = queue.status().ok()?;
        let pid: i32 = status
            .split("NOTIFY_PID:")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        (pid != 0).then_some(pid)
    }

    /// A message's text for a person: its bytes as UTF-8 (invalid bytes shown as U+FFFD), without
    /// the one final NUL byte that a C sender counting `strlen + 1` adds.
    pub fn text(message: &[u8]) -> String {
        let message = message.strip_suffix(b"\0").unwrap_or(message);
        String::from_utf8_lossy(message).into_owned()
    }

    /// `what: errno` as a [`Failure`]: `mq_receive /jobs: EMSGSIZE: Message too long`.
    pub fn failed(what: impl Display, errno: Errno) -> Failure {
        Failure::new(format!("{what}: {errno}"))
    }
}

pub mod psem {
    //! Named POSIX semaphores: `sem_open`, `sem_wait`, `sem_trywait`, `sem_timedwait`, `sem_post`,
    //! `sem_getvalue`, `sem_close`, `sem_unlink`.
    //!
    //! A named semaphore is one counter (not a set), found by a name such as `/jobs-done`. glibc keeps
    //! it as a small file, `/dev/shm/sem.jobs-done`, that every opener maps; `sem_wait` and
    //! `sem_post` work on the mapping with atomic instructions and enter the kernel (futex) only to
    //! sleep or to wake a sleeper. nix has none of these calls, so they are wrapped here from libc.
    //!
    //! The wrappers turn -1 and errno into an [`Errno`] and never retry: the examples run a wait
    //! under `support`'s stop mechanism, which retries after EINTR unless a stop was requested.

    use std::ffi::CString;
    use std::ptr::NonNull;
    use std::time::Duration;

    use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering};

    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::sys::mman::{shm_open, shm_unlink};
    use nix::sys::stat::{Mode, fstat};
    use nix::unistd::ftruncate;

    /// How [`NamedSemaphore::sem_open`] finds or makes the semaphore: its `oflag`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum OpenMode {
        /// `0`: the semaphore must exist (ENOENT otherwise).
        Existing,
        /// `O_CREAT`: open it, or create it with the given value if absent.
        CreateOrOpen,
        /// `O_CREAT | O_EXCL`: create it; EEXIST if the name is taken.
        CreateNew,
    }

    /// A named semaphore opened by this process, closed (`sem_close`) on drop.
    ///
    /// Dropping it never removes the name: that is [`sem_unlink`], which the creator calls.
    #[derive(Debug)]
    pub struct NamedSemaphore {
        sem: NonNull<libc::sem_t>,
        name: String,
    }

    // SAFETY: a `sem_t` is made to be used from many threads and processes at once; every operation
    // on it is atomic, and the pointer stays valid until `sem_close` in `drop`.
    unsafe impl Send for NamedSemaphore {}
    // SAFETY: as for Send: `sem_wait`, `sem_post` and `sem_getvalue` take the semaphore by pointer
    // and synchronise among themselves.
    unsafe impl Sync for NamedSemaphore {}

    /// The name as a C string; a name with a NUL byte is EINVAL, as the kernel would say for a
    /// malformed name.
    fn c_name(name: &str) -> Result<CString, Errno> {
        CString::new(name).map_err(|_| Errno::EINVAL)
    }

    impl NamedSemaphore {
        /// `sem_open(3)`: opens the semaphore called `name` (`/something`, no other `/`), creating
        /// it with `mode` (e.g. 0o600) and `value` when `how` allows.
        ///
        /// Errors: ENOENT (no such name, [`OpenMode::Existing`]), EEXIST
        /// ([`OpenMode::CreateNew`]), EACCES (the file's mode refuses us), EINVAL (a bad name, or
        /// `value` over SEM_VALUE_MAX).
        pub fn sem_open(name: &str, how: OpenMode, mode: u32, value: u32) -> Result<Self, Errno> {
            let c = c_name(name)?;
            let oflag = match how {
                OpenMode::Existing => 0,
                OpenMode::CreateOrOpen => libc::O_CREAT,
                OpenMode::CreateNew => libc::O_CREAT | libc::O_EXCL,
            };
            // SAFETY: `c` is a NUL-terminated string that outlives the call; with O_CREAT the two
            // variadic arguments are the mode_t and unsigned int that sem_open(3) reads (passed
            // promoted to c_uint, as C's default argument promotions would).
            let sem = unsafe { libc::sem_open(c.as_ptr(), oflag, mode as libc::c_uint, value) };
            if sem == libc::SEM_FAILED {
                return Err(Errno::last());
            }
            let sem = NonNull::new(sem).ok_or(Errno::EINVAL)?;
            Ok(Self {
                sem,
                name: name.to_owned(),
            })
        }

        /// The name it was opened by.
        pub fn name(&self) -> &str {
            &self.name
        }

        /// `sem_wait(3)`, P: takes one unit, sleeping while the value is 0. EINTR when a signal
        /// handler ran (never restarted, whatever SA_RESTART says).
        pub fn sem_wait(&self) -> Result<(), Errno> {
            // SAFETY: `self.sem` came from a successful sem_open and is not closed until drop.
            Errno::result(unsafe { libc::sem_wait(self.sem.as_ptr()) }).map(drop)
        }

        /// `sem_trywait(3)`: takes one unit if the value is above 0, else EAGAIN at once.
        pub fn sem_trywait(&self) -> Result<(), Errno> {
            // SAFETY: as in `sem_wait`.
            Errno::result(unsafe { libc::sem_trywait(self.sem.as_ptr()) }).map(drop)
        }

        /// `sem_timedwait(3)`: like [`sem_wait`](Self::sem_wait), but ETIMEDOUT after `timeout`.
        ///
        /// The deadline is absolute and on CLOCK_REALTIME, as POSIX specifies: if the wall clock is
        /// set forward meanwhile, the wait ends early.
        pub fn sem_timedwait(&self, timeout: Duration) -> Result<(), Errno> {
            let deadline = realtime_deadline(timeout)?;
            // SAFETY: as in `sem_wait`; `deadline` is a valid timespec that the call only reads.
            Errno::result(unsafe { libc::sem_timedwait(self.sem.as_ptr(), deadline.as_ref()) })
                .map(drop)
        }

        /// `sem_post(3)`, V: adds one unit and wakes one sleeper. EOVERFLOW at SEM_VALUE_MAX.
        pub fn sem_post(&self) -> Result<(), Errno> {
            // SAFETY: as in `sem_wait`.
            Errno::result(unsafe { libc::sem_post(self.sem.as_ptr()) }).map(drop)
        }

        /// `sem_getvalue(3)`: the value now (glibc never reports waiters as a negative value).
        pub fn sem_getvalue(&self) -> Result<i32, Errno> {
            let mut value: libc::c_int = 0;
            // SAFETY: as in `sem_wait`; `value` is a valid int to write to.
            Errno::result(unsafe { libc::sem_getvalue(self.sem.as_ptr(), &mut value) })?;
            Ok(value)
        }
    }

    impl Drop for NamedSemaphore {
        /// `sem_close(3)`: unmaps this process's view. The semaphore and its name stay.
        fn drop(&mut self) {
            // SAFETY: `self.sem` came from sem_open and is closed exactly once, here.
            unsafe { libc::sem_close(self.sem.as_ptr()) };
        }
    }

    /// The moment `timeout` from now on CLOCK_REALTIME: `sem_timedwait` and
    /// `pthread_mutex_timedlock` take an absolute deadline on that clock, as POSIX specifies, so a
    /// wall clock set forward meanwhile ends the wait early.
    pub fn realtime_deadline(timeout: Duration) -> Result<nix::sys::time::TimeSpec, Errno> {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)?;
        Ok(now + nix::sys::time::TimeSpec::from_duration(timeout))
    }

    /// `sem_unlink(3)`: removes the name at once. Processes that have it open keep using it; the
    /// semaphore goes when the last one closes it. ENOENT if there is no such name.
    pub fn sem_unlink(name: &str) -> Result<(), Errno> {
        let c = c_name(name)?;
        // SAFETY: `c` is a NUL-terminated string that outlives the call.
        Errno::result(unsafe { libc::sem_unlink(c.as_ptr()) }).map(drop)
    }

    /// The file glibc keeps a named semaphore in: `/dev/shm/sem.NAME` for `/NAME`. Its owner and
    /// mode are the semaphore's, which is how an EACCES line can name the owner.
    pub fn sem_file(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/dev/shm/sem.{}", name.trim_start_matches('/')))
    }

    /// `sizeof(sem_t)`: the size of every file glibc makes for a named semaphore (32 bytes on
    /// x86_64 and arm64).
    pub const SEM_FILE_SIZE: u64 = std::mem::size_of::<libc::sem_t>() as u64;

    /// The largest value a semaphore may hold (`SEM_VALUE_MAX`, INT_MAX on Linux): a `sem_post`
    /// beyond it fails with EOVERFLOW, a `sem_open` asking for more with EINVAL.
    pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

    /// Why the file at `/dev/shm/sem.NAME` is not a semaphore that glibc made, or `None` if it
    /// looks like one (or cannot be read: then `sem_open` gives the errno itself).
    ///
    /// glibc's `sem_open` of an existing name opens the file and maps `sizeof(sem_t)` bytes of it,
    /// whatever the file holds: a 0-byte file maps, and the first `sem_wait` or `sem_getvalue` then
    /// dies of SIGBUS; 32 bytes of garbage give a value of garbage (negative, even). So a careful
    /// opener looks first: the size, the value within 0..=SEM_VALUE_MAX, and (64-bit glibc) the
    /// word glibc writes after the counter, FUTEX_SHARED (128). Someone could still change the file
    /// between this look and `sem_open`; this catches mistakes, not an attacker who owns the name.
    pub fn sem_file_problem(name: &str) -> Option<String> {
        let path = sem_file(name);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.file_type().is_file() {
            return Some(format!("{} is not a regular file", path.display()));
        }
        if meta.len() != SEM_FILE_SIZE {
            return Some(format!(
                "{} holds {} bytes, not the {SEM_FILE_SIZE} of a sem_t: it is not a semaphore",
                path.display(),
                meta.len()
            ));
        }
        let bytes = std::fs::read(&path).ok()?;
        let word = |at: usize| {
            u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        if bytes.len() as u64 != SEM_FILE_SIZE {
            return None; // changed meanwhile: sem_open and the next look will tell
        }
        if word(0) > SEM_VALUE_MAX {
            return Some(format!(
                "{} holds a value of {}, over SEM_VALUE_MAX: it is not a semaphore",
                path.display(),
                word(0)
            ));
        }
        if cfg!(all(target_env = "gnu", target_pointer_width = "64")) && word(8) != 128 {
            return Some(format!(
                "{} lacks the FUTEX_SHARED word that glibc writes into a named semaphore: it is not \
             one",
                path.display()
            ));
        }
        None
    }

    /// The semaphore's file in words, for `psem show` and an EACCES line:
    /// `/dev/shm/sem.x: 32 bytes, owner uid 0 (root), mode 0600`. `None` if it is not there.
    pub fn describe_sem_file(name: &str) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let path = sem_file(name);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        let uid = meta.uid();
        // The user's name from /etc/passwd (name:x:uid:...), when it has one.
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let user = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.get(2) == Some(&uid.to_string().as_str()))
            .map(|fields| format!(" ({})", fields[0]))
            .unwrap_or_default();
        Some(format!(
            "{}: {} bytes, owner uid {uid}{user}, mode {:04o}",
            path.display(),
            meta.len(),
            meta.mode() & 0o7777
        ))
    }

    /// The name of a semaphore this process created: [`sem_unlink`] when it is dropped, so that an
    /// error or a stop on the way never leaves the semaphore behind. [`keep`](Self::keep) leaves it
    /// for others (`psem create`).
    #[derive(Debug)]
    pub struct Unlinker {
        name: Option<String>,
    }

    impl Unlinker {
        /// Takes charge of `name`, which this process has just created.
        pub fn new(name: &str) -> Self {
            Self {
                name: Some(name.to_owned()),
            }
        }

        /// [`sem_unlink`] now, with its error.
        pub fn sem_unlink(mut self) -> Result<(), Errno> {
            match self.name.take() {
                Some(name) => sem_unlink(&name),
                None => Ok(()),
            }
        }

        /// Leaves the semaphore under its name.
        pub fn keep(mut self) {
            self.name = None;
        }
    }

    impl Drop for Unlinker {
        fn drop(&mut self) {
            if let Some(name) = self.name.take() {
                let _ = sem_unlink(&name);
            }
        }
    }

    /// A robust, process-shared pthread mutex and the data it guards, in a `shm_open` object:
    /// the layout `robust_mutex` maps. Everything another process may write is an atomic or sits in
    /// an `UnsafeCell`, never behind a plain reference.
    #[repr(C)]
    struct Record {
        mutex: std::cell::UnsafeCell<libc::pthread_mutex_t>,
        /// [`RECORD_READY`] once the creator has initialised the mutex (Release); 0 before.
        ready: AtomicU32,
        /// Who locked it last, written by each locker: a pthread mutex does not tell.
        holder: AtomicI32,
        /// The journal: units taken from A and not yet given to B; 0 between moves.
        in_flight: AtomicI64,
        /// The two accounts the mutex guards; A + B is always [`TOTAL`] between moves.
        accounts: [AtomicI64; 2],
    }

    /// The units in the two accounts of a [`RobustMutex`] object, together.
    pub const TOTAL: i64 = 100;

    /// What `ready` holds once the mutex is initialised ("RBST").
    const RECORD_READY: u32 = u32::from_be_bytes(*b"RBST");

    /// How [`RobustMutex::pthread_mutex_timedlock`] got the lock.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Locked {
        /// The previous holder unlocked it: the data is as it left it.
        Clean,
        /// EOWNERDEAD: the previous holder died holding it. We hold it now, but the data may be
        /// half-updated; repair it, then [`RobustMutex::pthread_mutex_consistent`], or the mutex
        /// becomes unusable (ENOTRECOVERABLE) at the next unlock.
        OwnerDied,
    }

    /// Why [`RobustMutex::open`] refused a name.
    #[derive(Debug)]
    pub enum OpenError {
        /// A call failed (ENOENT: no such object, EACCES: its mode refuses us).
        Errno(&'static str, Errno),
        /// Something is at the name, but not what [`RobustMutex::create`] makes: left alone.
        WrongShape(String),
    }

    /// A robust process-shared mutex in a shared mapping: `shm_open`, `ftruncate`, `mmap`, then
    /// `pthread_mutex_init` with PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST. The mapping goes
    /// (`munmap`) on drop; the name is unlinked on drop only by the process that created it, unless
    /// it called [`keep`](Self::keep).
    #[derive(Debug)]
    pub struct RobustMutex {
        mapping: crate::pshm::Mapping,
        name: String,
        unlink_on_drop: bool,
    }

    // SAFETY: `Record` is #[repr(C)], any bytes are a value of it (atomics, and a mutex that only
    // pthread_mutex_* reads, after `ready`), and every field is reached through atomics or those
    // functions, never a plain reference; a pthread mutex is made for many threads and processes.
    unsafe impl crate::pshm::Shared for Record {}
    // SAFETY: as for Shared: `Record` holds only atomics and the mutex, which synchronise themselves.
    unsafe impl Sync for Record {}

    const RECORD_SIZE: usize = std::mem::size_of::<Record>();

    impl RobustMutex {
        /// Creates the object `name` (`shm_open` with O_CREAT | O_EXCL and `mode`), sizes it
        /// (`ftruncate`), maps it (`mmap` MAP_SHARED), initialises the mutex in place, once, with
        /// the `pthread_mutexattr_setpshared` and `pthread_mutexattr_setrobust` attributes, puts
        /// [`TOTAL`] units in account A, and publishes it as ready.
        pub fn create(name: &str, mode: u32) -> Result<Self, (&'static str, Errno)> {
            let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
            let mode = Mode::from_bits_truncate(mode as libc::mode_t);
            let fd = shm_open(name, flags, mode).map_err(|e| ("shm_open", e))?;
            let undo = |what| {
                move |errno| {
                    let _ = shm_unlink(name);
                    (what, errno)
                }
            };
            ftruncate(&fd, RECORD_SIZE as libc::off_t).map_err(undo("ftruncate"))?;
            let mapping =
                crate::pshm::Mapping::map_shared(std::os::fd::AsFd::as_fd(&fd), RECORD_SIZE, true);
            let mut made = Self {
                mapping: mapping.map_err(undo("mmap"))?,
                name: name.to_owned(),
                unlink_on_drop: true, // from here on, an error drops `made`, which unlinks
            };
            made.init_mutex()?;
            let record = made.record();
            record.accounts[0].store(TOTAL, Ordering::Relaxed);
            record.ready.store(RECORD_READY, Ordering::Release);
            Ok(made)
        }

        fn init_mutex(&mut self) -> Result<(), (&'static str, Errno)> {
            let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            let check = |what, rc: libc::c_int| match rc {
                0 => Ok(()),
                rc => Err((what, Errno::from_raw(rc))),
            };
            // SAFETY: `attr` is initialised by pthread_mutexattr_init before any other use, and
            // destroyed once at the end; the mutex lies in our live mapping, 8-aligned (mmap gives
            // a page), and is initialised here once, before `ready` tells anyone it may be used.
            unsafe {
                check(
                    "pthread_mutexattr_init",
                    libc::pthread_mutexattr_init(attr.as_mut_ptr()),
                )?;
                let set = check(
                    "pthread_mutexattr_setpshared",
                    libc::pthread_mutexattr_setpshared(
                        attr.as_mut_ptr(),
                        libc::PTHREAD_PROCESS_SHARED,
                    ),
                )
                .and_then(|()| {
                    check(
                        "pthread_mutexattr_setrobust",
                        libc::pthread_mutexattr_setrobust(
                            attr.as_mut_ptr(),
                            libc::PTHREAD_MUTEX_ROBUST,
                        ),
                    )
                })
                .and_then(|()| {
                    check(
                        "pthread_mutex_init",
                        libc::pthread_mutex_init(self.mutex(), attr.as_ptr()),
                    )
                });
                libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
                set
            }
        }

        /// Opens the object `name` that [`create`](Self::create) made (`shm_open` O_RDWR, `fstat`,
        /// `mmap`). Something else at the name (another size, not initialised) is refused and left.
        pub fn open(name: &str) -> Result<Self, OpenError> {
            let fd = shm_open(name, OFlag::O_RDWR, Mode::empty())
                .map_err(|e| OpenError::Errno("shm_open", e))?;
            let size = fstat(&fd)
                .map_err(|e| OpenError::Errno("fstat", e))?
                .st_size;
            if size != RECORD_SIZE as libc::off_t {
                return Err(OpenError::WrongShape(format!(
                    "/dev/shm{name} holds {size} bytes, not the {RECORD_SIZE} of a robust_mutex \
                 record"
                )));
            }
            let mapping =
                crate::pshm::Mapping::map_shared(std::os::fd::AsFd::as_fd(&fd), RECORD_SIZE, true);
            let opened = Self {
                mapping: mapping.map_err(|e| OpenError::Errno("mmap", e))?,
                name: name.to_owned(),
                unlink_on_drop: false,
            };
            if opened.record().ready.load(Ordering::Acquire) != RECORD_READY {
                return Err(OpenError::WrongShape(format!(
                    "/dev/shm{name} has the right size but no initialised mutex: not made by \
                 robust_mutex, or its creator is still at work"
                )));
            }
            Ok(opened)
        }

        fn record(&self) -> &Record {
            self.mapping
                .view::<Record>()
                .expect("the mapping is RECORD_SIZE bytes, made so by create and open")
        }

        fn mutex(&self) -> *mut libc::pthread_mutex_t {
            self.record().mutex.get()
        }

        /// The object's name.
        pub fn name(&self) -> &str {
            &self.name
        }

        /// Account A (0) or B (1).
        pub fn account(&self, which: usize) -> &AtomicI64 {
            &self.record().accounts[which]
        }

        /// The journal: units taken from A and not yet given to B.
        pub fn in_flight(&self) -> &AtomicI64 {
            &self.record().in_flight
        }

        /// The pid that locked it last (each locker writes its own).
        pub fn holder(&self) -> &AtomicI32 {
            &self.record().holder
        }

        /// `pthread_mutex_timedlock(3)`: takes the mutex, waiting at most `timeout`
        /// (ETIMEDOUT after it). [`Locked::OwnerDied`] is EOWNERDEAD: the lock is ours, the data
        /// suspect. ENOTRECOVERABLE: a previous recoverer unlocked without making it consistent.
        ///
        /// Why timed: `pthread_mutex_lock` never returns EINTR (glibc waits again after a signal),
        /// so a caller that must stop on Ctrl-C waits in slices and checks between them.
        pub fn pthread_mutex_timedlock(&self, timeout: Duration) -> Result<Locked, Errno> {
            let deadline = realtime_deadline(timeout)?;
            // SAFETY: the mutex was initialised by the creator before `ready` (checked at open) and
            // lives in our mapping until drop; `deadline` is a valid timespec for the call.
            match unsafe { libc::pthread_mutex_timedlock(self.mutex(), deadline.as_ref()) } {
                0 => Ok(Locked::Clean),
                libc::EOWNERDEAD => Ok(Locked::OwnerDied),
                rc => Err(Errno::from_raw(rc)),
            }
        }

        /// `pthread_mutex_consistent(3)`: after EOWNERDEAD and the repair, marks the mutex usable
        /// again. Only its holder may call it (EINVAL otherwise).
        pub fn pthread_mutex_consistent(&self) -> Result<(), Errno> {
            // SAFETY: as in `pthread_mutex_timedlock`.
            match unsafe { libc::pthread_mutex_consistent(self.mutex()) } {
                0 => Ok(()),
                rc => Err(Errno::from_raw(rc)),
            }
        }

        /// `pthread_mutex_unlock(3)`. After EOWNERDEAD without `pthread_mutex_consistent`, this
        /// unlock makes the mutex unusable for good: every later lock gets ENOTRECOVERABLE.
        pub fn pthread_mutex_unlock(&self) -> Result<(), Errno> {
            // SAFETY: as in `pthread_mutex_timedlock`.
            match unsafe { libc::pthread_mutex_unlock(self.mutex()) } {
                0 => Ok(()),
                rc => Err(Errno::from_raw(rc)),
            }
        }

        /// Leaves the object under its name when this handle goes.
        pub fn keep(mut self) {
            self.unlink_on_drop = false;
        }

        /// `shm_unlink(3)` of a robust_mutex object: the name goes at once, the memory when the last
        /// mapping does.
        pub fn shm_unlink(name: &str) -> Result<(), Errno> {
            shm_unlink(name)
        }
    }

    impl Drop for RobustMutex {
        /// Unlinks the name if this handle created it (and was not told to keep it); the mapping
        /// goes with `self.mapping`.
        fn drop(&mut self) {
            if self.unlink_on_drop {
                let _ = shm_unlink(self.name.as_str());
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn unique(tag: &str) -> String {
            format!("/ipc-labs-test-{tag}-{}", std::process::id())
        }

        #[test]
        fn post_wait_and_value_through_two_handles() {
            let name = unique("pv");
            let creator = NamedSemaphore::sem_open(&name, OpenMode::CreateNew, 0o600, 1).unwrap();
            let other = NamedSemaphore::sem_open(&name, OpenMode::Existing, 0, 0).unwrap();
            assert_eq!(
                NamedSemaphore::sem_open(&name, OpenMode::CreateNew, 0o600, 0).unwrap_err(),
                Errno::EEXIST
            );
            other.sem_wait().unwrap();
            assert_eq!(creator.sem_getvalue().unwrap(), 0);
            assert_eq!(other.sem_trywait().unwrap_err(), Errno::EAGAIN);
            assert_eq!(
                other.sem_timedwait(Duration::from_millis(1)).unwrap_err(),
                Errno::ETIMEDOUT
            );
            creator.sem_post().unwrap();
            assert_eq!(other.sem_getvalue().unwrap(), 1);
            assert!(sem_file(&name).exists());
            sem_unlink(&name).unwrap();
            assert!(!sem_file(&name).exists());
            // Unlinked, yet still usable by whoever has it open.
            other.sem_wait().unwrap();
            assert_eq!(sem_unlink(&name).unwrap_err(), Errno::ENOENT);
        }

        #[test]
        fn a_missing_name_and_a_bad_name() {
            let name = unique("missing");
            assert_eq!(
                NamedSemaphore::sem_open(&name, OpenMode::Existing, 0, 0).unwrap_err(),
                Errno::ENOENT
            );
            assert_eq!(
                NamedSemaphore::sem_open("/a\0b", OpenMode::Existing, 0, 0).unwrap_err(),
                Errno::EINVAL
            );
        }
    }
}

pub mod pshm {
    //! POSIX shared memory (`shm_open`), unnamed semaphores inside it (`sem_init` with pshared = 1),
    //! and memory with no name at all (`memfd_create`), passed over a Unix socket.
    //!
    //! A `shm_open` object is a file in `/dev/shm` (a tmpfs): `ftruncate` gives it a size, `mmap`
    //! with `MAP_SHARED` maps its pages, and every process that maps it sees the same pages.
    //! `shm_unlink` removes the name at once; the pages go when the last mapping and descriptor do.
    //!
    //! Rust and memory another process writes: no `&u8` or `&mut` into a mapping, ever. A
    //! [`Mapping`] is seen as atomic bytes ([`Mapping::bytes`]) or as a `#[repr(C)]` struct made of
    //! atomics and semaphores ([`Mapping::view`], for types that are [`Shared`]). A [`Semaphore`] is a
    //! `sem_t` that only glibc's `sem_*` functions touch, through a raw pointer.
    //!
    //! Nothing here prints. Errors are [`Failure`]s that name the call, the object and the errno:
    //! `shm_open /jobs: ENOENT: No such file or directory`.

    use std::cell::UnsafeCell;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
    use std::time::Duration;

    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    use support::cli::{Context, Failure};
    use support::stop::{Stop, StopContext, Stopped};

    /// Checks a name for `shm_open`: one leading `/`, no other, 2 to 255 bytes (shm_overview(7)).
    /// For clap's `value_parser`.
    pub fn parse_name(text: &str) -> Result<String, String> {
        let ok = text.len() > 1 && text.len() <= 255 && text.starts_with('/');
        if ok && !text[1..].contains('/') && !text.contains('\0') {
            return Ok(text.to_owned());
        }
        Err(format!(
            "{text:?} is not a POSIX IPC name: one leading '/', no other, at most 255 bytes \
         (shm_overview(7))"
        ))
    }

    /// Where a `shm_open` object lives on Linux: `/dev/shm/NAME` (glibc opens that file).
    pub fn dev_shm_path(name: &str) -> std::path::PathBuf {
        std::path::Path::new("/dev/shm").join(name.trim_start_matches('/'))
    }

    /// `shm_open(3)`: opens (or with `O_CREAT`, creates) the shared memory object `name`. A new
    /// object has size 0 and mode `mode` (less the umask).
    pub fn shm_open(name: &str, flags: OFlag, mode: u32) -> Result<OwnedFd, Failure> {
        let mode = Mode::from_bits_truncate(mode);
        nix::sys::mman::shm_open(name, flags, mode).map_err(|errno| {
            let why = match errno {
                Errno::EACCES => owner_of(name).unwrap_or_default(),
                Errno::ENOENT => " (no object has this name)".to_owned(),
                Errno::EEXIST => " (an object has this name already)".to_owned(),
                _ => String::new(),
            };
            Failure::new(format!("shm_open {name}: {errno}{why}"))
        })
    }

    /// `shm_open(3)` with `O_CREAT | O_EXCL | O_RDWR`: creates `name`, or `Ok(None)` when an object
    /// has this name already (EEXIST), so that exactly one of two processes that race creates it.
    pub fn shm_open_excl(name: &str, mode: u32) -> Result<Option<OwnedFd>, Failure> {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
        match nix::sys::mman::shm_open(name, flags, Mode::from_bits_truncate(mode)) {
            Err(Errno::EEXIST) => Ok(None),
            Err(_) => shm_open(name, flags, mode).map(Some), // the same call, for its error line
            Ok(fd) => Ok(Some(fd)),
        }
    }

    /// `shm_unlink(3)`: removes the name; processes that have it open or mapped keep it.
    pub fn shm_unlink(name: &str) -> Result<(), Failure> {
        nix::sys::mman::shm_unlink(name).context(format!("shm_unlink {name}"))
    }

    /// `ftruncate(2)`: sets the object's size; new bytes read as zero.
    pub fn ftruncate(fd: BorrowedFd<'_>, len: usize) -> Result<(), Failure> {
        let len = libc::off_t::try_from(len).unwrap_or(libc::off_t::MAX);
        nix::unistd::ftruncate(fd, len).context(format!("ftruncate to {len} bytes"))
    }

    /// What `ls -l /dev/shm/NAME` would say, in short: `/dev/shm/NAME: 4096 bytes, mode 0600,
    /// uid 0`, or `/dev/shm/NAME: no such file`.
    pub fn dev_shm_line(name: &str) -> String {
        use std::os::unix::fs::MetadataExt;
        let path = dev_shm_path(name);
        match std::fs::metadata(&path) {
            Ok(meta) => format!(
                "{}: {} bytes, mode {:04o}, uid {}",
                path.display(),
                meta.size(),
                meta.mode() & 0o7777,
                meta.uid()
            ),
            Err(_) => format!("{}: no such file", path.display()),
        }
    }

    /// " (owned by uid U, mode 0MMM)" for the object `name`, for an EACCES line.
    fn owner_of(name: &str) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(dev_shm_path(name)).ok()?;
        Some(format!(
            " (owned by uid {}, mode {:04o})",
            meta.uid(),
            meta.mode() & 0o7777
        ))
    }

    /// What `fstat(2)` says about an open object: its size, owner and mode.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Stat {
        /// Bytes (`st_size`).
        pub size: usize,
        /// Owner (`st_uid`).
        pub uid: u32,
        /// Permission bits.
        pub mode: u32,
        /// Device and inode: which object this is, whatever name it has now.
        pub id: (u64, u64),
    }

    /// `fstat(2)` on an open shared memory object or memfd.
    pub fn fstat(fd: BorrowedFd<'_>) -> Result<Stat, Failure> {
        let st = nix::sys::stat::fstat(fd).context("fstat")?;
        Ok(Stat {
            size: usize::try_from(st.st_size).unwrap_or(0),
            uid: st.st_uid,
            mode: st.st_mode & 0o7777,
            id: (st.st_dev, st.st_ino),
        })
    }

    /// A struct that may be seen in shared memory through [`Mapping::view`].
    ///
    /// # Safety
    /// The type is `#[repr(C)]`, every byte pattern is a valid value, and every field is reached
    /// only through atomic operations or glibc's `sem_*` and `pthread_mutex_*` functions (atomics,
    /// [`Semaphore`]s, a mutex in an `UnsafeCell`, and arrays of them), so another process may
    /// write it at any time.
    pub unsafe trait Shared: Sized + Sync {}

    /// A region mapped with `mmap(2)`; unmapped (`munmap(2)`) when dropped.
    #[derive(Debug)]
    pub struct Mapping {
        addr: NonNull<u8>,
        len: usize,
    }

    /// `mmap(2)` with `MAP_SHARED`: maps the first `len` bytes of `fd` read-write (or read-only),
    /// at an address the kernel picks. Refused when the object is shorter than `len`: touching a
    /// page past its end would kill this process with SIGBUS.
    pub fn mmap(fd: BorrowedFd<'_>, len: usize, writable: bool) -> Result<Mapping, Failure> {
        let size = fstat(fd)?.size;
        if size < len {
            let why = format!("the object has {size} bytes, fewer than the {len} to map");
            return Err(Failure::new(format!("mmap: refused: {why}")));
        }
        Mapping::map_shared(fd, len, writable).context(format!("mmap {len} bytes MAP_SHARED"))
    }

    impl Mapping {
        /// The `mmap(2)` call itself, `MAP_SHARED`, for a caller that has checked (`fstat`) or set
        /// (`ftruncate`) the object's size: a page past its end would raise SIGBUS when touched.
        /// EINVAL for 0 bytes.
        pub fn map_shared(
            fd: BorrowedFd<'_>,
            len: usize,
            writable: bool,
        ) -> Result<Mapping, Errno> {
            use nix::sys::mman::{MapFlags, ProtFlags};
            let length = std::num::NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
            let mut protection = ProtFlags::PROT_READ;
            if writable {
                protection |= ProtFlags::PROT_WRITE;
            }
            // SAFETY: no address is given, so the kernel picks a free range and the mapping
            // replaces nothing of ours; the mapping is reached only through atomics, sem_* and
            // pthread_mutex_* (`bytes`, `view`), never `&u8`.
            let addr = unsafe {
                nix::sys::mman::mmap(None, length, protection, MapFlags::MAP_SHARED, fd, 0)
            }?;
            Ok(Mapping {
                addr: addr.cast(),
                len,
            })
        }
    }

    impl Mapping {
        /// The address the kernel picked, as a number (it differs from process to process).
        pub fn addr(&self) -> usize {
            self.addr.as_ptr() as usize
        }

        /// How many bytes are mapped.
        pub fn len(&self) -> usize {
            self.len
        }

        /// Whether nothing is mapped (never: `mmap` refuses 0 bytes).
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        /// The mapping as atomic bytes. In a read-only mapping, load them only.
        pub fn bytes(&self) -> &[AtomicU8] {
            // SAFETY: `len` bytes are mapped as long as `self` lives; AtomicU8 has the size and
            // alignment of u8, every value is valid, and access is atomic only.
            unsafe { std::slice::from_raw_parts(self.addr.cast::<AtomicU8>().as_ptr(), self.len) }
        }

        /// The mapping seen as a `T`: refused if it is smaller than the struct.
        pub fn view<T: Shared>(&self) -> Result<&T, Failure> {
            let wanted = size_of::<T>();
            if self.len < wanted {
                let why = format!("{} bytes mapped, the struct needs {wanted}", self.len);
                return Err(Failure::new(format!("view: refused: {why}")));
            }
            // SAFETY: the mapping holds size_of::<T>() bytes, is page-aligned (enough for any T),
            // and lives as long as `self`; T is `Shared`: every byte pattern is valid, and every
            // access is atomic or through sem_*, so other processes may write it meanwhile.
            Ok(unsafe { self.addr.cast::<T>().as_ref() })
        }

        /// `munmap(2)`, saying whether it worked (dropping the mapping does the same silently).
        pub fn munmap(self) -> Result<(), Failure> {
            let this = std::mem::ManuallyDrop::new(self);
            // SAFETY: `addr` and `len` are what mmap returned and was asked; `self` is consumed,
            // and no borrow of the mapping (bytes, view) can outlive it.
            unsafe { nix::sys::mman::munmap(this.addr.cast(), this.len) }.context("munmap")
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: as in `munmap`: what mmap returned, and no borrow outlives `self`.
            let _ = unsafe { nix::sys::mman::munmap(self.addr.cast(), self.len) };
        }
    }

    /// Copies `data` into `field` with relaxed atomic stores; returns how many bytes fitted.
    pub fn store_bytes(field: &[AtomicU8], data: &[u8]) -> usize {
        for (cell, &byte) in field.iter().zip(data) {
            cell.store(byte, Ordering::Relaxed);
        }
        data.len().min(field.len())
    }

    /// The first `count` bytes of `field` (at most all of it), with relaxed atomic loads.
    pub fn load_bytes(field: &[AtomicU8], count: usize) -> Vec<u8> {
        field
            .iter()
            .take(count)
            .map(|cell| cell.load(Ordering::Relaxed))
            .collect()
    }

    /// The bytes of `field` up to its first NUL (or all of it), with relaxed atomic loads.
    pub fn load_c_string(field: &[AtomicU8]) -> Vec<u8> {
        field
            .iter()
            .map(|cell| cell.load(Ordering::Relaxed))
            .take_while(|&byte| byte != 0)
            .collect()
    }

    /// An unnamed POSIX semaphore: a `sem_t` that lives inside shared memory (sem_overview(7)).
    /// Only glibc's `sem_*` functions touch it, through a raw pointer.
    #[repr(transparent)]
    pub struct Semaphore(UnsafeCell<libc::sem_t>);

    // SAFETY: the sem_* functions are made to be called on one sem_t from many threads and
    // processes at once; the cell is never read or written by Rust code.
    unsafe impl Sync for Semaphore {}

    /// How long one [`Semaphore::sem_timedwait`] slice of [`Semaphore::sem_wait_watching`] lasts: a
    /// peer that died is noticed within it.
    pub const WATCH_SLICE: Duration = Duration::from_millis(100);

    impl Semaphore {
        fn ptr(&self) -> *mut libc::sem_t {
            self.0.get()
        }

        /// `sem_init(3)` with pshared = 1: the semaphore works across processes that map it, and
        /// starts at `value`. Once, by the process that created the memory, before any other may
        /// use it: sem_init on a semaphore in use is undefined (POSIX).
        pub fn sem_init(&self, value: u32) -> Result<(), Failure> {
            // SAFETY: the pointer is to a sem_t-sized, aligned cell of a live mapping; sem_init
            // writes only inside it.
            let done = unsafe { libc::sem_init(self.ptr(), 1, value) };
            Errno::result(done).map(drop).context("sem_init")
        }

        /// `sem_post(3)`: adds 1, waking one waiter.
        pub fn sem_post(&self) -> Result<(), Failure> {
            // SAFETY: as in `sem_init`; sem_post changes the value atomically.
            let done = unsafe { libc::sem_post(self.ptr()) };
            Errno::result(done).map(drop).context("sem_post")
        }

        /// `sem_getvalue(3)`: the value now (it may change right after).
        pub fn sem_getvalue(&self) -> Result<i32, Failure> {
            let mut value = 0;
            // SAFETY: as in `sem_init`; `value` is a valid int for the call to fill.
            let done = unsafe { libc::sem_getvalue(self.ptr(), &mut value) };
            Errno::result(done).map(|_| value).context("sem_getvalue")
        }

        /// `sem_destroy(3)`: the semaphore is done with (nobody may wait on it any more).
        pub fn sem_destroy(&self) -> Result<(), Failure> {
            // SAFETY: as in `sem_init`.
            let done = unsafe { libc::sem_destroy(self.ptr()) };
            Errno::result(done).map(drop).context("sem_destroy")
        }

        /// `sem_trywait(3)`: takes 1 if the value is above 0 (`Ok(true)`), without waiting.
        pub fn sem_trywait(&self) -> Result<bool, Failure> {
            // SAFETY: as in `sem_init`.
            let done = unsafe { libc::sem_trywait(self.ptr()) };
            match Errno::result(done) {
                Ok(_) => Ok(true),
                Err(Errno::EAGAIN) => Ok(false),
                Err(errno) => Err(errno).context("sem_trywait"),
            }
        }

        /// `sem_timedwait(3)`: takes 1, waiting at most `timeout` while the value is 0. `Ok(false)`:
        /// the time passed. A signal handler ends the wait with EINTR: the kernel never restarts a
        /// timed futex wait, `SA_RESTART` or not (`sem_wait` it would restart; signal(7)).
        pub fn sem_timedwait(&self, timeout: Duration) -> Result<bool, Errno> {
            let deadline = crate::psem::realtime_deadline(timeout)?;
            // SAFETY: as in `sem_init`; `deadline` is a valid timespec the call only reads.
            let done = unsafe { libc::sem_timedwait(self.ptr(), deadline.as_ref()) };
            match Errno::result(done) {
                Ok(_) => Ok(true),
                Err(Errno::ETIMEDOUT) => Ok(false),
                Err(errno) => Err(errno),
            }
        }

        // ANCHOR: sem_wait_watching
        /// A `sem_wait(3)` that a stop signal ends and that a dead peer ends: `sem_timedwait` in
        /// slices of [`WATCH_SLICE`], asking `still_there()` after each slice that passed.
        pub fn sem_wait_watching(
            &self,
            stop: &Stop,
            mut still_there: impl FnMut() -> Result<(), Failure>,
        ) -> Result<(), Stopped> {
            loop {
                // EINTR is retried after the stop check: a stop signal ends the wait at once.
                let taken = stop.retry(|| self.sem_timedwait(WATCH_SLICE));
                if taken.context("sem_timedwait")? {
                    return Ok(());
                }
                if let Err(gone) = still_there() {
                    // A peer may post and then leave: what it posted is still ours to take.
                    return match self.sem_trywait()? {
                        true => Ok(()),
                        false => Err(Stopped::Failed(gone)),
                    };
                }
            }
        }
        // ANCHOR_END: sem_wait_watching
    }

    /// The longest piece of a line that one turn carries; a longer line goes in several.
    pub const TEXT_MAX: usize = 2048;

    /// `ready` holds this once the creator has initialised everything ("PSHM" in ASCII).
    pub const MAGIC: u32 = 0x5053_484d;

    // ANCHOR: channel
    /// The segment of `pshm_writer` and `pshm_reader`: two unnamed semaphores and a buffer.
    ///
    /// ```text
    /// offset  field    what
    ///      0  ready    MAGIC once the creator has run sem_init (stored last, Release)
    ///      4  creator  pid of the process that made the object (it shm_unlinks it)
    ///      8  writer   pid of the writer (claimed with compare-exchange), 0: none
    ///     12  reader   pid of the reader, 0: none
    ///     16  empty    sem_t, starts at 1: the writer may fill the buffer
    ///     48  full     sem_t, starts at 0: the buffer holds a piece for the reader
    ///     80  length   bytes in text
    ///     84  more     1: the line goes on in the next piece
    ///     88  text     TEXT_MAX bytes
    /// ```
    #[repr(C)]
    pub struct Channel {
        /// [`MAGIC`] once ready; anything else but 0 is a stranger's object.
        pub ready: AtomicU32,
        /// The pid of the creator, which removes the name when it ends.
        pub creator: AtomicU32,
        /// The writer's claim (a pid, 0 when free).
        pub writer: AtomicU32,
        /// The reader's claim (a pid, 0 when free).
        pub reader: AtomicU32,
        /// 1 while the buffer is free for the writer.
        pub empty: Semaphore,
        /// 1 while the buffer holds a piece for the reader.
        pub full: Semaphore,
        /// How many bytes of `text` the piece has.
        pub length: AtomicU32,
        /// 1 when the line continues in the next piece.
        pub more: AtomicU32,
        /// The piece.
        pub text: [AtomicU8; TEXT_MAX],
    }
    // ANCHOR_END: channel

    // SAFETY: repr(C); atomics and sem_t cells only, each valid for any byte pattern as far as
    // Rust is concerned (the sem_t is read only by sem_*, after the creator's sem_init).
    unsafe impl Shared for Channel {}

    /// How long an opener waits for the creator to size and initialise the object.
    pub const READY_WITHIN: Duration = Duration::from_secs(2);

    /// For the side that did not create the object: waits (at most [`READY_WITHIN`]) until the
    /// creator has given it its size, and refuses one of another size at once: never used, never
    /// removed.
    pub fn wait_for_size(fd: BorrowedFd<'_>, name: &str, stop: &Stop) -> Result<(), Stopped> {
        let wanted = size_of::<Channel>();
        let started = std::time::Instant::now();
        loop {
            let size = fstat(fd)?.size;
            if size == wanted {
                return Ok(());
            }
            if size != 0 || started.elapsed() > READY_WITHIN {
                let why = format!(
                    "{name} has {size} bytes, and the channel needs {wanted}: it was made for \
                 something else; left as it is"
                );
                return Err(Stopped::Failed(Failure::new(format!("refused: {why}"))));
            }
            stop.sleep(Duration::from_millis(5))?; // the creator's ftruncate is a moment away
        }
    }

    impl Channel {
        /// For the side that did not create the object: waits (at most [`READY_WITHIN`]) until the
        /// creator has published [`MAGIC`]; a different value is refused at once.
        pub fn wait_until_ready(&self, name: &str, stop: &Stop) -> Result<(), Stopped> {
            let started = std::time::Instant::now();
            loop {
                let seen = self.ready.load(Ordering::Acquire);
                if seen == MAGIC {
                    return Ok(());
                }
                let why = match seen {
                    0 if started.elapsed() <= READY_WITHIN => None,
                    0 => Some(format!(
                        "{name} was never initialised: its creator died, or it is not ours"
                    )),
                    _ => Some(format!(
                        "{name} holds {seen:#x}, not the channel's magic: not ours"
                    )),
                };
                if let Some(why) = why {
                    let line = format!("refused: {why}; left as it is");
                    return Err(Stopped::Failed(Failure::new(line)));
                }
                stop.sleep(Duration::from_millis(5))?;
            }
        }
    }

    /// The channel as one side holds it: the descriptor, the mapping, and (for the creator) the
    /// duty to remove the name.
    pub struct Opened {
        /// The open object.
        pub fd: OwnedFd,
        /// Its pages, mapped read-write.
        pub map: Mapping,
        /// `Some` in the process that created the object: it removes the name when dropped.
        pub unlink: Option<UnlinkOnDrop>,
        /// The creator's pid. If the creator was killed, whoever drops the channel last removes
        /// the name it left (when the name still leads to this object).
        pub creator: u32,
        name: String,
    }

    /// Creates the channel `name`, or opens the one another process created, without a race:
    /// `O_CREAT | O_EXCL` lets exactly one process create it; that one gives it its size
    /// (`ftruncate`), maps it (`mmap`), initialises both semaphores (`sem_init`, pshared = 1) and
    /// then publishes [`MAGIC`] (Release). The other waits, at most [`READY_WITHIN`], for the
    /// size and then the magic (Acquire), and refuses an object of another size, owner or magic.
    pub fn create_or_open(name: &str, stop: &Stop) -> Result<Opened, Stopped> {
        // ANCHOR: pshm_create
        let size = size_of::<Channel>();
        if let Some(fd) = shm_open_excl(name, 0o600)? {
            let unlink = UnlinkOnDrop::new(name, fd.as_fd())?; // from now on, every way out unlinks
            ftruncate(fd.as_fd(), size)?;
            let map = mmap(fd.as_fd(), size, true)?;
            let channel = map.view::<Channel>()?;
            channel.creator.store(std::process::id(), Ordering::Relaxed);
            channel.empty.sem_init(1)?; // the buffer is free
            channel.full.sem_init(0)?; // and holds nothing
            channel.ready.store(MAGIC, Ordering::Release); // publish: everything above is done
            let (creator, name) = (std::process::id(), name.to_owned());
            return Ok(Opened {
                fd,
                map,
                unlink: Some(unlink),
                creator,
                name,
            });
        }
        // ANCHOR_END: pshm_create
        // ANCHOR: pshm_open
        let fd = shm_open(name, OFlag::O_RDWR, 0)?; // EACCES: another user's, mode 0600
        let owner = fstat(fd.as_fd())?.uid;
        if owner != nix::unistd::geteuid().as_raw() {
            let why = format!("{name} belongs to uid {owner}, not to you: not opened");
            return Err(Stopped::Failed(Failure::new(format!("refused: {why}"))));
        }
        wait_for_size(fd.as_fd(), name, stop)?;
        let map = mmap(fd.as_fd(), size, true)?;
        map.view::<Channel>()?.wait_until_ready(name, stop)?;
        let creator = map.view::<Channel>()?.creator.load(Ordering::Relaxed);
        Ok(Opened {
            fd,
            map,
            unlink: None,
            creator,
            name: name.to_owned(),
        })
        // ANCHOR_END: pshm_open
    }

    impl Opened {
        /// The channel in the mapping.
        pub fn channel(&self) -> &Channel {
            self.map.view().expect("mapped at its size")
        }

        /// Whether this process created the object.
        pub fn created(&self) -> bool {
            self.unlink.is_some()
        }
    }

    impl Drop for Opened {
        fn drop(&mut self) {
            if self.unlink.is_none() && has_ended(self.creator) {
                // The creator was killed and could not remove the name: remove what it left,
                // if the name still leads to this object (not a newer one).
                if let Ok(heir) = UnlinkOnDrop::new(&self.name, self.fd.as_fd()) {
                    drop(heir);
                }
            }
        }
    }

    /// A role (writer, reader) held by this process in a pid word of the channel, 0 when free.
    /// Given back when dropped; a holder that was killed leaves its pid, and a pid whose process
    /// has ended counts as free.
    pub struct Claim<'a> {
        word: &'a AtomicU32,
    }

    impl<'a> Claim<'a> {
        /// Takes the role `role` in `word`, or says which live process holds it.
        pub fn take(word: &'a AtomicU32, role: &str) -> Result<Claim<'a>, Failure> {
            let me = std::process::id();
            loop {
                let holder = word.load(Ordering::Acquire);
                if holder != 0 && holder != me && !has_ended(holder) {
                    let why =
                        format!("process {holder} is the {role} already; the channel has one");
                    return Err(Failure::new(format!("claim the {role}'s role: {why}")));
                }
                let taken = word.compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire);
                if taken.is_ok() {
                    return Ok(Claim { word });
                }
            }
        }
    }

    impl Drop for Claim<'_> {
        fn drop(&mut self) {
            let me = std::process::id();
            let _ = self
                .word
                .compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// The other side of the channel, watched through its claim word: the first pid seen there is
    /// the peer, and the peer is gone once that process has ended or given the role back.
    pub struct Peer<'a> {
        word: &'a AtomicU32,
        role: &'static str,
        seen: Option<u32>,
    }

    impl<'a> Peer<'a> {
        /// Watches the `role` ("writer", "reader") claimed in `word`.
        pub fn new(word: &'a AtomicU32, role: &'static str) -> Self {
            Self {
                word,
                role,
                seen: None,
            }
        }

        /// The peer's pid, once one has come.
        pub fn pid(&self) -> Option<u32> {
            self.seen
        }

        /// Fails, naming the peer, once the peer that came has gone: killed (its process ended
        /// holding the role) or left (it gave the role back). No peer yet is not a failure.
        pub fn still_there(&mut self) -> Result<(), Failure> {
            let now = self.word.load(Ordering::Acquire);
            let Some(pid) = self.seen.or((now != 0).then_some(now)) else {
                return Ok(());
            };
            self.seen = Some(pid);
            let role = self.role;
            if now == pid && has_ended(pid) {
                return Err(Failure::new(format!("the {role} (pid {pid}) was killed")));
            }
            if now != pid {
                return Err(Failure::new(format!("the {role} (pid {pid}) left")));
            }
            Ok(())
        }
    }

    /// Whether the process `pid` has ended (gone, or a zombie).
    pub fn has_ended(pid: u32) -> bool {
        support::has_ended(nix::unistd::Pid::from_raw(pid as i32))
    }

    /// Removes the name `name` when dropped, if it still names the object `id` (device, inode)
    /// that this process created: never a newer object that someone made under the same name.
    pub struct UnlinkOnDrop {
        name: String,
        id: (u64, u64),
    }

    impl UnlinkOnDrop {
        /// Takes on removing `name`, which names the object open as `fd`.
        pub fn new(name: &str, fd: BorrowedFd<'_>) -> Result<Self, Failure> {
            Ok(Self {
                name: name.to_owned(),
                id: fstat(fd)?.id,
            })
        }

        /// Whether the name still leads to our object.
        pub fn still_ours(&self) -> bool {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(dev_shm_path(&self.name)).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
        }
    }

    impl Drop for UnlinkOnDrop {
        fn drop(&mut self) {
            if self.still_ours() {
                let _ = shm_unlink(&self.name);
            }
        }
    }

    /// The seals a receiver requires before it trusts a memfd: nobody may write it or shrink it
    /// any more (fcntl(2), "File Sealing").
    pub const REQUIRED_SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK;

    /// The seals `seals` in words: `F_SEAL_SEAL|F_SEAL_SHRINK|...`, or `none`.
    pub fn seal_names(seals: libc::c_int) -> String {
        let names = [
            (libc::F_SEAL_SEAL, "F_SEAL_SEAL"),
            (libc::F_SEAL_SHRINK, "F_SEAL_SHRINK"),
            (libc::F_SEAL_GROW, "F_SEAL_GROW"),
            (libc::F_SEAL_WRITE, "F_SEAL_WRITE"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| seals & bit != 0)
            .map(|&(_, name)| name)
            .collect();
        if set.is_empty() {
            "none".to_owned()
        } else {
            set.join("|")
        }
    }

    // ANCHOR: scm_rights
    /// `sendmsg(2)` with an `SCM_RIGHTS` control message: sends `data` and a copy of the
    /// descriptor `fd`; the receiver gets a new descriptor for the same open file.
    pub fn sendmsg_fd(
        socket: BorrowedFd<'_>,
        data: &[u8],
        fd: BorrowedFd<'_>,
    ) -> Result<(), Failure> {
        use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
        let fds = [fd.as_raw_fd()];
        let control = [ControlMessage::ScmRights(&fds)];
        let iov = [std::io::IoSlice::new(data)];
        sendmsg::<()>(socket.as_raw_fd(), &iov, &control, MsgFlags::empty(), None)
            .context("sendmsg SCM_RIGHTS")?;
        Ok(())
    }

    /// `recvmsg(2)`: receives up to `buffer.len()` bytes and the descriptors sent with them
    /// (`SCM_RIGHTS`), close-on-exec. Returns how many bytes came, and the descriptors.
    pub fn recvmsg_fds(
        socket: BorrowedFd<'_>,
        buffer: &mut [u8],
    ) -> Result<(usize, Vec<OwnedFd>), Errno> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let mut iov = [std::io::IoSliceMut::new(buffer)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        let message = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), flags)?;
        let mut fds = Vec::new();
        for control in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = control {
                // SAFETY: the kernel just installed each of these descriptors in this process
                // for this message; nothing else owns them.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        Ok((message.bytes, fds))
    }
    // ANCHOR_END: scm_rights

    /// Where `/proc/self/fd/N` of `fd` points: `/memfd:NAME (deleted)` for a memfd,
    /// `/dev/shm/NAME` for a `shm_open` object.
    pub fn fd_link(fd: BorrowedFd<'_>) -> String {
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        std::fs::read_link(&path)
            .map(|target| target.to_string_lossy().into_owned())
            .unwrap_or_else(|err| format!("? ({err})"))
    }

    /// A listening Unix socket bound at a path; the socket file is removed when this is dropped,
    /// if the path still leads to it (not to a file someone put there since).
    pub struct BoundSocket {
        /// The socket, listening.
        pub listener: std::os::unix::net::UnixListener,
        path: std::path::PathBuf,
        id: (u64, u64),
    }

    impl BoundSocket {
        /// `bind(2)` and `listen(2)` at `path`. EADDRINUSE: a file is there already (never removed
        /// here: it may be another server's).
        pub fn bind(path: &std::path::Path) -> Result<Self, Failure> {
            use std::os::unix::fs::MetadataExt;
            let listener = std::os::unix::net::UnixListener::bind(path).map_err(|err| {
                let hint = match err.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        ": a server runs, or one was killed (remove it)"
                    }
                    _ => "",
                };
                let errno = support::cli::explain(&err);
                Failure::new(format!("bind {}: {errno}{hint}", path.display()))
            })?;
            let meta = std::fs::symlink_metadata(path)?;
            Ok(Self {
                listener,
                path: path.to_owned(),
                id: (meta.dev(), meta.ino()),
            })
        }
    }

    impl Drop for BoundSocket {
        fn drop(&mut self) {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::symlink_metadata(&self.path);
            if meta.is_ok_and(|meta| (meta.dev(), meta.ino()) == self.id) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }

    /// A descriptor's number, for the lines that show `/proc/PID/fd/N`.
    pub fn fd_number(fd: impl AsFd) -> i32 {
        fd.as_fd().as_raw_fd()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_layout_is_the_documented_one() {
            use std::mem::offset_of;
            assert_eq!(offset_of!(Channel, empty), 16);
            assert_eq!(offset_of!(Channel, full), 16 + size_of::<libc::sem_t>());
            assert_eq!(offset_of!(Channel, text), 24 + 2 * size_of::<libc::sem_t>());
            assert_eq!(size_of::<Semaphore>(), size_of::<libc::sem_t>());
        }

        #[test]
        fn names_are_checked() {
            assert!(parse_name("/ok-name").is_ok());
            for bad in ["", "/", "noslash", "/a/b"] {
                assert!(parse_name(bad).is_err(), "{bad}");
            }
            assert_eq!(seal_names(0), "none");
            assert_eq!(seal_names(REQUIRED_SEALS), "F_SEAL_SHRINK|F_SEAL_WRITE");
        }
    }
}

pub mod lab;
