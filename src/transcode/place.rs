//! Placing decoded audio on the output grid: each run is converted (downmix, rate) from a start
//! aligned to the output grid and written into the encoder window's PCM buffer at its anchor;
//! when a run's two join anchors differ, a gradual time warp (windowed-sinc interpolation)
//! moves it from one placement to the other. Everything not covered by source audio stays
//! silent.

#![deny(unsafe_code)]

use std::ops::Range;

use super::decode::Decoded;
use super::resample::Resampler;
use super::runs::{chunk_anchors, clamp_i64, split_chunks};
use super::window::Window;
use crate::error::{ParseError, ParseResult};

/// Largest placement difference (output samples) a warp absorbs; beyond it the timestamps are
/// broken and the placements switch without a glide.
const MAX_WARP_SHIFT: f64 = 4800.0;
/// Half the length of the warp's interpolation filter.
const SINC_TAPS: i64 = 8;
/// Output samples always converted beyond the resampler's reach (see [`resample_margin`]).
const RESAMPLE_MARGIN_FIXED: i64 = 256;
/// Input samples the resampler's filter reaches: its 32 taps of the slower rate, twice.
const RESAMPLE_MARGIN_INPUT_SAMPLES: i64 = 64;

/// Planar f32 output audio of the encoder window, one vector per channel.
pub(super) type Pcm = Vec<Vec<f32>>;

/// Converts the decoded frames to the target layout and rate and places them on the output grid;
/// everything not covered by source audio stays silent.
pub(super) fn render_pcm(frames: &[Decoded], window: &Window) -> ParseResult<Pcm> {
    let mut pcm = vec![vec![0f32; window.buffer_len()]; window.channels];
    let mut previous_end_seconds: Option<f64> = None;
    for chunk in split_chunks(frames, window.time_base) {
        let frames = &frames[chunk];
        let Some((at_start, at_end)) = chunk_anchors(frames, window, previous_end_seconds) else {
            return Err(ParseError::new("the source audio has no timestamps"));
        };
        place_run(frames, at_start, at_end, window, &mut pcm)?;
        let total: i64 = frames.iter().map(Decoded::samples).sum();
        let end = at_end.saturating_add(total);
        previous_end_seconds = Some(end as f64 / f64::from(frames[0].rate()));
    }
    Ok(pcm)
}

/// Places one run: with one anchor when both joins agree, else with the start-join anchor up to
/// the middle of the range and the end-join anchor after it, joined there by a gradual time
/// warp (see [`warp_between`]).
fn place_run(frames: &[Decoded], at_start: i64, at_end: i64, window: &Window, pcm: &mut Pcm) -> ParseResult<()> {
    let whole = window.buffer_start()..window.buffer_end();
    let mut canvas = Canvas { data: pcm, start: whole.start };
    if at_start == at_end {
        return place_chunk(frames, at_start, window, whole, &mut canvas);
    }
    let warp = window.transition();
    place_chunk(frames, at_start, window, whole.start..warp.start, &mut canvas)?;
    place_chunk(frames, at_end, window, warp.end..whole.end, &mut canvas)?;
    warp_between(frames, (at_start, at_end), window, warp, &mut canvas)
}

