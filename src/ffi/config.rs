//! `HlsConfig`, the settings builder, with its setters, and the `HlsTranscodePolicy` values.

use std::ffi::{c_char, c_int};
use std::ops::RangeInclusive;
use std::time::Duration;

use super::boundary::{arg_mut, arg_str, ffi_boundary, into_handle, take_handle};
use super::error::ErrorOut;
use super::status::HlsStatus;
use crate::error::{Error, ErrorKind};
use crate::model::config::{Config, TranscodePolicy};

/// Accepted target segment durations, in milliseconds.
const SEGMENT_DURATION_MS: RangeInclusive<u32> = 1000..=60_000;

/// Accepted AAC bitrates for a stereo output, in bit/s.
const AAC_BITRATE: RangeInclusive<u32> = 32_000..=512_000;

/// Accepted thumbnail widths in pixels (0 disables thumbnails).
const THUMBNAIL_WIDTH: RangeInclusive<u32> = 16..=1920;

/// Accepted times between two tiles of the thumbnail track, in milliseconds.
const THUMBNAIL_INTERVAL_MS: RangeInclusive<u32> = 500..=600_000;

/// Builder for context settings. Create with `hls_config_new`, free with `hls_config_free`.
pub struct HlsConfig {
    pub(super) config: Config,
}

/// Audio transcode policy values for `hls_config_set_transcode_policy` (passed as `int`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsTranscodePolicy {
    /// Transcode to AAC only what HLS players can't play (DTS, TrueHD, Vorbis, PCM, ...).
    HLS_TRANSCODE_UNPLAYABLE = 0,
    /// Also transcode FLAC, Opus, AC-3, E-AC-3 and MP3, so every browser plays every track.
    HLS_TRANSCODE_BROWSER_SAFE = 1,
    /// Never transcode: unplayable audio tracks are reported as not served.
    HLS_TRANSCODE_NEVER = 2,
    /// Default: like UNPLAYABLE, plus an extra AAC rendition beside every AC-3/E-AC-3/MP3
    /// passthrough track (named "tNa.m3u8"), so players without AC-3 (Chromium, Firefox) play
    /// every language, and every AUDIO group holds every language.
    HLS_TRANSCODE_ADD_AAC = 3,
}

impl HlsTranscodePolicy {
    /// The policy whose C value is `value`, if any: how a policy passed in by C is read (never
    /// by transmuting the integer).
    pub fn from_c(value: c_int) -> Option<HlsTranscodePolicy> {
        [
            HlsTranscodePolicy::HLS_TRANSCODE_UNPLAYABLE,
            HlsTranscodePolicy::HLS_TRANSCODE_BROWSER_SAFE,
            HlsTranscodePolicy::HLS_TRANSCODE_NEVER,
            HlsTranscodePolicy::HLS_TRANSCODE_ADD_AAC,
        ]
        .into_iter()
        .find(|p| *p as c_int == value)
    }
}

impl From<HlsTranscodePolicy> for TranscodePolicy {
    fn from(p: HlsTranscodePolicy) -> TranscodePolicy {
        match p {
            HlsTranscodePolicy::HLS_TRANSCODE_UNPLAYABLE => TranscodePolicy::Unplayable,
            HlsTranscodePolicy::HLS_TRANSCODE_BROWSER_SAFE => TranscodePolicy::BrowserSafe,
            HlsTranscodePolicy::HLS_TRANSCODE_NEVER => TranscodePolicy::Never,
            HlsTranscodePolicy::HLS_TRANSCODE_ADD_AAC => TranscodePolicy::AddAacBesideSurround,
        }
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The settings behind `cfg` (the first step of every setter).
///
/// # Safety
/// `cfg` is NULL or a live `HlsConfig` that no other call uses meanwhile.
unsafe fn settings<'a>(cfg: *mut HlsConfig) -> Result<&'a mut Config, Error> {
    // SAFETY: per this function's contract.
    unsafe { arg_mut(cfg, "config") }.map(|c| &mut c.config)
}

/// A new configuration with defaults (6 s segments, 256 MiB cache). NULL only if out of memory.
/// The caller owns it and frees it with `hls_config_free`.
#[no_mangle]
pub extern "C" fn hls_config_new() -> *mut HlsConfig {
    ffi_boundary! { into_handle(HlsConfig { config: Config::default() }) }
}

/// Frees a configuration. NULL-tolerant. Contexts made from it keep their own copy.
///
/// # Safety
/// `cfg`: NULL or a configuration from `hls_config_new`, not freed before; invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn hls_config_free(cfg: *mut HlsConfig) {
    ffi_boundary! {
        // SAFETY: per the contract, cfg is NULL or from hls_config_new and not freed before.
        drop(unsafe { take_handle(cfg) })
    }
}

/// Target segment duration in milliseconds (default 6000; 1000..=60000).
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_segment_duration_ms(cfg: *mut HlsConfig, ms: u32) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        if !SEGMENT_DURATION_MS.contains(&ms) {
            let (min, max) = SEGMENT_DURATION_MS.into_inner();
            return Err(invalid(format!("segment duration must be {min}..={max} ms")));
        }
        c.segment_duration = Duration::from_millis(u64::from(ms));
        Ok(())
    }
}

