//! One look at the machine: every IPC object in view, and each process that uses it, with the
//! system call it is blocked in and, where that can be known, what it waits for.
//!
//! Where each fact comes from:
//!
//! | fact | source |
//! | --- | --- |
//! | System V queues, sets, segments | `/proc/sysvipc/{msg,sem,shm}` (anyone may read them) |
//! | a queue's byte limit | `msgctl(IPC_STAT)` (needs read permission on the queue) |
//! | each semaphore's value, ncnt, zcnt, pid | `semctl(GETALL, GETNCNT, GETZCNT, GETPID)` (same) |
//! | pipes and FIFOs, and who holds which end | `/proc/<pid>/fd/*` and the `flags` of `fdinfo` |
//! | who is attached to a segment | `/proc/<pid>/maps` |
//! | the call a process is blocked in | `/proc/<pid>/syscall` |
//! | which semaphore, which FIFO path | the call's arguments, read from `/proc/<pid>/mem` |
//! | POSIX queues, semaphores, shm objects | `/dev/mqueue`, `/dev/shm`, and the above |

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

use crate::procfs::{self, Fd, Mapping, Syscall, Target, Unreadable};
use crate::syscalls;

/// The kinds of object, in the order the view lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// A System V message queue.
    #[serde(rename = "msg")]
    Msg,
    /// A System V semaphore set.
    #[serde(rename = "sem")]
    Sem,
    /// A System V shared memory segment.
    #[serde(rename = "shm")]
    Shm,
    /// A POSIX message queue (`mq_open`).
    #[serde(rename = "posix-mq")]
    PosixMq,
    /// A POSIX named semaphore (`sem_open`): `/dev/shm/sem.NAME`.
    #[serde(rename = "posix-sem")]
    PosixSem,
    /// A POSIX shared memory object (`shm_open`): `/dev/shm/NAME`.
    #[serde(rename = "posix-shm")]
    PosixShm,
    /// A FIFO, a named pipe.
    #[serde(rename = "fifo")]
    Fifo,
    /// An anonymous pipe.
    #[serde(rename = "pipe")]
    Pipe,
}

impl Kind {
    /// The name the JSON and the plain text use: `msg`, `posix-mq`...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Msg => "msg",
            Kind::Sem => "sem",
            Kind::Shm => "shm",
            Kind::PosixMq => "posix-mq",
            Kind::PosixSem => "posix-sem",
            Kind::PosixShm => "posix-shm",
            Kind::Fifo => "fifo",
            Kind::Pipe => "pipe",
        }
    }
}

/// What `--filter` picks: one or more of these (all when none is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Filter {
    /// System V message queues.
    Msg,
    /// System V semaphore sets.
    Sem,
    /// System V shared memory segments.
    Shm,
    /// Anonymous pipes.
    Pipe,
    /// FIFOs (named pipes).
    Fifo,
    /// POSIX message queues, named semaphores and shm_open objects.
    Posix,
}

impl Filter {
    fn takes(self, kind: Kind) -> bool {
        match self {
            Filter::Msg => kind == Kind::Msg,
            Filter::Sem => kind == Kind::Sem,
            Filter::Shm => kind == Kind::Shm,
            Filter::Pipe => kind == Kind::Pipe,
            Filter::Fifo => kind == Kind::Fifo,
            Filter::Posix => matches!(kind, Kind::PosixMq | Kind::PosixSem | Kind::PosixShm),
        }
    }
}

/// Whose objects and processes are in view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Users {
    /// One user's, by user id (the current user's by default).
    One(u32),
    /// Everybody's (`--all-users`).
    All,
}

/// What a snapshot looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The kinds to show; all when empty.
    pub filters: Vec<Filter>,
    /// Whose objects and processes.
    pub users: Users,
    /// When not empty: only the objects that these processes or their descendants use.
    pub pids: Vec<i32>,
}

impl Options {
    fn shows(&self, kind: Kind) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| f.takes(kind))
    }

    fn sees_user(&self, uid: u32) -> bool {
        match self.users {
            Users::One(wanted) => uid == wanted,
            Users::All => true,
        }
    }
}

/// Everything in view at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Whose objects these are: a user name, or null for `--all-users`.
    pub user: Option<String>,
    /// The objects, grouped by kind in the order of [`Kind`].
    pub objects: Vec<Object>,
    /// What could not be seen or listed, in words.
    pub notes: Vec<String>,
}

/// One IPC object and the processes that use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Object {
    /// What it is.
    pub kind: Kind,
    /// Its System V key (`0x0000045f`, or `IPC_PRIVATE`); null for other kinds.
    pub key: Option<String>,
    /// Its System V identifier; null for other kinds.
    pub id: Option<i64>,
    /// Its owner's user name (or number, if it has no name).
    pub owner: String,
    /// Its permission bits in octal, `0600`.
    pub mode: String,
    /// What only this kind has.
    pub details: Details,
    /// The processes that use it, by pid.
    pub processes: Vec<Process>,
}

/// The fields of one kind of object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Details {
    /// A System V message queue.
    Msg(MsgDetails),
    /// A System V semaphore set.
    Sem(SemDetails),
    /// A System V shared memory segment.
    Shm(ShmDetails),
    /// A pipe or a FIFO.
    Pipe(PipeDetails),
    /// A POSIX message queue.
    PosixMq(PosixMqDetails),
    /// A POSIX named semaphore or shm object: a file in `/dev/shm`.
    PosixFile(PosixFileDetails),
}

/// A System V message queue, from `/proc/sysvipc/msg` and `msgctl(IPC_STAT)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MsgDetails {
    /// Messages waiting (`qnum`).
    pub messages: u64,
    /// Bytes waiting (`cbytes`).
    pub bytes: u64,
    /// The most bytes it may hold (`msg_qbytes`); null if not visible.
    pub limit: Option<u64>,
    /// The pid of the last `msgsnd` (null: none yet).
    pub last_sender: Option<i32>,
    /// The pid of the last `msgrcv` (null: none yet).
    pub last_receiver: Option<i32>,
    /// What could not be read, and why.
    pub not_visible: Option<String>,
}

