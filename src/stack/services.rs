//! The stack's service table: what each child runs, on which port and through
//! which flag that port is set, how to tell it is ready, and the URL table.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::binaries::{grafana_home, Binaries};
use super::configs::Rendered;
use super::ports::Ports;
use super::prometheus_config::{self, Additions};
use super::restart::Role;
use super::supervisor::{Kind, Spec};
use super::{secrets, tokens, StackArgs, StackError};

/// One service of the stack, as resolved before anything starts.
pub struct Service {
    pub spec: Spec,
    /// How it is restarted when it exits.
    pub role: Role,
    pub port: u16,
    /// The flag that sets `port`, named when the port is busy.
    pub flag: &'static str,
    pub ready_path: &'static str,
    pub url: String,
    pub note: String,
}

/// Width of the name column of the logs and the URL table: the longest name.
pub fn name_width(replicas: u16) -> usize {
    "node-exporter"
        .len()
        .max(server_name(usize::from(replicas.max(1)) - 1, replicas).len())
}

/// What the table is built from.
pub struct Context<'a> {
    pub args: &'a StackArgs,
    pub binaries: &'a Binaries,
    pub ports: &'a Ports,
    pub config_dir: &'a Path,
    pub data_dir: &'a Path,
    pub rendered: &'a Rendered,
    pub grafana_url: &'a str,
}

/// `model-server`, or `model-server-1`... when there are several.
pub fn server_name(index: usize, replicas: u16) -> String {
    if replicas > 1 {
        format!("model-server-{}", index + 1)
    } else {
        "model-server".to_owned()
    }
}

pub fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn path_arg(flag: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push(path);
    arg
}

/// The children's own logs: warnings and errors only, unless --verbose.
fn quiet(cx: &Context) -> bool {
    !cx.args.verbose
}

/// Every service to start, in start order.
pub fn table(cx: &Context) -> Result<Vec<Service>, StackError> {
    let (args, binaries, ports) = (cx.args, cx.binaries, cx.ports);
    let prom_data = cx.data_dir.join("prometheus/data");
    let am_data = cx.data_dir.join("alertmanager/data");
    let quiet = quiet(cx);
    let mut services = Vec::new();
    services.push(Service {
        spec: Spec {
            name: "node-exporter".to_owned(),
            program: binaries.node_exporter.clone(),
            args: vec![
                OsString::from(format!(
                    "--web.listen-address=127.0.0.1:{}",
                    ports.node_exporter
                )),
                // Needs systemd's D-Bus socket, absent in containers and CI; the
                // dashboard does not use it.
                OsString::from("--no-collector.systemd"),
            ]
            .into_iter()
            .chain(quiet.then(|| OsString::from("--log.level=warn")))
            .collect(),
            env: vec![],
            kind: Kind::Service,
        },
        role: Role::Monitoring,
        port: ports.node_exporter,
        flag: "node-exporter-port",
        // Its landing page: a probe that reads only the status line of /metrics
        // and hangs up makes node-exporter log an error per metric family.
        ready_path: "/",
        url: format!("http://127.0.0.1:{}/metrics", ports.node_exporter),
        note: "host metrics".to_owned(),
    });
    if !args.no_server {
        let exe = std::env::current_exe().map_err(|source| StackError::Io {
            path: PathBuf::from("/proc/self/exe"),
            source,
        })?;
        for (index, port) in ports.servers().enumerate() {
            services.push(Service {
                spec: Spec {
                    name: server_name(index, ports.replicas),
                    program: exe.clone(),
                    args: os(&[
                        "serve",
                        "--listen",
                        &format!("127.0.0.1:{port}"),
                        "--enable-faults",
                        "--log-level",
                        if quiet { "warn" } else { "info" },
                    ]),
                    env: vec![],
                    kind: Kind::Service,
                },
                role: Role::Monitored,
                port,
                flag: "server-port",
                ready_path: "/readyz",
                url: format!("http://127.0.0.1:{port}"),
                note: "POST /predict, GET /metrics (faults enabled)".to_owned(),
            });
        }
    }
    services.push(Service {
        spec: Spec {
            name: "alertmanager".to_owned(),
            program: binaries.alertmanager.clone(),
            args: vec![
                path_arg(
                    "--config.file=",
                    &cx.rendered.alertmanager.join("alertmanager.yml"),
                ),
                path_arg("--storage.path=", &am_data),
                OsString::from(format!(
                    "--web.listen-address=127.0.0.1:{}",
                    ports.alertmanager
                )),
                OsString::from(format!(
                    "--web.external-url=http://127.0.0.1:{}",
                    ports.alertmanager
                )),
                OsString::from("--cluster.listen-address="),
            ]
            .into_iter()
            .chain(quiet.then(|| OsString::from("--log.level=warn")))
            .collect(),
            env: vec![],
            kind: Kind::Service,
        },
        role: Role::Monitoring,
        port: ports.alertmanager,
        flag: "alertmanager-port",
        ready_path: "/-/ready",
        url: format!("http://127.0.0.1:{}", ports.alertmanager),
        note: "routes alerts to Slack, Telegram, Discord".to_owned(),
    });
    services.push(Service {
        spec: Spec {
            name: "prometheus".to_owned(),
            program: binaries.prometheus.clone(),
            args: vec![
                path_arg(
                    "--config.file=",
                    &cx.rendered.prometheus.join("prometheus.yml"),
                ),
                path_arg("--storage.tsdb.path=", &prom_data),
                OsString::from(format!(
                    "--web.listen-address=127.0.0.1:{}",
                    ports.prometheus
                )),
                OsString::from(format!(
                    "--web.external-url=http://127.0.0.1:{}",
                    ports.prometheus
                )),
                OsString::from("--web.enable-lifecycle"),
            ]
            .into_iter()
            .chain(quiet.then(|| OsString::from("--log.level=warn")))
            .collect(),
            env: vec![],
            kind: Kind::Service,
        },
        role: Role::Monitoring,
        port: ports.prometheus,
        flag: "prometheus-port",
        ready_path: "/-/ready",
        url: format!("http://127.0.0.1:{}", ports.prometheus),
        note: "scrapes every 5 s, evaluates the alert rules".to_owned(),
    });
    if let Some(grafana) = &binaries.grafana {
        services.push(grafana_service(grafana, cx)?);
    }

    Ok(services)
}

