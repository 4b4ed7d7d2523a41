"""Locust load test for model-server: the same weighted mix as the goose `loadgen`.

    locust -f loadtest/locustfile.py --headless -u 50 -r 10 -t 3m30s --host http://127.0.0.1:8000

Mix (weights are options, also env vars):
  --ok-weight 85            valid predictions -> 200: one row (60 %) or a batch of 2..=8 rows (40 %)
  --client-error-weight 10  422 wrong feature count, 400 malformed JSON, 404 unknown path
  --server-error-weight 5   x-fault: 500 / x-fault: 503 -> 500 / 503 (server started with --enable-faults)
Each request marks its expected status as a success and anything else as a failure, so
Locust's failures are real failures. Tasks are tagged `ok`, `client_error`, `server_error`
(`--tags` / `--exclude-tags` work).

Own counters: every request that got a response (per status, per status class) and the rows
sent in predictions answered 200, ramp-up included. Printed when the test stops and written as
JSON to --summary-file / $LOCUST_SUMMARY_FILE, for reconciliation with the server's /metrics.
They are per process: do not combine --summary-file with --processes or distributed runs.

A headless run first probes the host (GET /healthz) and, if the server-error weight is above 0,
whether fault injection is on (one POST /predict with x-fault: 500, counted like any request);
it exits with status 3 (unreachable) or 4 (faults off) and one clear message otherwise.
Unless --stop-timeout is given, it is set to 10 s, so users finish their request when the run
ends instead of being killed mid-request (which the server would count as 499).
"""

import json
import logging
import math
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

from locust import FastHttpUser, events, tag, task

log = logging.getLogger("model-server-loadtest")

# Per-class means and standard deviations of the Iris data set
# (sepal length, sepal width, petal length, petal width, in cm).
MEANS = [
    [5.006, 3.428, 1.462, 0.246],
    [5.936, 2.770, 4.260, 1.326],
    [6.588, 2.974, 5.552, 2.026],
]
STD_DEVS = [
    [0.352, 0.379, 0.174, 0.105],
    [0.516, 0.314, 0.470, 0.198],
    [0.636, 0.322, 0.552, 0.275],
]
BATCH_SHARE = 0.4
WRONG_FEATURE_COUNT = [
    '{"features":[5.1,3.5,1.4]}',
    '{"features":[6.7,3.0,5.2,2.3,0.4]}',
    '{"instances":[[5.1,3.5,1.4,0.2],[6.7,3.0]]}',
]
MALFORMED_JSON = [
    '{"features":[5.1,3.5,1.4,0.2]',
    '{"features":[5.1,3.5,1.4,0.2],}',
    "{'features':[5.1,3.5,1.4,0.2]}",
    "features=5.1,3.5,1.4,0.2",
]
UNKNOWN_PATHS = ["/predictions", "/v1/predict", "/model/iris", "/predict/batch"]
JSON_HEADERS = {"content-type": "application/json"}
STOP_TIMEOUT_DEFAULT = 10.0


def iris_row():
    """One flower around a random class mean, rounded to the millimetre like the data set."""
    c = random.randrange(3)
    return [round(max(0.1, random.gauss(MEANS[c][i], STD_DEVS[c][i])), 1) for i in range(4)]


def single_body():
    return json.dumps({"features": iris_row()})


def batch_body(rows):
    return json.dumps({"instances": [iris_row() for _ in range(rows)]})


