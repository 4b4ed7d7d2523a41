"""The Python baseline for bench/run: the same POST /predict contract and the same
metrics as model-server, the way it is usually built with FastAPI.

- Model: scikit-learn RandomForestClassifier(n_estimators=100, random_state=42) on
  sklearn's bundled Iris, trained at start-up on an 80/20 split (seed 42), like
  model-server's embedded default.
- Metrics (prometheus-fastapi-instrumentator + prometheus_client):
  requests_total{handler,method,status}, requests_duration_seconds{...} (the same
  buckets), request_in_progress{handler,method}, predictions_total{class},
  inference_duration_seconds, model_info. /metrics, /healthz, /readyz are not counted.
  With several uvicorn workers set PROMETHEUS_MULTIPROC_DIR (bench/run does) so
  /metrics aggregates all workers, as a real deployment must.
- /predict is a plain `def`: FastAPI runs it in its thread pool, as its docs advise
  for blocking (CPU) work.

Run: uvicorn app:app --app-dir bench/baseline --workers N --no-access-log
"""

import hashlib
import os
import pickle
import time
from typing import List, Optional

import numpy as np
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge, Histogram
from prometheus_fastapi_instrumentator import Instrumentator, metrics
from pydantic import BaseModel, ConfigDict
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

DURATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INFERENCE_BUCKETS = (0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001,
                     0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
MAX_BATCH = 1024

iris = load_iris()
x_train, x_test, y_train, y_test = train_test_split(
    iris.data, iris.target, test_size=0.2, random_state=42)
model = RandomForestClassifier(n_estimators=100, random_state=42).fit(x_train, y_train)
CLASSES = [str(c) for c in iris.target_names]
MODEL_NAME = "iris"
MODEL_VERSION = hashlib.sha256(pickle.dumps(model)).hexdigest()[:12]
N_FEATURES = x_train.shape[1]

multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
PREDICTIONS = Counter("predictions", "Total of all predicted class, one per predicted row", ["class"])
INFERENCE = Histogram("inference_duration_seconds", "Time spent in the model's predict call, in seconds",
                      buckets=INFERENCE_BUCKETS)
MODEL_INFO = Gauge("model_info", "The served model: always 1, identified by its labels",
                   ["name", "version", "algorithm"],
                   **({"multiprocess_mode": "max"} if multiprocess else {}))
MODEL_INFO.labels(MODEL_NAME, MODEL_VERSION, "random-forest").set(1)

app = FastAPI(title="model-server baseline", openapi_url=None, docs_url=None, redoc_url=None)

instrumentator = Instrumentator(
    should_group_status_codes=False,
    should_ignore_untemplated=False,
    should_group_untemplated=True,
    should_instrument_requests_inprogress=True,
    inprogress_name="request_in_progress",
    inprogress_labels=True,
    excluded_handlers=["/metrics", "/healthz", "/readyz"],
)
instrumentator.add(metrics.requests(metric_name="requests", metric_doc="Total HTTP requests"))
instrumentator.add(metrics.latency(metric_name="requests_duration_seconds",
                                   metric_doc="HTTP request duration, in seconds",
                                   buckets=DURATION_BUCKETS))
instrumentator.instrument(app).expose(app, include_in_schema=False, should_gzip=False)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: Optional[List[float]] = None
    instances: Optional[List[List[float]]] = None


def error(status, code, message):
    return JSONResponse({"error": code, "message": message}, status_code=status)


@app.post("/predict")
def predict(body: PredictRequest):
    if body.features is not None and body.instances is not None:
        return error(422, "ambiguous_input", "give `features` or `instances`, not both")
    rows = [body.features] if body.features is not None else body.instances
    if rows is None:
        return error(422, "invalid_body", "missing field `features` or `instances`")
    if not rows:
        return error(422, "empty_batch", "`instances` is empty")
    if len(rows) > MAX_BATCH:
        return error(422, "batch_too_large", f"at most {MAX_BATCH} rows")
    for r, row in enumerate(rows):
        if len(row) != N_FEATURES:
            return error(422, "wrong_feature_count", f"row {r}: expected {N_FEATURES} features, got {len(row)}")
    x = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(x).all():
        return error(422, "non_finite_feature", "features must be finite")
    started = time.perf_counter()
    ids = model.predict(x)
    INFERENCE.observe(time.perf_counter() - started)
    predictions = []
    for class_id in ids.tolist():
        name = CLASSES[class_id]
        PREDICTIONS.labels(name).inc()
        predictions.append({"class": name, "class_id": class_id})
    return {"predictions": predictions, "model": {"name": MODEL_NAME, "version": MODEL_VERSION}}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/readyz")
def readyz():
    return {"status": "ready"}