/// Fills `warp` with the run placed at the start anchor and progressively delayed (raised-cosine
/// ramp, windowed-sinc interpolation) until it matches the placement at the end anchor. The two
/// anchors differ by at most about one timestamp tick, so over the warp's half second (see
/// [`Window::transition`]) the speed changes by well under 0.1 %: inaudible, where a jump would
/// click.
fn warp_between(
    frames: &[Decoded],
    (at_start, at_end): (i64, i64),
    window: &Window,
    warp: Range<i64>,
    canvas: &mut Canvas,
) -> ParseResult<()> {
    let in_rate = f64::from(frames[0].rate());
    let shift = (at_end - at_start) as f64 * f64::from(window.rate) / in_rate;
    if !shift.is_finite() || shift.abs() > MAX_WARP_SHIFT {
        // Timestamps this inconsistent are broken: switch placements without a glide.
        return place_chunk(frames, at_end, window, warp, canvas);
    }
    let margin = shift.abs().ceil() as i64 + SINC_TAPS + 2;
    let span = warp.start - margin..warp.end + margin;
    let mut data = vec![vec![0f32; (span.end - span.start) as usize]; window.channels];
    let mut source = Canvas { data: &mut data, start: span.start };
    place_chunk(frames, at_start, window, span.clone(), &mut source)?;
    let len = (warp.end - warp.start) as f64;
    for n in warp.start.max(canvas.start)..warp.end.min(canvas.end()) {
        let ramp = 0.5 - 0.5 * (std::f64::consts::PI * ((n - warp.start) as f64 + 0.5) / len).cos();
        let position = (n - span.start) as f64 - shift * ramp;
        let (first, weights) = sinc_weights(position);
        for (out, input) in canvas.data.iter_mut().zip(source.data.iter()) {
            let taps = input.get(first..first + weights.len()).unwrap_or(&[]);
            let value: f64 = taps.iter().zip(&weights).map(|(&x, &w)| f64::from(x) * w).sum();
            out[(n - canvas.start) as usize] = value as f32;
        }
    }
    Ok(())
}

