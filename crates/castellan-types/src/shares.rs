//! Sharing: named shares of items and folders to users and groups of a company.
//!
//! A share is a vault of its own (its id is the vault id of its objects): a random share key,
//! a signed access list ([`ShareAclBody`]), one signed key grant per principal (a user's or a
//! group's HPKE key) and objects written by its writers, under a signed manifest. See
//! `docs/sharing.md`.
//!
//! Endpoints (under `/api/v1`, all with a session):
//!
//! | Method and path | Who |
//! |---|---|
//! | `GET  /companies/{cid}/directory` | members: confirmed members' certificates (to pick and verify recipients) |
//! | `POST /shares` | a confirmed member of a company |
//! | `GET  /shares` | my shares: owned, accepted, and invitations (`state`) |
//! | `GET  /shares/{sid}` | owners and recipients (and company admins: metadata only) |
//! | `PUT  /shares/{sid}/acl` | owners (signed by their identity key) and company admins (signed by the company key) |
//! | `POST /shares/{sid}/grants` | owners: key grants for principals of the current ACL |
//! | `POST /shares/{sid}/rotate` | owners: new key version, re-wrapped objects, grants, in one request |
//! | `POST /shares/{sid}/accept`, `POST /shares/{sid}/decline` | recipients |
//! | `DELETE /shares/{sid}` | owners and company admins |
//! | `GET  /companies/{cid}/shares` | company admins: every share of the company |
//!
//! Share objects use the ordinary object endpoints (`PUT/DELETE /objects/{id}` with
//! `vault_id` = share id); the server allows writes only to owners and editors, and records the
//! writer as the object's `author_id`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Bytes, ManifestDto, SignedDoc};

