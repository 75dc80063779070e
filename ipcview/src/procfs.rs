//! What `/proc/<pid>/` says about one process: its name, state and parent (`stat`), the system
//! call it is in (`syscall`), its open descriptors (`fd/`, `fdinfo/`), what it has mapped
//! (`maps`) and, where the kernel lets us, a few bytes of its memory (`mem`).
//!
//! Who may read what: `stat` is anyone's to read. `fd/`, `fdinfo/` and `maps` need "read"
//! access in the ptrace sense (the same user, or root), `syscall` and `mem` need "attach"
//! access (the same user, and with Yama's `ptrace_scope` 1 only for your descendants, or
//! root). What we may not read comes back as an [`Unreadable`] that says why, and the view
//! shows it as "not visible" with that reason.

use std::fmt;
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};

use nix::errno::Errno;

/// A file of `/proc/<pid>/` that we could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// `/proc/1234/syscall`.
    pub path: String,
    /// What the kernel said.
    pub errno: Errno,
}

impl Unreadable {
    fn new(path: &str, err: &io::Error) -> Self {
        Self {
            path: path.to_owned(),
            errno: Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)),
        }
    }

    /// Whether the process had ended by then (its directory is gone).
    pub fn gone(&self) -> bool {
        matches!(self.errno, Errno::ENOENT | Errno::ESRCH)
    }
}

impl fmt::Display for Unreadable {
    /// `/proc/1234/syscall: EACCES: Permission denied; only its owner or root may read it`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.errno)?;
        if matches!(self.errno, Errno::EACCES | Errno::EPERM) {
            write!(f, "; only its owner or root may read it")?;
        }
        Ok(())
    }
}

fn read_text(path: &str) -> Result<String, Unreadable> {
    std::fs::read_to_string(path).map_err(|err| Unreadable::new(path, &err))
}

/// The processes that exist now, by pid, in increasing order.
pub fn pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// The user a process runs as: the owner of `/proc/<pid>`, its effective user id (root for a
/// process that made itself undumpable). `None` once it has ended.
pub fn uid(pid: i32) -> Option<u32> {
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

/// The fields of `/proc/<pid>/stat` that the view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name, at most 15 bytes (`comm`).
    pub comm: String,
    /// The state letter: `R` running, `S` asleep (interruptible), `D` asleep (not
    /// interruptible), `T` stopped, `t` stopped by a debugger, `Z` zombie.
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
}

/// `/proc/<pid>/stat`; `None` once the process has ended.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The name is in parentheses and may hold anything, spaces and `)` included: the fields after
/// it start after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(Stat { comm, state, ppid })
}

/// What `/proc/<pid>/syscall` says about the process's main thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// It is running (`running`): on a CPU, or ready to be.
    Running,
    /// It is stopped or asleep, but not in a system call (`-1`): a page fault, say.
    NotInCall,
    /// It is in system call `number`, called with `args`.
    In {
        /// The call's number on this architecture (see [`crate::syscalls`]).
        number: libc::c_long,
        /// Its six arguments, as the registers held them.
        args: [u64; 6],
    },
}

/// `/proc/<pid>/syscall`: the call the main thread is in.
pub fn syscall(pid: i32) -> Result<Syscall, Unreadable> {
    let path = format!("/proc/{pid}/syscall");
    let text = read_text(&path)?;
    Ok(parse_syscall(&text))
}

fn parse_syscall(text: &str) -> Syscall {
    let mut fields = text.split_whitespace();
    let Some(first) = fields.next() else {
        return Syscall::NotInCall;
    };
    if first == "running" {
        return Syscall::Running;
    }
    let Ok(number) = first.parse::<libc::c_long>() else {
        return Syscall::NotInCall;
    };
    if number < 0 {
        return Syscall::NotInCall;
    }
    let mut args = [0u64; 6];
    for (arg, field) in args.iter_mut().zip(fields) {
        *arg = u64::from_str_radix(field.trim_start_matches("0x"), 16).unwrap_or(0);
    }
    Syscall::In { number, args }
}

/// What an open descriptor refers to, as far as the view cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An anonymous pipe (`pipe:[inode]`).
    Pipe {
        /// The pipe's inode number, which every end of it shares.
        inode: u64,
    },
    /// A FIFO, a named pipe: opened by its path.
    Fifo {
        /// The device and inode of the FIFO file.
        dev: u64,
        /// Its inode.
        inode: u64,
        /// Its path as the kernel remembers it (` (deleted)` once removed).
        path: String,
    },
    /// A POSIX message queue (`mq_open`), named `/name`.
    Mqueue {
        /// `/name`.
        name: String,
    },
    /// A file in `/dev/shm`: a `shm_open` object (or a named semaphore, which is mapped and
    /// closed at once, so rarely seen here).
    DevShm {
        /// `/dev/shm/name`.
        path: String,
        /// Its inode: the name may be one the file had before (` (deleted)`).
        inode: u64,
    },
    /// Anything else: a terminal, a socket, a file.
    Other(String),
}

