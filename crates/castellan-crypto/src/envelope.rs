//! SymEnvelope v1 (magic `"CAE1"`): committing, context-bound symmetric encryption.
//!
//! Byte layout (all offsets in bytes):
//!
//! ```text
//!  0..4    magic  "CAE1"
//!  4       suite  0x01
//!  5       obj_type
//!  6..22   key_id (UUID bytes of the key that sealed it)
//! 22..46   salt   (24 random bytes)
//! 46..78   commit = HMAC-SHA256(K_cmt, "castellan/v1/commit" || bytes[0..46] || SHA-256(ctx_bytes))
//! 78..     AES-256-GCM(K_enc, nonce = 0^12, aad = bytes[0..78] || ctx_bytes, padded plaintext) || tag
//! ```
//!
//! `K_enc || K_cmt = HKDF-SHA256(ikm = key, salt = salt, info = "castellan/v1/sym" || suite || obj_type, L = 64)`.
//! Because every message has a fresh random salt, `K_enc` is single-use and the all-zero nonce is safe.
//! The padded plaintext is `u32_be(len) || data || 0*` up to a multiple of 64 bytes.
//!
//! `ctx_bytes = "castellan/v1/ctx/" || obj_type || LP(field_1) || LP(field_2) ...` where
//! `LP(x) = u32_be(len(x)) || x`; UUIDs are 16 raw bytes, integers big-endian, strings UTF-8.

use rand::RngCore;
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::aead::{self, TAG_LEN};
use crate::error::{CryptoError, Result};
use crate::fingerprint::{ct_eq, sha256};
use crate::kdf::hkdf_sha256;
use crate::keys::SymmetricKey;
use crate::util::{hmac_sha256, put_lp};

/// The only suite byte this version writes and accepts.
pub const SUITE_V1: u8 = 0x01;

/// Envelope magic.
pub const ENVELOPE_MAGIC: [u8; 4] = *b"CAE1";

/// Length of the envelope header (magic, suite, obj_type, key_id, salt, commitment).
pub const ENVELOPE_HEADER_LEN: usize = 78;

/// Length of the salt in the header.
pub const ENVELOPE_SALT_LEN: usize = 24;

/// Plaintexts are padded to a multiple of this many bytes (including the 4-byte length prefix).
pub const ENVELOPE_PAD_BLOCK: usize = 64;

/// Smallest possible envelope (empty plaintext).
pub const ENVELOPE_MIN_LEN: usize = ENVELOPE_HEADER_LEN + ENVELOPE_PAD_BLOCK + TAG_LEN;

/// Largest plaintext [`seal`] accepts (the length prefix is a `u32`).
pub const MAX_PLAINTEXT_LEN: usize = (u32::MAX as usize) - ENVELOPE_PAD_BLOCK;

const COMMIT_INPUT_LEN: usize = 46;
const SYM_INFO: &[u8] = b"castellan/v1/sym";
const COMMIT_LABEL: &[u8] = b"castellan/v1/commit";
const CTX_LABEL: &[u8] = b"castellan/v1/ctx/";
const ZERO_NONCE: [u8; 12] = [0u8; 12];

/// What an envelope contains. The byte value is part of the header and of the context.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjType {
    /// Account key wrapped under the account unlock key.
    AccountKeyWrap = 1,
    /// Signing / encryption private key wrapped under the account key.
    PrivateKeyWrap = 2,
    /// Vault key wrapped under the account key.
    VaultKeyWrap = 3,
    /// Item key wrapped under a vault key.
    ItemKeyWrap = 4,
    /// Item overview (title, URLs, ... shown in lists).
    ItemOverview = 5,
    /// Item details (the secrets).
    ItemDetails = 6,
    /// One chunk of an attachment.
    AttachmentChunk = 7,
    /// Account key wrapped under a device's local unlock key.
    LocalDeviceWrap = 8,
    /// Folder metadata.
    FolderMetadata = 9,
    /// Escrow / recovery check value.
    EscrowCheck = 10,
    /// Share metadata (the share's name), sealed under the share key.
    ShareMetadata = 11,
    /// An organisation backup of a member's Business profile, under a fresh backup key.
    OrgBackup = 12,
}

