//! A tiny MP4 builder (boxes, tracks from a [`Spec`], whole files) for the unit tests of the
//! `mp4` readers.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{read, Mp4Index};
use crate::error::ParseResult;

pub(super) fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(body);
    v
}

pub(super) fn full(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
    let mut b = vec![version, 0, 0, 0];
    b.extend_from_slice(body);
    bx(kind, &b)
}

pub(super) fn words(vals: &[u32]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_be_bytes()).collect()
}

pub(super) fn counted(kind: &[u8; 4], version: u8, entries: &[Vec<u32>]) -> Vec<u8> {
    let mut b = words(&[entries.len() as u32]);
    for e in entries {
        b.extend(words(e));
    }
    full(kind, version, &b)
}

/// A test track; every field has a usable default.
#[derive(Clone)]
pub(super) struct Spec {
    pub(super) handler: [u8; 4],
    pub(super) timescale: u32,
    pub(super) entry: Vec<u8>,
    pub(super) stts: Vec<Vec<u32>>,
    pub(super) ctts: Option<Vec<Vec<u32>>>,
    pub(super) stss: Option<Vec<u32>>,
    pub(super) sizes: Vec<u32>,
    pub(super) stsc: Vec<Vec<u32>>,
    pub(super) chunks: Vec<u32>,
    pub(super) elst: Option<Vec<u8>>,
    pub(super) extra_stbl: Vec<u8>,
}

pub(super) fn video_entry(w: u16, h: u16) -> Vec<u8> {
    let mut e = vec![0u8; 6];
    e.extend_from_slice(&[0, 1]);
    e.extend_from_slice(&[0u8; 16]);
    e.extend_from_slice(&w.to_be_bytes());
    e.extend_from_slice(&h.to_be_bytes());
    e.extend_from_slice(&[0u8; 50]);
    e.extend(bx(b"avcC", &[1, 0x64, 0, 0x1e]));
    bx(b"avc1", &e)
}

pub(super) fn audio_entry(fourcc: &[u8; 4], channels: u16, bits: u16, rate: u16, children: &[u8]) -> Vec<u8> {
    let mut e = vec![0u8; 6];
    e.extend_from_slice(&[0, 1]);
    e.extend_from_slice(&[0u8; 8]);
    e.extend_from_slice(&channels.to_be_bytes());
    e.extend_from_slice(&bits.to_be_bytes());
    e.extend_from_slice(&[0u8; 4]);
    e.extend_from_slice(&rate.to_be_bytes());
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(children);
    bx(fourcc, &e)
}

impl Spec {
    pub(super) fn video(n: u32) -> Spec {
        Spec {
            handler: *b"vide",
            timescale: 12800,
            entry: video_entry(320, 240),
            stts: vec![vec![n, 512]],
            ctts: None,
            stss: None,
            sizes: vec![10; n as usize],
            stsc: vec![vec![1, n, 1]],
            chunks: vec![100],
            elst: None,
            extra_stbl: Vec::new(),
        }
    }

    pub(super) fn trak(&self) -> Vec<u8> {
        let tkhd = full(b"tkhd", 0, &[words(&[0, 0, 1, 0, 0]), vec![0u8; 64]].concat());
        let mut lang = words(&[0, 0, self.timescale, 0]);
        lang.extend_from_slice(&[0x15, 0xc7, 0, 0]); // "eng"
        let mdhd = full(b"mdhd", 0, &lang);
        let mut hdlr_body = words(&[0]);
        hdlr_body.extend_from_slice(&self.handler);
        hdlr_body.extend(words(&[0, 0, 0]));
        hdlr_body.extend_from_slice(b"Commentary\0");
        let hdlr = full(b"hdlr", 0, &hdlr_body);
        let stsd = full(b"stsd", 0, &[words(&[1]), self.entry.clone()].concat());
        let mut stbl = [stsd, counted(b"stts", 0, &self.stts)].concat();
        if let Some(c) = &self.ctts {
            stbl.extend(counted(b"ctts", 0, c));
        }
        if let Some(s) = &self.stss {
            stbl.extend(counted(b"stss", 0, &s.iter().map(|&v| vec![v]).collect::<Vec<_>>()));
        }
        stbl.extend(full(b"stsz", 0, &[words(&[0, self.sizes.len() as u32]), words(&self.sizes)].concat()));
        stbl.extend(counted(b"stsc", 0, &self.stsc));
        stbl.extend(counted(b"stco", 0, &self.chunks.iter().map(|&v| vec![v]).collect::<Vec<_>>()));
        stbl.extend_from_slice(&self.extra_stbl);
        let minf = bx(b"minf", &bx(b"stbl", &stbl));
        let mdia = bx(b"mdia", &[mdhd, hdlr, minf].concat());
        let edts = self.elst.as_ref().map(|e| bx(b"edts", e)).unwrap_or_default();
        bx(b"trak", &[tkhd, edts, mdia].concat())
    }
}

