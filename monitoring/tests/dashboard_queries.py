#!/usr/bin/env python3
"""Every PromQL expression of dashboards/model-server.json, with Grafana's
variables substituted, for end-to-end tests that run them against a live
Prometheus (each should return non-empty, finite data once traffic was sent).

    from dashboard_queries import dashboard_queries
    for q in dashboard_queries():            # list of dicts
        q["panel"], q["title"], q["refId"], q["expr"], q["instant"]

    python3 monitoring/tests/dashboard_queries.py [--json] [--include-annotations]
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(HERE, "..", "..", "dashboards", "model-server.json")
# The mixin's values (monitoring/mixin/config.py, written out by monitoring/generate).
with open(os.path.join(HERE, "..", "config.json"), encoding="utf-8") as _f:
    CONFIG = json.load(_f)

DEFAULT_VARS = {
    "job": CONFIG["model_server_job"],
    "instance": ".*",   # "All" -> the variable's allValue
    "node": ".*",
    "feature": "petal_length_cm",   # a feature of the embedded Iris model
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "15m",
    "__range_s": "900",
    "__range_ms": "900000",
}

# $name, ${name}, ${name:format}, [[name]] -- Grafana's variable syntaxes.
_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")


def substitute(expr, variables=None):
    """Replace Grafana variables; unknown names (e.g. label_replace's ${1}) stay as they are."""
    values = dict(DEFAULT_VARS)
    values.update(variables or {})

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values[name] if name in values else m.group(0)

    return _VAR.sub(repl, expr)


def _panels(panels):
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def load_dashboard(path=DASHBOARD):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dashboard_queries(path=DASHBOARD, variables=None, include_annotations=False, raw=False):
    """Return [{panel, title, refId, expr, instant, raw}] for every target with an expr.
    raw=True leaves the variables in `expr` (the substituted form is always in `expr` otherwise)."""
    dash = load_dashboard(path)
    out = []
    for p in _panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if not t.get("expr") or t.get("hide"):
                continue
            out.append({"panel": p.get("id"), "title": p.get("title"), "refId": t.get("refId"),
                        "instant": bool(t.get("instant")) and not t.get("range"),
                        "raw": t["expr"], "expr": t["expr"] if raw else substitute(t["expr"], variables)})
    if include_annotations:
        for a in dash.get("annotations", {}).get("list", []):
            if a.get("expr"):
                out.append({"panel": None, "title": "annotation: " + a.get("name", ""), "refId": None,
                            "instant": False, "raw": a["expr"], "expr": a["expr"] if raw else substitute(a["expr"], variables)})
    return out


def variable_queries(path=DASHBOARD, variables=None):
    """The label_values(...) queries of the template variables (not plain PromQL)."""
    out = []
    for v in load_dashboard(path).get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if q:
            out.append({"name": v["name"], "query": substitute(q, variables)})
    return out


if __name__ == "__main__":
    qs = dashboard_queries(include_annotations="--include-annotations" in sys.argv)
    if "--json" in sys.argv:
        json.dump(qs, sys.stdout, indent=2)
        print()
    else:
        for q in qs:
            print("%s\t%s\t%s" % (q["panel"], q["title"], q["expr"]))
