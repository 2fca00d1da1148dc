//! The one boundary every export crosses, and the one way arguments from C are checked.
//!
//! [`ffi_boundary!`] wraps the whole body of every `#[no_mangle]` function in `src/ffi` (a unit
//! test below fails if one is not wrapped, or if anything outside `src/ffi` is exported). It
//! runs the body under `catch_unwind`, so no panic unwinds into C, in one of two forms:
//!
//! - `ffi_boundary! { report(err_out) => body }` for exports that return a status: `body`
//!   evaluates to `Result<(), Error>`. Success is the sink's OK status. A failure, or a panic
//!   (as an [`ErrorKind::Panic`] error), becomes the thread's last error
//!   ([`last_error_message`]) and is handed to the [`ErrorSink`] `err_out` (the caller's
//!   `HlsError **`, which may be NULL), which returns its status.
//! - `ffi_boundary! { body }` for every other export: `body` evaluates to the return type `T`,
//!   and a panic returns [`PanicFallback::on_panic`] of `T` (and sets the thread's last error).
//!   The fallbacks, per return type: nothing for `()`, `0.0` for `f64`, `0` for `u32`, NULL for
//!   `T *`, the static empty string for `const char *` (strings libhls returns are never NULL),
//!   and `HLS_ERR_PANIC` for `HlsStatus`.
//!
//! Arguments: [`arg_ref`], [`arg_mut`], [`arg_str`] and [`arg_out`] turn a NULL pointer into
//! `HLS_ERR_NULL_ARGUMENT` naming the parameter, and a string that is not UTF-8 into
//! `HLS_ERR_INVALID_UTF8`; [`opt_ref`] and [`opt_mut`] serve the NULL-tolerant functions.
//! Handles are boxed by [`into_handle`] and unboxed by [`take_handle`]. Values that C passes as
//! integers are validated by their own module (`HlsStatus::from_c`,
//! `HlsTranscodePolicy::from_c`): a Rust enum is never received from C.
//!
//! This file knows no C type of the API: `status.rs` implements [`PanicFallback`] for
//! `HlsStatus`, and `error.rs` implements [`ErrorSink`] for `HlsError **`.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::error::{Error, ErrorKind};

/// Runs an export's body behind the boundary; see the module documentation for the two forms.
macro_rules! ffi_boundary {
    (report($err_out:expr) => $($body:tt)*) => {
        $crate::ffi::boundary::guard_status(
            $err_out,
            || -> ::core::result::Result<(), $crate::error::Error> { $($body)* },
        )
    };
    ($($body:tt)*) => {
        $crate::ffi::boundary::guard(|| { $($body)* })
    };
}
pub(crate) use ffi_boundary;

/// Message of the error a caught panic becomes.
const PANIC_MESSAGE: &str = "internal error (panic) caught at the libhls API boundary";

/// What an export returns to C when its body panicked.
pub(crate) trait PanicFallback {
    /// The documented value for a call that panicked.
    fn on_panic() -> Self;
}

impl PanicFallback for () {
    fn on_panic() {}
}

impl PanicFallback for f64 {
    fn on_panic() -> f64 {
        0.0
    }
}

impl PanicFallback for i32 {
    fn on_panic() -> i32 {
        0
    }
}

impl PanicFallback for u32 {
    fn on_panic() -> u32 {
        0
    }
}

impl<T> PanicFallback for *mut T {
    fn on_panic() -> *mut T {
        ptr::null_mut()
    }
}

/// Strings returned to C are never NULL: a panic returns the static empty string.
impl PanicFallback for *const c_char {
    fn on_panic() -> *const c_char {
        c"".as_ptr()
    }
}

/// Where a status-returning export reports a failure (implemented by the `HlsError **`
/// out-parameter in `error.rs`).
pub(crate) trait ErrorSink: Copy {
    /// The status type returned to C.
    type Status;
    /// The status of a successful call.
    fn ok() -> Self::Status;
    /// Hands `e` to the caller (if it asked for it) and returns its status. Must not panic.
    fn fail(self, e: &Error) -> Self::Status;
}

/// The status form of [`ffi_boundary!`]: runs `f`, records a failure or a panic as the thread's
/// last error and in `err_out`, and returns the status.
pub(crate) fn guard_status<S: ErrorSink>(err_out: S, f: impl FnOnce() -> Result<(), Error>) -> S::Status {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::new(ErrorKind::Panic, PANIC_MESSAGE)));
    match result {
        Ok(()) => S::ok(),
        Err(e) => {
            set_last_error(&e.message);
            err_out.fail(&e)
        }
    }
}

/// The value form of [`ffi_boundary!`]: runs `f`; a panic returns `T`'s fallback.
pub(crate) fn guard<T: PanicFallback>(f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        set_last_error(PANIC_MESSAGE);
        T::on_panic()
    })
}

