//! `HlsMedia`, one opened media file: `hls_open`/`hls_close`, serving names
//! (`hls_playlist`, `hls_segment`, `hls_get` and their `_ex` variants), info JSON and duration.

use std::ffi::{c_char, c_int};
use std::path::Path;
use std::sync::Arc;

use super::boundary::{arg_out, arg_ref, arg_str, ffi_boundary, into_handle, opt_ref, take_handle};
use super::buffer::{self, HlsBuffer};
use super::context::HlsContext;
use super::error::{ErrorOut, HlsError};
use super::options::HlsOpenOptions;
use super::parts::{self, HlsFileIdentity, HlsParts};
use super::status::HlsStatus;
use crate::engine::{mime, Body, Context, Cost, Media};
use crate::error::{Error, ErrorKind};
use crate::model::identity::FileIdentity;
use crate::model::names::Resource;
use crate::model::open::OpenOptions;

/// Microseconds per second, for `hls_media_duration`.
const MICROS_PER_SECOND: f64 = 1e6;

/// One opened, indexed media file. Thread-safe: any number of threads may call
/// `hls_playlist`/`hls_segment`/`hls_get` on one handle at once. Freed by `hls_close`.
pub struct HlsMedia {
    ctx: Arc<Context>,
    media: Option<Arc<Media>>,
}

impl HlsMedia {
    /// A handle on `media`, opened in `ctx`.
    pub(super) fn new(ctx: Arc<Context>, media: Arc<Media>) -> HlsMedia {
        HlsMedia { ctx, media: Some(media) }
    }

    /// The opened media (`None` only while `hls_close` releases it).
    fn media(&self) -> Result<&Arc<Media>, Error> {
        self.media.as_ref().ok_or_else(|| Error::internal("media handle is closed"))
    }
}

/// Which names a serving function accepts.
#[derive(Clone, Copy)]
enum Serve {
    /// `hls_playlist`: playlists only.
    Playlist,
    /// `hls_segment`: init segments, media segments and WebVTT files only.
    Segment,
    /// `hls_get`: any name.
    Any,
}

/// The arguments of a serving call, checked: the handle, its media and the name, which `which`
/// accepts.
///
/// # Safety
/// `media` is NULL or a live handle from `hls_open`; `name` is NULL or a NUL-terminated string.
unsafe fn serving<'a>(
    media: *const HlsMedia,
    name: *const c_char,
    which: Serve,
) -> Result<(&'a HlsMedia, &'a Arc<Media>, &'a str), Error> {
    // SAFETY: per this function's contract.
    let h = unsafe { arg_ref(media, "media") }?;
    // SAFETY: per this function's contract.
    let name = unsafe { arg_str(name, "name") }?;
    let m = h.media()?;
    let want_playlist = match which {
        Serve::Playlist => Some(true),
        Serve::Segment => Some(false),
        Serve::Any => None,
    };
    if let Some(p) = want_playlist {
        let r = Resource::parse(name)?;
        if r.is_playlist() != p {
            let which = if p { "hls_segment" } else { "hls_playlist" };
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("'{name}' is not a {}; use {which}", if p { "playlist" } else { "segment" }),
            ));
        }
    }
    Ok((h, m, name))
}

/// The shared body of `hls_playlist`, `hls_segment`, `hls_get` and their `_ex` variants.
///
/// # Safety
/// `media` is NULL or a live handle from `hls_open`; `name` is NULL or a NUL-terminated string;
/// `out` is NULL or the caller's writable `HlsBuffer`.
unsafe fn serve(media: *const HlsMedia, name: *const c_char, out: *mut HlsBuffer, which: Serve) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    let (h, m, name) = unsafe { serving(media, name, which) }?;
    let out = arg_out(out, "out")?;
    let (bytes, ct) = h.ctx.get(m, name)?;
    // SAFETY: out is not NULL and, per this function's contract, the caller's writable buffer.
    unsafe { buffer::fill(out, bytes, ct) };
    Ok(())
}

