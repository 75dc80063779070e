//! # pv: work a semaphore set by hand, from several terminals
//!
//! Ports section 5 of the course notes (`004_0b92104986517c26.txt`; semaphores: P and V are atomic,
//! take or give any amount, and semaphores come in sets). Four subcommands:
//!
//! - `pv create --values 1,0` makes a set of two semaphores set to 1 and 0, race-free (see
//!   `create_set`), and leaves it in the kernel for the others;
//! - `pv op 0-1,1+2u` does one atomic `semop`: P by 1 on semaphore 0 and V by 2 on semaphore 1.
//!   If it has to wait, it says what for ("waiting for semaphore 0 to reach 1"); `--hold` keeps
//!   it running afterwards, so that a SEM_UNDO operation lasts until Ctrl-C; `--init 1,0`
//!   creates the set first if nobody has (exactly one of several such calls does);
//! - `pv show` prints each semaphore's value, waiting counts and last pid;
//! - `pv rm` removes the set; whoever waits in `semop` on it wakes with EIDRM.
//!
//! Signals: stops on Ctrl-C, SIGTERM and SIGHUP with signal-hook (`Stop::install`), because
//! `semop` then fails with EINTR and `Stop::retry` ends the wait; see "Programs that stop
//! cleanly".
//!
//! Run: `cargo run -p semaphore --bin pv -- create --values 0`, then `pv op 0-1` in a second
//! terminal (it waits) and `pv op 0+1` in a third (it releases the second).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use libc::{IPC_CREAT, IPC_EXCL};
use nix::errno::Errno;
use semaphore::{
    Error, KeyArgs, NamedKey, SEMVMX, SemOp, SemaphoreSet, changes_nothing, parse_ops, semget,
};
use support::cli::{Failure, parse_args, plural, run};
use support::stop::{Stop, Stopped, finish};

/// Creates, operates on, shows and removes a System V semaphore set.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    key: KeyArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Clone)]
enum Command {
    /// Create a new set (IPC_EXCL, mode 0600) with these values, and leave it for the others.
    Create {
        /// The initial values, one per semaphore: 1 to 64 values, each 0 to 32767 (SEMVMX).
        #[arg(long, value_name = "V,V,...", default_value = "1", value_parser = parse_values)]
        values: Values,
    },
    /// Do one atomic semop: every operation of the list, or none (then wait).
    ///
    /// OPS is a comma-separated list, done all at once: `N-K` takes K from semaphore N (P),
    /// `N+K` gives K to it (V), `N=0` waits until it is 0; K is 1 to 32767. After each, `u`
    /// adds SEM_UNDO (the kernel reverses it when pv exits) and `n` adds IPC_NOWAIT (fail
    /// instead of waiting). Example: `0-1,1+2u`.
    Op {
        /// The operations, such as `0-1` or `0-1,1+2u`.
        #[arg(value_name = "OPS", value_parser = parse_ops_arg)]
        ops: Ops,
        /// Afterwards, stay until Ctrl-C (a SEM_UNDO operation lasts while pv runs).
        #[arg(long)]
        hold: bool,
        /// Create the set with these values first if no set has the key (exactly one of
        /// several pv started at once creates it; the others wait until it is initialised).
        /// The set stays afterwards, as with `pv create`. 1 to 64 values, each 0 to 32767.
        #[arg(long, value_name = "V,V,...", value_parser = parse_values)]
        init: Option<Values>,
    },
    /// Show each semaphore's value, how many wait for it, and who used it last.
    Show,
    /// Remove the set (IPC_RMID); whoever waits on it wakes with EIDRM.
    Rm,
}

#[derive(Clone)]
struct Values(Vec<u16>);

#[derive(Clone)]
struct Ops(Vec<SemOp>);

fn parse_values(text: &str) -> Result<Values, String> {
    let values: Vec<u16> = text
        .split(',')
        .map(|item| match item.parse::<u16>() {
            Ok(v) if v <= SEMVMX => Ok(v),
            Ok(_) => Err(format!("{item:?} is over SEMVMX (32767)")),
            Err(_) => Err(format!("{item:?} is not a number from 0 to 32767")),
        })
        .collect::<Result<_, _>>()?;
    if values.len() > 64 {
        return Err("at most 64 values".to_owned());
    }
    Ok(Values(values))
}

