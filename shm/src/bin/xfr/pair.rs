//! What xfr_writer and xfr_reader share: joining the pair (the segment, the semaphore set, each
//! side's claim on its role) and what a side knows of its peer while it waits for its turn.
//! The turns themselves, P and V, are in each side's own loop.
//!
//! The set has four semaphores. 0 and 1 are the turns (the writer's, the reader's). 2 and 3 are
//! the claims of the writer and of the reader: 1 while free, 0 while a live process holds it.
//! A side takes its claim with `SEM_UNDO`, so the kernel gives it back when that process exits,
//! however it exits: a claim at 0 is a live peer, and a claim back at 1 a peer that is gone.

use std::time::Duration;

use nix::errno::Errno;
use semaphore::{SemOp, SemaphoreSet, open_initialised, semget};
use shm::{Error, NamedKey, Segment, Stat, shmget};
use support::cli::Failure;
use support::stop::{Stop, Stopped};

/// The length word before the buffer.
pub const HEADER: usize = 4;
/// The writer's turn (semaphore 0) and the reader's (semaphore 1).
pub const WRITER_TURN: u16 = 0;
/// See [`WRITER_TURN`].
pub const READER_TURN: u16 = 1;
/// How long one wait for a turn lasts before it looks whether the peer is still there.
pub const LIVENESS: Duration = Duration::from_millis(100);
/// xfr's own project id for ftok: `pv` and the other semaphore examples use the course notes'
/// 'a' with the same ./file, and a pair must never take their set for its own.
pub const PROJ: &str = "x";
/// The set as its creator makes it: the writer's turn, and both claims free.
const START: [u16; 4] = [1, 0, 1, 1];
/// How long the side that opens the segment waits for its creator to make the set.
const SET_WAIT: Duration = Duration::from_secs(1);

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

/// Joins the pair as `me`, whichever side comes first. Returns the segment, the set, and
/// whether this side created them. Until the claim is taken, a step that fails removes only
/// what this side created (the handles that created them do, when dropped): a foreign set or
/// another process's claim is refused and left as it was.
// ANCHOR: join
pub fn join(
    me: Role,
    key: NamedKey,
    size: usize,
    accept_foreign: bool,
    stop: &Stop,
) -> Result<(Segment, SemaphoreSet, bool), Stopped> {
    // shmget: the first side creates the segment; the other opens the one it made.
    let new = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
    let (segment, first) = match shmget(key.clone(), size, new) {
        Ok(segment) => (segment, true),
        Err(err) if err.errno() == Some(Errno::EEXIST) => (shmget(key.clone(), 0, 0)?, false),
        Err(err) => return Err(err.into()),
    };
    if first {
        me.say(format!("created {segment}, {size} bytes, mode 0600"));
    } else {
        if let Some(warning) = segment.check_owner(accept_foreign)? {
            me.say(warning);
        }
        // shmctl(IPC_STAT): who made it, who is attached, how big it is.
        check_opened(me, &segment, &segment.shmctl_stat()?, &key)?;
    }
    // semget: the segment's creator creates the set too, and semctl(SETALL) sets it. The
    // other side waits until the set's first semop (the creator's claim, below) says so.
    let set = if first {
        let set = semget(key.clone(), START.len() as u16, new).map_err(|e| foreign(e, &key))?;
        set.semctl_setall(&START)?;
        set
    } else {
        open_set(key, stop)? // semget(key, 0, 0) once the set is ready; then its shape
    };
    // semop: this side's claim, P with IPC_NOWAIT and SEM_UNDO. Taken already: another live
    // process has this role.
    if let Err(err) = set.semop(&[SemOp::p(me.claim(), 1).nowait().undo()]) {
        return Err(claim_refused(me, err, &set));
    }
    // From here on, the writer removes both at the end; either side, on any other way out.
    Ok((segment.leave_in_kernel(), set.leave_in_kernel(), first))
}
// ANCHOR_END: join

/// Refuses a segment that is not a live pair's: left by a killed run (nobody attached, its
/// creator gone), or with no room for a buffer. Else says what it holds.
fn check_opened(me: Role, segment: &Segment, stat: &Stat, key: &NamedKey) -> Result<(), Stopped> {
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
    Ok(())
}

/// The creator's `semget` with `IPC_EXCL` found a set at the key: something else made it (`pv`,
/// a killed run), and it is refused, never used.
fn foreign(err: Error, key: &NamedKey) -> Failure {
    if err.errno() != Some(Errno::EEXIST) {
        return Failure::from(err);
    }
    Failure::new(format!(
        "{key} already has a semaphore set that this pair did not make (pv's, or one a killed \
         run left); it was left alone: `ipcrm -S {}` removes it, or choose another key with \
         --proj",
        key.key()
    ))
}

/// The set of the side that came second: `semget(key, 0, 0)`, again while the creator has not
/// made it yet, and then until its first `semop` (`sem_otime != 0`, see `open_initialised`);
/// then its shape, which must be a pair's.
fn open_set(key: NamedKey, stop: &Stop) -> Result<SemaphoreSet, Stopped> {
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

/// The claim's `semop` failed. EAGAIN: another process holds this role, and is named.
fn claim_refused(me: Role, err: Error, set: &SemaphoreSet) -> Stopped {
    if err.errno() != Some(Errno::EAGAIN) {
        return Failure::from(err).into();
    }
    let holder = set.semctl_getpid(me.claim()).unwrap_or(0);
    let role = match me {
        Role::Writer => "writer",
        Role::Reader => "reader",
    };
    Failure::new(format!(
        "another {} (pid {holder}) is already using {set}: a pair has one {role}; this one \
         changed nothing",
        me.name()
    ))
    .into()
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

    // ANCHOR: after_timeout
    /// Why a wait for `turn` ended without it. A stop signal or an error ends the transfer. A
    /// timeout: the peer's claim says whether it is alive (0), has not come yet, or has exited
    /// (back to 1, by the kernel's undo). One that exited may have given the turn first (its
    /// last V): then the turn is there, and the next wait takes it at once.
    pub fn after_timeout(
        &mut self,
        ended: Stopped<Error>,
        set: &SemaphoreSet,
        turn: u16,
    ) -> Result<(), Stopped> {
        match ended {
            Stopped::Failed(err) if err.errno() == Some(Errno::EAGAIN) => {}
            Stopped::Failed(err) => return Err(self.stopped(err)),
            signal => return Err(signal.into()),
        }
        let came = match self.check_still_there(set) {
            Ok(came) => came,
            Err(_) if set.semctl_getval(turn).is_ok_and(|value| value > 0) => return Ok(()),
            Err(gone) => return Err(gone),
        };
        if !came && !self.said_waiting {
            let peer = self.me.other().name();
            self.me.say(format!("waiting for {peer}"));
            self.said_waiting = true;
        }
        Ok(())
    }
    // ANCHOR_END: after_timeout

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

    /// A `semop` on the set failed. EIDRM or EINVAL: the peer stopped (a signal, an error) and
    /// removed the objects.
    pub fn stopped(&self, err: Error) -> Stopped {
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
