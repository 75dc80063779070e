//! The measurements: ping-pong round trips, streaming throughput, `memcpy` bandwidth, the
//! busy-CPU control, and where the two processes run. Each returns one round's figure; the run
//! (`main.rs`) repeats them.

use std::hint::black_box;
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::signal::{SigEvent, SigevNotify, Signal};
use nix::sys::time::TimeSpec;
use nix::sys::timer::{Expiration, Timer, TimerSetTimeFlags};
use nix::sys::wait::WaitStatus;
use nix::time::ClockId;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use support::cli::{Context, Failure};
use support::stop::{Stop, Stopped};
use support::{Forked, fork, run_child};

use crate::SharedRegion;
use crate::mechanism::{Buffer, Mechanism};
use crate::stats::Percentiles;
use crate::transport::{self, Endpoint, Link, Scratch, Side, Watch};

/// Where the two processes of a measurement run.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Both pinned to one CPU: every hand-over is a context switch.
    SameCpu,
    /// Pinned to two different CPUs: every hand-over crosses between CPUs.
    OtherCpu,
    /// Wherever the scheduler puts them.
    Unpinned,
}

impl Placement {
    /// All three, in table order.
    pub const ALL: [Placement; 3] = [Placement::SameCpu, Placement::OtherCpu, Placement::Unpinned];

    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Placement::SameCpu => "same CPU",
            Placement::OtherCpu => "other CPU",
            Placement::Unpinned => "unpinned",
        }
    }
}

/// The CPUs this process may use, and the two it pins to.
pub struct Cpus {
    allowed: CpuSet,
    /// The parent's CPU (and the child's, for `same-cpu`).
    pub first: usize,
    /// The child's CPU for `other-cpu`, on another core than `first` where there is one;
    /// `None` with a single CPU.
    pub second: Option<usize>,
    /// Whether `second` is a hyper-thread of `first`'s core (no other core was allowed).
    pub second_shares_a_core: bool,
}

/// The CPUs that share `cpu`'s core (hyper-threads), from
/// /sys/devices/system/cpu/cpuN/topology/thread_siblings_list (`0-1`, `0,4`); just `cpu` if
/// the file cannot be read.
fn core_siblings(cpu: usize) -> Vec<usize> {
    let path = format!("/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list");
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![cpu];
    };
    let mut siblings = Vec::new();
    for part in text.trim().split(',') {
        let bounds: Vec<usize> = part.split('-').filter_map(|n| n.parse().ok()).collect();
        match bounds[..] {
            [one] => siblings.push(one),
            [low, high] => siblings.extend(low..=high),
            _ => {}
        }
    }
    siblings
}

impl Cpus {
    /// Reads this process's CPU affinity (`sched_getaffinity`).
    pub fn of_this_process() -> Result<Cpus, Failure> {
        let allowed = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
        let usable: Vec<usize> = (0..CpuSet::count())
            .filter(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .collect();
        let first = *usable
            .first()
            .ok_or_else(|| Failure::new("sched_getaffinity: no CPU allowed"))?;
        let siblings = core_siblings(first);
        let others = || usable.iter().copied().filter(|&cpu| cpu != first);
        let other_core = others().find(|cpu| !siblings.contains(cpu));
        let second = other_core.or_else(|| others().next());
        Ok(Cpus {
            allowed,
            first,
            second,
            second_shares_a_core: second.is_some() && other_core.is_none(),
        })
    }

    /// The CPU `side` runs on in `placement`; `None` when unpinned.
    pub fn cpu_for(&self, placement: Placement, side: Side) -> Result<Option<usize>, Failure> {
        Ok(match (placement, side) {
            (Placement::Unpinned, _) => None,
            (Placement::OtherCpu, Side::Child) => Some(
                self.second
                    .ok_or_else(|| Failure::new("other-cpu needs two CPUs"))?,
            ),
            _ => Some(self.first),
        })
    }

    /// Pins the calling process for `placement`, on `side` (`sched_setaffinity`).
    pub fn pin(&self, placement: Placement, side: Side) -> Result<(), Failure> {
        match self.cpu_for(placement, side)? {
            Some(cpu) => self.pin_to(cpu),
            None => self.unpin(),
        }
    }

    /// Pins the calling process to `cpu`.
    pub fn pin_to(&self, cpu: usize) -> Result<(), Failure> {
        let mut one = CpuSet::new();
        one.set(cpu).context("CpuSet::set")?;
        sched_setaffinity(Pid::from_raw(0), &one).context(format!("sched_setaffinity CPU {cpu}"))
    }

    /// Lets the calling process run on every CPU it was allowed at the start.
    pub fn unpin(&self) -> Result<(), Failure> {
        sched_setaffinity(Pid::from_raw(0), &self.allowed).context("sched_setaffinity")
    }
}

/// What every measurement of a run shares.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// Where the processes run.
    pub cpus: &'a Cpus,
    /// How long each measurement runs.
    pub budget: &'a Budget,
    /// Where FIFOs and mapped files go.
    pub scratch: &'a Scratch,
    /// Ends every measurement when a stop signal comes.
    pub stop: &'a Stop,
}

