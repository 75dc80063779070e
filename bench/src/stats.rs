//! Percentiles of round-trip times.

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

#[cfg(test)]
mod tests {
    use super::*;

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