/// Byte budget of the context-wide segment cache (default 256 MiB; 0 disables caching).
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_cache_bytes(cfg: *mut HlsConfig, bytes: u64) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        c.cache_bytes = bytes;
        Ok(())
    }
}

/// How many closed media stay indexed for reuse, and for how long (defaults 64 and 300000 ms).
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_idle_media(cfg: *mut HlsConfig, max_count: u32, ttl_ms: u64) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        c.idle_media_max = max_count as usize;
        c.idle_media_ttl = Duration::from_millis(if max_count == 0 { 0 } else { ttl_ms });
        Ok(())
    }
}

/// Whether Matroska files are indexed from their Cues (non-zero, the default) or by reading
/// every packet once (0). Both give the same segments and playlists; the scan reads the whole
/// file when it is opened, the Cues only the block headers around segment boundaries. Files
/// without usable Cues are always scanned.
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_use_container_index(cfg: *mut HlsConfig, enabled: c_int) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        c.use_container_index = enabled != 0;
        Ok(())
    }
}

/// Which audio tracks are served as AAC (default `HLS_TRANSCODE_ADD_AAC`).
///
/// # Safety
/// `policy`: an `HlsTranscodePolicy` value, passed as `int`; any other value is rejected with
/// `HLS_ERR_INVALID_ARGUMENT` and leaves the configuration unchanged.
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_transcode_policy(cfg: *mut HlsConfig, policy: c_int) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        let policy = HlsTranscodePolicy::from_c(policy)
            .ok_or_else(|| invalid(format!("unknown transcode policy {policy}")))?;
        c.transcode = policy.into();
        Ok(())
    }
}

/// AAC bitrate in bit/s for a stereo output (default 128000; 32000..=512000). 5.1 uses 3x.
/// `keep_surround` non-zero keeps 5.1 sources as 5.1 AAC instead of a stereo downmix.
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_aac(cfg: *mut HlsConfig, bitrate: u32, keep_surround: c_int) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        if !AAC_BITRATE.contains(&bitrate) {
            let (min, max) = AAC_BITRATE.into_inner();
            return Err(invalid(format!("AAC bitrate must be {min}..={max} bit/s")));
        }
        c.aac_bitrate = bitrate;
        c.aac_keep_surround = keep_surround != 0;
        Ok(())
    }
}

/// Scrubbing thumbnails: `thumb_<ms>.jpg` (the keyframe shown at or before that time),
/// `thumbnails.vtt` (a WebVTT thumbnail track) and its sprite sheets `thumbs_<k>.jpg` (5x5
/// tiles), all beside `master.m3u8`. `width` is the thumbnail and tile width in pixels (default
/// 320; 16..=1920; 0 disables thumbnails, their names are then NOT_FOUND), the height follows
/// the picture's display aspect ratio. `interval_ms` is the time between two tiles of the
/// thumbnail track (default 10000; 500..=600000; ignored when `width` is 0).
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_thumbnails(cfg: *mut HlsConfig, width: u32, interval_ms: u32) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        if width == 0 {
            c.thumbnails.width = 0;
            return Ok(());
        }
        if !THUMBNAIL_WIDTH.contains(&width) {
            let (min, max) = THUMBNAIL_WIDTH.into_inner();
            return Err(invalid(format!("thumbnail width must be 0 (no thumbnails) or {min}..={max} pixels, not {width}")));
        }
        if !THUMBNAIL_INTERVAL_MS.contains(&interval_ms) {
            let (min, max) = THUMBNAIL_INTERVAL_MS.into_inner();
            return Err(invalid(format!("thumbnail interval must be {min}..={max} ms, not {interval_ms}")));
        }
        c.thumbnails = crate::model::thumbs::ThumbSettings { width, interval_ms };
        Ok(())
    }
}

