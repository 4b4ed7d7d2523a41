"""Fixtures of the end-to-end tests: a model server and `model-server stack`
(node-exporter, Prometheus, Alertmanager) on free loopback ports, with a test
overlay of the repo's configs that only shortens intervals."""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from mock_receivers import Receivers  # noqa: E402
import modelserver  # noqa: E402
from modelserver import free_port  # noqa: E402,F401  (re-exported to the e2e tests)

REPO = Path(__file__).resolve().parents[2]
# The model server's job, as the monitoring mixin names it (monitoring/mixin/config.py).
MS = 'job="%s"' % json.loads((REPO / "monitoring" / "config.json").read_text())["model_server_job"]
BIN = Path(os.environ.get("MODEL_SERVER_BIN", REPO / "target/debug/model-server"))
TELEGRAM_TOKEN = "123456:test-token"
TELEGRAM_CHAT = "4242"


def http(url, data=None, headers=None, timeout=5):
    """(status, body text) of a request; HTTP errors are returned, not raised."""
    status, _, text = modelserver.http(url, data=data, headers=headers, timeout=timeout)
    return status, text


def wait_until(what, check, timeout=60, interval=0.5):
    """The shared wait, with the e2e's longer defaults (a stack is slower than a server)."""
    return modelserver.wait_until(what, check, timeout=timeout, interval=interval)


def make_overlay(dest):
    """Copies monitoring/ and dashboards/, shortening only intervals and `for:`."""
    shutil.copytree(REPO / "monitoring", dest / "monitoring")
    shutil.copytree(REPO / "dashboards", dest / "dashboards")
    prom = dest / "monitoring/prometheus/prometheus.yml"
    text = prom.read_text()
    text = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", text)
    text = re.sub(r"scrape_timeout: \S+", "scrape_timeout: 1s", text)
    text = re.sub(r"evaluation_interval: \S+", "evaluation_interval: 1s", text)
    text = re.sub(r"refresh_interval: \S+", "refresh_interval: 5s", text)
    prom.write_text(text)
    for rules in (dest / "monitoring/prometheus/rules").glob("*.yml"):
        rules.write_text(re.sub(r"(\n\s+for:) \S+", r"\1 5s", rules.read_text()))
    am = dest / "monitoring/alertmanager/alertmanager.yml"
    text = am.read_text()
    text = re.sub(r"group_wait: \S+", "group_wait: 1s", text)
    text = re.sub(r"group_interval: \S+", "group_interval: 2s", text)
    am.write_text(text)


class Server:
    """The model server, run on its own so a test can stop and restart it."""

    def __init__(self, port, log):
        self.port = port
        self.log = log
        self.proc = None
        self.extra_args = []  # e.g. ["--model", path] before a restart

    def start(self):
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--enable-faults",
             "--log-level", "warn", *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_until("the model server", lambda: http(self.url("/readyz"))[0] == 200, timeout=30)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


def free_port_range(n, attempts=50):
    """The first of `n` consecutive loopback ports that were all free a moment ago."""
    for _ in range(attempts):
        base = random.randint(20000, 60000 - n)
        sockets = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError(f"no {n} consecutive free ports found")


