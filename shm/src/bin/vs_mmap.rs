//! # vs_mmap: System V shared memory, a mapped file and POSIX shm_open, measured side by side
//!
//! Ports the course notes' comparison (`002_b86b31b4906bcfc4.txt`, "shared memory against memory
//! mappings") as a run that measures instead of asserting. For each of the three ways to put
//! the same pages into two processes, a System V segment (`shmget(IPC_PRIVATE)`, `shmat`), a
//! file in a fresh temp directory mapped with `mmap(MAP_SHARED)`, and a POSIX object
//! (`shm_open`, `ftruncate`, `mmap`), it prints:
//!
//! - how the object is named and how it is removed;
//! - whether two processes see the same bytes: a forked child opens the object by its name,
//!   maps it itself and stores a text (atomic byte stores); the parent waits for it and reads
//!   the text back through its own mapping;
//! - whether they are the same physical pages: each side reads the frame number behind its
//!   mapping from `/proc/self/pagemap` (shown to root only; others are told they are hidden);
//! - the lifetime after the creating process exits: a child creates an object, stores a text
//!   and exits without removing it; the parent then looks for it (in `/proc/sysvipc/shm`, in
//!   the temp directory, in `/dev/shm`), reads what it holds, and removes it;
//! - what survives a reboot, explained in one line (not done).
//!
//! Everything is 0600, and nothing is left behind, on an error or a stop signal too: the
//! parent holds a guard for each object that removes it when dropped.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`) because it
//! forks (ctrlc's thread would forbid `fork`); the pipe reads end with EINTR, the children are
//! killed and reaped, and the guards remove the objects on the way out. See "Programs that
//! stop cleanly".
//!
//! Run: `cargo run -p shm --bin vs_mmap` (as root to see the physical page numbers).

#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicU8;

use clap::Parser;
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;
use nix::sys::wait::WaitStatus;
use shm::{
    Access, Attached, Key, Mapping, Segment, load_bytes, mmap_shared, page_size, physical_frame,
    shmget, store_bytes,
};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Forked, Pipe, describe, fork, run_child};

/// System V shm, a mapped file and POSIX shm_open: naming, sharing, pages and lifetime,
/// measured.
#[derive(Parser)]
#[command(version)]
struct Args {}

fn main() -> ExitCode {
    let _: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        println!("vs_mmap: three ways to share memory between processes, measured here");
        let template = std::env::temp_dir().join("ipc-labs-vs-mmap-XXXXXX");
        let dir = TempDir(nix::unistd::mkdtemp(&template).context("mkdtemp")?);
        println!("temp directory for the mapped files: {}", dir.0.display());
        let compared = sysv(&stop)
            .and_then(|()| file(&stop, &dir.0))
            .and_then(|()| posix(&stop));
        if compared.is_ok() {
            println!();
            println!("done: each object was removed above, and the temp directory goes now");
        }
        finish(compared.map(|()| ExitCode::SUCCESS))
    })
}

/// What [`share`] reads of a mapping, whichever call made it: its bytes and its address.
trait Mapped {
    fn bytes(&self) -> &[AtomicU8];
    fn addr(&self) -> usize;
}

impl Mapped for Attached {
    fn bytes(&self) -> &[AtomicU8] {
        Attached::bytes(self)
    }

    fn addr(&self) -> usize {
        Attached::addr(self)
    }
}

impl Mapped for Mapping {
    fn bytes(&self) -> &[AtomicU8] {
        Mapping::bytes(self)
    }

    fn addr(&self) -> usize {
        Mapping::addr(self)
    }
}

/// The temp directory of the mapped files, removed with what it holds when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A POSIX shared memory name, `shm_unlink`ed when dropped (if it is still there).
struct PosixName(String);

impl Drop for PosixName {
    fn drop(&mut self) {
        let _ = shm_unlink(self.0.as_str());
    }
}

