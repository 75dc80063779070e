//! # bare_shm: one segment, two processes, the four calls in a row
//!
//! The System V shared memory calls of the course notes (`002_b86b31b4906bcfc4.txt`: get,
//! attach, use, detach, remove), one after the other with nothing around them: `shmget` creates
//! a private segment of one page, `shmat` maps it, the parent stores a message and raises the
//! flag of the notes' first pair (`ShmEntry`, from `000_e54fa7b2cf8b5b00.txt`), a forked child
//! reads both through its own mapping, `shmdt` unmaps it and `shmctl(IPC_RMID)` removes it.
//!
//! Every access to the segment is an atomic load or store: the flag with Release and Acquire,
//! the message bytes relaxed. Nothing is left behind, even when a step fails: the handle
//! `shmget` returned created the segment, so dropping it on the way out removes it.
//!
//! Signals: none handled; nothing here waits except `waitpid` for a child that ends at once.
//!
//! Run: `cargo run -p shm --bin bare_shm`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::Ordering::{Acquire, Release};

use clap::Parser;
use shm::{Access, Key, ShmEntry, load_bytes, shmget, store_bytes};
use support::cli::{Failure, parse_args, run};
use support::{Forked, describe, fork, run_child};

fn bare() -> Result<ExitCode, Failure> {
    // ANCHOR: bare
    let segment = shmget(Key::PRIVATE, 4096, libc::IPC_CREAT | 0o600)?; // a NEW segment
    println!(
        "shmget: created segment id={} (4096 bytes, mode 0600)",
        segment.id()
    );
    let attached = segment.shmat(Access::ReadWrite)?; // map it here
    let entry = attached.view::<ShmEntry>()?; // the notes' struct, as atomics
    store_bytes(&entry.msg, b"hello through shared memory");
    entry.can_read.store(true, Release); // publish: the message is complete
    println!(
        "parent: wrote {:?}",
        String::from_utf8_lossy(&load_bytes(&entry.msg))
    );

    match fork()? {
        Forked::Child => run_child(|| {
            let ready = entry.can_read.load(Acquire); // the child's copy of the mapping
            let text = String::from_utf8_lossy(&load_bytes(&entry.msg)).into_owned();
            println!("child: can_read={ready}, read {text:?}");
            0
        }),
        Forked::Parent(mut child) => {
            let status = child.waitpid_with(None)?;
            println!("parent: the child {}", describe(&status));
        }
    }
    attached.shmdt()?; // unmap it here; the segment stays
    let id = segment.id();
    segment.shmctl_rmid()?; // remove it (a failed step above drops `segment`, which does too)
    println!("shmdt, shmctl(IPC_RMID): removed segment id={id}");
    // ANCHOR_END: bare
    Ok(ExitCode::SUCCESS)
}

/// Creates a private segment, writes to it, lets a forked child read it, and removes it.
#[derive(Parser)]
#[command(version)]
struct Args {}

fn main() -> ExitCode {
    let _: Args = parse_args();
    run(bare)
}
