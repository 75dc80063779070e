//! A run's figures: kept as JSON, printed as tables.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::measure::Placement;
use crate::stats::Percentiles;
use crate::transport::Mechanism;

/// Everything one run measured, and on what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// The machine.
    pub machine: Machine,
    /// How the run was made.
    pub settings: Settings,
    /// Round trips, the floors included (message size 0).
    pub latency: Vec<LatencyRow>,
    /// Streams, the `memcpy` floor included (placement `None`).
    pub throughput: Vec<ThroughputRow>,
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
    #[serde(default)]
    pub pinned_cpus_share_a_core: bool,
    /// /proc/sys/kernel/osrelease.
    pub kernel: String,
    /// Where the FIFOs and the mapped file were, and that file system's type.
    pub scratch_dir: String,
    /// The scratch directory's file system (`ext4`, `tmpfs`, ...).
    pub scratch_fs: String,
    /// When the run started, in seconds since 1970.
    pub started_unix: u64,
}

/// How the run was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `--quick`.
    pub quick: bool,
    /// Warm-up per measurement, in ms.
    pub warmup_ms: u64,
    /// Counted stretch per measurement, in ms.
    pub measure_ms: u64,
    /// Counted stretch per floor, in ms (as `measure_ms` unless `--floor-ms`).
    #[serde(default)]
    pub floor_ms: u64,
    /// At most this many round trips or messages counted per measurement.
    pub max_messages: usize,
    /// Whether every streamed byte was compared (slower).
    pub every_byte: bool,
}

/// One round-trip measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyRow {
    /// What was measured.
    pub mechanism: Mechanism,
    /// Where the two processes ran.
    pub placement: Placement,
    /// The message size each way, in bytes (0 for the floors).
    pub size: usize,
    /// The round-trip times.
    #[serde(flatten)]
    pub times: Percentiles,
    /// Futex waits that timed out although their event had come: lost wake-ups. Always 0
    /// unless something is wrong.
    #[serde(default)]
    pub stalled_waits: u64,
}

/// One throughput measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputRow {
    /// What was measured.
    pub mechanism: Mechanism,
    /// Where the two processes ran; `None` for `memcpy` (one process).
    pub placement: Option<Placement>,
    /// The message size in bytes.
    pub size: usize,
    /// Messages counted.
    pub messages: u64,
    /// Over this many seconds.
    pub seconds: f64,
    /// GiB per second.
    pub gib_per_s: f64,
    /// Futex waits that timed out although their event had come (see [`LatencyRow`]).
    #[serde(default)]
    pub stalled_waits: u64,
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
    /// Why not.
    pub why: String,
}

impl Run {
    /// The round trip of `mechanism` at `size` in `placement`. A floor is measured twice per
    /// placement, before and after the mechanisms: the faster of the two is the floor.
    pub fn latency(
        &self,
        mechanism: Mechanism,
        placement: Placement,
        size: usize,
    ) -> Option<&LatencyRow> {
        self.latency
            .iter()
            .filter(|row| {
                row.mechanism == mechanism && row.placement == placement && row.size == size
            })
            .min_by_key(|row| row.times.p50_ns)
    }

    /// The floor a round trip of `mechanism` in `placement` is compared with.
    pub fn latency_floor(&self, mechanism: Mechanism, placement: Placement) -> Option<&LatencyRow> {
        self.latency(mechanism.latency_floor(), placement, 0)
    }

    /// `mechanism`'s p50 at `size` over its floor's p50, in the same placement.
    pub fn latency_ratio(
        &self,
        mechanism: Mechanism,
        placement: Placement,
        size: usize,
    ) -> Option<f64> {
        let row = self.latency(mechanism, placement, size)?;
        let floor = self.latency_floor(mechanism, placement)?;
        Some(row.times.p50_ns as f64 / floor.times.p50_ns.max(1) as f64)
    }

    /// The stream of `mechanism` at `size` in `placement` (`None` for memcpy).
    pub fn throughput(
        &self,
        mechanism: Mechanism,
        placement: Option<Placement>,
        size: usize,
    ) -> Option<&ThroughputRow> {
        self.throughput.iter().find(|row| {
            row.mechanism == mechanism && row.placement == placement && row.size == size
        })
    }

