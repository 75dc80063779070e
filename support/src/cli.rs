//! Command-line parsing and error reporting shared by every example binary.

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit status for a command line that could not be parsed (the convention of clap, BSD
/// `sysexits` aside: 2 means "you called me wrong").
pub const USAGE_ERROR: u8 = 2;

/// Parses the command line into `A`.
///
/// `--help` and `--version` print and exit 0. Any other problem (an unknown flag, a value that
/// is not a number) prints `<program>: <what is wrong> (see --help)` on stderr, followed by
/// clap's hints if it has any (the possible values, a tip such as `-- -1` for a negative
/// number), and exits with [`USAGE_ERROR`]: no usage dump, no panic.
pub fn parse_args<A: clap::Parser>() -> A {
    match A::try_parse() {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            report_error(usage_error(&err.to_string()));
            std::process::exit(USAGE_ERROR.into())
        }
    }
}

/// clap's error text, cut down to its first line and its hints: the usage block and the
/// "For more information, try '--help'" line are replaced by "(see --help)".
fn usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let reason = first.strip_prefix("error: ").unwrap_or(first);
    let reason = shorten_value(reason);
    let mut message = format!("{reason} (see --help)");
    for line in lines {
        let hint = line.trim();
        if hint.starts_with('[') || hint.starts_with("tip:") {
            message.push_str("\n  ");
            message.push_str(hint);
        }
    }
    // `--count -1`: clap takes "-1" for a flag and says only that it is unexpected.
    let negative = reason
        .strip_prefix("unexpected argument '")
        .and_then(|rest| rest.strip_suffix("' found"))
        .filter(|arg| arg.starts_with('-') && arg[1..].parse::<f64>().is_ok());
    if let Some(number) = negative {
        message.push_str(&format!(
            "\n  tip: {number} is a negative number, which this flag does not take (and a \
             value starting with '-' reads as a flag)"
        ));
    }
    message
}

/// `n` things in words: `plural(1, "message")` is "1 message", `plural(3, "message")` is
/// "3 messages" (and so is 0).
pub fn plural(n: impl Into<u64>, thing: &str) -> String {
    match n.into() {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

/// clap quotes a refused value whole (`invalid value '<value>' for ...`): a value of 2 kB
/// would make a 2 kB error line. At most 40 characters of it are kept.
fn shorten_value(reason: &str) -> String {
    const SHOWN: usize = 40;
    let Some(rest) = reason.strip_prefix("invalid value '") else {
        return reason.to_owned();
    };
    let Some((value, after)) = rest.split_once("' for '") else {
        return reason.to_owned();
    };
    if value.chars().count() <= SHOWN {
        return reason.to_owned();
    }
    let kept: String = value.chars().take(SHOWN).collect();
    format!(
        "invalid value '{kept}...' ({} characters) for '{after}",
        value.chars().count()
    )
}

/// The command that starts `bin` of `package` from the workspace, with `flags` after `--`,
/// each value quoted for a POSIX shell when it needs it: what an example prints when it waits
/// for its peer, so that a student can copy it into another terminal.
pub fn cargo_run_command(package: &str, bin: &str, flags: &[(&str, String)]) -> String {
    let mut command = format!("cargo run -p {package} --bin {bin}");
    if !flags.is_empty() {
        command.push_str(" --");
    }
    for (name, value) in flags {
        let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
        if !value.is_empty() && value.chars().all(plain) {
            command.push_str(&format!(" {name} {value}"));
        } else {
            command.push_str(&format!(" {name} '{}'", value.replace('\'', r"'\''")));
        }
    }
    command
}

/// Prints `<program>: <message>` on stderr as one `write(2)`, so that the lines of a parent and
/// its child never mix (`eprintln!` writes the pieces of a line one by one; a write of up to
/// PIPE_BUF bytes to a pipe is atomic).
pub fn report_error(message: impl Display) {
    let line = format!("{}: {message}\n", program_name());
    // If stderr itself is gone there is nobody left to tell.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Whether a print to stdout failed because nobody reads it any more (see [`run`]).
pub fn stdout_is_gone() -> bool {
    STDOUT_GONE.load(Ordering::SeqCst)
}

/// The file name this program was started as, for the start of error lines.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "example".to_owned())
}

/// An error ready to be shown to a person: what was being done, then why it failed.
#[derive(Debug)]
pub struct Failure {
    message: String,
}

impl Failure {
    /// A failure described by `message` alone.
    pub fn new(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// `?` on a System V call: `msgget key 0x...: ENOENT: ...`, as `sysv` words it.
impl From<sysv::Error> for Failure {
    fn from(error: sysv::Error) -> Self {
        Failure::new(error)
    }
}

/// `?` on a nix call: `EEXIST: File exists`.
impl From<nix::errno::Errno> for Failure {
    fn from(errno: nix::errno::Errno) -> Self {
        Failure::new(errno)
    }
}

/// `?` on a std call: an error from the kernel named by its errno, as nix names it.
impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        Failure::new(explain(&err))
    }
}

/// Adds what was being done to an error: `fork()?` becomes `fork().context("fork")?`, which reads
/// `fork: EAGAIN: Resource temporarily unavailable` when it fails.
pub trait Context<T> {
    /// Wraps the error as `<what>: <error>`.
    fn context(self, what: impl Display) -> Result<T, Failure>;
}

impl<T, E: std::error::Error + 'static> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> Result<T, Failure> {
        self.map_err(|err| Failure::new(format!("{what}: {}", explain(&err))))
    }
}

