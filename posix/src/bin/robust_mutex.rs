//! # robust_mutex: the holder of a lock dies mid-update, and the next locker is told
//!
//! System V semaphores have SEM_UNDO: the kernel gives back what a dead process took. A POSIX
//! semaphore has no such thing, nor has a plain mutex: if its holder dies, it stays locked for
//! ever. A *robust* process-shared pthread mutex is the answer: the next `pthread_mutex_lock`
//! gets the lock with EOWNERDEAD, repairs the data, calls `pthread_mutex_consistent` and
//! unlocks. A recoverer that unlocks without `pthread_mutex_consistent` makes the mutex
//! unusable: every later lock gets ENOTRECOVERABLE.
//!
//! With no subcommand, one command tells the whole story: it creates the object (`shm_open`,
//! `ftruncate`, `mmap`, `pthread_mutex_init`; accounts A = 100 and B = 0), starts itself as a
//! holder (`robust_mutex hold`) that locks and moves the 100 units from A to B in two steps,
//! kills it with SIGKILL between them, then locks: EOWNERDEAD. It undoes the half move from
//! the journal, checks that A + B is 100 again, and makes the mutex consistent (or, with
//! `--no-repair`, does not, and the next lock gets ENOTRECOVERABLE). The subcommands `create`,
//! `hold`, `take` and `rm` do the same by hand, in two terminals.
//!
//! Signals: Ctrl-C, SIGTERM and SIGHUP stop it within a second, also while it waits for the
//! lock (in slices of `pthread_mutex_timedlock`, since `pthread_mutex_lock` never fails with
//! EINTR); a stopped holder undoes its step and unlocks; the story removes its object.
//!
//! Run: `cargo run -p posix --bin robust_mutex` (or `-- --no-repair`).

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::process::{Command as Process, ExitCode, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use clap::{Parser, Subcommand};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use posix::psem::{Locked, OpenError, RobustMutex, TOTAL};
use support::cli::{Context, Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};
use support::{Child, LineReader, describe};

/// A robust process-shared mutex whose holder dies mid-update: EOWNERDEAD, repair, consistent.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The shm_open name (default `/ipc-labs-robust`; the story's `/ipc-labs-robust-<pid>`).
    #[arg(long, global = true)]
    name: Option<String>,
    /// After EOWNERDEAD, unlock without repairing or pthread_mutex_consistent.
    #[arg(long, global = true)]
    no_repair: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Clone, Copy)]
enum Command {
    /// Create the object (mode 0600): the mutex and the accounts A = 100, B = 0.
    Create,
    /// Lock, do step 1 of a move between the accounts, then wait: Enter does step 2 and
    /// unlocks; `kill -9` leaves the mutex to its next locker with EOWNERDEAD.
    Hold,
    /// Lock (recovering from a dead holder), show the accounts, unlock.
    Take,
    /// Remove the object (shm_unlink).
    Rm,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let named = |default: String| args.name.clone().unwrap_or(default);
        let name = named("/ipc-labs-robust".to_owned());
        finish(match args.command {
            None => story(
                &named(format!("/ipc-labs-robust-{}", std::process::id())),
                &args,
                &stop,
            ),
            Some(Command::Create) => {
                RobustMutex::create(&name, 0o600)
                    .map_err(|(call, e)| fail(call, &name, e))?
                    .keep();
                println!("robust_mutex: created {name}, mode 0600: A = {TOTAL}, B = 0");
                Ok(ExitCode::SUCCESS)
            }
            Some(Command::Hold) => hold(&open(&name)?, &stop),
            Some(Command::Take) => {
                take(&open(&name)?, args.no_repair, &stop).map(|_| ExitCode::SUCCESS)
            }
            Some(Command::Rm) => {
                RobustMutex::shm_unlink(&name).map_err(|e| fail("shm_unlink", &name, e))?;
                println!("robust_mutex: shm_unlink: removed {name}");
                Ok(ExitCode::SUCCESS)
            }
        })
    })
}

