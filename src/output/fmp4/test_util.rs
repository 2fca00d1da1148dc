//! Test helpers shared by the fMP4 tests: a minimal box parser (to read back what the writer
//! wrote), hex input and codec configurations.

use crate::codec::{Codec, CodecConfig};

use super::init::write_init;
use super::types::{TrackInit, TrackKind};

/// A parsed box: its type, total size, body and (for containers) children.
#[derive(Debug)]
pub struct Node {
    pub fourcc: String,
    pub size: u64,
    pub body: Vec<u8>,
    pub children: Vec<Node>,
}

impl Node {
    /// The descendant at a `/`-separated path of box types.
    pub fn get(&self, path: &str) -> &Node {
        find(&self.children, path)
    }

    /// Big-endian u32 at `off` in the body.
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_be_bytes(self.body[off..off + 4].try_into().unwrap())
    }

    /// Big-endian u16 at `off` in the body.
    pub fn u16_at(&self, off: usize) -> u16 {
        u16::from_be_bytes(self.body[off..off + 2].try_into().unwrap())
    }
}

/// The box at a `/`-separated path in a box list; panics (test failure) when absent.
pub fn find<'a>(nodes: &'a [Node], path: &str) -> &'a Node {
    let (head, rest) = path.split_once('/').unwrap_or((path, ""));
    let node = nodes.iter().find(|n| n.fourcc == head).unwrap_or_else(|| panic!("no box {head} in {:?}", names(nodes)));
    if rest.is_empty() {
        node
    } else {
        find(&node.children, rest)
    }
}

/// The types of `nodes`, in order.
pub fn names(nodes: &[Node]) -> Vec<&str> {
    nodes.iter().map(|n| n.fourcc.as_str()).collect()
}

/// Bytes before child boxes start, for boxes that hold children.
fn child_offset(fourcc: &str) -> Option<usize> {
    match fourcc {
        "moov" | "trak" | "mdia" | "minf" | "dinf" | "stbl" | "mvex" | "moof" | "traf" => Some(0),
        "stsd" | "dref" => Some(8),
        "avc1" | "hvc1" | "av01" | "vp09" => Some(78),
        "mp4a" | "ac-3" | "ec-3" | "Opus" | "fLaC" => Some(28),
        _ => None,
    }
}

/// Parses a sequence of boxes that must exactly cover `data`.
pub fn parse_boxes(data: &[u8]) -> Vec<Node> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        assert!(data.len() - pos >= 8, "truncated box header at {pos}");
        let mut size = u64::from(u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()));
        let fourcc = String::from_utf8_lossy(&data[pos + 4..pos + 8]).into_owned();
        let mut header = 8;
        if size == 1 {
            size = u64::from_be_bytes(data[pos + 8..pos + 16].try_into().unwrap());
            header = 16;
        }
        assert!(
            size >= header as u64 && pos as u64 + size <= data.len() as u64,
            "box {fourcc} size {size} overruns at {pos}"
        );
        let body = data[pos + header..pos + size as usize].to_vec();
        let children = child_offset(&fourcc).map_or_else(Vec::new, |off| parse_boxes(&body[off..]));
        out.push(Node { fourcc, size, body, children });
        pos += size as usize;
    }
    out
}

/// Box types in depth-first order, indented by depth.
pub fn outline(nodes: &[Node], depth: usize, out: &mut Vec<String>) {
    for n in nodes {
        out.push(format!("{}{}", " ".repeat(depth), n.fourcc));
        outline(&n.children, depth + 1, out);
    }
}

/// Bytes from hex digits (whitespace ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A configuration of `codec` with 320x240 video and 48 kHz stereo audio fields.
pub fn config(codec: Codec, extradata: Vec<u8>, first_packet: Vec<u8>) -> CodecConfig {
    CodecConfig {
        codec,
        extradata,
        first_packet,
        width: 320,
        height: 240,
        sample_rate: 48000,
        channels: 2,
        bits_per_sample: 0,
        picture: Default::default(),
        frame_rate: 0.0,
        bit_rate: 0,
    }
}

/// An H.264 (High profile, level 1.3) `avcC` record.
pub const AVCC: &str = "0164000dffe100196764000dacd94141fb011000000300100000030320f142996001000668ebe3cb22c0fdf8f800";

/// The boxes of the init segment of track 1 (`eng`) with `cfg`.
pub fn init_for(cfg: &CodecConfig, kind: TrackKind, timescale: u32) -> Vec<Node> {
    let t = TrackInit {
        track_id: 1,
        kind,
        timescale,
        language: *b"eng",
        codec: cfg,
        media_time: 0,
        edit_ignored_by_mse: false,
    };
    parse_boxes(&write_init(&t).unwrap())
}
