//! Organisation backup (docs/org-backup.md): point-in-time, end-to-end encrypted backups of each
//! member's Business profile, readable only with the company's backup key.
//!
//! Endpoints (all under `/api/v1`, all need a session):
//!
//! | Method and path | Who |
//! |---|---|
//! | `POST /companies/{cid}/backups` | a member of the company, while its policy has `org_backup` (Advanced or Trial) |
//! | `GET  /companies/{cid}/backups` (`?user_id=`) | company admins: users and their backup points |
//! | `GET  /companies/{cid}/backups/{bid}` | company admins: one backup (recorded in the audit log) |
//! | `DELETE /companies/{cid}/backups` | company admins, only while the policy is off: deletes every backup |
//! | `POST /companies/{cid}/backups/{bid}/restored` | company admins: records a restore in the audit log |
//! | `POST /companies/{cid}/recovery-groups` | company admins: creates a Recovery Group (no admin grant) |
//! | `POST /companies/{cid}/handovers` | company admins: restored items sealed to a member's new account |
//! | `GET  /me/handovers`, `DELETE /me/handovers/{id}` | the member the handover is for |
//!
//! The server sees only ciphertext: the backup envelope (`ObjType::OrgBackup`, under a fresh
//! key), that key HPKE-sealed to the policy's backup public key, the member's certificate and
//! their Ed25519 signature ([`backup_signed_bytes`]). It cannot tell a Business item from
//! anything else; the client puts only the Business profile in a backup.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Bytes, GroupGrantDto, GroupKeysDto, SignedDoc};

/// Statement type of the member's signature over a backup.
pub const BACKUP_STATEMENT: &str = "org-backup";
/// Statement type of the admin's signature over a handover.
pub const HANDOVER_STATEMENT: &str = "org-backup-handover";

/// Largest backup envelope the server accepts (bytes).
pub const MAX_BACKUP_ENVELOPE_BYTES: usize = 1536 * 1024;
/// Largest handover the server accepts (bytes).
pub const MAX_HANDOVER_BYTES: usize = 1536 * 1024;

/// The bytes a member signs (with their identity signing key, statement [`BACKUP_STATEMENT`])
/// for a backup: `"castellan/v1/org-backup" || backup_id || company_id || user_id ||
/// created_at (8, BE) || key_version (8, BE) || public_key (32) || SHA-256(sealed_key) ||
/// SHA-256(envelope)`; the caller passes the two hashes.
#[allow(clippy::too_many_arguments)]
pub fn backup_signed_bytes(
    backup_id: Uuid,
    company_id: Uuid,
    user_id: Uuid,
    created_at: i64,
    key_version: i64,
    public_key: &[u8],
    sealed_key_sha256: &[u8; 32],
    envelope_sha256: &[u8; 32],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(23 + 48 + 16 + public_key.len() + 64);
    v.extend_from_slice(b"castellan/v1/org-backup");
    v.extend_from_slice(backup_id.as_bytes());
    v.extend_from_slice(company_id.as_bytes());
    v.extend_from_slice(user_id.as_bytes());
    v.extend_from_slice(&created_at.to_be_bytes());
    v.extend_from_slice(&key_version.to_be_bytes());
    v.extend_from_slice(public_key);
    v.extend_from_slice(sealed_key_sha256);
    v.extend_from_slice(envelope_sha256);
    v
}

/// A backup as uploaded by the member's client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadBackupRequest {
    pub backup_id: Uuid,
    /// When the client made it (Unix seconds; within an hour of the server's clock).
    pub created_at: i64,
    /// The policy's key version the key is sealed to.
    pub key_version: i64,
    /// The backup public key from the verified policy (32 bytes).
    pub public_key: Bytes,
    /// The backup key HPKE-sealed to `public_key`: `enc(32) || ciphertext`.
    pub sealed_key: Bytes,
    /// The Business items and folders, sealed under the backup key (`ObjType::OrgBackup`).
    pub envelope: Bytes,
    /// The member's current certificate (signed with the company root key).
    pub member_cert: SignedDoc,
    /// Ed25519 by the member's identity key over [`backup_signed_bytes`] (64 bytes).
    pub signature: Bytes,
}

/// One backup point (no ciphertext).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupPointDto {
    pub backup_id: Uuid,
    pub created_at: i64,
    pub key_version: i64,
    pub size: i64,
}

/// A user (current member or not: backups outlive the account) with their backup points,
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupUserDto {
    pub user_id: Uuid,
    pub email: String,
    pub points: Vec<BackupPointDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupListResponse {
    pub users: Vec<BackupUserDto>,
    pub retention_days: Option<u32>,
}

/// One backup with everything a restoring client verifies before it opens anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupDto {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub user_email: String,
    pub backup_id: Uuid,
    pub created_at: i64,
    pub key_version: i64,
    pub public_key: Bytes,
    pub sealed_key: Bytes,
    pub envelope: Bytes,
    pub member_cert: SignedDoc,
    pub signature: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestoreTargetDto {
    /// Into the restoring admin's own Business profile.
    Me,
    /// Handed over to the user's new account.
    User,
    /// An encrypted export file.
    File,
}

/// Recorded in the audit log after a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupRestoredRequest {
    pub into: RestoreTargetDto,
    pub items: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupsDeletedResponse {
    pub deleted: u64,
}

/// A Recovery Group: like a group, but with no admin grant (its keys are sealed only to its
/// members). Its roster is signed with the company root key like every roster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewRecoveryGroupDto {
    pub group_id: Uuid,
    pub name: String,
    pub keys: GroupKeysDto,
    /// A `GroupRosterBody` with version 1, signed by the company root key.
    pub roster: SignedDoc,
    /// At least one grant: the members (confirmed admins) it is sealed to.
    pub grants: Vec<GroupGrantDto>,
}

/// Restored items sealed to a member's (new) certified encryption key by an admin's client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewHandoverRequest {
    pub id: Uuid,
    pub user_id: Uuid,
    /// HPKE to the user's certified key: `enc(32) || ciphertext` (info binds company, user, id).
    pub sealed: Bytes,
    /// The admin's member certificate.
    pub admin_cert: SignedDoc,
    /// Ed25519 by the admin's identity key, statement [`HANDOVER_STATEMENT`], over
    /// `id || company_id || user_id || SHA-256(sealed)`.
    pub signature: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HandoverDto {
    pub id: Uuid,
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub created_by: Uuid,
    pub created_at: i64,
    pub sealed: Bytes,
    pub admin_cert: SignedDoc,
    pub signature: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HandoverListResponse {
    pub handovers: Vec<HandoverDto>,
}

/// The bytes an admin signs for a handover.
pub fn handover_signed_bytes(
    id: Uuid,
    company_id: Uuid,
    user_id: Uuid,
    sealed_sha256: &[u8; 32],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(32 + 48 + 32);
    v.extend_from_slice(b"castellan/v1/org-backup-handover");
    v.extend_from_slice(id.as_bytes());
    v.extend_from_slice(company_id.as_bytes());
    v.extend_from_slice(user_id.as_bytes());
    v.extend_from_slice(sealed_sha256);
    v
}