class Stack:
    def __init__(self, tmp, replicas=1):
        self.tmp = tmp
        self.replicas = replicas
        self.ports = {"server": free_port_range(replicas)}
        server_ports = range(self.ports["server"], self.ports["server"] + replicas)
        for name in ("node-exporter", "prometheus", "alertmanager", "grafana"):
            port = free_port()
            while port in server_ports:
                port = free_port()
            self.ports[name] = port
        self.log_path = tmp / "stack.log"
        # The data dir flags; [] runs on the default (per-user) data dir.
        self.data_args = ["--data-dir", str(tmp / "data")]
        self.proc = None

    def server_ports(self):
        return [self.ports["server"] + i for i in range(self.replicas)]

    def start(self, extra_args=(), env=None):
        """Starts `model-server stack` on the overlay in tmp/config and waits for its URL table."""
        log = open(self.log_path, "w")
        args = [str(BIN), "stack", "--config-dir", str(self.tmp / "config"),
                *self.data_args, *extra_args]
        for name, port in self.ports.items():
            args += [f"--{name}-port", str(port)]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     env=env if env is not None else dict(os.environ))
        wait_until("the stack to print its URL table",
                   lambda: "Ctrl-C stops everything" in self.log_path.read_text()
                   or self.proc.poll() is not None, timeout=120)
        assert self.proc.poll() is None, "the stack exited:\n" + self.log_path.read_text()[-4000:]

    def stop(self):
        """Stops the stack with Ctrl-C; returns its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            return self.proc.wait(timeout=60)
        return self.proc.returncode

    def prometheus(self, path):
        return f"http://127.0.0.1:{self.ports['prometheus']}{path}"

    def query(self, expr):
        url = self.prometheus("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        status, body = http(url)
        import json
        payload = json.loads(body)
        assert status == 200 and payload["status"] == "success", f"{expr}: {body}"
        return payload["data"]["result"]

    def query_api(self, path):
        """The `data` of a Prometheus API answer."""
        import json
        status, body = http(self.prometheus(path))
        payload = json.loads(body)
        assert status == 200 and payload["status"] == "success", f"{path}: {body[:2000]}"
        return payload["data"]

    def values(self, expr):
        """Every sample value of an instant query, whatever its result type."""
        url = self.prometheus("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        status, body = http(url)
        import json
        payload = json.loads(body)
        assert status == 200 and payload["status"] == "success", f"{expr}: {body}"
        data = payload["data"]
        if data["resultType"] in ("scalar", "string"):
            return [data["result"][1]]
        return [series["value"][1] for series in data["result"]]


def notification_env(receivers):
    """The environment with Slack, Discord and Telegram pointed at the mock receivers."""
    env = dict(os.environ)
    env.update({
        "SLACK_WEBHOOK_URL": receivers.url("/slack"),
        "DISCORD_WEBHOOK_URL": receivers.url("/discord"),
        "TELEGRAM_API_URL": receivers.url("/telegram"),
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_CHAT_ID": TELEGRAM_CHAT,
    })
    return env


def alert_posts(receivers, alertname, status, since=0):
    """Notifications about `alertname` in `status` ("firing" or "resolved") among the
    receivers' posts from number `since` on: {service: (path, body)}, the first of each."""
    found = {}
    for path, body in receivers.snapshot()[since:]:
        text = json.dumps(body)
        if alertname not in text:
            continue
        service = path.split("/")[1]
        if service not in ("slack", "discord", "telegram"):
            continue
        # Titles read "[FIRING:1] ModelServerDown ..." or "[RESOLVED] ModelServerDown ...".
        if f"[{status.upper()}" in text:
            found.setdefault(service, (path, body))
    return found


@pytest.fixture(scope="module")
def receivers():
    with Receivers() as r:
        yield r


def fresh_overlay(tmp_path_factory, name):
    """A new temporary folder holding the test overlay in config/."""
    assert BIN.is_file(), f"{BIN} is missing: run `cargo build` first"
    tmp = tmp_path_factory.mktemp(name)
    make_overlay(tmp / "config")
    return tmp


@pytest.fixture(scope="module")
def stack(tmp_path_factory, receivers):
    tmp = fresh_overlay(tmp_path_factory, "e2e")
    s = Stack(tmp)
    server_log = open(tmp / "server.log", "w")
    s.server = Server(s.ports["server"], server_log)
    s.server.start()
    try:
        yield from running(s, ["--no-server"], notification_env(receivers))
    finally:
        if s.server.proc.poll() is None:
            s.server.stop()


def running(stack, args, env=None):
    """Yields `stack` started with `args`; then stops it, prints its log's tail and
    checks that it exited cleanly (for module fixtures: `yield from running(...)`)."""
    try:
        stack.start(args, env)
        yield stack
    finally:
        code = stack.stop()
        print(stack.log_path.read_text()[-3000:])
        assert code == 0, f"stack exit code {code}"
