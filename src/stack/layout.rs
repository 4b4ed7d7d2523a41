//! The stack's files: finding the repo's configs, and laying out the data dir
//! (Prometheus folder copied, plus file_sd targets listing every replica and the
//! flags' additions to prometheus.yml, Alertmanager config
//! rendered from the environment into a 0600 file, Grafana's directories and secrets).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::prometheus_config::{self, Additions};
use super::{envsubst, StackError};

/// Secrets the Alertmanager template reads. Each may also be given as a file
/// through `NAME_FILE` (for systemd credentials, Docker/K8s secrets).
/// The placeholder is what Alertmanager's template and Grafana's contact points
/// get when the secret is unset: valid values that deliver nowhere.
pub const NOTIFICATION_SECRETS: [Secret; 4] = [
    Secret {
        name: "SLACK_WEBHOOK_URL",
        service: "Slack",
        placeholder: "http://127.0.0.1:9/unconfigured",
    },
    Secret {
        name: "TELEGRAM_BOT_TOKEN",
        service: "Telegram",
        placeholder: "unconfigured",
    },
    Secret {
        name: "TELEGRAM_CHAT_ID",
        service: "Telegram",
        placeholder: "-1",
    },
    Secret {
        name: "DISCORD_WEBHOOK_URL",
        service: "Discord",
        placeholder: "http://127.0.0.1:9/unconfigured",
    },
];

/// A notification secret read from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Secret {
    pub name: &'static str,
    pub service: &'static str,
    pub placeholder: &'static str,
}

/// Loopback ports of every service. The model servers take `replicas`
/// consecutive ports starting at `server`.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub server: u16,
    pub replicas: u16,
    pub node_exporter: u16,
    pub prometheus: u16,
    pub alertmanager: u16,
    pub grafana: u16,
}

impl Ports {
    /// Each port with the flag that sets it (the first model server's only).
    fn with_flags(&self) -> [(u16, &'static str); 5] {
        [
            (self.server, "server-port"),
            (self.node_exporter, "node-exporter-port"),
            (self.prometheus, "prometheus-port"),
            (self.alertmanager, "alertmanager-port"),
            (self.grafana, "grafana-port"),
        ]
    }

    /// The ports of the model servers, one per replica, in order.
    pub fn servers(&self) -> impl Iterator<Item = u16> + Clone {
        let last = self.last_server().unwrap_or(u16::MAX);
        self.server..=last
    }

    /// The last model server's port, `None` when the range passes 65535.
    fn last_server(&self) -> Option<u16> {
        self.server.checked_add(self.replicas.max(1) - 1)
    }

    /// Refuses port 0 (the OS would pick one that nothing else knows), a port
    /// given to two services (all on 127.0.0.1; with --no-server the server's port
    /// is still scraped), and a service port inside the model servers' range.
    pub fn validate(&self) -> Result<(), StackError> {
        let all = self.with_flags();
        for (i, (port, flag)) in all.iter().enumerate() {
            if *port == 0 {
                return Err(StackError::PortZero { flag });
            }
            if let Some((_, other)) = all[..i].iter().find(|(p, _)| p == port) {
                return Err(StackError::PortClash {
                    port: *port,
                    first: other,
                    second: flag,
                });
            }
        }
        let last = self.last_server().ok_or(StackError::ReplicasPastLastPort {
            first: self.server,
            replicas: self.replicas,
        })?;
        if let Some((port, flag)) = all[1..]
            .iter()
            .find(|(p, _)| (self.server..=last).contains(p))
        {
            return Err(StackError::PortInReplicaRange {
                port: *port,
                flag,
                first: self.server,
                last,
                replicas: self.replicas,
            });
        }
        Ok(())
    }
}

/// Finds the folder holding `monitoring/` and `dashboards/`.
pub fn find_config_dir(explicit: Option<&Path>) -> Result<PathBuf, StackError> {
    let has_configs = |dir: &Path| dir.join("monitoring/prometheus/prometheus.yml").is_file();
    if let Some(dir) = explicit {
        return if has_configs(dir) {
            Ok(dir.to_owned())
        } else {
            Err(StackError::ConfigDir(format!(
                "{} has no monitoring/prometheus/prometheus.yml",
                dir.display()
            )))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd);
    }
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        candidates.push(bin_dir.join("../share/model-server"));
        // target/{debug,release}/model-server inside a checkout.
        candidates.push(bin_dir.join("../.."));
    }
    candidates
        .into_iter()
        .find(|d| has_configs(d))
        .ok_or_else(|| {
            StackError::ConfigDir(
                "no monitoring/ and dashboards/ found in the current directory or next to the binary; \
                 run from the repository or pass --config-dir"
                    .to_owned(),
            )
        })
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Copies `from` into `to` recursively (files and folders only). Each file is
/// replaced, not written through, and made owner-writable: the source may be
/// read-only (the Nix store's files are 0444), and the stack rewrites some copies
/// (`write_targets`) as whatever user runs it, root or not.
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), StackError> {
    fs::create_dir_all(to).map_err(io_err(to))?;
    for entry in fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err(&entry.path()))?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            match fs::remove_file(&target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&target)(e));
                }
                _ => {}
            }
            fs::copy(entry.path(), &target).map_err(io_err(&target))?;
            let mut permissions = fs::metadata(&target)
                .map_err(io_err(&target))?
                .permissions();
            permissions.set_mode(permissions.mode() | 0o200);
            fs::set_permissions(&target, permissions).map_err(io_err(&target))?;
        }
    }
    Ok(())
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), StackError> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(contents).map_err(io_err(path))
}

