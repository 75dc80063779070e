//! The run as the tables `bench` prints (and `bench --from-json` prints again): every figure as
//! the median over the rounds with the lowest and highest round, every ratio the same way, the
//! targets, and a one-line summary.

use std::fmt::Write as _;

use crate::measure::Placement;
use crate::mechanism::{Buffer, Mechanism};
use crate::report::{
    Figure, Key, Kind, MIN_MESSAGES, Ratio, Run, bytes, duration, gib, ratio, ratio_number,
    sorted_unique,
};
use crate::stats::{ROUNDS_FOR_A_VERDICT, Spread};

/// How wide the label column is.
const LABEL: usize = 34;
/// How wide a column is when a cell holds a figure and its range on one line.
const WIDE: usize = 21;
/// How wide a column is when a cell holds them on two lines.
const NARROW: usize = 11;
/// Tables wider than this put a figure and its range on two lines.
const MAX_WIDTH: usize = 96;

/// One row of a table: a label, and per column a figure and its ratio (either missing) and
/// a line of extra words (wake-ups).
struct Row {
    label: String,
    ratio_label: String,
    extra_label: &'static str,
    cells: Vec<Cell>,
}

#[derive(Default)]
struct Cell {
    figure: Option<(Spread, Kind)>,
    ratio: Option<Spread>,
    extra: Option<String>,
}