fn parse_ops_arg(text: &str) -> Result<Ops, String> {
    parse_ops(text).map(Ops)
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let Some(command) = args.command.clone() else {
            return finish(show_if_there(&args.key, &stop));
        };
        finish(match command {
            Command::Create { values } => create_set(&args.key, &values.0),
            Command::Op { ops, hold, init } => operate(&args.key, &ops.0, hold, init, &stop),
            Command::Show => open(&args.key, &stop).and_then(|set| show(&set)),
            Command::Rm => remove(&args.key, &stop),
        })
    })
}

fn key_of(args: &KeyArgs, may_create: bool) -> Result<NamedKey, Failure> {
    if may_create && let Some(path) = args.make_default_key_file()? {
        println!(
            "pv: created the key file {}: ftok needs an existing file",
            path.display()
        );
    }
    Ok(args.ftok_or_key()?)
}

// ANCHOR: create
fn create_set(args: &KeyArgs, values: &[u16]) -> Result<ExitCode, Stopped> {
    let nsems = values.len() as u16; // 1 to 64: parse_values says so
    // IPC_EXCL: a new set or EEXIST, never one that another process is still setting up.
    let set = semget(key_of(args, true)?, nsems, IPC_CREAT | IPC_EXCL | 0o600)?;
    set.semctl_setall(values)?;
    // Until this semop, sem_otime is 0, and every other opener waits for the values.
    set.semop(&changes_nothing(values[0]))?;
    println!("pv: created {set}, mode 0600, values {values:?}");
    println!("pv: it stays in the kernel; next: `pv op 0-1` (P), `pv op 0+1` (V), `pv rm`");
    let _ = set.leave_in_kernel();
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: create

// ANCHOR: open
/// An existing set, once its creator has set the values, if its owner passes the check.
fn open(args: &KeyArgs, stop: &Stop) -> Result<SemaphoreSet, Stopped> {
    let set = semget(key_of(args, false)?, 0, 0)?;
    set.wait_until_initialised(stop)?;
    if let Some(warning) = set.check_owner(args.accept_foreign)? {
        println!("pv: {warning}");
    }
    Ok(set)
}
// ANCHOR_END: open

fn operate(
    args: &KeyArgs,
    ops: &[SemOp],
    hold: bool,
    init: Option<Values>,
    stop: &Stop,
) -> Result<ExitCode, Stopped> {
    let set = match init {
        Some(values) => init_set(args, &values.0, stop)?,
        None => open(args, stop)?,
    };
    let list: Vec<String> = ops.iter().map(SemOp::to_string).collect();
    let list = list.join(",");
    // ANCHOR: op
    // Would it wait? Ask the kernel with IPC_NOWAIT first, so that pv can say what for.
    let try_now: Vec<SemOp> = ops.iter().map(|op| op.nowait()).collect();
    let done = match set.semop(&try_now) {
        Ok(()) => Ok(()),
        Err(err) if err.errno() == Some(Errno::EAGAIN) && !ops.iter().any(|op| op.has_nowait()) => {
            say_what_it_waits_for(&set, ops)?;
            stop.retry(|| set.semop(ops)) // P sleeps here until a V makes room; Ctrl-C ends it
        }
        // Any other error: the operations themselves give it again, without the n added here.
        Err(_) => stop.retry(|| set.semop(ops)),
    };
    match done {
        Err(Stopped::Failed(err)) if matches!(err.errno(), Some(Errno::EIDRM | Errno::EINVAL)) => {
            let why = format!("{err}, while I waited; {list} was not done");
            return Err(Stopped::Failed(Failure::new(why)));
        }
        done => done?,
    }
    // ANCHOR_END: op
    let values = set.semctl_getall()?;
    println!("pv: semop {list} done; values now {values:?}");
    if ops.iter().any(|op| op.has_undo()) {
        println!("pv: SEM_UNDO: the kernel reverses the u operations when pv exits");
    }
    if hold {
        println!("pv: holding; Ctrl-C to stop");
        loop {
            stop.sleep(std::time::Duration::from_secs(3600))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Names each operation of `ops` that cannot go ahead with the values the set has now.
fn say_what_it_waits_for(set: &SemaphoreSet, ops: &[SemOp]) -> Result<(), Error> {
    let values = set.semctl_getall()?;
    let waits: Vec<String> = ops
        .iter()
        .filter(|op| op.would_wait(values.get(usize::from(op.num)).copied().unwrap_or(0)))
        .map(|op| op.waits_for())
        .collect();
    let what = waits.join(" and ");
    println!("pv: waiting for {what} (values now {values:?}); Ctrl-C to stop");
    Ok(())
}

/// `--init`: of several pv started at once, exactly one creates the set, as `pv create` does;
/// the others get EEXIST and open it as `open` does.
fn init_set(args: &KeyArgs, values: &[u16], stop: &Stop) -> Result<SemaphoreSet, Stopped> {
    let key = key_of(args, true)?;
    let set = match semget(
        key.clone(),
        values.len() as u16,
        IPC_CREAT | IPC_EXCL | 0o600,
    ) {
        Ok(set) => {
            set.semctl_setall(values)?;
            set.semop(&changes_nothing(values[0]))?;
            println!("pv: created {set}, mode 0600, values {values:?}; it stays in the kernel");
            return Ok(set.leave_in_kernel());
        }
        Err(err) if err.errno() == Some(Errno::EEXIST) => semget(key, 0, 0)?,
        Err(err) => return Err(err.into()),
    };
    let waited = set.wait_until_initialised(stop)?;
    println!("pv: opened {set}, which another process created (waited {waited:?} for its values)");
    if let Some(warning) = set.check_owner(args.accept_foreign)? {
        println!("pv: {warning}");
    }
    let nsems = set.semctl_stat()?.nsems;
    if usize::from(nsems) != values.len() {
        let why = format!(
            "{set} has {}, not the {} of --init: not the set this exercise made; it was left \
             alone (`pv show` shows it; another --proj gives another key)",
            plural(u64::from(nsems), "semaphore"),
            values.len()
        );
        return Err(Failure::new(why).into());
    }
    Ok(set)
}

fn show(set: &SemaphoreSet) -> Result<ExitCode, Stopped> {
    let states = set.states()?;
    println!("pv: {set}, {}", plural(states.len() as u64, "semaphore"));
    println!("  sem  value  waiting-to-take  waiting-for-zero  last-pid");
    for (num, state) in states.iter().enumerate() {
        println!(
            "  {num:>3}  {:>5}  {:>15}  {:>16}  {:>8}",
            state.value, state.ncnt, state.zcnt, state.pid
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `pv` with no subcommand: `pv show`, or one line saying what to run first when there is
/// nothing to show yet (that is no error).
fn show_if_there(args: &KeyArgs, stop: &Stop) -> Result<ExitCode, Stopped> {
    let key = match args.ftok_or_key() {
        Err(err) if err.errno() == Some(Errno::ENOENT) => {
            println!(
                "pv: no set yet: its key file {} does not exist; `pv create --values 1` makes \
                 both (`pv --help` says more)",
                args.key_path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        key => key?,
    };
    let set = match semget(key.clone(), 0, 0) {
        Err(err) if err.errno() == Some(Errno::ENOENT) => {
            println!(
                "pv: no semaphore set has {key} yet; `pv create --values 1` makes one (`pv \
                 --help` says more)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        set => set?,
    };
    set.wait_until_initialised(stop)?;
    show(&set)
}

fn remove(args: &KeyArgs, stop: &Stop) -> Result<ExitCode, Stopped> {
    let set = open(args, stop)?;
    let shown = set.to_string();
    set.semctl_rmid()?;
    println!("pv: removed {shown}");
    Ok(ExitCode::SUCCESS)
}
