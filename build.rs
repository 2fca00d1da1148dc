//! Generates `include/hls.h` from `src/ffi.rs` with cbindgen (CI fails when the committed header
//! is stale) and gives the shared library its soname.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhls.so.{}", std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into()));
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
    let target = dir.join("include").join("hls.h");
    if std::fs::read(&target).ok().as_deref() != Some(&bytes[..]) {
        std::fs::create_dir_all(dir.join("include")).expect("include/");
        std::fs::write(&target, &bytes).expect("write include/hls.h");
    }
}
