//! `HlsParts`: a response as an ordered list of parts, bytes made in memory and ranges of the
//! source file, for servers that send the ranges with `sendfile`; and `hls_free_parts`.

use std::ffi::{c_char, c_int, c_void};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::boundary::{ffi_boundary, into_handle, opt_mut, take_handle};
use super::buffer::content_type_ptr;
use crate::engine::{Body, Piece};
use crate::model::identity::FileIdentity;

/// What one part of an `HlsParts` is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsPartKind {
    /// `len` bytes at `data`, owned by the `HlsParts`.
    HLS_PART_BYTES = 0,
    /// `len` bytes of the file `HlsParts::fd` from byte `offset`.
    HLS_PART_FILE = 1,
}

/// One part of a response.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HlsPart {
    /// Bytes in memory or a range of the file.
    pub kind: HlsPartKind,
    /// `HLS_PART_BYTES`: the bytes (owned by the `HlsParts`, valid until `hls_free_parts`);
    /// `HLS_PART_FILE`: NULL.
    pub data: *const u8,
    /// `HLS_PART_FILE`: byte offset in the file; `HLS_PART_BYTES`: 0.
    pub offset: u64,
    /// Number of bytes of the part (never 0, except the one part of an empty response).
    pub len: u64,
}

/// Which version of a file on disk an index describes (what `stat` says of it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HlsFileIdentity {
    /// Device (`st_dev`).
    pub dev: u64,
    /// Inode (`st_ino`).
    pub ino: u64,
    /// Size in bytes (`st_size`).
    pub size: u64,
    /// Modification time, seconds since the epoch (`st_mtim.tv_sec`).
    pub mtime_sec: i64,
    /// Modification time, nanoseconds within the second (`st_mtim.tv_nsec`).
    pub mtime_nsec: i64,
}

impl From<FileIdentity> for HlsFileIdentity {
    fn from(id: FileIdentity) -> HlsFileIdentity {
        const NS: i128 = 1_000_000_000;
        HlsFileIdentity {
            dev: id.dev,
            ino: id.ino,
            size: id.size,
            mtime_sec: id.mtime_ns.div_euclid(NS) as i64,
            mtime_nsec: id.mtime_ns.rem_euclid(NS) as i64,
        }
    }
}

impl From<HlsFileIdentity> for FileIdentity {
    fn from(id: HlsFileIdentity) -> FileIdentity {
        FileIdentity {
            dev: id.dev,
            ino: id.ino,
            size: id.size,
            mtime_ns: i128::from(id.mtime_sec) * 1_000_000_000 + i128::from(id.mtime_nsec),
        }
    }
}

/// A response as an ordered list of parts; concatenated, they are exactly the bytes that
/// `hls_get` returns for the same name.
///
/// The struct itself is the caller's (usually a zero-initialised local); a call fills it and
/// `hls_free_parts` releases it. `parts`, the bytes they point to and `fd` belong to libhls
/// and stay valid until then, even if the cache evicts the entry or the media is closed
/// meanwhile. A failing call leaves it untouched.
///
/// `fd` is the source file the `HLS_PART_FILE` ranges are read from, opened read-only by
/// libhls: `sendfile` or `pread` from it with explicit offsets (never move or rely on its file
/// position: other requests share it), and **never close it**: `hls_free_parts` releases it
/// (it stays open for as long as any `HlsParts` or the media uses it). Before filling the
/// struct libhls checked (one `fstat`) that the descriptor still reads the version of the file
/// that was indexed (`file`), else the call fails with `HLS_ERR_FILE_CHANGED`; a file
/// rewritten in place after that check is the caller's to notice (as for any static file).
#[repr(C)]
pub struct HlsParts {
    /// `count` parts, in order (owned by libhls).
    pub parts: *const HlsPart,
    /// Number of parts (at least 1).
    pub count: usize,
    /// Total length: the sum of the parts' `len`.
    pub len: u64,
    /// Static MIME type string (never freed), as `HlsBuffer::content_type`.
    pub content_type: *const c_char,
    /// The file of the `HLS_PART_FILE` parts (owned by libhls; do not close), or -1 when every
    /// part is bytes (a playlist, a transcoded or rewritten segment, WebVTT, an init segment).
    pub fd: c_int,
    /// The version of the file that was indexed: what `fstat(fd)` must say while the ranges are
    /// sent (a server may check it again, or use it to build validators).
    pub file: HlsFileIdentity,
    /// Private to libhls: what keeps the parts, their bytes and the descriptor alive.
    pub _private: *mut c_void,
}

