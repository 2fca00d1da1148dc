"""The ctypes declarations match include/hls.h; versions agree; the installed copy is tested."""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path
from typing import Dict, List

import pytest

import libhls
from libhls import _ffi
from support import HEADER, PY_ROOT, REPO


def _header_text() -> str:
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _prototypes() -> Dict[str, List[str]]:
    protos = {}
    for name, params in re.findall(r"\b(hls_\w+)\(([^()]*)\);", _header_text()):
        args = [p.strip() for p in params.split(",") if p.strip()]
        protos[name] = [] if args == ["void"] else args
    return protos


def test_every_header_function_is_declared_with_its_arity() -> None:
    protos = _prototypes()
    assert len(protos) >= 30, protos
    assert set(protos) == set(_ffi.SIGNATURES)
    for name, params in protos.items():
        fn = getattr(_ffi.lib, name)
        assert fn.argtypes is not None, name
        assert len(fn.argtypes) == len(params), (name, params)
        void = _header_text().split(name + "(")[0].rsplit(";", 1)[-1].split()[-1] == "void"
        assert (fn.restype is None) == void, name


def test_hlsbuffer_mirrors_the_c_struct() -> None:
    fields = re.search(r"typedef struct HlsBuffer \{(.*?)\} HlsBuffer;", _header_text(), re.S)
    assert fields is not None
    names = re.findall(r"(\w+);", fields.group(1))
    assert names == [f[0] for f in _ffi.HlsBuffer._fields_] == ["data", "len", "content_type", "_private"]
    ptr = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(_ffi.HlsBuffer) == 4 * ptr
    assert [getattr(_ffi.HlsBuffer, n).offset for n in names] == [0, ptr, 2 * ptr, 3 * ptr]


def test_enums_match_the_header() -> None:
    text = _header_text()
    statuses = dict(re.findall(r"\b(HLS_(?:OK|ERR_\w+)) = (\d+)", text))
    assert {s.c_name: str(int(s)) for s in libhls.Status} == statuses
    policies = dict(re.findall(r"\bHLS_TRANSCODE_(\w+) = (\d+)", text))
    assert {p.name: str(int(p)) for p in libhls.TranscodePolicy} == policies
    clips = dict(re.findall(r"\bHLS_CLIP_(\w+) = (\d+)", text))
    assert {p.name: str(int(p)) for p in libhls.ClipPolicy} == clips
    for s in libhls.Status:
        assert s.description.startswith(s.c_name), s.description


def test_versions_agree() -> None:
    text = HEADER.read_text()
    header_version = re.search(r'#define HLS_VERSION_STRING "([^"]+)"', text)
    assert header_version is not None
    cargo = re.search(r'^version = "([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M)
    assert cargo is not None
    assert libhls.library_version() == header_version.group(1) == cargo.group(1)
    assert libhls.__version__ == cargo.group(1)
    number = _ffi.lib.hls_version_number()
    major, minor, patch = (int(p) for p in libhls.library_version().split("."))
    assert number == major * 1_000_000 + minor * 1_000 + patch


def test_package_is_the_installed_copy() -> None:
    if os.environ.get("LIBHLS_EXPECT_INSTALLED") != "1":
        pytest.skip("LIBHLS_EXPECT_INSTALLED is not set (test.sh sets it)")
    here = Path(libhls.__file__).resolve()
    assert PY_ROOT / "src" not in here.parents, f"imported from the source tree: {here}"
    assert "site-packages" in here.parts, here
    assert (here.parent / "py.typed").is_file()
