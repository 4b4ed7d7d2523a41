//! `model-server stack`: the whole monitoring loop as child processes.
//!
//! Starts node-exporter, the model servers (one or `--replicas N`, with fault
//! injection so the load test can produce 5xx), Alertmanager, Prometheus and
//! Grafana on loopback with the repository's configs, waits for each to be ready,
//! prints their URLs last, prefixes their logs (warnings only unless --verbose),
//! and stops them all on Ctrl-C, SIGTERM or SIGHUP. A child that dies during
//! start-up stops the stack with a message naming it. Once everything runs, a
//! child that exits is restarted with backoff (`restart`): a model server without
//! limit, so that the monitoring outlives what it monitors and reports it down;
//! a monitoring child within its budget, whose exhaustion stops the stack.
//! This is also what `nix run .#stack` runs.
//!
//! This module owns the errors and the run itself; the rooms:
//! - `args`: the flags; `ports`: the services' ports and their checks;
//! - `config_dir`: finding the repository's configs; `binaries`: finding the programs;
//! - `configs`: the children's configs rendered into the data dir, with
//!   `targets` (file_sd), `prometheus_config` (remote write and external labels)
//!   and `envsubst` (the Alertmanager template);
//! - `secrets`: the notification secrets; `tokens`: the secrets the stack makes;
//! - `state`: the data dir (persistent by default, locked, versioned);
//! - `files`: copies and private files;
//! - `services`: the service table and the URL table;
//! - `supervisor`: the children; `restart`: backoff and budgets;
//! - `probe`: readiness and free ports.

mod args;
mod binaries;
mod config_dir;
mod configs;
pub mod envsubst;
pub mod files;
mod ports;
mod probe;
pub mod prometheus_config;
mod restart;
pub mod secrets;
mod services;
mod state;
mod supervisor;
mod targets;
mod tokens;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use args::StackArgs;
use binaries::Binaries;
use ports::Ports;
use prometheus_config::Additions;
use restart::{Decision, Restarts};
use services::os;
use services::Service;
use supervisor::{describe, Kind, Spec, Supervisor};

