"""Shared test support: free ports, plain HTTP calls, and the model-server binary
run as a child process (started on a free loopback port, stopped with SIGTERM).

Used by tests/adversarial, tests/protocol, tests/loadtest and bench/run (and meant for every
Python suite that needs a server)."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def server_binary(profile="release"):
    """The binary under test: $MODEL_SERVER_BIN, else target/<profile>/model-server."""
    path = Path(os.environ.get("MODEL_SERVER_BIN", REPO / "target" / profile / "model-server"))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `cargo build --{profile}` first")
    return path


def cargo_binary(package, name, profile="debug", env_var=None):
    """A workspace binary: $env_var if set, else target/<profile>/<name>, built with cargo if missing."""
    if env_var and os.environ.get(env_var):
        path = Path(os.environ[env_var])
        if not path.is_file():
            raise FileNotFoundError(f"{env_var}={path} does not exist")
        return path
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = target / profile / name
    if not path.is_file():
        cmd = ["cargo", "build", "-p", package] + (["--release"] if profile == "release" else [])
        subprocess.run(cmd, cwd=REPO, check=True, timeout=1800)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, data=None, headers=None, method=None, timeout=5):
    """(status, headers, body text) of a request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def wait_until(what, check, timeout=30, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError) as e:  # not up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class ServerProcess:
    """`model-server serve` on a free loopback port, its stderr collected in memory."""

    def __init__(self, *args, binary=None, env=None, preexec_fn=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.binary = binary or server_binary()
        command = [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}",
                   "--log-format", "json", *args]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self):
        return self.proc.pid

    def logs(self):
        """The JSON log lines parsed (lines that are not JSON are kept as {'raw': line})."""
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out

    def wait_ready(self, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.lines[-5:]}")
            return http(self.url + "/readyz", timeout=1)[0] == 200
        wait_until("the server to answer /readyz", ready, timeout=timeout)
        return self

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=40):
        """The exit status (negative for a signal), after at most `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=2)

    def stop(self, timeout=40):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def log_tail(self, lines=40):
        return "\n".join(list(self.lines)[-lines:])

    def rss_kib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def metrics(self):
        """{(name, frozenset(labels.items())): value} from /metrics, parsed by prometheus_client."""
        from prometheus_client.parser import text_string_to_metric_families

        status, _, text = http(self.url + "/metrics")
        assert status == 200, text
        samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, frozenset(s.labels.items()))] = s.value
        return samples

    def value(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.metrics().items() if n == name and want <= ls)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return False


@contextlib.contextmanager
def served(*args, **kwargs):
    """A ServerProcess started and ready for the block (say, a module-scoped fixture's
    life); afterwards it must exit 0 on SIGTERM."""
    with ServerProcess(*args, **kwargs) as s:
        s.wait_ready()
        yield s
        assert s.stop() == 0
