"""Locust load test for model-server: the same weighted mix as the goose `loadgen`.

    locust -f loadtest/locustfile.py --headless -u 50 -r 10 -t 3m30s --host http://127.0.0.1:8000

The mix (weights, the realistic Iris rows, batch sizes, client-error kinds, fault headers,
the default drift) is defined once in loadgen/src/mix.json, which goose embeds and this file
reads at start (--mix PATH reads another). Options, also env vars:
  --ok-weight / --client-error-weight / --server-error-weight   override the file's weights
  --drift-after DURATION    from then on (e.g. 60s), every row sent is row * scale + offset
  --drift-scale F / --drift-offset A,B,C,D                      override the file's drift
  --summary-file PATH       write the own counts below as JSON
Each request marks its expected status as a success and anything else as a failure, so
Locust's failures are real failures. Tasks are tagged `ok`, `client_error`, `server_error`
(`--tags` / `--exclude-tags` work).

Own counters: every request that got a response (per status, per status class) and the rows
sent in predictions answered 200, ramp-up included. Printed when the test stops and written as
JSON to --summary-file / $LOCUST_SUMMARY_FILE, for reconciliation with the server's /metrics.
They are per process: do not combine --summary-file with --processes or distributed runs.

A headless run first probes the host (GET /healthz) and, if the server-error weight is above 0,
whether fault injection is on (one POST /predict with x-fault: 500); it exits with status 3
(unreachable) or 4 (faults off) and one clear message otherwise. The probe is a request the
server counts, so it is counted in the own counters and entered in Locust's own statistics
(as "pre-flight fault probe -> 500") when the test starts: Locust's totals (console, UI,
--json-file, CSV) equal the server's.
Unless --stop-timeout is given, it is set to 10 s, so users finish their request when the run
ends instead of being killed mid-request (which the server would count as 499).
"""

import json
import logging
import math
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from locust import FastHttpUser, events, tag, task

log = logging.getLogger("model-server-loadtest")

MIX_FILE = Path(__file__).resolve().parents[1] / "loadgen" / "src" / "mix.json"
JSON_HEADERS = {"content-type": "application/json"}
STOP_TIMEOUT_DEFAULT = 10.0


# --------------------------------------------------------------------------------------
# The mix: rows, drift, pre-rendered bodies (the same rules as loadgen/src/traffic.rs)
# --------------------------------------------------------------------------------------


def load_mix(path=None):
    with open(path or MIX_FILE) as f:
        mix = json.load(f)
    n = len(mix["rows"]["features"])
    for c in mix["rows"]["classes"]:
        if len(c["mean"]) != n or len(c["std_dev"]) != n:
            raise ValueError(f"mix file: class {c['name']}: mean and std_dev need {n} values")
    if len(mix["drift"]["offset"]) != n:
        raise ValueError(f"mix file: drift.offset needs {n} values")
    return mix


def sample_row(rows, rng):
    """One row around the mean of a class picked evenly, clamped at `min` and rounded."""
    c = rows["classes"][rng.randrange(len(rows["classes"]))]
    return [round(max(rows["min"], rng.gauss(m, s)), rows["decimals"]) for m, s in zip(c["mean"], c["std_dev"])]


def drift_row(row, scale, offset, decimals):
    return [round(v * scale + o, decimals) for v, o in zip(row, offset)]


def render(rows, decimals, batch):
    """The same text as goose renders: fixed decimals, no spaces."""
    cells = ["[" + ",".join(f"{v:.{decimals}f}" for v in row) + "]" for row in rows]
    if batch:
        return '{"instances":[' + ",".join(cells) + "]}"
    return '{"features":' + cells[0] + "}"