/// How long each measurement runs.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Budget {
    /// Round trips or messages in this first stretch are not counted: caches, page faults and
    /// CPU frequency settle.
    pub warmup: Duration,
    /// Then the counted stretch lasts this long...
    pub measure: Duration,
    /// ...or this many round trips (or streamed messages), whichever comes first.
    pub max_messages: usize,
}

/// The message a round trip or a stream sends: a fixed pattern with the round's number stamped
/// at both ends, so that a lost, repeated, reordered or truncated message shows.
pub fn message(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i.wrapping_mul(31) + 7) as u8).collect()
}

/// Writes `number` into the first and last 8 bytes of `message` (as far as it has room).
pub fn stamp(message: &mut [u8], number: u64) {
    let bytes = number.to_le_bytes();
    let head = message.len().min(8);
    message[..head].copy_from_slice(&bytes[..head]);
    if message.len() >= 16 {
        let tail = message.len() - 8;
        message[tail..].copy_from_slice(&bytes);
    }
}

/// The number stamped in `message` if both ends carry the same one.
pub fn stamped(message: &[u8]) -> Option<u64> {
    let mut bytes = [0u8; 8];
    let head = message.len().min(8);
    bytes[..head].copy_from_slice(&message[..head]);
    if message.len() >= 16 && message[message.len() - 8..] != bytes {
        return None;
    }
    Some(u64::from_le_bytes(bytes))
}

fn corrupted(what: String) -> Stopped {
    Stopped::Failed(Failure::new(format!("corrupted: {what}")))
}

/// A forked helper process with its end of the link, and the control page both share.
struct Pair {
    child: support::Child,
    control: SharedRegion,
    _peer_check: PeerCheck,
}

/// How often the parent looks whether its helper is still there while it waits.
const PEER_CHECK_EVERY: Duration = Duration::from_millis(200);

/// While a measurement runs, a timer sends SIGALRM every [`PEER_CHECK_EVERY`], which
/// interrupts whatever call the parent is blocked in (`Stop::install` made SIGALRM's action
/// "interrupt, nothing else"). The parent then looks whether the helper has died. SIGCHLD alone
/// is not enough: a helper that dies just before the parent enters `msgrcv` (which has no
/// timeout) would leave it waiting forever. Deleted (`timer_delete`) when dropped.
struct PeerCheck {
    _timer: Timer,
}

impl PeerCheck {
    fn start() -> Result<PeerCheck, Failure> {
        let alarm = SigEvent::new(SigevNotify::SigevSignal {
            signal: Signal::SIGALRM,
            si_value: 0,
        });
        let mut timer = Timer::new(ClockId::CLOCK_MONOTONIC, alarm).context("timer_create")?;
        let every = Expiration::Interval(TimeSpec::from_duration(PEER_CHECK_EVERY));
        timer
            .set(every, TimerSetTimeFlags::empty())
            .context("timer_settime")?;
        Ok(PeerCheck { _timer: timer })
    }
}

/// The control page's word 0: set when the parent has measured enough.
const DONE: usize = 0;
/// The control page's word at 64: how many of the helper's waits stalled (see
/// [`transport::stalled_waits`]).
const HELPER_STALLS: usize = 64;

