//! The C API itself: random sequences of calls of the `extern "C"` functions, with arguments
//! decoded from the input: NULL or live handles, out-of-range enums and integers, names and paths
//! that are valid, malformed, not UTF-8 or random bytes. Handles are only ever live or NULL
//! (the contract cannot detect a freed handle: passing one is the caller's undefined behaviour).
//!
//! What must hold after every call: no `HLS_ERR_PANIC`; a status of the documented set for each
//! out-of-range argument; an `HlsError` exactly on failure of an `_ex` call, with the same
//! status; every returned string a valid C string; buffers and parts that stay readable until
//! freed, also after their media and context are gone (AddressSanitizer checks the reads).
#![no_main]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use hls::ffi::*;
use libfuzzer_sys::fuzz_target;

/// A small real file every sequence can open (cut from the test media), on tmpfs.
fn media_path() -> &'static CString {
    static PATH: OnceLock<CString> = OnceLock::new();
    PATH.get_or_init(|| {
        let bytes = include_bytes!("../corpus/serve_mp4/h264_aac_1s.mp4");
        let path = format!("/dev/shm/libhls-fuzz-capi-{}.mp4", std::process::id());
        std::fs::write(&path, bytes).expect("write the media file");
        CString::new(path).unwrap()
    })
}

/// The input, read a little at a time; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn u32(&mut self) -> u32 {
        match self.byte() % 8 {
            0 => 0,
            1 => u32::MAX,
            2 => 1000,
            3 => 999,
            4 => 60_000,
            5 => 60_001,
            _ => u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()]),
        }
    }
    fn u64(&mut self) -> u64 {
        match self.byte() % 4 {
            0 => 0,
            1 => u64::MAX,
            _ => u64::from(self.u32()) << (self.byte() % 40),
        }
    }
    fn int(&mut self) -> c_int {
        match self.byte() % 8 {
            0 => -1,
            1 => c_int::MIN,
            2 => c_int::MAX,
            3..=5 => c_int::from(self.byte() % 16),
            _ => self.u32() as c_int,
        }
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let b = self.byte() as usize;
        // One chance in (len + 1) of none (NULL).
        (b % (items.len() + 1) < items.len()).then(|| items[b % (items.len() + 1)])
    }
    /// A C string: NULL, one of `known`, or bytes of the input (NULs cut, any UTF-8 or not).
    fn string(&mut self, known: &[&[u8]]) -> Option<CString> {
        let b = self.byte() as usize;
        match b % 4 {
            0 => None,
            1 => {
                let n = self.byte() as usize % 24;
                let raw: Vec<u8> = self.bytes(n).iter().copied().filter(|&c| c != 0).collect();
                Some(CString::new(raw).unwrap())
            }
            _ => Some(CString::new(known[(b / 4) % known.len()]).unwrap()),
        }
    }
}

const NAMES: &[&[u8]] = &[
    b"master.m3u8",
    b"t0.m3u8",
    b"t1.m3u8",
    b"t0_init.mp4",
    b"t1_init.mp4",
    b"t0_0.m4s",
    b"t1_0.m4s",
    b"t0_1.m4s",
    b"t0_iframes.m3u8",
    b"t0_i0.m4s",
    b"t1a.m3u8",
    b"t2.vtt",
    b"t2_0.vtt",
    b"t0_999999999.m4s",
    b"t0_9999999999.m4s",
    b"../master.m3u8",
    b"/master.m3u8",
    b"master.m3u8?x",
    b"t\xff\xfe.m3u8",
    b"\xc3\x28",
    b"",
    b"t0_\x01.m4s",
];

fn paths() -> Vec<&'static [u8]> {
    vec![
        media_path().as_bytes(),
        media_path().as_bytes(),
        b"/dev/shm/libhls-fuzz-no-such-file.mp4",
        b"/dev/shm",
        b"",
        b"/dev/null",
        b"/proc/self/status",
        b"/dev/shm/\xff\xfe.mp4",
    ]
}

/// Everything a sequence holds; freed at its end, in an order the input chooses.
#[derive(Default)]
struct State {
    configs: Vec<*mut HlsConfig>,
    contexts: Vec<*mut HlsContext>,
    media: Vec<*mut HlsMedia>,
    errors: Vec<*mut HlsError>,
    buffers: Vec<HlsBuffer>,
    parts: Vec<HlsParts>,
}

const MAX_HANDLES: usize = 3;
const MAX_CALLS: usize = 64;

fn cstr_ok(p: *const c_char, what: &str) {
    assert!(!p.is_null(), "{what} returned NULL");
    // SAFETY: the API returns NUL-terminated strings.
    let _ = unsafe { CStr::from_ptr(p) }.to_bytes().len();
}

