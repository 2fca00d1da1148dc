"""Finding the shared library: LIBHLS_LIBRARY, pkg-config, find_library, and the error."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict

import pytest

import libhls

PROBE = (
    "import libhls, libhls._ffi as f\n"
    "print('LOADED', f.library_path, libhls.library_version())\n"
)


def _run(env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    # -I: isolated (no user site, no cwd on sys.path); the venv's site-packages still apply.
    return subprocess.run(
        [sys.executable, "-I", "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )


def _base_env() -> Dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}


def test_explicit_path_that_does_not_exist_is_named_and_not_replaced() -> None:
    env = _base_env()
    env["LIBHLS_LIBRARY"] = "/nonexistent/libhls.so"
    env["PKG_CONFIG_PATH"] = os.environ.get("PKG_CONFIG_PATH", "")  # would work: not used
    proc = _run(env)
    assert proc.returncode != 0
    assert "LibraryNotFoundError" in proc.stderr
    assert "LIBHLS_LIBRARY=/nonexistent/libhls.so" in proc.stderr
    assert "only this path is tried" in proc.stderr


def test_nothing_found_names_everything_tried() -> None:
    env = _base_env()
    env["PKG_CONFIG_PATH"] = ""
    env["PKG_CONFIG_LIBDIR"] = "/nonexistent"
    env["LD_LIBRARY_PATH"] = ""
    proc = _run(env)
    if proc.returncode == 0:
        pytest.skip(f"a system-wide libhls is installed: {proc.stdout.strip()}")
    err = proc.stderr
    assert "LibraryNotFoundError" in err
    for tried in ("LIBHLS_LIBRARY: not set", "pkg-config --variable=libdir hls",
                  'find_library("hls")', "libhls.so.0"):
        assert tried in err, (tried, err)


def test_without_pkg_config_on_path() -> None:
    env = _base_env()
    env["PATH"] = "/nonexistent"
    env["LD_LIBRARY_PATH"] = ""
    proc = _run(env)
    if proc.returncode == 0:
        pytest.skip(f"a system-wide libhls is installed: {proc.stdout.strip()}")
    assert "pkg-config is not installed" in proc.stderr


def test_explicit_path_is_used() -> None:
    env = _base_env()
    env["LIBHLS_LIBRARY"] = os.path.realpath(libhls._ffi.library_path)
    proc = _run(env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["LOADED", env["LIBHLS_LIBRARY"], libhls.library_version()]


def test_pkg_config_is_used() -> None:
    if not os.environ.get("PKG_CONFIG_PATH"):
        pytest.skip("PKG_CONFIG_PATH is not set")
    env = _base_env()
    env["PKG_CONFIG_PATH"] = os.environ["PKG_CONFIG_PATH"]
    proc = _run(env)
    assert proc.returncode == 0, proc.stderr
    libdir = subprocess.run(
        ["pkg-config", "--variable=libdir", "hls"], env=env, capture_output=True, text=True
    ).stdout.strip()
    assert proc.stdout.split()[1] == os.path.join(libdir, "libhls.so.0")