/// Forks the helper for one measurement: it pins itself, takes its end of `link`, runs `body`
/// and exits with its status (the error, if any, said on stderr first). The parent pins
/// itself too, and returns the helper and its own end.
fn start_helper(
    link: Link,
    cpus: &Cpus,
    placement: Placement,
    stop: &Stop,
    body: fn(
        &mut dyn crate::transport::Endpoint,
        usize,
        &SharedRegion,
        &Watch,
    ) -> Result<(), Stopped>,
    size: usize,
) -> Result<(Pair, Box<dyn crate::transport::Endpoint>), Stopped> {
    let control = SharedRegion::anonymous(4096).context("mmap MAP_SHARED|MAP_ANONYMOUS")?;
    cpus.pin(placement, Side::Parent)?;
    match fork()? {
        Forked::Child => run_child(|| {
            // The link holds the parent's queue and semaphore handles, whose destructors remove
            // them: the child never drops it (its end, from `into_end`, owns nothing), and
            // ends with `_exit`.
            let link = ManuallyDrop::new(link);
            let watch = Watch { stop, peer: None };
            let work = || -> Result<(), Stopped> {
                cpus.pin(placement, Side::Child)?;
                let link = ManuallyDrop::into_inner(link);
                let mut end = link.into_end(Side::Child, &watch)?;
                let done = body(end.as_mut(), size, &control, &watch);
                control
                    .word64(HELPER_STALLS)
                    .store(transport::stalled_waits(), Ordering::Release);
                done
            };
            match work() {
                Ok(()) => 0,
                Err(Stopped::Signal(signal)) => i32::from(support::stop::exit_status_for(signal)),
                Err(Stopped::Failed(failure)) => {
                    support::cli::report_error(format!("the helper process: {failure}"));
                    1
                }
            }
        }),
        Forked::Parent(child) => {
            let watch = Watch {
                stop,
                peer: Some(child.pid()),
            };
            let peer_check = PeerCheck::start()?;
            let end = link.into_end(Side::Parent, &watch)?;
            Ok((
                Pair {
                    child,
                    control,
                    _peer_check: peer_check,
                },
                end,
            ))
        }
    }
}

impl Pair {
    /// Tells the helper to finish, and waits for it to exit with status 0.
    /// Waits for the helper to exit with status 0, and returns how many of its waits stalled.
    fn finish(mut self, stop: &Stop) -> Result<u64, Stopped> {
        let status = self.child.waitpid(stop)?;
        match status {
            WaitStatus::Exited(_, 0) => {
                Ok(self.control.word64(HELPER_STALLS).load(Ordering::Acquire))
            }
            other => Err(Stopped::Failed(Failure::new(format!(
                "the helper process {}",
                support::describe(&other)
            )))),
        }
    }

    fn done(&self) -> bool {
        self.control.word(DONE).load(Ordering::Acquire) != 0
    }

    fn say_done(&self) {
        self.control.word(DONE).store(1, Ordering::Release);
    }
}

/// The helper's side of a round trip: sends back every message it gets, until told to stop.
fn answer(
    end: &mut dyn crate::transport::Endpoint,
    size: usize,
    control: &SharedRegion,
    watch: &Watch,
) -> Result<(), Stopped> {
    let mut buffer = vec![0u8; size];
    while end.recv(&mut buffer, watch)? {
        if control.word(DONE).load(Ordering::Acquire) != 0 {
            break;
        }
        // The answer carries the next number: a parent that read its own message back (two
        // ends crossed) would see the wrong one.
        if let Some(number) = stamped(&buffer) {
            stamp(&mut buffer, number.wrapping_add(1));
        }
        end.send(&buffer, watch)?;
    }
    Ok(())
}

/// One round's round trips.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// The round-trip times.
    pub times: Percentiles,
    /// Voluntary context switches of both processes (their sleeps) while the round trips were
    /// counted; `None` where /proc could not be read.
    pub ctxt_switches: Option<u64>,
    /// Waits that stalled (should be 0; see [`transport::stalled_waits`]).
    pub stalled_waits: u64,
}

