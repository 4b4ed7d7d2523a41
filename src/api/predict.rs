//! `POST /predict`: request and response types, validation, and the model metrics
//! (`predictions_total{class}` for a classifier, `prediction_value` for a regressor,
//! `inference_duration_seconds`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{body, faults, limits, AppState};
use crate::model::{Model, PredictError, Prediction, Rows, Task};

/// Histogram boundaries of `inference_duration_seconds` (1 µs to 100 ms).
pub const INFERENCE_BUCKETS: [f64; 16] = [
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

/// Body of `POST /predict`: exactly one of the two fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// One row.
    pub features: Option<Row>,
    /// A batch of rows.
    pub instances: Option<Vec<Row>>,
}

/// One row of features: values in the model's feature order, or by feature name.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Positional(Vec<f64>),
    Named(Vec<(String, f64)>),
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;

        impl<'de> serde::de::Visitor<'de> for RowVisitor {
            type Value = Row;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of numbers or an object of feature name to number")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Row, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(v) = seq.next_element::<f64>()? {
                    values.push(v);
                }
                Ok(Row::Positional(values))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut values = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, f64>()? {
                    values.push(entry);
                }
                Ok(Row::Named(values))
            }
        }

        deserializer.deserialize_any(RowVisitor)
    }
}

/// The model's features by position and by name, built once.
#[derive(Debug)]
pub struct Features {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
}

impl Features {
    pub fn new(names: &[String]) -> Self {
        Features {
            names: names.to_vec(),
            by_name: names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of a feature by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Orders a named row by the model's features.
    fn order(&self, r: usize, named: Vec<(String, f64)>) -> Result<Vec<f64>, ApiError> {
        let mut row = vec![f64::NAN; self.names.len()];
        let mut seen = vec![false; self.names.len()];
        for (name, value) in named {
            let Some(i) = self.index(&name) else {
                return Err(ApiError::UnknownFeature {
                    row: r,
                    name,
                    known: self.names.join(", "),
                });
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(ApiError::DuplicateFeature { row: r, name });
            }
            row[i] = value;
        }
        match seen.iter().position(|seen| !seen) {
            Some(i) => Err(ApiError::MissingFeature {
                row: r,
                name: self.names[i].clone(),
            }),
            None => Ok(row),
        }
    }
}

/// Which model answered.
#[derive(Debug, Serialize)]
pub struct ModelRef<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// Body of a successful `POST /predict`, one prediction per row in request order.
#[derive(Debug, Serialize)]
pub struct PredictResponse<'a> {
    pub predictions: Vec<Prediction>,
    pub model: ModelRef<'a>,
}

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

