//! An upper bound on the work of predicting one row, from the fitted model alone.
//!
//! Every parameter of a fitted model is read at most once per predicted row: a
//! tree visits each of its nodes at most once on the way down (the structure is
//! checked acyclic at load), a linear model multiplies each coefficient once. So
//! the count of numbers in the serialized model bounds the work per row, whatever
//! the algorithm. The server uses it to run small predictions where they arrive
//! and send large ones to the inference threads.

use serde::Serialize;
use serde_json::Value;

/// The number of numeric parameters of a serializable model.
pub fn work_per_row<M: Serialize>(model: &M) -> u64 {
    serde_json::to_value(model).map_or(u64::MAX, |v| numbers(&v))
}

fn numbers(value: &Value) -> u64 {
    match value {
        Value::Number(_) => 1,
        Value::Array(items) => items.iter().map(numbers).sum(),
        Value::Object(fields) => fields.values().map(numbers).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_number_at_any_depth() {
        let v =
            serde_json::json!({"a": [1, 2, {"b": 3.5, "c": "x"}], "d": null, "e": [[4], [5, 6]]});
        assert_eq!(numbers(&v), 6);
        assert_eq!(work_per_row(&vec![1.0f32; 10]), 10);
    }
}

#[cfg(test)]
mod model_tests {
    use crate::model::train::{train, Algorithm, TrainOptions};

    #[test]
    fn the_bound_orders_the_algorithms_by_size() {
        let work = |algorithm| {
            train(&TrainOptions {
                algorithm,
                ..TrainOptions::default()
            })
            .unwrap()
            .into_model()
            .work_per_row()
        };
        let (forest, tree, linear) = (
            work(Algorithm::RandomForest),
            work(Algorithm::DecisionTree),
            work(Algorithm::LogisticRegression),
        );
        println!("work per row: forest {forest}, tree {tree}, logistic regression {linear}");
        assert!(forest > 10 * tree, "{forest} vs {tree}");
        assert!(tree > linear, "{tree} vs {linear}");
        assert!(linear >= 12, "3 classes x 4 features at least: {linear}");
    }
}
