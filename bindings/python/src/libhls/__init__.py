"""libhls: on-demand HLS (fMP4/CMAF + WebVTT) from ordinary media files, through ctypes.

    import libhls

    with libhls.Context(segment_duration=6) as ctx, ctx.open("movie.mkv") as media:
        print(media.get_bytes("master.m3u8").decode())
        with media.get("t0_init.mp4") as buf:       # zero-copy Buffer
            print(buf.content_type, len(buf))

``libhls.wsgi.App(root)`` serves ``/<file under root>/<name>`` to HTTP players.
"""

from ._errors import (
    ClosedError,
    FileChangedError,
    HlsError,
    InternalError,
    InvalidArgumentError,
    InvalidMediaError,
    InvalidUtf8Error,
    IoError,
    NoPlayableTracksError,
    NotFoundError,
    NullArgumentError,
    PanicError,
    Status,
    UnsupportedError,
)
from ._core import (
    Buffer,
    Context,
    LogLevel,
    Media,
    TranscodePolicy,
    library_version,
    set_log_callback,
)
from ._ffi import LibraryNotFoundError, LibraryVersionError
from ._source import HTTPSource
from ._version import __version__

# Public classes show (and pickle) as libhls.X, not libhls._module.X.
for _name in (
    "Buffer", "ClosedError", "Context", "FileChangedError", "HlsError", "HTTPSource", "InternalError",
    "InvalidArgumentError", "InvalidMediaError", "InvalidUtf8Error", "IoError",
    "LibraryNotFoundError", "LibraryVersionError", "LogLevel", "Media", "NoPlayableTracksError",
    "NotFoundError", "NullArgumentError", "PanicError", "Status", "TranscodePolicy",
    "UnsupportedError",
):
    globals()[_name].__module__ = __name__
del _name

__all__ = [
    "Buffer",
    "ClosedError",
    "Context",
    "FileChangedError",
    "HlsError",
    "HTTPSource",
    "InternalError",
    "InvalidArgumentError",
    "InvalidMediaError",
    "InvalidUtf8Error",
    "IoError",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "LogLevel",
    "Media",
    "NoPlayableTracksError",
    "NotFoundError",
    "NullArgumentError",
    "PanicError",
    "Status",
    "TranscodePolicy",
    "UnsupportedError",
    "__version__",
    "library_version",
    "set_log_callback",
]
