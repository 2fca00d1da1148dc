//! Encryption of served bytes with the caller's keys: whole resources AES-128-CBC with PKCS7
//! padding (RFC 8216 `METHOD=AES-128`), and the CBC chains `cbcs` sample encryption runs.
//!
//! RustCrypto's `aes` picks its backend (the CPU's AES instructions when it has them) once per
//! call of `encrypt_with_backend`; the loops here run inside that call (a [`BlockClosure`]), so
//! the round keys stay in registers across a whole resource and a CBC chain's value never goes
//! through memory between blocks. CBC encryption is serial (each block waits for the previous
//! one's ciphertext): one chain runs at the latency of the AES instructions, the floor OpenSSL's
//! `aes-128-cbc` runs at too. Independent chains (`cbcs` subsamples, [`cbc_encrypt_ranges`])
//! advance side by side, as many at once as the backend encrypts in parallel.

use aes::cipher::{
    consts::U16, typenum::Unsigned, BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser, KeyInit, ParBlocksSizeUser,
};

/// The AES block.
pub const BLOCK: usize = 16;

/// An AES-128 key schedule for encryption (what every function here takes).
pub type Aes128Enc = aes::Aes128Enc;

/// The key schedule of `key`.
pub fn cipher(key: &[u8; 16]) -> Aes128Enc {
    Aes128Enc::new(key.into())
}

/// `data` encrypted AES-128-CBC with PKCS7 padding (1 to 16 bytes added: a whole number of
/// blocks, always longer than `data`).
pub fn aes128_cbc_pkcs7(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(data.len() + BLOCK);
    buf.extend_from_slice(data);
    aes128_cbc_pkcs7_in_place(key, iv, buf)
}

/// [`aes128_cbc_pkcs7`] of `buf`, encrypted where it is (the padding appended; no copy when
/// `buf` has 16 bytes of spare capacity).
pub fn aes128_cbc_pkcs7_in_place(key: &[u8; 16], iv: &[u8; 16], mut buf: Vec<u8>) -> Vec<u8> {
    let pad = BLOCK - buf.len() % BLOCK;
    buf.resize(buf.len() + pad, pad as u8);
    cbc_encrypt(&cipher(key), iv, &mut buf);
    buf
}

/// [`aes128_cbc_pkcs7`] of the bytes of `pieces` one after the other (a resource's header bytes
/// and file ranges as read, not yet in one buffer), written once: each block encrypted from
/// where it was read into the returned buffer (the serial chain leaves time for the copy).
pub fn aes128_cbc_pkcs7_pieces(key: &[u8; 16], iv: &[u8; 16], pieces: &[&[u8]]) -> Vec<u8> {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(total + BLOCK);
    crate::util::memhint::populate(&out);
    cipher(key).encrypt_with_backend(PiecesChain { iv, pieces, out: &mut out });
    out
}

/// One CBC chain over the bytes of `pieces` and their PKCS7 padding, appended to `out`.
struct PiecesChain<'a> {
    iv: &'a [u8; 16],
    pieces: &'a [&'a [u8]],
    out: &'a mut Vec<u8>,
}

impl BlockSizeUser for PiecesChain<'_> {
    type BlockSize = U16;
}

impl BlockClosure for PiecesChain<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let PiecesChain { iv, pieces, out } = self;
        let mut chain = aes::Block::from(*iv);
        let mut step = |block: &[u8]| {
            xor(&mut chain, block);
            backend.proc_block((&mut chain).into());
            out.extend_from_slice(&chain);
        };
        // A block cut between two pieces is gathered here.
        let mut carry = [0u8; BLOCK];
        let mut held = 0;
        for &piece in pieces {
            let mut piece = piece;
            if held > 0 {
                let n = (BLOCK - held).min(piece.len());
                carry[held..held + n].copy_from_slice(&piece[..n]);
                held += n;
                piece = &piece[n..];
                if held < BLOCK {
                    continue;
                }
                step(&carry);
            }
            let whole = piece.len() / BLOCK * BLOCK;
            for block in piece[..whole].chunks_exact(BLOCK) {
                step(block);
            }
            held = piece.len() - whole;
            carry[..held].copy_from_slice(&piece[whole..]);
        }
        let pad = BLOCK - held;
        carry[held..].fill(pad as u8);
        step(&carry);
    }
}