/// One open descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fd {
    /// Its number in the process.
    pub number: i32,
    /// What it refers to.
    pub target: Target,
    /// Its open flags from `fdinfo` (`O_RDONLY`, `O_WRONLY`, `O_RDWR`, `O_NONBLOCK`...), read
    /// only for the kinds the view shows.
    pub flags: Option<u32>,
}

impl Fd {
    /// Whether it reads (opened `O_RDONLY` or `O_RDWR`).
    pub fn reads(&self) -> bool {
        self.flags
            .is_some_and(|flags| flags & libc::O_ACCMODE as u32 != libc::O_WRONLY as u32)
    }

    /// Whether it writes (opened `O_WRONLY` or `O_RDWR`).
    pub fn writes(&self) -> bool {
        self.flags
            .is_some_and(|flags| flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32)
    }

    /// Whether it was opened non-blocking.
    pub fn nonblocking(&self) -> bool {
        self.flags
            .is_some_and(|flags| flags & libc::O_NONBLOCK as u32 != 0)
    }
}

/// `statfs(2)`'s magic number for the mqueue file system (`MQUEUE_MAGIC` in linux/magic.h).
const MQUEUE_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0x1980_0202);

/// The descriptors of process `pid`: `/proc/<pid>/fd/` with each link read, and for pipes,
/// FIFOs, queues and `/dev/shm` files their flags from `/proc/<pid>/fdinfo/`.
pub fn fds(pid: i32) -> Result<Vec<Fd>, Unreadable> {
    let dir = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&dir).map_err(|err| Unreadable::new(&dir, &err))?;
    let mut fds = Vec::new();
    for entry in entries.flatten() {
        let Some(number) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let link = format!("{dir}/{number}");
        // Closed meanwhile: skip it.
        let Ok(target) = std::fs::read_link(&link) else {
            continue;
        };
        let target = classify(&link, &target.to_string_lossy());
        let flags = match target {
            Target::Other(_) => None,
            _ => fd_flags(pid, number),
        };
        fds.push(Fd {
            number,
            target,
            flags,
        });
    }
    fds.sort_by_key(|fd| fd.number);
    Ok(fds)
}

/// What the link `/proc/<pid>/fd/<n>` -> `text` refers to. Pipes and the usual suspects are
/// told by the text alone; a path is `stat`ed (through the link, which reaches the open file
/// even when the path is gone) to tell a FIFO from a file.
fn classify(link: &str, text: &str) -> Target {
    if let Some(inode) = text
        .strip_prefix("pipe:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inode| inode.parse().ok())
    {
        return Target::Pipe { inode };
    }
    let not_a_path = !text.starts_with('/');
    let device = text.starts_with("/dev/") && !text.starts_with("/dev/shm/");
    if not_a_path || device || text.starts_with("/proc/") || text.starts_with("/sys/") {
        return Target::Other(text.to_owned());
    }
    if text.starts_with("/dev/shm/") {
        return match std::fs::metadata(link) {
            Ok(meta) => Target::DevShm {
                path: text.to_owned(),
                inode: meta.ino(),
            },
            Err(_) => Target::Other(text.to_owned()),
        };
    }
    // A queue shows as `/name`, one component, on the mqueue file system.
    if !text[1..].contains('/')
        && nix::sys::statfs::statfs(link).is_ok_and(|fs| fs.filesystem_type() == MQUEUE_MAGIC)
    {
        return Target::Mqueue {
            name: text.to_owned(),
        };
    }
    match std::fs::metadata(link) {
        Ok(meta) if meta.file_type().is_fifo() => Target::Fifo {
            dev: meta.dev(),
            inode: meta.ino(),
            path: text.to_owned(),
        },
        _ => Target::Other(text.to_owned()),
    }
}

/// The `flags:` line of `/proc/<pid>/fdinfo/<n>`, in octal there.
fn fd_flags(pid: i32, number: i32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{number}")).ok()?;
    let flags = text.lines().find_map(|line| line.strip_prefix("flags:"))?;
    u32::from_str_radix(flags.trim(), 8).ok()
}

/// Who owns the open file behind `/proc/<pid>/fd/<n>` and its mode bits, as `stat` says.
pub fn fd_owner(pid: i32, number: i32) -> Option<(u32, u32)> {
    let meta = std::fs::metadata(format!("/proc/{pid}/fd/{number}")).ok()?;
    Some((meta.uid(), meta.mode() & 0o7777))
}

/// One line of `/proc/<pid>/maps`: a range of the address space and what is mapped there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The first address.
    pub start: u64,
    /// The address after the last.
    pub end: u64,
    /// Where in the file (or segment) the range starts.
    pub offset: u64,
    /// The inode: for a System V segment, the segment's id.
    pub inode: u64,
    /// What is mapped: `/SYSV0000045f (deleted)` for a System V segment, a path for a file.
    pub path: String,
}

impl Mapping {
    /// The System V segment this maps, by id: the kernel names the segment's file
    /// `SYSV<key in hex>` and gives it the segment's id as its inode number.
    pub fn sysv_segment(&self) -> Option<i32> {
        self.path
            .starts_with("/SYSV")
            .then(|| i32::try_from(self.inode).ok())
            .flatten()
    }

