//! The model's instruments: `predictions_total{class}` for a classifier,
//! `prediction_value` for a regressor, `inference_duration_seconds`, and
//! `model_info{name,version,algorithm}`.

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;

use crate::model::{Model, Prediction, Task};

/// Histogram boundaries of `inference_duration_seconds` (1 µs to 100 ms).
pub const INFERENCE_BUCKETS: [f64; 16] = [
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

/// The model instruments.
#[derive(Debug)]
pub struct ModelMetrics {
    predictions: Counter<u64>,
    inference: Histogram<f64>,
    /// `class` attribute per class id, built once.
    class_attrs: Vec<[KeyValue; 1]>,
    /// The predicted values of a regression model.
    values: Option<Histogram<f64>>,
}

impl ModelMetrics {
    /// Creates the instruments and records `model_info{name,version,algorithm} = 1`.
    pub fn new(meter: &Meter, model: &Model) -> Self {
        meter
            .u64_gauge("model_info")
            .with_description("The served model: always 1, identified by its labels")
            .build()
            .record(
                1,
                &[
                    KeyValue::new("name", model.name().to_owned()),
                    KeyValue::new("version", model.version().to_owned()),
                    KeyValue::new("algorithm", model.algorithm().as_str()),
                ],
            );
        let predictions = meter
            .u64_counter("predictions")
            .with_description("Total of all predicted class, one per predicted row")
            .build();
        let class_attrs: Vec<[KeyValue; 1]> = model
            .class_names()
            .iter()
            .map(|name| [KeyValue::new("class", *name)])
            .collect();
        // Every class exists from the start at 0: a series that first appears holding
        // its whole count has no increase, and rate() would miss the first predictions.
        for attrs in &class_attrs {
            predictions.add(0, attrs);
        }
        ModelMetrics {
            predictions,
            inference: meter
                .f64_histogram("inference_duration")
                .with_unit("s")
                .with_description("Time spent in the model's predict call, in seconds")
                .with_boundaries(INFERENCE_BUCKETS.to_vec())
                .build(),
            class_attrs,
            values: (model.task() == Task::Regression).then(|| {
                meter
                    .f64_histogram("prediction_value")
                    .with_description(
                        "Values predicted by the regression model, one per predicted row",
                    )
                    .with_boundaries(model.prediction_buckets())
                    .build()
            }),
        }
    }

    pub(super) fn record(&self, elapsed_secs: f64, predictions: &[Prediction]) {
        self.inference.record(elapsed_secs, &[]);
        let mut per_class = vec![0u64; self.class_attrs.len()];
        for p in predictions {
            match p {
                Prediction::Class { class_id, .. } => {
                    if let Some(count) = per_class.get_mut(*class_id as usize) {
                        *count += 1;
                    }
                }
                Prediction::Value { value } => {
                    if let Some(values) = &self.values {
                        values.record(*value, &[]);
                    }
                }
            }
        }
        for (count, attrs) in per_class.into_iter().zip(&self.class_attrs) {
            if count > 0 {
                self.predictions.add(count, attrs);
            }
        }
    }
}
