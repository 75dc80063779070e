//! `bench`: which IPC is fastest on this machine, and how close each mechanism comes to what the
//! hardware and the kernel allow.
//!
//! Two processes play ping-pong over each mechanism (the round trip), or one streams to the
//! other (the throughput). The same run measures the floors the mechanisms cannot beat: a cache
//! line handed back and forth by two spinning processes, a futex wait/wake round trip, and
//! `memcpy` bandwidth. Every figure is printed beside its floor.
//!
//! - [`transport`] sets each mechanism up before `fork`, and gives each side its end after it;
//! - [`measure`] runs the ping-pong and streaming loops, the floors, and places the processes;
//! - [`stats`] computes percentiles;
//! - [`report`] prints the run as tables, and keeps it as JSON;
//! - [`chart`] draws the run as SVG charts (plotters).
//!
//! This file holds the crate's only `unsafe` code: a shared anonymous mapping, bulk copies into
//! and out of shared memory, and `msgsnd`/`msgrcv` on a reusable buffer.

pub mod chart;
pub mod measure;
pub mod report;
pub mod stats;
pub mod transport;

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use libc::c_long;
use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

/// What keeps a [`SharedRegion`]'s pages mapped.
#[derive(Debug)]
pub enum Backing {
    /// `mmap(MAP_SHARED | MAP_ANONYMOUS)`: shared with the children forked after it.
    Anonymous,
    /// A System V segment, attached (`shmat`); already marked for removal, so it goes when the
    /// last process detaches, even one killed by SIGKILL.
    SystemV(shm::Attached),
    /// A file or a POSIX shared memory object mapped `MAP_SHARED`.
    Mapped(shm::Mapping),
}

/// Pages that two processes share, reached as plain bytes for bulk copies and as atomic words
/// for the flags that hand the bytes over.
///
/// Why raw bytes here, where the `shm` crate allows only atomics: a benchmark must copy with
/// `memcpy`, as a C program would. Each transport's protocol gives one side at a time a range
/// (a Release store of a counter, an Acquire load on the other side), so the copies never race
/// with a well-behaved peer; a misbehaving one can only produce wrong bytes, which the
/// benchmark's checks catch.
#[derive(Debug)]
pub struct SharedRegion {
    base: NonNull<u8>,
    len: usize,
    backing: Backing,
}

impl SharedRegion {
    /// A new zero-filled shared anonymous mapping of `len` bytes (rounded up to whole pages by
    /// the kernel).
    pub fn anonymous(len: usize) -> Result<SharedRegion, Errno> {
        let size = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        let protection = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        let flags = MapFlags::MAP_SHARED | MapFlags::MAP_ANONYMOUS;
        // SAFETY: no address is given, so the kernel picks a free range and replaces nothing of
        // ours; the mapping is reached only through the checked methods below.
        let base = unsafe { mmap_anonymous(None, size, protection, flags) }?;
        Ok(SharedRegion {
            base: base.cast(),
            len,
            backing: Backing::Anonymous,
        })
    }

    /// The pages of an attached System V segment.
    pub fn attached(attached: shm::Attached) -> SharedRegion {
        SharedRegion::over(attached.addr(), attached.size(), Backing::SystemV(attached))
    }

    /// The pages of a `MAP_SHARED` mapping of `len` bytes.
    pub fn mapped(mapping: shm::Mapping, len: usize) -> SharedRegion {
        SharedRegion::over(mapping.addr(), len, Backing::Mapped(mapping))
    }

    fn over(addr: usize, len: usize, backing: Backing) -> SharedRegion {
        SharedRegion {
            base: NonNull::new(addr as *mut u8).expect("a mapping is never at address 0"),
            len,
            backing,
        }
    }

    /// How many bytes are mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes (never, for a region made here).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What keeps the pages mapped.
    pub fn backing(&self) -> &Backing {
        &self.backing
    }

    fn check(&self, offset: usize, len: usize, align: usize) {
        let end = offset.checked_add(len).expect("offset + len overflows");
        assert!(
            end <= self.len,
            "{offset}+{len} is past the region's {} bytes",
            self.len
        );
        assert!(
            offset.is_multiple_of(align),
            "offset {offset} is not {align}-aligned"
        );
    }

