"""The Kubernetes Deployment's terminationGracePeriodSeconds, derived from the
shutdown timing the Deployment itself gives the server, so the kubelet's SIGKILL
never cuts the drain short: MODEL_SERVER_SHUTDOWN_DELAY + MODEL_SERVER_SHUTDOWN_GRACE
+ KILL_MARGIN_SECONDS. Written as a patch that deploy/kubernetes/base applies."""
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOYMENT = os.path.join(ROOT, "deploy", "kubernetes", "base", "deployment.yaml")
SOURCE = "deploy/kubernetes/base/deployment.yaml"
# After the shutdown delay and grace the server has exited; the kubelet's SIGKILL
# comes this many seconds later still.
KILL_MARGIN_SECONDS = 10
SHUTDOWN_ENV = ("MODEL_SERVER_SHUTDOWN_DELAY", "MODEL_SERVER_SHUTDOWN_GRACE")
# The humantime forms the manifests use: 5s, 30s, 1m30s.
DURATION = re.compile(r"^(?:(\d+)m)?(?:(\d+)s)?$")


def seconds(value):
    m = DURATION.match(value or "")
    if not value or not m:
        raise ValueError("cannot read duration %r in %s" % (value, SOURCE))
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def termination_grace(path=DEPLOYMENT):
    """(patch object, the comment naming the sum) for the Deployment in `path`."""
    with open(path, encoding="utf-8") as f:
        deployment = yaml.safe_load(f)
    (server,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "model-server"]
    env = {e["name"]: e.get("value") for e in server.get("env", [])}
    missing = [name for name in SHUTDOWN_ENV if name not in env]
    if missing:
        raise SystemExit("generate: %s sets no %s; the termination grace is derived from both"
                         % (SOURCE, " or ".join(missing)))
    budget = sum(seconds(env[name]) for name in SHUTDOWN_ENV)
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment["metadata"]["name"]},
        "spec": {"template": {"spec": {"terminationGracePeriodSeconds": budget + KILL_MARGIN_SECONDS}}},
    }
    comment = "terminationGracePeriodSeconds = %s + %s + %ds (%s, %s, kill margin)" % (
        env[SHUTDOWN_ENV[0]], env[SHUTDOWN_ENV[1]], KILL_MARGIN_SECONDS, *SHUTDOWN_ENV)
    return patch, comment
