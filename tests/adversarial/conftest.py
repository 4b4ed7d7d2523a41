"""Shared fixtures of the adversarial suite: it runs the real release binary."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def server_bin():
    """Path of the model-server binary: target/release/model-server if it was built
    (`cargo build --release`), else $MODEL_SERVER_BIN."""
    release = REPO / "target" / "release" / "model-server"
    if release.is_file():
        return release
    env = os.environ.get("MODEL_SERVER_BIN")
    if env and Path(env).is_file():
        return Path(env)
    pytest.fail("no binary: run `cargo build --release` or set MODEL_SERVER_BIN")
