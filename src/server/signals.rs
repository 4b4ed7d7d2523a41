//! The shutdown signals, SIGTERM and SIGINT (Ctrl-C), registered eagerly.
//!
//! Registration must happen before the listener binds: a process that already
//! answers `/readyz` must never be killed by SIGTERM's default action, and tokio
//! registers `ctrl_c()` only when it is first polled. [`Signals::install`] installs
//! both handlers at once; [`Signals::recv`] then waits for either.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGTERM and SIGINT handlers, installed when this value is created.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Installs both handlers. Must be called inside a tokio runtime.
    pub fn install() -> io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
