//! The storage boundary of the Castellan server.
//!
//! The server is generic over [`Store`]; each backend (SQLite now, PostgreSQL next) lives in its
//! own crate with its own migrations and runs the conformance suite in `castellan-store-tests`.
//!
//! Everything stored here is either public metadata (ids, versions, timestamps, email) or
//! ciphertext produced by clients. The store never sees a key or a plaintext secret.

#![forbid(unsafe_code)]

use async_trait::async_trait;
use uuid::Uuid;

mod backups;
mod org;
mod records;
mod shares;
pub use backups::*;
pub use org::*;
pub use records::*;
pub use shares::*;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (email, id) is already taken.
    #[error("already exists: {0}")]
    AlreadyExists(&'static str),
    /// A write named a version that is not the current one (optimistic concurrency).
    #[error("version conflict: current version is {current}")]
    VersionConflict { current: i64 },
    /// A manifest write named a counter that does not follow the stored one.
    #[error("manifest conflict on vault {vault_id}: current counter is {current}")]
    ManifestConflict { vault_id: Uuid, current: i64 },
    /// The row the write refers to does not exist (or belongs to someone else).
    #[error("not found")]
    NotFound,
    /// A limit of the company or instance is reached (for example `"seats"`).
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    /// Anything else from the backend (I/O, driver, migration). The message carries no secrets.
    #[error("storage backend error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage trait. All methods are atomic: either everything they describe happens, or nothing.
///
/// Times are Unix seconds (`i64`). Ownership checks (`user_id` arguments) are part of every
/// query, so a handler can never read or write another user's rows by id alone.
#[async_trait]
pub trait Store: OrgStore + ShareStore + BackupStore + Send + Sync + Clone + 'static {
    // ---- server configuration
    /// Returns the value stored under `key`, storing `init` first if there is none. Safe when
    /// several instances start at once (the first writer wins, everyone gets the same value).
    async fn config_get_or_init(&self, key: &str, init: Vec<u8>) -> StoreResult<Vec<u8>>;

    // ---- accounts
    /// Creates the user and its vaults in one transaction. `AlreadyExists("email")` or
    /// `AlreadyExists("user")` when taken.
    async fn create_user(&self, user: NewUser, vaults: Vec<NewVault>) -> StoreResult<()>;
    /// `email` is compared exactly; callers normalise (trim + lowercase) before calling.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>>;
    /// Replaces the OPAQUE password file and the key set (master password change). Bumps
    /// `credentials_version`; fails with `VersionConflict` if `expected_credentials_version`
    /// is not current.
    async fn update_user_credentials(
        &self,
        user_id: Uuid,
        expected_credentials_version: i64,
        opaque_record: Vec<u8>,
        keyset: String,
        now: i64,
    ) -> StoreResult<()>;

    // ---- login attempts (OPAQUE server state between the two login messages)
    async fn put_login_attempt(&self, attempt: LoginAttempt) -> StoreResult<()>;
    /// Removes and returns the attempt (single use). Expired attempts are returned as `None`.
    async fn take_login_attempt(&self, id: Uuid, now: i64) -> StoreResult<Option<LoginAttempt>>;

    // ---- sessions
    async fn create_session(&self, session: SessionRecord) -> StoreResult<()>;
    /// Only sessions that are not revoked and not expired at `now`.
    async fn session_by_token_hash(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, session_id: Uuid, now: i64) -> StoreResult<()>;
    /// Sessions of the user that are neither revoked nor expired at `now`, newest first.
    async fn list_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<SessionRecord>>;
    /// `NotFound` if the session is not the user's.
    async fn revoke_session(&self, user_id: Uuid, session_id: Uuid, now: i64) -> StoreResult<()>;
    /// Revokes every live session of the user except `keep` (if given). Returns how many.
    async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: i64,
    ) -> StoreResult<u64>;

    // ---- rate limiting (fixed windows, shared by every server instance)
    /// Adds one hit to `key` in the window starting at `window_start` and returns the count in
    /// that window (after the hit). Older windows of the key are discarded.
    async fn rate_limit_hit(&self, key: &str, window_start: i64) -> StoreResult<u32>;
    /// Count in the window without adding a hit.
    async fn rate_limit_count(&self, key: &str, window_start: i64) -> StoreResult<u32>;
    async fn rate_limit_clear(&self, key: &str) -> StoreResult<()>;

    // ---- vaults
    async fn vaults_for_user(&self, user_id: Uuid) -> StoreResult<Vec<VaultRecord>>;

    // ---- vault objects (items and folders; ciphertext only)
    /// Creates (`expected_version == None`, the object must not exist: `AlreadyExists("object")`)
    /// or updates (`Some(v)`: the stored version must be `v`, else `VersionConflict`) an object.
    /// The new version is `write.version`, which must be `expected + 1` (or 1 on create), else
    /// `VersionConflict`. The user (`write.user_id`, the writer) must be able to write the target
    /// vault at `write.now` (`NotFound` otherwise): their own vault, or a share in which they are
    /// an owner or editor (see [`ShareStore`]); on update the object must be in a vault the user
    /// can write (`NotFound` otherwise) and may move to another vault the user can write (so an
    /// object moves between a share and an own vault only by a writer of both). Objects of own
    /// vaults have `user_id` = the owner and no `author_id`; objects of a share have no
    /// `user_id` and `author_id` = the writer. An object that leaves a share leaves a tombstone
    /// in that share's feed (readers who cannot read its new vault learn that it is gone).
    ///
    /// `manifests` are stored in the same transaction, each with a compare-and-swap on its
    /// counter (`ManifestConflict`); each must name a vault the user can write (`NotFound`).
    /// The write gets a new feed position (`seq`).
    async fn put_object(
        &self,
        write: ObjectWrite,
        expected_version: Option<i64>,
        manifests: &[ManifestWrite],
    ) -> StoreResult<ObjectRecord>;
    /// The object if it is in a vault the user can read (now, by the wall clock).
    async fn get_object(&self, user_id: Uuid, object_id: Uuid)
        -> StoreResult<Option<ObjectRecord>>;
    /// All objects of every vault the user can read (own vaults and readable shares),
    /// optionally only one vault, ordered by id.
    async fn list_objects(
        &self,
        user_id: Uuid,
        vault_id: Option<Uuid>,
    ) -> StoreResult<Vec<ObjectRecord>>;
    /// Hard delete (emptying the trash). `VersionConflict` if `expected_version` is not current,
    /// `NotFound` if absent or not in a vault the user can write. Leaves a tombstone with a new
    /// feed position, which it returns; `manifests` as in `put_object`, in the same
    /// transaction.
    async fn delete_object(
        &self,
        user_id: Uuid,
        object_id: Uuid,
        expected_version: i64,
        manifests: &[ManifestWrite],
        now: i64,
    ) -> StoreResult<i64>;

    // ---- change feed and manifests
    /// Objects and tombstones of the user with `seq > since`, in seq order, at most `limit`
    /// entries in all. The feed of a user is the objects and tombstones of every vault they can
    /// read now (own vaults and readable shares), plus the tombstones of shares deleted while
    /// they could read them; a tombstone of an object that still exists in a vault the user can
    /// read (it moved) is left out. An unknown `since` (greater than the feed's current position) or an
    /// expired one (below the newest pruned tombstone position) gives a page from 0 with
    /// `reset` set.
    async fn changes_since(&self, user_id: Uuid, since: i64, limit: u32)
        -> StoreResult<ChangePage>;
    /// Current manifests of every vault the user can read (own vaults and readable shares).
    async fn manifests_for_user(&self, user_id: Uuid) -> StoreResult<Vec<ManifestRecord>>;
    /// Forgets tombstones older than `before` (Unix seconds); cursors at or below the newest
    /// forgotten tombstone position become expired. Returns how many were removed.
    async fn prune_tombstones(&self, before: i64) -> StoreResult<u64>;
}
