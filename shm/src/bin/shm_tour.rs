//! # shm_tour: what shmget, shmat, shmdt and shmctl do, step by step, as the kernel reports it
//!
//! Ports the shmctl walk-through of the course notes (`002_b86b31b4906bcfc4.txt`; its questions
//! "how does the kernel know how many processes are attached?" and "may shmctl remove a segment
//! twice?") as a run that shows the answers instead of stating them. After each step it prints what
//! `shmctl(IPC_STAT)` says: key, nattch, mode, `SHM_DEST`, the last pid.
//!
//! The steps: create a segment (0600); fork `--children` processes that each `shmat` it
//! (nattch rises), then let them go one by one, all but the last with `shmdt`, the last by
//! simply exiting (nattch falls: the kernel detaches at exit); attach here and store a
//! message; `IPC_SET` the mode to 0640; `IPC_RMID` while attached (the key becomes 0,
//! `SHM_DEST` shows, the mapping still works, and `shmget` by the old key fails with ENOENT);
//! `IPC_RMID` a second time (Linux accepts it while the segment is still attached); `shmdt`,
//! after which the segment is gone and `IPC_STAT` and `IPC_RMID` on its id fail (the errno is
//! printed as the kernel gives it).
//!
//! It also shows that memory comes on first touch, not at `shmget` or `shmat` (demand
//! paging): at four steps it prints the segment's resident size (`rss` in
//! `/proc/sysvipc/shm`) and this process's resident part of its mapping (`Rss` in
//! `/proc/self/smaps`). Both are 0 after `shmget`; a child's one store makes one page
//! resident; `shmat` here maps the segment but makes nothing resident for this process; touching
//! half the pages makes half resident.
//!
//! `--pause` waits for Enter after each step, so that you can look with `ipcs -m` meanwhile.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! the read of stdin and of the children's pipe then fail with EINTR and `Stop::retry` ends
//! them; the children are killed and reaped, and the segment removed, on the way out. See
//! "Programs that stop cleanly".
//!
//! Run: `cargo run -p shm --bin shm_tour` (or with `-- --pause`).

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

use clap::Parser;
use shm::{Access, Error, NotesKeyArgs, Segment, key_or_notes, load_bytes, shmget, store_bytes};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Child, Forked, LineReader, Pipe, fork, run_child};

/// A guided tour of shmctl: each step, with what IPC_STAT reports after it.
#[derive(Parser)]
#[command(
    version,
    after_help = "Key: 0x7002 unless --key, --key-path or --proj is given."
)]
struct Args {
    /// Without --key, --key-path or --proj: key 0x7002.
    #[command(flatten)]
    key: NotesKeyArgs,
    /// How many processes attach the segment at once, 1 to 8.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    children: u8,
    /// Wait for Enter after each step (look with `ipcs -m` meanwhile).
    #[arg(long)]
    pause: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        finish(tour(&args, &stop))
    })
}

/// Prints the steps and, with --pause, waits for Enter after each.
struct Guide<'a> {
    stop: &'a Stop,
    pause: bool,
    input: LineReader,
    step: u32,
}

impl Guide<'_> {
    fn say(&mut self, what: &str, segment: &Segment) -> Result<(), Stopped> {
        self.show(what, segment, None)
    }

    /// As `say`, and where the segment's memory is (`mapped_at`: our attachment, if any).
    fn say_with_memory(
        &mut self,
        what: &str,
        segment: &Segment,
        mapped_at: Option<usize>,
    ) -> Result<(), Stopped> {
        self.show(what, segment, Some(resident_line(segment, mapped_at)))
    }

    fn show(
        &mut self,
        what: &str,
        segment: &Segment,
        memory: Option<String>,
    ) -> Result<(), Stopped> {
        self.step += 1;
        println!("step {}: {what}", self.step);
        println!("        IPC_STAT: {}", stat_line(segment));
        if let Some(memory) = memory {
            println!("        memory: {memory}");
        }
        if self.pause {
            println!("        (paused: press Enter to go on)");
            let line = self.input.next_line(std::io::stdin().as_fd(), self.stop)?;
            self.pause = line.is_some(); // at the end of input, go on without pausing
        }
        Ok(())
    }
}

