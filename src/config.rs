//! Configuration of `model-server serve`, from flags or `MODEL_SERVER_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when writing to a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Options of `model-server serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on. Loopback by default; use 0.0.0.0:8000 to accept remote clients.
    #[arg(long, env = "MODEL_SERVER_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Model artifact written by `model-server train`. Without it, the embedded
    /// default (a random forest on Iris, seed 42) is trained at start-up.
    #[arg(long, env = "MODEL_SERVER_MODEL", value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Largest request body accepted, e.g. 65536, 64KiB, 1MiB; larger bodies get 413.
    #[arg(long, env = "MODEL_SERVER_BODY_LIMIT", default_value = "64KiB", value_parser = parse_bytes)]
    pub body_limit: usize,

    /// Most rows accepted in one `instances` batch; more get 422 batch_too_large.
    #[arg(long, env = "MODEL_SERVER_MAX_BATCH", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_batch: u32,

    /// Most /predict requests handled at once; beyond that requests are shed with
    /// 503 overloaded and a Retry-After header instead of queueing without bound.
    #[arg(long, env = "MODEL_SERVER_MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,

    /// Longest a /predict request may take before it is answered 504 timeout, e.g. 10s, 500ms.
    #[arg(long, env = "MODEL_SERVER_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// On SIGTERM, SIGINT (Ctrl-C) or SIGHUP, how long in-flight requests may take to finish before exit
    /// (counted from the moment the listener closes, after --shutdown-delay).
    #[arg(long, env = "MODEL_SERVER_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// On SIGTERM, SIGINT (Ctrl-C) or SIGHUP, how long to keep serving with /readyz answering 503 before
    /// the listener closes, so a load balancer (a Kubernetes Service) stops sending new
    /// requests first. 0 closes the listener at once. Kubernetes: a few seconds, and
    /// terminationGracePeriodSeconds above --shutdown-delay + --shutdown-grace.
    #[arg(long, env = "MODEL_SERVER_SHUTDOWN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,

    /// Longest a client may take to send a complete request head (request line and
    /// headers) once it has sent its first byte; slower connections are closed.
    #[arg(long, env = "MODEL_SERVER_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub header_read_timeout: Duration,

    /// Longest a connection may stay open with no request on it (before its first
    /// request and between keep-alive requests); then it is closed.
    #[arg(long, env = "MODEL_SERVER_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_parser = parse_positive_duration)]
    pub keep_alive_timeout: Duration,

    /// Longest a client may take to send a request body; slower uploads are answered
    /// 408 body_timeout. Bodies are read before a /predict request takes an in-flight
    /// slot, so slow uploaders never crowd out other clients.
    #[arg(long, env = "MODEL_SERVER_BODY_READ_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub body_read_timeout: Duration,

    /// Most connections open at once; beyond it the server stops accepting until one
    /// closes (new clients wait in the kernel's backlog). Default: the open-file limit
    /// (raised to its hard limit at start) less 128 descriptors kept for everything
    /// else, at most 16384.
    #[arg(long, env = "MODEL_SERVER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Honour the `x-fault` request header on /predict (`500`, `503`, `panic`, `delay=<ms>`,
    /// optionally `;p=<probability>`). For load tests and drills only.
    #[arg(long, env = "MODEL_SERVER_ENABLE_FAULTS")]
    pub enable_faults: bool,

    /// Also record /metrics, /healthz and /readyz in the HTTP metrics (off by default,
    /// as in prometheus-fastapi-instrumentator, so scrapes and probes don't dilute them).
    #[arg(long, env = "MODEL_SERVER_INSTRUMENT_PROBES")]
    pub instrument_probes: bool,

    /// Turn off the HTTP metrics layer (requests_total, requests_duration_seconds,
    /// request_in_progress); model metrics stay. For measuring the layer's cost.
    #[arg(long, env = "MODEL_SERVER_NO_HTTP_METRICS")]
    pub no_http_metrics: bool,

    /// Turn off input-drift monitoring (model_input_values_total and the reference
    /// shares). It is on whenever the model carries a training reference.
    #[arg(long, env = "MODEL_SERVER_NO_INPUT_MONITORING")]
    pub no_input_monitoring: bool,

    /// Predictions whose work bound (rows × parameters of the model) is at most this
    /// run right on the request's worker; larger ones go to the inference threads, so
    /// that no prediction can hold up other requests, probes or shutdown for long.
    /// 0 sends every prediction to the inference threads.
    #[arg(
        long,
        env = "MODEL_SERVER_INLINE_INFERENCE_WORK",
        default_value_t = 100_000
    )]
    pub inline_inference_work: u64,

    /// Monitor at most this many features (the first ones, in the model's order) for
    /// input drift: each costs (bins + 2) series of model_input_values_total.
    #[arg(
        long,
        env = "MODEL_SERVER_MAX_MONITORED_FEATURES",
        default_value_t = 64
    )]
    pub max_monitored_features: u32,

    /// Log filter, in tracing's EnvFilter syntax: info, debug, model_server=trace,...
    #[arg(long, env = "MODEL_SERVER_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log output format.
    #[arg(long, env = "MODEL_SERVER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Largest --model file read, e.g. 256MiB; a larger file (or one that is not a
    /// regular file) stops start-up with an error instead of being read.
    #[arg(long, env = "MODEL_SERVER_MAX_MODEL_SIZE", default_value = "256MiB", value_parser = parse_bytes)]
    pub max_model_size: usize,
}

