#!/usr/bin/env python3
"""Rewrite the exp_annotations of the promtool unit tests from what promtool renders.

promtool compares alert annotations exactly, so editing a summary/description/
runbook in monitoring/prometheus/rules means updating every firing test case.
This tool does it: for each alert_rule_test case with exp_alerts, it runs that
case alone through `promtool test rules`, takes the annotations of the alert
whose labels equal exp_labels (labels must already match, or it stops), and
writes them under exp_labels. REVIEW THE DIFF: it records what the rules
render, it does not judge it.

usage: python3 monitoring/tests/update_alert_annotations.py [test.yml ...]
needs: PyYAML and prometheus-client (pip install -r tests/requirements.txt
-r monitoring/tests/requirements.txt), promtool on PATH.
"""
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml
from prometheus_client.parser import text_string_to_metric_families

TESTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "prometheus", "tests")


def parse_labels(s):
    """{name: value} of a label set as promtool prints it, `{a="x", b="y"}`: read by
    prometheus_client's text-format parser as the labels of a one-sample exposition."""
    family = next(text_string_to_metric_families("m%s 0\n" % s))
    return dict(family.samples[0].labels)


def strip_annotations(text):
    out, skip_indent = [], None
    for line in text.split("\n"):
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None and line.strip() and indent > skip_indent:
            continue
        skip_indent = None
        if line.strip() == "exp_annotations:":
            skip_indent = indent
            continue
        out.append(line)
    return "\n".join(out)


def rendered(path, doc, gi, ai):
    d = copy.deepcopy(doc)
    group = d["tests"][gi]
    group["alert_rule_test"] = [group["alert_rule_test"][ai]]
    group.pop("promql_expr_test", None)
    d["tests"] = [group]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=os.path.dirname(path), delete=False) as f:
        yaml.safe_dump(d, f)
    try:
        r = subprocess.run(["promtool", "test", "rules", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    txt = r.stdout + r.stderr
    if "got:[" not in txt:
        sys.exit("%s: test group %d case %d: expected a label/annotation mismatch, got:\n%s" % (path, gi, ai, txt))
    got = txt.split("got:[", 1)[1]
    return [(parse_labels(m.group(1)), parse_labels(m.group(2)))
            for m in re.finditer(r"Labels:(\{.*?\})\n\s*Annotations:(\{.*?\}),?\n", got)]


def update(path):
    text = strip_annotations(open(path, encoding="utf-8").read())
    doc = yaml.safe_load(text)
    fills = []
    for gi, group in enumerate(doc["tests"]):
        for ai, case in enumerate(group.get("alert_rule_test") or []):
            if not case.get("exp_alerts"):
                continue
            got = rendered(path, doc, gi, ai)
            for exp in case["exp_alerts"]:
                want = {k: str(v) for k, v in dict(exp["exp_labels"], alertname=case["alertname"]).items()}
                match = [ann for labels, ann in got if labels == want]
                if len(match) != 1:
                    sys.exit("%s: %s: no alert with labels %s; promtool got %s" % (path, group.get("name"), want, [l for l, _ in got]))
                fills.append(match[0])
    out, n = [], 0
    for line in text.split("\n"):
        out.append(line)
        m = re.match(r"^(\s*)- exp_labels:", line)
        if m:
            indent = m.group(1) + "  "
            out.append(indent + "exp_annotations:")
            out.extend("%s  %s: %s" % (indent, k, json.dumps(v, ensure_ascii=False)) for k, v in fills[n].items())
            n += 1
    assert n == len(fills), (path, n, len(fills))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print("%s: %d alerts" % (os.path.relpath(path), n))


if __name__ == "__main__":
    for p in sys.argv[1:] or sorted(glob.glob(os.path.join(TESTS_DIR, "*.yml"))):
        update(p)
