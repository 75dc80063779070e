//! # Lab: a producer/consumer ring buffer in shared memory
//!
//! Several producers (forked processes) put items into a ring of slots in one System V
//! segment; several consumers (forked too) take them out. Three semaphores of one set guard it,
//! the textbook way:
//!
//! - `EMPTY` counts the free slots (it starts at the ring's size): a producer takes one (P)
//!   before it writes, and waits while the ring is full;
//! - `FULL` counts the filled slots (it starts at 0): a consumer takes one (P) before it reads,
//!   and waits while the ring is empty;
//! - `MUTEX` (it starts at 1) lets one process at a time move the head or the tail.
//!
//! The segment: the head (next slot to fill) as a 4-byte word at offset 0, the tail (next slot
//! to empty) at offset 4, then the slots, 16 bytes each: producer (4 bytes), sequence number
//! (4), value (8), little-endian. Every access goes through the crate's atomic bytes, as in
//! `xfr_writer`; the semaphores order them.
//!
//! An item from producer [`END`] tells a consumer to stop: the parent puts one per consumer once
//! every producer has finished.
//!
//! What the student writes: [`Ring::put`] and [`Ring::get`]. The rest (the layout, forking,
//! counting and printing) is given.

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, Ordering, fence};

use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
#[allow(unused_imports)] // SemOp: used by the parts the student writes
use semaphore::SemOp;
use semaphore::SemaphoreSet;
use support::cli::{Failure, report_error};
use support::stop::{Stop, Stopped};
use support::{Child, Forked, describe, fork, run_child};

use crate::{Access, Attached, Key, Segment, shmget};

/// Semaphore 0: how many slots are free.
pub const EMPTY: u16 = 0;
/// Semaphore 1: how many slots hold an item.
pub const FULL: u16 = 1;
/// Semaphore 2: 1 while nobody moves the head or the tail.
pub const MUTEX: u16 = 2;

/// The producer number of the end mark.
pub const END: u32 = u32::MAX;

/// The head and the tail, before the slots.
pub const HEADER: usize = 8;
/// One slot: producer, sequence number, value.
pub const SLOT: usize = 16;

/// One item of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Which producer made it ([`END`]: the end mark).
    pub producer: u32,
    /// Its place in that producer's sequence, from 0.
    pub seq: u32,
    /// The payload: [`value_of`] `(producer, seq)`.
    pub value: u64,
}

/// The value producer `producer` puts in its item number `seq`.
pub fn value_of(producer: u32, seq: u32) -> u64 {
    (u64::from(producer) + 1) << 32 | u64::from(seq.wrapping_mul(2_654_435_761))
}

/// How many items producer `producer` of `producers` makes, of `items` in all.
pub fn share_of(producer: u32, producers: u32, items: u32) -> u32 {
    items / producers + u32::from(producer < items % producers)
}

/// The ring as one process sees it: the attached segment and the semaphore set.
pub struct Ring<'a> {
    /// The segment's bytes.
    pub bytes: &'a [AtomicU8],
    /// EMPTY, FULL and MUTEX.
    pub set: &'a SemaphoreSet,
    /// How many slots.
    pub slots: u32,
}

