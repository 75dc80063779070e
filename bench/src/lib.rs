//! `bench`: which IPC is fastest on this machine, and how close each mechanism comes to what the
//! hardware and the kernel allow.
//!
//! Two processes play ping-pong over each mechanism (the round trip), or one streams to the
//! other (the throughput). The same run measures the floors the mechanisms cannot beat: a cache
//! line handed back and forth by two spinning processes, a futex wait/wake round trip, and
//! `memcpy` bandwidth. Every figure is printed beside its floor.
//!
//! The default run measures every figure in several rounds, interleaved (every figure once per
//! round, in the same order), and reports each as the median over the rounds with the lowest
//! and highest round; a ratio is computed within each round, then summarised the same way.
//!
//! - [`mechanism`] names what is measured: mechanisms, bounds, the control, the C references;
//! - [`transport`] sets each mechanism up before `fork`, and gives each side its end after it
//!   (the shared-memory ring, and the zero-copy ring of the transfer floor, included);
//! - [`measure`] runs the ping-pong and streaming loops, the floors, and places the processes;
//!   [`c_reference`] runs the plain-C programs of `bench/c/`;
//! - [`stats`] computes percentiles, medians and ranges over rounds, and per-round ratios;
//! - [`report`] keeps the run (JSON, CSV) and its ratios and targets; [`tables`] prints it;
//! - [`chart`] draws the run as SVG charts (plotters).
//!
//! This file holds the crate's only `unsafe` code: a shared anonymous mapping, bulk copies into
//! and out of shared memory (and the writes in place of the transfer floor),
//! `msgsnd`/`msgrcv` on a reusable buffer, a futex wait with no timeout, `SCHED_IDLE`, and the
//! calls into the C reference.

pub mod c_reference;
pub mod chart;
pub mod measure;
pub mod mechanism;
pub mod report;
pub mod stats;
pub mod tables;
pub mod transport;

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use libc::{c_int, c_long};
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

    /// Sets `len` bytes at `offset` to `byte` (`memset`): data written in place, with no
    /// source to copy from. The caller's protocol must give this process the range.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) {
        self.check(offset, len, 1);
        // SAFETY: the range is inside the mapping (checked); u8 has no invalid values.
        unsafe { std::ptr::write_bytes(self.base.as_ptr().add(offset), byte, len) }
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

/// `futex(2)` `FUTEX_WAIT` with no timeout (the shared form, as `shm::futex_wait`): sleeps
/// while `word` holds `expected`, until a `FUTEX_WAKE` on it or a signal. `Ok` when woken, or at
/// once when the word no longer held `expected` (EAGAIN); EINTR when a signal handler ran.
///
/// No timeout means no timer armed and cancelled around every sleep: the least a futex sleep
/// costs. Whoever calls it must know how else it ends if the other side never wakes it (see
/// the futex floor in `transport.rs`).
pub fn futex_wait_untimed(word: &AtomicU32, expected: u32) -> Result<(), Errno> {
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; the kernel only
    // reads it, and a null timeout pointer means "no timeout"; it keeps no pointer afterwards.
    let done = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
    match Errno::result(done) {
        Ok(_) | Err(Errno::EAGAIN) => Ok(()),
        Err(errno) => Err(errno),
    }
}

/// `sched_setscheduler(2)`: puts the calling process in the `SCHED_IDLE` class, which runs only
/// when nothing else on its CPU wants to, and gives way at once to anything that wakes there.
pub fn sched_idle() -> Result<(), Errno> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param that the call only reads; pid 0 is this process.
    let done = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    Errno::result(done).map(drop)
}

#[cfg(bench_c_reference)]
unsafe extern "C" {
    /// `bench/c/pipe_pingpong.c`'s entry: a C `main(argc, argv)` under another name.
    fn bench_c_pipe_main(argc: c_int, argv: *mut *mut libc::c_char) -> c_int;
    /// `bench/c/futex_pingpong.c`'s entry.
    fn bench_c_futex_main(argc: c_int, argv: *mut *mut libc::c_char) -> c_int;
}

/// Runs the plain-C reference program `program` (`pipe` or `futex`) with `args` as its
/// `argv` (the program's name first), in this process, and returns its `main`'s status.
/// `None` when there is no such program, or when this build has no C reference (no C
/// compiler was found when it was built).
pub fn run_c_main(program: &str, args: &[std::ffi::CString]) -> Option<c_int> {
    #[cfg(bench_c_reference)]
    {
        let main = match program {
            "pipe" => bench_c_pipe_main,
            "futex" => bench_c_futex_main,
            _ => return None,
        };
        // argv as C has it: pointers to NUL-terminated strings, then a null pointer.
        let mut argv: Vec<*mut libc::c_char> = args
            .iter()
            .map(|arg| arg.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect();
        let argc = c_int::try_from(args.len()).ok()?;
        // SAFETY: argv holds argc pointers to NUL-terminated strings that `args` keeps alive
        // for the call, then a null pointer, as C's main expects; the C code only reads them
        // (it never writes through argv) and keeps no pointer after it returns.
        Some(unsafe { main(argc, argv.as_mut_ptr()) })
    }
    #[cfg(not(bench_c_reference))]
    {
        let _ = (program, args);
        None
    }
}

/// Whether this build has the plain-C reference (a C compiler was found when it was built).
pub const HAS_C_REFERENCE: bool = cfg!(bench_c_reference);
