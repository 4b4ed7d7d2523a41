"""Static checks of the Grafana files: what Grafana needs to load them.

Grafana cannot be installed on the CI machines; the NixOS VM test runs it for
real. These tests load every provisioning file and the dashboard and check the
fields, references and conventions Grafana (10-12) relies on.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from dashboard_queries import CONFIG, dashboard_queries, substitute

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROV = os.path.join(ROOT, "monitoring", "grafana", "provisioning")
DASHBOARD_FILE = os.path.join(ROOT, "dashboards", "model-server.json")
RULES_DIR = os.path.join(ROOT, "monitoring", "prometheus", "rules")

DS = {"type": "prometheus", "uid": "prometheus"}
BUILTIN_DS_UIDS = {"-- Grafana --", "grafana", "__expr__", "-- Dashboard --", "-- Mixed --"}

REQUIRED_ROWS = ["Current timestamp", "Operation", "Instances", "Resource", "Model"]
# row -> panel titles that must be in it
REQUIRED_PANELS = {
    "Current timestamp": ["Current time", "Firing alerts"],
    "Operation": ["HTTP success rate", "5xx ratio", "Request rate by route and status class",
                  "Requests in progress", "Server latency p50 / p90 / p99", "Server latency heatmap",
                  "Total requests"],
    # N replicas: the per-instance breakdown (issue 13)
    "Instances": ["Targets up by instance", "Request rate by instance", "Requests in progress by instance",
                  "5xx ratio by instance", "Server latency p99 by instance"],
    "Resource": ["CPU cores", "Total RAM", "System load", "Memory usage", "Disk I/O", "Available disk space"],
    "Model": ["Inference latency p50 / p90 / p99", "Prediction share by class", "Prediction share over time"],
}
# Every `$` in a provisioning file is expanded by Grafana: only these forms are
# allowed, with UPPER_CASE variable names (so {{ $labels.x }}, which Grafana would
# silently turn into {{ .x }}, is caught).
ENV_REF = re.compile(r"\$__env\{[A-Z_][A-Z0-9_]*\}|\$__file\{[^}]+\}|\$\{[A-Z_][A-Z0-9_]*\}")
SECRET_REF = re.compile(r"^(\$__env\{[A-Za-z_][A-Za-z0-9_]*\}|\$__file\{[^}]+\}|\$\{[A-Za-z_][A-Za-z0-9_]*\})$")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def prov_files(sub):
    files = sorted(glob.glob(os.path.join(PROV, sub, "*.yaml")) + glob.glob(os.path.join(PROV, sub, "*.yml")))
    assert files, "no provisioning files in " + sub
    return files


@pytest.fixture(scope="module")
def dashboard():
    with open(DASHBOARD_FILE, encoding="utf-8") as f:
        return json.load(f)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def datasource_uids():
    uids = set()
    for f in prov_files("datasources"):
        for ds in load_yaml(f).get("datasources", []):
            uids.add(ds["uid"])
    return uids


def alerting_docs():
    return {os.path.basename(f): load_yaml(f) for f in prov_files("alerting")}


def rows_with_panels(dash):
    """Map row title -> titles of the panels that follow it (flat layout) or are nested in it (collapsed)."""
    out, current = {}, None
    for p in dash["panels"]:
        if p["type"] == "row":
            current = p["title"]
            out[current] = [c["title"] for c in p.get("panels", [])]
        elif current is not None:
            out[current].append(p["title"])
    return out


# ---------------------------------------------------------------- provisioning files

@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(PROV, "*", "*.y*ml"))))
def test_provisioning_file_has_api_version_1(path):
    doc = load_yaml(path)
    assert isinstance(doc, dict) and doc.get("apiVersion") == 1, path


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(PROV, "*", "*.y*ml"))))
def test_only_env_or_file_references_use_dollar(path):
    """Grafana expands $X in provisioning values: a stray $ (e.g. {{ $labels }}) would silently vanish."""
    with open(path, encoding="utf-8") as f:
        text = "\n".join(line.split(" #", 1)[0] for line in f if not line.lstrip().startswith("#"))
    stray = [m.start() for m in re.finditer(r"\$", text) if not ENV_REF.match(text, m.start())]
    assert not stray, "%s: stray $ at %s: %r" % (path, stray, [text[i:i + 30] for i in stray])


def test_datasource_prometheus():
    dss = [ds for f in prov_files("datasources") for ds in load_yaml(f).get("datasources", [])]
    by_uid = {ds["uid"]: ds for ds in dss}
    assert len(by_uid) == len(dss), "duplicate datasource uid"
    prom = by_uid.get("prometheus")
    assert prom, "no datasource with uid prometheus"
    assert prom["type"] == "prometheus" and prom.get("access", "proxy") == "proxy"
    assert prom["name"]
    url = prom["url"]
    assert SECRET_REF.match(url) or re.match(r"^https?://", url), url
    assert sum(1 for ds in dss if ds.get("isDefault")) <= 1


def test_dashboard_provider_points_at_dashboards():
    providers = [p for f in prov_files("dashboards") for p in load_yaml(f).get("providers", [])]
    assert providers
    names = [p["name"] for p in providers]
    assert len(set(names)) == len(names)
    for p in providers:
        assert p.get("type", "file") == "file"
        path = p["options"]["path"]
        assert path, "provider without options.path"
        # an env reference (set by the stack / NixOS module) or a real folder holding the dashboard
        if not SECRET_REF.match(path):
            assert os.path.isfile(os.path.join(path, "model-server.json")), path


# ---------------------------------------------------------------- dashboard

def test_dashboard_schema(dashboard):
    d = dashboard
    assert d["uid"] == "model-server"
    assert d["title"]
    assert isinstance(d["schemaVersion"], int) and 36 <= d["schemaVersion"] <= 42
    assert d["refresh"] == "5s"
    assert d["time"] == {"from": "now-15m", "to": "now"}
    assert isinstance(d["panels"], list) and d["panels"]
    assert "id" not in d or d["id"] is None, "a provisioned dashboard must not carry a database id"
    assert len(d["uid"]) <= 40


def test_panel_ids_unique_and_layout_valid(dashboard):
    ids = [p["id"] for p in all_panels(dashboard["panels"])]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in all_panels(dashboard["panels"]):
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]


def test_no_overlapping_panels(dashboard):
    cells = {}
    for p in all_panels(dashboard["panels"]):
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, "%s overlaps %s" % (p["title"], cells[(x, y)])
                cells[(x, y)] = p["title"]


def test_every_panel_has_title_unit_and_one_line_description(dashboard):
    titles = []
    for p in all_panels(dashboard["panels"]):
        assert p.get("title"), p["id"]
        if p["type"] == "row":
            continue
        titles.append(p["title"])
        desc = p.get("description", "")
        assert desc and "\n" not in desc and len(desc) < 250, p["title"]
        assert p.get("fieldConfig", {}).get("defaults", {}).get("unit"), "no unit: " + p["title"]
    assert len(titles) == len(set(titles)), "duplicate panel titles"


def test_required_rows_and_panels(dashboard):
    rows = rows_with_panels(dashboard)
    assert [r for r in rows if r in REQUIRED_ROWS] == REQUIRED_ROWS
    for row, wanted in REQUIRED_PANELS.items():
        missing = [t for t in wanted if t not in rows[row]]
        assert not missing, "row %s lacks %s" % (row, missing)


def test_current_time_panel(dashboard):
    p = next(p for p in all_panels(dashboard["panels"]) if p["title"] == "Current time")
    assert p["fieldConfig"]["defaults"]["unit"].startswith("dateTime")
    assert "time()" in p["targets"][0]["expr"]


def test_firing_alerts_are_shown(dashboard):
    types = {p["type"] for p in all_panels(dashboard["panels"])}
    annos = [a for a in dashboard["annotations"]["list"] if "ALERTS" in a.get("expr", "")]
    assert "alertlist" in types or annos
    for a in annos:
        assert 'alertstate="firing"' in a["expr"]
        assert a["datasource"] == DS


def test_every_datasource_reference_resolves(dashboard):
    uids = datasource_uids()
    refs = []

    def walk(o, where):
        if isinstance(o, dict):
            if "datasource" in o:
                refs.append((where, o["datasource"]))
            for k, v in o.items():
                walk(v, where + "." + str(k))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, "%s[%d]" % (where, i))

    walk(dashboard, "dashboard")
    assert refs
    for where, ref in refs:
        assert isinstance(ref, dict), "%s: datasource must be a {type, uid} object, got %r" % (where, ref)
        if ref.get("uid") in BUILTIN_DS_UIDS:
            continue
        assert ref == DS, "%s: %r" % (where, ref)
        assert ref["uid"] in uids, "%s: uid %s is not provisioned" % (where, ref["uid"])
    # every panel with queries names the datasource, and so does each target
    for p in all_panels(dashboard["panels"]):
        if p.get("targets"):
            assert p.get("datasource") == DS, p["title"]
            ref_ids = [t["refId"] for t in p["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), p["title"]
            for t in p["targets"]:
                assert t.get("datasource") == DS and t.get("expr"), p["title"]


def test_template_variables(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for name in ("job", "instance"):
        assert name in variables
    assert variables["job"]["current"]["value"] == CONFIG["model_server_job"]
    for v in variables.values():
        assert v["type"] == "query" and v["datasource"] == DS
        if v.get("includeAll"):
            assert v.get("allValue") == ".*", v["name"]
    # every $variable used in a query exists (or is a Grafana built-in)
    builtins = {"__rate_interval", "__interval", "__range", "__range_s", "__range_ms", "__interval_ms"}
    for q in dashboard_queries(raw=True, include_annotations=True):
        for m in re.finditer(r"\$\{(\w+)[^}]*\}|\$(\w+)", q["expr"]):
            name = m.group(1) or m.group(2)
            if name.isdigit():  # label_replace's ${1}
                continue
            assert name in variables or name in builtins, "%s: unknown variable $%s" % (q["title"], name)


def test_query_conventions(dashboard):
    for q in dashboard_queries(raw=True):
        expr = q["raw"]
        # rate/increase over $__rate_interval (or $__range for totals over the time range)
        for m in re.finditer(r"\b(rate|irate|increase)\((.*?)\[([^\]]+)\]", expr):
            assert m.group(3) in ("$__rate_interval", "$__range"), "%s: %s" % (q["title"], m.group(0))
        # histogram_quantile needs the buckets summed by le
        for m in re.finditer(r"histogram_quantile\(", expr):
            assert re.search(r"sum by \((?:[\w, ]*\b)?le\b", expr[m.end():]), q["title"]
        # model-server queries honour the job/instance variables, host queries select node-exporter's job
        if re.search(r"\b(requests_total|requests_duration_seconds_bucket|request_in_progress|predictions_total|inference_duration_seconds_bucket|model_info)\{", expr):
            assert 'job="$job"' in expr and '%s=~"$instance"' % CONFIG["instance_label"] in expr, q["title"]
        if "node_" in expr and "instance:node" not in expr:
            assert 'job="%s"' % CONFIG["node_job"] in expr, q["title"]


def test_recording_rules_used_by_dashboard_exist(dashboard):
    recorded = set()
    for f in glob.glob(os.path.join(RULES_DIR, "*.yml")):
        for g in load_yaml(f)["groups"]:
            recorded.update(r["record"] for r in g["rules"] if "record" in r)
    for q in dashboard_queries():
        for name in re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", q["expr"]):
            assert name in recorded, "%s uses unknown recording rule %s" % (q["title"], name)


def _promtool_check_exprs(exprs, tmp_path):
    """promtool has no offline query parser: wrap each expression in a recording rule and check the file."""
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed")
    rules = {"groups": [{"name": "check", "rules": [{"record": "check:expr_%d" % i, "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump(rules))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dashboard_queries_parse(tmp_path):
    exprs = [q["expr"] for q in dashboard_queries(include_annotations=True)]
    assert len(exprs) > 20
    _promtool_check_exprs(exprs, tmp_path)


def test_instance_panels_draw_one_series_per_replica(dashboard, tmp_path):
    """Each query of the Instances row, on three replicas (one of them down), gives one series per
    instance that has data, each carrying its instance label: run through `promtool test rules`."""
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed")
    titles = set(REQUIRED_PANELS["Instances"])
    queries = [q for q in dashboard_queries(variables={"__rate_interval": "5m"}) if q["title"] in titles]
    assert {q["title"] for q in queries} == titles

    def series(metric, labels, values):
        return {"series": '%s{job="%s", %s}' % (metric, CONFIG["model_server_job"], labels), "values": values}

    inputs = []
    for i, errors in ((1, False), (2, True), (3, False)):
        inst = '%s="10.0.0.%d:8000"' % (CONFIG["instance_label"], i)
        inputs.append(series("up", inst, "1x10" if i != 3 else "1x2 0x8"))
        if i == 3:
            continue  # the down replica stopped exporting
        req = inst + ', method="POST", route="/predict"'
        inputs += [series("requests_total", req + ', status="200"', "0+60x10"),
                   series("request_in_progress", req, "2x10"),
                   series("requests_duration_seconds_bucket", req + ', status="200", le="0.1"', "0+60x10"),
                   series("requests_duration_seconds_bucket", req + ', status="200", le="+Inf"', "0+60x10")]
        if errors:
            inputs.append(series("requests_total", req + ', status="500"', "0+6x10"))
    by_instance = "count by (%s)" % CONFIG["instance_label"]
    cases = [{"expr": "count(%s (%s))" % (by_instance, q["expr"]), "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 3 if q["title"] == "Targets up by instance" else 2}]}
             for q in queries]
    cases += [{"expr": "count(%s) - count(%s (%s))" % (q["expr"], by_instance, q["expr"]), "eval_time": "10m",
               "exp_samples": [{"labels": "{}", "value": 0}]} for q in queries]
    (tmp_path / "empty.yml").write_text("groups: []\n")
    test = {"rule_files": ["empty.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": cases}]}
    (tmp_path / "t.yml").write_text(yaml.safe_dump(test))
    r = subprocess.run(["promtool", "test", "rules", str(tmp_path / "t.yml")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_substitution_keeps_label_replace_groups():
    assert substitute('label_replace(x, "c", "${1}xx", "s", "(.)..")[$__rate_interval]') == \
        'label_replace(x, "c", "${1}xx", "s", "(.)..")[1m]'


# ---------------------------------------------------------------- alerting

def contact_points():
    return [cp for d in alerting_docs().values() for cp in d.get("contactPoints", []) or []]


def test_contact_points_secrets_come_from_env_or_files():
    cps = contact_points()
    types = {r["type"] for cp in cps for r in cp["receivers"]}
    assert {"slack", "telegram", "discord"} <= types
    secret_keys = {"slack": ["url"], "telegram": ["bottoken", "chatid"], "discord": ["url"]}
    uids = []
    for cp in cps:
        assert cp["name"]
        for r in cp["receivers"]:
            uids.append(r["uid"])
            assert 0 < len(r["uid"]) <= 40
            for key in secret_keys.get(r["type"], []):
                val = str(r["settings"].get(key, ""))
                assert SECRET_REF.match(val), "%s.%s must be $__env{..}/$__file{..}, got %r" % (cp["name"], key, val)
    assert len(uids) == len(set(uids)), "duplicate contact point uids"


def test_no_literal_secrets_anywhere_in_provisioning():
    bad = [re.compile(p) for p in (r"hooks\.slack\.com/services/", r"discord(app)?\.com/api/webhooks/",
                                   r"\b\d{6,}:[A-Za-z0-9_-]{30,}\b", r"xox[bpa]-")]
    for path in glob.glob(os.path.join(PROV, "*", "*.y*ml")):
        text = open(path, encoding="utf-8").read()
        for rx in bad:
            assert not rx.search(text), "%s contains something that looks like a secret (%s)" % (path, rx.pattern)


def test_contact_point_templates_are_defined():
    docs = alerting_docs()
    defined = set()
    for d in docs.values():
        for t in d.get("templates", []) or []:
            defined.update(re.findall(r'define "([^"]+)"', t["template"]))
    for cp in contact_points():
        for r in cp["receivers"]:
            for v in r["settings"].values():
                for name in re.findall(r'template "([^"]+)"', str(v)):
                    assert name in defined, "%s uses undefined template %s" % (cp["name"], name)


def test_notification_policy_receivers_exist():
    names = {cp["name"] for cp in contact_points()}
    policies = [p for d in alerting_docs().values() for p in d.get("policies", []) or []]
    assert len(policies) == 1, "exactly one policy tree per org"

    def walk(route, depth):
        assert route["receiver"] in names if depth == 0 or "receiver" in route else True
        if "receiver" in route:
            assert route["receiver"] in names, route["receiver"]
        for m in route.get("object_matchers", []) or []:
            assert len(m) == 3 and m[1] in ("=", "!=", "=~", "!~"), m
        for k in ("group_wait", "group_interval", "repeat_interval"):
            if k in route:
                assert DURATION.match(route[k]), route[k]
        for child in route.get("routes", []) or []:
            walk(child, depth + 1)

    root = policies[0]
    assert "alertname" in root["group_by"]
    walk(root, 0)
    # critical alerts reach all three integrations
    reached = {r["receiver"] for r in root["routes"]
               if any(m[0] == "severity" and re.fullmatch(m[2], "critical") for m in r.get("object_matchers", []))}
    types = {r["type"] for cp in contact_points() if cp["name"] in reached for r in cp["receivers"]}
    assert {"slack", "telegram", "discord"} <= types


def grafana_rules():
    for d in alerting_docs().values():
        for g in d.get("groups", []) or []:
            for r in g["rules"]:
                yield g, r


def test_alert_rules_structure(dashboard):
    ds_uids = datasource_uids()
    panel_ids = {p["id"] for p in all_panels(dashboard["panels"])}
    groups = [g for d in alerting_docs().values() for g in d.get("groups", []) or []]
    assert groups
    for g in groups:
        assert g["name"] and g["folder"] and g.get("orgId", 1) == 1
        assert DURATION.match(g["interval"])
    uids = []
    for g, r in grafana_rules():
        uids.append(r["uid"])
        assert 0 < len(r["uid"]) <= 40 and re.match(r"^[A-Za-z0-9_-]+$", r["uid"])
        assert r["title"]
        refs = [q["refId"] for q in r["data"]]
        assert len(refs) == len(set(refs)), r["uid"]
        assert r["condition"] in refs, r["uid"]
        for q in r["data"]:
            uid = q["datasourceUid"]
            assert uid == "__expr__" or uid in ds_uids, "%s: datasource %s" % (r["uid"], uid)
            assert q["model"]["refId"] == q["refId"]
            if uid == "__expr__":
                assert q["model"]["type"] in ("reduce", "threshold", "math", "classic_conditions", "resample")
                assert q["model"]["expression"] in refs and q["model"]["expression"] != q["refId"]
                if q["model"]["type"] == "threshold":
                    ev = q["model"]["conditions"][0]["evaluator"]
                    assert ev["type"] in ("gt", "lt", "within_range", "outside_range") and ev["params"]
            else:
                rtr = q["relativeTimeRange"]
                assert rtr["from"] > rtr["to"] >= 0, r["uid"]
                assert q["model"]["expr"].strip()
                assert q["model"].get("datasource", DS) == DS
        assert DURATION.match(r["for"]), r["uid"]
        assert r["noDataState"] in ("Alerting", "NoData", "OK", "KeepLast")
        assert r["execErrState"] in ("Alerting", "Error", "OK", "KeepLast")
        assert r["labels"]["severity"] in ("critical", "warning")
        assert r["annotations"]["summary"] and r["annotations"]["description"]
        if "dashboardUid" in r:
            assert r["dashboardUid"] == dashboard["uid"]
            assert r["panelId"] in panel_ids, r["uid"]
    assert len(uids) == len(set(uids)), "duplicate alert rule uids"


def test_alert_rules_mirror_the_prometheus_alerts():
    titles = " ".join(r["title"] for _, r in grafana_rules())
    for name in ("ModelServerDown", "ModelServerInstanceDown", "ModelServerHighErrorRate", "ModelServerHighLatencyP99",
                 "ModelServerPredictionDrift"):
        assert name in titles, name


def test_alert_rule_queries_parse(tmp_path):
    exprs = [q["model"]["expr"] for _, r in grafana_rules() for q in r["data"] if q["datasourceUid"] != "__expr__"]
    _promtool_check_exprs(exprs, tmp_path)
