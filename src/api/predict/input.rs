//! The body of `POST /predict` (one row or a batch, positional or by feature name)
//! and its validation, in one pass, into the model's [`Rows`].

use std::collections::HashMap;

use serde::Deserialize;

use crate::api::body::{JsonFloat, JsonRequest};
use crate::api::error::ApiError;
use crate::model::Rows;

/// Body of `POST /predict`: exactly one of the two fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// One row.
    pub features: Option<Row>,
    /// A batch of rows.
    pub instances: Option<Vec<Row>>,
}

impl JsonRequest for PredictRequest {}

/// One row of features: values in the model's feature order, or by feature name. Values
/// are read as [`JsonFloat`]s: one too large for any float is infinite, and refused with its
/// row and column by the finiteness check of [`Rows`].
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
                while let Some(JsonFloat(v)) = seq.next_element()? {
                    values.push(v);
                }
                Ok(Row::Positional(values))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut values = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, JsonFloat(v))) = map.next_entry::<String, _>()? {
                    values.push((name, v));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::body::parse_json;

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

    #[test]
    fn a_number_no_float_holds_is_refused_with_its_row_and_column() {
        let body = r#"{"instances": [[1, 2, 3, 4], {"a": 1, "b": 2, "c": -1e999, "d": 4}, [1, 1e999, 3, 4]]}"#;
        // serde_json alone refuses the body; the body's parse reads it.
        assert!(serde_json::from_str::<PredictRequest>(body).is_err());
        let parsed: PredictRequest = parse_json(body.as_bytes()).unwrap();
        let err = validate(parsed, &iris(), 8).unwrap_err();
        assert!(
            matches!(err, ApiError::NonFiniteFeature { row: 1, column: 2 }),
            "{err}"
        );
        let parsed: PredictRequest = parse_json(br#"{"features": [1, 2, 3, 1e999]}"#).unwrap();
        let err = validate(parsed, &iris(), 8).unwrap_err();
        assert_eq!(err.code(), "non_finite_feature");
        assert!(err.to_string().contains("feature 3 of row 0"), "{err}");
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