impl Run {
    /// The run as the tables `bench` prints, the summary line last.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        self.write_tables(&mut out).expect("writing to a String");
        // A missing figure leaves blank cells at the end of a line.
        out.lines()
            .map(|line| format!("{}\n", line.trim_end()))
            .collect()
    }

    fn write_tables(&self, out: &mut String) -> std::fmt::Result {
        self.write_header(out)?;
        let placements = self.placements();
        let titles: Vec<String> = placements.iter().map(|p| p.label().to_owned()).collect();
        let smallest = self.round_trip_sizes().first().copied();

        let bounds: Vec<Row> = Mechanism::ROUND_TRIP_BOUNDS
            .into_iter()
            .filter(|&m| self.figures.iter().any(|f| f.key.mechanism == m))
            .map(|mechanism| {
                let ratio_label = match mechanism {
                    Mechanism::FutexBusy => "/ futex floor",
                    Mechanism::CFutex => "Rust futex floor / C",
                    Mechanism::CPipe => "Rust pipe / C",
                    _ => "",
                };
                let cells = placements
                    .iter()
                    .map(|&placement| {
                        let figure = self.figures.iter().find(|f| {
                            f.key.mechanism == mechanism
                                && f.key.placement == Some(placement)
                                && f.key.kind == Kind::RoundTrip
                        });
                        let ratio = match mechanism {
                            Mechanism::CFutex | Mechanism::CPipe => {
                                self.rust_over_c(mechanism, placement)
                            }
                            _ => figure.and_then(|f| self.ratio_to_bound(&f.key)),
                        };
                        cell(figure, ratio.as_ref(), figure.and_then(sleeps_per_message))
                    })
                    .collect();
                Row {
                    label: mechanism.label().to_owned(),
                    ratio_label: ratio_label.to_owned(),
                    extra_label: "wake-ups / round trip",
                    cells,
                }
            })
            .collect();
        let c_skipped = self
            .skipped
            .iter()
            .any(|s| Mechanism::C_REFERENCES.contains(&s.mechanism));
        if !bounds.is_empty() || c_skipped {
            heading(
                out,
                &format!(
                    "Bounds, control and C references: round trip p50 with no data (the C \
                     pipe: {}); below it a ratio where there is one, then the wake-ups per round \
                     trip (the voluntary context switches of both processes: each is a sleep \
                     that a wake-up ended)",
                    bytes(self.c_pipe_size().unwrap_or(8))
                ),
            )?;
        }
        table(out, &titles, bounds)?;
        for skip in self
            .skipped
            .iter()
            .filter(|s| Mechanism::C_REFERENCES.contains(&s.mechanism))
            .take(1)
        {
            writeln!(out, "  C references: {}", skip.why)?;
        }
        if self
            .figures
            .iter()
            .any(|f| f.key.mechanism == Mechanism::FutexBusy)
        {
            writeln!(
                out,
                "  (CPUs kept busy: a SCHED_IDLE spinner on each of the two CPUs: neither idles)"
            )?;
        }

        let stream_sizes = self.stream_sizes();
        let stream_titles: Vec<String> = stream_sizes.iter().map(|&s| bytes(s)).collect();
        let stream_bounds: Vec<Row> = [
            (Mechanism::Memcpy, None, "memcpy ceiling (one process)"),
            (
                Mechanism::Transfer,
                Some(Placement::OtherCpu),
                "cross-CPU transfer floor",
            ),
        ]
        .into_iter()
        .filter(|(m, _, _)| self.figures.iter().any(|f| f.key.mechanism == *m))
        .map(|(mechanism, placement, label)| Row {
            label: label.to_owned(),
            ratio_label: "/ memcpy".into(),
            extra_label: "",
            cells: stream_sizes
                .iter()
                .map(|&size| {
                    let figure = self.stream(mechanism, placement, size, None);
                    let ratio = figure.and_then(|f| self.ratio_to_bound(&f.key));
                    cell(figure, ratio.as_ref(), None)
                })
                .collect(),
        })
        .collect();
        if !stream_bounds.is_empty() {
            heading(
                out,
                &format!(
                    "Stream bounds, GiB/s by message size: memcpy in one process (on one CPU a \
                     stream copies twice in turn: its bound is memcpy/2); across CPUs, the \
                     transfer floor, a {} ring written and read in place, with no copy",
                    bytes(crate::transport::RING_CAPACITY)
                ),
            )?;
            table(out, &stream_titles, stream_bounds)?;
        }

        if let Some(size) = smallest {
            heading(
                out,
                &format!(
                    "Round trip at {}: p50; below it / its floor (the futex floor for every \
                     mechanism that sleeps, the cache line for the one that spins), then the \
                     wake-ups per round trip",
                    bytes(size)
                ),
            )?;
            let rows = self
                .round_trip_mechanisms()
                .into_iter()
                .map(|mechanism| {
                    let cells = placements
                        .iter()
                        .map(|&placement| {
                            let figure = self.round_trip(mechanism, placement, size);
                            let ratio = figure.and_then(|f| self.ratio_to_bound(&f.key));
                            cell(figure, ratio.as_ref(), figure.and_then(sleeps_per_message))
                        })
                        .collect();
                    Row {
                        label: mechanism.label().to_owned(),
                        ratio_label: format!("/ {}", mechanism.latency_floor().label()),
                        extra_label: "wake-ups / round trip",
                        cells,
                    }
                })
                .collect();
            table(out, &titles, rows)?;
            self.write_percentiles(out, size)?;
        }

        let sizes = self.round_trip_sizes();
        if sizes.len() > 1 {
            let size_titles: Vec<String> = sizes.iter().map(|&s| bytes(s)).collect();
            for &placement in &placements {
                heading(
                    out,
                    &format!(
                        "Round trip p50 by message size, {}; below it / its floor",
                        placement.label()
                    ),
                )?;
                let rows = self
                    .round_trip_mechanisms()
                    .into_iter()
                    .map(|mechanism| Row {
                        label: mechanism.label().to_owned(),
                        ratio_label: format!("/ {}", mechanism.latency_floor().label()),
                        extra_label: "",
                        cells: sizes
                            .iter()
                            .map(|&size| {
                                let figure = self.round_trip(mechanism, placement, size);
                                let ratio = figure.and_then(|f| self.ratio_to_bound(&f.key));
                                cell(figure, ratio.as_ref(), None)
                            })
                            .collect(),
                    })
                    .collect();
                table(out, &size_titles, rows)?;
            }
        }

        if !self.stream_rows().is_empty() {
            for &placement in &placements {
                let bound = match placement {
                    Placement::OtherCpu => "below it / the cross-CPU transfer floor",
                    Placement::SameCpu => "below it / memcpy/2",
                    Placement::Unpinned => "no ratio: unpinned",
                };
                heading(
                    out,
                    &format!(
                        "Throughput in GiB/s by message size, {}; {bound}; then the wake-ups \
                         (voluntary context switches of both processes) per MiB carried",
                        placement.label()
                    ),
                )?;
                let rows = self
                    .stream_rows()
                    .into_iter()
                    .map(|(mechanism, buffer)| Row {
                        label: Key::stream(mechanism, None, 0, Some(buffer)).label(),
                        ratio_label: match placement {
                            Placement::OtherCpu => "/ transfer floor".into(),
                            _ => "/ memcpy/2".into(),
                        },
                        extra_label: "wake-ups / MiB",
                        cells: stream_sizes
                            .iter()
                            .map(|&size| {
                                let figure =
                                    self.stream(mechanism, Some(placement), size, Some(buffer));
                                let ratio = figure.and_then(|f| self.ratio_to_bound(&f.key));
                                let sleeps = figure
                                    .and_then(|f| f.ctxt_switches_per_mib)
                                    .map(|per_mib| format!("{per_mib:.1}"));
                                cell(figure, ratio.as_ref(), sleeps)
                            })
                            .collect(),
                    })
                    .collect();
                table(out, &stream_titles, rows)?;
            }
            self.write_buffers(out)?;
        }

        self.write_targets(out)?;
        self.write_skipped(out)?;
        // One line, however long: the line to grep for in a log.
        writeln!(out, "\n{}", self.summary())
    }

    fn write_header(&self, out: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        let s = &self.settings;
        writeln!(
            out,
            "{}, {} CPUs online, Linux {}; files in {} ({})",
            m.cpu_model, m.cpus_online, m.kernel, m.scratch_dir, m.scratch_fs
        )?;
        let pinned: Vec<String> = m.cpus_pinned.iter().map(|c| c.to_string()).collect();
        paragraph(
            out,
            &format!(
                "{} round{}, interleaved: every figure once per round, in the same order. Each \
                 figure: {} ms of warm-up, then {} ms ({} ms for the bounds, the control and the \
                 C references) or {} round trips (or messages). Pinned to CPU {}. The run took \
                 {:.0} s.",
                s.rounds,
                if s.rounds == 1 { "" } else { "s" },
                s.warmup_ms,
                s.measure_ms,
                s.floor_ms,
                s.max_messages,
                pinned.join(" and "),
                m.wall_seconds,
            ),
        )?;
        if m.pinned_cpus_share_a_core {
            writeln!(out, "(Those two CPUs are hyper-threads of one core.)")?;
        }
        paragraph(
            out,
            &format!(
                "A figure is the median of its rounds, with the lowest and the highest round \
                 beside or below it. A ratio is taken within each round (the figure over its \
                 bound measured in the same round), then given the same way; a round takes part \
                 only if both counted at least {MIN_MESSAGES} round trips or messages. Unpinned \
                 figures get no ratio."
            ),
        )
    }

    fn write_percentiles(&self, out: &mut String, size: usize) -> std::fmt::Result {
        let main = self.main_placement();
        heading(
            out,
            &format!(
                "Round trip at {}, {}: percentiles within a round, median over the rounds; and \
                 the round trips timed in all rounds",
                bytes(size),
                main.label()
            ),
        )?;
        let titles = ["p50", "p99", "p99.9", "max", "samples"];
        write!(out, "  {:<LABEL$}", "")?;
        for title in titles {
            write!(out, "{title:>NARROW$}")?;
        }
        writeln!(out)?;
        let mechanisms = Mechanism::ROUND_TRIP_BOUNDS
            .into_iter()
            .chain(self.round_trip_mechanisms());
        for mechanism in mechanisms {
            let figure = self.figures.iter().find(|f| {
                f.key.kind == Kind::RoundTrip
                    && f.key.mechanism == mechanism
                    && f.key.placement == Some(main)
                    && (mechanism.is_floor() || f.key.size == size)
            });
            let Some(figure) = figure else { continue };
            let of = |get: fn(&crate::report::Round) -> Option<u64>| -> String {
                let values: Vec<f64> = figure
                    .per_round
                    .iter()
                    .filter_map(get)
                    .map(|ns| ns as f64)
                    .collect();
                crate::stats::median(&values).map_or("-".into(), duration)
            };
            write!(out, "  {:<LABEL$}", mechanism.label())?;
            write!(out, "{:>NARROW$}", duration(figure.median))?;
            write!(out, "{:>NARROW$}", of(|r| r.p99_ns))?;
            write!(out, "{:>NARROW$}", of(|r| r.p999_ns))?;
            write!(out, "{:>NARROW$}", of(|r| r.max_ns))?;
            writeln!(out, "{:>NARROW$}", figure.messages)?;
        }
        Ok(())
    }

    fn write_buffers(&self, out: &mut String) -> std::fmt::Result {
        let mut seen = Vec::new();
        for (mechanism, buffer) in self.stream_rows() {
            let reported = sorted_unique(
                self.figures
                    .iter()
                    .filter(|f| f.key.mechanism == mechanism && f.key.buffer == Some(buffer))
                    .filter_map(|f| f.buffer_bytes),
            );
            if let [bytes_reported] = reported[..] {
                let how = match mechanism {
                    Mechanism::Pipe => "F_GETPIPE_SZ",
                    Mechanism::UnixSocket => "SO_SNDBUF, as getsockopt reports it",
                    Mechanism::SysvMsg => "msgmnb",
                    _ => "its size",
                };
                seen.push(format!(
                    "{} {} ({how})",
                    Key::stream(mechanism, None, 0, Some(buffer)).label(),
                    bytes(bytes_reported)
                ));
            }
        }
        if !seen.is_empty() {
            paragraph(out, &format!("  Buffers: {}.", seen.join("; ")))?;
        }
        Ok(())
    }

    fn write_targets(&self, out: &mut String) -> std::fmt::Result {
        let rounds = self.settings.rounds;
        heading(
            out,
            &format!(
                "Targets: a target is met when the median of its per-round ratios meets it ({} \
                 round{})",
                rounds,
                if rounds == 1 { "" } else { "s" }
            ),
        )?;
        for target in self.targets() {
            writeln!(out, "  {}", target.what)?;
            let Some(ratio) = &target.ratio else {
                writeln!(out, "      target {}: not measured", target.goal.describe())?;
                continue;
            };
            let verdict = match target.verdict {
                Some(v) => format!(
                    "held in {} of {} round{}: {}",
                    v.rounds_held,
                    v.rounds,
                    if v.rounds == 1 { "" } else { "s" },
                    match v.met {
                        Some(true) => "met".to_owned(),
                        Some(false) => "NOT met".to_owned(),
                        None =>
                            format!("no verdict (a verdict needs {ROUNDS_FOR_A_VERDICT} rounds)"),
                    }
                ),
                None => "no ratio".to_owned(),
            };
            writeln!(
                out,
                "      target {}, this run {}; {verdict}",
                target.goal.describe(),
                ratio_with_range(&ratio.spread)
            )?;
        }
        Ok(())
    }

    fn write_skipped(&self, out: &mut String) -> std::fmt::Result {
        if self.skipped.is_empty() {
            return Ok(());
        }
        heading(out, "Not measured")?;
        // One line per mechanism, buffer and reason, with the sizes it applies to.
        let mut reasons: Vec<(Mechanism, Option<Buffer>, &str, Vec<usize>)> = Vec::new();
        for skip in &self.skipped {
            let at = reasons.iter().position(|(m, b, why, _)| {
                *m == skip.mechanism && *b == skip.buffer && *why == skip.why
            });
            let index = at.unwrap_or_else(|| {
                reasons.push((skip.mechanism, skip.buffer, &skip.why, Vec::new()));
                reasons.len() - 1
            });
            reasons[index].3.extend(skip.size);
        }
        for (mechanism, buffer, why, sizes) in reasons {
            let sizes: Vec<String> = sorted_unique(sizes.into_iter())
                .into_iter()
                .map(bytes)
                .collect();
            let at = if sizes.is_empty() {
                String::new()
            } else {
                format!(" at {}", sizes.join(", "))
            };
            let label = Key::stream(mechanism, None, 0, buffer).label();
            writeln!(out, "  {label}{at}: {why}")?;
        }
        Ok(())
    }

    /// The size the C pipe reference ran at.
    fn c_pipe_size(&self) -> Option<usize> {
        self.figures
            .iter()
            .find(|f| f.key.mechanism == Mechanism::CPipe)
            .map(|f| f.key.size)
    }
}

