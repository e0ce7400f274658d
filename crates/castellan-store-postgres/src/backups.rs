//! Organisation backup storage (schema in `migrations/0005_backups.sql`).

use async_trait::async_trait;
use castellan_store::{
    BackupRecord, BackupStore, BackupSummary, HandoverRecord, StoreError, StoreResult,
};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::{get, map_unique, retry, Error, PgStore};

const COMPANY_EXISTS: &str = "SELECT 1 FROM companies WHERE id = $1";
const BACKUP_INSERT: &str = "INSERT INTO backups (backup_id, company_id, user_id, user_email, \
     created_at, key_version, public_key, sealed_key, envelope, member_cert, signature) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const BACKUP_LIST: &str = "SELECT user_id, user_email, backup_id, created_at, key_version, \
     octet_length(envelope)::BIGINT AS size FROM backups \
     WHERE company_id = $1 AND ($2::UUID IS NULL OR user_id = $2) \
     ORDER BY user_email COLLATE \"C\", user_id, created_at DESC, backup_id";
const BACKUP_GET: &str = "SELECT backup_id, company_id, user_id, user_email, created_at, \
     key_version, public_key, sealed_key, envelope, member_cert, signature FROM backups \
     WHERE company_id = $1 AND backup_id = $2";
const BACKUP_PRUNE: &str = "DELETE FROM backups WHERE company_id = $1 AND created_at < $2";
const BACKUP_DELETE_ALL: &str = "DELETE FROM backups WHERE company_id = $1";
const HANDOVER_INSERT: &str = "INSERT INTO backup_handovers (id, company_id, user_id, \
     created_by, created_at, sealed, admin_cert, signature) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const HANDOVERS_FOR: &str = "SELECT id, company_id, user_id, created_by, created_at, sealed, \
     admin_cert, signature FROM backup_handovers WHERE user_id = $1 ORDER BY created_at, id";
const HANDOVER_DELETE: &str = "DELETE FROM backup_handovers WHERE user_id = $1 AND id = $2";

fn backup_from_row(row: &PgRow) -> StoreResult<BackupRecord> {
    Ok(BackupRecord {
        company_id: get(row, "company_id")?,
        user_id: get(row, "user_id")?,
        user_email: get(row, "user_email")?,
        backup_id: get(row, "backup_id")?,
        created_at: get(row, "created_at")?,
        key_version: get(row, "key_version")?,
        public_key: get(row, "public_key")?,
        sealed_key: get(row, "sealed_key")?,
        envelope: get(row, "envelope")?,
        member_cert: get(row, "member_cert")?,
        signature: get(row, "signature")?,
    })
}

fn handover_from_row(row: &PgRow) -> StoreResult<HandoverRecord> {
    Ok(HandoverRecord {
        id: get(row, "id")?,
        company_id: get(row, "company_id")?,
        user_id: get(row, "user_id")?,
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
        sealed: get(row, "sealed")?,
        admin_cert: get(row, "admin_cert")?,
        signature: get(row, "signature")?,
    })
}

impl PgStore {
    async fn put_backup_once(&self, b: &BackupRecord) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        if sqlx::query(COMPANY_EXISTS)
            .bind(b.company_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound.into());
        }
        sqlx::query(BACKUP_INSERT)
            .bind(b.backup_id)
            .bind(b.company_id)
            .bind(b.user_id)
            .bind(&b.user_email)
            .bind(b.created_at)
            .bind(b.key_version)
            .bind(&b.public_key)
            .bind(&b.sealed_key)
            .bind(&b.envelope)
            .bind(&b.member_cert)
            .bind(&b.signature)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, &[("backups_pkey", "backup")]))?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_where(
        &self,
        query: &str,
        company_id: Uuid,
        before: Option<i64>,
    ) -> Result<u64, Error> {
        let mut tx = self.begin_write().await?;
        let mut q = sqlx::query(query).bind(company_id);
        if let Some(b) = before {
            q = q.bind(b);
        }
        let n = q.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn put_handover_once(&self, h: &HandoverRecord) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(HANDOVER_INSERT)
            .bind(h.id)
            .bind(h.company_id)
            .bind(h.user_id)
            .bind(h.created_by)
            .bind(h.created_at)
            .bind(&h.sealed)
            .bind(&h.admin_cert)
            .bind(&h.signature)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if e.as_database_error()
                    .is_some_and(|d| d.is_foreign_key_violation())
                {
                    return Error::Store(StoreError::NotFound);
                }
                map_unique(e, &[("backup_handovers_pkey", "handover")])
            })?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl BackupStore for PgStore {
    async fn put_backup(&self, b: BackupRecord) -> StoreResult<()> {
        retry(|| self.put_backup_once(&b)).await
    }

    async fn list_backups(
        &self,
        company_id: Uuid,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<BackupSummary>> {
        let rows = retry(|| async {
            let mut tx = self.begin_read().await?;
            let rows = sqlx::query(BACKUP_LIST)
                .bind(company_id)
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(rows)
        })
        .await?;
        rows.iter()
            .map(|row| {
                Ok(BackupSummary {
                    user_id: get(row, "user_id")?,
                    user_email: get(row, "user_email")?,
                    backup_id: get(row, "backup_id")?,
                    created_at: get(row, "created_at")?,
                    key_version: get(row, "key_version")?,
                    size: get(row, "size")?,
                })
            })
            .collect()
    }

    async fn get_backup(
        &self,
        company_id: Uuid,
        backup_id: Uuid,
    ) -> StoreResult<Option<BackupRecord>> {
        let row = retry(|| async {
            let mut tx = self.begin_read().await?;
            let row = sqlx::query(BACKUP_GET)
                .bind(company_id)
                .bind(backup_id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(row)
        })
        .await?;
        row.as_ref().map(backup_from_row).transpose()
    }

    async fn prune_backups(&self, company_id: Uuid, before: i64) -> StoreResult<u64> {
        retry(|| self.delete_where(BACKUP_PRUNE, company_id, Some(before))).await
    }

    async fn delete_company_backups(&self, company_id: Uuid) -> StoreResult<u64> {
        retry(|| self.delete_where(BACKUP_DELETE_ALL, company_id, None)).await
    }

    async fn put_handover(&self, h: HandoverRecord) -> StoreResult<()> {
        retry(|| self.put_handover_once(&h)).await
    }

    async fn handovers_for(&self, user_id: Uuid) -> StoreResult<Vec<HandoverRecord>> {
        let rows = retry(|| async {
            let mut tx = self.begin_read().await?;
            let rows = sqlx::query(HANDOVERS_FOR)
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(rows)
        })
        .await?;
        rows.iter().map(handover_from_row).collect()
    }

    async fn delete_handover(&self, user_id: Uuid, handover_id: Uuid) -> StoreResult<()> {
        retry(|| async {
            let mut tx = self.begin_write().await?;
            let n = sqlx::query(HANDOVER_DELETE)
                .bind(user_id)
                .bind(handover_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(Error::Store(StoreError::NotFound));
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
