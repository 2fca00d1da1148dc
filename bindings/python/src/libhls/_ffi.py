"""ctypes declarations of the whole C API (include/hls.h) and the library lookup.

Every function of hls.h is declared here with its argtypes and restype (the test suite checks
that against the header). Nothing else in the package calls the library except through ``lib``.

Lookup order (the first that loads wins):

1. ``LIBHLS_LIBRARY``: a path to the shared library. When it is set, it is the only candidate:
   an explicit choice is never silently replaced by another copy.
2. pkg-config: ``pkg-config --variable=libdir hls``, then ``<libdir>/libhls.so.0`` and
   ``<libdir>/libhls.so``.
3. ``ctypes.util.find_library("hls")``, then the soname ``libhls.so.0`` through the dynamic
   loader's own search (``LD_LIBRARY_PATH``, the ld.so cache).

When nothing loads, :class:`LibraryNotFoundError` (an ``ImportError``) names every candidate
and why it failed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._version import __version__

__all__ = [
    "HlsBuffer",
    "HlsConfig",
    "HlsContext",
    "HlsError",
    "HlsMedia",
    "HlsLogCallback",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "SIGNATURES",
    "lib",
    "library_path",
]

SONAME = "libhls.so.0"


class LibraryNotFoundError(ImportError):
    """The libhls shared library could not be loaded. ``tried`` lists each candidate and why."""

    def __init__(self, tried: Sequence[str]) -> None:
        self.tried: List[str] = list(tried)
        lines = "\n".join(f"  - {t}" for t in self.tried)
        super().__init__(
            "libhls: could not load the shared library (libhls.so). Tried:\n"
            f"{lines}\n"
            "Set LIBHLS_LIBRARY to the path of libhls.so, or PKG_CONFIG_PATH to the folder "
            "holding hls.pc (e.g. target/release/pkgconfig after `cargo build --release`), or "
            "install libhls (scripts/install.sh)."
        )


class LibraryVersionError(ImportError):
    """The loaded libhls is not a version this package can use."""


# --- Types -----------------------------------------------------------------------------------


class HlsConfig(Structure):
    """Opaque ``HlsConfig`` (only ever used through a pointer)."""


class HlsContext(Structure):
    """Opaque ``HlsContext``."""


class HlsMedia(Structure):
    """Opaque ``HlsMedia``."""


class HlsError(Structure):
    """Opaque ``HlsError`` (status + message of one failure)."""


class HlsOpenOptions(Structure):
    """Opaque ``HlsOpenOptions`` (how one media is opened: ``hls_open_with``)."""


class HlsBuffer(Structure):
    """``HlsBuffer``: every field of the C struct, so that its size and layout match.

    ``data``/``len``/``content_type`` are the public contract; ``_private`` belongs to libhls.
    """

    _fields_ = [
        ("data", c_void_p),  # const uint8_t *
        ("len", c_size_t),
        ("content_type", c_char_p),  # static string, never freed
        ("_private", c_void_p),
    ]


class HlsPart(Structure):
    """``struct HlsPart``: bytes (``data``) or a range of the media file (``offset``)."""

    _fields_ = [
        ("kind", c_int),  # enum HlsPartKind
        ("data", c_void_p),  # const uint8_t *
        ("offset", c_uint64),
        ("len", c_uint64),
    ]


class HlsFileIdentity(Structure):
    """``struct HlsFileIdentity``: the indexed version of the file."""

    _fields_ = [
        ("dev", c_uint64),
        ("ino", c_uint64),
        ("size", c_uint64),
        ("mtime_sec", c_int64),
        ("mtime_nsec", c_int64),
    ]


class HlsParts(Structure):
    """``struct HlsParts``: a response as parts (see ``hls_get_parts`` in ``hls.h``)."""

    _fields_ = [
        ("parts", POINTER(HlsPart)),
        ("count", c_size_t),
        ("len", c_uint64),
        ("content_type", c_char_p),
        ("fd", c_int),
        ("file", HlsFileIdentity),
        ("_private", c_void_p),
    ]


HlsLogCallback = CFUNCTYPE(None, c_int, c_char_p, c_void_p)

# HlsReadAtFn(opaque, offset, buf, len, err, err_cap) -> bytes read, or -1 (message in err).
HlsReadAtFn = CFUNCTYPE(c_int64, c_void_p, c_uint64, c_void_p, c_size_t, c_void_p, c_size_t)
# HlsReleaseFn(opaque).
HlsReleaseFn = CFUNCTYPE(None, c_void_p)


class HlsSource(Structure):
    """``struct HlsSource``: media read through the caller's ``read_at`` callback."""

    _fields_ = [
        ("read_at", HlsReadAtFn),
        ("release", HlsReleaseFn),
        ("opaque", c_void_p),
        ("size", c_uint64),
        ("identity", c_char_p),
    ]

