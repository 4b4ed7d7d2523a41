#!/usr/bin/env python3
"""Records what real envsubst binaries make of each case in cases.json.

usage: tests/envsubst/record.py A8M_ENVSUBST [GNU_ENVSUBST]

A8M_ENVSUBST is a8m/envsubst, the program nixpkgs packages as `envsubst` and
the NixOS Alertmanager module runs (`envsubst -i ... -o ...`); GNU_ENVSUBST
(default: `envsubst` on PATH, Debian's gettext-base) is recorded for contrast.
Each case runs with only its own variables in the environment, the template on
standard input; the output is recorded, or null when the program exits non-zero.
`model-server render-config` is held to the `a8m` column by tests/stack.rs.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).with_name("cases.json")


def run(binary, case):
    p = subprocess.run([binary], input=case["template"], env=case["env"],
                       capture_output=True, text=True, timeout=10)
    return p.stdout if p.returncode == 0 else None


def version(binary):
    p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    first = (p.stdout or p.stderr).splitlines()
    return first[0] if p.returncode == 0 and first else "unknown"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    a8m = sys.argv[1]
    gnu = sys.argv[2] if len(sys.argv) == 3 else shutil.which("envsubst")
    data = json.loads(CASES.read_text())
    for case in data["cases"]:
        case["a8m"] = run(a8m, case)
        case["gnu"] = run(gnu, case)
    data["recorded_with"] = {"a8m": data["recorded_with"]["a8m"], "gnu": version(gnu)}
    CASES.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
