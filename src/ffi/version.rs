//! The library version at run time: `hls_version` and `hls_version_number`, matching the
//! `HLS_VERSION_*` macros that build.rs writes into the header from the same Cargo.toml.

use std::ffi::{c_char, CStr};

use super::boundary::ffi_boundary;

/// `CARGO_PKG_VERSION` as a C string, e.g. "0.1.0".
const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
    Ok(v) => v,
    Err(_) => panic!("CARGO_PKG_VERSION contains a NUL"),
};

/// A version component from Cargo (always decimal digits).
const fn component(digits: &str) -> u32 {
    match u32::from_str_radix(digits, 10) {
        Ok(v) => v,
        Err(_) => panic!("a version component is not a number"),
    }
}

/// Weight of the major component in the version number (see `hls_version_number`).
const MAJOR_WEIGHT: u32 = 1_000_000;
/// Weight of the minor component in the version number.
const MINOR_WEIGHT: u32 = 1_000;

/// `HLS_VERSION_NUMBER` of this build.
const VERSION_NUMBER: u32 = component(env!("CARGO_PKG_VERSION_MAJOR")) * MAJOR_WEIGHT
    + component(env!("CARGO_PKG_VERSION_MINOR")) * MINOR_WEIGHT
    + component(env!("CARGO_PKG_VERSION_PATCH"));

/// Version of the library loaded at run time, e.g. "0.1.0": equal to `HLS_VERSION_STRING` of
/// the header it was built with. Static: never NULL, never freed.
#[no_mangle]
pub extern "C" fn hls_version() -> *const c_char {
    ffi_boundary! { VERSION.as_ptr() }
}

/// Version of the library loaded at run time as one number,
/// major * 1000000 + minor * 1000 + patch: equal to `HLS_VERSION_NUMBER` of the header it was
/// built with.
#[no_mangle]
pub extern "C" fn hls_version_number() -> u32 {
    ffi_boundary! { VERSION_NUMBER }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_cargo() {
        // SAFETY: hls_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(hls_version()) }.to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        let n = hls_version_number();
        let parts: Vec<u32> = v.split(['.', '-', '+']).take(3).map(|p| p.parse().unwrap()).collect();
        assert_eq!(n, parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]);
    }
}
