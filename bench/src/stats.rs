//! Percentiles of round-trip times within a round; medians and ranges over rounds; ratios
//! computed round by round, and whether a target held.

use serde::{Deserialize, Serialize};

/// The summary of one cell's round trips, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many round trips were timed (after the warm-up).
    pub samples: usize,
    /// The median.
    pub p50_ns: u64,
    /// 99% of the round trips took at most this long.
    pub p99_ns: u64,
    /// 99.9% took at most this long.
    pub p999_ns: u64,
    /// The slowest.
    pub max_ns: u64,
}

/// The value at or below which `percent` % of `sorted` lie, by the nearest-rank method: the
/// `ceil(percent / 100 * n)`-th smallest value, `percent` taken to a tenth. Every answer is one
/// of the samples.
///
/// Panics on an empty slice.
pub fn nearest_rank(sorted: &[u64], percent: f64) -> u64 {
    assert!(!sorted.is_empty(), "no samples");
    // In whole tenths of a percent: 99.9 / 100 * 1000 is 999.0000000000001 in floating point,
    // whose ceiling would be rank 1000.
    let per_mille = (percent * 10.0).round() as usize;
    let rank = (sorted.len() * per_mille).div_ceil(1000);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Percentiles {
    /// Sorts `samples` and summarises them. `None` when there are none.
    pub fn of(samples: &mut [u64]) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(Percentiles {
            samples: samples.len(),
            p50_ns: nearest_rank(samples, 50.0),
            p99_ns: nearest_rank(samples, 99.0),
            p999_ns: nearest_rank(samples, 99.9),
            max_ns: *samples.last().expect("not empty"),
        })
    }
}

/// The middle value of `values` (the mean of the two middle ones for an even count); `None`
/// when there are none. NaN values are left out.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(match sorted.len() % 2 {
        1 => sorted[middle],
        _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
    })
}

/// One figure over the rounds of a run: the median round, the lowest and the highest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// How many rounds gave a value.
    pub rounds: usize,
    /// The median over the rounds.
    pub median: f64,
    /// The lowest round.
    pub min: f64,
    /// The highest round.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, one per round; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let kept: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        Some(Spread {
            rounds: kept.len(),
            median: median(&kept)?,
            min: kept.iter().copied().fold(f64::INFINITY, f64::min),
            max: kept.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// The ratio of a figure to its bound in every round that has both: `figure / bound`, each
/// from the same round, never a median divided by a median. `halve_bound` divides the bound
/// by two first (memcpy/2). A bound of 0 gives no ratio.
pub fn ratios_by_round(
    figure: &[(usize, f64)],
    bound: &[(usize, f64)],
    halve_bound: bool,
) -> Vec<(usize, f64)> {
    figure
        .iter()
        .filter_map(|&(round, value)| {
            let &(_, floor) = bound.iter().find(|(r, _)| *r == round)?;
            let floor = if halve_bound { floor / 2.0 } else { floor };
            (floor > 0.0).then_some((round, value / floor))
        })
        .collect()
}

/// What a ratio must be for a target to hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// At most this (a round trip over its floor).
    AtMost(f64),
    /// At least this (a throughput over its bound).
    AtLeast(f64),
}

impl Goal {
    /// Whether `ratio` meets the goal.
    pub fn holds(self, ratio: f64) -> bool {
        match self {
            Goal::AtMost(limit) => ratio <= limit,
            Goal::AtLeast(limit) => ratio >= limit,
        }
    }

    /// `≤ 1.15×`, `≥ 0.75×`.
    pub fn describe(self) -> String {
        match self {
            Goal::AtMost(limit) => format!("≤ {limit:.2}×"),
            Goal::AtLeast(limit) => format!("≥ {limit:.2}×"),
        }
    }
}

/// How a target fared over the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The rounds in which the ratio met the goal.
    pub rounds_held: usize,
    /// The rounds with a ratio (the ratio's `rounds`).
    #[serde(skip)]
    pub rounds: usize,
    /// Whether the median ratio meets the goal: the target's verdict. `None` with fewer than
    /// [`ROUNDS_FOR_A_VERDICT`] rounds: one round decides nothing on a machine whose figures
    /// drift from one minute to the next.
    pub met: Option<bool>,
}

/// The fewest rounds whose median can decide a target.
pub const ROUNDS_FOR_A_VERDICT: usize = 3;

