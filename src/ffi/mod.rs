//! The C API. A thin layer over the safe core: every exported function checks its pointers and
//! UTF-8, catches panics, and returns an `HlsStatus`. Nothing unwinds into C.
//!
//! Ownership, in one place: handles (`HlsContext`, `HlsMedia`, `HlsConfig`, `HlsError`) are
//! created and freed only by libhls; `HlsBuffer` contents belong to libhls until
//! `hls_free_buffer`; strings passed in are borrowed for the duration of the call only; strings
//! returned are either static or owned by the object they came from.

#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::cache::Bytes;
use crate::engine::context::Context;
use crate::engine::media::{mime, Media};
use crate::error::{Error, ErrorKind};
use crate::model::config::{Config, TranscodePolicy};

/// Result of every fallible call. Values are fixed and never reused.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsStatus {
    /// Success.
    HLS_OK = 0,
    /// A required pointer argument was NULL.
    HLS_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    HLS_ERR_INVALID_UTF8 = 2,
    /// A malformed argument: bad config value, or a name with a leading '/', "..", '?' or control characters.
    HLS_ERR_INVALID_ARGUMENT = 3,
    /// The name is not named by any playlist of this media. Servers answer 404.
    HLS_ERR_NOT_FOUND = 4,
    /// The file is missing, is a directory, or cannot be read.
    HLS_ERR_IO = 5,
    /// The file is empty, truncated, corrupt, or not a media file.
    HLS_ERR_INVALID_MEDIA = 6,
    /// The file opened but has no audio or video track that can be served (e.g. subtitles only).
    HLS_ERR_NO_PLAYABLE_TRACKS = 7,
    /// The file changed on disk after it was indexed; open it again.
    HLS_ERR_FILE_CHANGED = 8,
    /// A codec or feature that libhls does not support.
    HLS_ERR_UNSUPPORTED = 9,
    /// An internal bug was caught at the API boundary (a panic); the call had no effect.
    HLS_ERR_PANIC = 10,
    /// Any other internal failure.
    HLS_ERR_INTERNAL = 11,
}

impl From<ErrorKind> for HlsStatus {
    fn from(k: ErrorKind) -> HlsStatus {
        match k {
            ErrorKind::NullArgument => HlsStatus::HLS_ERR_NULL_ARGUMENT,
            ErrorKind::InvalidUtf8 => HlsStatus::HLS_ERR_INVALID_UTF8,
            ErrorKind::InvalidArgument => HlsStatus::HLS_ERR_INVALID_ARGUMENT,
            ErrorKind::NotFound => HlsStatus::HLS_ERR_NOT_FOUND,
            ErrorKind::Io => HlsStatus::HLS_ERR_IO,
            ErrorKind::InvalidMedia => HlsStatus::HLS_ERR_INVALID_MEDIA,
            ErrorKind::NoPlayableTracks => HlsStatus::HLS_ERR_NO_PLAYABLE_TRACKS,
            ErrorKind::FileChanged => HlsStatus::HLS_ERR_FILE_CHANGED,
            ErrorKind::Unsupported => HlsStatus::HLS_ERR_UNSUPPORTED,
            ErrorKind::Panic => HlsStatus::HLS_ERR_PANIC,
            ErrorKind::Internal => HlsStatus::HLS_ERR_INTERNAL,
        }
    }
}

/// Audio transcode policy for `hls_config_set_transcode_policy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsTranscodePolicy {
    /// Default: transcode to AAC only what HLS players can't play (DTS, TrueHD, Vorbis, PCM, ...).
    HLS_TRANSCODE_UNPLAYABLE = 0,
    /// Also transcode FLAC, Opus, AC-3, E-AC-3 and MP3, so every browser plays every track.
    HLS_TRANSCODE_BROWSER_SAFE = 1,
    /// Never transcode: unplayable audio tracks are reported as not served.
    HLS_TRANSCODE_NEVER = 2,
    /// Like UNPLAYABLE, plus an extra AAC rendition beside every AC-3/E-AC-3 passthrough track
    /// (named "tNa.m3u8", in the AAC audio group), for players without AC-3.
    HLS_TRANSCODE_ADD_AAC = 3,
}

/// Builder for context settings. Create with `hls_config_new`, free with `hls_config_free`.
pub struct HlsConfig {
    config: Config,
}

/// The engine: configuration, registry of opened media, caches. Thread-safe.
/// Created by `hls_context_new`, freed by `hls_context_free`.
pub struct HlsContext {
    ctx: Arc<Context>,
}

