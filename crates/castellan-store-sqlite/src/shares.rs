//! Share storage (schema in `migrations/0004_shares.sql`). Access to share vaults is decided by
//! `sql::VAULT_READABLE` / `sql::VAULT_WRITABLE` and the feed queries, all built from the one
//! `share_access!` macro in `sql.rs`; this module keeps the shares themselves.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction (one writer at a time), so a version
//! checked inside it still holds at the commit.

use std::collections::BTreeSet;

use async_trait::async_trait;
use castellan_store::{
    AclWrite, ManifestWrite, PrincipalKind, ShareCreate, ShareEntry, ShareGrantRecord, ShareRecord,
    ShareRole, ShareRotation, ShareState, ShareStore, StoreError, StoreResult, UserShare,
};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;
use uuid::Uuid;

use castellan_store::user_view;

use crate::{
    backend, corrupt, delete_object_leaving_tombstone, get, get_opt_uuid, get_uuid, id,
    manifest_from_row, map_unique, next_seq, sql, write_manifests, SqliteStore,
};

// ---------------------------------------------------------------------------------------------
// SQL

pub(crate) const SHARE_EXISTS: &str = "SELECT 1 FROM shares WHERE id = $1";
const VAULT_EXISTS: &str = "SELECT 1 FROM vaults WHERE id = $1";
const COMPANY_EXISTS: &str = "SELECT 1 FROM companies WHERE id = $1";
const USER_EXISTS: &str = "SELECT 1 FROM users WHERE id = $1";
const SHARE_VAULT_INSERT: &str = "INSERT INTO vaults \
     (id, user_id, company_id, kind, key_wrap, key_version, created_at) \
     VALUES ($1, NULL, $2, 'share', $3, $4, $5)";
const VAULT_KEY_VERSION: &str = "UPDATE vaults SET key_version = $2 WHERE id = $1";
const VAULT_DELETE: &str = "DELETE FROM vaults WHERE id = $1";
const SHARE_INSERT: &str = "INSERT INTO shares \
     (id, company_id, acl, acl_version, key_version, expires_at, name, name_for_admins, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
macro_rules! share_columns {
    () => {
        "id, company_id, acl, acl_version, key_version, expires_at, name, name_for_admins, \
         created_at, updated_at"
    };
}
const SHARE_GET: &str = concat!("SELECT ", share_columns!(), " FROM shares WHERE id = $1");
const SHARES_OF_COMPANY: &str = concat!(
    "SELECT ",
    share_columns!(),
    " FROM shares WHERE company_id = $1 ORDER BY id"
);
/// Compare-and-swap on the ACL version: stores version `$3` only over `$3 - 1`.
const SHARE_UPDATE_ACL: &str = "UPDATE shares SET acl = $2, acl_version = $3, expires_at = $4, \
     updated_at = $5 WHERE id = $1 AND acl_version = $3 - 1";
/// Compare-and-swap on both versions.
const SHARE_ROTATE: &str = "UPDATE shares SET acl = $2, acl_version = $3, key_version = $4, \
     expires_at = $5, name = $6, name_for_admins = $7, updated_at = $8 \
     WHERE id = $1 AND acl_version = $3 - 1 AND key_version = $4 - 1";
const SHARE_TOUCH: &str = "UPDATE shares SET updated_at = $2 WHERE id = $1";

const ENTRIES_OF: &str = "SELECT principal_kind, principal_id, role FROM share_entries \
     WHERE share_id = $1 ORDER BY principal_kind, principal_id";
const ENTRY_INSERT: &str =
    "INSERT INTO share_entries (share_id, principal_kind, principal_id, role) \
     VALUES ($1, $2, $3, $4)";
const ENTRIES_CLEAR: &str = "DELETE FROM share_entries WHERE share_id = $1";
const OWNER_COUNT: &str = "SELECT COUNT(*) AS owners FROM share_entries \
     WHERE share_id = $1 AND principal_kind = 'user' AND role = 'owner'";
const SHARES_OWNED_BY: &str = "SELECT share_id FROM share_entries \
     WHERE principal_kind = 'user' AND principal_id = $1 AND role = 'owner' ORDER BY share_id";
const USER_ENTRIES_DELETE: &str =
    "DELETE FROM share_entries WHERE principal_kind = 'user' AND principal_id = $1";
