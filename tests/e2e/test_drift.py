"""End to end: inputs that drift away from the training data raise the PSI of
their features above 0.2 in a real Prometheus, and ModelServerInputDrift reaches
the mock Slack and Discord receivers (warnings go to those two; Telegram gets the
critical alerts only)."""

import json
import random

from conftest import MS, http, wait_until

JSON = {"content-type": "application/json"}
# Rows like the training data (Iris), and the same rows with every feature scaled
# by 1.6: most values land in the top bins or above the training maximum.
IRIS = [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3],
        [6.3, 3.3, 6.0, 2.5], [5.5, 2.4, 3.8, 1.1], [5.0, 3.4, 1.5, 0.2], [6.4, 2.8, 5.6, 2.1]]


def send(stack, rows):
    body = json.dumps({"instances": rows}).encode()
    status, text = http(stack.server.url("/predict"), data=body, headers=JSON)
    assert status == 200, text


def drift_posts(receivers):
    found = {}
    for path, body in receivers.snapshot():
        text = json.dumps(body)
        if "ModelServerInputDrift" in text and "[FIRING" in text:
            found.setdefault(path.split("/")[1], body)
    return found


def test_shifted_inputs_raise_psi_and_the_drift_alert_reaches_the_receivers(stack, receivers):
    # Counters must be seen before the traffic: a series whose first sample already
    # holds every count has no increase.
    wait_until("Prometheus to scrape the input counters",
               lambda: len(stack.query('model_input_values_total{%s, bin="above_max"}' % MS)) == 4,
               timeout=60)
    rng = random.Random(7)
    for _ in range(20):  # 160 rows like the training data
        send(stack, IRIS)
    for _ in range(60):  # then 480 drifted rows
        send(stack, [[round(v * 1.6 * rng.uniform(0.97, 1.03), 2) for v in row] for row in IRIS])

    seen = {}

    def psi():
        result = stack.query('feature:model_input_psi:30m{%s}' % MS)
        seen["psi"] = values = {s["metric"]["feature"]: float(s["value"][1]) for s in result}
        return values if len(values) == 4 and min(values.values()) > 0.2 else None

    try:
        values = wait_until("the PSI of every feature above 0.2", psi, timeout=60)
    except AssertionError as e:
        raise AssertionError(f"{e}; seen {seen}") from None
    print("PSI per feature:", values)
    # The served-vs-training panel's query for one feature: shares over bins sum to 1,
    # and a good part of it is above the training maximum.
    shares = {s["metric"]["bin"]: float(s["value"][1]) for s in stack.query(
        ('sum by (bin) (increase(model_input_values_total{%(ms)s, feature="petal_length_cm"}[15m]))'
         ' / ignoring (bin) group_left '
         'sum(increase(model_input_values_total{%(ms)s, feature="petal_length_cm"}[15m]))') % {"ms": MS})}
    assert abs(sum(shares.values()) - 1) < 1e-6, shares
    assert shares["above_max"] > 0.2, shares

    posts = wait_until("ModelServerInputDrift on Slack and Discord",
                       lambda: (lambda f: f if {"slack", "discord"} <= f.keys() else None)(drift_posts(receivers)),
                       timeout=90)
    assert "PSI" in json.dumps(posts["slack"]), posts["slack"]
