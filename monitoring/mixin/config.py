"""The one source of truth of the monitoring: which series belong to which job,
where links point, every threshold, window and `for` of the alerts, the scrape
interval and the placeholders of unset notification secrets.

`LOCAL` is the stack, NixOS and Compose (job names of monitoring/prometheus/
prometheus.yml); `KUBE_PROMETHEUS_STACK` is the same mixin on a cluster
monitored by the kube-prometheus-stack chart. A profile is `dataclasses.replace`
of another: change a value here, run monitoring/generate, and every rule, alert,
panel, promtool test and runbook that uses it follows.
"""
from dataclasses import dataclass, field, replace

from . import fmt


@dataclass(frozen=True)
class Config:
    # -- where the series come from ------------------------------------------
    # Prometheus job names: the rules, alerts and panels select `job="<name>"`, and
    # the promtool tests give their input series the same label.
    model_server_job: str = "model-server"
    node_job: str = "node"
    # The label that tells the replicas (targets) of one job apart.
    instance_label: str = "instance"

    # -- links ------------------------------------------------------------------
    grafana_url: str = "http://127.0.0.1:3000"
    dashboard_uid: str = "model-server"
    # Every alert's runbook_url is this plus "#<alert name in lower case>": the
    # section of docs/runbooks.md. Set it to where your copy of the file is
    # browsable (a forge's URL of docs/runbooks.md); the default is the path in
    # the repository.
    runbook_url: str = "docs/runbooks.md"

    # -- Prometheus ------------------------------------------------------------
    scrape_interval: str = "5s"
    scrape_timeout: str = "4s"
    # Grafana evaluates its own alert rules this often.
    grafana_rule_interval: str = "30s"

    # -- notifications ---------------------------------------------------------
    # What a notification secret becomes when it is not set: valid values that
    # deliver nowhere (port 9 is discard), so Alertmanager and Grafana still start.
    # Read by alertmanager.yml's ${VAR:-default}, the stack, the NixOS module and Compose.
    placeholders: tuple = (
        ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/unconfigured"),
        ("TELEGRAM_BOT_TOKEN", "unconfigured"),
        ("TELEGRAM_CHAT_ID", "-1"),
        ("DISCORD_WEBHOOK_URL", "http://127.0.0.1:9/unconfigured"),
    )
    telegram_api_url: str = "https://api.telegram.org"

    # -- availability SLO: 5xx / all requests (499 excluded) ---------------------
    slo: float = 0.995
    slo_period: str = "30d"
    # Multi-window, multi-burn-rate alerts: both windows above factor x the budget.
    fast_burn_factor: float = 14.4
    fast_burn_long: str = "1h"
    fast_burn_short: str = "5m"
    fast_burn_for: str = "2m"
    slow_burn_factor: float = 6
    slow_burn_long: str = "6h"
    slow_burn_short: str = "30m"
    slow_burn_for: str = "5m"

    # -- model-server alerts ---------------------------------------------------
    down_for: str = "1m"
    instance_down_for: str = "5m"
    latency_p99_seconds: float = 0.5
    latency_min_rate: float = 0.05  # req/s on the route
    latency_for: str = "5m"
    # a replica's 5xx ratio above fast_burn_factor x the budget
    instance_errors_min_rate: float = 0.1  # req/s on the replica
    instance_errors_for: str = "5m"
    stuck_window: str = "5m"  # in progress this long with no request completed
    stuck_for: str = "5m"

    # -- anomalies: prediction shares and request rate against the trailing hour --
    prediction_drift_points: float = 0.25  # change of a class's share
    prediction_drift_min_now: int = 100  # predictions in the last 5 minutes
    prediction_drift_min_baseline: int = 300  # predictions in the trailing hour
    prediction_drift_for: str = "5m"
    rate_zscore: float = 3
    rate_stddev_floor: float = 0.01  # req/s
    rate_min_age: str = "50m"  # the rate series must be this old
    rate_anomaly_for: str = "2m"

    # -- input drift against the training reference ---------------------------------
    drift_window: str = "30m"
    drift_psi: float = 0.2
    drift_psi_moderate: float = 0.1  # dashboard colour only
    drift_out_of_range: float = 0.05
    drift_class_points: float = 0.25  # class share vs the training labels
    drift_min_values: int = 100  # served values (or predictions) in the window
    drift_for: str = "15m"

    # -- host (node-exporter) ------------------------------------------------------
    node_down_for: str = "1m"
    memory_warning: float = 0.90
    memory_warning_for: str = "5m"
    memory_critical: float = 0.97
    memory_critical_for: str = "2m"
    disk_free_below: float = 0.40  # only filesystems with less free space than this
    disk_trend_window: str = "6h"
    disk_horizon: str = "24h"
    disk_for: str = "1h"
    load_per_core: float = 2
    load_for: str = "15m"

    # -- what the platform monitors itself ----------------------------------------
    # False where the host alerts come from elsewhere (kube-prometheus-stack ships
    # the node-mixin's alerts for its own node-exporter).
    node_alerts: bool = True
    # Recording rules of node-exporter's series that the platform records already.
    external_node_records: frozenset = field(default_factory=frozenset)

    # ---------------------------------------------------------------- derived
    @property
    def error_budget(self):
        return round(1 - self.slo, 12)

    @property
    def fast_burn_threshold(self):
        return round(self.fast_burn_factor * self.error_budget, 12)

    @property
    def slow_burn_threshold(self):
        return round(self.slow_burn_factor * self.error_budget, 12)

    @property
    def dashboard_url(self):
        return "%s/d/%s" % (self.grafana_url, self.dashboard_uid)

    @property
    def jobs(self):
        """Job of each `service` label value."""
        return {"model-server": self.model_server_job, "node": self.node_job}

    @property
    def v(self):
        """The values `%(name)s` formatting of PromQL and annotations reads: every
        field, plus selectors and thresholds in the forms the text needs."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(
            ms='job="%s"' % self.model_server_job,
            node='job="%s"' % self.node_job,
            instance=self.instance_label,
            error_budget=fmt.num(self.error_budget),
            fast_burn_threshold=fmt.num(self.fast_burn_threshold),
            slow_burn_threshold=fmt.num(self.slow_burn_threshold),
            slo_pct=fmt.pct(self.slo),
            error_budget_pct=fmt.pct(self.error_budget),
            fast_burn_pct=fmt.pct(self.fast_burn_threshold),
            slow_burn_pct=fmt.pct(self.slow_burn_threshold),
            slo_label="availability-%s" % fmt.num(self.slo * 100),
        )
        return values


LOCAL = Config()

# kube-prometheus-stack: its node-exporter is job "node-exporter", and the chart
# ships the node-mixin's recording rules and alerts for it, so ours would
# duplicate series and alert twice. Its Grafana is reached as in the README
# (kubectl port-forward to 127.0.0.1:3000); set grafana_url to its real address.
KUBE_PROMETHEUS_STACK = replace(
    LOCAL,
    node_job="node-exporter",
    node_alerts=False,
    external_node_records=frozenset({"instance:node_num_cpu:sum", "instance:node_memory_utilisation:ratio"}),
)

PROFILES = {"local": LOCAL, "kube-prometheus-stack": KUBE_PROMETHEUS_STACK}
