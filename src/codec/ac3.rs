//! Dolby AC-3 and E-AC-3 (ETSI TS 102 366): sync frame headers (syncinfo and bsi), the
//! AC3SpecificBox (dac3) and EC3SpecificBox (dec3) payloads, and the stream's sample rate.

use super::bits::{BitReader, BitWriter};
use crate::error::{ParseError, ParseResult};

/// RFC 6381 codec string of AC-3.
pub(crate) const AC3_CODEC_STRING: &str = "ac-3";
/// RFC 6381 codec string of E-AC-3.
pub(crate) const EAC3_CODEC_STRING: &str = "ec-3";

/// The syncword that opens every (E-)AC-3 sync frame.
const SYNC_WORD: [u8; 2] = [0x0B, 0x77];
/// Highest bsid of a frame with the AC-3 bit stream syntax (bsid 9 and 10 are its
/// half/quarter-rate variants); E-AC-3 uses 11..=16.
const AC3_MAX_BSID: u32 = 10;
/// bsid range of E-AC-3 frames.
const EAC3_BSIDS: std::ops::RangeInclusive<u32> = 11..=16;
/// The reserved fscod value (E-AC-3: a reduced rate coded in fscod2).
const FSCOD_RESERVED: u32 = 3;
/// Highest valid AC-3 frmsizecod.
const AC3_MAX_FRMSIZECOD: u32 = 37;
/// E-AC-3 strmtyp of a dependent substream.
const STRMTYP_DEPENDENT: u32 = 1;
/// The reserved E-AC-3 strmtyp.
const STRMTYP_RESERVED: u32 = 3;
/// Audio blocks in an AC-3 frame (and an E-AC-3 frame with numblkscod 3).
const AC3_BLOCKS: u32 = 6;
/// Samples per channel in one audio block.
const SAMPLES_PER_BLOCK: u64 = 256;
/// Most independent substreams dec3 can describe (3-bit num_ind_sub).
const MAX_INDEPENDENT_SUBSTREAMS: usize = 8;

/// Sample rate of an AC-3 fscod.
pub(crate) fn sample_rate(fscod: u32) -> u32 {
    [48000, 44100, 32000].get(fscod as usize).copied().unwrap_or(0)
}

/// Nominal bit rates (kbit/s) indexed by frmsizecod >> 1.
const BITRATES: [u32; 19] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];

/// Fields of an AC-3 sync frame that dac3 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ac3Frame {
    /// Sample rate code (0 = 48 kHz, 1 = 44.1 kHz, 2 = 32 kHz).
    pub fscod: u32,
    /// Bit stream identification (8 for plain AC-3).
    pub bsid: u32,
    /// Bit stream mode (main, commentary, ...).
    pub bsmod: u32,
    /// Audio coding mode (channel layout, 7 = 3/2).
    pub acmod: u32,
    /// 1 when the LFE channel is present.
    pub lfeon: u32,
    /// Frame size code; `frmsizecod >> 1` is dac3's bit_rate_code.
    pub frmsizecod: u32,
}

impl Ac3Frame {
    /// Frame length in bytes.
    pub(crate) fn frame_bytes(&self) -> usize {
        let kbps = BITRATES[(self.frmsizecod >> 1) as usize % BITRATES.len()];
        let words = match self.fscod {
            0 => kbps * 2,
            1 => kbps * 320 / 147 + (self.frmsizecod & 1),
            _ => kbps * 3,
        };
        words as usize * 2
    }
}

/// Parses the syncinfo and bsi of an AC-3 (bsid <= 10) sync frame.
pub(crate) fn parse_ac3_frame(frame: &[u8]) -> ParseResult<Ac3Frame> {
    if !frame.starts_with(&SYNC_WORD) {
        return Err(ParseError::new("AC-3: no sync word at start of first packet"));
    }
    let mut r = BitReader::new(&frame[SYNC_WORD.len()..]);
    r.skip(16)?; // crc1
    let fscod = r.bits(2)?;
    let frmsizecod = r.bits(6)?;
    let bsid = r.bits(5)?;
    if fscod == FSCOD_RESERVED || frmsizecod > AC3_MAX_FRMSIZECOD || bsid > AC3_MAX_BSID {
        return Err(ParseError::new(format!(
            "AC-3: invalid sync frame (fscod {fscod}, frmsizecod {frmsizecod}, bsid {bsid})"
        )));
    }
    let bsmod = r.bits(3)?;
    let acmod = r.bits(3)?;
    let mix_bits = [acmod & 1 != 0 && acmod != 1, acmod & 4 != 0, acmod == 2].iter().filter(|&&b| b).count();
    r.skip(2 * mix_bits)?;
    let lfeon = r.bits(1)?;
    Ok(Ac3Frame { fscod, bsid, bsmod, acmod, lfeon, frmsizecod })
}

