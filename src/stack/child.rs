//! Child processes of the stack: spawning with prefixed logs, watching exits,
//! and stopping them (SIGTERM, then SIGKILL after a grace period).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::StackError;

/// Whether a child is expected to run until stopped or to finish by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs until the stack stops; exiting on its own is a failure.
    Service,
    /// Finishes by itself (the load generator); a clean exit is fine.
    Job,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    pub kind: Kind,
}

/// A started child; its exit is reported on the supervisor's channel.
#[derive(Debug)]
struct Running {
    name: String,
    pid: i32,
    kind: Kind,
    exit: Option<ExitStatus>,
}

/// Owns every child of the stack.
#[derive(Debug)]
pub struct Supervisor {
    children: Vec<Running>,
    exits_tx: mpsc::UnboundedSender<(usize, ExitStatus)>,
    exits_rx: mpsc::UnboundedReceiver<(usize, ExitStatus)>,
    width: usize,
}

/// A child that ended.
#[derive(Debug, Clone)]
pub struct Exited {
    pub name: String,
    pub kind: Kind,
    pub status: ExitStatus,
}

/// `exit code 1`, `killed by signal 9`, ...
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

impl Supervisor {
    pub fn new(width: usize) -> Self {
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        Supervisor {
            children: Vec::new(),
            exits_tx,
            exits_rx,
            width,
        }
    }

    /// Starts a child in its own process group (so a terminal's Ctrl-C reaches only
    /// the stack, which then stops children in order), dying with the stack.
    pub fn spawn(&mut self, spec: Spec) -> Result<(), StackError> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe and touches only the calling process.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| StackError::Spawn {
            name: spec.name.clone(),
            program: spec.program.clone(),
            source,
        })?;
        let pid = child.id().map(|p| p as i32).unwrap_or(-1);
        let prefix = format!("{:>width$} |", spec.name, width = self.width);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, prefix.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, prefix));
        }
        let index = self.children.len();
        let tx = self.exits_tx.clone();
        tokio::spawn(async move {
            if let Ok(status) = child.wait().await {
                let _ = tx.send((index, status));
            }
        });
        self.children.push(Running {
            name: spec.name,
            pid,
            kind: spec.kind,
            exit: None,
        });
        Ok(())
    }

    fn record(&mut self, (index, status): (usize, ExitStatus)) -> Exited {
        let child = &mut self.children[index];
        child.exit = Some(status);
        Exited {
            name: child.name.clone(),
            kind: child.kind,
            status,
        }
    }

    /// A child that exited since the last call, without waiting.
    pub fn try_exited(&mut self) -> Option<Exited> {
        let event = self.exits_rx.try_recv().ok()?;
        Some(self.record(event))
    }

    /// Waits for the next child to exit.
    pub async fn exited(&mut self) -> Exited {
        let event = self
            .exits_rx
            .recv()
            .await
            .expect("the supervisor holds a sender");
        self.record(event)
    }

    /// Stops every running child, newest first: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop_all(&mut self, grace: Duration) {
        for child in self.children.iter().rev().filter(|c| c.exit.is_none()) {
            println!(
                "{:>width$} | stopping (SIGTERM)",
                child.name,
                width = self.width
            );
            // SAFETY: plain syscall on a pid we spawned and have not yet reaped.
            unsafe { libc::kill(child.pid, libc::SIGTERM) };
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.children.iter().any(|c| c.exit.is_none()) {
            match tokio::time::timeout_at(deadline, self.exits_rx.recv()).await {
                Ok(Some(event)) => {
                    let exited = self.record(event);
                    println!(
                        "{:>width$} | stopped ({})",
                        exited.name,
                        describe(exited.status),
                        width = self.width
                    );
                }
                Ok(None) => break,
                Err(_) => {
                    for child in self.children.iter().filter(|c| c.exit.is_none()) {
                        println!(
                            "{:>width$} | did not stop within {}s: SIGKILL",
                            child.name,
                            grace.as_secs(),
                            width = self.width
                        );
                        // SAFETY: as above.
                        unsafe { libc::kill(child.pid, libc::SIGKILL) };
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
            }
        }
    }
}

async fn pump(stream: impl AsyncRead + Unpin, prefix: String) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("{prefix} {line}");
    }
}
