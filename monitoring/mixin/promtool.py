"""Helpers for the promtool unit tests of the rules (monitoring/prometheus/tests/).

Series and samples are written as promtool writes them, without the job:
`t.ms('requests_total{instance="i", status="200"}', "0+60x20")` is a series of
the model server's job, `t.node(...)` one of node-exporter's, and `t.series(...)`
takes the labels as given (another job). The label `instance` stands for
config.instance_label. An expected alert names only what the test decides:
`t.fires("8m", "ModelServerDown", t.expect("critical", 'instance="a"', summary=..., description=...))`;
its job, service and other static labels, runbook_url and dashboard link come from
the rule itself. So a change of job name, instance label or link changes the
tests with the rules, and a change of threshold or wording shows in the tests.
"""
import re

_SELECTOR = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)?(?:\{(.*)\})?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def _parse(text):
    """'name{a="x", b="y"}' -> ("name", [("a", "x"), ("b", "y")])."""
    m = _SELECTOR.match(text.strip())
    if not m:
        raise ValueError("not a series: %r" % text)
    body, labels, pos = m.group(2) or "", [], 0
    while pos < len(body):
        label = _LABEL.match(body, pos)
        if not label:
            raise ValueError("bad labels in %r at %r" % (text, body[pos:]))
        labels.append((label.group(1), label.group(2)))
        pos = label.end()
    return m.group(1) or "", labels


class Suite:
    def __init__(self, c, groups):
        self.c = c
        self.v = c.v
        self.ms_job = c.model_server_job
        self.node_job = c.node_job
        self._rules = {(a.alert, a.severity): (g, a) for g in groups for a in g.alerts()}

    # ---------------------------------------------------------------- labels
    def _labels(self, pairs, job=None):
        """Label pairs with `instance` renamed to the configured label, job first."""
        out = {} if job is None else {"job": job}
        for name, value in pairs:
            out[self.c.instance_label if name == "instance" else name] = value
        return out

    @staticmethod
    def _text(name, labels):
        return "%s{%s}" % (name, ", ".join('%s="%s"' % kv for kv in labels.items()))

    # ---------------------------------------------------------------- input series
    def series(self, text, values, job=None):
        name, pairs = _parse(text)
        return {"series": self._text(name, self._labels(pairs, job)), "values": values}

    def ms(self, text, values):
        return self.series(text, values, job=self.ms_job)

    def node(self, text, values):
        return self.series(text, values, job=self.node_job)

    # ---------------------------------------------------------------- alerts
    def quiet(self, at, alertname):
        if not any(name == alertname for name, _ in self._rules):
            raise KeyError("no alert %s" % alertname)
        return {"eval_time": at, "alertname": alertname, "exp_alerts": []}

    @staticmethod
    def expect(severity, labels="", summary="", description=""):
        """One alert instance: its severity, the labels the test decides, its text."""
        return {"severity": severity, "labels": labels, "summary": summary, "description": description}

    def fires(self, at, alertname, *expected):
        alerts = []
        for e in expected:
            group, rule = self._rules[(alertname, e["severity"])]
            labels = self._labels(_parse("{%s}" % e["labels"])[1])
            job = labels.pop("job", self.c.jobs[group.service])
            annotations = rule.to_yaml(self.c, group.service)["annotations"]
            alerts.append({
                "exp_labels": {"job": job, **labels, "severity": rule.severity, "service": group.service,
                               **rule.labels},
                "exp_annotations": dict(annotations, summary=e["summary"], description=e["description"]),
            })
        return {"eval_time": at, "alertname": alertname, "exp_alerts": alerts}

    # ---------------------------------------------------------------- expressions
    def sample(self, text, value, job=None):
        """An expected sample of the model server's job (unless the labels name a job)."""
        name, pairs = _parse(text)
        labels = self._labels(pairs)
        return {"labels": self._text(name, {"job": labels.pop("job", job or self.ms_job), **labels}),
                "value": value}

    def node_sample(self, text, value):
        return self.sample(text, value, job=self.node_job)

    @staticmethod
    def expr(expr, at, *samples):
        return {"expr": expr, "eval_time": at, "exp_samples": list(samples)}

    @staticmethod
    def case(name, series, alerts=(), exprs=(), interval="1m"):
        test = {"name": name, "interval": interval, "input_series": list(series)}
        if alerts:
            test["alert_rule_test"] = list(alerts)
        if exprs:
            test["promql_expr_test"] = list(exprs)
        return test


def test_file(tests):
    return {"rule_files": ["../rules/*.yml"], "evaluation_interval": "1m", "tests": tests}
