//! Encryption of served bytes with the caller's keys: whole resources AES-128-CBC with PKCS7
//! padding (RFC 8216 `METHOD=AES-128`). RustCrypto's `aes` uses the CPU's AES instructions
//! when it has them.

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;

/// `data` encrypted AES-128-CBC with PKCS7 padding (1 to 16 bytes added: a whole number of
/// blocks, always longer than `data`).
pub fn aes128_cbc_pkcs7(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(data.len() + 16);
    buf.extend_from_slice(data);
    aes128_cbc_pkcs7_in_place(key, iv, buf)
}

/// [`aes128_cbc_pkcs7`] of `buf`, encrypted where it is (the padding appended; no copy when
/// `buf` has 16 bytes of spare capacity).
pub fn aes128_cbc_pkcs7_in_place(key: &[u8; 16], iv: &[u8; 16], mut buf: Vec<u8>) -> Vec<u8> {
    let len = buf.len();
    buf.resize(len + 16 - len % 16, 0);
    let n = Aes128CbcEnc::new(key.into(), iv.into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
        .map(|c| c.len())
        .unwrap_or(0);
    buf.truncate(n);
    buf
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
}
