import os
import subprocess
import sysconfig

import pytest
import yaml

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def rendered():
    """The objects of overlays/example, as `kubectl kustomize` renders them."""
    # deploy/kubernetes/check passes the wheel's kubectl
    kubectl = os.environ.get("KUBECTL") or os.path.join(sysconfig.get_path("scripts"), "kubectl")
    out = subprocess.run([kubectl, "kustomize", os.path.join(HERE, "overlays", "example")],
                         check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]