/// An error in words; an I/O error from the kernel is named by its errno, like nix does
/// (`EPIPE: Broken pipe`, rather than std's `Broken pipe (os error 32)`).
pub fn explain(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(io) = err.downcast_ref::<std::io::Error>()
        && let Some(code) = io.raw_os_error()
    {
        return nix::errno::Errno::from_raw(code).to_string();
    }
    err.to_string()
}

/// Runs the body of `main`. An error becomes one line on stderr, `<program>: <error>`, and exit
/// status 1.
///
/// Also turns the panic that `println!` raises when stdout is gone into a stop instead of a
/// backtrace. A pipe nobody reads any more (`example | head -1`, EPIPE) gives one line and exit
/// status 1. A terminal that was closed (EIO: the window went, or `tmux kill-pane`) is a
/// hang-up: exit status 129, as SIGHUP gives, which may come a moment later or not at all. The
/// panic still unwinds, so every guard on the way out runs: a FIFO or a queue the example
/// created is removed as on any other exit.
pub fn run(body: impl FnOnce() -> Result<ExitCode, Failure>) -> ExitCode {
    stop_quietly_when_stdout_is_gone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    // A failure with the terminal gone (a child that found it closed ended first, say) cannot
    // be shown to anyone: it ends as the hang-up it is.
    let failed = matches!(outcome, Ok(Err(_)) | Err(_));
    if terminal_is_gone() || (failed && stderr_hung_up()) {
        return crate::stop::exit_code_for(nix::sys::signal::Signal::SIGHUP);
    }
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            report_error(failure);
            ExitCode::FAILURE
        }
        Err(_) if stdout_is_gone() => ExitCode::FAILURE,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static TERMINAL_GONE: AtomicBool = AtomicBool::new(false);

/// Whether this process found its terminal closed (see [`terminal_closed`]).
pub fn terminal_is_gone() -> bool {
    TERMINAL_GONE.load(Ordering::SeqCst)
}

/// Whether stderr is a terminal that was hung up: `tcgetattr` fails with EIO there, where a
/// live terminal answers and a pipe or file says ENOTTY.
fn stderr_hung_up() -> bool {
    use std::os::fd::AsFd;
    crate::stop::check_hang_up(std::io::stderr().as_fd()).is_err()
}

/// Whether `errno` from a read of stdin or a write to stdout or stderr means that the terminal
/// was closed: EIO, which a terminal gives once its window is gone, before (or without) the
/// SIGHUP. The caller stops as SIGHUP would make it stop.
pub fn terminal_closed(errno: nix::errno::Errno) -> bool {
    if errno == nix::errno::Errno::EIO {
        TERMINAL_GONE.store(true, Ordering::SeqCst);
        return true;
    }
    false
}