_cfg_p = POINTER(HlsConfig)
_ctx_p = POINTER(HlsContext)
_media_p = POINTER(HlsMedia)
_err_p = POINTER(HlsError)
_buf_p = POINTER(HlsBuffer)
_parts_p = POINTER(HlsParts)
_opts_p = POINTER(HlsOpenOptions)
_status = c_int  # enum HlsStatus

# name -> (argtypes, restype): every function of include/hls.h.
SIGNATURES: Dict[str, Tuple[List[Any], Any]] = {
    "hls_status_str": ([c_int], c_char_p),
    "hls_version": ([], c_char_p),
    "hls_version_number": ([], c_uint32),
    "hls_config_new": ([], _cfg_p),
    "hls_config_free": ([_cfg_p], None),
    "hls_config_set_segment_duration_ms": ([_cfg_p, c_uint32], _status),
    "hls_config_set_cache_bytes": ([_cfg_p, c_uint64], _status),
    "hls_config_set_max_index_bytes": ([_cfg_p, c_uint64], _status),
    "hls_config_set_idle_media": ([_cfg_p, c_uint32, c_uint64], _status),
    "hls_config_set_use_container_index": ([_cfg_p, c_int], _status),
    "hls_config_set_thumbnails": ([_cfg_p, c_uint32, c_uint32], _status),
    "hls_config_set_transcode_policy": ([_cfg_p, c_int], _status),
    "hls_config_set_aac": ([_cfg_p, c_uint32, c_int], _status),
    "hls_config_set_index_dir": ([_cfg_p, c_char_p], _status),
    "hls_context_new": ([_cfg_p], _ctx_p),
    "hls_context_free": ([_ctx_p], None),
    "hls_context_stats_json": ([_ctx_p, _buf_p], _status),
    "hls_set_log_callback": ([HlsLogCallback, c_void_p, c_int], None),
    "hls_open": ([_ctx_p, c_char_p, POINTER(_media_p)], _status),
    "hls_open_ex": ([_ctx_p, c_char_p, POINTER(_media_p), POINTER(_err_p)], _status),
    "hls_close": ([_media_p], None),
    "hls_playlist": ([_media_p, c_char_p, _buf_p], _status),
    "hls_playlist_ex": ([_media_p, c_char_p, _buf_p, POINTER(_err_p)], _status),
    "hls_segment": ([_media_p, c_char_p, _buf_p], _status),
    "hls_segment_ex": ([_media_p, c_char_p, _buf_p, POINTER(_err_p)], _status),
    "hls_get": ([_media_p, c_char_p, _buf_p], _status),
    "hls_get_ex": ([_media_p, c_char_p, _buf_p, POINTER(_err_p)], _status),
    "hls_get_parts": ([_media_p, c_char_p, _parts_p], _status),
    "hls_get_parts_ex": ([_media_p, c_char_p, _parts_p, POINTER(_err_p)], _status),
    "hls_get_parts_min": ([_media_p, c_char_p, c_uint64, _parts_p, POINTER(_err_p)], _status),
    "hls_segment_parts": ([_media_p, c_char_p, _parts_p], _status),
    "hls_segment_parts_ex": ([_media_p, c_char_p, _parts_p, POINTER(_err_p)], _status),
    "hls_free_parts": ([_parts_p], None),
    "hls_media_info_json": ([_media_p, _buf_p], _status),
    "hls_media_duration": ([_media_p], c_double),
    "hls_name_cost": ([_media_p, c_char_p], c_int),
    "hls_name_is_light": ([_media_p, c_char_p], c_int),
    "hls_free_buffer": ([_buf_p], None),
    "hls_error_status": ([_err_p], _status),
    "hls_error_message": ([_err_p], c_char_p),
    "hls_error_free": ([_err_p], None),
    "hls_last_error_message": ([], c_char_p),
    "hls_open_options_new": ([], _opts_p),
    "hls_open_options_free": ([_opts_p], None),
    "hls_open_options_clone": ([_opts_p], _opts_p),
    "hls_open_with": ([_ctx_p, c_char_p, _opts_p, POINTER(_media_p), POINTER(_err_p)], _status),
    "hls_open_indexed": ([_ctx_p, c_char_p, _opts_p, POINTER(_media_p), POINTER(_err_p)], _status),
    "hls_open_indexed_stat": (
        [_ctx_p, c_char_p, _opts_p, POINTER(HlsFileIdentity), POINTER(_media_p), POINTER(_err_p)],
        _status,
    ),
    # --- clip ---
    "hls_open_options_set_clip": ([_opts_p, c_uint64, c_uint64, c_int], _status),
    "hls_open_options_set_uri_query": ([_opts_p, c_char_p], _status),
    # --- encryption (issue #17) ---
    "hls_config_set_key_provider": ([_cfg_p, c_void_p, c_void_p], _status),
    "hls_open_options_set_encryption": ([_opts_p, c_void_p], _status),
    "hls_open_options_set_key_provider": ([_opts_p, c_void_p, c_void_p], _status),
    "hls_key_info_new": ([], c_void_p),
    "hls_key_info_free": ([c_void_p], None),
    "hls_key_info_set_method": ([c_void_p, c_int], _status),
    "hls_key_info_set_key": ([c_void_p, c_char_p], _status),
    "hls_key_info_set_key_id": ([c_void_p, c_char_p], _status),
    "hls_key_info_set_iv": ([c_void_p, c_int, c_char_p], _status),
    "hls_key_info_set_uri": ([c_void_p, c_char_p], _status),
    "hls_key_info_set_keyformat": ([c_void_p, c_char_p, c_char_p], _status),
    "hls_key_info_add_pssh": ([c_void_p, c_char_p, ctypes.c_size_t], _status),
    "hls_key_info_set_encrypt_subtitles": ([c_void_p, c_int], _status),
    # Caller-supplied sources.
    "hls_open_source": ([_ctx_p, POINTER(HlsSource), _opts_p, POINTER(_media_p), POINTER(_err_p)], _status),
    "hls_config_set_source_reads": ([_cfg_p, c_uint64, c_uint64], _status),
    "hls_config_set_source_cache_bytes": ([_cfg_p, c_uint64], _status),
}