/// How `ratios` (one per round) fare against `goal`: in how many rounds they held, and met
/// when their median meets it (no verdict with fewer than [`ROUNDS_FOR_A_VERDICT`] rounds).
/// `None` without a ratio.
pub fn judge(ratios: &[f64], goal: Goal) -> Option<Verdict> {
    let median = median(ratios)?;
    Some(Verdict {
        rounds_held: ratios.iter().filter(|&&r| goal.holds(r)).count(),
        rounds: ratios.len(),
        met: (ratios.len() >= ROUNDS_FOR_A_VERDICT).then(|| goal.holds(median)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn a_spread_is_median_min_and_max_over_rounds() {
        let spread = Spread::of(&[52.0, 33.0, 48.0, 53.0, 43.0]).unwrap();
        assert_eq!(
            spread,
            Spread {
                rounds: 5,
                median: 48.0,
                min: 33.0,
                max: 53.0
            }
        );
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn ratios_pair_each_round_with_its_own_bound() {
        // The bound drifts; the figure follows it: per round the ratio is steady, although the
        // median of the figure over the median of the bound would not say so.
        let figure = [(0, 110.0), (1, 55.0), (2, 220.0), (4, 1.0)];
        let bound = [(0, 100.0), (1, 50.0), (2, 200.0), (3, 7.0), (4, 0.0)];
        let ratios = ratios_by_round(&figure, &bound, false);
        assert_eq!(
            ratios.len(),
            3,
            "round 3 has no figure, round 4 a zero bound"
        );
        for (round, ratio) in &ratios {
            assert!((ratio - 1.1).abs() < 1e-12, "round {round}: {ratio}");
        }
        let halved = ratios_by_round(&[(0, 5.0)], &[(0, 20.0)], true);
        assert_eq!(halved, vec![(0, 0.5)]);
    }

    #[test]
    fn a_target_is_met_by_its_median_and_counts_the_rounds_that_held() {
        let at_most = Goal::AtMost(1.10);
        let verdict = judge(&[1.05, 1.12, 1.08, 1.20, 1.09], at_most).unwrap();
        assert_eq!(
            verdict,
            Verdict {
                rounds_held: 3,
                rounds: 5,
                met: Some(true)
            }
        );
        let missed = judge(&[1.05, 1.12, 1.15, 1.20, 1.09], at_most).unwrap();
        assert_eq!((missed.rounds_held, missed.met), (2, Some(false)));
        let at_least = Goal::AtLeast(0.75);
        assert_eq!(judge(&[0.8, 0.7, 0.76], at_least).unwrap().met, Some(true));
        assert!(at_least.holds(0.75) && at_most.holds(1.10));
    }

    #[test]
    fn too_few_rounds_give_no_verdict() {
        let one = judge(&[1.0], Goal::AtMost(1.1)).unwrap();
        assert_eq!((one.rounds_held, one.rounds, one.met), (1, 1, None));
        assert_eq!(judge(&[1.0, 1.2], Goal::AtMost(1.1)).unwrap().met, None);
        assert_eq!(judge(&[], Goal::AtMost(1.1)), None);
    }

    #[test]
    fn one_to_a_thousand() {
        let mut samples: Vec<u64> = (1..=1000).rev().collect();
        let summary = Percentiles::of(&mut samples).unwrap();
        assert_eq!(
            summary,
            Percentiles {
                samples: 1000,
                p50_ns: 500,
                p99_ns: 990,
                p999_ns: 999,
                max_ns: 1000
            }
        );
    }

    #[test]
    fn few_samples_give_the_top_ones() {
        let mut samples = vec![30, 10, 20];
        let summary = Percentiles::of(&mut samples).unwrap();
        assert_eq!(summary.p50_ns, 20);
        assert_eq!(summary.p99_ns, 30);
        assert_eq!(summary.p999_ns, 30);
        assert_eq!(summary.max_ns, 30);
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let summary = Percentiles::of(&mut [7]).unwrap();
        assert_eq!(
            (
                summary.p50_ns,
                summary.p99_ns,
                summary.p999_ns,
                summary.max_ns
            ),
            (7, 7, 7, 7)
        );
    }

    #[test]
    fn one_outlier_in_a_hundred_shows_at_p99_9_not_p99() {
        let mut samples = vec![100; 99];
        samples.push(1_000_000);
        let summary = Percentiles::of(&mut samples).unwrap();
        assert_eq!(summary.p50_ns, 100);
        assert_eq!(summary.p99_ns, 100);
        assert_eq!(summary.p999_ns, 1_000_000);
    }

    #[test]
    fn nearest_rank_never_leaves_the_slice() {
        let sorted = [1, 2, 3];
        assert_eq!(nearest_rank(&sorted, 0.0), 1);
        assert_eq!(nearest_rank(&sorted, 100.0), 3);
        assert_eq!(nearest_rank(&sorted, 33.4), 2);
        assert_eq!(nearest_rank(&sorted, 33.3), 1);
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Percentiles::of(&mut []), None);
    }
}
