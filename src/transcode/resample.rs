//! Downmix and rate conversion: one swresample context per run of decoded frames, converting to
//! the target layout, f32 planar, at the target rate.

use std::ptr;

use ffmpeg_next as ff;

use ff::ffi;

use super::av::{av_error, layout_from_mask, target_layout};
use super::decode::Decoded;
use super::window::Window;
use crate::error::{ParseError, ParseResult};

/// Output samples allowed per conversion beyond what swresample announces.
const OUTPUT_SLACK: i32 = 16;

/// The layout swresample is told for decoded audio: its own when it names the channels, else
/// FFmpeg's default layout for that many channels.
fn source_layout(frame: &Decoded) -> ParseResult<ffi::AVChannelLayout> {
    let layout = &frame.raw().ch_layout;
    if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
        // SAFETY: for the native order the union holds the mask.
        let mask = unsafe { layout.u.mask };
        if mask.count_ones() == layout.nb_channels as u32 {
            return Ok(layout_from_mask(mask));
        }
    }
    // SAFETY: AVChannelLayout is plain data for which all-zero is a valid value;
    // av_channel_layout_default only writes through the valid pointer it is given.
    let fallback = unsafe {
        let mut fallback: ffi::AVChannelLayout = std::mem::zeroed();
        ffi::av_channel_layout_default(&mut fallback, layout.nb_channels);
        fallback
    };
    if fallback.order != ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
        return Err(ParseError::new(format!("no channel layout known for {} channels", layout.nb_channels)));
    }
    Ok(fallback)
}

/// An swresample context converting one run to the target layout, f32 planar, target rate,
/// with its output scratch buffers.
pub(super) struct Resampler {
    swr: *mut ffi::SwrContext,
    /// The converted samples of the last call, one vector per output channel.
    pub(super) out: Vec<Vec<f32>>,
    format: ffi::AVSampleFormat,
    in_channels: usize,
}

impl Drop for Resampler {
    fn drop(&mut self) {
        // SAFETY: swr came from swr_alloc_set_opts2 (or is NULL) and is freed once; swr_free
        // accepts NULL and resets the pointer.
        unsafe { ffi::swr_free(&mut self.swr) };
    }
}

impl Resampler {
    /// A resampler for the run that starts with `first`, converting to `window`'s target.
    pub(super) fn new(first: &Decoded, window: &Window) -> ParseResult<Resampler> {
        let mut in_layout = source_layout(first)?;
        let mut out_layout = target_layout(window.channels);
        let raw = first.raw();
        // SAFETY: the decoder set a valid sample format: checked_frame checked it is in
        // 0..AV_SAMPLE_FMT_NB, and AVSampleFormat is a C enum with an i32 representation.
        let format: ffi::AVSampleFormat = unsafe { std::mem::transmute::<i32, ffi::AVSampleFormat>(raw.format) };
        let mut resampler = Resampler {
            swr: ptr::null_mut(),
            out: vec![Vec::new(); window.channels],
            format,
            in_channels: in_layout.nb_channels as usize,
        };
        // SAFETY: all pointers are valid for the calls (layouts live on this stack frame, swr is
        // checked before use); swr is owned by the Resampler, which frees it on drop.
        unsafe {
            let ret = ffi::swr_alloc_set_opts2(
                &mut resampler.swr,
                &mut out_layout,
                ffi::AVSampleFormat::AV_SAMPLE_FMT_FLTP,
                window.rate as i32,
                &mut in_layout,
                format,
                raw.sample_rate,
                0,
                ptr::null_mut(),
            );
            if ret < 0 || resampler.swr.is_null() {
                return Err(av_error("cannot set up the resampler", ret));
            }
            // Exact rational ratio, so aligned starts give identical filter phases.
            ffi::av_opt_set_int(resampler.swr.cast(), c"exact_rational".as_ptr(), 1, 0);
            let ret = ffi::swr_init(resampler.swr);
            if ret < 0 {
                return Err(av_error("cannot open the resampler", ret));
            }
        }
        Ok(resampler)
    }

    /// Converts a frame from input sample `skip` on; returns the samples now in `self.out`.
    pub(super) fn convert_frame(&mut self, frame: &Decoded, skip: i64) -> ParseResult<usize> {
        let raw = frame.raw();
        let count = i64::from(raw.nb_samples) - skip;
        // SAFETY: format is a valid sample format (see `new`); both calls only read it.
        let (planar, bytes) =
            unsafe { (ffi::av_sample_fmt_is_planar(self.format) != 0, ffi::av_get_bytes_per_sample(self.format)) };
        let planes = if planar { self.in_channels } else { 1 };
        let stride = if planar { 1 } else { self.in_channels };
        let offset = skip as usize * bytes as usize * stride;
        // SAFETY: extended_data holds `planes` pointers to nb_samples samples each (checked
        // non-NULL in checked_frame) and skip < nb_samples, so the offset stays in the plane.
        let inputs: Vec<*const u8> =
            (0..planes).map(|p| unsafe { (*raw.extended_data.add(p)).add(offset) as *const u8 }).collect();
        self.convert(inputs.as_ptr(), count as i32)
    }

    /// Drains what the resampler still holds; returns the samples now in `self.out`.
    pub(super) fn flush(&mut self) -> ParseResult<usize> {
        self.convert(ptr::null(), 0)
    }

    fn convert(&mut self, inputs: *const *const u8, count: i32) -> ParseResult<usize> {
        // SAFETY: swr is initialised (Resampler::new succeeded).
        let capacity = unsafe { ffi::swr_get_out_samples(self.swr, count) }.max(0) + OUTPUT_SLACK;
        for channel in &mut self.out {
            channel.resize(capacity as usize, 0.0);
        }
        let mut outputs: Vec<*mut u8> = self.out.iter_mut().map(|c| c.as_mut_ptr().cast()).collect();
        // SAFETY: each output plane holds `capacity` floats; inputs holds one pointer per input
        // plane with `count` samples each (or is NULL to flush).
        let ret = unsafe { ffi::swr_convert(self.swr, outputs.as_mut_ptr(), capacity, inputs as *mut _, count) };
        if ret < 0 {
            return Err(av_error("resampling failed", ret));
        }
        Ok(ret as usize)
    }
}