fn grafana_service(binary: &Path, cx: &Context) -> Result<Service, StackError> {
    let (args, config_dir, ports, grafana_url) = (cx.args, cx.config_dir, cx.ports, cx.grafana_url);
    let dir = cx.data_dir.join("grafana");
    for sub in ["data", "logs", "plugins"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|source| StackError::Io { path, source })?;
    }
    // Local-only secrets, generated once per data dir and reused, never printed.
    let secret_file = |name: &str| -> Result<PathBuf, StackError> {
        let path = dir.join(name);
        if tokens::ensure(&path)? == tokens::Found::Tightened {
            println!(
                "warning: {} was readable by other users; made it 0600",
                path.display()
            );
        }
        Ok(path)
    };
    let admin_password = secret_file("admin-password")?;
    let secret_key = secret_file("secret-key")?;
    let home = grafana_home(binary, &args.grafana_homepath);
    let mut cli = Vec::new();
    let is_unified = binary.file_name().is_some_and(|n| n == "grafana");
    if is_unified {
        cli.push(OsString::from("server"));
    }
    if let Some(home) = &home {
        cli.push(path_arg("--homepath=", home));
    }
    let provisioning = config_dir.join("monitoring/grafana/provisioning");
    let mut env: Vec<(String, OsString)> = vec![
        ("GF_SERVER_HTTP_ADDR".into(), "127.0.0.1".into()),
        (
            "GF_SERVER_HTTP_PORT".into(),
            ports.grafana.to_string().into(),
        ),
        ("GF_SERVER_ROOT_URL".into(), grafana_url.into()),
        ("GF_PATHS_DATA".into(), dir.join("data").into()),
        ("GF_PATHS_LOGS".into(), dir.join("logs").into()),
        ("GF_PATHS_PLUGINS".into(), dir.join("plugins").into()),
        ("GF_PATHS_PROVISIONING".into(), provisioning.into()),
        (
            "GF_SECURITY_ADMIN_PASSWORD__FILE".into(),
            admin_password.clone().into(),
        ),
        ("GF_SECURITY_SECRET_KEY__FILE".into(), secret_key.into()),
        ("GF_AUTH_ANONYMOUS_ENABLED".into(), "true".into()),
        ("GF_AUTH_ANONYMOUS_ORG_ROLE".into(), "Viewer".into()),
        ("GF_ANALYTICS_REPORTING_ENABLED".into(), "false".into()),
        ("GF_ANALYTICS_CHECK_FOR_UPDATES".into(), "false".into()),
        (
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES".into(),
            "false".into(),
        ),
        ("GF_PLUGINS_PREINSTALL_DISABLED".into(), "true".into()),
        ("GF_NEWS_NEWS_FEED_ENABLED".into(), "false".into()),
        (
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH".into(),
            config_dir.join("dashboards/model-server.json").into(),
        ),
        // Read by the repo's provisioning files.
        (
            "PROMETHEUS_URL".into(),
            format!("http://127.0.0.1:{}", ports.prometheus).into(),
        ),
        (
            "MODEL_SERVER_DASHBOARDS_DIR".into(),
            config_dir.join("dashboards").into(),
        ),
    ];
    // The contact points read the notification secrets with $__env{}; Grafana has no
    // default syntax and refuses empty ones, so unset secrets get placeholders.
    for secret in secrets::NOTIFICATION_SECRETS {
        let value = secrets::secret(secret.name)?.unwrap_or_else(|| secret.placeholder.to_owned());
        env.push((secret.name.to_owned(), value.into()));
    }
    if quiet(cx) {
        env.push(("GF_LOG_LEVEL".into(), "warn".into()));
    }
    Ok(Service {
        spec: Spec {
            name: "grafana".to_owned(),
            program: binary.to_owned(),
            args: cli,
            env,
            kind: Kind::Service,
        },
        role: Role::Monitoring,
        port: ports.grafana,
        flag: "grafana-port",
        ready_path: "/api/health",
        url: format!("{grafana_url}/d/model-server"),
        note: format!("dashboard; admin password in {}", admin_password.display()),
    })
}

/// The URL table, printed once everything is ready: the last thing a person reads.
pub fn print_table(services: &[Service], no_server: bool, ports: &Ports, additions: &Additions) {
    let width = name_width(ports.replicas);
    println!();
    println!("{:<width$}  {:<42}  what", "service", "url");
    for service in services {
        println!(
            "{:<width$}  {:<42}  {}",
            service.spec.name, service.url, service.note
        );
    }
    if no_server {
        for (index, port) in ports.servers().enumerate() {
            println!(
                "{:<width$}  {:<42}  started elsewhere (--no-server)",
                server_name(index, ports.replicas),
                format!("http://127.0.0.1:{port}")
            );
        }
    }
    if let Some(remote) = &additions.remote_write {
        println!(
            "{:<width$}  {:<42}  remote write of every sample",
            "long-term",
            prometheus_config::redacted_url(&remote.url)
        );
    }
    if !additions.external_labels.is_empty() {
        let labels: Vec<String> = additions
            .external_labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        println!("external labels: {}", labels.join(", "));
    }
    println!("\nCtrl-C stops everything.\n");
}
