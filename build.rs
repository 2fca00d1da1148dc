//! Generates `include/hls.h` from the C API module `src/ffi/` only (cbindgen follows its `mod`
//! declarations; nothing else of the crate reaches the header), with the `HLS_VERSION_*` macros
//! from Cargo.toml's version. CI fails when the committed header is stale. Also gives the shared
//! library its soname, and writes `hls.pc` (and `libhls.pc`) for programs built against the
//! uninstalled library.

use std::path::{Path, PathBuf};

/// Weights of the major and minor components in `HLS_VERSION_NUMBER`; the same as
/// `hls_version_number` in src/ffi/version.rs.
const MAJOR_WEIGHT: u32 = 1_000_000;
const MINOR_WEIGHT: u32 = 1_000;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn main() {
    let dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src");
    // Persisted index files are valid for the sources that wrote them (src/engine/index_dir.rs).
    println!("cargo:rustc-env=LIBHLS_SOURCE_HASH={:016x}", source_hash(&dir.join("src")));
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let major = env("CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhls.so.{major}");
    write_pkg_config_and_soname_link(&dir);

    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(version_macros());
    let header = match cbindgen::Builder::new().with_src(dir.join("src/ffi/mod.rs")).with_config(config).generate() {
        Ok(h) => h,
        Err(e) => {
            // A syntax error in src/ffi: let rustc report it properly.
            println!("cargo:warning=cbindgen: {e}");
            return;
        }
    };
    let mut bytes = Vec::new();
    header.write(&mut bytes);
    let target = dir.join("include").join("hls.h");
    if std::fs::read(&target).ok().as_deref() != Some(&bytes[..]) {
        std::fs::create_dir_all(dir.join("include")).expect("include/");
        std::fs::write(&target, &bytes).expect("write include/hls.h");
    }
}

/// 64-bit FNV-1a of every file under `dir` (relative path and contents, in path order): which
/// sources this library was built from.
fn source_hash(dir: &Path) -> u64 {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(&f).to_string_lossy().into_owned();
        for b in rel.bytes().chain([0]).chain(std::fs::read(&f).unwrap_or_default()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// `#define`s of the version this header belongs to; `hls_version()` and
/// `hls_version_number()` return the same at run time.
fn version_macros() -> String {
    let number = |name: &str| env(name).parse::<u32>().unwrap_or_else(|_| panic!("{name} is not a number"));
    let (major, minor, patch) =
        (number("CARGO_PKG_VERSION_MAJOR"), number("CARGO_PKG_VERSION_MINOR"), number("CARGO_PKG_VERSION_PATCH"));
    let version = env("CARGO_PKG_VERSION");
    format!(
        "\n/* The version of libhls this header belongs to (from Cargo.toml); hls_version() and\n \
         * hls_version_number() give the version of the library loaded at run time. */\n\
         #define HLS_VERSION_MAJOR {major}\n\
         #define HLS_VERSION_MINOR {minor}\n\
         #define HLS_VERSION_PATCH {patch}\n\
         #define HLS_VERSION_STRING \"{version}\"\n\
         /* major * {MAJOR_WEIGHT} + minor * {MINOR_WEIGHT} + patch */\n\
         #define HLS_VERSION_NUMBER {}",
        major * MAJOR_WEIGHT + minor * MINOR_WEIGHT + patch
    )
}

/// For programs built against the uninstalled library (tests, examples, the Go and Python
/// bindings): `hls.pc` (the name the installed library uses too; `libhls.pc`, its older name, is
/// kept) and a `libhls.so.0` link beside `libhls.so` in the profile directory (target/<profile>/).
fn write_pkg_config_and_soname_link(dir: &Path) {
    let Ok(out) = std::env::var("OUT_DIR") else { return };
    // OUT_DIR = target/<profile>/build/<pkg>-<hash>/out
    let Some(profile_dir) = PathBuf::from(out).ancestors().nth(3).map(PathBuf::from) else { return };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let pc = format!(
        "prefix={}\nlibdir={}\nincludedir=${{prefix}}/include\n\nName: libhls\nDescription: On-demand HLS (fMP4 + WebVTT) from media files\nVersion: {version}\nLibs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lhls\nCflags: -I${{includedir}}\n",
        dir.display(),
        profile_dir.display()
    );
    let _ = std::fs::create_dir_all(profile_dir.join("pkgconfig"));
    for name in ["hls.pc", "libhls.pc"] {
        let _ = std::fs::write(profile_dir.join("pkgconfig").join(name), &pc);
    }
    let link = profile_dir.join(format!("libhls.so.{major}"));
    if std::fs::symlink_metadata(&link).is_err() {
        let _ = std::os::unix::fs::symlink("libhls.so", &link);
    }
}