fn story(name: &str, args: &Args, stop: &Stop) -> Result<ExitCode, Stopped> {
    let shared = RobustMutex::create(name, 0o600).map_err(|(call, e)| fail(call, name, e))?;
    println!("robust_mutex: created {name} (mode 0600): A = {TOTAL}, B = 0, a robust mutex");
    let me = std::env::current_exe().context("current_exe")?;
    let mut spawned = Process::new(me)
        .args(["hold", "--name", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("spawn the holder")?;
    let mut holder = Child::adopt(nix::unistd::Pid::from_raw(spawned.id() as i32));
    let from_holder = spawned
        .stdout
        .take()
        .ok_or_else(|| Failure::new("the holder's stdout is not a pipe"))?;
    let mut lines = LineReader::new();
    loop {
        let Some(line) = lines.next_line(from_holder.as_fd(), stop)? else {
            let status = holder.waitpid_with(None)?;
            return Err(Failure::new(format!("the holder {} too soon", describe(&status))).into());
        };
        println!("  {}", String::from_utf8_lossy(&line));
        if line.starts_with(b"robust_mutex: step 1 of 2 done") {
            break;
        }
    }
    kill(holder.pid(), Signal::SIGKILL).context("kill")?; // mid-update, holding the lock
    let status = holder.waitpid_with(None)?;
    println!(
        "robust_mutex: the holder {} {}, between its two steps",
        holder.pid(),
        describe(&status)
    );
    take(&shared, args.no_repair, stop)?;
    match lock(&shared, stop) {
        Err(Stopped::Failed(why)) if args.no_repair => println!("robust_mutex: and then: {why}"),
        Ok(_) => {
            println!(
                "robust_mutex: locked again, the mutex works: {}",
                accounts(&shared)
            );
            shared.pthread_mutex_unlock()?;
        }
        Err(stopped) => return Err(stopped),
    }
    drop(shared); // shm_unlink and munmap: this process created it
    println!("robust_mutex: removed {name}");
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: take
/// Locks; after EOWNERDEAD, undoes the dead holder's half move from the journal, checks the
/// invariant and calls `pthread_mutex_consistent` (unless `no_repair`); unlocks.
fn take(shared: &RobustMutex, no_repair: bool, stop: &Stop) -> Result<(), Stopped> {
    if lock(shared, stop)? == Locked::OwnerDied {
        let dead = shared.holder().load(SeqCst);
        println!("robust_mutex: pthread_mutex_timedlock: EOWNERDEAD: pid {dead} died holding it");
        println!(
            "robust_mutex: the lock is mine, the data half-updated: {}",
            accounts(shared)
        );
        if no_repair {
            shared.pthread_mutex_unlock()?; // not consistent: the mutex is lost for good
            println!("robust_mutex: unlocked WITHOUT pthread_mutex_consistent (--no-repair)");
            return Ok(());
        }
        let step_one = shared.in_flight().swap(0, SeqCst); // the journal: undo step 1
        shared.account(0).fetch_add(step_one, SeqCst);
        let sum = shared.account(0).load(SeqCst) + shared.account(1).load(SeqCst);
        if sum != TOTAL {
            let why = format!("repair failed: A + B = {sum}, not {TOTAL}; the mutex stays locked");
            return Err(Failure::new(why).into());
        }
        shared.pthread_mutex_consistent()?;
        println!(
            "robust_mutex: undid step 1, {}; pthread_mutex_consistent",
            accounts(shared)
        );
    } else {
        println!(
            "robust_mutex: pthread_mutex_timedlock: got it: {}",
            accounts(shared)
        );
    }
    shared.holder().store(std::process::id() as i32, SeqCst);
    shared.pthread_mutex_unlock()?;
    println!("robust_mutex: pthread_mutex_unlock: done");
    Ok(())
}
// ANCHOR_END: take

/// `robust_mutex hold`: step 1 of a move (all of A to B, or all of B back to A), then wait.
fn hold(shared: &RobustMutex, stop: &Stop) -> Result<ExitCode, Stopped> {
    if lock(shared, stop)? == Locked::OwnerDied {
        return Err(Failure::new("EOWNERDEAD: run `robust_mutex take` first, to repair").into());
    }
    let me = std::process::id();
    shared.holder().store(me as i32, SeqCst);
    let (a, b) = (
        shared.account(0).load(SeqCst),
        shared.account(1).load(SeqCst),
    );
    let moving = if a > 0 { a } else { -b }; // step 1: A -= moving; step 2: B += moving
    shared.in_flight().store(moving, SeqCst); // the journal first, then step 1
    shared.account(0).fetch_sub(moving, SeqCst);
    println!(
        "robust_mutex: step 1 of 2 done by pid {me}, holding the lock: {}",
        accounts(shared)
    );
    println!("robust_mutex: Enter does step 2 and unlocks; `kill -9 {me}` kills me mid-way");
    let typed = LineReader::new().next_line(std::io::stdin().as_fd(), stop);
    // Step 2 after Enter (or the end of input), the undo of step 1 after a stop signal.
    let account = if typed.is_ok() { 1 } else { 0 };
    shared.account(account).fetch_add(moving, SeqCst);
    shared.in_flight().store(0, SeqCst);
    shared.pthread_mutex_unlock()?;
    typed?;
    println!("robust_mutex: step 2 done, unlocked: {}", accounts(shared));
    Ok(ExitCode::SUCCESS)
}

/// `pthread_mutex_lock`, in slices of 50 ms so that a stop signal gets in.
fn lock(shared: &RobustMutex, stop: &Stop) -> Result<Locked, Stopped> {
    let mut said = false;
    loop {
        stop.check()?;
        match shared.pthread_mutex_timedlock(Duration::from_millis(50)) {
            Err(Errno::ETIMEDOUT) if !said => {
                let holder = shared.holder().load(SeqCst);
                println!(
                    "robust_mutex: waiting: pid {holder} holds {}",
                    shared.name()
                );
                said = true;
            }
            Err(Errno::ETIMEDOUT) => {}
            Err(errno) => return Err(fail("pthread_mutex_timedlock", shared.name(), errno).into()),
            Ok(locked) => return Ok(locked),
        }
    }
}

fn accounts(shared: &RobustMutex) -> String {
    let (a, b) = (
        shared.account(0).load(SeqCst),
        shared.account(1).load(SeqCst),
    );
    format!("A = {a}, B = {b}, A + B = {}", a + b)
}

fn open(name: &str) -> Result<RobustMutex, Failure> {
    RobustMutex::open(name).map_err(|e| match e {
        OpenError::Errno(call, errno) => fail(call, name, errno),
        OpenError::WrongShape(why) => Failure::new(format!("{name}: refused: {why}; left alone")),
    })
}

fn fail(call: &str, name: &str, errno: Errno) -> Failure {
    let hint = match errno {
        Errno::ENOENT => {
            format!(": nothing at {name}: `robust_mutex --name {name} create` makes it")
        }
        Errno::EEXIST => format!(": {name} exists; `robust_mutex --name {name} rm` removes it"),
        Errno::ENOTRECOVERABLE => ": a holder died and the next unlocked it without \
            pthread_mutex_consistent; only rm and create make a new one"
            .to_owned(),
        _ => String::new(),
    };
    Failure::new(format!("{call} {name}: {errno}{hint}"))
}