/// Times round trips of `size`-byte messages over `mechanism`: the parent sends, the helper
/// sends the same bytes back, and the parent checks every byte of the answer.
pub fn round_trips(
    mechanism: Mechanism,
    size: usize,
    placement: Placement,
    setup: &Setup,
) -> Result<Timed, Stopped> {
    let Setup {
        cpus,
        budget,
        scratch,
        stop,
    } = *setup;
    let stalls_before = transport::stalled_waits();
    let link = Link::new(mechanism, size, None, scratch)?;
    let (pair, mut end) = start_helper(link, cpus, placement, stop, answer, size)?;
    let watch = Watch {
        stop,
        peer: Some(pair.child.pid()),
    };
    let mut exchange = || -> Result<(Vec<u64>, Option<u64>), Stopped> {
        let timed = time_round_trips(end.as_mut(), size, budget, &watch)?;
        pair.say_done();
        end.send(&vec![0u8; size], &watch)?; // wakes the helper, which sees it is done
        Ok(timed)
    };
    let (mut samples, ctxt_switches) = exchange().map_err(|failed| watch.cause_of(failed))?;
    let helper_stalls = pair.finish(stop)?;
    drop(end);
    cpus.unpin()?;
    let times = Percentiles::of(&mut samples)
        .ok_or_else(|| Stopped::Failed(Failure::new("no round trip was timed")))?;
    Ok(Timed {
        times,
        ctxt_switches,
        stalled_waits: helper_stalls + transport::stalled_waits() - stalls_before,
    })
}

/// The voluntary context switches of this process and of `peer` so far: how often each went
/// to sleep (`voluntary_ctxt_switches` in /proc/PID/status). `None` if either cannot be read.
pub fn voluntary_switches(peer: Option<Pid>) -> Option<u64> {
    let read = |pid: &str| -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))?
            .trim()
            .parse()
            .ok()
    };
    let ours = read("self")?;
    match peer {
        Some(pid) => Some(ours + read(&pid.to_string())?),
        None => Some(ours),
    }
}

/// The context switches between two readings of [`voluntary_switches`].
fn switches_between(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

/// The voluntary context switches of this process and its peer from a start on.
struct Switches {
    peer: Option<Pid>,
    /// The reading at the start, once started (`Some(None)`: /proc could not be read).
    start: Option<Option<u64>>,
}

impl Switches {
    fn of(peer: Option<Pid>) -> Switches {
        Switches { peer, start: None }
    }

    /// Reads the start, the first time only.
    fn start(&mut self) {
        if self.start.is_none() {
            self.start = Some(voluntary_switches(self.peer));
        }
    }

    /// How many since the start.
    fn since_start(&self) -> Option<u64> {
        switches_between(self.start.flatten(), voluntary_switches(self.peer))
    }
}

/// Runs `body` while a `SCHED_IDLE` spinner keeps each CPU of `placement` busy, and ends the
/// spinners afterwards (also when `body` fails or a stop signal came).
///
/// An idle CPU of a virtual machine may be halted by the hypervisor; waking a process there
/// then costs the halt's exit too. A spinner in the idle class never lets its CPU go idle, yet
/// gives way at once to whatever wakes there: the futex round trip measured like this is the
/// wake-up without the wake from idle, and its difference to the futex floor is what the halts
/// cost. Both CPUs are kept busy (not only the helper's): each direction of a round trip wakes
/// the other CPU.
pub fn with_busy_cpus<T>(
    placement: Placement,
    setup: &Setup,
    body: impl FnOnce() -> Result<T, Stopped>,
) -> Result<T, Stopped> {
    let cpus = setup.cpus;
    let mut on: Vec<usize> = [Side::Parent, Side::Child]
        .into_iter()
        .filter_map(|side| cpus.cpu_for(placement, side).transpose())
        .collect::<Result<_, _>>()?;
    on.dedup();
    let mut spinners = Vec::new();
    for cpu in on {
        match fork()? {
            Forked::Child => run_child(|| {
                if cpus.pin_to(cpu).is_err() || crate::sched_idle().is_err() {
                    return 1;
                }
                // Until the parent kills it (a `support::Child` kills and reaps on drop), or
                // the parent dies (PR_SET_PDEATHSIG), or a stop signal comes (the inherited
                // handlers act as the default action in a child): nothing else to watch.
                loop {
                    std::hint::spin_loop();
                }
            }),
            Forked::Parent(child) => spinners.push(child),
        }
    }
    let done = body();
    for mut spinner in spinners {
        match spinner.waitpid_with(Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                spinner.kill_and_reap()?;
            }
            Ok(status) => {
                return Err(Stopped::Failed(Failure::new(format!(
                    "a spinner {} (sched_setaffinity or sched_setscheduler SCHED_IDLE failed)",
                    support::describe(&status)
                ))));
            }
            Err(err) => return Err(Stopped::Failed(err)),
        }
    }
    done
}

