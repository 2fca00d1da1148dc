//! The MP4 box reader on raw bytes: a `moov` payload and a whole file (`hls::fuzzing::mp4_boxes`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::mp4_boxes(data) {
        panic!("{e}");
    }
});
