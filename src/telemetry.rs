//! The OpenTelemetry meter provider, exported through a Prometheus registry.
//!
//! Instruments are created from [`Telemetry::meter`]; `GET /metrics` calls
//! [`Telemetry::render`]. The exporter is configured for clean Prometheus output:
//! no `target_info` series and no `otel_scope_*` labels. The text itself is
//! written by [`text`], our encoder, rather than the prometheus crate's.

pub mod text;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::proto::MetricFamily;
use prometheus::Registry;

/// The Prometheus text exposition content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why telemetry could not be set up or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the Prometheus exporter: {0}")]
    Exporter(String),
    #[error("cannot encode metrics")]
    Encode(#[from] text::EncodeError),
}

/// Owns the meter provider and the registry it exports to.
#[derive(Clone, Debug)]
pub struct Telemetry {
    registry: Registry,
    provider: SdkMeterProvider,
    /// Length of the last rendered text: the next render's buffer is sized from
    /// it, so the text is written once with no regrowth and copying.
    last_len: Arc<AtomicUsize>,
}

impl Telemetry {
    /// A fresh registry and provider: each server (and each test) gets its own,
    /// so nothing leaks between them through a global.
    pub fn new() -> Result<Self, TelemetryError> {
        let registry = Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_target_info()
            .scope_info_enabled(false)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        Ok(Telemetry {
            registry,
            provider,
            last_len: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// A meter for instruments of the given scope.
    pub fn meter(&self, scope: &'static str) -> Meter {
        self.provider.meter(scope)
    }

    /// Collects every instrument through the exporter into Prometheus metric
    /// families, sorted as the registry sorts them: the first half of
    /// [`Telemetry::render`], public so benches and tests can time and compare it.
    pub fn gather(&self) -> Vec<MetricFamily> {
        self.registry.gather()
    }

    /// Renders every metric in the Prometheus text format.
    ///
    /// The text is written straight into one `String` that becomes the response
    /// body as it is: no copy, and no allocation per series. Each render gets
    /// its own buffer (sized from the last render), so concurrent scrapes
    /// neither wait for each other nor share state beyond the size hint.
    pub fn render(&self) -> Result<String, TelemetryError> {
        let families = self.gather();
        let last = self.last_len.load(Ordering::Relaxed);
        // Room for some growth since the last scrape; 8 KiB on the first.
        let mut out = String::with_capacity((last + last / 8).max(8 * 1024));
        text::encode(&families, &mut out)?;
        self.last_len.store(out.len(), Ordering::Relaxed);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use prometheus::{Encoder, TextEncoder};

    /// What the prometheus crate's encoder makes of the same families.
    fn reference(telemetry: &Telemetry) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&telemetry.gather(), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn render_matches_the_prometheus_text_encoder_through_the_exporter() {
        let telemetry = Telemetry::new().unwrap();
        let meter = telemetry.meter("test");
        let awkward = [
            KeyValue::new("route", "/a\\b\"c\nd"),
            KeyValue::new("method", "GET"),
        ];
        let counter = meter
            .u64_counter("requests")
            .with_description("Requests \\ with a\nsecond line")
            .build();
        counter.add(3, &awkward);
        counter.add(1, &[KeyValue::new("route", "/plain")]);
        let fractional = meter
            .f64_counter("work")
            .with_unit("s")
            .with_description("Work")
            .build();
        fractional.add(0.1, &[]);
        fractional.add(0.2, &[]);
        let up_down = meter
            .i64_up_down_counter("in_flight")
            .with_description("In flight")
            .build();
        up_down.add(-2, &[KeyValue::new("pool", "a")]);
        let gauge = meter.f64_gauge("level").with_description("Level").build();
        gauge.record(-0.0, &[KeyValue::new("k", "negative zero")]);
        gauge.record(1e300, &[KeyValue::new("k", "huge")]);
        let histogram = meter
            .f64_histogram("latency")
            .with_unit("s")
            .with_description("Latency")
            .with_boundaries(vec![0.005, 0.25, 1.0, 10.0])
            .build();
        for v in [0.001, 0.3, 0.3, 42.0] {
            histogram.record(v, &awkward);
        }
        meter
            .u64_histogram("empty_buckets")
            .with_description("Never recorded")
            .build();

        let ours = telemetry.render().unwrap();
        assert_eq!(ours, reference(&telemetry));
        for line in [
            "# HELP requests_total Requests \\\\ with a\\nsecond line\n",
            "requests_total{method=\"GET\",route=\"/a\\\\b\\\"c\\nd\"} 3\n",
            "work_seconds_total 0.30000000000000004\n",
            "in_flight{pool=\"a\"} -2\n",
            "level{k=\"negative zero\"} -0\n",
            "latency_seconds_bucket{method=\"GET\",route=\"/a\\\\b\\\"c\\nd\",le=\"+Inf\"} 4\n",
            "latency_seconds_sum{method=\"GET\",route=\"/a\\\\b\\\"c\\nd\"} 42.601\n",
        ] {
            assert!(ours.contains(line), "{line:?} missing from\n{ours}");
        }

        // A second render, sized from the first, is the same text.
        assert_eq!(telemetry.render().unwrap(), ours);
    }
}
