//! Pre-flight probes: the host answers `GET /healthz`, and (when server errors are in
//! the mix) it injects faults. The fault probe is a real request the server counts,
//! so it is counted here too.

use std::time::Duration;

use serde::Deserialize;

use crate::counters::{Counters, COUNTERS};
use crate::mix::Probe;

pub enum ProbeError {
    Unreachable(String),
    FaultsDisabled(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
}

/// `fault`: the header name, the probe and a valid body, when faults are to be checked.
pub async fn probe(host: &str, fault: Option<(&str, &Probe, &str)>) -> Result<(), ProbeError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| ProbeError::Unreachable(format!("cannot build an HTTP client: {e}")))?;
    let healthz = format!("{host}/healthz");
    match client.get(&healthz).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            return Err(ProbeError::Unreachable(format!(
                "GET {healthz} answered {}, not 200: is this a model server, and is it healthy?",
                r.status()
            )))
        }
        Err(e) => {
            // The innermost cause ("Connection refused (os error 111)") says it best.
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            return Err(ProbeError::Unreachable(format!(
                "cannot reach the model server at {host} (GET /healthz: {reason}).\n\
                 Start it first, e.g. `model-server serve --enable-faults --listen 127.0.0.1:8000`, \
                 or point the load test elsewhere with --host URL."
            )));
        }
    }
    let Some((header, probe, body)) = fault else {
        return Ok(());
    };
    let predict = format!("{host}/predict");
    let response = client
        .post(&predict)
        .header("content-type", "application/json")
        .header(header, probe.value.as_str())
        .body(body.to_owned())
        .send()
        .await;
    Counters::add(&COUNTERS.probe_requests, 1);
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            COUNTERS.record_status(status);
            let text = r.text().await.unwrap_or_default();
            let error = serde_json::from_str::<ErrorBody>(&text)
                .ok()
                .and_then(|b| b.error);
            if status == probe.expect && error.as_deref() == Some(probe.error.as_str()) {
                return Ok(());
            }
            if status == 200 {
                Counters::add(&COUNTERS.rows_predicted, 1);
            }
            Err(ProbeError::FaultsDisabled(format!(
                "the server at {host} does not inject faults: POST /predict with `{header}: {}` \
                 answered {status} {text:.200}, not {} {{\"error\":\"{}\"}}.\n\
                 Restart it with `model-server serve --enable-faults` (or MODEL_SERVER_ENABLE_FAULTS=true), \
                 or run the load test without server errors: --server-error-weight 0.",
                probe.value, probe.expect, probe.error
            )))
        }
        Err(e) => {
            Counters::add(&COUNTERS.transport_errors, 1);
            Err(ProbeError::Unreachable(format!(
                "the {} (POST {predict}) got no answer: {e}",
                probe.name
            )))
        }
    }
}