class Pools:
    """`pool_size` bodies per kind, rendered once; the drifted pools hold the same rows shifted."""

    def __init__(self, mix, seed, drift=None):
        rng, sizes = random.Random(seed), random.Random(seed ^ 0x5EED)
        d, batch = mix["rows"]["decimals"], mix["ok"]["batch"]

        def rows_of(n):
            out = [sample_row(mix["rows"], rng) for _ in range(n)]
            return [drift_row(r, drift[0], drift[1], d) for r in out] if drift else out

        self.single = [(render(rows_of(1), d, False), 1) for _ in range(mix["pool_size"])]
        self.batch = []
        for _ in range(mix["pool_size"]):
            n = sizes.randint(batch["min_rows"], batch["max_rows"])
            self.batch.append((render(rows_of(n), d, True), n))


class Traffic:
    def __init__(self, mix, drift_after=None, scale=None, offset=None, seed=None):
        self.mix = mix
        self.seed = random.randrange(2**63) if seed is None else seed
        self.before = Pools(mix, self.seed)
        self.drift_after = drift_after
        self.scale = mix["drift"]["scale"] if scale is None else scale
        self.offset = list(mix["drift"]["offset"] if offset is None else offset)
        if len(self.offset) != len(mix["rows"]["features"]):
            raise ValueError(f"--drift-offset needs {len(mix['rows']['features'])} values "
                             f"(one per feature: {', '.join(mix['rows']['features'])}), got {len(self.offset)}")
        self.after = Pools(mix, self.seed, (self.scale, self.offset)) if drift_after is not None else None
        self.started = None

    def start_clock(self):
        if self.started is None:
            self.started = time.monotonic()

    def pools(self):
        """(pools, drifted)."""
        if self.after is not None and self.started is not None \
                and time.monotonic() - self.started >= self.drift_after:
            return self.after, True
        return self.before, False

    def ok(self):
        """(name, body, rows, drifted)."""
        pools, drifted = self.pools()
        batch = self.mix["ok"]["batch"]
        if random.random() < batch["share"]:
            body, rows = random.choice(pools.batch)
            return batch["name"], body, rows, drifted
        body, rows = random.choice(pools.single)
        return self.mix["ok"]["single"]["name"], body, rows, drifted

    def server_error(self):
        """(name, body, header, value, expect, rows, drifted)."""
        pools, drifted = self.pools()
        fault = random.choice(self.mix["server_errors"]["faults"])
        body, rows = random.choice(pools.single)
        return fault["name"], body, self.mix["server_errors"]["header"], fault["value"], fault["expect"], rows, drifted


def parse_duration(text):
    """Seconds from `90`, `90s`, `1m30s`, `1500ms`, `1h`."""
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 60s, 1m30s or 1500ms")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * unit[u] for n, u in parts)


def parse_offsets(text):
    return [float(v) for v in str(text).split(",")]


# --------------------------------------------------------------------------------------
# Own counts
# --------------------------------------------------------------------------------------


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
        self.drifted_requests = 0
        self.drifted_rows = 0
        self.started = time.monotonic()

    def record(self, status, expected, rows_if_ok=0, bad_body=False, drifted_rows=None):
        with self.lock:
            if status <= 0:  # no response: connection refused or reset, timeout
                self.transport_errors += 1
                return
            self.by_status[status] += 1
            if status != expected:
                self.unexpected_status += 1
            if drifted_rows is not None:
                self.drifted_requests += 1
                self.drifted_rows += drifted_rows
            if status == 200:
                self.rows_predicted += rows_if_ok
                if bad_body:
                    self.bad_prediction_bodies += 1

    def summary(self, host, weights, traffic):
        with self.lock:
            by_class = {"2xx": 0, "4xx": 0, "5xx": 0}
            for status, n in self.by_status.items():
                key = f"{status // 100}xx"
                by_class[key] = by_class.get(key, 0) + n
            drift = None
            if traffic is not None and traffic.after is not None:
                drift = {"after_seconds": traffic.drift_after, "scale": traffic.scale, "offset": traffic.offset,
                         "drifted_requests": self.drifted_requests, "drifted_rows": self.drifted_rows}
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
                "drift": drift,
            }


