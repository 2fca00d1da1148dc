//! The persisted-index reader on hostile bytes, raw and sealed with valid checksums
//! (`hls::fuzzing::index_file`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::index_file(data) {
        panic!("{e}");
    }
});