impl ObjType {
    /// Every object type, in byte order.
    pub const ALL: [ObjType; 12] = [
        ObjType::AccountKeyWrap,
        ObjType::PrivateKeyWrap,
        ObjType::VaultKeyWrap,
        ObjType::ItemKeyWrap,
        ObjType::ItemOverview,
        ObjType::ItemDetails,
        ObjType::AttachmentChunk,
        ObjType::LocalDeviceWrap,
        ObjType::FolderMetadata,
        ObjType::EscrowCheck,
        ObjType::ShareMetadata,
        ObjType::OrgBackup,
    ];

    /// The header byte.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses a header byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_u8() == b)
    }
}

impl From<ObjType> for u8 {
    fn from(t: ObjType) -> u8 {
        t.as_u8()
    }
}

impl TryFrom<u8> for ObjType {
    type Error = CryptoError;
    fn try_from(b: u8) -> Result<Self> {
        Self::from_u8(b).ok_or(CryptoError::Malformed("unknown object type"))
    }
}

/// The context an envelope is bound to: its object type plus the identifiers of where it lives.
///
/// Opening with a context that differs in any field fails with [`CryptoError::Integrity`]
/// (or [`CryptoError::WrongObjectType`] if the object type differs). Contains no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Context {
    obj_type: ObjType,
    fields: Vec<u8>,
}

impl Context {
    fn new(obj_type: ObjType) -> Self {
        Self {
            obj_type,
            fields: Vec::with_capacity(96),
        }
    }

    fn uuid(mut self, id: Uuid) -> Self {
        put_lp(&mut self.fields, id.as_bytes());
        self
    }

    fn u64(mut self, v: u64) -> Self {
        put_lp(&mut self.fields, &v.to_be_bytes());
        self
    }

    fn u32(mut self, v: u32) -> Self {
        put_lp(&mut self.fields, &v.to_be_bytes());
        self
    }

    fn str(mut self, s: &str) -> Self {
        put_lp(&mut self.fields, s.as_bytes());
        self
    }

    /// The object type this context is for.
    pub fn obj_type(&self) -> ObjType {
        self.obj_type
    }

    /// Account key under the AUK: `(user_id, ak_version)`.
    pub fn account_key_wrap(user_id: Uuid, ak_version: u64) -> Self {
        Self::new(ObjType::AccountKeyWrap)
            .uuid(user_id)
            .u64(ak_version)
    }

    /// A private key seed under the account key: `(user_id, key_id, purpose)`.
    pub fn private_key_wrap(user_id: Uuid, key_id: Uuid, purpose: &str) -> Self {
        Self::new(ObjType::PrivateKeyWrap)
            .uuid(user_id)
            .uuid(key_id)
            .str(purpose)
    }

    /// A vault key: `(owner_id, vault_id, vault_key_version, vault_kind)`.
    pub fn vault_key_wrap(
        owner_id: Uuid,
        vault_id: Uuid,
        vault_key_version: u64,
        vault_kind: &str,
    ) -> Self {
        Self::new(ObjType::VaultKeyWrap)
            .uuid(owner_id)
            .uuid(vault_id)
            .u64(vault_key_version)
            .str(vault_kind)
    }

    /// An item key under a vault key.
    pub fn item_key_wrap(
        org_id: Uuid,
        vault_id: Uuid,
        item_id: Uuid,
        vault_key_version: u64,
        item_key_version: u64,
    ) -> Self {
        Self::new(ObjType::ItemKeyWrap)
            .uuid(org_id)
            .uuid(vault_id)
            .uuid(item_id)
            .u64(vault_key_version)
            .u64(item_key_version)
    }

    /// An item overview.
    pub fn item_overview(
        org_id: Uuid,
        vault_id: Uuid,
        item_id: Uuid,
        item_version: u64,
        schema_version: u32,
        author_id: Uuid,
    ) -> Self {
        Self::new(ObjType::ItemOverview)
            .uuid(org_id)
            .uuid(vault_id)
            .uuid(item_id)
            .u64(item_version)
            .u32(schema_version)
            .uuid(author_id)
    }