/// Smallest accepted per-open index ceiling: 4 KiB.
const MIN_MAX_INDEX_BYTES: u64 = 4096;

/// Ceiling on the memory one open may use for its index, in bytes (default 1 GiB: a 10-hour
/// file at 60 frames/s with eight audio tracks still opens; a 2-hour film needs about 20 MB;
/// at least 4096, else `HLS_ERR_INVALID_ARGUMENT`). Sample tables, packet lists and subtitle
/// cues are counted before they are allocated; a file whose index would need more fails to open
/// with `HLS_ERR_UNSUPPORTED` (a file whose counts contradict its own size fails with
/// `HLS_ERR_INVALID_MEDIA`), and nothing of it stays allocated.
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_max_index_bytes(cfg: *mut HlsConfig, bytes: u64) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        if bytes < MIN_MAX_INDEX_BYTES {
            return Err(invalid(format!("the index ceiling must be at least {MIN_MAX_INDEX_BYTES} bytes")));
        }
        c.max_index_bytes = bytes;
        Ok(())
    }
}

/// Reads of caller-supplied sources (`hls_open_source`): `read_max`, the most bytes one read
/// asks for (default 8 MiB, at least 64 KiB: a larger read is split, so a `moov` or a
/// segment's track spanning more costs more reads); `gap_max`, the largest gap (other tracks'
/// samples) one read of a segment's track reads through (default 4 MiB; at most 10% of a read
/// is such gaps, so a copied segment costs at most 1.1 times its size in bytes read). 0 keeps
/// a value unchanged.
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_source_reads(cfg: *mut HlsConfig, read_max: u64, gap_max: u64) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        if read_max != 0 {
            if !(SOURCE_READ_MIN..=SOURCE_READ_LIMIT).contains(&read_max) {
                return Err(invalid(format!("read_max must be {SOURCE_READ_MIN}..={SOURCE_READ_LIMIT} bytes")));
            }
            c.source_read_max = read_max as usize;
        }
        if gap_max != 0 {
            c.source_gap_max = gap_max;
        }
        Ok(())
    }
}

/// Budget of the context's block cache of caller-supplied sources' bytes (`hls_open_source`;
/// default 64 MiB; 0 turns it off; local files never use it). Bytes read from a source are
/// kept, in 64 KiB blocks aligned in the object, keyed by the source's identity and size (a
/// new identity never sees the old one's bytes), least recently used first out when the budget
/// is reached: while they stay, no reader -- FFmpeg's (MPEG-TS, MP3, subtitles, transcoding),
/// an indexer, another track's or an I-frame's segment, another thread at the same time --
/// reads them from the source again, so each byte of an object is fetched about once. Reads
/// still ask only for bytes missing (never more than before). `hls_context_stats_json` reports
/// `source_cache_budget`, `source_cache_bytes`, `source_cache_blocks` and
/// `source_cache_hit_bytes` (bytes served from it instead of read).
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_source_cache_bytes(cfg: *mut HlsConfig, bytes: u64) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        c.source_cache_bytes = bytes;
        Ok(())
    }
}

/// Persists the index of every opened file in the directory `dir` (default: none, indexes live
/// in memory only). Another context, process, nginx worker or restart using the same directory
/// and the same indexing settings (segment duration, transcode policy, AAC settings, container
/// index) then opens an unchanged file from its index file without reading its media. An index
/// file is used only for the version of the file it was written for (device, inode, size,
/// modification time and a hash of its first and last 4 KiB); a stale, truncated, damaged or
/// foreign-version index file is ignored and rewritten. Files are written to a temporary name
/// and renamed, so several processes can share the directory. The directory is created when
/// first written to. A directory that cannot be written (read-only, full, not creatable) only
/// costs the persisting: files are indexed in memory and a message is logged. `dir` NULL or
/// empty turns persisting off.
///
/// # Safety
/// `cfg`: a configuration from `hls_config_new`, not used by another call meanwhile.
/// `dir`: NULL or a NUL-terminated UTF-8 path, read during the call only.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_index_dir(cfg: *mut HlsConfig, dir: *const c_char) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a configuration no other call uses.
        let c = unsafe { settings(cfg) }?;
        let dir = if dir.is_null() {
            ""
        } else {
            // SAFETY: per the contract, dir is a NUL-terminated string.
            unsafe { arg_str(dir, "index directory") }?
        };
        c.index_dir = (!dir.is_empty()).then(|| std::path::PathBuf::from(dir));
        Ok(())
    }
}

