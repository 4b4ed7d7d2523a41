"""`model-server train --data`: bad tables are one line on stderr and exit 1, never a panic
and never a model file; good tables train, and what they train serves."""

import json
import subprocess

import pytest

from modelserver import REPO, ServerProcess, http

MACHINES = REPO / "examples" / "data" / "machines.csv"
ENERGY = REPO / "examples" / "data" / "energy.csv"


def train(server_bin, *args, timeout=120):
    return subprocess.run([str(server_bin), "train", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def numbered(n, target=lambda i: i % 2):
    return "a,b,y\n" + "".join(f"{i},{(i * 7) % 5},{target(i)}\n" for i in range(n))


# (name, CSV text or bytes, extra arguments, what the one stderr line must say)
BAD = [
    ("missing-target", "a,b,label\n1,2,x\n", [],
     'no column is named "y"; the columns are "a", "b", "label"'),
    ("non-numeric", "a,b,y\n1,2,p\n3,4,q\n5,six,p\n", [],
     'row 3 (line 4), column "b": "six" is not a number'),
    ("empty-cell", "a,b,y\n1,2,p\n3,,q\n", [], 'row 2 (line 3), column "b": the cell is empty'),
    ("empty", "", [], "is empty"),
    ("blank", "\n\n  \n", [], "is empty"),
    ("header-only", "a,b,y\n", [], "0 data rows; training needs at least 10"),
    ("few-rows", numbered(9), [], "9 data rows; training needs at least 10"),
    ("single-class", numbered(20, lambda i: "same"), [], 'single class, "same"'),
    ("nan", "a,b,y\n1,2,p\n3,NaN,q\n", [], 'column "b": "NaN" is not a finite number'),
    ("inf", "a,b,y\n1,inf,p\n", [], '"inf" is not a finite number'),
    ("too-large", "a,b,y\n1,3e40,p\n", [], "too large for the model's 32-bit features"),
    ("ragged", "a,b,y\n1,2,p\n3,4\n", [], "line 3: 2 fields, but the header has 3"),
    ("not-utf8", b"a,b,y\n1,2,\xff\xfe\n", [], "line 2: not valid UTF-8"),
    ("duplicate-column", "a,a,y\n1,2,p\n", [], 'names column "a" twice'),
    ("no-features", "name,y\nx,p\n", [], "no numeric column besides the target"),
    ("constant-target", numbered(20, lambda i: "1.5"), [], "is 1.5 on every row"),
    ("text-regression", numbered(20, lambda i: "x"), ["--task", "regression"],
     '"x" is not a number, and regression needs a numeric target'),
    ("wrong-algorithm", numbered(20), ["--algorithm", "linear-regression"],
     "--algorithm linear-regression does not do classification"),
    ("split-too-small", numbered(10), ["--test-size", "0.05"], "leave 10 to train on and 0"),
    ("bad-name", numbered(20), ["--name", "a/b"], "is not usable in URLs"),
]


@pytest.mark.parametrize("name,data,extra,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_tables_are_one_line_and_exit_1(server_bin, tmp_path, name, data, extra, expected):
    csv = tmp_path / f"{name}.csv"
    if isinstance(data, bytes):
        csv.write_bytes(data)
    else:
        csv.write_text(data)
    out = tmp_path / "model.json"
    r = train(server_bin, "--data", csv, "--target", "y", "--out", out, *extra)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), lines
    assert expected in lines[0], lines[0]
    assert "panicked" not in r.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [csv], "a temporary or partial file was left behind"


def test_a_missing_file_is_named(server_bin, tmp_path):
    r = train(server_bin, "--data", tmp_path / "absent.csv", "--target", "y",
              "--out", tmp_path / "m.json")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1, r.stderr
    assert "cannot read" in r.stderr and "absent.csv" in r.stderr, r.stderr


def test_target_and_data_go_together(server_bin, tmp_path):
    r = train(server_bin, "--target", "y", "--out", tmp_path / "m.json")
    assert r.returncode == 2, r.stderr
    assert "--data" in r.stderr


def test_the_example_tables_train_and_serve(server_bin, tmp_path):
    machines = tmp_path / "machines.json"
    r = train(server_bin, "--data", MACHINES, "--target", "condition", "--out", machines)
    assert r.returncode == 0, r.stderr
    assert "ignored text columns (no cell is a number): machine_id" in r.stdout, r.stdout
    assert "3 classes: failing, healthy, worn" in r.stdout, r.stdout
    assert "accuracy" in r.stdout
    # Deterministic: the same seed writes the same bytes.
    again = tmp_path / "again.json"
    assert train(server_bin, "--data", MACHINES, "--target", "condition",
                 "--out", again).returncode == 0
    assert again.read_bytes() == machines.read_bytes()

    energy = tmp_path / "energy.json"
    r = train(server_bin, "--data", ENERGY, "--target", "load_kw", "--algorithm",
              "linear-regression", "--out", energy)
    assert r.returncode == 0, r.stderr
    assert "task: regression" in r.stdout and "RMSE" in r.stdout and "R²" in r.stdout, r.stdout

    with ServerProcess("--model", str(energy)) as server:
        server.wait_ready()
        row = {"outdoor_temp_c": 20, "humidity_pct": 40, "hour": 12, "occupancy": 100,
               "floor_area_m2": 800}
        status, _, text = http(server.url + "/predict", json.dumps({"features": row}).encode(),
                               {"content-type": "application/json"})
        assert status == 200, text
        predictions = json.loads(text)["predictions"]
        assert list(predictions[0]) == ["value"], text
        status, _, text = http(server.url + "/")
        about = json.loads(text)["model"]
        assert about["task"] == "regression" and "classes" not in about, about
        assert about["training"]["target"] == "load_kw"
        assert server.value("prediction_value_count") == 1
        # The histogram's buckets (training prediction deciles) pass promtool's lint.
        _, _, scrape = http(server.url + "/metrics")
        lint = subprocess.run(["promtool", "check", "metrics"], input=scrape,
                              capture_output=True, text=True)
        assert (lint.returncode, lint.stdout, lint.stderr) == (0, "", ""), lint
        assert "prediction_value_bucket" in scrape
        assert server.stop() == 0

    with ServerProcess("--model", str(machines)) as server:
        server.wait_ready()
        row = {"temperature_c": 75, "vibration_mm_s": 8.1, "pressure_kpa": 360, "rpm": 1420,
               "current_a": 14.2, "age_days": 1200}
        status, _, text = http(server.url + "/predict", json.dumps({"instances": [row]}).encode(),
                               {"content-type": "application/json"})
        assert status == 200, text
        assert json.loads(text)["predictions"] == [{"class": "failing", "class_id": 0}]
        assert server.value("predictions_total", **{"class": "failing"}) == 1
        assert server.stop() == 0


def test_a_format_2_file_still_serves(server_bin):
    """Written by the last build of format 2: it loads, under the version it had."""
    old = REPO / "tests" / "data" / "format2-logistic-regression.json"
    assert json.loads(old.read_text())["format_version"] == 2
    with ServerProcess("--model", str(old)) as server:
        server.wait_ready()
        about = json.loads(http(server.url + "/")[2])["model"]
        assert about["version"] == "750ecca1f0a5"
        assert about["task"] == "classification"
        assert about["classes"] == ["setosa", "versicolor", "virginica"]
        assert server.stop() == 0


def test_a_regressor_answers_tritonclient(server_bin, tmp_path):
    """The official V2 client against a regressor of energy.csv: metadata, then one FP32
    [N, F] tensor (binary, the client's default) and one [N] tensor per feature, both
    answered `value` FP64 equal to /predict's."""
    import numpy as np
    import tritonclient.http as httpclient

    model = tmp_path / "energy.json"
    trained = train(server_bin, "--data", ENERGY, "--target", "load_kw", "--out", model)
    assert trained.returncode == 0, trained.stderr
    rows = np.array([[-5, 50, 10, 120, 1200], [30, 80, 14, 150, 2500]], dtype=np.float32)
    with ServerProcess("--model", str(model)) as server:
        server.wait_ready()
        status, _, text = http(server.url + "/predict",
                               json.dumps({"instances": rows.tolist()}).encode(),
                               {"content-type": "application/json"})
        assert status == 200, text
        expected = [p["value"] for p in json.loads(text)["predictions"]]
        client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
        try:
            meta = client.get_model_metadata("energy")
            assert meta["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [-1]}]
            names = meta["inputs"][0]["parameters"]["feature_names"]
            assert names[0] == "outdoor_temp_c" and len(names) == 5

            whole = httpclient.InferInput("input", list(rows.shape), "FP32")
            whole.set_data_from_numpy(rows)
            result = client.infer("energy", [whole])
            assert result.as_numpy("value").dtype == np.float64
            assert result.as_numpy("value").tolist() == expected
            assert result.as_numpy("label") is None

            per_feature = []
            for j, name in enumerate(names):
                tensor = httpclient.InferInput(name, [len(rows)], "FP32")
                tensor.set_data_from_numpy(rows[:, j].copy(), binary_data=False)
                per_feature.append(tensor)
            result = client.infer("energy", per_feature)
            assert result.as_numpy("value").tolist() == expected
        finally:
            client.close()
        assert server.stop() == 0
