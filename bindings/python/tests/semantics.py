"""The HTTP semantics every server front (WSGI directly, waitress, examples/serve.py) must show.

``check_semantics(request, root)`` runs the whole list through ``request(method, url,
headers) -> Reply``; each front's test supplies its own ``request``.
"""

from __future__ import annotations

import email.utils
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import libhls
from support import MEDIA, crawl, playlist_uris


@dataclass
class Reply:
    status: int
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


Request = Callable[[str, str, Mapping[str, str]], Reply]

UNICODE_NAME = "my movie \u00e9t\u00e9.mp4"
UNICODE_URL = "my%20movie%20%C3%A9t%C3%A9.mp4"


def make_root(base: Path) -> Path:
    """A media root with nested files, odd names, and symlinks inside and out."""
    root = base / "root"
    root.mkdir()
    for name in ("h264_aac.mp4", "subs.mp4", "text.mp4", "no_av.mkv"):
        shutil.copyfile(MEDIA / name, root / name)
    (root / "sub").mkdir()
    shutil.copyfile(MEDIA / "h264_aac.mkv", root / "sub" / "h264_aac.mkv")
    shutil.copyfile(MEDIA / "h264_aac.mp4", root / UNICODE_NAME)
    os.symlink("h264_aac.mp4", root / "inside.mp4")  # stays inside: served
    os.symlink(os.path.realpath(MEDIA / "h264_aac.mp4"), root / "escape.mp4")
    os.symlink(os.path.realpath(MEDIA), root / "escape_dir")
    outside = base / "outside"
    outside.mkdir()
    shutil.copyfile(MEDIA / "h264_aac.mp4", outside / "secret.mp4")
    os.symlink("../outside", root / "up")
    return root


def direct(root: Path, rel: str) -> Dict[str, bytes]:
    """The whole presentation of root/rel straight from libhls."""
    with libhls.Context() as ctx, ctx.open(root / rel) as media:
        return crawl(media.get_bytes)


def _common(r: Reply, what: str) -> None:
    assert r.header("Access-Control-Allow-Origin") == "*", f"{what}: no CORS header: {r}"


def _error(r: Reply, status: int, what: str, contains: str = "") -> None:
    assert r.status == status, f"{what}: {r.status} (want {status}): {r.body[:200]!r}"
    _common(r, what)
    assert r.header("Content-Type") == "text/plain; charset=utf-8", what
    if contains:
        assert contains.encode() in r.body, f"{what}: {r.body!r} lacks {contains!r}"