    /// The inode of the `/dev/shm` file this maps, for `shm_open` objects and named
    /// semaphores. By inode, not name: `sem_open` makes its file under a temporary name, maps
    /// it, then links it to `sem.NAME` and removes the first name, so its creator's map says
    /// `/dev/shm/sem.Xa3kP9 (deleted)`.
    pub fn dev_shm(&self) -> Option<u64> {
        self.path.starts_with("/dev/shm/").then_some(self.inode)
    }

    /// Whether `address` is in this range.
    pub fn contains(&self, address: u64) -> bool {
        (self.start..self.end).contains(&address)
    }
}

/// The shared mappings of `pid` that the view cares about (System V segments and `/dev/shm`
/// files), from `/proc/<pid>/maps`.
pub fn maps(pid: i32) -> Result<Vec<Mapping>, Unreadable> {
    let path = format!("/proc/{pid}/maps");
    let text = read_text(&path)?;
    Ok(parse_maps(&text))
}

fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter(|line| line.contains("/SYSV") || line.contains("/dev/shm/"))
        .filter_map(|line| {
            // start-end perms offset dev inode path (the path may hold spaces)
            let mut fields = line.splitn(6, ' ');
            let (start, end) = fields.next()?.split_once('-')?;
            let _perms = fields.next()?;
            let offset = fields.next()?;
            let _dev = fields.next()?;
            let inode = fields.next()?;
            let path = fields.next()?.trim_start();
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                offset: u64::from_str_radix(offset, 16).ok()?,
                inode: inode.parse().ok()?,
                path: path.to_owned(),
            })
        })
        .collect()
}

/// `len` bytes of the memory of `pid` at `address`, from `/proc/<pid>/mem`: what a system call
/// was given by pointer (the `sembuf`s of a `semop`, the path of an `open`).
pub fn read_memory(pid: i32, address: u64, len: usize) -> Result<Vec<u8>, Unreadable> {
    let path = format!("/proc/{pid}/mem");
    let file = std::fs::File::open(&path).map_err(|err| Unreadable::new(&path, &err))?;
    let mut bytes = vec![0; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut bytes[done..], address + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if done > 0 => {
                let _ = err; // the rest of the range is not mapped: keep what we have
                break;
            }
            Err(err) => return Err(Unreadable::new(&path, &err)),
        }
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// A NUL-terminated string of the memory of `pid` at `address` (at most 4096 bytes, `PATH_MAX`).
pub fn read_c_string(pid: i32, address: u64) -> Result<String, Unreadable> {
    // Read in pieces that do not cross a page, so a string near the end of a mapping is read.
    let mut text = Vec::new();
    let mut at = address;
    while text.len() < 4096 {
        let to_page_end = 4096 - (at % 4096) as usize;
        let piece = read_memory(pid, at, to_page_end.min(256))?;
        if piece.is_empty() {
            break;
        }
        if let Some(nul) = piece.iter().position(|&b| b == 0) {
            text.extend_from_slice(&piece[..nul]);
            return Ok(String::from_utf8_lossy(&text).into_owned());
        }
        at += piece.len() as u64;
        text.extend_from_slice(&piece);
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Where the link `/proc/<pid>/<what>` points (`cwd`, `fd/3`).
pub fn link(pid: i32, what: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/{what}"))
        .ok()
        .map(|path| path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_keeps_a_name_with_spaces_and_parentheses() {
        let stat = parse_stat("42 (a (b) c) S 1 42 42 0 -1").expect("parsed");
        assert_eq!(stat.comm, "a (b) c");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.ppid, 1);
    }

    #[test]
    fn syscall_lines_parse() {
        assert_eq!(parse_syscall("running\n"), Syscall::Running);
        assert_eq!(parse_syscall("-1 0x7ffc 0x4011\n"), Syscall::NotInCall);
        let line = "70 0x3 0x7ffd1 0x2000 0x0 0x0 0x0 0x7ffd0 0x7f12\n";
        assert_eq!(
            parse_syscall(line),
            Syscall::In {
                number: 70,
                args: [3, 0x7ffd1, 0x2000, 0, 0, 0]
            }
        );
    }

    #[test]
    fn maps_find_segments_and_dev_shm_files() {
        let text = "\
7f00-7f01 rw-s 00000000 00:01 5                          /SYSV0000045f (deleted)
7f10-7f11 rw-s 00000000 00:1a 99                         /dev/shm/sem.demo
7f20-7f21 r-xp 00000000 08:01 77                         /usr/lib/libc.so.6
";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].sysv_segment(), Some(5));
        assert_eq!(maps[1].dev_shm(), Some(99));
        assert!(maps[1].contains(0x7f10));
        assert!(!maps[1].contains(0x7f11));
    }

    #[test]
    fn access_modes_say_who_reads_and_who_writes() {
        let fd = |flags| Fd {
            number: 3,
            target: Target::Pipe { inode: 1 },
            flags: Some(flags),
        };
        assert!(fd(0o0).reads() && !fd(0o0).writes());
        assert!(!fd(0o1).reads() && fd(0o1).writes());
        assert!(fd(0o2).reads() && fd(0o2).writes());
        assert!(fd(0o4001).nonblocking());
    }
}
