"""Shared fixtures of the adversarial suite: it runs the real release binary.

The server helpers live in tests/support/modelserver.py (shared by every Python
suite); raw-socket clients in rawhttp.py beside this file."""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "support"))
sys.path.insert(0, str(HERE))

from modelserver import server_binary  # noqa: E402


@pytest.fixture(scope="session")
def server_bin():
    """Path of the model-server binary: $MODEL_SERVER_BIN, else target/release/model-server."""
    try:
        return server_binary()
    except FileNotFoundError as e:
        pytest.fail(str(e))