/// The shared body of `hls_get_parts`, `hls_segment_parts` and their `_ex` variants.
///
/// # Safety
/// `media` is NULL or a live handle from `hls_open`; `name` is NULL or a NUL-terminated string;
/// `out` is NULL or the caller's writable `HlsParts`.
unsafe fn serve_parts(
    media: *const HlsMedia,
    name: *const c_char,
    out: *mut HlsParts,
    which: Serve,
    min_range: u64,
) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    let (h, m, name) = unsafe { serving(media, name, which) }?;
    let out = arg_out(out, "out")?;
    let (body, ct) = h.ctx.get_body_small_as_bytes(m, name, min_range)?;
    let file = match body {
        Body::Parts(_) => Some(m.checked_file()?.clone()),
        Body::Bytes(_) => None,
    };
    // SAFETY: out is not NULL and, per this function's contract, the caller's writable struct.
    unsafe { parts::fill(out, body, ct, file, m.index.identity) };
    Ok(())
}

/// Opens and indexes the media file at `path` (UTF-8). On success `*out` receives a handle
/// that the caller owns and frees with `hls_close`; on failure `*out` is untouched. Concurrent
/// opens of one file index it once; reopening an unchanged, already indexed file costs one
/// `stat`.
///
/// # Safety
/// `ctx`: a context from `hls_context_new` (it registers the media). `path`: borrowed for the
/// call. `out`: where the new handle is written.
#[no_mangle]
pub unsafe extern "C" fn hls_open(ctx: *mut HlsContext, path: *const c_char, out: *mut *mut HlsMedia) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract: ctx, path and out are NULL or valid.
        unsafe { open(ctx, path, &OpenOptions::default(), out) }
    }
}

/// `hls_open`, plus on failure a new `HlsError` in `*err_out` (if `err_out` is not NULL) that
/// the caller owns and frees with `hls_error_free`. `*err_out` is untouched on success.
///
/// # Safety
/// As `hls_open`, and `err_out`: NULL, or where the new `HlsError` is written (on failure only).
#[no_mangle]
pub unsafe extern "C" fn hls_open_ex(
    ctx: *mut HlsContext,
    path: *const c_char,
    out: *mut *mut HlsMedia,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: ctx, path and out are NULL or valid.
        unsafe { open(ctx, path, &OpenOptions::default(), out) }
    }
}

/// `hls_open_ex` with per-open options: `opts` NULL means the defaults (exactly `hls_open_ex`).
/// Opens of one file with equal options share one presentation; with different options (a
/// clip, keys) they are different presentations whose cache entries never mix.
///
/// # Safety
/// As `hls_open_ex`, and `opts`: NULL, or options from `hls_open_options_new`, borrowed for the
/// call (the media keeps its own copy).
#[no_mangle]
pub unsafe extern "C" fn hls_open_with(
    ctx: *mut HlsContext,
    path: *const c_char,
    opts: *const HlsOpenOptions,
    out: *mut *mut HlsMedia,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: opts is NULL or live options, borrowed for the call.
        let options = unsafe { opt_ref(opts) }.map(|o| o.options.clone()).unwrap_or_default();
        // SAFETY: per the contract: ctx, path and out are NULL or valid.
        unsafe { open(ctx, path, &options, out) }
    }
}

/// `hls_open_with`, but only when the open costs no indexing: the file is indexed already in
/// this context (a handle is open, or it is among the idle media) and unchanged on disk. Then
/// `*out` receives a new handle, as from `hls_open_with`; otherwise `*out` is set to NULL and
/// the call still returns `HLS_OK` (open it with `hls_open_with`, where blocking is fine). Costs
/// one `stat` and a lookup, never a read of the file: an event loop may call it, then serve a
/// name whose `hls_name_cost` is `HLS_COST_CACHED` at once and hand everything else to a
/// thread. Fails as `hls_open_with` does when the file cannot be `stat`ed.
///
/// # Safety
/// As `hls_open_with`.
#[no_mangle]
pub unsafe extern "C" fn hls_open_indexed(
    ctx: *mut HlsContext,
    path: *const c_char,
    opts: *const HlsOpenOptions,
    out: *mut *mut HlsMedia,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: ctx, path, opts and out are NULL or valid.
        unsafe { open_indexed(ctx, path, opts, out, FileIdentity::of) }
    }
}

