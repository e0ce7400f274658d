//! HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM.

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, HpkeError, Kem as _, OpModeR, OpModeS, Serializable};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CryptoError, Result};

type Kem = X25519HkdfSha256;

/// Length of the encapsulated key (`enc`).
pub const HPKE_ENC_LEN: usize = 32;

/// `hpke` 0.13 uses `rand_core` 0.9; this adapter feeds it from the OS CSPRNG.
struct OsRng09;

impl hpke::rand_core::RngCore for OsRng09 {
    fn next_u32(&mut self) -> u32 {
        rand::rngs::OsRng.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        rand::rngs::OsRng.next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand::rngs::OsRng.fill_bytes(dst)
    }
}
impl hpke::rand_core::CryptoRng for OsRng09 {}

fn map_err(e: HpkeError) -> CryptoError {
    match e {
        HpkeError::OpenError | HpkeError::DecapError => CryptoError::Integrity,
        HpkeError::EncapError => {
            CryptoError::InvalidKey("HPKE encapsulation failed (bad recipient key)")
        }
        HpkeError::IncorrectInputLength(_, _) => {
            CryptoError::Malformed("bad HPKE encapsulated key length")
        }
        _ => CryptoError::InvalidKey("HPKE operation failed"),
    }
}

/// An X25519 HPKE private key (secret).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct HpkePrivateKey {
    bytes: [u8; 32],
}

impl HpkePrivateKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Wraps 32 raw bytes (any 32 bytes are a valid X25519 scalar after clamping).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self { bytes: b }
    }

    /// The raw bytes.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.bytes)
    }

    /// The public key.
    pub fn public_key(&self) -> HpkePublicKey {
        let sk = x25519_dalek::StaticSecret::from(self.bytes);
        HpkePublicKey {
            bytes: x25519_dalek::PublicKey::from(&sk).to_bytes(),
        }
    }

    fn to_hpke(&self) -> Result<<Kem as hpke::Kem>::PrivateKey> {
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.bytes).map_err(map_err)
    }
}

impl std::fmt::Debug for HpkePrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HpkePrivateKey(<redacted>)")
    }
}

/// An X25519 HPKE public key; never a small-order point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HpkePublicKey {
    bytes: [u8; 32],
}

impl HpkePublicKey {
    /// Parses 32 bytes; rejects small-order points (whose shared secret would be all-zero).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bytes: [u8; 32] = b
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("an X25519 public key is 32 bytes"))?;
        // A clamped scalar is a multiple of the cofactor 8, so its product with any point of
        // small order (on the curve or its twist) is the all-zero u-coordinate, and only those.
        let probe = x25519_dalek::StaticSecret::from([0x5Au8; 32]);
        let shared = probe.diffie_hellman(&x25519_dalek::PublicKey::from(bytes));
        if !shared.was_contributory() {
            return Err(CryptoError::InvalidKey("small-order X25519 public key"));
        }
        Ok(Self { bytes })
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.bytes
    }

    fn to_hpke(self) -> Result<<Kem as hpke::Kem>::PublicKey> {
        <Kem as hpke::Kem>::PublicKey::from_bytes(&self.bytes).map_err(map_err)
    }
}

/// Single-shot HPKE seal to `recipient`. Returns `(enc, ciphertext)`.
pub fn hpke_seal(
    recipient: &HpkePublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let pk = recipient.to_hpke()?;
    let (enc, ct) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        &mut OsRng09,
    )
    .map_err(map_err)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// Single-shot HPKE open. `Integrity` if the ciphertext, `enc`, `info` or `aad` do not match.
pub fn hpke_open(
    recipient: &HpkePrivateKey,
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if enc.len() != HPKE_ENC_LEN {
        return Err(CryptoError::Malformed("bad HPKE encapsulated key length"));
    }
    let sk = recipient.to_hpke()?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(map_err)?;
    hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(map_err)
}

/// RFC 9180 `DeriveKeyPair` for this KEM (test-vector support).
#[doc(hidden)]
pub fn hpke_derive_keypair(ikm: &[u8]) -> (HpkePrivateKey, HpkePublicKey) {
    let (sk, pk) = Kem::derive_keypair(ikm);
    let mut skb = [0u8; 32];
    skb.copy_from_slice(&sk.to_bytes());
    let mut pkb = [0u8; 32];
    pkb.copy_from_slice(&pk.to_bytes());
    let out = (
        HpkePrivateKey::from_bytes(skb),
        HpkePublicKey { bytes: pkb },
    );
    skb.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let sk = HpkePrivateKey::generate();
        let pk = sk.public_key();
        let (enc, ct) = hpke_seal(&pk, b"info", b"aad", b"hello").unwrap();
        assert_eq!(
            &hpke_open(&sk, &enc, b"info", b"aad", &ct).unwrap()[..],
            b"hello"
        );
        assert_eq!(
            hpke_open(&sk, &enc, b"inf0", b"aad", &ct).unwrap_err(),
            CryptoError::Integrity
        );
        assert_eq!(
            hpke_open(&sk, &enc, b"info", b"aaD", &ct).unwrap_err(),
            CryptoError::Integrity
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            hpke_open(&sk, &enc, b"info", b"aad", &bad).unwrap_err(),
            CryptoError::Integrity
        );
        assert!(hpke_open(&sk, &enc[..31], b"info", b"aad", &ct).is_err());
        let other = HpkePrivateKey::generate();
        assert_eq!(
            hpke_open(&other, &enc, b"info", b"aad", &ct).unwrap_err(),
            CryptoError::Integrity
        );
        assert_eq!(HpkePublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        assert_eq!(format!("{sk:?}"), "HpkePrivateKey(<redacted>)");
    }

    #[test]
    fn small_order_points_rejected() {
        // u = 0, u = 1 and the order-8 point from RFC 7748 / libsodium's blacklist.
        let bad: [[u8; 32]; 3] = [
            [0u8; 32],
            {
                let mut b = [0u8; 32];
                b[0] = 1;
                b
            },
            hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
                .unwrap()
                .try_into()
                .unwrap(),
        ];
        for b in bad {
            assert!(HpkePublicKey::from_bytes(&b).is_err());
        }
        // an all-zero enc is rejected when opening too
        let sk = HpkePrivateKey::generate();
        assert!(hpke_open(&sk, &[0u8; 32], b"", b"", &[0u8; 32]).is_err());
    }
}