/// The 3-byte AC3SpecificBox (dac3) payload for the sync frame at the start of `frame`.
pub(crate) fn dac3_payload(frame: &[u8]) -> ParseResult<Vec<u8>> {
    let f = parse_ac3_frame(frame)?;
    let mut w = BitWriter::new();
    for (bits, v) in
        [(2, f.fscod), (5, f.bsid), (3, f.bsmod), (3, f.acmod), (1, f.lfeon), (5, f.frmsizecod >> 1), (5, 0)]
    {
        w.put(bits, v);
    }
    Ok(w.finish())
}

/// Fields of an E-AC-3 (or AC-3 core) sync frame that dec3 needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Eac3Frame {
    strmtyp: u32,
    substreamid: u32,
    frame_bytes: usize,
    fscod: u32,
    sample_rate: u32,
    num_blocks: u32,
    acmod: u32,
    lfeon: u32,
    bsid: u32,
    bsmod: u32,
    chanmap: Option<u32>,
}

/// Skips the mixing metadata of an E-AC-3 bsi (mixmdate == 1).
fn skip_eac3_mixing(r: &mut BitReader, f: &Eac3Frame) -> ParseResult<()> {
    if f.acmod > 2 {
        r.skip(2)?; // dmixmod
    }
    if f.acmod & 1 != 0 && f.acmod > 2 {
        r.skip(6)?; // ltrtcmixlev, lorocmixlev
    }
    if f.acmod & 4 != 0 {
        r.skip(6)?; // ltrtsurmixlev, lorosurmixlev
    }
    if f.lfeon == 1 {
        skip_flagged(r, 5)?; // lfemixlevcod
    }
    if f.strmtyp == 0 {
        skip_eac3_program_mixing(r, f)?;
    }
    Ok(())
}

/// Skips the mixing metadata only independent substreams carry (program scale factors,
/// mixdef, pan info, mix configuration).
fn skip_eac3_program_mixing(r: &mut BitReader, f: &Eac3Frame) -> ParseResult<()> {
    skip_flagged(r, 6)?; // pgmscl
    if f.acmod == 0 {
        skip_flagged(r, 6)?; // pgmscl2
    }
    skip_flagged(r, 6)?; // extpgmscl
    match r.bits(2)? {
        1 => r.skip(5)?,
        2 => r.skip(12)?,
        3 => {
            let len = r.bits(5)? as usize;
            r.skip(8 * (len + 2))?;
        }
        _ => {}
    }
    if f.acmod < 2 {
        skip_flagged(r, 14)?; // paninfo
        if f.acmod == 0 {
            skip_flagged(r, 14)?; // paninfo2
        }
    }
    if r.bit()? {
        // frmmixcfginfoe: one blkmixcfginfo, or one flagged per block
        if f.num_blocks == 1 {
            r.skip(5)?;
        } else {
            for _ in 0..f.num_blocks {
                skip_flagged(r, 5)?;
            }
        }
    }
    Ok(())
}

/// Reads a presence flag and skips `n` bits when it is set.
fn skip_flagged(r: &mut BitReader, n: usize) -> ParseResult<()> {
    if r.bit()? {
        r.skip(n)?;
    }
    Ok(())
}

/// Parses the bsi of an E-AC-3 sync frame (bsid 11..=16).
fn parse_eac3_frame(frame: &[u8]) -> ParseResult<Eac3Frame> {
    let mut r = BitReader::new(frame.get(SYNC_WORD.len()..).unwrap_or_default());
    let mut f = Eac3Frame { strmtyp: r.bits(2)?, substreamid: r.bits(3)?, ..Eac3Frame::default() };
    f.frame_bytes = (r.bits(11)? as usize + 1) * 2;
    f.fscod = r.bits(2)?;
    if f.fscod == FSCOD_RESERVED {
        f.sample_rate = sample_rate(r.bits(2)?) / 2;
        f.num_blocks = AC3_BLOCKS;
    } else {
        f.sample_rate = sample_rate(f.fscod);
        f.num_blocks = [1, 2, 3, AC3_BLOCKS][r.bits(2)? as usize];
    }
    f.acmod = r.bits(3)?;
    f.lfeon = r.bits(1)?;
    f.bsid = r.bits(5)?;
    if f.strmtyp == STRMTYP_RESERVED || f.sample_rate == 0 || !EAC3_BSIDS.contains(&f.bsid) {
        return Err(ParseError::new(format!("E-AC-3: invalid sync frame (strmtyp {}, bsid {})", f.strmtyp, f.bsid)));
    }
    for _ in 0..if f.acmod == 0 { 2 } else { 1 } {
        r.skip(5)?; // dialnorm
        skip_flagged(&mut r, 8)?; // compr
    }
    if f.strmtyp == STRMTYP_DEPENDENT && r.bit()? {
        f.chanmap = Some(r.bits(16)?);
    }
    if r.bit()? {
        skip_eac3_mixing(&mut r, &f)?;
    }
    if r.bit()? {
        f.bsmod = r.bits(3)?; // infomdate
    }
    Ok(f)
}

