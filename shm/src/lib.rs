//! System V shared memory: the pieces the `shm` examples share.
//!
//! A segment is memory that the kernel keeps under a [`Key`]; every process that attaches it
//! sees the same physical pages at some address of its own. Nothing is copied: a store by one
//! process is a load away for the others. Nothing is synchronised either: the processes agree
//! on a protocol (a flag that says whose turn it is) and wait for each other themselves.
//!
//! Each system call has a thin wrapper named after it, whose doc names its man page:
//! [`shmget`] opens or creates a segment; the [`Segment`] it returns has
//! [`shmat`](Segment::shmat), [`shmctl_stat`](Segment::shmctl_stat),
//! [`shmctl_set_mode`](Segment::shmctl_set_mode) and [`shmctl_rmid`](Segment::shmctl_rmid);
//! the [`Attached`] mapping that `shmat` returns has [`shmdt`](Attached::shmdt), and detaches
//! itself when dropped. The handle that created a segment removes it when dropped.
//!
//! Rust and memory another process writes: no `&u8`, `&i32` or `&mut` into the segment, ever
//! (the compiler may assume such memory does not change under it). The segment is seen through
//! structs made only of atomics ([`Layout`]: [`ShmEntry`], [`SharedUse`]), so every access is an
//! atomic load or store, and a flag that hands data over is stored with Release and loaded with
//! Acquire. A waiting side sleeps in [`futex_wait`] on a 32-bit word of the segment (the shared,
//! not `_PRIVATE`, operation: it works across processes), which a Rust peer wakes with
//! [`futex_wake`]; a C peer wakes nobody, so every wait has a timeout and the caller looks again.
//!
//! Nothing here prints. This file holds the crate's only `unsafe` code.

use std::fmt::{self, Display};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use libc::c_int;
use nix::errno::Errno;
use support::stop::{Stop, Stopped};

pub use support::keys::{KeyArgs, NotesKeyArgs};
use sysv::Kind;
pub use sysv::{Error, Handle, Key, NamedKey, ftok};

pub mod lab;

/// The size of a page, `sysconf(_SC_PAGESIZE)`: 4096 on x86-64, 16 or 64 KiB on some arm64
/// kernels. Segments are mapped in whole pages, and pagemap has one entry per page.
pub fn page_size() -> usize {
    use nix::unistd::{SysconfVar, sysconf};
    let size = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096);
    usize::try_from(size).unwrap_or(4096)
}

/// `SHM_DEST` in `shm_perm.mode` (`<linux/shm.h>`; the libc crate does not export it).
pub const SHM_DEST: c_int = 0o1000;

/// What `shmctl(IPC_STAT)` says about a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The key it was created with; [`Key::PRIVATE`] (0) once it is marked for removal.
    pub key: Key,
    /// Owner, creator and mode.
    pub owner: sysv::Owner,
    /// The size asked for at creation (`shm_segsz`), in bytes; the kernel rounds the memory
    /// up to whole pages.
    pub size: usize,
    /// How many attachments it has now (`shm_nattch`).
    pub nattch: libc::shmatt_t,
    /// The process that created it (`shm_cpid`).
    pub cpid: i32,
    /// The process that attached or detached it last (`shm_lpid`).
    pub lpid: i32,
    /// The last attach, detach and change (seconds since the epoch; 0: never).
    pub atime: i64,
    /// See [`Stat::atime`].
    pub dtime: i64,
    /// See [`Stat::atime`].
    pub ctime: i64,
    /// `SHM_DEST` is set: it is marked for removal and goes when the last process detaches.
    pub dest: bool,
}

/// How the creator of a segment went (see [`Segment::creator_gone`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// It marked the segment for removal: it stopped and cleaned up.
    Removed,
    /// Its process (this pid) no longer exists: it was killed, and cleaned nothing up.
    Died(i32),
}

/// `shmget(2)`: the segment with `key`, of `size` bytes. `flags` are `IPC_CREAT`, `IPC_EXCL`
/// and the mode bits of a new segment (`0o600`); `size` may be 0 when opening an existing one.
/// A new segment is filled with zero bytes.
///
/// The handle removes the segment when it is dropped if this call certainly created it: with
/// `IPC_CREAT | IPC_EXCL`, or with [`Key::PRIVATE`].
// ANCHOR: shmget
pub fn shmget(key: impl Into<NamedKey>, size: usize, flags: c_int) -> Result<Segment, Error> {
    let key = key.into();
    // SAFETY: shmget takes integers and touches no memory of ours.
    let id = unsafe { libc::shmget(key.key().raw(), size, flags) };
    if id == -1 {
        let err = Error::last(format!("shmget {key} ({size} bytes)"));
        return Err(match err.errno() {
            Some(Errno::ENOENT) => err.because("no segment has this key"),
            Some(Errno::EEXIST) => err.because("a segment with this key exists already"),
            Some(Errno::EINVAL) => err.because(
                "the segment with this key is smaller than that, or the size is out of limits \
                 (SHMMIN, SHMMAX: `ipcs -l`; the book's shared-memory limits page)",
            ),
            Some(Errno::ENOSPC) => err.because(
                "too many segments (SHMMNI) or too much shared memory in all (SHMALL, in \
                 pages): `ipcs -l`, `ipcs -m`",
            ),
            Some(Errno::ENOMEM) => {
                err.because("the kernel will not promise that much memory (overcommit)")
            }
            Some(Errno::EACCES) => err.because("the segment's mode does not let you use it"),
            _ => err,
        });
    }
    let exclusive = libc::IPC_CREAT | libc::IPC_EXCL;
    let created = key.key().is_private() || (flags & exclusive) == exclusive;
    Ok(Segment(Handle::new(Kind::Shm, id, key, created)))
}
// ANCHOR_END: shmget

