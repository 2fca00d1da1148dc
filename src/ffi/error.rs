//! `HlsError`, the owned error object of the `_ex` functions, and the per-thread last error.
//!
//! Two ways to learn why a call failed: the `_ex` variants hand the caller an `HlsError`
//! (status and message) that belongs to that call and can be read from any thread, which is
//! what callers whose threads move (Go goroutines) need; and `hls_last_error_message` keeps the
//! message of the last failure per OS thread.

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::{self, ffi_boundary, into_handle, opt_ref, take_handle, ErrorSink};
use super::status::HlsStatus;
use crate::error::Error;

/// One failure: status and message. Created by libhls in a failing `_ex` call's `err_out`;
/// owned by the caller, who frees it with `hls_error_free`.
pub struct HlsError {
    status: HlsStatus,
    message: CString,
}

/// The `HlsError **err_out` parameter of a status-returning export: on failure, when not NULL,
/// `*err_out` receives a new `HlsError` for the caller to free. Left alone on success.
#[derive(Clone, Copy)]
pub(crate) struct ErrorOut(*mut *mut HlsError);

impl ErrorOut {
    /// For exports without an `err_out` parameter.
    pub(crate) const NONE: ErrorOut = ErrorOut(ptr::null_mut());

    /// Wraps the caller's `err_out`.
    ///
    /// # Safety
    /// `err_out` is NULL or valid for writing one `HlsError *` until the call returns.
    pub(crate) unsafe fn new(err_out: *mut *mut HlsError) -> ErrorOut {
        ErrorOut(err_out)
    }
}

impl ErrorSink for ErrorOut {
    type Status = HlsStatus;

    fn ok() -> HlsStatus {
        HlsStatus::HLS_OK
    }

    fn fail(self, e: &Error) -> HlsStatus {
        let status = HlsStatus::from(e.kind);
        if !self.0.is_null() {
            let err = into_handle(HlsError { status, message: boundary::c_message(&e.message) });
            // SAFETY: self.0 is not NULL and, per ErrorOut::new, valid for writing.
            unsafe { self.0.write(err) };
        }
        status
    }
}

/// Status of an error (`HLS_ERR_NULL_ARGUMENT` for NULL).
///
/// # Safety
/// `err`: borrowed; NULL or an `HlsError` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn hls_error_status(err: *const HlsError) -> HlsStatus {
    ffi_boundary! {
        // SAFETY: per the contract, err is NULL or a live HlsError.
        unsafe { opt_ref(err) }.map_or(HlsStatus::HLS_ERR_NULL_ARGUMENT, |e| e.status)
    }
}

/// Message of an error: which file, which stream, why. Empty string for NULL; never NULL.
///
/// # Safety
/// `err`: borrowed; NULL or an `HlsError` not yet freed. The returned string is owned by `err`
/// and valid until `hls_error_free(err)`.
#[no_mangle]
pub unsafe extern "C" fn hls_error_message(err: *const HlsError) -> *const c_char {
    ffi_boundary! {
        // SAFETY: per the contract, err is NULL or a live HlsError.
        unsafe { opt_ref(err) }.map_or(c"".as_ptr(), |e| e.message.as_ptr())
    }
}

/// Frees an error. NULL-tolerant.
///
/// # Safety
/// `err`: NULL or an `HlsError` from an `_ex` call, not freed before; invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn hls_error_free(err: *mut HlsError) {
    ffi_boundary! {
        // SAFETY: per the contract, err is NULL or an HlsError made by ErrorOut::fail, not freed before.
        drop(unsafe { take_handle(err) })
    }
}

/// Message of the last failure on the calling OS thread ("" if none; never NULL).
///
/// The string is owned by libhls (per thread) and valid until the next failing call on this
/// thread. Callers whose threads move (Go goroutines) use the `_ex` functions and `HlsError`
/// instead.
#[no_mangle]
pub extern "C" fn hls_last_error_message() -> *const c_char {
    ffi_boundary! { boundary::last_error_message() }
}