def check_semantics(request: Request, root: Path, raw_paths: bool = True) -> None:
    """``raw_paths``: the front hands the app the path exactly as sent (a WSGI environ made
    by hand); waitress and http.server normalise "//" or dot segments first."""
    get: Callable[..., Reply] = lambda url, **h: request("GET", url, h)
    files = direct(root, "h264_aac.mp4")
    names = list(files)
    seg = next(n for n in names if n.endswith(".m4s"))
    init = next(n for n in names if n.endswith("_init.mp4"))
    pl = next(n for n in names if n.endswith(".m3u8") and n != "master.m3u8")

    # 200: every file of the presentation, with its headers.
    for name, data in files.items():
        r = get(f"/h264_aac.mp4/{name}")
        assert r.status == 200, (name, r)
        _common(r, name)
        assert r.body == data, name
        assert r.header("Content-Length") == str(len(data))
        assert r.header("Accept-Ranges") == "bytes"
        want_cc = "max-age=60" if name.endswith(".m3u8") else "max-age=3600"
        assert r.header("Cache-Control") == want_cc, name
        etag = r.header("ETag") or ""
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 8, etag
        mtime = int(os.stat(root / "h264_aac.mp4").st_mtime)
        assert email.utils.parsedate_to_datetime(r.header("Last-Modified") or "").timestamp() == mtime
    master = get("/h264_aac.mp4/master.m3u8")
    assert master.header("Content-Type") == "application/vnd.apple.mpegurl"
    assert get(f"/h264_aac.mp4/{init}").header("Content-Type") in ("video/mp4", "audio/mp4")
    assert get(f"/h264_aac.mp4/{seg}").header("ETag") != master.header("ETag")

    # Subtitles: .vtt names are segments for caching.
    subs = direct(root, "subs.mp4")
    vtt = [n for n in subs if n.endswith(".vtt")]
    assert vtt, list(subs)
    r = get(f"/subs.mp4/{vtt[0]}")
    assert r.status == 200 and r.body == subs[vtt[0]]
    assert r.header("Content-Type") == "text/vtt" and r.header("Cache-Control") == "max-age=3600"

    # Nested, inside symlink, odd names, query strings.
    nested = direct(root, "sub/h264_aac.mkv")
    assert get("/sub/h264_aac.mkv/master.m3u8").body == nested["master.m3u8"]
    assert get("/inside.mp4/master.m3u8").body == files["master.m3u8"]
    assert get(f"/{UNICODE_URL}/{pl}").body == files[pl]
    assert get("/h264_aac.mp4/master.m3u8?token=abc").body == files["master.m3u8"]

    # HEAD: the GET headers, no body.
    h = request("HEAD", f"/h264_aac.mp4/{seg}", {})
    g = get(f"/h264_aac.mp4/{seg}")
    assert h.status == 200 and h.body == b""
    for key in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control",
                "Accept-Ranges", "Access-Control-Allow-Origin"):
        assert h.header(key) == g.header(key), key

    # Range.
    data = files[seg]
    size = len(data)
    for spec, lo, hi in (("0-99", 0, 99), ("100-", 100, size - 1), ("-50", size - 50, size - 1),
                         (f"10-{size * 2}", 10, size - 1), ("0-0", 0, 0), (" 5 - 9", 5, 9)):
        r = get(f"/h264_aac.mp4/{seg}", Range=f"bytes={spec}")
        assert r.status == 206, (spec, r.status)
        _common(r, spec)
        assert r.body == data[lo : hi + 1], spec
        assert r.header("Content-Range") == f"bytes {lo}-{hi}/{size}", spec
        assert r.header("Content-Length") == str(hi - lo + 1), spec
        assert r.header("Content-Type") == g.header("Content-Type")
    r = request("HEAD", f"/h264_aac.mp4/{seg}", {"Range": "bytes=0-9"})
    assert r.status == 206 and r.body == b"" and r.header("Content-Length") == "10"
    for spec in (f"{size}-", f"{size + 10}-{size + 20}", "-0"):
        r = get(f"/h264_aac.mp4/{seg}", Range=f"bytes={spec}")
        _error(r, 416, spec)
        assert r.header("Content-Range") == f"bytes */{size}", spec
    for spec in ("bytes=10-5", "items=0-1", "bytes=a-b", "bytes=5", "bytes=--1"):
        _error(get(f"/h264_aac.mp4/{seg}", Range=spec), 416, spec)
    for spec in ("bytes=0-1,5-9", "bytes=", "bytes=,", "bytes=0-9,", f"bytes={size}-,0-1"):
        r = get(f"/h264_aac.mp4/{seg}", Range=spec)
        assert r.status == 200 and r.body == data, spec

    # Conditional requests.
    etag = g.header("ETag") or ""
    lm = g.header("Last-Modified") or ""
    for inm in (etag, f"W/{etag}", "*", f'"nope", {etag}'):
        r = get(f"/h264_aac.mp4/{seg}", **{"If-None-Match": inm})
        assert r.status == 304, (inm, r.status)
        _common(r, inm)
        assert r.body == b"" and r.header("Content-Type") is None and r.header("ETag") == etag
        assert r.header("Cache-Control") == "max-age=3600"
    assert get(f"/h264_aac.mp4/{seg}", **{"If-None-Match": '"other"'}).status == 200
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Modified-Since": lm}).status == 304
    later = email.utils.formatdate(email.utils.parsedate_to_datetime(lm).timestamp() + 3600, usegmt=True)
    earlier = email.utils.formatdate(email.utils.parsedate_to_datetime(lm).timestamp() - 3600, usegmt=True)
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Modified-Since": later}).status == 304
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Modified-Since": earlier}).status == 200
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Modified-Since": "garbage"}).status == 200
    # If-None-Match wins over If-Modified-Since.
    both = {"If-None-Match": '"other"', "If-Modified-Since": lm}
    assert get(f"/h264_aac.mp4/{seg}", **both).status == 200
    assert request("HEAD", f"/h264_aac.mp4/{seg}", {"If-None-Match": etag}).status == 304
    # If-Match / If-Unmodified-Since.
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Match": etag}).status == 200
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Match": "*"}).status == 200
    _error(get(f"/h264_aac.mp4/{seg}", **{"If-Match": '"other"'}), 412, "If-Match")
    _error(get(f"/h264_aac.mp4/{seg}", **{"If-Unmodified-Since": earlier}), 412, "IUS")
    assert get(f"/h264_aac.mp4/{seg}", **{"If-Unmodified-Since": lm}).status == 200
    # If-Range.
    assert get(f"/h264_aac.mp4/{seg}", Range="bytes=0-9", **{"If-Range": etag}).status == 206
    assert get(f"/h264_aac.mp4/{seg}", Range="bytes=0-9", **{"If-Range": lm}).status == 206
    r = get(f"/h264_aac.mp4/{seg}", Range="bytes=0-9", **{"If-Range": '"other"'})
    assert r.status == 200 and r.body == data
    assert get(f"/h264_aac.mp4/{seg}", Range="bytes=0-9", **{"If-Range": earlier}).status == 200

    # 404: missing files and names, and nothing outside the root.
    for url in ("/nope.mp4/master.m3u8", "/h264_aac.mp4/t9_99.m4s", "/h264_aac.mp4",
                "/h264_aac.mp4/", "/", "/sub/master.m3u8", "/sub/h264_aac.mkv",
                "/../outside/secret.mp4/master.m3u8", "/%2e%2e/outside/secret.mp4/master.m3u8",
                "/sub/..%2F..%2Foutside%2Fsecret.mp4/master.m3u8", "/h264_aac.mp4%00/master.m3u8",
                "/escape.mp4/master.m3u8", "/escape_dir/h264_aac.mp4/master.m3u8",
                "/up/secret.mp4/master.m3u8", f"/{os.path.realpath(MEDIA)}/h264_aac.mp4/master.m3u8"):
        r = get(url)
        _error(r, 404, url)
        assert str(root).encode() not in r.body and str(MEDIA).encode() not in r.body, (url, r.body)
    for url in ("/./h264_aac.mp4/master.m3u8", "//h264_aac.mp4/master.m3u8"):
        r = get(url)
        if raw_paths or r.status != 200:
            _error(r, 404, url)
        else:  # the server normalised the path to a file inside the root
            assert r.body == files["master.m3u8"], url
    _error(get("/h264_aac.mp4/t9_99.m4s"), 404, "unknown name", "HLS_ERR_NOT_FOUND")
    _error(get("/nope.mp4/master.m3u8"), 404, "missing file", "nope.mp4")

    # 400, 415 and their bodies (no server paths).
    _error(get("/h264_aac.mp4/a%3Fb.m3u8"), 400, "query char in name", "HLS_ERR_INVALID_ARGUMENT")
    _error(get("/h264_aac.mp4/a%01b"), 400, "control char in name")
    _error(get("/%FF.mp4/master.m3u8"), 400, "URL not UTF-8", "HLS_ERR_INVALID_UTF8")
    for rel in ("text.mp4", "no_av.mkv"):
        r = get(f"/{rel}/master.m3u8")
        _error(r, 415, rel, rel)
        assert str(root).encode() not in r.body, r.body
    assert b"HLS_ERR_NO_PLAYABLE_TRACKS" in get("/no_av.mkv/master.m3u8").body
    assert b"HLS_ERR_INVALID_MEDIA: text.mp4:" in get("/text.mp4/master.m3u8").body

    # 405 with Allow, for every other method.
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        r = request(method, "/h264_aac.mp4/master.m3u8", {})
        _error(r, 405, method)
        assert r.header("Allow") == "GET, HEAD", method

    # A changed file gets a new ETag and new bytes.
    target = root / "inside.mp4"
    before = get("/inside.mp4/master.m3u8")
    os.unlink(target)
    os.symlink("sub/h264_aac.mkv", target)
    after = get("/inside.mp4/master.m3u8")
    assert after.status == 200 and after.body == nested["master.m3u8"]
    assert after.header("ETag") != before.header("ETag")
    os.unlink(target)
    os.symlink("h264_aac.mp4", target)


def crawl_over_http(request: Request, rel: str) -> Dict[str, bytes]:
    def fetch(name: str) -> bytes:
        r = request("GET", f"/{rel}/{name}", {})
        assert r.status == 200, (name, r.status, r.body[:200])
        return r.body

    return crawl(fetch)


__all__ = ["Reply", "Request", "check_semantics", "crawl_over_http", "direct", "make_root",
           "playlist_uris"]