/// How [`Segment::shmat`] maps the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write (flags 0).
    ReadWrite,
    /// `SHM_RDONLY`: a store through it kills the process with SIGSEGV.
    ReadOnly,
}

/// A System V shared memory segment this process has opened with [`shmget`].
///
/// Its [`Handle`] holds its id, its key, and whether this process created it; `Deref` lets a
/// `Segment` call the handle's methods as its own: `segment.id()`. The creator cleans up: dropping the handle that created the segment
/// marks it for removal (`shmctl(IPC_RMID)`), on every way out, a panic included; it goes once
/// nobody is attached. Any other handle leaves it alone unless [`Segment::shmctl_rmid`] is
/// called.
#[derive(Debug)]
pub struct Segment(Handle);

impl std::ops::Deref for Segment {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.0
    }
}

impl Segment {
    /// The segment with identifier `id`, as `ipcs -m` shows it. No system call; this handle
    /// never removes the segment on drop.
    pub fn from_id(id: i32) -> Self {
        Self(Handle::from_id(Kind::Shm, id))
    }

    /// Gives up the duty to remove the segment: it stays in the kernel until someone removes
    /// it. Returns the same segment as a handle that never removes it.
    pub fn leave_in_kernel(mut self) -> Segment {
        self.0.leave_in_kernel();
        self
    }

    /// Takes on the duty to remove the segment when this handle is dropped: for a segment that
    /// another process created and left (a child that exited), which this one now cleans up.
    pub fn remove_on_drop(mut self) -> Segment {
        self.0.remove_on_drop();
        self
    }

    /// The owner check for a segment this process did not create (see `sysv::check_owner`):
    /// your own passes, with a warning if others may write to it; another user's is refused
    /// unless `accept_foreign`. `Ok(Some(line))`: a line for the example to print.
    pub fn check_owner(&self, accept_foreign: bool) -> Result<Option<String>, Error> {
        let owner = || self.shmctl_stat().map(|stat| stat.owner);
        self.0.check_owner(owner, accept_foreign)
    }

    // ANCHOR: shmat
    /// `shmat(2)`: maps the segment into this process, at an address the kernel picks.
    /// The mapping stays valid until [`Attached::shmdt`] (or the drop, or the exit), even
    /// after the segment is marked for removal.
    pub fn shmat(&self, access: Access) -> Result<Attached, Error> {
        let size = self.shmctl_stat()?.size;
        let flags = match access {
            Access::ReadWrite => 0,
            Access::ReadOnly => libc::SHM_RDONLY,
        };
        // SAFETY: a null address lets the kernel pick a free range, so the new mapping
        // overlaps nothing of ours; the result is checked for (void *) -1 below.
        let addr = unsafe { libc::shmat(self.id(), std::ptr::null(), flags) };
        if addr as isize == -1 {
            return Err(explain(Error::last(format!("shmat {self}"))));
        }
        let addr = NonNull::new(addr.cast::<u8>()).expect("shmat never maps address 0");
        Ok(Attached {
            addr,
            size,
            read_only: access == Access::ReadOnly,
        })
    }
    // ANCHOR_END: shmat

    // ANCHOR: stat
    /// `shmctl(2)` with `IPC_STAT`: size, attachments, pids, times and the `SHM_DEST` flag.
    pub fn shmctl_stat(&self) -> Result<Stat, Error> {
        let mut ds = MaybeUninit::<libc::shmid_ds>::uninit();
        // SAFETY: `ds` has room for a `shmid_ds`, which IPC_STAT fills in whole on success.
        let done = unsafe { libc::shmctl(self.id(), libc::IPC_STAT, ds.as_mut_ptr()) };
        self.check(done, "shmctl IPC_STAT")?;
        // SAFETY: shmctl succeeded, so the kernel filled `ds`.
        let ds = unsafe { ds.assume_init() };
        Ok(Stat {
            key: Key::from_number(ds.shm_perm.__key),
            owner: sysv::Owner::from(&ds.shm_perm),
            size: ds.shm_segsz,
            nattch: ds.shm_nattch,
            cpid: ds.shm_cpid,
            lpid: ds.shm_lpid,
            atime: ds.shm_atime,
            dtime: ds.shm_dtime,
            ctime: ds.shm_ctime,
            dest: c_int::from(ds.shm_perm.mode) & SHM_DEST != 0,
        })
    }
    // ANCHOR_END: stat

