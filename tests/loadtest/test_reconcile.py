"""Reconciliation of the load generators' own counts with the server's /metrics, and their drift.

Each reconciliation test starts its own model server (with --enable-faults, on a free loopback
port, through tests/support/modelserver.py), scrapes /metrics (parsed by prometheus_client),
runs a short bounded load (goose `loadgen`, or Locust headless), waits for the in-progress
gauge to return to 0, scrapes again and checks that

  * the deltas of requests_total, summed per status class (and per status), equal the
    generator's own counts exactly;
  * the delta of predictions_total (all classes) equals the rows the generator sent in
    predictions answered 200;
  * the server counted no 499 (client gone before the answer), and request_in_progress is 0;
  * the generator saw no transport error and no unexpected status;
  * for Locust, its own statistics (--json-file) hold exactly the server's request count too.

The drift tests run the generators with --drift-after against a recording stub on loopback and
check that the rows sent after the drift time are the rows before, scaled as documented.

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
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from modelserver import REPO, ServerProcess, cargo_binary, free_port  # noqa: E402

USERS = int(os.environ.get("LOADTEST_USERS", "20"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "20"))
RATE = 10
MIX = json.loads((REPO / "loadgen" / "src" / "mix.json").read_text())


# --------------------------------------------------------------------------------------
# /metrics, parsed by prometheus_client
# --------------------------------------------------------------------------------------


class Snapshot:
    def __init__(self, samples):
        self.samples = samples  # {(name, frozenset(labels.items())): value}

    def _by(self, name, key):
        out = defaultdict(float)
        for (n, labels), value in self.samples.items():
            if n == name:
                out[key(dict(labels))] += value
        return out

    def requests_by_status(self):
        return self._by("requests_total", lambda l: l["status"])

    def requests_by_key(self):
        return self._by("requests_total", lambda l: (l.get("method"), l.get("route"), l["status"]))

    def predictions(self):
        return sum(v for (n, _), v in self.samples.items() if n == "predictions_total")

    def in_progress(self):
        return self._by("request_in_progress", lambda l: (l.get("method"), l.get("route")))


def scrape(server):
    return Snapshot(server.metrics())


def settled(server, timeout=15):
    """Scrape until every request_in_progress series reads 0; return that snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        snap = scrape(server)
        busy = {k: v for k, v in snap.in_progress().items() if v != 0}
        if not busy:
            return snap
        if time.monotonic() > deadline:
            pytest.fail(f"request_in_progress did not return to 0 within {timeout} s: {busy}")
        time.sleep(0.2)


# --------------------------------------------------------------------------------------
# Binaries and server
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_bin():
    return cargo_binary("model-server", "model-server", env_var="MODEL_SERVER_BIN")


@pytest.fixture(scope="session")
def loadgen_bin():
    return str(cargo_binary("loadgen", "loadgen", env_var="LOADGEN_BIN"))


@pytest.fixture(scope="session")
def locust_cmd():
    if os.environ.get("LOCUST"):
        return shlex.split(os.environ["LOCUST"])
    # find_spec, not import: importing locust monkey-patches this process with gevent,
    # which deadlocks the threads other tests run (e.g. the e2e mock receivers).
    if importlib.util.find_spec("locust") is None:
        pytest.fail("Locust is not installed: pip install -r tests/requirements.txt (or set LOCUST=...)")
    return [sys.executable, "-m", "locust"]


@pytest.fixture
def server(server_bin):
    with ServerProcess("--enable-faults", binary=server_bin) as s:
        s.wait_ready(timeout=60)
        yield s
        s.stop()


# --------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------


