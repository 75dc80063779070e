//! A run's figures: every round of every figure, what they sum up to, their ratios to their
//! bounds, the targets; kept as JSON and CSV. [`crate::tables`] prints them.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::measure::{Placement, Streamed, Timed};
use crate::mechanism::{Buffer, Mechanism, ONE_MIB, Role};
use crate::stats::{Goal, Spread, Verdict, judge, ratios_by_round};

/// The version of the JSON layout. 1 (no `format` field) was one measurement per figure.
pub const FORMAT: u32 = 2;

/// A round's figure takes part in a ratio only if it counted at least this many round trips
/// (or messages), and so does its bound's: a ratio of two figures made of a handful of events
/// (a spinning round trip on one CPU takes 8 ms) says nothing.
pub const MIN_MESSAGES: u64 = 10;

/// Everything one run measured, and on what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// [`FORMAT`].
    pub format: u32,
    /// The machine.
    pub machine: Machine,
    /// How the run was made.
    pub settings: Settings,
    /// Every figure, in the order they were measured within a round.
    pub figures: Vec<Figure>,
    /// What was not measured, and why.
    pub skipped: Vec<Skipped>,
}

/// What the run ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` in /proc/cpuinfo.
    pub cpu_model: String,
    /// CPUs online.
    pub cpus_online: usize,
    /// The CPUs the run pinned to: the first for the parent, the second for `other-cpu`.
    pub cpus_pinned: Vec<usize>,
    /// Whether the two are hyper-threads of one core (no other core was allowed).
    pub pinned_cpus_share_a_core: bool,
    /// /proc/sys/kernel/osrelease.
    pub kernel: String,
    /// Where the FIFOs and the mapped file were.
    pub scratch_dir: String,
    /// The scratch directory's file system (`ext4`, `tmpfs`, ...).
    pub scratch_fs: String,
    /// When the run started, in seconds since 1970.
    pub started_unix: u64,
    /// How long the run took, in seconds.
    pub wall_seconds: f64,
}

/// How the run was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `--quick`.
    pub quick: bool,
    /// How many rounds: every figure was measured once in each, in the same order.
    pub rounds: usize,
    /// Warm-up per measurement, in ms.
    pub warmup_ms: u64,
    /// Counted stretch per measurement of a mechanism, in ms.
    pub measure_ms: u64,
    /// Counted stretch per measurement of a bound, the control or a C reference, in ms.
    pub floor_ms: u64,
    /// At most this many round trips or messages counted per measurement.
    pub max_messages: usize,
    /// Whether every streamed byte was compared (slower).
    pub every_byte: bool,
}

/// Round trip or stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Ping-pong: the time there and back, in ns.
    RoundTrip,
    /// One way, as fast as it goes: GiB/s.
    Stream,
}

/// Which figure: what, how, where, at what size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// Round trip or stream.
    pub kind: Kind,
    /// What was measured.
    pub mechanism: Mechanism,
    /// Where the two processes ran; `None` for `memcpy` (one process).
    pub placement: Option<Placement>,
    /// The message size in bytes (0: no data).
    pub size: usize,
    /// A stream's buffer; `None` for round trips and the stream bounds.
    pub buffer: Option<Buffer>,
}

impl Key {
    /// A round trip.
    pub fn round_trip(mechanism: Mechanism, placement: Placement, size: usize) -> Key {
        Key {
            kind: Kind::RoundTrip,
            mechanism,
            placement: Some(placement),
            size,
            buffer: None,
        }
    }

    /// A stream (`memcpy`: placement `None`).
    pub fn stream(
        mechanism: Mechanism,
        placement: Option<Placement>,
        size: usize,
        buffer: Option<Buffer>,
    ) -> Key {
        Key {
            kind: Kind::Stream,
            mechanism,
            placement,
            size,
            buffer,
        }
    }

    /// `pipe, 1 MiB buffer`; `pipe` for a round trip.
    pub fn label(&self) -> String {
        match self.buffer {
            Some(buffer) => format!("{}, {}", self.mechanism.label(), buffer.label()),
            None => self.mechanism.label().to_owned(),
        }
    }

    /// `pipe 8 B same CPU`, `shm ring buffer, 1 MiB buffer, 1 MiB, other CPU`: the figure in
    /// words.
    pub fn describe(&self) -> String {
        let mut words = self.label();
        if self.size > 0 {
            write!(words, ", {}", bytes(self.size)).expect("a String");
        }
        if let Some(placement) = self.placement {
            write!(words, ", {}", placement.label()).expect("a String");
        }
        words
    }
}