    /// Whether the server that made this segment (a client opens it, never creates it) is
    /// gone: it marked the segment for removal (`SHM_DEST`), or its process, `shm_cpid`, has
    /// ended ([`support::has_ended`]). A count such as nattch says less: a third process that
    /// attaches raises it, and a live server that detached lowers it.
    pub fn creator_gone(&self) -> Result<Option<Gone>, Error> {
        let stat = self.shmctl_stat()?;
        if stat.dest {
            return Ok(Some(Gone::Removed));
        }
        let pid = nix::unistd::Pid::from_raw(stat.cpid);
        if support::has_ended(pid) {
            return Ok(Some(Gone::Died(stat.cpid)));
        }
        Ok(None)
    }

    /// `shmctl(2)` with `IPC_SET`: changes the mode bits (owner and group stay).
    pub fn shmctl_set_mode(&self, mode: u16) -> Result<(), Error> {
        self.set(|perm| perm.mode = (perm.mode & !0o777) | (mode & 0o777))
    }

    /// `shmctl(2)` with `IPC_SET`: gives the segment to user `uid` (root only; for tests of
    /// the owner check).
    pub fn shmctl_set_owner(&self, uid: libc::uid_t) -> Result<(), Error> {
        self.set(|perm| perm.uid = uid)
    }

    fn set(&self, change: impl FnOnce(&mut libc::ipc_perm)) -> Result<(), Error> {
        let mut ds = MaybeUninit::<libc::shmid_ds>::uninit();
        // SAFETY: as in `shmctl_stat`: IPC_STAT fills `ds` in whole on success.
        let done = unsafe { libc::shmctl(self.id(), libc::IPC_STAT, ds.as_mut_ptr()) };
        self.check(done, "shmctl IPC_STAT")?;
        // SAFETY: shmctl succeeded, so the kernel filled `ds`.
        let mut ds = unsafe { ds.assume_init() };
        change(&mut ds.shm_perm);
        let mode = ds.shm_perm.mode & 0o777;
        // SAFETY: IPC_SET reads uid, gid and mode from the valid `ds` during the call.
        let done = unsafe { libc::shmctl(self.id(), libc::IPC_SET, &mut ds) };
        self.check(done, format!("shmctl IPC_SET mode {mode:04o}"))
    }

    /// `shmctl(2)` with `IPC_RMID`: marks the segment for removal. Its key becomes 0 at once
    /// (a new `shmget` by the key finds nothing), and it goes when the last process detaches.
    /// Takes the handle: this process is done with it.
    pub fn shmctl_rmid(mut self) -> Result<(), Error> {
        self.0.leave_in_kernel(); // removed here, not again on drop
        self.mark_for_removal()
    }

    /// `shmctl(2)` with `IPC_RMID`, keeping the handle (to look at the marked segment, or to
    /// mark it a second time, which Linux accepts while it is still attached).
    pub fn mark_for_removal(&self) -> Result<(), Error> {
        // SAFETY: IPC_RMID ignores the third argument.
        let done = unsafe { libc::shmctl(self.id(), libc::IPC_RMID, std::ptr::null_mut()) };
        let result = self.check(done, "shmctl IPC_RMID");
        match result {
            Err(err) if err.errno() == Some(Errno::EPERM) => Err(
                err.because("only the segment's owner or creator may remove it, whatever its mode")
            ),
            other => other,
        }
    }

    fn check(&self, result: c_int, operation: impl Display) -> Result<(), Error> {
        if result == -1 {
            return Err(explain(Error::last(format!(
                "{operation} (segment id={})",
                self.id()
            ))));
        }
        Ok(())
    }
}

