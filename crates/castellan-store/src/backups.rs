//! Organisation backup (docs/org-backup.md): members' encrypted Business-profile backups and
//! the handovers of restored items to a member's new account.
//!
//! Backups are kept apart from the sync data and have NO foreign key to the users: they
//! survive the user deleting items and the user's account being deleted (restoring them is the
//! point). They go away by retention ([`BackupStore::prune_backups`]) or when the company turns
//! the policy off ([`BackupStore::delete_company_backups`]).

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreResult;

/// One backup as stored (all ciphertext or signed material produced by the member's client).
#[derive(Clone, PartialEq, Eq)]
pub struct BackupRecord {
    pub company_id: Uuid,
    pub user_id: Uuid,
    /// The user's email when the backup was written (the account may be gone later).
    pub user_email: String,
    pub backup_id: Uuid,
    pub created_at: i64,
    pub key_version: i64,
    /// The backup public key the key is sealed to.
    pub public_key: Vec<u8>,
    pub sealed_key: Vec<u8>,
    pub envelope: Vec<u8>,
    /// JSON of the member's certificate (a `SignedDoc`).
    pub member_cert: Vec<u8>,
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for BackupRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupRecord")
            .field("company_id", &self.company_id)
            .field("user_id", &self.user_id)
            .field("backup_id", &self.backup_id)
            .field("created_at", &self.created_at)
            .field("key_version", &self.key_version)
            .field("envelope_len", &self.envelope.len())
            .finish_non_exhaustive()
    }
}

/// A backup point without its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub user_id: Uuid,
    pub user_email: String,
    pub backup_id: Uuid,
    pub created_at: i64,
    pub key_version: i64,
    /// Bytes of the envelope.
    pub size: i64,
}

/// Restored items sealed to a member's new account by an admin's client.
#[derive(Clone, PartialEq, Eq)]
pub struct HandoverRecord {
    pub id: Uuid,
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub created_by: Uuid,
    pub created_at: i64,
    pub sealed: Vec<u8>,
    /// JSON of the admin's certificate (a `SignedDoc`).
    pub admin_cert: Vec<u8>,
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for HandoverRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoverRecord")
            .field("id", &self.id)
            .field("company_id", &self.company_id)
            .field("user_id", &self.user_id)
            .field("created_by", &self.created_by)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Stores a backup. `AlreadyExists("backup")` when the id is taken; `NotFound` when the
    /// company does not exist.
    async fn put_backup(&self, backup: BackupRecord) -> StoreResult<()>;
    /// Backup points of a company (optionally one user), by user then newest first.
    async fn list_backups(
        &self,
        company_id: Uuid,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<BackupSummary>>;
    /// One backup of the company.
    async fn get_backup(
        &self,
        company_id: Uuid,
        backup_id: Uuid,
    ) -> StoreResult<Option<BackupRecord>>;
    /// Deletes the company's backups created before `before`; returns how many.
    async fn prune_backups(&self, company_id: Uuid, before: i64) -> StoreResult<u64>;
    /// Deletes every backup of the company (the policy was turned off); returns how many.
    async fn delete_company_backups(&self, company_id: Uuid) -> StoreResult<u64>;

    /// Stores a handover. `AlreadyExists("handover")` when the id is taken.
    async fn put_handover(&self, handover: HandoverRecord) -> StoreResult<()>;
    /// Handovers for the user, oldest first.
    async fn handovers_for(&self, user_id: Uuid) -> StoreResult<Vec<HandoverRecord>>;
    /// Deletes one of the user's handovers (`NotFound` if it is not theirs).
    async fn delete_handover(&self, user_id: Uuid, id: Uuid) -> StoreResult<()>;
}
