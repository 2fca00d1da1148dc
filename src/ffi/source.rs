//! `HlsSource`: media read through the caller's positioned-read callback (an object store, an
//! HTTP storage tier) instead of a local path, opened with `hls_open_source`.
//!
//! The callback's results are checked, never trusted: `-1` is a failure with the caller's
//! message (`HLS_ERR_IO`), any other negative value or a count above `len` is refused, a short
//! read is accepted only at the end of the source. Nothing is retried.

use std::ffi::{c_char, c_void, CStr};
use std::io;

use super::boundary::{arg_out, arg_ref, arg_str, ffi_boundary, into_handle, opt_ref};
use super::context::HlsContext;
use super::error::{ErrorOut, HlsError};
use super::media::HlsMedia;
use super::options::HlsOpenOptions;
use super::status::HlsStatus;
use crate::container::read::{CallbackSource, ReadAt};
use crate::error::{Error, ErrorKind};

/// Reads up to `len` bytes at `offset` into `buf`. Returns the number of bytes read (less than
/// `len` only at the end of the source), or -1 on failure, having written a NUL-terminated
/// message (truncated to `err_cap` bytes) into `err`. Called from any thread, concurrently
/// (libhls's callers' threads and the threads they serve from): it must be thread-safe. It
/// should not retry without bound: libhls reports a failure to the request that needed the
/// bytes and does not retry it.
pub type HlsReadAtFn = Option<
    unsafe extern "C" fn(
        opaque: *mut c_void,
        offset: u64,
        buf: *mut u8,
        len: usize,
        err: *mut c_char,
        err_cap: usize,
    ) -> i64,
>;

/// Called exactly once when libhls no longer needs `opaque`: possibly before `hls_open_source`
/// returns (on failure, or when a source of the same identity is already open and is shared
/// instead), else when the media is closed and leaves the idle list. May be NULL.
pub type HlsReleaseFn = Option<unsafe extern "C" fn(opaque: *mut c_void)>;

/// A caller-supplied source of media bytes for `hls_open_source`. libhls copies the struct and
/// the identity during the call; `opaque` is the caller's, passed to every callback.
#[repr(C)]
pub struct HlsSource {
    /// Positioned read (required).
    pub read_at: HlsReadAtFn,
    /// Release of `opaque` (optional).
    pub release: HlsReleaseFn,
    /// The caller's state, never dereferenced by libhls.
    pub opaque: *mut c_void,
    /// Total size in bytes.
    pub size: u64,
    /// Required, UTF-8, copied: what this version of the bytes is called (e.g. URL + ETag). It
    /// keys the registry and the cache: opens of one identity share one presentation, and a
    /// new identity (the object was replaced) is a new presentation, never mixed with the old.
    pub identity: *const c_char,
}

/// Bytes of the message buffer libhls passes to `read_at`.
const ERR_CAP: usize = 512;

/// The caller's callbacks and state. Releasing it (once, on drop) calls `release`.
struct CReader {
    read_at: HlsReadAtFn,
    release: HlsReleaseFn,
    opaque: *mut c_void,
}

// SAFETY: the `HlsSource` contract requires `read_at` to be callable from any thread,
// concurrently, with this `opaque`, and `release` from any thread once; libhls never
// dereferences `opaque` itself.
unsafe impl Send for CReader {}
// SAFETY: as for `Send`: concurrent calls of `read_at` are part of the contract.
unsafe impl Sync for CReader {}

