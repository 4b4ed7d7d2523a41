"""Run the example overlay's pod as far as it can be run without a cluster: the server
binary of this repository (MODEL_SERVER_BIN, else target/debug/model-server, which CI
builds before this check) with the rendered container's arguments and environment, the
rendered ConfigMaps as files at their mount paths (moved under a temporary folder), and
the probes and shutdown timing of the rendered Deployment.
This is what catches a committed model.json that the current server no longer loads.
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("MODEL_SERVER_BIN") or os.path.join(ROOT, "target", "debug", "model-server")


def _status(url, data=None):
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pod(rendered, tmp_path):
    if not os.access(BIN, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("no server binary at %s (CI builds it before this check)" % BIN)
        pytest.skip("no server binary at %s: cargo build first" % BIN)
    (dep,) = [d for d in rendered if d["kind"] == "Deployment"]
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    configmaps = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ConfigMap"}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    moved = {}
    for m in c.get("volumeMounts", []):
        cm = configmaps[volumes[m["name"]]["configMap"]["name"]]
        local = tmp_path / m["mountPath"].strip("/")
        local.mkdir(parents=True)
        for key, text in cm["data"].items():
            (local / key).write_text(text)
        moved[m["mountPath"]] = str(local)
    env = {e["name"]: e["value"] for e in c["env"]}
    for name, value in env.items():
        for mount, local in moved.items():
            if value.startswith(mount + "/"):
                env[name] = local + value[len(mount):]
    port = _free_port()
    env["MODEL_SERVER_LISTEN"] = "127.0.0.1:%d" % port
    proc = subprocess.Popen([BIN] + c.get("args", []), env=dict(env, PATH=os.environ.get("PATH", "")), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield {"proc": proc, "url": "http://127.0.0.1:%d" % port, "container": c, "spec": spec, "env": env}
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_pod_starts_serves_the_mounted_model_and_drains(pod, rendered):
    c, url, proc = pod["container"], pod["url"], pod["proc"]
    startup = c["startupProbe"]
    deadline = time.monotonic() + startup["periodSeconds"] * startup["failureThreshold"]
    while _status(url + startup["httpGet"]["path"])[0] != 200:
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "startup probe never passed"
        time.sleep(0.1)
    assert _status(url + c["livenessProbe"]["httpGet"]["path"])[0] == 200
    assert _status(url + c["readinessProbe"]["httpGet"]["path"])[0] == 200

    (model_cm,) = [d for d in rendered if d["kind"] == "ConfigMap" and "model.json" in d.get("data", {})]
    version = json.loads(model_cm["data"]["model.json"])["body"]["version"]
    status, body = _status(url + "/predict", json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode())
    assert status == 200 and json.loads(body)["model"]["version"] == version, body

    # SIGTERM as the kubelet sends it: with --shutdown-delay, /readyz fails while requests are served
    delay_supported = b"--shutdown-delay" in subprocess.run([BIN, "serve", "--help"], capture_output=True).stdout
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    seen = []
    while proc.poll() is None and time.monotonic() - t0 < pod["spec"]["terminationGracePeriodSeconds"]:
        seen.append((_status(url + "/readyz")[0], _status(url + "/healthz")[0]))
        time.sleep(0.2)
    took = time.monotonic() - t0
    assert proc.wait(timeout=5) == 0, "exit status %s" % proc.returncode
    assert took < pod["spec"]["terminationGracePeriodSeconds"], "the kubelet would have sent SIGKILL"
    if delay_supported and pod["env"].get("MODEL_SERVER_SHUTDOWN_DELAY", "0s") != "0s":
        # The first poll may land before the signal is handled; once /readyz fails it stays failed.
        assert (503, 200) in seen, seen
        assert all(ready != 200 for ready, _ in seen[seen.index((503, 200)):]), seen
