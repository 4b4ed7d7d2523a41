//! When a child of the stack that exited is started again: exponential backoff
//! and a restart budget, as systemd does with `Restart=always`, `RestartSec=`,
//! `RestartMaxDelaySec=` and `StartLimitBurst=` within `StartLimitIntervalSec=`.
//!
//! - The wait before a restart doubles with each restart within the window:
//!   `first_delay`, twice that, four times... up to `max_delay`. Restarts older
//!   than the window are forgotten, so a child that fails once a day always
//!   comes back after `first_delay`.
//! - The budget: at most `limit` restarts within the window; the next exit is
//!   final. The model servers have no limit ([`Role::Monitored`]): they are what
//!   the stack watches, and their being down is what the alerts are for. A
//!   monitoring child ([`Role::Monitoring`]) that spends its budget stops the
//!   stack, whose loop is blind without it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// What a child is to the monitoring loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A model server: restarted without limit.
    Monitored,
    /// node-exporter, Prometheus, Alertmanager, Grafana: restarted within the budget.
    Monitoring,
}

/// How a child is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Restarts older than this no longer count.
    pub window: Duration,
    /// Most restarts within `window`; `None`: no limit.
    pub limit: Option<u32>,
}

/// What to do about an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after `delay`: restart number `attempt` within the window.
    Restart { attempt: u32, delay: Duration },
    /// The budget is spent: `restarts` restarts within the window already.
    GiveUp { restarts: u32 },
}

/// The restart history of one child.
#[derive(Debug)]
pub struct Restarts {
    policy: Policy,
    /// When each restart within the window was granted, oldest first.
    recent: VecDeque<Instant>,
}

impl Restarts {
    pub fn new(policy: Policy) -> Self {
        Restarts {
            policy,
            recent: VecDeque::new(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides about an exit now, and records the restart it grants.
    pub fn on_exit(&mut self) -> Decision {
        let now = Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|&granted| now.duration_since(granted) >= self.policy.window)
        {
            self.recent.pop_front();
        }
        let done = u32::try_from(self.recent.len()).unwrap_or(u32::MAX);
        if self.policy.limit.is_some_and(|limit| done >= limit) {
            return Decision::GiveUp { restarts: done };
        }
        let delay = 2u32
            .checked_pow(done)
            .and_then(|factor| self.policy.first_delay.checked_mul(factor))
            .map_or(self.policy.max_delay, |d| d.min(self.policy.max_delay));
        self.recent.push_back(now);
        Decision::Restart {
            attempt: done + 1,
            delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy(limit: Option<u32>) -> Policy {
        Policy {
            first_delay: S,
            max_delay: 8 * S,
            window: 60 * S,
            limit,
        }
    }

    fn restart(attempt: u32, secs: u64) -> Decision {
        Decision::Restart {
            attempt,
            delay: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_doubles_up_to_the_maximum() {
        let mut restarts = Restarts::new(policy(None));
        let mut seen = Vec::new();
        for _ in 0..7 {
            let decision = restarts.on_exit();
            seen.push(decision);
            // The child restarts after the delay and dies at once.
            if let Decision::Restart { delay, .. } = decision {
                tokio::time::advance(delay).await;
            }
        }
        assert_eq!(
            seen,
            [
                restart(1, 1),
                restart(2, 2),
                restart(3, 4),
                restart(4, 8),
                restart(5, 8),
                restart(6, 8),
                restart(7, 8)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_window_forgets_earlier_restarts() {
        let mut restarts = Restarts::new(policy(None));
        assert_eq!(restarts.on_exit(), restart(1, 1));
        tokio::time::advance(10 * S).await;
        assert_eq!(restarts.on_exit(), restart(2, 2));
        // 59 s after the first restart it still counts...
        tokio::time::advance(49 * S).await;
        assert_eq!(restarts.on_exit(), restart(3, 4));
        // ...and from 60 s on it does not; the one at 10 s goes at 70 s.
        tokio::time::advance(S).await;
        assert_eq!(restarts.on_exit(), restart(3, 4));
        tokio::time::advance(300 * S).await;
        assert_eq!(restarts.on_exit(), restart(1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_is_spent_by_restarts_within_the_window_only() {
        let mut restarts = Restarts::new(policy(Some(3)));
        for attempt in 1..=3 {
            let Decision::Restart {
                attempt: got,
                delay,
            } = restarts.on_exit()
            else {
                panic!("gave up at restart {attempt}");
            };
            assert_eq!(got, attempt);
            tokio::time::advance(delay).await;
        }
        // 1 + 2 + 4 s after the first restart: the fourth exit is final.
        assert_eq!(restarts.on_exit(), Decision::GiveUp { restarts: 3 });
        assert_eq!(restarts.on_exit(), Decision::GiveUp { restarts: 3 });
        // A child that fails now and then, more than a window apart, never runs out.
        let mut restarts = Restarts::new(policy(Some(3)));
        for _ in 0..10 {
            assert_eq!(restarts.on_exit(), restart(1, 1));
            tokio::time::advance(61 * S).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_never_gives_up_and_huge_counts_do_not_overflow() {
        let mut restarts = Restarts::new(Policy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(30),
            window: Duration::from_secs(24 * 3600),
            limit: None,
        });
        let mut last = None;
        for _ in 0..100 {
            last = Some(restarts.on_exit());
        }
        assert_eq!(
            last,
            Some(Decision::Restart {
                attempt: 100,
                delay: Duration::from_secs(30)
            })
        );
    }
}