pub(super) fn elst(version: u8, edits: &[(u64, i64)]) -> Vec<u8> {
    let mut b = words(&[edits.len() as u32]);
    for &(d, t) in edits {
        if version == 1 {
            b.extend_from_slice(&d.to_be_bytes());
            b.extend_from_slice(&t.to_be_bytes());
        } else {
            b.extend(words(&[d as u32, t as i32 as u32]));
        }
        b.extend(words(&[0x10000]));
    }
    full(b"elst", version, &b)
}

/// ftyp + mdat (`data` bytes) + moov with these tracks; samples should sit at 100...
pub(super) fn file(tracks: &[Spec], data: usize, extra_moov: &[u8]) -> Vec<u8> {
    let mut f = bx(b"ftyp", b"isom\0\0\x02\0isomiso2");
    let pad = 100 - f.len() - 8;
    f.extend(bx(b"free", &vec![0u8; pad]));
    f.extend(bx(b"mdat", &vec![0u8; data]));
    let mvhd = full(b"mvhd", 0, &[words(&[0, 0, 1000, 0]), vec![0u8; 80]].concat());
    let mut moov = mvhd;
    for t in tracks {
        moov.extend(t.trak());
    }
    moov.extend_from_slice(extra_moov);
    f.extend(bx(b"moov", &moov));
    f
}

pub(super) fn read_bytes(bytes: &[u8]) -> ParseResult<Mp4Index> {
    read_bytes_with(bytes, false)
}

/// [`read_bytes`], the samples of the tracks that allow it kept in their tables with `lazy`
/// (`read_lazily`).
pub(super) fn read_bytes_with(bytes: &[u8], lazy: bool) -> ParseResult<Mp4Index> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path =
        std::env::temp_dir().join(format!("mp4index-{}-{}.mp4", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let mut f = File::create(&path).unwrap();
    f.write_all(bytes).unwrap();
    drop(f);
    let f = crate::container::read::ByteSource::open_file(&path).unwrap();
    let r = if lazy {
        super::read_lazily(&f, bytes.len() as u64, super::DEFAULT_MAX_INDEX_BYTES)
    } else {
        read(&f, bytes.len() as u64)
    };
    let _ = std::fs::remove_file(&path);
    r
}

pub(super) fn err_of(bytes: &[u8]) -> String {
    read_bytes(bytes).expect_err("should fail").to_string()
}

/// `rounds` copies of `base`, each with 1 to 4 bytes at or after `from` damaged (zeroed, set to
/// 0xff, incremented or randomised) by a seeded xorshift: what the damaged-file tests feed the
/// readers, the same every run.
pub(super) fn damaged_copies(base: &[u8], from: usize, seed: u64, rounds: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut state = seed;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..rounds).map(move |_| {
        let mut f = base.to_vec();
        for _ in 0..1 + rnd() % 4 {
            let at = from + (rnd() as usize) % (f.len() - from);
            f[at] = match rnd() % 4 {
                0 => 0,
                1 => 0xff,
                2 => f[at].wrapping_add(1),
                _ => rnd() as u8,
            };
        }
        f
    })
}
