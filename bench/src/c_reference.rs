//! The plain-C references: `bench/c/pipe_pingpong.c` and `bench/c/futex_pingpong.c`, the same
//! ping-pong as bench's pipe round trip and futex floor, written as a C programmer writes them.
//!
//! `build.rs` compiles them into this crate (with the `cc` crate), each `main` under another
//! name. To run one, `bench` starts itself again, `/proc/self/exe --c-reference pipe ARGS`:
//! that process calls the C `main` and nothing else ([`run_if_asked`]). The C program forks
//! its own child, pins both, times its round trips with `clock_gettime` and prints one line,
//! which is all that `bench` reads. So the C figure is measured by C alone, in the same run as
//! the Rust one, and "Rust against C" is a ratio of two figures from the same minutes.

use std::ffi::CString;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, read};
use support::cli::{Context, Failure};
use support::stop::Stopped;

use crate::measure::{Placement, Setup, Timed};
use crate::mechanism::Mechanism;
use crate::stats::Percentiles;
use crate::transport::{Side, Watch};

/// The first argument that makes `bench` run a C reference instead of itself.
pub const FLAG: &str = "--c-reference";

/// Whether this build has the C reference (a C compiler was found when it was built).
pub fn available() -> bool {
    crate::HAS_C_REFERENCE
}

/// Why a C reference is not measured: this build has none.
pub const SKIPPED: &str = "skipped: no C compiler (bench was built without its C reference)";

/// If this process was started as `bench --c-reference PROGRAM ARGS...`, runs the C program's
/// `main` with `PROGRAM ARGS...` as its argv, and returns its status. Called first thing in
/// `main`, before anything else of bench runs.
pub fn run_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != FLAG {
        return None;
    }
    let argv: Option<Vec<CString>> = args
        .map(|arg| CString::new(arg.into_encoded_bytes()).ok())
        .collect();
    let status = argv
        .as_ref()
        .and_then(|argv| crate::run_c_main(argv.first()?.to_str().ok()?, argv));
    Some(match status {
        Some(status) => ExitCode::from(u8::try_from(status).unwrap_or(1)),
        None => {
            let _ = writeln!(std::io::stderr(), "bench {FLAG}: no such C program here");
            ExitCode::from(2)
        }
    })
}

/// The C program that does what `mechanism` does.
fn program(mechanism: Mechanism) -> &'static str {
    match mechanism {
        Mechanism::CPipe => "pipe",
        Mechanism::CFutex => "futex",
        other => unreachable!("{other:?} has no C reference"),
    }
}

/// Runs the C reference for `mechanism` once: `size`-byte messages (0 for the futex one), the
/// processes placed as `placement` says, for the time `setup`'s budget gives.
pub fn round_trips(
    mechanism: Mechanism,
    size: usize,
    placement: Placement,
    setup: &Setup,
) -> Result<Timed, Stopped> {
    let Setup {
        cpus, budget, stop, ..
    } = *setup;
    let cpu = |side| -> Result<String, Failure> {
        Ok(match cpus.cpu_for(placement, side)? {
            Some(cpu) => cpu.to_string(),
            None => "-1".into(),
        })
    };
    let mut command = Command::new("/proc/self/exe");
    command
        .args([FLAG, program(mechanism)])
        .arg(cpu(Side::Parent)?)
        .arg(cpu(Side::Child)?)
        .arg(size.to_string())
        .arg(budget.warmup.as_millis().to_string())
        .arg(budget.measure.as_millis().to_string())
        .arg(budget.max_messages.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut spawned = command.spawn().context("start the C reference")?;
    let output = OwnedFd::from(spawned.stdout.take().expect("stdout is piped"));
    let mut process = CProcess {
        pid: Pid::from_raw(spawned.id() as i32),
        reaped: false,
    };
    drop(spawned); // std's handle neither kills nor waits: `process` does
    let watch = Watch {
        stop,
        peer: Some(process.pid),
    };
    let mut text = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        // SIGCHLD interrupts the read when the program ends: `watch` looks at how it ended.
        match watch.call("read the C reference's output", || {
            read(&output, &mut chunk)
        }) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&chunk[..n]),
            Err(failed) => return Err(watch.cause_of(failed)),
        }
    }
    let status = process.wait()?;
    if status != WaitStatus::Exited(process.pid, 0) {
        return Err(Stopped::Failed(Failure::new(format!(
            "the C reference ({}) {}",
            program(mechanism),
            support::describe(&status)
        ))));
    }
    let text = String::from_utf8_lossy(&text);
    parse(&text).ok_or_else(|| {
        Stopped::Failed(Failure::new(format!(
            "the C reference printed {:?}, not its figures",
            text.trim()
        )))
    })
}

