//! Audio transcoding to AAC-LC for HLS, one segment at a time.
//!
//! Browsers cannot play DTS, TrueHD, Vorbis, PCM and (often) FLAC, Opus or AC-3 inside HLS, so
//! such tracks are served as AAC-LC in fMP4. Each segment is produced on demand, alone, on the
//! caller's thread, and the bytes of a segment depend only on (source, frame range, settings):
//! a segment made alone is bit-identical to the same segment made while playing in order.
//!
//! Timeline: output sample `s` is source presentation time `s / sample_rate` seconds, and AAC frame
//! `k` is the packet whose decoded audio (overlapped with frame `k - 1`, as every AAC decoder does)
//! is output samples `[k * 1024, (k + 1) * 1024)`. There is no priming offset: a track's `tfdt` is
//! simply `first_frame * 1024`, and consecutive segments join without gap or overlap.
//!
//! How one range is made:
//! 1. the packets from [`preroll_us`] before the range start to a little after its end are
//!    decoded with a fresh decoder (the pre-roll lets DTS, AC-3, MP3, Vorbis, Opus... converge);
//! 2. decoded frames are placed on the output grid by their timestamps, downmixed and, when
//!    needed, resampled with swresample started at a point aligned to the output grid, so every
//!    output sample depends only on nearby input. Coarse timestamps (Matroska's 1 ms) leave the
//!    exact sample position uncertain by up to a tick, so the audio around each join is placed
//!    from the timestamps of a fixed window around that join only: the two calls that share a
//!    join place it to the same sample. When a range's two joins disagree by a few samples, a
//!    0.5 s time warp (well under 0.1 % speed change) in the range's middle absorbs it;
//! 3. FFmpeg's native `aac` encoder (bit-exact flag, no threads) encodes from a fixed number of
//!    pre-roll frames before the range to two frames after it (its look-ahead), and exactly the
//!    packets of frames `[first_frame, end_frame)` are kept. Where the source has no audio
//!    (before its start, after its end, in gaps) silence is encoded.
//!
//! Determinism holds across calls and processes on one machine build; the floating-point paths
//! of FFmpeg may pick other SIMD code on other CPUs.

//! The stages live in one file each, every one importing only the ones before it:
//! - `target`: what a source stream becomes (rate, channels, bitrate) and which targets are valid;
//! - `window`: the span of one call (frames kept, encoded, and source times decoded), and the
//!   pre- and post-roll it needs;
//! - `av`: FFmpeg glue shared by the stages (error codes, channel layouts);
//! - `decode`: packet selection and the FFmpeg decoder (packets → timestamped frames);
//! - `resample`: downmix and rate conversion with swresample;
//! - `runs`: splitting decoded frames into contiguous runs and anchoring each run on the source
//!   timeline (the join windows);
//! - `place`: writing runs onto the output grid (aligned resampler starts, the warp);
//! - `encode`: FFmpeg's AAC encoder and the selection of the kept frames.

#![deny(unsafe_op_in_unsafe_fn)]

use ffmpeg_next as ff;

mod av;
mod decode;
mod encode;
mod place;
mod resample;
mod runs;
mod target;
mod window;

pub use encode::EncodedRange;
pub use window::frame_start_us;

use crate::error::ParseResult;
use crate::model::aac::{AacSettings, AacTarget};

/// How much source audio before a range's start time the caller must supply to
/// [`encode_range`], in microseconds (the same for every source and rate).
pub fn preroll_us() -> i64 {
    window::PREROLL_US
}

/// How much source audio after a range's end time the caller should supply to [`encode_range`],
/// in microseconds, valid for every output rate. At 44.1 kHz and above, 100 ms is enough.
pub fn postroll_us() -> i64 {
    window::postroll_for_rate(window::LOWEST_RATE)
}

/// Decides what an audio stream becomes (channels, rate, bitrate) and gets the AAC
/// AudioSpecificConfig from an opened encoder. Fails when the stream is not audio, FFmpeg has no
/// decoder for it, or the AAC encoder cannot be opened.
pub fn plan(params: &ff::codec::Parameters, settings: &AacSettings) -> ParseResult<AacTarget> {
    let mut target = target::choose(params, settings)?;
    target.asc = encode::audio_specific_config(&target)?;
    Ok(target)
}

/// Encodes AAC frames `[first_frame, end_frame)` of the track described by `target` (from
/// [`plan`] on the same `params`).
///
/// `packets` are the source stream's packets in decode order, with timestamps in `time_base`,
/// covering at least `[frame_start_us(first_frame) - preroll_us(), frame_start_us(end_frame) +
/// postroll_us()]` (fewer at the stream's start and end). Extra packets outside that span are
/// ignored, so the result depends only on the source, the range and the target. Packets that do
/// not decode are skipped (their time becomes silence), unless most of the range's own packets
/// do not: then the range is an error.
pub fn encode_range(
    params: &ff::codec::Parameters,
    time_base: ff::Rational,
    packets: &[ff::Packet],
    target: &AacTarget,
    first_frame: u64,
    end_frame: u64,
) -> ParseResult<EncodedRange> {
    let window = window::Window::new(target, time_base, first_frame, end_frame)?;
    if first_frame == end_frame {
        return Ok(EncodedRange::default());
    }
    let selected = decode::select_packets(packets, &window);
    let frames = decode::decode_packets(params, time_base, selected, &window)?;
    let pcm = place::render_pcm(&frames, &window)?;
    encode::encode_pcm(&pcm, target, &window)
}

#[cfg(test)]
mod tests {
    use super::window::{postroll_for_rate, ENCODER_PREROLL_FRAMES, LOWEST_RATE};
    use super::*;

    #[test]
    fn frame_times_and_rolls() {
        assert_eq!(frame_start_us(0, 48000), 0);
        assert_eq!(frame_start_us(375, 48000), 8_000_000);
        assert_eq!(frame_start_us(1, 0), 0);
        assert!(postroll_for_rate(48000) <= 100_000);
        assert!(postroll_for_rate(44100) <= 100_000);
        assert!(postroll_us() >= postroll_for_rate(8000));
        // The pre-roll covers the encoder pre-roll at the slowest rate with room for decoders.
        assert!(preroll_us() >= frame_start_us(ENCODER_PREROLL_FRAMES, LOWEST_RATE) + 250_000);
        // The join window starts well after the later call's first (converging) frames and ends
        // within what the earlier call decodes after its range.
        assert!(runs::JOIN_WINDOW_BEFORE_US + 300_000 <= preroll_us());
        assert!(runs::JOIN_WINDOW_AFTER_US + 20_000 <= postroll_for_rate(96000));
    }

    #[test]
    fn plan_and_encode_reject_bad_input() {
        let target = AacTarget { sample_rate: 7000, channels: 2, bitrate: 128_000, asc: vec![] };
        let params = ff::codec::Parameters::new();
        let tb = ff::Rational::new(1, 48000);
        assert!(encode_range(&params, tb, &[], &target, 0, 10).is_err());
        let target = AacTarget { sample_rate: 48000, ..target };
        assert!(encode_range(&params, tb, &[], &target, 10, 0).is_err());
        assert!(encode_range(&params, ff::Rational::new(0, 1), &[], &target, 0, 1).is_err());
        assert!(encode_range(&params, tb, &[], &target, 0, u64::MAX).is_err());
        assert!(plan(&params, &AacSettings::default()).is_err());
    }
}
