//! # Lab: a job queue with priorities
//!
//! Producers and workers, each a process, share one POSIX message queue and one named
//! semaphore. A producer [`submit`]s jobs, each with a priority from 1 to 9; a worker
//! ([`work`]) takes the job of highest priority first (`mq_receive` always hands out the oldest
//! message of the highest priority), does it, and posts the semaphore `done` once for every
//! job it finished. The parent waits until the semaphore has counted every job ([`wait_done`]),
//! with a deadline, then sends each worker an "end" message of priority 0, which every job
//! overtakes, and reaps everyone.
//!
//! A job travels as one message of text, `job <producer> <number> <priority> <payload>`; the end
//! message is `end`. A worker writes one record per job it did to a log, opened `O_APPEND`, one
//! `write(2)` per record: `done <worker> <producer> <number> <priority> <payload length>`. So
//! the log says what was really done, and the semaphore must say the same.
//!
//! What the student writes: [`submit`], [`work`] and [`wait_done`]. The rest (the queue, the
//! semaphore, the jobs, forking, the end messages and the summary) is given.

// Nothing in a lab needs `unsafe`; forbidding it here also keeps the grader's own tests safe
// from code written into a solution (see book/src/labs/index.md).
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
#[allow(unused_imports)]
// mq_getattr, mq_receive, mq_send: used by the parts the student writes
use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_close, mq_getattr, mq_open, mq_receive, mq_send};
use nix::poll::PollFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{Pid, getpid};
use support::cli::{Context, Failure};
#[allow(unused_imports)] // StopContext: used by the parts the student writes
use support::stop::{Stop, StopContext, Stopped, child_status};
use support::{Child, Forked, describe, fork, run_child};

use crate::psem::{NamedSemaphore, OpenMode, sem_unlink};

/// The priority of the end message: lower than every job's, so that a worker takes it only
/// when no job is left in the queue.
pub const END_PRIORITY: u32 = 0;

/// How long the workers have, once the jobs are done, to take their end message and exit.
pub const END_GRACE: Duration = Duration::from_secs(2);

/// The priority of job `number` of producer `producer`: 1 to 9, mixed so that every producer
/// sends every priority.
pub fn priority_of(producer: u32, number: u32) -> u32 {
    (producer * 3 + number * 7) % 9 + 1
}

/// The payload of a job: `bytes` letters, starting from a letter that depends on the job, so
/// that a damaged or cut message shows.
pub fn payload_of(producer: u32, number: u32, bytes: usize) -> String {
    let first = (producer + number) as usize;
    (0..bytes)
        .map(|i| char::from(b'a' + ((first + i) % 26) as u8))
        .collect()
}

/// One job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Which producer made it (0, 1, ...).
    pub producer: u32,
    /// Its number among that producer's jobs (0, 1, ...).
    pub number: u32,
    /// Its priority, 1 to 9 ([`priority_of`]): the higher, the sooner a worker takes it.
    pub priority: u32,
    /// Its data ([`payload_of`]).
    pub payload: String,
}

impl Job {
    /// Job `number` of producer `producer`, with a payload of `bytes` letters.
    pub fn new(producer: u32, number: u32, bytes: usize) -> Self {
        Self {
            producer,
            number,
            priority: priority_of(producer, number),
            payload: payload_of(producer, number, bytes),
        }
    }

    /// The message that carries it: `job <producer> <number> <priority> <payload>`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let Job {
            producer,
            number,
            priority,
            payload,
        } = self;
        format!("job {producer} {number} {priority} {payload}").into_bytes()
    }
}

/// What a message of the queue says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A job to do.
    Job(Job),
    /// No job will come any more: the worker that takes it stops.
    End,
}

impl Message {
    /// The message `end`.
    pub fn end_bytes() -> Vec<u8> {
        b"end".to_vec()
    }

    /// Reads one message back: exactly the bytes `mq_receive` returned, no more.
    pub fn from_bytes(bytes: &[u8]) -> Result<Message, Failure> {
        let damaged = || {
            let shown: String = String::from_utf8_lossy(bytes).chars().take(40).collect();
            Failure::new(format!("a damaged message: {shown:?}"))
        };
        let text = std::str::from_utf8(bytes).map_err(|_| damaged())?;
        if text == "end" {
            return Ok(Message::End);
        }
        let mut fields = text.splitn(5, ' ');
        if fields.next() != Some("job") {
            return Err(damaged());
        }
        let mut number = || -> Result<u32, Failure> {
            let field = fields.next().ok_or_else(damaged)?;
            field.parse().map_err(|_| damaged())
        };
        let (producer, number_, priority) = (number()?, number()?, number()?);
        let payload = fields.next().ok_or_else(damaged)?.to_owned();
        Ok(Message::Job(Job {
            producer,
            number: number_,
            priority,
            payload,
        }))
    }
}

