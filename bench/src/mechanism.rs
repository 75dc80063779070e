//! What the benchmark measures: the mechanisms, the bounds they are compared with (floors, a
//! ceiling), one control and the plain-C references; and the buffer a stream runs with.

use serde::{Deserialize, Serialize};

/// What the benchmark measures.
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
pub enum Mechanism {
    /// Two pipes, one each way.
    Pipe,
    /// Two FIFOs (named pipes), one each way.
    Fifo,
    /// One System V message queue, a message type per direction.
    SysvMsg,
    /// Two POSIX message queues, one each way.
    PosixMq,
    /// A Unix domain stream socket pair (std's `UnixStream`).
    UnixSocket,
    /// A System V segment; two System V semaphores say whose turn it is.
    ShmSem,
    /// A System V segment; a counter per direction, and a futex to sleep on it.
    ShmFutex,
    /// A System V segment; a counter per direction that the other side spins on.
    ShmSpin,
    /// A file on disk mapped `MAP_SHARED`, with the futex handshake of `shm-futex`.
    MmapFile,
    /// A POSIX `shm_open` object mapped `MAP_SHARED`, with the same futex handshake.
    ShmOpen,
    /// A ring buffer in a System V segment (streaming only).
    ShmRing,
    /// Reference: a plain-C two-pipe ping-pong (bench/c/pipe_pingpong.c).
    CPipe,
    /// Reference: a plain-C futex ping-pong, no data (bench/c/futex_pingpong.c).
    CFutex,
    /// Floor: one cache line handed back and forth by two spinning processes.
    CacheLine,
    /// Floor: a futex round trip, no data: a wait with no timeout, a wake only for a sleeper.
    Futex,
    /// Control: the futex floor while a SCHED_IDLE spinner keeps each of the two CPUs busy.
    FutexBusy,
    /// Floor: a ring that moves data between CPUs with no copy (written and read in place).
    Transfer,
    /// Ceiling: `memcpy` bandwidth in one process.
    Memcpy,
}

/// What a [`Mechanism`] is there for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An IPC mechanism of the project.
    Mechanism,
    /// A bound that the mechanisms are divided by: a floor or the `memcpy` ceiling.
    Bound,
    /// A control experiment: a bound measured under other conditions.
    Control,
    /// A plain-C program doing what a mechanism does, run in the same run.
    Reference,
}

/// A stream's buffer: what the kernel (or the ring) holds between the writer and the reader.
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
pub enum Buffer {
    /// What the system gives: a pipe's 64 KiB, a socket's `net.core.wmem_default`, a System V
    /// queue's `msgmnb`.
    #[serde(rename = "default")]
    #[value(name = "default")]
    Default,
    /// 1 MiB: `F_SETPIPE_SZ` for a pipe, `SO_SNDBUF`/`SO_RCVBUF` for a socket, the ring's size.
    #[serde(rename = "1mib")]
    #[value(name = "1mib")]
    OneMib,
}

/// 1 MiB, the size of [`Buffer::OneMib`] and of the ring.
pub const ONE_MIB: usize = 1 << 20;

impl Buffer {
    /// Both, in table order.
    pub const ALL: [Buffer; 2] = [Buffer::Default, Buffer::OneMib];

    /// The words in tables.
    pub fn label(self) -> &'static str {
        match self {
            Buffer::Default => "default buffer",
            Buffer::OneMib => "1 MiB buffer",
        }
    }

    /// The name in the JSON and CSV files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Buffer::Default => "default",
            Buffer::OneMib => "1mib",
        }
    }
}

impl Mechanism {
    /// The mechanisms timed by ping-pong, in the order the tables list them.
    pub const ROUND_TRIP: [Mechanism; 10] = [
        Mechanism::Pipe,
        Mechanism::Fifo,
        Mechanism::UnixSocket,
        Mechanism::SysvMsg,
        Mechanism::PosixMq,
        Mechanism::ShmSem,
        Mechanism::ShmFutex,
        Mechanism::MmapFile,
        Mechanism::ShmOpen,
        Mechanism::ShmSpin,
    ];

    /// The mechanisms timed by streaming.
    pub const STREAMING: [Mechanism; 4] = [
        Mechanism::Pipe,
        Mechanism::UnixSocket,
        Mechanism::SysvMsg,
        Mechanism::ShmRing,
    ];

    /// The round trips with no data that the others are compared with, in table order: the
    /// floors, the control, and the C references.
    pub const ROUND_TRIP_BOUNDS: [Mechanism; 5] = [
        Mechanism::CacheLine,
        Mechanism::Futex,
        Mechanism::FutexBusy,
        Mechanism::CFutex,
        Mechanism::CPipe,
    ];

    /// The round-trip floors.
    pub const LATENCY_FLOORS: [Mechanism; 2] = [Mechanism::CacheLine, Mechanism::Futex];

    /// The plain-C references.
    pub const C_REFERENCES: [Mechanism; 2] = [Mechanism::CPipe, Mechanism::CFutex];