/// The parent's side of the round trips: sends `size`-byte messages one at a time, times each
/// round trip, and checks each answer; returns the times (in ns) after the warm-up.
// ANCHOR: round_trip
fn time_round_trips(
    end: &mut dyn Endpoint,
    size: usize,
    budget: &Budget,
    watch: &Watch,
) -> Result<(Vec<u64>, Option<u64>), Stopped> {
    let (mut sent, mut reply) = (message(size), vec![0u8; size]);
    let mut samples = Vec::with_capacity(budget.max_messages.min(1 << 20));
    let counted_from = Instant::now() + budget.warmup;
    let until = counted_from + budget.measure;
    let mut switches = Switches::of(watch.peer);
    let mut round = 0;
    loop {
        watch.stop.check()?; // a round trip that never waits (spinning) sees no EINTR
        if samples.is_empty() && Instant::now() >= counted_from {
            switches.start(); // between two round trips, as counting starts
        }
        stamp(&mut sent, round);
        let before = Instant::now();
        end.send(&sent, watch)?;
        if !end.recv(&mut reply, watch)? {
            return Err(corrupted("the helper ended the exchange".into()));
        }
        let after = Instant::now();
        stamp(&mut sent, round + 1); // the helper answers with the next number
        if reply != sent {
            return Err(corrupted(format!("round trip {round} came back different")));
        }
        if before >= counted_from {
            samples.push((after - before).as_nanos() as u64);
        }
        // At least one counted, even one that overran the counted stretch (a loaded machine).
        if (after >= until && !samples.is_empty()) || samples.len() >= budget.max_messages {
            return Ok((samples, switches.since_start()));
        }
        round += 1;
    }
}
// ANCHOR_END: round_trip

/// The helper's side of a stream: sends numbered messages until told to stop, then ends the
/// stream.
fn produce(
    end: &mut dyn crate::transport::Endpoint,
    size: usize,
    control: &SharedRegion,
    watch: &Watch,
) -> Result<(), Stopped> {
    let mut outgoing = message(size);
    let mut number = 0;
    while control.word(DONE).load(Ordering::Acquire) == 0 {
        stamp(&mut outgoing, number);
        end.send(&outgoing, watch)?;
        number += 1;
    }
    end.finish(watch)
}

/// What a stream delivered in its counted stretch.
#[derive(Debug, Clone, Copy)]
pub struct Streamed {
    /// Messages counted.
    pub messages: u64,
    /// How long they took.
    pub seconds: f64,
    /// Waits that stalled (should be 0; see [`transport::stalled_waits`]).
    pub stalled_waits: u64,
    /// Voluntary context switches of both processes while counted (`None` for `memcpy`).
    pub ctxt_switches: Option<u64>,
    /// The stream's buffer in bytes, as the kernel reports it (see [`Link::buffer_bytes`]).
    pub buffer_bytes: Option<usize>,
}

impl Streamed {
    /// GiB/s for messages of `size` bytes.
    pub fn gib_per_s(&self, size: usize) -> f64 {
        self.messages as f64 * size as f64 / self.seconds / (1u64 << 30) as f64
    }
}

