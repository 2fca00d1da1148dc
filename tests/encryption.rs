//! Protected delivery with keys from the caller (issue #17), through the C API: a static key
//! per open and a key provider per context. What a viewer would see go wrong: a player that
//! cannot decrypt what the playlist announces, pictures that differ from the clear file's, a
//! clear segment leaking when the key is missing.
//!
//! The AES-128 crawl is checked by FFmpeg (it fetches the key file the playlist names and must
//! decode exactly the clear crawl's frames, frame by frame) and by decrypting each segment with
//! the key (the clear segment's bytes).

mod common;

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use hls::ffi::*;

const KEY: [u8; 16] = *b"0123456789abcdef";
const KEY_URI: &str = "key.bin";

struct Ctx(*mut HlsContext);

impl Ctx {
    fn new(provider: HlsKeyProvider, userdata: *mut c_void) -> Ctx {
        // SAFETY: plain C API use; the configuration is freed here, the context in Drop.
        unsafe {
            let cfg = hls_config_new();
            assert_eq!(hls_config_set_key_provider(cfg, provider, userdata), HlsStatus::HLS_OK);
            let ctx = hls_context_new(cfg);
            hls_config_free(cfg);
            assert!(!ctx.is_null());
            Ctx(ctx)
        }
    }

    fn open(&self, path: &Path, key: Option<*const HlsKeyInfo>) -> Result<Media, (HlsStatus, String)> {
        let p = CString::new(path.display().to_string()).unwrap();
        let (mut m, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: valid pointers; options and the error are freed here.
        unsafe {
            let opts = hls_open_options_new();
            if let Some(k) = key {
                assert_eq!(hls_open_options_set_encryption(opts, k), HlsStatus::HLS_OK);
            }
            let st = hls_open_with(self.0, p.as_ptr(), opts, &mut m, &mut err);
            hls_open_options_free(opts);
            if st == HlsStatus::HLS_OK {
                Ok(Media(m))
            } else {
                let msg = CStr::from_ptr(hls_error_message(err)).to_string_lossy().into_owned();
                hls_error_free(err);
                Err((st, msg))
            }
        }
    }

    fn stats(&self) -> serde_json::Value {
        let mut b = empty_buffer();
        // SAFETY: live context; the buffer is freed here.
        unsafe {
            assert_eq!(hls_context_stats_json(self.0, &mut b), HlsStatus::HLS_OK);
            let v = serde_json::from_slice(std::slice::from_raw_parts(b.data, b.len)).unwrap();
            hls_free_buffer(&mut b);
            v
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context from hls_context_new, freed once.
        unsafe { hls_context_free(self.0) }
    }
}

struct Media(*mut HlsMedia);

fn empty_buffer() -> HlsBuffer {
    HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() }
}

impl Media {
    fn get(&self, name: &str) -> Vec<u8> {
        let n = CString::new(name).unwrap();
        let mut b = empty_buffer();
        // SAFETY: live media; the buffer is freed here.
        unsafe {
            assert_eq!(hls_get(self.0, n.as_ptr(), &mut b), HlsStatus::HLS_OK, "{name}");
            let v = std::slice::from_raw_parts(b.data, b.len).to_vec();
            hls_free_buffer(&mut b);
            v
        }
    }

    fn info(&self) -> serde_json::Value {
        let mut b = empty_buffer();
        // SAFETY: live media; the buffer is freed here.
        unsafe {
            assert_eq!(hls_media_info_json(self.0, &mut b), HlsStatus::HLS_OK);
            let v = serde_json::from_slice(std::slice::from_raw_parts(b.data, b.len)).unwrap();
            hls_free_buffer(&mut b);
            v
        }
    }