    /// `mechanism`'s GiB/s at `size` over memcpy's at that size.
    pub fn throughput_ratio(
        &self,
        mechanism: Mechanism,
        placement: Placement,
        size: usize,
    ) -> Option<f64> {
        let row = self.throughput(mechanism, Some(placement), size)?;
        let floor = self.throughput(Mechanism::Memcpy, None, size)?;
        Some(row.gib_per_s / floor.gib_per_s)
    }

    /// The message sizes the round trips used, smallest first (the floors' 0 left out).
    pub fn latency_sizes(&self) -> Vec<usize> {
        sorted_unique(
            self.latency
                .iter()
                .map(|row| row.size)
                .filter(|&size| size > 0),
        )
    }

    /// The message sizes the streams used.
    pub fn throughput_sizes(&self) -> Vec<usize> {
        sorted_unique(self.throughput.iter().map(|row| row.size))
    }

    /// The placements measured, in table order.
    pub fn placements(&self) -> Vec<Placement> {
        sorted_unique(self.latency.iter().map(|row| row.placement))
    }

    /// The mechanisms with round trips, in table order (floors left out).
    pub fn round_trip_mechanisms(&self) -> Vec<Mechanism> {
        Mechanism::ROUND_TRIP
            .into_iter()
            .filter(|&m| self.latency.iter().any(|row| row.mechanism == m))
            .collect()
    }

    /// The mechanisms with streams, in table order (memcpy left out).
    pub fn streaming_mechanisms(&self) -> Vec<Mechanism> {
        Mechanism::STREAMING
            .into_iter()
            .filter(|&m| self.throughput.iter().any(|row| row.mechanism == m))
            .collect()
    }

    /// A round-trip table's cell: the p50, and its ratio to the floor.
    fn round_trip_cell(&self, mechanism: Mechanism, placement: Placement, size: usize) -> Cell {
        (
            self.latency(mechanism, placement, size)
                .map(|row| duration(row.times.p50_ns)),
            self.latency_ratio(mechanism, placement, size).map(ratio),
        )
    }

    /// A throughput table's cell: the GiB/s, and its ratio to memcpy.
    fn stream_cell(&self, mechanism: Mechanism, placement: Placement, size: usize) -> Cell {
        (
            self.throughput(mechanism, Some(placement), size)
                .map(|row| gib(row.gib_per_s)),
            self.throughput_ratio(mechanism, placement, size).map(ratio),
        )
    }