impl Display for Segment {
    /// `segment id=7 with key 0x000004d2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The errno of a failed `shmat`/`shmctl`, in words.
fn explain(err: Error) -> Error {
    match err.errno() {
        Some(Errno::EIDRM) => err.because("the segment was removed"),
        Some(Errno::EINVAL) => err.because("no segment has this id: it was removed, or never was"),
        Some(Errno::EACCES) => err.because("the segment's mode does not let you do this"),
        _ => err,
    }
}

/// A struct that may be laid over shared memory: `#[repr(C)]`, made only of atomics (so any
/// byte pattern is a valid value, and every access is atomic), with no `Drop`.
///
/// # Safety
/// The implementor must be `#[repr(C)]`, contain only atomic integers (`AtomicBool`,
/// `AtomicU8`, `AtomicU32`, arrays of them), and need no alignment above a page.
pub unsafe trait Layout: Sized + Sync {}

// ANCHOR: shm_entry
/// The notes' first pair's `struct ShmEntry { bool can_read; char msg[2048]; }`, byte for byte
/// (2049 bytes: `can_read` at offset 0, `msg` at 1), as atomics.
#[derive(Debug)]
#[repr(C)]
pub struct ShmEntry {
    /// 1: `msg` holds a message for the server; 0: the client may write the next one.
    pub can_read: AtomicBool,
    /// The message, NUL-terminated when shorter than 2048 bytes.
    pub msg: [AtomicU8; 2048],
}
// ANCHOR_END: shm_entry

/// Where the ports of the notes' first pair keep their futex word: in the page's slack right
/// after [`ShmEntry`], where the C programs never look.
pub const ENTRY_WAKE_AT: usize = size_of::<ShmEntry>();

/// Where shm_client claims its role (see [`Claim`]): the word after [`ENTRY_WAKE_AT`].
pub const ENTRY_CLAIM_AT: usize = ENTRY_WAKE_AT + 4;

// SAFETY: repr(C), only atomics, alignment 1.
unsafe impl Layout for ShmEntry {}

/// The notes' second pair's `struct shared_use_st { int written; char text[2048]; }` (2052
/// bytes), as atomics. `written` is C's `int`: the same 4 bytes as a `u32`, and a futex word.
#[derive(Debug)]
#[repr(C)]
pub struct SharedUse {
    /// 1: `text` holds a line for the reader; 0: the writer may write the next one.
    pub written: AtomicU32,
    /// The line, NUL-terminated when shorter than 2048 bytes.
    pub text: [AtomicU8; 2048],
}

// SAFETY: repr(C), only atomics, alignment 4 (shmat returns page-aligned addresses).
unsafe impl Layout for SharedUse {}

impl SharedUse {
    /// Refuses a `written` flag that is neither 0 nor 1: another program (or a test) wrote
    /// garbage into the segment, and waiting for a 0 or a 1 would wait forever.
    pub fn check_written(&self) -> Result<(), Error> {
        match self.written.load(Ordering::Acquire) {
            0 | 1 => Ok(()),
            other => Err(Error::refused(
                "read the written flag",
                format!(
                    "it holds {other}, neither 0 nor 1: something else wrote into the segment; \
                     stopping rather than waiting forever"
                ),
            )),
        }
    }
}

/// A segment mapped into this process by [`Segment::shmat`]; detached (`shmdt`) when dropped.
///
/// There is no `&[u8]` into it: what it holds is reached through [`Attached::view`] (a struct
/// of atomics) or [`Attached::bytes`] (atomic bytes).
#[derive(Debug)]
pub struct Attached {
    addr: NonNull<u8>,
    size: usize,
    read_only: bool,
}

impl Attached {
    /// The address the kernel picked, as a number (it differs from process to process).
    pub fn addr(&self) -> usize {
        self.addr.as_ptr() as usize
    }

    /// The segment's size in bytes (`shm_segsz`, as when it was attached).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether it was attached with `SHM_RDONLY`.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// How many bytes are mapped: the size rounded up to whole pages.
    pub fn mapped(&self) -> usize {
        self.size.div_ceil(page_size()) * page_size()
    }

    // ANCHOR: view
    /// The segment seen as a `T`: refused if the segment is smaller than the struct.
    pub fn view<T: Layout>(&self) -> Result<&T, Error> {
        let wanted = size_of::<T>();
        if self.size < wanted {
            return Err(Error::refused(
                "shmat",
                format!(
                    "the segment has {} bytes, and the struct needs {wanted}: \
                     it was made for something else",
                    self.size
                ),
            ));
        }
        // SAFETY: the mapping is at least size_of::<T>() bytes, page-aligned, and lives as long
        // as `self`; T holds only atomics (the `Layout` contract), so every byte pattern is a
        // valid T, and a shared reference to atomics lets other processes write: all access
        // goes through atomic loads and stores, never plain ones.
        Ok(unsafe { self.addr.cast::<T>().as_ref() })
    }
    // ANCHOR_END: view

    /// The whole segment as atomic bytes (`shm_segsz` of them).
    pub fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: the mapping holds `size` bytes and lives as long as `self`; AtomicU8 has the
        // size and alignment of u8, any value is valid, and access is atomic only.
        unsafe { std::slice::from_raw_parts(self.addr.cast::<AtomicU8>().as_ptr(), self.size) }
    }

