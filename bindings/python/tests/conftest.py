from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

import libhls
from support import MEDIA


def pytest_report_header() -> str:
    return (
        f"libhls {libhls.__version__} from {Path(libhls.__file__).parent}; "
        f"library {libhls.library_version()} at {libhls._ffi.library_path}; media {MEDIA}"
    )


@pytest.fixture
def ctx() -> Iterator[libhls.Context]:
    with libhls.Context() as c:
        yield c


@pytest.fixture
def media(ctx: libhls.Context) -> Iterator[libhls.Media]:
    with ctx.open(MEDIA / "h264_aac.mp4") as m:
        yield m
