"""The Open Inference Protocol (KServe V2) endpoints, driven by the official
`tritonclient[http]` client against the release binary: a real client nobody here wrote."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from modelserver import http, served  # noqa: E402

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3]], dtype=np.float32)
FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


@pytest.fixture(scope="module")
def server():
    with served() as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    c = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield c
    c.close()


def reference(server):
    """The same rows through /predict, the server's own API."""
    status, _, text = http(server.url + "/predict", data=json.dumps({"instances": ROWS.tolist()}).encode(),
                           headers={"content-type": "application/json"})
    assert status == 200, text
    return [p["class"] for p in json.loads(text)["predictions"]]


def test_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert not client.is_model_ready("nope")
    meta = client.get_model_metadata("iris")
    assert meta["name"] == "iris"
    assert meta["inputs"][0]["shape"] == [-1, 4]
    assert meta["inputs"][0]["parameters"]["feature_names"] == FEATURES
    assert [o["name"] for o in meta["outputs"]] == ["label", "class_id"]
    assert client.get_server_metadata()["name"] == "model-server"


@pytest.mark.parametrize("binary", [False, True])
def test_one_matrix_input_json_and_binary(client, server, binary):
    tensor = httpclient.InferInput("input", list(ROWS.shape), "FP32")
    tensor.set_data_from_numpy(ROWS, binary_data=binary)
    result = client.infer("iris", [tensor], request_id="r1")
    labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label").tolist()]
    assert labels == reference(server)
    assert result.as_numpy("class_id").tolist() == [0, 2, 1]
    assert result.get_response()["id"] == "r1"


def test_one_tensor_per_feature_fp64(client, server):
    inputs = []
    for i, name in enumerate(FEATURES):
        t = httpclient.InferInput(name, [len(ROWS)], "FP64")
        t.set_data_from_numpy(ROWS[:, i].astype(np.float64), binary_data=False)
        inputs.append(t)
    outputs = [httpclient.InferRequestedOutput("label", binary_data=False)]
    result = client.infer("iris", inputs, outputs=outputs)
    assert [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label")] == reference(server)
    assert result.as_numpy("class_id") is None


def infer_error(client, inputs, model="iris"):
    with pytest.raises(InferenceServerException) as e:
        client.infer(model, inputs)
    return e.value


def test_errors_use_the_protocol_shape(client):
    wrong_cols = httpclient.InferInput("input", [1, 3], "FP32")
    wrong_cols.set_data_from_numpy(ROWS[:1, :3].copy(), binary_data=False)
    err = infer_error(client, [wrong_cols])
    assert err.status() == "400" and "expects 4 features" in err.message()

    unknown = httpclient.InferInput("petal_colour", [1], "FP32")
    unknown.set_data_from_numpy(np.array([1.0], dtype=np.float32), binary_data=False)
    err = infer_error(client, [unknown])
    assert err.status() == "400" and "petal_colour" in err.message()

    ints = httpclient.InferInput("input", [1, 4], "INT8")
    ints.set_data_from_numpy(np.array([[1, 2, 3, 4]], dtype=np.int8), binary_data=False)
    err = infer_error(client, [ints])
    assert err.status() == "400" and "FP32 or FP64" in err.message()

    ok = httpclient.InferInput("input", [1, 4], "FP32")
    ok.set_data_from_numpy(ROWS[:1], binary_data=False)
    err = infer_error(client, [ok], model="resnet")
    assert err.status() == "404" and "resnet" in err.message()


def test_route_templates_label_the_metrics_never_the_model_name(client, server):
    ok = httpclient.InferInput("input", [1, 4], "FP32")
    ok.set_data_from_numpy(ROWS[:1], binary_data=False)
    client.infer("iris", [ok])
    infer_error(client, [ok], model="not-a-model-" + "x" * 40)
    routes = {dict(labels).get("route") for (name, labels) in server.metrics() if name == "requests_total"}
    assert "/v2/models/{name}/infer" in routes
    assert not any(r and "not-a-model" in r for r in routes), routes