/// Registers the context's key provider (NULL removes it): every media opened on a context
/// made from this configuration without keys of its own (`hls_open_options_set_encryption`,
/// `hls_open_options_set_key_provider`) is encrypted as it answers, per rendition. See
/// `HlsKeyProvider` for when and how it is called.
///
/// # Safety
/// `cfg`: a live configuration, not used by another call meanwhile. `userdata`: the caller's,
/// never dereferenced by libhls; it must stay valid, and `provider` callable from any thread,
/// for as long as any context made from this configuration lives.
#[no_mangle]
pub unsafe extern "C" fn hls_config_set_key_provider(
    cfg: *mut HlsConfig,
    provider: super::keys::HlsKeyProvider,
    userdata: *mut std::ffi::c_void,
) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, cfg is NULL or a live, unshared configuration.
        let c = unsafe { settings(cfg) }?;
        c.key_provider = provider.map(|f| super::keys::c_provider(f, userdata));
        Ok(())
    }
}

/// Bounds of `hls_config_set_source_reads`'s `read_max`.
const SOURCE_READ_MIN: u64 = 64 << 10;
const SOURCE_READ_LIMIT: u64 = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcode_policy_is_validated() {
        let cfg = hls_config_new();
        // SAFETY (all calls): cfg is a live configuration used only here; NULL is allowed.
        unsafe {
            for (value, want) in [
                (0, TranscodePolicy::Unplayable),
                (1, TranscodePolicy::BrowserSafe),
                (2, TranscodePolicy::Never),
                (3, TranscodePolicy::AddAacBesideSurround),
            ] {
                assert_eq!(hls_config_set_transcode_policy(cfg, value), HlsStatus::HLS_OK);
                assert_eq!((*cfg).config.transcode, want);
            }
            for bad in [4, 99, -1, c_int::MIN, c_int::MAX] {
                assert_eq!(hls_config_set_transcode_policy(cfg, bad), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
                assert_eq!((*cfg).config.transcode, TranscodePolicy::AddAacBesideSurround, "unchanged by {bad}");
            }
            assert_eq!(hls_config_set_transcode_policy(std::ptr::null_mut(), 0), HlsStatus::HLS_ERR_NULL_ARGUMENT);
            assert_eq!(hls_config_set_segment_duration_ms(cfg, 999), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
            assert_eq!(hls_config_set_aac(cfg, 31_999, 0), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
            assert_eq!((*cfg).config.max_index_bytes, crate::model::config::DEFAULT_MAX_INDEX_BYTES);
            assert_eq!(hls_config_set_max_index_bytes(cfg, 4095), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
            assert_eq!(hls_config_set_max_index_bytes(cfg, 64 << 20), HlsStatus::HLS_OK);
            assert_eq!((*cfg).config.max_index_bytes, 64 << 20);
            assert_eq!(
                hls_config_set_max_index_bytes(std::ptr::null_mut(), 64 << 20),
                HlsStatus::HLS_ERR_NULL_ARGUMENT
            );
            hls_config_free(cfg);
        }
    }

    #[test]
    fn thumbnail_settings_are_validated() {
        use crate::model::thumbs::ThumbSettings;
        let cfg = hls_config_new();
        // SAFETY (all calls): cfg is a live configuration used only here; NULL is allowed.
        unsafe {
            assert_eq!((*cfg).config.thumbnails, ThumbSettings { width: 320, interval_ms: 10_000 });
            assert_eq!(hls_config_set_thumbnails(cfg, 160, 2000), HlsStatus::HLS_OK);
            assert_eq!((*cfg).config.thumbnails, ThumbSettings { width: 160, interval_ms: 2000 });
            for (w, i) in [(15, 2000), (1921, 2000), (160, 499), (160, 600_001), (160, 0)] {
                assert_eq!(hls_config_set_thumbnails(cfg, w, i), HlsStatus::HLS_ERR_INVALID_ARGUMENT, "{w} {i}");
                assert_eq!((*cfg).config.thumbnails.width, 160, "unchanged by {w} {i}");
            }
            assert_eq!(hls_config_set_thumbnails(cfg, 0, 0), HlsStatus::HLS_OK);
            assert!(!(*cfg).config.thumbnails.enabled());
            assert_eq!(hls_config_set_thumbnails(std::ptr::null_mut(), 0, 0), HlsStatus::HLS_ERR_NULL_ARGUMENT);
            hls_config_free(cfg);
        }
    }
}