// ANCHOR: resident
/// Where the segment's memory is: how much of it the kernel has resident (`rss` in
/// /proc/sysvipc/shm, counted once whoever touched it), and how much of it this process's
/// mapping at `mapped_at` has in its page table (`Rss` in /proc/self/smaps).
fn resident_line(segment: &Segment, mapped_at: Option<usize>) -> String {
    let rss = sysv::list(sysv::Kind::Shm).ok().and_then(|rows| {
        let row = rows.into_iter().find(|row| row.id == segment.id())?;
        row.field("rss")
    });
    let segment_part = match rss {
        Some(bytes) => format!("segment rss {} KiB", bytes / 1024),
        None => "segment rss unknown (/proc/sysvipc/shm has no row)".to_owned(),
    };
    let mapping_part = match mapped_at.map(mapping_rss_kib) {
        None => "not attached here".to_owned(),
        Some(Some(kib)) => format!("{kib} KiB of it in this process's page table"),
        Some(None) => "this mapping is not in /proc/self/smaps".to_owned(),
    };
    format!("{segment_part}, {mapping_part}")
}

/// `Rss:` of the mapping that starts at `addr`, from /proc/self/smaps.
fn mapping_rss_kib(addr: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut lines = smaps.lines();
    let start = format!("{addr:x}-");
    lines.by_ref().find(|line| line.starts_with(&start))?;
    let rss = lines.find_map(|line| line.strip_prefix("Rss:"))?;
    rss.trim().trim_end_matches("kB").trim().parse().ok()
}
// ANCHOR_END: resident

// ANCHOR: stat_line
/// What `shmctl(IPC_STAT)` says, in one line, or the error it gives.
fn stat_line(segment: &Segment) -> String {
    match segment.shmctl_stat() {
        Ok(stat) => format!(
            "key {}, nattch={}, mode {:04o}, SHM_DEST {}, last pid {}",
            stat.key,
            stat.nattch,
            stat.owner.mode,
            if stat.dest { "yes" } else { "no" },
            stat.lpid
        ),
        Err(err) => format!("fails: {err}"),
    }
}
// ANCHOR_END: stat_line

