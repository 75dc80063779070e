//! # orphan_zombie: a zombie and an orphan, made on purpose, watched, and cleaned up
//!
//! Ports the part of the course notes before section 1 (`004_0b92104986517c26.txt`; the terminated
//! state, and the parent/child relation the notes point to). A zombie: a child exits while its
//! parent does not wait; `/proc` shows `Z` until `waitpid` reaps it. An orphan: a child whose
//! parent exits first; the kernel gives it a new parent (pid 1, or the nearest "subreaper"), whose
//! pid `/proc/<pid>/stat` shows in its ppid field. With `--subreaper` this program makes itself
//! that subreaper, adopts the orphan and reaps it; without, it ends the orphan and leaves the
//! reaping to the new parent. Nothing of ours outlives it, Ctrl-C included.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP with signal-hook (`Stop::install`), because
//! it forks; see the book's "Programs that stop cleanly".
//!
//! Run: `cargo run -p process-states --bin orphan_zombie` (add `-- --subreaper`).

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::sys::prctl::set_child_subreaper;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{Pid, getpid, getppid, read, write};
use process_states::{Seen, Watcher, read_stat};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, StopContext, Stopped, finish};
use support::{Child, Forked, Pipe, describe, exit_child, fork, fork_outliving_parent, run_child};

/// Make a zombie and an orphan on purpose, watch them in /proc, and clean up.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Become a "child subreaper": the orphan is re-parented to this program, which reaps it.
    #[arg(long)]
    subreaper: bool,
    /// How long each state is left for you to see (`ps -o pid,ppid,stat,comm`), in ms (at
    /// most 60000).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(..=60_000))]
    pause_ms: u64,
    /// Leave the zombie (before it is reaped) or the orphan (with its new parent) until you
    /// press Enter (or stdin ends), however long that takes; the other lasts --pause-ms.
    #[arg(long, value_enum)]
    hold: Option<Hold>,
    /// How long to wait for an expected change before giving up, in milliseconds (at most
    /// 60000).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    deadline_ms: u64,
}

/// What the program leaves for you to see for a while.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Hold {
    Zombie,
    Orphan,
}

/// Leaves `what` for `--pause-ms`; the one that `--hold` names, until a line (Enter) or the end
/// of stdin comes.
fn pause(watcher: &Watcher, args: &Args, what: Hold) -> Result<(), Stopped> {
    if args.hold != Some(what) {
        return watcher.hold(Duration::from_millis(args.pause_ms));
    }
    println!("parent: holding here: press Enter to go on");
    watcher.hold_until_enter()
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let watcher = Watcher::new(&stop)?;
        let told = zombie(&watcher, &args).and_then(|()| orphan(&watcher, &args));
        if let Err(Stopped::Signal(signal)) = told {
            // Our children were killed (SIGKILL) and reaped as their guards went out of scope;
            // an orphan we did not adopt reads end-of-file on its lifeline, now closed, and
            // exits.
            println!("parent: {signal}: my children are killed and reaped");
        }
        finish(told.map(|()| ExitCode::SUCCESS))
    })
}

// ANCHOR: zombie
fn zombie(watcher: &Watcher, args: &Args) -> Result<(), Stopped> {
    let deadline = Duration::from_millis(args.deadline_ms);
    let mut child = match fork()? {
        Forked::Child => exit_child(7),
        Forked::Parent(child) => child,
    };
    let pid = child.pid();
    println!("parent: forked child {pid}, which exits at once with status 7; I do not wait yet");
    let stat = watcher.sample_until(pid, deadline, "becoming a zombie", |seen| match seen {
        Seen::Alive(stat) if stat.state == 'Z' => Some(stat.clone()),
        _ => None,
    })?;
    let (state, ppid) = (stat.state, stat.ppid);
    println!("parent: /proc/{pid}/stat: state {state} (zombie), ppid {ppid} (me)");
    println!("parent: it has ended, but its entry keeps the exit status until its parent waits");
    pause(watcher, args, Hold::Zombie)?;
    let status = watcher.waitpid_within(&mut child, WaitPidFlag::empty(), deadline)?;
    println!("parent: waitpid({pid}): the child {}", describe(&status));
    match read_stat(pid)? {
        Seen::Gone => println!("parent: /proc/{pid} is gone: waitpid reaped the zombie"),
        Seen::Alive(stat) => {
            return Err(Failure::new(format!("{pid} is still here: {stat:?}")).into());
        }
    }
    Ok(())
}
// ANCHOR_END: zombie