/// A message queue opened by this process, closed on drop; removed on drop too, when this
/// process created it.
#[derive(Debug)]
pub struct JobQueue {
    mqd: Option<MqdT>,
    name: String,
    creator: Option<Pid>,
}

impl JobQueue {
    /// `mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, {capacity, msgsize})`: a new queue;
    /// EEXIST if the name is taken (never opened, never removed).
    pub fn create(name: &str, capacity: i64, msgsize: i64) -> Result<Self, Failure> {
        let attr = MqAttr::new(0, capacity, msgsize, 0);
        let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
        let mqd = mq_open(name, flags, Mode::from_bits_truncate(0o600), Some(&attr)).map_err(
            |errno| {
                let hint = if errno == Errno::EINVAL {
                    format!(" ({})", queue_limits())
                } else {
                    String::new()
                };
                Failure::new(format!("mq_open {name}: {errno}{hint}"))
            },
        )?;
        Ok(Self {
            mqd: Some(mqd),
            name: name.to_owned(),
            creator: Some(getpid()),
        })
    }

    /// `mq_open(name, flags)`: the existing queue, as this process's own descriptor.
    fn open(name: &str, flags: MQ_OFlag) -> Result<Self, Failure> {
        let mqd = mq_open(name, flags, Mode::empty(), None).context(format!("mq_open {name}"))?;
        Ok(Self {
            mqd: Some(mqd),
            name: name.to_owned(),
            creator: None,
        })
    }

    /// The queue's descriptor, for the `mq_*` calls.
    pub fn mqd(&self) -> &MqdT {
        self.mqd.as_ref().expect("open until dropped")
    }

    /// The queue's name (`/something`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for JobQueue {
    fn drop(&mut self) {
        if let Some(mqd) = self.mqd.take() {
            let _ = mq_close(mqd);
        }
        // A forked child holds a copy of the parent's queue: only the creator removes it.
        if self.creator == Some(getpid()) {
            let _ = nix::mqueue::mq_unlink(self.name.as_str());
        }
    }
}

/// What an unprivileged `mq_open` may ask for, read from /proc, for an EINVAL line.
fn queue_limits() -> String {
    let read = |file: &str| {
        std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{file}"))
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned())
    };
    format!(
        "without CAP_SYS_RESOURCE a queue holds at most msg_max = {} messages of at most \
         msgsize_max = {} bytes",
        read("msg_max"),
        read("msgsize_max")
    )
}

/// The semaphore that counts jobs done, removed on drop by the process that created it.
#[derive(Debug)]
pub struct DoneCounter {
    /// The semaphore itself.
    pub sem: NamedSemaphore,
    creator: Pid,
}

impl DoneCounter {
    /// `sem_open(name, O_CREAT | O_EXCL, 0600, 0)`: a new semaphore at 0.
    pub fn create(name: &str) -> Result<Self, Failure> {
        let sem = NamedSemaphore::sem_open(name, OpenMode::CreateNew, 0o600, 0)
            .context(format!("sem_open {name}"))?;
        Ok(Self {
            sem,
            creator: getpid(),
        })
    }
}

impl Drop for DoneCounter {
    fn drop(&mut self) {
        if self.creator == getpid() {
            let _ = sem_unlink(self.sem.name());
        }
    }
}

/// Puts `job` into the queue with `mq_send`, at the job's priority. Waits while the queue is
/// full: a job is never dropped. A job longer than the queue's message size is refused: return
/// the `EMSGSIZE` of `mq_send`, never cut the job. A stop signal ends the wait
/// (`stop.retry`); any other error is returned, saying the call and the queue's name
/// (`mq_send /jobs: EMSGSIZE: Message too long`).
pub fn submit(queue: &JobQueue, job: &Job, stop: &Stop) -> Result<(), Stopped> {
    // BEGIN SOLUTION
    let message = job.to_bytes();
    stop.retry(|| mq_send(queue.mqd(), &message, job.priority))
        .context(format!("mq_send {}", queue.name()))?;
    Ok(())
    // END SOLUTION
}

