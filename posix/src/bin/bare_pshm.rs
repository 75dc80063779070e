//! # bare_pshm: POSIX shared memory in one short program
//!
//! The calls of POSIX shared memory (shm_overview(7)) one after the other, with nothing around
//! them: `shm_open` creates the object `/ipc-labs-bare-pshm-<pid>` (`O_CREAT | O_EXCL`, mode 0600), a file
//! in `/dev/shm` of size 0; `ftruncate` gives it one page; `mmap` with `MAP_SHARED` maps it; the
//! parent stores a message; a forked child reads it through its copy of the mapping and stores a
//! reply, which the parent reads once the child has ended (a `MAP_PRIVATE` mapping would have
//! given the child copies of its own, and the reply would never arrive). Then `munmap` and
//! `shm_unlink`. It prints what `/dev/shm` shows meanwhile.
//!
//! Where the course notes' System V version needed a key and `shmget`/`shmat`/`shmdt`/
//! `shmctl(IPC_RMID)`, this one uses a name, a descriptor and the calls that map files.
//!
//! Nothing is left behind, even when a step fails: a guard unlinks the name on the way out.
//! Every access to the mapping is an atomic load or store.
//!
//! Run: `cargo run -p posix --bin bare_pshm`.

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::process::ExitCode;

use clap::Parser;
use nix::fcntl::OFlag;
use posix::pshm::{
    UnlinkOnDrop, dev_shm_line, ftruncate, load_c_string, mmap, parse_name, shm_open, shm_unlink,
    store_bytes,
};
use support::cli::{Failure, parse_args, run};
use support::{Forked, describe, fork, run_child};

/// Creates a POSIX shared memory object, shares a message with a forked child, removes it.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The object's name: one leading '/', no other (default: `/ipc-labs-bare-pshm-<pid>`, so
    /// that two students on one machine never meet). It must not exist yet.
    #[arg(long, value_name = "/NAME", value_parser = parse_name)]
    name: Option<String>,
}

fn bare(name: &str) -> Result<ExitCode, Failure> {
    // ANCHOR: bare
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR; // a NEW object, or EEXIST
    let fd = shm_open(name, flags, 0o600)?; // shm_open(3): a file in /dev/shm, 0 bytes
    let _unlink = UnlinkOnDrop::new(name, fd.as_fd())?; // shm_unlink(3) on any way out
    ftruncate(fd.as_fd(), 4096)?; // ftruncate(2): one page, all zero
    println!("shm_open, ftruncate: {}", dev_shm_line(name));
    let map = mmap(fd.as_fd(), 4096, true)?; // mmap(2), MAP_SHARED: the same pages for all
    store_bytes(&map.bytes()[..2048], b"hello from the parent\0");
    match fork()? {
        Forked::Child => run_child(|| {
            let got = load_c_string(&map.bytes()[..2048]); // the child's copy of the mapping
            println!("child: read {:?}", String::from_utf8_lossy(&got));
            store_bytes(&map.bytes()[2048..], b"hello from the child\0");
            0
        }),
        Forked::Parent(mut child) => {
            let status = child.waitpid_with(None)?;
            let reply = load_c_string(&map.bytes()[2048..]);
            let reply = String::from_utf8_lossy(&reply);
            println!("parent: the child {}; it left {reply:?}", describe(&status));
        }
    }
    map.munmap()?; // munmap(2): unmap it here; the object stays
    shm_unlink(name)?; // shm_unlink(3): the name goes now, the pages with the last user
    println!("munmap, shm_unlink: {}", dev_shm_line(name));
    // ANCHOR_END: bare
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    let name = args
        .name
        .unwrap_or_else(|| format!("/ipc-labs-bare-pshm-{}", std::process::id()));
    run(|| bare(&name))
}
