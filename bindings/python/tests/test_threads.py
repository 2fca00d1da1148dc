"""Eight threads crawl whole presentations at once: the bytes equal a sequential crawl's; and
FFmpeg decodes a crawl written to a folder."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import libhls
from support import CRAWLED, MEDIA, crawl, digests

THREADS = 8


@pytest.fixture(scope="module")
def reference() -> Dict[str, Dict[str, str]]:
    """Sequential crawl of every file, with a Context of its own (nothing shared)."""
    out = {}
    with libhls.Context() as ctx:
        for name in CRAWLED:
            with ctx.open(MEDIA / name) as media:
                out[name] = digests(crawl(media.get_bytes))
    return out


@pytest.mark.parametrize("cache_bytes", [None, 2 << 20], ids=["default-cache", "2MiB-cache"])
def test_concurrent_crawls_equal_the_sequential_one(
    reference: Dict[str, Dict[str, str]], cache_bytes: int
) -> None:
    options = {} if cache_bytes is None else {"cache_bytes": cache_bytes}
    with libhls.Context(**options) as ctx:  # type: ignore[arg-type]
        # Even threads share one Media per file; odd threads open their own.
        shared = {name: ctx.open(MEDIA / name) for name in CRAWLED}
        results: List[Tuple[int, str, Dict[str, str]]] = []
        errors: List[BaseException] = []
        start = threading.Barrier(THREADS)

        def work(i: int) -> None:
            try:
                start.wait()
                order = CRAWLED[i % len(CRAWLED) :] + CRAWLED[: i % len(CRAWLED)]
                if i % 3 == 2:
                    order.reverse()
                for name in order:
                    if i % 2 == 0:
                        got = crawl(shared[name].get_bytes)
                    else:
                        with ctx.open(MEDIA / name) as media:
                            got = crawl(media.get_bytes)
                    results.append((i, name, digests(got)))
            except BaseException as exc:  # reported below, with the thread's traceback
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for media in shared.values():
            media.close()
        if errors:
            raise errors[0]
        assert len(results) == THREADS * len(CRAWLED)
        for i, name, got in results:
            assert got == reference[name], f"thread {i}: {name} differs from the sequential crawl"
        stats = ctx.stats
        assert stats["indexings"] <= 2 * len(CRAWLED), stats  # concurrent opens index once


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
@pytest.mark.parametrize("name", ["h264_aac.mp4", "multi_audio.mkv", "subs.mp4", "dts.mkv"])
def test_ffmpeg_decodes_a_crawl(tmp_path: Path, name: str) -> None:
    with libhls.Context() as ctx, ctx.open(MEDIA / name) as media:
        files = crawl(media.get_bytes)
    for rel, data in files.items():
        (tmp_path / rel).write_bytes(data)
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-nostats", "-allowed_extensions", "ALL",
         "-i", "master.m3u8", "-map", "0", "-f", "null", "-progress", "pipe:1", "-"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr
    out_us = [int(v) for k, _, v in (l.partition("=") for l in proc.stdout.splitlines())
              if k == "out_time_us" and v.strip().lstrip("-").isdigit()]
    assert out_us and out_us[-1] > 0, proc.stdout[-500:]
