//! Running the API: model loading, binding, the accept loop and graceful shutdown.
//!
//! - [`signals`]: SIGTERM/SIGINT handlers, installed before the listener binds.
//! - [`conn`]: one connection, with its timeouts and drain behaviour.
//! - [`metrics`]: connection errors and open connections.
//! - [`rlimit`]: the open-file limit and the default connection limit.
//! - [`memory`]: memory handed back after a wave of connections.
//!
//! Shutdown, once the shutdown future completes (SIGTERM or Ctrl-C in `serve`), walks
//! the phases of the server's [`Drain`]:
//! 1. [`Phase::Draining`] for `shutdown_delay`: `/readyz` answers 503 while everything
//!    is still served, so a load balancer stops routing here first;
//! 2. [`Phase::Closed`]: the listener closes; every response from then on carries
//!    `connection: close`; idle connections get a short linger for a request already
//!    on the wire, then close; requests in flight finish;
//! 3. after at most `shutdown_grace`, whatever is left is cut and `run` returns.

pub mod conn;
pub mod memory;
pub mod metrics;
pub mod rlimit;
pub mod signals;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::{self, ApiConfig};
use crate::config::ServeConfig;
use crate::drain::{Drain, Phase};
use crate::inference::InferencePool;
use crate::model::artifact::{Artifact, ArtifactError};
use crate::model::train::{self, TrainError, TrainOptions};
use crate::model::Model;
use crate::telemetry::{Telemetry, TelemetryError};
use conn::{ConnContext, ConnSettings, Tracker};
use metrics::{ConnError, ConnMetrics};

/// On drain, the longest an idle connection waits for a last request.
pub const DRAIN_LINGER: Duration = Duration::from_millis(500);
/// A resource error from `accept` (out of descriptors or memory) pauses accepting
/// this long at first, doubling up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Repeated warnings (accept errors, the connection limit) are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("cannot train the embedded default model")]
    Train(#[from] TrainError),
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    #[error("cannot listen on {addr}: {reason}{hint}")]
    Bind {
        addr: SocketAddr,
        reason: io::Error,
        hint: &'static str,
    },
    #[error("cannot start the inference threads: {0}")]
    Threads(io::Error),
}

/// Where the served model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// Train the default (random forest, seed 42) at start-up.
    Embedded,
    /// Load an artifact written by `model-server train`, of at most `max_size` bytes.
    File { path: PathBuf, max_size: usize },
}

impl ModelSource {
    pub fn load(&self) -> Result<Model, ServerError> {
        Ok(match self {
            ModelSource::Embedded => train::train(&TrainOptions::default())?.into_model(),
            ModelSource::File { path, max_size } => Artifact::load(path, *max_size)?.into_model(),
        })
    }
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    app: axum::Router,
    drain: Drain,
    telemetry: Telemetry,
    settings: ConnSettings,
    max_connections: usize,
    shutdown_delay: Duration,
    shutdown_grace: Duration,
}