impl Ring<'_> {
    /// The next slot to fill, counted from 0 since the start (take it modulo the size).
    pub fn head(&self) -> u32 {
        self.load_u32(0)
    }

    /// Sets the head.
    pub fn set_head(&self, head: u32) {
        self.store_u32(0, head);
    }

    /// The next slot to empty, counted from 0 since the start (take it modulo the size).
    pub fn tail(&self) -> u32 {
        self.load_u32(4)
    }

    /// Sets the tail.
    pub fn set_tail(&self, tail: u32) {
        self.store_u32(4, tail);
    }

    /// Writes `item` into slot `index % slots`.
    pub fn write_slot(&self, index: u32, item: Item) {
        let at = HEADER + (index % self.slots) as usize * SLOT;
        self.store_u32(at, item.producer);
        self.store_u32(at + 4, item.seq);
        self.store(at + 8, &item.value.to_le_bytes());
        fence(Ordering::Release); // before the V that hands it over
    }

    /// Reads the item in slot `index % slots`.
    pub fn read_slot(&self, index: u32) -> Item {
        fence(Ordering::Acquire); // after the P that handed it over
        let at = HEADER + (index % self.slots) as usize * SLOT;
        let mut value = [0u8; 8];
        for (byte, cell) in value.iter_mut().zip(&self.bytes[at + 8..at + 16]) {
            *byte = cell.load(Relaxed);
        }
        Item {
            producer: self.load_u32(at),
            seq: self.load_u32(at + 4),
            value: u64::from_le_bytes(value),
        }
    }

    fn load_u32(&self, at: usize) -> u32 {
        let mut word = [0u8; 4];
        for (byte, cell) in word.iter_mut().zip(&self.bytes[at..at + 4]) {
            *byte = cell.load(Relaxed);
        }
        u32::from_le_bytes(word)
    }

    fn store_u32(&self, at: usize, value: u32) {
        self.store(at, &value.to_le_bytes());
    }

    fn store(&self, at: usize, data: &[u8]) {
        for (cell, &byte) in self.bytes[at..at + data.len()].iter().zip(data) {
            cell.store(byte, Relaxed);
        }
    }

    /// Puts `item` into the ring, waiting while it is full: P(EMPTY); P(MUTEX); write the item
    /// at the head and advance the head; V(MUTEX); V(FULL). MUTEX with `SEM_UNDO` (a process
    /// killed inside gives it back); EMPTY and FULL without (a slot taken stays taken). A failed
    /// `semop`, EINTR included, is returned at once, never retried: the parent puts the end
    /// marks with `put`, and after an error it checks whether a stop signal came.
    pub fn put(&self, item: Item) -> Result<(), Failure> {
        // BEGIN SOLUTION
        self.set.semop(&[SemOp::p(EMPTY, 1)])?;
        self.set.semop(&[SemOp::p(MUTEX, 1).undo()])?;
        let head = self.head();
        self.write_slot(head, item);
        self.set_head(head.wrapping_add(1));
        // V(MUTEX) and V(FULL) in one semop: one system call instead of two.
        self.set
            .semop(&[SemOp::v(MUTEX, 1).undo(), SemOp::v(FULL, 1)])?;
        Ok(())
        // END SOLUTION
    }

    /// Takes the oldest item out of the ring, waiting while it is empty: P(FULL); P(MUTEX);
    /// read the item at the tail and advance the tail; V(MUTEX); V(EMPTY). Errors as in `put`.
    pub fn get(&self) -> Result<Item, Failure> {
        // BEGIN SOLUTION
        self.set.semop(&[SemOp::p(FULL, 1)])?;
        self.set.semop(&[SemOp::p(MUTEX, 1).undo()])?;
        let tail = self.tail();
        let item = self.read_slot(tail);
        self.set_tail(tail.wrapping_add(1));
        self.set
            .semop(&[SemOp::v(MUTEX, 1).undo(), SemOp::v(EMPTY, 1)])?;
        Ok(item)
        // END SOLUTION
    }
}

/// What [`exchange`] runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// How many producers, 1 or more.
    pub producers: u32,
    /// How many consumers, 1 or more.
    pub consumers: u32,
    /// How many items in all.
    pub items: u32,
    /// How many slots the ring has, 1 to 32767.
    pub slots: u32,
}

/// The segment and the set of one run (both private; both removed when dropped).
pub struct Objects {
    /// The ring's segment.
    pub segment: Segment,
    /// EMPTY = slots, FULL = 0, MUTEX = 1.
    pub set: SemaphoreSet,
}

/// Creates the segment (zero-filled: head and tail at 0) and the set.
pub fn create_objects(plan: &Plan) -> Result<Objects, Failure> {
    let slots = u16::try_from(plan.slots)
        .ok()
        .filter(|s| (1..=semaphore::SEMVMX).contains(s))
        .ok_or_else(|| Failure::new("a ring has 1 to 32767 slots"))?;
    let size = HEADER + usize::from(slots) * SLOT;
    let segment = shmget(Key::PRIVATE, size, libc::IPC_CREAT | 0o600)?;
    let set = semaphore::create(Key::PRIVATE, &[slots, 0, 1])?;
    Ok(Objects { segment, set })
}

/// What one consumer got from one producer.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: u64,
    sum: u64,
    last: Option<u32>,
    out_of_order: u64,
}