    /// Every resource the playlists name (key URIs excluded), by name.
    fn crawl(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut todo = vec!["master.m3u8".to_string()];
        while let Some(name) = todo.pop() {
            if out.contains_key(&name) {
                continue;
            }
            let bytes = self.get(&name);
            if name.ends_with(".m3u8") {
                for line in String::from_utf8_lossy(&bytes).lines() {
                    if let Some(i) = line.find("URI=\"") {
                        let uri = line[i + 5..].split('"').next().unwrap().to_string();
                        if !line.starts_with("#EXT-X-KEY") && !line.starts_with("#EXT-X-SESSION-KEY") {
                            todo.push(uri);
                        }
                    } else if !line.starts_with('#') && !line.is_empty() {
                        todo.push(line.to_string());
                    }
                }
            }
            out.insert(name, bytes);
        }
        out
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        // SAFETY: the handle from hls_open_with, closed once.
        unsafe { hls_close(self.0) }
    }
}

/// A key info: `method`, the test key, IV from the segment number, URI `key.bin`.
fn key_info(method: HlsEncryptionMethod) -> *mut HlsKeyInfo {
    // SAFETY: plain C API use; the caller frees the info.
    unsafe {
        let k = hls_key_info_new();
        assert_eq!(hls_key_info_set_method(k, method as c_int), HlsStatus::HLS_OK);
        assert_eq!(hls_key_info_set_key(k, KEY.as_ptr()), HlsStatus::HLS_OK);
        let uri = CString::new(KEY_URI).unwrap();
        assert_eq!(hls_key_info_set_uri(k, uri.as_ptr()), HlsStatus::HLS_OK);
        k
    }
}

fn media(name: &str) -> PathBuf {
    common::ensure_media(&[name]).expect("test media");
    common::media_dir().join(name)
}

fn write_crawl(dir: &Path, crawl: &BTreeMap<String, Vec<u8>>) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in crawl {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn decrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut buf = data.to_vec();
    let n = cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .expect("valid AES-128-CBC + PKCS7")
        .len();
    buf.truncate(n);
    buf
}

/// The segment number in a name `tN_K.m4s` / `tN_K.vtt`.
fn segment_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".m4s")?;
    stem.rsplit('_').next()?.parse().ok()
}

/// `ffmpeg -f framemd5` of every stream of `dir/master.m3u8`: one line per decoded frame.
fn frame_hashes(dir: &Path) -> Vec<String> {
    let out = common::run_ok(
        Command::new("ffmpeg")
            .current_dir(dir)
            .args([
                "-nostdin",
                "-v",
                "error",
                "-allowed_extensions",
                "ALL",
                "-i",
                "master.m3u8",
                "-map",
                "0:v",
                "-map",
                "0:a",
            ])
            .args(["-f", "framemd5", "-"]),
    )
    .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
}