/// `hls_open_indexed` for a caller that has just `stat`ed `path` itself (a server checks the
/// file it is asked for: found, allowed, a regular file): `id` is what that `stat` said
/// (`st_dev`, `st_ino`, `st_size`, `st_mtim`), and libhls makes no `stat` of its own. `*out`
/// receives a handle only when the media indexed is that version of the file; otherwise NULL
/// and `HLS_OK`, as from `hls_open_indexed`. One path lookup per request instead of two (the
/// nginx module's warm hits: ~1 µs each). An `id` older than the request (a cached `stat`) may
/// hand out a file replaced since: use `hls_open_indexed` then.
///
/// # Safety
/// As `hls_open_indexed`, and `id`: NULL (an error) or a readable `HlsFileIdentity`, borrowed
/// for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_open_indexed_stat(
    ctx: *mut HlsContext,
    path: *const c_char,
    opts: *const HlsOpenOptions,
    id: *const HlsFileIdentity,
    out: *mut *mut HlsMedia,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: ctx, path, opts and out are NULL or valid; id is NULL or
        // readable.
        unsafe { open_indexed(ctx, path, opts, out, |_| Ok(FileIdentity::from(*arg_ref(id, "id")?))) }
    }
}

/// The shared body of `hls_open_indexed` and `hls_open_indexed_stat`: `identity` gives the
/// file's identity once the arguments are checked (a `stat`, or the caller's).
///
/// # Safety
/// `ctx` is NULL or a live context; `path` is NULL or a NUL-terminated string; `opts` is NULL or
/// live options; `out` is NULL or writable.
unsafe fn open_indexed(
    ctx: *mut HlsContext,
    path: *const c_char,
    opts: *const HlsOpenOptions,
    out: *mut *mut HlsMedia,
    identity: impl FnOnce(&Path) -> Result<FileIdentity, Error>,
) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    let ctx = unsafe { arg_ref(ctx, "ctx") }?;
    // SAFETY: per this function's contract.
    let path = Path::new(unsafe { arg_str(path, "path") }?);
    let out = arg_out(out, "out")?;
    let identity = identity(path)?;
    // SAFETY: per this function's contract.
    let found = match unsafe { opt_ref(opts) } {
        Some(o) => ctx.ctx.open_indexed_as(path, &o.options, identity)?,
        None => ctx.ctx.open_indexed_as(path, &OpenOptions::default(), identity)?,
    };
    let handle = match found {
        Some(media) => into_handle(HlsMedia { ctx: ctx.ctx.clone(), media: Some(media) }),
        None => std::ptr::null_mut(),
    };
    // SAFETY: out is not NULL and, per this function's contract, writable.
    unsafe { out.write(handle) };
    Ok(())
}

/// The shared body of `hls_open`, `hls_open_ex` and `hls_open_with`.
///
/// # Safety
/// `ctx` is NULL or a live context; `path` is NULL or a NUL-terminated string; `out` is NULL or
/// writable.
unsafe fn open(
    ctx: *const HlsContext,
    path: *const c_char,
    options: &OpenOptions,
    out: *mut *mut HlsMedia,
) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    let ctx = unsafe { arg_ref(ctx, "ctx") }?;
    // SAFETY: per this function's contract.
    let path = unsafe { arg_str(path, "path") }?;
    let out = arg_out(out, "out")?;
    let media = ctx.ctx.open_with(Path::new(path), options)?;
    let handle = into_handle(HlsMedia { ctx: ctx.ctx.clone(), media: Some(media) });
    // SAFETY: out is not NULL and, per this function's contract, writable.
    unsafe { out.write(handle) };
    Ok(())
}

/// Closes a media handle. NULL-tolerant. Buffers obtained from it stay valid until freed.
///
/// # Safety
/// `media`: NULL or a handle from `hls_open`, not closed before, and not used by another call
/// meanwhile; invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn hls_close(media: *mut HlsMedia) {
    ffi_boundary! {
        // SAFETY: per the contract, media is NULL or from hls_open, not closed before and not
        // in use.
        if let Some(mut h) = unsafe { take_handle(media) } {
            if let Some(m) = h.media.take() {
                h.ctx.release(m);
            }
        }
    }
}