/// How wide a line of text may be.
const TEXT_WIDTH: usize = 94;

/// `text` after an empty line, broken into lines of at most [`TEXT_WIDTH`].
fn heading(out: &mut String, text: &str) -> std::fmt::Result {
    writeln!(out)?;
    paragraph(out, text)
}

/// `text` broken at spaces into lines of at most [`TEXT_WIDTH`]; the lines after the first
/// are indented as the first one is.
fn paragraph(out: &mut String, text: &str) -> std::fmt::Result {
    let indent = text.len() - text.trim_start().len();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > TEXT_WIDTH {
            writeln!(out, "{line}")?;
            line.clear();
        }
        if line.is_empty() {
            line.push_str(&" ".repeat(indent));
        } else {
            line.push(' ');
        }
        line.push_str(word);
    }
    writeln!(out, "{line}")
}

/// A figure's wake-ups per message, `2.00`.
fn sleeps_per_message(figure: &Figure) -> Option<String> {
    figure.ctxt_switches_per_msg.map(|n| format!("{n:.2}"))
}

fn cell(figure: Option<&Figure>, ratio: Option<&Ratio>, extra: Option<String>) -> Cell {
    Cell {
        figure: figure.map(|f| (f.spread(), f.key.kind)),
        ratio: ratio.map(|r| r.spread),
        extra,
    }
}