def _run(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    output = (p.stdout + "\n" + p.stderr).strip()
    return p.returncode, "\n".join(output.splitlines()[-60:])


def _class_of(status):
    return f"{int(status) // 100}xx"


def reconcile(server, before, after, summary, gen_rc, gen_tail):
    b, a = before.requests_by_status(), after.requests_by_status()
    delta_status = {s: int(a.get(s, 0) - b.get(s, 0)) for s in set(a) | set(b)}
    delta_status = {s: d for s, d in delta_status.items() if d}
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
    kb = before.requests_by_key()
    key_delta = {k: int(v - kb.get(k, 0)) for k, v in after.requests_by_key().items() if v - kb.get(k, 0)}
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
    return sum(delta_status.values())


def _goose_cmd(loadgen_bin, url, seconds, summary_path, *extra):
    return [loadgen_bin, "--host", url, "--users", str(USERS), "--increase-rate", str(RATE),
            "--run-time", f"{seconds}s", "--no-telnet", "--summary-file", str(summary_path), *extra]


def _locust_cmd(locust_cmd, url, seconds, summary_path, *extra):
    return locust_cmd + [
        "-f", str(REPO / "loadtest" / "locustfile.py"), "--headless", "--host", url,
        "-u", str(USERS), "-r", str(RATE), "-t", f"{seconds}s", "--stop-timeout", "10",
        "--summary-file", str(summary_path), "--only-summary", *extra,
    ]


def _load(server, cmd, summary_path, seconds):
    before = scrape(server)
    rc, tail = _run(cmd, seconds + 120)
    assert summary_path.exists(), f"no summary written (exit {rc}):\n{tail}\nserver log:\n{server.log_tail()}"
    after = settled(server)
    summary = json.loads(summary_path.read_text())
    assert summary["requests"] > USERS, f"suspiciously few requests: {summary}"
    return before, after, summary, rc, tail


def test_goose_counts_reconcile_with_server_metrics(server, loadgen_bin, tmp_path):
    summary_path = tmp_path / "goose-summary.json"
    cmd = _goose_cmd(loadgen_bin, server.url, SECONDS, summary_path,
                     "--report-file", str(tmp_path / "goose-report.html"))
    reconcile(server, *_load(server, cmd, summary_path, SECONDS))


def test_locust_counts_and_its_own_stats_reconcile_with_server_metrics(server, locust_cmd, tmp_path):
    summary_path, stats_path = tmp_path / "locust-summary.json", tmp_path / "locust-stats"
    cmd = _locust_cmd(locust_cmd, server.url, SECONDS, summary_path, "--json-file", str(stats_path))
    before, after, summary, rc, tail = _load(server, cmd, summary_path, SECONDS)
    served = reconcile(server, before, after, summary, rc, tail)
    stats = json.loads(Path(f"{stats_path}.json").read_text())
    locust_total = sum(e["num_requests"] for e in stats)
    locust_failures = sum(e["num_failures"] for e in stats)
    names = {e["name"]: e["num_requests"] for e in stats}
    assert names.get(MIX["probe"]["name"]) == 1, f"the fault probe is not in Locust's stats: {names}"
    assert (locust_total, locust_failures) == (served, 0), (
        f"Locust's own stats count {locust_total} requests ({locust_failures} failures), "
        f"the server {served}: {names}")


@pytest.mark.parametrize("generator", ["goose", "locust"])
def test_counts_reconcile_across_the_drift(server, generator, loadgen_bin, locust_cmd, tmp_path):
    """Requests before and after --drift-after are all counted, and some of each were sent."""
    seconds, after = 8, 4
    summary_path = tmp_path / f"{generator}-summary.json"
    drift = ["--drift-after", f"{after}s", "--drift-scale", "1.6"]
    if generator == "goose":
        cmd = _goose_cmd(loadgen_bin, server.url, seconds, summary_path, *drift)
    else:
        cmd = _locust_cmd(locust_cmd, server.url, seconds, summary_path, *drift)
    before, after_snap, summary, rc, tail = _load(server, cmd, summary_path, seconds)
    reconcile(server, before, after_snap, summary, rc, tail)
    d = summary["drift"]
    assert d and d["after_seconds"] == after and d["scale"] == 1.6, summary
    assert 0 < d["drifted_requests"] < summary["requests"], f"nothing on one side of the drift: {summary}"


# --------------------------------------------------------------------------------------
# Drift: what the rows look like on the wire
# --------------------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """A stand-in server that records every row it is sent and answers like model-server."""

    rows = []  # (monotonic time, row)
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer(200 if self.path == "/healthz" else 404, {"status": "ok"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        rows = [body["features"]] if "features" in body else body["instances"]
        now = time.monotonic()
        with self.lock:
            self.rows.extend((now, r) for r in rows)
        self._answer(200, {"predictions": [{"class": "x"} for _ in rows]})


@pytest.mark.parametrize("generator", ["goose", "locust"])
def test_rows_sent_after_the_drift_time_are_scaled(generator, loadgen_bin, locust_cmd, tmp_path):
    Recorder.rows = []
    stub = ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{stub.server_address[1]}"
    summary_path = tmp_path / "summary.json"
    common = ["--ok-weight", "1", "--client-error-weight", "0", "--server-error-weight", "0",
              "--drift-after", "3s", "--drift-scale", "1.6", "--drift-offset", "0,0,1,0"]
    try:
        if generator == "goose":
            cmd = [loadgen_bin, "--host", url, "-u", "4", "-r", "4", "-t", "6s", "--no-telnet",
                   "--think-time", "20..40", "--summary-file", str(summary_path), *common]
            env = None
        else:
            cmd = _locust_cmd(locust_cmd, url, 6, summary_path, *common)
            cmd[cmd.index("-u") + 1], cmd[cmd.index("-r") + 1] = "4", "4"
            env = {**os.environ, "LOCUST_THINK_TIME": "0.02..0.04"}
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=REPO, env=env)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    finally:
        stub.shutdown()
        stub.server_close()
    rows = sorted(Recorder.rows, key=lambda r: r[0])
    assert len(rows) > 100, f"only {len(rows)} rows recorded"
    t0, t_end = rows[0][0], rows[-1][0]
    early = [r for t, r in rows if t < t0 + 2]
    late = [r for t, r in rows if t > t_end - 1.5]
    assert early and late, (len(early), len(late))
    expected = [statistics.mean(c["mean"][f] for c in MIX["rows"]["classes"]) for f in range(4)]
    offset = [0, 0, 1, 0]
    for f in range(4):
        e, l = statistics.mean(r[f] for r in early), statistics.mean(r[f] for r in late)
        # Before: the mix file's class means; after: scaled and shifted as asked.
        assert abs(e - expected[f]) < 0.25 * expected[f] + 0.1, (f, e, expected[f])
        assert abs(l - (1.6 * e + offset[f])) < 0.2 * (1.6 * e + offset[f]) + 0.1, (f, e, l)
    summary = json.loads(summary_path.read_text())
    assert summary["drift"]["drifted_rows"] > 0 and summary["rows_predicted"] == len(rows), summary


# --------------------------------------------------------------------------------------
# Pre-flight refusals
# --------------------------------------------------------------------------------------


def test_loadgen_reports_unreachable_host_clearly(loadgen_bin):
    rc, tail = _run([loadgen_bin, "--host", f"http://127.0.0.1:{free_port()}", "-t", "2s", "--no-telnet"], 60)
    assert rc == 3, f"expected exit status 3, got {rc}:\n{tail}"
    assert "cannot reach the model server" in tail
    assert len(tail.splitlines()) <= 5, f"too noisy:\n{tail}"


def test_loadgen_refuses_server_without_faults(server_bin, loadgen_bin):
    with ServerProcess(binary=server_bin) as s:
        s.wait_ready(timeout=60)
        rc, tail = _run([loadgen_bin, "--host", s.url, "-t", "2s", "--no-telnet"], 60)
        s.stop()
    assert rc == 4, f"expected exit status 4, got {rc}:\n{tail}"
    assert "--enable-faults" in tail and "--server-error-weight 0" in tail
