//! The process-states lab: read a process's state from `/proc`, and put a child of ours into
//! the state we ask for.
//!
//! [`state_of`] and [`drive_to`] are the student's work. The [`Puppet`] they drive is given: a
//! forked child that obeys one-byte orders sent down a pipe (block, spin, exit). The
//! `lab_process_states` binary runs both from the command line. The book's page for this lab is
//! `book/src/labs/process-states.md`.

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;

use nix::unistd::Pid;
use support::Child;
use support::cli::{Context, Failure};

/// The state letter of process `pid`, as the kernel shows it in field 3 of `/proc/<pid>/stat`
/// (see proc_pid_stat(5)): `R` running or runnable, `S` sleeping, `D` uninterruptible sleep,
/// `T` stopped, `t` stopped by a debugger, `Z` zombie, `X` dead, `I` idle kernel thread.
///
/// Field 2, the command name, is written between parentheses and may itself hold spaces and
/// parentheses (a program can be called `x) R 1 (y`). A process that does not exist (any more)
/// is an error that names the pid. Parse the line yourself: that is the task, so do not call
/// `read_stat` or `parse_stat` of `lib.rs`.
#[allow(unused_variables)] // The handout's `todo!()` does not use `pid` yet.
pub fn state_of(pid: Pid) -> Result<char, Failure> {
    // BEGIN SOLUTION
    let path = format!("/proc/{pid}/stat");
    let bytes = std::fs::read(&path).context(format!("read {path}"))?;
    // The name is any bytes, not necessarily UTF-8; what follows it is ASCII.
    let line = String::from_utf8_lossy(&bytes);
    // The name runs from the first '(' to the LAST ')': nothing after it can hold a ')'.
    let (_, after_name) = line
        .rsplit_once(')')
        .ok_or_else(|| Failure::new(format!("{path}: no ')' after the command name")))?;
    let field = after_name
        .split_whitespace()
        .next()
        .ok_or_else(|| Failure::new(format!("{path}: no state after the command name")))?;
    let mut letters = field.chars();
    match (letters.next(), letters.next()) {
        (Some(letter), None) => Ok(letter),
        _ => Err(Failure::new(format!(
            "{path}: the state {field:?} is not one letter"
        ))),
    }
    // END SOLUTION
}