/// Serves a playlist (`master.m3u8` or a media playlist it names) into `*out`.
///
/// # Safety
/// `media`: borrowed; a handle from `hls_open` (not `const`: serving fills the context's shared
/// cache; any number of threads may serve from one handle at once). `name`: borrowed for the
/// call. `out`: the caller's `HlsBuffer`; on success it holds bytes owned by libhls until
/// `hls_free_buffer`, on failure it is untouched.
#[no_mangle]
pub unsafe extern "C" fn hls_playlist(media: *mut HlsMedia, name: *const c_char, out: *mut HlsBuffer) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve(media, name, out, Serve::Playlist) }
    }
}

/// `hls_playlist`, plus on failure a new `HlsError` in `*err_out` (if `err_out` is not NULL)
/// that the caller owns and frees with `hls_error_free`.
///
/// # Safety
/// As `hls_playlist`, and `err_out`: NULL, or where the new `HlsError` is written (on failure only).
#[no_mangle]
pub unsafe extern "C" fn hls_playlist_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve(media, name, out, Serve::Playlist) }
    }
}

/// Serves an init segment, media segment or WebVTT file named by a playlist into `*out`.
///
/// # Safety
/// As `hls_playlist`.
#[no_mangle]
pub unsafe extern "C" fn hls_segment(media: *mut HlsMedia, name: *const c_char, out: *mut HlsBuffer) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve(media, name, out, Serve::Segment) }
    }
}

/// `hls_segment`, plus on failure a new `HlsError` in `*err_out` (if `err_out` is not NULL)
/// that the caller owns and frees with `hls_error_free`.
///
/// # Safety
/// As `hls_segment`, and `err_out`: NULL, or where the new `HlsError` is written (on failure only).
#[no_mangle]
pub unsafe extern "C" fn hls_segment_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve(media, name, out, Serve::Segment) }
    }
}

/// Serves any name (playlist or segment): what an HTTP server calls for `/<file>/<name>`.
///
/// # Safety
/// As `hls_playlist`.
#[no_mangle]
pub unsafe extern "C" fn hls_get(media: *mut HlsMedia, name: *const c_char, out: *mut HlsBuffer) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve(media, name, out, Serve::Any) }
    }
}

/// `hls_get`, plus on failure a new `HlsError` in `*err_out` (if `err_out` is not NULL) that
/// the caller owns and frees with `hls_error_free`.
///
/// # Safety
/// As `hls_get`, and `err_out`: NULL, or where the new `HlsError` is written (on failure only).
#[no_mangle]
pub unsafe extern "C" fn hls_get_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve(media, name, out, Serve::Any) }
    }
}

/// Serves any name as an ordered list of parts (see `HlsParts`): bytes made in memory and
/// ranges of the source file, to send with `sendfile`. Concatenated, the parts are exactly what
/// `hls_get` returns. Media segments whose samples are copied verbatim (MP4, and Matroska read
/// from its Cues) have file ranges; every other name (playlists, init segments, WebVTT,
/// transcoded or rewritten segments) is one `HLS_PART_BYTES` part with `fd` -1. The cache holds
/// such segments as headers and ranges, so serving them again reads nothing but an `fstat`.
/// Fails with `HLS_ERR_FILE_CHANGED` when the file changed on disk since it was indexed.
///
/// # Safety
/// `media`: borrowed; a handle from `hls_open`. `name`: borrowed for the call. `out`: the
/// caller's `HlsParts`; on success it holds parts owned by libhls until `hls_free_parts`, on
/// failure it is untouched.
#[no_mangle]
pub unsafe extern "C" fn hls_get_parts(media: *mut HlsMedia, name: *const c_char, out: *mut HlsParts) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve_parts(media, name, out, Serve::Any, 0) }
    }
}

/// `hls_get_parts`, plus on failure a new `HlsError` in `*err_out` (if `err_out` is not NULL)
/// that the caller owns and frees with `hls_error_free`.
///
/// # Safety
/// As `hls_get_parts`, and `err_out`: NULL, or where the new `HlsError` is written (on failure
/// only).
#[no_mangle]
pub unsafe extern "C" fn hls_get_parts_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsParts,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve_parts(media, name, out, Serve::Any, 0) }
    }
}