#[test]
fn aes128_presentation_plays_in_ffmpeg_with_the_key_exactly_as_the_clear_one() {
    let src = media("h264_aac.mp4");
    let ctx = Ctx::new(None, ptr::null_mut());
    let clear = ctx.open(&src, None).expect("clear open").crawl();
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_AES_128);
    let enc_media = ctx.open(&src, Some(k)).expect("encrypted open");
    // SAFETY: from hls_key_info_new, freed once (the media keeps its own copy).
    unsafe { hls_key_info_free(k) };
    let enc = enc_media.crawl();
    assert_eq!(clear.keys().collect::<Vec<_>>(), enc.keys().collect::<Vec<_>>(), "same resources");

    // Playlists: the key line after the map (init clear), no change in the master.
    assert_eq!(clear["master.m3u8"], enc["master.m3u8"]);
    let mut segments = 0;
    for (name, bytes) in &enc {
        if name.ends_with(".m3u8") && name != "master.m3u8" && !name.contains("iframes") {
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text.lines().collect();
            let map = lines.iter().position(|l| l.starts_with("#EXT-X-MAP")).expect("map");
            let key = lines.iter().position(|l| l.starts_with("#EXT-X-KEY")).expect("key line");
            assert_eq!(lines[key], format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{KEY_URI}\""), "{name}");
            assert!(key > map, "{name}: the key must follow EXT-X-MAP so the init segment stays clear");
            assert!(lines[key + 1].starts_with("#EXTINF"), "{name}");
        }
        if name.ends_with("_init.mp4") || name.starts_with("init") {
            assert_eq!(&clear[name], bytes, "{name}: the init segment stays clear");
        }
        if let Some(k) = segment_number(name) {
            assert_ne!(&clear[name], bytes, "{name} is served in the clear");
            assert_eq!(bytes.len() % 16, 0, "{name}: whole AES blocks");
            let iv = u128::from(k).to_be_bytes();
            assert_eq!(decrypt(&KEY, &iv, bytes), clear[name], "{name}: decrypted with the key");
            segments += 1;
        }
    }
    assert!(segments >= 4, "only {segments} segments crawled");

    // FFmpeg reads the key file the playlists name and decodes every frame as in the clear.
    let root = common::out_root().join("encryption");
    let (cdir, edir) = (root.join("aes128-clear"), root.join("aes128"));
    write_crawl(&cdir, &clear);
    write_crawl(&edir, &enc);
    std::fs::write(edir.join(KEY_URI), KEY).unwrap();
    let (c, e) = (frame_hashes(&cdir), frame_hashes(&edir));
    assert!(c.len() > 100, "clear crawl decoded {} frames", c.len());
    assert_eq!(c.len(), e.len(), "frame counts");
    assert!(c == e, "decoded frames differ from the clear crawl's");

    // Without the key FFmpeg gets nothing playable: the segments are not clear.
    std::fs::write(edir.join(KEY_URI), [0u8; 16]).unwrap();
    let wrong = Command::new("ffmpeg")
        .current_dir(&edir)
        .args(["-nostdin", "-v", "error", "-allowed_extensions", "ALL", "-i", "master.m3u8", "-map", "0:v"])
        .args(["-f", "framemd5", "-"])
        .output()
        .unwrap();
    let frames_wrong = String::from_utf8_lossy(&wrong.stdout).lines().filter(|l| !l.starts_with('#')).count();
    assert!(frames_wrong < c.len() / 4, "a wrong key still decoded {frames_wrong} frames");

    // Info says how each rendition is protected, never the key; stats count the segments.
    let info = enc_media.info();
    let text = info.to_string();
    assert!(!text.contains("30313233") && !text.contains("0123456789abcdef"), "the key leaks into info: {text}");
    for t in info["tracks"].as_array().unwrap().iter().filter(|t| t["served"] == true) {
        assert_eq!(t["encryption"]["method"], "AES-128", "{t}");
        assert_eq!(t["encryption"]["uri"], KEY_URI);
        assert_eq!(t["encryption"]["iv"], "segment-number");
    }
    assert!(ctx.stats()["encrypted_generations"].as_u64().unwrap() >= segments as u64);
}

#[test]
fn encrypted_segments_are_never_sent_as_file_ranges() {
    let src = media("h264_aac.mp4");
    let ctx = Ctx::new(None, ptr::null_mut());
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_AES_128);
    let m = ctx.open(&src, Some(k)).expect("open");
    // SAFETY: freed once.
    unsafe { hls_key_info_free(k) };
    let clear = ctx.open(&src, None).expect("open");
    for name in ["t0_0.m4s", "t1_0.m4s", "t0_2.m4s"] {
        let n = CString::new(name).unwrap();
        // SAFETY: HlsParts is plain data filled by the call; freed here.
        unsafe {
            let mut p: HlsParts = std::mem::zeroed();
            assert_eq!(hls_get_parts(m.0, n.as_ptr(), &mut p), HlsStatus::HLS_OK, "{name}");
            let parts = std::slice::from_raw_parts(p.parts, p.count);
            assert!(parts.iter().all(|x| x.kind == HlsPartKind::HLS_PART_BYTES), "{name}: a file range would be clear");
            assert_eq!(p.fd, -1);
            let mut bytes = Vec::new();
            for x in parts {
                bytes.extend_from_slice(std::slice::from_raw_parts(x.data, x.len as usize));
            }
            hls_free_parts(&mut p);
            assert_eq!(bytes, m.get(name), "{name}: parts and hls_get agree");
            let iv = u128::from(segment_number(name).unwrap()).to_be_bytes();
            assert_eq!(decrypt(&KEY, &iv, &bytes), clear.get(name));
        }
    }
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