/// The value of a secret: `NAME` from the environment, else the contents of the file
/// named by `NAME_FILE` (trailing newline trimmed).
pub fn secret(name: &str) -> Result<Option<String>, StackError> {
    if let Some(v) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(v));
    }
    match std::env::var_os(format!("{name}_FILE")) {
        Some(path) => {
            let path = PathBuf::from(path);
            let value = fs::read_to_string(&path).map_err(io_err(&path))?;
            Ok(Some(value.trim_end_matches(['\n', '\r']).to_owned()))
        }
        None => Ok(None),
    }
}

/// Writes `targets/<job>.json` for Prometheus' file service discovery: one
/// target per model server, each its own `instance`.
pub fn write_targets(prometheus_dir: &Path, ports: &Ports) -> Result<(), StackError> {
    let dir = prometheus_dir.join("targets");
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let address = |port: u16| format!("127.0.0.1:{port}");
    for (file, targets) in [
        ("model-server.json", ports.servers().map(address).collect()),
        ("node.json", vec![address(ports.node_exporter)]),
        ("alertmanager.json", vec![address(ports.alertmanager)]),
    ] {
        let path = dir.join(file);
        let body = serde_json::json!([{ "targets": targets }]);
        // Written aside and renamed: Prometheus re-reads the file when it changes
        // and must never see half of it.
        let partial = dir.join(format!(".{file}.partial"));
        fs::write(&partial, format!("{body}\n")).map_err(io_err(&partial))?;
        fs::rename(&partial, &path).map_err(io_err(&path))?;
    }
    Ok(())
}

/// Rewrites the data dir's copy of `prometheus.yml` with the stack's additions
/// (left as copied when there are none).
pub fn derive_prometheus_config(path: &Path, additions: &Additions) -> Result<(), StackError> {
    if *additions == Additions::default() {
        return Ok(());
    }
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let derived = prometheus_config::derive(&text, additions)?;
    fs::write(path, derived).map_err(io_err(path))
}

/// Renders the Alertmanager template with secrets from the environment (or their
/// `_FILE`s) into a 0600 file. `extra` variables (set by the stack itself) win
/// over the environment.
pub fn render_alertmanager(
    template: &Path,
    out: &Path,
    extra: &[(&str, String)],
) -> Result<(), StackError> {
    let text = fs::read_to_string(template).map_err(io_err(template))?;
    let mut missing_file = None;
    let rendered = envsubst::render(&text, |name| {
        if let Some((_, v)) = extra.iter().find(|(k, _)| *k == name) {
            return Some(v.clone());
        }
        match secret(name) {
            // Set but empty, as envsubst tells it from unset (`${VAR-default}`).
            Ok(None) => std::env::var(name).ok(),
            Ok(v) => v,
            Err(e) => {
                missing_file.get_or_insert(e);
                None
            }
        }
    })
    .map_err(|e| StackError::Template {
        path: template.to_owned(),
        reason: e.to_string(),
    })?;
    if let Some(e) = missing_file {
        return Err(e);
    }
    write_private(out, rendered.as_bytes())
}

