//! Command-line parsing and error reporting shared by every example binary.

use std::fmt::Display;
use std::process::ExitCode;

/// The exit status for a command line that could not be parsed (the convention of clap, BSD
/// `sysexits` aside: 2 means "you called me wrong").
pub const USAGE_ERROR: u8 = 2;

/// Parses the command line into `A`.
///
/// `--help` and `--version` print and exit 0. Any other problem (an unknown flag, a value that
/// is not a number) prints one line on stderr, `<program>: <what is wrong> (see --help)`, and
/// exits with [`USAGE_ERROR`]: no usage dump, no panic.
pub fn parse_args<A: clap::Parser>() -> A {
    match A::try_parse() {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            let rendered = err.to_string();
            let first_line = rendered.lines().next().unwrap_or("invalid arguments");
            let reason = first_line.strip_prefix("error: ").unwrap_or(first_line);
            eprintln!("{}: {reason} (see --help)", program_name());
            std::process::exit(USAGE_ERROR.into())
        }
    }
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
/// Also turns the panic that `println!` raises when stdout is a pipe nobody reads any more
/// (`example | head -1`) into one line and exit status 1, instead of a backtrace.
pub fn run(body: impl FnOnce() -> Result<ExitCode, Failure>) -> ExitCode {
    stop_quietly_when_stdout_is_gone();
    match body() {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("{}: {failure}", program_name());
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so a closed stdout makes `println!` panic rather than killing the
/// process as it would a C program. Keeping SIGPIPE ignored matters: the examples show EPIPE.
fn stop_quietly_when_stdout_is_gone() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            eprintln!(
                "{}: stopping: nobody reads stdout any more (EPIPE: Broken pipe)",
                program_name()
            );
            std::process::exit(1);
        }
        default_hook(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

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