/// Lanczos (windowed-sinc) interpolation weights for reading a signal at fractional `position`:
/// the index of the first tap and the normalised weights of the 2 * [`SINC_TAPS`] taps.
fn sinc_weights(position: f64) -> (usize, Vec<f64>) {
    let base = position.floor();
    let first = base as i64 - SINC_TAPS + 1;
    let a = SINC_TAPS as f64;
    let mut weights: Vec<f64> = (0..2 * SINC_TAPS)
        .map(|k| {
            let x = position - (first + k) as f64;
            if x.abs() < 1e-9 {
                1.0
            } else if x.abs() >= a {
                0.0
            } else {
                let px = std::f64::consts::PI * x;
                a * px.sin() * (px / a).sin() / (px * px)
            }
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    if sum.abs() > 1e-9 {
        weights.iter_mut().for_each(|w| *w /= sum);
    }
    (first.max(0) as usize, weights)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Output samples converted before the buffer start (and after its end) so that the resampler's
/// start-up and flush never touch the buffer: its filter spans 32 taps of the slower rate.
fn resample_margin(in_rate: i64, out_rate: i64) -> i64 {
    RESAMPLE_MARGIN_FIXED + RESAMPLE_MARGIN_INPUT_SAMPLES * (out_rate + in_rate - 1) / in_rate
}

/// Where conversion of a run starts: the input sample (relative to the run) and the output
/// sample it lands on. The start is aligned so that input and output positions are exact
/// multiples of the rate ratio, making every output sample land on the global output grid with
/// the same resampler phase in every call.
fn conversion_start(anchor: i64, in_rate: i64, out_rate: i64, region_start: i64) -> (i64, i64) {
    let g = gcd(in_rate, out_rate);
    let (step_in, step_out) = (in_rate / g, out_rate / g);
    let wanted_out = region_start - resample_margin(in_rate, out_rate);
    let wanted_in = (i128::from(wanted_out) * i128::from(in_rate)).div_euclid(i128::from(out_rate));
    let aligned_in = wanted_in.div_euclid(i128::from(step_in)) * i128::from(step_in);
    let skip = if aligned_in >= i128::from(anchor) {
        aligned_in - i128::from(anchor)
    } else {
        i128::from((step_in - anchor.rem_euclid(step_in)) % step_in)
    };
    let start_in = i128::from(anchor) + skip;
    let start_out = start_in.div_euclid(i128::from(step_in)) * i128::from(step_out);
    (clamp_i64(skip), clamp_i64(start_out))
}

/// A PCM buffer covering output samples `[start, start + length)`.
struct Canvas<'a> {
    data: &'a mut Pcm,
    start: i64,
}

impl Canvas<'_> {
    fn end(&self) -> i64 {
        self.start + self.data.first().map_or(0, |c| c.len() as i64)
    }
}

/// Converts one contiguous run (starting at input sample `anchor`) and writes the part that
/// falls in `region` (output samples) into `canvas`.
fn place_chunk(
    frames: &[Decoded],
    anchor: i64,
    window: &Window,
    region: Range<i64>,
    canvas: &mut Canvas,
) -> ParseResult<()> {
    let in_rate = i64::from(frames[0].rate());
    let out_rate = i64::from(window.rate);
    let total: i64 = frames.iter().map(Decoded::samples).sum();
    let margin = resample_margin(in_rate, out_rate);
    let to_out = |input: i64| clamp_i64(i128::from(input) * i128::from(out_rate) / i128::from(in_rate));
    if to_out(anchor.saturating_add(total)) + margin <= region.start || to_out(anchor) >= region.end + margin {
        return Ok(());
    }
    let (mut skip, mut out_pos) = conversion_start(anchor, in_rate, out_rate, region.start);
    let mut resampler = Resampler::new(&frames[0], window)?;
    for frame in frames {
        let n = frame.samples();
        if skip >= n {
            skip -= n;
            continue;
        }
        let produced = resampler.convert_frame(frame, skip)?;
        skip = 0;
        out_pos = write_pcm(canvas, &region, out_pos, &resampler.out, produced);
        if out_pos >= region.end + margin {
            return Ok(());
        }
    }
    if skip > 0 {
        return Ok(());
    }
    loop {
        let produced = resampler.flush()?;
        if produced == 0 {
            return Ok(());
        }
        out_pos = write_pcm(canvas, &region, out_pos, &resampler.out, produced);
    }
}

/// Copies `count` converted samples that start at output sample `pos` into the canvas (what
/// falls outside `region` or the canvas is dropped); returns the output position after them.
fn write_pcm(canvas: &mut Canvas, region: &Range<i64>, pos: i64, converted: &[Vec<f32>], count: usize) -> i64 {
    let end = pos + count as i64;
    let from = pos.max(region.start).max(canvas.start);
    let to = end.min(region.end).min(canvas.end());
    if from < to {
        let base = canvas.start;
        for (out, input) in canvas.data.iter_mut().zip(converted) {
            let src = &input[(from - pos) as usize..(to - pos) as usize];
            out[(from - base) as usize..(to - base) as usize].copy_from_slice(src);
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::aac::AacTarget;
    use ffmpeg_next as ff;

    #[test]
    fn sinc_weights_are_exact_at_integer_positions() {
        let (first, w) = sinc_weights(20.0);
        assert_eq!(first, 13);
        assert!((w[7] - 1.0).abs() < 1e-12);
        assert!(w.iter().enumerate().all(|(k, x)| k == 7 || x.abs() < 1e-12));
        let (_, w) = sinc_weights(20.5);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((w[7] - w[8]).abs() < 1e-12);
    }

    #[test]
    fn aligned_conversion_start_lands_on_the_grid() {
        let target = AacTarget { sample_rate: 48000, channels: 2, bitrate: 128_000, asc: vec![] };
        let window = Window::new(&target, ff::Rational::new(1, 1000), 100, 380).unwrap_or_else(|e| panic!("{e}"));
        for anchor in [-5000i64, 0, 3, 12_345, 4_000_000] {
            let (skip, out) = conversion_start(anchor, 44100, 48000, window.buffer_start());
            assert!(skip >= 0);
            assert_eq!((anchor + skip) * 48000 % 44100, 0);
            assert_eq!((anchor + skip) * 48000 / 44100, out);
            assert!(out <= window.buffer_start() || skip < 147);
        }
    }
}
