//! Running the API: model loading, binding, and graceful shutdown.
//!
//! On the shutdown signal the server marks itself not ready (`/readyz` → 503),
//! stops accepting connections, lets in-flight requests finish for at most the
//! configured grace period, then returns.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::api::{self, ApiConfig, Readiness};
use crate::config::ServeConfig;
use crate::model::artifact::{Artifact, ArtifactError};
use crate::model::train::{self, TrainError, TrainOptions};
use crate::model::Model;
use crate::telemetry::{Telemetry, TelemetryError};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("cannot train the embedded default model: {0}")]
    Train(#[from] TrainError),
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    #[error("cannot listen on {addr}: {source}{hint}")]
    Bind {
        addr: SocketAddr,
        source: io::Error,
        hint: &'static str,
    },
    #[error("the server failed: {0}")]
    Serve(#[source] io::Error),
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
    readiness: Readiness,
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
            .map_err(|source| ServerError::Bind {
                addr: config.listen,
                hint: match source.kind() {
                    io::ErrorKind::AddrInUse => {
                        " (another process is using the port: stop it or pass --listen with another port)"
                    }
                    io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
                    _ => "",
                },
                source,
            })?;
        let readiness = Readiness::new();
        let app = api::router(
            model,
            telemetry,
            readiness.clone(),
            &ApiConfig::from(config),
        );
        Ok(Server {
            listener,
            app,
            readiness,
            shutdown_grace: config.shutdown_grace,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Serves until `shutdown` completes, then drains for at most the grace period.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let (draining_tx, draining_rx) = oneshot::channel::<Instant>();
        let readiness = self.readiness.clone();
        let serve = axum::serve(self.listener, self.app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                readiness.start_draining();
                tracing::info!("shutting down: no new connections, draining in-flight requests");
                let _ = draining_tx.send(Instant::now());
            })
            .into_future();
        let grace = self.shutdown_grace;
        let deadline = async move {
            match draining_rx.await {
                Ok(started) => tokio::time::sleep_until((started + grace).into()).await,
                // The server ended on its own before any shutdown signal.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            result = serve => {
                result.map_err(ServerError::Serve)?;
                tracing::info!("drained; bye");
            }
            () = deadline => {
                tracing::warn!(grace = %humantime::format_duration(grace), "shutdown grace elapsed with requests still in flight; exiting anyway");
            }
        }
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = term => tracing::info!("received SIGTERM"),
    }
}