/// One round of one figure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Round {
    /// Which round (from 0).
    pub round: usize,
    /// The round's figure: the p50 in ns for a round trip, GiB/s for a stream.
    pub value: f64,
    /// Round trips timed, or messages counted.
    pub messages: u64,
    /// A round trip's 99th percentile within the round, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    /// The 99.9th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999_ns: Option<u64>,
    /// The slowest round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ns: Option<u64>,
    /// A stream's counted seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Voluntary context switches (sleeps) of both processes while counted.
    #[serde(default)]
    pub ctxt_switches: Option<u64>,
    /// Futex waits that timed out although their event had come: lost wake-ups. Always 0
    /// unless something is wrong.
    #[serde(default)]
    pub stalled_waits: u64,
    /// The stream's buffer as the kernel reported it, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_bytes: Option<usize>,
}

impl Round {
    /// A round of round trips.
    pub fn of_round_trips(round: usize, timed: &Timed) -> Round {
        let t = &timed.times;
        Round {
            round,
            value: t.p50_ns as f64,
            messages: t.samples as u64,
            p99_ns: Some(t.p99_ns),
            p999_ns: Some(t.p999_ns),
            max_ns: Some(t.max_ns),
            seconds: None,
            ctxt_switches: timed.ctxt_switches,
            stalled_waits: timed.stalled_waits,
            buffer_bytes: None,
        }
    }

    /// A round of a stream of `size`-byte messages.
    pub fn of_stream(round: usize, size: usize, streamed: &Streamed) -> Round {
        Round {
            round,
            value: streamed.gib_per_s(size),
            messages: streamed.messages,
            p99_ns: None,
            p999_ns: None,
            max_ns: None,
            seconds: Some(streamed.seconds),
            ctxt_switches: streamed.ctxt_switches,
            stalled_waits: streamed.stalled_waits,
            buffer_bytes: streamed.buffer_bytes,
        }
    }
}

/// One figure over all rounds: its median round, lowest and highest, and every round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// Which figure.
    #[serde(flatten)]
    pub key: Key,
    /// `ns` (a round trip's p50) or `GiB/s`.
    pub unit: String,
    /// How many rounds measured it.
    pub rounds: usize,
    /// The median over the rounds.
    pub median: f64,
    /// The lowest round.
    pub min: f64,
    /// The highest round.
    pub max: f64,
    /// A round trip's p99 within each round, median over the rounds, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// Round trips (or messages) counted, all rounds together.
    pub messages: u64,
    /// Voluntary context switches of both processes per round trip (or message).
    pub ctxt_switches_per_msg: Option<f64>,
    /// A stream's voluntary context switches per MiB carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctxt_switches_per_mib: Option<f64>,
    /// A stream's buffer as the kernel reported it, in bytes (the pipe's `F_GETPIPE_SZ`, the
    /// socket's `SO_SNDBUF`, which counts the kernel's bookkeeping too, the ring's size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_bytes: Option<usize>,
    /// Lost wake-ups, all rounds together (always 0 unless something is wrong).
    pub stalled_waits: u64,
    /// Every round.
    pub per_round: Vec<Round>,
}

impl Figure {
    /// Sums up `rounds` of the figure `key`; `None` without a round.
    pub fn from_rounds(key: Key, rounds: Vec<Round>) -> Option<Figure> {
        let values: Vec<f64> = rounds.iter().map(|r| r.value).collect();
        let spread = Spread::of(&values)?;
        let p99s: Vec<f64> = rounds
            .iter()
            .filter_map(|r| r.p99_ns)
            .map(|ns| ns as f64)
            .collect();
        let messages = rounds.iter().map(|r| r.messages).sum();
        let (switches, counted): (u64, u64) = rounds
            .iter()
            .filter_map(|r| Some((r.ctxt_switches?, r.messages)))
            .fold((0, 0), |(s, m), (rs, rm)| (s + rs, m + rm));
        let per_msg = (counted > 0).then(|| switches as f64 / counted as f64);
        let per_mib = match key.kind {
            Kind::Stream if key.size > 0 => {
                per_msg.map(|per_msg| per_msg * ONE_MIB as f64 / key.size as f64)
            }
            _ => None,
        };
        Some(Figure {
            key,
            unit: match key.kind {
                Kind::RoundTrip => "ns".into(),
                Kind::Stream => "GiB/s".into(),
            },
            rounds: spread.rounds,
            median: spread.median,
            min: spread.min,
            max: spread.max,
            p99: crate::stats::median(&p99s),
            messages,
            ctxt_switches_per_msg: per_msg,
            ctxt_switches_per_mib: per_mib,
            buffer_bytes: rounds.iter().find_map(|r| r.buffer_bytes),
            stalled_waits: rounds.iter().map(|r| r.stalled_waits).sum(),
            per_round: rounds,
        })
    }

