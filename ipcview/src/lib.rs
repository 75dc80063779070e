//! ipcview: every IPC object on the machine, and who is blocked on it, on what.
//!
//! `ipcs` lists objects, `lsof` descriptors, `ps` states; none answers the question a student
//! asks when a demo hangs: who waits for whom? ipcview puts it on one screen, grouped by
//! object: System V queues, semaphore sets and segments; pipes and FIFOs with the processes
//! holding each end; POSIX queues, named semaphores and `shm_open` objects. For each process
//! that uses an object it shows the state letter, the system call it is blocked in (from
//! `/proc/<pid>/syscall`) and, where the call's arguments say so, what it waits for: which
//! semaphore and for what, which FIFO an `open` waits on, which word of a segment a futex
//! sleeps on.
//!
//! - [`snapshot`]: one look at the machine ([`snapshot::take`]), the data the JSON shows.
//! - [`procfs`]: what `/proc/<pid>/` says about one process, and why we may not read it.
//! - [`syscalls`]: system call numbers to names, from `libc::SYS_*` for the architecture built.
//! - [`view`]: a snapshot as lines of text, for the live view and `--once`.
//! - [`live`]: the live view, ratatui on crossterm, and how the terminal is put back.
//!
//! It needs no privilege: what the kernel keeps from an ordinary user (another user's
//! `/proc/<pid>/syscall`, a set's values without read permission) shows as "not visible" and
//! the reason. No `unsafe`: the System V calls are the mechanism crates' (`semaphore`,
//! `msgqueue`), the rest is reading files in `/proc`.

#![forbid(unsafe_code)]

pub mod live;
pub mod procfs;
pub mod snapshot;
pub mod syscalls;
pub mod view;

pub use snapshot::{Filter, Options, Snapshot, Users};
