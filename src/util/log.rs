//! Logging: libhls logs through the `log` facade. C callers install a callback with
//! `hls_set_log_callback`; FFmpeg's own messages are routed into the same place once, at start-up.

#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use ffmpeg_next::ffi;
use parking_lot::RwLock;

/// A C log sink: `level` is 1 = error, 2 = warn, 3 = info, 4 = debug, 5 = trace.
pub type LogFn = unsafe extern "C" fn(level: c_int, message: *const c_char, userdata: *mut c_void);

struct Sink {
    func: LogFn,
    userdata: *mut c_void,
}

// SAFETY: the caller of hls_set_log_callback promises the callback and userdata may be used from
// any thread (documented in the header), so a Sink may move to another thread.
unsafe impl Send for Sink {}
// SAFETY: as for Send: the callback may be called from several threads at once with the same
// userdata (documented in the header); Sink has no interior mutability of its own.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct CallbackLogger;

impl log::Log for CallbackLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let guard = SINK.read();
        let Some(sink) = guard.as_ref() else { return };
        let text = format!("{}: {}", record.target(), record.args());
        let text = CString::new(text.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the callback is a valid C function that may be called from any thread with this
        // userdata (see `Sink`); `text` is a NUL-terminated string that lives through the call.
        unsafe { (sink.func)(record.level() as c_int, text.as_ptr(), sink.userdata) };
    }

    fn flush(&self) {}
}

static LOGGER: CallbackLogger = CallbackLogger;

/// Installs (or removes, with `None`) the C log callback and sets the most verbose level passed.
/// The `log` facade is claimed once; if the host program already installed its own logger,
/// libhls's records go there instead and the callback is unused.
pub fn set_callback(func: Option<LogFn>, userdata: *mut c_void, max_level: c_int) {
    let _ = log::set_logger(&LOGGER);
    *SINK.write() = func.map(|func| Sink { func, userdata });
    let level = match max_level {
        i32::MIN..=0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    log::set_max_level(if func.is_some() { level } else { log::LevelFilter::Off });
}

/// FFmpeg log callback (installed once by `demux::init_ffmpeg`): formats the line and forwards it
/// to the `log` facade. FFmpeg's level filter (warning) is applied before formatting. A panic
/// (in a host program's logger) is caught here: it must not unwind into FFmpeg.
///
/// # Safety
/// Called by FFmpeg with a valid format string and `va_list` for `avcl` and `level`.
pub unsafe extern "C" fn ffmpeg_log_callback(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    args: *mut ffi::__va_list_tag,
) {
    // SAFETY: av_log_get_level only reads FFmpeg's global level.
    if level > unsafe { ffi::av_log_get_level() } {
        return;
    }
    let lvl = if level <= ffi::AV_LOG_ERROR { log::Level::Error } else { log::Level::Warn };
    if lvl > log::max_level() {
        return;
    }
    let mut buf = [0 as c_char; 1024];
    let mut prefix: c_int = 1;
    // SAFETY: avcl, fmt and args come from FFmpeg as they were passed to this callback; buf is a
    // writable buffer of the given length, which av_log_format_line2 NUL-terminates.
    unsafe { ffi::av_log_format_line2(avcl, level, fmt, args, buf.as_mut_ptr(), buf.len() as c_int, &mut prefix) };
    // SAFETY: buf is NUL-terminated (above) and lives through the borrow.
    let line = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
    let _ = std::panic::catch_unwind(|| log::log!(target: "ffmpeg", lvl, "{}", line.trim_end()));
}