/// Parses the sync frame at the start of `data`, AC-3 or E-AC-3 by its bsid.
fn parse_any_frame(data: &[u8]) -> ParseResult<Eac3Frame> {
    if !data.starts_with(&SYNC_WORD) || data.len() < 6 {
        return Err(ParseError::new("E-AC-3: no sync word where a frame should start"));
    }
    // bsid is the high 5 bits of byte 5 in both syntaxes.
    if u32::from(data[5] >> 3) > AC3_MAX_BSID {
        return parse_eac3_frame(data);
    }
    let a = parse_ac3_frame(data)?;
    Ok(Eac3Frame {
        frame_bytes: a.frame_bytes(),
        fscod: a.fscod,
        sample_rate: sample_rate(a.fscod),
        num_blocks: AC3_BLOCKS,
        acmod: a.acmod,
        lfeon: a.lfeon,
        bsid: a.bsid,
        bsmod: a.bsmod,
        ..Eac3Frame::default()
    })
}

/// chan_loc bits (TS 102 366 Table F.6.1, Lc/Rc = bit 0) from a dependent substream chanmap.
fn chan_loc_from_chanmap(chanmap: u32) -> u32 {
    // chanmap bit k (k = 0 is the MSB of 16) -> chan_loc bit.
    const MAP: [(u32, u32); 9] = [(5, 0), (6, 1), (7, 2), (8, 3), (9, 4), (10, 5), (11, 6), (12, 7), (14, 8)];
    MAP.iter().filter(|(k, _)| chanmap >> (15 - k) & 1 == 1).fold(0, |acc, (_, b)| acc | 1 << b)
}

/// One independent substream entry of dec3.
#[derive(Default)]
struct Ec3Substream {
    frame: Eac3Frame,
    num_dep_sub: u32,
    chan_loc: u32,
}

/// Groups the sync frames of one access unit into independent substreams.
fn collect_ec3_substreams(packet: &[u8]) -> ParseResult<(Vec<Ec3Substream>, usize)> {
    let mut subs: Vec<Ec3Substream> = Vec::new();
    let (mut rest, mut bytes) = (packet, 0usize);
    while rest.len() >= 6 {
        let f = parse_any_frame(rest)?;
        let independent = f.strmtyp != STRMTYP_DEPENDENT;
        if independent && subs.iter().any(|s| s.frame.substreamid == f.substreamid) {
            break; // the next access unit begins
        }
        match subs.last_mut() {
            Some(s) if !independent => {
                s.num_dep_sub += 1;
                s.chan_loc |= f.chanmap.map_or(0, chan_loc_from_chanmap);
            }
            None if !independent => {
                return Err(ParseError::new("E-AC-3: dependent substream before an independent one"))
            }
            _ => subs.push(Ec3Substream { frame: f, ..Ec3Substream::default() }),
        }
        bytes += f.frame_bytes;
        rest = rest.get(f.frame_bytes..).unwrap_or_default();
    }
    if subs.is_empty() || subs.len() > MAX_INDEPENDENT_SUBSTREAMS {
        return Err(ParseError::new("E-AC-3: first packet holds no usable sync frame"));
    }
    Ok((subs, bytes))
}