/// One opened, indexed media file. Thread-safe: any number of threads may call
/// `hls_playlist`/`hls_segment`/`hls_get` on one handle at once. Freed by `hls_close`.
pub struct HlsMedia {
    ctx: Arc<Context>,
    media: Option<Arc<Media>>,
}

/// One failure: status and message. Owned by the caller; free with `hls_error_free`.
pub struct HlsError {
    status: HlsStatus,
    message: CString,
}

/// Bytes returned by libhls: a playlist, a segment, or JSON.
///
/// Callers zero-initialise the struct, pass it to a call, read `data`/`len`/`content_type`, and
/// release it with `hls_free_buffer`. `data` stays valid until then, even if the cache evicts
/// the entry or the media is closed meanwhile. Never free `data` yourself.
#[repr(C)]
pub struct HlsBuffer {
    /// The bytes (owned by libhls).
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
    /// Static MIME type string (never freed): "application/vnd.apple.mpegurl", "video/mp4",
    /// "audio/mp4", "text/vtt" or "application/json".
    pub content_type: *const c_char,
    /// Private to libhls: the reference that keeps `data` alive.
    pub _private: *mut c_void,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn to_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Runs `f` behind the boundary: panics become `HLS_ERR_PANIC`; a failure is recorded in the
/// thread's last error and, when `err_out` is not NULL, in a new `HlsError`.
fn boundary(err_out: *mut *mut HlsError, f: impl FnOnce() -> Result<(), Error>) -> HlsStatus {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(ErrorKind::Panic, "internal error (panic) caught at the libhls API boundary"))
    });
    match result {
        Ok(()) => HlsStatus::HLS_OK,
        Err(e) => {
            let status = HlsStatus::from(e.kind);
            let msg = to_cstring(&e.message);
            if !err_out.is_null() {
                let err = Box::new(HlsError { status, message: msg.clone() });
                // SAFETY: err_out is non-NULL and, per the contract, points to writable storage.
                unsafe { *err_out = Box::into_raw(err) };
            }
            LAST_ERROR.with(|l| *l.borrow_mut() = msg);
            status
        }
    }
}

fn null_arg(what: &str) -> Error {
    Error::new(ErrorKind::NullArgument, format!("{what} is NULL"))
}

/// Borrows a C string argument as UTF-8.
unsafe fn arg_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(null_arg(what));
    }
    CStr::from_ptr(p).to_str().map_err(|_| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not valid UTF-8")))
}

fn content_type_ptr(ct: &str) -> *const c_char {
    let s: &'static CStr = match ct {
        mime::M3U8 => c"application/vnd.apple.mpegurl",
        mime::VIDEO_MP4 => c"video/mp4",
        mime::AUDIO_MP4 => c"audio/mp4",
        mime::VTT => c"text/vtt",
        _ => c"application/json",
    };
    s.as_ptr()
}

/// Fills `out` with a reference to `bytes` (no copy).
unsafe fn fill_buffer(out: *mut HlsBuffer, bytes: Bytes, content_type: &str) {
    let holder = Box::new(bytes);
    (*out).data = holder.as_ptr();
    (*out).len = holder.len();
    (*out).content_type = content_type_ptr(content_type);
    (*out)._private = Box::into_raw(holder) as *mut c_void;
}

/// Static, human-readable name and meaning of a status ("HLS_ERR_NOT_FOUND: ..."). Never NULL.
#[no_mangle]
pub extern "C" fn hls_status_str(status: HlsStatus) -> *const c_char {
    let s: &'static CStr = match status {
        HlsStatus::HLS_OK => c"HLS_OK: success",
        HlsStatus::HLS_ERR_NULL_ARGUMENT => c"HLS_ERR_NULL_ARGUMENT: a required pointer was NULL",
        HlsStatus::HLS_ERR_INVALID_UTF8 => c"HLS_ERR_INVALID_UTF8: a string argument is not UTF-8",
        HlsStatus::HLS_ERR_INVALID_ARGUMENT => c"HLS_ERR_INVALID_ARGUMENT: malformed argument",
        HlsStatus::HLS_ERR_NOT_FOUND => c"HLS_ERR_NOT_FOUND: no playlist names this",
        HlsStatus::HLS_ERR_IO => c"HLS_ERR_IO: file missing or unreadable",
        HlsStatus::HLS_ERR_INVALID_MEDIA => c"HLS_ERR_INVALID_MEDIA: empty, truncated, corrupt or not media",
        HlsStatus::HLS_ERR_NO_PLAYABLE_TRACKS => c"HLS_ERR_NO_PLAYABLE_TRACKS: no audio or video track can be served",
        HlsStatus::HLS_ERR_FILE_CHANGED => c"HLS_ERR_FILE_CHANGED: the file changed on disk; open it again",
        HlsStatus::HLS_ERR_UNSUPPORTED => c"HLS_ERR_UNSUPPORTED: not supported",
        HlsStatus::HLS_ERR_PANIC => c"HLS_ERR_PANIC: internal error caught at the API boundary",
        HlsStatus::HLS_ERR_INTERNAL => c"HLS_ERR_INTERNAL: internal error",
    };
    s.as_ptr()
}