/// A provider: AES-128 with a constant IV and the rendition in the URI, for every rendition
/// but those of `userdata`'s failing kind (a C string, or NULL).
unsafe extern "C" fn provider(
    userdata: *mut c_void,
    _path: *const c_char,
    rendition: *const c_char,
    kind: *const c_char,
    _codec: *const c_char,
    out: *mut HlsKeyInfo,
) -> c_int {
    CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: per HlsKeyProvider, the strings and out are valid during the call.
    unsafe {
        let kind = CStr::from_ptr(kind).to_str().unwrap();
        if !userdata.is_null() && CStr::from_ptr(userdata as *const c_char).to_str().unwrap() == kind {
            return -1;
        }
        let r = CStr::from_ptr(rendition).to_str().unwrap();
        let uri = CString::new(format!("https://keys.example/{r}?v=1")).unwrap();
        hls_key_info_set_method(out, HlsEncryptionMethod::HLS_ENCRYPTION_AES_128 as c_int);
        hls_key_info_set_key(out, KEY.as_ptr());
        hls_key_info_set_iv(out, HlsIvPolicy::HLS_IV_CONSTANT as c_int, [7u8; 16].as_ptr());
        hls_key_info_set_uri(out, uri.as_ptr());
        hls_key_info_set_keyformat(out, c"identity".as_ptr(), c"1".as_ptr());
    }
    0
}

#[test]
fn key_provider_is_asked_once_per_rendition_and_its_failure_serves_nothing() {
    let src = media("h264_aac.mp4");
    let before = CALLS.load(Ordering::SeqCst);
    let ctx = Ctx::new(Some(provider), ptr::null_mut());
    let a = ctx.open(&src, None).expect("open");
    let b = ctx.open(&src, None).expect("second open (shared)");
    let served = a.info()["tracks"].as_array().unwrap().iter().filter(|t| t["served"] == true).count();
    assert_eq!(CALLS.load(Ordering::SeqCst) - before, served, "one call per rendition, none for the reopen");
    assert_eq!(ctx.stats()["key_requests"], served as u64);
    let playlist = String::from_utf8(b.get("t0.m3u8")).unwrap();
    assert!(
        playlist.contains(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/t0?v=1\",IV=0x07070707070707070707070707070707,KEYFORMAT=\"identity\",KEYFORMATVERSIONS=\"1\"\n"
        ),
        "{playlist}"
    );
    let clear = Ctx::new(None, ptr::null_mut()).open(&src, None).unwrap().get("t0_1.m4s");
    assert_eq!(decrypt(&KEY, &[7u8; 16], &a.get("t0_1.m4s")), clear);
    // A per-open key overrides the context's provider: a NONE key serves the clear.
    // SAFETY: freed once.
    unsafe {
        let none = hls_key_info_new();
        let m = ctx.open(&src, Some(none)).expect("open in the clear");
        hls_key_info_free(none);
        assert_eq!(m.get("t0_1.m4s"), clear);
    }
    drop((a, b));

    // The provider fails for audio: the open fails, nothing is served.
    let ctx = Ctx::new(Some(provider), c"audio".as_ptr() as *mut c_void);
    let (st, msg) = ctx.open(&src, None).err().expect("the open must fail without the audio key");
    assert_eq!(st, HlsStatus::HLS_ERR_KEY_UNAVAILABLE, "{msg}");
    assert!(msg.contains("t1") && msg.contains("returned -1"), "{msg}");
    assert_eq!(ctx.stats()["key_failures"], 1);
}

#[test]
fn a_key_without_a_uri_or_with_a_bad_method_is_refused() {
    // SAFETY: plain C API use, freed here.
    unsafe {
        let k = hls_key_info_new();
        assert_eq!(hls_key_info_set_method(k, HlsEncryptionMethod::HLS_ENCRYPTION_AES_128 as c_int), HlsStatus::HLS_OK);
        let o = hls_open_options_new();
        assert_eq!(hls_open_options_set_encryption(o, k), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
        assert_eq!(hls_key_info_set_method(k, 9), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
        hls_open_options_free(o);
        hls_key_info_free(k);
    }
}

const KEY_ID: [u8; 16] = *b"libhls-key-id-01";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Shaka Packager's binary from its npm package (installed into target/shaka when missing):
/// the independent decryptor. The tests of this binary that need it run at once: one installs it, the others wait (two
/// `npm pack`/`tar` runs into one folder collided).
fn shaka_packager() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = common::root().join("target").join("shaka");
    let bin = dir.join("package").join("bin").join("packager-linux-x64");
    if !bin.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        common::run_ok(Command::new("npm").current_dir(&dir).args(["pack", "--silent", "shaka-packager@3.4.2"]))
            .unwrap();
        common::run_ok(Command::new("tar").current_dir(&dir).args(["xzf", "shaka-packager-3.4.2.tgz"])).unwrap();
    }
    bin
}