/// `2.11 µs`, `14.1`.
fn value(kind: Kind, value: f64) -> String {
    match kind {
        Kind::RoundTrip => duration(value),
        Kind::Stream => gib(value),
    }
}

/// The lowest and highest round in the unit and precision of the median: `2.05–2.20` under
/// `2.11 µs`.
fn range(kind: Kind, spread: &Spread) -> String {
    if spread.rounds < 2 {
        return String::new();
    }
    let (low, high) = (spread.min, spread.max);
    match kind {
        Kind::Stream => {
            let digits = if spread.median >= 9.995 { 1 } else { 2 };
            format!("{low:.digits$}–{high:.digits$}")
        }
        Kind::RoundTrip => {
            let (scale, digits) = match spread.median {
                m if m < 999.5 => (1.0, 0),
                m if m < 9_995.0 => (1e3, 2),
                m if m < 999_500.0 => (1e3, 1),
                _ => (1e6, 2),
            };
            format!("{:.digits$}–{:.digits$}", low / scale, high / scale)
        }
    }
}

/// `1.06× (1.01–1.20)`, or `1.06×` for one round.
fn ratio_with_range(spread: &Spread) -> String {
    match spread.rounds {
        0 | 1 => ratio(spread.median),
        _ => format!(
            "{} ({}–{})",
            ratio(spread.median),
            ratio_number(spread.min),
            ratio_number(spread.max)
        ),
    }
}