    /// Item details.
    pub fn item_details(
        org_id: Uuid,
        vault_id: Uuid,
        item_id: Uuid,
        item_version: u64,
        schema_version: u32,
        author_id: Uuid,
    ) -> Self {
        Self::new(ObjType::ItemDetails)
            .uuid(org_id)
            .uuid(vault_id)
            .uuid(item_id)
            .u64(item_version)
            .u32(schema_version)
            .uuid(author_id)
    }

    /// Account key under a device's local unlock key: `(user_id, device_id)`.
    pub fn local_device_wrap(user_id: Uuid, device_id: Uuid) -> Self {
        Self::new(ObjType::LocalDeviceWrap)
            .uuid(user_id)
            .uuid(device_id)
    }

    /// Folder metadata.
    pub fn folder_metadata(
        org_id: Uuid,
        vault_id: Uuid,
        folder_id: Uuid,
        meta_version: u64,
    ) -> Self {
        Self::new(ObjType::FolderMetadata)
            .uuid(org_id)
            .uuid(vault_id)
            .uuid(folder_id)
            .u64(meta_version)
    }

    /// One attachment chunk (not in the original API contract; added so every [`ObjType`] has a
    /// constructor). `is_final` marks the last chunk so that truncation of the chunk list is
    /// detected (STREAM-style); it is encoded as one byte, 0 or 1.
    pub fn attachment_chunk(
        org_id: Uuid,
        vault_id: Uuid,
        item_id: Uuid,
        attachment_id: Uuid,
        chunk_index: u64,
        is_final: bool,
    ) -> Self {
        let mut c = Self::new(ObjType::AttachmentChunk)
            .uuid(org_id)
            .uuid(vault_id)
            .uuid(item_id)
            .uuid(attachment_id)
            .u64(chunk_index);
        put_lp(&mut c.fields, &[u8::from(is_final)]);
        c
    }

    /// An escrow / recovery check value: `(user_id, escrow_id)` (not in the original API
    /// contract; added so every [`ObjType`] has a constructor).
    pub fn escrow_check(user_id: Uuid, escrow_id: Uuid) -> Self {
        Self::new(ObjType::EscrowCheck)
            .uuid(user_id)
            .uuid(escrow_id)
    }

    /// Share metadata (the share's name) under the share key of `key_version`.
    pub fn share_metadata(company_id: Uuid, share_id: Uuid, key_version: u64) -> Self {
        Self::new(ObjType::ShareMetadata)
            .uuid(company_id)
            .uuid(share_id)
            .u64(key_version)
    }

    /// An organisation backup of `user_id`'s Business profile in `company_id`, sealed under
    /// the fresh key of backup `backup_id`, whose key is sealed to the company's backup key of
    /// `key_version`.
    pub fn org_backup(company_id: Uuid, user_id: Uuid, backup_id: Uuid, key_version: u64) -> Self {
        Self::new(ObjType::OrgBackup)
            .uuid(company_id)
            .uuid(user_id)
            .uuid(backup_id)
            .u64(key_version)
    }

    /// `"castellan/v1/ctx/" || obj_type || LP(field)...`
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CTX_LABEL.len() + 1 + self.fields.len());
        out.extend_from_slice(CTX_LABEL);
        out.push(self.obj_type.as_u8());
        out.extend_from_slice(&self.fields);
        out
    }
}

/// Per-message keys: `K_enc || K_cmt`.
struct MessageKeys {
    okm: Zeroizing<[u8; 64]>,
}

impl MessageKeys {
    fn derive(key: &SymmetricKey, salt: &[u8], obj_type: u8) -> Self {
        let mut info = [0u8; SYM_INFO.len() + 2];
        info[..SYM_INFO.len()].copy_from_slice(SYM_INFO);
        info[SYM_INFO.len()] = SUITE_V1;
        info[SYM_INFO.len() + 1] = obj_type;
        let mut okm = Zeroizing::new([0u8; 64]);
        hkdf_sha256(key.expose_secret(), salt, &info, okm.as_mut_slice());
        Self { okm }
    }

