//! The run as SVG charts, drawn with plotters: round-trip p50 against message size, and
//! throughput against message size, each with its bounds. Every point is the median over the
//! rounds, with a whisker from the lowest to the highest round.

use plotters::prelude::*;

use crate::measure::Placement;
use crate::mechanism::{Buffer, Mechanism};
use crate::report::{Figure, Run, bytes};

/// Chart width and height in pixels: the book's 900 px column, two charts one above the other.
pub const SIZE: (u32, u32) = (880, 1180);

/// One colour per mechanism (and buffer), readable on white (the chart's own background in
/// every theme).
fn colour(mechanism: Mechanism, buffer: Option<Buffer>) -> RGBColor {
    let one_mib = buffer == Some(Buffer::OneMib);
    match mechanism {
        Mechanism::Pipe if one_mib => RGBColor(110, 175, 225),
        Mechanism::Pipe => RGBColor(31, 119, 180),
        Mechanism::Fifo => RGBColor(255, 127, 14),
        Mechanism::UnixSocket if one_mib => RGBColor(120, 200, 110),
        Mechanism::UnixSocket => RGBColor(44, 160, 44),
        Mechanism::SysvMsg => RGBColor(214, 39, 40),
        Mechanism::PosixMq => RGBColor(148, 103, 189),
        Mechanism::ShmSem => RGBColor(140, 86, 75),
        Mechanism::ShmFutex => RGBColor(227, 119, 194),
        Mechanism::MmapFile => RGBColor(128, 128, 0),
        Mechanism::ShmOpen => RGBColor(23, 190, 207),
        Mechanism::ShmSpin => RGBColor(0, 0, 0),
        Mechanism::ShmRing => RGBColor(227, 119, 194),
        Mechanism::CacheLine | Mechanism::Transfer => RGBColor(0, 0, 0),
        Mechanism::FutexBusy => RGBColor(180, 180, 180),
        _ => RGBColor(110, 110, 110),
    }
}

/// Draws both charts for `placement` into an SVG document.
pub fn svg(run: &Run, placement: Placement) -> Result<String, String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(SIZE.1 / 2 + 40);
        latency(run, placement, &top).map_err(|e| e.to_string())?;
        throughput(run, placement, &bottom).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Failed = Box<dyn std::error::Error>;

/// A point of a line: at a size, the median, the lowest and the highest round.
#[derive(Clone, Copy)]
struct Point {
    x: f64,
    median: f64,
    min: f64,
    max: f64,
}

/// A line of a chart: its label, colour and points.
struct Line {
    label: String,
    colour: RGBColor,
    points: Vec<Point>,
}

/// One chart: its title, its axes (log, message size across), and its lines.
struct Panel {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    sizes: Vec<usize>,
    /// The vertical axis, from..to.
    y: (f64, f64),
    /// Dashed, without dots: the bounds.
    floors: Vec<Line>,
    /// Solid, with a dot and a whisker at each figure: the mechanisms.
    lines: Vec<Line>,
    legend: SeriesLabelPosition,
}

fn point(figure: &Figure, x: f64, scale: f64) -> Point {
    Point {
        x,
        median: figure.median * scale,
        min: figure.min * scale,
        max: figure.max * scale,
    }
}

fn latency(run: &Run, placement: Placement, area: &Area) -> Result<(), Failed> {
    let sizes = run.round_trip_sizes();
    let (Some(&low), Some(&high)) = (sizes.first(), sizes.last()) else {
        return Ok(());
    };
    let micros = 1e-3;
    let floors: Vec<Line> = [Mechanism::CacheLine, Mechanism::Futex, Mechanism::FutexBusy]
        .into_iter()
        .filter_map(|floor| {
            let figure = run.round_trip(floor, placement, 0)?;
            Some(Line {
                label: floor.label().to_owned(),
                colour: colour(floor, None),
                points: vec![
                    point(figure, low as f64, micros),
                    point(figure, high as f64, micros),
                ],
            })
        })
        .collect();
    let lines: Vec<Line> = run
        .round_trip_mechanisms()
        .into_iter()
        .map(|mechanism| Line {
            label: mechanism.label().to_owned(),
            colour: colour(mechanism, None),
            points: sizes
                .iter()
                .filter_map(|&size| run.round_trip(mechanism, placement, size))
                .map(|figure| point(figure, figure.key.size as f64, micros))
                .collect(),
        })
        .collect();
    let (min, max) = bounds(&floors, &lines);
    let panel = Panel {
        title: format!(
            "Round trip p50, {}: median, lowest–highest round",
            placement.label()
        ),
        x_desc: "message size each way",
        y_desc: "microseconds",
        sizes,
        y: (min / 1.5, max * 1.5),
        floors,
        lines,
        // Between the lines that sleep (tens of µs) and the one that spins (below a µs).
        legend: SeriesLabelPosition::MiddleLeft,
    };
    draw(panel, area)
}