# --- Lookup ----------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _try_load(candidate: str, tried: List[str]) -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL(candidate)
    except OSError as exc:
        tried.append(f"{candidate}: {_describe(exc)}")
        return None


def _pkg_config_libdir(tried: List[str]) -> Optional[str]:
    exe = shutil.which("pkg-config")
    if exe is None:
        tried.append("pkg-config --variable=libdir hls: pkg-config is not installed")
        return None
    where = f"PKG_CONFIG_PATH={os.environ.get('PKG_CONFIG_PATH', '')!r}"
    try:
        proc = subprocess.run(
            [exe, "--variable=libdir", "hls"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        tried.append(f"pkg-config --variable=libdir hls ({where}): {_describe(exc)}")
        return None
    libdir = proc.stdout.strip()
    if proc.returncode != 0 or not libdir:
        detail = _describe(Exception(proc.stderr)) if proc.stderr.strip() else "no libdir"
        tried.append(f"pkg-config --variable=libdir hls ({where}): {detail}")
        return None
    return libdir


def _load() -> Tuple[ctypes.CDLL, str]:
    tried: List[str] = []
    explicit = os.environ.get("LIBHLS_LIBRARY", "")
    if explicit:
        found = _try_load(explicit, tried)
        if found is not None:
            return found, explicit
        tried[-1] = f"LIBHLS_LIBRARY={tried[-1]} (only this path is tried when it is set)"
        raise LibraryNotFoundError(tried)
    tried.append("LIBHLS_LIBRARY: not set")

    libdir = _pkg_config_libdir(tried)
    if libdir is not None:
        for name in (SONAME, "libhls.so"):
            path = os.path.join(libdir, name)
            found = _try_load(path, tried)
            if found is not None:
                return found, path

    soname = ctypes.util.find_library("hls")
    if soname is None:
        tried.append('ctypes.util.find_library("hls"): not found')
    else:
        found = _try_load(soname, tried)
        if found is not None:
            return found, soname
    found = _try_load(SONAME, tried)
    if found is not None:
        return found, SONAME
    raise LibraryNotFoundError(tried)


def _declare(cdll: ctypes.CDLL, path: str) -> None:
    missing = []
    for name, (argtypes, restype) in SIGNATURES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.argtypes = argtypes
        fn.restype = restype
    if missing:
        raise LibraryVersionError(f"libhls: {path} lacks {', '.join(missing)} (too old a libhls?)")


def _check_version(cdll: ctypes.CDLL, path: str) -> str:
    number = int(cdll.hls_version_number())
    text = (cdll.hls_version() or b"").decode("ascii", "replace")
    major, minor = number // 1_000_000, number // 1_000 % 1_000
    want = [int(p) for p in __version__.split(".")[:2]]
    # Before 1.0 a minor release may change the ABI; from 1.0 on only a major one does.
    compatible = major == want[0] and (major > 0 or minor == want[1])
    if not compatible:
        raise LibraryVersionError(
            f"libhls: {path} is version {text}, this Python package ({__version__}) needs "
            f"{want[0]}.{want[1]}.x"
        )
    return text


lib, library_path = _load()
_declare(lib, library_path)
library_version: str = _check_version(lib, library_path)

