"""Shared helpers: where things are, crawling a presentation, a tiny WSGI client."""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import urllib.parse
import wsgiref.util
import wsgiref.validate
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

# bindings/python/tests -> the repository.
REPO = Path(os.environ.get("LIBHLS_REPO", Path(__file__).resolve().parents[3]))
MEDIA = Path(os.environ.get("LIBHLS_MEDIA", REPO / "target" / "media"))
HEADER = REPO / "include" / "hls.h"
PY_ROOT = REPO / "bindings" / "python"

# Valid files crawled by the concurrency and FFmpeg tests (see target/media/manifest.txt).
CRAWLED = [
    "h264_aac.mp4",
    "h264_aac.mkv",
    "multi_audio.mkv",
    "subs.mp4",
    "mkvmerge_subs.mkv",
    "dts.mkv",
    "audio_only.mp3",
]

_URI = re.compile(r'URI="([^"]+)"')


def playlist_uris(text: str) -> List[str]:
    """Every URI a playlist names: the URI="..." attributes of tags and the plain lines."""
    out: List[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            out.extend(_URI.findall(line))
        else:
            out.append(line)
    return out


def crawl(fetch: Callable[[str], bytes]) -> Dict[str, bytes]:
    """The whole presentation: master.m3u8, then everything the playlists name."""
    got: Dict[str, bytes] = {}
    todo = ["master.m3u8"]
    while todo:
        name = todo.pop(0)
        if name in got:
            continue
        data = fetch(name)
        got[name] = data
        if name.endswith(".m3u8"):
            todo.extend(u for u in playlist_uris(data.decode("utf-8")) if u not in got)
    return got


def digests(files: Mapping[str, bytes]) -> Dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class WsgiResult:
    def __init__(self, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers} {self.body[:80]!r}>"


def wsgi_call(
    app: Any,
    method: str,
    url: str,
    headers: Optional[Mapping[str, str]] = None,
    validate: bool = True,
) -> WsgiResult:
    """One request through ``app`` as a WSGI server would make it (PEP 3333 environ; the
    app wrapped in wsgiref.validate unless ``validate`` is False)."""
    split = urllib.parse.urlsplit(url)
    environ: Dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO is the percent-decoded path's bytes as latin-1.
        "PATH_INFO": urllib.parse.unquote_to_bytes(split.path).decode("latin-1"),
        "QUERY_STRING": split.query,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    wsgiref.util.setup_testing_defaults(environ)
    for key, value in (headers or {}).items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    seen: Dict[str, Any] = {}

    def start_response(status: str, hdrs: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = int(status.split()[0])
        seen["headers"] = list(hdrs)
        return lambda data: None

    target = wsgiref.validate.validator(app) if validate else app
    result = target(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return WsgiResult(seen["status"], seen["headers"], body)
