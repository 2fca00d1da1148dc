"""examples/serve.py (stdlib ThreadingHTTPServer): the same HTTP semantics as the WSGI app,
over real keep-alive connections, and concurrent crawls."""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from semantics import Reply, check_semantics, crawl_over_http, direct, make_root
from support import PY_ROOT


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Tuple[Path, int]]:
    root = make_root(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, str(PY_ROOT / "examples" / "serve.py"), str(root), "--port", "0",
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.stderr else "")
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        yield root, port
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert "Traceback" not in err, err


class _Client:
    """One keep-alive connection, reopened only if the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: Optional[http.client.HTTPConnection] = None
        self.connections = 0

    def __call__(self, method: str, url: str, headers: Mapping[str, str]) -> Reply:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.connections += 1
            try:
                self.conn.request(method, url, headers=dict(headers))
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                return Reply(resp.status, resp.getheaders(), body)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def test_semantics_through_serve_py(server: Tuple[Path, int]) -> None:
    root, port = server
    client = _Client(port)
    # http.server reduces a leading "//" to "/" before the handler sees the path.
    check_semantics(client, root, raw_paths=False)
    assert client.connections < 5, "keep-alive connections were not kept"


def test_concurrent_http_crawls(server: Tuple[Path, int]) -> None:
    root, port = server
    want = {rel: direct(root, rel) for rel in ("h264_aac.mp4", "subs.mp4", "sub/h264_aac.mkv")}
    got: List[Dict[str, bytes]] = []
    errors: List[BaseException] = []

    def work(i: int) -> None:
        try:
            client = _Client(port)
            for rel in list(want)[i % 3:] + list(want)[: i % 3]:
                files = crawl_over_http(client, rel)
                assert files == want[rel], rel
                got.append(files)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    assert len(got) == 18