/// A random token for generated local secrets (Grafana's admin password and key).
pub fn random_token() -> String {
    let mut rng = fastrand::Rng::new();
    (0..32).map(|_| rng.alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_config_is_private_and_has_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("am.yml");
        fs::write(
            &template,
            "url: ${GRAFANA_URL}\nslack: ${MODEL_SERVER_TEST_UNSET_SECRET:-http://127.0.0.1:9/}\ncost: $$1\n\
             empty: [${MODEL_SERVER_TEST_EMPTY_SECRET-unset}]\n",
        )
        .unwrap();
        let out = dir.path().join("rendered.yml");
        std::env::set_var("MODEL_SERVER_TEST_EMPTY_SECRET", "");
        render_alertmanager(&template, &out, &[("GRAFANA_URL", "http://g:3000".into())]).unwrap();
        std::env::remove_var("MODEL_SERVER_TEST_EMPTY_SECRET");
        let text = fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "url: http://g:3000\nslack: http://127.0.0.1:9/\ncost: $1\nempty: []\n"
        );
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Rendering again replaces the file and keeps it private.
        render_alertmanager(&template, &out, &[("GRAFANA_URL", "x".into())]).unwrap();
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn copies_of_read_only_files_are_owner_writable_and_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir_all(from.join("targets")).unwrap();
        fs::write(from.join("prometheus.yml"), "a").unwrap();
        fs::write(from.join("targets/node.json"), "[]").unwrap();
        // As in the Nix store: files 0444, folders 0555.
        for (path, mode) in [
            (from.join("targets/node.json"), 0o444),
            (from.join("prometheus.yml"), 0o444),
            (from.join("targets"), 0o555),
            (from.clone(), 0o555),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        copy_dir(&from, &to).unwrap();
        for file in ["prometheus.yml", "targets/node.json"] {
            let mode = fs::metadata(to.join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{file}");
        }
        // A second start over the same data dir replaces the copies.
        fs::set_permissions(to.join("prometheus.yml"), fs::Permissions::from_mode(0o444)).unwrap();
        copy_dir(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(to.join("prometheus.yml")).unwrap(), "a");
        fs::set_permissions(&from, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(from.join("targets"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn port_zero_and_shared_ports_are_refused_naming_the_flags() {
        let ports = Ports {
            server: 8000,
            replicas: 1,
            node_exporter: 9100,
            prometheus: 9090,
            alertmanager: 9093,
            grafana: 3000,
        };
        assert!(ports.validate().is_ok());
        let err = Ports {
            grafana: 0,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--grafana-port is 0: each service needs a fixed port, the scrape targets and URLs name it"
        );
        let err = Ports {
            prometheus: 8000,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--server-port and --prometheus-port are both 8000: each service needs a port of its own"
        );
    }

    #[test]
    fn targets_point_at_the_chosen_ports() {
        let dir = tempfile::tempdir().unwrap();
        let ports = Ports {
            server: 18000,
            replicas: 3,
            node_exporter: 19100,
            prometheus: 19090,
            alertmanager: 19093,
            grafana: 13000,
        };
        write_targets(dir.path(), &ports).unwrap();
        let node: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join("targets/node.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(node[0]["targets"][0], "127.0.0.1:19100");
        let servers: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join("targets/model-server.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            servers,
            serde_json::json!([{ "targets": ["127.0.0.1:18000", "127.0.0.1:18001", "127.0.0.1:18002"] }])
        );
    }

    #[test]
    fn replicas_take_consecutive_ports_that_nothing_else_may_use() {
        let ports = Ports {
            server: 8000,
            replicas: 3,
            node_exporter: 9100,
            prometheus: 9090,
            alertmanager: 9093,
            grafana: 3000,
        };
        assert!(ports.validate().is_ok());
        assert_eq!(ports.servers().collect::<Vec<_>>(), [8000, 8001, 8002]);
        let err = Ports {
            grafana: 8002,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--grafana-port 8002 is one of the model servers' ports 8000-8002 (--server-port 8000, --replicas 3): \
             each service needs a port of its own"
        );
        // Just past the range is fine.
        assert!(Ports {
            grafana: 8003,
            ..ports
        }
        .validate()
        .is_ok());
        let err = Ports {
            server: 65534,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--server-port 65534 with --replicas 3 runs past port 65535: choose a lower --server-port"
        );
    }

    #[test]
    fn a_secret_file_that_cannot_be_read_is_an_error_naming_it() {
        std::env::set_var("MODEL_SERVER_TEST_SECRET_FILE", "/nonexistent/secret");
        let err = secret("MODEL_SERVER_TEST_SECRET").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/secret"), "{err}");
        std::env::remove_var("MODEL_SERVER_TEST_SECRET_FILE");
    }
}
