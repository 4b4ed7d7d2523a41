"""End to end: the stack outlives its model server. Killing the stack's own server
child leaves node-exporter, Prometheus and Alertmanager running; while the server
cannot come back (the test holds its port, so every restart fails), ModelServerDown
reaches the mock Slack, Telegram and Discord; once the port is free again the next
restart succeeds and the alert is resolved. Nothing here asserts a time: each step
waits for its event, under a generous ceiling."""

import os
import re
import signal
import socket
import time

import pytest

from conftest import (Stack, alert_posts, fresh_overlay, http, notification_env, running,
                      wait_until)

# The first restart waits this long: enough for the test to take the port first
# on any machine; if it does not, it kills the next server too.
FIRST_DELAY = "3s"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, receivers):
    tmp = fresh_overlay(tmp_path_factory, "restart")
    yield from running(Stack(tmp), ["--restart-delay", FIRST_DELAY, "--restart-delay-max", "6s"],
                       notification_env(receivers))


def log(stack):
    return stack.log_path.read_text()


def server_pids(stack):
    """Pids of the stack's model-server children, in start order."""
    return [int(p) for p in re.findall(r"model-server \| (?:ready after \S+|restarted) \(pid (\d+)\)",
                                       log(stack))]


def server_up(stack):
    return [r["value"][1] for r in stack.query('up{job="model-server"}')] == ["1"]


def take_port(port):
    """A listening socket on the port, or None while something else holds it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(16)
        return s
    except OSError:
        s.close()
        return None


def kill_server_and_hold_its_port(stack):
    """Kills the running server child with SIGKILL and takes its port before the
    stack's restart does; kills the restarted one again if the restart won."""
    port = stack.ports["server"]
    for _ in range(5):
        pids = server_pids(stack)
        os.kill(pids[-1], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = take_port(port)
            if held:
                return held
            if len(server_pids(stack)) > len(pids):
                break  # restarted before we got the port: kill that one too
            time.sleep(0.01)
    raise AssertionError("could not take the server's port:\n" + log(stack)[-3000:])


def test_a_killed_server_child_is_reported_down_then_resolved_after_its_restart(stack, receivers):
    wait_until("Prometheus to scrape the stack's server", lambda: server_up(stack), timeout=60)
    since = len(receivers.snapshot())
    held = kill_server_and_hold_its_port(stack)
    try:
        firing = wait_until(
            "ModelServerDown on Slack, Telegram and Discord",
            lambda: (lambda f: f if len(f) == 3 else None)(
                alert_posts(receivers, "ModelServerDown", "firing", since)),
            timeout=120)
        assert set(firing) == {"slack", "telegram", "discord"}
        # Meanwhile every restart fails on the held port, and each is logged with
        # its status, number and a wait that grows.
        wait_until("a failed restart to be logged",
                   lambda: "model-server | exited (exit code 1); restart 2 in" in log(stack),
                   timeout=60)
    finally:
        held.close()
    firing_posts = len(receivers.snapshot())
    wait_until(
        "ModelServerDown resolved on Slack, Telegram and Discord",
        lambda: (lambda f: f if len(f) == 3 else None)(
            alert_posts(receivers, "ModelServerDown", "resolved", firing_posts)),
        timeout=120)
    text = log(stack)
    assert "model-server | exited (killed by signal 9); restart 1 in 3s" in text, text[-3000:]
    # The rest of the stack never stopped.
    for name in ("node-exporter", "prometheus", "alertmanager"):
        assert f"{name} | exited" not in text, text[-3000:]
        assert f"{name} | stopping" not in text, text[-3000:]
    # The restarted server serves.
    assert http(f"http://127.0.0.1:{stack.ports['server']}/readyz")[0] == 200
    assert stack.proc.poll() is None
