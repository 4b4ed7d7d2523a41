//! The flags of `model-server stack`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::prometheus_config::{self, ExternalLabel};
use super::restart::{Policy, Role};
use super::state::Choice;
use crate::config::parse_positive_duration;

/// Options of `model-server stack`.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// Where the services keep their data (Prometheus' TSDB, Alertmanager's
    /// silences and notification log, Grafana's database and generated secrets)
    /// and the configs rendered for them. Kept across runs; one stack at a time
    /// (a second one on the same folder is refused). Default:
    /// $XDG_STATE_HOME/model-server/stack, else ~/.local/state/model-server/stack.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use a fresh temporary data dir instead, removed when the stack stops
    /// cleanly (kept for inspection after a failure): nothing is kept for the
    /// next run.
    #[arg(long, conflicts_with = "data_dir")]
    pub ephemeral: bool,
    /// Folder holding the repository's `monitoring/` and `dashboards/`. Default: the
    /// current directory, else `<binary dir>/../share/model-server`.
    #[arg(long, env = "MODEL_SERVER_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// Port of the model server on 127.0.0.1; with --replicas N, the first of N
    /// consecutive ports.
    #[arg(long, default_value_t = 8000, value_name = "PORT")]
    pub server_port: u16,
    /// How many model servers to run, on consecutive ports from --server-port.
    /// Prometheus scrapes each as its own `instance` of job `model-server`.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub replicas: u16,
    /// Port of node-exporter on 127.0.0.1.
    #[arg(long, default_value_t = 9100, value_name = "PORT")]
    pub node_exporter_port: u16,
    /// Port of Prometheus on 127.0.0.1.
    #[arg(long, default_value_t = 9090, value_name = "PORT")]
    pub prometheus_port: u16,
    /// Port of Alertmanager on 127.0.0.1.
    #[arg(long, default_value_t = 9093, value_name = "PORT")]
    pub alertmanager_port: u16,
    /// Port of Grafana on 127.0.0.1.
    #[arg(long, default_value_t = 3000, value_name = "PORT")]
    pub grafana_port: u16,

    /// Don't start model servers: scrape the ones already listening on
    /// --server-port (and the next ports, with --replicas).
    #[arg(long)]
    pub no_server: bool,
    /// Prometheus binary (default: `prometheus` on PATH).
    #[arg(long, value_name = "PATH")]
    pub prometheus_bin: Option<PathBuf>,
    /// node-exporter binary (default: `prometheus-node-exporter` or `node_exporter` on PATH).
    #[arg(long, value_name = "PATH")]
    pub node_exporter_bin: Option<PathBuf>,
    /// Alertmanager binary (default: `alertmanager` or `prometheus-alertmanager` on PATH).
    #[arg(long, value_name = "PATH")]
    pub alertmanager_bin: Option<PathBuf>,
    /// Grafana binary (default: `grafana` or `grafana-server` on PATH).
    #[arg(long, value_name = "PATH")]
    pub grafana_bin: Option<PathBuf>,
    /// Grafana's home (the folder with conf/defaults.ini). Default: guessed from the binary.
    #[arg(long, env = "MODEL_SERVER_GRAFANA_HOME", value_name = "DIR")]
    pub grafana_homepath: Option<PathBuf>,
    /// Load generator binary for --load (default: `loadgen` next to this binary or on PATH).
    #[arg(long, value_name = "PATH")]
    pub loadgen_bin: Option<PathBuf>,

    /// Send every sample Prometheus scrapes and records to this remote-write
    /// endpoint of a long-term store (Grafana Mimir, Thanos Receive,
    /// VictoriaMetrics...). Off when unset.
    #[arg(long, env = "MODEL_SERVER_REMOTE_WRITE_URL", value_name = "URL")]
    pub remote_write_url: Option<String>,
    /// User name for basic authentication to the remote-write endpoint; needs
    /// --remote-write-password-file.
    #[arg(long, env = "MODEL_SERVER_REMOTE_WRITE_USERNAME", value_name = "NAME")]
    pub remote_write_username: Option<String>,
    /// File holding the basic-authentication password, read by Prometheus.
    #[arg(
        long,
        env = "MODEL_SERVER_REMOTE_WRITE_PASSWORD_FILE",
        value_name = "PATH"
    )]
    pub remote_write_password_file: Option<PathBuf>,
    /// File holding a bearer token for the remote-write endpoint, read by Prometheus.
    #[arg(
        long,
        env = "MODEL_SERVER_REMOTE_WRITE_BEARER_TOKEN_FILE",
        value_name = "PATH"
    )]
    pub remote_write_bearer_token_file: Option<PathBuf>,
    /// A label Prometheus adds to every series and alert it sends elsewhere
    /// (remote write, Alertmanager). Repeatable; the environment variable takes a
    /// comma-separated list. By convention `cluster=<where it runs>`, and
    /// `replica=<a|b>` for a redundant pair, so several stacks stay apart in one store.
    #[arg(long = "external-label", env = "MODEL_SERVER_EXTERNAL_LABELS",
          value_name = "NAME=VALUE", value_delimiter = ',',
          value_parser = prometheus_config::parse_label)]
    pub external_labels: Vec<ExternalLabel>,

    /// Show every log line of the children. By default they log warnings and
    /// errors only, so the URL table stays readable.
    #[arg(long, short)]
    pub verbose: bool,
    /// Fail instead of warning when Grafana is missing.
    #[arg(long)]
    pub require_all: bool,
    /// Also run the goose load test (50 users, 3m30s) against each model server once
    /// they are up.
    #[arg(long)]
    pub load: bool,
    /// How long each service may take to become ready.
    #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
    pub ready_timeout: Duration,

    /// Wait before a child that exited is started again. It doubles with each
    /// restart of that child within --restart-window, up to --restart-delay-max.
    #[arg(long, default_value = "1s", value_name = "DURATION",
          value_parser = parse_positive_duration, help_heading = RESTARTS)]
    pub restart_delay: Duration,
    /// Longest wait between restarts (at least --restart-delay).
    #[arg(long, default_value = "30s", value_name = "DURATION",
          value_parser = parse_positive_duration, help_heading = RESTARTS)]
    pub restart_delay_max: Duration,
    /// Restarts older than this are forgotten: they no longer lengthen the wait
    /// nor count against --restart-limit.
    #[arg(long, default_value = "5m", value_name = "DURATION",
          value_parser = parse_positive_duration, help_heading = RESTARTS)]
    pub restart_window: Duration,
    /// The restart budget of each monitoring child (node-exporter, Prometheus,
    /// Alertmanager, Grafana): at most this many restarts within --restart-window;
    /// its next exit stops the stack. The model servers are restarted without
    /// limit: their being down is what the alerts report.
    #[arg(long, default_value_t = 5, value_name = "N", help_heading = RESTARTS)]
    pub restart_limit: u32,
}

const RESTARTS: &str = "Restarts";

impl StackArgs {
    /// The restart policy of a child with this role.
    pub fn restart_policy(&self, role: Role) -> Policy {
        Policy {
            first_delay: self.restart_delay,
            max_delay: self.restart_delay_max.max(self.restart_delay),
            window: self.restart_window,
            limit: match role {
                Role::Monitored => None,
                Role::Monitoring => Some(self.restart_limit),
            },
        }
    }

    /// The data dir the flags ask for.
    pub fn data_choice(&self) -> Choice {
        match (&self.data_dir, self.ephemeral) {
            (_, true) => Choice::Ephemeral,
            (Some(dir), false) => Choice::Dir(dir.clone()),
            (None, false) => Choice::Default,
        }
    }
}