fn status_ok(s: HlsStatus, what: &str) {
    assert_ne!(s, HlsStatus::HLS_ERR_PANIC, "{what}: a panic reached the boundary");
    cstr_ok(hls_status_str(s as c_int), "hls_status_str");
}

/// Touches every byte of a filled buffer (AddressSanitizer sees a read of freed memory).
fn read_buffer(b: &HlsBuffer) -> u64 {
    if b.data.is_null() {
        assert_eq!(b.len, 0);
        return 0;
    }
    cstr_ok(b.content_type, "content_type");
    // SAFETY: a filled buffer's data holds len bytes until hls_free_buffer.
    unsafe { std::slice::from_raw_parts(b.data, b.len) }.iter().map(|&x| u64::from(x)).sum()
}

fn read_parts(p: &HlsParts) -> u64 {
    assert!(p.count >= 1 && !p.parts.is_null());
    cstr_ok(p.content_type, "content_type");
    // SAFETY: a filled HlsParts has `count` parts.
    let parts = unsafe { std::slice::from_raw_parts(p.parts, p.count) };
    let mut sum = 0u64;
    let mut total = 0u64;
    for part in parts {
        total += part.len;
        if part.kind == HlsPartKind::HLS_PART_BYTES {
            // SAFETY: a bytes part holds len bytes until hls_free_parts.
            let b = unsafe { std::slice::from_raw_parts(part.data, part.len as usize) };
            sum += b.iter().map(|&x| u64::from(x)).sum::<u64>();
        } else {
            assert!(p.fd >= 0, "a file part without a descriptor");
        }
    }
    assert_eq!(total, p.len);
    sum
}

fn zero_buffer() -> HlsBuffer {
    HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() }
}

unsafe extern "C" fn log_sink(level: c_int, message: *const c_char, userdata: *mut c_void) {
    assert!((1..=5).contains(&level), "log level {level}");
    assert!(userdata.is_null() || userdata as usize == 0x1234);
    cstr_ok(message, "log message");
}

fn ptr_or_null<T>(p: Option<*mut T>) -> *mut T {
    p.unwrap_or(ptr::null_mut())
}

/// One call of a serving function, as bytes or as parts, plain or `_ex`.
unsafe fn serve(input: &mut Input, st: &mut State) {
    let media = ptr_or_null(input.pick(&st.media));
    let name = input.string(NAMES);
    let name_ptr = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
    let which = input.byte();
    let null_out = input.byte() % 16 == 0;
    // hls_media_info_json (3) has no _ex variant.
    let ex = which & 8 != 0 && which % 8 != 3;
    let mut err: *mut HlsError = ptr::null_mut();
    let err_out: *mut *mut HlsError = if ex && input.byte() % 8 != 0 { &mut err } else { ptr::null_mut() };
    let status = if which % 8 < 4 {
        let mut buf = zero_buffer();
        let out: *mut HlsBuffer = if null_out { ptr::null_mut() } else { &mut buf };
        let s = match (which % 4, ex) {
            (0, false) => hls_playlist(media, name_ptr, out),
            (0, true) => hls_playlist_ex(media, name_ptr, out, err_out),
            (1, false) => hls_segment(media, name_ptr, out),
            (1, true) => hls_segment_ex(media, name_ptr, out, err_out),
            (2, false) => hls_get(media, name_ptr, out),
            (2, true) => hls_get_ex(media, name_ptr, out, err_out),
            _ => hls_media_info_json(media, out),
        };
        if s == HlsStatus::HLS_OK {
            assert!(!null_out);
            read_buffer(&buf);
            st.buffers.push(buf);
        } else {
            assert!(buf.data.is_null() && buf._private.is_null(), "a failed call filled the buffer");
        }
        s
    } else {
        let mut parts = HlsParts::default();
        let out: *mut HlsParts = if null_out { ptr::null_mut() } else { &mut parts };
        let s = match (which % 2, ex) {
            (0, false) => hls_get_parts(media, name_ptr, out),
            (0, true) => hls_get_parts_ex(media, name_ptr, out, err_out),
            (_, false) => hls_segment_parts(media, name_ptr, out),
            (_, true) => hls_segment_parts_ex(media, name_ptr, out, err_out),
        };
        if s == HlsStatus::HLS_OK {
            read_parts(&parts);
            st.parts.push(parts);
        } else {
            assert!(parts._private.is_null(), "a failed call filled the parts");
        }
        s
    };
    status_ok(status, "serve");
    let bad_argument = [HlsStatus::HLS_ERR_NULL_ARGUMENT, HlsStatus::HLS_ERR_INVALID_UTF8];
    if media.is_null() {
        assert!(bad_argument.contains(&status), "NULL media: {status:?}");
    } else if null_out {
        assert_ne!(status, HlsStatus::HLS_OK, "NULL out");
    } else if name.is_none() && which % 8 != 3 {
        assert_eq!(status, HlsStatus::HLS_ERR_NULL_ARGUMENT);
    } else if status == HlsStatus::HLS_OK {
        let name = name.as_ref().map_or(&b""[..], |n| n.as_bytes());
        assert!(std::str::from_utf8(name).is_ok() || which % 8 == 3, "a name that is not UTF-8 served");
    }
    check_err(err, err_out, status);
    keep_err(st, err);
}

