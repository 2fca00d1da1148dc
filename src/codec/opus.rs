//! Opus (RFC 7845 OpusHead, Opus in ISOBMFF): the OpusSpecificBox (dOps) payload built from the
//! OpusHead extradata.

use crate::error::{ParseError, ParseResult};

/// RFC 6381 codec string of Opus.
pub(crate) const CODEC_STRING: &str = "opus";

/// Magic signature that opens an OpusHead.
const OPUS_HEAD_MAGIC: &[u8; 8] = b"OpusHead";
/// Bytes of an OpusHead with channel mapping family 0 (no mapping table).
const OPUS_HEAD_MIN_LEN: usize = 19;
/// Channel mapping family 0: mono/stereo, no mapping table.
const MAPPING_FAMILY_RTP: u8 = 0;

/// The OpusSpecificBox (dOps) payload built from an OpusHead; also returns the channel count.
pub(crate) fn dops_payload(opus_head: &[u8]) -> ParseResult<(Vec<u8>, u16)> {
    if opus_head.len() < OPUS_HEAD_MIN_LEN || !opus_head.starts_with(OPUS_HEAD_MAGIC) {
        return Err(ParseError::new("Opus: extradata is not an OpusHead (19+ bytes starting with \"OpusHead\")"));
    }
    let channels = opus_head[9];
    let family = opus_head[18];
    // dOps Version 0, then OpusHead's fields big-endian instead of little-endian.
    let mut out = vec![0, channels];
    out.extend_from_slice(&u16::from_le_bytes([opus_head[10], opus_head[11]]).to_be_bytes());
    out.extend_from_slice(
        &u32::from_le_bytes([opus_head[12], opus_head[13], opus_head[14], opus_head[15]]).to_be_bytes(),
    );
    out.extend_from_slice(&i16::from_le_bytes([opus_head[16], opus_head[17]]).to_be_bytes());
    out.push(family);
    if family != MAPPING_FAMILY_RTP {
        // stream count, coupled count, then one mapping byte per channel
        let table = opus_head
            .get(OPUS_HEAD_MIN_LEN..OPUS_HEAD_MIN_LEN + 2 + usize::from(channels))
            .ok_or_else(|| ParseError::new("Opus: OpusHead channel mapping table truncated"))?;
        out.extend_from_slice(table);
    }
    Ok((out, u16::from(channels)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::hex;

    #[test]
    fn dops_from_real_opus_head() {
        // OpusHead from FFmpeg's libopus encoder, stereo: FFmpeg writes dOps 00 02 0138 0000bb80 0000 00.
        let head = hex("4f707573486561640102380180bb0000000000");
        assert_eq!(dops_payload(&head).unwrap(), (hex("000201380000bb80000000"), 2));
        // 5.1 from libopus: mapping family 1, 4 streams, 2 coupled.
        let six = hex("4f707573486561640106380180bb00000000010402000401020305");
        let (d, ch) = dops_payload(&six).unwrap();
        assert_eq!(ch, 6);
        assert_eq!(d, hex("000601380000bb800000 01 0402 000401020305"));
        assert!(dops_payload(&six[..six.len() - 1]).is_err());
    }
}