/// Per-packet `size, md5` of `file`'s stream `which` (`v` or `a`), stream-copied (no decoding).
fn packet_hashes(file: &Path, which: &str) -> Vec<String> {
    let out = common::run_ok(Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-i"]).arg(file).args([
        "-map",
        &format!("0:{which}:0"),
        "-c",
        "copy",
        "-f",
        "framemd5",
        "-",
    ]))
    .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').map(str::trim).skip(4).collect::<Vec<_>>().join(","))
        .collect()
}

/// Init + segments of rendition `r` of a crawl, as one fragmented MP4 file.
fn concat(crawl: &BTreeMap<String, Vec<u8>>, r: &str, path: &Path) {
    let mut v = crawl[&format!("{r}_init.mp4")].clone();
    let mut k = 0;
    while let Some(s) = crawl.get(&format!("{r}_{k}.m4s")) {
        v.extend_from_slice(s);
        k += 1;
    }
    std::fs::write(path, v).unwrap();
}

fn sample_aes_round_trip(file: &str, renditions: &[(&str, &str, &str)]) {
    let src = media(file);
    let ctx = Ctx::new(None, ptr::null_mut());
    let clear = ctx.open(&src, None).expect("clear open").crawl();
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_SAMPLE_AES);
    // SAFETY: k is live; freed once below.
    unsafe {
        assert_eq!(hls_key_info_set_key_id(k, KEY_ID.as_ptr()), HlsStatus::HLS_OK);
        assert_eq!(
            hls_key_info_set_iv(k, HlsIvPolicy::HLS_IV_CONSTANT as c_int, [9u8; 16].as_ptr()),
            HlsStatus::HLS_OK
        );
    }
    let m = ctx.open(&src, Some(k)).expect("SAMPLE-AES open");
    // SAFETY: freed once.
    unsafe { hls_key_info_free(k) };
    let enc = m.crawl();
    let master = String::from_utf8_lossy(&enc["master.m3u8"]).to_string();
    assert!(
        master.contains("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"key.bin\",IV=0x09090909090909090909090909090909"),
        "{master}"
    );
    let t0 = String::from_utf8_lossy(&enc["t0.m3u8"]).to_string();
    assert!(t0.contains("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"key.bin\",IV=0x09"), "{t0}");

    let dir = common::out_root().join("encryption").join(format!("cbcs-{file}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let packager = shaka_packager();
    for &(r, which, stream) in renditions {
        let (e, c, d) =
            (dir.join(format!("{r}-enc.mp4")), dir.join(format!("{r}-clear.mp4")), dir.join(format!("{r}-dec.mp4")));
        concat(&enc, r, &e);
        concat(&clear, r, &c);
        let init = &enc[&format!("{r}_init.mp4")];
        let has = |b: &[u8]| init.windows(4).any(|w| w == b);
        assert!(
            has(if which == "v" { b"encv" } else { b"enca" }) && has(b"sinf") && has(b"cbcs") && has(b"tenc"),
            "{r}: init"
        );
        assert!(enc[&format!("{r}_1.m4s")].windows(4).any(|w| w == b"senc"), "{r}: senc");
        let want = packet_hashes(&c, which);
        assert!(want.len() > 10, "{r}: {} packets in the clear", want.len());
        assert_ne!(packet_hashes(&e, which), want, "{r}: samples are served in the clear");
        common::run_ok(
            Command::new(&packager)
                .arg(format!("in={},stream={stream},output={}", e.display(), d.display()))
                .arg("--enable_raw_key_decryption")
                .arg(format!("--keys=label=:key_id={}:key={}", hex(&KEY_ID), hex(&KEY)))
                .arg("--quiet"),
        )
        .unwrap();
        let got = packet_hashes(&d, which);
        assert_eq!(got.len(), want.len(), "{file} {r}: packet count after decryption");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{file} {r}: sample {i} differs from the clear one after decryption");
        }
    }
}

