//! `HlsConfig`, the settings builder, with its setters, and the `HlsTranscodePolicy` values.

use std::ffi::c_int;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::boundary::{arg_mut, ffi_boundary, into_handle, take_handle};
use super::error::ErrorOut;
use super::status::HlsStatus;
use crate::error::{Error, ErrorKind};
use crate::model::config::{Config, TranscodePolicy};

/// Accepted target segment durations, in milliseconds.
const SEGMENT_DURATION_MS: RangeInclusive<u32> = 1000..=60_000;

/// Accepted AAC bitrates for a stereo output, in bit/s.
const AAC_BITRATE: RangeInclusive<u32> = 32_000..=512_000;

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
}