/// Why the stack could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{tool} not found: {hint}")]
    MissingBinary { tool: &'static str, hint: String },
    #[error("port {port} for {service} is already in use on 127.0.0.1; stop what holds it or pass --{flag} with another port")]
    PortBusy {
        service: String,
        port: u16,
        flag: &'static str,
    },
    #[error("--{flag} is 0: each service needs a fixed port, the scrape targets and URLs name it")]
    PortZero { flag: &'static str },
    #[error("--{first} and --{second} are both {port}: each service needs a port of its own")]
    PortClash {
        port: u16,
        first: &'static str,
        second: &'static str,
    },
    #[error("--{flag} {port} is one of the model servers' ports {first}-{last} (--server-port {first}, --replicas {replicas}): each service needs a port of its own")]
    PortInReplicaRange {
        port: u16,
        flag: &'static str,
        first: u16,
        last: u16,
        replicas: u16,
    },
    #[error("--server-port {first} with --replicas {replicas} runs past port 65535: choose a lower --server-port")]
    ReplicasPastLastPort { first: u16, replicas: u16 },
    #[error("{0}")]
    RemoteWriteFlags(&'static str),
    #[error("--remote-write-{flag} {}: no such file", path.display())]
    CredentialsFile { flag: &'static str, path: PathBuf },
    #[error("cannot derive the Prometheus config: {0}")]
    PrometheusConfig(#[from] prometheus_config::DeriveError),
    #[error("cannot find the configs: {0}")]
    ConfigDir(String),
    #[error("--data-dir {} is a file, not a directory; pass a directory (it is created when missing)", path.display())]
    DataDirIsFile { path: PathBuf },
    #[error("no folder for the stack's data: neither XDG_STATE_HOME nor HOME is an absolute path; pass --data-dir DIR or --ephemeral")]
    NoDefaultDataDir,
    #[error("cannot create the default data dir {} (from XDG_STATE_HOME or HOME); pass --data-dir DIR or --ephemeral", path.display())]
    DefaultDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is in use by another `model-server stack` ({holder}): stop it, or give this one its own folder with --data-dir DIR or --ephemeral", path.display())]
    DataDirBusy { path: PathBuf, holder: String },
    #[error("{} was laid out by another version of model-server (state version {found:?}; this one reads {}): run that version, or pass another --data-dir", path.display(), state::STATE_VERSION)]
    OtherStateVersion { path: PathBuf, found: String },
    // The OS error is the source, not part of the message: `main` prints the
    // chain (`{:#}`), which would show it twice.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render {}: {reason}", path.display())]
    Template { path: PathBuf, reason: String },
    #[error("cannot start {name} ({})", program.display())]
    Spawn {
        name: String,
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{name} exited during start-up ({status}); its log lines above say why")]
    DiedStarting { name: String, status: String },
    #[error("{name} was not ready after {}s (no answer on {url})", timeout.as_secs())]
    NotReady {
        name: String,
        url: String,
        timeout: Duration,
    },
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    #[error("{name} exited ({status}) after {restarts} restarts within {}, its restart budget (--restart-limit, --restart-window); stopped the rest of the stack", humantime::format_duration(*window))]
    RestartBudgetSpent {
        name: String,
        status: String,
        restarts: u32,
        window: Duration,
    },
}

/// Runs the stack until Ctrl-C/SIGTERM (Ok) or until a child dies (Err).
pub async fn run(args: StackArgs) -> Result<(), StackError> {
    let ports = Ports {
        server: args.server_port,
        replicas: args.replicas,
        node_exporter: args.node_exporter_port,
        prometheus: args.prometheus_port,
        alertmanager: args.alertmanager_port,
        grafana: args.grafana_port,
    };
    ports.validate()?;
    let additions = prometheus_config::from_flags(&args)?;
    let config_dir = config_dir::find(args.config_dir.as_deref())?;
    let config_dir = std::fs::canonicalize(&config_dir).map_err(|source| StackError::Io {
        path: config_dir.clone(),
        source,
    })?;

    // Resolve every binary before starting anything.
    let binaries = Binaries::resolve(&args)?;

    let data = state::DataDir::open(&args.data_choice())?;
    let data_dir = data.path().to_owned();
    let grafana_url = format!("http://127.0.0.1:{}", ports.grafana);

    let rendered = configs::render(
        &configs::Inputs {
            repo: &config_dir,
            ports: &ports,
            additions: &additions,
            grafana_url: &grafana_url,
        },
        &data_dir.join("config"),
    )?;

    let services = services::table(&services::Context {
        args: &args,
        binaries: &binaries,
        ports: &ports,
        config_dir: &config_dir,
        data_dir: &data_dir,
        rendered: &rendered,
        grafana_url: &grafana_url,
    })?;

    // Refuse busy ports before starting anything.
    for service in &services {
        let addr = SocketAddr::from(([127, 0, 0, 1], service.port));
        if !probe::port_is_free(addr) {
            return Err(StackError::PortBusy {
                service: service.spec.name.clone(),
                port: service.port,
                flag: service.flag,
            });
        }
    }

    println!("data dir: {} ({})", data_dir.display(), data.describe());
    println!("configs:  {}", config_dir.display());
    for secret in secrets::NOTIFICATION_SECRETS {
        let state = if secrets::secret(secret.name)?.is_some() {
            "set"
        } else {
            "not set (notifications to it go nowhere)"
        };
        println!("{:>9} secret {}: {state}", secret.service, secret.name);
    }

    let mut supervisor = Supervisor::new(services::name_width(ports.replicas));
    let outcome = start_and_watch(
        &mut supervisor,
        &services,
        &args,
        binaries.loadgen,
        &ports,
        &additions,
    )
    .await;
    supervisor.stop_all(Duration::from_secs(10)).await;
    data.close(outcome.is_ok());
    outcome
}

async fn start_and_watch(
    supervisor: &mut Supervisor,
    services: &[Service],
    args: &StackArgs,
    loadgen: Option<PathBuf>,
    ports: &Ports,
    additions: &Additions,
) -> Result<(), StackError> {
    let width = supervisor.width();
    // Installed before the first child starts: a SIGTERM from then on stops the
    // children instead of killing the stack and orphaning them.
    let signals = crate::server::signals::Signals::install();
    let shutdown = async move {
        match signals {
            Ok(mut signals) => {
                let name = signals.recv().await;
                tracing::info!(signal = name, "received {name}; stopping the stack");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM or SIGINT");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::pin!(shutdown);
    for service in services {
        let pid = supervisor.spawn(service.spec.clone())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], service.port));
        let started = Instant::now();
        let mut last_note = Instant::now();
        loop {
            if let Some(exited) = supervisor.try_exited() {
                return Err(StackError::DiedStarting {
                    name: exited.name,
                    status: describe(exited.status),
                });
            }
            if probe::http_status(addr, service.ready_path).await == Some(200) {
                println!(
                    "{:>width$} | ready after {:.1}s (pid {pid})",
                    service.spec.name,
                    started.elapsed().as_secs_f64()
                );
                break;
            }
            if started.elapsed() > args.ready_timeout {
                return Err(StackError::NotReady {
                    name: service.spec.name.clone(),
                    url: format!("http://{addr}{}", service.ready_path),
                    timeout: args.ready_timeout,
                });
            }
            if last_note.elapsed() > Duration::from_secs(5) {
                println!("{:>width$} | waiting to be ready…", service.spec.name);
                last_note = Instant::now();
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                () = &mut shutdown => return Ok(()),
            }
        }
    }

    services::print_table(services, args.no_server, ports, additions);

    if let Some(loadgen) = loadgen {
        for (index, port) in ports.servers().enumerate() {
            // loadgen leaves goose's controllers (fixed ports) off: runs side by side.
            let cli = os(&["--host", &format!("http://127.0.0.1:{port}")]);
            supervisor.spawn(Spec {
                name: if ports.replicas > 1 {
                    format!("loadgen-{}", index + 1)
                } else {
                    "loadgen".to_owned()
                },
                program: loadgen.clone(),
                args: cli,
                env: vec![],
                kind: Kind::Job,
            })?;
        }
    }

    watch(supervisor, services, args, &mut shutdown).await
}

/// Runs until `shutdown` (Ok) or until a monitoring child spends its restart
/// budget (Err), restarting what exits.
async fn watch(
    supervisor: &mut Supervisor,
    services: &[Service],
    args: &StackArgs,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> Result<(), StackError> {
    let width = supervisor.width();
    let mut restarts: Vec<Restarts> = services
        .iter()
        .map(|s| Restarts::new(args.restart_policy(s.role)))
        .collect();
    // (when, which service) of the restarts waiting for their delay.
    let mut pending: Vec<(tokio::time::Instant, usize)> = Vec::new();
    loop {
        let next = pending.iter().map(|(when, _)| *when).min();
        // Evaluated even while the branch is disabled: any instant will do then.
        let wake = next.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = &mut *shutdown => return Ok(()),
            exited = supervisor.exited() => {
                let status = describe(exited.status);
                let index = services.iter().position(|s| s.spec.name == exited.name);
                let (Kind::Service, Some(index)) = (exited.kind, index) else {
                    // A job (the load generator): done, and not restarted.
                    println!("{:>width$} | finished ({status}); the stack keeps running", exited.name);
                    continue;
                };
                let history = &mut restarts[index];
                match history.on_exit() {
                    Decision::Restart { attempt, delay } => {
                        let budget = match history.policy().limit {
                            Some(limit) => format!(
                                " of {limit} within {}",
                                humantime::format_duration(history.policy().window)
                            ),
                            None => String::new(),
                        };
                        println!(
                            "{:>width$} | exited ({status}); restart {attempt}{budget} in {}",
                            exited.name,
                            humantime::format_duration(delay)
                        );
                        pending.push((tokio::time::Instant::now() + delay, index));
                    }
                    Decision::GiveUp { restarts } => {
                        return Err(StackError::RestartBudgetSpent {
                            name: exited.name,
                            status,
                            restarts,
                            window: history.policy().window,
                        });
                    }
                }
            }
            () = tokio::time::sleep_until(wake), if next.is_some() => {
                let now = tokio::time::Instant::now();
                let (due, later): (Vec<_>, Vec<_>) =
                    pending.into_iter().partition(|(when, _)| *when <= now);
                pending = later;
                for (_, index) in due {
                    let spec = services[index].spec.clone();
                    let pid = supervisor.spawn(spec)?;
                    println!("{:>width$} | restarted (pid {pid})", services[index].spec.name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_of_stack_has_a_help_text() {
        use clap::Args as _;
        let command = StackArgs::augment_args(clap::Command::new("stack"));
        let silent: Vec<_> = command
            .get_arguments()
            .filter(|a| a.get_help().is_none())
            .map(|a| a.get_id().to_string())
            .collect();
        assert!(silent.is_empty(), "flags without help: {silent:?}");
        assert!(command.get_arguments().count() > 20);
    }
}
