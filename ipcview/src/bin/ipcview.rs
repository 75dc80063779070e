//! # ipcview: every IPC object, and who is blocked on it, live
//!
//! Not a port: the course notes have no such tool. Shows each System V queue,
//! semaphore set and segment, each pipe and FIFO, each POSIX queue, named semaphore and
//! `shm_open` object, with the processes that use it: pid, command, state, the system call each
//! is blocked in, and what it waits for where that can be known. Refreshed several times a
//! second in a terminal view; `--once` prints one snapshot as text, `--json` as JSON.
//!
//! Signals: `q` or Ctrl-C quits; SIGINT, SIGTERM and SIGHUP stop it through the one stop
//! mechanism (`Stop::install`), and a closed terminal is a hang-up (exit 129). The terminal is
//! put back on every way out, a panic included.
//!
//! Run: `cargo run -p ipcview` in a third terminal, beside the two of a demo; `cargo run -p
//! ipcview -- --once --filter sem` for one look at the semaphore sets.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ipcview::{Filter, Options, Users, live, snapshot, view};
use support::cli::{Failure, parse_args, run, terminal_closed};
use support::stop::{Stop, finish};

/// Every IPC object on the machine and who is blocked on it, on what: live, or once.
#[derive(Parser)]
#[command(
    version,
    after_help = "Keys in the live view: q or Esc quits, Ctrl-C quits as \
    SIGINT does (exit 130), arrows, PgUp, PgDn, Home and End scroll."
)]
struct Args {
    /// Print one snapshot as plain text and exit.
    #[arg(long, conflicts_with = "json")]
    once: bool,
    /// Print one snapshot as JSON and exit.
    #[arg(long)]
    json: bool,
    /// Only these kinds (repeat it, or separate them with commas).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    filter: Vec<Filter>,
    /// Only this user's objects and processes (default: yours).
    #[arg(long, value_name = "NAME", conflicts_with = "all_users")]
    user: Option<String>,
    /// Every user's objects and processes. What the kernel keeps from you shows as "not
    /// visible", with the reason.
    #[arg(long)]
    all_users: bool,
    /// Only the objects that process PID or its descendants use (repeat it for more).
    #[arg(long, value_name = "PID")]
    pid: Vec<i32>,
    /// How often the live view refreshes, in milliseconds, 50 to 10000.
    #[arg(long, value_name = "MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(50..=10_000))]
    interval_ms: u64,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let options = Options {
            filters: args.filter.clone(),
            users: users(&args)?,
            pids: args.pid.clone(),
        };
        if args.once || args.json {
            let snapshot = snapshot::take(&options);
            let text = if args.json {
                let json = serde_json::to_string_pretty(&snapshot)
                    .map_err(|err| Failure::new(format!("JSON: {err}")))?;
                json + "\n"
            } else {
                view::plain(&snapshot)
            };
            return print(&text);
        }
        let interval = Duration::from_millis(args.interval_ms);
        finish(live::run(&options, interval, &stop))
    })
}

/// `--user NAME`, `--all-users`, or the current user.
fn users(args: &Args) -> Result<Users, Failure> {
    if args.all_users {
        return Ok(Users::All);
    }
    let Some(name) = &args.user else {
        return Ok(Users::One(nix::unistd::geteuid().as_raw()));
    };
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => Ok(Users::One(user.uid.as_raw())),
        Ok(None) => Err(Failure::new(format!("--user {name}: no such user"))),
        Err(errno) => Err(Failure::new(format!("--user {name}: {errno}"))),
    }
}

/// Writes `text` to stdout in one go; a closed terminal (EIO) is a hang-up, exit 129.
fn print(text: &str) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            let errno = nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(0));
            // Marks the terminal gone when it is: `run` then exits 129.
            terminal_closed(errno);
            Err(Failure::new(format!("write to stdout: {errno}")))
        }
    }
}
