"""Media read through a caller-supplied source: a read_at object, a file-like object, and an
HTTP store (a tiny stdlib server with Range, ETag and If-Match): the same bytes as from the
path, few reads, clear errors when the store fails, a new ETag a new presentation."""

from __future__ import annotations

import email.utils
import http.server
import io
import os
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

import libhls
from support import MEDIA, crawl, digests

FILES = ["h264_aac.mp4", "h264_aac.mkv", "h264_aac.ts", "audio_only.mp3", "subs.mp4"]


class Store(http.server.ThreadingHTTPServer):
    """A loopback object store over a folder: HEAD/GET, single ranges (206), ETag, If-Match."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests = 0
        self.connections = 0
        self.failing = False
        self.etag_salt = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: Store

    def log_message(self, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _reply(self, code: int, headers: List[Tuple[str, str]], body: bytes, head: bool) -> None:
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        with self.server.lock:
            self.server.requests += 1
        if self.server.failing:
            return self._reply(503, [], b"store down (test)", head)
        path = self.server.root / self.path.lstrip("/")
        if ".." in self.path or not path.is_file():
            return self._reply(404, [], b"not found", head)
        st = path.stat()
        etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}-{self.server.etag_salt}"'
        meta = [("ETag", etag), ("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)),
                ("Accept-Ranges", "bytes")]
        if self.headers.get("If-Match") not in (None, etag):
            return self._reply(412, meta, b"", head)
        rng = self.headers.get("Range")
        if head or rng is None:
            if head:
                self.send_response(200)
                for k, v in meta:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(st.st_size))
                self.end_headers()
                return None
            return self._reply(200, meta, path.read_bytes(), head)
        lo, hi = rng.removeprefix("bytes=").split("-")
        start, end = int(lo), min(int(hi), st.st_size - 1)
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        meta.append(("Content-Range", f"bytes {start}-{end}/{st.st_size}"))
        return self._reply(206, meta, body, head)

    def do_GET(self) -> None:
        self._serve(False)

    def do_HEAD(self) -> None:
        self._serve(True)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(MEDIA)
    t = threading.Thread(target=s.serve_forever, daemon=True)
    t.start()
    yield s
    s.shutdown()
    s.server_close()


class Counting:
    """A read_at/size reader over a local file that counts its reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.reads = 0
        self.fd = os.open(path, os.O_RDONLY)

    def read_at(self, offset: int, size: int) -> bytes:
        self.reads += 1
        return os.pread(self.fd, size, offset)


def local_digests(ctx: libhls.Context, name: str) -> Dict[str, str]:
    with ctx.open(MEDIA / name) as m:
        return digests(crawl(m.get_bytes))


@pytest.mark.parametrize("name", FILES)
def test_a_read_at_source_gives_the_same_bytes_as_the_path(ctx: libhls.Context, name: str) -> None:
    src = Counting(MEDIA / name)
    with ctx.open_source(src, identity=f"counting://{name}") as m:
        got = digests(crawl(m.get_bytes))
        info = m.info
    assert got == local_digests(ctx, name)
    assert len(got) > 4
    assert info["source"]["open_reads"] >= 1
    if name == "h264_aac.mp4":
        assert info["source"]["open_reads"] <= 3, info["source"]


def test_a_source_is_read_about_once_with_the_block_cache_and_more_without() -> None:
    # MPEG-TS goes through FFmpeg's demuxer, which seeks back and reads forward for every segment.
    name = "h264_aac.ts"
    size = (MEDIA / name).stat().st_size
    read = {}
    for budget in (0, 64 << 20):
        with libhls.Context(source_cache_bytes=budget) as ctx:
            src = Counting(MEDIA / name)
            with ctx.open_source(src, identity=f"counting://{name}") as m:
                assert digests(crawl(m.get_bytes)) == local_digests(ctx, name)
            stats = ctx.stats
            read[budget] = stats["source_bytes"]
            assert stats["source_cache_budget"] == budget
            assert (stats["source_cache_hit_bytes"] > 0) == (budget > 0), stats
    print(f"{name} ({size} bytes): {read[0]} bytes read without the block cache, {read[64 << 20]} with it")
    assert read[64 << 20] <= size * 11 // 10 < read[0], read


def test_a_file_like_source_gives_the_same_bytes_as_the_path(ctx: libhls.Context) -> None:
    data = (MEDIA / "h264_aac.mkv").read_bytes()
    with ctx.open_source(io.BytesIO(data), identity="bytesio://h264_aac.mkv") as m:
        assert digests(crawl(m.get_bytes)) == local_digests(ctx, "h264_aac.mkv")


@pytest.mark.parametrize("name", FILES)
def test_an_http_store_gives_the_same_bytes_over_kept_alive_connections(
    ctx: libhls.Context, store: Store, name: str
) -> None:
    with ctx.open_url(store.url(name)) as m:
        got = digests(crawl(m.get_bytes))
        info = m.info
    assert got == local_digests(ctx, name)
    print(f"{name}: {store.requests} requests over {store.connections} connections; {info['source']}")
    # One connection per libhls thread that read (here: this one), reused for every request (a
    # file under 512 KiB is read whole at once: a HEAD and one GET).
    assert store.requests >= 2 and store.connections <= 2, (store.requests, store.connections)
    if (MEDIA / name).stat().st_size > 1 << 20:
        assert store.requests > 2 * store.connections


def test_a_store_that_fails_gives_io_errors_and_other_media_keep_playing(store: Store) -> None:
    with libhls.Context(cache_bytes=0) as ctx, ctx.open_url(store.url("h264_aac.mp4")) as m, \
            ctx.open(MEDIA / "h264_aac.mkv") as other:
        store.failing = True
        with pytest.raises(libhls.IoError) as e:
            m.get_bytes("t0_2.m4s")
        assert "503" in str(e.value)
        assert other.get_bytes("t1_1.m4s")
        store.failing = False
        assert m.get_bytes("t0_2.m4s")
        # Replaced on the store (new ETag): the open source refuses, a new open is a new presentation.
        store.etag_salt += 1
        with pytest.raises(libhls.IoError) as e:
            m.get_bytes("t0_3.m4s")
        assert "changed" in str(e.value)
        with ctx.open_url(store.url("h264_aac.mp4")) as m2:
            assert m2.get_bytes("t0_3.m4s")


def test_a_reader_that_raises_is_an_io_error_with_its_message(ctx: libhls.Context) -> None:
    class Broken(Counting):
        def read_at(self, offset: int, size: int) -> bytes:
            raise ConnectionError("bucket unreachable (test)")

    with pytest.raises(libhls.IoError) as e:
        ctx.open_source(Broken(MEDIA / "h264_aac.mp4"), identity="broken://x")
    assert "bucket unreachable (test)" in str(e.value)
