//! The C API, and nothing else: every `#[no_mangle]` function of libhls is here, one file per
//! handle type, and `include/hls.h` is generated from this module only (build.rs).
//!
//! | file          | owns                                                                   |
//! |---------------|------------------------------------------------------------------------|
//! | `boundary.rs` | `ffi_boundary!` (panics, failures), NULL/UTF-8 checks of arguments     |
//! | `status.rs`   | [`HlsStatus`], [`hls_status_str`]                                      |
//! | `error.rs`    | [`HlsError`], `hls_error_*`, [`hls_last_error_message`]                |
//! | `config.rs`   | [`HlsConfig`], its setters, [`HlsTranscodePolicy`]                     |
//! | `context.rs`  | [`HlsContext`], its statistics, the log callback                       |
//! | `options.rs`  | [`HlsOpenOptions`]: how one media is opened (`hls_open_with`)          |
//! | `keys.rs`     | [`HlsKeyInfo`], [`HlsKeyProvider`]: keys from the caller (encryption)   |
//! | `media.rs`    | [`HlsMedia`]: open, close, serve names, info, duration                 |
//! | `source.rs`   | [`HlsSource`]: media read through the caller's callback                |
//! | `buffer.rs`   | [`HlsBuffer`], [`hls_free_buffer`]                                     |
//! | `parts.rs`    | [`HlsParts`] (bytes and file ranges for `sendfile`), [`hls_free_parts`] |
//! | `version.rs`  | [`hls_version`], [`hls_version_number`]                                |
//!
//! # The boundary
//! Every export's body runs inside `ffi_boundary!`: nothing unwinds into C. A panic becomes
//! `HLS_ERR_PANIC` for status-returning functions, and otherwise a documented value per return
//! type: NULL for handles, the empty string for strings, 0 for numbers, nothing for `void`.
//! Pointers are checked for NULL and strings for UTF-8 by the same helpers in every export.
//! Values that C passes as integers (a status for `hls_status_str`, a policy for
//! `hls_config_set_transcode_policy`) are validated, never reinterpreted as Rust enums.
//!
//! # Ownership (the same for every function)
//! - Handles (`HlsConfig`, `HlsContext`, `HlsMedia`, `HlsError`) are created only by libhls
//!   (`hls_config_new`, `hls_context_new`, `hls_open`, a failing `_ex` call) and owned by the
//!   caller, who frees each exactly once with its own function (`hls_config_free`,
//!   `hls_context_free`, `hls_close`, `hls_error_free`). The free functions accept NULL.
//! - An `HlsBuffer` struct belongs to the caller; the bytes it points to belong to libhls until
//!   `hls_free_buffer`, and stay valid until then even after the media is closed. The same for
//!   an `HlsParts` and `hls_free_parts`, including its file descriptor: the caller reads or
//!   sends from it but never closes it.
//! - Strings passed in are borrowed for the duration of the call only.
//! - Strings returned are never NULL. They are static (`hls_status_str`, `hls_version`,
//!   `HlsBuffer::content_type`), owned by the object they came from (`hls_error_message`), or
//!   owned by the calling thread until its next failure (`hls_last_error_message`).
//! - Out-parameters (`HlsMedia **out`, `HlsBuffer *out`) are written only on success,
//!   `HlsError **err_out` only on failure.
//! - A `const T *` parameter is not changed by the call; a `T *` parameter may be (or freed).
//!
//! # Threads
//! Every function may be called from any thread. Functions taking an `HlsMedia` may run
//! concurrently on one handle, except `hls_close`; configuration setters and the free functions
//! must not race with other calls on the same object. The `_ex` functions report errors in an
//! object owned by the caller, so the detail stays right when the caller's thread moves (Go);
//! `hls_last_error_message` is per OS thread.

#![deny(unsafe_op_in_unsafe_fn)]
// The C names of the API (HLS_OK, HLS_TRANSCODE_NEVER, ...) are its enum variants.
#![allow(non_camel_case_types)]

mod boundary;

// The exports, one file per handle type. cbindgen writes them into the header in the order of
// these declarations (blank lines keep rustfmt from sorting them).

mod status;

mod version;

mod config;

mod options;

mod keys;

mod context;

mod media;

mod source;

mod buffer;

mod parts;

mod error;

pub use buffer::{hls_free_buffer, HlsBuffer};
pub use config::{
    hls_config_free, hls_config_new, hls_config_set_aac, hls_config_set_cache_bytes, hls_config_set_idle_media,
    hls_config_set_index_dir, hls_config_set_key_provider, hls_config_set_max_index_bytes,
    hls_config_set_segment_duration_ms, hls_config_set_source_cache_bytes, hls_config_set_source_reads,
    hls_config_set_thumbnails, hls_config_set_transcode_policy, hls_config_set_use_container_index, HlsConfig,
    HlsTranscodePolicy,
};
pub use context::{
    hls_context_free, hls_context_new, hls_context_stats_json, hls_set_log_callback, HlsContext, HlsLogCallback,
};
pub use error::{hls_error_free, hls_error_message, hls_error_status, hls_last_error_message, HlsError};
pub use keys::{
    hls_key_info_add_pssh, hls_key_info_free, hls_key_info_new, hls_key_info_set_encrypt_subtitles,
    hls_key_info_set_iv, hls_key_info_set_key, hls_key_info_set_key_id, hls_key_info_set_keyformat,
    hls_key_info_set_method, hls_key_info_set_uri, HlsEncryptionMethod, HlsIvPolicy, HlsKeyInfo, HlsKeyProvider,
};
pub use media::{
    hls_close, hls_get, hls_get_ex, hls_get_parts, hls_get_parts_ex, hls_get_parts_min, hls_media_duration,
    hls_media_info_json, hls_name_cost, hls_open, hls_open_ex, hls_open_indexed, hls_open_indexed_stat, hls_open_with,
    hls_playlist, hls_playlist_ex, hls_segment, hls_segment_ex, hls_segment_parts, hls_segment_parts_ex, HlsMedia,
    HlsNameCost,
};
pub use options::{
    hls_open_options_clone, hls_open_options_free, hls_open_options_new, hls_open_options_set_encryption,
    hls_open_options_set_key_provider, HlsOpenOptions,
};
// --- clip ---
pub use options::{hls_open_options_set_clip, hls_open_options_set_uri_query, HlsClipPolicy};
pub use parts::{hls_free_parts, HlsFileIdentity, HlsPart, HlsPartKind, HlsParts};
pub use source::{hls_open_source, HlsReadAtFn, HlsReleaseFn, HlsSource};
pub use status::{hls_status_str, HlsStatus};
pub use version::{hls_version, hls_version_number};