thread_local! {
    /// Message of the last failure on this OS thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// `s` as a C string; interior NULs become spaces.
pub(crate) fn c_message(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Records `message` as the calling thread's last error. Never panics (a thread being torn
/// down keeps its old message).
fn set_last_error(message: &str) {
    let message = c_message(message);
    let _ = LAST_ERROR.try_with(|l| {
        if let Ok(mut slot) = l.try_borrow_mut() {
            *slot = message;
        }
    });
}

/// Message of the last failure on the calling OS thread ("" if none). The pointer stays valid
/// until the next failure on this thread, or the thread's end.
pub(crate) fn last_error_message() -> *const c_char {
    // The CString's heap buffer does not move while the RefCell holds it, so the pointer
    // outlives the borrow; it changes only when set_last_error replaces the string.
    LAST_ERROR.try_with(|l| l.borrow().as_ptr()).unwrap_or(c"".as_ptr())
}

/// `HLS_ERR_NULL_ARGUMENT`: "`what` is NULL".
pub(crate) fn null_arg(what: &str) -> Error {
    Error::new(ErrorKind::NullArgument, format!("{what} is NULL"))
}

/// Borrows `*p` for the call, or `HLS_ERR_NULL_ARGUMENT` naming `what`.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nothing mutates while the reference is used.
pub(crate) unsafe fn arg_ref<'a, T>(p: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller guarantees p is NULL or valid; as_ref checks for NULL.
    unsafe { p.as_ref() }.ok_or_else(|| null_arg(what))
}

/// Borrows `*p` mutably for the call, or `HLS_ERR_NULL_ARGUMENT` naming `what`.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nothing else uses while the reference is used.
pub(crate) unsafe fn arg_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees p is NULL or valid and not aliased; as_mut checks for NULL.
    unsafe { p.as_mut() }.ok_or_else(|| null_arg(what))
}

/// Borrows the C string `p` as UTF-8 for the call: `HLS_ERR_NULL_ARGUMENT` if NULL,
/// `HLS_ERR_INVALID_UTF8` if not UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays unchanged while it is used.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(null_arg(what));
    }
    // SAFETY: p is not NULL and, per the caller, NUL-terminated and unchanged during the call.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not valid UTF-8")))
}

/// An out-parameter: `HLS_ERR_NULL_ARGUMENT` naming `what` if NULL. Nothing is read or written.
pub(crate) fn arg_out<T>(p: *mut T, what: &str) -> Result<NonNull<T>, Error> {
    NonNull::new(p).ok_or_else(|| null_arg(what))
}

/// Borrows `*p` if `p` is not NULL (for the NULL-tolerant getters).
///
/// # Safety
/// As [`arg_ref`].
pub(crate) unsafe fn opt_ref<'a, T>(p: *const T) -> Option<&'a T> {
    // SAFETY: the caller guarantees p is NULL or valid; as_ref checks for NULL.
    unsafe { p.as_ref() }
}

/// Borrows `*p` mutably if `p` is not NULL (for the NULL-tolerant functions).
///
/// # Safety
/// As [`arg_mut`].
pub(crate) unsafe fn opt_mut<'a, T>(p: *mut T) -> Option<&'a mut T> {
    // SAFETY: the caller guarantees p is NULL or valid and not aliased; as_mut checks for NULL.
    unsafe { p.as_mut() }
}