// ANCHOR: orphan
fn orphan(watcher: &Watcher, args: &Args) -> Result<(), Stopped> {
    let deadline = Duration::from_millis(args.deadline_ms);
    if args.subreaper {
        set_child_subreaper(true).context("prctl(PR_SET_CHILD_SUBREAPER)")?;
        println!("parent: I am a child subreaper now: orphans below me become my children");
    }
    // The orphan blocks reading `lifeline` until we close our end (or die): then it exits.
    let lifeline = Pipe::new()?;
    let report = Pipe::new()?;
    let mut middle = match fork()? {
        Forked::Child => {
            drop((lifeline.write_end, report.read_end));
            run_child(|| middle(lifeline.read_end, report.write_end))
        }
        Forked::Parent(child) => child,
    };
    drop((lifeline.read_end, report.write_end));
    let mut pid = [0u8; 4];
    let got = (watcher.stop())
        .retry(|| read(&report.read_end, &mut pid))
        .context("read the orphan's pid")?;
    if got != pid.len() {
        return Err(
            Failure::new("the middle process ended before it sent the orphan's pid").into(),
        );
    }
    let orphan = Pid::from_raw(i32::from_ne_bytes(pid));
    let status = watcher.waitpid_within(&mut middle, WaitPidFlag::empty(), deadline)?;
    println!(
        "parent: the middle process {} {}; I reaped it",
        middle.pid(),
        describe(&status)
    );
    // ANCHOR_END: orphan
    // ANCHOR: new_parent
    // The kernel re-parents the children of a process as it exits, before its parent can reap
    // it: the orphan's new parent is already in place. As subreaper, that is us: from here on
    // the orphan is ours to reap (or to kill on Ctrl-C).
    let adopted = args.subreaper.then(|| Child::adopt(orphan));
    let Seen::Alive(stat) = read_stat(orphan)? else {
        return Err(Failure::new(format!("the orphan {orphan} is gone already")).into());
    };
    let new_parent = Pid::from_raw(stat.ppid);
    let name = match read_stat(new_parent)? {
        Seen::Alive(parent) => parent.comm,
        Seen::Gone => "gone already".to_owned(),
    };
    let who = match (new_parent == getpid(), args.subreaper) {
        (true, _) => "me, the subreaper",
        (false, false) => "init or a subreaper",
        (false, true) => {
            return Err(Failure::new(format!("{orphan} went to {new_parent}, not me")).into());
        }
    };
    println!("parent: /proc/{orphan}/stat: its ppid is now {new_parent} ({name}): {who}");
    pause(watcher, args, Hold::Orphan)?;
    println!("parent: closing the lifeline; {orphan} will read end-of-file and exit");
    drop(lifeline.write_end);
    clean_up(watcher, orphan, adopted, deadline)
}
// ANCHOR_END: new_parent

/// The orphan's first parent: forks the orphan, waits until it has said hello (so that it met
/// this parent), passes its pid on to us, and exits without waiting for it.
// ANCHOR: middle
fn middle(lifeline: OwnedFd, report: OwnedFd) -> i32 {
    let Ok(hello) = Pipe::new() else { return 1 };
    // The one child that must outlive its parent, on purpose: no PR_SET_PDEATHSIG. The
    // lifeline still ends it when the top process ends, however that ends.
    match fork_outliving_parent() {
        Ok(Forked::Child) => {
            drop((hello.read_end, report));
            run_child(|| {
                let me = getpid();
                println!("orphan: {me} here, my parent is {}", getppid());
                let _ = write(&hello.write_end, &me.as_raw().to_ne_bytes());
                drop(hello.write_end);
                let _ = read(&lifeline, &mut [0u8; 1]); // sleeps until end-of-file
                println!(
                    "orphan: {me} here, lifeline closed, my parent is {}: bye",
                    getppid()
                );
                0
            })
        }
        Ok(Forked::Parent(child)) => {
            drop(hello.write_end);
            let mut pid = [0u8; 4];
            if read(&hello.read_end, &mut pid) == Ok(pid.len()) {
                let _ = write(&report, &pid);
            }
            let (me, child) = (getpid(), child.pid());
            println!("middle: {me} forked {child} and exits now, without waiting for it");
            exit_child(0) // the guard for `child` never runs: this process just ends
        }
        Err(failure) => {
            eprintln!("middle: {failure}");
            1
        }
    }
}
// ANCHOR_END: middle

/// Only a parent can reap. As subreaper we are the orphan's parent now; otherwise waitpid says
/// ECHILD, and all we can do is watch the orphan end. Reaping it is its new parent's job, done
/// whenever that parent gets round to it, so we do not wait for that.
// ANCHOR: clean_up
fn clean_up(
    watcher: &Watcher,
    orphan: Pid,
    adopted: Option<Child>,
    deadline: Duration,
) -> Result<(), Stopped> {
    if let Some(mut adopted) = adopted {
        let status = watcher.waitpid_within(&mut adopted, WaitPidFlag::empty(), deadline)?;
        println!(
            "parent: waitpid({orphan}): my adopted child {}",
            describe(&status)
        );
        return Ok(());
    }
    if let Err(errno) = waitpid(orphan, Some(WaitPidFlag::WNOHANG)) {
        println!("parent: waitpid({orphan}): {errno}: it is not my child any more");
    }
    let ended = watcher.sample_until(orphan, deadline, "ending", |seen| match seen {
        Seen::Alive(stat) if stat.state != 'Z' => None,
        ended => Some(ended.clone()),
    })?;
    match ended {
        Seen::Gone => {
            println!("parent: /proc/{orphan} is gone: it ended, its new parent reaped it")
        }
        Seen::Alive(stat) => println!(
            "parent: {orphan} has ended: state Z until its new parent {} reaps it",
            stat.ppid
        ),
    }
    Ok(())
}
// ANCHOR_END: clean_up
