//! What xfr_writer and xfr_reader share: the segment's layout, the semaphore set, each side's
//! claim on its role, and the wait for a turn that notices a peer that died.
//!
//! The set has four semaphores. 0 and 1 are the turns (the writer's, the reader's). 2 and 3 are
//! the claims of the writer and of the reader: 1 while free, 0 while a live process holds it.
//! A side takes its claim with `SEM_UNDO`, so the kernel gives it back when that process exits,
//! however it exits: a claim at 0 is a live peer, and a claim back at 1 a peer that is gone.

use std::time::Duration;

use nix::errno::Errno;
use semaphore::{SemOp, SemaphoreSet, create, open_initialised};
use shm::{Error, NamedKey, Segment, shmget};
use support::cli::Failure;
use support::stop::{Stop, Stopped};

/// The length word before the buffer.
pub const HEADER: usize = 4;
/// The writer's turn (semaphore 0) and the reader's (semaphore 1).
pub const WRITER_TURN: u16 = 0;
/// See [`WRITER_TURN`].
pub const READER_TURN: u16 = 1;
/// The set as its creator makes it: the writer's turn, and both claims free.
const START: [u16; 4] = [1, 0, 1, 1];
/// How long the side that opens the segment waits for its creator to make the set.
const SET_WAIT: Duration = Duration::from_secs(1);
/// How long a wait lasts before it looks whether the peer is still there.
const LIVENESS: Duration = Duration::from_millis(100);
/// xfr's own project id for ftok: `pv` and the other semaphore examples use the course notes'
/// 'a' with the same ./file, and a pair must never take their set for its own.
pub const PROJ: &str = "x";

/// Which side of the pair this process is.
#[derive(Clone, Copy, PartialEq)]
pub enum Role {
    /// xfr_writer.
    Writer,
    /// xfr_reader.
    Reader,
}

impl Role {
    /// The program's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Writer => "xfr_writer",
            Role::Reader => "xfr_reader",
        }
    }

    fn other(self) -> Role {
        match self {
            Role::Writer => Role::Reader,
            Role::Reader => Role::Writer,
        }
    }

    /// The semaphore of this role's claim.
    fn claim(self) -> u16 {
        match self {
            Role::Writer => 2,
            Role::Reader => 3,
        }
    }

    /// One line of narration on stderr (stdout may be the data).
    pub fn say(self, what: impl std::fmt::Display) {
        use std::io::Write;
        // One write per line: xfr_writer and xfr_reader often share a terminal.
        let line = format!("{}: {what}\n", self.name());
        if let Err(err) = std::io::stderr().write_all(line.as_bytes()) {
            // A closed terminal stops us as its SIGHUP would; any other loss is no reason to.
            support::cli::hang_up_if_terminal_closed(&err);
        }
    }
}

/// `shmget`: creates the segment (0600) if this side is first, else opens the peer's, which
/// must have room for a buffer and a creator still alive (or a peer attached).
fn open_segment(
    me: Role,
    key: NamedKey,
    size: usize,
    accept_foreign: bool,
) -> Result<(Segment, bool), Stopped> {
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let segment = match shmget(key.clone(), size, flags) {
        Ok(segment) => {
            me.say(format!("created {segment}, {size} bytes, mode 0600"));
            return Ok((segment.leave_in_kernel(), true)); // removed by hand: `remove_both`
        }
        Err(err) if err.errno() == Some(Errno::EEXIST) => shmget(key.clone(), 0, 0),
        Err(err) => Err(err),
    };
    let segment = segment?;
    if let Some(warning) = segment.check_owner(accept_foreign)? {
        me.say(warning);
    }
    let stat = segment.shmctl_stat()?;
    let creator_gone = support::has_ended(nix::unistd::Pid::from_raw(stat.cpid));
    if stat.nattch == 0 && creator_gone {
        let k = key.key();
        return Err(Failure::new(format!(
            "{segment} was left by a run that was killed (its creator, pid {}, is gone); it was \
             left alone: `ipcrm -M {k} -S {k}` removes it and its semaphore set",
            stat.cpid
        ))
        .into());
    }
    if stat.size <= HEADER {
        let why = format!(
            "{segment} has {} bytes, no room for a buffer: not an xfr segment; it was left alone",
            stat.size
        );
        return Err(Failure::new(why).into());
    }
    me.say(format!(
        "opened {segment}, made by {}: a buffer of {} bytes",
        me.other().name(),
        stat.size - HEADER
    ));
    Ok((segment, false))
}

