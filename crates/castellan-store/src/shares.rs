//! Sharing: shares of a company's items and folders to users and groups (see `docs/sharing.md`).
//!
//! A share is a vault of kind `share` (its id is the vault id of its objects) owned by a company,
//! not by a user. Its objects are ordinary objects (`put_object`, `delete_object`, the change
//! feed and the manifests of [`crate::Store`]); what differs is **access**, decided in one place
//! per backend:
//!
//! - **read**: an owner (a user entry with role owner) always; any other principal, directly (a
//!   user entry) or through a group entry whose group lists them (and who is a member of the
//!   share's company), once they accepted the share and while it is not expired
//!   (`expires_at > now`);
//! - **write**: readers whose role (the highest of their user entry and their groups' entries)
//!   is owner or editor.
//!
//! The store keeps its own copy of the current ACL entries (`entries`, replaced on every ACL
//! write) next to the signed document (`acl`, opaque here): the server parses and checks the
//! document, the store answers access questions from the entries.
//!
//! A user's state for a share: `Owned` for owners; otherwise the stored state (`Invited`,
//! `Accepted`, `Declined`), `Invited` when none is stored (a member of a recipient group has no
//! row until they accept or decline).

use async_trait::async_trait;
use uuid::Uuid;

use crate::{ManifestRecord, ManifestWrite, StoreResult};

macro_rules! share_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

share_enum!(
    PrincipalKind { User = "user", Group = "group" }
);
share_enum!(
    /// Ordered from the most to the least powerful (`Ord`: `Owner < Editor < ...`, so the
    /// strongest of several roles is the minimum).
    ShareRole {
        Owner = "owner",
        Editor = "editor",
        ReadOnly = "read_only",
        ReadOnlyHidden = "read_only_hidden",
    }
);
share_enum!(
    /// The stored state of a recipient (owners have none: they own the share).
    ShareState { Invited = "invited", Accepted = "accepted", Declined = "declined" }
);

impl ShareRole {
    pub fn can_write(self) -> bool {
        matches!(self, ShareRole::Owner | ShareRole::Editor)
    }
}

/// One principal of an access list with its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShareEntry {
    pub kind: PrincipalKind,
    pub principal_id: Uuid,
    pub role: ShareRole,
}

/// The share key (version `key_version`) sealed to one principal, signed by an owner.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareGrantRecord {
    pub kind: PrincipalKind,
    pub principal_id: Uuid,
    pub key_version: i64,
    pub sealed: Vec<u8>,
    pub granted_by: Uuid,
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for ShareGrantRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareGrantRecord")
            .field("kind", &self.kind)
            .field("principal_id", &self.principal_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// A share as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    pub id: Uuid,
    pub company_id: Uuid,
    /// The signed access list (JSON of a `SignedDoc`), opaque to the store.
    pub acl: Vec<u8>,
    pub acl_version: i64,
    pub key_version: i64,
    pub expires_at: Option<i64>,
    /// The share name sealed under the share key.
    pub name: Vec<u8>,
    /// The share name sealed to the company encryption key.
    pub name_for_admins: Vec<u8>,
    /// Entries of the current ACL, by kind then principal id.
    pub entries: Vec<ShareEntry>,
    /// Users with an owner entry, ascending.
    pub owner_ids: Vec<Uuid>,
    /// Grants of the current key version, by kind then principal id.
    pub grants: Vec<ShareGrantRecord>,
    pub manifest: Option<ManifestRecord>,
    pub object_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ShareRecord {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// How one user stands with a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserShareState {
    Owned,
    Invited,
    Accepted,
    Declined,
}

/// A share as one user sees it ([`ShareStore::shares_for_user`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserShare {
    pub share: ShareRecord,
    pub state: UserShareState,
    /// The strongest of the user's entry and their groups' entries.
    pub role: ShareRole,
    /// Groups through which the user is a principal (their entries are in `share.entries`).
    pub via_groups: Vec<Uuid>,
    /// Whether the user may read the share's objects now (owner, or accepted and not expired).
    pub readable: bool,
}

/// A new share: its vault, access list, grants and first manifest, stored in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareCreate {
    pub id: Uuid,
    pub company_id: Uuid,
    pub acl: Vec<u8>,
    /// Normally 1.
    pub acl_version: i64,
    pub key_version: i64,
    pub expires_at: Option<i64>,
    pub name: Vec<u8>,
    pub name_for_admins: Vec<u8>,
    pub entries: Vec<ShareEntry>,
    pub grants: Vec<ShareGrantRecord>,
    /// Counter 1 of the share vault's manifest.
    pub manifest: ManifestWrite,
    pub now: i64,
}

/// A new access list: stored only if the stored version is `acl_version - 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclWrite {
    pub acl: Vec<u8>,
    pub acl_version: i64,
    pub expires_at: Option<i64>,
    /// The complete entries of the new ACL.
    pub entries: Vec<ShareEntry>,
    /// Grants to add or replace (of the current key version).
    pub grants: Vec<ShareGrantRecord>,
    pub now: i64,
}

/// One object re-wrapped under the new share key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrappedObject {
    pub id: Uuid,
    pub expected_version: i64,
    pub key_wrap: Vec<u8>,
    pub overview: Vec<u8>,
    pub details: Vec<u8>,
}

