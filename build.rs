//! Generates `include/hls.h` from `src/ffi.rs` with cbindgen (CI fails when the committed header
//! is stale) and gives the shared library its soname.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-soname,libhls.so.{}",
        std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into())
    );
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let header = match cbindgen::Builder::new().with_crate(&dir).with_config(config).generate() {
        Ok(h) => h,
        Err(e) => {
            // A syntax error in the crate: let rustc report it properly.
            println!("cargo:warning=cbindgen: {e}");
            return;
        }
    };
    let mut bytes = Vec::new();
    header.write(&mut bytes);
    write_pkg_config_and_soname_link(&dir);
    let target = dir.join("include").join("hls.h");
    if std::fs::read(&target).ok().as_deref() != Some(&bytes[..]) {
        std::fs::create_dir_all(dir.join("include")).expect("include/");
        std::fs::write(&target, &bytes).expect("write include/hls.h");
    }
}

/// For C programs built against the uninstalled library (tests, examples): a `libhls.pc` and a
/// `libhls.so.0` link beside `libhls.so` in the profile directory (target/<profile>/).
fn write_pkg_config_and_soname_link(dir: &std::path::Path) {
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
    let _ = std::fs::write(profile_dir.join("pkgconfig").join("libhls.pc"), pc);
    let link = profile_dir.join(format!("libhls.so.{major}"));
    if std::fs::symlink_metadata(&link).is_err() {
        let _ = std::os::unix::fs::symlink("libhls.so", &link);
    }
}