/// Moves `value` to the heap and gives C the pointer; [`take_handle`] takes it back.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back a handle made by [`into_handle`]; `None` for NULL.
///
/// # Safety
/// `p` is NULL or a pointer from `into_handle::<T>` not taken back before, and no other call
/// uses it meanwhile or afterwards.
pub(crate) unsafe fn take_handle<T>(p: *mut T) -> Option<Box<T>> {
    // SAFETY: per the caller, p came from Box::into_raw in into_handle and is owned by us now.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

#[cfg(test)]
mod tests {
    use std::ffi::c_int;
    use std::fs;
    use std::path::{Path, PathBuf};

    use super::*;

    thread_local! {
        static REPORTED: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Keeps the reported message; its status is the kind's discriminant + 100.
    #[derive(Clone, Copy)]
    struct TestSink;

    impl ErrorSink for TestSink {
        type Status = c_int;
        fn ok() -> c_int {
            0
        }
        fn fail(self, e: &Error) -> c_int {
            REPORTED.with(|r| *r.borrow_mut() = Some(e.message.clone()));
            e.kind as c_int + 100
        }
    }

    fn reported() -> Option<String> {
        REPORTED.with(|r| r.borrow().clone())
    }

    fn last_error() -> String {
        // SAFETY: last_error_message never returns NULL and the string is NUL-terminated.
        unsafe { CStr::from_ptr(last_error_message()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn status_form_reports_failures_and_panics() {
        let sink = TestSink;
        assert_eq!(ffi_boundary! { report(sink) => Ok(()) }, 0);
        assert_eq!(reported(), None);
        let st = ffi_boundary! { report(sink) => Err(null_arg("thing")) };
        assert_eq!(st, ErrorKind::NullArgument as c_int + 100);
        assert_eq!(reported().as_deref(), Some("thing is NULL"));
        assert_eq!(last_error(), "thing is NULL");
        let st = ffi_boundary! { report(sink) => panic!("boom") };
        assert_eq!(st, ErrorKind::Panic as c_int + 100);
        assert_eq!(reported().as_deref(), Some(PANIC_MESSAGE));
        assert_eq!(last_error(), PANIC_MESSAGE);
    }

    #[test]
    fn value_form_returns_the_fallback_of_each_type() {
        fn boom() -> bool {
            panic!("boom")
        }
        assert_eq!(ffi_boundary! { 2.5 }, 2.5);
        let x: f64 = ffi_boundary! { if boom() { 1.0 } else { 2.0 } };
        assert_eq!(x, 0.0);
        let n: u32 = ffi_boundary! { if boom() { 1 } else { 2 } };
        assert_eq!(n, 0);
        let p: *mut u8 = ffi_boundary! { if boom() { NonNull::dangling().as_ptr() } else { ptr::null_mut() } };
        assert!(p.is_null());
        let s: *const c_char = ffi_boundary! { if boom() { ptr::null() } else { c"x".as_ptr() } };
        // SAFETY: the fallback is a static NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(s) }, c"");
        let () = ffi_boundary! { if boom() {} };
        assert_eq!(last_error(), PANIC_MESSAGE);
    }

    #[test]
    fn arguments_are_checked_for_null_and_utf8() {
        // SAFETY (all calls): the pointers are NULL or point to live locals / literals.
        unsafe {
            assert_eq!(arg_ref::<u8>(ptr::null(), "x").unwrap_err().message, "x is NULL");
            assert_eq!(*arg_ref(&7u8, "x").unwrap(), 7);
            assert_eq!(arg_mut::<u8>(ptr::null_mut(), "y").unwrap_err().kind, ErrorKind::NullArgument);
            assert_eq!(arg_str(ptr::null(), "name").unwrap_err().message, "name is NULL");
            let bad = arg_str(c"\xff.m3u8".as_ptr(), "name").unwrap_err();
            assert_eq!((bad.kind, bad.message.as_str()), (ErrorKind::InvalidUtf8, "name is not valid UTF-8"));
            assert_eq!(arg_str(c"master.m3u8".as_ptr(), "name").unwrap(), "master.m3u8");
            assert!(opt_ref::<u8>(ptr::null()).is_none());
            assert!(take_handle::<u8>(ptr::null_mut()).is_none());
            assert_eq!(*take_handle(into_handle(5u8)).unwrap(), 5);
        }
        assert_eq!(arg_out::<u8>(ptr::null_mut(), "out").unwrap_err().message, "out is NULL");
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Byte offsets of the lines of `text` that are an export attribute (`no_mangle`,
    /// `unsafe(no_mangle)` or `export_name`), outside comments.
    fn export_attributes(text: &str) -> Vec<usize> {
        // Built at run time so that this file does not contain the attributes themselves.
        let attrs =
            [["#[no", "_mangle]"].concat(), ["#[unsafe(no", "_mangle)]"].concat(), ["#[export", "_name"].concat()];
        let mut at = 0;
        let mut found = Vec::new();
        for line in text.split_inclusive('\n') {
            let t = line.trim_start();
            if attrs.iter().any(|a| t.starts_with(a.as_str())) {
                found.push(at + line.len() - t.len());
            }
            at += line.len();
        }
        found
    }

    /// Every export in src/ffi has the body `{ ffi_boundary! { ... } }` (after comments), every
    /// `extern "C" fn hls_*` there is exported, and nothing outside src/ffi is exported.
    #[test]
    fn every_export_goes_through_the_boundary() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let ffi_dir = src.join("ffi");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut exports = 0;
        for file in &files {
            let text = fs::read_to_string(file).expect("read source");
            let name = file.strip_prefix(&src).unwrap_or(file).display().to_string();
            let attributes = export_attributes(&text);
            if !file.starts_with(&ffi_dir) {
                assert!(attributes.is_empty(), "src/{name}: exports belong in src/ffi only");
                continue;
            }
            for &at in &attributes {
                let item = &text[at..];
                let f = item.find("fn ").expect("fn after the attribute");
                let fn_name: String = item[f + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                // Signatures here have no braces: the first `{` opens the body.
                let body = item[f..].find('{').map(|b| &item[f + b + 1..]).expect("function body");
                // The body's first line of code (a SAFETY comment may precede the macro).
                let code = body.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("//")).unwrap_or("");
                assert!(
                    code.starts_with("ffi_boundary! {"),
                    "src/{name}: `{fn_name}` is exported but its body is not `ffi_boundary! {{ ... }}`"
                );
            }
            let extern_fns = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//") && l.contains("extern \"C\" fn hls_"))
                .count();
            assert_eq!(extern_fns, attributes.len(), "src/{name}: an `extern \"C\" fn hls_*` that is not exported");
            exports += attributes.len();
        }
        assert!(exports >= 30, "found only {exports} exports in src/ffi");
    }
}