impl PosixName {
    /// Where the kernel shows the object: a file in the tmpfs at /dev/shm.
    fn dev_shm(&self) -> PathBuf {
        Path::new("/dev/shm").join(self.0.trim_start_matches('/'))
    }
}

fn sysv(stop: &Stop) -> Result<(), Stopped> {
    stop.check()?;
    println!();
    println!(
        "== System V shared memory: shmget(IPC_PRIVATE, {}, 0600), shmat ==",
        page_size()
    );
    let segment = shmget(Key::PRIVATE, page_size(), libc::IPC_CREAT | 0o600)?;
    let id = segment.id();
    println!("named:    by a number: shmget returned id={id}; `ipcs -m` lists it");
    println!("removed:  by shmctl(IPC_RMID), or `ipcrm -m {id}`");
    let attached = segment.shmat(Access::ReadWrite)?;
    share(stop, "System V shm", &attached, || {
        Ok(Segment::from_id(id).shmat(Access::ReadWrite)?)
    })?;
    attached.shmdt()?;
    segment.shmctl_rmid()?;

    // ANCHOR: sysv_lifetime
    let (text, pid) = in_child(stop, |text| {
        let segment = shmget(Key::PRIVATE, page_size(), libc::IPC_CREAT | 0o600)?;
        let attached = segment.shmat(Access::ReadWrite)?;
        store_bytes(attached.bytes(), text.as_bytes());
        attached.shmdt()?;
        let created = format!("created segment id={}", segment.id());
        let _ = segment.leave_in_kernel(); // exit without IPC_RMID
        Ok(created)
    })?;
    // The parent finds it by its creator, and removes it whatever happens next.
    let rows = sysv::list(sysv::Kind::Shm)?;
    let left: Vec<_> = rows
        .iter()
        .filter(|row| row.key.is_private() && row.field("cpid") == u64::try_from(pid).ok())
        .map(|row| {
            (
                Segment::from_id(row.id).remove_on_drop(),
                row.field("nattch"),
            )
        })
        .collect();
    if left.is_empty() {
        println!("          /proc/sysvipc/shm lists no segment created by pid {pid}");
    }
    for (segment, nattch) in left {
        let attached = segment.shmat(Access::ReadOnly)?;
        let held = String::from_utf8_lossy(&load_bytes(attached.bytes())).into_owned();
        attached.shmdt()?;
        let nattch = nattch.map_or("?".to_owned(), |n| n.to_string());
        println!("          /proc/sysvipc/shm still lists {segment}: nattch={nattch}");
        println!(
            "          it still holds {held:?}: {}",
            what_child_stored(&held, &text)
        );
        let id = segment.id();
        segment.shmctl_rmid()?;
        let gone = sysv::list(sysv::Kind::Shm)?;
        let gone = gone.iter().all(|row| row.id != id);
        println!("          shmctl(IPC_RMID): id={id} {}", listed(!gone));
    }
    // ANCHOR_END: sysv_lifetime
    println!(
        "reboot:   gone: a segment lives only in memory (and swap), which a boot starts afresh"
    );
    Ok(())
}

fn listed(still: bool) -> &'static str {
    match still {
        true => "is STILL listed",
        false => "is gone from /proc/sysvipc/shm",
    }
}

fn file(stop: &Stop, dir: &Path) -> Result<(), Stopped> {
    stop.check()?;
    println!();
    println!("== a file mapped with mmap(MAP_SHARED): open(0600), ftruncate, mmap ==");
    let path = dir.join("shared.bin");
    let created = create_file(&path).context(format!("create {}", path.display()))?;
    println!("named:    by a path: {}", path.display());
    println!("removed:  by unlink(2) (`rm`); the pages live on while still mapped");
    let mine = mmap_shared(created.as_fd(), page_size())?;
    share(stop, "a mapped file", &mine, || {
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        Ok(mmap_shared(file.as_fd(), page_size())?)
    })?;
    drop(mine); // munmap
    std::fs::remove_file(&path).context(format!("unlink {}", path.display()))?;

    let path = dir.join("lifetime.bin");
    let (text, _) = in_child(stop, |text| {
        let file = create_file(&path)?;
        store_bytes(
            mmap_shared(file.as_fd(), page_size())?.bytes(),
            text.as_bytes(),
        );
        Ok(format!("created {}", path.display()))
    })?;
    look_and_remove(&path, &text, "unlink", |path| std::fs::remove_file(path))?;
    let tmpfs = nix::sys::statfs::statfs(dir)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
    let caveat = match tmpfs {
        true => "; this temp dir is on tmpfs, in memory, so not this one",
        false => "",
    };
    println!("reboot:   a file on a disk stays, with what was written back to it{caveat}");
    Ok(())
}

