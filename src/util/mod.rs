//! Small helpers with no media knowledge.

pub(crate) mod decimal;
pub(crate) mod log;
pub(crate) mod memhint;
pub(crate) mod time;

/// A seeded xorshift64* generator (a nonzero `seed`): test values that are the same every run.
#[cfg(test)]
pub(crate) fn test_random(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The generated test files of `target/media` whose extension is one of `extensions`, by name;
/// the 2-hour ones (`--long`) only with `long`.
#[cfg(test)]
pub(crate) fn test_media(extensions: &[&str], long: bool) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/media");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()).is_some_and(|x| extensions.contains(&x)))
        .filter(|p| long || !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("long_2h")))
        .collect();
    paths.sort();
    paths
}
