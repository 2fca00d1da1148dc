//! FLAC (RFC 9639, FLAC in ISOBMFF): the STREAMINFO block from extradata, the stream parameters
//! it gives and the FLACSpecificBox (dfLa) payload.

use super::bits::BitReader;
use crate::error::{ParseError, ParseResult};

/// RFC 6381 codec string of FLAC.
pub(crate) const CODEC_STRING: &str = "fLaC";

/// The stream marker that opens a native FLAC file (and some extradata).
const STREAM_MARKER: &[u8; 4] = b"fLaC";
/// Bytes of a STREAMINFO block body.
const STREAMINFO_LEN: usize = 34;
/// Bytes of a metadata block header (last flag, type, 24-bit length).
const BLOCK_HEADER_LEN: usize = 4;
/// Metadata block header bit: this is the last metadata block.
const LAST_BLOCK_FLAG: u8 = 0x80;
/// Metadata block type of STREAMINFO.
const BLOCK_TYPE_STREAMINFO: u8 = 0;

/// Stream parameters from a FLAC STREAMINFO block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlacInfo {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (1..=8).
    pub channels: u32,
    /// Bits per sample (4..=32).
    pub bits_per_sample: u32,
}

/// The 34-byte STREAMINFO from extradata (bare, with a block header, or after "fLaC").
pub(crate) fn flac_streaminfo(extradata: &[u8]) -> ParseResult<&[u8]> {
    if extradata.len() == STREAMINFO_LEN {
        return Ok(extradata);
    }
    let mut rest = extradata.strip_prefix(STREAM_MARKER).unwrap_or(extradata);
    while rest.len() >= BLOCK_HEADER_LEN {
        let len = u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize;
        let body = rest
            .get(BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + len)
            .ok_or_else(|| ParseError::new("FLAC: truncated metadata block"))?;
        if rest[0] & !LAST_BLOCK_FLAG == BLOCK_TYPE_STREAMINFO && len == STREAMINFO_LEN {
            return Ok(body);
        }
        if rest[0] & LAST_BLOCK_FLAG != 0 {
            break;
        }
        rest = &rest[BLOCK_HEADER_LEN + len..];
    }
    Err(ParseError::new("FLAC: extradata holds no STREAMINFO block"))
}

/// Parses sample rate, channels and bit depth from a STREAMINFO block.
pub(crate) fn parse_flac_streaminfo(streaminfo: &[u8]) -> ParseResult<FlacInfo> {
    let mut r = BitReader::new(streaminfo);
    r.skip(16 + 16 + 24 + 24)?; // min/max block size, min/max frame size
    let sample_rate = r.bits(20)?;
    let channels = r.bits(3)? + 1;
    let bits_per_sample = r.bits(5)? + 1;
    if sample_rate == 0 {
        return Err(ParseError::new("FLAC: STREAMINFO has sample rate 0"));
    }
    Ok(FlacInfo { sample_rate, channels, bits_per_sample })
}

/// The dfLa payload after its FullBox header: STREAMINFO as the last metadata block.
pub(crate) fn dfla_payload(extradata: &[u8]) -> ParseResult<(Vec<u8>, FlacInfo)> {
    let si = flac_streaminfo(extradata)?;
    let info = parse_flac_streaminfo(si)?;
    let mut out = vec![LAST_BLOCK_FLAG | BLOCK_TYPE_STREAMINFO, 0, 0, STREAMINFO_LEN as u8];
    out.extend_from_slice(si);
    Ok((out, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::hex;

    #[test]
    fn dfla_from_streaminfo_forms() {
        // STREAMINFO from FFmpeg's flac encoder, 44.1 kHz stereo 16-bit.
        let si = hex("120012000003050005140ac442f00000ac44b48e1dd0c193fdd40c05f288d60157a3");
        let expect = [vec![0x80, 0, 0, 34], si.clone()].concat();
        let info = FlacInfo { sample_rate: 44100, channels: 2, bits_per_sample: 16 };
        assert_eq!(dfla_payload(&si).unwrap(), (expect.clone(), info));
        let with_magic = [&b"fLaC"[..], &[0x00, 0, 0, 34], &si, &[0x84, 0, 0, 4, 1, 2, 3, 4]].concat();
        assert_eq!(dfla_payload(&with_magic).unwrap(), (expect, info));
    }
}
