"""Prometheus rule groups: recording rules first, then the alerts that read them.

Rules of one group are evaluated in order, so each alert sees the recording
rules of the same evaluation (cross-group reads lag by up to one interval, and
promtool evaluates groups in random order). Recording rule names follow
level:metric:operations.

Each module holds one group (one file of monitoring/prometheus/rules/); `GROUPS`
lists them in file order. An alert is one `Alert(...)` in its group's list, with
its runbook prose beside it (rendered into docs/runbooks.md, linked by the
runbook_url annotation) and, if Grafana should page for it too, a `Grafana(...)`
mirror.
"""
import textwrap
from dataclasses import dataclass, field


def promql(text):
    """An expression written as an indented triple-quoted string, as PromQL text:
    one line stays one line; several lines end with a newline (a YAML block)."""
    text = textwrap.dedent(text).strip()
    return text + "\n" if "\n" in text else text


def prose(text):
    """Runbook or description text written across source lines, as one paragraph."""
    return " ".join(textwrap.dedent(text).split())


@dataclass(frozen=True)
class Record:
    record: str
    expr: str

    def to_yaml(self, c):
        return {"record": self.record, "expr": promql(self.expr)}


@dataclass(frozen=True)
class Grafana:
    """The same condition as a Grafana-managed rule: query A (the PromQL `expr`),
    B = its last value, C = B compared with `threshold`; linked to a panel."""
    uid: str
    expr: str
    op: str  # "gt" or "lt"
    threshold: float
    panel: int
    summary: str
    description: str
    title: str = ""  # default: the alert's name
    no_data: str = "OK"
    exec_err: str = "Error"
    window_seconds: int = 600  # the query's relativeTimeRange


def grafana_none_up(uid, selector, panel, summary, description):
    """A Grafana mirror of a "no target answers" alert: the number of targets of
    `selector` that answer, alerting below 1, and also when there is no data."""
    return Grafana(uid=uid, expr="sum(up{%s}) or vector(0)" % selector, op="lt", threshold=1, panel=panel,
                   no_data="Alerting", exec_err="Alerting", window_seconds=300, summary=summary,
                   description=description)


@dataclass(frozen=True)
class Alert:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str  # prose for docs/runbooks.md, never an annotation
    labels: dict = field(default_factory=dict)  # beyond severity and service
    grafana: Grafana = None

    def anchor(self):
        return self.alert.lower()

    def to_yaml(self, c, service):
        return {
            "alert": self.alert,
            "expr": promql(self.expr),
            "for": self.for_,
            "labels": {"severity": self.severity, "service": service, **self.labels},
            "annotations": {
                "summary": self.summary,
                "description": prose(self.description),
                "runbook_url": "%s#%s" % (c.runbook_url, self.anchor()),
                "dashboard": c.dashboard_url,
            },
        }


@dataclass(frozen=True)
class Group:
    name: str
    file: str  # monitoring/prometheus/rules/<file>
    service: str  # the service label of every alert of the group
    comment: str  # the generated file's header: what the group is about
    rules: list
    # The alert that means the service's targets are gone: Alertmanager lets it
    # silence the service's other alerts, which it explains.
    down_alert: str = None

    def alerts(self):
        return [r for r in self.rules if isinstance(r, Alert)]

    def records(self):
        return [r for r in self.rules if isinstance(r, Record)]

    def to_yaml(self, c):
        return {"name": self.name, "rules": [r.to_yaml(c, self.service) if isinstance(r, Alert) else r.to_yaml(c)
                                             for r in self.rules]}


def groups(c):
    """Every rule group of the config, the service's own first, the host's last."""
    from . import anomalies, drift, model_server, node
    return [m.group(c) for m in (model_server, anomalies, drift, node)]
