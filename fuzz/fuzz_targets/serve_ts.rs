//! MPEG-TS: the input as a .ts file, opened through the engine, every name its playlists list
//! fetched (`hls::fuzzing::serve_all`). Seeds: fuzz/corpus/serve_ts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::serve_all(data, "ts") {
        panic!("{e}");
    }
});
