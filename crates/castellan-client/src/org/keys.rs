//! Company and group key pairs, key grants (HPKE, with the info strings of
//! docs/organisation.md), and the company key fingerprint.
//!
//! A grant is `enc(32) || ciphertext` of `HPKE-seal(recipient, info, aad = "", signing_seed(32)
//! || encryption_sk(32))`. The info binds the grant to the company (or group) and the holder, so
//! a server cannot move a grant to another company, group or holder. Whoever opens a grant checks
//! that the public halves of the opened keys equal the keys they expect (pinned or from a
//! verified roster): a grant that opens to other keys is refused.

use castellan_crypto::{self as crypto, HpkePrivateKey, HpkePublicKey, SigningKey, VerifyingKey};
use castellan_types::{Bytes, CompanyKeysDto, GroupKeysDto};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{ClientError, ClientResult};

pub const COMPANY_GRANT_INFO: &[u8] = b"castellan/v1/company-key-grant";
pub const GROUP_GRANT_INFO: &[u8] = b"castellan/v1/group-key-grant";
pub const GROUP_ADMIN_GRANT_INFO: &[u8] = b"castellan/v1/group-admin-grant";
/// Key type of the company root fingerprint.
pub const FINGERPRINT_TYPE: &str = "company-root";

/// An Ed25519 + X25519 key pair: a company's root keys or a group's keys. Never `Clone`, never
/// printed, zeroized on drop (by its parts).
pub struct KeyPair {
    pub signing: SigningKey,
    pub encryption: HpkePrivateKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair(<redacted>)")
    }
}

/// The public halves of a key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKeys {
    pub signing: [u8; 32],
    pub encryption: [u8; 32],
}

impl PublicKeys {
    pub fn from_slices(signing: &[u8], encryption: &[u8]) -> ClientResult<Self> {
        let s: [u8; 32] = signing
            .try_into()
            .map_err(|_| ClientError::integrity("a signing public key is not 32 bytes"))?;
        let e: [u8; 32] = encryption
            .try_into()
            .map_err(|_| ClientError::integrity("an encryption public key is not 32 bytes"))?;
        // Both must be valid keys (no weak or small-order points).
        VerifyingKey::from_bytes(&s)
            .map_err(|_| ClientError::integrity("an invalid signing public key"))?;
        HpkePublicKey::from_bytes(&e)
            .map_err(|_| ClientError::integrity("an invalid encryption public key"))?;
        Ok(PublicKeys {
            signing: s,
            encryption: e,
        })
    }
    pub fn from_company(k: &CompanyKeysDto) -> ClientResult<Self> {
        Self::from_slices(
            k.signing_public_key.as_slice(),
            k.encryption_public_key.as_slice(),
        )
    }
    pub fn from_group(k: &GroupKeysDto) -> ClientResult<Self> {
        Self::from_slices(
            k.signing_public_key.as_slice(),
            k.encryption_public_key.as_slice(),
        )
    }
    pub fn company_dto(&self) -> CompanyKeysDto {
        CompanyKeysDto {
            signing_public_key: Bytes(self.signing.to_vec()),
            encryption_public_key: Bytes(self.encryption.to_vec()),
        }
    }
    pub fn group_dto(&self) -> GroupKeysDto {
        GroupKeysDto {
            signing_public_key: Bytes(self.signing.to_vec()),
            encryption_public_key: Bytes(self.encryption.to_vec()),
        }
    }
    pub fn verifying_key(&self) -> ClientResult<VerifyingKey> {
        VerifyingKey::from_bytes(&self.signing)
            .map_err(|_| ClientError::integrity("an invalid signing public key"))
    }
    pub fn hpke_key(&self) -> ClientResult<HpkePublicKey> {
        HpkePublicKey::from_bytes(&self.encryption)
            .map_err(|_| ClientError::integrity("an invalid encryption public key"))
    }
    /// Constant-time equality of both halves.
    pub fn ct_eq(&self, other: &PublicKeys) -> bool {
        let a = crypto::ct_eq(&self.signing, &other.signing);
        let b = crypto::ct_eq(&self.encryption, &other.encryption);
        a & b
    }
    /// `fingerprint("company-root", signing || encryption)`.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut raw = [0u8; 64];
        raw[..32].copy_from_slice(&self.signing);
        raw[32..].copy_from_slice(&self.encryption);
        crypto::fingerprint(FINGERPRINT_TYPE, &raw)
    }
}

