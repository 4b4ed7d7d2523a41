"""End to end: a clean stop keeps the stack's state in its default, per-user data
dir ($XDG_STATE_HOME/model-server/stack). Prometheus' samples from one run are
queryable in the next, a silence made in Alertmanager is still there, and the
rendered configs are rebuilt from the repository's at each start."""

import json
import os
import time
import urllib.request

import pytest

from conftest import Stack, fresh_overlay, http, wait_until


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(fresh_overlay(tmp_path_factory, "state"))
    s.data_args = []
    s.env = {**os.environ, "XDG_STATE_HOME": str(s.tmp / "state")}
    s.data_dir = s.tmp / "state/model-server/stack"
    yield s
    code = s.stop()
    print(s.log_path.read_text()[-3000:])
    assert code == 0, f"stack exit code {code}"


def alertmanager(stack, path):
    return f"http://127.0.0.1:{stack.ports['alertmanager']}{path}"


def add_silence(stack):
    now = time.time()
    body = json.dumps({
        "matchers": [{"name": "alertname", "value": "StateDirTest", "isRegex": False}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "createdBy": "e2e", "comment": "kept across restarts",
    }).encode()
    request = urllib.request.Request(alertmanager(stack, "/api/v2/silences"), data=body,
                                     headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())["silenceID"]


def test_history_silences_and_secrets_survive_a_clean_restart(stack):
    stack.start(env=stack.env)
    wait_until("a sample of the stack's server",
               lambda: [r["value"][1] for r in stack.query('up{job="model-server"}')] == ["1"],
               timeout=60)
    # A moment that only this run's Prometheus has seen.
    first_run = time.time()
    silence = add_silence(stack)
    assert stack.stop() == 0
    first_log = stack.log_path.read_text()
    assert f"data kept in {stack.data_dir} for the next run" in first_log, first_log[-2000:]

    # A rule file the repository no longer has must not come back from the data dir.
    stale = stack.data_dir / "config/prometheus/rules/removed-since.yml"
    stale.write_text("groups: [{name: stale, rules: [{record: stale:up, expr: up}]}]\n")

    stack.start(env=stack.env)
    samples = stack.query_api(f"/api/v1/query?query=up%7Bjob%3D%22model-server%22%7D&time={first_run}")
    assert [r["value"][1] for r in samples["result"]] == ["1"], samples
    status, body = http(alertmanager(stack, f"/api/v2/silence/{silence}"))
    assert status == 200, body
    assert json.loads(body)["status"]["state"] == "active", body
    assert not stale.exists()
    groups = stack.query_api("/api/v1/rules")["groups"]
    assert groups and "stale" not in [g["name"] for g in groups], groups
