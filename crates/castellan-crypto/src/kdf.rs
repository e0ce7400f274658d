//! Key derivation: HKDF-SHA256, Argon2id, the local unlock key and the account unlock key.

use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};
use crate::keys::SymmetricKey;
use crate::opaque::ExportKey;
use crate::secret_key::SecretKey;

/// Largest HKDF-SHA256 output (255 blocks of 32 bytes).
pub const HKDF_SHA256_MAX_LEN: usize = 255 * 32;

const LUK_INFO: &[u8] = b"castellan/v1/luk";
const AUK_INFO: &[u8] = b"castellan/v1/auk";

/// HKDF-SHA256 (RFC 5869) extract-and-expand into `out`. An empty `salt` is the RFC's
/// default (a string of zeros).
///
/// # Panics
///
/// If `out.len() > 255 * 32` ([`HKDF_SHA256_MAX_LEN`]). The output length is always chosen by
/// the programmer, never by input data; use [`try_hkdf_sha256`] for a fallible variant.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8]) {
    assert!(
        out.len() <= HKDF_SHA256_MAX_LEN,
        "HKDF-SHA256 output is limited to 8160 bytes"
    );
    // Cannot fail: the length was checked above.
    let _ = try_hkdf_sha256(ikm, salt, info, out);
}

/// Fallible [`hkdf_sha256`]: `InvalidKey` if `out` is longer than 8160 bytes.
pub fn try_hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8]) -> Result<()> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| CryptoError::InvalidKey("HKDF-SHA256 output longer than 8160 bytes"))
}

/// Argon2id cost parameters (memory in KiB, iterations, lanes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KsfParams {
    /// Memory cost in KiB.
    pub m_kib: u32,
    /// Number of passes.
    pub t: u32,
    /// Degree of parallelism (lanes).
    pub p: u32,
}

impl KsfParams {
    /// The compiled-in minimum: 64 MiB, 3 passes, 4 lanes, identical to
    /// `@serenity-kit/opaque`'s "memoryConstrained" Argon2id parameters.
    pub const FLOOR: KsfParams = KsfParams {
        m_kib: 65536,
        t: 3,
        p: 4,
    };

    /// Sanity ceiling against a malicious server asking for absurd parameters
    /// (4 GiB, 64 passes, 64 lanes).
    pub const CEILING: KsfParams = KsfParams {
        m_kib: 4 * 1024 * 1024,
        t: 64,
        p: 64,
    };

    /// `WeakKdf` if any parameter is below [`KsfParams::FLOOR`].
    pub fn check_floor(&self) -> Result<()> {
        if self.at_least(&Self::FLOOR) {
            Ok(())
        } else {
            Err(CryptoError::WeakKdf(format!(
                "Argon2id m={} KiB, t={}, p={} is below the minimum m={} KiB, t={}, p={}",
                self.m_kib,
                self.t,
                self.p,
                Self::FLOOR.m_kib,
                Self::FLOOR.t,
                Self::FLOOR.p
            )))
        }
    }

    /// `InvalidKey` if any parameter is above [`KsfParams::CEILING`].
    pub fn check_ceiling(&self) -> Result<()> {
        let c = Self::CEILING;
        if self.m_kib <= c.m_kib && self.t <= c.t && self.p <= c.p {
            Ok(())
        } else {
            Err(CryptoError::InvalidKey(
                "Argon2id parameters exceed the supported maximum",
            ))
        }
    }

    /// True if every parameter is at least as strong as `pinned`'s.
    pub fn at_least(&self, pinned: &KsfParams) -> bool {
        self.m_kib >= pinned.m_kib && self.t >= pinned.t && self.p >= pinned.p
    }

    /// The `argon2` crate's parameter object (validated; no output length).
    pub(crate) fn to_argon2_params(self, out_len: Option<usize>) -> Result<argon2::Params> {
        self.builder(out_len)?.build().map_err(argon2_error)
    }

