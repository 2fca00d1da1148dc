"""A WSGI application serving ``/<file path under root>/<name>`` as HLS.

    from libhls.wsgi import App
    app = App("/srv/media")          # waitress-serve --call / gunicorn 'module:app'

HTTP semantics (the same as the Go binding's ``hls.Handler``):

- Path: the URL-decoded ``PATH_INFO``; its last segment is the name libhls serves, the rest the
  file under ``root``. Empty, ``.`` or ``..`` segments, NUL bytes, and any path whose
  ``realpath`` (symlinks resolved) lies outside ``realpath(root)`` answer 404.
- Methods: GET and HEAD; anything else 405 with ``Allow: GET, HEAD``.
- libhls statuses: NOT_FOUND, IO → 404; INVALID_ARGUMENT, INVALID_UTF8 → 400; INVALID_MEDIA,
  NO_PLAYABLE_TRACKS, UNSUPPORTED → 415; FILE_CHANGED → the file is opened again once, then
  503 with ``Retry-After: 1``; anything else → 500. Error bodies are ``text/plain;
  charset=utf-8``: the status name and libhls's message with the root stripped from paths.
- Success: Content-Type from libhls, Content-Length, a strong ETag (hash of the file's device,
  inode, size, mtime and the name), Last-Modified (the file's mtime), ``Accept-Ranges: bytes``,
  ``Cache-Control: max-age=60`` for playlists and ``max-age=3600`` for segments.
- Conditional requests as Go's ``http.ServeContent``: If-Match / If-Unmodified-Since → 412;
  If-None-Match (weak comparison) or, without it, If-Modified-Since → 304; If-Range.
- Range: one ``bytes=`` range → 206 with Content-Range; a range past the end → 416 with
  ``Content-Range: bytes */size``; a malformed one → 416; a Range header with a comma (several
  ranges) is ignored: 200 with the whole body.
- ``Access-Control-Allow-Origin: *`` on every response.
- Clips: the query arguments ``clip_from=MS`` and ``clip_to=MS`` (milliseconds; either may be
  left out) serve the clip ``[clip_from, clip_to)`` of the file (keyframe-aligned), and every
  URI of its playlists keeps them; a value that is not a number of milliseconds, an empty
  range, or a ``clip_from`` at or beyond the file's end answers 400.

Each request opens the media (libhls's registry makes a reopen cost one ``stat``) and closes
it again; the bytes are copied once into the response (WSGI servers need ``bytes``).
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import os
import stat as stat_module
import urllib.parse
from dataclasses import dataclass, field
from typing import (
    Dict,
    Any,
    Callable,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ._core import Buffer, Context
from ._errors import HlsError, Status

__all__ = ["App", "Response", "http_status"]

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    206: "Partial Content",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

_HTTP_STATUS = {
    Status.NOT_FOUND: 404,
    Status.IO: 404,
    Status.INVALID_ARGUMENT: 400,
    Status.INVALID_UTF8: 400,
    Status.INVALID_MEDIA: 415,
    Status.NO_PLAYABLE_TRACKS: 415,
    Status.UNSUPPORTED: 415,
    Status.FILE_CHANGED: 503,
}

_CORS = ("Access-Control-Allow-Origin", "*")
_TEXT = "text/plain; charset=utf-8"


def http_status(status: Status) -> int:
    """The HTTP status answering a libhls status (FILE_CHANGED: after the one retry)."""
    if status == Status.OK:
        return 200
    return _HTTP_STATUS.get(status, 500)


def _cache_control(name: str) -> Optional[str]:
    if name.endswith(".m3u8"):
        return "max-age=60"
    if name.endswith((".m4s", ".mp4", ".vtt")):
        return "max-age=3600"
    return None


@dataclass
class Response:
    """One HTTP answer: what :meth:`App.respond` returns for any server to write.

    ``body`` is empty for HEAD; ``Content-Length`` is in ``headers`` either way."""

    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, 'Unknown')}"

    def header(self, name: str) -> Optional[str]:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


class _Identity:
    """What the ETag and Last-Modified are made of: the file as ``stat`` sees it."""

    __slots__ = ("key", "mtime")

    def __init__(self, st: os.stat_result) -> None:
        self.key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self.mtime = st.st_mtime_ns // 1_000_000_000  # whole seconds, as HTTP dates

    def etag(self, name: str) -> str:
        text = "%d:%d:%d:%d:" % self.key + name
        digest = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=12)
        return f'"{digest.hexdigest()}"'


# --- Conditional requests and ranges (net/http's serveContent, fs.go) -----------------------


def _scan_etag(text: str) -> Tuple[str, str]:
    """The first entity tag at the start of ``text`` and the rest; ("", "") if none."""
    text = text.lstrip(" \t")
    start = 0
    if text.startswith("W/"):
        start = 2
    if len(text) - start < 2 or text[start] != '"':
        return "", ""
    for i in range(start + 1, len(text)):
        c = text[i]
        if c == '"':
            return text[: i + 1], text[i + 1 :]
        if c == "\x21" or "\x23" <= c <= "\x7e" or c >= "\x80":
            continue
        return "", ""
    return "", ""


def _strong_match(a: str, b: str) -> bool:
    return a == b and a != "" and a[0] == '"'


def _weak_match(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def _etag_list_matches(header: str, etag: str, strong: bool) -> Optional[bool]:
    """True if the list matches (``*`` matches anything), False if not, None if empty."""
    buf = header
    if buf.strip(" \t") == "":
        return None
    while True:
        buf = buf.lstrip(" \t")
        if not buf:
            return False
        if buf[0] == ",":
            buf = buf[1:]
            continue
        if buf[0] == "*":
            return True
        tag, rest = _scan_etag(buf)
        if tag == "":
            return False
        if (_strong_match(tag, etag) if strong else _weak_match(tag, etag)):
            return True
        buf = rest


def _parse_http_date(text: str) -> Optional[int]:
    try:
        parsed = email.utils.parsedate_tz(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    try:
        return calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    except (OverflowError, ValueError):
        return None


_NO_OVERLAP = "no overlap"


def _parse_range(header: str, size: int) -> Union[List[Tuple[int, int]], str]:
    """``[(start, length)]``, or an error string (``_NO_OVERLAP`` or "invalid range")."""
    prefix = "bytes="
    if not header.startswith(prefix):
        return "invalid range"
    ranges: List[Tuple[int, int]] = []
    no_overlap = False
    for part in header[len(prefix) :].split(","):
        part = part.strip(" \t")
        if part == "":
            continue
        if "-" not in part:
            return "invalid range"
        first, last = (p.strip(" \t") for p in part.split("-", 1))
        if first == "":
            # Suffix range: the last N bytes. N = 0 selects nothing (RFC 9110 14.1.1).
            if last == "" or not last.isdigit():
                return "invalid range"
            n = int(last)
            if n == 0:
                no_overlap = True
                continue
            n = min(n, size)
            if n == 0:
                no_overlap = True
                continue
            ranges.append((size - n, n))
        else:
            if not first.isdigit():
                return "invalid range"
            start = int(first)
            if start >= size:
                no_overlap = True
                continue
            if last == "":
                ranges.append((start, size - start))
            else:
                if not last.isdigit():
                    return "invalid range"
                end = int(last)
                if start > end:
                    return "invalid range"
                end = min(end, size - 1)
                ranges.append((start, end - start + 1))
    if no_overlap and not ranges:
        return _NO_OVERLAP
    return ranges


# --- The application -------------------------------------------------------------------------


def clip_query(query: str) -> Optional[Tuple[int, int, str]]:
    """The clip a URL's query asks for, as the nginx module reads it: ``(from_ms, to_ms,
    canonical query)`` (``to_ms`` 0: the end), None without ``clip_from`` / ``clip_to``;
    ValueError for a value that is not a number of milliseconds or an empty range."""
    args = urllib.parse.parse_qs(query, keep_blank_values=True)
    if "clip_from" not in args and "clip_to" not in args:
        return None
    ms = []
    for name in ("clip_from", "clip_to"):
        value = args.get(name, ["0" if name == "clip_from" else ""])[-1]
        if value == "" and name == "clip_to":
            ms.append(0)
            continue
        if not (value.isascii() and value.isdigit()) or len(value) > 15:
            raise ValueError(f"{name}={value!r} is not a number of milliseconds")
        ms.append(int(value))
    start, end = ms
    if end and start >= end:
        raise ValueError("clip_from must be before clip_to")
    canonical = f"clip_from={start}" + (f"&clip_to={end}" if end else "")
    return start, end, canonical


class App:
    """WSGI application serving the media files under ``root`` (see the module docstring).

    ``context``: the :class:`libhls.Context` to use (one per process); by default the App makes
    one with libhls's defaults and closes it in :meth:`close`.
    """

    def __init__(
        self, root: Union[str, "os.PathLike[str]"], context: Optional[Context] = None
    ) -> None:
        real = os.path.realpath(os.fspath(root))
        if not os.path.isdir(real):
            raise NotADirectoryError(f"libhls.wsgi.App: root {os.fspath(root)!r} is not a folder")
        self.root = real
        self._prefix = real.rstrip(os.sep) + os.sep
        self._own_context = context is None
        self.context = Context() if context is None else context

    def close(self) -> None:
        """Closes the Context if the App made it."""
        if self._own_context:
            self.context.close()

    # WSGI entry point.
    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))  # case-sensitive, as in HTTP
        path_info = str(environ.get("PATH_INFO", ""))
        try:
            raw = path_info.encode("latin-1")  # PEP 3333: the URL's bytes as latin-1
        except UnicodeEncodeError:
            raw = path_info.encode("utf-8", "surrogateescape")
        headers = {
            "if-match": environ.get("HTTP_IF_MATCH"),
            "if-none-match": environ.get("HTTP_IF_NONE_MATCH"),
            "if-modified-since": environ.get("HTTP_IF_MODIFIED_SINCE"),
            "if-unmodified-since": environ.get("HTTP_IF_UNMODIFIED_SINCE"),
            "if-range": environ.get("HTTP_IF_RANGE"),
            "range": environ.get("HTTP_RANGE"),
        }
        query = str(environ.get("QUERY_STRING", ""))
        resp = self.respond(method, raw, headers, query)
        start_response(resp.status_line, resp.headers)
        return [resp.body] if resp.body else []

    # Server-agnostic core: used by the WSGI entry point and by examples/serve.py.
    def respond(
        self, method: str, path: bytes, headers: Mapping[str, Optional[str]], query: str = ""
    ) -> Response:
        """The answer to ``method`` on the URL-decoded ``path`` (raw bytes, starting with
        '/'). ``headers`` maps lower-case request header names to values (or None); ``query``
        is the URL's query string (``clip_from`` / ``clip_to`` select a clip)."""
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            allow = [("Allow", "GET, HEAD")]
            return _error(405, "Method Not Allowed: only GET and HEAD", head, allow)
        try:
            clip = clip_query(query)
        except ValueError as e:
            return _error(400, f"{Status.INVALID_ARGUMENT.c_name}: {e}", head)
        options: Dict[str, Any] = {}
        if clip is not None:
            # A clip: its own presentation, and every URI of its playlists keeps the clip.
            options = {"clip": (clip[0], clip[1]), "uri_query": clip[2]}

        try:
            text = path.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, f"{Status.INVALID_UTF8.c_name}: the URL path is not UTF-8", head)
        located = self._locate(text)
        if located is None:
            return _error(404, "Not Found: URLs look like /<file under the root>/master.m3u8", head)
        file_path, name = located

        for attempt in (1, 2):
            try:
                before = os.stat(file_path)
            except OSError:
                before = None
            if before is None or not stat_module.S_ISREG(before.st_mode):
                why = "no such file" if before is None else "not a file"
                return _error(404, f"{Status.IO.c_name}: {self._relative(file_path)}: {why}", head)
            try:
                with self.context.open(file_path, **options) as media:
                    buf = media.get(name)
            except HlsError as err:
                if err.status == Status.FILE_CHANGED and attempt == 1:
                    continue
                return self._hls_error(err, head)
            with buf:
                try:
                    after = os.stat(file_path)
                except OSError:
                    after = None
                if after is None or _Identity(after).key != _Identity(before).key:
                    if attempt == 1:
                        continue  # changed while being served: once more, from the new file
                    return self._changed(head)
                return self._content(buf, name, _Identity(before), head, headers)
        return self._changed(head)

    # --- helpers -------------------------------------------------------------------------

    def _locate(self, path: str) -> Optional[Tuple[str, str]]:
        if not path.startswith("/") or "\0" in path:
            return None
        segments = path[1:].split("/")
        if len(segments) < 2 or any(s in ("", ".", "..") for s in segments):
            return None
        name = segments[-1]
        joined = os.path.join(self.root, *segments[:-1])
        real = os.path.realpath(joined)
        if not real.startswith(self._prefix):
            return None
        return real, name

    def _relative(self, path: str) -> str:
        if path.startswith(self._prefix):
            return path[len(self._prefix) :]
        return os.path.basename(path)

    def _strip_root(self, message: str) -> str:
        return message.replace(self._prefix, "").replace(self.root, ".")

    def _hls_error(self, err: HlsError, head: bool) -> Response:
        code = http_status(err.status)
        if err.status == Status.FILE_CHANGED:
            return self._changed(head)
        return _error(code, f"{err.status.c_name}: {self._strip_root(err.message)}", head)

    def _changed(self, head: bool) -> Response:
        return _error(
            503,
            f"{Status.FILE_CHANGED.c_name}: the file changed while it was served; retry",
            head,
            [("Retry-After", "1")],
        )

    def _content(
        self,
        buf: Buffer,
        name: str,
        identity: _Identity,
        head: bool,
        headers: Mapping[str, Optional[str]],
    ) -> Response:
        size = len(buf)
        etag = identity.etag(name)
        last_modified = email.utils.formatdate(identity.mtime, usegmt=True)
        meta: List[Tuple[str, str]] = [("ETag", etag), ("Last-Modified", last_modified)]
        cache = _cache_control(name)
        if cache is not None:
            meta.append(("Cache-Control", cache))

        # Preconditions, in net/http's order.
        verdict = None
        if_match = headers.get("if-match")
        if if_match:
            verdict = _etag_list_matches(if_match, etag, strong=True)
        if verdict is None:
            ius = headers.get("if-unmodified-since")
            when = _parse_http_date(ius) if ius else None
            if when is not None:
                verdict = identity.mtime <= when
        if verdict is False:
            return _error(412, "Precondition Failed", head)

        inm = headers.get("if-none-match")
        none_match = _etag_list_matches(inm, etag, strong=False) if inm else None
        if none_match is True:
            return _not_modified(meta)
        if none_match is None:
            ims = headers.get("if-modified-since")
            when = _parse_http_date(ims) if ims else None
            if when is not None and identity.mtime <= when:
                return _not_modified(meta)

        range_header = headers.get("range") or ""
        if "," in range_header:
            range_header = ""  # several ranges: the whole body (no multipart/byteranges)
        if range_header:
            if_range = headers.get("if-range")
            if if_range:
                tag, _ = _scan_etag(if_range)
                if tag:
                    honoured = _strong_match(tag, etag)
                else:
                    when = _parse_http_date(if_range)
                    honoured = when is not None and when == identity.mtime
                if not honoured:
                    range_header = ""

        start, length, status = 0, size, 200
        extra: List[Tuple[str, str]] = []
        if range_header:
            ranges = _parse_range(range_header, size)
            if isinstance(ranges, str):
                if ranges == _NO_OVERLAP:
                    more = [("Content-Range", f"bytes */{size}")]
                    return _error(416, "invalid range: failed to overlap", head, more)
                return _error(416, "invalid range", head)
            if len(ranges) == 1:
                start, length = ranges[0]
                status = 206
                extra.append(("Content-Range", f"bytes {start}-{start + length - 1}/{size}"))

        out = [
            ("Content-Type", buf.content_type),
            ("Content-Length", str(length)),
            *meta,
            ("Accept-Ranges", "bytes"),
            *extra,
            _CORS,
        ]
        body = b"" if head else buf.tobytes(start, start + length)
        return Response(status, out, body)


def _not_modified(meta: Sequence[Tuple[str, str]]) -> Response:
    # As net/http's writeNotModified: no Content-Type/-Length; Last-Modified dropped when an
    # ETag is sent.
    kept = [(k, v) for k, v in meta if k != "Last-Modified"]
    return Response(304, [*kept, _CORS], b"")


def _error(
    status: int,
    message: str,
    head: bool,
    extra: Sequence[Tuple[str, str]] = (),
) -> Response:
    body = (message.rstrip("\n") + "\n").encode("utf-8", "replace")
    headers = [
        ("Content-Type", _TEXT),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        *extra,
        _CORS,
    ]
    return Response(status, headers, b"" if head else body)