    /// The 32-bit word at `offset` (a multiple of 4): a flag, a counter or a futex.
    pub fn word(&self, offset: usize) -> &AtomicU32 {
        self.check(offset, 4, 4);
        // SAFETY: the 4 bytes are inside the mapping (checked) and 4-aligned (the base is a page
        // boundary); they stay mapped while `self` lives, which the borrow ties the reference
        // to; any bit pattern is a valid u32, and access through AtomicU32 is atomic.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The 64-bit word at `offset` (a multiple of 8): a position in a ring.
    pub fn word64(&self, offset: usize) -> &AtomicU64 {
        self.check(offset, 8, 8);
        // SAFETY: as in `word`, for 8 bytes, 8-aligned.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    /// Copies `bytes` into the region at `offset` (`memcpy`). The caller's protocol must give
    /// this process the range (see the type's documentation).
    pub fn copy_in(&self, offset: usize, bytes: &[u8]) {
        self.check(offset, bytes.len(), 1);
        // SAFETY: the destination range is inside the mapping (checked) and cannot overlap
        // `bytes`, which is ordinary memory of this process; u8 has no invalid values.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.base.as_ptr().add(offset),
                bytes.len(),
            )
        }
    }

    /// Copies `into.len()` bytes out of the region at `offset` (`memcpy`).
    pub fn copy_out(&self, offset: usize, into: &mut [u8]) {
        self.check(offset, into.len(), 1);
        // SAFETY: as in `copy_in`, in the other direction.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(offset),
                into.as_mut_ptr(),
                into.len(),
            )
        }
    }
}

impl Drop for SharedRegion {
    fn drop(&mut self) {
        if matches!(self.backing, Backing::Anonymous) {
            // SAFETY: base and len are what mmap returned and was asked for; every reference
            // into the region borrows `self`, so none outlives this.
            let _ = unsafe { munmap(self.base.cast(), self.len) };
        }
    }
}

/// A reusable `struct msgbuf` (a `long` type, then the body), so that a round trip through a
/// System V message queue allocates nothing, as in C.
#[derive(Debug)]
pub struct MsgBuffer {
    words: Vec<c_long>,
    capacity: usize,
}

impl MsgBuffer {
    /// Room for a body of `capacity` bytes.
    pub fn new(capacity: usize) -> MsgBuffer {
        let words = 1 + capacity.div_ceil(size_of::<c_long>());
        MsgBuffer {
            words: vec![0; words],
            capacity,
        }
    }

    fn body_mut(&mut self) -> &mut [u8] {
        let capacity = self.capacity;
        // SAFETY: the words after the first hold at least `capacity` bytes; viewing initialized
        // c_longs as bytes is valid, and the borrow of `self.words` is exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(self.words[1..].as_mut_ptr().cast::<u8>(), capacity)
        }
    }

    /// `msgsnd(2)` of `body` as a message of type `mtype` on queue `id`, waiting while the
    /// queue is full.
    pub fn msgsnd(&mut self, id: i32, mtype: i64, body: &[u8]) -> Result<(), Errno> {
        assert!(body.len() <= self.capacity, "body larger than the buffer");
        self.words[0] = mtype as c_long;
        self.body_mut()[..body.len()].copy_from_slice(body);
        // SAFETY: the buffer holds the type and then at least body.len() initialized bytes;
        // msgsnd only reads them during the call.
        let sent = unsafe { libc::msgsnd(id, self.words.as_ptr().cast(), body.len(), 0) };
        Errno::result(sent).map(drop)
    }

    /// `msgrcv(2)` of the first message of type `mtype` on queue `id`, its body copied into
    /// `into` (at most `into.len()` bytes). Returns the body's length.
    pub fn msgrcv(&mut self, id: i32, mtype: i64, into: &mut [u8]) -> Result<usize, Errno> {
        let max = into.len().min(self.capacity);
        // SAFETY: the buffer has room for the type and at least `max` bytes after it, and
        // msgrcv writes at most that much.
        let got =
            unsafe { libc::msgrcv(id, self.words.as_mut_ptr().cast(), max, mtype as c_long, 0) };
        let got = Errno::result(got)? as usize;
        into[..got].copy_from_slice(&self.body_mut()[..got]);
        Ok(got)
    }
}