    fn builder(self, out_len: Option<usize>) -> Result<ParamsBuilder> {
        // argon2's own check computes `8 * p`, which would overflow for huge `p`.
        if self.p == 0 || self.p > argon2::Params::MAX_P_COST {
            return Err(CryptoError::InvalidKey("Argon2id parallelism out of range"));
        }
        let mut b = ParamsBuilder::new();
        b.m_cost(self.m_kib).t_cost(self.t).p_cost(self.p);
        if let Some(len) = out_len {
            b.output_len(len);
        }
        Ok(b)
    }
}

fn argon2_error(e: argon2::Error) -> CryptoError {
    CryptoError::InvalidKey(match e {
        argon2::Error::MemoryTooLittle => "Argon2id memory cost too small",
        argon2::Error::MemoryTooMuch => "Argon2id memory cost too large",
        argon2::Error::TimeTooSmall => "Argon2id time cost too small",
        argon2::Error::ThreadsTooFew | argon2::Error::ThreadsTooMany => {
            "Argon2id parallelism out of range"
        }
        argon2::Error::OutputTooShort => "Argon2id output too short (min 4 bytes)",
        argon2::Error::OutputTooLong => "Argon2id output too long",
        argon2::Error::SaltTooShort => "Argon2id salt too short (min 8 bytes)",
        argon2::Error::SaltTooLong => "Argon2id salt too long",
        argon2::Error::PwdTooLong => "Argon2id password too long",
        argon2::Error::SecretTooLong => "Argon2id secret too long",
        argon2::Error::AdTooLong => "Argon2id associated data too long",
        _ => "invalid Argon2id parameters",
    })
}

/// Raw Argon2id v0x13 of `password` and `salt` into `out`.
///
/// Does not enforce [`KsfParams::FLOOR`] (so that standard test vectors can run); callers
/// deriving real keys use [`local_unlock_key`] or the OPAQUE functions, which do.
pub fn argon2id(password: &[u8], salt: &[u8], params: KsfParams, out: &mut [u8]) -> Result<()> {
    argon2id_with_secret_and_ad(password, salt, &[], &[], params, out)
}

/// Argon2id with the optional secret (pepper) and associated data inputs; used for the
/// RFC 9106 test vector, which exercises them.
pub fn argon2id_with_secret_and_ad(
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    ad: &[u8],
    params: KsfParams,
    out: &mut [u8],
) -> Result<()> {
    let mut b = params.builder(Some(out.len()))?;
    if !ad.is_empty() {
        b.data(AssociatedData::new(ad).map_err(argon2_error)?);
    }
    let p = b.build().map_err(argon2_error)?;
    let ctx = if secret.is_empty() {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
    } else {
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, p)
            .map_err(argon2_error)?
    };
    ctx.hash_password_into(password, salt, out)
        .map_err(argon2_error)
}

/// NFKC-normalizes a password into a zeroizing buffer sized up front (no reallocation copies).
pub(crate) fn nfkc_password(password: &str) -> Zeroizing<String> {
    let len: usize = password.nfkc().map(char::len_utf8).sum();
    let mut s = Zeroizing::new(String::with_capacity(len));
    s.extend(password.nfkc());
    s
}