/// `hls_get_parts_ex`, except that a media segment whose file ranges average fewer than
/// `min_range` bytes comes back as one `HLS_PART_BYTES` part (`fd` -1): the first call reads
/// its ranges (positioned reads, one per span of nearby ranges, between two identity checks)
/// and the cache keeps the bytes beside the ranges, charged to the cache budget; the next calls
/// are one cache lookup, no read and no `fstat`. Meant for files whose tracks are interleaved
/// sample by sample (hundreds of ranges of a few kilobytes per segment), which a server would
/// otherwise read again on every request; segments with larger ranges stay ranges
/// (`sendfile`). `min_range` 0: exactly `hls_get_parts_ex`. The bytes are those `hls_get`
/// returns and share its cache entry: with any `min_range` above 0, a segment the cache holds
/// as bytes already (made by `hls_get` or an earlier call) comes back as those bytes.
///
/// # Safety
/// As `hls_get_parts_ex`.
#[no_mangle]
pub unsafe extern "C" fn hls_get_parts_min(
    media: *mut HlsMedia,
    name: *const c_char,
    min_range: u64,
    out: *mut HlsParts,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve_parts(media, name, out, Serve::Any, min_range) }
    }
}

/// `hls_get_parts` for the names `hls_segment` accepts (init segments, media segments, WebVTT).
///
/// # Safety
/// As `hls_get_parts`.
#[no_mangle]
pub unsafe extern "C" fn hls_segment_parts(media: *mut HlsMedia, name: *const c_char, out: *mut HlsParts) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve_parts(media, name, out, Serve::Segment, 0) }
    }
}

/// `hls_segment_parts`, plus on failure a new `HlsError` in `*err_out` (if `err_out` is not
/// NULL) that the caller owns and frees with `hls_error_free`.
///
/// # Safety
/// As `hls_segment_parts`, and `err_out`: NULL, or where the new `HlsError` is written (on
/// failure only).
#[no_mangle]
pub unsafe extern "C" fn hls_segment_parts_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsParts,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract: media, name and out are NULL or valid.
        unsafe { serve_parts(media, name, out, Serve::Segment, 0) }
    }
}

/// JSON description of the media: duration, and every track with type, codec, RFC 6381
/// string, language, whether it is served and, if not, why. `indexed_from` says what the
/// index was built from: `"mp4 sample tables"`, `"matroska cues"` or `"packet scan"`;
/// `index_from_disk` whether this open read it from an index file (`hls_config_set_index_dir`)
/// instead of the media.
///
/// # Safety
/// `media`: borrowed; a handle from `hls_open`. `out`: the caller's `HlsBuffer`; on success it
/// holds JSON owned by libhls until `hls_free_buffer`, on failure it is untouched.
#[no_mangle]
pub unsafe extern "C" fn hls_media_info_json(media: *const HlsMedia, out: *mut HlsBuffer) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, media is NULL or a live handle.
        let h = unsafe { arg_ref(media, "media") }?;
        let out = arg_out(out, "out")?;
        let m = h.media()?;
        // SAFETY: out is not NULL and, per the contract, the caller's writable buffer.
        unsafe { buffer::fill(out, Arc::new(m.info_json().into_bytes()), mime::JSON) };
        Ok(())
    }
}

/// Duration of the presentation in seconds (0 for NULL).
///
/// # Safety
/// `media`: borrowed; NULL or a handle from `hls_open`.
#[no_mangle]
pub unsafe extern "C" fn hls_media_duration(media: *const HlsMedia) -> f64 {
    ffi_boundary! {
        // SAFETY: per the contract, media is NULL or a live handle.
        let h = unsafe { opt_ref(media) };
        h.and_then(|h| h.media.as_ref()).map_or(0.0, |m| m.index.duration_us as f64 / MICROS_PER_SECOND)
    }
}

