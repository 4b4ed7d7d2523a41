//! Where the server is in its shutdown: one [`Drain`], advanced by the server
//! ([`crate::server`]), reported by the readiness probes ([`crate::api`]) and followed by
//! every connection ([`crate::server::conn`]).
//!
//! The phases, in order; a drain only moves forward:
//! 1. [`Phase::Serving`]: ready, serving;
//! 2. [`Phase::Draining`]: shutdown was requested. The readiness probes answer 503 while
//!    everything is still served, so load balancers stop routing here first;
//! 3. [`Phase::Closed`]: the listener is closed. Every response asks its client to close
//!    the connection; idle connections close after a short linger for a request already
//!    on the wire; requests in flight finish.

use tokio::sync::watch;

/// A phase of the shutdown (see the module docs); later phases compare greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Serving,
    Draining,
    Closed,
}

/// The shutdown phase, shared: clones see the same phase.
#[derive(Debug, Clone)]
pub struct Drain(watch::Sender<Phase>);

impl Drain {
    /// A drain in [`Phase::Serving`].
    pub fn new() -> Self {
        Drain(watch::Sender::new(Phase::Serving))
    }

    pub fn phase(&self) -> Phase {
        *self.0.borrow()
    }

    /// Whether the readiness probes answer ready: only while [`Phase::Serving`].
    pub fn is_ready(&self) -> bool {
        self.phase() == Phase::Serving
    }

    /// Moves on to `phase`, waking whoever waits for it; a drain never moves back, so
    /// entering an earlier phase than the current one does nothing.
    pub fn enter(&self, phase: Phase) {
        self.0.send_if_modified(|current| {
            let later = phase > *current;
            if later {
                *current = phase;
            }
            later
        });
    }

    /// Completes once the drain has reached `phase` (at once if it already has).
    pub async fn reached(&self, phase: Phase) {
        let mut phases = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = phases.wait_for(|current| *current >= phase).await;
    }
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_only_move_forward_and_wake_waiters() {
        let drain = Drain::new();
        assert!(drain.is_ready());
        let clone = drain.clone();
        let closed = tokio::spawn(async move { clone.reached(Phase::Closed).await });
        drain.enter(Phase::Draining);
        assert_eq!(drain.phase(), Phase::Draining);
        assert!(!drain.is_ready());
        assert!(!closed.is_finished());
        drain.enter(Phase::Closed);
        closed.await.unwrap();
        drain.enter(Phase::Draining);
        assert_eq!(drain.phase(), Phase::Closed);
        // Reached already: completes at once.
        drain.reached(Phase::Draining).await;
    }
}
