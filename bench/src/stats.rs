//! Percentiles of latency samples, the median and spread of repeated measurements, and the
//! comparison of two servers round by round.

/// The `quantile` (0..=1) of `sorted`, by nearest rank; `None` if it is empty.
pub fn percentile(sorted: &[u64], quantile: f64) -> Option<u64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (quantile.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(last)])
}

/// The median of repeated measurements of one figure, with their range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest measurement.
    pub min: f64,
    /// The largest measurement.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` if there are none (NaNs are ignored).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut values: Vec<f64> = values.into_iter().filter(|value| !value.is_nan()).collect();
        values.sort_by(f64::total_cmp);
        let (&min, &max) = (values.first()?, values.last()?);
        let middle = values.len() / 2;
        let median = if values.len() % 2 == 0 {
            (values[middle - 1] + values[middle]) / 2.0
        } else {
            values[middle]
        };
        Some(Spread { median, min, max })
    }
}

/// How one server compared with another over the rounds in which both were measured.
///
/// Within a round the servers run one after another, seconds apart; between rounds the
/// machine drifts (other guests, frequency, caches). The ratio of two servers within one
/// round cancels that drift, so the median of the per-round ratios is steadier than the
/// ratio of the two medians, and the count of rounds won says how often the order held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Paired {
    /// The median of `ours / theirs` over the rounds.
    pub median_ratio: f64,
    /// The rounds in which ours was better: higher or lower, as the figure wants.
    pub better: usize,
    /// The rounds in which both were measured.
    pub rounds: usize,
}

impl Paired {
    /// Compares `ours` with `theirs` round by round (the same index is the same round); a
    /// round where either is missing or `theirs` is not positive is skipped. `None` if no
    /// round is left.
    pub fn of(
        ours: &[Option<f64>],
        theirs: &[Option<f64>],
        higher_is_better: bool,
    ) -> Option<Paired> {
        let ratios: Vec<f64> = ours
            .iter()
            .zip(theirs)
            .filter_map(|(&ours, &theirs)| Some((ours?, theirs.filter(|&theirs| theirs > 0.0)?)))
            .map(|(ours, theirs)| ours / theirs)
            .collect();
        let better = ratios
            .iter()
            .filter(|&&ratio| if higher_is_better { ratio > 1.0 } else { ratio < 1.0 })
            .count();
        let rounds = ratios.len();
        Some(Paired { median_ratio: Spread::of(ratios)?.median, better, rounds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&samples, 0.5), Some(500));
        assert_eq!(percentile(&samples, 0.99), Some(990));
        assert_eq!(percentile(&samples, 0.999), Some(999));
        assert_eq!(percentile(&samples, 1.0), Some(1000));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn spread_of_repeats() {
        let spread = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!(spread, Spread { median: 2.0, min: 1.0, max: 3.0 });
        assert_eq!(Spread::of([1.0, 2.0]).unwrap().median, 1.5);
        assert_eq!(Spread::of([]), None);
    }

    #[test]
    fn paired_rounds_cancel_drift() {
        // The machine slows down by half in the second round; ours is 10 % ahead in both.
        let ours = [Some(110.0), Some(55.0), None];
        let theirs = [Some(100.0), Some(50.0), Some(70.0)];
        let paired = Paired::of(&ours, &theirs, true).unwrap();
        assert!((paired.median_ratio - 1.1).abs() < 1e-9);
        assert_eq!((paired.better, paired.rounds), (2, 2));
        // For a figure where lower is better, the same rounds are lost.
        assert_eq!(Paired::of(&ours, &theirs, false).unwrap().better, 0);
        assert_eq!(Paired::of(&[None], &[Some(1.0)], true), None);
        assert_eq!(Paired::of(&[Some(1.0)], &[Some(0.0)], true), None);
    }
}