    /// A 32-bit word in the page slack after the first `after` bytes: at `after` rounded up to
    /// 4, inside the mapped pages but beyond what the struct uses. The notes' `ShmEntry` (2049
    /// bytes) has no 4-byte field to wait on; its ports keep a wake-up counter here, where the
    /// C program never looks. `None` if the last page has no room left.
    pub fn slack_word(&self, after: usize) -> Option<&AtomicU32> {
        let offset = after.div_ceil(4) * 4;
        if offset + 4 > self.mapped() {
            return None;
        }
        // SAFETY: offset + 4 is within the mapped pages (the kernel maps whole pages, and
        // shmem pages up to the one holding the end of the segment are valid), the address is
        // 4-aligned (page-aligned base), and the word is only accessed atomically.
        Some(unsafe { AtomicU32::from_ptr(self.addr.as_ptr().add(offset).cast::<u32>()) })
    }

    // ANCHOR: shmdt
    /// `shmdt(2)`: unmaps the segment from this process (the segment itself stays).
    pub fn shmdt(self) -> Result<(), Error> {
        let this = std::mem::ManuallyDrop::new(self);
        this.detach()
    }
    // ANCHOR_END: shmdt

    fn detach(&self) -> Result<(), Error> {
        // SAFETY: `addr` is what shmat returned; no reference into the mapping outlives `self`
        // (view and bytes borrow it), and `self` is not used after this.
        let done = unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
        if done == -1 {
            return Err(Error::last("shmdt"));
        }
        Ok(())
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}

/// Copies `data` into `field` with relaxed atomic stores, then a NUL if there is room (as C's
/// `strncpy` does). Returns how many bytes were stored; the caller refuses or splits anything
/// longer than the field.
pub fn store_bytes(field: &[AtomicU8], data: &[u8]) -> usize {
    let count = data.len().min(field.len());
    for (cell, &byte) in field.iter().zip(&data[..count]) {
        cell.store(byte, Ordering::Relaxed);
    }
    if let Some(end) = field.get(count) {
        end.store(0, Ordering::Relaxed);
    }
    count
}

/// The bytes of `field` up to its first NUL (or all of it), with relaxed atomic loads.
pub fn load_bytes(field: &[AtomicU8]) -> Vec<u8> {
    field
        .iter()
        .map(|cell| cell.load(Ordering::Relaxed))
        .take_while(|&byte| byte != 0)
        .collect()
}

/// What ended a [`futex_wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// A `futex_wake` woke it (or a spurious wake-up: look again).
    Woken,
    /// The word did not hold `expected` any more when the kernel looked (EAGAIN).
    Changed,
    /// The timeout passed (ETIMEDOUT): nobody woke it; a C peer never does.
    TimedOut,
}

// ANCHOR: futex
/// `futex(2)` with `FUTEX_WAIT` (the shared form, not `_PRIVATE`: the kernel finds the word by
/// the object mapped there and its offset in it, so processes that map the same segment meet,
/// at whatever address; a private futex is found by address space and address): sleeps while
/// `word` holds `expected`, at most `timeout`. Always look at the word again afterwards,
/// whatever the answer. A signal ends the wait with EINTR.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> Result<Woke, Error> {
    let limit = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned u32 for the call; the kernel only reads it and
    // `limit`, and keeps no pointer afterwards.
    let done = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &raw const limit,
        )
    };
    if done == 0 {
        return Ok(Woke::Woken);
    }
    match Errno::last() {
        Errno::EAGAIN => Ok(Woke::Changed),
        Errno::ETIMEDOUT => Ok(Woke::TimedOut),
        errno => Err(Error::new("futex FUTEX_WAIT", errno)),
    }
}
// ANCHOR_END: futex

/// `futex(2)` with `FUTEX_WAKE` (shared form): wakes up to `count` processes sleeping in
/// [`futex_wait`] on `word`. Returns how many it woke.
pub fn futex_wake(word: &AtomicU32, count: u32) -> Result<usize, Error> {
    let count = c_int::try_from(count).unwrap_or(c_int::MAX);
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE only uses its address.
    let done = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, count) };
    if done == -1 {
        return Err(Error::last("futex FUTEX_WAKE"));
    }
    Ok(done as usize)
}

/// A role of a protocol (the client, the writer) held by this process, in a 32-bit word of the
/// segment's page slack that the course notes' C programs never touch: the holder's pid, 0 when
/// free. Given back when dropped; a holder that was killed leaves its pid, and a pid that no
/// longer exists counts as free ([`support::has_ended`]).
pub struct Claim<'a> {
    word: &'a AtomicU32,
}

impl<'a> Claim<'a> {
    /// Takes the role `role` in `word`, or says which live process holds it.
    pub fn take(word: &'a AtomicU32, role: &str) -> Result<Claim<'a>, Error> {
        let me = std::process::id();
        loop {
            let holder = word.load(Ordering::Acquire);
            let alive = holder != 0
                && holder != me
                && !support::has_ended(nix::unistd::Pid::from_raw(holder as i32));
            if alive {
                return Err(Error::refused(
                    format!("claim the {role}'s role"),
                    format!("process {holder} is the {role} already; the protocol has one"),
                ));
            }
            let taken = word.compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire);
            if taken.is_ok() {
                return Ok(Claim { word });
            }
        }
    }
}