/// A new file of one page, mode 0600, which must not exist yet.
fn create_file(path: &Path) -> std::io::Result<std::fs::File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.set_len(page_size() as u64)?;
    Ok(file)
}

fn posix(stop: &Stop) -> Result<(), Stopped> {
    stop.check()?;
    println!();
    println!("== POSIX shared memory: shm_open(0600), ftruncate, mmap(MAP_SHARED) ==");
    let name = PosixName(format!("/ipc-labs-vs-mmap-{}", std::process::id()));
    let fd = open_posix(&name.0, OFlag::O_CREAT | OFlag::O_EXCL)?;
    println!(
        "named:    by a name: {}, seen as the file {}",
        name.0,
        name.dev_shm().display()
    );
    println!(
        "removed:  by shm_unlink(3) (`rm {}`)",
        name.dev_shm().display()
    );
    let mine = mmap_shared(fd.as_fd(), page_size())?;
    share(stop, "POSIX shm", &mine, || {
        let fd = open_posix(&name.0, OFlag::empty())?;
        Ok(mmap_shared(fd.as_fd(), page_size())?)
    })?;
    drop(mine); // munmap
    shm_unlink(name.0.as_str()).context(format!("shm_unlink {}", name.0))?;

    let lifetime = PosixName(format!("{}-exit", name.0));
    let (text, _) = in_child(stop, |text| {
        let fd = open_posix(&lifetime.0, OFlag::O_CREAT | OFlag::O_EXCL)?;
        store_bytes(
            mmap_shared(fd.as_fd(), page_size())?.bytes(),
            text.as_bytes(),
        );
        Ok(format!("shm_open created {}", lifetime.0))
    })?;
    look_and_remove(&lifetime.dev_shm(), &text, "shm_unlink", |_| {
        Ok(shm_unlink(lifetime.0.as_str())?)
    })?;
    println!("reboot:   gone: /dev/shm is a tmpfs, a file system in memory");
    Ok(())
}

/// `shm_open(name, O_RDWR | extra, 0600)`, and one page long (`ftruncate`) if it is new.
fn open_posix(name: &str, extra: OFlag) -> Result<OwnedFd, Failure> {
    let fd = shm_open(name, OFlag::O_RDWR | extra, Mode::from_bits_truncate(0o600))
        .context(format!("shm_open {name}"))?;
    if extra.contains(OFlag::O_CREAT) {
        nix::unistd::ftruncate(&fd, page_size() as i64).context(format!("ftruncate {name}"))?;
    }
    Ok(fd)
}

/// After the creator exited: is `path` still there, what does it hold; then removes it.
fn look_and_remove(
    path: &Path,
    text: &str,
    how: &str,
    remove: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), Failure> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let held: Vec<u8> = bytes.iter().copied().take_while(|&b| b != 0).collect();
            let held = String::from_utf8_lossy(&held);
            println!(
                "          {} is still there, {} bytes",
                path.display(),
                bytes.len()
            );
            println!(
                "          it still holds {held:?}: {}",
                what_child_stored(&held, text)
            );
        }
        Err(err) => println!("          {} cannot be read: {err}", path.display()),
    }
    remove(path).context(format!("{how} {}", path.display()))?;
    let there = std::fs::exists(path).unwrap_or(true);
    let after = if there { "is STILL there" } else { "is gone" };
    println!("          {how}: {} {after}", path.display());
    Ok(())
}

