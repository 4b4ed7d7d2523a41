"""Conventions of monitoring/prometheus/rules and coverage of their promtool unit tests.

promtool itself (check rules / test rules) runs in monitoring/check; these tests
make sure every alert has the labels and annotations the Alertmanager templates
and inhibition rules rely on, that its runbook_url leads to a section of
docs/runbooks.md, and that the unit tests exercise every alert both firing and
quiet, and every recording rule.
"""
import json
import glob
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROM = os.path.join(ROOT, "monitoring", "prometheus")
RUNBOOKS = os.path.join(ROOT, "docs", "runbooks.md")
with open(os.path.join(ROOT, "monitoring", "config.json"), encoding="utf-8") as _f:
    CONFIG = json.load(_f)
DASHBOARD_URL = "%s/d/%s" % (CONFIG["grafana_url"], CONFIG["dashboard_uid"])


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def rules():
    for f in sorted(glob.glob(os.path.join(PROM, "rules", "*.yml"))):
        for g in load(f)["groups"]:
            for r in g["rules"]:
                yield os.path.basename(f), g["name"], r


def unit_tests():
    for f in sorted(glob.glob(os.path.join(PROM, "tests", "*.yml"))):
        doc = load(f)
        assert doc["rule_files"] == ["../rules/*.yml"], f
        for t in doc["tests"]:
            yield t


ALERTS = [r for _, _, r in rules() if "alert" in r]
RECORDS = [r for _, _, r in rules() if "record" in r]


def test_there_are_alerts_and_recording_rules():
    names = {r["alert"] for r in ALERTS}
    for wanted in ("ModelServerDown", "ModelServerInstanceDown", "ModelServerHighErrorRate",
                   "ModelServerInstanceHighErrorRate", "ModelServerHighLatencyP99", "ModelServerRequestsStuck",
                   "ModelServerPredictionDrift", "ModelServerRequestRateAnomaly",
                   "NodeExporterDown", "NodeMemoryNearlyFull", "NodeDiskWillFillIn24h", "NodeHighLoadPerCore"):
        assert wanted in names, wanted
    assert RECORDS


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"] + "/" + r["labels"]["severity"])
def test_alert_labels_and_annotations(rule):
    assert rule["labels"]["severity"] in ("critical", "warning")
    assert rule["labels"]["service"] in ("model-server", "node")
    ann = rule["annotations"]
    assert set(ann) == {"summary", "description", "runbook_url", "dashboard"}, "runbook prose belongs in docs/"
    for key in ann:
        assert ann[key].strip(), key
    assert ann["runbook_url"] == "%s#%s" % (CONFIG["runbook_url"], rule["alert"].lower())
    assert ann["dashboard"] == DASHBOARD_URL
    job = {"model-server": CONFIG["model_server_job"], "node": CONFIG["node_job"]}[rule["labels"]["service"]]
    assert 'job="%s"' % job in rule["expr"]


def runbook_sections():
    """{anchor: the section's text} of docs/runbooks.md (GitHub's anchors of `## Name`)."""
    text = open(RUNBOOKS, encoding="utf-8").read()
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.M | re.S)}


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"] + "/" + r["labels"]["severity"])
def test_runbook_url_leads_to_a_runbook(rule):
    section = runbook_sections().get(rule["annotations"]["runbook_url"].rsplit("#", 1)[1])
    assert section, "docs/runbooks.md has no section for %s" % rule["alert"]
    (paragraph,) = re.findall(r"^\*\*%s\*\* \(for [^)]+\): (.+)$" % rule["labels"]["severity"], section, re.M)
    assert len(paragraph.split()) >= 25, "runbook should be a paragraph"


def test_recording_rule_names_follow_convention():
    names = [r["record"] for r in RECORDS]
    assert len(names) == len(set(names)), "a recording rule is defined twice"
    for n in names:
        assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", n), n


def test_every_alert_fires_and_stays_quiet_in_unit_tests():
    fired, quiet = set(), set()
    for t in unit_tests():
        for case in t.get("alert_rule_test", []) or []:
            if case.get("exp_alerts"):
                for a in case["exp_alerts"]:
                    fired.add((case["alertname"], a["exp_labels"]["severity"]))
                    assert a.get("exp_annotations"), "annotations of %s are not checked" % case["alertname"]
            else:
                quiet.add(case["alertname"])
    for r in ALERTS:
        key = (r["alert"], r["labels"]["severity"])
        assert key in fired, "no unit test where %s/%s fires" % key
        assert r["alert"] in quiet, "no unit test where %s stays quiet" % r["alert"]


def test_every_recording_rule_is_checked_by_promql_expr_test():
    exprs = " ".join(c["expr"] for t in unit_tests() for c in (t.get("promql_expr_test") or []))
    missing = [r["record"] for r in RECORDS if not re.search(re.escape(r["record"]) + r"(?![a-z0-9_:])", exprs)]
    assert not missing, "recording rules without promql_expr_test: %s" % missing