impl Claim<'_> {
    /// The pid left in `word` by a holder that has detached: it never gave the role back, so
    /// it was killed (our programs give it back before they detach, even on an error). Asked
    /// only after the detach, and not of the pid's state: a killed process loses its mappings
    /// before it becomes a zombie, so for a moment it has detached but not yet ended.
    pub fn killed_holder(word: &AtomicU32) -> Option<u32> {
        let holder = word.load(Ordering::Acquire);
        (holder != 0).then_some(holder)
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

/// How long a waiting side sleeps at most before it looks again: a C peer flips the flag
/// without waking anyone, so the Rust side notices within this time (the issue asks for 20 ms).
pub const POLL_FALLBACK: Duration = Duration::from_millis(15);

// ANCHOR: wait_for
/// Waits until `ready()` says yes, without burning a CPU: looks, then sleeps in
/// [`futex_wait`] on `wake` for at most [`POLL_FALLBACK`], and looks again. A Rust peer bumps
/// `wake` and wakes us at once ([`bump_and_wake`]); a C peer does not, and the timeout catches
/// its flag. Before each sleep `still_there()` may give up (the peer went away); a stop signal
/// ends the wait.
pub fn wait_for(
    stop: &Stop,
    wake: &AtomicU32,
    mut ready: impl FnMut() -> bool,
    mut still_there: impl FnMut() -> Result<(), Error>,
) -> Result<(), Stopped<Error>> {
    loop {
        stop.check()?;
        let seen = wake.load(Ordering::Acquire); // before the look: a bump after it is not lost
        if ready() {
            return Ok(());
        }
        still_there().map_err(Stopped::Failed)?;
        stop.retry(|| futex_wait(wake, seen, POLL_FALLBACK))?;
    }
}
// ANCHOR_END: wait_for

/// Tells the other side to look again: adds 1 to `wake` and wakes whoever sleeps on it.
pub fn bump_and_wake(wake: &AtomicU32) -> Result<(), Error> {
    wake.fetch_add(1, Ordering::Release);
    futex_wake(wake, u32::MAX).map(drop)
}

/// The key of the notes' first two pairs: the flags' key, or the course notes' number
/// `notes_key` (1111 or 1234). `may_create`: see [`NotesKeyArgs::key_or`].
pub fn key_or_notes(
    args: &NotesKeyArgs,
    notes_key: libc::key_t,
    may_create: bool,
) -> Result<NamedKey, Error> {
    args.key_or(
        || Ok(NamedKey::from(Key::from_number(notes_key))),
        may_create,
    )
}

/// The key the notes' third pair uses: `ftok("/tmp", 0x666)`. ftok keeps only the
/// low 8 bits of its project id, so the 0x666 is 0x66 (`'f'`): [`COMM_PROJ`].
pub const COMM_PATH: &str = "/tmp";

/// `0x666 & 0xff`: what ftok makes of the notes' project id 0x666.
pub const COMM_PROJ: u8 = 0x66;

/// The notes' third pair's segment: 4096 bytes, one page, holding a C string of `'A'`s.
pub const COMM_SIZE: usize = 4096;

/// Where the Rust comm pair keeps its futex word: the last 4 bytes of the page, which the
/// string never reaches (see [`COMM_MAX_LENGTH`]).
pub const COMM_WAKE_AT: usize = COMM_SIZE - 4;

/// The longest string of `'A'`s the comm pair grows: it and its NUL end before
/// [`COMM_WAKE_AT`].
pub const COMM_MAX_LENGTH: usize = COMM_WAKE_AT - 1;

/// The key of the comm pair: the flags' key, or the course notes' `ftok("/tmp", 0x666)`,
/// which is `ftok("/tmp", 0x66)`. `may_create`: see [`NotesKeyArgs::key_or`].
pub fn key_or_comm(args: &NotesKeyArgs, may_create: bool) -> Result<NamedKey, Error> {
    args.key_or(
        || NamedKey::ftok(std::path::Path::new(COMM_PATH), COMM_PROJ),
        may_create,
    )
}

/// Parses a mode for a new object: octal, such as `600` or `0644`, at most `777`.
pub fn parse_mode(text: &str) -> Result<u16, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u16::from_str_radix(digits, 8) {
        // The creator attaches read-write itself: without 0600 its own shmat fails (EACCES).
        Ok(mode) if mode <= 0o777 && mode & 0o600 != 0o600 => Err(format!(
            "{mode:o} leaves out the owner's read and write (600), which the creator needs to \
             attach its own segment"
        )),
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!(
            "{text:?} is not in 0..=0777: give the read/write bits in octal, such as 600"
        )),
    }
}

/// A file (or a `shm_open` object) mapped with `mmap(MAP_SHARED)`: the second and third ways
/// to share pages, beside [`Segment::shmat`]. Unmapped (`munmap`) when dropped. As with
/// [`Attached`], it is reached through atomic bytes only.
#[derive(Debug)]
pub struct Mapping {
    addr: NonNull<u8>,
    len: usize,
}