/// The whole blocks of `data` encrypted AES-CBC from `iv`, in place, one chain (a last partial
/// block stays as it is).
pub fn cbc_encrypt(cipher: &Aes128Enc, iv: &[u8; 16], data: &mut [u8]) {
    cipher.encrypt_with_backend(Chain { iv, data });
}

/// One CBC chain over the whole blocks of `data`.
struct Chain<'a> {
    iv: &'a [u8; 16],
    data: &'a mut [u8],
}

impl BlockSizeUser for Chain<'_> {
    type BlockSize = U16;
}

impl BlockClosure for Chain<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let mut chain = aes::Block::from(*self.iv);
        for block in self.data.chunks_exact_mut(BLOCK) {
            xor(&mut chain, block);
            backend.proc_block((&mut chain).into());
            block.copy_from_slice(&chain);
        }
    }
}

/// `into ^= from` (16 bytes). Written on whole arrays so that it compiles to one 16-byte load,
/// XOR and store: a block XORed byte by byte in memory, then loaded whole by the 8-block call,
/// stalls each load on sixteen small stores (it halved the speed of [`cbc_encrypt_ranges`]).
#[inline(always)]
fn xor(into: &mut aes::Block, from: &[u8]) {
    let a: [u8; BLOCK] = (*into).into();
    let b: &[u8; BLOCK] = from.try_into().expect("a block");
    let mut x = [0u8; BLOCK];
    for i in 0..BLOCK {
        x[i] = a[i] ^ b[i];
    }
    *into = x.into();
}

/// The ranges `ranges` (start, end) of `data` encrypted in place, each its own CBC chain from
/// `iv` in a pattern: `crypt` blocks encrypted then `skip` blocks left clear, repeated from the
/// range's start (`0:0` encrypts every block); a last partial block stays clear (ISO/IEC
/// 23001-7 `cbcs`). The ranges must not overlap.
///
/// With one block encrypted at a time (`1:N` and `0:0`, what `cbcs` streams use) the chains
/// advance side by side, as many at once as the backend encrypts in parallel (8 with AES-NI),
/// the longest started first; the bytes are those of one range after the other.
pub fn cbc_encrypt_ranges(
    cipher: &Aes128Enc,
    iv: &[u8; 16],
    data: &mut [u8],
    ranges: &mut [(usize, usize)],
    crypt: usize,
    skip: usize,
) {
    let (crypt, skip) = if crypt == 0 { (1, 0) } else { (crypt, skip) };
    // Longest first (a range's encrypted blocks grow with its length), so the chains left
    // running alone at the end are short ones; ranges without a whole block have none.
    ranges.sort_unstable_by_key(|&(from, to)| std::cmp::Reverse(to.saturating_sub(from)));
    let live = ranges.partition_point(|&(from, to)| to.saturating_sub(from) >= BLOCK);
    let ranges = &ranges[..live];
    assert!(ranges.iter().all(|&(_, to)| to <= data.len()), "range outside the data");
    if crypt == 1 {
        cipher.encrypt_with_backend(Lanes { iv, data, ranges, stride: (1 + skip) * BLOCK });
    } else {
        // Runs of several blocks (no cbcs stream of libhls has them): one chain at a time.
        cipher.encrypt_with_backend(Runs { iv, data, ranges, crypt, skip });
    }
}

/// Independent CBC chains over ranges of `data`, advanced side by side: each encrypts one
/// block, then moves `stride` bytes on (one block encrypted then clear ones: every pattern
/// `cbcs` streams use).
struct Lanes<'a> {
    iv: &'a [u8; 16],
    data: &'a mut [u8],
    /// Each with at least one whole block.
    ranges: &'a [(usize, usize)],
    stride: usize,
}

/// Most chains advanced at once (AES-NI encrypts 8 blocks in parallel).
const MAX_LANES: usize = 16;