    fn k_enc(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&self.okm[..32]);
        k
    }

    fn commitment(&self, header46: &[u8], ctx_bytes: &[u8]) -> [u8; 32] {
        let mut k_cmt = [0u8; 32];
        k_cmt.copy_from_slice(&self.okm[32..]);
        let out = hmac_sha256(&k_cmt, &[COMMIT_LABEL, header46, &sha256(ctx_bytes)]);
        k_cmt.zeroize();
        out
    }
}

fn padded_len(plaintext_len: usize) -> usize {
    (4 + plaintext_len).div_ceil(ENVELOPE_PAD_BLOCK) * ENVELOPE_PAD_BLOCK
}

fn aad(header: &[u8], ctx_bytes: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + ctx_bytes.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(ctx_bytes);
    aad
}

/// Encrypts `plaintext` for `ctx` under `key` (identified by `key_id`), with a random salt.
///
/// Plaintexts longer than [`MAX_PLAINTEXT_LEN`] cannot be sealed: this function then returns
/// an empty vector (which [`open`] rejects as `Malformed`); use [`try_seal`] to get an error instead.
pub fn seal(key: &SymmetricKey, key_id: Uuid, ctx: &Context, plaintext: &[u8]) -> Vec<u8> {
    try_seal(key, key_id, ctx, plaintext).unwrap_or_default()
}

/// Like [`seal`], but reports an over-long plaintext as an error.
pub fn try_seal(
    key: &SymmetricKey,
    key_id: Uuid,
    ctx: &Context,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut salt = [0u8; ENVELOPE_SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    seal_inner(key, key_id, ctx, plaintext, salt)
}

/// [`seal`] with a caller-chosen salt. Only for golden vectors and tests: reusing a salt with
/// the same key reuses the AES-GCM key and nonce.
pub fn seal_with_salt(
    key: &SymmetricKey,
    key_id: Uuid,
    ctx: &Context,
    plaintext: &[u8],
    salt: [u8; 24],
) -> Vec<u8> {
    seal_inner(key, key_id, ctx, plaintext, salt).unwrap_or_default()
}

fn seal_inner(
    key: &SymmetricKey,
    key_id: Uuid,
    ctx: &Context,
    plaintext: &[u8],
    salt: [u8; ENVELOPE_SALT_LEN],
) -> Result<Vec<u8>> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(CryptoError::Malformed("plaintext too long"));
    }
    let len_prefix = u32::try_from(plaintext.len())
        .map_err(|_| CryptoError::Malformed("plaintext too long"))?
        .to_be_bytes();
    let obj = ctx.obj_type().as_u8();
    let body_len = padded_len(plaintext.len());

    // Exact capacity: the buffer never reallocates, so no stray plaintext copies are left behind.
    let mut out = Vec::with_capacity(ENVELOPE_HEADER_LEN + body_len + TAG_LEN);
    out.extend_from_slice(&ENVELOPE_MAGIC);
    out.push(SUITE_V1);
    out.push(obj);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&salt);

    let keys = MessageKeys::derive(key, &salt, obj);
    let ctx_bytes = ctx.bytes();
    let commit = keys.commitment(&out[..COMMIT_INPUT_LEN], &ctx_bytes);
    out.extend_from_slice(&commit);
    let aad = aad(&out[..ENVELOPE_HEADER_LEN], &ctx_bytes);

    out.extend_from_slice(&len_prefix);
    out.extend_from_slice(plaintext);
    out.resize(ENVELOPE_HEADER_LEN + body_len, 0);

    let mut k_enc = keys.k_enc();
    let tag = aead::encrypt_in_place(&k_enc, &ZERO_NONCE, &aad, &mut out[ENVELOPE_HEADER_LEN..]);
    k_enc.zeroize();
    match tag {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(out)
        }
        Err(e) => {
            out.zeroize();
            Err(e)
        }
    }
}