/// The pair's semaphore set. The side that created the segment creates the set too, with
/// `IPC_EXCL`: a set already at the key was made by something else (`pv`, a killed run) and is
/// refused, never used. The other side opens it and checks its shape.
fn open_set(key: NamedKey, first: bool, stop: &Stop) -> Result<SemaphoreSet, Stopped> {
    if first {
        return match create(key.clone(), &START) {
            Ok(set) => Ok(set.leave_in_kernel()), // removed by hand: see `remove_both`
            Err(err) if err.errno() == Some(Errno::EEXIST) => Err(Failure::new(format!(
                "{key} already has a semaphore set that this pair did not make (pv's, or one a \
                 killed run left); it was left alone: `ipcrm -S {}` removes it, or choose another \
                 key with --proj",
                key.key()
            ))
            .into()),
            Err(err) => Err(Failure::from(err).into()),
        };
    }
    // The creator makes the segment, then the set: a moment may pass between the two.
    let started = std::time::Instant::now();
    let set = loop {
        match open_initialised(key.clone(), stop) {
            Err(Stopped::Failed(err))
                if err.errno() == Some(Errno::ENOENT) && started.elapsed() < SET_WAIT =>
            {
                stop.check()?;
                // No event says "the set exists": look again, briefly, for at most SET_WAIT.
                std::thread::sleep(Duration::from_millis(1));
            }
            opened => break opened?.0,
        }
    };
    let set = set.leave_in_kernel();
    let values = set.semctl_getall()?;
    let turns_ok = values.len() == START.len() && values[0] + values[1] <= 1;
    if !turns_ok || values.iter().any(|&value| value > 1) {
        return Err(Failure::new(format!(
            "{set} is not an xfr pair's set ({} semaphores, values {values:?}; a pair's has 4, \
             each 0 or 1); it was left alone",
            values.len()
        ))
        .into());
    }
    Ok(set)
}

/// Takes this side's claim: `semop` P on its semaphore with `IPC_NOWAIT` and `SEM_UNDO`. Taken
/// already means another live process of this role: refused, and nothing is changed.
fn claim(me: Role, set: &SemaphoreSet) -> Result<(), Stopped> {
    match set.semop(&[SemOp::p(me.claim(), 1).nowait().undo()]) {
        Ok(()) => Ok(()),
        Err(err) if err.errno() == Some(Errno::EAGAIN) => {
            let holder = set.semctl_getpid(me.claim()).unwrap_or(0);
            Err(Failure::new(format!(
                "another {} (pid {holder}) is already using {set}: a pair has one {}; this one \
                 changed nothing",
                me.name(),
                match me {
                    Role::Writer => "writer",
                    Role::Reader => "reader",
                }
            ))
            .into())
        }
        Err(err) => Err(Failure::from(err).into()),
    }
}

/// Joins the pair as `me`: the segment ([`open_segment`]), the set ([`open_set`]) and this
/// side's claim ([`claim`]). Returns them and whether this side created them. When it cannot
/// join, it removes only what it created itself: a foreign set, or another process's claim,
/// is refused and left as it was.
pub fn join(
    me: Role,
    key: NamedKey,
    size: usize,
    accept_foreign: bool,
    stop: &Stop,
) -> Result<(Segment, SemaphoreSet, bool), Stopped> {
    let (segment, first) = open_segment(me, key.clone(), size, accept_foreign)?;
    let set = match open_set(key, first, stop) {
        Ok(set) => set,
        Err(err) => {
            if first {
                let _ = segment.mark_for_removal();
            }
            return Err(err);
        }
    };
    if let Err(err) = claim(me, &set) {
        if first {
            remove_both(&set, &segment);
        }
        return Err(err);
    }
    Ok((segment, set, first))
}

