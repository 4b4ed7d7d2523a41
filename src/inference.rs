//! Where predictions run: a few dedicated threads, off the async workers.
//!
//! A prediction is synchronous CPU work. Run on a tokio worker, a slow one (a huge
//! batch, a pathological model) would stall every other request on that worker,
//! `/healthz`, `/metrics` and the shutdown sequence included. Here it runs on one of
//! the pool's threads while the request's task only awaits the result, so the
//! request timeout can answer 504 whatever the model does, and a job whose request
//! has already given up is skipped rather than run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why a job produced no result.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InferenceError {
    #[error("the prediction panicked")]
    Panicked,
    #[error("the inference pool has stopped")]
    Stopped,
}

/// A fixed set of threads running prediction jobs in arrival order.
#[derive(Debug, Clone)]
pub struct InferencePool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl InferencePool {
    /// Starts `threads` threads (at least one). They stop when every handle is dropped.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("inference-{i}"))
                .spawn(move || loop {
                    let job = {
                        let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                        queue.recv()
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(InferencePool { jobs, threads })
    }

    /// One thread per available core.
    pub fn per_core() -> std::io::Result<Self> {
        Self::new(thread::available_parallelism().map_or(1, usize::from))
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on the pool. Dropping the returned future before the job starts
    /// (a request timeout, a client gone) means the job is skipped.
    pub async fn run<R, F>(&self, work: F) -> Result<R, InferenceError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let result = catch_unwind(AssertUnwindSafe(work)).map_err(|_| InferenceError::Panicked);
            let _ = tx.send(result);
        });
        self.jobs.send(job).map_err(|_| InferenceError::Stopped)?;
        rx.await.map_err(|_| InferenceError::Stopped)?
    }

    /// For tests of a busy pool: occupies one thread with a job that waits for
    /// [`HeldThread::release`], returning once that job runs. Hold every thread and the
    /// pool is stuck. Call it within a tokio runtime.
    #[doc(hidden)]
    pub async fn hold_thread(&self) -> HeldThread {
        let (release, wait) = mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let pool = self.clone();
        let job = tokio::spawn(async move {
            pool.run(move || {
                let _ = started.send(());
                let _ = wait.recv();
            })
            .await
        });
        // An error here means the job will never run (the pool has stopped);
        // `release` then reports it.
        let _ = running.await;
        HeldThread { release, job }
    }
}

/// A pool thread held by [`InferencePool::hold_thread`].
#[doc(hidden)]
#[derive(Debug)]
pub struct HeldThread {
    release: mpsc::Sender<()>,
    job: tokio::task::JoinHandle<Result<(), InferenceError>>,
}

impl HeldThread {
    /// Lets the held job finish and waits for it: its result.
    pub async fn release(self) -> Result<(), InferenceError> {
        let _ = self.release.send(());
        self.job.await.unwrap_or(Err(InferenceError::Panicked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = InferencePool::new(1).unwrap();
        assert_eq!(pool.run(|| 2 + 2).await, Ok(4));
        let panicked = pool.run(|| -> u32 { panic!("boom") }).await;
        assert_eq!(panicked, Err(InferenceError::Panicked));
        assert_eq!(pool.run(|| 5).await, Ok(5), "the thread survived the panic");
    }

    #[tokio::test]
    async fn a_stuck_job_does_not_stop_the_async_side_and_abandoned_jobs_are_skipped() {
        let pool = InferencePool::new(1).unwrap();
        let held = pool.hold_thread().await;
        // The one thread is busy: a second job times out without blocking this task.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            pool.run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)),
        )
        .await;
        assert!(waited.is_err(), "the second job should still be queued");
        held.release().await.unwrap();
        // The abandoned job is skipped once the thread gets to it.
        assert_eq!(pool.run(|| 1).await, Ok(1));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
