"""Context, Media and Buffer: the C handles wrapped so that misuse raises instead of crashing."""

from __future__ import annotations

import atexit
import builtins
import ctypes
import datetime
import enum
import json
import math
import operator
import os
import sys
import threading
import weakref
from ctypes import POINTER, byref
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import _ffi
from ._errors import (
    ClosedError,
    HlsError,
    InternalError,
    InvalidArgumentError,
    InvalidUtf8Error,
    Status,
    error_from,
)
from ._ffi import HlsBuffer, lib

__all__ = [
    "Buffer",
    "Context",
    "LogLevel",
    "Media",
    "TranscodePolicy",
    "ClipPolicy",
    "library_version",
    "set_log_callback",
]

StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
Seconds = Union[float, int, datetime.timedelta]

_U32 = 2**32 - 1
_U64 = 2**64 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class TranscodePolicy(enum.IntEnum):
    """``HlsTranscodePolicy``: which audio tracks are served as AAC."""

    #: Transcode to AAC only what HLS players can't play (DTS, TrueHD, Vorbis, PCM...).
    UNPLAYABLE = 0
    #: Also transcode FLAC, Opus, AC-3, E-AC-3 and MP3, so every browser plays every track.
    BROWSER_SAFE = 1
    #: Never transcode: unplayable audio tracks are reported as not served.
    NEVER = 2
    #: Default: like UNPLAYABLE, plus an AAC rendition ("tNa.m3u8") beside every AC-3/E-AC-3/MP3
    #: track, so every browser plays every language.
    ADD_AAC = 3


class ClipPolicy(enum.IntEnum):
    """``HlsClipPolicy``: where a clip starts relative to the keyframes."""

    #: Default: decode from the keyframe at or before the start; the init segments' edit lists
    #: hide what precedes it, so players that apply edit lists start exactly there.
    KEYFRAME_ALIGNED = 0
    #: Start at the first keyframe at or after the start; nothing is hidden.
    KEYFRAME_FORWARD = 1


class LogLevel(enum.IntEnum):
    """Levels of libhls's (and FFmpeg's) log messages."""

    ERROR = 1
    WARNING = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5


def library_version() -> str:
    """Version of the libhls shared library loaded at run time (``hls_version()``)."""
    return _ffi.library_version


def _last_error() -> str:
    raw: Optional[bytes] = lib.hls_last_error_message()
    return (raw or b"").decode("utf-8", "replace")


def _check(status: int) -> None:
    """Raises for a failing status of a call without ``_ex`` (message: this thread's last)."""
    if status != Status.OK:
        raise error_from(status, _last_error())


def _take_error(status: int, err: Any) -> HlsError:
    """The exception for a failing ``_ex`` call; frees the ``HlsError``."""
    if not err:
        return error_from(status, "")
    try:
        st = int(lib.hls_error_status(err))
        raw: Optional[bytes] = lib.hls_error_message(err)
        message = (raw or b"").decode("utf-8", "replace")
    finally:
        lib.hls_error_free(err)
    return error_from(st or status, message)


def _encode_name(name: Union[str, bytes]) -> bytes:
    if isinstance(name, str):
        try:
            raw = name.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidUtf8Error(
                Status.INVALID_UTF8, f"name {name!r} is not valid UTF-8 ({exc.reason})"
            ) from None
    elif isinstance(name, (bytes, bytearray, memoryview)):
        raw = bytes(name)
    else:
        raise TypeError(f"name must be str or bytes, not {type(name).__name__}")
    if b"\0" in raw:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"name {name!r} contains a NUL byte")
    return raw


def _encode_path(path: StrPath) -> bytes:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be str, bytes or os.PathLike, not {type(path).__name__}")
    try:
        raw = os.fsencode(path)  # a str from os.listdir keeps undecodable bytes (surrogateescape)
    except UnicodeEncodeError as exc:
        raise InvalidUtf8Error(
            Status.INVALID_UTF8, f"path {path!r} is not valid UTF-8 ({exc.reason})"
        ) from None
    if b"\0" in raw:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"path {path!r} contains a NUL byte")
    return raw


