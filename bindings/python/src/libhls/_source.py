"""Media read through a caller-supplied source (``hls_open_source``): any object with
``read_at(offset, size) -> bytes`` and ``size``, a file-like object with ``seek``/``readinto``,
or :class:`HTTPSource` (HTTP range requests to an object store, standard library only).

libhls calls the reader from the threads that serve (any thread, several at once). ctypes
takes the GIL for each call, so Python readers run one at a time; ``hls_get`` releases the GIL
while libhls works, so a reader never waits for the thread that asked. A reader that raises
fails the request that needed the bytes with :class:`IoError` and the exception's text; libhls
retries nothing.
"""

from __future__ import annotations

import ctypes
import http.client
import itertools
import threading
import urllib.parse
from typing import Any, Dict, Optional, Tuple

from . import _ffi

__all__ = ["HTTPSource"]

# opaque id -> the reader state; the entry is removed by the release callback (exactly once).
_SOURCES: Dict[int, "_Reader"] = {}
_SOURCES_LOCK = threading.Lock()
_IDS = itertools.count(1)


class _Reader:
    """Adapts a reader object to positioned reads into libhls's buffer."""

    def __init__(self, obj: Any, size: int) -> None:
        self.obj = obj
        self.size = size
        self.positioned = callable(getattr(obj, "read_at", None))
        self.lock = threading.Lock()  # a file-like object's position is shared

    def read_into(self, offset: int, out: memoryview) -> int:
        if self.positioned:
            data = self.obj.read_at(offset, len(out))
            n = len(data)
            if n > len(out):
                raise ValueError(f"read_at returned {n} bytes for {len(out)}")
            out[:n] = data
            return n
        with self.lock:
            self.obj.seek(offset)
            done = 0
            while done < len(out):
                got = self.obj.readinto(out[done:])
                if not got:
                    break
                done += got
            return done


def _write_error(err: int, cap: int, message: str) -> None:
    if not err or cap == 0:
        return
    raw = message.encode("utf-8", "replace")[: cap - 1] + b"\0"
    ctypes.memmove(err, raw, len(raw))


def _read_at(opaque: int, offset: int, buf: int, n: int, err: int, cap: int) -> int:
    try:
        reader = _SOURCES[opaque]
        if n == 0:
            return 0
        view = memoryview((ctypes.c_char * n).from_address(buf)).cast("B")
        return reader.read_into(offset, view)
    except BaseException as e:  # never unwind into C
        _write_error(err, cap, f"{type(e).__name__}: {e}")
        return -1


def _release(opaque: int) -> None:
    with _SOURCES_LOCK:
        _SOURCES.pop(opaque, None)


# Kept alive for the life of the process: libhls may call them until a source is released.
_READ_AT_CB = _ffi.HlsReadAtFn(_read_at)
_RELEASE_CB = _ffi.HlsReleaseFn(_release)


def size_of(obj: Any, size: Optional[int]) -> int:
    """The size of a reader: ``size`` given, its ``size`` attribute (or method), or a file-like
    object's end."""
    if size is not None:
        return int(size)
    s = getattr(obj, "size", None)
    if callable(s):
        s = s()
    if s is not None:
        return int(s)
    if callable(getattr(obj, "seek", None)):
        end = obj.seek(0, 2)
        return int(end)
    raise TypeError("source: give size=, or a reader with a size attribute or seek()")


def make_source(obj: Any, size: int, identity: bytes) -> Tuple[_ffi.HlsSource, int]:
    """A filled ``HlsSource`` and its opaque id (registered; released by libhls)."""
    if not (callable(getattr(obj, "read_at", None)) or callable(getattr(obj, "readinto", None))):
        raise TypeError("source: needs read_at(offset, size) or seek()/readinto()")
    key = next(_IDS)
    with _SOURCES_LOCK:
        _SOURCES[key] = _Reader(obj, size)
    src = _ffi.HlsSource()
    src.read_at = _READ_AT_CB
    src.release = _RELEASE_CB
    src.opaque = key
    src.size = size
    src.identity = identity
    return src, key


class HTTPSource:
    """One object of an HTTP store read with range requests (``http.client``: one kept-alive
    connection per thread). Every request carries ``If-Match`` with the ETag seen when the
    source was made (else ``If-Unmodified-Since``), so an object replaced meanwhile fails the
    read instead of mixing versions; :attr:`identity` (URL + ETag + Last-Modified + size) makes a
    replaced object a new presentation when opened again."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._local = threading.local()
        resp, body = self._request("HEAD", {})
        if resp.status != 200:
            raise OSError(f"{url}: HEAD answered {resp.status} {resp.reason}")
        length = resp.getheader("Content-Length")
        if length is None:
            raise OSError(f"{url}: the store gives no Content-Length")
        self.size = int(length)
        self.etag = resp.getheader("ETag") or ""
        self.last_modified = resp.getheader("Last-Modified") or ""
        self.identity = f"{url} etag={self.etag} modified={self.last_modified} size={self.size}"

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            c = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = c
        return c

    def _request(self, method: str, headers: Dict[str, str]) -> Tuple[http.client.HTTPResponse, bytes]:
        # One retry, on a fresh connection, when a kept-alive one was closed by the store.
        for attempt in (0, 1):
            c = self._conn()
            try:
                c.request(method, self._path, headers=headers)
                resp = c.getresponse()
                body = resp.read()
                return resp, body
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                c.close()
                self._local.conn = None
                if attempt:
                    raise
            except BaseException:
                c.close()
                self._local.conn = None
                raise
        raise AssertionError("unreachable")

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer only at the end), one range request."""
        if offset >= self.size or size <= 0:
            return b""
        end = min(offset + size, self.size) - 1
        headers = {"Range": f"bytes={offset}-{end}"}
        if self.etag:
            headers["If-Match"] = self.etag
        elif self.last_modified:
            headers["If-Unmodified-Since"] = self.last_modified
        resp, body = self._request("GET", headers)
        if resp.status == 412:
            raise OSError(f"{self.url}: the object changed on the store (412); open it again")
        if resp.status != 206:
            raise OSError(f"{self.url}: range request answered {resp.status} {resp.reason}, not 206")
        if len(body) != end - offset + 1:
            raise OSError(f"{self.url}: {len(body)} of {end - offset + 1} bytes at {offset}")
        return body
