//! The run's summary: what `--summary-file` writes and what is printed at the end,
//! built from the counters as one serialisable struct.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::Serialize;

use crate::counters::{Counters, COUNTERS};
use crate::mix::Weights;
use crate::traffic::DriftPlan;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub generator: &'static str,
    pub host: String,
    pub weights: Weights,
    pub requests: u64,
    pub by_class: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub rows_predicted: u64,
    pub unexpected_status: u64,
    pub bad_prediction_bodies: u64,
    pub transport_errors: u64,
    pub probe_requests: u64,
    pub elapsed_seconds: f64,
    pub goose_metrics_reset_after_ramp_up: bool,
    /// Present with `--drift-after`.
    pub drift: Option<DriftSummary>,
}

#[derive(Debug, Serialize)]
pub struct DriftSummary {
    pub after_seconds: f64,
    pub scale: f64,
    pub offset: Vec<f64>,
    /// Answered requests that carried drifted rows, and those rows.
    pub drifted_requests: u64,
    pub drifted_rows: u64,
}

impl Summary {
    pub fn collect(
        host: &str,
        weights: Weights,
        elapsed: Duration,
        goose_reset_metrics: bool,
        drift: Option<&DriftPlan>,
    ) -> Self {
        let mut by_status = BTreeMap::new();
        let mut by_class: BTreeMap<String, u64> = ["2xx", "4xx", "5xx"]
            .iter()
            .map(|c| (c.to_string(), 0))
            .collect();
        let mut requests = 0;
        for (status, count) in COUNTERS.by_status.iter().enumerate() {
            let count = count.load(Relaxed);
            if count == 0 {
                continue;
            }
            requests += count;
            by_status.insert(status.to_string(), count);
            *by_class.entry(format!("{}xx", status / 100)).or_default() += count;
        }
        let c = &COUNTERS;
        Summary {
            generator: "goose",
            host: host.to_owned(),
            weights,
            requests,
            by_class,
            by_status,
            rows_predicted: Counters::get(&c.rows_predicted),
            unexpected_status: Counters::get(&c.unexpected_status),
            bad_prediction_bodies: Counters::get(&c.bad_prediction_bodies),
            transport_errors: Counters::get(&c.transport_errors),
            probe_requests: Counters::get(&c.probe_requests),
            elapsed_seconds: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            goose_metrics_reset_after_ramp_up: goose_reset_metrics,
            drift: drift.map(|d| DriftSummary {
                after_seconds: d.after.as_secs_f64(),
                scale: d.scale,
                offset: d.offset.clone(),
                drifted_requests: Counters::get(&c.drifted_requests),
                drifted_rows: Counters::get(&c.drifted_rows),
            }),
        }
    }

    pub fn class(&self, class: &str) -> u64 {
        self.by_class.get(class).copied().unwrap_or_default()
    }

    pub fn print(&self) {
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let elapsed = self.elapsed_seconds;
        println!();
        println!(
            "=== model-server load summary (every answered request, ramp-up and probe included) ==="
        );
        println!(
            "requests: {}  ({:.1}/s over {elapsed:.1} s)",
            self.requests,
            self.requests as f64 / elapsed.max(0.001)
        );
        println!(
            "by class: 2xx {}  4xx {}  5xx {}",
            self.class("2xx"),
            self.class("4xx"),
            self.class("5xx")
        );
        println!("by status: {}", statuses.join(", "));
        println!(
            "rows predicted (rows sent in 200 predictions): {}",
            self.rows_predicted
        );
        if let Some(d) = &self.drift {
            println!(
                "drift from {:.1} s on (row * {} + {:?}): {} requests, {} rows",
                d.after_seconds, d.scale, d.offset, d.drifted_requests, d.drifted_rows
            );
        }
        println!(
            "unexpected statuses: {}  transport errors (no response): {}  bad prediction bodies: {}",
            self.unexpected_status, self.transport_errors, self.bad_prediction_bodies
        );
    }
}
