//! # psem: work a named POSIX semaphore by hand, from several terminals
//!
//! The POSIX counterpart of `pv` (the course notes' System V semaphores): one counter found by
//! a name such as `/ipc-labs-psem`, kept by glibc in the file `/dev/shm/sem.ipc-labs-psem`.
//!
//! - `psem create --value 1` makes it (`sem_open` with O_CREAT | O_EXCL, mode 0600) and leaves
//!   it for the others; `psem rm` removes the name (`sem_unlink`);
//! - `psem wait` takes one (`sem_wait`, sleeping at 0), `psem trywait` takes one or fails at
//!   once with EAGAIN, `psem timedwait 500` waits at most 500 ms (ETIMEDOUT), `psem post` gives
//!   one back (`sem_post`), `psem show` prints the value and the file's owner and mode.
//!
//! A file at the name that is not a semaphore (another size, garbage) is refused and left: glibc
//! would map it anyway (see `sem_file_problem`). Signals: Ctrl-C, SIGTERM and SIGHUP end a
//! blocked wait within a second (`Stop::retry`: `sem_wait` fails with EINTR).
//!
//! Run: `cargo run -p posix --bin psem -- create --value 0`, then `psem wait` in a second
//! terminal (it sleeps) and `psem post` in a third (it wakes the second).

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use nix::errno::Errno;
use posix::psem::{
    NamedSemaphore, OpenMode, SEM_VALUE_MAX, Unlinker, describe_sem_file, sem_file,
    sem_file_problem, sem_unlink,
};
use support::cli::{Failure, parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Creates, waits on, posts, shows and removes a named POSIX semaphore.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The semaphore's name: one `/`, then up to 251 characters with no other `/`.
    #[arg(long, global = true, default_value = "/ipc-labs-psem")]
    name: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Clone, Copy)]
enum Command {
    /// Create it (O_CREAT | O_EXCL) with this value, and leave it for the others.
    Create {
        /// The initial value, 0 to SEM_VALUE_MAX (2147483647).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i64::from(SEM_VALUE_MAX)))]
        value: u32,
        /// The file mode, in octal (umask applies).
        #[arg(long, default_value = "600", value_parser = |s: &str| u32::from_str_radix(s, 8))]
        mode: u32,
    },
    /// Take one (sem_wait), sleeping while the value is 0; Ctrl-C ends the wait.
    Wait,
    /// Take one if the value is above 0, else fail at once with EAGAIN (sem_trywait).
    Trywait,
    /// Take one, waiting at most MS milliseconds (sem_timedwait), else ETIMEDOUT.
    Timedwait {
        #[arg(value_name = "MS")]
        ms: u64,
    },
    /// Give one back (sem_post), waking one sleeper.
    Post,
    /// Show the value and the file in /dev/shm with its owner and mode.
    Show,
    /// Remove the name (sem_unlink); whoever has it open keeps using it.
    Rm,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let name = args.name.as_str();
        finish(match args.command {
            None if !sem_file(name).exists() => {
                println!("psem: no semaphore {name} yet; `psem create --value 1` makes one");
                Ok(ExitCode::SUCCESS)
            }
            None | Some(Command::Show) => show(name),
            Some(Command::Create { value, mode }) => create(name, value, mode),
            Some(Command::Wait) => take(name, None, &stop),
            Some(Command::Timedwait { ms }) => take(name, Some(Duration::from_millis(ms)), &stop),
            Some(Command::Trywait) => {
                let sem = open(name)?;
                sem.sem_trywait()
                    .map_err(|e| failure("sem_trywait", name, e))?;
                println!(
                    "psem: sem_trywait: took 1; {name} is now {}",
                    sem.sem_getvalue()?
                );
                Ok(ExitCode::SUCCESS)
            }
            Some(Command::Post) => {
                let sem = open(name)?;
                sem.sem_post().map_err(|e| failure("sem_post", name, e))?;
                println!(
                    "psem: sem_post: gave 1; {name} is now {}",
                    sem.sem_getvalue()?
                );
                Ok(ExitCode::SUCCESS)
            }
            Some(Command::Rm) => {
                check(name)?;
                sem_unlink(name).map_err(|e| failure("sem_unlink", name, e))?;
                println!("psem: sem_unlink: removed {name}; whoever has it open keeps it");
                Ok(ExitCode::SUCCESS)
            }
        })
    })
}