impl BlockSizeUser for Lanes<'_> {
    type BlockSize = U16;
}

impl BlockClosure for Lanes<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let Lanes { iv, data, ranges, stride } = self;
        // The blocks a range's chain encrypts: one every `stride` bytes of its whole blocks.
        let chain_blocks = |(from, to): (usize, usize)| ((to - from) / BLOCK * BLOCK).div_ceil(stride);
        let n = <B as ParBlocksSizeUser>::ParBlocksSize::USIZE.min(MAX_LANES);
        // Lane j: its chain value (the ciphertext of its last block) in `par[j]`, its next
        // block at `at[j]`, `left[j]` blocks to go (0: free; its entry of `par` is encrypted
        // too, one call encrypting them all, and dropped).
        let mut par = aes::cipher::ParBlocks::<B>::default();
        let mut at = [0usize; MAX_LANES];
        let mut left = [0usize; MAX_LANES];
        let mut next = ranges.iter().copied();
        for j in 0..n {
            if let Some(r) = next.next() {
                (at[j], left[j]) = (r.0, chain_blocks(r));
                par[j].copy_from_slice(iv);
            }
        }
        // Until the first of the busy chains ends no lane changes: that many steps run with no
        // bookkeeping; then the ended chains' lanes take the next ranges.
        while let Some(steps) = left[..n].iter().copied().filter(|&l| l > 0).min() {
            for _ in 0..steps {
                for j in 0..n {
                    if left[j] > 0 {
                        xor(&mut par[j], &data[at[j]..at[j] + BLOCK]);
                    }
                }
                backend.proc_par_blocks((&mut par).into());
                for j in 0..n {
                    if left[j] > 0 {
                        data[at[j]..at[j] + BLOCK].copy_from_slice(&par[j]);
                        at[j] += stride;
                    }
                }
            }
            for j in 0..n {
                if left[j] > 0 {
                    left[j] -= steps;
                    if left[j] == 0 {
                        if let Some(r) = next.next() {
                            (at[j], left[j]) = (r.0, chain_blocks(r));
                            par[j].copy_from_slice(iv);
                        }
                    }
                }
            }
        }
    }
}

/// CBC chains over ranges of `data` in a pattern of `crypt` blocks encrypted then `skip`
/// clear, one chain after the other.
struct Runs<'a> {
    iv: &'a [u8; 16],
    data: &'a mut [u8],
    ranges: &'a [(usize, usize)],
    crypt: usize,
    skip: usize,
}

impl BlockSizeUser for Runs<'_> {
    type BlockSize = U16;
}