class _Guard:
    """Shared use of a C handle versus its release.

    Any number of threads may be inside ``enter``/``leave`` at once (the C API allows it);
    ``close`` refuses new users at once, waits for the calls in progress, then releases the
    handle exactly once. Afterwards ``enter`` raises :class:`ClosedError`.
    """

    __slots__ = ("_ptr", "_users", "_lock", "_idle", "_what")

    def __init__(self, ptr: Any, what: str) -> None:
        self._ptr = ptr
        self._users = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._what = what

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def enter(self) -> Any:
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError(f"{self._what} is closed")
            self._users += 1
            return ptr

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._ptr is None:
                self._idle.notify_all()

    def close(self, release: Callable[[], Any]) -> None:
        with self._lock:
            if self._ptr is None:
                return
            self._ptr = None
            while self._users:
                self._idle.wait()
        release()


def _release_when_collected(owner: object, release: Any, ptr: Any) -> Callable[[], Any]:
    """Calls ``release(ptr)`` once: when ``owner`` is garbage-collected, or when the returned
    finalizer is called (by ``close``). Not at interpreter exit: other threads may still be
    inside libhls then, and the process is going away anyway."""
    finalizer = weakref.finalize(owner, release, ptr)
    setattr(finalizer, "atexit", False)  # (setattr: Python 3.9's typeshed lacks the setter)
    return finalizer


def _seconds_to_ms(value: Seconds, option: str, limit: int) -> int:
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{option} must be seconds (float) or a timedelta, not {value!r}")
    if not math.isfinite(seconds) or seconds < 0 or seconds * 1000 > limit:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{option}: {value!r} is out of range")
    return round(seconds * 1000)