impl ReadAt for CReader {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some(read_at) = self.read_at else { return Err(io::Error::other("no read_at callback")) };
        let mut err = [0 as c_char; ERR_CAP];
        // SAFETY: read_at is the caller's callback, called per its contract: buf is writable for
        // buf.len() bytes and err for ERR_CAP bytes during the call.
        let n = unsafe { read_at(self.opaque, pos, buf.as_mut_ptr(), buf.len(), err.as_mut_ptr(), ERR_CAP) };
        match n {
            -1 => {
                err[ERR_CAP - 1] = 0;
                // SAFETY: err is NUL-terminated (its last byte was just set).
                let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
                Err(io::Error::other(if msg.is_empty() { "the source gave no detail".to_string() } else { msg }))
            }
            n if n < 0 => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("read_at returned {n}, neither a count nor -1: refused"),
            )),
            n => usize::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "count too large")),
        }
    }
}

impl Drop for CReader {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: called exactly once (this value is dropped once), per the contract.
            unsafe { release(self.opaque) };
        }
    }
}

/// Opens and indexes media read through `src` (see `HlsSource` for the contract of its
/// callbacks), with `opts` (NULL = defaults). On success `*out` receives a handle that the
/// caller owns and frees with `hls_close`; everything else works as for `hls_open_with`, except
/// that media segments are always bytes (`hls_get_parts` gives no file ranges: there is no
/// file). On failure, a new `HlsError` in `*err_out` if `err_out` is not NULL; a failed read is
/// `HLS_ERR_IO` with the callback's message.
///
/// Whatever the outcome, if `src` is not NULL its `release` (if any) is called exactly once:
/// before this call returns when the open fails or an open media of the same identity (and
/// options) is shared instead, else when libhls no longer needs the source (the media is
/// closed and has left the idle list). Opening costs a few reads: at most 3 for an MP4 whose
/// `moov` is at either end (ask for more with `hls_config_set_source_read_max` if its `moov`
/// is larger than 8 MiB); `hls_media_info_json` reports them under `source`.
///
/// # Safety
/// `ctx`: a live context. `src`: NULL or a valid `HlsSource`, borrowed for the call (its
/// `identity` a NUL-terminated string). `opts`: NULL or live options. `out`: where the handle is
/// written. `err_out`: NULL, or where the new `HlsError` is written (on failure only).
#[no_mangle]
pub unsafe extern "C" fn hls_open_source(
    ctx: *mut HlsContext,
    src: *const HlsSource,
    opts: *const HlsOpenOptions,
    out: *mut *mut HlsMedia,
    err_out: *mut *mut HlsError,
) -> HlsStatus {
    // SAFETY: per the contract, err_out is NULL or writable.
    ffi_boundary! { report(unsafe { ErrorOut::new(err_out) }) =>
        // SAFETY: per the contract, src is NULL or a valid HlsSource borrowed for the call.
        let src = unsafe { arg_ref(src, "src") }?;
        // Owns opaque from here: dropped (released) exactly once, on every path.
        let reader = CReader { read_at: src.read_at, release: src.release, opaque: src.opaque };
        if reader.read_at.is_none() {
            return Err(Error::new(ErrorKind::NullArgument, "src->read_at is NULL"));
        }
        // SAFETY: per the contract, identity is NULL or a NUL-terminated string.
        let identity = unsafe { arg_str(src.identity, "src->identity") }?;
        if identity.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "src->identity is empty"));
        }
        // SAFETY: per the contract, ctx is NULL or a live context.
        let ctx = unsafe { arg_ref(ctx, "ctx") }?;
        let out = arg_out(out, "out")?;
        // SAFETY: per the contract: opts is NULL or live options, borrowed for the call.
        let options = unsafe { opt_ref(opts) }.map(|o| o.options.clone()).unwrap_or_default();
        let source = CallbackSource::new(
            Box::new(reader),
            src.size,
            identity.to_string(),
            ctx.ctx.config.source_read_max,
            ctx.ctx.source_cache(),
        );
        let media = ctx.ctx.open_source(std::sync::Arc::new(source), &options)?;
        let handle = into_handle(HlsMedia::new(ctx.ctx.clone(), media));
        // SAFETY: out is not NULL and, per the contract, writable.
        unsafe { out.write(handle) };
        Ok(())
    }
}
