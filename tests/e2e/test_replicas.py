"""End to end: `model-server stack --replicas 3` with remote write.

The stack starts three model servers on consecutive ports; Prometheus finds them
through the file_sd targets file the stack writes. The goose load generator sends
traffic to each, and Prometheus' sums must equal its counts exactly, in total and
per instance. The same stack remote-writes to a local stand-in for a long-term
store, with external labels, and its derived Prometheus config passes promtool.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, MS, REPO, Stack, fresh_overlay, running, wait_until
from mock_receivers import RemoteWriteReceiver, snappy_decompress

REPLICAS = 3
CLUSTER = "e2e-cluster"


def loadgen_bin():
    if os.environ.get("LOADGEN_BIN"):
        return Path(os.environ["LOADGEN_BIN"])
    # Next to the server binary under test first (debug in CI), then the other profile.
    for candidate in (BIN.parent / "loadgen", REPO / "target/debug/loadgen",
                      REPO / "target/release/loadgen"):
        if candidate.is_file():
            return candidate
    raise AssertionError("no loadgen binary: run `cargo build -p loadgen` or set LOADGEN_BIN")


@pytest.fixture(scope="module")
def store():
    with RemoteWriteReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, store):
    tmp = fresh_overlay(tmp_path_factory, "replicas")
    yield from running(Stack(tmp, replicas=REPLICAS), [
        "--replicas", str(REPLICAS),
        "--remote-write-url", store.url("/api/v1/push"),
        "--external-label", f"cluster={CLUSTER}", "--external-label", "replica=a",
    ])


def instances(stack):
    return [f"127.0.0.1:{port}" for port in stack.server_ports()]


def test_the_url_table_lists_every_replica_last(replicas):
    log = replicas.log_path.read_text()
    table = log[log.rindex("\nservice "):]
    for i, port in enumerate(replicas.server_ports(), start=1):
        assert f"\nmodel-server-{i}  http://127.0.0.1:{port} " in table, table
        assert f"model-server-{i} | ready after" in log, log[-3000:]
    targets = json.loads((replicas.tmp / "data/config/prometheus/targets/model-server.json").read_text())
    assert targets == [{"targets": instances(replicas)}], targets


def test_prometheus_discovers_every_replica(replicas):
    def all_up():
        result = replicas.query('up{%s}' % MS)
        up = {r["metric"]["instance"]: r["value"][1] for r in result}
        return up if up == {i: "1" for i in instances(replicas)} else None

    wait_until(f"{REPLICAS} model-server targets up", all_up, timeout=60)


def by_instance_and_status(stack):
    result = stack.query('sum by (instance, status) (requests_total{%s})' % MS)
    counts = {}
    for r in result:
        counts.setdefault(r["metric"]["instance"], {})[r["metric"]["status"]] = round(float(r["value"][1]))
    return counts


def test_prometheus_sums_exactly_what_loadgen_sent_to_each_replica(replicas, tmp_path):
    before = by_instance_and_status(replicas)
    sent = {}
    for port, instance in zip(replicas.server_ports(), instances(replicas)):
        summary_path = tmp_path / f"summary-{port}.json"
        run = subprocess.run(
            [str(loadgen_bin()), "--host", f"http://127.0.0.1:{port}", "--users", "2",
             "--increase-rate", "4", "--run-time", "2s", "--summary-file", str(summary_path)],
            capture_output=True, text=True, timeout=120)
        tail = (run.stdout + run.stderr)[-3000:]
        assert run.returncode == 0 and summary_path.exists(), f"loadgen on {instance}:\n{tail}"
        summary = json.loads(summary_path.read_text())
        for key in ("transport_errors", "unexpected_status"):
            assert not summary[key], f"{key} on {instance}: {summary}"
        sent[instance] = {status: int(n) for status, n in summary["by_status"].items() if n}
        assert sum(sent[instance].values()) > 0, summary

    expected = {
        instance: {status: n + before.get(instance, {}).get(status, 0) for status, n in counts.items()}
        for instance, counts in sent.items()
    }
    total = sum(sum(c.values()) for c in expected.values())
    # Every instance got 2xx, 4xx and 5xx, so each series is checked, not only sums.
    for instance, counts in expected.items():
        assert {s[0] for s in counts} >= {"2", "4", "5"}, (instance, counts)

    wait_until(f"Prometheus to see {expected}",
               lambda: by_instance_and_status(replicas) == expected or None, timeout=30)
    assert replicas.values('sum(requests_total{%s})' % MS) == [str(total)]
    per_instance = {r["metric"]["instance"]: round(float(r["value"][1])) for r in
                    replicas.query('sum by (instance) (requests_total{%s})' % MS)}
    assert per_instance == {i: sum(c.values()) for i, c in expected.items()}


def test_remote_write_reaches_the_store_with_the_external_labels(replicas, store):
    def labelled_posts():
        found = []
        for path, headers, body in store.snapshot():
            payload = snappy_decompress(body)
            if CLUSTER.encode() in payload and b"model-server" in payload:
                found.append((path, headers))
        return found

    posts = wait_until("remote-write POSTs carrying the cluster label", labelled_posts, timeout=60)
    for path, headers in posts:
        assert path == "/api/v1/push"
        assert headers["content-encoding"] == "snappy", headers
        assert headers["content-type"] == "application/x-protobuf", headers
        assert (headers["x-prometheus-remote-write-version"] or "").startswith("0.1"), headers


def test_the_derived_config_passes_promtool_and_the_repo_file_is_untouched(replicas):
    derived = replicas.tmp / "data/config/prometheus/prometheus.yml"
    text = derived.read_text()
    assert "remote_write:" in text and f'"cluster":"{CLUSTER}"' in text, text
    check = subprocess.run(["promtool", "check", "config", str(derived)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # What Prometheus runs with.
    loaded = replicas.query_api("/api/v1/status/config")["yaml"]
    assert f"cluster: {CLUSTER}" in loaded and "remote_write:" in loaded, loaded
    for config in (REPO / "monitoring/prometheus/prometheus.yml",
                   replicas.tmp / "config/monitoring/prometheus/prometheus.yml"):
        original = config.read_text()
        assert "remote_write" not in original and "external_labels" not in original, config
