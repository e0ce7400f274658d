//! Small internal helpers shared by several modules.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// Appends `LP(x) = u32_be(len(x)) || x`.
///
/// Lengths above `u32::MAX` cannot occur for the inputs this crate encodes (identifiers,
/// labels, passwords); they would saturate rather than wrap.
pub(crate) fn put_lp(out: &mut Vec<u8>, x: &[u8]) {
    let len = u32::try_from(x.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(x);
}

/// HMAC-SHA256 with a 32-byte key over the concatenation of `parts`.
///
/// The key is zero-padded to the SHA-256 block size, which is exactly what HMAC does with
/// short keys, so this equals `HMAC-SHA256(key, parts...)`; doing it by hand keeps the
/// constructor infallible.
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
    for (dst, src) in block.iter_mut().zip(key.iter()) {
        *dst = *src;
    }
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case2_style_short_key() {
        // Compare the padded-key construction with the hmac crate's own slice constructor.
        let key = [0x42u8; 32];
        let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        reference.update(b"hello world");
        let expected: [u8; 32] = reference.finalize().into_bytes().into();
        assert_eq!(hmac_sha256(&key, &[b"hello ", b"world"]), expected);
    }

    #[test]
    fn lp_encoding() {
        let mut v = Vec::new();
        put_lp(&mut v, b"abc");
        assert_eq!(v, [0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