/// A new configuration with defaults (6 s segments, 256 MiB cache). NULL only if out of memory.
#[no_mangle]
pub extern "C" fn hls_config_new() -> *mut HlsConfig {
    catch_unwind(|| Box::into_raw(Box::new(HlsConfig { config: Config::default() }))).unwrap_or(ptr::null_mut())
}

/// Frees a configuration. NULL-tolerant. Contexts made from it keep their own copy.
#[no_mangle]
pub unsafe extern "C" fn hls_config_free(cfg: *mut HlsConfig) {
    if !cfg.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(cfg))));
    }
}

unsafe fn with_config(cfg: *mut HlsConfig, f: impl FnOnce(&mut Config) -> Result<(), Error>) -> HlsStatus {
    boundary(ptr::null_mut(), || {
        let cfg = cfg.as_mut().ok_or_else(|| null_arg("config"))?;
        f(&mut cfg.config)
    })
}

fn bad(msg: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

/// Target segment duration in milliseconds (default 6000; 1000..=60000).
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_segment_duration_ms(cfg: *mut HlsConfig, ms: u32) -> HlsStatus {
    with_config(cfg, |c| {
        if !(1000..=60_000).contains(&ms) {
            return Err(bad("segment duration must be 1000..=60000 ms"));
        }
        c.segment_duration = Duration::from_millis(ms as u64);
        Ok(())
    })
}

/// Byte budget of the context-wide segment cache (default 256 MiB; 0 disables caching).
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_cache_bytes(cfg: *mut HlsConfig, bytes: u64) -> HlsStatus {
    with_config(cfg, |c| {
        c.cache_bytes = bytes;
        Ok(())
    })
}

/// How many closed media stay indexed for reuse, and for how long (defaults 64 and 300000 ms).
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_idle_media(cfg: *mut HlsConfig, max_count: u32, ttl_ms: u64) -> HlsStatus {
    with_config(cfg, |c| {
        c.idle_media_max = max_count as usize;
        c.idle_media_ttl = Duration::from_millis(if max_count == 0 { 0 } else { ttl_ms });
        Ok(())
    })
}

/// Whether Matroska files are indexed from their Cues (non-zero, the default) or by reading
/// every packet once (0). Both give the same segments and playlists; the scan reads the whole
/// file when it is opened, the Cues only the block headers around segment boundaries. Files
/// without usable Cues are always scanned.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_use_container_index(cfg: *mut HlsConfig, enabled: c_int) -> HlsStatus {
    with_config(cfg, |c| {
        c.use_container_index = enabled != 0;
        Ok(())
    })
}

/// Which audio tracks are served as AAC (default HLS_TRANSCODE_UNPLAYABLE).
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_transcode_policy(cfg: *mut HlsConfig, policy: HlsTranscodePolicy) -> HlsStatus {
    with_config(cfg, |c| {
        c.transcode = match policy {
            HlsTranscodePolicy::HLS_TRANSCODE_UNPLAYABLE => TranscodePolicy::Unplayable,
            HlsTranscodePolicy::HLS_TRANSCODE_BROWSER_SAFE => TranscodePolicy::BrowserSafe,
            HlsTranscodePolicy::HLS_TRANSCODE_NEVER => TranscodePolicy::Never,
            HlsTranscodePolicy::HLS_TRANSCODE_ADD_AAC => TranscodePolicy::AddAacBesideSurround,
        };
        Ok(())
    })
}

/// AAC bitrate in bit/s for a stereo output (default 128000; 32000..=512000). 5.1 uses 3x.
/// `keep_surround` non-zero keeps 5.1 sources as 5.1 AAC instead of a stereo downmix.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_aac(cfg: *mut HlsConfig, bitrate: u32, keep_surround: c_int) -> HlsStatus {
    with_config(cfg, |c| {
        if !(32_000..=512_000).contains(&bitrate) {
            return Err(bad("AAC bitrate must be 32000..=512000 bit/s"));
        }
        c.aac_bitrate = bitrate;
        c.aac_keep_surround = keep_surround != 0;
        Ok(())
    })
}

