//! Records exchanged with the storage layer. Byte fields are client ciphertext or opaque
//! protocol blobs; none of them is a key the server could use to read data.

use uuid::Uuid;

#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub id: Uuid,
    /// Normalised (trimmed, lowercase).
    pub email: String,
    /// OPAQUE registration record (password file). Without the Secret Key it allows no
    /// feasible offline guessing.
    pub opaque_record: Vec<u8>,
    /// The client's key set as JSON text (wrapped keys, public keys, signatures). Opaque here.
    pub keyset: String,
    pub created_at: i64,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub opaque_record: Vec<u8>,
    pub keyset: String,
    /// Starts at 1; bumped by every credential change.
    pub credentials_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("credentials_version", &self.credentials_version)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The kinds of a user's own vaults. (Share vaults, kind `share` in the database, belong to a
/// company and are reached through [`crate::ShareStore`]; `vaults_for_user` never lists them.)
pub enum VaultKind {
    Personal,
    Business,
}

impl VaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VaultKind::Personal => "personal",
            VaultKind::Business => "business",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "personal" => Some(VaultKind::Personal),
            "business" => Some(VaultKind::Business),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVault {
    pub id: Uuid,
    pub kind: VaultKind,
    /// The vault key wrapped under the account key (client ciphertext).
    pub key_wrap: Vec<u8>,
    pub key_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: VaultKind,
    pub key_wrap: Vec<u8>,
    pub key_version: i64,
    pub created_at: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    pub id: Uuid,
    /// The user the attempt is for; `None` when the email is unknown (dummy login).
    pub user_id: Option<Uuid>,
    pub email: String,
    /// Serialized OPAQUE server login state (secret to the server, single use).
    pub state: Vec<u8>,
    pub expires_at: i64,
}

impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub device_name: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// `None` for a full session; `two_factor_setup` or `password_change` for a session that
    /// may only do that (and log out) until it is done.
    pub restriction: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("device_name", &self.device_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Item,
    Folder,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Item => "item",
            ObjectKind::Folder => "folder",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "item" => Some(ObjectKind::Item),
            "folder" => Some(ObjectKind::Folder),
            _ => None,
        }
    }
}

/// A write of one vault object. All three blobs are client ciphertext (envelopes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectWrite {
    pub id: Uuid,
    pub user_id: Uuid,
    pub vault_id: Uuid,
    pub kind: ObjectKind,
    pub version: i64,
    pub trashed: bool,
    /// The object key wrapped under the vault key (empty for folders, which use the vault key).
    pub key_wrap: Vec<u8>,
    /// Items: the overview envelope. Folders: the folder metadata envelope.
    pub overview: Vec<u8>,
    /// Items: the details envelope. Folders: empty.
    pub details: Vec<u8>,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub id: Uuid,
    /// The owner of the object's own vault; `None` for an object of a share.
    pub user_id: Option<Uuid>,
    /// The writer of the current version of a share's object; `None` in own vaults.
    pub author_id: Option<Uuid>,
    pub vault_id: Uuid,
    pub kind: ObjectKind,
    pub version: i64,
    pub trashed: bool,
    pub key_wrap: Vec<u8>,
    pub overview: Vec<u8>,
    pub details: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Feed position of the object's last change (global and strictly increasing).
    pub seq: i64,
}

/// A new signed manifest for a vault; stored only if the stored counter is `counter - 1`
/// (or there is none and `counter` is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestWrite {
    pub vault_id: Uuid,
    pub counter: i64,
    pub blob: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub vault_id: Uuid,
    /// The owner of an own vault; `None` for a share's manifest.
    pub user_id: Option<Uuid>,
    pub counter: i64,
    pub blob: Vec<u8>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: Uuid,
    pub vault_id: Uuid,
    pub seq: i64,
}

/// One page of the change feed of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    pub objects: Vec<ObjectRecord>,
    pub tombstones: Vec<Tombstone>,
    /// The seq of the last change in this page (or `since` when the page is empty and the
    /// cursor was valid); pass it back as `since`.
    pub cursor: i64,
    pub has_more: bool,
    /// `since` was unknown (ahead of the feed) or expired (before the retained tombstones):
    /// the page starts from 0.
    pub reset: bool,
}