/// A System V semaphore set, from `/proc/sysvipc/sem` and `semctl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SemDetails {
    /// How many semaphores it has.
    pub nsems: u64,
    /// Each semaphore, in order; null if not visible.
    pub semaphores: Option<Vec<Semaphore>>,
    /// What could not be read, and why.
    pub not_visible: Option<String>,
}

/// One semaphore of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Semaphore {
    /// Its number in the set.
    pub num: u16,
    /// Its value.
    pub value: u16,
    /// How many processes wait for it to grow (`semncnt`).
    pub ncnt: u32,
    /// How many wait for it to reach zero (`semzcnt`).
    pub zcnt: u32,
    /// The process that operated on it last (`sempid`; null: none).
    pub last_pid: Option<i32>,
}

/// A System V segment, from `/proc/sysvipc/shm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShmDetails {
    /// Its size in bytes.
    pub size: u64,
    /// How much of it is in memory, in bytes (pages are only allocated on first touch).
    pub rss: u64,
    /// How many attachments it has.
    pub nattch: u64,
    /// The creator's pid.
    pub creator_pid: Option<i32>,
    /// The pid of the last `shmat` or `shmdt`.
    pub last_pid: Option<i32>,
    /// Marked for removal (`IPC_RMID` done): it goes with the last detach.
    pub marked_for_removal: bool,
}

/// A pipe or a FIFO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipeDetails {
    /// Its inode number (`pipe:[inode]` in `/proc/<pid>/fd`).
    pub inode: u64,
    /// A FIFO's path, where it can be found; null for a pipe.
    pub path: Option<String>,
    /// How many descriptors read it, in the processes in view.
    pub read_ends: usize,
    /// How many write it.
    pub write_ends: usize,
}

/// A POSIX message queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PosixMqDetails {
    /// `/name`.
    pub name: String,
    /// Messages waiting (`mq_curmsgs`); null if not visible.
    pub messages: Option<i64>,
    /// The most it holds (`mq_maxmsg`).
    pub max_messages: Option<i64>,
    /// The largest message (`mq_msgsize`).
    pub message_size: Option<i64>,
    /// What could not be read, and why.
    pub not_visible: Option<String>,
}

/// A file in `/dev/shm`: a named semaphore (`sem.NAME`) or a `shm_open` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PosixFileDetails {
    /// Its path.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// A named semaphore's value, from its `sem_t` (glibc's layout); null otherwise.
    pub value: Option<u32>,
    /// How many wait on a named semaphore, from the same word.
    pub waiters: Option<u32>,
}

/// One process that uses an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    /// Its pid.
    pub pid: i32,
    /// Its command name.
    pub comm: String,
    /// Its state letter (`S`, `R`, `D`, `T`, `Z`...).
    pub state: String,
    /// The system call it is blocked in (`msgrcv`), or null: running, not in a call, or not
    /// visible (then `not_visible` says why).
    pub blocked_in: Option<String>,
    /// What it is to this object: `reader`, `writer`, `reader+writer`, `attached`, `holder`,
    /// `waiting`, `creator`, `last-sender`, `last-receiver`, `last-op`, `last-attach`.
    pub role: String,
    /// What it waits for, in words, when its call waits on this object; else null.
    pub waits_for: Option<String>,
    /// Why its call (or what it waits for) cannot be seen: `not visible: ...`.
    pub not_visible: Option<String>,
}

impl Process {
    /// Asleep in a system call (state `S` or `D`): the view marks it.
    pub fn is_blocked(&self) -> bool {
        matches!(self.state.as_str(), "S" | "D") && self.blocked_in.is_some()
    }

    /// Stopped by a signal (`T`) or a debugger (`t`).
    pub fn is_stopped(&self) -> bool {
        matches!(self.state.as_str(), "T" | "t")
    }
}

/// A user's name, or the number as text if the user has none.
pub fn user_name(uid: u32) -> String {
    static NAMES: OnceLock<Mutex<HashMap<u32, String>>> = OnceLock::new();
    let names = NAMES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut names = names
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    names
        .entry(uid)
        .or_insert_with(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                .ok()
                .flatten()
                .map_or_else(|| uid.to_string(), |user| user.name)
        })
        .clone()
}

/// Which object a wait, a descriptor or a mapping belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Ref {
    Msg(i32),
    Sem(i32),
    Shm(i32),
    Pipe(u64),
    Fifo(u64, u64),
    Mq(String),
    DevShm(u64),
}

/// What a blocked process waits for, when its call names an object.
#[derive(Debug, Clone)]
struct Wait {
    on: Ref,
    text: String,
    /// For a FIFO that an `open` waits on: its path, and the role the opener will have.
    opening: Option<(String, &'static str)>,
}

/// What we know of one process.
struct Seen {
    uid: Option<u32>,
    stat: Option<procfs::Stat>,
    call: Result<Syscall, Unreadable>,
    /// Inspected processes only (in view): descriptors, mappings, waits.
    fds: Vec<Fd>,
    maps: Vec<Mapping>,
    waits: Vec<Wait>,
    /// Why a wait's object could not be known: `not visible: ...`.
    wait_unknown: Option<String>,
}

impl Seen {
    fn blocked_in(&self) -> Option<String> {
        match (&self.stat, &self.call) {
            (Some(stat), _) if stat.state == 'R' || stat.state == 'Z' => None,
            (_, Ok(Syscall::In { number, .. })) => Some(syscalls::describe(*number)),
            _ => None,
        }
    }

