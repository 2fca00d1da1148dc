//! What a source audio stream becomes: the AAC target's rate, channel count and bitrate, and
//! which targets the encoder accepts.

use ffmpeg_next as ff;

use ff::ffi;

use crate::codec::aac::{FRAME_SAMPLES as AAC_FRAME_SAMPLES, SAMPLE_RATES};
use crate::error::{ParseError, ParseResult};
use crate::model::aac::{AacSettings, AacTarget, DEFAULT_STEREO_BITRATE};

/// Sample rates kept as they are: AAC's sampling frequencies but 7350 Hz (the table's last);
/// any other source rate is resampled to 48000 Hz.
pub(crate) const AAC_SAMPLE_RATES: &[u32] = SAMPLE_RATES.split_last().unwrap().1;

/// Output rate for sources whose rate AAC-LC cannot keep.
const FALLBACK_RATE: u32 = 48000;
/// Channels of a stereo target (every source with fewer than [`SURROUND_CHANNELS`], or all when
/// surround is not kept).
pub(super) const STEREO_CHANNELS: u32 = 2;
/// Channels of a 5.1 target (sources with at least this many channels, when surround is kept).
pub(super) const SURROUND_CHANNELS: u32 = 6;
/// The encoder's ceiling: bits per channel in one AAC frame.
const MAX_BITS_PER_CHANNEL_FRAME: u64 = 6144;
/// Lowest bitrate given to one channel.
const MIN_BITRATE_PER_CHANNEL: u64 = 8000;

/// Decides the target of an audio stream (its `asc` is left empty: the encoder makes it).
pub(super) fn choose(params: &ff::codec::Parameters, settings: &AacSettings) -> ParseResult<AacTarget> {
    let source = SourceInfo::read(params)?;
    let channels = target_channels(source.channels, settings.keep_surround);
    let sample_rate = target_rate(source.sample_rate);
    let bitrate = target_bitrate(settings.bitrate, channels, sample_rate);
    Ok(AacTarget { sample_rate, channels, bitrate, asc: Vec::new() })
}

/// The few facts of the source stream that planning needs.
struct SourceInfo {
    sample_rate: u32,
    channels: u32,
}

impl SourceInfo {
    fn read(params: &ff::codec::Parameters) -> ParseResult<SourceInfo> {
        // SAFETY: Parameters always wraps a valid AVCodecParameters, which lives as long as the
        // borrow of `params`.
        let p = unsafe { &*params.as_ptr() };
        if p.codec_type != ffi::AVMediaType::AVMEDIA_TYPE_AUDIO {
            return Err(ParseError::new("the stream is not audio"));
        }
        // SAFETY: plain lookup in FFmpeg's static codec list; any id is accepted.
        if unsafe { ffi::avcodec_find_decoder(p.codec_id) }.is_null() {
            return Err(ParseError::new(format!("no FFmpeg decoder for audio codec {:?}", p.codec_id)));
        }
        let channels = u32::try_from(p.ch_layout.nb_channels).unwrap_or(0);
        Ok(SourceInfo { sample_rate: u32::try_from(p.sample_rate).unwrap_or(0), channels })
    }
}

fn target_channels(source_channels: u32, keep_surround: bool) -> u32 {
    if keep_surround && source_channels >= SURROUND_CHANNELS {
        SURROUND_CHANNELS
    } else {
        STEREO_CHANNELS
    }
}

fn target_rate(source_rate: u32) -> u32 {
    if AAC_SAMPLE_RATES.contains(&source_rate) {
        source_rate
    } else {
        FALLBACK_RATE
    }
}

/// Stereo bitrate scaled per channel pair, clamped to what the encoder can do at this rate.
fn target_bitrate(stereo_bitrate: u32, channels: u32, rate: u32) -> u32 {
    let stereo = if stereo_bitrate == 0 { DEFAULT_STEREO_BITRATE } else { stereo_bitrate };
    let wanted = u64::from(stereo) * u64::from(channels) / u64::from(STEREO_CHANNELS);
    let ceiling = MAX_BITS_PER_CHANNEL_FRAME * u64::from(channels) * u64::from(rate) / AAC_FRAME_SAMPLES;
    let floor = MIN_BITRATE_PER_CHANNEL * u64::from(channels);
    u32::try_from(wanted.min(ceiling).max(floor)).unwrap_or(u32::MAX)
}

/// Refuses targets the encoder is never opened with: a rate AAC-LC cannot signal, a channel
/// count other than stereo or 5.1, a zero bitrate.
pub(super) fn validate_target(target: &AacTarget) -> ParseResult<()> {
    if !AAC_SAMPLE_RATES.contains(&target.sample_rate) {
        return Err(ParseError::new(format!("unsupported AAC sample rate {}", target.sample_rate)));
    }
    if target.channels != STEREO_CHANNELS && target.channels != SURROUND_CHANNELS {
        return Err(ParseError::new(format!("unsupported AAC channel count {}", target.channels)));
    }
    if target.bitrate == 0 {
        return Err(ParseError::new("AAC bitrate is 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_channels_and_bitrates() {
        assert_eq!(target_rate(44100), 44100);
        assert_eq!(target_rate(192000), 48000);
        assert_eq!(target_rate(7000), 48000);
        assert_eq!(target_rate(0), 48000);
        assert_eq!(target_channels(6, true), 6);
        assert_eq!(target_channels(8, true), 6);
        assert_eq!(target_channels(6, false), 2);
        assert_eq!(target_channels(1, true), 2);
        assert_eq!(target_bitrate(0, 2, 48000), 128_000);
        assert_eq!(target_bitrate(128_000, 6, 48000), 384_000);
        assert!(target_bitrate(1_000_000, 2, 8000) <= 6144 * 2 * 8000 / 1024);
    }
}