/// Local unlock key for offline unlock on one device:
/// `HKDF-SHA256(ikm = Argon2id(NFKC(password), device_salt, params) || secret_key, salt = "",
/// info = "castellan/v1/luk" || device_id)`, 32 bytes. Argon2id output is 32 bytes.
///
/// Refuses parameters below [`KsfParams::FLOOR`] (`WeakKdf`) or above [`KsfParams::CEILING`].
pub fn local_unlock_key(
    password: &str,
    secret_key: &SecretKey,
    device_salt: &[u8; 16],
    device_id: Uuid,
    params: KsfParams,
) -> Result<SymmetricKey> {
    params.check_floor()?;
    params.check_ceiling()?;
    let pw = nfkc_password(password);
    let mut ikm = Zeroizing::new([0u8; 48]);
    argon2id(pw.as_bytes(), device_salt, params, &mut ikm[..32])?;
    ikm[32..].copy_from_slice(secret_key.expose_secret());
    let mut info = [0u8; LUK_INFO.len() + 16];
    info[..LUK_INFO.len()].copy_from_slice(LUK_INFO);
    info[LUK_INFO.len()..].copy_from_slice(device_id.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf_sha256(&ikm[..], &[], &info, &mut out[..]);
    Ok(SymmetricKey::from_bytes(*out))
}

/// Account unlock key from the OPAQUE export key:
/// `HKDF-SHA256(ikm = export_key, salt = "", info = "castellan/v1/auk" || user_id)`, 32 bytes.
pub fn account_unlock_key(export_key: &ExportKey, user_id: Uuid) -> SymmetricKey {
    let mut info = [0u8; AUK_INFO.len() + 16];
    info[..AUK_INFO.len()].copy_from_slice(AUK_INFO);
    info[AUK_INFO.len()..].copy_from_slice(user_id.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf_sha256(export_key.expose_secret(), &[], &info, &mut out[..]);
    SymmetricKey::from_bytes(*out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_checks() {
        assert!(KsfParams::FLOOR.check_floor().is_ok());
        for weak in [
            KsfParams {
                m_kib: 65535,
                t: 3,
                p: 4,
            },
            KsfParams {
                m_kib: 65536,
                t: 2,
                p: 4,
            },
            KsfParams {
                m_kib: 65536,
                t: 3,
                p: 1,
            },
        ] {
            assert!(matches!(weak.check_floor(), Err(CryptoError::WeakKdf(_))));
        }
        let strong = KsfParams {
            m_kib: 262144,
            t: 4,
            p: 4,
        };
        assert!(strong.at_least(&KsfParams::FLOOR));
        assert!(!KsfParams::FLOOR.at_least(&strong));
        assert!(KsfParams {
            m_kib: u32::MAX,
            t: 3,
            p: 4
        }
        .check_ceiling()
        .is_err());
    }

    #[test]
    fn argon2_rejects_bad_params_without_panicking() {
        let mut out = [0u8; 32];
        for p in [
            KsfParams {
                m_kib: 8,
                t: 1,
                p: u32::MAX,
            },
            KsfParams {
                m_kib: 8,
                t: 1,
                p: 0,
            },
            KsfParams {
                m_kib: 1,
                t: 1,
                p: 1,
            },
            KsfParams {
                m_kib: 64,
                t: 0,
                p: 1,
            },
        ] {
            assert!(argon2id(b"pw", b"saltsalt", p, &mut out).is_err());
        }
        assert!(argon2id(
            b"pw",
            b"short",
            KsfParams {
                m_kib: 64,
                t: 1,
                p: 1
            },
            &mut out
        )
        .is_err());
        assert!(argon2id(
            b"pw",
            b"saltsalt",
            KsfParams {
                m_kib: 64,
                t: 1,
                p: 1
            },
            &mut out[..3]
        )
        .is_err());
    }

    #[test]
    fn local_unlock_key_refuses_weak_params() {
        let sk = SecretKey::from_bytes([1u8; 16]);
        let r = local_unlock_key(
            "pw",
            &sk,
            &[0u8; 16],
            Uuid::nil(),
            KsfParams {
                m_kib: 1024,
                t: 1,
                p: 1,
            },
        );
        assert!(matches!(r, Err(CryptoError::WeakKdf(_))));
    }

    #[test]
    fn nfkc_normalizes() {
        // "ﬁ" (U+FB01) -> "fi"; "Å" as A + combining ring -> U+00C5
        assert_eq!(&*nfkc_password("\u{FB01}"), "fi");
        assert_eq!(&*nfkc_password("A\u{030A}"), "\u{00C5}");
    }

    #[test]
    fn try_hkdf_rejects_too_long() {
        let mut big = vec![0u8; HKDF_SHA256_MAX_LEN + 1];
        assert!(try_hkdf_sha256(b"k", b"", b"", &mut big).is_err());
    }
}
