"""Reconciliation of the load generators' own counts with the server's /metrics.

Each test starts its own model server (with --enable-faults, on a free loopback port), scrapes
/metrics, runs a short bounded load (goose `loadgen`, or Locust headless), waits for the
in-progress gauge to return to 0, scrapes again and checks that

  * the deltas of requests_total, summed per status class (and per status), equal the
    generator's own counts exactly;
  * the delta of predictions_total (all classes) equals the rows the generator sent in
    predictions answered 200;
  * the server counted no 499 (client gone before the answer), and request_in_progress is 0;
  * the generator saw no transport error and no unexpected status.

Environment:
  MODEL_SERVER_BIN   server binary (default target/debug/model-server, built if missing)
  LOADGEN_BIN        goose load generator (default target/debug/loadgen, built if missing)
  LOCUST             Locust command (default: `<this python> -m locust`)
  LOADTEST_USERS     users (default 20)      LOADTEST_SECONDS  run time in s (default 20)

Run:  pip install -r tests/requirements.txt && pytest -v tests/loadtest
"""

import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USERS = int(os.environ.get("LOADTEST_USERS", "20"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "20"))
RATE = 10


# --------------------------------------------------------------------------------------
# Prometheus text format
# --------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), "\\" + m.group(1)), value)


def parse_labels(text):
    labels, pos = {}, 0
    text = text.strip()
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse labels {text!r} at {pos}")
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return labels


def parse_prometheus(text):
    """[(name, {label: value}, float)] for every sample of a Prometheus text exposition."""
    samples = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"/metrics line {lineno} is not a sample: {line!r}")
        name, _, labels, value, _ = m.groups()
        samples.append((name, parse_labels(labels or ""), float(value)))
    return samples


def test_parser_handles_label_order_escapes_and_timestamps():
    text = (
        "# HELP requests_total x\n# TYPE requests_total counter\n"
        'requests_total{status="200",route="/predict",method="POST"} 3\n'
        'requests_total{method="GET", route="unmatched",status="404",} 1e1 1700000000000\n'
        'weird{a="x\\"y,z=\\\\",b="\\n"} +Inf\n'
        "up 1\n"
    )
    s = parse_prometheus(text)
    assert s[0] == ("requests_total", {"status": "200", "route": "/predict", "method": "POST"}, 3.0)
    assert s[1] == ("requests_total", {"method": "GET", "route": "unmatched", "status": "404"}, 10.0)
    assert s[2][1] == {"a": 'x"y,z=\\', "b": "\n"} and s[2][2] == float("inf")
    assert s[3] == ("up", {}, 1.0)


class Snapshot:
    def __init__(self, text):
        self.text = text
        self.samples = parse_prometheus(text)

    def requests_by_status(self):
        out = defaultdict(float)
        for name, labels, value in self.samples:
            if name == "requests_total":
                out[labels["status"]] += value
        return out

    def requests_by_key(self):
        out = defaultdict(float)
        for name, labels, value in self.samples:
            if name == "requests_total":
                out[(labels.get("method"), labels.get("route"), labels["status"])] += value
        return out

    def predictions(self):
        return sum(v for n, _, v in self.samples if n == "predictions_total")

    def in_progress(self):
        return {(l.get("method"), l.get("route")): v for n, l, v in self.samples if n == "request_in_progress"}


# --------------------------------------------------------------------------------------
# Binaries and server
# --------------------------------------------------------------------------------------


def _binary(env_var, package, name):
    path = os.environ.get(env_var)
    if path:
        assert Path(path).is_file(), f"{env_var}={path} does not exist"
        return path
    path = ROOT / "target" / "debug" / name
    if not path.is_file():
        subprocess.run(["cargo", "build", "-p", package], cwd=ROOT, check=True, timeout=1800)
    return str(path)


@pytest.fixture(scope="session")
def server_bin():
    return _binary("MODEL_SERVER_BIN", "model-server", "model-server")


@pytest.fixture(scope="session")
def loadgen_bin():
    return _binary("LOADGEN_BIN", "loadgen", "loadgen")


