//! The training reference that drift is measured against.
//!
//! Per input feature: bin edges at the training quantiles (10 bins by default),
//! the share of training values in each bin, and the training min and max. A served
//! value falls in one of the bins, or below the minimum, or above the maximum.
//! For the output: the training share of each class (classification), or the
//! quantiles of the predictions on the training rows (regression).
//!
//! Bins are half-open, `[edge[i-1], edge[i])`, between `min` and `max` inclusive.
//! Repeated training values can make quantiles coincide; coinciding edges are
//! merged, so a feature may have fewer bins than asked for, never an empty edge.

use serde::{Deserialize, Serialize};

/// Bins per feature unless told otherwise.
pub const DEFAULT_BINS: usize = 10;

/// The reference of one input feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReference {
    pub name: String,
    pub min: f64,
    pub max: f64,
    /// Inner edges, strictly increasing, all in `(min, max]`; `edges.len() + 1` bins.
    pub edges: Vec<f64>,
    /// Training share of each bin; they sum to 1.
    pub shares: Vec<f64>,
}

/// Where a served value falls relative to a [`FeatureReference`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    BelowMin,
    Inner(usize),
    AboveMax,
}

impl Bin {
    /// The `bin` label: `below_min`, `0`…`n-1`, `above_max`.
    pub fn label(self) -> String {
        match self {
            Bin::BelowMin => "below_min".to_owned(),
            Bin::Inner(i) => i.to_string(),
            Bin::AboveMax => "above_max".to_owned(),
        }
    }
}

impl FeatureReference {
    /// Builds the reference of one feature from its training values (finite ones).
    pub fn from_values(name: &str, values: &[f64], bins: usize) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
        let mut edges: Vec<f64> = Vec::with_capacity(bins.saturating_sub(1));
        for i in 1..bins.max(1) {
            // The lower value at the i/bins quantile.
            let q = sorted[(i * sorted.len()) / bins];
            if q > min && edges.last().is_none_or(|&last| q > last) {
                edges.push(q);
            }
        }
        let mut reference = FeatureReference {
            name: name.to_owned(),
            min,
            max,
            shares: vec![0.0; edges.len() + 1],
            edges,
        };
        for &v in &sorted {
            if let Bin::Inner(i) = reference.bin(v) {
                reference.shares[i] += 1.0;
            }
        }
        let n = sorted.len() as f64;
        reference.shares.iter_mut().for_each(|s| *s /= n);
        Some(reference)
    }

    /// The bin of a served value. NaN is never served (requests refuse it).
    pub fn bin(&self, value: f64) -> Bin {
        if value < self.min {
            Bin::BelowMin
        } else if value > self.max {
            Bin::AboveMax
        } else {
            Bin::Inner(self.edges.partition_point(|&e| e <= value))
        }
    }

    /// Number of inner bins.
    pub fn bins(&self) -> usize {
        self.edges.len() + 1
    }

    /// Checks the invariants of a reference read from a file.
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if !(self.min.is_finite() && self.max.is_finite() && self.min <= self.max) {
            return Err(format!(
                "feature {name:?}: min/max are not finite and ordered"
            ));
        }
        if self.shares.len() != self.edges.len() + 1 {
            return Err(format!(
                "feature {name:?}: {} shares for {} bins",
                self.shares.len(),
                self.edges.len() + 1
            ));
        }
        let mut last = self.min;
        for &e in &self.edges {
            if !(e.is_finite() && e > last && e <= self.max) {
                return Err(format!(
                    "feature {name:?}: edges are not increasing within min/max"
                ));
            }
            last = e;
        }
        let sum: f64 = self.shares.iter().sum();
        if self.shares.iter().any(|s| !(0.0..=1.0).contains(s)) || (sum - 1.0).abs() > 1e-6 {
            return Err(format!("feature {name:?}: shares are not a distribution"));
        }
        Ok(())
    }
}

/// The reference of the model's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputReference {
    /// Training share of each class, by class id.
    ClassShares(Vec<f64>),
    /// Quantiles of the predictions on the training rows.
    PredictionQuantiles {
        quantiles: Vec<f64>,
        values: Vec<f64>,
    },
}

/// The whole training reference of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// One per feature, in the model's feature order.
    pub features: Vec<FeatureReference>,
    pub output: OutputReference,
}

impl Reference {
    /// The reference of training rows (row-major) and their class ids.
    pub fn for_classes(
        feature_names: &[String],
        rows: &[Vec<f64>],
        class_ids: &[u32],
        n_classes: usize,
        bins: usize,
    ) -> Option<Self> {
        let mut shares = vec![0.0; n_classes];
        for &c in class_ids {
            *shares.get_mut(c as usize)? += 1.0;
        }
        let n = class_ids.len().max(1) as f64;
        shares.iter_mut().for_each(|s| *s /= n);
        Some(Reference {
            features: features_of(feature_names, rows, bins)?,
            output: OutputReference::ClassShares(shares),
        })
    }