    /// The name on the command line and in the JSON file.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "fifo",
            Mechanism::SysvMsg => "sysv-msg",
            Mechanism::PosixMq => "posix-mq",
            Mechanism::UnixSocket => "unix-socket",
            Mechanism::ShmSem => "shm-sem",
            Mechanism::ShmFutex => "shm-futex",
            Mechanism::ShmSpin => "shm-spin",
            Mechanism::MmapFile => "mmap-file",
            Mechanism::ShmOpen => "shm-open",
            Mechanism::ShmRing => "shm-ring",
            Mechanism::CPipe => "c-pipe",
            Mechanism::CFutex => "c-futex",
            Mechanism::CacheLine => "cache-line",
            Mechanism::Futex => "futex",
            Mechanism::FutexBusy => "futex-busy",
            Mechanism::Transfer => "transfer",
            Mechanism::Memcpy => "memcpy",
        }
    }

    /// The name in tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "FIFO",
            Mechanism::SysvMsg => "System V msg queue",
            Mechanism::PosixMq => "POSIX msg queue",
            Mechanism::UnixSocket => "Unix socket",
            Mechanism::ShmSem => "shm + semaphores",
            Mechanism::ShmFutex => "shm + futex",
            Mechanism::ShmSpin => "shm + spinning flag",
            Mechanism::MmapFile => "mmap'd file + futex",
            Mechanism::ShmOpen => "shm_open + futex",
            Mechanism::ShmRing => "shm ring buffer",
            Mechanism::CPipe => "C two-pipe ping-pong",
            Mechanism::CFutex => "C futex ping-pong",
            Mechanism::CacheLine => "cache-line floor",
            Mechanism::Futex => "futex floor",
            Mechanism::FutexBusy => "futex, CPUs kept busy",
            Mechanism::Transfer => "cross-CPU transfer floor",
            Mechanism::Memcpy => "memcpy ceiling",
        }
    }

    /// What it is there for.
    pub fn role(self) -> Role {
        match self {
            Mechanism::CacheLine | Mechanism::Futex | Mechanism::Transfer | Mechanism::Memcpy => {
                Role::Bound
            }
            Mechanism::FutexBusy => Role::Control,
            Mechanism::CPipe | Mechanism::CFutex => Role::Reference,
            _ => Role::Mechanism,
        }
    }

    /// Whether this is a floor, the ceiling, the control or a C reference rather than a
    /// mechanism: measured with `--floor-ms`, at one size.
    pub fn is_floor(self) -> bool {
        self.role() != Role::Mechanism
    }

    /// The floor a round trip over this mechanism is compared with: the cache line for the one
    /// that spins, the futex round trip for every one that sleeps until woken.
    pub fn latency_floor(self) -> Mechanism {
        match self {
            Mechanism::ShmSpin | Mechanism::CacheLine => Mechanism::CacheLine,
            _ => Mechanism::Futex,
        }
    }

    /// The buffers a stream over this mechanism runs with: both where the buffer can be set,
    /// the ring's own 1 MiB, a System V queue's default (raising `msgmnb` needs root).
    pub fn buffers(self) -> &'static [Buffer] {
        match self {
            Mechanism::Pipe | Mechanism::UnixSocket => &Buffer::ALL,
            Mechanism::ShmRing => &[Buffer::OneMib],
            Mechanism::SysvMsg => &[Buffer::Default],
            _ => &[],
        }
    }

    /// What else `--only` measures with this one: the bounds its ratios are computed against.
    pub fn needs(self) -> &'static [Mechanism] {
        match self {
            Mechanism::ShmSpin => &[Mechanism::CacheLine],
            // The pipe is also compared with the same exchange in plain C.
            Mechanism::Pipe => &[
                Mechanism::Futex,
                Mechanism::CPipe,
                Mechanism::Transfer,
                Mechanism::Memcpy,
            ],
            Mechanism::UnixSocket | Mechanism::SysvMsg => {
                &[Mechanism::Futex, Mechanism::Transfer, Mechanism::Memcpy]
            }
            Mechanism::ShmRing => &[Mechanism::Transfer, Mechanism::Memcpy],
            Mechanism::Futex => &[Mechanism::CFutex],
            Mechanism::FutexBusy => &[Mechanism::Futex],
            Mechanism::Transfer => &[Mechanism::Memcpy],
            Mechanism::CPipe | Mechanism::CFutex | Mechanism::CacheLine | Mechanism::Memcpy => &[],
            _ => &[Mechanism::Futex],
        }
    }

    /// The largest message the mechanism takes, when the system sets one, and why.
    pub fn size_limit(self) -> Option<(usize, String)> {
        match self {
            Mechanism::SysvMsg => {
                // A message over msgmnb (the queue's byte limit) would wait forever for room.
                let (msgmax, msgmnb) = match msgqueue::Limits::read() {
                    Ok(limits) => (limits.msgmax, limits.msgmnb),
                    Err(_) => (8192, 16384),
                };
                Some(if msgmax <= msgmnb {
                    (msgmax, format!("over msgmax ({msgmax} bytes)"))
                } else {
                    (msgmnb, format!("over msgmnb ({msgmnb} bytes)"))
                })
            }
            Mechanism::PosixMq => {
                // The limit for an unprivileged user; root may go to 16 MiB, but the figures
                // should be the ones a student gets.
                let max = read_number("/proc/sys/fs/mqueue/msgsize_max").unwrap_or(8192);
                Some((max, format!("over mqueue msgsize_max ({max} bytes)")))
            }
            _ => None,
        }
    }
}

/// A number in a /proc file.
pub fn read_number(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_a_buffer_and_every_round_trip_a_floor() {
        for mechanism in Mechanism::STREAMING {
            assert!(!mechanism.buffers().is_empty(), "{mechanism:?}");
        }
        for mechanism in Mechanism::ROUND_TRIP {
            assert!(
                mechanism.needs().contains(&mechanism.latency_floor()),
                "{mechanism:?}"
            );
            assert_eq!(mechanism.role(), Role::Mechanism);
        }
    }

    #[test]
    fn names_parse_back() {
        use clap::ValueEnum;
        for mechanism in Mechanism::value_variants() {
            assert_eq!(
                Mechanism::from_str(mechanism.name(), false).as_ref(),
                Ok(mechanism)
            );
        }
        for buffer in Buffer::ALL {
            assert_eq!(Buffer::from_str(buffer.name(), false), Ok(buffer));
        }
    }
}