/// The `senc` subsamples (clear, protected) of a cbcs media segment, every sample's in turn.
fn senc_subsamples(segment: &[u8]) -> Vec<(usize, usize)> {
    let be = |at: usize, n: usize| segment[at..at + n].iter().fold(0usize, |v, &b| v << 8 | usize::from(b));
    let at = segment.windows(4).position(|w| w == b"senc").expect("senc") + 8;
    let mut pos = at + 4;
    let mut out = Vec::new();
    for _ in 0..be(at, 4) {
        let n = be(pos, 2);
        pos += 2;
        for _ in 0..n {
            out.push((be(pos, 2), be(pos + 2, 4)));
            pos += 6;
        }
    }
    out
}

/// The cbcs encryption of `clear` (an `mdat` payload cut into `subsamples`), one protected range
/// after the other and one block at a time through the `aes` crate's single-block call: every
/// range from `iv`, `crypt` blocks encrypted then `skip` clear, a last partial block clear.
fn cbcs_one_chain_at_a_time(
    clear: &[u8],
    subsamples: &[(usize, usize)],
    iv: &[u8; 16],
    crypt: usize,
    skip: usize,
) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let cipher = aes::Aes128::new(&KEY.into());
    let mut out = clear.to_vec();
    let mut pos = 0;
    for &(c, e) in subsamples {
        pos += c;
        let mut chain = *iv;
        let mut i = 0;
        while (i + 1) * 16 <= e {
            if i % (crypt + skip) < crypt {
                let block = &mut out[pos + i * 16..pos + (i + 1) * 16];
                block.iter_mut().zip(chain).for_each(|(b, c)| *b ^= c);
                cipher.encrypt_block(block.into());
                chain.copy_from_slice(block);
            }
            i += 1;
        }
        pos += e;
    }
    assert_eq!(pos, clear.len(), "the subsamples cover the samples");
    out
}

/// The bytes a player gets from the engine (samples written once after the grown `moof`, or
/// encrypted in place when the segment is made in memory, as transcoded audio is) are those of
/// the library's other two paths and, sample by sample, those of the simplest encryptor: one
/// CBC chain at a time, one block at a time. Video (1:9 pattern) and audio (every block).
#[test]
fn cbcs_segments_are_the_bytes_of_one_chain_encrypted_at_a_time() {
    use hls::output::fmp4::{self, NalLayout, Protection};
    let iv = [9u8; 16];
    for (file, renditions) in
        [("enc_720p.mp4", &["t0", "t1"][..]), ("hevc_aac.mp4", &["t0", "t1"][..]), ("ac3_51.mp4", &["t1", "t1a"][..])]
    {
        let src = media(file);
        let ctx = Ctx::new(None, ptr::null_mut());
        let clear = ctx.open(&src, None).expect("clear open").crawl();
        let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_SAMPLE_AES);
        // SAFETY: k is live; freed once below.
        unsafe {
            assert_eq!(hls_key_info_set_iv(k, HlsIvPolicy::HLS_IV_CONSTANT as c_int, iv.as_ptr()), HlsStatus::HLS_OK);
        }
        let m = ctx.open(&src, Some(k)).expect("SAMPLE-AES open");
        // SAFETY: freed once.
        unsafe { hls_key_info_free(k) };
        let enc = m.crawl();
        for r in renditions {
            let init = &clear[&format!("{r}_init.mp4")];
            let find = |tag: &[u8]| init.windows(4).position(|w| w == tag);
            let nal = match (find(b"avcC"), find(b"hvcC")) {
                (Some(i), _) => Some(NalLayout { length_size: usize::from(init[i + 8] & 3) + 1, hevc: false }),
                (_, Some(i)) => Some(NalLayout { length_size: usize::from(init[i + 25] & 3) + 1, hevc: true }),
                _ => None,
            };
            let (crypt, skip) = if nal.is_some() { (1, 9) } else { (1, 0) };
            let p = Protection {
                key: KEY,
                key_id: [0; 16],
                constant_iv: iv,
                crypt_byte_block: if nal.is_some() { 1 } else { 0 },
                skip_byte_block: if nal.is_some() { 9 } else { 0 },
                pssh: &[],
                nal,
            };
            let mut n = 0;
            while let Some(e) = enc.get(&format!("{r}_{n}.m4s")) {
                let what = format!("{file} {r}_{n}.m4s");
                let c = &clear[&format!("{r}_{n}.m4s")];
                assert_eq!(&fmp4::encrypt_segment(c, &p).unwrap(), e, "{what}: from a borrowed segment");
                let mut owned = Vec::with_capacity(c.len() + fmp4::growth_estimate(c.len() / 64));
                owned.extend_from_slice(c);
                assert_eq!(&fmp4::encrypt_segment_in_place(owned, &p).unwrap(), e, "{what}: in place");
                let split: Vec<&[u8]> = c.chunks(1000).collect();
                assert_eq!(&fmp4::encrypt_segment_pieces(&split, &p).unwrap(), e, "{what}: from pieces");
                // The mdat payloads: after the last 8 bytes before the first sample of each.
                let payload = |s: &[u8]| {
                    let moof = u32::from_be_bytes(s[..4].try_into().unwrap()) as usize;
                    s[moof + 8..].to_vec()
                };
                let subsamples = senc_subsamples(e);
                let reference = cbcs_one_chain_at_a_time(&payload(c), &subsamples, &iv, crypt, skip);
                assert_ne!(reference, payload(c), "{what}: something is encrypted");
                assert!(payload(&e[..]) == reference, "{what}: the samples differ from one chain at a time's");
                n += 1;
            }
            assert!(n > 0, "{file} {r}: no segments");
        }
    }
}