COUNTS = Counts()
MIX = load_mix(os.environ.get("LOCUST_MIX") or None)
TRAFFIC = None  # built at init, from the options
_WEIGHTS = {}
_PROBE = {}  # the pre-flight fault probe, entered in Locust's stats when the test starts


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    w = MIX["weights"]
    group = parser.add_argument_group("model-server traffic mix (loadgen/src/mix.json)")
    group.add_argument("--mix", default="", env_var="LOCUST_MIX",
                       help="Read the traffic mix from this file instead of loadgen/src/mix.json")
    group.add_argument("--ok-weight", type=int, default=w["ok"], env_var="LOCUST_OK_WEIGHT",
                       help=f"Weight of valid predictions -> 200 (one row or a batch). Default {w['ok']}")
    group.add_argument("--client-error-weight", type=int, default=w["client_error"],
                       env_var="LOCUST_CLIENT_ERROR_WEIGHT",
                       help="Weight of 422 wrong feature count / 400 malformed JSON / 404 unknown path. "
                            f"Default {w['client_error']}")
    group.add_argument("--server-error-weight", type=int, default=w["server_error"],
                       env_var="LOCUST_SERVER_ERROR_WEIGHT",
                       help=f"Weight of x-fault: 500 / 503 (server needs --enable-faults). Default {w['server_error']}")
    group.add_argument("--drift-after", "--drift", default="", env_var="LOCUST_DRIFT_AFTER",
                       help="Shift the input distribution from this time after the test starts (e.g. 60s): "
                            "every row sent then is row * --drift-scale + --drift-offset")
    group.add_argument("--drift-scale", default="", env_var="LOCUST_DRIFT_SCALE",
                       help=f"Factor of every feature of drifted rows. Default {MIX['drift']['scale']}")
    group.add_argument("--drift-offset", default="", env_var="LOCUST_DRIFT_OFFSET",
                       help="Offset added to each feature of drifted rows, comma-separated, one per feature. "
                            "Default 0 each")
    group.add_argument("--seed", default="", env_var="LOCUST_SEED",
                       help="Seed of the rows rendered at start. Default random")
    group.add_argument("--summary-file", default="", env_var="LOCUST_SUMMARY_FILE",
                       help="Write the final counts per status class and rows predicted as JSON to this file")


def _expect(response, expected, rows=0, drifted=False):
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
    COUNTS.record(status, expected, rows_if_ok=rows, bad_body=bad_body, drifted_rows=rows if drifted else None)


class ModelServerUser(FastHttpUser):
    """Closed loop, no think time by default (set LOCUST_THINK_TIME="0.05..0.15" seconds)."""

    host = "http://127.0.0.1:8000"

    def wait_time(self):
        return THINK_TIME[0] + random.random() * (THINK_TIME[1] - THINK_TIME[0])

    @tag("ok")
    @task(MIX["weights"]["ok"])
    def predict_ok(self):
        name, body, rows, drifted = TRAFFIC.ok()
        with self.client.post("/predict", data=body, headers=JSON_HEADERS, name=name, catch_response=True) as r:
            _expect(r, 200, rows, drifted)

    @tag("client_error")
    @task(MIX["weights"]["client_error"])
    def client_error(self):
        kind = random.choice(MIX["client_errors"])
        path = random.choice(kind["paths"])
        kwargs = {}
        if kind["bodies"]:
            kwargs = {"data": random.choice(kind["bodies"]), "headers": JSON_HEADERS}
        with self.client.request(kind["method"], path, name=kind["name"], catch_response=True, **kwargs) as r:
            _expect(r, kind["expect"])

    @tag("server_error")
    @task(MIX["weights"]["server_error"])
    def server_error(self):
        name, body, header, value, expect, rows, drifted = TRAFFIC.server_error()
        with self.client.post("/predict", data=body, headers={**JSON_HEADERS, header: value}, name=name,
                              catch_response=True) as r:
            _expect(r, expect, rows, drifted)


