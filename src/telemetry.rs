//! The OpenTelemetry meter provider, exported through a Prometheus registry.
//!
//! Instruments are created from [`Telemetry::meter`]; `GET /metrics` calls
//! [`Telemetry::render`]. The exporter is configured for clean Prometheus output:
//! no `target_info` series and no `otel_scope_*` labels.

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Registry, TextEncoder};

/// The Prometheus text exposition content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why telemetry could not be set up or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the Prometheus exporter: {0}")]
    Exporter(String),
    #[error("cannot encode metrics")]
    Encode(#[from] prometheus::Error),
}

/// Owns the meter provider and the registry it exports to.
#[derive(Clone, Debug)]
pub struct Telemetry {
    registry: Registry,
    provider: SdkMeterProvider,
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
        Ok(Telemetry { registry, provider })
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
    pub fn render(&self) -> Result<String, TelemetryError> {
        let families = self.gather();
        let mut buf = Vec::with_capacity(8 * 1024);
        TextEncoder::new().encode(&families, &mut buf)?;
        // The text encoder only writes UTF-8.
        Ok(String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}
