"""The promtool unit tests of the rules, one module per file of
monitoring/prometheus/tests/: `tests(t)` returns the test cases, written with the
helpers of `mixin.promtool.Suite` (`t`). Every alert must fire in one case and stay
quiet in another, and every recording rule must be checked by an expression
(monitoring/tests/test_prometheus_rules.py)."""
from . import anomalies, drift, model_server, node, recording, replicas

FILES = {
    "anomalies": anomalies,
    "drift": drift,
    "model-server": model_server,
    "node": node,
    "recording": recording,
    "replicas": replicas,
}