fn check_err(err: *mut HlsError, err_out: *mut *mut HlsError, status: HlsStatus) {
    if err_out.is_null() {
        return;
    }
    if status == HlsStatus::HLS_OK {
        assert!(err.is_null(), "an error object on success");
    } else {
        assert!(!err.is_null(), "no error object on failure ({status:?})");
        // SAFETY: err is a live error object.
        unsafe {
            assert_eq!(hls_error_status(err), status);
            cstr_ok(hls_error_message(err), "hls_error_message");
        }
    }
}

fn keep_err(st: &mut State, err: *mut HlsError) {
    if !err.is_null() {
        st.errors.push(err);
    }
}

unsafe fn step(input: &mut Input, st: &mut State) {
    match input.byte() % 20 {
        0 => {
            if st.configs.len() < MAX_HANDLES {
                let c = hls_config_new();
                assert!(!c.is_null());
                st.configs.push(c);
            }
        }
        1 => {
            let cfg = ptr_or_null(input.pick(&st.configs));
            let which = input.byte() % 6;
            let (s, valid) = match which {
                0 => {
                    let ms = input.u32();
                    (hls_config_set_segment_duration_ms(cfg, ms), (1000..=60_000).contains(&ms))
                }
                1 => (hls_config_set_cache_bytes(cfg, input.u64()), true),
                2 => (hls_config_set_idle_media(cfg, input.u32(), input.u64()), true),
                3 => (hls_config_set_use_container_index(cfg, input.int()), true),
                4 => {
                    let p = input.int();
                    (hls_config_set_transcode_policy(cfg, p), (0..=3).contains(&p))
                }
                _ => {
                    let rate = input.u32();
                    (hls_config_set_aac(cfg, rate, input.int()), (32_000..=512_000).contains(&rate))
                }
            };
            status_ok(s, "config setter");
            if cfg.is_null() {
                assert_eq!(s, HlsStatus::HLS_ERR_NULL_ARGUMENT);
            } else if valid {
                // Cache and idle values of any size are accepted (clamped).
                assert!(
                    s == HlsStatus::HLS_OK || (which == 1 || which == 2) && s == HlsStatus::HLS_ERR_INVALID_ARGUMENT,
                    "setter {which} refused a valid value: {s:?}"
                );
            } else {
                assert_eq!(s, HlsStatus::HLS_ERR_INVALID_ARGUMENT, "setter {which} took an invalid value");
            }
        }
        2 => {
            if !st.configs.is_empty() {
                let i = input.byte() as usize % st.configs.len();
                hls_config_free(st.configs.swap_remove(i));
            } else {
                hls_config_free(ptr::null_mut());
            }
        }
        3 => {
            if st.contexts.len() < MAX_HANDLES {
                let cfg = ptr_or_null(input.pick(&st.configs));
                let c = hls_context_new(cfg);
                assert!(!c.is_null());
                st.contexts.push(c);
            }
        }
        4 => {
            if !st.contexts.is_empty() {
                let i = input.byte() as usize % st.contexts.len();
                hls_context_free(st.contexts.swap_remove(i));
            } else {
                hls_context_free(ptr::null_mut());
            }
        }
        5 | 6 => {
            let ctx = ptr_or_null(input.pick(&st.contexts));
            let paths = paths();
            let path = input.string(&paths);
            let path_ptr = path.as_ref().map_or(ptr::null(), |p| p.as_ptr());
            let mut m: *mut HlsMedia = ptr::null_mut();
            let null_out = input.byte() % 16 == 0;
            let out: *mut *mut HlsMedia = if null_out { ptr::null_mut() } else { &mut m };
            let mut err: *mut HlsError = ptr::null_mut();
            let ex = input.byte() % 2 == 0;
            let err_out: *mut *mut HlsError = if ex && input.byte() % 8 != 0 { &mut err } else { ptr::null_mut() };
            let s = if ex { hls_open_ex(ctx, path_ptr, out, err_out) } else { hls_open(ctx, path_ptr, out) };
            status_ok(s, "hls_open");
            check_err(err, err_out, s);
            keep_err(st, err);
            if ctx.is_null() || path.is_none() || null_out {
                assert!(matches!(s, HlsStatus::HLS_ERR_NULL_ARGUMENT | HlsStatus::HLS_ERR_INVALID_UTF8), "{s:?}");
            }
            if s == HlsStatus::HLS_OK {
                assert!(!m.is_null());
                if st.media.len() < MAX_HANDLES {
                    st.media.push(m);
                } else {
                    hls_close(m);
                }
            } else {
                assert!(m.is_null(), "a failed open wrote its handle");
                cstr_ok(hls_last_error_message(), "hls_last_error_message");
            }
        }
        7 => {
            if !st.media.is_empty() {
                let i = input.byte() as usize % st.media.len();
                hls_close(st.media.swap_remove(i));
            } else {
                hls_close(ptr::null_mut());
            }
        }
        8..=12 => serve(input, st),
        13 => {
            let m = input.pick(&st.media).map_or(ptr::null(), |m| m as *const HlsMedia);
            let d = hls_media_duration(m);
            assert!(d.is_finite() && d >= 0.0, "duration {d}");
            if m.is_null() {
                assert_eq!(d, 0.0);
            }
        }
        14 => {
            let ctx = input.pick(&st.contexts).map_or(ptr::null(), |c| c as *const HlsContext);
            let mut buf = zero_buffer();
            let s = hls_context_stats_json(ctx, &mut buf);
            status_ok(s, "hls_context_stats_json");
            if s == HlsStatus::HLS_OK {
                read_buffer(&buf);
                st.buffers.push(buf);
            }
        }
        15 => {
            // Buffers and parts stay readable until freed, whatever was closed meanwhile.
            for b in &st.buffers {
                read_buffer(b);
            }
            for p in &st.parts {
                read_parts(p);
            }
            if input.byte() % 2 == 0 {
                if let Some(mut b) = st.buffers.pop() {
                    hls_free_buffer(&mut b);
                    assert!(b.data.is_null());
                    hls_free_buffer(&mut b);
                }
            } else if let Some(mut p) = st.parts.pop() {
                hls_free_parts(&mut p);
                assert_eq!(p.fd, -1);
                hls_free_parts(&mut p);
            }
            hls_free_buffer(ptr::null_mut());
            hls_free_parts(ptr::null_mut());
        }
        16 => {
            let s = input.int();
            cstr_ok(hls_status_str(s), "hls_status_str");
            cstr_ok(hls_version(), "hls_version");
            assert!(hls_version_number() > 0);
            cstr_ok(hls_last_error_message(), "hls_last_error_message");
        }
        17 => {
            let e = input.pick(&st.errors).map_or(ptr::null(), |e| e as *const HlsError);
            let s = hls_error_status(e);
            status_ok(s, "hls_error_status");
            cstr_ok(hls_error_message(e), "hls_error_message");
            if input.byte() % 2 == 0 && !st.errors.is_empty() {
                let i = input.byte() as usize % st.errors.len();
                hls_error_free(st.errors.swap_remove(i));
            }
            hls_error_free(ptr::null_mut());
        }
        18 => {
            let level = input.int();
            let userdata = if input.byte() % 2 == 0 { ptr::null_mut() } else { 0x1234 as *mut c_void };
            let cb: HlsLogCallback = if input.byte() % 2 == 0 { Some(log_sink) } else { None };
            hls_set_log_callback(cb, userdata, level);
        }
        _ => {
            // A media handle served after its context is freed.
            if let Some(c) = st.contexts.pop() {
                hls_context_free(c);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut st = State::default();
    // SAFETY: every handle passed is NULL or live (created by the API and not yet freed); every
    // out-pointer is NULL or a local.
    unsafe {
        for _ in 0..MAX_CALLS {
            if input.0.is_empty() {
                break;
            }
            step(&mut input, &mut st);
        }
        for m in st.media.drain(..) {
            hls_close(m);
        }
        for c in st.contexts.drain(..) {
            hls_context_free(c);
        }
        for c in st.configs.drain(..) {
            hls_config_free(c);
        }
        for b in &mut st.buffers {
            read_buffer(b);
            hls_free_buffer(b);
        }
        for p in &mut st.parts {
            read_parts(p);
            hls_free_parts(p);
        }
        for e in st.errors.drain(..) {
            hls_error_free(e);
        }
        hls_set_log_callback(None, ptr::null_mut(), 0);
    }
});
