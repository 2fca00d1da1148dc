"""mypy --strict passes on the installed package (its py.typed is honoured), the example and
these tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import PY_ROOT


def test_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    for targets in (["-p", "libhls"], [str(PY_ROOT / "examples" / "serve.py"), str(PY_ROOT / "tests")]):
        proc = subprocess.run(
            mypy + targets, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