def _integer(value: Any, option: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{option} must be an integer, not {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{option} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{option}: {value!r} is out of range")
    return number


def _flag(value: Any, option: str) -> int:
    if not isinstance(value, int):
        raise TypeError(f"{option} must be a bool, not {value!r}")
    return 1 if value else 0


class EncryptionMethod(enum.IntEnum):
    """``HlsEncryptionMethod``: how a presentation's segments are protected."""

    #: In the clear.
    NONE = 0
    #: Whole media segments AES-128-CBC with PKCS7 padding (``METHOD=AES-128``); init clear.
    AES_128 = 1
    #: Samples encrypted in place, CMAF ``cbcs`` (``METHOD=SAMPLE-AES``).
    SAMPLE_AES = 2


class Encryption:
    """A static key for :meth:`Context.open` (``hls_open_options_set_encryption``).

    ``key``: the 16-byte AES-128 key. ``key_uri``: written in the playlists (your server serves
    the key there, behind its own checks). ``iv``: 16 bytes for a constant IV, None for the
    segment number (RFC 8216 §5.2). ``key_id``: 16 bytes (SAMPLE-AES ``tenc``). ``keyformat``
    and ``keyformat_versions``: e.g. ``"com.apple.streamingkeydelivery"`` and ``"1"``.
    """

    def __init__(
        self,
        method: EncryptionMethod,
        key: bytes,
        key_uri: str,
        *,
        iv: Optional[bytes] = None,
        key_id: Optional[bytes] = None,
        keyformat: Optional[str] = None,
        keyformat_versions: Optional[str] = None,
    ) -> None:
        for name, value in (("key", key), ("iv", iv), ("key_id", key_id)):
            if value is not None and len(value) != 16:
                raise ValueError(f"{name} must be 16 bytes, not {len(value)}")
        self.method = EncryptionMethod(method)
        self.key, self.key_uri, self.iv, self.key_id = bytes(key), key_uri, iv, key_id
        self.keyformat, self.keyformat_versions = keyformat, keyformat_versions

    def __repr__(self) -> str:  # never the key
        return f"Encryption({self.method.name}, key_uri={self.key_uri!r})"

    def _apply(self, opts: Any) -> None:
        """Sets this key on ``HlsOpenOptions`` ``opts`` (``hls_open_options_set_encryption``)."""
        info = lib.hls_key_info_new()
        if not info:
            raise InternalError(Status.INTERNAL, "hls_key_info_new: out of memory")
        try:
            _check(lib.hls_key_info_set_method(info, int(self.method)))
            _check(lib.hls_key_info_set_key(info, self.key))
            _check(lib.hls_key_info_set_uri(info, self.key_uri.encode()))
            if self.key_id is not None:
                _check(lib.hls_key_info_set_key_id(info, bytes(self.key_id)))
            if self.iv is not None:
                _check(lib.hls_key_info_set_iv(info, 1, bytes(self.iv)))
            if self.keyformat is not None or self.keyformat_versions is not None:
                kf = self.keyformat.encode() if self.keyformat is not None else None
                kv = self.keyformat_versions.encode() if self.keyformat_versions is not None else None
                _check(lib.hls_key_info_set_keyformat(info, kf, kv))
            _check(lib.hls_open_options_set_encryption(opts, info))
        finally:
            lib.hls_key_info_free(info)


class Context:
    """The engine: configuration, registry of opened media, caches. Thread-safe.

    Options (all keyword-only; omitted ones keep libhls's defaults):

    - ``segment_duration``: target segment length, seconds or a timedelta (1..60 s; 6 s).
    - ``cache_bytes``: byte budget of the segment cache (256 MiB; 0 disables caching).
    - ``idle_media``: ``(count, ttl)``: how many closed media stay indexed, and for how long
      (seconds or a timedelta) (64, 300 s).
    - ``transcode_policy``: a :class:`TranscodePolicy` (``UNPLAYABLE``).
    - ``aac_bitrate``: AAC bit/s for stereo output, 32000..512000 (128000).
    - ``aac_keep_surround``: keep 5.1 sources as 5.1 AAC instead of a stereo downmix (False).
    - ``use_container_index``: index Matroska from its Cues (True) or by a packet scan.
    - ``thumbnails``: ``(width, interval)``: scrubbing thumbnails (``thumbnails.vtt``, its 5x5
      sprite sheets ``thumbs_<k>.jpg``, ``thumb_<ms>.jpg``): tile width in pixels, 16..1920 or
      0 for none, and the time between tiles, seconds or a timedelta, 0.5..600 s (320, 10 s).
    - ``index_dir``: a directory where the index of every opened file is persisted, so that
      another process (or a restart) opens an unchanged file without reading its media (None:
      indexes live in memory only). Stale or damaged index files are ignored and rewritten; a
      directory that cannot be written only costs the persisting. ``media.info["index_from_disk"]``
      says where an index came from; ``stats`` counts ``index_file_hits``, ``_misses``, ``_rewrites``.
    - ``max_index_bytes``: ceiling on the memory one open file's index may use (1 GiB; at
      least 4096); a file that would need more fails to open with :class:`UnsupportedError`.
    - ``source_cache_bytes``: budget of the block cache of sources' bytes (:meth:`open_source`,
      :meth:`open_url`; 64 MiB; 0 turns it off): bytes read are kept, so each byte of an object
      is read about once while it stays hot; ``stats`` counts ``source_cache_hit_bytes``.

    An unknown option is a ``TypeError``; a value of the wrong type a ``TypeError``; a value
    out of range an :class:`InvalidArgumentError`. Use as a context manager, or call
    :meth:`close` (idempotent). Media opened from it stay usable after it is closed.
    """

    def __init__(
        self,
        *,
        segment_duration: Optional[Seconds] = None,
        cache_bytes: Optional[int] = None,
        idle_media: Optional[Tuple[int, Seconds]] = None,
        transcode_policy: Optional[Union[TranscodePolicy, int]] = None,
        aac_bitrate: Optional[int] = None,
        aac_keep_surround: Optional[bool] = None,
        use_container_index: Optional[bool] = None,
        thumbnails: Optional[Tuple[int, Seconds]] = None,
        index_dir: Optional[StrPath] = None,
        max_index_bytes: Optional[int] = None,
        source_cache_bytes: Optional[int] = None,
    ) -> None:
        setters: List[Tuple[Any, Tuple[Union[int, bytes], ...]]] = []
        if segment_duration is not None:
            ms = _seconds_to_ms(segment_duration, "segment_duration", _U32)
            setters.append((lib.hls_config_set_segment_duration_ms, (ms,)))
        if cache_bytes is not None:
            size = _integer(cache_bytes, "cache_bytes", 0, _U64)
            setters.append((lib.hls_config_set_cache_bytes, (size,)))
        if idle_media is not None:
            if not isinstance(idle_media, tuple) or len(idle_media) != 2:
                raise TypeError(f"idle_media must be a (count, ttl) tuple, not {idle_media!r}")
            count = _integer(idle_media[0], "idle_media count", 0, _U32)
            ttl = _seconds_to_ms(idle_media[1], "idle_media ttl", _U64)
            setters.append((lib.hls_config_set_idle_media, (count, ttl)))
        if transcode_policy is not None:
            policy = _integer(transcode_policy, "transcode_policy", _INT_MIN, _INT_MAX)
            setters.append((lib.hls_config_set_transcode_policy, (policy,)))
        if aac_bitrate is not None or aac_keep_surround is not None:
            bitrate = 128_000 if aac_bitrate is None else aac_bitrate
            rate = _integer(bitrate, "aac_bitrate", 0, _U32)
            keep = 0 if aac_keep_surround is None else _flag(aac_keep_surround, "aac_keep_surround")
            setters.append((lib.hls_config_set_aac, (rate, keep)))
        if use_container_index is not None:
            flag = _flag(use_container_index, "use_container_index")
            setters.append((lib.hls_config_set_use_container_index, (flag,)))
        if thumbnails is not None:
            if not isinstance(thumbnails, tuple) or len(thumbnails) != 2:
                raise TypeError(f"thumbnails must be a (width, interval) tuple, not {thumbnails!r}")
            width = _integer(thumbnails[0], "thumbnails width", 0, _U32)
            interval = _seconds_to_ms(thumbnails[1], "thumbnails interval", _U32)
            setters.append((lib.hls_config_set_thumbnails, (width, interval)))
        if index_dir is not None:
            setters.append((lib.hls_config_set_index_dir, (_encode_path(index_dir),)))
        if max_index_bytes is not None:
            ceiling = _integer(max_index_bytes, "max_index_bytes", 0, _U64)
            setters.append((lib.hls_config_set_max_index_bytes, (ceiling,)))
        if source_cache_bytes is not None:
            budget = _integer(source_cache_bytes, "source_cache_bytes", 0, _U64)
            setters.append((lib.hls_config_set_source_cache_bytes, (budget,)))

        cfg = lib.hls_config_new()
        if not cfg:
            raise MemoryError("hls_config_new failed")
        try:
            for setter, args in setters:
                _check(setter(cfg, *args))
            ptr = lib.hls_context_new(cfg)
        finally:
            lib.hls_config_free(cfg)
        if not ptr:
            raise InternalError(Status.INTERNAL, _last_error() or "hls_context_new failed")
        self._guard = _Guard(ptr, "Context")
        self._finalizer = _release_when_collected(self, lib.hls_context_free, ptr)

    def open(
        self,
        path: StrPath,
        *,
        clip: Optional[Tuple[int, Optional[int]]] = None,
        clip_policy: Union[ClipPolicy, int] = ClipPolicy.KEYFRAME_ALIGNED,
        uri_query: Optional[str] = None,
        encryption: Optional[Encryption] = None,
    ) -> "Media":
        """Opens and indexes the media file at ``path`` (``hls_open_with``).

        ``encryption`` encrypts this open with a static key (see :class:`Encryption`).

        ``clip=(from_ms, to_ms)`` opens the clip ``[from_ms, to_ms)`` of the presentation
        (milliseconds; ``to_ms`` None or 0: to the end), starting as ``clip_policy`` says; a clip
        is its own presentation. ``uri_query`` is appended (``?<query>``) to every URI its
        playlists write (a server's clip arguments). Concurrent opens of one file with equal
        options index it once; reopening an unchanged, already indexed file costs one ``stat``.
        Raises :class:`IoError`, :class:`InvalidMediaError`, :class:`NoPlayableTracksError`,
        :class:`InvalidArgumentError` (a bad clip, or one starting at or beyond the end), ...
        and :class:`ClosedError` once closed.
        """
        raw = _encode_path(path)
        media = POINTER(_ffi.HlsMedia)()
        err = POINTER(_ffi.HlsError)()
        opts = None
        if clip is not None or uri_query is not None or encryption is not None:
            opts = lib.hls_open_options_new()
            if not opts:
                raise InternalError(Status.INTERNAL, "hls_open_options_new: out of memory")
        try:
            if encryption is not None:
                encryption._apply(opts)
            if clip is not None:
                try:
                    start, end = clip
                except (TypeError, ValueError):
                    raise InvalidArgumentError(
                        Status.INVALID_ARGUMENT, f"clip must be (from_ms, to_ms), not {clip!r}"
                    ) from None
                start = _integer(start, "clip from_ms", 0, _U64)
                end = 0 if end is None else _integer(end, "clip to_ms", 0, _U64)
                policy = _integer(clip_policy, "clip_policy", _INT_MIN, _INT_MAX)
                _check(lib.hls_open_options_set_clip(opts, start, end, policy))
            if uri_query is not None:
                _check(lib.hls_open_options_set_uri_query(opts, uri_query.encode("utf-8")))
            ptr = self._guard.enter()
            try:
                status = lib.hls_open_with(ptr, raw, opts, byref(media), byref(err))
            finally:
                self._guard.leave()
        finally:
            if opts is not None:
                lib.hls_open_options_free(opts)
        if status != Status.OK:
            raise _take_error(status, err)
        return Media(media, os.fsdecode(raw))

    def open_source(self, source: Any, identity: Optional[str] = None, size: Optional[int] = None) -> "Media":
        """Opens media read through ``source`` (``hls_open_source``): an object with
        ``read_at(offset, size) -> bytes`` (fewer bytes only at the end) and ``size``, or a
        file-like object with ``seek``/``readinto``, or an :class:`HTTPSource`.

        ``identity`` names this version of the bytes (default: ``source.identity``): opens of one
        identity share one presentation, a new identity is a new one. libhls calls the reader
        from the threads that serve, and keeps it until the media is closed and has left the
        idle list. A reader that raises fails the request with :class:`IoError`.
        """
        from ._source import make_source, size_of

        ident = identity if identity is not None else getattr(source, "identity", None)
        if not ident:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "open_source: give identity=")
        n = size_of(source, size)
        src, _ = make_source(source, n, str(ident).encode("utf-8"))
        media = POINTER(_ffi.HlsMedia)()
        err = POINTER(_ffi.HlsError)()
        ptr = self._guard.enter()
        try:
            # From here libhls owns the registration: its release callback removes it once.
            status = lib.hls_open_source(ptr, byref(src), None, byref(media), byref(err))
        finally:
            self._guard.leave()
        if status != Status.OK:
            raise _take_error(status, err)
        return Media(media, str(ident))

    def open_url(self, url: str) -> "Media":
        """Opens the object at ``url`` of an HTTP store (:class:`HTTPSource`: a HEAD, then
        range requests; at most 3 for an MP4's open)."""
        from ._source import HTTPSource

        return self.open_source(HTTPSource(url))

    @property
    def stats(self) -> Dict[str, Any]:
        """Counters of the context (cache hits/misses/bytes, opens, indexings, ...)."""
        buf = HlsBuffer()
        ptr = self._guard.enter()
        try:
            status = lib.hls_context_stats_json(ptr, byref(buf))
        finally:
            self._guard.leave()
        _check(status)
        return _json(buf)

    @property
    def closed(self) -> bool:
        return self._guard.closed

    def close(self) -> None:
        """Frees the context (waits for calls in progress). Idempotent."""
        self._guard.close(self._finalizer)

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<libhls.Context {'closed' if self.closed else 'open'}>"


def _json(buf: HlsBuffer) -> Dict[str, Any]:
    try:
        text = ctypes.string_at(buf.data, buf.len) if buf.len else b""
    finally:
        lib.hls_free_buffer(byref(buf))
    value: Dict[str, Any] = json.loads(text)
    return value


class Media:
    """One opened, indexed media file (from :meth:`Context.open`). Thread-safe: any number of
    threads may call :meth:`get` at once. Use as a context manager, or call :meth:`close`
    (idempotent; it waits for calls in progress). Buffers it returned stay valid after it is
    closed."""

    def __init__(self, ptr: Any, path: str) -> None:
        self.path = path
        self._guard = _Guard(ptr, "Media")
        self._finalizer = _release_when_collected(self, lib.hls_close, ptr)

    def _serve(self, fn: Any, name: Union[str, bytes]) -> "Buffer":
        raw = _encode_name(name)
        buf = HlsBuffer()
        err = POINTER(_ffi.HlsError)()
        ptr = self._guard.enter()
        try:
            status = fn(ptr, raw, byref(buf), byref(err))
        finally:
            self._guard.leave()
        if status != Status.OK:
            raise _take_error(status, err)
        return Buffer(_Owner(buf))

    def get(self, name: Union[str, bytes]) -> "Buffer":
        """Any name (``master.m3u8``, ``t0.m3u8``, ``t0_init.mp4``, ``t0_3.m4s``, ``t2.vtt``,
        ``thumbnails.vtt``, ``thumbs_0.jpg``, ``thumb_5000.jpg``, ...): a :class:`Buffer` over libhls's bytes, without a copy (``hls_get_ex``).
        Unknown names raise :class:`NotFoundError` (a LookupError)."""
        return self._serve(lib.hls_get_ex, name)

    def playlist(self, name: Union[str, bytes]) -> "Buffer":
        """A playlist only (``hls_playlist_ex``)."""
        return self._serve(lib.hls_playlist_ex, name)

    def segment(self, name: Union[str, bytes]) -> "Buffer":
        """An init segment, media segment or WebVTT file only (``hls_segment_ex``)."""
        return self._serve(lib.hls_segment_ex, name)

    def get_bytes(self, name: Union[str, bytes]) -> bytes:
        """:meth:`get`, copied into ``bytes`` (the libhls buffer is released at once)."""
        with self.get(name) as buf:
            return buf.tobytes()

    @property
    def info(self) -> Dict[str, Any]:
        """What was found: duration, every track (type, codec, language, served or why not),
        and ``indexed_from``."""
        buf = HlsBuffer()
        ptr = self._guard.enter()
        try:
            status = lib.hls_media_info_json(ptr, byref(buf))
        finally:
            self._guard.leave()
        _check(status)
        return _json(buf)

    @property
    def duration(self) -> float:
        """Duration of the presentation in seconds."""
        ptr = self._guard.enter()
        try:
            return float(lib.hls_media_duration(ptr))
        finally:
            self._guard.leave()

    @property
    def closed(self) -> bool:
        return self._guard.closed

    def close(self) -> None:
        """Closes the handle (waits for calls in progress). Idempotent."""
        self._guard.close(self._finalizer)

    def __enter__(self) -> "Media":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<libhls.Media {self.path!r}{' closed' if self.closed else ''}>"


class _Owner:
    """Holds one filled ``HlsBuffer`` and releases it once: explicitly, or when the last
    reference (the :class:`Buffer`, or a memoryview's ctypes array) goes."""

    __slots__ = ("buf",)

    def __init__(self, buf: HlsBuffer) -> None:
        self.buf = buf

    def free(self) -> None:
        if self.buf.data is not None:
            lib.hls_free_buffer(byref(self.buf))

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class Buffer:
    """Bytes served by libhls (a playlist, segment or JSON), not copied.

    - ``content_type``: the MIME type (``"video/mp4"``, ``"application/vnd.apple.mpegurl"``...)
    - ``len(buf)``, ``bytes(buf)`` / :meth:`tobytes` (copies), :meth:`memoryview` (no copy,
      read-only; ``memoryview(buf)`` also works on Python 3.12+).
    - :meth:`close` (or ``with``) releases the bytes at once; otherwise they are released when
      the Buffer and every memoryview taken from it are gone.

    The bytes stay valid after the :class:`Media` (or :class:`Context`) is closed. A Buffer
    cannot be closed while a memoryview taken from it (or a slice of one, or anything holding
    one, such as a NumPy array) is alive: :meth:`close` raises ``BufferError`` then, like
    resizing a ``bytearray`` with exports. Release the views first (``view.release()`` or
    ``with buf.memoryview() as view:``). After close every access raises
    :class:`ClosedError`; views can never outlive the bytes.
    """

    __slots__ = ("_lock", "_owner", "_array", "_baseline", "_len", "content_type")

    def __init__(self, owner: _Owner) -> None:
        self._lock = threading.Lock()
        self._owner: Optional[_Owner] = owner
        self._array: Optional[ctypes.Array[ctypes.c_ubyte]] = None
        self._baseline = 0
        self._len: int = owner.buf.len
        raw: Optional[bytes] = owner.buf.content_type
        self.content_type: str = (raw or b"").decode("ascii", "replace")

    def _live(self) -> _Owner:
        owner = self._owner
        if owner is None:
            raise ClosedError("Buffer is closed")
        return owner

    def __len__(self) -> int:
        with self._lock:
            self._live()
            return self._len

    @property
    def closed(self) -> bool:
        return self._owner is None

    def tobytes(self, start: int = 0, stop: Optional[int] = None) -> bytes:
        """A copy of ``buf[start:stop]`` (slice semantics) as ``bytes``."""
        with self._lock:
            owner = self._live()
            begin, end, _ = slice(start, stop).indices(self._len)
            if end <= begin:
                return b""
            return ctypes.string_at(owner.buf.data + begin, end - begin)

    def __bytes__(self) -> bytes:
        return self.tobytes()

    def memoryview(self) -> builtins.memoryview:
        """A read-only, zero-copy ``memoryview`` (format ``'B'``) over the bytes."""
        with self._lock:
            owner = self._live()
            if self._len == 0:
                return memoryview(b"")
            if self._array is None:
                array = (ctypes.c_ubyte * self._len).from_address(owner.buf.data)
                # The array keeps the owner (hence the bytes) alive as long as any view of it.
                array._libhls_owner = owner  # type: ignore[attr-defined]
                self._array = array
                del array
                self._baseline = self._refs()
            raw = memoryview(self._array)
            try:
                flat = raw.cast("B")
                try:
                    return flat.toreadonly()
                finally:
                    flat.release()
            finally:
                raw.release()

    def __buffer__(self, flags: int) -> builtins.memoryview:  # Python 3.12+ (PEP 688)
        return self.memoryview()

    def _refs(self) -> int:
        # References to the private ctypes array: ours, plus one per live memoryview chain
        # (each memoryview, slice or re-export shares one managed buffer holding the array).
        array = self._array
        return sys.getrefcount(array)

    @property
    def exports(self) -> int:
        """How many memoryviews (managed buffers) over the bytes are alive."""
        with self._lock:
            return 0 if self._array is None else self._refs() - self._baseline

    def close(self) -> None:
        """Releases the bytes now (``hls_free_buffer``). Idempotent. Raises ``BufferError``
        while a memoryview taken from the buffer is alive."""
        with self._lock:
            owner = self._owner
            if owner is None:
                return
            if self._array is not None:
                views = self._refs() - self._baseline
                if views > 0:
                    raise BufferError(
                        f"Buffer has {views} exported memoryview(s): release them before close()"
                    )
            self._owner = None
            self._array = None
            owner.free()

    def __enter__(self) -> "Buffer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._owner is None else f"{self._len} bytes"
        return f"<libhls.Buffer {self.content_type} {state}>"


# --- Logging -------------------------------------------------------------------------------

LogCallback = Callable[[LogLevel, str], None]
_log_lock = threading.Lock()
# Every thunk ever installed stays alive: another thread may still be inside a replaced one.
_log_thunks: List[Any] = []
_log_installed = False


def set_log_callback(callback: Optional[LogCallback], max_level: int = LogLevel.WARNING) -> None:
    """Receives libhls's and FFmpeg's messages up to ``max_level`` as ``callback(level,
    message)``, from any thread (``hls_set_log_callback``). ``None`` removes it. Exceptions
    raised by the callback are ignored. Example: route them to :mod:`logging`::

        log = logging.getLogger("libhls")
        levels = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}
        libhls.set_log_callback(lambda lvl, msg: log.log(levels.get(lvl, logging.DEBUG), msg))
    """
    global _log_installed
    level = _integer(max_level, "max_level", _INT_MIN, _INT_MAX)
    with _log_lock:
        if callback is None:
            lib.hls_set_log_callback(_ffi.HlsLogCallback(), None, 0)
            _log_installed = False
            return

        def thunk(lvl: int, message: Optional[bytes], _userdata: Any) -> None:
            try:
                try:
                    named: LogLevel = LogLevel(lvl)
                except ValueError:
                    named = LogLevel.TRACE
                callback(named, (message or b"").decode("utf-8", "replace"))
            except BaseException:  # never unwind into libhls
                pass

        new = _ffi.HlsLogCallback(thunk)
        _log_thunks.append(new)
        lib.hls_set_log_callback(new, None, level)
        _log_installed = True


def _remove_log_callback_at_exit() -> None:
    if _log_installed:
        lib.hls_set_log_callback(_ffi.HlsLogCallback(), None, 0)


atexit.register(_remove_log_callback_at_exit)