impl Server {
    /// Binds the listener and builds the app around an already loaded model.
    pub async fn bind(
        config: &ServeConfig,
        model: Arc<Model>,
        telemetry: Telemetry,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|reason| ServerError::Bind {
                addr: config.listen,
                hint: match reason.kind() {
                    io::ErrorKind::AddrInUse => {
                        " (another process is using the port: stop it or pass --listen with another port)"
                    }
                    io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
                    _ => "",
                },
                reason,
            })?;
        let drain = Drain::new();
        let inference = InferencePool::per_core().map_err(ServerError::Threads)?;
        let app = api::router(
            model,
            telemetry.clone(),
            drain.clone(),
            inference,
            &ApiConfig::from(config),
        );
        Ok(Server {
            listener,
            app,
            drain,
            telemetry,
            settings: ConnSettings {
                header_read_timeout: config.header_read_timeout,
                keep_alive_timeout: config.keep_alive_timeout,
                linger: DRAIN_LINGER.min(config.shutdown_grace),
            },
            max_connections: config
                .max_connections
                .map_or_else(rlimit::default_max_connections, |n| n as usize),
            shutdown_delay: config.shutdown_delay,
            shutdown_grace: config.shutdown_grace,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The server's shutdown phase, as its readiness probes and connections see it.
    pub fn drain(&self) -> Drain {
        self.drain.clone()
    }

    /// The most connections served at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Serves until `shutdown` completes, then drains (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Server {
            listener,
            app,
            drain,
            telemetry,
            settings,
            max_connections,
            shutdown_delay,
            shutdown_grace,
        } = self;
        let tracker = Arc::new(Tracker::new(drain.clone()));
        let metrics = Arc::new(ConnMetrics::new(
            &telemetry.meter("model-server"),
            tracker.clone(),
        ));
        let context = ConnContext {
            app,
            settings,
            tracker: tracker.clone(),
            metrics: metrics.clone(),
        };

        let draining = drain.clone();
        let stop = async move {
            shutdown.await;
            draining.enter(Phase::Draining);
            tracing::info!(
                delay = %humantime::format_duration(shutdown_delay),
                "shutdown requested: /readyz now answers 503; still serving until the delay ends"
            );
            tokio::time::sleep(shutdown_delay).await;
        };
        tokio::pin!(stop);

        let permits = Arc::new(Semaphore::new(max_connections));
        let mut connections = JoinSet::new();
        let mut limit_warning = Every::new(WARN_EVERY);
        let mut accept_warning = Every::new(WARN_EVERY);
        let mut backoff = Duration::ZERO;
        let mut resume_at = Instant::now();
        let mut trim = tokio::time::interval(memory::CHECK_EVERY);
        let mut trimmer = memory::Trimmer::default();
        loop {
            let accept = async {
                tokio::time::sleep_until(resume_at.into()).await;
                if permits.available_permits() == 0 {
                    if let Some(suppressed) = limit_warning.tick() {
                        tracing::warn!(
                            limit = max_connections,
                            suppressed,
                            "connection limit reached: new connections wait until one closes \
                             (raise --max-connections or the open-file limit)"
                        );
                    }
                }
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                (permit, listener.accept().await)
            };
            tokio::select! {
                biased;
                () = &mut stop => break,
                Some(joined) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = joined {
                        if e.is_panic() {
                            tracing::error!(error = %e, "a connection task panicked");
                        }
                    }
                }
                (permit, accepted) = accept => match accepted {
                    Ok((stream, _peer)) => {
                        backoff = Duration::ZERO;
                        connections.spawn(conn::serve(stream, context.clone(), permit));
                    }
                    Err(e) => {
                        metrics.record(ConnError::Accept);
                        if is_resource_exhaustion(&e) {
                            backoff = (backoff * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
                            resume_at = Instant::now() + backoff;
                        }
                        if let Some(suppressed) = accept_warning.tick() {
                            tracing::warn!(
                                error = %e,
                                suppressed,
                                backoff = %humantime::format_duration(backoff),
                                open_connections = tracker.connections(),
                                "accept failed"
                            );
                        }
                    }
                },
                _ = trim.tick() => trimmer.check(&tracker),
            }
        }

        drop(listener);
        drain.enter(Phase::Closed);
        tracing::info!(
            requests_in_flight = tracker.requests(),
            connections = connections.len(),
            grace = %humantime::format_duration(shutdown_grace),
            "listener closed; draining"
        );
        let drained = tokio::time::timeout(shutdown_grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        match drained {
            Ok(()) => tracing::info!("drained; bye"),
            Err(_) => {
                tracing::warn!(
                    requests_in_flight = tracker.requests(),
                    connections = connections.len(),
                    grace = %humantime::format_duration(shutdown_grace),
                    "shutdown grace elapsed with requests still in flight; cutting them"
                );
                connections.shutdown().await;
            }
        }
    }
}

/// Errors after which accepting again at once would only spin.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Rate limit for a repeated warning: at most one per interval, counting the rest.
struct Every {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Every {
    fn new(interval: Duration) -> Self {
        Every {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(occurrences suppressed since the last one)` when this one should be logged.
    fn tick(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_warnings_are_logged_once_per_interval_with_a_count() {
        let mut every = Every::new(Duration::from_secs(3600));
        assert_eq!(every.tick(), Some(0));
        assert_eq!(every.tick(), None);
        assert_eq!(every.tick(), None);
        every.last = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(every.tick(), Some(2));
    }

    #[test]
    fn only_resource_errors_back_off() {
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_resource_exhaustion(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
    }
}