impl KeyPair {
    pub fn generate() -> Self {
        KeyPair {
            signing: SigningKey::generate(),
            encryption: HpkePrivateKey::generate(),
        }
    }

    pub fn public(&self) -> PublicKeys {
        PublicKeys {
            signing: self.signing.verifying_key().to_bytes(),
            encryption: self.encryption.public_key().to_bytes(),
        }
    }

    fn plaintext(&self) -> Zeroizing<[u8; 64]> {
        let mut p = Zeroizing::new([0u8; 64]);
        p[..32].copy_from_slice(self.signing.seed());
        p[32..].copy_from_slice(&self.encryption.to_bytes()[..]);
        p
    }

    fn from_plaintext(p: &[u8]) -> ClientResult<Self> {
        if p.len() != 64 {
            return Err(ClientError::integrity("a key grant has the wrong length"));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&p[..32]);
        let mut enc = Zeroizing::new([0u8; 32]);
        enc.copy_from_slice(&p[32..]);
        Ok(KeyPair {
            signing: SigningKey::from_seed(*seed),
            encryption: HpkePrivateKey::from_bytes(*enc),
        })
    }

    fn seal(&self, recipient: &[u8], info: &[u8]) -> ClientResult<Vec<u8>> {
        let pk = HpkePublicKey::from_bytes(recipient)
            .map_err(|_| ClientError::integrity("a recipient's encryption key is invalid"))?;
        let (enc, ct) = crypto::hpke_seal(&pk, info, b"", &self.plaintext()[..])?;
        if enc.len() != 32 {
            return Err(ClientError::Protocol(
                "unexpected HPKE encapsulation".into(),
            ));
        }
        let mut out = enc;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn open(
        me: &HpkePrivateKey,
        sealed: &[u8],
        info: &[u8],
        expected: &PublicKeys,
        what: &str,
    ) -> ClientResult<Self> {
        if sealed.len() < 32 {
            return Err(ClientError::integrity(format!("the {what} is malformed")));
        }
        let pt = crypto::hpke_open(me, &sealed[..32], info, b"", &sealed[32..])
            .map_err(|_| ClientError::integrity(format!("the {what} does not open")))?;
        let kp = Self::from_plaintext(&pt)?;
        if !kp.public().ct_eq(expected) {
            return Err(ClientError::integrity(format!(
                "the {what} opens to other keys than the expected ones"
            )));
        }
        Ok(kp)
    }

    /// Company keys sealed to a holder (admin, partner admin, assigned technician).
    pub fn seal_company_grant(
        &self,
        holder_encryption_key: &[u8],
        company_id: Uuid,
        holder_id: Uuid,
    ) -> ClientResult<Vec<u8>> {
        self.seal(
            holder_encryption_key,
            &info(COMPANY_GRANT_INFO, company_id, holder_id),
        )
    }

    /// Opens a company key grant sealed to me; refuses keys other than `expected` (the pin).
    pub fn open_company_grant(
        me: &HpkePrivateKey,
        sealed: &[u8],
        company_id: Uuid,
        my_id: Uuid,
        expected: &PublicKeys,
    ) -> ClientResult<Self> {
        Self::open(
            me,
            sealed,
            &info(COMPANY_GRANT_INFO, company_id, my_id),
            expected,
            "company key grant",
        )
    }

    /// Group keys sealed to a member.
    pub fn seal_group_grant(
        &self,
        member_encryption_key: &[u8],
        group_id: Uuid,
        member_id: Uuid,
    ) -> ClientResult<Vec<u8>> {
        self.seal(
            member_encryption_key,
            &info(GROUP_GRANT_INFO, group_id, member_id),
        )
    }

    pub fn open_group_grant(
        me: &HpkePrivateKey,
        sealed: &[u8],
        group_id: Uuid,
        my_id: Uuid,
        expected: &PublicKeys,
    ) -> ClientResult<Self> {
        Self::open(
            me,
            sealed,
            &info(GROUP_GRANT_INFO, group_id, my_id),
            expected,
            "group key grant",
        )
    }

    /// Group keys sealed to the company encryption key (the admins' copy).
    pub fn seal_group_admin_grant(
        &self,
        company_encryption_key: &[u8],
        group_id: Uuid,
        company_id: Uuid,
    ) -> ClientResult<Vec<u8>> {
        self.seal(
            company_encryption_key,
            &info(GROUP_ADMIN_GRANT_INFO, group_id, company_id),
        )
    }

    pub fn open_group_admin_grant(
        company: &KeyPair,
        sealed: &[u8],
        group_id: Uuid,
        company_id: Uuid,
        expected: &PublicKeys,
    ) -> ClientResult<Self> {
        Self::open(
            &company.encryption,
            sealed,
            &info(GROUP_ADMIN_GRANT_INFO, group_id, company_id),
            expected,
            "group admin grant",
        )
    }
}

fn info(prefix: &[u8], a: Uuid, b: Uuid) -> Vec<u8> {
    let mut v = Vec::with_capacity(prefix.len() + 32);
    v.extend_from_slice(prefix);
    v.extend_from_slice(a.as_bytes());
    v.extend_from_slice(b.as_bytes());
    v
}

/// The fingerprint as people compare it: the first 16 bytes as 8 groups of 4 hex digits.
pub fn fingerprint_display(fp: &[u8; 32]) -> String {
    fp[..16]
        .chunks(2)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fingerprint as it appears in invitation links (base64url, no padding).
pub fn fingerprint_b64(fp: &[u8; 32]) -> String {
    Bytes(fp.to_vec()).to_b64()
}

/// The fingerprint of a member's account keys (signing || encryption), shown to the admin who
/// confirms them.
pub fn member_fingerprint(signing: &[u8], encryption: &[u8]) -> [u8; 32] {
    let mut raw = Vec::with_capacity(signing.len() + encryption.len());
    raw.extend_from_slice(signing);
    raw.extend_from_slice(encryption);
    crypto::fingerprint("member-identity", &raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_grant_round_trip_and_binding() {
        let company = KeyPair::generate();
        let holder = HpkePrivateKey::generate();
        let (cid, uid) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = company
            .seal_company_grant(&holder.public_key().to_bytes(), cid, uid)
            .unwrap();
        let pin = company.public();
        let opened = KeyPair::open_company_grant(&holder, &sealed, cid, uid, &pin).unwrap();
        assert!(opened.public().ct_eq(&pin));
        // Bound to the company and the holder.
        assert!(KeyPair::open_company_grant(&holder, &sealed, Uuid::new_v4(), uid, &pin).is_err());
        assert!(KeyPair::open_company_grant(&holder, &sealed, cid, Uuid::new_v4(), &pin).is_err());
        // A grant of other keys than the pinned ones is refused.
        let other = KeyPair::generate();
        let sealed2 = other
            .seal_company_grant(&holder.public_key().to_bytes(), cid, uid)
            .unwrap();
        let err = KeyPair::open_company_grant(&holder, &sealed2, cid, uid, &pin).unwrap_err();
        assert!(matches!(err, ClientError::Integrity(_)), "{err:?}");
        // A group grant does not open as a company grant.
        let g = company
            .seal_group_grant(&holder.public_key().to_bytes(), cid, uid)
            .unwrap();
        assert!(KeyPair::open_company_grant(&holder, &g, cid, uid, &pin).is_err());
    }

    #[test]
    fn group_admin_grant_round_trip() {
        let company = KeyPair::generate();
        let group = KeyPair::generate();
        let (gid, cid) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = group
            .seal_group_admin_grant(&company.public().encryption, gid, cid)
            .unwrap();
        let opened =
            KeyPair::open_group_admin_grant(&company, &sealed, gid, cid, &group.public()).unwrap();
        assert!(opened.public().ct_eq(&group.public()));
        assert!(
            KeyPair::open_group_admin_grant(&company, &sealed, cid, gid, &group.public()).is_err()
        );
    }

    #[test]
    fn fingerprint_display_has_8_groups() {
        let k = KeyPair::generate().public();
        let fp = k.fingerprint();
        let d = fingerprint_display(&fp);
        assert_eq!(d.split(' ').count(), 8);
        assert!(d.split(' ').all(|g| g.len() == 4));
        assert_eq!(
            Bytes::from_b64(&fingerprint_b64(&fp)).unwrap().0,
            fp.to_vec()
        );
        assert_ne!(fp, KeyPair::generate().public().fingerprint());
    }

    #[test]
    fn debug_is_redacted() {
        let k = KeyPair::generate();
        assert_eq!(format!("{k:?}"), "KeyPair(<redacted>)");
    }
}