fn throughput(run: &Run, placement: Placement, area: &Area) -> Result<(), Failed> {
    let sizes = run.stream_sizes();
    if sizes.is_empty() {
        return Ok(());
    }
    let line = |mechanism: Mechanism, at: Option<Placement>, buffer: Option<Buffer>| Line {
        label: match buffer {
            Some(buffer) => format!("{}, {}", mechanism.label(), buffer.label()),
            None => mechanism.label().to_owned(),
        },
        colour: colour(mechanism, buffer),
        points: sizes
            .iter()
            .filter_map(|&size| run.stream(mechanism, at, size, buffer))
            .map(|figure| point(figure, figure.key.size as f64, 1.0))
            .collect(),
    };
    let mut floors = vec![line(Mechanism::Memcpy, None, None)];
    if placement == Placement::OtherCpu {
        floors.push(line(Mechanism::Transfer, Some(placement), None));
    }
    floors.retain(|floor| !floor.points.is_empty());
    let lines: Vec<Line> = run
        .stream_rows()
        .into_iter()
        .map(|(mechanism, buffer)| line(mechanism, Some(placement), Some(buffer)))
        .collect();
    let (min, max) = bounds(&floors, &lines);
    let panel = Panel {
        title: format!(
            "Throughput, {}: median, lowest–highest round",
            placement.label()
        ),
        x_desc: "message size",
        y_desc: "GiB/s",
        sizes,
        // Room above the highest line for the legend.
        y: (min / 1.5, max * 10.0),
        floors,
        lines,
        legend: SeriesLabelPosition::UpperLeft,
    };
    draw(panel, area)
}

fn draw(panel: Panel, area: &Area) -> Result<(), Failed> {
    let (low, high) = (panel.sizes[0], panel.sizes[panel.sizes.len() - 1]);
    let key_points = panel.sizes.iter().map(|&size| size as f64).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 22))
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (low as f64..high as f64)
                .log_scale()
                .with_key_points(key_points),
            (panel.y.0..panel.y.1).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc(panel.x_desc)
        .y_desc(panel.y_desc)
        .x_label_formatter(&|size| bytes(*size as usize))
        .y_label_formatter(&|value| format!("{value}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for floor in panel.floors {
        let style = floor.colour.stroke_width(2);
        let medians = floor.points.iter().map(|p| (p.x, p.median));
        chart
            .draw_series(DashedLineSeries::new(medians, 8, 6, style))?
            .label(floor.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 22, y)], style));
    }
    for line in panel.lines {
        let style = line.colour.stroke_width(2);
        let medians: Vec<(f64, f64)> = line.points.iter().map(|p| (p.x, p.median)).collect();
        chart
            .draw_series(LineSeries::new(medians.clone(), style))?
            .label(line.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 22, y)], style));
        chart.draw_series(
            medians
                .into_iter()
                .map(|point| Circle::new(point, 3, line.colour.filled())),
        )?;
        // The whiskers: from the lowest round to the highest, with short caps.
        let whisker = line.colour.stroke_width(1);
        chart.draw_series(
            line.points
                .iter()
                .filter(|p| p.max > p.min)
                .map(|p| PathElement::new([(p.x, p.min), (p.x, p.max)], whisker)),
        )?;
        for cap in [0.96, 1.0 / 0.96] {
            chart.draw_series(line.points.iter().filter(|p| p.max > p.min).flat_map(|p| {
                [p.min, p.max].map(|y| PathElement::new([(p.x * cap, y), (p.x, y)], whisker))
            }))?;
        }
    }
    legend(&mut chart, panel.legend)
}

fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), Failed>
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The lowest and highest value the lines reach (whiskers included).
fn bounds(floors: &[Line], lines: &[Line]) -> (f64, f64) {
    let values = floors
        .iter()
        .chain(lines)
        .flat_map(|line| &line.points)
        .flat_map(|p| [p.min, p.max])
        .filter(|v| *v > 0.0);
    let min = values.clone().fold(f64::INFINITY, f64::min);
    let max = values.fold(0.0, f64::max);
    if min.is_finite() && max > 0.0 {
        (min, max)
    } else {
        (0.1, 10.0)
    }
}