/// Log sink for libhls and FFmpeg messages. `level`: 1 error, 2 warning, 3 info, 4 debug, 5 trace.
pub type HlsLogCallback = Option<unsafe extern "C" fn(level: c_int, message: *const c_char, userdata: *mut c_void)>;

/// Installs a process-wide log callback (NULL removes it) that receives messages up to
/// `max_level`. The callback may be called from any thread at once; `message` is valid only
/// during the call. Without a callback libhls prints nothing.
#[no_mangle]
pub extern "C" fn hls_set_log_callback(callback: HlsLogCallback, userdata: *mut c_void, max_level: c_int) {
    let _ = catch_unwind(AssertUnwindSafe(|| crate::util::log::set_callback(callback, userdata, max_level)));
}

/// Creates a context. `config` may be NULL for defaults; it is copied, and the caller still
/// frees it. Returns NULL on failure. Free with `hls_context_free`.
#[no_mangle]
pub unsafe extern "C" fn hls_context_new(config: *const HlsConfig) -> *mut HlsContext {
    catch_unwind(AssertUnwindSafe(|| {
        let cfg = config.as_ref().map(|c| c.config.clone()).unwrap_or_default();
        Box::into_raw(Box::new(HlsContext { ctx: Arc::new(Context::new(cfg)) }))
    }))
    .unwrap_or(ptr::null_mut())
}

/// Frees a context. NULL-tolerant. Media handles still open stay valid (they keep the engine
/// alive) until each is closed with `hls_close`. Must not race with other calls on `ctx`.
#[no_mangle]
pub unsafe extern "C" fn hls_context_free(ctx: *mut HlsContext) {
    if !ctx.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(ctx))));
    }
}

/// Opens and indexes the media file at `path` (UTF-8). On success `*out` receives a handle
/// to free with `hls_close`. Concurrent opens of one file index it once; reopening an
/// unchanged, already indexed file costs one `stat`.
#[no_mangle]
pub unsafe extern "C" fn hls_open(ctx: *mut HlsContext, path: *const c_char, out: *mut *mut HlsMedia) -> HlsStatus {
    hls_open_ex(ctx, path, out, ptr::null_mut())
}

/// `hls_open`, plus on failure an `HlsError` in `*err_out` (if not NULL) for the caller to free.
#[no_mangle]
pub unsafe extern "C" fn hls_open_ex(
    ctx: *mut HlsContext,
    path: *const c_char,
    out: *mut *mut HlsMedia,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    boundary(err_out, || {
        let ctx = ctx.as_ref().ok_or_else(|| null_arg("ctx"))?;
        let path = arg_str(path, "path")?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        let media = ctx.ctx.open(Path::new(path))?;
        *out = Box::into_raw(Box::new(HlsMedia { ctx: ctx.ctx.clone(), media: Some(media) }));
        Ok(())
    })
}

/// Closes a media handle. NULL-tolerant. Buffers obtained from it stay valid until freed.
/// Must not race with other calls on the same handle.
#[no_mangle]
pub unsafe extern "C" fn hls_close(media: *mut HlsMedia) {
    if media.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let mut h = Box::from_raw(media);
        if let Some(m) = h.media.take() {
            h.ctx.release(m);
        }
    }));
}

unsafe fn serve(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
    want_playlist: Option<bool>,
) -> HlsStatus {
    boundary(err_out, || {
        let h = media.as_ref().ok_or_else(|| null_arg("media"))?;
        let name = arg_str(name, "name")?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        let m = h.media.as_ref().ok_or_else(|| Error::internal("media handle is closed"))?;
        if let Some(p) = want_playlist {
            let r = crate::model::names::Resource::parse(name)?;
            if r.is_playlist() != p {
                let which = if p { "hls_segment" } else { "hls_playlist" };
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("'{name}' is not a {}; use {which}", if p { "playlist" } else { "segment" }),
                ));
            }
        }
        let (bytes, ct) = h.ctx.get(m, name)?;
        fill_buffer(out, bytes, ct);
        Ok(())
    })
}

/// Serves a playlist (`master.m3u8` or a media playlist it names) into `*out`.
#[no_mangle]
pub unsafe extern "C" fn hls_playlist(media: *mut HlsMedia, name: *const c_char, out: *mut HlsBuffer) -> HlsStatus {
    serve(media, name, out, ptr::null_mut(), Some(true))
}

/// `hls_playlist` with an `HlsError` on failure.
#[no_mangle]
pub unsafe extern "C" fn hls_playlist_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    serve(media, name, out, err_out, Some(true))
}

