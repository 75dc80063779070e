//! Shared plumbing for the ipc-labs examples, kept out of the examples so that each one shows
//! only its mechanism.
//!
//! - [`cli`]: command-line parsing that fails in one clear line, and errors that name the
//!   operation that failed (`fork: EAGAIN: Resource temporarily unavailable`).
//! - [`describe`]: a `waitpid` result in words (`killed by signal 13 (SIGPIPE)`).
//! - [`testing`]: what the integration tests use to drive the real binaries: a process group
//!   per example, stdout read line by line with a deadline, and a watchdog that kills whatever
//!   is still running when a test gives up.

pub mod cli;
pub mod testing;

use nix::sys::wait::WaitStatus;

/// Says in words what `waitpid` reported about a child: `exited with status 0`, `was killed by
/// signal 13 (SIGPIPE)`, `was stopped by signal 19 (SIGSTOP)`.
pub fn describe(status: &WaitStatus) -> String {
    match *status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, dumped_core) => format!(
            "was killed by signal {} ({signal}){}",
            signal as i32,
            if dumped_core { " and dumped core" } else { "" }
        ),
        WaitStatus::Stopped(_, signal) => {
            format!("was stopped by signal {} ({signal})", signal as i32)
        }
        WaitStatus::Continued(_) => "was continued by SIGCONT".to_owned(),
        WaitStatus::StillAlive => "is still running".to_owned(),
        other => format!("changed state: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn describe_names_the_signal_by_number_and_name() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            describe(&WaitStatus::Signaled(pid, Signal::SIGPIPE, false)),
            "was killed by signal 13 (SIGPIPE)"
        );
        assert_eq!(
            describe(&WaitStatus::Exited(pid, 3)),
            "exited with status 3"
        );
    }
}