@pytest.fixture(scope="session")
def locust_cmd():
    if os.environ.get("LOCUST"):
        return shlex.split(os.environ["LOCUST"])
    # find_spec, not import: importing locust monkey-patches this process with gevent,
    # which deadlocks the threads other tests run (e.g. the e2e mock receivers).
    if importlib.util.find_spec("locust") is None:
        pytest.fail("Locust is not installed: pip install -r tests/requirements.txt (or set LOCUST=...)")
    return [sys.executable, "-m", "locust"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class Server:
    def __init__(self, binary, tmp_path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "model-server.log"
        self.log = open(self.log_path, "w")
        cmd = [binary, "serve", "--enable-faults", "--listen", f"127.0.0.1:{self.port}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_SERVER_")}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"model server exited with {self.proc.returncode} at start-up:\n{self.log_tail()}")
            try:
                if _get(f"{self.url}/healthz", timeout=1)[0] == 200:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"model server not healthy after 60 s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines=40):
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def scrape(self):
        status, text = _get(f"{self.url}/metrics")
        assert status == 200, f"/metrics answered {status}"
        return Snapshot(text)

    def settled(self, timeout=15):
        """Scrape until every request_in_progress series reads 0; return that snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.scrape()
            busy = {k: v for k, v in snap.in_progress().items() if v != 0}
            if not busy:
                return snap
            if time.monotonic() > deadline:
                pytest.fail(f"request_in_progress did not return to 0 within {timeout} s: {busy}")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def server(server_bin, tmp_path):
    s = Server(server_bin, tmp_path)
    yield s
    s.stop()


# --------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------


def _run(cmd, timeout, what):
    started = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    elapsed = time.monotonic() - started
    output = (p.stdout + "\n" + p.stderr).strip()
    tail = "\n".join(output.splitlines()[-60:])
    return p.returncode, elapsed, tail


def _class_of(status):
    return f"{int(status) // 100}xx"


def reconcile(server, before, after, summary, gen_rc, gen_tail):
    delta_status = {}
    b, a = before.requests_by_status(), after.requests_by_status()
    for status in set(a) | set(b):
        d = a.get(status, 0) - b.get(status, 0)
        if d:
            delta_status[status] = int(d)
    delta_class = defaultdict(int)
    for status, d in delta_status.items():
        delta_class[_class_of(status)] += d
    gen_status = {k: int(v) for k, v in summary["by_status"].items() if v}
    gen_class = {k: int(v) for k, v in summary["by_class"].items() if v}
    predictions = int(after.predictions() - before.predictions())

    rows = []
    for status in sorted(set(delta_status) | set(gen_status)):
        s, g = delta_status.get(status, 0), gen_status.get(status, 0)
        rows.append(f"  {status}: server {s:>7}  generator {g:>7}{'' if s == g else '   <-- differs'}")
    for cls in sorted(set(delta_class) | set(gen_class)):
        s, g = delta_class.get(cls, 0), gen_class.get(cls, 0)
        rows.append(f"  {cls}: server {s:>7}  generator {g:>7}{'' if s == g else '   <-- differs'}")
    rows.append(f"  rows predicted: server predictions_total delta {predictions}, generator {summary['rows_predicted']}")
    key_delta = {k: int(v - before.requests_by_key().get(k, 0)) for k, v in after.requests_by_key().items()}
    key_delta = {k: v for k, v in key_delta.items() if v}
    report = (
        "\n".join(rows)
        + f"\nserver requests_total deltas by (method, route, status): {dict(sorted(key_delta.items()))}"
        + f"\ngenerator summary: {json.dumps(summary)}"
        + f"\ngenerator exit status {gen_rc}, output tail:\n{gen_tail}"
        + f"\nserver log tail:\n{server.log_tail(15)}"
    )

    problems = []
    if "499" in delta_status:
        problems.append(f"the server counted {delta_status['499']} request(s) as 499 (client disconnected)")
    if dict(delta_class) != gen_class:
        problems.append("requests_total deltas per status class differ from the generator's counts")
    if delta_status != gen_status:
        problems.append("requests_total deltas per status differ from the generator's counts")
    if predictions != summary["rows_predicted"]:
        problems.append(
            f"predictions_total delta {predictions} != rows sent in 200 predictions {summary['rows_predicted']}"
        )
    for key in ("transport_errors", "unexpected_status", "bad_prediction_bodies"):
        if summary[key]:
            problems.append(f"generator reports {key} = {summary[key]}")
    for cls in ("2xx", "4xx", "5xx"):
        if not gen_class.get(cls):
            problems.append(f"the mix produced no {cls} at all")
    if gen_rc != 0:
        problems.append(f"the generator exited with status {gen_rc}")
    busy = {k: v for k, v in after.in_progress().items() if v != 0}
    if busy:
        problems.append(f"request_in_progress not 0: {busy}")
    assert not problems, "reconciliation failed:\n- " + "\n- ".join(problems) + "\n" + report
    print(report.split("\ngenerator exit status")[0])


def test_goose_counts_reconcile_with_server_metrics(server, loadgen_bin, tmp_path):
    summary_path = tmp_path / "goose-summary.json"
    before = server.scrape()
    cmd = [
        loadgen_bin, "--host", server.url, "--users", str(USERS), "--increase-rate", str(RATE),
        "--run-time", f"{SECONDS}s", "--no-telnet", "--summary-file", str(summary_path),
        "--report-file", str(tmp_path / "goose-report.html"),
    ]
    rc, elapsed, tail = _run(cmd, SECONDS + 120, "loadgen")
    assert summary_path.exists(), f"loadgen wrote no summary (exit {rc}):\n{tail}\nserver log:\n{server.log_tail()}"
    after = server.settled()
    summary = json.loads(summary_path.read_text())
    assert summary["requests"] > USERS, f"suspiciously few requests: {summary}"
    reconcile(server, before, after, summary, rc, tail)


def test_locust_counts_reconcile_with_server_metrics(server, locust_cmd, tmp_path):
    summary_path = tmp_path / "locust-summary.json"
    before = server.scrape()
    cmd = locust_cmd + [
        "-f", str(ROOT / "loadtest" / "locustfile.py"), "--headless", "--host", server.url,
        "-u", str(USERS), "-r", str(RATE), "-t", f"{SECONDS}s", "--stop-timeout", "10",
        "--summary-file", str(summary_path), "--only-summary",
    ]
    rc, elapsed, tail = _run(cmd, SECONDS + 120, "locust")
    assert summary_path.exists(), f"locust wrote no summary (exit {rc}):\n{tail}\nserver log:\n{server.log_tail()}"
    after = server.settled()
    summary = json.loads(summary_path.read_text())
    assert summary["requests"] > USERS, f"suspiciously few requests: {summary}"
    reconcile(server, before, after, summary, rc, tail)


def test_loadgen_reports_unreachable_host_clearly(loadgen_bin):
    cmd = [loadgen_bin, "--host", f"http://127.0.0.1:{_free_port()}", "-t", "2s", "--no-telnet"]
    rc, _, tail = _run(cmd, 60, "loadgen")
    assert rc == 3, f"expected exit status 3, got {rc}:\n{tail}"
    assert "cannot reach the model server" in tail
    assert len(tail.splitlines()) <= 5, f"too noisy:\n{tail}"


def test_loadgen_refuses_server_without_faults(server_bin, loadgen_bin, tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_SERVER_")}
    proc = subprocess.Popen([server_bin, "serve", "--listen", f"127.0.0.1:{port}"], stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/healthz", timeout=1)[0] == 200:
                    break
            except (urllib.error.URLError, OSError):
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        rc, _, tail = _run([loadgen_bin, "--host", f"http://127.0.0.1:{port}", "-t", "2s", "--no-telnet"],
                           60, "loadgen")
        assert rc == 4, f"expected exit status 4, got {rc}:\n{tail}"
        assert "--enable-faults" in tail and "--server-error-weight 0" in tail
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