impl Default for HlsParts {
    /// The empty value `hls_free_parts` leaves: no parts, no descriptor (-1), a zero identity.
    fn default() -> HlsParts {
        HlsParts {
            parts: ptr::null(),
            count: 0,
            len: 0,
            content_type: ptr::null(),
            fd: -1,
            file: HlsFileIdentity::default(),
            _private: ptr::null_mut(),
        }
    }
}

/// What an `HlsParts` points into.
struct Holder {
    _body: Body,
    _file: Option<Arc<File>>,
    parts: Vec<HlsPart>,
}

/// Fills `*out` with `body` (no copy of its bytes); `file` is where its ranges are read from
/// (required when `body` has ranges).
///
/// # Safety
/// `out` is valid for writing an `HlsParts`. Whatever it held before is overwritten, not freed.
pub(crate) unsafe fn fill(
    out: NonNull<HlsParts>,
    body: Body,
    content_type: &str,
    file: Option<Arc<File>>,
    identity: FileIdentity,
) {
    let parts: Vec<HlsPart> = match &body {
        Body::Bytes(b) => {
            vec![HlsPart { kind: HlsPartKind::HLS_PART_BYTES, data: b.as_ptr(), offset: 0, len: b.len() as u64 }]
        }
        Body::Parts(p) => p
            .pieces()
            .iter()
            .map(|piece| match *piece {
                Piece::Mem { len, .. } => HlsPart {
                    kind: HlsPartKind::HLS_PART_BYTES,
                    data: p.mem(piece).as_ptr(),
                    offset: 0,
                    len: len as u64,
                },
                Piece::File { offset, len } => {
                    HlsPart { kind: HlsPartKind::HLS_PART_FILE, data: ptr::null(), offset, len }
                }
            })
            .collect(),
    };
    let len = parts.iter().map(|p| p.len).sum();
    let fd = match (&body, &file) {
        (Body::Parts(_), Some(f)) => f.as_raw_fd(),
        _ => -1,
    };
    let holder = Holder { _body: body, _file: file.filter(|_| fd >= 0), parts };
    // The parts' heap buffer does not move with the holder.
    let (first, count) = (holder.parts.as_ptr(), holder.parts.len());
    let out_value = HlsParts {
        parts: first,
        count,
        len,
        content_type: content_type_ptr(content_type),
        fd,
        file: identity.into(),
        _private: into_handle(holder).cast(),
    };
    // SAFETY: per the caller, out is valid for writes; HlsParts has no destructor to skip.
    unsafe { out.write(out_value) };
}

/// Releases what an `HlsParts` holds (its parts, their bytes, its reference to the file) and
/// zeroes it (`fd` becomes -1). NULL-tolerant and idempotent.
///
/// # Safety
/// `parts`: NULL, or the caller's `HlsParts`, zeroed or filled by a libhls call. Its parts,
/// bytes and descriptor become invalid; the struct itself stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn hls_free_parts(parts: *mut HlsParts) {
    ffi_boundary! {
        // SAFETY: per the contract, parts is NULL or the caller's struct, not used by another
        // call.
        if let Some(p) = unsafe { opt_mut(parts) } {
            // The bytes' last holder gives their memory back for reuse.
            // SAFETY: _private is NULL or the holder made by `fill` and not freed before:
            // freeing zeroes it.
            if let Some(holder) = unsafe { take_handle(p._private.cast::<Holder>()) } {
                if let Body::Bytes(bytes) = holder._body {
                    crate::engine::pool::recycle(bytes);
                }
            }
            *p = HlsParts::default();
        }
    }
}