/// `mmap(2)`: maps the first `len` bytes of the open file `fd`, read-write and `MAP_SHARED`,
/// at an address the kernel picks. The file must be at least `len` bytes long (`ftruncate`):
/// touching a page past its end kills the process with SIGBUS.
pub fn mmap_shared(fd: BorrowedFd<'_>, len: usize) -> Result<Mapping, Error> {
    use nix::sys::mman::{MapFlags, ProtFlags, mmap};
    let size = std::num::NonZeroUsize::new(len)
        .ok_or_else(|| Error::refused("mmap", "a mapping of 0 bytes"))?;
    let file_len = nix::sys::stat::fstat(fd)
        .map_err(|errno| Error::new("fstat", errno))?
        .st_size;
    if usize::try_from(file_len).unwrap_or(0) < len {
        return Err(Error::refused(
            "mmap",
            format!("the file has {file_len} bytes, fewer than the {len} to map (ftruncate it)"),
        ));
    }
    let protection = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: no address is given, so the kernel picks a free range and the new mapping
    // replaces nothing of ours; the file holds at least `len` bytes (checked above), and the
    // mapping is only ever reached through atomic bytes (`Mapping::bytes`), never `&u8`.
    let addr = unsafe { mmap(None, size, protection, MapFlags::MAP_SHARED, fd, 0) }
        .map_err(|errno| Error::new(format!("mmap {len} bytes MAP_SHARED"), errno))?;
    Ok(Mapping {
        addr: addr.cast(),
        len,
    })
}

impl Mapping {
    /// The address the kernel picked, as a number.
    pub fn addr(&self) -> usize {
        self.addr.as_ptr() as usize
    }

