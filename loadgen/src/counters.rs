//! Counters of our own: every request that got a response, for the whole run
//! (goose resets its own metrics after ramp-up; these never reset).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct Counters {
    pub by_status: [AtomicU64; 600],
    /// Rows sent in POST /predict requests answered 200.
    pub rows_predicted: AtomicU64,
    /// Answered, but not with the status the request expected.
    pub unexpected_status: AtomicU64,
    /// A 200 prediction whose body did not hold one prediction per row sent.
    pub bad_prediction_bodies: AtomicU64,
    /// No response at all (connection refused or reset, timeout): not in by_status.
    pub transport_errors: AtomicU64,
    /// Requests made by the pre-flight fault probe (counted in by_status too).
    pub probe_requests: AtomicU64,
    /// Answered requests whose rows were shifted by the drift, and their rows.
    pub drifted_requests: AtomicU64,
    pub drifted_rows: AtomicU64,
}

pub static COUNTERS: Counters = Counters {
    by_status: [const { AtomicU64::new(0) }; 600],
    rows_predicted: AtomicU64::new(0),
    unexpected_status: AtomicU64::new(0),
    bad_prediction_bodies: AtomicU64::new(0),
    transport_errors: AtomicU64::new(0),
    probe_requests: AtomicU64::new(0),
    drifted_requests: AtomicU64::new(0),
    drifted_rows: AtomicU64::new(0),
};

impl Counters {
    pub fn record_status(&self, status: u16) {
        let index = usize::from(status).min(self.by_status.len() - 1);
        self.by_status[index].fetch_add(1, Relaxed);
    }

    pub fn answered(&self) -> u64 {
        self.by_status.iter().map(|c| c.load(Relaxed)).sum()
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}
