"""Runs the README's Python example (python/examples/readme.py) as a user would."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import INPUTS, ROOT


def test_readme_example_runs():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "python" / "examples" / "readme.py"), str(INPUTS / "photo_640x480.jpg"), str(INPUTS / "garbage.bin")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "photo_640x480.jpg: large jpeg 640x480" in proc.stdout
    assert "garbage.bin: failed with unsupported_format" in proc.stdout