/// Puts `puppet` into `state`, and returns once `/proc` shows it there:
///
/// - `S` (sleeping): the puppet blocks in `read` on its order pipe;
/// - `R` (running): the puppet spins on the CPU;
/// - `T` (stopped): SIGSTOP, and `waitpid(WUNTRACED)` reports the stop;
/// - `Z` (zombie): the puppet exits, and stays unreaped (`waitid(WEXITED | WNOWAIT)` reports the
///   exit without reaping).
///
/// Any state can be reached from `S`, `R` and `T` (a stopped puppet is continued first, and
/// `waitpid(WCONTINUED)` reports it). Asking for `T` or `Z` when the puppet is there already
/// returns at once. For `S` and `R`, send the order even if `/proc` shows that letter already:
/// a repeated order is harmless, and a puppet about to block can still show `R` for a moment.
/// A zombie cannot go to any other state, and a letter not in the list above is refused: both
/// are errors. `S` and `R` have no event to wait for: read `/proc` about every millisecond, for
/// at most 5 seconds, then give up with an error. The `waitpid` and `waitid` waits have no
/// deadline.
#[allow(unused_variables)] // The handout's `todo!()` does not use them yet.
pub fn drive_to(puppet: &mut Puppet, state: char) -> Result<(), Failure> {
    // BEGIN SOLUTION
    use std::time::{Duration, Instant};

    use nix::sys::signal::{Signal, kill};
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    use support::describe;

    let pid = puppet.pid();
    let now = state_of(pid)?;
    if now == 'Z' {
        return match state {
            'Z' => Ok(()),
            _ => Err(Failure::new(format!(
                "puppet {pid} is a zombie: it cannot go to {state} any more"
            ))),
        };
    }
    let order = match state {
        'S' => Order::Block,
        'R' => Order::Spin,
        'Z' => Order::Exit,
        'T' if now == 'T' => return Ok(()),
        'T' => {
            // A second SIGSTOP to a stopped process changes nothing, and waitpid would wait
            // for a stop that never comes: hence the check above.
            kill(pid, Signal::SIGSTOP).context(format!("kill({pid}, SIGSTOP)"))?;
            return match puppet.child().waitpid_with(Some(WaitPidFlag::WUNTRACED))? {
                WaitStatus::Stopped(..) => Ok(()),
                other => Err(Failure::new(format!(
                    "puppet {pid} {} instead of stopping",
                    describe(&other)
                ))),
            };
        }
        other => {
            return Err(Failure::new(format!(
                "cannot drive a process to state {other:?}: only S, R, T and Z"
            )));
        }
    };
    if now == 'T' {
        // A stopped puppet reads no order: continue it first.
        kill(pid, Signal::SIGCONT).context(format!("kill({pid}, SIGCONT)"))?;
        puppet.child().waitpid_with(Some(WaitPidFlag::WCONTINUED))?;
    }
    puppet.order(order)?;
    if state == 'Z' {
        // Waits for the exit like waitpid, but WNOWAIT leaves the child unreaped: a zombie.
        loop {
            match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(errno) => return Err(errno).context(format!("waitid({pid}, WNOWAIT)")),
                Ok(_) => return Ok(()),
            }
        }
    }
    // No event says "that process now sleeps" or "now spins": sample /proc until it shows.
    let deadline = Duration::from_secs(5);
    let give_up = Instant::now() + deadline;
    loop {
        let seen = state_of(pid)?;
        if seen == state {
            return Ok(());
        }
        if Instant::now() > give_up {
            return Err(Failure::new(format!(
                "puppet {pid} did not reach {state} within {deadline:?} (last seen: {seen})"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // END SOLUTION
}

/// An order to a [`Puppet`], one byte down its pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Block in `read` on the order pipe until the next order (state `S`).
    Block,
    /// Spin on the CPU, checking the pipe for the next order without blocking (state `R`).
    Spin,
    /// Exit with status 0 (state `Z` until the parent reaps it).
    Exit,
}

impl Order {
    fn byte(self) -> u8 {
        match self {
            Order::Block => b's',
            Order::Spin => b'r',
            Order::Exit => b'x',
        }
    }
}

/// A child process that does what it is told: it blocks, spins or exits when an [`Order`] comes
/// down its pipe. Dropping the puppet kills and reaps it (its [`Child`] guard).
pub struct Puppet {
    // Declared first, so dropped first: the puppet reads end-of-file and exits even if the
    // guard's SIGKILL were not needed.
    orders: OwnedFd,
    child: Child,
}

impl Puppet {
    /// Forks the puppet. It starts blocked, waiting for its first order (state `S`).
    pub fn start() -> Result<Puppet, Failure> {
        let support::Pipe {
            read_end,
            write_end,
        } = support::Pipe::new()?;
        match support::fork()? {
            support::Forked::Parent(child) => Ok(Puppet {
                orders: write_end,
                child,
            }),
            support::Forked::Child => {
                // The puppet must not hold the write end: end-of-file would never come.
                drop(write_end);
                support::run_child(|| puppet_main(read_end))
            }
        }
    }

    /// The puppet's process id.
    pub fn pid(&self) -> Pid {
        self.child.pid()
    }

    /// The puppet as a child process, to wait for it or signal it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Ends the puppet and reaps it: its pipe closes (end-of-file ends a puppet that blocks or
    /// spins), and SIGCONT lets a stopped one see it. A zombie is reaped as it is.
    pub fn finish(self) -> Result<nix::sys::wait::WaitStatus, Failure> {
        let Puppet { orders, mut child } = self;
        drop(orders);
        // SIGCONT changes nothing in a process that is not stopped, zombies included.
        let _ = nix::sys::signal::kill(child.pid(), nix::sys::signal::Signal::SIGCONT);
        child.waitpid_with(None)
    }

    /// Sends `order` down the pipe (one `write(2)` of one byte).
    pub fn order(&self, order: Order) -> Result<(), Failure> {
        nix::unistd::write(&self.orders, &[order.byte()])
            .context(format!("write an order to puppet {}", self.pid()))?;
        Ok(())
    }
}

/// The puppet's life: obey orders until `Exit` or end-of-file.
fn puppet_main(orders: OwnedFd) -> i32 {
    let mut spinning = false;
    loop {
        if spinning {
            // poll with a zero timeout never sleeps: the puppet stays runnable (R).
            match crate::readable_now(&orders) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(_) => return 1,
            }
        }
        let mut byte = [0u8];
        match nix::unistd::read(&orders, &mut byte) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
            Ok(0) => return 0,
            Ok(_) => match byte[0] {
                b's' => spinning = false,
                b'r' => spinning = true,
                b'x' => return 0,
                _ => return 2,
            },
        }
    }
}