impl BlockClosure for Runs<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let Runs { iv, data, ranges, crypt, skip } = self;
        for &(from, to) in ranges {
            let mut chain = aes::Block::from(*iv);
            let whole = &mut data[from..from + (to - from) / BLOCK * BLOCK];
            for run in whole.chunks_mut((crypt + skip) * BLOCK) {
                for block in run.chunks_exact_mut(BLOCK).take(crypt) {
                    xor(&mut chain, block);
                    backend.proc_block((&mut chain).into());
                    block.copy_from_slice(&chain);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), first two blocks; the padding block follows.
    #[test]
    fn cbc_matches_the_nist_vectors_and_pads_a_whole_block() {
        let h = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let key: [u8; 16] = h("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let plain = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let out = aes128_cbc_pkcs7(&key, &iv, &plain);
        assert_eq!(out.len(), 48);
        assert_eq!(out[..32], h("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")[..]);
        assert_eq!(aes128_cbc_pkcs7(&key, &iv, &plain[..5]).len(), 16);
    }

    /// One range after the other, block by block, through the `aes` crate's one-block call:
    /// the pattern as `cbcs` defines it, written the simplest way.
    fn one_chain_at_a_time(
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
        ranges: &[(usize, usize)],
        pattern: (usize, usize),
    ) {
        let cipher = aes::Aes128::new(key.into());
        let (crypt, skip) = if pattern.0 == 0 { (1, 0) } else { pattern };
        for &(from, to) in ranges {
            let blocks = (to - from) / BLOCK;
            let mut chain = *iv;
            let mut i = 0;
            while i < blocks {
                for _ in 0..crypt {
                    if i >= blocks {
                        break;
                    }
                    let block = &mut data[from + i * BLOCK..from + (i + 1) * BLOCK];
                    for (b, c) in block.iter_mut().zip(chain.iter()) {
                        *b ^= c;
                    }
                    cipher.encrypt_block(block.into());
                    chain.copy_from_slice(block);
                    i += 1;
                }
                i += skip;
            }
        }
    }

    fn sample_bytes(n: usize) -> Vec<u8> {
        (0..n as u32).map(|i| (i.wrapping_mul(7) + i / 251) as u8).collect()
    }

    /// Subsamples of every length class — empty, shorter than a block, a tail shorter than a
    /// block, exactly a pattern, one block past it, very long beside very short ones, and more
    /// of them than the backend has lanes — give the bytes of one chain after the other.
    #[test]
    fn subsamples_encrypted_side_by_side_are_the_bytes_of_one_after_the_other() {
        let key = [5u8; 16];
        let iv = [6u8; 16];
        let data = sample_bytes(60_000);
        let lens = [
            0usize,
            5,
            16,
            17,
            15,
            160,
            161,
            176,
            1000,
            4096,
            33,
            0,
            2000,
            160 * 9 + 7,
            48,
            12_000,
            64,
            900,
            1,
            31,
            32,
            20_000,
            320,
            16 * 11,
        ];
        let mut all = Vec::new();
        let mut at = 3;
        for len in lens {
            all.push((at, at + len));
            at += len + 11;
        }
        assert!(at <= data.len());
        // All of them; a single one (long, then short); none; fewer than the lanes.
        let sets: Vec<Vec<(usize, usize)>> =
            vec![all.clone(), vec![all[21]], vec![all[3]], vec![], all[..3].to_vec(), vec![all[1], all[0]]];
        for ranges in &sets {
            for pattern in [(1, 9), (0, 0), (2, 3), (1, 0), (5, 5)] {
                let mut fast = data.clone();
                cbc_encrypt_ranges(&cipher(&key), &iv, &mut fast, &mut ranges.clone(), pattern.0, pattern.1);
                let mut reference = data.clone();
                one_chain_at_a_time(&key, &iv, &mut reference, ranges, pattern);
                assert_eq!(fast, reference, "pattern {pattern:?}, {} ranges", ranges.len());
                let whole_blocks = ranges.iter().any(|(f, t)| t - f >= BLOCK);
                assert_eq!(fast != data, whole_blocks, "something encrypted iff a range has a whole block");
            }
        }
    }

    /// AES-128 of whole resources of every length class gives the bytes of the `cbc` crate's
    /// encryptor (PKCS7), in place, from a borrowed slice, and from pieces.
    #[test]
    fn whole_resource_cbc_is_the_bytes_of_the_cbc_crate() {
        use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
        let key = *b"0123456789abcdef";
        let iv = [7u8; 16];
        let data = sample_bytes(100_003);
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 4096, 100_003] {
            let reference = cbc::Encryptor::<aes::Aes128>::new((&key).into(), (&iv).into())
                .encrypt_padded_vec_mut::<Pkcs7>(&data[..len]);
            assert_eq!(aes128_cbc_pkcs7(&key, &iv, &data[..len]), reference, "{len} bytes");
            assert_eq!(aes128_cbc_pkcs7_in_place(&key, &iv, data[..len].to_vec()), reference, "{len} bytes in place");
            // Cut into pieces of every size around a block's (blocks split across pieces,
            // empty pieces, pieces shorter than a block).
            for cut in [1usize, 7, 16, 17, 33, 1000] {
                let mut pieces: Vec<&[u8]> = data[..len].chunks(cut).collect();
                pieces.insert(pieces.len() / 2, &[]);
                assert_eq!(aes128_cbc_pkcs7_pieces(&key, &iv, &pieces), reference, "{len} bytes in pieces of {cut}");
            }
        }
    }
}