#[test]
fn sample_aes_h264_aac_decrypts_with_shaka_packager_to_the_clear_samples() {
    sample_aes_round_trip("h264_aac.mp4", &[("t0", "v", "video"), ("t1", "a", "audio")]);
}

#[test]
fn sample_aes_hevc_aac_decrypts_with_shaka_packager_to_the_clear_samples() {
    sample_aes_round_trip("hevc_aac.mp4", &[("t0", "v", "video"), ("t1", "a", "audio")]);
}

#[test]
fn sample_aes_ac3_and_its_aac_rendition_decrypt_with_shaka_packager_to_the_clear_samples() {
    // t1: AC-3 5.1 copied; t1a: the AAC made on demand beside it.
    sample_aes_round_trip("ac3_51.mp4", &[("t1", "a", "audio"), ("t1a", "a", "audio")]);
}

#[test]
fn sample_aes_of_a_codec_without_a_cbcs_layout_is_refused_at_open() {
    let src = media("vp9_opus.webm");
    let ctx = Ctx::new(None, ptr::null_mut());
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_SAMPLE_AES);
    let r = ctx.open(&src, Some(k));
    // SAFETY: freed once.
    unsafe { hls_key_info_free(k) };
    let (st, msg) = r.err().expect("VP9/Opus cannot be SAMPLE-AES");
    assert_eq!(st, HlsStatus::HLS_ERR_UNSUPPORTED, "{msg}");
    assert!(msg.contains("SAMPLE-AES"), "{msg}");
}

#[path = "web/mod.rs"]
mod web;

/// hls.js in headless Chromium plays an AES-128 crawl, fetching the key from the test server
/// (tests/browser/crawl_play.mjs, `aes128` mode). `LIBHLS_SKIP_BROWSER=1` skips it.
#[test]
fn hls_js_in_chromium_plays_aes128_fetching_the_key() {
    if std::env::var_os("LIBHLS_SKIP_BROWSER").is_some_and(|v| v != "0") {
        println!("skipped (LIBHLS_SKIP_BROWSER is set)");
        return;
    }
    let src = media("h264_aac.mp4");
    let ctx = Ctx::new(None, ptr::null_mut());
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_AES_128);
    let m = ctx.open(&src, Some(k)).expect("open");
    // SAFETY: freed once.
    unsafe { hls_key_info_free(k) };
    let dir = common::out_root().join("encryption").join("aes128-browser");
    write_crawl(&dir, &m.crawl());
    std::fs::write(dir.join(KEY_URI), KEY).unwrap();
    let chromium = web::ensure_chromium().expect("chromium");
    let node_dir = web::ensure_node_modules().expect("node modules");
    let (status, out, err) = web::run_with_deadline(
        Command::new("node")
            .arg(common::root().join("tests/browser/crawl_play.mjs"))
            .arg(&dir)
            .arg("aes128")
            .env("LIBHLS_NODE_DIR", &node_dir)
            .env("LIBHLS_CHROMIUM", &chromium),
        std::time::Duration::from_secs(120),
    )
    .expect("node");
    println!("{out}");
    assert!(status.is_some_and(|s| s.success()), "crawl_play.mjs aes128 failed ({status:?}):\n{out}\n{err}");
    assert!(out.contains("ok - hls.js fetched the key"), "{out}");
}