/// What serving one name costs (`hls_name_cost`), cheapest first. A server that runs libhls
/// calls on threads may give the slow kinds (`HLS_COST_TRANSCODED`, `HLS_COST_THUMBNAIL`) threads
/// of their own, so that playlists never wait behind them.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsNameCost {
    /// Not a name of this media (serving it fails with `HLS_ERR_NOT_FOUND`), or a NULL or
    /// invalid argument.
    HLS_COST_NONE = 0,
    /// In the cache: serving it is a cache hit (microseconds).
    HLS_COST_CACHED = 1,
    /// A playlist, made from the index (microseconds to a millisecond).
    HLS_COST_PLAYLIST = 2,
    /// An init segment, or a media segment or I-frame whose samples are copied from the file:
    /// file reads (or file ranges, `hls_get_parts`), no decoding.
    HLS_COST_COPIED = 3,
    /// WebVTT (subtitle segments or track, the thumbnail track), made from memory; the first
    /// WebVTT name of a subtitle track of an MP4 or Matroska file reads and decodes the track's
    /// cues first (tens of milliseconds for a 2-hour film), once.
    HLS_COST_SUBTITLE = 4,
    /// A media segment of a transcoded track: audio decoded and encoded as AAC (tens of
    /// milliseconds of CPU per segment).
    HLS_COST_TRANSCODED = 5,
    /// A thumbnail or sprite sheet: video decoded, scaled, encoded as JPEG (tens of milliseconds
    /// of CPU or more).
    HLS_COST_THUMBNAIL = 6,
}

impl super::boundary::PanicFallback for HlsNameCost {
    fn on_panic() -> HlsNameCost {
        HlsNameCost::HLS_COST_NONE
    }
}

impl From<Cost> for HlsNameCost {
    fn from(c: Cost) -> HlsNameCost {
        match c {
            Cost::Cached => HlsNameCost::HLS_COST_CACHED,
            Cost::Playlist => HlsNameCost::HLS_COST_PLAYLIST,
            Cost::Copied => HlsNameCost::HLS_COST_COPIED,
            Cost::Subtitle => HlsNameCost::HLS_COST_SUBTITLE,
            Cost::Transcoded => HlsNameCost::HLS_COST_TRANSCODED,
            Cost::Thumbnail => HlsNameCost::HLS_COST_THUMBNAIL,
        }
    }
}

/// What serving `name` of `media` (`hls_get`, `hls_get_parts`) would cost now, found without
/// serving it: one lookup in the cache and the name's track (no I/O, no generation, the cache
/// entry is not marked used). `HLS_COST_NONE` for a name this media's playlists do not name.
/// A server with a thread pool for slow work asks this first and sends only
/// `HLS_COST_TRANSCODED` and `HLS_COST_THUMBNAIL` there. The answer is a hint: the cache may
/// evict the entry, or another thread generate it, before the name is served.
///
/// # Safety
/// `media`: borrowed; NULL or a handle from `hls_open`. `name`: NULL or a NUL-terminated string,
/// borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_name_cost(media: *const HlsMedia, name: *const c_char) -> HlsNameCost {
    ffi_boundary! {
        // SAFETY: per the contract, media and name are NULL or valid.
        match unsafe { serving(media, name, Serve::Any) } {
            Ok((h, m, name)) => h.ctx.cost(m, name).map_or(HlsNameCost::HLS_COST_NONE, HlsNameCost::from),
            Err(_) => HlsNameCost::HLS_COST_NONE,
        }
    }
}

/// 1 when serving `name` of `media` now is light enough for a server's event loop, 0 when it
/// belongs on a thread. Light: a cache hit, a playlist, an init segment, or a media segment or
/// I-frame of a local file whose samples are found by position (MP4 sample tables, Matroska
/// blocks walked from the Cues) and sent in the clear: microseconds of CPU to build its
/// headers, plus positioned reads of the file (none with `hls_get_parts` when its ranges go out
/// by `sendfile`), as a static file server reads files on its event loop. Not light: opening or
/// indexing (use `hls_open_indexed` first), FFmpeg's demuxer (MPEG-TS, files indexed by a packet
/// scan), transcoded audio, encrypted segments, WebVTT, thumbnails, and any read of a
/// caller-supplied source. 0 for a name this media's playlists do not name, and for NULL or
/// invalid arguments. Found as `hls_name_cost` is (no I/O, nothing generated, the cache entry
/// not marked used), and a hint as it is.
///
/// # Safety
/// `media`: borrowed; NULL or a handle from `hls_open`. `name`: NULL or a NUL-terminated string,
/// borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_name_is_light(media: *const HlsMedia, name: *const c_char) -> c_int {
    ffi_boundary! {
        // SAFETY: per the contract, media and name are NULL or valid.
        match unsafe { serving(media, name, Serve::Any) } {
            Ok((h, m, name)) => c_int::from(h.ctx.light(m, name).unwrap_or(false)),
            Err(_) => 0,
        }
    }
}