/// Serves an init segment, media segment or WebVTT file named by a playlist into `*out`.
#[no_mangle]
pub unsafe extern "C" fn hls_segment(media: *mut HlsMedia, name: *const c_char, out: *mut HlsBuffer) -> HlsStatus {
    serve(media, name, out, ptr::null_mut(), Some(false))
}

/// `hls_segment` with an `HlsError` on failure.
#[no_mangle]
pub unsafe extern "C" fn hls_segment_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    serve(media, name, out, err_out, Some(false))
}

/// Serves any name (playlist or segment): what an HTTP server calls for `/<file>/<name>`.
#[no_mangle]
pub unsafe extern "C" fn hls_get(media: *mut HlsMedia, name: *const c_char, out: *mut HlsBuffer) -> HlsStatus {
    serve(media, name, out, ptr::null_mut(), None)
}

/// `hls_get` with an `HlsError` on failure.
#[no_mangle]
pub unsafe extern "C" fn hls_get_ex(
    media: *mut HlsMedia,
    name: *const c_char,
    out: *mut HlsBuffer,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    serve(media, name, out, err_out, None)
}

/// JSON description of the media: duration, and every track with type, codec, RFC 6381
/// string, language, whether it is served and, if not, why. `indexed_from` says what the
/// index was built from: `"mp4 sample tables"`, `"matroska cues"` or `"packet scan"`.
#[no_mangle]
pub unsafe extern "C" fn hls_media_info_json(media: *mut HlsMedia, out: *mut HlsBuffer) -> HlsStatus {
    boundary(ptr::null_mut(), || {
        let h = media.as_ref().ok_or_else(|| null_arg("media"))?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        let m = h.media.as_ref().ok_or_else(|| Error::internal("media handle is closed"))?;
        fill_buffer(out, Arc::new(m.info_json().into_bytes()), mime::JSON);
        Ok(())
    })
}

/// Duration of the presentation in seconds (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn hls_media_duration(media: *const HlsMedia) -> f64 {
    catch_unwind(AssertUnwindSafe(|| {
        media.as_ref().and_then(|h| h.media.as_ref()).map_or(0.0, |m| m.index.duration_us as f64 / 1e6)
    }))
    .unwrap_or(0.0)
}

/// JSON counters of the context: cache_hits, cache_misses, cache_bytes, cache_entries,
/// cache_budget, evictions, generations, shared_waits, opens, indexings, open_reuses,
/// index_time_us, media_registered, media_idle.
#[no_mangle]
pub unsafe extern "C" fn hls_context_stats_json(ctx: *mut HlsContext, out: *mut HlsBuffer) -> HlsStatus {
    boundary(ptr::null_mut(), || {
        let c = ctx.as_ref().ok_or_else(|| null_arg("ctx"))?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        fill_buffer(out, Arc::new(c.ctx.stats_json().into_bytes()), mime::JSON);
        Ok(())
    })
}

/// Releases a buffer's bytes and zeroes it. NULL-tolerant and idempotent.
#[no_mangle]
pub unsafe extern "C" fn hls_free_buffer(buf: *mut HlsBuffer) {
    let Some(b) = buf.as_mut() else { return };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !b._private.is_null() {
            drop(Box::from_raw(b._private as *mut Bytes));
        }
        b.data = ptr::null();
        b.len = 0;
        b.content_type = ptr::null();
        b._private = ptr::null_mut();
    }));
}

/// Status of an error (HLS_ERR_NULL_ARGUMENT for NULL).
#[no_mangle]
pub unsafe extern "C" fn hls_error_status(err: *const HlsError) -> HlsStatus {
    err.as_ref().map_or(HlsStatus::HLS_ERR_NULL_ARGUMENT, |e| e.status)
}

/// Message of an error: which file, which stream, why. Owned by `err`; valid until
/// `hls_error_free`. Empty string for NULL.
#[no_mangle]
pub unsafe extern "C" fn hls_error_message(err: *const HlsError) -> *const c_char {
    err.as_ref().map_or(c"".as_ptr(), |e| e.message.as_ptr())
}

/// Frees an error. NULL-tolerant.
#[no_mangle]
pub unsafe extern "C" fn hls_error_free(err: *mut HlsError) {
    if !err.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(err))));
    }
}

/// Message of the last failure on the calling OS thread ("" if none). Valid until the next
/// failing call on this thread. Callers whose threads move (Go goroutines) use the `_ex`
/// functions and `HlsError` instead.
#[no_mangle]
pub extern "C" fn hls_last_error_message() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}
