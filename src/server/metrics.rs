//! Connection-level metrics: what happens below the HTTP routes.
//!
//! Requests that hyper itself refuses (a malformed request line or header, a head
//! too large, HTTP/0.9 or TLS bytes on the plain port), connections that never send
//! a complete head, and failing `accept` calls never reach the router, so they are
//! invisible in `requests_total`. They are counted here, with a fixed set of kinds:
//! - `connection_errors_total{kind}`: `malformed`, `too_large`, `header_timeout`,
//!   `incomplete` (closed in the middle of a request), `accept`;
//! - `connections_open`: client connections open now.

use std::sync::Arc;

use opentelemetry::metrics::{Counter, Meter, ObservableGauge};
use opentelemetry::KeyValue;

use super::conn::Tracker;

/// A kind of connection error; the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnError {
    Malformed,
    TooLarge,
    HeaderTimeout,
    Incomplete,
    Accept,
}

impl ConnError {
    pub const ALL: [ConnError; 5] = [
        ConnError::Malformed,
        ConnError::TooLarge,
        ConnError::HeaderTimeout,
        ConnError::Incomplete,
        ConnError::Accept,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnError::Malformed => "malformed",
            ConnError::TooLarge => "too_large",
            ConnError::HeaderTimeout => "header_timeout",
            ConnError::Incomplete => "incomplete",
            ConnError::Accept => "accept",
        }
    }

    /// The kind of a connection's error, or `None` for the ordinary ways a
    /// connection ends (the client closing or resetting it between requests).
    pub fn classify(error: &hyper::Error) -> Option<Self> {
        if error.is_parse_too_large() {
            Some(ConnError::TooLarge)
        } else if error.is_parse() || error.is_parse_version_h2() {
            Some(ConnError::Malformed)
        } else if error.is_incomplete_message() {
            Some(ConnError::Incomplete)
        } else if error.is_timeout() {
            Some(ConnError::HeaderTimeout)
        } else {
            None
        }
    }
}

/// The connection instruments.
#[derive(Debug)]
pub struct ConnMetrics {
    errors: Counter<u64>,
    attrs: [[KeyValue; 1]; ConnError::ALL.len()],
    _open: ObservableGauge<u64>,
}

impl ConnMetrics {
    pub fn new(meter: &Meter, tracker: Arc<Tracker>) -> Self {
        let errors = meter
            .u64_counter("connection_errors")
            .with_description(
                "Connections ended by an error below the HTTP routes (malformed or oversized heads, \
                 header timeouts, requests cut off, failed accepts), by kind",
            )
            .build();
        let attrs = ConnError::ALL.map(|kind| [KeyValue::new("kind", kind.as_str())]);
        // Every kind exists from the start at 0, so rate() and increase() see the first one.
        for attr in &attrs {
            errors.add(0, attr);
        }
        let open = meter
            .u64_observable_gauge("connections_open")
            .with_description("Client connections open now")
            .with_callback(move |observer| observer.observe(tracker.connections() as u64, &[]))
            .build();
        ConnMetrics {
            errors,
            attrs,
            _open: open,
        }
    }

    pub fn record(&self, kind: ConnError) {
        let index = ConnError::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind is in ALL");
        self.errors.add(1, &self.attrs[index]);
    }
}
