"""Hostile model files against the real binary: `serve --model X` must refuse each one at
start-up with exit status 1 and exactly one stderr line naming the file, within seconds.

Forged artifacts get a recomputed checksum, as anyone editing a file can do: the checksum
detects corruption, so the structure and version checks are what must stop them.
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

# Longest a refusal may take (start-up of a refused file is milliseconds).
REFUSAL_TIMEOUT = 5


def run(server_bin, *args, env=None, timeout=REFUSAL_TIMEOUT):
    """Runs the binary to completion; a hang is a failure, not a stuck suite."""
    full_env = dict(os.environ, RUST_BACKTRACE="0", **(env or {}))
    full_env.pop("MODEL_SERVER_MODEL", None)
    started = time.monotonic()
    try:
        out = subprocess.run(
            [str(server_bin), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args} did not exit within {timeout}s")
    return out, time.monotonic() - started


def refuse(server_bin, path, expected, *extra, env=None):
    """Asserts `serve --model path` exits 1 with one stderr line naming the file."""
    out, took = run(
        server_bin, "serve", "--listen", "127.0.0.1:0", "--model", str(path), *extra, env=env
    )
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1, f"exit {out.returncode}: {out.stderr}"
    assert len(lines) == 1, f"expected one stderr line, got: {out.stderr!r}"
    line = lines[0]
    assert str(path) in line, line
    assert expected in line, line
    assert "panicked" not in line, line
    assert line.count("os error") <= 1, f"OS error repeated: {line}"
    assert took < REFUSAL_TIMEOUT, f"took {took:.1f}s"
    return line


def train(server_bin, path, algorithm="random-forest", seed=42):
    out, _ = run(
        server_bin, "train", "--algorithm", algorithm, "--seed", str(seed), "--out", str(path),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return path


@pytest.fixture(scope="module")
def artifacts(server_bin, tmp_path_factory):
    """Genuine artifacts written by `train`, keyed by a short name."""
    d = tmp_path_factory.mktemp("trained")
    return {
        "tree": train(server_bin, d / "tree.json", "decision-tree"),
        "lr": train(server_bin, d / "lr.json", "logistic-regression"),
        "forest": train(server_bin, d / "forest.json"),
        "forest7": train(server_bin, d / "forest7.json", seed=7),
    }


def body_of(path):
    return json.loads(path.read_text())["body"]


def reseal(body, path, format_version=3):
    """Writes `body` as an artifact with a checksum recomputed over its exact bytes."""
    text = json.dumps(body, separators=(",", ":"))
    checksum = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    path.write_text(
        '{"format":"model-server.iris-classifier","format_version":%s,'
        '"checksum":"%s","body":%s}' % (json.dumps(format_version), checksum, text)
    )
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- what is not a regular file, or too large ----------------------------------------


def test_fifo_is_refused_without_blocking(server_bin, tmp_path):
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    refuse(server_bin, fifo, "FIFO")


def test_dev_zero_is_refused_without_reading(server_bin):
    refuse(server_bin, "/dev/zero", "character device")


def test_directory_is_refused_with_one_message(server_bin, tmp_path):
    line = refuse(server_bin, tmp_path, "a directory, not a regular file")
    assert "Is a directory" not in line


def test_missing_file_prints_the_os_error_once(server_bin, tmp_path):
    line = refuse(server_bin, tmp_path / "absent.json", "cannot read model file")
    assert line.count("No such file or directory") == 1, line


def test_huge_sparse_file_is_refused_from_its_size(server_bin, tmp_path):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(1 << 40)  # 1 TiB on paper, nothing on disk
    refuse(server_bin, huge, "over the limit of 268435456 bytes")


def test_file_longer_than_its_stat_size_is_cut_at_the_cap(server_bin):
    # /proc files say 0 bytes and hold more, like a file that grows between stat and read.
    refuse(server_bin, "/proc/self/status", "grew past the limit of 100 bytes",
           "--max-model-size", "100")


def test_size_cap_flag_and_env(server_bin, artifacts):
    forest = artifacts["forest"]
    refuse(server_bin, forest, "over the limit of 1024 bytes", "--max-model-size", "1KiB")
    refuse(server_bin, forest, "over the limit of 2048 bytes",
           env={"MODEL_SERVER_MAX_MODEL_SIZE": "2KiB"})
    out, _ = run(server_bin, "serve", "--max-model-size", "lots")
    assert out.returncode == 2 and "--max-model-size" in out.stderr, out.stderr


# ---- forged artifacts (checksum recomputed) -------------------------------------------


def test_self_looping_tree_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["tree"])
    body["classifier"]["decision-tree"]["nodes"][0]["true_child"] = 0
    refuse(server_bin, reseal(body, tmp_path / "loop.json"),
           "node 0 of the decision tree leads back to node 0")


def test_self_looping_forest_tree_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["forest"])
    nodes = body["classifier"]["random-forest"]["trees"][17]["nodes"]
    nodes[0]["false_child"] = 0
    refuse(server_bin, reseal(body, tmp_path / "loop.json"), "tree 17 of the random forest")


def test_out_of_range_node_index_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["tree"])
    nodes = body["classifier"]["decision-tree"]["nodes"]
    nodes[0]["false_child"] = len(nodes) + 1000
    refuse(server_bin, reseal(body, tmp_path / "oob.json"), "points to node")


def test_out_of_range_split_feature_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["tree"])
    body["classifier"]["decision-tree"]["nodes"][0]["split_feature"] = 4
    refuse(server_bin, reseal(body, tmp_path / "feature.json"), "splits on feature 4")


def test_class_id_out_of_range_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["forest"])
    body["classifier"]["random-forest"]["classes"] = [0, 1, 7]
    refuse(server_bin, reseal(body, tmp_path / "class.json"), "class id 7")
    body = body_of(artifacts["lr"])
    body["class_names"] = ["setosa", "versicolor"]
    refuse(server_bin, reseal(body, tmp_path / "names.json"), "class id 2")


def test_wrong_coefficient_shape_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["lr"])
    coefficients = body["classifier"]["logistic-regression"]["coefficients"]
    coefficients["ncols"] = 3
    refuse(server_bin, reseal(body, tmp_path / "shape.json"), "coefficients matrix of 3x3")
    body = body_of(artifacts["lr"])
    body["feature_names"].append("extra")
    refuse(server_bin, reseal(body, tmp_path / "features.json"), "num_attributes is 4, expected 5")


def test_extra_body_field_is_refused(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["lr"])
    body["note"] = "added after training"
    refuse(server_bin, reseal(body, tmp_path / "extra.json"), "unknown field `note`")
    # Without resealing, the checksum over the exact bytes catches it.
    path = tmp_path / "extra-unsealed.json"
    text = artifacts["lr"].read_text()
    path.write_text(text.replace('"name": "iris"', '"name": "iris", "note": 1', 1))
    refuse(server_bin, path, "checksum")


def test_flipped_last_digit_parsing_to_the_same_float_is_refused(server_bin, artifacts, tmp_path):
    text = artifacts["lr"].read_text()
    values = json.loads(text)["body"]["classifier"]["logistic-regression"]["coefficients"]["values"]
    digits = repr(values[0])
    # One more digit far below f32 precision: the same f32 once parsed, other bytes.
    edited = text.replace(digits, digits + "1", 1)
    assert edited != text
    path = tmp_path / "digit.json"
    path.write_text(edited)
    refuse(server_bin, path, "checksum")


def test_version_mismatch_is_refused(server_bin, artifacts, tmp_path):
    forest42 = body_of(artifacts["forest"])["version"]
    for name in ("forest7", "lr"):
        body = body_of(artifacts[name])
        body["version"] = forest42
        refuse(server_bin, reseal(body, tmp_path / f"{name}.json"), f"says version {forest42}")


def test_swapped_class_names_change_the_version(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["forest"])
    body["class_names"].reverse()
    refuse(server_bin, reseal(body, tmp_path / "swapped.json"), "says version")


def test_deeply_nested_body_is_refused_without_overflowing(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["lr"])
    depth = 1_000_000
    body["training"] = "@"
    text = json.dumps(body, separators=(",", ":")).replace('"@"', "[" * depth + "]" * depth)
    path = tmp_path / "deep.json"
    path.write_text(
        '{"format":"model-server.iris-classifier","format_version":2,"checksum":"sha256:%s",'
        '"body":%s}' % (hashlib.sha256(text.encode()).hexdigest(), text)
    )
    refuse(server_bin, path, "does not match the artifact schema")


# ---- the envelope ----------------------------------------------------------------------


def test_format_version_as_a_string_is_named(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["lr"])
    line = refuse(server_bin, reseal(body, tmp_path / "string.json", "1"), '"format_version": "1"')
    assert "None" not in line


def test_format_version_1_says_how_to_retrain(server_bin, artifacts, tmp_path):
    body = body_of(artifacts["lr"])
    refuse(server_bin, reseal(body, tmp_path / "v1.json", 1), "model-server train")


# ---- control: what train writes still serves ---------------------------------------------


@pytest.mark.parametrize("name", ["tree", "lr", "forest"])
def test_genuine_artifact_serves(server_bin, artifacts, name):
    port = free_port()
    proc = subprocess.Popen(
        [str(server_bin), "serve", "--listen", f"127.0.0.1:{port}",
         "--model", str(artifacts[name])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/predict",
                    data=b'{"features":[6.7,3.0,5.2,2.3]}',
                    headers={"content-type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=2) as r:
                    body = json.loads(r.read())
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.05)
        assert body is not None, "no answer within 10s"
        assert body["predictions"][0]["class"] == "virginica", body
        assert body["model"]["version"] == body_of(artifacts[name])["version"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