const USER_GRANTS_DELETE: &str =
    "DELETE FROM share_grants WHERE principal_kind = 'user' AND principal_id = $1";

macro_rules! grant_columns {
    () => {
        "principal_kind, principal_id, key_version, sealed, granted_by, signature"
    };
}
const GRANTS_OF: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM share_grants WHERE share_id = $1 AND key_version = $2 \
     ORDER BY principal_kind, principal_id"
);
const GRANT_UPSERT: &str = "INSERT INTO share_grants \
     (share_id, principal_kind, principal_id, key_version, sealed, granted_by, signature, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (share_id, principal_kind, principal_id, key_version) DO UPDATE SET \
     sealed = excluded.sealed, granted_by = excluded.granted_by, signature = excluded.signature, \
     created_at = excluded.created_at";
const GRANTS_OF_UNLISTED: &str = "DELETE FROM share_grants WHERE share_id = $1 AND NOT EXISTS \
     (SELECT 1 FROM share_entries e WHERE e.share_id = share_grants.share_id \
     AND e.principal_kind = share_grants.principal_kind \
     AND e.principal_id = share_grants.principal_id)";
const GRANTS_CLEAR: &str = "DELETE FROM share_grants WHERE share_id = $1";

/// An `invited` state for a user principal that has none (and exists).
const STATE_INVITE: &str = "INSERT INTO share_states (share_id, user_id, state, updated_at) \
     SELECT $1, $2, 'invited', $3 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2) \
     ON CONFLICT (share_id, user_id) DO NOTHING";
const STATE_SET: &str = "INSERT INTO share_states (share_id, user_id, state, updated_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (share_id, user_id) DO UPDATE SET \
     state = excluded.state, updated_at = excluded.updated_at";
const STATES_OF_SHARE: &str = "SELECT user_id, state FROM share_states WHERE share_id = $1";
const STATES_OF_USER: &str = "SELECT share_id, state FROM share_states WHERE user_id = $1";
/// The shares user `$1` is a principal of: directly (`group_id` NULL) or through a group that
/// lists them, when they are a member of the share's company.
const PRINCIPAL_OF: &str = "SELECT e.share_id, NULL AS group_id FROM share_entries e \
     WHERE e.principal_kind = 'user' AND e.principal_id = $1 \
     UNION SELECT e.share_id, e.principal_id AS group_id FROM share_entries e \
     JOIN shares s ON s.id = e.share_id \
     JOIN group_members gm ON gm.group_id = e.principal_id AND gm.user_id = $1 \
     JOIN members m ON m.user_id = $1 AND m.company_id = s.company_id \
     WHERE e.principal_kind = 'group' ORDER BY 1, 2";
const OBJECT_COUNT: &str = "SELECT COUNT(*) AS n FROM objects WHERE vault_id = $1";
const DELETED_READER_INSERT: &str = "INSERT INTO deleted_share_readers \
     (share_id, user_id, deleted_at) SELECT $1, $2, $3 \
     WHERE EXISTS (SELECT 1 FROM users WHERE id = $2) \
     ON CONFLICT (share_id, user_id) DO UPDATE SET deleted_at = excluded.deleted_at";

// ---------------------------------------------------------------------------------------------
// helpers

fn entry_from_row(row: &SqliteRow) -> StoreResult<ShareEntry> {
    let kind: &str = get(row, "principal_kind")?;
    let role: &str = get(row, "role")?;
    Ok(ShareEntry {
        kind: PrincipalKind::parse(kind).ok_or_else(|| corrupt("principal_kind"))?,
        principal_id: get_uuid(row, "principal_id")?,
        role: ShareRole::parse(role).ok_or_else(|| corrupt("role"))?,
    })
}

fn grant_from_row(row: &SqliteRow) -> StoreResult<ShareGrantRecord> {
    let kind: &str = get(row, "principal_kind")?;
    Ok(ShareGrantRecord {
        kind: PrincipalKind::parse(kind).ok_or_else(|| corrupt("principal_kind"))?,
        principal_id: get_uuid(row, "principal_id")?,
        key_version: get(row, "key_version")?,
        sealed: get(row, "sealed")?,
        granted_by: get_uuid(row, "granted_by")?,
        signature: get(row, "signature")?,
    })
}

fn parse_state(s: &str) -> StoreResult<ShareState> {
    ShareState::parse(s).ok_or_else(|| corrupt("state"))
}