class Counts:
    """Requests that got a response, for the whole run (Locust's own stats may be reset)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_status = Counter()
        self.rows_predicted = 0
        self.unexpected_status = 0
        self.bad_prediction_bodies = 0
        self.transport_errors = 0
        self.probe_requests = 0
        self.started = time.monotonic()

    def record(self, status, expected, rows_if_ok=0, bad_body=False):
        with self.lock:
            if status <= 0:  # no response: connection refused or reset, timeout
                self.transport_errors += 1
                return
            self.by_status[status] += 1
            if status != expected:
                self.unexpected_status += 1
            if status == 200:
                self.rows_predicted += rows_if_ok
                if bad_body:
                    self.bad_prediction_bodies += 1

    def summary(self, host, weights):
        with self.lock:
            by_class = {"2xx": 0, "4xx": 0, "5xx": 0}
            for status, n in self.by_status.items():
                key = f"{status // 100}xx"
                by_class[key] = by_class.get(key, 0) + n
            return {
                "generator": "locust",
                "host": host,
                "weights": weights,
                "requests": sum(self.by_status.values()),
                "by_class": dict(sorted(by_class.items())),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "rows_predicted": self.rows_predicted,
                "unexpected_status": self.unexpected_status,
                "bad_prediction_bodies": self.bad_prediction_bodies,
                "transport_errors": self.transport_errors,
                "probe_requests": self.probe_requests,
                "elapsed_seconds": round(time.monotonic() - self.started, 3),
            }


COUNTS = Counts()


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    group = parser.add_argument_group("model-server traffic mix")
    group.add_argument("--ok-weight", type=int, default=85, env_var="LOCUST_OK_WEIGHT",
                       help="Weight of valid predictions -> 200 (one row or batches of 2..=8 rows). Default 85")
    group.add_argument("--client-error-weight", type=int, default=10, env_var="LOCUST_CLIENT_ERROR_WEIGHT",
                       help="Weight of 422 wrong feature count / 400 malformed JSON / 404 unknown path. Default 10")
    group.add_argument("--server-error-weight", type=int, default=5, env_var="LOCUST_SERVER_ERROR_WEIGHT",
                       help="Weight of x-fault: 500 / 503 (server needs --enable-faults). Default 5")
    group.add_argument("--summary-file", default="", env_var="LOCUST_SUMMARY_FILE",
                       help="Write the final counts per status class and rows predicted as JSON to this file")


def _expect(response, expected, rows=0):
    """Mark `expected` as a success, anything else as a failure, and count the answer."""
    status = response.status_code or 0
    bad_body = False
    if status == expected:
        if status == 200 and rows:
            try:
                bad_body = len(response.json()["predictions"]) != rows
            except Exception:
                bad_body = True
        if bad_body:
            response.failure(f"200 without one prediction per row sent ({rows}): {response.text[:200]}")
        else:
            response.success()
    elif status == 0:
        response.failure(f"no response (expected {expected}): {response.error}")
    else:
        hint = " (is the server running with --enable-faults?)" if expected >= 500 and status == 200 else ""
        response.failure(f"expected {expected}, got {status}{hint}: {(response.text or '')[:200]}")
    COUNTS.record(status, expected, rows_if_ok=rows, bad_body=bad_body)


class ModelServerUser(FastHttpUser):
    """Closed loop, no think time by default (set LOCUST_THINK_TIME="0.05..0.15" seconds)."""

    host = "http://127.0.0.1:8000"

    def wait_time(self):
        return THINK_TIME[0] + random.random() * (THINK_TIME[1] - THINK_TIME[0])

    @tag("ok")
    @task(85)
    def predict_ok(self):
        if random.random() < BATCH_SHARE:
            rows = random.randint(2, 8)
            body, name = batch_body(rows), "/predict batch 2..8 rows -> 200"
        else:
            rows = 1
            body, name = single_body(), "/predict 1 row -> 200"
        with self.client.post("/predict", data=body, headers=JSON_HEADERS, name=name,
                              catch_response=True) as r:
            _expect(r, 200, rows)

    @tag("client_error")
    @task(10)
    def client_error(self):
        kind = random.randrange(3)
        if kind == 0:
            with self.client.post("/predict", data=random.choice(WRONG_FEATURE_COUNT), headers=JSON_HEADERS,
                                  name="/predict wrong feature count -> 422", catch_response=True) as r:
                _expect(r, 422)
        elif kind == 1:
            with self.client.post("/predict", data=random.choice(MALFORMED_JSON), headers=JSON_HEADERS,
                                  name="/predict malformed JSON -> 400", catch_response=True) as r:
                _expect(r, 400)
        else:
            with self.client.get(random.choice(UNKNOWN_PATHS), name="unknown path -> 404",
                                 catch_response=True) as r:
                _expect(r, 404)

    @tag("server_error")
    @task(5)
    def server_error(self):
        fault = random.choice(("500", "503"))
        with self.client.post("/predict", data=single_body(), headers={**JSON_HEADERS, "x-fault": fault},
                              name=f"/predict x-fault: {fault} -> {fault}", catch_response=True) as r:
            _expect(r, int(fault))


def _think_time():
    import os

    raw = os.environ.get("LOCUST_THINK_TIME", "0")
    lo, _, hi = raw.partition("..")
    lo = float(lo or 0)
    hi = float(hi or lo)
    if not (0 <= lo <= hi) or math.isnan(hi):
        raise SystemExit(f"LOCUST_THINK_TIME={raw!r}: expected SECONDS or MIN..MAX seconds")
    return lo, hi


THINK_TIME = _think_time()
_WEIGHTS = {}


def _probe(host, check_faults):
    """None if fine, else (exit code, message)."""
    try:
        with urllib.request.urlopen(f"{host}/healthz", timeout=5) as r:
            if r.status != 200:
                return 3, f"GET {host}/healthz answered {r.status}, not 200: is the model server healthy?"
    except urllib.error.HTTPError as e:
        return 3, f"GET {host}/healthz answered {e.code}, not 200: is this a healthy model server?"
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return 3, (f"cannot reach the model server at {host} (GET /healthz: {reason}). Start it first, e.g. "
                   f"`model-server serve --enable-faults --listen 127.0.0.1:8000`, or pass --host URL.")
    if not check_faults:
        return None
    req = urllib.request.Request(f"{host}/predict", data=single_body().encode(), method="POST",
                                 headers={**JSON_HEADERS, "x-fault": "500"})
    COUNTS.probe_requests += 1
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            status, body = r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        COUNTS.transport_errors += 1
        return 3, f"the fault probe POST {host}/predict got no answer: {getattr(e, 'reason', e)}"
    COUNTS.by_status[status] += 1
    try:
        error = json.loads(body).get("error")
    except Exception:
        error = None
    if status == 500 and error == "injected_fault":
        return None
    if status == 200:
        COUNTS.rows_predicted += 1
    return 4, (f"the server at {host} does not inject faults: POST /predict with `x-fault: 500` answered "
               f"{status} {body[:200]}, not 500 injected_fault. Restart it with `model-server serve "
               f"--enable-faults`, or run without server errors: --server-error-weight 0.")


@events.init.add_listener
def _on_init(environment, **_):
    opts = environment.parsed_options
    if opts is None:  # used as a library
        return
    weights = {"ok": opts.ok_weight, "client_error": opts.client_error_weight,
               "server_error": opts.server_error_weight}
    _WEIGHTS.update(weights)
    if any(w < 0 for w in weights.values()) or sum(weights.values()) == 0:
        log.error("weights must be >= 0 and not all 0: %s", weights)
        sys.exit(2)
    # Rebuild the task list with the chosen weights, keeping Locust's --tags filtering.
    funcs = {"ok": ModelServerUser.predict_ok, "client_error": ModelServerUser.client_error,
             "server_error": ModelServerUser.server_error}
    present = set(ModelServerUser.tasks)
    ModelServerUser.tasks = [f for k, f in funcs.items() if f in present for _ in range(weights[k])]
    if not ModelServerUser.tasks:
        log.error("no task left to run with weights %s and the given --tags", weights)
        sys.exit(2)
    if not opts.stop_timeout:
        environment.stop_timeout = STOP_TIMEOUT_DEFAULT
    if opts.headless and not getattr(opts, "worker", False):
        host = (environment.host or ModelServerUser.host).rstrip("/")
        failed = _probe(host, weights["server_error"] > 0 and ModelServerUser.server_error in present)
        if failed:
            code, message = failed
            log.error(message)
            sys.exit(code)


@events.test_start.add_listener
def _on_test_start(environment, **_):
    COUNTS.started = time.monotonic()


@events.test_stop.add_listener
def _on_test_stop(environment, **_):
    host = (environment.host or ModelServerUser.host).rstrip("/")
    s = COUNTS.summary(host, dict(_WEIGHTS))
    log.info(
        "model-server load summary (every answered request, ramp-up and probe included): "
        "requests %d; 2xx %d, 4xx %d, 5xx %d; by status %s; rows predicted %d; "
        "unexpected statuses %d, transport errors %d, bad prediction bodies %d",
        s["requests"], s["by_class"].get("2xx", 0), s["by_class"].get("4xx", 0), s["by_class"].get("5xx", 0),
        s["by_status"], s["rows_predicted"], s["unexpected_status"], s["transport_errors"],
        s["bad_prediction_bodies"],
    )
    if _WEIGHTS.get("server_error", 0) > 0 and s["by_class"].get("5xx", 0) == 0 and s["requests"]:
        log.warning("server errors were requested but the server answered no 5xx at all: "
                    "is it running with --enable-faults?")
    opts = environment.parsed_options
    path = getattr(opts, "summary_file", "") if opts else ""
    if path:
        with open(path, "w") as f:
            json.dump(s, f, indent=2)
            f.write("\n")
        log.info("summary written to %s", path)