/// A worker's loop: takes messages from the queue with `mq_receive` (the highest priority
/// first, which the kernel sees to), until the end message. For each job: calls `handle`, and
/// when it returns Ok, posts `done` once (`sem_post`). Never posts for a job that was not
/// finished: a worker killed in the middle of a job leaves the count one short, as the log.
/// Returns how many jobs it did.
///
/// The receive buffer must hold the queue's largest message (`mq_getattr`'s `msgsize`), or
/// `mq_receive` fails with EMSGSIZE; a message is the bytes `mq_receive` returned, no more
/// ([`Message::from_bytes`]). A stop signal ends the wait (`stop.retry`); an error (a failed
/// `handle`, a damaged message) is returned at once.
pub fn work(
    queue: &JobQueue,
    done: &NamedSemaphore,
    stop: &Stop,
    mut handle: impl FnMut(&Job) -> Result<(), Stopped>,
) -> Result<u64, Stopped> {
    // BEGIN SOLUTION
    let attr = mq_getattr(queue.mqd()).context(format!("mq_getattr {}", queue.name()))?;
    let mut buffer = vec![0u8; attr.msgsize() as usize];
    let mut jobs_done = 0;
    loop {
        let mut priority = 0;
        let received = stop
            .retry(|| mq_receive(queue.mqd(), &mut buffer, &mut priority))
            .context(format!("mq_receive {}", queue.name()))?;
        match Message::from_bytes(&buffer[..received])? {
            Message::End => return Ok(jobs_done),
            Message::Job(job) => {
                handle(&job)?;
                done.sem_post()
                    .context(format!("sem_post {}", done.name()))?;
                jobs_done += 1;
            }
        }
    }
    // END SOLUTION
}

/// Waits until `done` has been posted `jobs` times, taking one unit per post
/// (`sem_timedwait`), or until `deadline`, whichever comes first. Returns how many units it
/// took: `jobs` when every job was done in time, fewer when the deadline passed (ETIMEDOUT is
/// not an error here). Each wait gets the time left until `deadline`, not a fresh timeout. A
/// stop signal ends the wait (`stop.retry`); any other error is returned.
pub fn wait_done(
    done: &NamedSemaphore,
    jobs: u64,
    deadline: Instant,
    stop: &Stop,
) -> Result<u64, Stopped> {
    // BEGIN SOLUTION
    let mut counted = 0;
    while counted < jobs {
        let waited = stop.retry(|| {
            let left = deadline.saturating_duration_since(Instant::now());
            done.sem_timedwait(left)
        });
        match waited {
            Ok(()) => counted += 1,
            Err(Stopped::Failed(Errno::ETIMEDOUT)) => break,
            Err(other) => return Err(other.context(format!("sem_timedwait {}", done.name()))),
        }
    }
    Ok(counted)
    // END SOLUTION
}

/// What a run does: how many of each, the queue's shape, the jobs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The queue's name.
    pub queue: String,
    /// The semaphore's name.
    pub done: String,
    /// How many producer processes.
    pub producers: u32,
    /// How many worker processes.
    pub workers: u32,
    /// How many jobs each producer submits.
    pub jobs: u32,
    /// How many messages the queue holds (`mq_maxmsg`).
    pub capacity: i64,
    /// The largest message, in bytes (`mq_msgsize`).
    pub msgsize: i64,
    /// The payload of each job, in bytes.
    pub payload: usize,
    /// How long one job takes a worker.
    pub work: Duration,
    /// Queue every job before any worker starts.
    pub jobs_first: bool,
    /// The job (producer, number) whose worker hangs, to show a worker killed mid-job.
    pub hang_on: Option<(u32, u32)>,
    /// How long the jobs may take in all.
    pub deadline: Duration,
    /// The log file (created, or emptied).
    pub log: PathBuf,
}

impl Plan {
    /// How many jobs in all.
    pub fn total(&self) -> u64 {
        u64::from(self.producers) * u64::from(self.jobs)
    }
}

/// The queue, the semaphore and the log of one run.
pub struct Shop {
    /// The queue, removed when the shop is dropped.
    pub queue: JobQueue,
    /// The semaphore, removed when the shop is dropped.
    pub done: DoneCounter,
    log: File,
}