    /// The reference of training rows and the model's predictions on them.
    pub fn for_values(
        feature_names: &[String],
        rows: &[Vec<f64>],
        predictions: &[f64],
        bins: usize,
    ) -> Option<Self> {
        let mut sorted: Vec<f64> = predictions
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let quantiles: Vec<f64> = (0..=bins).map(|i| i as f64 / bins as f64).collect();
        let values = quantiles
            .iter()
            .map(|q| sorted[((q * (sorted.len() - 1) as f64).round()) as usize])
            .collect();
        Some(Reference {
            features: features_of(feature_names, rows, bins)?,
            output: OutputReference::PredictionQuantiles { quantiles, values },
        })
    }

    /// Checks a reference read from a file against the model's features and classes.
    pub fn check(&self, feature_names: &[String], n_classes: Option<usize>) -> Result<(), String> {
        if self.features.len() != feature_names.len() {
            return Err(format!(
                "the reference has {} features, the model {}",
                self.features.len(),
                feature_names.len()
            ));
        }
        for (f, name) in self.features.iter().zip(feature_names) {
            if &f.name != name {
                return Err(format!(
                    "reference feature {:?} is not model feature {name:?}",
                    f.name
                ));
            }
            f.check()?;
        }
        match (&self.output, n_classes) {
            (OutputReference::ClassShares(shares), Some(n)) if shares.len() == n => Ok(()),
            (OutputReference::ClassShares(shares), _) => Err(format!(
                "the reference has {} class shares for {n_classes:?} classes",
                shares.len()
            )),
            (OutputReference::PredictionQuantiles { quantiles, values }, None)
                if quantiles.len() == values.len() =>
            {
                Ok(())
            }
            (OutputReference::PredictionQuantiles { .. }, _) => {
                Err("prediction quantiles do not match the model's task".to_owned())
            }
        }
    }
}

fn features_of(names: &[String], rows: &[Vec<f64>], bins: usize) -> Option<Vec<FeatureReference>> {
    names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let column: Vec<f64> = rows.iter().filter_map(|r| r.get(j).copied()).collect();
            FeatureReference::from_values(name, &column, bins)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_at_quantiles_and_shares_of_the_training_values() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let r = FeatureReference::from_values("x", &values, 10).unwrap();
        assert_eq!((r.min, r.max), (0.0, 99.0));
        assert_eq!(
            r.edges,
            (1..10).map(|i| f64::from(i * 10)).collect::<Vec<_>>()
        );
        assert!(
            r.shares.iter().all(|&s| (s - 0.1).abs() < 1e-12),
            "{:?}",
            r.shares
        );
        assert_eq!(r.bin(-1.0), Bin::BelowMin);
        assert_eq!(r.bin(0.0), Bin::Inner(0));
        assert_eq!(r.bin(9.99), Bin::Inner(0));
        assert_eq!(r.bin(10.0), Bin::Inner(1));
        assert_eq!(r.bin(99.0), Bin::Inner(9));
        assert_eq!(r.bin(99.5), Bin::AboveMax);
        r.check().unwrap();
    }

    #[test]
    fn repeated_values_merge_edges_and_shares_still_sum_to_one() {
        let values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        let r = FeatureReference::from_values("x", &values, 10).unwrap();
        assert_eq!(r.edges, vec![2.0, 3.0]);
        assert_eq!(r.shares, vec![0.6, 0.2, 0.2]);
        r.check().unwrap();
        let constant = FeatureReference::from_values("c", &[5.0; 7], 10).unwrap();
        assert!(constant.edges.is_empty());
        assert_eq!(constant.shares, vec![1.0]);
        assert_eq!(constant.bin(5.0), Bin::Inner(0));
        assert_eq!(constant.bin(5.1), Bin::AboveMax);
    }

    #[test]
    fn a_corrupt_reference_is_refused() {
        let mut r = FeatureReference::from_values("x", &[1.0, 2.0, 3.0, 4.0], 4).unwrap();
        r.check().unwrap();
        r.shares[0] += 0.5;
        assert!(r.check().is_err());
        let mut r = FeatureReference::from_values("x", &[1.0, 2.0, 3.0, 4.0], 4).unwrap();
        r.edges.reverse();
        assert!(r.check().is_err());
    }

    #[test]
    fn class_shares_and_prediction_quantiles() {
        let names = vec!["a".to_owned()];
        let rows: Vec<Vec<f64>> = (0..10).map(|i| vec![f64::from(i)]).collect();
        let r =
            Reference::for_classes(&names, &rows, &[0, 0, 1, 1, 1, 1, 2, 2, 2, 2], 3, 10).unwrap();
        assert_eq!(r.output, OutputReference::ClassShares(vec![0.2, 0.4, 0.4]));
        r.check(&names, Some(3)).unwrap();
        assert!(r.check(&names, Some(2)).is_err());
        let preds: Vec<f64> = (0..=100).map(f64::from).collect();
        let r = Reference::for_values(&names, &rows, &preds, 4).unwrap();
        let OutputReference::PredictionQuantiles { quantiles, values } = &r.output else {
            panic!("quantiles expected")
        };
        assert_eq!(quantiles, &vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(values, &vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        r.check(&names, None).unwrap();
    }
}
