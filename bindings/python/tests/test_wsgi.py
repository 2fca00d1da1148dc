"""libhls.wsgi.App: the HTTP semantics through a WSGI test client and under waitress; the
FILE_CHANGED retry; no leak over 10 000 requests."""

from __future__ import annotations

import gc
import http.client
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import pytest

import libhls
from libhls.wsgi import App, http_status
from semantics import Reply, check_semantics, crawl_over_http, direct, make_root
from support import rss_bytes, wsgi_call


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


@pytest.fixture
def app(root: Path) -> Iterator[App]:
    a = App(root)
    yield a
    a.close()


def wsgi_request(app: App, validate: bool = True) -> Any:
    def request(method: str, url: str, headers: Mapping[str, str]) -> Reply:
        r = wsgi_call(app, method, url, headers, validate=validate)
        return Reply(r.status, r.headers, r.body)

    return request


def test_semantics_through_wsgi(app: App, root: Path) -> None:
    check_semantics(wsgi_request(app), root)


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        App(tmp_path / "missing")


def test_status_mapping() -> None:
    S = libhls.Status
    assert {s: http_status(s) for s in S} == {
        S.OK: 200, S.NULL_ARGUMENT: 500, S.INVALID_UTF8: 400, S.INVALID_ARGUMENT: 400,
        S.NOT_FOUND: 404, S.IO: 404, S.INVALID_MEDIA: 415, S.NO_PLAYABLE_TRACKS: 415,
        S.FILE_CHANGED: 503, S.UNSUPPORTED: 415, S.PANIC: 500, S.INTERNAL: 500,
        S.KEY_UNAVAILABLE: 500,
    }


class _FlakyMedia:
    """A Media whose get() raises FileChangedError a given number of times first."""

    def __init__(self, real: libhls.Media, failures: List[int], error: libhls.HlsError) -> None:
        self.real, self.failures, self.error = real, failures, error

    def get(self, name: str) -> libhls.Buffer:
        if self.failures[0] > 0:
            self.failures[0] -= 1
            raise self.error
        return self.real.get(name)

    def __enter__(self) -> "_FlakyMedia":
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()


class _FlakyContext:
    def __init__(self, failures: int, error: libhls.HlsError) -> None:
        self.ctx = libhls.Context()
        self.failures = [failures]
        self.error = error
        self.opens = 0

    def open(self, path: str) -> _FlakyMedia:
        self.opens += 1
        return _FlakyMedia(self.ctx.open(path), self.failures, self.error)


@pytest.mark.parametrize("failures,status", [(0, 200), (1, 200), (2, 503), (5, 503)])
def test_file_changed_reopens_once_then_503(root: Path, failures: int, status: int) -> None:
    fake = _FlakyContext(failures, libhls.FileChangedError(libhls.Status.FILE_CHANGED, "changed"))
    app = App(root, fake)  # type: ignore[arg-type]
    r = wsgi_call(app, "GET", "/h264_aac.mp4/master.m3u8")
    assert r.status == status
    assert fake.opens == min(failures + 1, 2)
    assert r.header("Access-Control-Allow-Origin") == "*"
    if status == 503:
        assert r.header("Retry-After") == "1"
        assert b"HLS_ERR_FILE_CHANGED" in r.body
    fake.ctx.close()


@pytest.mark.parametrize(
    "status,code",
    [(libhls.Status.PANIC, 500), (libhls.Status.INTERNAL, 500), (libhls.Status.UNSUPPORTED, 415),
     (libhls.Status.NULL_ARGUMENT, 500)],
)
def test_other_statuses(root: Path, status: libhls.Status, code: int) -> None:
    fake = _FlakyContext(1, libhls._errors.error_from(status, f"{root}/h264_aac.mp4: boom"))
    r = wsgi_call(App(root, fake), "GET", "/h264_aac.mp4/master.m3u8")  # type: ignore[arg-type]
    assert r.status == code and fake.opens == 1
    assert r.body == f"{status.c_name}: h264_aac.mp4: boom\n".encode()  # root stripped
    fake.ctx.close()


def test_app_shares_a_given_context(root: Path) -> None:
    with libhls.Context() as ctx:
        app = App(root, ctx)
        assert crawl_over_http(wsgi_request(app), "h264_aac.mp4") == direct(root, "h264_aac.mp4")
        app.close()  # not the App's: stays open
        assert not ctx.closed and ctx.stats["opens"] > 0


def test_no_leak_over_10000_requests(root: Path) -> None:
    files = direct(root, "h264_aac.mp4")
    seg = next(n for n in files if n.endswith(".m4s"))
    requests: List[Tuple[str, str, Dict[str, str]]]
    requests = [("GET", f"/h264_aac.mp4/{n}", {}) for n in files]
    requests += [
        ("HEAD", f"/h264_aac.mp4/{seg}", {}),
        ("GET", f"/h264_aac.mp4/{seg}", {"Range": "bytes=100-999"}),
        ("GET", f"/h264_aac.mp4/{seg}", {"Range": "bytes=999999999-"}),
        ("GET", "/h264_aac.mp4/t9_9.m4s", {}),
        ("GET", "/nope.mp4/master.m3u8", {}),
        ("GET", "/text.mp4/master.m3u8", {}),
        ("GET", "/../x/master.m3u8", {}),
        ("POST", "/h264_aac.mp4/master.m3u8", {}),
        ("GET", "/subs.mp4/master.m3u8", {}),
    ]
    # A cache smaller than the file's segments: they are made again and again (whatever shards
    # the media's identity hashes them to), so a Buffer that was never released would pin its
    # bytes (hundreds of MiB over the run).
    with libhls.Context(cache_bytes=1 << 18) as ctx:
        app = App(root, ctx)
        etag = wsgi_call(app, "GET", f"/h264_aac.mp4/{seg}").header("ETag") or ""
        requests.append(("GET", f"/h264_aac.mp4/{seg}", {"If-None-Match": etag}))

        def burst(n: int) -> None:
            for i in range(n):
                method, url, headers = requests[i % len(requests)]
                r = wsgi_call(app, method, url, headers, validate=False)
                assert r.status in (200, 206, 304, 400, 404, 405, 415, 416), (url, r.status)

        burst(1000)  # warm-up: every segment cached, every allocator pool grown
        gc.collect()
        before = rss_bytes()
        burst(10_000)
        gc.collect()
        grown = rss_bytes() - before
        stats = ctx.stats
    # Every Media the App opened was closed again (an open handle keeps its media busy).
    assert stats["media_idle"] == stats["media_registered"], stats
    assert stats["generations"] > 1000, stats  # the cache churned: segments were made again
    assert grown < 20 << 20, f"RSS grew by {grown / 2**20:.1f} MiB over 10 000 requests"


def test_under_waitress(root: Path) -> None:
    waitress = pytest.importorskip("waitress")
    app = App(root)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)

    def serve() -> None:
        try:
            server.run()
        except (OSError, ValueError):
            pass  # server.close() from the test thread closes the sockets under select()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = server.effective_port
    try:
        def request(method: str, url: str, headers: Mapping[str, str]) -> Reply:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request(method, url, headers=dict(headers))
                resp = conn.getresponse()
                return Reply(resp.status, resp.getheaders(), resp.read())
            finally:
                conn.close()

        check_semantics(request, root, raw_paths=False)
    finally:
        server.close()
        thread.join(timeout=10)
        app.close()
