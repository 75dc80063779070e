//! # order: A, then B, then C, whatever order they start in
//!
//! Ports section 5 of the course notes (`004_0b92104986517c26.txt`), its second kind of protection:
//! synchronisation, where the order is fixed ("A writes first, then B, then C, never any other
//! order"). Three processes, one semaphore each: a process waits (P) on its own semaphore, writes
//! its line, and gives a unit (V) to the next one's. A's starts at 1, the others' at 0, so A goes
//! first; C hands back to A for the next round.
//!
//! `--start C,B,A` forks them in that order, each only after the one before has said it is
//! ready (a fourth semaphore counts the ready ones), so the late starter really starts last.
//! Each says whom it waits for. `--rounds K` runs the cycle K times; `--hold-ms` is how long
//! each keeps its turn, so that the others visibly wait.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because its
//! handler ends the parent's `waitpid` with EINTR; the parent then kills its children (the
//! `Child` guards) and removes the set. A child that gets Ctrl-C from the terminal dies of it.
//!
//! Run: `cargo run -p semaphore --bin order -- --start C,B,A --rounds 2`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::errno::Errno;
use semaphore::{Key, SemOp, SemaphoreSet, semget};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Forked, describe, first_to_end, fork, run_child};

/// Three processes write in the order A, B, C, enforced by semaphores, whatever order they
/// start in.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The order in which to start the three: A, B and C, each once, separated by commas.
    #[arg(long, value_name = "X,Y,Z", default_value = "C,B,A", value_parser = parse_start)]
    start: Start,
    /// How many times to run the cycle A, B, C, 1 to 1000.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// How long each keeps its turn before passing it on, in milliseconds, 0 to 60000.
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    hold_ms: u64,
}

#[derive(Clone)]
struct Start(Vec<u16>);

fn parse_start(text: &str) -> Result<Start, String> {
    let mut order = Vec::new();
    for item in text.split(',') {
        let index = match item {
            "A" | "a" => 0,
            "B" | "b" => 1,
            "C" | "c" => 2,
            _ => return Err(format!("{item:?} is not A, B or C")),
        };
        if order.contains(&index) {
            return Err(format!(
                "{item} appears twice: each of A, B and C starts once"
            ));
        }
        order.push(index);
    }
    if order.len() != 3 {
        return Err("name all three: A, B and C, in any order".to_owned());
    }
    Ok(Start(order))
}

const NAMES: [char; 3] = ['A', 'B', 'C'];
/// Semaphore 3: how many writers are ready.
const READY: u16 = 3;

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        // Turns: A's semaphore 1, B's and C's 0; READY 0.
        // IPC_PRIVATE: no other process finds the set by key, so none can open it before SETALL.
        let set = semget(Key::PRIVATE, 4, libc::IPC_CREAT | 0o600)?;
        set.semctl_setall(&[1, 0, 0, 0])?; // a new set's values are undefined until set
        println!(
            "order: created {set}: turn A = 1, turn B = 0, turn C = 0; I remove it when I stop"
        );
        finish(start_all(&args, &set, &stop))
    })
}

// ANCHOR: writer
/// One writer: `me` is 0 for A, 1 for B, 2 for C. P on my own turn, write, V on the next.
fn writer(set: &SemaphoreSet, me: u16, args: &Args) -> Result<(), Failure> {
    let (name, before, next) = (
        NAMES[usize::from(me)],
        NAMES[usize::from((me + 2) % 3)],
        (me + 1) % 3,
    );
    println!("{name}: started as pid {}", std::process::id());
    set.v(READY, 1)?; // the parent may start the next one
    for round in 1..=args.rounds {
        // Try first without waiting, only to say whom we wait for.
        match set.semop(&[SemOp::p(me, 1).nowait()]) {
            Ok(()) => println!("{name}: my turn in round {round}, no wait"),
            Err(err) if err.errno() == Some(Errno::EAGAIN) => {
                println!("{name}: waiting for {before} (my turn, semaphore {me}, is 0)");
                set.semop(&[SemOp::p(me, 1)])?; // P: sleeps until `before` gives me the turn
                println!("{name}: {before} is done; my turn in round {round}");
            }
            Err(err) => return Err(err.into()),
        }
        println!("round {round}: {name} writes");
        std::thread::sleep(Duration::from_millis(args.hold_ms)); // keep the turn a while
        set.semop(&[SemOp::v(next, 1)])?; // V: the next one's turn
    }
    Ok(())
}
// ANCHOR_END: writer

fn start_all(args: &Args, set: &SemaphoreSet, stop: &Stop) -> Result<ExitCode, Stopped> {
    let mut children = Vec::new();
    for &me in &args.start.0 {
        match fork()? {
            Forked::Child => run_child(|| match writer(set, me, args) {
                Ok(()) => 0,
                Err(err) => {
                    support::cli::report_error(err);
                    1
                }
            }),
            Forked::Parent(child) => children.push((NAMES[usize::from(me)], child)),
        }
        // Wait until it has started before forking the next: the start order is real. A child
        // that ended first never will: the loop below names it.
        if !set.p_from_child(READY, stop)? {
            break;
        }
    }
    // In the order they end: a writer that dies leaves the next one waiting for its V forever,
    // so any failure must end the run at once (dropping the guards kills the others).
    for _ in 0..children.len() {
        let ended = first_to_end(stop)?;
        let Some((name, child)) = children.iter_mut().find(|(_, c)| c.pid() == ended) else {
            return Err(Failure::new(format!("waitid: pid {ended} is not a writer")).into());
        };
        let status = child.waitpid(stop)?;
        // A Ctrl-C in the terminal reaches the children too, and kills them: that is a stop.
        stop.check()?;
        if !matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)) {
            let why = format!(
                "writer {name} {}: the one after it would wait for its turn forever; stopped \
                 the others and removed the set",
                describe(&status)
            );
            return Err(Failure::new(why).into());
        }
    }
    println!("order: all three done; each round went A, B, C");
    Ok(ExitCode::SUCCESS)
}
