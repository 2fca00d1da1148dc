//! The only place that talks to FFmpeg's demuxer: open a file, read its index, seek, and read
//! packets of selected streams. Everything above works with plain Rust values.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::Once;

use ff::ffi;
use ff::format::context::Input;
use ff::packet::Mut as _;
use ffmpeg_next as ff;

use crate::error::{Error, ErrorKind, Result};

/// FFmpeg's name of its ISO-BMFF (MP4, MOV) demuxer, as [`Demuxer::format_name`] gives it.
pub const MP4_FORMAT_NAME: &str = "mov,mp4,m4a,3gp,3g2,mj2";
/// How the name of FFmpeg's Matroska (and WebM) demuxer begins (`matroska,webm`).
pub const MATROSKA_FORMAT_PREFIX: &str = "matroska";
/// How the name of FFmpeg's ISO-BMFF demuxer begins ([`MP4_FORMAT_NAME`]).
const MP4_FORMAT_PREFIX: &str = "mov,";

/// One entry of a container's own index (MP4 sample table, Matroska Cues).
#[derive(Clone, Copy, Debug)]
pub struct IndexEntry {
    /// Byte position in the file.
    pub pos: i64,
    /// Timestamp in the stream's time base (the decode time for MP4).
    pub timestamp: i64,
    /// Sample size in bytes.
    pub size: u32,
    /// Random access point.
    pub keyframe: bool,
}

/// A packet made from bytes read without the demuxer (MP4 samples and Matroska blocks read by
/// position), with the timing the index gives it.
pub fn timed_packet(data: &[u8], pts: i64, dts: Option<i64>, duration: i64, key: bool) -> ff::Packet {
    let mut p = ff::Packet::copy(data);
    p.set_pts(Some(pts));
    p.set_dts(dts);
    p.set_duration(duration);
    if key {
        p.set_flags(ff::packet::Flags::KEY);
    }
    p
}

/// An opened demuxer for one file. Not shared between threads at once; kept in a per-media pool.
pub struct Demuxer {
    input: Input,
    is_matroska: bool,
    probed: bool,
}

static FFMPEG_INIT: Once = Once::new();

/// One-time process-wide FFmpeg set-up: route FFmpeg's log lines into the `log` facade at
/// warning level. Runs once; never changes FFmpeg's global state per call.
pub fn init_ffmpeg() {
    // SAFETY: both calls only store a process-wide setting; the callback is a plain `extern "C"`
    // function that lives for the whole program and never unwinds into FFmpeg.
    FFMPEG_INIT.call_once(|| unsafe {
        ffi::av_log_set_level(ffi::AV_LOG_WARNING);
        ffi::av_log_set_callback(Some(crate::util::log::ffmpeg_log_callback));
    });
}