/// Structural checks shared by [`open`] and the header peeks: length, magic, suite.
fn check_structure(envelope: &[u8]) -> Result<()> {
    if envelope.len() < ENVELOPE_MIN_LEN {
        return Err(CryptoError::Malformed("too short"));
    }
    // (Written without `is_multiple_of`, which needs Rust 1.87; the workspace MSRV is 1.85.)
    let misalignment = (envelope.len() - ENVELOPE_HEADER_LEN - TAG_LEN) % ENVELOPE_PAD_BLOCK;
    if misalignment != 0 {
        return Err(CryptoError::Malformed("bad length"));
    }
    if envelope[..4] != ENVELOPE_MAGIC {
        return Err(CryptoError::Malformed("bad magic"));
    }
    if envelope[4] != SUITE_V1 {
        return Err(CryptoError::UnsupportedSuite(envelope[4]));
    }
    Ok(())
}

/// Decrypts an envelope produced by [`seal`].
///
/// Check order: length/magic (`Malformed`), suite (`UnsupportedSuite`), object type
/// (`WrongObjectType`), key id (`WrongKeyId`) — all before any cryptography — then the key
/// commitment in constant time, the AES-GCM tag and the padding (all `Integrity`).
pub fn open(
    key: &SymmetricKey,
    expected_key_id: Uuid,
    ctx: &Context,
    envelope: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    check_structure(envelope)?;
    let obj = envelope[5];
    let expected_obj = ctx.obj_type().as_u8();
    if obj != expected_obj {
        return Err(CryptoError::WrongObjectType {
            expected: expected_obj,
            found: obj,
        });
    }
    if envelope[6..22] != expected_key_id.as_bytes()[..] {
        return Err(CryptoError::WrongKeyId);
    }
    let (header, rest) = envelope.split_at(ENVELOPE_HEADER_LEN);
    let salt = &header[COMMIT_INPUT_LEN - ENVELOPE_SALT_LEN..COMMIT_INPUT_LEN];
    let keys = MessageKeys::derive(key, salt, obj);
    let ctx_bytes = ctx.bytes();
    let expected_commit = keys.commitment(&header[..COMMIT_INPUT_LEN], &ctx_bytes);
    if !ct_eq(&expected_commit, &header[COMMIT_INPUT_LEN..]) {
        return Err(CryptoError::Integrity);
    }

    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let tag: [u8; TAG_LEN] = tag
        .try_into()
        .map_err(|_| CryptoError::Malformed("bad length"))?;
    let mut body = Zeroizing::new(ciphertext.to_vec());
    let mut k_enc = keys.k_enc();
    let res = aead::decrypt_in_place(
        &k_enc,
        &ZERO_NONCE,
        &aad(header, &ctx_bytes),
        &mut body,
        &tag,
    );
    k_enc.zeroize();
    res?;
    unpad(body)
}

