"""Grafana-managed alert rules: the alerts that carry a `Grafana(...)` mirror, as
Grafana's provisioning file (monitoring/grafana/provisioning/alerting/rules.yaml).

The Prometheus alerts stay the source of truth and go through Alertmanager;
these read the same recording rules through the provisioned datasource uid
"prometheus". Each rule: A = instant PromQL query, B = reduce (last, drop NaN),
C = threshold; C is the condition. Annotations use .Labels / .Values (no dollar
sign: Grafana would expand it).
"""
from .rules import promql

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
EXPRESSIONS = {"type": "__expr__", "uid": "__expr__"}
# A folder title (Grafana's rule files have no folder uid); the dashboard
# provider finds the same folder by this title.
FOLDER = "model-server"


def rule(c, group, alert):
    g = alert.grafana
    return {
        "uid": g.uid,
        "title": g.title or alert.alert,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": g.window_seconds, "to": 0},
                "datasourceUid": DATASOURCE["uid"],
                "model": {"refId": "A", "datasource": DATASOURCE, "expr": promql(g.expr), "instant": True,
                          "range": False, "intervalMs": 15000, "maxDataPoints": 43200},
            },
            {
                "refId": "B",
                "datasourceUid": EXPRESSIONS["uid"],
                "model": {"refId": "B", "datasource": EXPRESSIONS, "type": "reduce", "expression": "A",
                          "reducer": "last", "settings": {"mode": "dropNN"}},
            },
            {
                "refId": "C",
                "datasourceUid": EXPRESSIONS["uid"],
                "model": {"refId": "C", "datasource": EXPRESSIONS, "type": "threshold", "expression": "B",
                          "conditions": [{"evaluator": {"type": g.op, "params": [g.threshold]}}]},
            },
        ],
        "dashboardUid": c.dashboard_uid,
        "panelId": g.panel,
        "noDataState": g.no_data,
        "execErrState": g.exec_err,
        "for": alert.for_,
        "labels": {"severity": alert.severity, "service": group.service, **alert.labels, "source": "grafana"},
        "annotations": {
            "summary": g.summary,
            "description": g.description,
            "runbook_url": "%s#%s" % (c.runbook_url, alert.anchor()),
        },
        "isPaused": False,
    }


def provisioning(c, groups):
    """The provisioning document: one Grafana rule group per service."""
    by_service = {}
    for group in groups:
        for alert in group.alerts():
            if alert.grafana:
                by_service.setdefault(group.service, []).append(rule(c, group, alert))
    return {
        "apiVersion": 1,
        "groups": [{"orgId": 1, "name": service, "folder": FOLDER, "interval": c.grafana_rule_interval,
                    "rules": rules} for service, rules in by_service.items()],
    }
