#!/usr/bin/env python3
"""Offline validation of rendered kustomizations (the output of `kubectl kustomize DIR`).

    validate.py [--rules-out DIR] NAME=RENDERED.yaml ...

NAME "base" is the base; any other name is an overlay, which must have replaced
the image placeholder. For every object:
- core kinds: kubernetes-validate, strict (unknown fields are errors), against
  each Kubernetes version in KUBERNETES_VERSIONS;
- monitoring.coreos.com kinds: schemas/monitoring.coreos.com-v1.json (jsonschema);
- then what no schema can see: probes, shutdown timing, security context,
  resources, and that the Service, ServiceMonitor, PDB, HPA and model volume
  point at what exists.
With --rules-out, the groups of each PrometheusRule are written to
DIR/NAME-RULE.yml for `promtool check rules`.
Exit status 1 with one line per problem; 0 prints a summary.
"""
import json
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "monitoring"))
from mixin.config import KUBE_PROMETHEUS_STACK as MIXIN  # noqa: E402  (the values the generated objects use)

KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"]
CRD_SCHEMA = os.path.join(HERE, "schemas", "monitoring.coreos.com-v1.json")
PLACEHOLDER_TAG = ":set-by-overlay"
JOB = MIXIN.model_server_job  # the job label the rules, alerts and dashboard select
DURATION = re.compile(r"^(?:(\d+)m)?(?:(\d+)s)?$")


class Report:
    def __init__(self):
        self.errors, self.checked = [], 0

    def check(self, ok, where, message):
        self.checked += 1
        if not ok:
            self.errors.append("%s: %s" % (where, message))
        return ok


def seconds(value):
    """'5s', '1m30s', '30s' -> seconds (the forms the manifests use for humantime durations)."""
    m = DURATION.match(value or "")
    if not value or not m:
        raise ValueError("cannot read duration %r" % value)
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def validate_schemas(rep, name, docs):
    with open(CRD_SCHEMA, encoding="utf-8") as f:
        crd = json.load(f)
    for d in docs:
        where = "%s %s/%s" % (name, d["kind"], d["metadata"]["name"])
        if d["apiVersion"].startswith("monitoring.coreos.com/"):
            if not rep.check(d["kind"] in crd["$defs"], where, "no schema for this kind in " + os.path.basename(CRD_SCHEMA)):
                continue
            schema = dict(crd, **{"$ref": "#/$defs/" + d["kind"]})
            for err in jsonschema.Draft202012Validator(schema).iter_errors(d):
                rep.check(False, where, "%s at %s" % (err.message, "/".join(map(str, err.absolute_path))))
            rep.check(True, where, "")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(d, version, strict=True)
                rep.check(True, where, "")
            except kubernetes_validate.ValidationError as e:
                rep.check(False, where, "Kubernetes %s: %s at %s" % (version, e.message, "/".join(map(str, e.path))))
            except kubernetes_validate.SchemaNotFoundError as e:
                rep.check(False, where, "Kubernetes %s: %s" % (version, e))