/// The EC3SpecificBox (dec3) payload for the access unit at the start of `packet`.
pub(crate) fn dec3_payload(packet: &[u8]) -> ParseResult<Vec<u8>> {
    let (subs, bytes) = collect_ec3_substreams(packet)?;
    let first = subs[0].frame;
    let bits_per_s =
        bytes as u64 * 8 * u64::from(first.sample_rate) / (u64::from(first.num_blocks) * SAMPLES_PER_BLOCK);
    let mut w = BitWriter::new();
    w.put(13, (bits_per_s / 1000).min(0x1FFF) as u32);
    w.put(3, subs.len() as u32 - 1);
    for s in &subs {
        let f = s.frame;
        for (bits, v) in [
            (2, f.fscod),
            (5, f.bsid),
            (1, 0),
            (1, 0),
            (3, f.bsmod),
            (3, f.acmod),
            (1, f.lfeon),
            (3, 0),
            (4, s.num_dep_sub),
        ] {
            w.put(bits, v);
        }
        if s.num_dep_sub > 0 {
            w.put(9, s.chan_loc)
        } else {
            w.put(1, 0)
        }
    }
    Ok(w.finish())
}

/// Sample rate of the AC-3/E-AC-3 frame at the start of `packet`.
pub(crate) fn ac3_family_sample_rate(packet: &[u8]) -> ParseResult<u32> {
    Ok(parse_any_frame(packet)?.sample_rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::hex;

    /// First sync frame header of `ffmpeg -f lavfi -i sine -ac 6 -c:a ac3` (5.1, 48 kHz, 448k).
    const AC3_51_HEAD: &str = "0b77b50b1e40ebf8403eff99ff0841fc";

    #[test]
    fn dac3_from_real_frame() {
        // FFmpeg's mp4 muxer writes dac3 10 3d e0 for this stream.
        assert_eq!(dac3_payload(&hex(AC3_51_HEAD)).unwrap(), hex("103de0"));
        let f = parse_ac3_frame(&hex(AC3_51_HEAD)).unwrap();
        assert_eq!((f.acmod, f.lfeon, f.frame_bytes()), (7, 1, 1792));
        assert_eq!(ac3_family_sample_rate(&hex(AC3_51_HEAD)).unwrap(), 48000);
    }

    #[test]
    fn ac3_frame_sizes() {
        let f = |fscod, frmsizecod| Ac3Frame { fscod, bsid: 8, bsmod: 0, acmod: 2, lfeon: 0, frmsizecod }.frame_bytes();
        assert_eq!(f(0, 0), 128);
        assert_eq!(f(1, 0), 138);
        assert_eq!(f(1, 1), 140);
        assert_eq!(f(2, 0), 192);
        assert_eq!(f(1, 37), 1394 * 2);
    }

    /// Writes an E-AC-3 sync frame header (no mixing/info metadata) padded to its size.
    fn eac3_frame(strmtyp: u32, substreamid: u32, acmod: u32, lfeon: u32, chanmap: Option<u32>, words: u32) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.put(16, 0x0b77);
        for (bits, v) in [
            (2, strmtyp),
            (3, substreamid),
            (11, words - 1),
            (2, 0),
            (2, 3),
            (3, acmod),
            (1, lfeon),
            (5, 16),
            (5, 31),
            (1, 0),
        ] {
            w.put(bits, v);
        }
        if strmtyp == 1 {
            w.put(1, u32::from(chanmap.is_some()));
            if let Some(m) = chanmap {
                w.put(16, m);
            }
        }
        w.put(1, 0); // mixmdate
        w.put(1, 1); // infomdate
        w.put(3, 2); // bsmod
        let mut v = w.finish();
        v.resize(words as usize * 2, 0);
        v
    }

    #[test]
    fn dec3_real_and_dependent_substreams() {
        // FFmpeg's eac3 encoder, stereo 48 kHz 192k: its mp4 muxer writes dec3 06 00 20 04 00.
        let real = hex("0b77017f3487c0002084210838008c06");
        assert_eq!(dec3_payload(&real).unwrap(), hex("0600200400"));
        // 5.1 independent + dependent 7.1 extension (Lrs/Rrs), 2 x 384 bytes per 1536 samples.
        let ind = eac3_frame(0, 0, 7, 1, None, 192);
        let dep = eac3_frame(1, 0, 2, 0, Some(1 << (15 - 6)), 192);
        let packet = [ind.clone(), dep, ind].concat();
        let p = dec3_payload(&packet).unwrap();
        let mut r = BitReader::new(&p);
        assert_eq!(r.bits(13).unwrap(), 768 * 8 * 48000 / 1536 / 1000);
        assert_eq!(r.bits(3).unwrap(), 0);
        let fields: Vec<u32> = [2, 5, 1, 1, 3, 3, 1, 3, 4, 9].iter().map(|&n| r.bits(n).unwrap()).collect();
        assert_eq!(fields, vec![0, 16, 0, 0, 2, 7, 1, 0, 1, 2]);
        assert_eq!(p.len(), 2 + 4);
    }
}