    /// The mapping as atomic bytes.
    pub fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: `len` bytes are mapped and stay so as long as `self`; AtomicU8 has the size
        // and alignment of u8, any value is valid, and access is atomic only.
        unsafe { std::slice::from_raw_parts(self.addr.cast::<AtomicU8>().as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `addr` and `len` are what mmap returned and was asked; no reference into the
        // mapping outlives `self` (bytes borrows it).
        let _ = unsafe { nix::sys::mman::munmap(self.addr.cast(), self.len) };
    }
}

/// The physical page (frame number) behind the virtual address `addr` of this process, read
/// from `/proc/self/pagemap` (proc_pid_pagemap(5)). `Ok(None)`: the page is not in memory, or
/// the kernel hides frame numbers (it shows 0 to anyone without `CAP_SYS_ADMIN`).
pub fn physical_frame(addr: usize) -> std::io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open("/proc/self/pagemap")?;
    let mut entry = [0u8; 8];
    file.read_exact_at(&mut entry, (addr / page_size() * 8) as u64)?;
    let entry = u64::from_le_bytes(entry);
    let present = entry & (1 << 63) != 0;
    let frame = entry & ((1 << 55) - 1);
    Ok((present && frame != 0).then_some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_private_segment_is_created_attached_seen_and_removed() {
        let segment = shmget(Key::PRIVATE, 100, libc::IPC_CREAT | 0o600).unwrap();
        assert!(segment.created());
        let stat = segment.shmctl_stat().unwrap();
        assert_eq!((stat.size, stat.nattch, stat.dest), (100, 0, false));
        assert_eq!(stat.owner.mode, 0o600);
        assert_eq!(stat.cpid, std::process::id() as i32);
        let one = segment.shmat(Access::ReadWrite).unwrap();
        let two = segment.shmat(Access::ReadOnly).unwrap();
        assert_eq!(segment.shmctl_stat().unwrap().nattch, 2);
        assert_ne!(one.addr(), two.addr(), "two mappings of the same pages");
        assert_eq!(store_bytes(&one.bytes()[..10], b"hello"), 5);
        assert_eq!(load_bytes(two.bytes()), b"hello", "seen through the other");
        assert!(two.is_read_only());
        assert_eq!(one.mapped(), page_size());
        two.shmdt().unwrap();
        let stat = segment.shmctl_stat().unwrap();
        assert_eq!(stat.nattch, 1);
        assert_ne!(stat.dtime, 0);
        segment.shmctl_set_mode(0o640).unwrap();
        assert_eq!(segment.shmctl_stat().unwrap().owner.mode, 0o640);
        segment.mark_for_removal().unwrap();
        let stat = segment.shmctl_stat().unwrap();
        assert!(stat.dest, "SHM_DEST while attached");
        assert!(stat.key.is_private(), "the key becomes 0");
        assert_eq!(load_bytes(one.bytes()), b"hello", "the mapping still works");
        segment.mark_for_removal().unwrap();
        let id = segment.id();
        drop(one);
        drop(segment);
        let gone = Segment::from_id(id).shmctl_stat().unwrap_err();
        assert_eq!(gone.errno(), Some(Errno::EINVAL));
    }

    #[test]
    fn a_segment_smaller_than_the_struct_is_refused() {
        let segment = shmget(Key::PRIVATE, 100, libc::IPC_CREAT | 0o600).unwrap();
        let attached = segment.shmat(Access::ReadWrite).unwrap();
        let err = attached.view::<ShmEntry>().unwrap_err();
        assert!(err.to_string().contains("the struct needs 2049"), "{err}");
        let fits = shmget(
            Key::PRIVATE,
            size_of::<SharedUse>(),
            libc::IPC_CREAT | 0o600,
        )
        .unwrap();
        let attached = fits.shmat(Access::ReadWrite).unwrap();
        let shared = attached.view::<SharedUse>().unwrap();
        shared.written.store(1, Ordering::Release);
        assert_eq!(attached.bytes()[0].load(Ordering::Relaxed), 1, "offset 0");
    }

    #[test]
    fn the_wire_layouts_are_the_notes() {
        assert_eq!(size_of::<ShmEntry>(), 2049);
        assert_eq!(std::mem::offset_of!(ShmEntry, msg), 1);
        assert_eq!(size_of::<SharedUse>(), 2052);
        assert_eq!(std::mem::offset_of!(SharedUse, text), 4);
    }

    #[test]
    fn only_the_creator_removes_on_drop_and_keys_find_segments() {
        let key = Key::from_number(0x5eed_0000 | (std::process::id() as i32 & 0xffff));
        let created = shmget(key, 64, libc::IPC_CREAT | libc::IPC_EXCL | 0o600).unwrap();
        let again = shmget(key, 64, libc::IPC_CREAT | libc::IPC_EXCL | 0o600).unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
        let opened = shmget(key, 0, 0).unwrap();
        assert!(!opened.created());
        assert_eq!(opened.id(), created.id());
        let too_big = shmget(key, 1 << 20, 0).unwrap_err();
        assert_eq!(too_big.errno(), Some(Errno::EINVAL));
        assert!(too_big.to_string().contains("`ipcs -l`"), "{too_big}");
        drop(opened);
        assert!(
            created.shmctl_stat().is_ok(),
            "another handle left it alone"
        );
        drop(created);
        let err = shmget(key, 0, 0).unwrap_err();
        assert!(err.to_string().contains("no segment has this key"), "{err}");
    }

    #[test]
    fn futex_wait_times_out_sees_a_change_and_is_woken() {
        let segment = shmget(Key::PRIVATE, 8, libc::IPC_CREAT | 0o600).unwrap();
        let attached = segment.shmat(Access::ReadWrite).unwrap();
        let word = attached.slack_word(0).unwrap();
        let started = Instant::now();
        let woke = futex_wait(word, 0, Duration::from_millis(20)).unwrap();
        assert_eq!(woke, Woke::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(futex_wait(word, 7, POLL_FALLBACK).unwrap(), Woke::Changed);
        assert_eq!(futex_wake(word, 1).unwrap(), 0, "nobody sleeps");
        std::thread::scope(|scope| {
            let sleeper = scope.spawn(|| futex_wait(word, 0, Duration::from_secs(5)).unwrap());
            // Wake until the sleeper is gone: a wake before it sleeps is lost, by design.
            while !sleeper.is_finished() {
                word.store(1, Ordering::Release);
                futex_wake(word, 1).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            let woke = sleeper.join().unwrap();
            assert!(matches!(woke, Woke::Woken | Woke::Changed), "{woke:?}");
        });
        assert!(attached.slack_word(page_size() - 4).is_some());
        assert!(attached.slack_word(page_size() - 3).is_none());
    }

    #[test]
    fn two_shared_mappings_of_one_file_see_the_same_bytes() {
        let path = std::env::temp_dir().join(format!("shm-mmap-test-{}", std::process::id()));
        let file = std::fs::File::create_new(&path).unwrap();
        std::fs::remove_file(&path).unwrap(); // nothing left, even on a failure below
        file.set_len(page_size() as u64).unwrap();
        use std::os::fd::AsFd;
        let one = mmap_shared(file.as_fd(), page_size()).unwrap();
        let two = mmap_shared(file.as_fd(), page_size()).unwrap();
        assert_ne!(one.addr(), two.addr());
        store_bytes(one.bytes(), b"shared");
        assert_eq!(load_bytes(two.bytes()), b"shared");
        let frames = (physical_frame(one.addr()), physical_frame(two.addr()));
        if let (Ok(Some(a)), Ok(Some(b))) = frames {
            assert_eq!(a, b, "one physical page");
        }
        let err = mmap_shared(file.as_fd(), 2 * page_size()).unwrap_err();
        assert!(err.to_string().contains("ftruncate"), "{err}");
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert!(parse_mode("1000").is_err());
    }
}