/// Shaka Player in headless Chromium plays a SAMPLE-AES (cbcs) crawl through EME with the
/// Clear Key CDM (tests/browser/crawl_play.mjs, `cbcs` mode). `LIBHLS_SKIP_BROWSER=1` skips it.
#[test]
fn shaka_player_in_chromium_plays_cbcs_with_clear_key() {
    if std::env::var_os("LIBHLS_SKIP_BROWSER").is_some_and(|v| v != "0") {
        println!("skipped (LIBHLS_SKIP_BROWSER is set)");
        return;
    }
    let src = media("h264_aac.mp4");
    let ctx = Ctx::new(None, ptr::null_mut());
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_SAMPLE_AES);
    // SAFETY: k is live; freed once below.
    unsafe {
        assert_eq!(hls_key_info_set_key_id(k, KEY_ID.as_ptr()), HlsStatus::HLS_OK);
        assert_eq!(
            hls_key_info_set_iv(k, HlsIvPolicy::HLS_IV_CONSTANT as c_int, [9u8; 16].as_ptr()),
            HlsStatus::HLS_OK
        );
    }
    let m = ctx.open(&src, Some(k)).expect("open");
    // SAFETY: freed once.
    unsafe { hls_key_info_free(k) };
    let dir = common::out_root().join("encryption").join("cbcs-browser");
    write_crawl(&dir, &m.crawl());
    // With KEYFORMAT identity (none written), Shaka Player fetches the raw key from the URI.
    std::fs::write(dir.join(KEY_URI), KEY).unwrap();
    let chromium = web::ensure_chromium().expect("chromium");
    let node_dir = web::ensure_node_modules().expect("node modules");
    let (status, out, err) = web::run_with_deadline(
        Command::new("node")
            .arg(common::root().join("tests/browser/crawl_play.mjs"))
            .arg(&dir)
            .arg("cbcs")
            .arg(hex(&KEY_ID))
            .arg(hex(&KEY))
            .env("LIBHLS_NODE_DIR", &node_dir)
            .env("LIBHLS_CHROMIUM", &chromium),
        std::time::Duration::from_secs(120),
    )
    .expect("node");
    println!("{out}");
    assert!(status.is_some_and(|s| s.success()), "crawl_play.mjs cbcs failed ({status:?}):\n{out}\n{err}");
}

#[test]
fn webvtt_stays_clear_unless_asked_and_then_decrypts_with_the_key() {
    let src = media("subs.mp4");
    let ctx = Ctx::new(None, ptr::null_mut());
    let clear = ctx.open(&src, None).expect("clear open").crawl();
    let vtt_playlist = clear
        .keys()
        .find(|n| n.ends_with(".m3u8") && clear[*n].windows(4).any(|w| w == b".vtt"))
        .expect("a subtitle playlist")
        .clone();
    let k = key_info(HlsEncryptionMethod::HLS_ENCRYPTION_AES_128);
    let plain = ctx.open(&src, Some(k)).expect("open").crawl();
    assert!(!String::from_utf8_lossy(&plain[&vtt_playlist]).contains("EXT-X-KEY"), "WebVTT encrypted unasked");
    // SAFETY: k is live; freed once below.
    unsafe { assert_eq!(hls_key_info_set_encrypt_subtitles(k, 1), HlsStatus::HLS_OK) };
    let enc = ctx.open(&src, Some(k)).expect("open").crawl();
    // SAFETY: freed once.
    unsafe { hls_key_info_free(k) };
    assert!(String::from_utf8_lossy(&enc[&vtt_playlist]).contains("#EXT-X-KEY:METHOD=AES-128"));
    let mut n = 0;
    for (name, bytes) in enc.iter().filter(|(n, _)| n.ends_with(".vtt")) {
        assert_eq!(plain[name], clear[name]);
        let k: u64 = name.trim_end_matches(".vtt").rsplit('_').next().unwrap().parse().unwrap();
        assert_eq!(decrypt(&KEY, &u128::from(k).to_be_bytes(), bytes), clear[name], "{name}");
        n += 1;
    }
    assert!(n >= 2, "{n} WebVTT segments");
}