/// Streams `size`-byte messages from the helper to the parent over `mechanism`, with `buffer`.
/// Every message's number is checked; with `every_byte`, every byte too (slower: the figure
/// then measures the check as well; not for the transfer floor, whose bytes are not the
/// message's).
pub fn stream(
    mechanism: Mechanism,
    size: usize,
    placement: Placement,
    buffer: Option<Buffer>,
    every_byte: bool,
    setup: &Setup,
) -> Result<Streamed, Stopped> {
    let Setup {
        cpus,
        budget,
        scratch,
        stop,
    } = *setup;
    let every_byte = every_byte && mechanism != Mechanism::Transfer;
    let stalls_before = transport::stalled_waits();
    let link = Link::new(mechanism, size, buffer, scratch)?;
    let buffer_bytes = link.buffer_bytes();
    let (pair, mut end) = start_helper(link, cpus, placement, stop, produce, size)?;
    let watch = Watch {
        stop,
        peer: Some(pair.child.pid()),
    };
    let mut expected = message(size);
    let mut incoming = vec![0u8; size];
    let mut next: u64 = 0;
    let mut check = |incoming: &[u8], next: &mut u64| -> Result<(), Stopped> {
        if every_byte {
            stamp(&mut expected, *next);
            if incoming != expected.as_slice() {
                return Err(corrupted(format!("message {next} arrived different")));
            }
        } else if stamped(incoming) != Some(*next) {
            return Err(corrupted(format!(
                "expected message {next}, got {:?}",
                stamped(incoming)
            )));
        }
        *next += 1;
        Ok(())
    };
    let started = Instant::now();
    let (counted_from, until) = (
        started + budget.warmup,
        started + budget.warmup + budget.measure,
    );
    let mut window: Option<(Instant, u64)> = None;
    let mut switches_before = None;
    let mut exchange = || -> Result<(Duration, u64, Option<u64>), Stopped> {
        let (ended, counted, switches) = loop {
            stop.check()?; // a busy stream may never wait, and never see EINTR
            if !end.recv(&mut incoming, &watch)? {
                return Err(corrupted("the stream ended early".into()));
            }
            check(&incoming, &mut next)?;
            let now = Instant::now();
            match window {
                None if now >= counted_from => {
                    switches_before = voluntary_switches(watch.peer);
                    window = Some((Instant::now(), next));
                }
                // At least one message counted, however late it came.
                Some((from, first))
                    if (now >= until && next > first)
                        || next - first >= budget.max_messages as u64 =>
                {
                    let switches = voluntary_switches(watch.peer);
                    break (
                        now - from,
                        next - first,
                        switches_between(switches_before, switches),
                    );
                }
                _ => {}
            }
        };
        pair.say_done();
        while end.recv(&mut incoming, &watch)? {
            check(&incoming, &mut next)?;
        }
        Ok((ended, counted, switches))
    };
    let (ended, counted, ctxt_switches) = exchange().map_err(|failed| watch.cause_of(failed))?;
    debug_assert!(pair.done());
    let helper_stalls = pair.finish(stop)?;
    drop(end);
    cpus.unpin()?;
    Ok(Streamed {
        messages: counted,
        seconds: ended.as_secs_f64().max(1e-9),
        stalled_waits: helper_stalls + transport::stalled_waits() - stalls_before,
        ctxt_switches,
        buffer_bytes,
    })
}

/// `memcpy` bandwidth for `size`-byte copies in one process pinned to one CPU, with the same
/// warm-up and duration as the other measurements.
pub fn memcpy(size: usize, setup: &Setup) -> Result<Streamed, Stopped> {
    let Setup {
        cpus, budget, stop, ..
    } = *setup;
    cpus.pin(Placement::SameCpu, Side::Parent)?;
    let source = message(size);
    let mut target = vec![0u8; size];
    // Look at the clock every 64 KiB or so: a clock read per tiny copy would be measured too.
    let batch = (64 * 1024 / size.max(1)).max(1) as u64;
    let started = Instant::now();
    let (counted_from, until) = (
        started + budget.warmup,
        started + budget.warmup + budget.measure,
    );
    let mut copies: u64 = 0;
    let mut window: Option<(Instant, u64)> = None;
    let (ended, counted) = loop {
        for _ in 0..batch {
            target.copy_from_slice(black_box(&source));
            black_box(&mut target);
        }
        copies += batch;
        let now = Instant::now();
        match window {
            None if now >= counted_from => window = Some((now, copies)),
            Some((from, first)) if now >= until => break (now - from, copies - first),
            _ => stop.check()?,
        }
    };
    if target != source {
        return Err(corrupted("memcpy copied wrong bytes".into()));
    }
    cpus.unpin()?;
    Ok(Streamed {
        messages: counted,
        seconds: ended.as_secs_f64().max(1e-9),
        stalled_waits: 0,
        ctxt_switches: None,
        buffer_bytes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back() {
        for size in [0, 1, 7, 8, 15, 16, 1000] {
            let mut bytes = message(size);
            stamp(&mut bytes, 0x0102_0304_0506_0708);
            let expected = if size >= 8 {
                0x0102_0304_0506_0708
            } else {
                let mut raw = [0u8; 8];
                raw[..size].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes()[..size]);
                u64::from_le_bytes(raw)
            };
            assert_eq!(stamped(&bytes), Some(expected), "size {size}");
        }
    }

    #[test]
    fn a_torn_message_has_no_stamp() {
        let mut bytes = message(64);
        stamp(&mut bytes, 5);
        bytes[60] ^= 1;
        assert_eq!(stamped(&bytes), None);
    }
}