    fn not_visible(&self) -> Option<String> {
        match &self.call {
            Err(unreadable) if !unreadable.gone() => Some(format!("not visible: {unreadable}")),
            _ => self.wait_unknown.clone(),
        }
    }
}

/// The processes looked at, by pid.
struct Processes {
    me: i32,
    seen: BTreeMap<i32, Seen>,
}

impl Processes {
    /// Reads what a process in view shows; others are read on demand by [`Processes::basic`].
    fn inspect(&mut self, pid: i32, uid: u32, need_maps: bool) {
        let Some(stat) = procfs::stat(pid) else {
            return; // ended meanwhile
        };
        // A kernel thread (kthreadd, pid 2, and its children) holds no descriptor and maps no
        // memory of a process: nothing of it to read.
        if pid == 2 || stat.ppid == 2 {
            return;
        }
        let stat = Some(stat);
        let call = procfs::syscall(pid);
        let fds = procfs::fds(pid).unwrap_or_default();
        let blocked_in_futex =
            matches!(call, Ok(Syscall::In { number, .. }) if number == libc::SYS_futex);
        let maps = if need_maps || blocked_in_futex {
            procfs::maps(pid).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut seen = Seen {
            uid: Some(uid),
            stat,
            call,
            fds,
            maps,
            waits: Vec::new(),
            wait_unknown: None,
        };
        find_waits(pid, &mut seen);
        self.seen.insert(pid, seen);
    }

    /// A process outside the view that an object names (a last sender, a creator): its name,
    /// state and call, without its descriptors.
    fn basic(&mut self, pid: i32) -> Option<&Seen> {
        if pid <= 0 || pid == self.me {
            return None;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = self.seen.entry(pid) {
            let stat = procfs::stat(pid)?;
            slot.insert(Seen {
                uid: procfs::uid(pid),
                stat: Some(stat),
                call: procfs::syscall(pid),
                fds: Vec::new(),
                maps: Vec::new(),
                waits: Vec::new(),
                wait_unknown: None,
            });
        }
        self.seen.get(&pid)
    }

    fn entry(&mut self, pid: i32, role: &str, waits_for: Option<String>) -> Option<Process> {
        let seen = self.basic(pid)?;
        let stat = seen.stat.as_ref()?;
        Some(Process {
            pid,
            comm: stat.comm.clone(),
            state: stat.state.to_string(),
            blocked_in: seen.blocked_in(),
            role: role.to_owned(),
            waits_for,
            not_visible: seen.not_visible(),
        })
    }

    /// The waits of every process in view on `on`: (pid, what for).
    fn waiting_on(&self, on: &Ref) -> Vec<(i32, String)> {
        self.seen
            .iter()
            .flat_map(|(pid, seen)| {
                seen.waits
                    .iter()
                    .filter(move |wait| &wait.on == on)
                    .map(move |wait| (*pid, wait.text.clone()))
            })
            .collect()
    }
}

/// Takes a snapshot of everything `options` asks for.
pub fn take(options: &Options) -> Snapshot {
    let mut notes = Vec::new();
    let me = std::process::id() as i32;
    let mut processes = Processes {
        me,
        seen: BTreeMap::new(),
    };
    // With --pid, the notes too are about those processes only.
    let tree = (!options.pids.is_empty()).then(|| descendants(&options.pids));
    let in_tree = |pid: &i32| tree.as_ref().is_none_or(|tree| tree.contains(pid));
    let segments = if options.shows(Kind::Shm) {
        sysv::list(sysv::Kind::Shm).unwrap_or_default()
    } else {
        Vec::new()
    };
    let dev_shm = if options.shows(Kind::PosixSem) || options.shows(Kind::PosixShm) {
        list_dev_shm()
    } else {
        Vec::new()
    };
    // Mappings are read only where something can be mapped: a segment with attachments, or a
    // file in /dev/shm. A segment counts its attachments (nattch): once that many are found,
    // no other process can have one. The newest processes are looked at first, since a demo's
    // are among them; a long `maps` (an editor's, a browser's) is then rarely read.
    let mut attachments_left: u64 = segments.iter().filter_map(|s| s.field("nattch")).sum();
    let mut unreadable: Vec<(i32, Unreadable)> = Vec::new();
    for pid in procfs::pids().into_iter().rev() {
        if pid == me {
            continue;
        }
        let Some(uid) = procfs::uid(pid) else {
            continue;
        };
        if options.sees_user(uid) {
            let need_maps = attachments_left > 0 || !dev_shm.is_empty();
            processes.inspect(pid, uid, need_maps);
            let Some(seen) = processes.seen.get(&pid) else {
                continue;
            };
            attachments_left = attachments_left.saturating_sub(attachments(&seen.maps));
            if let Err(u) = &seen.call
                && !u.gone()
                && in_tree(&pid)
            {
                unreadable.push((pid, u.clone()));
            }
        }
    }
    notes.extend(unreadable_note(&unreadable));

    let mut objects = Vec::new();
    if options.shows(Kind::Msg) {
        objects.extend(message_queues(options, &mut processes, &mut notes));
    }
    if options.shows(Kind::Sem) {
        objects.extend(semaphore_sets(options, &mut processes, &mut notes));
    }
    if options.shows(Kind::Shm) {
        objects.extend(segments_in_view(options, &segments, &mut processes));
    }
    if options.shows(Kind::PosixMq) {
        let mut mq_notes = Vec::new();
        objects.extend(posix_queues(options, &mut processes, &mut mq_notes));
        if tree.is_none() {
            notes.extend(mq_notes);
        }
    }
    if !dev_shm.is_empty() {
        objects.extend(dev_shm_files(options, &dev_shm, &mut processes));
    }
    if options.shows(Kind::Fifo) || options.shows(Kind::Pipe) {
        let (pipes, self_pipes) = pipes_and_fifos(options, &mut processes, &in_tree);
        objects.extend(pipes);
        if self_pipes > 0 {
            notes.push(format!(
                "hidden: {} (each holder holds both ends, non-blocking: a signal handler's \
                 wake-up)",
                match self_pipes {
                    1 => "1 self-pipe".to_owned(),
                    n => format!("{n} self-pipes"),
                }
            ));
        }
    }

    if let Some(tree) = &tree {
        objects.retain(|object| object.processes.iter().any(|p| tree.contains(&p.pid)));
    }
    objects.sort_by_key(|object| (object.kind, object.id, sort_name(object)));
    Snapshot {
        user: match options.users {
            Users::One(uid) => Some(user_name(uid)),
            Users::All => None,
        },
        objects,
        notes,
    }
}

/// How many System V attachments `maps` holds: one per `shmat`, which may show as several
/// adjacent lines of one segment (after an `mprotect` of part of it).
fn attachments(maps: &[Mapping]) -> u64 {
    let mut count = 0;
    let mut previous: Option<&Mapping> = None;
    for mapping in maps.iter().filter(|m| m.sysv_segment().is_some()) {
        let continues =
            previous.is_some_and(|p| p.inode == mapping.inode && p.end == mapping.start);
        if !continues {
            count += 1;
        }
        previous = Some(mapping);
    }
    count
}

/// One note for the processes in view whose system call could not be read: how many, the
/// first pids, and why.
fn unreadable_note(unreadable: &[(i32, Unreadable)]) -> Option<String> {
    let (_, first) = unreadable.first()?;
    let mut pids: Vec<String> = unreadable
        .iter()
        .take(5)
        .map(|(p, _)| p.to_string())
        .collect();
    if unreadable.len() > 5 {
        pids.push(format!("{} more", unreadable.len() - 5));
    }
    let who = match unreadable.len() {
        1 => format!("pid {}'s system call and descriptors", pids[0]),
        n => format!(
            "the system calls and descriptors of {n} processes (pids {})",
            pids.join(", ")
        ),
    };
    Some(format!(
        "not visible: {who}: {}; another user's, or undumpable",
        first.errno
    ))
}

fn sort_name(object: &Object) -> (u64, String) {
    match &object.details {
        Details::Pipe(pipe) => (pipe.inode, String::new()),
        Details::PosixMq(mq) => (0, mq.name.clone()),
        Details::PosixFile(file) => (0, file.path.clone()),
        _ => (0, String::new()),
    }
}

/// `roots` and every process descended from one of them.
fn descendants(roots: &[i32]) -> BTreeSet<i32> {
    let parents: Vec<(i32, i32)> = procfs::pids()
        .into_iter()
        .filter_map(|pid| Some((pid, procfs::stat(pid)?.ppid)))
        .collect();
    let mut tree: BTreeSet<i32> = roots.iter().copied().collect();
    loop {
        let before = tree.len();
        for (pid, ppid) in &parents {
            if tree.contains(ppid) {
                tree.insert(*pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

/// Works out which object the call of a process in view waits on, and for what.
fn find_waits(pid: i32, seen: &mut Seen) {
    let Ok(Syscall::In { number, args }) = seen.call else {
        return;
    };
    let name = syscalls::name(number).unwrap_or_default();
    let [a0, a1, a2, a3, ..] = args;
    match name {
        "msgrcv" => {
            let text = match a3 as i64 {
                0 => "a message of any type".to_owned(),
                t if t > 0 => format!("a message of type {t}"),
                t => format!("a message of type {} or lower, lowest first", -t),
            };
            seen.waits.push(plain(Ref::Msg(a0 as i32), text));
        }
        "msgsnd" => {
            let text = format!("room for a {a2}-byte message");
            seen.waits.push(plain(Ref::Msg(a0 as i32), text));
        }
        "semop" | "semtimedop" => {
            let ops = procfs::read_memory(pid, a1, (a2 as usize).min(32) * 6);
            let text = match ops {
                Ok(bytes) => sem_ops(&bytes),
                Err(unreadable) => {
                    seen.wait_unknown = Some(format!("not visible: which operation: {unreadable}"));
                    String::new()
                }
            };
            seen.waits.push(plain(Ref::Sem(a0 as i32), text));
        }
        "read" | "readv" | "write" | "writev" | "splice" => {
            let fd = a0 as i32;
            let reading = matches!(name, "read" | "readv") || (name == "splice" && fd >= 0);
            if let Some(on) = fd_ref(&seen.fds, fd) {
                let text = match (reading, &on) {
                    (true, Ref::Mq(_)) => "a message".to_owned(),
                    (true, _) => "data: the pipe is empty".to_owned(),
                    (false, _) => "room: the pipe is full".to_owned(),
                };
                seen.waits.push(plain(on, text));
            }
        }
        "poll" | "ppoll" => {
            if let Ok(bytes) = procfs::read_memory(pid, a0, (a1 as usize).min(64) * 8) {
                for pollfd in bytes.chunks_exact(8) {
                    let fd = i32::from_ne_bytes([pollfd[0], pollfd[1], pollfd[2], pollfd[3]]);
                    let events = i16::from_ne_bytes([pollfd[4], pollfd[5]]);
                    if let Some(on) = fd_ref(&seen.fds, fd) {
                        let what = if events & libc::POLLIN != 0 {
                            "data"
                        } else {
                            "room"
                        };
                        seen.waits
                            .push(plain(on, format!("{what} on fd {fd} (poll)")));
                    }
                }
            }
        }
        "mq_timedreceive" | "mq_timedsend" => {
            if let Some(on) = fd_ref(&seen.fds, a0 as i32) {
                let text = if name == "mq_timedreceive" {
                    "a message"
                } else {
                    "room in the queue"
                };
                seen.waits.push(plain(on, text.to_owned()));
            }
        }
        "open" | "openat" => {
            let (dirfd, path, flags) = if name == "open" {
                (libc::AT_FDCWD as i64, a0, a1)
            } else {
                (a0 as i32 as i64, a1, a2)
            };
            match procfs::read_c_string(pid, path) {
                Ok(path) => {
                    if let Some(wait) = fifo_open(pid, dirfd, &path, flags as i32) {
                        seen.waits.push(wait);
                    }
                }
                Err(unreadable) => {
                    seen.wait_unknown = Some(format!("not visible: which path: {unreadable}"));
                }
            }
        }
        "futex" => {
            let address = a0;
            if let Some(mapping) = seen.maps.iter().find(|m| m.contains(address)) {
                let offset = address - mapping.start + mapping.offset;
                if let Some(id) = mapping.sysv_segment() {
                    let text = format!("a futex wake-up on the word at offset {offset}");
                    seen.waits.push(plain(Ref::Shm(id), text));
                } else if let Some(inode) = mapping.dev_shm() {
                    let text = if mapping.path.starts_with("/dev/shm/sem.") {
                        "sem_post (a futex wake-up)".to_owned()
                    } else {
                        format!("a futex wake-up on the word at offset {offset}")
                    };
                    seen.waits.push(plain(Ref::DevShm(inode), text));
                }
            }
        }
        _ => {}
    }
}

fn plain(on: Ref, text: String) -> Wait {
    Wait {
        on,
        text,
        opening: None,
    }
}

/// The operations of a `semop` in words: `P on sem 1 (-1)`, `wait for sem 2 to be 0`.
fn sem_ops(bytes: &[u8]) -> String {
    let ops: Vec<String> = bytes
        .chunks_exact(6)
        .map(|op| {
            let num = u16::from_ne_bytes([op[0], op[1]]);
            let change = i16::from_ne_bytes([op[2], op[3]]);
            match change {
                c if c < 0 => format!("P on sem {num} ({c})"),
                0 => format!("sem {num} to be 0"),
                c => format!("V on sem {num} (+{c})"),
            }
        })
        .collect();
    ops.join(", then ")
}

/// The object behind descriptor `fd` of a process, if it is one the view shows.
fn fd_ref(fds: &[Fd], fd: i32) -> Option<Ref> {
    let fd = fds.iter().find(|f| f.number == fd)?;
    match &fd.target {
        Target::Pipe { inode } => Some(Ref::Pipe(*inode)),
        Target::Fifo { dev, inode, .. } => Some(Ref::Fifo(*dev, *inode)),
        Target::Mqueue { name } => Some(Ref::Mq(name.clone())),
        _ => None,
    }
}

/// An `open` of `path` (relative to `dirfd` of `pid`) that waits, if `path` is a FIFO: a FIFO
/// opened for reading waits for a writer, and one opened for writing for a reader.
fn fifo_open(pid: i32, dirfd: i64, path: &str, flags: i32) -> Option<Wait> {
    let full = if path.starts_with('/') {
        path.to_owned()
    } else {
        let base = if dirfd == libc::AT_FDCWD as i64 {
            procfs::link(pid, "cwd")?
        } else {
            procfs::link(pid, &format!("fd/{dirfd}"))?
        };
        format!("{}/{}", base.trim_end_matches('/'), path)
    };
    // `/tmp/demo/./mfifo` reads `/tmp/demo/mfifo` (components() drops the inner `.`).
    let full: std::path::PathBuf = std::path::Path::new(&full).components().collect();
    let full = full.to_string_lossy().into_owned();
    // Through /proc/<pid>/root, so that a process in another mount namespace is followed.
    let meta = std::fs::metadata(format!("/proc/{pid}/root{full}")).ok()?;
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_fifo() {
        return None;
    }
    let (text, role) = match flags & libc::O_ACCMODE {
        libc::O_RDONLY => ("a writer to open the FIFO", "reader"),
        libc::O_WRONLY => ("a reader to open the FIFO", "writer"),
        _ => return None,
    };
    Some(Wait {
        on: Ref::Fifo(meta.dev(), meta.ino()),
        text: text.to_owned(),
        opening: Some((full, role)),
    })
}

fn pid_or_none(pid: Option<u64>) -> Option<i32> {
    pid.filter(|&p| p > 0).map(|p| p as i32)
}

/// A process of the view (or one the object names) is involved in `pids`.
fn involves_user(options: &Options, processes: &Processes, pids: &[i32]) -> bool {
    pids.iter().any(|pid| {
        processes
            .seen
            .get(pid)
            .and_then(|s| s.uid)
            .is_some_and(|uid| options.sees_user(uid))
    })
}

/// Adds a process to `list` unless it is there already (the first role stays).
fn add(list: &mut Vec<Process>, process: Option<Process>) {
    if let Some(process) = process
        && !list.iter().any(|p| p.pid == process.pid)
    {
        list.push(process);
    }
}

fn message_queues(
    options: &Options,
    processes: &mut Processes,
    notes: &mut Vec<String>,
) -> Vec<Object> {
    let queues = match sysv::list(sysv::Kind::Msg) {
        Ok(queues) => queues,
        Err(err) => {
            notes.push(format!("System V message queues not listed: {err}"));
            return Vec::new();
        }
    };
    let mut objects = Vec::new();
    for queue in queues {
        let waiting = processes.waiting_on(&Ref::Msg(queue.id));
        let last_sender = pid_or_none(queue.field("lspid"));
        let last_receiver = pid_or_none(queue.field("lrpid"));
        let mut involved: Vec<i32> = waiting.iter().map(|(pid, _)| *pid).collect();
        involved.extend(last_sender.iter().chain(&last_receiver));
        for pid in &involved {
            processes.basic(*pid);
        }
        if !options.sees_user(queue.owner.uid) && !involves_user(options, processes, &involved) {
            continue;
        }
        let stat = msgqueue::MessageQueue::from_id(queue.id).msgctl_stat();
        let (limit, not_visible) = match stat {
            Ok(stat) => (Some(stat.capacity), None),
            Err(err) => (
                None,
                Some(format!(
                    "not visible: the limit ({err}: reading it needs read permission)"
                )),
            ),
        };
        let mut list = Vec::new();
        for (pid, text) in waiting {
            add(&mut list, processes.entry(pid, "waiting", Some(text)));
        }
        if let Some(pid) = last_receiver {
            add(&mut list, processes.entry(pid, "last-receiver", None));
        }
        if let Some(pid) = last_sender {
            add(&mut list, processes.entry(pid, "last-sender", None));
        }
        list.sort_by_key(|p| p.pid);
        objects.push(Object {
            kind: Kind::Msg,
            key: Some(queue.key.to_string()),
            id: Some(i64::from(queue.id)),
            owner: user_name(queue.owner.uid),
            mode: format!("{:04o}", queue.owner.mode),
            details: Details::Msg(MsgDetails {
                messages: queue.field("qnum").unwrap_or(0),
                bytes: queue.field("cbytes").unwrap_or(0),
                limit,
                last_sender,
                last_receiver,
                not_visible,
            }),
            processes: list,
        });
    }
    objects
}

fn semaphore_sets(
    options: &Options,
    processes: &mut Processes,
    notes: &mut Vec<String>,
) -> Vec<Object> {
    let sets = match sysv::list(sysv::Kind::Sem) {
        Ok(sets) => sets,
        Err(err) => {
            notes.push(format!("System V semaphore sets not listed: {err}"));
            return Vec::new();
        }
    };
    let mut objects = Vec::new();
    for set in sets {
        let waiting = processes.waiting_on(&Ref::Sem(set.id));
        let states = semaphore::SemaphoreSet::from_id(set.id).states();
        let (semaphores, not_visible) = match states {
            Ok(states) => {
                let list: Vec<Semaphore> = states
                    .iter()
                    .enumerate()
                    .map(|(num, state)| Semaphore {
                        num: num as u16,
                        value: state.value,
                        ncnt: state.ncnt,
                        zcnt: state.zcnt,
                        last_pid: (state.pid > 0).then_some(state.pid),
                    })
                    .collect();
                (Some(list), None)
            }
            Err(err) => (
                None,
                Some(format!(
                    "not visible: the values ({err}: semctl needs read permission)"
                )),
            ),
        };
        let last_ops: Vec<(i32, u16)> = semaphores
            .iter()
            .flatten()
            .filter_map(|sem| Some((sem.last_pid?, sem.num)))
            .collect();
        let mut involved: Vec<i32> = waiting.iter().map(|(pid, _)| *pid).collect();
        involved.extend(last_ops.iter().map(|(pid, _)| *pid));
        for pid in &involved {
            processes.basic(*pid);
        }
        if !options.sees_user(set.owner.uid) && !involves_user(options, processes, &involved) {
            continue;
        }
        let mut list = Vec::new();
        for (pid, text) in waiting {
            let text = explain_sem_wait(&text, semaphores.as_deref());
            let text = (!text.is_empty()).then_some(text);
            add(&mut list, processes.entry(pid, "waiting", text));
        }
        for (pid, _) in &last_ops {
            add(&mut list, processes.entry(*pid, "last-op", None));
        }
        list.sort_by_key(|p| p.pid);
        objects.push(Object {
            kind: Kind::Sem,
            key: Some(set.key.to_string()),
            id: Some(i64::from(set.id)),
            owner: user_name(set.owner.uid),
            mode: format!("{:04o}", set.owner.mode),
            details: Details::Sem(SemDetails {
                nsems: set.field("nsems").unwrap_or(0),
                semaphores,
                not_visible,
            }),
            processes: list,
        });
    }
    objects
}

/// Adds each semaphore's value to the words of a wait: `P on sem 1 (-1); it is 0 now`. Where the
/// operations could not be read, the counts may still tell which semaphore: the only one with a
/// waiter.
fn explain_sem_wait(text: &str, semaphores: Option<&[Semaphore]>) -> String {
    let Some(semaphores) = semaphores else {
        return text.to_owned();
    };
    if text.is_empty() {
        let waited: Vec<&Semaphore> = semaphores.iter().filter(|s| s.ncnt + s.zcnt > 0).collect();
        return match waited.as_slice() {
            [one] if one.ncnt > 0 => format!("sem {} to grow (it is {})", one.num, one.value),
            [one] => format!("sem {} to be 0 (it is {})", one.num, one.value),
            _ => String::new(),
        };
    }
    let mut out = String::new();
    for (i, part) in text.split(", then ").enumerate() {
        if i > 0 {
            out.push_str(", then ");
        }
        out.push_str(part);
        let num = part
            .split("sem ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(sem) = num.and_then(|n| semaphores.get(n)) {
            let _ = write!(out, "; it is {} now", sem.value);
        }
    }
    out
}

fn segments_in_view(
    options: &Options,
    segments: &[sysv::Object],
    processes: &mut Processes,
) -> Vec<Object> {
    let mut objects = Vec::new();
    for segment in segments {
        let attached: Vec<i32> = processes
            .seen
            .iter()
            .filter(|(_, s)| s.maps.iter().any(|m| m.sysv_segment() == Some(segment.id)))
            .map(|(pid, _)| *pid)
            .collect();
        let waiting = processes.waiting_on(&Ref::Shm(segment.id));
        let creator = pid_or_none(segment.field("cpid"));
        let last = pid_or_none(segment.field("lpid"));
        let mut involved = attached.clone();
        involved.extend(creator.iter().chain(&last));
        for pid in &involved {
            processes.basic(*pid);
        }
        if !options.sees_user(segment.owner.uid) && !involves_user(options, processes, &involved) {
            continue;
        }
        let mut list = Vec::new();
        for pid in &attached {
            let text = waiting
                .iter()
                .find(|(p, _)| p == pid)
                .map(|(_, t)| t.clone());
            add(&mut list, processes.entry(*pid, "attached", text));
        }
        if let Some(pid) = creator {
            add(&mut list, processes.entry(pid, "creator", None));
        }
        if let Some(pid) = last {
            add(&mut list, processes.entry(pid, "last-attach", None));
        }
        list.sort_by_key(|p| p.pid);
        // The perms column keeps SHM_DEST (01000), which sysv's owner.mode masks off; the
        // column's digits are octal, read back from the number they were parsed into.
        let perms = segment
            .field("perms")
            .and_then(|digits| u64::from_str_radix(&digits.to_string(), 8).ok())
            .unwrap_or(0);
        objects.push(Object {
            kind: Kind::Shm,
            key: Some(segment.key.to_string()),
            id: Some(i64::from(segment.id)),
            owner: user_name(segment.owner.uid),
            mode: format!("{:04o}", segment.owner.mode),
            details: Details::Shm(ShmDetails {
                size: segment.field("size").unwrap_or(0),
                rss: segment.field("rss").unwrap_or(0),
                nattch: segment.field("nattch").unwrap_or(0),
                creator_pid: creator,
                last_pid: last,
                marked_for_removal: perms & SHM_DEST != 0,
            }),
            processes: list,
        });
    }
    objects
}

/// The mode bit that marks a segment removed (`IPC_RMID`) but still attached: `SHM_DEST` in
/// linux/shm.h, which libc does not define.
const SHM_DEST: u64 = 0o1000;

/// The role of a holder from the ends it holds.
fn end_role(reads: bool, writes: bool) -> &'static str {
    match (reads, writes) {
        (true, true) => "reader+writer",
        (true, false) => "reader",
        (false, true) => "writer",
        (false, false) => "holder",
    }
}

/// Pipes and FIFOs held by processes in view, and FIFOs that an `open` waits on. Returns them
/// and how many self-pipes were left out.
fn pipes_and_fifos(
    options: &Options,
    processes: &mut Processes,
    in_tree: &dyn Fn(&i32) -> bool,
) -> (Vec<Object>, usize) {
    struct Holder {
        reads: bool,
        writes: bool,
        nonblocking: bool,
    }
    struct Found {
        kind: Kind,
        inode: u64,
        path: Option<String>,
        owner: Option<(u32, u32)>,
        holders: BTreeMap<i32, Holder>,
        read_ends: usize,
        write_ends: usize,
    }
    let mut found: BTreeMap<Ref, Found> = BTreeMap::new();
    for (pid, seen) in &processes.seen {
        for fd in &seen.fds {
            let (on, kind, inode, path) = match &fd.target {
                Target::Pipe { inode } => (Ref::Pipe(*inode), Kind::Pipe, *inode, None),
                Target::Fifo { dev, inode, path } => (
                    Ref::Fifo(*dev, *inode),
                    Kind::Fifo,
                    *inode,
                    Some(path.clone()),
                ),
                _ => continue,
            };
            let entry = found.entry(on).or_insert_with(|| Found {
                kind,
                inode,
                path,
                owner: procfs::fd_owner(*pid, fd.number),
                holders: BTreeMap::new(),
                read_ends: 0,
                write_ends: 0,
            });
            entry.read_ends += usize::from(fd.reads());
            entry.write_ends += usize::from(fd.writes());
            let holder = entry.holders.entry(*pid).or_insert(Holder {
                reads: false,
                writes: false,
                nonblocking: true,
            });
            holder.reads |= fd.reads();
            holder.writes |= fd.writes();
            holder.nonblocking &= fd.nonblocking();
        }
    }
    // FIFOs that nobody holds yet, but an open waits on.
    let mut openers: Vec<(Ref, i32, String, &'static str, String)> = Vec::new();
    for (pid, seen) in &processes.seen {
        for wait in &seen.waits {
            if let Some((path, role)) = &wait.opening {
                openers.push((wait.on.clone(), *pid, path.clone(), role, wait.text.clone()));
            }
        }
    }
    for (on, _, path, _, _) in &openers {
        if let Ref::Fifo(_, inode) = on {
            let owner = std::fs::metadata(path)
                .ok()
                .map(|meta| (meta.uid(), meta.mode() & 0o7777));
            found.entry(on.clone()).or_insert_with(|| Found {
                kind: Kind::Fifo,
                inode: *inode,
                path: Some(path.clone()),
                owner,
                holders: BTreeMap::new(),
                read_ends: 0,
                write_ends: 0,
            });
        }
    }

    let mut self_pipes = 0;
    let mut objects = Vec::new();
    for (on, found) in found {
        let is_self_pipe = found.kind == Kind::Pipe
            && !found.holders.is_empty()
            && found
                .holders
                .values()
                .all(|h| h.reads && h.writes && h.nonblocking);
        if is_self_pipe {
            self_pipes +=
                usize::from(options.shows(Kind::Pipe) && found.holders.keys().any(in_tree));
            continue;
        }
        if !options.shows(found.kind) {
            continue;
        }
        let waiting = processes.waiting_on(&on);
        let mut list = Vec::new();
        for (pid, holder) in &found.holders {
            let text = waiting
                .iter()
                .find(|(p, _)| p == pid)
                .map(|(_, t)| t.clone());
            add(
                &mut list,
                processes.entry(*pid, end_role(holder.reads, holder.writes), text),
            );
        }
        for (_, pid, _, role, text) in openers.iter().filter(|o| o.0 == on) {
            add(&mut list, processes.entry(*pid, role, Some(text.clone())));
        }
        list.sort_by_key(|p| p.pid);
        let (uid, mode) = found.owner.unwrap_or((0, 0));
        let path = found
            .path
            .clone()
            .or_else(|| openers.iter().find(|o| o.0 == on).map(|o| o.2.clone()));
        objects.push(Object {
            kind: found.kind,
            key: None,
            id: None,
            owner: user_name(uid),
            mode: format!("{:04o}", mode & 0o777),
            details: Details::Pipe(PipeDetails {
                inode: found.inode,
                path,
                read_ends: found.read_ends,
                write_ends: found.write_ends,
            }),
            processes: list,
        });
    }
    (objects, self_pipes)
}

/// The POSIX queues: those in `/dev/mqueue` where it is mounted, and those held open by a
/// process in view.
fn posix_queues(
    options: &Options,
    processes: &mut Processes,
    notes: &mut Vec<String>,
) -> Vec<Object> {
    let mut names: BTreeMap<String, Option<(u32, u32)>> = BTreeMap::new();
    match std::fs::read_dir("/dev/mqueue") {
        Ok(entries) => {
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                if options.sees_user(meta.uid()) {
                    let name = format!("/{}", entry.file_name().to_string_lossy());
                    names.insert(name, Some((meta.uid(), meta.mode())));
                }
            }
        }
        Err(_) => notes.push(
            "POSIX message queues: /dev/mqueue is not mounted, so only the queues that a \
             process holds open are listed (`mount -t mqueue none /dev/mqueue` lists all)"
                .to_owned(),
        ),
    }
    let mut holders: BTreeMap<String, Vec<(i32, bool, bool, i32)>> = BTreeMap::new();
    for (pid, seen) in &processes.seen {
        for fd in &seen.fds {
            if let Target::Mqueue { name } = &fd.target {
                names.entry(name.clone()).or_insert(None);
                holders.entry(name.clone()).or_default().push((
                    *pid,
                    fd.reads(),
                    fd.writes(),
                    fd.number,
                ));
            }
        }
    }
    let mut objects = Vec::new();
    for (name, owner) in names {
        let held = holders.remove(&name).unwrap_or_default();
        let owner = owner.or_else(|| {
            held.first()
                .and_then(|(pid, _, _, fd)| procfs::fd_owner(*pid, *fd))
        });
        let (uid, mode) = owner.unwrap_or((0, 0));
        let attributes = nix::mqueue::mq_open(
            name.as_str(),
            nix::mqueue::MQ_OFlag::O_RDONLY | nix::mqueue::MQ_OFlag::O_NONBLOCK,
            nix::sys::stat::Mode::empty(),
            None,
        )
        .and_then(|mq| nix::mqueue::mq_getattr(&mq));
        let (messages, max_messages, message_size, not_visible) = match attributes {
            Ok(attr) => (
                Some(attr.curmsgs()),
                Some(attr.maxmsg()),
                Some(attr.msgsize()),
                None,
            ),
            Err(errno) => (
                None,
                None,
                None,
                Some(format!("not visible: mq_open {name}: {errno}")),
            ),
        };
        let waiting = processes.waiting_on(&Ref::Mq(name.clone()));
        let mut list = Vec::new();
        for (pid, reads, writes, _) in &held {
            let text = waiting
                .iter()
                .find(|(p, _)| p == pid)
                .map(|(_, t)| t.clone());
            add(
                &mut list,
                processes.entry(*pid, end_role(*reads, *writes), text),
            );
        }
        list.sort_by_key(|p| p.pid);
        objects.push(Object {
            kind: Kind::PosixMq,
            key: None,
            id: None,
            owner: user_name(uid),
            mode: format!("{:04o}", mode & 0o777),
            details: Details::PosixMq(PosixMqDetails {
                name,
                messages,
                max_messages,
                message_size,
                not_visible,
            }),
            processes: list,
        });
    }
    objects
}

/// A file of `/dev/shm`: its name, owner, mode and size.
struct DevShmFile {
    name: String,
    inode: u64,
    uid: u32,
    mode: u32,
    size: u64,
}

fn list_dev_shm() -> Vec<DevShmFile> {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    let mut files: Vec<DevShmFile> = entries
        .flatten()
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            meta.is_file().then(|| DevShmFile {
                name: entry.file_name().to_string_lossy().into_owned(),
                inode: meta.ino(),
                uid: meta.uid(),
                mode: meta.mode(),
                size: meta.len(),
            })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// Named semaphores (`sem.NAME`) and `shm_open` objects in `/dev/shm`, with the processes that
/// map them or hold them open.
fn dev_shm_files(
    options: &Options,
    files: &[DevShmFile],
    processes: &mut Processes,
) -> Vec<Object> {
    let mut objects = Vec::new();
    for file in files {
        let kind = if file.name.starts_with("sem.") {
            Kind::PosixSem
        } else {
            Kind::PosixShm
        };
        if !options.shows(kind) {
            continue;
        }
        let path = format!("/dev/shm/{}", file.name);
        let users: Vec<i32> = processes
            .seen
            .iter()
            .filter(|(_, s)| {
                s.maps.iter().any(|m| m.dev_shm() == Some(file.inode))
                    || s.fds.iter().any(|fd| {
                        matches!(fd.target, Target::DevShm { inode, .. } if inode == file.inode)
                    })
            })
            .map(|(pid, _)| *pid)
            .collect();
        if !options.sees_user(file.uid) && !involves_user(options, processes, &users) {
            continue;
        }
        let waiting = processes.waiting_on(&Ref::DevShm(file.inode));
        let (value, waiters) = if kind == Kind::PosixSem {
            glibc_sem_word(&path)
        } else {
            (None, None)
        };
        let mut list = Vec::new();
        for pid in users {
            let text = waiting
                .iter()
                .find(|(p, _)| *p == pid)
                .map(|(_, t)| t.clone());
            let mapped = processes
                .seen
                .get(&pid)
                .is_some_and(|s| s.maps.iter().any(|m| m.dev_shm() == Some(file.inode)));
            let role = match (&text, mapped) {
                (Some(_), _) => "waiting",
                (None, true) => "attached",
                (None, false) => "holder",
            };
            add(&mut list, processes.entry(pid, role, text));
        }
        objects.push(Object {
            kind,
            key: None,
            id: None,
            owner: user_name(file.uid),
            mode: format!("{:04o}", file.mode & 0o777),
            details: Details::PosixFile(PosixFileDetails {
                path,
                size: file.size,
                value,
                waiters,
            }),
            processes: list,
        });
    }
    objects
}

/// A named semaphore's value and waiter count, from the first 8 bytes of its file: glibc's
/// `sem_t` on a 64-bit machine holds the value in the low 32 bits of one word and the number
/// of waiters in the high 32.
fn glibc_sem_word(path: &str) -> (Option<u32>, Option<u32>) {
    use std::io::Read;
    let mut word = [0u8; 8];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut word));
    if read.is_err() || cfg!(not(target_pointer_width = "64")) {
        return (None, None);
    }
    let data = u64::from_ne_bytes(word);
    (Some(data as u32), Some((data >> 32) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semaphore_operations_read_as_words() {
        let mut bytes = Vec::new();
        for (num, op) in [(1u16, -1i16), (2, 0), (0, 2)] {
            bytes.extend(num.to_ne_bytes());
            bytes.extend(op.to_ne_bytes());
            bytes.extend(0i16.to_ne_bytes());
        }
        assert_eq!(
            sem_ops(&bytes),
            "P on sem 1 (-1), then sem 2 to be 0, then V on sem 0 (+2)"
        );
    }

    #[test]
    fn a_wait_gets_the_values_of_its_semaphores() {
        let sems: Vec<Semaphore> = (0..3)
            .map(|num| Semaphore {
                num,
                value: num * 10,
                ncnt: u32::from(num == 2),
                zcnt: 0,
                last_pid: None,
            })
            .collect();
        assert_eq!(
            explain_sem_wait("P on sem 1 (-1)", Some(&sems)),
            "P on sem 1 (-1); it is 10 now"
        );
        // The operations unreadable: the only semaphore with a waiter.
        assert_eq!(
            explain_sem_wait("", Some(&sems)),
            "sem 2 to grow (it is 20)"
        );
    }

    #[test]
    fn json_names_the_kinds_as_the_issue_does() {
        let names: Vec<String> = [
            Kind::Msg,
            Kind::Sem,
            Kind::Shm,
            Kind::Pipe,
            Kind::Fifo,
            Kind::PosixMq,
            Kind::PosixSem,
            Kind::PosixShm,
        ]
        .iter()
        .map(|k| serde_json::to_string(k).expect("json"))
        .collect();
        assert_eq!(
            names,
            [
                "\"msg\"",
                "\"sem\"",
                "\"shm\"",
                "\"pipe\"",
                "\"fifo\"",
                "\"posix-mq\"",
                "\"posix-sem\"",
                "\"posix-shm\""
            ]
        );
        for kind in [Kind::Msg, Kind::PosixMq] {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.name())
            );
        }
    }
}