    /// Median, lowest and highest round.
    pub fn spread(&self) -> Spread {
        Spread {
            rounds: self.rounds,
            median: self.median,
            min: self.min,
            max: self.max,
        }
    }

    /// The rounds that counted enough to take part in a ratio.
    fn ratio_rounds(&self) -> Vec<(usize, f64)> {
        self.per_round
            .iter()
            .filter(|r| r.messages >= MIN_MESSAGES)
            .map(|r| (r.round, r.value))
            .collect()
    }
}

/// A measurement that was not made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    /// What.
    pub mechanism: Mechanism,
    /// Where, if it matters.
    pub placement: Option<Placement>,
    /// At which size, if it matters.
    pub size: Option<usize>,
    /// With which buffer, if it matters.
    #[serde(default)]
    pub buffer: Option<Buffer>,
    /// Why not.
    pub why: String,
}

/// A figure over its bound, round by round.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// The figure.
    pub figure: Key,
    /// What it is divided by.
    pub bound: Key,
    /// Whether the bound is halved first (memcpy/2: the same-CPU limit of a stream that copies
    /// twice).
    pub halve_bound: bool,
    /// The ratio in words: `/ futex floor`, `/ memcpy/2`, `Rust / C`.
    pub label: String,
    /// Median, lowest and highest over the rounds that had both.
    #[serde(flatten)]
    pub spread: Spread,
    /// Every round's ratio: (round, ratio).
    pub per_round: Vec<(usize, f64)>,
}

/// A target of the project (issue 22), and how this run fared.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The target in words.
    pub what: String,
    /// The ratio it is about; `None` when the run lacks a figure for it.
    #[serde(flatten)]
    pub ratio: Option<Ratio>,
    /// What the median must be.
    pub goal: Goal,
    /// How the rounds fared (`rounds_held`, and `met` from 3 rounds on, see [`judge`]); `None`
    /// without a ratio.
    #[serde(flatten)]
    pub verdict: Option<Verdict>,
}

/// The targets: (figure, bound, halve the bound, goal).
fn target_list() -> [(Key, Key, bool, Goal); 5] {
    use Mechanism as M;
    use Placement::{OtherCpu, SameCpu};
    let stream = |mechanism, placement, buffer| Key::stream(mechanism, placement, ONE_MIB, buffer);
    [
        (
            Key::round_trip(M::ShmSpin, OtherCpu, 8),
            Key::round_trip(M::CacheLine, OtherCpu, 0),
            false,
            Goal::AtMost(1.15),
        ),
        (
            Key::round_trip(M::Pipe, SameCpu, 8),
            Key::round_trip(M::CPipe, SameCpu, 8),
            false,
            Goal::AtMost(1.10),
        ),
        (
            Key::round_trip(M::ShmFutex, OtherCpu, 8),
            Key::round_trip(M::Futex, OtherCpu, 0),
            false,
            Goal::AtMost(1.10),
        ),
        (
            stream(M::ShmRing, Some(OtherCpu), Some(Buffer::OneMib)),
            stream(M::Transfer, Some(OtherCpu), None),
            false,
            Goal::AtLeast(0.75),
        ),
        (
            stream(M::ShmRing, Some(SameCpu), Some(Buffer::OneMib)),
            stream(M::Memcpy, None, None),
            true,
            Goal::AtLeast(0.85),
        ),
    ]
}

/// The JSON file: the run, and the ratios and targets computed from it (for reading; `bench
/// --from-json` computes them again from the rounds).
#[derive(Serialize)]
struct Saved<'a> {
    #[serde(flatten)]
    run: &'a Run,
    ratios: Vec<Ratio>,
    targets: Vec<Target>,
}

