//! Input-drift monitoring: every served feature value counted into the bins of the
//! model's training reference ([`crate::model::reference`]).
//!
//! Exported (names as Prometheus shows them):
//! - `model_input_values_total{feature, bin}`: served values per bin, `bin` being
//!   `below_min`, `0`…`n-1` or `above_max`;
//! - `model_input_reference_share{feature, bin}`: the training share of each bin (0 for
//!   `below_min` and `above_max`), so the population stability index (PSI) of each
//!   feature can be computed in PromQL (see monitoring/prometheus/rules/drift.yml);
//! - `model_output_reference_share{class}`: the training share of each class.
//!
//! Cardinality is bounded: at most `max_features` features × (bins + 2) series each.
//! Counting is one binary search over ≤ 9 edges and one relaxed atomic add per value;
//! the counters are read by an observable instrument only when metrics are collected.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};
use opentelemetry::KeyValue;

use crate::model::reference::{Bin, FeatureReference, OutputReference, Reference};
use crate::model::Rows;

/// Series slots of one feature: below_min, the inner bins, above_max.
fn slots(feature: &FeatureReference) -> usize {
    feature.bins() + 2
}

fn slot(feature: &FeatureReference, value: f64) -> usize {
    match feature.bin(value) {
        Bin::BelowMin => 0,
        Bin::Inner(i) => i + 1,
        Bin::AboveMax => feature.bins() + 1,
    }
}

fn slot_bin(feature: &FeatureReference, slot: usize) -> Bin {
    match slot {
        0 => Bin::BelowMin,
        s if s == feature.bins() + 1 => Bin::AboveMax,
        s => Bin::Inner(s - 1),
    }
}

/// The counters of the monitored features.
#[derive(Debug)]
struct Counts {
    features: Vec<FeatureReference>,
    /// Start of each feature's slots in `counts`.
    offsets: Vec<usize>,
    counts: Box<[AtomicU64]>,
    /// `[feature, bin]` labels of every slot, built once.
    labels: Vec<[KeyValue; 2]>,
    /// The training share of every slot.
    reference_shares: Vec<f64>,
}

/// Counts served inputs into the training bins.
#[derive(Debug)]
pub struct InputMonitor {
    counts: Arc<Counts>,
    _values: ObservableCounter<u64>,
    _reference: ObservableGauge<f64>,
    _output_reference: Option<ObservableGauge<f64>>,
}

impl InputMonitor {
    /// Monitors the first `max_features` features of the reference.
    pub fn new(
        meter: &Meter,
        reference: &Reference,
        class_names: &[&'static str],
        max_features: usize,
    ) -> Self {
        let features: Vec<FeatureReference> = reference
            .features
            .iter()
            .take(max_features)
            .cloned()
            .collect();
        let mut offsets = Vec::with_capacity(features.len());
        let mut labels = Vec::new();
        let mut reference_shares = Vec::new();
        for feature in &features {
            offsets.push(labels.len());
            for s in 0..slots(feature) {
                let bin = slot_bin(feature, s);
                labels.push([
                    KeyValue::new("feature", feature.name.clone()),
                    KeyValue::new("bin", bin.label()),
                ]);
                reference_shares.push(match bin {
                    Bin::Inner(i) => feature.shares[i],
                    Bin::BelowMin | Bin::AboveMax => 0.0,
                });
            }
        }
        let counts = Arc::new(Counts {
            features,
            offsets,
            counts: (0..labels.len()).map(|_| AtomicU64::new(0)).collect(),
            labels,
            reference_shares,
        });
        let values = {
            let counts = counts.clone();
            meter
                .u64_observable_counter("model_input_values")
                .with_description(
                    "Served feature values, counted into the bins of the model's training reference",
                )
                .with_callback(move |observer| {
                    for (count, labels) in counts.counts.iter().zip(&counts.labels) {
                        observer.observe(count.load(Ordering::Relaxed), labels);
                    }
                })
                .build()
        };
        let reference_gauge = {
            let counts = counts.clone();
            meter
                .f64_observable_gauge("model_input_reference_share")
                .with_description("Share of the training values of a feature in each bin")
                .with_callback(move |observer| {
                    for (share, labels) in counts.reference_shares.iter().zip(&counts.labels) {
                        observer.observe(*share, labels);
                    }
                })
                .build()
        };
        let output_reference = match &reference.output {
            OutputReference::ClassShares(shares) if shares.len() == class_names.len() => {
                let series: Vec<(f64, [KeyValue; 1])> = shares
                    .iter()
                    .zip(class_names)
                    .map(|(share, class)| (*share, [KeyValue::new("class", *class)]))
                    .collect();
                Some(
                    meter
                        .f64_observable_gauge("model_output_reference_share")
                        .with_description("Share of each class among the training labels")
                        .with_callback(move |observer| {
                            for (share, labels) in &series {
                                observer.observe(*share, labels);
                            }
                        })
                        .build(),
                )
            }
            _ => None,
        };
        InputMonitor {
            counts,
            _values: values,
            _reference: reference_gauge,
            _output_reference: output_reference,
        }
    }

    /// Counts the values of served rows (each row in the model's feature order).
    pub fn observe(&self, rows: &Rows) {
        let counts = &self.counts;
        for row in rows.iter() {
            for ((feature, offset), &value) in counts.features.iter().zip(&counts.offsets).zip(row)
            {
                counts.counts[offset + slot(feature, f64::from(value))]
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many features are monitored.
    pub fn features(&self) -> usize {
        self.counts.features.len()
    }
}