fn tour(args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let mut guide = Guide {
        stop,
        pause: args.pause,
        input: LineReader::new(),
        step: 0,
    };
    let key = key_or_notes(&args.key, 0x7002, true)?;
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let segment = shmget(key.clone(), SIZE, flags)?;
    let created = format!("shmget created {segment}, {} MiB, mode 0600", SIZE >> 20);
    guide.say_with_memory(&created, &segment, None)?;

    // ANCHOR: children
    let mut children = Vec::new();
    for number in 1..=args.children {
        let (child, go) = attach_in_child(&segment, number == args.children, stop)?;
        let pid = child.pid();
        children.push((child, go, pid));
        guide.say(
            &format!("child {number} (pid {pid}) called shmat"),
            &segment,
        )?;
    }
    for (number, (mut child, go, pid)) in (1..).zip(children) {
        // A byte, not a close: the younger children hold copies of this pipe's write end.
        nix::unistd::write(&go, b"g").context("write the child's pipe")?;
        child.waitpid(stop)?;
        match number == args.children {
            false => guide.say(
                &format!("child {number} (pid {pid}) called shmdt and exited"),
                &segment,
            )?,
            true => {
                let how = "exited without calling shmdt: the kernel detached it";
                let what = format!(
                    "child {number} (pid {pid}) {how}; each child stored a byte in the first page"
                );
                guide.say_with_memory(&what, &segment, None)?;
            }
        }
    }
    // ANCHOR_END: children

    // ANCHOR: touch
    let attached = segment.shmat(Access::ReadWrite)?;
    let mapped_at = Some(attached.addr());
    guide.say_with_memory("this process called shmat", &segment, mapped_at)?;
    let page = shm::page_size();
    for offset in (0..SIZE / 2).step_by(page) {
        attached.bytes()[offset].store(1, Relaxed); // the first touch of a page faults it in
    }
    store_bytes(attached.bytes(), b"written before IPC_RMID");
    let pages = SIZE / 2 / page;
    let what = format!("this process touched the first half: {pages} pages of {page} bytes");
    guide.say_with_memory(&what, &segment, mapped_at)?;
    // ANCHOR_END: touch
    segment.shmctl_set_mode(0o640)?;
    guide.say("shmctl(IPC_SET) changed the mode to 0640", &segment)?;

    // ANCHOR: rmid
    segment.mark_for_removal()?;
    guide.say("shmctl(IPC_RMID) while this process is attached", &segment)?;
    let message = String::from_utf8_lossy(&load_bytes(attached.bytes())).into_owned();
    store_bytes(attached.bytes(), b"written after IPC_RMID");
    let after = String::from_utf8_lossy(&load_bytes(attached.bytes())).into_owned();
    println!("        the mapping still works: it held {message:?}, now {after:?}");
    match shmget(key.clone(), 0, 0) {
        Ok(found) => println!("        shmget by {key} found {found}"),
        Err(err) => println!("        shmget by the old key: {err}"),
    }
    let again = segment.mark_for_removal().map(|()| "succeeded".to_owned());
    let again = again.unwrap_or_else(|err| format!("failed: {err}"));
    guide.say(&format!("shmctl(IPC_RMID) a second time {again}"), &segment)?;
    // ANCHOR_END: rmid

    let id = segment.id();
    attached.shmdt()?;
    let gone = Segment::from_id(id);
    guide.say(
        "shmdt: the last attachment is gone, and the segment with it",
        &gone,
    )?;
    let third = gone.mark_for_removal().map(|()| "succeeded".to_owned());
    let third = third.unwrap_or_else(|err| format!("failed: {err}"));
    println!(
        "step {}: shmctl(IPC_RMID) once more {third}",
        guide.step + 1
    );
    let _ = segment.leave_in_kernel(); // gone already: nothing left to remove
    Ok(ExitCode::SUCCESS)
}

/// The segment's size: large enough that the resident size visibly follows the touches.
const SIZE: usize = 64 << 20;

/// Forks a child that attaches the segment, says so through a pipe, and waits for a byte on the
/// pipe we keep (returned); then it detaches with shmdt, or, if `by_exit`, just exits.
fn attach_in_child(
    segment: &Segment,
    by_exit: bool,
    stop: &Stop,
) -> Result<(Child, std::os::fd::OwnedFd), Stopped> {
    let ready = Pipe::new()?;
    let go = Pipe::new()?;
    match fork()? {
        Forked::Child => run_child(|| {
            drop(go.write_end);
            let Ok(attached) = segment.shmat(Access::ReadWrite) else {
                return 1;
            };
            attached.bytes()[0].store(b'c', Relaxed);
            let _ = nix::unistd::write(&ready.write_end, b"a");
            let mut byte = [0u8; 1];
            let _ = nix::unistd::read(&go.read_end, &mut byte); // a byte; 0 if the parent died
            match by_exit {
                true => std::mem::forget(attached), // no shmdt: exit detaches
                false => {
                    if attached.shmdt().is_err() {
                        return 1;
                    }
                }
            }
            0
        }),
        Forked::Parent(child) => {
            drop(ready.write_end);
            drop(go.read_end);
            let mut byte = [0u8; 1];
            let count = stop
                .retry(|| nix::unistd::read(&ready.read_end, &mut byte))
                .context("read the child's pipe")?;
            if count == 0 {
                let why = "the child ended before it attached the segment";
                return Err(Stopped::Failed(Failure::from(Error::refused("shmat", why))));
            }
            Ok((child, go.write_end))
        }
    }
}
