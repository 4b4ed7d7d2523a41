//! goose transactions: pick a prepared request from the traffic, send it stating the
//! status it expects, and count the answer (no JSON tree per response: a 200
//! prediction is checked by counting its `predictions` without keeping them).

use std::sync::OnceLock;

use goose::prelude::*;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::counters::{Counters, COUNTERS};
use crate::traffic::{Method, Planned, Traffic};

/// The traffic of this run, built before the attack starts.
pub static TRAFFIC: OnceLock<Traffic> = OnceLock::new();

fn traffic() -> &'static Traffic {
    TRAFFIC.get().expect("traffic is built before the attack")
}

#[derive(Deserialize)]
struct Predictions {
    predictions: Vec<IgnoredAny>,
}

/// The number of predictions in a `/predict` answer, if it has that shape.
pub fn prediction_count(body: &[u8]) -> Option<usize> {
    serde_json::from_slice::<Predictions>(body)
        .ok()
        .map(|p| p.predictions.len())
}

async fn send(user: &mut GooseUser, req: Planned<'static>) -> TransactionResult {
    let method = match req.method {
        Method::Get => GooseMethod::Get,
        Method::Post => GooseMethod::Post,
    };
    let mut builder = user.get_request_builder(&method, req.path)?;
    if let Some(body) = req.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    if let Some((name, value)) = req.header {
        builder = builder.header(name, value);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(req.path)
        .name(req.name)
        .expect_status_code(req.expect)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            COUNTERS.record_status(status);
            if status != req.expect {
                Counters::add(&COUNTERS.unexpected_status, 1);
            }
            if req.drifted {
                Counters::add(&COUNTERS.drifted_requests, 1);
                Counters::add(&COUNTERS.drifted_rows, req.rows);
            }
            // Read the whole body so the connection is reused.
            let body = response.bytes().await.unwrap_or_default();
            if status == 200 && req.rows > 0 {
                Counters::add(&COUNTERS.rows_predicted, req.rows);
                if prediction_count(&body) != Some(req.rows as usize) {
                    Counters::add(&COUNTERS.bad_prediction_bodies, 1);
                }
            }
        }
        Err(_) => Counters::add(&COUNTERS.transport_errors, 1),
    }
    Ok(())
}

/// 200: one row (`features`) or a batch (`instances`).
pub async fn predict_ok(user: &mut GooseUser) -> TransactionResult {
    send(user, traffic().ok()).await
}

/// One of the mix file's client errors (422, 400, 404 by default), evenly.
pub async fn client_error(user: &mut GooseUser) -> TransactionResult {
    match traffic().client_error() {
        Some(req) => send(user, req).await,
        None => Ok(()),
    }
}

/// A fault injected with the mix file's header (500, 503 by default), evenly.
pub async fn server_error(user: &mut GooseUser) -> TransactionResult {
    send(user, traffic().server_error()).await
}

#[cfg(test)]
mod tests {
    use super::prediction_count;

    #[test]
    fn prediction_count_reads_the_shape_not_the_values() {
        let two =
            br#"{"predictions":[{"class":"setosa","probabilities":{"setosa":1.0}},{"value":2.5}]}"#;
        assert_eq!(prediction_count(two), Some(2));
        assert_eq!(prediction_count(br#"{"predictions":[]}"#), Some(0));
        assert_eq!(prediction_count(br#"{"error":"x","message":"y"}"#), None);
        assert_eq!(prediction_count(b"not json"), None);
    }
}
