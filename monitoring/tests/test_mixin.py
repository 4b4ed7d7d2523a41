"""The monitoring mixin (monitoring/mixin) and its generator (monitoring/generate):
stale files are caught, the output is deterministic, and a value changed in the
config reaches every rule, alert, panel, test and line of prose that uses it."""
import dataclasses
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from mixin import config, outputs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GENERATE = os.path.join(ROOT, "monitoring", "generate")


def generate(*args, env=None):
    return subprocess.run([sys.executable, GENERATE, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def write(files, root):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def tree(root):
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_check_reports_a_stale_missing_or_leftover_file(tmp_path):
    assert generate("--out", str(tmp_path)).returncode == 0
    assert generate("--check", "--out", str(tmp_path)).returncode == 0
    rules = tmp_path / "monitoring/prometheus/rules/model-server.yml"
    good = rules.read_text()
    rules.write_text(good.replace("> 0.5", "> 0.25"))
    r = generate("--check", "--out", str(tmp_path))
    assert r.returncode == 1 and "model-server.yml" in r.stderr and "-" in r.stdout and "> 0.25" in r.stdout
    rules.unlink()
    assert generate("--check", "--out", str(tmp_path)).returncode == 1
    rules.write_text(good)
    (tmp_path / "monitoring/prometheus/rules/old.yml").write_text("groups: []\n")
    r = generate("--check", "--out", str(tmp_path))
    assert r.returncode == 1 and "old.yml is no longer generated" in r.stdout
    assert generate("--out", str(tmp_path)).returncode == 0
    assert not (tmp_path / "monitoring/prometheus/rules/old.yml").exists()


def test_output_is_deterministic(tmp_path):
    for seed in ("1", "2"):
        assert generate("--out", str(tmp_path / seed), env={"PYTHONHASHSEED": seed}).returncode == 0
    first, second = tree(tmp_path / "1"), tree(tmp_path / "2")
    assert first == second and len(first) == len(outputs.everything())
    for rel, text in first.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), rel


def promtool(*args, cwd):
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed")
    r = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_new_job_name_and_instance_label_reach_every_rule_and_test(tmp_path):
    """Renamed jobs and instance label: no old selector is left, and the rules still pass their tests."""
    ms, node = config.LOCAL.model_server_job + "-renamed", config.LOCAL.node_job + "-renamed"
    c = dataclasses.replace(config.LOCAL, model_server_job=ms, node_job=node, instance_label="pod")
    files = outputs.local(c)
    before = outputs.local(config.LOCAL)
    renames = (('job="%s"' % config.LOCAL.model_server_job, 'job="%s"' % ms),
               ('job="%s"' % config.LOCAL.node_job, 'job="%s"' % node))
    for old, new in renames:
        count = lambda fs, s: sum(t.count(s) + t.count(s.replace('"', '\\"')) for t in fs.values())  # noqa: E731
        assert count(before, old) > 20 and count(files, old) == 0
        assert count(files, new) == count(before, old)
    assert "job: %s" % ms in files["monitoring/prometheus/tests/model-server.test.yml"]
    assert "job_name: %s" % ms in files["monitoring/prometheus/prometheus.yml"]
    assert "sum by (job, pod)" in files["monitoring/prometheus/rules/model-server.yml"]
    assert 'pod=~\\"$instance\\"' in files["dashboards/model-server.json"]
    assert not re.search(r"\binstance\b[=!]", "".join(files[r] for r in files if "/rules/" in r))
    write(files, tmp_path)
    prom = tmp_path / "monitoring/prometheus"
    promtool("check", "rules", *sorted(str(p) for p in (prom / "rules").glob("*.yml")), cwd=prom)
    promtool("test", "rules", *sorted(str(p) for p in (prom / "tests").glob("*.yml")), cwd=prom)


def test_thresholds_reach_the_prose(tmp_path):
    c = dataclasses.replace(config.LOCAL, slo=0.995, latency_p99_seconds=0.25, fast_burn_factor=10)
    files, before = outputs.local(c), outputs.local(config.LOCAL)
    rules = yaml.safe_load(files["monitoring/prometheus/rules/model-server.yml"])["groups"][0]["rules"]
    latency = next(r for r in rules if r.get("alert") == "ModelServerHighLatencyP99")
    assert "> 0.25" in latency["expr"] and "above 250ms" in latency["annotations"]["description"]
    fast = next(r for r in rules
                if r.get("alert") == "ModelServerHighErrorRate" and r["labels"]["severity"] == "critical")
    assert "(10 * 0.005)" in fast["expr"] and "more than 5% over" in fast["annotations"]["description"]
    assert "10 x the 0.5% error budget" in files["docs/runbooks.md"]
    assert "fast burn pages above 5%" in files["dashboards/model-server.json"]
    grafana = yaml.safe_load(files["monitoring/grafana/provisioning/alerting/rules.yaml"])
    params = {r["uid"]: r["data"][2]["model"]["conditions"][0]["evaluator"]["params"]
              for g in grafana["groups"] for r in g["rules"]}
    assert params["ms-latency-p99"] == [0.25] and params["ms-error-budget-fast"] == [0.05]
    assert "250ms" not in "".join(before.values())


def test_the_kubernetes_profile_reads_node_exporter_and_leaves_its_alerts_to_the_chart():
    files = outputs.kubernetes(config.KUBE_PROMETHEUS_STACK)
    rule = yaml.safe_load(files["deploy/kubernetes/base/generated/prometheusrule.yaml"])
    node = [g for g in rule["spec"]["groups"] if g["name"] == "node"]
    assert [r.get("record") for g in node for r in g["rules"]] == ["instance:node_load5_per_cpu:ratio"]
    dashboard = files["deploy/kubernetes/base/generated/dashboard-configmap.yaml"]
    assert 'job=\\"node-exporter\\"' in dashboard and 'job=\\"node\\"' not in dashboard


def test_compose_gives_grafana_the_configs_placeholders():
    """Grafana has no default syntax: Compose passes the placeholders itself (the
    stack and the NixOS module read them from the config; see tests/stack.rs)."""
    compose = open(os.path.join(ROOT, "deploy", "compose.yaml"), encoding="utf-8").read()
    for name, placeholder in config.LOCAL.placeholders:
        assert "%s: ${%s:-%s}" % (name, name, placeholder) in compose, name
