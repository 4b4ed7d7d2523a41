//! The stack's supervisor: owns the child processes, spawns them with prefixed
//! logs (again, in the same slot, when one is restarted), watches their exits,
//! stops them (SIGTERM, then SIGKILL after a grace period), and kills what is
//! left when it is dropped. When to restart is `restart`'s business.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

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

/// A started child, owned: it is signalled through its `Child`, whose pid is
/// known only until the child is reaped, so a reused pid is never signalled.
#[derive(Debug)]
struct Running {
    name: String,
    kind: Kind,
    child: Child,
    exit: Option<ExitStatus>,
}

impl Running {
    /// Sends `signal` unless the child has already been reaped.
    fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain syscall; `id()` is Some only while the child is not
            // reaped, so the pid is still this child's (at worst a zombie).
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Reaps the child if it has exited.
    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                return Some(status);
            }
        }
        None
    }
}

/// Owns every child of the stack. Dropping it kills the children still running
/// (the stack stops them gracefully with `stop_all` first; this covers every
/// other way out, an early error or a panic).
#[derive(Debug)]
pub struct Supervisor {
    children: Vec<Running>,
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

/// How often exits are looked for.
const POLL: Duration = Duration::from_millis(100);

impl Supervisor {
    pub fn new(width: usize) -> Self {
        Supervisor {
            children: Vec::new(),
            width,
        }
    }

    /// Starts a child in its own process group (so a terminal's Ctrl-C reaches only
    /// the stack, which then stops children in order), dying with the stack, and
    /// returns its pid. A child of the same name that has exited is replaced.
    pub fn spawn(&mut self, spec: Spec) -> Result<u32, StackError> {
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
        let prefix = format!("{:>width$} |", spec.name, width = self.width);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, prefix.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, prefix));
        }
        let pid = child.id().unwrap_or_default();
        let running = Running {
            name: spec.name,
            kind: spec.kind,
            child,
            exit: None,
        };
        match self
            .children
            .iter_mut()
            .find(|c| c.name == running.name && c.exit.is_some())
        {
            Some(slot) => *slot = running,
            None => self.children.push(running),
        }
        Ok(pid)
    }

    /// Width of the name column of the children's log lines.
    pub fn width(&self) -> usize {
        self.width
    }

    /// A child that exited since the last call, without waiting.
    pub fn try_exited(&mut self) -> Option<Exited> {
        self.children.iter_mut().find_map(|running| {
            running.poll_exit().map(|status| Exited {
                name: running.name.clone(),
                kind: running.kind,
                status,
            })
        })
    }

    /// Waits for the next child to exit. Cancel-safe: an exit is recorded only
    /// when it is returned.
    pub async fn exited(&mut self) -> Exited {
        loop {
            if let Some(exited) = self.try_exited() {
                return exited;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn running(&self) -> impl Iterator<Item = &Running> {
        self.children.iter().filter(|c| c.exit.is_none())
    }

    /// Stops every running child, newest first: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop_all(&mut self, grace: Duration) {
        for running in self.running().collect::<Vec<_>>().into_iter().rev() {
            println!(
                "{:>width$} | stopping (SIGTERM)",
                running.name,
                width = self.width
            );
            running.signal(libc::SIGTERM);
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.running().next().is_some() {
            if let Some(exited) = self.try_exited() {
                println!(
                    "{:>width$} | stopped ({})",
                    exited.name,
                    describe(exited.status),
                    width = self.width
                );
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                for running in self.children.iter_mut().filter(|c| c.exit.is_none()) {
                    println!(
                        "{:>width$} | did not stop within {}s: SIGKILL",
                        running.name,
                        grace.as_secs(),
                        width = self.width
                    );
                    let _ = running.child.start_kill();
                    if let Ok(status) = running.child.wait().await {
                        running.exit = Some(status);
                    }
                }
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for running in self.children.iter_mut().rev() {
            if running.poll_exit().is_none() && running.exit.is_none() {
                eprintln!(
                    "{:>width$} | killed (the stack is stopping)",
                    running.name,
                    width = self.width
                );
                // Through the owned Child: SIGKILL, unless it was reaped already.
                let _ = running.child.start_kill();
                let _ = running.child.try_wait();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(name: &str, seconds: &str) -> Spec {
        Spec {
            name: name.to_owned(),
            program: PathBuf::from("/bin/sleep"),
            args: vec![OsString::from(seconds)],
            env: vec![],
            kind: Kind::Service,
        }
    }

    fn alive(pid: i32) -> bool {
        // A zombie is not alive: read its state.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z')
            })
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn dropping_the_supervisor_kills_its_children() {
        let mut supervisor = Supervisor::new(8);
        supervisor.spawn(sleeper("a", "30")).unwrap();
        supervisor.spawn(sleeper("b", "30")).unwrap();
        let pids: Vec<i32> = supervisor
            .children
            .iter()
            .map(|c| c.child.id().unwrap() as i32)
            .collect();
        assert!(pids.iter().all(|&p| alive(p)));
        drop(supervisor);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|&p| alive(p)) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!pids.iter().any(|&p| alive(p)), "still running: {pids:?}");
    }

    #[tokio::test]
    async fn exits_are_reported_once_and_a_reaped_child_is_not_signalled() {
        let mut supervisor = Supervisor::new(8);
        supervisor.spawn(sleeper("quick", "0")).unwrap();
        supervisor.spawn(sleeper("slow", "30")).unwrap();
        let exited = tokio::time::timeout(Duration::from_secs(5), supervisor.exited())
            .await
            .unwrap();
        assert_eq!(exited.name, "quick");
        assert_eq!(describe(exited.status), "exit code 0");
        // Reaped: no pid left to signal.
        assert!(supervisor.children[0].child.id().is_none());
        assert!(supervisor.try_exited().is_none());
        supervisor.stop_all(Duration::from_secs(5)).await;
        let slow = &supervisor.children[1];
        assert_eq!(
            slow.exit.map(describe).as_deref(),
            Some("killed by signal 15")
        );
    }
}
