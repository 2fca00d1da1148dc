//! fragmented MP4 (moof/traf/trun): the input as a .mp4 file, opened through the engine, every name its playlists list
//! fetched (`hls::fuzzing::serve_all`). Seeds: fuzz/corpus/serve_fmp4.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hls::fuzzing::serve_all(data, "mp4") {
        panic!("{e}");
    }
});
