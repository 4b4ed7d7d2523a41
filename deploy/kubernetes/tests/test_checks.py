"""The checks of deploy/kubernetes/check must be able to fail: each test breaks one
thing in a rendered overlay and expects the matching error; and the generated
monitoring objects are what kube-prometheus-stack needs (monitoring/tests/test_mixin.py
checks that a stale generated file is caught).
Run by deploy/kubernetes/check; needs deploy/kubernetes/requirements.txt.
"""
import copy
import json
import os
import re
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
import validate  # noqa: E402


def errors(docs, overlay=True):
    rep = validate.Report()
    validate.validate_schemas(rep, "t", docs)
    dep = validate.check_deployment(rep, "t", docs, overlay=overlay)
    if dep:
        validate.check_references(rep, "t", docs, dep)
    return rep


def obj(docs, kind):
    (o,) = [d for d in docs if d["kind"] == kind]
    return o


def container(docs):
    return obj(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def set_env(docs, name, value):
    for e in container(docs)["env"]:
        if e["name"] == name:
            e["value"] = value


def test_example_overlay_passes(rendered):
    rep = errors(copy.deepcopy(rendered))
    assert rep.errors == [] and rep.checked > 50


MUTATIONS = {
    # kubernetes-validate (strict): a misspelt field and a wrong type
    "unknown field": (lambda d: obj(d, "Deployment")["spec"]["template"]["spec"].update(terminationGracePeriod=45),
                      "Additional properties are not allowed"),
    "wrong type": (lambda d: obj(d, "Service")["spec"].update(type=7), "Kubernetes 1.31.0"),
    # our JSON Schema for the operator's kinds
    "ServiceMonitor interval": (lambda d: obj(d, "ServiceMonitor")["spec"]["endpoints"][0].update(interval="15 s"),
                                "does not match"),
    "ServiceMonitor field typo": (lambda d: obj(d, "ServiceMonitor")["spec"].update(endpoint=[]),
                                  "Additional properties are not allowed"),
    "PrometheusRule for on a recording rule": (
        lambda d: obj(d, "PrometheusRule")["spec"]["groups"][0]["rules"][0].update({"for": "5m"}), "should not be valid"),
    # what no schema sees
    "placeholder image": (lambda d: container(d).update(image="model-server:set-by-overlay"), "placeholder"),
    "liveness on /readyz": (lambda d: container(d)["livenessProbe"]["httpGet"].update(path="/readyz"), "/healthz"),
    "SIGKILL before the drain ends": (lambda d: obj(d, "Deployment")["spec"]["template"]["spec"].update(
        terminationGracePeriodSeconds=35), "not above shutdown delay + grace (35s)"),
    "longer delay": (lambda d: set_env(d, "MODEL_SERVER_SHUTDOWN_DELAY", "20s"), "(50s)"),
    "writable root": (lambda d: container(d)["securityContext"].update(readOnlyRootFilesystem=False), "readOnlyRootFilesystem"),
    "capabilities kept": (lambda d: container(d)["securityContext"].update(capabilities={"drop": ["NET_RAW"]}), "drop ALL"),
    "no seccomp": (lambda d: obj(d, "Deployment")["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile"),
                   "RuntimeDefault"),
    "loopback listen": (lambda d: set_env(d, "MODEL_SERVER_LISTEN", "127.0.0.1:8000"), "bind all interfaces"),
    "probe on another port": (lambda d: set_env(d, "MODEL_SERVER_LISTEN", "0.0.0.0:9000"), "not the container port"),
    "no cpu request": (lambda d: container(d)["resources"]["requests"].pop("cpu"), "requests are needed"),
    "model outside the mount": (lambda d: set_env(d, "MODEL_SERVER_MODEL", "/models/model.json"), "not under a volumeMount"),
    "model key missing": (lambda d: set_env(d, "MODEL_SERVER_MODEL", "/etc/model-server/other.json"), "is not in the rendering"),
    "Service selects nothing": (lambda d: obj(d, "Service")["spec"]["selector"].update(
        {"app.kubernetes.io/name": "other"}), "matches no pod"),
    "job label lost": (lambda d: obj(d, "ServiceMonitor")["spec"].update(jobLabel="app.kubernetes.io/component"),
                       "job='server'"),
    "ServiceMonitor port": (lambda d: obj(d, "ServiceMonitor")["spec"]["endpoints"][0].update(port="metrics"),
                            "not a port name"),
    "HPA target": (lambda d: obj(d, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(name="other"),
                   "is not the Deployment"),
    "HPA min 1": (lambda d: obj(d, "HorizontalPodAutoscaler")["spec"].update(minReplicas=1), "minReplicas"),
    "dashboard label": (lambda d: [c["metadata"]["labels"].pop("grafana_dashboard") for c in d if c["kind"] == "ConfigMap"
                                   and "grafana_dashboard" in c["metadata"].get("labels", {})], "grafana_dashboard"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_mistake_is_reported(rendered, mutation):
    docs = copy.deepcopy(rendered)
    mutate, expected = MUTATIONS[mutation]
    mutate(docs)
    rep = errors(docs)
    assert any(expected in e for e in rep.errors), rep.errors


def test_base_may_keep_the_placeholder(rendered):
    docs = copy.deepcopy(rendered)
    container(docs)["image"] = "model-server:set-by-overlay"
    assert errors(docs, overlay=False).errors == []


GENERATED = os.path.join(HERE, "base", "generated")
RULES = os.path.join(HERE, "..", "..", "monitoring", "prometheus", "rules")


def _generated(name):
    with open(os.path.join(GENERATED, name), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_prometheus_rule_holds_every_model_server_rule():
    """The model server's groups are those of the local rules files (only the host's job differs)."""
    groups = {g["name"]: g for g in _generated("prometheusrule.yaml")["spec"]["groups"]}
    for f in ("model-server.yml", "anomalies.yml", "drift.yml"):
        with open(os.path.join(RULES, f), encoding="utf-8") as fh:
            for g in yaml.safe_load(fh)["groups"]:
                assert groups[g["name"]] == g
    # node alerts would duplicate the chart's own node-mixin alerts
    assert not [r for r in groups.get("node", {"rules": []})["rules"] if "alert" in r]


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def test_dashboard_configmap_reads_node_exporter_job():
    dashboard = json.loads(_generated("dashboard-configmap.yaml")["data"]["model-server.json"])
    jobs = set(re.findall(r'job!?="[^"]*"', "\n".join(_strings(dashboard))))
    assert {'job="node-exporter"', 'job!="node-exporter"', 'job="$job"'} <= jobs
    assert not jobs & {'job="node"', 'job!="node"'}


def test_termination_grace_is_derived_from_the_deployments_shutdown_timing(rendered, tmp_path):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "monitoring"))
    from mixin import deployment

    pod = obj(rendered, "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    budget = validate.seconds(env["MODEL_SERVER_SHUTDOWN_DELAY"]) + validate.seconds(env["MODEL_SERVER_SHUTDOWN_GRACE"])
    assert pod["terminationGracePeriodSeconds"] == budget + deployment.KILL_MARGIN_SECONDS
    with open(deployment.DEPLOYMENT, encoding="utf-8") as f:
        text = f.read()
    longer = tmp_path / "deployment.yaml"
    longer.write_text(text.replace("value: 30s", "value: 1m30s"))
    patch, _ = deployment.termination_grace(str(longer))
    assert patch["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == budget + 60 + deployment.KILL_MARGIN_SECONDS
