//! The C API as the engine, parts and source tests drive it: a context and a media handle that
//! free themselves, `hls_get_ex` as a `Result`, and the crawl of every name a presentation's
//! playlists write.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;

use hls::ffi::*;

/// A context, freed on drop.
pub struct Ctx(pub *mut HlsContext);
// SAFETY: an HlsContext may be used from any thread (include/hls.h, "Threads").
unsafe impl Send for Ctx {}
// SAFETY: as above.
unsafe impl Sync for Ctx {}

impl Ctx {
    /// A context whose segment cache holds `cache` bytes.
    pub fn new(cache: u64) -> Ctx {
        Ctx::configured(|cfg| {
            // SAFETY: a live configuration handle.
            assert_eq!(unsafe { hls_config_set_cache_bytes(cfg, cache) }, HlsStatus::HLS_OK);
        })
    }

    /// A context from a configuration `set` adjusts (the configuration is freed here).
    pub fn configured(set: impl FnOnce(*mut HlsConfig)) -> Ctx {
        // SAFETY: plain C API use; the configuration is freed once, after the context copied it.
        unsafe {
            let cfg = hls_config_new();
            assert!(!cfg.is_null());
            set(cfg);
            let ctx = hls_context_new(cfg);
            hls_config_free(cfg);
            assert!(!ctx.is_null());
            Ctx(ctx)
        }
    }

    /// `hls_open_ex` of a local path.
    pub fn open(&self, path: &Path) -> Result<Media, (HlsStatus, String)> {
        let p = CString::new(path.display().to_string()).expect("path");
        let mut m = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: valid pointers; the error is freed by `take_error`.
        unsafe {
            let st = hls_open_ex(self.0, p.as_ptr(), &mut m, &mut err);
            if st == HlsStatus::HLS_OK {
                Ok(Media(m))
            } else {
                Err((st, take_error(err)))
            }
        }
    }

    /// The context's statistics.
    pub fn stats(&self) -> serde_json::Value {
        let mut b = empty_buffer();
        // SAFETY: valid pointers; the buffer is freed here.
        unsafe {
            assert_eq!(hls_context_stats_json(self.0, &mut b), HlsStatus::HLS_OK);
            let v = serde_json::from_slice(std::slice::from_raw_parts(b.data, b.len)).expect("stats json");
            hls_free_buffer(&mut b);
            v
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: created by hls_context_new, freed once.
        unsafe { hls_context_free(self.0) }
    }
}

/// A media handle, closed on drop.
pub struct Media(pub *mut HlsMedia);
// SAFETY: an HlsMedia may be served from any thread.
unsafe impl Send for Media {}
// SAFETY: as above.
unsafe impl Sync for Media {}

impl Drop for Media {
    fn drop(&mut self) {
        // SAFETY: a handle from hls_open*, closed once.
        unsafe { hls_close(self.0) }
    }
}

impl Media {
    /// The media's info JSON.
    pub fn info(&self) -> serde_json::Value {
        let mut b = empty_buffer();
        // SAFETY: valid pointers; the buffer is freed here.
        unsafe {
            assert_eq!(hls_media_info_json(self.0, &mut b), HlsStatus::HLS_OK);
            let v = serde_json::from_slice(std::slice::from_raw_parts(b.data, b.len)).expect("info json");
            hls_free_buffer(&mut b);
            v
        }
    }
}

/// A buffer for an out-parameter.
pub fn empty_buffer() -> HlsBuffer {
    HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() }
}

/// The message of an error from an `_ex` call (empty for NULL).
///
/// # Safety
/// `err` is NULL or an error from an `_ex` call, freed here.
pub unsafe fn take_error(err: *mut HlsError) -> String {
    if err.is_null() {
        return String::new();
    }
    // SAFETY: per the contract.
    unsafe {
        let msg = CStr::from_ptr(hls_error_message(err)).to_string_lossy().into_owned();
        hls_error_free(err);
        msg
    }
}

/// `hls_get_ex`: the bytes of `name`, or its status and message.
pub fn get(m: &Media, name: &str) -> Result<Vec<u8>, (HlsStatus, String)> {
    let n = CString::new(name).expect("name");
    let mut b = empty_buffer();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; buffer and error freed here.
    unsafe {
        let st = hls_get_ex(m.0, n.as_ptr(), &mut b, &mut err);
        if st != HlsStatus::HLS_OK {
            return Err((st, take_error(err)));
        }
        let v = std::slice::from_raw_parts(b.data, b.len).to_vec();
        hls_free_buffer(&mut b);
        Ok(v)
    }
}

/// Every name the presentation's playlists write (URIs and URI attributes), the playlists too.
pub fn names(m: &Media) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec!["master.m3u8".to_string()];
    while let Some(pl) = todo.pop() {
        if !out.insert(pl.clone()) {
            continue;
        }
        let Ok(text) = get(m, &pl) else { continue };
        for line in String::from_utf8_lossy(&text).lines() {
            let mut uris: Vec<String> = Vec::new();
            if !line.starts_with('#') && !line.trim().is_empty() {
                uris.push(line.trim().to_string());
            }
            let mut rest = line;
            while let Some(i) = rest.find("URI=\"") {
                rest = &rest[i + 5..];
                if let Some(j) = rest.find('"') {
                    uris.push(rest[..j].to_string());
                    rest = &rest[j..];
                }
            }
            for u in uris {
                if u.ends_with(".m3u8") {
                    todo.push(u);
                } else {
                    out.insert(u);
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Every file of the media folder (after making `needed`), sorted; the crawl tests skip those
/// libhls refuses.
pub fn media_files(needed: &[&str]) -> Vec<PathBuf> {
    super::ensure_media(needed).expect("media");
    let mut files: Vec<PathBuf> = std::fs::read_dir(super::media_dir())
        .expect("media dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !(n.starts_with('.') || n.ends_with(".txt") || n.ends_with(".json"))
        })
        .collect();
    files.sort();
    files
}

/// A copy of the media file `from` named `name` under the test output folder `dir`, for tests
/// that change it on disk.
pub fn work_copy(dir: &str, name: &str, from: &str) -> PathBuf {
    super::ensure_media(&[from]).expect("media");
    let dir = super::out_root().join(dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join(name);
    std::fs::copy(super::media_dir().join(from), &p).expect("copy");
    p
}
