//! The limits that protect `/predict` once its body has been read: admission
//! (load shedding) and the request timeout.
//!
//! Admission comes after the body is read (see [`super::body`]): a slot is held
//! only by a request that is ready to run, so clients that upload slowly can never
//! fill the slots and shut everyone else out.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::ApiError;

/// At most `limit` requests run at once; the rest get 503 `overloaded` at once.
#[derive(Debug)]
pub struct Admission {
    permits: Semaphore,
    limit: usize,
}

impl Admission {
    pub fn new(limit: usize) -> Self {
        Admission {
            permits: Semaphore::new(limit),
            limit,
        }
    }

    /// A slot for the caller, held until the permit is dropped.
    pub fn admit(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        self.permits
            .try_acquire()
            .map_err(|_| ApiError::Overloaded { limit: self.limit })
    }
}

/// Runs `work` for at most `limit`, answering 504 `timeout` beyond it.
pub async fn within<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Err(ApiError::Timeout(limit)))
}