/// Creates the queue (`0600`, `O_EXCL`), the semaphore (`0600`, at 0) and the log.
pub fn open_shop(plan: &Plan) -> Result<Shop, Failure> {
    if plan.jobs_first && plan.total() > plan.capacity as u64 {
        return Err(Failure::new(format!(
            "--jobs-first needs a queue that holds every job: {} jobs, --capacity {}",
            plan.total(),
            plan.capacity
        )));
    }
    let queue = JobQueue::create(&plan.queue, plan.capacity, plan.msgsize)?;
    let done = DoneCounter::create(&plan.done)?;
    let log = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_APPEND) // std refuses truncate with append(true)
        .mode(0o600)
        .open(&plan.log)
        .context(format!("open {}", plan.log.display()))?;
    Ok(Shop { queue, done, log })
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// Units `wait_done` took before the deadline.
    pub in_time: u64,
    /// All the posts: `in_time` plus what the semaphore held at the end.
    pub counted: u64,
    /// Records in the log.
    pub records: u64,
    /// How long it took.
    pub took: Duration,
    /// What went wrong, one sentence each (a process that failed, a count that disagrees).
    pub failures: Vec<String>,
}

/// Runs the plan: forks the workers and the producers, waits for the jobs to be done, sends
/// the ends, reaps everyone and reads the log back. A stop signal kills every child (the
/// `Child` guards); the caller's [`Shop`] then removes the queue and the semaphore.
pub fn run(shop: &Shop, plan: &Plan, stop: &Stop) -> Result<Outcome, Stopped> {
    stop.watch_children()?;
    let started = Instant::now();
    let deadline = started + plan.deadline;
    let mut failures = Vec::new();
    let mut workers = Vec::new();
    if !plan.jobs_first {
        workers = fork_workers(shop, plan)?;
    }
    let mut producers = Vec::new();
    for me in 0..plan.producers {
        producers.push(fork_role("producer", me, |stop| {
            produce(shop, plan, me, stop)
        })?);
    }
    let produced = reap_by(&mut producers, deadline, stop)?;
    failures.extend(failed("producer", &producers, &produced));
    let all_submitted = failures.is_empty();
    if plan.jobs_first && all_submitted {
        workers = fork_workers(shop, plan)?;
    }
    let in_time = if all_submitted {
        wait_done(&shop.done.sem, plan.total(), deadline, stop)?
    } else {
        0
    };
    let grace = Instant::now() + END_GRACE;
    send_ends(shop, workers.len(), grace, stop)?;
    let worked = reap_by(&mut workers, grace, stop)?;
    failures.extend(failed("worker", &workers, &worked));
    let later = shop.done.sem.sem_getvalue().context("sem_getvalue")?;
    let counted = in_time + u64::try_from(later).unwrap_or(0);
    let log = std::fs::read_to_string(&plan.log).context(format!("read {}", plan.log.display()))?;
    let records = log.lines().count() as u64;
    failures.extend(twice_or_more(&log));
    if all_submitted && in_time < plan.total() {
        failures.push(format!(
            "only {in_time} of {} jobs done within {:?}",
            plan.total(),
            plan.deadline
        ));
    }
    if counted != records {
        failures.push(format!(
            "the semaphore counted {counted} jobs done, but the log holds {records} records"
        ));
    }
    Ok(Outcome {
        in_time,
        counted,
        records,
        took: started.elapsed(),
        failures,
    })
}

/// The jobs that the log says were done more than once (by `job P.J` = fields 2 and 3).
fn twice_or_more(log: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<(&str, &str), u32>::new();
    for line in log.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if let [_, _, producer, number, ..] = fields[..] {
            *seen.entry((producer, number)).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|&(_, times)| times > 1)
        .map(|((producer, number), times)| format!("job {producer}.{number} done {times} times"))
        .collect()
}

fn fork_workers(shop: &Shop, plan: &Plan) -> Result<Vec<Child>, Failure> {
    (0..plan.workers)
        .map(|me| fork_role("worker", me, |stop| be_worker(shop, plan, me, stop)))
        .collect()
}

/// Forks a child that runs `body` with stop handlers of its own, and exits with its status.
fn fork_role(
    role: &str,
    me: u32,
    body: impl FnOnce(&Stop) -> Result<(), Stopped>,
) -> Result<Child, Failure> {
    match fork()? {
        Forked::Parent(child) => Ok(child),
        Forked::Child => run_child(|| {
            let outcome = Stop::install()
                .map_err(Stopped::Failed)
                .and_then(|stop| body(&stop));
            child_status(format!("{role} {me}"), outcome)
        }),
    }
}