/// Two processes, one object: a child maps it by its name (`open_in_child`) and stores a text,
/// the parent waits for it and reads its own mapping `mine`; both read their page's frame.
fn share<M: Mapped>(
    stop: &Stop,
    what: &str,
    mine: &impl Mapped,
    open_in_child: impl FnOnce() -> Result<M, Box<dyn std::error::Error>>,
) -> Result<(), Stopped> {
    let frames = Pipe::new()?;
    // ANCHOR: share
    let mut child = match fork()? {
        Forked::Child => run_child(|| {
            let Ok(mapped) = open_in_child() else {
                return 1;
            };
            let pid = std::process::id();
            let text = format!("pid {pid} was here");
            store_bytes(mapped.bytes(), text.as_bytes());
            let at = mapped.addr();
            println!("sharing:  child pid {pid} mapped it at {at:#x}, stored {text:?}");
            let frame = physical_frame(mapped.addr()).ok().flatten().unwrap_or(0);
            let sent = nix::unistd::write(&frames.write_end, &frame.to_le_bytes());
            if sent.is_ok() { 0 } else { 1 }
        }),
        Forked::Parent(child) => child,
    };
    drop(frames.write_end);
    let status = child.waitpid_with(None)?; // the child's stores happen before its exit
    if status != WaitStatus::Exited(child.pid(), 0) {
        let why = format!("the child that maps {what} {}", describe(&status));
        return Err(Stopped::Failed(Failure::new(why)));
    }
    let read = String::from_utf8_lossy(&load_bytes(mine.bytes())).into_owned();
    let stored = format!("pid {} was here", child.pid());
    let same = match read == stored {
        true => "the same bytes",
        false => "NOT the same bytes",
    };
    let at = mine.addr();
    println!("          parent's mapping at {at:#x} reads {read:?}: {same}");
    // ANCHOR_END: share
    let mut frame = [0u8; 8];
    let count = stop.retry(|| nix::unistd::read(&frames.read_end, &mut frame));
    let theirs = u64::from_le_bytes(frame);
    let ours = physical_frame(mine.addr()).ok().flatten();
    match (count.context("read the child's pipe")?, ours) {
        (8, Some(ours)) if theirs != 0 => {
            let verdict = if ours == theirs {
                "the same"
            } else {
                "a DIFFERENT"
            };
            println!(
                "pages:    frame {theirs:#x} in the child, {ours:#x} here: {verdict} physical page"
            );
        }
        _ => println!(
            "pages:    frame numbers hidden: /proc/self/pagemap shows them to root \
             (CAP_SYS_ADMIN) only"
        ),
    }
    Ok(())
}

/// Forks a child that runs `create` (with a text to store) and exits without removing what
/// it created. Returns the text and the child's pid, once the child is gone.
fn in_child(
    stop: &Stop,
    create: impl FnOnce(&str) -> Result<String, Box<dyn std::error::Error>>,
) -> Result<(String, i32), Stopped> {
    stop.check()?;
    let text = "left by the creator".to_owned();
    let mut child = match fork()? {
        Forked::Child => run_child(|| match create(&text) {
            Ok(done) => {
                let pid = std::process::id();
                println!("lifetime: child pid {pid} {done},");
                println!("          stored {text:?}, and exited without removing it");
                0
            }
            Err(err) => {
                eprintln!("vs_mmap: child: {err}");
                1
            }
        }),
        Forked::Parent(child) => child,
    };
    let status = child.waitpid_with(None)?;
    if status != WaitStatus::Exited(child.pid(), 0) {
        let why = format!("the child that creates the object {}", describe(&status));
        return Err(Stopped::Failed(Failure::new(why)));
    }
    Ok((text, child.pid().as_raw()))
}

/// Whether what is left is what the creator stored.
fn what_child_stored(held: &str, text: &str) -> &'static str {
    match held == text {
        true => "what the child stored",
        false => "NOT what the child stored",
    }
}