/// Reads the C program's line: `samples N p50 NS p99 NS p999 NS max NS ctxt N`.
pub fn parse(line: &str) -> Option<Timed> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let value = |name: &str| -> Option<i64> {
        let at = words.iter().position(|word| *word == name)?;
        words.get(at + 1)?.parse().ok()
    };
    let ns = |name: &str| value(name).and_then(|v| u64::try_from(v).ok());
    let times = Percentiles {
        samples: usize::try_from(value("samples")?).ok()?,
        p50_ns: ns("p50")?,
        p99_ns: ns("p99")?,
        p999_ns: ns("p999")?,
        max_ns: ns("max")?,
    };
    (times.samples > 0).then_some(Timed {
        times,
        // -1 and below: /proc could not be read.
        ctxt_switches: value("ctxt").and_then(|v| u64::try_from(v).ok()),
        stalled_waits: 0,
    })
}

/// The C program's process. Dropped before it was reaped (an error, a stop signal), it is sent
/// SIGTERM, on which it kills and reaps its own child and exits, and then reaped; SIGKILL if it
/// has not ended within a second.
struct CProcess {
    pid: Pid,
    reaped: bool,
}

impl CProcess {
    /// Waits for it to end (blocking: it is ending, its output is closed).
    fn wait(&mut self) -> Result<WaitStatus, Failure> {
        loop {
            match waitpid(self.pid, None) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Failure::new(format!("waitpid: {errno}"))),
                Ok(status) => {
                    self.reaped = true;
                    return Ok(status);
                }
            }
        }
    }
}

impl Drop for CProcess {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let _ = kill(self.pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            // A blocking wait: the stop mechanism's SIGALRM (every 50 ms once a stop signal
            // came) interrupts it, so that the deadline is looked at.
            match waitpid(self.pid, None) {
                Err(Errno::EINTR) if Instant::now() < deadline => continue,
                Err(Errno::EINTR) => {
                    let _ = kill(self.pid, Signal::SIGKILL);
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_line_reads_back() {
        let timed = parse("samples 9141 p50 2104 p99 3050 p999 6120 max 70311 ctxt 18290\n")
            .expect("a line");
        assert_eq!(timed.times.samples, 9141);
        assert_eq!(timed.times.p50_ns, 2104);
        assert_eq!(timed.times.p99_ns, 3050);
        assert_eq!(timed.times.p999_ns, 6120);
        assert_eq!(timed.times.max_ns, 70311);
        assert_eq!(timed.ctxt_switches, Some(18290));
    }

    #[test]
    fn a_line_without_figures_is_refused() {
        assert!(parse("").is_none());
        assert!(parse("samples 0 p50 1 p99 1 p999 1 max 1 ctxt 0").is_none());
        assert!(parse("samples 3 p50 x p99 1 p999 1 max 1 ctxt 0").is_none());
        let unknown = parse("samples 3 p50 1 p99 1 p999 1 max 1 ctxt -2").unwrap();
        assert_eq!(unknown.ctxt_switches, None);
    }
}
