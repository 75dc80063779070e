//! The run as SVG charts, drawn with plotters: round-trip p50 against message size, and
//! throughput against message size, each with its floors.

use plotters::prelude::*;

use crate::measure::Placement;
use crate::report::{Run, bytes};
use crate::transport::Mechanism;

/// Chart width and height in pixels: the book's 900 px column, two charts one above the other.
pub const SIZE: (u32, u32) = (880, 1180);

/// One colour per mechanism, readable on white (the chart's own background in every theme).
fn colour(mechanism: Mechanism) -> RGBColor {
    match mechanism {
        Mechanism::Pipe => RGBColor(31, 119, 180),
        Mechanism::Fifo => RGBColor(255, 127, 14),
        Mechanism::UnixSocket => RGBColor(44, 160, 44),
        Mechanism::SysvMsg => RGBColor(214, 39, 40),
        Mechanism::PosixMq => RGBColor(148, 103, 189),
        Mechanism::ShmSem => RGBColor(140, 86, 75),
        Mechanism::ShmFutex => RGBColor(227, 119, 194),
        Mechanism::MmapFile => RGBColor(128, 128, 0),
        Mechanism::ShmOpen => RGBColor(23, 190, 207),
        Mechanism::ShmSpin => RGBColor(0, 0, 0),
        Mechanism::ShmRing => RGBColor(227, 119, 194),
        Mechanism::CacheLine => RGBColor(0, 0, 0),
        Mechanism::Futex | Mechanism::Memcpy => RGBColor(110, 110, 110),
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

/// One chart: its title, its axes (log, message size across), and its lines.
struct Panel {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    sizes: Vec<usize>,
    /// The vertical axis, from..to.
    y: (f64, f64),
    /// Dashed, without dots: the floors.
    floors: Vec<(Mechanism, Vec<(f64, f64)>)>,
    /// Solid, with a dot at each figure: the mechanisms.
    lines: Vec<(Mechanism, Vec<(f64, f64)>)>,
    legend: SeriesLabelPosition,
}

fn latency(run: &Run, placement: Placement, area: &Area) -> Result<(), Failed> {
    let sizes = run.latency_sizes();
    let (Some(&low), Some(&high)) = (sizes.first(), sizes.last()) else {
        return Ok(());
    };
    let micros = |ns: u64| ns as f64 / 1e3;
    let times: Vec<f64> = run
        .latency
        .iter()
        .filter(|row| row.placement == placement)
        .map(|row| micros(row.times.p50_ns))
        .collect();
    let (min, max) = bounds(&times);
    let floors = Mechanism::LATENCY_FLOORS
        .into_iter()
        .filter_map(|floor| {
            let us = micros(run.latency(floor, placement, 0)?.times.p50_ns);
            Some((floor, vec![(low as f64, us), (high as f64, us)]))
        })
        .collect();
    let lines = run
        .round_trip_mechanisms()
        .into_iter()
        .map(|mechanism| {
            let points = sizes
                .iter()
                .filter_map(|&size| run.latency(mechanism, placement, size))
                .map(|row| (row.size as f64, micros(row.times.p50_ns)))
                .collect();
            (mechanism, points)
        })
        .collect();
    let panel = Panel {
        title: format!("Round trip, p50, {} (lower is better)", placement.label()),
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
    let sizes = run.throughput_sizes();
    if sizes.is_empty() {
        return Ok(());
    }
    let rates: Vec<f64> = run.throughput.iter().map(|row| row.gib_per_s).collect();
    let (min, max) = bounds(&rates);
    let points = |mechanism: Mechanism, placement: Option<Placement>| -> Vec<(f64, f64)> {
        sizes
            .iter()
            .filter_map(|&size| run.throughput(mechanism, placement, size))
            .map(|row| (row.size as f64, row.gib_per_s))
            .collect()
    };
    let floors = vec![(Mechanism::Memcpy, points(Mechanism::Memcpy, None))];
    let lines = run
        .streaming_mechanisms()
        .into_iter()
        .map(|mechanism| (mechanism, points(mechanism, Some(placement))))
        .collect();
    let panel = Panel {
        title: format!("Throughput, {} (higher is better)", placement.label()),
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
    for (floor, points) in panel.floors {
        let style = colour(floor).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(points, 8, 6, style))?
            .label(floor.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 22, y)], style));
    }
    for (mechanism, points) in panel.lines {
        let style = colour(mechanism).stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(mechanism.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 22, y)], style));
        chart.draw_series(
            points
                .into_iter()
                .map(|point| Circle::new(point, 3, colour(mechanism).filled())),
        )?;
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

fn bounds(values: &[f64]) -> (f64, f64) {
    let positive = values.iter().copied().filter(|v| *v > 0.0);
    let min = positive.clone().fold(f64::INFINITY, f64::min);
    let max = positive.fold(0.0, f64::max);
    if min.is_finite() && max > 0.0 {
        (min, max)
    } else {
        (0.1, 10.0)
    }
}