/// Statement types signed with a member's identity key.
pub mod share_statement {
    pub const ACL: &str = "share-acl";
    pub const GRANT: &str = "share-grant";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareRoleDto {
    /// Same company only; manages recipients and items.
    Owner,
    /// Edits reach every recipient; may add items.
    Editor,
    ReadOnly,
    /// Read-only, and the client neither shows nor copies passwords and hidden fields. A
    /// client-side restriction: the recipient's device can decrypt them.
    ReadOnlyHidden,
}

impl ShareRoleDto {
    pub fn can_write(self) -> bool {
        matches!(self, ShareRoleDto::Owner | ShareRoleDto::Editor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKindDto {
    User,
    Group,
}

impl PrincipalKindDto {
    /// The byte that names the kind in grant HPKE infos and signatures: 1 user, 2 group.
    pub fn code(self) -> u8 {
        match self {
            PrincipalKindDto::User => 1,
            PrincipalKindDto::Group => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct PrincipalDto {
    pub kind: PrincipalKindDto,
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AclEntryDto {
    pub principal: PrincipalDto,
    pub role: ShareRoleDto,
}

/// Who signed an access list: an owner's identity key (verified through their member
/// certificate) or the company root key (an admin acting from the portal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "user_id")]
pub enum AclSignerDto {
    Member(Uuid),
    Company,
}

/// The signed access list of a share; `version` grows by one per change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShareAclBody {
    pub share_id: Uuid,
    pub company_id: Uuid,
    pub version: i64,
    /// The share key version the entries are granted under.
    pub key_version: i64,
    pub entries: Vec<AclEntryDto>,
    /// After this time the share is gone for every recipient but its owners.
    pub expires_at: Option<i64>,
    pub issued_at: i64,
    pub signer: AclSignerDto,
}

/// The share key sealed to one principal, signed by the owner who made it.
///
/// `sealed` = `enc(32) || ciphertext` of HPKE to the principal's encryption key with info
/// `"castellan/v1/share-key-grant" || share_id || kind (1 user, 2 group) || principal_id ||
/// key_version (u64 BE)`; the signature (statement `share-grant`) covers
/// `LP(share_id) || LP(kind) || LP(principal_id) || LP(key_version) || LP(SHA-256(sealed))`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShareGrantDto {
    pub principal: PrincipalDto,
    pub key_version: i64,
    pub sealed: Bytes,
    pub granted_by: Uuid,
    pub signature: Bytes,
}

fn put_lp(out: &mut Vec<u8>, x: &[u8]) {
    out.extend_from_slice(&(x.len() as u32).to_be_bytes());
    out.extend_from_slice(x);
}

impl ShareGrantDto {
    /// The HPKE info of a grant: `"castellan/v1/share-key-grant" || share_id (16) || kind (1
    /// byte: 1 user, 2 group) || principal_id (16) || key_version (u64 BE)`.
    pub fn hpke_info(share_id: Uuid, principal: PrincipalDto, key_version: i64) -> Vec<u8> {
        let mut info = b"castellan/v1/share-key-grant".to_vec();
        info.extend_from_slice(share_id.as_bytes());
        info.push(principal.kind.code());
        info.extend_from_slice(principal.id.as_bytes());
        info.extend_from_slice(&(key_version as u64).to_be_bytes());
        info
    }

    /// The body the `share-grant` signature covers: `LP(share_id) || LP(kind) ||
    /// LP(principal_id) || LP(key_version) || LP(SHA-256(sealed))`, with UUIDs as 16 raw bytes,
    /// the kind as one byte (1 user, 2 group), the key version as u64 BE and `LP(x) =
    /// u32_be(len(x)) || x`. Sign it with `sign_statement(share_statement::GRANT, …)`.
    pub fn signed_body(
        share_id: Uuid,
        principal: PrincipalDto,
        key_version: i64,
        sealed_sha256: &[u8; 32],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 * 5 + 16 + 1 + 16 + 8 + 32);
        put_lp(&mut out, share_id.as_bytes());
        put_lp(&mut out, &[principal.kind.code()]);
        put_lp(&mut out, principal.id.as_bytes());
        put_lp(&mut out, &(key_version as u64).to_be_bytes());
        put_lp(&mut out, sealed_sha256);
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareStateDto {
    /// I own it.
    Owned,
    /// Waiting for me to accept or decline.
    Invited,
    Accepted,
    Declined,
    /// Not a principal: a company administrator's view (`GET /companies/{cid}/shares`, or
    /// `GET /shares/{sid}` by an admin), metadata only (no grants, no manifest).
    Admin,
}

/// One share in `SyncResponse.shares`: enough for a client to tell whether its copy is
/// current (ACL and key version) and what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShareSummaryDto {
    pub id: Uuid,
    pub acl_version: i64,
    pub key_version: i64,
    /// `owned`, `accepted` (objects readable) or `invited` (waiting for accept or decline).
    pub state: ShareStateDto,
    /// The strongest of the user's entry and their groups' entries.
    pub role: ShareRoleDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateShareRequest {
    pub share_id: Uuid,
    pub company_id: Uuid,
    /// ACL version 1 signed by the creator (an owner in it).
    pub acl: SignedDoc,
    /// The share name sealed under the share key (an envelope of type ShareMetadata).
    pub name: Bytes,
    /// The share name sealed (HPKE) to the company encryption key, for the admins' overview.
    pub name_for_admins: Bytes,
    pub grants: Vec<ShareGrantDto>,
    /// Manifest counter 1 of the (empty) share vault, signed by the creator.
    pub manifest: ManifestDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShareDto {
    pub id: Uuid,
    pub company_id: Uuid,
    pub owner_ids: Vec<Uuid>,
    pub acl: SignedDoc,
    pub acl_version: i64,
    pub key_version: i64,
    pub expires_at: Option<i64>,
    pub name: Bytes,
    pub name_for_admins: Bytes,
    /// My state for this share.
    pub state: ShareStateDto,
    /// My role (the highest of my user entry and my groups' entries).
    pub role: Option<ShareRoleDto>,
    /// The grant I open the share key with (to me, or to one of my groups), if any.
    pub grant: Option<ShareGrantDto>,
    /// All grants of the current key version (owners need them to see who lacks one).
    pub grants: Vec<ShareGrantDto>,
    pub manifest: Option<ManifestDto>,
    pub object_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShareListResponse {
    pub shares: Vec<ShareDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdateAclRequest {
    /// The next ACL (version = stored + 1).
    pub acl: SignedDoc,
    /// Grants for principals the ACL adds (owners' clients; an admin's ACL leaves them to the
    /// owners' clients, which complete them at their next sync).
    #[serde(default)]
    pub grants: Vec<ShareGrantDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddGrantsRequest {
    pub grants: Vec<ShareGrantDto>,
}

/// One object re-wrapped under the new share key (only `key_wrap` changes; the version grows).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RewrappedObjectDto {
    pub id: Uuid,
    pub expected_version: i64,
    pub key_wrap: Bytes,
    pub overview: Bytes,
    pub details: Bytes,
}

/// Key rotation after a recipient lost access: every object re-wrapped, new grants for the
/// remaining principals, the new ACL and manifest, all in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RotateShareRequest {
    pub acl: SignedDoc,
    pub name: Bytes,
    pub name_for_admins: Bytes,
    pub objects: Vec<RewrappedObjectDto>,
    pub grants: Vec<ShareGrantDto>,
    pub manifest: ManifestDto,
}

/// A confirmed member as the directory shows them: their certificate is what clients verify.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirectoryEntryDto {
    pub user_id: Uuid,
    pub email: String,
    pub cert: SignedDoc,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirectoryResponse {
    pub members: Vec<DirectoryEntryDto>,
    /// Groups with their signed rosters (for sharing to groups).
    pub groups: Vec<crate::GroupDto>,
    /// The company's signed certificate revocation list (a [`crate::RevocationListBody`]), if
    /// any certificate was ever revoked: clients refuse certificates whose serial it lists.
    #[serde(default)]
    pub revocations: Option<SignedDoc>,
}
