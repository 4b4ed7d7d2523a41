"""End to end: the stack scrapes the server, every dashboard query has data,
counts match the traffic sent, and a down server is announced on Slack,
Telegram and Discord, then resolved."""

import json
import math
import subprocess
import sys
import time
from collections import Counter

from conftest import MS, REPO, TELEGRAM_CHAT, TELEGRAM_TOKEN, alert_posts, http, wait_until

sys.path.insert(0, str(REPO / "monitoring/tests"))
import dashboard_queries  # noqa: E402

SINGLE = json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}).encode()
BATCH = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3],
                                  [5.9, 2.8, 4.3, 1.3]]}).encode()
JSON = {"content-type": "application/json"}


def test_every_target_is_up(stack):
    def both_up():
        result = stack.query("up")
        jobs = {r["metric"]["job"]: r["value"][1] for r in result}
        config = dashboard_queries.CONFIG
        return jobs if jobs.get(config["model_server_job"]) == "1" and jobs.get(config["node_job"]) == "1" else None

    wait_until("both targets up", both_up, timeout=60)


def test_counts_in_prometheus_match_the_traffic_sent(stack):
    server = stack.server
    sent = Counter()
    rows = 0

    def send(path, body=None, headers=None):
        status, _ = http(server.url(path), data=body, headers=headers or {})
        sent[str(status)] += 1
        return status

    for _ in range(40):
        assert send("/predict", SINGLE, JSON) == 200
        rows += 1
    for _ in range(10):
        assert send("/predict", BATCH, JSON) == 200
        rows += 3
    for _ in range(6):
        assert send("/predict", b'{"features":[1,2]}', JSON) == 422
    for _ in range(3):
        assert send("/predict", b"{nope", JSON) == 400
    for _ in range(4):
        assert send("/no/such/route") == 404
    for _ in range(2):
        assert send("/predict", SINGLE, {**JSON, "x-fault": "500"}) == 500
    assert send("/predict", SINGLE, {**JSON, "x-fault": "503"}) == 503

    expected = dict(sent)

    def prometheus_counts():
        result = stack.query('sum by (status) (requests_total{%s})' % MS)
        got = {r["metric"]["status"]: round(float(r["value"][1])) for r in result}
        return got if got == expected else None

    wait_until(f"Prometheus to see {expected}", prometheus_counts, timeout=30)
    predicted = stack.query('sum(predictions_total{%s})' % MS)
    assert round(float(predicted[0]["value"][1])) == rows


def test_live_scrape_passes_promtool_check_metrics(stack):
    http(stack.server.url("/predict"), data=BATCH, headers=JSON)
    http(stack.server.url("/nowhere"))
    status, text = http(stack.server.url("/metrics"))
    assert status == 200 and "requests_total{" in text, text[:500]
    check = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), (
        check.stdout + check.stderr)


def test_every_dashboard_query_returns_finite_data(stack):
    # Keep some traffic flowing so rate() windows have two samples everywhere.
    for _ in range(20):
        http(stack.server.url("/predict"), data=SINGLE, headers=JSON)
    time.sleep(4)
    # The overlay scrapes every second: a 30 s window always holds enough samples.
    queries = [(q["title"], q["expr"]) for q in
               dashboard_queries.dashboard_queries(variables={"__rate_interval": "30s"})]
    assert len(queries) >= 15, queries
    empty, broken = [], []
    for title, expr in queries:
        values = stack.values(expr)
        if not values:
            empty.append((title, expr))
        broken += [(title, expr, v) for v in values if not math.isfinite(float(v))]
    assert not empty, "queries without data:\n" + "\n".join(f"{t}: {e}" for t, e in empty)
    assert not broken, "non-finite values:\n" + "\n".join(map(str, broken))


def test_down_alert_reaches_every_receiver_and_resolves(stack, receivers):
    stack.server.stop()
    firing = wait_until(
        "ModelServerDown on Slack, Telegram and Discord",
        lambda: (lambda f: f if len(f) == 3 else None)(alert_posts(receivers, "ModelServerDown", "firing")),
        timeout=90,
    )
    # Payload shapes each service expects.
    _, slack = firing["slack"]
    assert slack["attachments"][0]["title"] and slack["attachments"][0]["text"], slack
    path, telegram = firing["telegram"]
    assert path == f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage", path
    assert str(telegram["chat_id"]) == TELEGRAM_CHAT and telegram["text"], telegram
    _, discord = firing["discord"]
    assert discord["embeds"][0]["title"] and discord["embeds"][0]["description"], discord
    for _, body in firing.values():
        assert "/d/model-server" in json.dumps(body), "no dashboard link"
        assert "runbooks.md#modelserverdown" in json.dumps(body), "no runbook link"

    stack.server.start()
    wait_until(
        "ModelServerDown resolved on Slack, Telegram and Discord",
        lambda: (lambda f: f if len(f) == 3 else None)(alert_posts(receivers, "ModelServerDown", "resolved")),
        timeout=90,
    )
