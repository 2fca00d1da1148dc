//! The name router: parse → name round trip both ways (`hls::fuzzing::names`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::names(data) {
        panic!("{e}");
    }
});