impl Run {
    /// The run as JSON, with its ratios and targets.
    pub fn to_json(&self) -> String {
        let saved = Saved {
            run: self,
            ratios: self.ratios(),
            targets: self.targets(),
        };
        serde_json::to_string_pretty(&saved).expect("a run serializes") + "\n"
    }

    /// A run saved by [`Run::to_json`]. Each figure's summary is computed again from its rounds.
    pub fn from_json(text: &str) -> Result<Run, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(format) if format == u64::from(FORMAT) => {}
            Some(format) => {
                return Err(format!("format {format}; this bench reads format {FORMAT}"));
            }
            None if value.get("latency").is_some() => {
                return Err(
                    "saved by an older bench (one measurement per figure, no rounds): measure \
                     again"
                        .into(),
                );
            }
            None => return Err("no \"format\" field".into()),
        }
        let mut run: Run = serde_json::from_value(value).map_err(|e| e.to_string())?;
        run.figures = std::mem::take(&mut run.figures)
            .into_iter()
            .filter_map(|figure| Figure::from_rounds(figure.key, figure.per_round))
            .collect();
        Ok(run)
    }

    /// The figure `key`.
    pub fn figure(&self, key: &Key) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.key == *key)
    }

    /// The round trip of `mechanism` at `size` in `placement`.
    pub fn round_trip(
        &self,
        mechanism: Mechanism,
        placement: Placement,
        size: usize,
    ) -> Option<&Figure> {
        self.figure(&Key::round_trip(mechanism, placement, size))
    }

    /// The stream of `mechanism` at `size` with `buffer` in `placement`.
    pub fn stream(
        &self,
        mechanism: Mechanism,
        placement: Option<Placement>,
        size: usize,
        buffer: Option<Buffer>,
    ) -> Option<&Figure> {
        self.figure(&Key::stream(mechanism, placement, size, buffer))
    }

    /// `figure` over `bound`, round by round; `None` if the run lacks either, or no round
    /// counted enough of both.
    pub fn ratio(&self, figure: Key, bound: Key, halve_bound: bool) -> Option<Ratio> {
        let rounds = ratios_by_round(
            &self.figure(&figure)?.ratio_rounds(),
            &self.figure(&bound)?.ratio_rounds(),
            halve_bound,
        );
        let values: Vec<f64> = rounds.iter().map(|&(_, ratio)| ratio).collect();
        let label = match (figure.mechanism.role(), bound.mechanism.role()) {
            (_, Role::Reference) => "Rust / C".to_owned(),
            _ if halve_bound => format!("/ {}/2", bound.mechanism.name()),
            _ if bound.mechanism == Mechanism::Memcpy => "/ memcpy".to_owned(),
            _ => format!("/ {}", bound.mechanism.label()),
        };
        Some(Ratio {
            figure,
            bound,
            halve_bound,
            label,
            spread: Spread::of(&values)?,
            per_round: rounds,
        })
    }

    /// What `key` is divided by in the tables: a round trip by its floor, the control by the
    /// futex floor, a stream by the cross-CPU transfer floor (other CPU) or memcpy/2 (same
    /// CPU), the transfer floor by memcpy. Nothing unpinned: the two processes may have shared
    /// a CPU where the bound did not.
    pub fn bound_of(&self, key: &Key) -> Option<(Key, bool)> {
        let placement = key.placement?;
        if placement == Placement::Unpinned {
            return None;
        }
        let memcpy = Key::stream(Mechanism::Memcpy, None, key.size, None);
        match (key.kind, key.mechanism.role()) {
            (Kind::RoundTrip, Role::Mechanism) => Some((
                Key::round_trip(key.mechanism.latency_floor(), placement, 0),
                false,
            )),
            (Kind::RoundTrip, Role::Control) => {
                Some((Key::round_trip(Mechanism::Futex, placement, 0), false))
            }
            (Kind::Stream, Role::Mechanism) => match placement {
                Placement::OtherCpu => Some((
                    Key::stream(Mechanism::Transfer, Some(placement), key.size, None),
                    false,
                )),
                _ => Some((memcpy, true)),
            },
            (Kind::Stream, Role::Bound) if key.mechanism == Mechanism::Transfer => {
                Some((memcpy, false))
            }
            _ => None,
        }
    }

    /// `key` over what the tables divide it by (see [`Run::bound_of`]).
    pub fn ratio_to_bound(&self, key: &Key) -> Option<Ratio> {
        let (bound, halve) = self.bound_of(key)?;
        self.ratio(*key, bound, halve)
    }

    /// "Rust against C" in `placement`: the pipe round trip over the C two-pipe ping-pong at
    /// the same size, and the futex floor over the C futex ping-pong.
    pub fn rust_over_c(&self, reference: Mechanism, placement: Placement) -> Option<Ratio> {
        let c = self
            .figures
            .iter()
            .find(|f| f.key.mechanism == reference && f.key.placement == Some(placement))?
            .key;
        let rust = match reference {
            Mechanism::CPipe => Key::round_trip(Mechanism::Pipe, placement, c.size),
            _ => Key::round_trip(Mechanism::Futex, placement, 0),
        };
        self.ratio(rust, c, false)
    }

    /// Every ratio the tables show.
    pub fn ratios(&self) -> Vec<Ratio> {
        let mut ratios: Vec<Ratio> = self
            .figures
            .iter()
            .filter_map(|figure| self.ratio_to_bound(&figure.key))
            .collect();
        for reference in Mechanism::C_REFERENCES {
            for placement in self.placements() {
                ratios.extend(self.rust_over_c(reference, placement));
            }
        }
        ratios
    }

    /// The project's targets, and how this run fared.
    pub fn targets(&self) -> Vec<Target> {
        target_list()
            .into_iter()
            .map(|(figure, bound, halve, goal)| {
                let what = match halve {
                    true => format!("{} / memcpy/2", figure.describe()),
                    false => format!("{} / {}", figure.describe(), bound.mechanism.label()),
                };
                let ratio = self.ratio(figure, bound, halve);
                let verdict = ratio.as_ref().and_then(|ratio| {
                    let values: Vec<f64> = ratio.per_round.iter().map(|&(_, r)| r).collect();
                    judge(&values, goal)
                });
                Target {
                    what,
                    ratio,
                    goal,
                    verdict,
                }
            })
            .collect()
    }

    /// The round-trip message sizes, smallest first (the bounds' 0 left out).
    pub fn round_trip_sizes(&self) -> Vec<usize> {
        sorted_unique(
            self.figures
                .iter()
                .filter(|f| {
                    f.key.kind == Kind::RoundTrip && f.key.mechanism.role() == Role::Mechanism
                })
                .map(|f| f.key.size),
        )
    }

    /// The stream message sizes, smallest first.
    pub fn stream_sizes(&self) -> Vec<usize> {
        sorted_unique(
            self.figures
                .iter()
                .filter(|f| f.key.kind == Kind::Stream)
                .map(|f| f.key.size),
        )
    }

    /// The placements measured, in table order.
    pub fn placements(&self) -> Vec<Placement> {
        sorted_unique(self.figures.iter().filter_map(|f| f.key.placement))
    }

    /// The placement the charts and the detailed tables show: across CPUs where measured.
    pub fn main_placement(&self) -> Placement {
        let placements = self.placements();
        if placements.contains(&Placement::OtherCpu) {
            Placement::OtherCpu
        } else {
            placements.first().copied().unwrap_or(Placement::Unpinned)
        }
    }

    /// The mechanisms with round trips, in table order.
    pub fn round_trip_mechanisms(&self) -> Vec<Mechanism> {
        Mechanism::ROUND_TRIP
            .into_iter()
            .filter(|&m| {
                self.figures
                    .iter()
                    .any(|f| f.key.kind == Kind::RoundTrip && f.key.mechanism == m)
            })
            .collect()
    }

    /// The streams measured, as (mechanism, buffer), in table order.
    pub fn stream_rows(&self) -> Vec<(Mechanism, Buffer)> {
        let mut rows = Vec::new();
        for mechanism in Mechanism::STREAMING {
            for &buffer in mechanism.buffers() {
                let measured = self.figures.iter().any(|f| {
                    f.key.kind == Kind::Stream
                        && f.key.mechanism == mechanism
                        && f.key.buffer == Some(buffer)
                });
                if measured {
                    rows.push((mechanism, buffer));
                }
            }
        }
        rows
    }

    /// The run in one line: the fastest mechanism in each placement at the smallest round
    /// trip and at the largest stream, and the targets.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let pinned: Vec<Placement> = self
            .placements()
            .into_iter()
            .filter(|&p| p != Placement::Unpinned)
            .collect();
        let fastest = |kind: Kind, size: usize| -> Vec<String> {
            pinned
                .iter()
                .filter_map(|&placement| {
                    let best = self
                        .figures
                        .iter()
                        .filter(|f| {
                            f.key.kind == kind
                                && f.key.size == size
                                && f.key.placement == Some(placement)
                                && f.key.mechanism.role() == Role::Mechanism
                        })
                        .min_by(|a, b| match kind {
                            Kind::RoundTrip => a.median.total_cmp(&b.median),
                            Kind::Stream => b.median.total_cmp(&a.median),
                        })?;
                    let value = match kind {
                        Kind::RoundTrip => duration(best.median),
                        Kind::Stream => format!("{} GiB/s", gib(best.median)),
                    };
                    Some(format!(
                        "{} {} {value}",
                        placement.label(),
                        best.key.label()
                    ))
                })
                .collect()
        };
        if let Some(&size) = self.round_trip_sizes().first() {
            let best = fastest(Kind::RoundTrip, size);
            if !best.is_empty() {
                parts.push(format!("fastest at {}: {}", bytes(size), best.join(", ")));
            }
        }
        if let Some(&size) = self.stream_sizes().last() {
            let best = fastest(Kind::Stream, size);
            if !best.is_empty() {
                parts.push(format!("at {}: {}", bytes(size), best.join(", ")));
            }
        }
        let targets = self.targets();
        let judged: Vec<bool> = targets
            .iter()
            .filter_map(|t| t.verdict.as_ref()?.met)
            .collect();
        let met = judged.iter().filter(|&&met| met).count();
        parts.push(match (judged.len(), self.settings.rounds) {
            (0, rounds) if rounds < crate::stats::ROUNDS_FOR_A_VERDICT => format!(
                "targets: no verdict ({} round{}; a verdict needs {})",
                rounds,
                if rounds == 1 { "" } else { "s" },
                crate::stats::ROUNDS_FOR_A_VERDICT
            ),
            (0, _) => "targets: none measured".to_owned(),
            (n, rounds) => format!(
                "targets met: {met} of {n} (by the median of {rounds} rounds){}",
                if n < targets.len() {
                    format!("; {} not measured", targets.len() - n)
                } else {
                    String::new()
                }
            ),
        });
        format!("Summary: {}.", parts.join("; "))
    }

    /// Every figure as CSV, one line each, with its ratio to its bound.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "kind,mechanism,placement,size,buffer,buffer_bytes,unit,rounds,median,min,max,p99,\
             messages,ctxt_switches_per_msg,ctxt_switches_per_mib,stalled_waits,ratio_to,\
             ratio_median,ratio_min,ratio_max\n",
        );
        let number = |value: Option<f64>| value.map(|v| format!("{v}")).unwrap_or_default();
        for figure in &self.figures {
            let key = &figure.key;
            let ratio = self.ratio_to_bound(key);
            let fields = [
                match key.kind {
                    Kind::RoundTrip => "round-trip".to_owned(),
                    Kind::Stream => "stream".to_owned(),
                },
                key.mechanism.name().to_owned(),
                key.placement
                    .map(|p| placement_name(p).to_owned())
                    .unwrap_or_default(),
                key.size.to_string(),
                key.buffer.map(|b| b.name().to_owned()).unwrap_or_default(),
                figure
                    .buffer_bytes
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
                figure.unit.clone(),
                figure.rounds.to_string(),
                number(Some(figure.median)),
                number(Some(figure.min)),
                number(Some(figure.max)),
                number(figure.p99),
                figure.messages.to_string(),
                number(figure.ctxt_switches_per_msg),
                number(figure.ctxt_switches_per_mib),
                figure.stalled_waits.to_string(),
                ratio
                    .as_ref()
                    .map(|r| {
                        let mut bound = r.bound.mechanism.name().to_owned();
                        if r.halve_bound {
                            bound.push_str("/2");
                        }
                        bound
                    })
                    .unwrap_or_default(),
                number(ratio.as_ref().map(|r| r.spread.median)),
                number(ratio.as_ref().map(|r| r.spread.min)),
                number(ratio.as_ref().map(|r| r.spread.max)),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }
}