    /// The run as the tables `bench` prints.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        self.write_tables(&mut out).expect("writing to a String");
        // A missing figure leaves blank ratio cells at the end of a line.
        out.lines()
            .map(|line| format!("{}\n", line.trim_end()))
            .collect()
    }

    fn write_tables(&self, out: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        let s = &self.settings;
        writeln!(
            out,
            "{}, {} CPUs online, Linux {}; files in {} ({})",
            m.cpu_model, m.cpus_online, m.kernel, m.scratch_dir, m.scratch_fs
        )?;
        writeln!(
            out,
            "Each figure: {} ms of warm-up, then {} ms or {} round trips (or messages). Pinned \
             to CPU {}.",
            s.warmup_ms,
            s.measure_ms,
            s.max_messages,
            m.cpus_pinned
                .iter()
                .map(|cpu| cpu.to_string())
                .collect::<Vec<_>>()
                .join(" and "),
        )?;
        if m.pinned_cpus_share_a_core {
            writeln!(out, "(Those two CPUs are hyper-threads of one core.)")?;
        }
        let placements = self.placements();
        let sizes = self.latency_sizes();
        let smallest = sizes.first().copied();
        let main = if placements.contains(&Placement::OtherCpu) {
            Placement::OtherCpu
        } else {
            placements.first().copied().unwrap_or(Placement::Unpinned)
        };

        writeln!(
            out,
            "\nBounds: the round-trip floors, p50 with no data; the memcpy ceiling, in one process"
        )?;
        header(
            out,
            BY_PLACEMENT,
            placements.iter().map(|p| p.label().to_owned()),
        )?;
        for floor in Mechanism::LATENCY_FLOORS {
            let figures = placements.iter().map(|&placement| {
                self.latency(floor, placement, 0)
                    .map(|row| duration(row.times.p50_ns))
            });
            two_lines(
                out,
                BY_PLACEMENT,
                floor.label(),
                figures,
                std::iter::empty(),
            )?;
        }
        let copies: Vec<String> = self
            .throughput_sizes()
            .into_iter()
            .filter_map(|size| self.throughput(Mechanism::Memcpy, None, size))
            .map(|row| format!("{} {}", bytes(row.size), gib(row.gib_per_s)))
            .collect();
        if !copies.is_empty() {
            writeln!(out, "  memcpy GiB/s: {}", copies.join(" · "))?;
        }

        if let Some(size) = smallest {
            writeln!(
                out,
                "\nRound trip at {}: p50, and below it p50 / its floor's p50 in the same placement",
                bytes(size)
            )?;
            header(
                out,
                BY_PLACEMENT,
                placements.iter().map(|p| p.label().to_owned()),
            )?;
            let by_placement =
                |mechanism, placement| self.round_trip_cell(mechanism, placement, size);
            rows(
                out,
                BY_PLACEMENT,
                self.round_trip_mechanisms(),
                &placements,
                by_placement,
            )?;

            writeln!(
                out,
                "\nRound trip at {}, {}: percentiles, and below them / the floor's",
                bytes(size),
                main.label()
            )?;
            let titles = ["p50", "p99", "p99.9", "max", "samples"];
            header(out, PERCENTILES, titles.into_iter().map(str::to_owned))?;
            for mechanism in Mechanism::LATENCY_FLOORS
                .into_iter()
                .chain(self.round_trip_mechanisms())
            {
                let at = if mechanism.is_floor() { 0 } else { size };
                let (Some(row), floor) = (
                    self.latency(mechanism, main, at),
                    self.latency_floor(mechanism, main),
                ) else {
                    continue;
                };
                let t = &row.times;
                let values = [t.p50_ns, t.p99_ns, t.p999_ns, t.max_ns];
                let mut figures: Vec<Option<String>> =
                    values.iter().map(|&ns| Some(duration(ns))).collect();
                figures.push(Some(t.samples.to_string()));
                let ratios: Vec<Option<String>> = match floor {
                    Some(floor) if !mechanism.is_floor() => {
                        let f = &floor.times;
                        let floors = [f.p50_ns, f.p99_ns, f.p999_ns, f.max_ns];
                        values
                            .iter()
                            .zip(floors)
                            .map(|(&v, f)| Some(ratio(v as f64 / f.max(1) as f64)))
                            .collect()
                    }
                    _ => Vec::new(),
                };
                two_lines(
                    out,
                    PERCENTILES,
                    mechanism.label(),
                    figures.into_iter(),
                    ratios.into_iter(),
                )?;
            }
        }

        if sizes.len() > 1 {
            writeln!(
                out,
                "\nRound trip p50 by message size, {}, and below it / its floor's p50",
                main.label()
            )?;
            header(out, BY_SIZE, sizes.iter().map(|&size| bytes(size)))?;
            let by_size = |mechanism, size| self.round_trip_cell(mechanism, main, size);
            rows(out, BY_SIZE, self.round_trip_mechanisms(), &sizes, by_size)?;
        }

        let stream_sizes = self.throughput_sizes();
        if !self.streaming_mechanisms().is_empty() {
            writeln!(
                out,
                "\nThroughput in GiB/s by message size, {}, and below it / memcpy's at that size",
                main.label()
            )?;
            header(out, BY_SIZE, stream_sizes.iter().map(|&size| bytes(size)))?;
            let by_size = |mechanism, size| self.stream_cell(mechanism, main, size);
            rows(
                out,
                BY_SIZE,
                self.streaming_mechanisms(),
                &stream_sizes,
                by_size,
            )?;
            if let Some(&largest) = stream_sizes.last() {
                writeln!(
                    out,
                    "\nThroughput at {} by placement, GiB/s and / memcpy",
                    bytes(largest)
                )?;
                header(
                    out,
                    BY_PLACEMENT,
                    placements.iter().map(|p| p.label().to_owned()),
                )?;
                let by_placement =
                    |mechanism, placement| self.stream_cell(mechanism, placement, largest);
                let mechanisms = self.streaming_mechanisms();
                rows(out, BY_PLACEMENT, mechanisms, &placements, by_placement)?;
            }
        }

        if !self.skipped.is_empty() {
            writeln!(out, "\nNot measured")?;
            // One line per mechanism and reason, with the sizes it applies to.
            let mut reasons: Vec<(Mechanism, &str, Vec<usize>)> = Vec::new();
            for skip in &self.skipped {
                let at = reasons
                    .iter()
                    .position(|(m, why, _)| *m == skip.mechanism && *why == skip.why);
                let index = at.unwrap_or_else(|| {
                    reasons.push((skip.mechanism, &skip.why, Vec::new()));
                    reasons.len() - 1
                });
                reasons[index].2.extend(skip.size);
            }
            for (mechanism, why, sizes) in reasons {
                let sizes: Vec<String> = sorted_unique(sizes.into_iter())
                    .into_iter()
                    .map(bytes)
                    .collect();
                let at = if sizes.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", sizes.join(", "))
                };
                writeln!(out, "  {}{at}: {why}", mechanism.label())?;
            }
        }
        Ok(())
    }
}