def check_deployment(rep, name, docs, overlay):
    deps = by_kind(docs, "Deployment")
    if not rep.check(len(deps) == 1, name, "expected one Deployment, found %d" % len(deps)):
        return None
    dep = deps[0]
    where = "%s Deployment/%s" % (name, dep["metadata"]["name"])
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}

    rep.check(matches(dep["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"]),
              where, "selector does not match the pod template's labels")
    if overlay:
        rep.check(PLACEHOLDER_TAG not in c["image"], where, "image %r is the base's placeholder: set it with `images`" % c["image"])

    # probes
    def probe(kind):
        return (c.get(kind) or {}).get("httpGet", {})
    rep.check(probe("livenessProbe").get("path") == "/healthz", where, "livenessProbe must GET /healthz")
    rep.check(probe("readinessProbe").get("path") == "/readyz", where, "readinessProbe must GET /readyz")
    rep.check(bool(probe("startupProbe").get("path")), where, "no startupProbe")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    listen = env.get("MODEL_SERVER_LISTEN", "")
    rep.check(listen.startswith("0.0.0.0:"), where, "MODEL_SERVER_LISTEN must bind all interfaces, got %r" % listen)
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        port = probe(kind).get("port")
        rep.check(port in ports and str(ports[port]) == listen.rpartition(":")[2], where,
                  "%s port %r is not the container port the server listens on (%s)" % (kind, port, listen))

    # draining shutdown: the kubelet must not SIGKILL before delay + grace are over
    try:
        budget = seconds(env.get("MODEL_SERVER_SHUTDOWN_DELAY", "0s")) + seconds(env.get("MODEL_SERVER_SHUTDOWN_GRACE", "30s"))
        rep.check(pod.get("terminationGracePeriodSeconds", 30) > budget, where,
                  "terminationGracePeriodSeconds %s is not above shutdown delay + grace (%ss)"
                  % (pod.get("terminationGracePeriodSeconds", 30), budget))
    except ValueError as e:
        rep.check(False, where, str(e))

    # security context
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    rep.check(psc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot must be true")
    rep.check(psc.get("runAsUser", 0) != 0, where, "runAsUser must not be 0")
    rep.check((psc.get("seccompProfile") or csc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
              where, "seccompProfile must be RuntimeDefault")
    rep.check(csc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem must be true")
    rep.check(csc.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation must be false")
    rep.check(csc.get("capabilities", {}).get("drop") == ["ALL"], where, "capabilities must drop ALL")

    # resources: requests for the scheduler and the HPA, a memory limit against leaks
    res = c.get("resources", {})
    rep.check({"cpu", "memory"} <= set(res.get("requests", {})), where, "cpu and memory requests are needed (the HPA scales on cpu)")
    rep.check("memory" in res.get("limits", {}), where, "no memory limit")

    # a model artifact, if configured, comes from a mounted ConfigMap that exists and has the key
    model = env.get("MODEL_SERVER_MODEL")
    if model:
        mounts = [m for m in c.get("volumeMounts", []) if model.startswith(m["mountPath"].rstrip("/") + "/")]
        if rep.check(len(mounts) == 1, where, "MODEL_SERVER_MODEL %s is not under a volumeMount" % model):
            vol = next((v for v in pod.get("volumes", []) if v["name"] == mounts[0]["name"]), {})
            cm_name = vol.get("configMap", {}).get("name")
            key = model[len(mounts[0]["mountPath"].rstrip("/")) + 1:]
            cms = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == cm_name]
            rep.check(len(cms) == 1 and key in cms[0].get("data", {}), where,
                      "MODEL_SERVER_MODEL %s: ConfigMap %r with key %r is not in the rendering" % (model, cm_name, key))
    return dep


def check_references(rep, name, docs, dep):
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    container_ports = {p["name"] for p in c.get("ports", [])}
    services = by_kind(docs, "Service")
    rep.check(len(services) == 1, name, "expected one Service, found %d" % len(services))
    for svc in services:
        where = "%s Service/%s" % (name, svc["metadata"]["name"])
        rep.check(matches(svc["spec"]["selector"], pod_labels), where, "selector matches no pod of the Deployment")
        for p in svc["spec"]["ports"]:
            rep.check(p.get("targetPort") in container_ports, where, "targetPort %r is not a named container port" % p.get("targetPort"))
    for sm in by_kind(docs, "ServiceMonitor"):
        where = "%s ServiceMonitor/%s" % (name, sm["metadata"]["name"])
        hit = [s for s in services if matches(sm["spec"]["selector"].get("matchLabels"), s["metadata"].get("labels", {}))]
        if rep.check(len(hit) == 1, where, "selector matches %d Services, wanted 1" % len(hit)):
            svc_ports = {p.get("name") for p in hit[0]["spec"]["ports"]}
            for ep in sm["spec"]["endpoints"]:
                rep.check(ep.get("port") in svc_ports, where, "endpoint port %r is not a port name of the Service" % ep.get("port"))
                rep.check(ep.get("path", "/metrics") == "/metrics", where, "the server exposes /metrics")
            job = hit[0]["metadata"].get("labels", {}).get(sm["spec"].get("jobLabel", ""), hit[0]["metadata"]["name"])
            rep.check(job == JOB, where, "scraped series get job=%r, but the rules and the dashboard select job=%r" % (job, JOB))
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        rep.check(matches(pdb["spec"]["selector"]["matchLabels"], pod_labels), "%s PodDisruptionBudget" % name, "selector matches no pod")
    for hpa in by_kind(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        rep.check(ref["kind"] == "Deployment" and ref["name"] == dep["metadata"]["name"], "%s HorizontalPodAutoscaler" % name,
                  "scaleTargetRef %s/%s is not the Deployment" % (ref["kind"], ref["name"]))
        rep.check(hpa["spec"].get("minReplicas", 1) >= 2, "%s HorizontalPodAutoscaler" % name,
                  "minReplicas below 2 leaves the PodDisruptionBudget no pod to keep")
    dashboards = [d for d in by_kind(docs, "ConfigMap") if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    if rep.check(len(dashboards) == 1, name, "expected one ConfigMap labelled grafana_dashboard=\"1\""):
        for key, text in dashboards[0]["data"].items():
            try:
                rep.check(json.loads(text).get("uid") == MIXIN.dashboard_uid, "%s dashboard %s" % (name, key),
                          "not the model-server dashboard")
            except ValueError as e:
                rep.check(False, "%s dashboard %s" % (name, key), "not JSON: %s" % e)


def main(argv):
    rules_out = None
    if argv[:1] == ["--rules-out"]:
        rules_out, argv = argv[1], argv[2:]
    if not argv:
        sys.exit(__doc__)
    rep = Report()
    for arg in argv:
        name, _, path = arg.partition("=")
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        validate_schemas(rep, name, docs)
        dep = check_deployment(rep, name, docs, overlay=name != "base")
        if dep:
            check_references(rep, name, docs, dep)
        rules = by_kind(docs, "PrometheusRule")
        rep.check(bool(rules), name, "no PrometheusRule")
        for pr in rules if rules_out else []:
            out = os.path.join(rules_out, "%s-%s.yml" % (name, pr["metadata"]["name"]))
            with open(out, "w", encoding="utf-8") as f:
                yaml.safe_dump({"groups": pr["spec"]["groups"]}, f, sort_keys=False)
    for e in rep.errors:
        print("validate: " + e, file=sys.stderr)
    print("validate: %d checks on %s (Kubernetes %s), %d failed"
          % (rep.checked, ", ".join(a.partition("=")[0] for a in argv), " and ".join(KUBERNETES_VERSIONS), len(rep.errors)))
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
