//! Encryption of a presentation with keys from the caller: the method, the key and how it is
//! announced, per track ([`TrackKey`]); where keys come from ([`Encryption`]: one static key,
//! or a [`KeyProvider`] asked once per media and track).
//!
//! Keys never appear in `Debug` output, logs, info or stats.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How a track's segments are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// In the clear.
    None,
    /// Whole media segments AES-128-CBC with PKCS7 padding (RFC 8216 `METHOD=AES-128`).
    Aes128,
    /// Samples encrypted in place, CMAF `cbcs` (RFC 8216 `METHOD=SAMPLE-AES` for fMP4).
    SampleAes,
}

impl Method {
    /// The `METHOD` attribute value (and the name in the info JSON).
    pub fn name(self) -> &'static str {
        match self {
            Method::None => "NONE",
            Method::Aes128 => "AES-128",
            Method::SampleAes => "SAMPLE-AES",
        }
    }
}

/// Which initialisation vector a segment is encrypted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IvPolicy {
    /// The segment's media sequence number as a 128-bit big-endian integer (RFC 8216 §5.2: the
    /// playlist then writes no `IV` attribute and players derive it the same way).
    SegmentNumber,
    /// One IV for every segment, written as the `IV` attribute (and, for SAMPLE-AES, as the
    /// constant IV of the `tenc` box).
    Constant([u8; 16]),
}

impl IvPolicy {
    /// The IV of the segment with media sequence number `sequence`.
    pub fn iv(self, sequence: u64) -> [u8; 16] {
        match self {
            IvPolicy::SegmentNumber => u128::from(sequence).to_be_bytes(),
            IvPolicy::Constant(iv) => iv,
        }
    }
}

/// The key of one track and how playlists announce it. Compared and hashed by value (the key
/// too: two opens with different keys are different presentations); `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TrackKey {
    /// How the track is protected.
    pub method: Method,
    /// The AES-128 key.
    pub key: [u8; 16],
    /// The key ID (`tenc` default KID for SAMPLE-AES; not written for AES-128).
    pub key_id: [u8; 16],
    /// Which IV each segment is encrypted with.
    pub iv: IvPolicy,
    /// The key URI written in playlists (the caller's server serves the key there).
    pub uri: String,
    /// `KEYFORMAT` (None: `identity`, not written).
    pub keyformat: Option<String>,
    /// `KEYFORMATVERSIONS` (None: not written).
    pub keyformat_versions: Option<String>,
    /// Zero or more whole `pssh` boxes, concatenated, copied into SAMPLE-AES init segments.
    pub pssh: Vec<u8>,
    /// Whether WebVTT subtitle segments are encrypted too (AES-128 only; default false).
    pub subtitles: bool,
}

impl Default for TrackKey {
    fn default() -> TrackKey {
        TrackKey {
            method: Method::None,
            key: [0; 16],
            key_id: [0; 16],
            iv: IvPolicy::SegmentNumber,
            uri: String::new(),
            keyformat: None,
            keyformat_versions: None,
            pssh: Vec::new(),
            subtitles: false,
        }
    }
}

impl fmt::Debug for TrackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackKey")
            .field("method", &self.method)
            .field("key", &"<redacted>")
            .field("key_id", &hex(&self.key_id))
            .field("iv", &self.iv)
            .field("uri", &self.uri)
            .field("keyformat", &self.keyformat)
            .field("keyformat_versions", &self.keyformat_versions)
            .field("pssh_bytes", &self.pssh.len())
            .field("subtitles", &self.subtitles)
            .finish()
    }
}

impl TrackKey {
    /// Whether anything is encrypted.
    pub fn encrypts(&self) -> bool {
        self.method != Method::None
    }

    /// Checks what the caller gave: a URI for an encrypting method, well-formed `pssh` boxes,
    /// no quote or line break in quoted attributes.
    pub fn validate(&self) -> Result<(), String> {
        if !self.encrypts() {
            return Ok(());
        }
        if self.uri.is_empty() {
            return Err(format!("{}: no key URI", self.method.name()));
        }
        for (what, v) in [
            ("key URI", Some(&self.uri)),
            ("KEYFORMAT", self.keyformat.as_ref()),
            ("KEYFORMATVERSIONS", self.keyformat_versions.as_ref()),
        ] {
            if v.is_some_and(|v| v.contains(['"', '\n', '\r'])) {
                return Err(format!("{what} holds a quote or a line break"));
            }
        }
        let mut rest = &self.pssh[..];
        while !rest.is_empty() {
            let size = rest.get(..4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize);
            if size < 8 || size > rest.len() || &rest[4..8] != b"pssh" {
                return Err("PSSH data is not a sequence of whole pssh boxes".into());
            }
            rest = &rest[size..];
        }
        if self.subtitles && self.method != Method::Aes128 {
            return Err("only AES-128 can encrypt WebVTT subtitles".into());
        }
        Ok(())
    }
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a key provider is asked: one track of one media.
#[derive(Clone, Debug)]
pub struct KeyRequest {
    /// The media's location (its path).
    pub location: String,
    /// The rendition's name (`t1`, `t2a`: the stem of its playlist name).
    pub rendition: String,
    /// The source stream index.
    pub stream: usize,
    /// `video`, `audio` or `subtitle`.
    pub kind: &'static str,
    /// The RFC 6381 codec string served (empty for subtitles).
    pub codec: String,
}

/// The function behind a [`KeyProvider`]: the key of one track, or why there is none (the
/// open then fails; nothing is served in the clear instead).
pub type KeyFn = dyn Fn(&KeyRequest) -> Result<TrackKey, String> + Send + Sync;

/// A key provider: called from any thread, at most once per media and track (the result is
/// kept with the opened media). Two providers are the same (and opens with them share one
/// presentation) when they have the same `identity`, or, without one, the same `Arc`.
#[derive(Clone)]
pub struct KeyProvider {
    /// The function.
    pub f: Arc<KeyFn>,
    /// What tells providers apart when the `Arc` does not (C: the function and its userdata).
    pub identity: Option<(usize, usize)>,
}

impl KeyProvider {
    /// A provider known by its `Arc`.
    pub fn new(f: Arc<KeyFn>) -> KeyProvider {
        KeyProvider { f, identity: None }
    }

    fn id(&self) -> (usize, usize) {
        self.identity.unwrap_or((Arc::as_ptr(&self.f) as *const () as usize, 0))
    }

    /// Asks for the key of one track.
    pub fn ask(&self, req: &KeyRequest) -> Result<TrackKey, String> {
        (self.f)(req)
    }
}

impl PartialEq for KeyProvider {
    fn eq(&self, other: &KeyProvider) -> bool {
        self.id() == other.id()
    }
}

impl Eq for KeyProvider {}

impl Hash for KeyProvider {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for KeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyProvider({:x?})", self.id())
    }
}

/// Where one open's keys come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// One key for every audio and video track (and subtitles if it says so).
    Static(TrackKey),
    /// Asked per track.
    Provider(KeyProvider),
}