/// How wide a table's label column and its cells are.
#[derive(Clone, Copy)]
struct Columns {
    label: usize,
    cell: usize,
}

/// The tables by placement.
const BY_PLACEMENT: Columns = Columns {
    label: 28,
    cell: 14,
};
/// The table of percentiles.
const PERCENTILES: Columns = Columns {
    label: 28,
    cell: 10,
};
/// The tables by message size.
const BY_SIZE: Columns = Columns { label: 22, cell: 9 };

/// A figure and its ratio to its floor, either missing ("-" and blank).
type Cell = (Option<String>, Option<String>);

/// One row per mechanism: its figure in each column (a placement or a size), and the ratios on
/// the line below.
fn rows<C: Copy>(
    out: &mut String,
    columns: Columns,
    mechanisms: Vec<Mechanism>,
    across: &[C],
    cell: impl Fn(Mechanism, C) -> Cell,
) -> std::fmt::Result {
    for mechanism in mechanisms {
        let (figures, ratios): (Vec<_>, Vec<_>) =
            across.iter().map(|&c| cell(mechanism, c)).unzip();
        two_lines(
            out,
            columns,
            mechanism.label(),
            figures.into_iter(),
            ratios.into_iter(),
        )?;
    }
    Ok(())
}

/// A table's column titles, over its label column.
fn header(
    out: &mut String,
    columns: Columns,
    titles: impl Iterator<Item = String>,
) -> std::fmt::Result {
    two_lines(out, columns, "", titles.map(Some), std::iter::empty())
}

/// A row of figures after its label, and the ratios on the line below (if there are any).
fn two_lines(
    out: &mut String,
    columns: Columns,
    label: &str,
    figures: impl Iterator<Item = Option<String>>,
    ratios: impl Iterator<Item = Option<String>>,
) -> std::fmt::Result {
    let Columns { label: wide, cell } = columns;
    write!(out, "  {label:<wide$}")?;
    for figure in figures {
        write!(out, "{:>cell$}", figure.unwrap_or_else(|| "-".into()))?;
    }
    writeln!(out)?;
    let ratios: Vec<Option<String>> = ratios.collect();
    if ratios.iter().any(Option::is_some) {
        write!(out, "  {:<wide$}", "")?;
        for ratio in ratios {
            write!(out, "{:>cell$}", ratio.unwrap_or_default())?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn sorted_unique<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items.dedup();
    items
}

/// `850 ns`, `3.14 µs`, `31.2 µs`, `4.20 ms`.
pub fn duration(ns: u64) -> String {
    let ns = ns as f64;
    match ns {
        n if n < 1_000.0 => format!("{n:.0} ns"),
        n if n < 10_000.0 => format!("{:.2} µs", n / 1e3),
        n if n < 1_000_000.0 => format!("{:.1} µs", n / 1e3),
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

fn gib(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn ratio(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}×")
    } else if value >= 10.0 {
        format!("{value:.1}×")
    } else {
        format!("{value:.2}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(3_140), "3.14 µs");
        assert_eq!(duration(31_240), "31.2 µs");
        assert_eq!(duration(4_200_000), "4.20 ms");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(8), "8 B");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(1500), "1500 B");
    }
}
