//! Thin AES-256-GCM layer (the only AEAD used by the envelope format).

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};

/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// Encrypts `buf` in place and returns the tag.
pub(crate) fn encrypt_in_place(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    let cipher = Aes256Gcm::new(&GenericArray::from(*key));
    let tag = cipher
        .encrypt_in_place_detached(&GenericArray::from(*nonce), aad, buf)
        .map_err(|_| CryptoError::Malformed("plaintext too long for AES-GCM"))?;
    Ok(tag.into())
}

/// Verifies the tag and decrypts `buf` in place; `Integrity` on failure.
pub(crate) fn decrypt_in_place(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<()> {
    let cipher = Aes256Gcm::new(&GenericArray::from(*key));
    cipher
        .decrypt_in_place_detached(
            &GenericArray::from(*nonce),
            aad,
            buf,
            &GenericArray::from(*tag),
        )
        .map_err(|_| CryptoError::Integrity)
}

/// Raw AES-256-GCM encryption, returns `ciphertext || tag`. Test-vector support only.
pub fn aes256gcm_seal(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    let tag = encrypt_in_place(key, nonce, aad, &mut buf)?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// Raw AES-256-GCM decryption of `ciphertext || tag`. Test-vector support only.
pub fn aes256gcm_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let split = ciphertext_and_tag
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::Malformed(
            "ciphertext shorter than the AES-GCM tag",
        ))?;
    let (ct, tag) = ciphertext_and_tag.split_at(split);
    let tag: [u8; TAG_LEN] = tag
        .try_into()
        .map_err(|_| CryptoError::Malformed("bad AES-GCM tag length"))?;
    let mut buf = Zeroizing::new(ct.to_vec());
    decrypt_in_place(key, nonce, aad, &mut buf, &tag)?;
    Ok(buf)
}