/// For a thread that reads the terminal while the main thread waits elsewhere (in `msgrcv`,
/// say): when `err` says the terminal was closed, sends this process the SIGHUP the terminal
/// did not send, so that the main thread stops as on any hang-up, and returns true.
pub fn hang_up_if_terminal_closed(err: &std::io::Error) -> bool {
    let errno = nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(0));
    if !terminal_closed(errno) {
        return false;
    }
    // To the process, not this thread, which may block the stop signals.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGHUP);
    true
}

/// Rust ignores SIGPIPE, so a closed stdout makes `println!` panic rather than killing the
/// process as it would a C program. Keeping SIGPIPE ignored matters: the examples show EPIPE.
///
/// The hook says so once, then points stdout at /dev/null: the cleanup that runs while the
/// panic unwinds may print too, and a second panic during unwinding would abort the process
/// before its destructors ran.
fn stop_quietly_when_stdout_is_gone() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let printing = message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr");
        let closed_terminal = printing && message.contains("Input/output error");
        if !(printing && (message.contains("Broken pipe") || closed_terminal)) {
            return default_hook(info);
        }
        if closed_terminal {
            TERMINAL_GONE.store(true, Ordering::SeqCst);
            // A thread other than main found the terminal gone while main waits elsewhere
            // (msgrcv, semop): send the process the SIGHUP the terminal did not, so that main
            // stops too. Main itself unwinds from this panic, with no signal needed.
            if std::thread::current().name() != Some("main") {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::this(),
                    nix::sys::signal::Signal::SIGHUP,
                );
            }
        }
        if !STDOUT_GONE.swap(true, Ordering::SeqCst) && !closed_terminal {
            report_error("stopping: nobody reads stdout any more (EPIPE: Broken pipe)");
        }
        if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stdout(&null);
            if closed_terminal {
                let _ = nix::unistd::dup2_stderr(&null);
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_refused_value_is_cut_to_40_characters() {
        let long = "x".repeat(2000);
        let rendered =
            format!("error: invalid value '{long}' for '<OPS>': too long\n\nUsage: pv\n");
        let message = usage_error(&rendered);
        assert!(message.len() < 200, "{message}");
        assert!(
            message.contains("(2000 characters) for '<OPS>': too long"),
            "{message}"
        );
        let short = "error: invalid value 'A' for '--side <SIDE>'\n";
        assert_eq!(
            usage_error(short),
            "invalid value 'A' for '--side <SIDE>' (see --help)"
        );
    }

    #[test]
    fn a_negative_number_gets_a_tip() {
        let rendered = "error: unexpected argument '-1' found\n\nUsage: x [OPTIONS]\n";
        assert!(usage_error(rendered).contains("tip: -1 is a negative number"));
        let flag = "error: unexpected argument '--bogus' found\n\nUsage: x [OPTIONS]\n";
        assert_eq!(
            usage_error(flag),
            "unexpected argument '--bogus' found (see --help)"
        );
    }

    #[test]
    fn usage_errors_keep_clap_hints_and_drop_the_usage_block() {
        let rendered = "error: invalid value 'A' for '--side <SIDE>'\n  [possible values: a, b]\n\n  \
                        tip: some tip\n\nUsage: chat [OPTIONS]\n\nFor more information, try \
                        '--help'.\n";
        assert_eq!(
            usage_error(rendered),
            "invalid value 'A' for '--side <SIDE>' (see --help)\n  [possible values: a, b]\n  \
             tip: some tip"
        );
    }

    #[test]
    fn context_puts_the_operation_before_the_errno() {
        let failed: Result<(), nix::errno::Errno> = Err(nix::errno::Errno::EEXIST);
        let message = failed.context("mkfifo ./mfifo").unwrap_err().to_string();
        assert_eq!(message, "mkfifo ./mfifo: EEXIST: File exists");
    }

    #[test]
    fn io_errors_are_named_by_their_errno() {
        let failed: Result<(), std::io::Error> = Err(std::io::Error::from_raw_os_error(32));
        let message = failed.context("write").unwrap_err().to_string();
        assert_eq!(message, "write: EPIPE: Broken pipe");
    }
}