/// The placement's name on the command line and in the files.
pub fn placement_name(placement: Placement) -> &'static str {
    match placement {
        Placement::SameCpu => "same-cpu",
        Placement::OtherCpu => "other-cpu",
        Placement::Unpinned => "unpinned",
    }
}

/// Sorted, each once.
pub fn sorted_unique<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items.dedup();
    items
}

/// `850 ns`, `3.14 µs`, `31.2 µs`, `4.20 ms`.
pub fn duration(ns: f64) -> String {
    match ns {
        n if n < 999.5 => format!("{n:.0} ns"),
        n if n < 9_995.0 => format!("{:.2} µs", n / 1e3),
        n if n < 999_500.0 => format!("{:.1} µs", n / 1e3),
        n => format!("{:.2} ms", n / 1e6),
    }
}

/// `8 B`, `2 KiB`, `1 MiB`.
pub fn bytes(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// `14.1`, `0.62`: GiB/s.
pub fn gib(value: f64) -> String {
    if value >= 9.995 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// `1.06×`, `12.3×`, `250×`.
pub fn ratio(value: f64) -> String {
    format!("{}×", ratio_number(value))
}

/// A ratio's number, without the sign: two decimals below 10, one below 100, none above.
pub fn ratio_number(value: f64) -> String {
    if value >= 99.95 {
        format!("{value:.0}")
    } else if value >= 9.995 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850.0), "850 ns");
        assert_eq!(duration(3_140.0), "3.14 µs");
        assert_eq!(duration(31_240.0), "31.2 µs");
        assert_eq!(duration(4_200_000.0), "4.20 ms");
        assert_eq!(duration(999.7), "1.00 µs");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(8), "8 B");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(1500), "1500 B");
    }

    fn round(round: usize, value: f64, messages: u64) -> Round {
        Round {
            round,
            value,
            messages,
            p99_ns: Some(2 * value as u64),
            p999_ns: None,
            max_ns: None,
            seconds: None,
            ctxt_switches: Some(2 * messages),
            stalled_waits: 0,
            buffer_bytes: None,
        }
    }

    fn run_of(figures: Vec<(Key, Vec<Round>)>, rounds: usize) -> Run {
        Run {
            format: FORMAT,
            machine: Machine {
                cpu_model: "test".into(),
                cpus_online: 2,
                cpus_pinned: vec![0, 1],
                pinned_cpus_share_a_core: false,
                kernel: "6".into(),
                scratch_dir: "/tmp".into(),
                scratch_fs: "tmpfs".into(),
                started_unix: 0,
                wall_seconds: 1.0,
            },
            settings: Settings {
                quick: false,
                rounds,
                warmup_ms: 1,
                measure_ms: 1,
                floor_ms: 1,
                max_messages: 1,
                every_byte: false,
            },
            figures: figures
                .into_iter()
                .filter_map(|(key, rounds)| Figure::from_rounds(key, rounds))
                .collect(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn a_figure_sums_up_its_rounds() {
        let key = Key::round_trip(Mechanism::Pipe, Placement::SameCpu, 8);
        let rounds = vec![
            round(0, 300.0, 100),
            round(1, 100.0, 100),
            round(2, 200.0, 50),
        ];
        let figure = Figure::from_rounds(key, rounds).unwrap();
        assert_eq!(
            (figure.rounds, figure.median, figure.min, figure.max),
            (3, 200.0, 100.0, 300.0)
        );
        assert_eq!(figure.p99, Some(400.0));
        assert_eq!(figure.messages, 250);
        assert_eq!(figure.ctxt_switches_per_msg, Some(2.0));
        assert_eq!(figure.ctxt_switches_per_mib, None);

        let stream = Key::stream(
            Mechanism::Pipe,
            Some(Placement::SameCpu),
            1 << 16,
            Some(Buffer::Default),
        );
        let figure = Figure::from_rounds(stream, vec![round(0, 1.0, 10)]).unwrap();
        assert_eq!(figure.ctxt_switches_per_mib, Some(2.0 * 16.0));
        assert!(Figure::from_rounds(stream, Vec::new()).is_none());
    }

    #[test]
    fn ratios_are_taken_round_by_round_and_skip_thin_rounds() {
        let pipe = Key::round_trip(Mechanism::Pipe, Placement::OtherCpu, 8);
        let floor = Key::round_trip(Mechanism::Futex, Placement::OtherCpu, 0);
        let run = run_of(
            vec![
                (
                    pipe,
                    vec![round(0, 220.0, 50), round(1, 55.0, 50), round(2, 300.0, 3)],
                ),
                (
                    floor,
                    vec![round(0, 200.0, 50), round(1, 50.0, 50), round(2, 100.0, 50)],
                ),
            ],
            3,
        );
        let ratio = run.ratio_to_bound(&pipe).unwrap();
        assert_eq!(ratio.bound, floor);
        assert_eq!(ratio.label, "/ futex floor");
        assert_eq!(
            ratio.spread.rounds, 2,
            "round 2 counted too few round trips"
        );
        assert!((ratio.spread.median - 1.1).abs() < 1e-12);
        // The median over the median would say 2.2: not what any round says.
        let medians = run.figure(&pipe).unwrap().median / run.figure(&floor).unwrap().median;
        assert!((medians - 2.2).abs() < 1e-12);
    }

    #[test]
    fn unpinned_figures_have_no_ratio() {
        let pipe = Key::round_trip(Mechanism::Pipe, Placement::Unpinned, 8);
        let floor = Key::round_trip(Mechanism::Futex, Placement::Unpinned, 0);
        let run = run_of(
            vec![
                (pipe, vec![round(0, 1.0, 50)]),
                (floor, vec![round(0, 1.0, 50)]),
            ],
            1,
        );
        assert!(run.ratio_to_bound(&pipe).is_none());
    }

    #[test]
    fn streams_on_one_cpu_are_divided_by_half_of_memcpy() {
        let ring = Key::stream(
            Mechanism::ShmRing,
            Some(Placement::SameCpu),
            ONE_MIB,
            Some(Buffer::OneMib),
        );
        let memcpy = Key::stream(Mechanism::Memcpy, None, ONE_MIB, None);
        let rounds = |values: &[f64]| -> Vec<Round> {
            values
                .iter()
                .enumerate()
                .map(|(n, &v)| round(n, v, 20))
                .collect()
        };
        let run = run_of(
            vec![
                (ring, rounds(&[9.0, 8.0, 10.0, 8.0, 9.5])),
                (memcpy, rounds(&[20.0; 5])),
            ],
            5,
        );
        let ratio = run.ratio_to_bound(&ring).unwrap();
        assert_eq!(ratio.label, "/ memcpy/2");
        assert!((ratio.spread.median - 0.9).abs() < 1e-12);
        let target = &run.targets()[4];
        let verdict = target.verdict.unwrap();
        assert_eq!(
            (verdict.met, verdict.rounds_held, verdict.rounds),
            (Some(true), 3, 5)
        );
        // The other targets lack their figures.
        assert!(run.targets()[..4].iter().all(|t| t.ratio.is_none()));
        assert!(
            run.summary().contains("targets met: 1 of 1"),
            "{}",
            run.summary()
        );
    }

    #[test]
    fn csv_has_a_line_per_figure_and_the_same_columns_on_each() {
        let pipe = Key::round_trip(Mechanism::Pipe, Placement::OtherCpu, 8);
        let floor = Key::round_trip(Mechanism::Futex, Placement::OtherCpu, 0);
        let run = run_of(
            vec![
                (pipe, vec![round(0, 110.0, 50)]),
                (floor, vec![round(0, 100.0, 50)]),
            ],
            1,
        );
        let csv = run.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        let columns = lines[0].split(',').count();
        assert!(lines.iter().all(|line| line.split(',').count() == columns));
        assert!(
            lines[1].starts_with(
                "round-trip,pipe,other-cpu,8,,,ns,1,110,110,110,220,50,2,,0,futex,1.1,"
            ),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn the_json_reads_back_and_an_old_run_is_named() {
        let pipe = Key::round_trip(Mechanism::Pipe, Placement::OtherCpu, 8);
        let run = run_of(
            vec![(pipe, vec![round(0, 110.0, 50), round(1, 90.0, 50)])],
            2,
        );
        let again = Run::from_json(&run.to_json()).unwrap();
        assert_eq!(again.figures.len(), 1);
        assert_eq!(again.figures[0].per_round, run.figures[0].per_round);
        assert_eq!(again.figures[0].median, 100.0);
        let old = r#"{"machine": {}, "settings": {}, "latency": [], "throughput": []}"#;
        assert!(Run::from_json(old).unwrap_err().contains("older bench"));
    }
}