/// A key rotation: new ACL (version + 1) and key version (+ 1), every object re-wrapped, the
/// grants of the new key version (all older grants are dropped) and the next manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRotation {
    pub acl: Vec<u8>,
    pub acl_version: i64,
    pub key_version: i64,
    pub expires_at: Option<i64>,
    pub entries: Vec<ShareEntry>,
    pub name: Vec<u8>,
    pub name_for_admins: Vec<u8>,
    pub objects: Vec<RewrappedObject>,
    pub grants: Vec<ShareGrantRecord>,
    pub manifest: ManifestWrite,
    pub now: i64,
}

/// How `user_id` stands with `share`, given the groups through which they are a principal and
/// their stored states by share (`None` if they are not a principal after all). Shared by the
/// backends.
pub fn user_view(
    share: ShareRecord,
    user_id: Uuid,
    via_groups: Vec<Uuid>,
    states: &std::collections::HashMap<Uuid, ShareState>,
    now: i64,
) -> Option<UserShare> {
    let role = share
        .entries
        .iter()
        .filter(|e| match e.kind {
            PrincipalKind::User => e.principal_id == user_id,
            PrincipalKind::Group => via_groups.contains(&e.principal_id),
        })
        .map(|e| e.role)
        .min()?;
    let owner = share.owner_ids.contains(&user_id);
    let state = if owner {
        UserShareState::Owned
    } else {
        match states.get(&share.id) {
            Some(ShareState::Accepted) => UserShareState::Accepted,
            Some(ShareState::Declined) => UserShareState::Declined,
            Some(ShareState::Invited) | None => UserShareState::Invited,
        }
    };
    let readable = owner || (state == UserShareState::Accepted && !share.is_expired(now));
    Some(UserShare {
        share,
        state,
        role,
        via_groups,
        readable,
    })
}

/// Storage of shares. Who may call what (owners, admins, signatures) is the server's decision;
/// the store checks versions, existence and that rows belong to the named share.
#[async_trait]
pub trait ShareStore: Send + Sync {
    /// Creates the share vault (kind `share`, the company's), the share, its entries, grants,
    /// `invited` states for user principals that are not owners and the manifest (counter 1),
    /// atomically. `AlreadyExists("share")` when the id is taken by any vault; `NotFound` when
    /// the company does not exist.
    async fn create_share(&self, create: ShareCreate) -> StoreResult<ShareRecord>;
    async fn share(&self, share_id: Uuid) -> StoreResult<Option<ShareRecord>>;
    /// Shares in which the user is a principal (directly, or through a group that lists them and
    /// a membership of the share's company), whatever their state, expired ones included, by id.
    /// `now` decides `readable`.
    async fn shares_for_user(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<UserShare>>;
    /// Every share of the company, by id.
    async fn shares_of_company(&self, company_id: Uuid) -> StoreResult<Vec<ShareRecord>>;
    /// Users who are principals of the share now (owners, user entries, members of group
    /// entries), whatever their state: whom to tell that the share changed. Empty when the
    /// share does not exist.
    async fn share_audience(&self, share_id: Uuid) -> StoreResult<Vec<Uuid>>;
    /// Replaces the ACL and its entries (compare-and-swap on the version:
    /// `VersionConflict { current }`), stores `grants` (replacing a principal's grant of the
    /// same key version), drops grants of principals no longer listed and adds `invited` states
    /// for new user principals. Grants must be of the stored key version (`VersionConflict {
    /// current: key_version }`). `NotFound` when the share does not exist.
    async fn update_acl(&self, share_id: Uuid, write: AclWrite) -> StoreResult<ShareRecord>;
    /// Adds or replaces grants of the current key version for principals of the current ACL
    /// (`NotFound` for a principal not listed, `VersionConflict { current: key_version }` for
    /// another key version).
    async fn add_grants(
        &self,
        share_id: Uuid,
        grants: Vec<ShareGrantRecord>,
        now: i64,
    ) -> StoreResult<ShareRecord>;
    /// Rotates the share key atomically. `VersionConflict { current: acl_version }` unless
    /// `acl_version` is the stored one + 1 and `key_version` the stored one + 1; the objects
    /// must be exactly the share's objects at their stored versions (`VersionConflict
    /// { current }` with the stored version of the first object that is stale or missing from
    /// the list, or `current: 0` for a listed object that is not in the share); every object
    /// gets version + 1 and a new feed position (its author is kept); `ManifestConflict` as in
    /// `put_object`. Returns the share and the rewritten objects' feed positions.
    async fn rotate_share(
        &self,
        share_id: Uuid,
        rotation: ShareRotation,
    ) -> StoreResult<(ShareRecord, Vec<i64>)>;
    /// Accept (`Accepted`) or decline (`Declined`) for a recipient; `NotFound` unless the user
    /// is a principal who is not an owner (`Invited` may not be set).
    async fn set_share_state(
        &self,
        share_id: Uuid,
        user_id: Uuid,
        state: ShareState,
        now: i64,
    ) -> StoreResult<()>;
    /// Deletes the share: every object leaves a tombstone with a new feed position, the vault,
    /// manifest, entries, grants and states go, and every user who could read the share keeps
    /// the share's tombstones in their feed (until pruned). Returns those users and the last
    /// feed position. `NotFound` when absent.
    async fn delete_share(&self, share_id: Uuid, now: i64) -> StoreResult<(Vec<Uuid>, i64)>;
}