impl ServeConfig {
    /// The defaults, as `serve` with no flags and no environment would have them.
    pub fn defaults() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            model: None,
            body_limit: 64 * 1024,
            max_batch: 1024,
            max_in_flight: 1024,
            request_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            shutdown_delay: Duration::ZERO,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            body_read_timeout: Duration::from_secs(10),
            max_connections: None,
            enable_faults: false,
            instrument_probes: false,
            no_http_metrics: false,
            no_input_monitoring: false,
            max_monitored_features: 64,
            inline_inference_work: 100_000,
            log_level: "info".to_owned(),
            log_format: LogFormat::Pretty,
            max_model_size: crate::model::artifact::DEFAULT_MAX_SIZE,
        }
    }
}

/// Parses a duration that must be above zero (a zero timeout would close everything).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("the duration must be above zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{s:?} is not a duration (try 10s or 500ms): {e}")),
    }
}

/// Parses a byte size: a plain number of bytes or one with a unit
/// (B, KB/KiB, MB/MiB, GB/GiB; the decimal spellings mean the binary units too).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{s:?} is not a byte size (try 65536, 64KiB or 1MiB)"))?;
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown byte unit {other:?} in {s:?} (use B, KiB, MiB or GiB)"
            ))
        }
    };
    let bytes = number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if bytes == 0 {
        return Err("the size must be at least 1 byte".to_owned());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert_eq!(parse_bytes("64KiB"), Ok(65536));
        assert_eq!(parse_bytes("64 kb"), Ok(65536));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999999999999GiB").is_err());
    }

    #[test]
    fn parsed_defaults_match_the_documented_ones() {
        let parsed = Cli::try_parse_from(["x"]).unwrap().serve;
        let defaults = ServeConfig::defaults();
        assert_eq!(format!("{parsed:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn flags_override_defaults() {
        let c = Cli::try_parse_from([
            "x",
            "--listen",
            "0.0.0.0:9000",
            "--body-limit",
            "1KiB",
            "--request-timeout",
            "250ms",
            "--enable-faults",
        ])
        .unwrap()
        .serve;
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.body_limit, 1024);
        assert_eq!(c.request_timeout, Duration::from_millis(250));
        assert!(c.enable_faults);
        assert!(Cli::try_parse_from(["x", "--max-batch", "0"]).is_err());
    }
}
