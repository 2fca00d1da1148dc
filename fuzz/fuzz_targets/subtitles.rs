//! The subtitle converters: SubRip, ASS, SSA, mov_text, WebVTT and plain-text payloads to WebVTT
//! cue text (`hls::fuzzing::subtitles`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::subtitles(data) {
        panic!("{e}");
    }
});
