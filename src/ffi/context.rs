//! `HlsContext`, the engine handle: `hls_context_new`/`hls_context_free`, its statistics, and
//! the process-wide log callback.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use super::boundary::{arg_out, arg_ref, ffi_boundary, into_handle, opt_ref, take_handle};
use super::buffer::{self, HlsBuffer};
use super::config::HlsConfig;
use super::error::ErrorOut;
use super::status::HlsStatus;
use crate::engine::{mime, Context};

/// The engine: configuration, registry of opened media, caches. Thread-safe.
/// Created by `hls_context_new`, freed by `hls_context_free`.
pub struct HlsContext {
    pub(super) ctx: Arc<Context>,
}

/// Creates a context. Returns NULL on failure. The caller owns it and frees it with
/// `hls_context_free`.
///
/// # Safety
/// `config`: NULL for defaults, or a configuration from `hls_config_new`, read during the call
/// only (it is copied; the caller still frees it).
#[no_mangle]
pub unsafe extern "C" fn hls_context_new(config: *const HlsConfig) -> *mut HlsContext {
    ffi_boundary! {
        // SAFETY: per the contract, config is NULL or a live configuration.
        let config = unsafe { opt_ref(config) }.map(|c| c.config.clone()).unwrap_or_default();
        into_handle(HlsContext { ctx: Arc::new(Context::new(config)) })
    }
}

/// Frees a context. NULL-tolerant. Media handles still open stay valid (they keep the engine
/// alive) until each is closed with `hls_close`.
///
/// # Safety
/// `ctx`: NULL or a context from `hls_context_new`, not freed before, and not used by another
/// call meanwhile; invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn hls_context_free(ctx: *mut HlsContext) {
    ffi_boundary! {
        // SAFETY: per the contract, ctx is NULL or from hls_context_new, not freed before and
        // not in use.
        drop(unsafe { take_handle(ctx) })
    }
}

/// JSON counters of the context: cache_hits, cache_misses, cache_bytes, cache_entries,
/// cache_budget, evictions, generations, shared_waits, opens, indexings (files indexed from
/// their media), open_reuses, index_time_us, media_registered, media_idle, clip_opens (opens of
/// clipped presentations), key_requests, key_failures, encrypted_generations, range_reads
/// (responses held as file ranges read into bytes by `hls_get`, `hls_segment` or
/// `hls_get_parts_min`: once however many threads ask at once; one read for the same segment
/// of several tracks read together); buffer_pool_bytes, buffer_pool_buffers and
/// buffer_pool_reuses (process-wide: memory of segment bytes the cache evicted or the last
/// `hls_free_buffer` / `hls_free_parts` released, kept for the next segment read instead of
/// fresh memory, at most 8 MiB in 16 buffers; and how many reads reused it); and for the index directory (`hls_config_set_index_dir`;
/// `index_dir` is null and the counts 0 without one): index_dir, index_file_hits (opens from
/// an index file), index_file_misses (opens that indexed the media), index_file_rewrites
/// (index files found stale, truncated, damaged or of another version: ignored and rewritten),
/// index_file_writes, index_file_write_failures; for caller-supplied sources
/// (`hls_open_source`): source_reads and source_bytes (reads of the caller's `read_at` and the
/// bytes they returned), source_cache_budget, source_cache_bytes and source_cache_blocks (the
/// block cache, `hls_config_set_source_cache_bytes`), source_cache_hit_bytes (bytes served from
/// it instead of read).
///
/// # Safety
/// `ctx`: borrowed; a context from `hls_context_new`. `out`: the caller's `HlsBuffer`; on success
/// it holds JSON owned by libhls until `hls_free_buffer`, on failure it is untouched.
#[no_mangle]
pub unsafe extern "C" fn hls_context_stats_json(ctx: *const HlsContext, out: *mut HlsBuffer) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, ctx is NULL or a live context.
        let c = unsafe { arg_ref(ctx, "ctx") }?;
        let out = arg_out(out, "out")?;
        // SAFETY: out is not NULL and, per the contract, the caller's writable buffer.
        unsafe { buffer::fill(out, Arc::new(c.ctx.stats_json().into_bytes()), mime::JSON) };
        Ok(())
    }
}

/// Log sink for libhls and FFmpeg messages. `level`: 1 error, 2 warning, 3 info, 4 debug, 5 trace.
/// `message` is owned by libhls and valid only during the call.
pub type HlsLogCallback = Option<unsafe extern "C" fn(level: c_int, message: *const c_char, userdata: *mut c_void)>;

/// Installs a process-wide log callback (NULL removes it) that receives messages up to
/// `max_level`. The callback may be called from any thread at once; `message` is valid only
/// during the call. Without a callback libhls prints nothing.
///
/// `userdata`: the caller's, never dereferenced by libhls; passed to every callback call until
/// the callback is replaced or removed.
#[no_mangle]
pub extern "C" fn hls_set_log_callback(callback: HlsLogCallback, userdata: *mut c_void, max_level: c_int) {
    ffi_boundary! { crate::util::log::set_callback(callback, userdata, max_level) }
}