/// Caller bugs: an entry listed twice, a grant for a principal that is not listed.
fn check_entries(entries: &[ShareEntry], grants: &[ShareGrantRecord]) -> StoreResult<()> {
    let mut seen = BTreeSet::new();
    for e in entries {
        if !seen.insert((e.kind, e.principal_id)) {
            return Err(StoreError::Backend("a principal is listed twice".into()));
        }
    }
    if grants
        .iter()
        .any(|g| !seen.contains(&(g.kind, g.principal_id)))
    {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

async fn exists(conn: &mut SqliteConnection, query: &str, key: &str) -> StoreResult<bool> {
    Ok(sqlx::query(query)
        .bind(key)
        .fetch_optional(conn)
        .await
        .map_err(backend)?
        .is_some())
}

/// The share with its entries, grants of the current key version, manifest and object count.
async fn read_share(
    conn: &mut SqliteConnection,
    share_id: &str,
) -> StoreResult<Option<ShareRecord>> {
    let Some(row) = sqlx::query(SHARE_GET)
        .bind(share_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let key_version: i64 = get(&row, "key_version")?;
    let entries = sqlx::query(ENTRIES_OF)
        .bind(share_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(entry_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let grants = sqlx::query(GRANTS_OF)
        .bind(share_id)
        .bind(key_version)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(grant_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let manifest = sqlx::query(sql::MANIFEST_OF_VAULT)
        .bind(share_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .as_ref()
        .map(manifest_from_row)
        .transpose()?;
    let object_count: i64 = get(
        &sqlx::query(OBJECT_COUNT)
            .bind(share_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(backend)?,
        "n",
    )?;
    let mut owner_ids: Vec<Uuid> = entries
        .iter()
        .filter(|e| e.kind == PrincipalKind::User && e.role == ShareRole::Owner)
        .map(|e| e.principal_id)
        .collect();
    owner_ids.sort();
    Ok(Some(ShareRecord {
        id: get_uuid(&row, "id")?,
        company_id: get_uuid(&row, "company_id")?,
        acl: get(&row, "acl")?,
        acl_version: get(&row, "acl_version")?,
        key_version,
        expires_at: get(&row, "expires_at")?,
        name: get(&row, "name")?,
        name_for_admins: get(&row, "name_for_admins")?,
        entries,
        owner_ids,
        grants,
        manifest,
        object_count,
        created_at: get(&row, "created_at")?,
        updated_at: get(&row, "updated_at")?,
    }))
}

async fn replace_entries(
    conn: &mut SqliteConnection,
    share_id: &str,
    entries: &[ShareEntry],
    now: i64,
) -> StoreResult<()> {
    sqlx::query(ENTRIES_CLEAR)
        .bind(share_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    for e in entries {
        sqlx::query(ENTRY_INSERT)
            .bind(share_id)
            .bind(e.kind.as_str())
            .bind(id(e.principal_id))
            .bind(e.role.as_str())
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        if e.kind == PrincipalKind::User && e.role != ShareRole::Owner {
            sqlx::query(STATE_INVITE)
                .bind(share_id)
                .bind(id(e.principal_id))
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
        }
    }
    Ok(())
}

async fn put_grants(
    conn: &mut SqliteConnection,
    share_id: &str,
    grants: &[ShareGrantRecord],
    now: i64,
) -> StoreResult<()> {
    for g in grants {
        sqlx::query(GRANT_UPSERT)
            .bind(share_id)
            .bind(g.kind.as_str())
            .bind(id(g.principal_id))
            .bind(g.key_version)
            .bind(&g.sealed)
            .bind(id(g.granted_by))
            .bind(&g.signature)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Users who are principals of the share now, whatever their state.
async fn audience(conn: &mut SqliteConnection, share_id: &str) -> StoreResult<Vec<Uuid>> {
    sqlx::query(sql::SHARE_AUDIENCE)
        .bind(share_id)
        .fetch_all(conn)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| get_uuid(r, "user_id"))
        .collect()
}

/// Deletes the share inside the caller's transaction: objects (with tombstones), the vault and
/// everything that hangs off it; the users who could read it keep its tombstones. Returns them
/// and the last feed position taken (0 if none).
pub(crate) async fn delete_share_in(
    conn: &mut SqliteConnection,
    share_id: &str,
    now: i64,
) -> StoreResult<(Vec<Uuid>, i64)> {
    let share = read_share(&mut *conn, share_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let states = sqlx::query(STATES_OF_SHARE)
        .bind(share_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    let mut accepted = BTreeSet::new();
    for row in &states {
        if parse_state(get(row, "state")?)? == ShareState::Accepted {
            accepted.insert(get_uuid(row, "user_id")?);
        }
    }
    let expired = share.is_expired(now);
    let mut readers: BTreeSet<Uuid> = share.owner_ids.iter().copied().collect();
    if !expired {
        for u in audience(&mut *conn, share_id).await? {
            if accepted.contains(&u) {
                readers.insert(u);
            }
        }
    }
    let objects = sqlx::query(sql::OBJECTS_OF_VAULT)
        .bind(share_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    let mut last = 0;
    for object in &objects {
        let object_id: String = get(object, "id")?;
        let version: i64 = get(object, "version")?;
        last = delete_object_leaving_tombstone(&mut *conn, &object_id, version, now)
            .await?
            .ok_or_else(|| StoreError::Backend("an object changed during its removal".into()))?;
    }
    for reader in &readers {
        sqlx::query(DELETED_READER_INSERT)
            .bind(share_id)
            .bind(id(*reader))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    // Shares, entries, grants, states and the manifest go with the vault (ON DELETE CASCADE).
    sqlx::query(VAULT_DELETE)
        .bind(share_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok((readers.into_iter().collect(), last))
}

/// What deleting a user does to shares, inside the caller's transaction: shares the user is the
/// only owner of are deleted; the user's entries and grants go from the others.
pub(crate) async fn remove_user_from_shares(
    conn: &mut SqliteConnection,
    user_id: &str,
    now: i64,
) -> StoreResult<()> {
    let owned = sqlx::query(SHARES_OWNED_BY)
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    for row in &owned {
        let share_id: String = get(row, "share_id")?;
        let owners: i64 = get(
            &sqlx::query(OWNER_COUNT)
                .bind(&share_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?,
            "owners",
        )?;
        if owners <= 1 {
            delete_share_in(&mut *conn, &share_id, now).await?;
        }
    }
    for statement in [USER_ENTRIES_DELETE, USER_GRANTS_DELETE] {
        sqlx::query(statement)
            .bind(user_id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

fn manifest_of(share_id: Uuid, manifest: &ManifestWrite) -> StoreResult<()> {
    if manifest.vault_id != share_id {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the trait

#[async_trait]
impl ShareStore for SqliteStore {
    async fn create_share(&self, create: ShareCreate) -> StoreResult<ShareRecord> {
        check_entries(&create.entries, &create.grants)?;
        manifest_of(create.id, &create.manifest)?;
        let share_id = id(create.id);
        let company_id = id(create.company_id);
        let mut tx = self.begin_write().await?;
        if exists(&mut tx, VAULT_EXISTS, &share_id).await? {
            return Err(StoreError::AlreadyExists("share"));
        }
        if !exists(&mut tx, COMPANY_EXISTS, &company_id).await? {
            return Err(StoreError::NotFound);
        }
        sqlx::query(SHARE_VAULT_INSERT)
            .bind(&share_id)
            .bind(&company_id)
            .bind(Vec::<u8>::new())
            .bind(create.key_version)
            .bind(create.now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, &[("vaults.id", "share")]))?;
        sqlx::query(SHARE_INSERT)
            .bind(&share_id)
            .bind(&company_id)
            .bind(&create.acl)
            .bind(create.acl_version)
            .bind(create.key_version)
            .bind(create.expires_at)
            .bind(&create.name)
            .bind(&create.name_for_admins)
            .bind(create.now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, &[("shares.id", "share")]))?;
        replace_entries(&mut tx, &share_id, &create.entries, create.now).await?;
        if create
            .grants
            .iter()
            .any(|g| g.key_version != create.key_version)
        {
            return Err(StoreError::VersionConflict {
                current: create.key_version,
            });
        }
        put_grants(&mut tx, &share_id, &create.grants, create.now).await?;
        // The manifest's writer is the creator, an owner of the new share.
        let creator = create
            .entries
            .iter()
            .find(|e| e.kind == PrincipalKind::User && e.role == ShareRole::Owner)
            .map(|e| id(e.principal_id))
            .ok_or(StoreError::NotFound)?;
        write_manifests(
            &mut tx,
            &creator,
            std::slice::from_ref(&create.manifest),
            create.now,
        )
        .await?;
        let share = read_share(&mut tx, &share_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(share)
    }

    async fn share(&self, share_id: Uuid) -> StoreResult<Option<ShareRecord>> {
        let mut tx = self.begin_read().await?;
        let share = read_share(&mut tx, &id(share_id)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(share)
    }

    async fn shares_for_user(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<UserShare>> {
        let user = id(user_id);
        let mut tx = self.begin_read().await?;
        let rows = sqlx::query(PRINCIPAL_OF)
            .bind(&user)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let state_rows = sqlx::query(STATES_OF_USER)
            .bind(&user)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let mut states = std::collections::HashMap::new();
        for row in &state_rows {
            states.insert(get_uuid(row, "share_id")?, parse_state(get(row, "state")?)?);
        }
        // share id -> groups through which the user is a principal.
        let mut principal_of: std::collections::BTreeMap<Uuid, Vec<Uuid>> = Default::default();
        for row in &rows {
            let share_id = get_uuid(row, "share_id")?;
            let via = principal_of.entry(share_id).or_default();
            if let Some(group) = get_opt_uuid(row, "group_id")? {
                via.push(group);
            }
        }
        let mut out = Vec::with_capacity(principal_of.len());
        for (share_id, via_groups) in principal_of {
            let Some(share) = read_share(&mut tx, &id(share_id)).await? else {
                continue;
            };
            if let Some(user_share) = user_view(share, user_id, via_groups, &states, now) {
                out.push(user_share);
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn shares_of_company(&self, company_id: Uuid) -> StoreResult<Vec<ShareRecord>> {
        let mut tx = self.begin_read().await?;
        let ids = sqlx::query(SHARES_OF_COMPANY)
            .bind(id(company_id))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| get::<String>(r, "id"))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for share_id in ids {
            if let Some(share) = read_share(&mut tx, &share_id).await? {
                out.push(share);
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn share_audience(&self, share_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        audience(&mut conn, &id(share_id)).await
    }

    async fn update_acl(&self, share_id: Uuid, write: AclWrite) -> StoreResult<ShareRecord> {
        check_entries(&write.entries, &write.grants)?;
        let share = id(share_id);
        let mut tx = self.begin_write().await?;
        let current = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        if write.acl_version != current.acl_version + 1 {
            return Err(StoreError::VersionConflict {
                current: current.acl_version,
            });
        }
        if write
            .grants
            .iter()
            .any(|g| g.key_version != current.key_version)
        {
            return Err(StoreError::VersionConflict {
                current: current.key_version,
            });
        }
        let updated = sqlx::query(SHARE_UPDATE_ACL)
            .bind(&share)
            .bind(&write.acl)
            .bind(write.acl_version)
            .bind(write.expires_at)
            .bind(write.now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            // Unreachable under BEGIN IMMEDIATE (checked above in this transaction).
            return Err(StoreError::VersionConflict {
                current: current.acl_version,
            });
        }
        replace_entries(&mut tx, &share, &write.entries, write.now).await?;
        sqlx::query(GRANTS_OF_UNLISTED)
            .bind(&share)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        put_grants(&mut tx, &share, &write.grants, write.now).await?;
        let record = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn add_grants(
        &self,
        share_id: Uuid,
        grants: Vec<ShareGrantRecord>,
        now: i64,
    ) -> StoreResult<ShareRecord> {
        let share = id(share_id);
        let mut tx = self.begin_write().await?;
        let current = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        check_entries(&current.entries, &grants)?;
        if grants.iter().any(|g| g.key_version != current.key_version) {
            return Err(StoreError::VersionConflict {
                current: current.key_version,
            });
        }
        put_grants(&mut tx, &share, &grants, now).await?;
        sqlx::query(SHARE_TOUCH)
            .bind(&share)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let record = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn rotate_share(
        &self,
        share_id: Uuid,
        rotation: ShareRotation,
    ) -> StoreResult<(ShareRecord, Vec<i64>)> {
        check_entries(&rotation.entries, &rotation.grants)?;
        manifest_of(share_id, &rotation.manifest)?;
        let share = id(share_id);
        let mut tx = self.begin_write().await?;
        let current = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        if rotation.acl_version != current.acl_version + 1
            || rotation.key_version != current.key_version + 1
        {
            return Err(StoreError::VersionConflict {
                current: current.acl_version,
            });
        }
        if rotation
            .grants
            .iter()
            .any(|g| g.key_version != rotation.key_version)
        {
            return Err(StoreError::VersionConflict {
                current: current.key_version,
            });
        }
        // The objects given must be exactly the share's objects at their stored versions.
        let stored = sqlx::query(sql::OBJECTS_OF_VAULT)
            .bind(&share)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let mut stored_versions = std::collections::BTreeMap::new();
        for row in &stored {
            stored_versions.insert(get_uuid(row, "id")?, get::<i64>(row, "version")?);
        }
        let mut listed = BTreeSet::new();
        for o in &rotation.objects {
            match stored_versions.get(&o.id) {
                None => return Err(StoreError::VersionConflict { current: 0 }),
                Some(&v) if v != o.expected_version => {
                    return Err(StoreError::VersionConflict { current: v })
                }
                Some(_) => {}
            }
            if !listed.insert(o.id) {
                return Err(StoreError::Backend("an object is listed twice".into()));
            }
        }
        if let Some((_, &v)) = stored_versions.iter().find(|(k, _)| !listed.contains(*k)) {
            return Err(StoreError::VersionConflict { current: v });
        }
        let updated = sqlx::query(SHARE_ROTATE)
            .bind(&share)
            .bind(&rotation.acl)
            .bind(rotation.acl_version)
            .bind(rotation.key_version)
            .bind(rotation.expires_at)
            .bind(&rotation.name)
            .bind(&rotation.name_for_admins)
            .bind(rotation.now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::VersionConflict {
                current: current.acl_version,
            });
        }
        sqlx::query(VAULT_KEY_VERSION)
            .bind(&share)
            .bind(rotation.key_version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        replace_entries(&mut tx, &share, &rotation.entries, rotation.now).await?;
        sqlx::query(GRANTS_CLEAR)
            .bind(&share)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        put_grants(&mut tx, &share, &rotation.grants, rotation.now).await?;
        // The rotating owner writes the manifest; any owner of the new ACL may.
        let writer = rotation
            .entries
            .iter()
            .find(|e| e.kind == PrincipalKind::User && e.role == ShareRole::Owner)
            .map(|e| id(e.principal_id))
            .ok_or(StoreError::NotFound)?;
        write_manifests(
            &mut tx,
            &writer,
            std::slice::from_ref(&rotation.manifest),
            rotation.now,
        )
        .await?;
        let mut seqs = Vec::with_capacity(rotation.objects.len());
        for o in &rotation.objects {
            let seq = next_seq(&mut tx).await?;
            let written = sqlx::query(sql::OBJECT_REWRAP)
                .bind(id(o.id))
                .bind(o.expected_version)
                .bind(o.expected_version + 1)
                .bind(&o.key_wrap)
                .bind(&o.overview)
                .bind(&o.details)
                .bind(seq)
                .bind(rotation.now)
                .bind(&share)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            if written == 0 {
                // Unreachable under BEGIN IMMEDIATE.
                return Err(StoreError::VersionConflict {
                    current: o.expected_version,
                });
            }
            seqs.push(seq);
        }
        let record = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok((record, seqs))
    }

    async fn set_share_state(
        &self,
        share_id: Uuid,
        user_id: Uuid,
        state: ShareState,
        now: i64,
    ) -> StoreResult<()> {
        if state == ShareState::Invited {
            return Err(StoreError::Backend(
                "a recipient accepts or declines".into(),
            ));
        }
        let (share, user) = (id(share_id), id(user_id));
        let mut tx = self.begin_write().await?;
        let current = read_share(&mut tx, &share)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.owner_ids.contains(&user_id)
            || !audience(&mut tx, &share).await?.contains(&user_id)
            || !exists(&mut tx, USER_EXISTS, &user).await?
        {
            return Err(StoreError::NotFound);
        }
        sqlx::query(STATE_SET)
            .bind(&share)
            .bind(&user)
            .bind(state.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_share(&self, share_id: Uuid, now: i64) -> StoreResult<(Vec<Uuid>, i64)> {
        let mut tx = self.begin_write().await?;
        let deleted = delete_share_in(&mut tx, &id(share_id), now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(deleted)
    }
}
