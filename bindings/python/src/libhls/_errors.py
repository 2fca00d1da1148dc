"""Statuses and exceptions: one ``HlsError`` subclass per ``HlsStatus``."""

from __future__ import annotations

import enum
from typing import Any, Dict, Tuple, Type

from ._ffi import lib

__all__ = [
    "Status",
    "HlsError",
    "NullArgumentError",
    "InvalidUtf8Error",
    "InvalidArgumentError",
    "NotFoundError",
    "IoError",
    "InvalidMediaError",
    "NoPlayableTracksError",
    "FileChangedError",
    "UnsupportedError",
    "PanicError",
    "InternalError",
    "KeyUnavailableError",
    "ClosedError",
    "error_from",
]


class Status(enum.IntEnum):
    """``HlsStatus``: the result of every fallible C call (values fixed, never reused)."""

    OK = 0
    NULL_ARGUMENT = 1
    INVALID_UTF8 = 2
    INVALID_ARGUMENT = 3
    NOT_FOUND = 4
    IO = 5
    INVALID_MEDIA = 6
    NO_PLAYABLE_TRACKS = 7
    FILE_CHANGED = 8
    UNSUPPORTED = 9
    PANIC = 10
    INTERNAL = 11
    KEY_UNAVAILABLE = 12

    @property
    def c_name(self) -> str:
        """The C enumerator's name, e.g. ``"HLS_ERR_NOT_FOUND"``."""
        return "HLS_OK" if self is Status.OK else f"HLS_ERR_{self.name}"

    @property
    def description(self) -> str:
        """libhls's own text for the status (``hls_status_str``)."""
        raw: bytes = lib.hls_status_str(int(self))
        return raw.decode("utf-8", "replace")


class HlsError(Exception):
    """A libhls call failed. ``status`` is a :class:`Status`, ``message`` libhls's detail
    (which file, which stream, why). ``str(err)`` is ``"HLS_ERR_...: message"``."""

    status: Status = Status.INTERNAL

    def __init__(self, status: "Status | int", message: str = "") -> None:
        try:
            self.status = Status(status)
        except ValueError:
            self.status = Status.INTERNAL
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.status.c_name}: {self.message}" if self.message else self.status.c_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status!r}, {self.message!r})"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (int(self.status), self.message))


class NullArgumentError(HlsError):
    """``HLS_ERR_NULL_ARGUMENT``: a required pointer was NULL (a bug in the caller)."""


class InvalidUtf8Error(HlsError, ValueError):
    """``HLS_ERR_INVALID_UTF8``: a path or name is not valid UTF-8."""


class InvalidArgumentError(HlsError, ValueError):
    """``HLS_ERR_INVALID_ARGUMENT``: a bad option value, or a malformed name (leading '/',
    "..", '?', control characters, NUL)."""


class NotFoundError(HlsError, LookupError):
    """``HLS_ERR_NOT_FOUND``: no playlist of this media names that name."""


class IoError(HlsError, OSError):
    """``HLS_ERR_IO``: the file is missing, is a directory, or cannot be read.

    Also an :class:`OSError` (``errno`` is None: libhls reports no errno)."""


class InvalidMediaError(HlsError):
    """``HLS_ERR_INVALID_MEDIA``: the file is empty, truncated, corrupt or not media."""


class NoPlayableTracksError(HlsError):
    """``HLS_ERR_NO_PLAYABLE_TRACKS``: no audio or video track that can be served."""


class FileChangedError(HlsError):
    """``HLS_ERR_FILE_CHANGED``: the file changed on disk after it was indexed; open it
    again."""


class UnsupportedError(HlsError):
    """``HLS_ERR_UNSUPPORTED``: a codec or feature that libhls does not support."""


class PanicError(HlsError):
    """``HLS_ERR_PANIC``: an internal libhls bug was caught; the call had no effect."""


class InternalError(HlsError):
    """``HLS_ERR_INTERNAL``: any other internal failure."""


class KeyUnavailableError(HlsError):
    """``HLS_ERR_KEY_UNAVAILABLE``: the key provider gave no usable key; nothing is served in the
    clear instead."""


class ClosedError(ValueError):
    """The Context, Media or Buffer was closed (like I/O on a closed file: a ValueError).

    Not an :class:`HlsError`: libhls was not called."""


_BY_STATUS: Dict[Status, Type[HlsError]] = {
    Status.NULL_ARGUMENT: NullArgumentError,
    Status.INVALID_UTF8: InvalidUtf8Error,
    Status.INVALID_ARGUMENT: InvalidArgumentError,
    Status.NOT_FOUND: NotFoundError,
    Status.IO: IoError,
    Status.INVALID_MEDIA: InvalidMediaError,
    Status.NO_PLAYABLE_TRACKS: NoPlayableTracksError,
    Status.FILE_CHANGED: FileChangedError,
    Status.UNSUPPORTED: UnsupportedError,
    Status.PANIC: PanicError,
    Status.INTERNAL: InternalError,
    Status.KEY_UNAVAILABLE: KeyUnavailableError,
}


def error_from(status: int, message: str) -> HlsError:
    """The exception for a failing status (an unknown value becomes :class:`InternalError`)."""
    try:
        st = Status(status)
    except ValueError:
        return InternalError(Status.INTERNAL, f"unknown status {status}: {message}")
    return _BY_STATUS.get(st, InternalError)(st, message)