fn av_error_text(code: i32) -> String {
    let mut buf = [0 as std::ffi::c_char; 128];
    // SAFETY: buf is writable for its length; av_strerror always NUL-terminates.
    unsafe { ffi::av_strerror(code, buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated above.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

impl Demuxer {
    /// Opens `path` and probes its streams. `probe_streams` runs FFmpeg's stream-info probe, which
    /// reads some packets; callers skip it when the container header already says everything.
    pub fn open(path: &Path, probe_streams: bool) -> Result<Demuxer> {
        init_ffmpeg();
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "path contains a NUL byte"))?;
        let mut ctx: *mut ffi::AVFormatContext = ptr::null_mut();
        // SAFETY: ctx is a valid out pointer; FFmpeg frees it on failure.
        let ret = unsafe { ffi::avformat_open_input(&mut ctx, c_path.as_ptr(), ptr::null(), ptr::null_mut()) };
        if ret < 0 {
            return Err(Error::media(format!("not a readable media file ({})", av_error_text(ret))));
        }
        // SAFETY: ctx was opened successfully and is owned by the Input from here on.
        let input = unsafe { Input::wrap(ctx) };
        let is_matroska = input.format().name().starts_with(MATROSKA_FORMAT_PREFIX);
        let mut demuxer = Demuxer { input, is_matroska, probed: false };
        if probe_streams || demuxer.needs_probe() {
            demuxer.probe()?;
        }
        Ok(demuxer)
    }

    /// Runs FFmpeg's stream-info probe (reads the first packets, which later reads return
    /// again). `open(path, true)` does this already.
    pub fn probe(&mut self) -> Result<()> {
        if self.probed {
            return Ok(());
        }
        self.probed = true;
        // SAFETY: the context is open.
        let ret = unsafe { ffi::avformat_find_stream_info(self.input.as_mut_ptr(), ptr::null_mut()) };
        if ret < 0 {
            return Err(Error::media(format!("cannot read stream parameters ({})", av_error_text(ret))));
        }
        Ok(())
    }

    /// True when some audio/video stream lacks parameters that only a probe finds.
    fn needs_probe(&self) -> bool {
        self.input.streams().any(|st| {
            // SAFETY: codecpar of an open stream is valid.
            let p = unsafe { &*(*st.as_ptr()).codecpar };
            match p.codec_type {
                ffi::AVMediaType::AVMEDIA_TYPE_VIDEO => p.width == 0 || p.height == 0,
                ffi::AVMediaType::AVMEDIA_TYPE_AUDIO => p.sample_rate == 0 || p.ch_layout.nb_channels == 0,
                _ => false,
            }
        })
    }

    /// The wrapped FFmpeg input (read-only use: streams, parameters, metadata).
    pub fn input(&self) -> &Input {
        &self.input
    }

    /// Short name of the container format, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`.
    pub fn format_name(&self) -> String {
        self.input.format().name().to_string()
    }

    /// True for the ISO-BMFF demuxer, whose index holds every sample.
    pub fn is_mp4_family(&self) -> bool {
        self.format_name().starts_with(MP4_FORMAT_PREFIX)
    }

    /// Container duration in microseconds, if known.
    pub fn duration_us(&self) -> Option<i64> {
        let d = self.input.duration();
        (d > 0).then_some(d)
    }

    /// The container's own index of stream `stream` (may be empty or partial).
    pub fn index_entries(&self, stream: usize) -> Vec<IndexEntry> {
        let Some(st) = self.input.stream(stream) else { return Vec::new() };
        // SAFETY: `as_ptr` only returns the pointer of a stream owned by the open context.
        let st_ptr = unsafe { st.as_ptr() as *mut ffi::AVStream };
        // SAFETY: st_ptr is a live stream of this open context; entries are read-only here.
        let count = unsafe { ffi::avformat_index_get_entries_count(st_ptr) };
        let mut out = Vec::with_capacity(count.max(0) as usize);
        for i in 0..count {
            // SAFETY: i is in range; the entry pointer is valid until the index changes, and we
            // copy it out at once.
            let e = unsafe { ffi::avformat_index_get_entry(st_ptr, i) };
            if e.is_null() {
                break;
            }
            // SAFETY: checked non-NULL just above; the entry is read before the index can change.
            let e = unsafe { &*e };
            out.push(IndexEntry {
                pos: e.pos,
                timestamp: e.timestamp,
                size: e.size() as u32,
                keyframe: (e.flags() & ffi::AVINDEX_KEYFRAME) != 0,
            });
        }
        out
    }

    /// Reads packets of `streams` only: every other stream is discarded inside the demuxer.
    pub fn select(&mut self, streams: &[usize]) {
        // SAFETY: the context is open; stream pointers are valid for its lifetime.
        unsafe {
            let ctx = self.input.as_mut_ptr();
            for i in 0..(*ctx).nb_streams as usize {
                let st = *(*ctx).streams.add(i);
                (*st).discard = if streams.contains(&i) {
                    ffi::AVDiscard::AVDISCARD_DEFAULT
                } else {
                    ffi::AVDiscard::AVDISCARD_ALL
                };
            }
        }
    }

    /// Seeks so that the next packets of `stream` start at or before `ts` (in its time base).
    /// `stream = None` seeks on the default stream with `ts` in microseconds.
    pub fn seek(&mut self, stream: Option<usize>, ts: i64) -> Result<()> {
        let index = stream.map_or(-1, |s| s as i32);
        // Matroska: FFmpeg seeks to a Cue's cluster and, unless told ANY, then drops every block
        // timed before that keyframe, audio frames stored after it included. Its index holds
        // only keyframes, so ANY still lands on one; callers pick their packets themselves.
        let flags =
            if self.is_matroska { ffi::AVSEEK_FLAG_BACKWARD | ffi::AVSEEK_FLAG_ANY } else { ffi::AVSEEK_FLAG_BACKWARD };
        // SAFETY: the context is open.
        let ret = unsafe { ffi::av_seek_frame(self.input.as_mut_ptr(), index, ts, flags) };
        if ret < 0 {
            // Formats without an index: go back to the start and read forward.
            // SAFETY: the context is open; a seek only moves its read position.
            let ret0 = unsafe { ffi::avformat_seek_file(self.input.as_mut_ptr(), -1, i64::MIN, 0, 0, 0) };
            if ret0 < 0 {
                return Err(Error::media(format!("seek failed ({})", av_error_text(ret))));
            }
        }
        Ok(())
    }

    /// Reads the next packet of a selected stream into `pkt`. Returns `false` at end of file.
    pub fn read(&mut self, pkt: &mut ff::Packet) -> Result<bool> {
        // av_read_frame does not release what the packet held: drop it first.
        // SAFETY: the packet is valid; unref on an empty packet is a no-op.
        unsafe { ffi::av_packet_unref(pkt.as_mut_ptr()) };
        match pkt.read(&mut self.input) {
            Ok(()) => Ok(true),
            Err(ff::Error::Eof) => Ok(false),
            Err(e) => Err(Error::media(format!("read error ({e})"))),
        }
    }
}