    fn record(&self, elapsed_secs: f64, predictions: &[Prediction]) {
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

/// Checks shape and values in one pass, returning the rows as the model takes them.
pub fn validate(
    request: PredictRequest,
    features: &Features,
    max_batch: usize,
) -> Result<Rows, ApiError> {
    let rows = match (request.features, request.instances) {
        (Some(_), Some(_)) => return Err(ApiError::AmbiguousInput),
        (Some(row), None) => vec![row],
        (None, Some(rows)) => rows,
        (None, None) => {
            return Err(ApiError::InvalidBody(
                "missing field `features` (one row) or `instances` (a batch of rows)".to_owned(),
            ))
        }
    };
    if rows.is_empty() {
        return Err(ApiError::EmptyBatch);
    }
    if rows.len() > max_batch {
        return Err(ApiError::BatchTooLarge {
            max: max_batch,
            got: rows.len(),
        });
    }
    let mut out = Rows::with_capacity(features.len(), rows.len());
    for (r, row) in rows.into_iter().enumerate() {
        match row {
            Row::Positional(values) => out.push(values)?,
            Row::Named(named) => out.push(features.order(r, named)?)?,
        }
    }
    Ok(out)
}

/// Runs the model on validated rows, recording the model metrics.
pub fn run(
    model: &Model,
    metrics: &ModelMetrics,
    rows: &Rows,
) -> Result<Vec<Prediction>, PredictError> {
    let started = Instant::now();
    let predictions = model.predict(rows)?;
    metrics.record(started.elapsed().as_secs_f64(), &predictions);
    Ok(predictions)
}

/// Runs the model and counts the inputs into the drift bins.
fn predict_and_observe(state: &AppState, rows: &Rows) -> Result<Vec<Prediction>, PredictError> {
    let predictions = run(&state.model, &state.model_metrics, rows)?;
    if let Some(monitor) = &state.input_monitor {
        monitor.observe(rows);
    }
    Ok(predictions)
}

/// Admission, then within the request timeout: the injected delay, if any, and the
/// model on the inference pool. Shared by `/predict` and the V2 `infer`.
pub async fn predict_rows(
    state: &Arc<AppState>,
    rows: Rows,
    fault: Option<faults::Fault>,
) -> Result<Vec<Prediction>, ApiError> {
    let _slot = state.admission.admit()?;
    limits::within(state.request_timeout, async {
        if let Some(fault) = fault {
            fault.delay().await;
        }
        let work = (rows.len() as u64).saturating_mul(state.model.work_per_row());
        if work <= state.inline_work {
            // Small and bounded (the model's structure is checked at load): run it
            // here rather than pay for a hop to another thread and back.
            return predict_and_observe(state, &rows).map_err(|error| {
                tracing::error!(%error, "prediction failed");
                ApiError::Internal
            });
        }
        let job_state = state.clone();
        state
            .inference
            .run(move || predict_and_observe(&job_state, &rows))
            .await
            .map_err(|e| e.to_string())
            .and_then(|predicted| predicted.map_err(|e| e.to_string()))
            .map_err(|error| {
                tracing::error!(%error, "prediction failed");
                ApiError::Internal
            })
    })
    .await
}

/// `POST /predict`: fault (if enabled) → body → validation → admission →
/// within the timeout: injected delay, then the model on the inference pool.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fault = if state.enable_faults {
        faults::requested(&headers)?
    } else {
        None
    };
    if let Some(fault) = fault {
        fault.fail_early()?;
    }
    let request: PredictRequest = body::read_json(&headers, body, state.body_limits).await?;
    let rows = validate(request, &state.features, state.max_batch)?;
    let predictions = predict_rows(&state, rows, fault).await?;
    Ok(Json(PredictResponse {
        predictions,
        model: ModelRef {
            name: state.model.name(),
            version: state.model.version(),
        },
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(features: Option<Vec<f64>>, instances: Option<Vec<Vec<f64>>>) -> PredictRequest {
        PredictRequest {
            features: features.map(Row::Positional),
            instances: instances.map(|rows| rows.into_iter().map(Row::Positional).collect()),
        }
    }

    fn iris() -> Features {
        Features::new(&["a", "b", "c", "d"].map(String::from))
    }

    fn named(pairs: &[(&str, f64)]) -> Row {
        Row::Named(pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
    }

    #[test]
    fn named_rows_are_ordered_by_the_model_and_bad_names_are_named() {
        let one = |row| {
            validate(
                PredictRequest {
                    features: Some(row),
                    instances: None,
                },
                &iris(),
                8,
            )
        };
        let ok = one(named(&[("d", 4.0), ("b", 2.0), ("a", 1.0), ("c", 3.0)])).unwrap();
        assert_eq!(ok, rows(&[[1.0, 2.0, 3.0, 4.0]]));
        let err = one(named(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("e", 4.0)])).unwrap_err();
        assert!(
            matches!(&err, ApiError::UnknownFeature { name, .. } if name == "e"),
            "{err}"
        );
        let err = one(named(&[("a", 1.0), ("b", 2.0), ("c", 3.0)])).unwrap_err();
        assert!(
            matches!(&err, ApiError::MissingFeature { name, .. } if name == "d"),
            "{err}"
        );
        let err = one(named(&[("a", 1.0), ("a", 2.0), ("c", 3.0), ("d", 4.0)])).unwrap_err();
        assert!(
            matches!(&err, ApiError::DuplicateFeature { name, .. } if name == "a"),
            "{err}"
        );
        let parsed: PredictRequest = serde_json::from_str(
            r#"{"instances": [[1, 2, 3, 4], {"a": 1, "b": 2, "c": 3, "d": 4}]}"#,
        )
        .unwrap();
        assert_eq!(
            validate(parsed, &iris(), 8).unwrap(),
            rows(&[[1.0, 2.0, 3.0, 4.0]; 2])
        );
    }

    fn rows(values: &[[f32; 4]]) -> Rows {
        Rows::from_rows(4, values.iter().copied()).unwrap()
    }

    fn validate_4(request: PredictRequest, _n: usize, max_batch: usize) -> Result<Rows, ApiError> {
        validate(request, &iris(), max_batch)
    }

    #[test]
    fn validation_names_the_offending_row_and_column() {
        let ok = validate_4(req(Some(vec![1.0, 2.0, 3.0, 4.0]), None), 4, 8).unwrap();
        assert_eq!(ok, rows(&[[1.0, 2.0, 3.0, 4.0]]));
        let err = validate_4(
            req(None, Some(vec![vec![1.0; 4], vec![1.0, 2.0, 1e300, 4.0]])),
            4,
            8,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ApiError::NonFiniteFeature { row: 1, column: 2 }
        ));
        let err = validate_4(req(None, Some(vec![vec![1.0; 4], vec![1.0; 3]])), 4, 8).unwrap_err();
        assert!(matches!(
            err,
            ApiError::WrongFeatureCount {
                row: 1,
                expected: 4,
                got: 3
            }
        ));
        assert!(matches!(
            validate_4(req(None, Some(vec![])), 4, 8),
            Err(ApiError::EmptyBatch)
        ));
        assert!(matches!(
            validate_4(req(None, Some(vec![vec![1.0; 4]; 9])), 4, 8),
            Err(ApiError::BatchTooLarge { max: 8, got: 9 })
        ));
        assert!(matches!(
            validate_4(req(Some(vec![1.0; 4]), Some(vec![vec![1.0; 4]])), 4, 8),
            Err(ApiError::AmbiguousInput)
        ));
        assert!(matches!(
            validate_4(req(None, None), 4, 8),
            Err(ApiError::InvalidBody(_))
        ));
    }
}