fn create(name: &str, value: u32, mode: u32) -> Result<ExitCode, Stopped> {
    check(name)?;
    let sem = NamedSemaphore::sem_open(name, OpenMode::CreateNew, mode, value)
        .map_err(|e| failure("sem_open", name, e))?;
    let unlinker = Unlinker::new(name); // unlinks it if this report cannot be printed
    let file = sem_file(name);
    println!(
        "psem: created {name}, value {}, mode {mode:04o}",
        sem.sem_getvalue()?
    );
    println!(
        "psem: it stays in {} until `psem --name {name} rm`",
        file.display()
    );
    unlinker.keep();
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: take
/// `wait` (no limit) and `timedwait`: P, sleeping at 0. A stop signal makes the wait fail with
/// EINTR, and `stop.retry` returns instead of waiting again.
fn take(name: &str, limit: Option<Duration>, stop: &Stop) -> Result<ExitCode, Stopped> {
    let sem = open(name)?;
    if sem.sem_getvalue()? == 0 {
        println!("psem: {name} is 0: waiting for a post; Ctrl-C to stop");
    }
    let (call, taken) = match limit {
        None => ("sem_wait", stop.retry(|| sem.sem_wait())),
        Some(limit) => {
            let deadline = Instant::now() + limit;
            let left = || deadline.saturating_duration_since(Instant::now());
            ("sem_timedwait", stop.retry(|| sem.sem_timedwait(left())))
        }
    };
    taken.map_err(|stopped| match stopped {
        Stopped::Failed(e) => Stopped::Failed(failure(call, name, e)),
        Stopped::Signal(signal) => Stopped::Signal(signal),
    })?;
    println!(
        "psem: {call}: took 1; {name} is now {}",
        sem.sem_getvalue()?
    );
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: take

// ANCHOR: open
/// An existing semaphore, once its file has passed a look: glibc's `sem_open` would map a file
/// of any size and content (a 0-byte one dies of SIGBUS at the first use).
fn open(name: &str) -> Result<NamedSemaphore, Failure> {
    check(name)?;
    NamedSemaphore::sem_open(name, OpenMode::Existing, 0, 0)
        .map_err(|e| failure("sem_open", name, e))
}
// ANCHOR_END: open

/// A name glibc would not take, or a file at it that is not a semaphore: one line, nothing used.
fn check(name: &str) -> Result<(), Failure> {
    if !name.starts_with('/') || name.len() < 2 || name[1..].contains('/') {
        return Err(failure("sem_open", name, Errno::EINVAL));
    }
    match sem_file_problem(name) {
        Some(problem) => Err(Failure::new(format!(
            "{name}: refused: {problem}; left alone"
        ))),
        None => Ok(()),
    }
}

fn show(name: &str) -> Result<ExitCode, Stopped> {
    let value = open(name)?.sem_getvalue()?;
    println!("psem: {name}: value {value}");
    let file = describe_sem_file(name).unwrap_or_else(|| "gone meanwhile".to_owned());
    println!("psem: file {file}");
    Ok(ExitCode::SUCCESS)
}

/// `<call> <name>: <ERRNO>: <text>`, and what to do about it.
fn failure(call: &str, name: &str, errno: Errno) -> Failure {
    let hint = match errno {
        Errno::ENOENT => format!("no semaphore {name}: create it with psem --name {name} create"),
        Errno::EEXIST => format!("{name} exists already; `psem --name {name} show` shows it"),
        Errno::EINVAL => "a name is one / and up to 251 characters with no other /".to_owned(),
        Errno::EAGAIN => "the value is 0, and sem_trywait does not wait".to_owned(),
        Errno::ETIMEDOUT => "no post came in time; nothing was taken".to_owned(),
        Errno::EOVERFLOW => format!("the value is at SEM_VALUE_MAX ({SEM_VALUE_MAX})"),
        Errno::EACCES => describe_sem_file(name).unwrap_or_default(),
        _ => String::new(),
    };
    Failure::new(
        format!("{call} {name}: {errno}: {hint}")
            .trim_end_matches(": ")
            .to_owned(),
    )
}
