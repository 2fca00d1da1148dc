//! The EBML reader and the block walker on raw bytes (`hls::fuzzing::mkv_blocks`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::mkv_blocks(data) {
        panic!("{e}");
    }
});