fn produce(shop: &Shop, plan: &Plan, me: u32, stop: &Stop) -> Result<(), Stopped> {
    println!(
        "producer {me} (pid {}) submits {} jobs",
        getpid(),
        plan.jobs
    );
    for number in 0..plan.jobs {
        submit(&shop.queue, &Job::new(me, number, plan.payload), stop)?;
    }
    println!("producer {me}: submitted {} jobs", plan.jobs);
    Ok(())
}

fn be_worker(shop: &Shop, plan: &Plan, me: u32, stop: &Stop) -> Result<(), Stopped> {
    let pid = getpid();
    let jobs_done = work(&shop.queue, &shop.done.sem, stop, |job| {
        do_job(shop, plan, me, pid, job, stop)
    })?;
    println!("worker {me}: took the end message after {jobs_done} jobs");
    Ok(())
}

/// One job: says so, checks the payload, takes its time, and logs it (one `write(2)`).
fn do_job(
    shop: &Shop,
    plan: &Plan,
    me: u32,
    pid: Pid,
    job: &Job,
    stop: &Stop,
) -> Result<(), Stopped> {
    let Job {
        producer,
        number,
        priority,
        ..
    } = *job;
    println!("worker {me} (pid {pid}) takes job {producer}.{number} (priority {priority})");
    if job.payload != payload_of(producer, number, plan.payload) {
        return Err(Failure::new(format!("job {producer}.{number} arrived damaged")).into());
    }
    if plan.hang_on == Some((producer, number)) {
        println!("worker {me} (pid {pid}) hangs in job {producer}.{number}, as --hang-on asks");
        loop {
            stop.sleep(Duration::from_secs(3600))?;
        }
    }
    stop.sleep(plan.work)?;
    let record = format!(
        "done {me} {producer} {number} {priority} {}\n",
        job.payload.len()
    );
    let written = (&shop.log)
        .write(record.as_bytes())
        .context("write the log")?;
    if written != record.len() {
        return Err(Failure::new("write the log: cut short").into());
    }
    Ok(())
}

/// Reaps the children that end before `until`; `None` for each one still running then (its
/// guard kills it when dropped). SIGCHLD ends the wait as soon as one ends.
fn reap_by(
    children: &mut [Child],
    until: Instant,
    stop: &Stop,
) -> Result<Vec<Option<WaitStatus>>, Stopped> {
    let mut statuses = vec![None; children.len()];
    loop {
        for (child, status) in children.iter_mut().zip(statuses.iter_mut()) {
            if status.is_none() {
                match child.waitpid_with(Some(WaitPidFlag::WNOHANG))? {
                    WaitStatus::StillAlive => {}
                    ended => *status = Some(ended),
                }
            }
        }
        let left = until.saturating_duration_since(Instant::now());
        if statuses.iter().all(Option::is_some) || left.is_zero() {
            return Ok(statuses);
        }
        stop.wait(&[], Some(left))?;
    }
}

/// One sentence per child that did not exit 0.
fn failed(role: &str, children: &[Child], statuses: &[Option<WaitStatus>]) -> Vec<String> {
    let said = |status: &Option<WaitStatus>| match status {
        Some(WaitStatus::Exited(_, 0)) => None,
        Some(status) => Some(describe(status)),
        None => Some("did not end in time, and was killed".to_owned()),
    };
    children
        .iter()
        .zip(statuses)
        .enumerate()
        .filter_map(|(me, (child, status))| {
            said(status).map(|why| format!("{role} {me} (pid {}) {why}", child.pid()))
        })
        .collect()
}

/// Sends `count` end messages, through a descriptor of its own opened `O_NONBLOCK` (the
/// flag belongs to the open queue description, which the workers share with the parent's first
/// descriptor). A full queue is waited on with `poll` until `until`: a worker that died never
/// takes its end, and then the queue may stay full.
fn send_ends(shop: &Shop, count: usize, until: Instant, stop: &Stop) -> Result<(), Stopped> {
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK;
    let ends = JobQueue::open(shop.queue.name(), flags)?;
    let message = Message::end_bytes();
    let mut sent = 0;
    while sent < count {
        match mq_send(ends.mqd(), &message, END_PRIORITY) {
            Ok(()) => sent += 1,
            Err(Errno::EAGAIN) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(());
                }
                stop.wait(&[(ends.mqd().as_fd(), PollFlags::POLLOUT)], Some(left))?;
            }
            Err(Errno::EINTR) => stop.check()?,
            Err(errno) => {
                return Err(Failure::new(format!("mq_send {}: {errno}", ends.name())).into());
            }
        }
    }
    Ok(())
}