/// Removes the semaphore set first (a peer waiting in semop wakes with EIDRM at once), then
/// the segment (it goes when the peer detaches). Either may be gone already.
pub fn remove_both(set: &SemaphoreSet, segment: &Segment) {
    let _ = SemaphoreSet::from_id(set.id()).semctl_rmid();
    let _ = segment.mark_for_removal();
}

/// What this side knows of the other one.
pub struct Peer {
    me: Role,
    said_waiting: bool,
}

impl Peer {
    /// The other side of `me`.
    pub fn of(me: Role) -> Peer {
        Peer {
            me,
            said_waiting: false,
        }
    }

    // ANCHOR: take_turn
    /// P on `turn`, in waits of [`LIVENESS`]; between them, the peer's claim says whether it
    /// is alive (0), has not come yet, or has exited (back to 1, by the kernel's undo).
    pub fn take_turn(&mut self, set: &SemaphoreSet, turn: u16, stop: &Stop) -> Result<(), Stopped> {
        let peer = self.me.other();
        loop {
            let err = match stop.retry(|| set.semtimedop(&[SemOp::p(turn, 1)], LIVENESS)) {
                Ok(()) => return Ok(()),
                Err(Stopped::Failed(err)) => err,
                Err(signal) => return Err(signal.into()),
            };
            if err.errno() != Some(Errno::EAGAIN) {
                return Err(self.stopped(err));
            }
            let came = match self.check_still_there(set) {
                Ok(came) => came,
                // Done after its last V (then the P below succeeds), or killed.
                Err(_) if set.semop(&[SemOp::p(turn, 1).nowait()]).is_ok() => return Ok(()),
                Err(gone) => return Err(gone),
            };
            if !came && !self.said_waiting {
                self.me.say(format!("waiting for {}", peer.name()));
                self.said_waiting = true;
            }
        }
    }
    // ANCHOR_END: take_turn

    /// Fails when the peer came and has gone (its claim is free again, by the kernel's undo at
    /// its exit) while this side has not finished: between two turns, that is a peer killed.
    /// Else says whether it has come (true: it holds its claim) or not yet (false).
    pub fn check_still_there(&self, set: &SemaphoreSet) -> Result<bool, Stopped> {
        let (held, last) = self.claim_of(set)?;
        if held || last == 0 || last == std::process::id() as i32 {
            return Ok(held);
        }
        Err(Failure::new(format!(
            "{} (pid {last}) is gone before the end of the transfer: it was killed. Removed the \
             segment and the set",
            self.me.other().name()
        ))
        .into())
    }

    /// Whether the peer's claim is held, and the pid of the last process that changed it
    /// (`semctl` `GETVAL` and `GETPID`).
    fn claim_of(&self, set: &SemaphoreSet) -> Result<(bool, i32), Stopped> {
        let claim = self.me.other().claim();
        let value = set.semctl_getval(claim).map_err(|err| self.stopped(err))?;
        let last = set.semctl_getpid(claim).map_err(|err| self.stopped(err))?;
        Ok((value == 0, last))
    }

    /// V on `turn`.
    pub fn give_turn(&self, set: &SemaphoreSet, turn: u16) -> Result<(), Stopped> {
        set.semop(&[SemOp::v(turn, 1)])
            .map_err(|err| self.stopped(err))
    }

    /// EIDRM or EINVAL: the peer stopped (a signal, an error) and removed the objects.
    fn stopped(&self, err: Error) -> Stopped {
        match err.errno() {
            Some(Errno::EIDRM | Errno::EINVAL) => Failure::new(format!(
                "{} stopped and removed the objects: {err}",
                self.me.other().name()
            ))
            .into(),
            _ => Failure::from(err).into(),
        }
    }
}