/// A consumer: takes items until an end mark, then prints what it got from each producer.
fn consume(ring: &Ring<'_>, me: u32, producers: u32) -> Result<(), Failure> {
    let mut tallies = vec![Tally::default(); producers as usize];
    loop {
        let item = ring.get()?;
        if item.producer == END {
            break;
        }
        let tally = tallies
            .get_mut(item.producer as usize)
            .ok_or_else(|| Failure::new(format!("an item from producer {}", item.producer)))?;
        tally.count += 1;
        tally.sum = tally.sum.wrapping_add(item.value);
        if tally.last.is_some_and(|last| item.seq <= last) {
            tally.out_of_order += 1;
        }
        tally.last = Some(item.seq);
    }
    let total: u64 = tallies.iter().map(|t| t.count).sum();
    let mut report = format!("consumer {me}: got {total} items\n");
    for (producer, tally) in tallies.iter().enumerate() {
        report += &format!(
            "consumer {me} from producer {producer}: {} items, sum {}, out of order {}\n",
            tally.count, tally.sum, tally.out_of_order
        );
    }
    use std::io::Write;
    std::io::stdout()
        .write_all(report.as_bytes()) // whole, so that consumers' reports do not interleave
        .map_err(|err| Failure::new(format!("write stdout: {err}")))
}

/// A producer: puts its share of the items, in order.
fn produce(ring: &Ring<'_>, me: u32, plan: &Plan) -> Result<(), Failure> {
    for seq in 0..share_of(me, plan.producers, plan.items) {
        let value = value_of(me, seq);
        ring.put(Item {
            producer: me,
            seq,
            value,
        })?;
    }
    Ok(())
}

fn child(role: &str, me: u32, work: impl FnOnce() -> Result<(), Failure>) -> ! {
    run_child(|| match work() {
        Ok(()) => 0,
        Err(err) => {
            report_error(format!("{role} {me}: {err}"));
            1
        }
    })
}

/// Forks the consumers and the producers, waits for the producers, puts one end mark per
/// consumer, and waits for the consumers. A failed child or a stop signal kills the others
/// (the `Child` guards).
pub fn exchange(objects: &Objects, plan: &Plan, stop: &Stop) -> Result<(), Stopped> {
    let attached: Attached = objects.segment.shmat(Access::ReadWrite)?;
    let ring = Ring {
        bytes: attached.bytes(),
        set: &objects.set,
        slots: plan.slots,
    };
    let mut consumers: Vec<Child> = Vec::new();
    for me in 0..plan.consumers {
        match fork()? {
            Forked::Child => child("consumer", me, || consume(&ring, me, plan.producers)),
            Forked::Parent(c) => consumers.push(c),
        }
    }
    let mut producers: Vec<Child> = Vec::new();
    for me in 0..plan.producers {
        match fork()? {
            Forked::Child => child("producer", me, || produce(&ring, me, plan)),
            Forked::Parent(c) => producers.push(c),
        }
    }
    // Waits for whichever child ends first (waitid WNOWAIT: look without reaping), then reaps
    // it through its guard: a consumer that fails while producers wait is noticed at once.
    let mut ends_sent = false;
    while consumers.iter().chain(&producers).any(|c| !c.is_reaped()) {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
        let seen = stop
            .retry(|| waitid(Id::All, flags))
            .map_err(|s| s.context("waitid"))?;
        let pid = seen.pid();
        let (role, index, c) = match (
            producers.iter_mut().position(|c| Some(c.pid()) == pid),
            consumers.iter_mut().position(|c| Some(c.pid()) == pid),
        ) {
            (Some(i), _) => ("producer", i, &mut producers[i]),
            (_, Some(i)) => ("consumer", i, &mut consumers[i]),
            _ => return Err(Failure::new(format!("waitid: an unknown child {seen:?}")).into()),
        };
        let status = c.waitpid_with(None)?;
        if !matches!(status, WaitStatus::Exited(_, 0)) {
            let why = format!("{role} {index} (pid {}) {}", c.pid(), describe(&status));
            return Err(Failure::new(why).into());
        }
        if !ends_sent && producers.iter().all(Child::is_reaped) {
            for _ in 0..plan.consumers {
                let end = Item {
                    producer: END,
                    seq: 0,
                    value: 0,
                };
                if let Err(err) = ring.put(end) {
                    stop.check()?; // a stop signal interrupted the semop
                    return Err(err.into());
                }
            }
            ends_sent = true;
        }
    }
    Ok(())
}