/// Strips `u32_be(len) || data || zeros`, rejecting a too-large length or non-zero padding.
fn unpad(mut body: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>> {
    let prefix: [u8; 4] = body
        .get(..4)
        .and_then(|p| p.try_into().ok())
        .ok_or(CryptoError::Integrity)?;
    let len = usize::try_from(u32::from_be_bytes(prefix)).map_err(|_| CryptoError::Integrity)?;
    let end = len
        .checked_add(4)
        .filter(|e| *e <= body.len())
        .ok_or(CryptoError::Integrity)?;
    if body[end..].iter().fold(0u8, |acc, b| acc | b) != 0 {
        return Err(CryptoError::Integrity);
    }
    body.copy_within(4..end, 0);
    body.truncate(len);
    Ok(body)
}

/// Wraps (encrypts) `key` under `kek`; same as [`seal`] with the 32 key bytes as plaintext.
pub fn wrap_key(kek: &SymmetricKey, kek_id: Uuid, ctx: &Context, key: &SymmetricKey) -> Vec<u8> {
    seal(kek, kek_id, ctx, key.expose_secret())
}

/// Unwraps a key produced by [`wrap_key`].
pub fn unwrap_key(
    kek: &SymmetricKey,
    kek_id: Uuid,
    ctx: &Context,
    envelope: &[u8],
) -> Result<SymmetricKey> {
    let pt = open(kek, kek_id, ctx, envelope)?;
    SymmetricKey::try_from_slice(&pt)
        .map_err(|_| CryptoError::InvalidKey("wrapped key is not 32 bytes"))
}

/// The object type in an envelope's header, without any cryptography.
pub fn envelope_obj_type(envelope: &[u8]) -> Result<ObjType> {
    check_structure(envelope)?;
    ObjType::try_from(envelope[5])
}

/// The key id in an envelope's header, without any cryptography (not authenticated until
/// [`open`] succeeds).
pub fn envelope_key_id(envelope: &[u8]) -> Result<Uuid> {
    check_structure(envelope)?;
    let id: [u8; 16] = envelope[6..22]
        .try_into()
        .map_err(|_| CryptoError::Malformed("too short"))?;
    Ok(Uuid::from_bytes(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::item_overview(
            Uuid::nil(),
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            3,
            1,
            Uuid::from_u128(4),
        )
    }

    #[test]
    fn round_trip_sizes() {
        let k = SymmetricKey::generate();
        let id = Uuid::from_u128(99);
        for n in [0usize, 1, 59, 60, 61, 64, 123, 1000] {
            let pt = vec![0xA5u8; n];
            let env = seal(&k, id, &ctx(), &pt);
            assert_eq!(env.len(), ENVELOPE_HEADER_LEN + padded_len(n) + TAG_LEN);
            assert_eq!((env.len() - ENVELOPE_HEADER_LEN - TAG_LEN) % 64, 0);
            assert_eq!(&open(&k, id, &ctx(), &env).unwrap()[..], &pt[..]);
        }
        assert_eq!(padded_len(0), 64);
        assert_eq!(padded_len(60), 64);
        assert_eq!(padded_len(61), 128);
    }

    #[test]
    fn header_peeks() {
        let k = SymmetricKey::generate();
        let env = seal(&k, Uuid::from_u128(5), &ctx(), b"x");
        assert_eq!(envelope_obj_type(&env).unwrap(), ObjType::ItemOverview);
        assert_eq!(envelope_key_id(&env).unwrap(), Uuid::from_u128(5));
        assert!(envelope_obj_type(&env[..10]).is_err());
    }

    #[test]
    fn context_bytes_layout() {
        let c = Context::account_key_wrap(Uuid::from_u128(0x0102), 7);
        let b = c.bytes();
        assert_eq!(&b[..17], b"castellan/v1/ctx/");
        assert_eq!(b[17], 1);
        assert_eq!(&b[18..22], &[0, 0, 0, 16]);
        assert_eq!(&b[22..38], Uuid::from_u128(0x0102).as_bytes());
        assert_eq!(&b[38..42], &[0, 0, 0, 8]);
        assert_eq!(&b[42..50], &7u64.to_be_bytes());
        assert_eq!(b.len(), 50);
    }

    #[test]
    fn bad_padding_is_integrity() {
        // Hand-build an envelope whose authenticated plaintext has bad padding.
        let k = SymmetricKey::generate();
        let id = Uuid::from_u128(1);
        let c = ctx();
        for body in [
            {
                let mut b = vec![0u8; 64];
                b[..4].copy_from_slice(&61u32.to_be_bytes());
                b
            },
            {
                let mut b = vec![0u8; 64];
                b[..4].copy_from_slice(&2u32.to_be_bytes());
                b[10] = 1;
                b
            },
        ] {
            let salt = [3u8; 24];
            let mut env = Vec::new();
            env.extend_from_slice(&ENVELOPE_MAGIC);
            env.push(SUITE_V1);
            env.push(c.obj_type().as_u8());
            env.extend_from_slice(id.as_bytes());
            env.extend_from_slice(&salt);
            let keys = MessageKeys::derive(&k, &salt, c.obj_type().as_u8());
            let commit = keys.commitment(&env[..46], &c.bytes());
            env.extend_from_slice(&commit);
            let aad = aad(&env, &c.bytes());
            let mut b = body.clone();
            let tag = aead::encrypt_in_place(&keys.k_enc(), &ZERO_NONCE, &aad, &mut b).unwrap();
            env.extend_from_slice(&b);
            env.extend_from_slice(&tag);
            assert_eq!(open(&k, id, &c, &env).unwrap_err(), CryptoError::Integrity);
        }
    }
}
