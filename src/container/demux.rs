//! The only place that talks to FFmpeg's demuxer: open a file, read its index, seek, and read
//! packets of selected streams. Everything above works with plain Rust values.

use std::ffi::CString;
use std::os::raw::{c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::{Arc, Once};

use ff::ffi;
use ff::format::context::Input;
use ff::packet::Mut as _;
use ffmpeg_next as ff;

use crate::container::read::{ByteSource, CallbackSource};
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
    // Declared before `io`: the format context is closed before its I/O context is freed.
    input: Input,
    /// The custom I/O context over a caller-supplied source (`None` for a local file).
    _io: Option<CustomIo>,
    is_matroska: bool,
    probed: bool,
}

/// Bytes FFmpeg reads per call of a caller-supplied source (its AVIO buffer): larger than
/// FFmpeg's 32 KB default, since every call may be a network round trip.
const SOURCE_IO_BUFFER: usize = 256 << 10;

/// Where FFmpeg's reads of a caller-supplied source are: the source and the current position.
struct IoState {
    src: Arc<CallbackSource>,
    pos: u64,
}

/// An `AVIOContext` whose reads and seeks go to a [`CallbackSource`], and the state its
/// callbacks use. Freed after the format context that reads through it.
struct CustomIo {
    ctx: *mut ffi::AVIOContext,
    state: *mut IoState,
}

// SAFETY: the AVIO context and its state are used only by the one thread that holds the
// `Demuxer` (which is moved between threads, never shared); the source is `Send + Sync`.
unsafe impl Send for CustomIo {}

impl CustomIo {
    /// A new read-only, seekable AVIO context over `src`.
    fn new(src: Arc<CallbackSource>) -> Result<CustomIo> {
        // SAFETY: av_malloc returns NULL or a buffer of the asked size.
        let buf = unsafe { ffi::av_malloc(SOURCE_IO_BUFFER) } as *mut u8;
        if buf.is_null() {
            return Err(Error::new(ErrorKind::Internal, "cannot allocate an I/O buffer"));
        }
        let state = Box::into_raw(Box::new(IoState { src, pos: 0 }));
        // SAFETY: buf is an av_malloc'ed buffer of SOURCE_IO_BUFFER bytes (the context owns it
        // from here); state stays valid until this CustomIo is dropped, after the context.
        let ctx = unsafe {
            ffi::avio_alloc_context(
                buf,
                SOURCE_IO_BUFFER as c_int,
                0,
                state as *mut c_void,
                Some(io_read),
                None,
                Some(io_seek),
            )
        };
        if ctx.is_null() {
            // SAFETY: the context was not made: buf and state are still ours, freed once here.
            unsafe {
                ffi::av_free(buf as *mut c_void);
                drop(Box::from_raw(state));
            }
            return Err(Error::new(ErrorKind::Internal, "cannot allocate an I/O context"));
        }
        Ok(CustomIo { ctx, state })
    }
}

impl Drop for CustomIo {
    fn drop(&mut self) {
        // SAFETY: ctx came from avio_alloc_context and no format context uses it any more (the
        // Demuxer closes its input first, and a failed open freed its format context); its
        // current buffer (FFmpeg may have replaced ours) is freed with it. state came from
        // Box::into_raw and is freed exactly once, after the context that pointed to it.
        unsafe {
            ffi::av_freep(&mut (*self.ctx).buffer as *mut *mut u8 as *mut c_void);
            ffi::avio_context_free(&mut self.ctx);
            drop(Box::from_raw(self.state));
        }
    }
}

/// FFmpeg's read callback over a caller-supplied source: up to `len` bytes at the current
/// position; end of file at the end; an I/O error when the source fails (the source keeps the
/// caller's words for the engine, see `read::take_source_failure`).
///
/// # Safety
/// `opaque` is the `IoState` of a live `CustomIo`; `buf` is writable for `len` bytes.
unsafe extern "C" fn io_read(opaque: *mut c_void, buf: *mut u8, len: c_int) -> c_int {
    if opaque.is_null() || buf.is_null() || len <= 0 {
        return ffi::AVERROR(libc::EINVAL);
    }
    // SAFETY: per this function's contract; FFmpeg calls it from the thread using the demuxer.
    let st = unsafe { &mut *(opaque as *mut IoState) };
    // SAFETY: per this function's contract.
    let out = unsafe { std::slice::from_raw_parts_mut(buf, len as usize) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| st.src.read_some(st.pos, out)));
    match r {
        Ok(Ok(0)) => ffi::AVERROR_EOF,
        Ok(Ok(n)) => {
            st.pos += n as u64;
            n as c_int
        }
        Ok(Err(_)) | Err(_) => ffi::AVERROR(libc::EIO),
    }
}