def _think_time():
    raw = os.environ.get("LOCUST_THINK_TIME", "0")
    lo, _, hi = raw.partition("..")
    lo = float(lo or 0)
    hi = float(hi or lo)
    if not (0 <= lo <= hi) or math.isnan(hi):
        raise SystemExit(f"LOCUST_THINK_TIME={raw!r}: expected SECONDS or MIN..MAX seconds")
    return lo, hi


THINK_TIME = _think_time()


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
    probe, header = MIX["probe"], MIX["server_errors"]["header"]
    body = TRAFFIC.before.single[0][0]
    req = urllib.request.Request(f"{host}/predict", data=body.encode(), method="POST",
                                 headers={**JSON_HEADERS, header: probe["value"]})
    COUNTS.probe_requests += 1
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            status, text = r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        COUNTS.transport_errors += 1
        return 3, f"the fault probe POST {host}/predict got no answer: {getattr(e, 'reason', e)}"
    _PROBE.update(name=probe["name"], response_time=(time.perf_counter() - t0) * 1000, response_length=len(text))
    COUNTS.by_status[status] += 1
    try:
        error = json.loads(text).get("error")
    except Exception:
        error = None
    if status == probe["expect"] and error == probe["error"]:
        return None
    if status == 200:
        COUNTS.rows_predicted += 1
    return 4, (f"the server at {host} does not inject faults: POST /predict with `{header}: {probe['value']}` "
               f"answered {status} {text[:200]}, not {probe['expect']} {probe['error']}. Restart it with "
               f"`model-server serve --enable-faults`, or run without server errors: --server-error-weight 0.")


@events.init.add_listener
def _on_init(environment, **_):
    global MIX, TRAFFIC
    opts = environment.parsed_options
    if opts is None:  # used as a library
        TRAFFIC = Traffic(MIX)
        return
    try:
        if opts.mix:
            MIX = load_mix(opts.mix)
        drift_after = parse_duration(opts.drift_after) if opts.drift_after else None
        TRAFFIC = Traffic(
            MIX, drift_after=drift_after,
            scale=float(opts.drift_scale) if opts.drift_scale else None,
            offset=parse_offsets(opts.drift_offset) if opts.drift_offset else None,
            seed=int(opts.seed) if opts.seed else None)
    except (OSError, ValueError, KeyError) as e:
        log.error("%s", e)
        sys.exit(2)
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
    if TRAFFIC is not None:
        TRAFFIC.start_clock()
    # Locust clears its stats just before this event: enter the probe made at init now,
    # so that Locust's own totals hold every request the server counted.
    if _PROBE:
        environment.events.request.fire(
            request_type="POST", name=_PROBE.pop("name"), response_time=_PROBE.pop("response_time"),
            response_length=_PROBE.pop("response_length"), exception=None, context={}, response=None)


@events.test_stop.add_listener
def _on_test_stop(environment, **_):
    host = (environment.host or ModelServerUser.host).rstrip("/")
    s = COUNTS.summary(host, dict(_WEIGHTS), TRAFFIC)
    log.info(
        "model-server load summary (every answered request, ramp-up and probe included): "
        "requests %d; 2xx %d, 4xx %d, 5xx %d; by status %s; rows predicted %d; "
        "unexpected statuses %d, transport errors %d, bad prediction bodies %d%s",
        s["requests"], s["by_class"].get("2xx", 0), s["by_class"].get("4xx", 0), s["by_class"].get("5xx", 0),
        s["by_status"], s["rows_predicted"], s["unexpected_status"], s["transport_errors"],
        s["bad_prediction_bodies"],
        "" if not s["drift"] else f"; drifted from {s['drift']['after_seconds']} s: "
                                  f"{s['drift']['drifted_requests']} requests, {s['drift']['drifted_rows']} rows",
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