/// A table: the column titles, then each row's lines; nothing without a row.
fn table(out: &mut String, titles: &[String], rows: Vec<Row>) -> std::fmt::Result {
    if rows.is_empty() {
        return Ok(());
    }
    let wide = 2 + LABEL + titles.len() * WIDE <= MAX_WIDTH;
    let width = if wide { WIDE } else { NARROW };
    write!(out, "  {:<LABEL$}", "")?;
    for title in titles {
        write!(out, "{title:>width$}")?;
    }
    writeln!(out)?;
    for row in rows {
        let mut lines: Vec<(String, Vec<String>)> = Vec::new();
        let figures = row.cells.iter().map(|c| match &c.figure {
            Some((spread, kind)) if wide && spread.rounds > 1 => {
                format!("{} ({})", value(*kind, spread.median), range(*kind, spread))
            }
            Some((spread, kind)) => value(*kind, spread.median),
            None => "-".into(),
        });
        lines.push((row.label.clone(), figures.collect()));
        if !wide {
            let ranges = row.cells.iter().map(|c| match &c.figure {
                Some((spread, kind)) => range(*kind, spread),
                None => String::new(),
            });
            lines.push((String::new(), ranges.collect()));
        }
        if row.cells.iter().any(|c| c.ratio.is_some()) {
            let ratios = row.cells.iter().map(|c| match &c.ratio {
                Some(spread) if wide => ratio_with_range(spread),
                Some(spread) => ratio(spread.median),
                None => String::new(),
            });
            lines.push((format!("  {}", row.ratio_label), ratios.collect()));
            if !wide {
                let ranges = row.cells.iter().map(|c| match &c.ratio {
                    Some(spread) if spread.rounds > 1 => {
                        format!("{}–{}", ratio_number(spread.min), ratio_number(spread.max))
                    }
                    _ => String::new(),
                });
                lines.push((String::new(), ranges.collect()));
            }
        }
        if row.cells.iter().any(|c| c.extra.is_some()) {
            let extras = row
                .cells
                .iter()
                .map(|c| c.extra.clone().unwrap_or_default());
            lines.push((format!("  {}", row.extra_label), extras.collect()));
        }
        for (label, cells) in lines {
            if cells.iter().all(String::is_empty) && label.is_empty() {
                continue;
            }
            write!(out, "  {label:<LABEL$}")?;
            for text in cells {
                write!(out, "{text:>width$}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}