/// FFmpeg's seek callback over a caller-supplied source (`AVSEEK_SIZE` gives the size).
///
/// # Safety
/// `opaque` is the `IoState` of a live `CustomIo`.
unsafe extern "C" fn io_seek(opaque: *mut c_void, offset: i64, whence: c_int) -> i64 {
    if opaque.is_null() {
        return i64::from(ffi::AVERROR(libc::EINVAL));
    }
    // SAFETY: per this function's contract.
    let st = unsafe { &mut *(opaque as *mut IoState) };
    let size = st.src.size() as i64;
    let whence = whence & !ffi::AVSEEK_FORCE;
    if whence == ffi::AVSEEK_SIZE {
        return size;
    }
    let to = match whence {
        libc::SEEK_SET => Some(offset),
        libc::SEEK_CUR => (st.pos as i64).checked_add(offset),
        libc::SEEK_END => size.checked_add(offset),
        _ => None,
    };
    match to {
        Some(p) if p >= 0 => {
            st.pos = p as u64;
            p
        }
        _ => i64::from(ffi::AVERROR(libc::EINVAL)),
    }
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
    /// Opens `src` (a local file by its path, a caller-supplied source through a custom AVIO
    /// context) and probes its streams. `probe_streams` runs FFmpeg's stream-info probe, which
    /// reads some packets; callers skip it when the container header already says everything.
    pub fn open(src: &ByteSource, probe_streams: bool) -> Result<Demuxer> {
        Demuxer::open_format(src, probe_streams, false)
    }

    /// [`Demuxer::open`] of a file the caller has found to be Matroska or WebM (an EBML header
    /// with either DocType: `container::mkv::is_matroska`): FFmpeg's Matroska demuxer is used
    /// without its format probe, which asks every demuxer FFmpeg has to score the first bytes
    /// (the one Matroska wins anyway).
    pub fn open_matroska(src: &ByteSource, probe_streams: bool) -> Result<Demuxer> {
        Demuxer::open_format(src, probe_streams, true)
    }

    fn open_format(src: &ByteSource, probe_streams: bool, matroska: bool) -> Result<Demuxer> {
        match src {
            ByteSource::File { path, .. } => Demuxer::open_path_as(path, probe_streams, matroska),
            ByteSource::Callback(c) => Demuxer::open_source(c.clone(), probe_streams, matroska),
            ByteSource::Window(w) => Demuxer::open_format(&w.inner, probe_streams, matroska),
        }
    }

    /// Opens the local file at `path` (FFmpeg's own file I/O).
    pub fn open_path(path: &Path, probe_streams: bool) -> Result<Demuxer> {
        Demuxer::open_path_as(path, probe_streams, false)
    }

    /// FFmpeg's Matroska demuxer (`matroska`: the caller read the EBML header), else `NULL`:
    /// probe the format from the bytes.
    fn input_format(matroska: bool) -> *const ffi::AVInputFormat {
        if !matroska {
            return ptr::null();
        }
        // SAFETY: a lookup in FFmpeg's static list of demuxers by a NUL-terminated name; the
        // result (NULL when not built in) is a static that lives for the whole program.
        unsafe { ffi::av_find_input_format(c"matroska".as_ptr()) }
    }

    fn open_path_as(path: &Path, probe_streams: bool, matroska: bool) -> Result<Demuxer> {
        init_ffmpeg();
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "path contains a NUL byte"))?;
        let mut ctx: *mut ffi::AVFormatContext = ptr::null_mut();
        let fmt = Demuxer::input_format(matroska);
        // SAFETY: ctx is a valid out pointer; fmt is NULL or a static demuxer; FFmpeg frees ctx
        // on failure.
        let ret = unsafe { ffi::avformat_open_input(&mut ctx, c_path.as_ptr(), fmt, ptr::null_mut()) };
        Demuxer::opened(ctx, ret, None, probe_streams)
    }

    /// Opens a caller-supplied source through a custom AVIO context.
    fn open_source(src: Arc<CallbackSource>, probe_streams: bool, matroska: bool) -> Result<Demuxer> {
        init_ffmpeg();
        let io = CustomIo::new(src)?;
        // SAFETY: allocates an empty format context (NULL when out of memory).
        let mut ctx = unsafe { ffi::avformat_alloc_context() };
        if ctx.is_null() {
            return Err(Error::new(ErrorKind::Internal, "cannot allocate a format context"));
        }
        let fmt = Demuxer::input_format(matroska);
        // SAFETY: ctx is a fresh context; pb is our AVIO context, which outlives it (CUSTOM_IO:
        // FFmpeg never closes it). The URL is empty: the format is probed from the bytes, unless
        // `fmt` (NULL or a static demuxer) names it.
        let ret = unsafe {
            (*ctx).pb = io.ctx;
            (*ctx).flags |= ffi::AVFMT_FLAG_CUSTOM_IO;
            ffi::avformat_open_input(&mut ctx, c"".as_ptr(), fmt, ptr::null_mut())
        };
        Demuxer::opened(ctx, ret, Some(io), probe_streams)
    }

    /// Wraps a context `avformat_open_input` returned `ret` for.
    fn opened(
        ctx: *mut ffi::AVFormatContext,
        ret: c_int,
        io: Option<CustomIo>,
        probe_streams: bool,
    ) -> Result<Demuxer> {
        if ret < 0 {
            // FFmpeg freed the format context; `io` (if any) is freed on return.
            return Err(Error::media(format!("not a readable media file ({})", av_error_text(ret))));
        }
        // SAFETY: ctx was opened successfully and is owned by the Input from here on.
        let input = unsafe { Input::wrap(ctx) };
        let is_matroska = input.format().name().starts_with(MATROSKA_FORMAT_PREFIX);
        let mut demuxer = Demuxer { input, _io: io, is_matroska, probed: false };
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

    /// FFmpeg's stream-info probe has run (asked for, or needed: [`Demuxer::open`]).
    pub fn probed(&self) -> bool {
        self.probed
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
