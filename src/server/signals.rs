//! The shutdown signals, SIGTERM, SIGINT (Ctrl-C) and SIGHUP, registered eagerly.
//!
//! Registration must happen before the listener binds: a process that already
//! answers `/readyz` must never be killed by a signal's default action, and tokio
//! registers `ctrl_c()` only when it is first polled. [`Signals::install`] installs
//! the three handlers at once; [`Signals::recv`] then waits for any of them.
//!
//! SIGHUP means the terminal went away (or someone asked for a reload, which the
//! server does not do: its model and flags are read once, at start). It drains
//! and exits exactly as SIGTERM does, instead of dying at once with requests in
//! flight, or being ignored and living on with nobody left to stop it.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGTERM, SIGINT and SIGHUP handlers, installed when this value is created.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    /// Installs the handlers. Must be called inside a tokio runtime.
    pub fn install() -> io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next SIGTERM, SIGINT or SIGHUP and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
