//! Conformance scenarios for implementations of [`castellan_store::Store`].
//!
//! Every backend runs the same suite. Each scenario is a `pub async fn name<S: Store>(store: &S)`
//! that panics on failure and uses fresh random ids and emails, so scenarios can share one
//! database or each get their own.
//!
//! The usual way to run them is one `#[tokio::test]` per scenario:
//!
//! ```text
//! async fn make_store() -> MyStore { MyStore::connect(...).await.unwrap() }
//! castellan_store_tests::conformance_tests!(MyStore, make_store);
//! ```
//!
//! `make_store` may also return a fixture that owns the store and whatever must outlive it (a
//! temporary directory, a container guard) if the fixture implements
//! `std::borrow::Borrow<MyStore>`. A plain store works as is (`Borrow<T> for T`). The short form
//! `conformance_tests!(async fn make_store() -> MyStore { ... });` defines the function too.
//! The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.
//!
//! Alternatively [`run_all`] runs every scenario against one store.
//!
//! Semantics pinned here beyond the trait's doc comments (every backend must agree):
//! - an expiry time `t` means "live while `now < t`": at `now == t` a session or login attempt
//!   is expired;
//! - `touch_session` of an unknown session is `NotFound`; revoking an already revoked session of
//!   the user succeeds and keeps it revoked;
//! - `put_object` checks the object row (existence, owner, versions) before the target vault,
//!   and both before the manifests; `delete_object` checks the object before the manifests. So
//!   a write that is stale on both counts is a `VersionConflict`. Manifests are checked in the
//!   order given; a missing manifest has counter 0 (`ManifestConflict { current: 0 }`);
//!   a stored manifest's `updated_at` is the write's `now`;
//! - a tombstone keeps its id taken for other users: creating an id that another user deleted
//!   is `AlreadyExists("object")` until the tombstone is pruned (the same user may create it
//!   again, which removes the tombstone);
//! - the change feed: `since` equal to the newest pruned tombstone position is valid (only a
//!   `since` below it is expired); a reset page without entries has a cursor that is valid on
//!   the next call (the feed position); the cursor of a page without reset, passed back, gives
//!   no reset unless something was pruned in between;
//! - `prune_tombstones` acts on the whole database. The `tombstones_prune_*` scenario uses
//!   deletion times far before [`T0`] so it only prunes its own tombstones, but the raised
//!   floor expires every older cursor: run it last (as [`run_all`] does) or alone.
//!
//! Organisation semantics pinned here (the `org_*` scenarios):
//! - the setup token lives in `server_config`; a refused `create_company` (wrong token, taken
//!   id, founder already a member, unknown partner, Everyone member who is not a member of the
//!   new company) creates nothing and leaves the token in place; two setups racing with one
//!   token create one company, the other gets `NotFound`;
//! - a customer's `partner_id` must name a partner (`NotFound` otherwise); the founder becomes a
//!   confirmed admin with `confirmed_by` = themselves and `confirmed_at` = `created_at`;
//! - `create_invitation` uses the invitation's `created_at` as "now" and checks, in this order:
//!   the company exists (`NotFound`), the email is a member (`AlreadyExists("member")`), an open
//!   invitation of the company for the email exists (`AlreadyExists("invitation")`, other
//!   companies may invite the same email), the seats (`LimitReached("seats")`); a taken id is
//!   `AlreadyExists("invitation")`; `CompanyRecord::seats_used` counts open invitations at the
//!   wall clock (the reads take no `now`);
//! - `accept_invitation` does not compare emails (the server does); an unknown user is
//!   `NotFound`; an accepted invitation cannot be revoked (`NotFound`), a revoked one keeps its
//!   first `revoked_at`;
//! - deleting or ending a company's row that is absent or another company's is `NotFound`
//!   (`delete_key_grant`, `unassign_technician`, `revoke_invitation`, `remove_member`,
//!   `delete_group`, `delete_policy_template`, also `delete_user` and
//!   `set_session_restriction` of an unknown id); `delete_two_factor` and
//!   `delete_two_factor_challenge` succeed when there is nothing to delete;
//! - `assign_technician` needs a `technician` member of the customer's partner (`NotFound`);
//!   assigning again replaces the grant;
//! - group members must be members of the group's company (`NotFound`, nothing written); a
//!   member listed twice, or a grant for another group or an unlisted user, is a caller bug
//!   (`Backend`); `members` keeps the roster order; `groups_of` lists Everyone first, then by
//!   name (byte order); `remove_member` drops the user's group grants but leaves the member
//!   lists as uploaded (a client re-signs the rosters);
//! - key grants and technician assignments that `remove_member` ends are those for the company
//!   and, for a partner, for its customers;
//! - `use_totp_step` of a user without 2FA is `NotFound`; `put_two_factor` keeps the order of
//!   the recovery code hashes;
//! - `query_audit`: `event_prefix` is a plain string prefix (`login` matches `loginx.y`; no
//!   wildcards), `since` and `until` are both inclusive, an empty company list or a zero
//!   limit gives no events.

use castellan_store::{
    ChangePage, LoginAttempt, ManifestRecord, ManifestWrite, NewUser, NewVault, ObjectKind,
    ObjectRecord, ObjectWrite, SessionRecord, Store, StoreError, Tombstone, VaultKind,
};
use uuid::Uuid;

mod backups;
mod org;
mod shares;
pub use backups::*;
pub use org::*;
pub use shares::*;

/// A fixed "now" for the scenarios (Unix seconds).
pub const T0: i64 = 1_700_000_000;

/// Expands to one `#[tokio::test]` per scenario. See the crate documentation.
///
/// - `conformance_tests!(StoreType, make_fixture);` where `make_fixture` is an expression
///   callable as `make_fixture().await` returning `F: Borrow<StoreType>`;
/// - `conformance_tests!(async fn make_store() -> StoreType { ... });`
#[macro_export]
macro_rules! conformance_tests {
    (async fn $make:ident () -> $store:ty $body:block) => {
        async fn $make() -> $store $body
        $crate::conformance_tests!($store, $make);
    };
    ($store:ty, $make:expr $(,)?) => {
        $crate::__conformance_scenarios!(tests $store, $make);
    };
}

/// The one list of scenarios, shared by [`conformance_tests!`] and [`run_all`].
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_scenarios {
    ($($mode:tt)*) => {
        $crate::__conformance_emit! {
            [$($mode)*]
            config_get_or_init_keeps_first_value
            config_get_or_init_concurrent_agree
            user_create_and_look_up
            user_duplicate_email
            user_duplicate_id
            user_create_is_atomic
            user_concurrent_same_email_one_wins
            credentials_update_bumps_version
            credentials_update_stale_version
            credentials_update_unknown_user
            login_attempt_single_use
            login_attempt_expired_is_none
            session_lookup_by_token_hash
            session_expired_or_revoked_is_hidden
            session_touch_updates_last_seen
            session_list_newest_first_live_only
            session_revoke_own_and_foreign
            session_revoke_others_keeps_one
            session_revoke_others_without_keep
            rate_limit_counts_within_window
            rate_limit_new_window_resets
            rate_limit_clear_resets
            vaults_listed_per_user
            object_create_and_get
            object_create_requires_version_one
            object_create_existing_id
            object_create_in_foreign_or_missing_vault
            object_update_compare_and_swap
            object_update_wrong_increment
            object_update_missing_or_foreign
            object_move_between_own_vaults
            object_move_into_foreign_vault_refused
            object_get_foreign_is_none
            object_list_filters_and_orders
            object_delete_hard
            object_delete_stale_version
            object_delete_missing_or_foreign
            object_concurrent_updates_one_wins
            object_concurrent_creates_one_wins
            object_seq_moves_with_each_write
            feed_pages_in_seq_order
            feed_is_per_user
            feed_delete_leaves_tombstone
            feed_recreate_removes_tombstone
            feed_reset_for_unknown_cursor
            manifest_counter_starts_at_one_and_grows_by_one
            manifest_conflict_leaves_object_unchanged
            manifest_conflict_on_delete_keeps_object
            version_conflict_leaves_manifest_unchanged
            manifest_for_foreign_or_missing_vault_not_found
            object_move_with_two_manifests
            manifests_listed_per_user
            org_setup_token_get_or_init_keeps_first
            org_setup_token_consumed_once
            org_company_create_is_atomic
            org_company_read_and_update
            org_policy_compare_and_swap
            org_revocations_compare_and_swap
            org_key_grants
            org_technician_assignments
            org_invitation_lifecycle
            org_invitation_accept_creates_member
            org_one_company_per_user
            org_invitation_concurrent_accept_single_use
            org_seats_limit
            org_seats_concurrent_last_seat
            org_member_confirm_and_update
            org_remove_member_keeps_items
            org_remove_member_deletes_business_items
            org_delete_user
            org_groups_create_list_delete
            org_group_roster_compare_and_swap
            org_policy_templates
            org_two_factor_steps_and_recovery_codes
            org_two_factor_challenges_expire
            org_session_restriction_round_trip
            org_audit_append_and_query
            org_audit_concurrent_appends
            share_access_via_user_entry
            share_access_via_group
            share_expired_and_declined
            share_acl_and_rotation
            share_delete_and_user_deletion
            share_moves
            backup_put_list_get_prune
            backup_recovery_group_flag
            backup_handovers
            tombstones_prune_expires_old_cursors
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_emit {
    ([tests $store:ty, $make:expr] $($name:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = ($make)().await;
                $crate::$name::<$store>(::std::borrow::Borrow::borrow(&fixture)).await;
            }
        )*
    };
    ([run_all $store:expr] $($name:ident)*) => {
        $( $crate::$name($store).await; )*
    };
    ([names] $($name:ident)*) => {
        &[$(stringify!($name)),*]
    };
}

/// Names of every scenario, in the order [`run_all`] runs them.
pub const SCENARIOS: &[&str] = __conformance_scenarios!(names);

/// Runs every scenario against one store (they do not interfere with each other).
pub async fn run_all<S: Store>(store: &S) {
    __conformance_scenarios!(run_all store);
}

// ---------------------------------------------------------------------------------------------
// helpers

fn random_bytes() -> Vec<u8> {
    let mut bytes = Uuid::new_v4().as_bytes().to_vec();
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes
}

fn new_user() -> NewUser {
    NewUser {
        id: Uuid::new_v4(),
        email: format!("{}@example.test", Uuid::new_v4().simple()),
        opaque_record: random_bytes(),
        keyset: format!("{{\"keyset\":\"{}\"}}", Uuid::new_v4()),
        created_at: T0,
    }
}

fn new_vault(kind: VaultKind) -> NewVault {
    NewVault {
        id: Uuid::new_v4(),
        kind,
        key_wrap: random_bytes(),
        key_version: 1,
    }
}

/// A created user with a personal and a business vault.
struct Account {
    user: NewUser,
    personal: Uuid,
    business: Uuid,
}

async fn account<S: Store>(store: &S) -> Account {
    let user = new_user();
    let personal = new_vault(VaultKind::Personal);
    let business = new_vault(VaultKind::Business);
    let (p, b) = (personal.id, business.id);
    store
        .create_user(user.clone(), vec![personal, business])
        .await
        .expect("create_user");
    Account {
        user,
        personal: p,
        business: b,
    }
}

fn item(user_id: Uuid, vault_id: Uuid, version: i64, now: i64) -> ObjectWrite {
    ObjectWrite {
        id: Uuid::new_v4(),
        user_id,
        vault_id,
        kind: ObjectKind::Item,
        version,
        trashed: false,
        key_wrap: random_bytes(),
        overview: random_bytes(),
        details: random_bytes(),
        now,
    }
}

/// The next version of `w` with new ciphertext.
fn next(w: &ObjectWrite, now: i64) -> ObjectWrite {
    ObjectWrite {
        version: w.version + 1,
        overview: random_bytes(),
        details: random_bytes(),
        now,
        ..w.clone()
    }
}

fn session(user_id: Uuid, created_at: i64, expires_at: i64) -> SessionRecord {
    SessionRecord {
        id: Uuid::new_v4(),
        user_id,
        token_hash: random_bytes(),
        device_name: format!("device {}", Uuid::new_v4().simple()),
        created_at,
        last_seen_at: created_at,
        expires_at,
        revoked_at: None,
        restriction: None,
    }
}

/// The record a write should produce; `seq` is the backend's to choose (see the feed scenarios).
fn record_of(w: &ObjectWrite, created_at: i64, seq: i64) -> ObjectRecord {
    ObjectRecord {
        id: w.id,
        user_id: Some(w.user_id),
        author_id: None,
        vault_id: w.vault_id,
        kind: w.kind,
        version: w.version,
        trashed: w.trashed,
        key_wrap: w.key_wrap.clone(),
        overview: w.overview.clone(),
        details: w.details.clone(),
        created_at,
        updated_at: w.now,
        seq,
    }
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, expected_current: i64) {
    match result {
        Err(StoreError::VersionConflict { current }) => {
            assert_eq!(current, expected_current, "current version")
        }
        other => {
            panic!("expected VersionConflict {{ current: {expected_current} }}, got {other:?}")
        }
    }
}

#[track_caller]
fn assert_manifest_conflict<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    expected_vault: Uuid,
    expected_current: i64,
) {
    match result {
        Err(StoreError::ManifestConflict { vault_id, current }) => {
            assert_eq!(vault_id, expected_vault, "conflicting vault");
            assert_eq!(current, expected_current, "current counter");
        }
        other => panic!(
            "expected ManifestConflict {{ vault_id: {expected_vault}, current: {expected_current} }}, got {other:?}"
        ),
    }
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[track_caller]
fn assert_exists<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::AlreadyExists(w)) => assert_eq!(w, what, "AlreadyExists target"),
        other => panic!("expected AlreadyExists({what:?}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// server configuration

/// The first value stored under a key is returned forever after.
pub async fn config_get_or_init_keeps_first_value<S: Store>(store: &S) {
    let key = format!("test-key-{}", Uuid::new_v4());
    let first = random_bytes();
    assert_eq!(
        store.config_get_or_init(&key, first.clone()).await.unwrap(),
        first
    );
    assert_eq!(
        store
            .config_get_or_init(&key, random_bytes())
            .await
            .unwrap(),
        first
    );
    // Keys are independent.
    let other = format!("test-key-{}", Uuid::new_v4());
    let value = random_bytes();
    assert_eq!(
        store
            .config_get_or_init(&other, value.clone())
            .await
            .unwrap(),
        value
    );
    assert_eq!(
        store.config_get_or_init(&key, Vec::new()).await.unwrap(),
        first
    );
}

/// Instances starting at once all get the same value (one of theirs).
pub async fn config_get_or_init_concurrent_agree<S: Store>(store: &S) {
    let key = format!("test-key-{}", Uuid::new_v4());
    let candidates: Vec<Vec<u8>> = (0..8).map(|_| random_bytes()).collect();
    let mut set = tokio::task::JoinSet::new();
    for candidate in candidates.clone() {
        let store = store.clone();
        let key = key.clone();
        set.spawn(async move { store.config_get_or_init(&key, candidate).await.unwrap() });
    }
    let results = set.join_all().await;
    assert!(
        candidates.contains(&results[0]),
        "the value is one of the candidates"
    );
    assert!(
        results.iter().all(|r| *r == results[0]),
        "every caller gets the same value"
    );
    assert_eq!(
        store
            .config_get_or_init(&key, random_bytes())
            .await
            .unwrap(),
        results[0]
    );
}

// ---------------------------------------------------------------------------------------------
// accounts

/// A created user is found by id and by exact email, with its vaults.
pub async fn user_create_and_look_up<S: Store>(store: &S) {
    let acc = account(store).await;
    let u = &acc.user;

    let by_id = store.user_by_id(u.id).await.unwrap().expect("user by id");
    assert_eq!(by_id.id, u.id);
    assert_eq!(by_id.email, u.email);
    assert_eq!(by_id.opaque_record, u.opaque_record);
    assert_eq!(by_id.keyset, u.keyset);
    assert_eq!(by_id.credentials_version, 1);
    assert_eq!(by_id.created_at, T0);
    assert_eq!(by_id.updated_at, T0);

    let by_email = store
        .user_by_email(&u.email)
        .await
        .unwrap()
        .expect("user by email");
    assert_eq!(by_email, by_id);

    // Exact comparison: callers normalise.
    assert_eq!(
        store.user_by_email(&u.email.to_uppercase()).await.unwrap(),
        None
    );
    assert_eq!(
        store.user_by_email("nobody@example.test").await.unwrap(),
        None
    );
    assert_eq!(store.user_by_id(Uuid::new_v4()).await.unwrap(), None);

    let vaults = store.vaults_for_user(u.id).await.unwrap();
    let mut ids: Vec<Uuid> = vaults.iter().map(|v| v.id).collect();
    ids.sort();
    let mut expected = vec![acc.personal, acc.business];
    expected.sort();
    assert_eq!(ids, expected);
}

/// A second account with a taken email is refused and leaves nothing behind.
pub async fn user_duplicate_email<S: Store>(store: &S) {
    let acc = account(store).await;
    let mut dup = new_user();
    dup.email = acc.user.email.clone();
    let vault = new_vault(VaultKind::Personal);
    let vault_id = vault.id;
    assert_exists(store.create_user(dup.clone(), vec![vault]).await, "email");
    assert_eq!(store.user_by_id(dup.id).await.unwrap(), None);
    assert!(store.vaults_for_user(dup.id).await.unwrap().is_empty());
    // The vault id was not consumed either: it can be used by a later, valid account.
    let later = new_user();
    store
        .create_user(later.clone(), vec![new_vault_with_id(vault_id)])
        .await
        .unwrap();
    assert_eq!(store.vaults_for_user(later.id).await.unwrap().len(), 1);
    // The original account is untouched.
    assert_eq!(
        store
            .user_by_email(&acc.user.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(acc.user.id)
    );
}

fn new_vault_with_id(id: Uuid) -> NewVault {
    NewVault {
        id,
        ..new_vault(VaultKind::Personal)
    }
}

/// A second account with a taken user id is refused.
pub async fn user_duplicate_id<S: Store>(store: &S) {
    let acc = account(store).await;
    let mut dup = new_user();
    dup.id = acc.user.id;
    assert_exists(
        store
            .create_user(dup.clone(), vec![new_vault(VaultKind::Personal)])
            .await,
        "user",
    );
    assert_eq!(store.user_by_email(&dup.email).await.unwrap(), None);
    let stored = store.user_by_id(acc.user.id).await.unwrap().unwrap();
    assert_eq!(stored.email, acc.user.email);
    assert_eq!(store.vaults_for_user(acc.user.id).await.unwrap().len(), 2);
}

/// If any vault cannot be created, the user is not created either.
pub async fn user_create_is_atomic<S: Store>(store: &S) {
    let acc = account(store).await;
    let user = new_user();
    let vaults = vec![
        new_vault(VaultKind::Personal),
        new_vault_with_id(acc.personal),
    ];
    let result = store.create_user(user.clone(), vaults).await;
    assert!(
        result.is_err(),
        "a vault id clash must fail the whole creation"
    );
    assert_eq!(store.user_by_id(user.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&user.email).await.unwrap(), None);
    assert!(store.vaults_for_user(user.id).await.unwrap().is_empty());
    // The clashing vault still belongs to its owner.
    assert_eq!(store.vaults_for_user(acc.user.id).await.unwrap().len(), 2);
}

/// Concurrent sign-ups with one email: exactly one account is created.
pub async fn user_concurrent_same_email_one_wins<S: Store>(store: &S) {
    let email = format!("{}@example.test", Uuid::new_v4().simple());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        let user = NewUser {
            email: email.clone(),
            ..new_user()
        };
        set.spawn(async move {
            store
                .create_user(user, vec![new_vault(VaultKind::Personal)])
                .await
        });
    }
    let results = set.join_all().await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one sign-up succeeds: {results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert_exists(r, "email");
    }
    assert!(store.user_by_email(&email).await.unwrap().is_some());
}

/// A credential change replaces the record and key set and bumps the version.
pub async fn credentials_update_bumps_version<S: Store>(store: &S) {
    let acc = account(store).await;
    let id = acc.user.id;
    let record = random_bytes();
    store
        .update_user_credentials(id, 1, record.clone(), "{\"v\":2}".into(), T0 + 60)
        .await
        .unwrap();
    let u = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(u.credentials_version, 2);
    assert_eq!(u.opaque_record, record);
    assert_eq!(u.keyset, "{\"v\":2}");
    assert_eq!(u.created_at, T0);
    assert_eq!(u.updated_at, T0 + 60);

    store
        .update_user_credentials(id, 2, random_bytes(), "{\"v\":3}".into(), T0 + 120)
        .await
        .unwrap();
    let u = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(u.credentials_version, 3);
    assert_eq!(u.keyset, "{\"v\":3}");
    assert_eq!(u.email, acc.user.email);
}

/// A credential change against a stale version is refused and changes nothing.
pub async fn credentials_update_stale_version<S: Store>(store: &S) {
    let acc = account(store).await;
    let id = acc.user.id;
    store
        .update_user_credentials(id, 1, random_bytes(), "{\"v\":2}".into(), T0 + 1)
        .await
        .unwrap();
    assert_conflict(
        store
            .update_user_credentials(id, 1, random_bytes(), "{}".into(), T0 + 2)
            .await,
        2,
    );
    assert_conflict(
        store
            .update_user_credentials(id, 3, random_bytes(), "{}".into(), T0 + 2)
            .await,
        2,
    );
    let u = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(u.credentials_version, 2);
    assert_eq!(u.keyset, "{\"v\":2}");
    assert_eq!(u.updated_at, T0 + 1);
}

/// A credential change for an unknown user is `NotFound`.
pub async fn credentials_update_unknown_user<S: Store>(store: &S) {
    assert_not_found(
        store
            .update_user_credentials(Uuid::new_v4(), 1, random_bytes(), "{}".into(), T0)
            .await,
    );
}

// ---------------------------------------------------------------------------------------------
// login attempts

/// An attempt is returned once, then gone; unknown attempts are `None`.
pub async fn login_attempt_single_use<S: Store>(store: &S) {
    let acc = account(store).await;
    let attempt = LoginAttempt {
        id: Uuid::new_v4(),
        user_id: Some(acc.user.id),
        email: acc.user.email.clone(),
        state: random_bytes(),
        expires_at: T0 + 60,
    };
    store.put_login_attempt(attempt.clone()).await.unwrap();
    assert_eq!(
        store.take_login_attempt(attempt.id, T0).await.unwrap(),
        Some(attempt.clone())
    );
    assert_eq!(
        store.take_login_attempt(attempt.id, T0).await.unwrap(),
        None
    );

    // Dummy attempt for an unknown email (no user).
    let dummy = LoginAttempt {
        id: Uuid::new_v4(),
        user_id: None,
        email: "unknown@example.test".into(),
        state: random_bytes(),
        expires_at: T0 + 60,
    };
    store.put_login_attempt(dummy.clone()).await.unwrap();
    assert_eq!(
        store.take_login_attempt(dummy.id, T0 + 59).await.unwrap(),
        Some(dummy.clone())
    );
    assert_eq!(store.take_login_attempt(dummy.id, T0).await.unwrap(), None);

    assert_eq!(
        store.take_login_attempt(Uuid::new_v4(), T0).await.unwrap(),
        None
    );
}

/// An expired attempt is `None` (and consumed).
pub async fn login_attempt_expired_is_none<S: Store>(store: &S) {
    let attempt = LoginAttempt {
        id: Uuid::new_v4(),
        user_id: None,
        email: "late@example.test".into(),
        state: random_bytes(),
        expires_at: T0 + 60,
    };
    store.put_login_attempt(attempt.clone()).await.unwrap();
    assert_eq!(
        store.take_login_attempt(attempt.id, T0 + 61).await.unwrap(),
        None
    );
    assert_eq!(
        store.take_login_attempt(attempt.id, T0).await.unwrap(),
        None,
        "consumed"
    );

    // Expired exactly at `expires_at`.
    let at_edge = LoginAttempt {
        id: Uuid::new_v4(),
        ..attempt
    };
    store.put_login_attempt(at_edge.clone()).await.unwrap();
    assert_eq!(
        store.take_login_attempt(at_edge.id, T0 + 60).await.unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// sessions

/// A session is found by its token hash, and only by it.
pub async fn session_lookup_by_token_hash<S: Store>(store: &S) {
    let acc = account(store).await;
    let s = session(acc.user.id, T0, T0 + 3600);
    store.create_session(s.clone()).await.unwrap();
    assert_eq!(
        store
            .session_by_token_hash(&s.token_hash, T0 + 1)
            .await
            .unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        store
            .session_by_token_hash(&random_bytes(), T0 + 1)
            .await
            .unwrap(),
        None
    );
    let mut truncated = s.token_hash.clone();
    truncated.pop();
    assert_eq!(
        store
            .session_by_token_hash(&truncated, T0 + 1)
            .await
            .unwrap(),
        None
    );
}

/// Expired and revoked sessions are not returned by token hash.
pub async fn session_expired_or_revoked_is_hidden<S: Store>(store: &S) {
    let acc = account(store).await;
    let s = session(acc.user.id, T0, T0 + 100);
    store.create_session(s.clone()).await.unwrap();
    assert!(store
        .session_by_token_hash(&s.token_hash, T0 + 99)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .session_by_token_hash(&s.token_hash, T0 + 100)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .session_by_token_hash(&s.token_hash, T0 + 101)
            .await
            .unwrap(),
        None
    );

    let r = session(acc.user.id, T0, T0 + 100);
    store.create_session(r.clone()).await.unwrap();
    store
        .revoke_session(acc.user.id, r.id, T0 + 5)
        .await
        .unwrap();
    assert_eq!(
        store
            .session_by_token_hash(&r.token_hash, T0 + 6)
            .await
            .unwrap(),
        None
    );

    // A session created already revoked is never live.
    let pre = SessionRecord {
        revoked_at: Some(T0),
        ..session(acc.user.id, T0, T0 + 100)
    };
    store.create_session(pre.clone()).await.unwrap();
    assert_eq!(
        store
            .session_by_token_hash(&pre.token_hash, T0 + 1)
            .await
            .unwrap(),
        None
    );
}

/// `touch_session` moves `last_seen_at`; an unknown session is `NotFound`.
pub async fn session_touch_updates_last_seen<S: Store>(store: &S) {
    let acc = account(store).await;
    let s = session(acc.user.id, T0, T0 + 3600);
    store.create_session(s.clone()).await.unwrap();
    store.touch_session(s.id, T0 + 30).await.unwrap();
    let found = store
        .session_by_token_hash(&s.token_hash, T0 + 31)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.last_seen_at, T0 + 30);
    assert_eq!(found.created_at, T0);
    assert_eq!(found.expires_at, T0 + 3600);
    assert_not_found(store.touch_session(Uuid::new_v4(), T0).await);
}

/// Live sessions of the user only, newest first.
pub async fn session_list_newest_first_live_only<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let id = acc.user.id;
    let old = session(id, T0, T0 + 3600);
    let mid = session(id, T0 + 10, T0 + 3600);
    let new = session(id, T0 + 20, T0 + 3600);
    let expired = session(id, T0 + 30, T0 + 40);
    let revoked = session(id, T0 + 25, T0 + 3600);
    let foreign = session(other.user.id, T0 + 15, T0 + 3600);
    for s in [&mid, &old, &expired, &new, &revoked, &foreign] {
        store.create_session((*s).clone()).await.unwrap();
    }
    store.revoke_session(id, revoked.id, T0 + 26).await.unwrap();

    let listed = store.list_sessions(id, T0 + 50).await.unwrap();
    assert_eq!(listed, vec![new.clone(), mid.clone(), old.clone()]);
    let at_35: Vec<Uuid> = store
        .list_sessions(id, T0 + 35)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(at_35, vec![expired.id, new.id, mid.id, old.id]);
    assert_eq!(
        store.list_sessions(other.user.id, T0 + 50).await.unwrap(),
        vec![foreign]
    );
    assert!(store
        .list_sessions(Uuid::new_v4(), T0)
        .await
        .unwrap()
        .is_empty());
}

/// Revoking: own session works (twice too), another user's or an unknown one is `NotFound`.
pub async fn session_revoke_own_and_foreign<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let mine = session(acc.user.id, T0, T0 + 3600);
    let theirs = session(other.user.id, T0, T0 + 3600);
    store.create_session(mine.clone()).await.unwrap();
    store.create_session(theirs.clone()).await.unwrap();

    assert_not_found(store.revoke_session(acc.user.id, theirs.id, T0 + 1).await);
    assert!(
        store
            .session_by_token_hash(&theirs.token_hash, T0 + 2)
            .await
            .unwrap()
            .is_some(),
        "untouched"
    );
    assert_not_found(
        store
            .revoke_session(acc.user.id, Uuid::new_v4(), T0 + 1)
            .await,
    );

    store
        .revoke_session(acc.user.id, mine.id, T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .session_by_token_hash(&mine.token_hash, T0 + 2)
            .await
            .unwrap(),
        None
    );
    assert!(store
        .list_sessions(acc.user.id, T0 + 2)
        .await
        .unwrap()
        .is_empty());
    store
        .revoke_session(acc.user.id, mine.id, T0 + 3)
        .await
        .unwrap();
    assert_eq!(
        store
            .session_by_token_hash(&mine.token_hash, T0 + 4)
            .await
            .unwrap(),
        None
    );
}

/// "Sign out everywhere else": revokes the user's other live sessions and counts them.
pub async fn session_revoke_others_keeps_one<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let id = acc.user.id;
    let keep = session(id, T0, T0 + 3600);
    let a = session(id, T0 + 1, T0 + 3600);
    let b = session(id, T0 + 2, T0 + 3600);
    let expired = session(id, T0, T0 + 5);
    let already = session(id, T0, T0 + 3600);
    let foreign = session(other.user.id, T0, T0 + 3600);
    for s in [&keep, &a, &b, &expired, &already, &foreign] {
        store.create_session((*s).clone()).await.unwrap();
    }
    store.revoke_session(id, already.id, T0 + 6).await.unwrap();

    assert_eq!(
        store
            .revoke_other_sessions(id, Some(keep.id), T0 + 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.list_sessions(id, T0 + 11).await.unwrap(),
        vec![keep.clone()]
    );
    assert!(store
        .session_by_token_hash(&keep.token_hash, T0 + 11)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .session_by_token_hash(&a.token_hash, T0 + 11)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .session_by_token_hash(&b.token_hash, T0 + 11)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_sessions(other.user.id, T0 + 11).await.unwrap(),
        vec![foreign]
    );
    assert_eq!(
        store
            .revoke_other_sessions(id, Some(keep.id), T0 + 12)
            .await
            .unwrap(),
        0
    );
}

/// Without `keep`, every live session of the user is revoked.
pub async fn session_revoke_others_without_keep<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let id = acc.user.id;
    for i in 0..3 {
        store
            .create_session(session(id, T0 + i, T0 + 3600))
            .await
            .unwrap();
    }
    let foreign = session(other.user.id, T0, T0 + 3600);
    store.create_session(foreign.clone()).await.unwrap();
    assert_eq!(
        store
            .revoke_other_sessions(id, None, T0 + 10)
            .await
            .unwrap(),
        3
    );
    assert!(store.list_sessions(id, T0 + 11).await.unwrap().is_empty());
    assert_eq!(
        store.list_sessions(other.user.id, T0 + 11).await.unwrap(),
        vec![foreign]
    );
    // Nothing live is left to revoke.
    assert_eq!(
        store
            .revoke_other_sessions(id, None, T0 + 12)
            .await
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// rate limits

/// Hits in one window count up; counting does not add a hit.
pub async fn rate_limit_counts_within_window<S: Store>(store: &S) {
    let key = format!("login:{}", Uuid::new_v4());
    let other = format!("login:{}", Uuid::new_v4());
    assert_eq!(store.rate_limit_count(&key, T0).await.unwrap(), 0);
    assert_eq!(store.rate_limit_hit(&key, T0).await.unwrap(), 1);
    assert_eq!(store.rate_limit_hit(&key, T0).await.unwrap(), 2);
    assert_eq!(store.rate_limit_hit(&key, T0).await.unwrap(), 3);
    assert_eq!(store.rate_limit_count(&key, T0).await.unwrap(), 3);
    assert_eq!(store.rate_limit_count(&key, T0).await.unwrap(), 3);
    assert_eq!(
        store.rate_limit_count(&other, T0).await.unwrap(),
        0,
        "keys are independent"
    );
    assert_eq!(store.rate_limit_hit(&other, T0).await.unwrap(), 1);
    assert_eq!(store.rate_limit_count(&key, T0).await.unwrap(), 3);

    // Concurrent hits are all counted.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        let key = key.clone();
        set.spawn(async move { store.rate_limit_hit(&key, T0).await.unwrap() });
    }
    let mut counts = set.join_all().await;
    counts.sort();
    assert_eq!(counts, (4..=13).collect::<Vec<u32>>());
    assert_eq!(store.rate_limit_count(&key, T0).await.unwrap(), 13);
}

/// A hit in a new window starts again at 1 and discards the old window.
pub async fn rate_limit_new_window_resets<S: Store>(store: &S) {
    let key = format!("ip:{}", Uuid::new_v4());
    for _ in 0..5 {
        store.rate_limit_hit(&key, T0).await.unwrap();
    }
    assert_eq!(
        store.rate_limit_count(&key, T0 + 60).await.unwrap(),
        0,
        "nothing in the next window yet"
    );
    assert_eq!(store.rate_limit_hit(&key, T0 + 60).await.unwrap(), 1);
    assert_eq!(store.rate_limit_hit(&key, T0 + 60).await.unwrap(), 2);
    assert_eq!(store.rate_limit_count(&key, T0 + 60).await.unwrap(), 2);
    assert_eq!(
        store.rate_limit_count(&key, T0).await.unwrap(),
        0,
        "old window discarded"
    );
}

/// Clearing a key resets its count.
pub async fn rate_limit_clear_resets<S: Store>(store: &S) {
    let key = format!("email:{}", Uuid::new_v4());
    let other = format!("email:{}", Uuid::new_v4());
    store.rate_limit_hit(&key, T0).await.unwrap();
    store.rate_limit_hit(&key, T0).await.unwrap();
    store.rate_limit_hit(&other, T0).await.unwrap();
    store.rate_limit_clear(&key).await.unwrap();
    assert_eq!(store.rate_limit_count(&key, T0).await.unwrap(), 0);
    assert_eq!(store.rate_limit_hit(&key, T0).await.unwrap(), 1);
    assert_eq!(
        store.rate_limit_count(&other, T0).await.unwrap(),
        1,
        "other keys untouched"
    );
    // Clearing an unknown key is fine.
    store
        .rate_limit_clear(&format!("email:{}", Uuid::new_v4()))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// vaults

/// Each user sees exactly their own vaults, with every field stored.
pub async fn vaults_listed_per_user<S: Store>(store: &S) {
    let user = new_user();
    let personal = new_vault(VaultKind::Personal);
    let business = NewVault {
        key_version: 7,
        ..new_vault(VaultKind::Business)
    };
    store
        .create_user(user.clone(), vec![personal.clone(), business.clone()])
        .await
        .unwrap();
    let other = account(store).await;

    let mut vaults = store.vaults_for_user(user.id).await.unwrap();
    vaults.sort_by_key(|v| v.id);
    let mut expected = vec![personal, business];
    expected.sort_by_key(|v| v.id);
    assert_eq!(vaults.len(), 2);
    for (got, want) in vaults.iter().zip(&expected) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.user_id, user.id);
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.key_wrap, want.key_wrap);
        assert_eq!(got.key_version, want.key_version);
        assert_eq!(got.created_at, T0);
    }
    let theirs = store.vaults_for_user(other.user.id).await.unwrap();
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|v| v.user_id == other.user.id));
    assert!(store
        .vaults_for_user(Uuid::new_v4())
        .await
        .unwrap()
        .is_empty());

    // A user without vaults is possible.
    let bare = new_user();
    store.create_user(bare.clone(), Vec::new()).await.unwrap();
    assert!(store.vaults_for_user(bare.id).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// objects

/// Created objects read back exactly, including empty blobs (folders).
pub async fn object_create_and_get<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let w = item(uid, acc.personal, 1, T0);
    let rec = store.put_object(w.clone(), None, &[]).await.unwrap();
    assert_eq!(rec, record_of(&w, T0, rec.seq));
    assert_eq!(store.get_object(uid, w.id).await.unwrap(), Some(rec));

    let folder = ObjectWrite {
        kind: ObjectKind::Folder,
        key_wrap: Vec::new(),
        details: Vec::new(),
        trashed: true,
        ..item(uid, acc.business, 1, T0 + 5)
    };
    let rec = store.put_object(folder.clone(), None, &[]).await.unwrap();
    assert_eq!(rec, record_of(&folder, T0 + 5, rec.seq));
    assert_eq!(store.get_object(uid, folder.id).await.unwrap(), Some(rec));
}

/// A create must carry version 1.
pub async fn object_create_requires_version_one<S: Store>(store: &S) {
    let acc = account(store).await;
    for version in [0, 2, 5] {
        let w = item(acc.user.id, acc.personal, version, T0);
        assert_conflict(store.put_object(w.clone(), None, &[]).await, 0);
        assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);
    }
}

/// Creating an id that exists (for this or another user) is `AlreadyExists("object")`.
pub async fn object_create_existing_id<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let w = item(acc.user.id, acc.personal, 1, T0);
    let original = store.put_object(w.clone(), None, &[]).await.unwrap();

    assert_exists(
        store.put_object(next(&w, T0 + 1), None, &[]).await,
        "object",
    );
    let again = ObjectWrite {
        overview: random_bytes(),
        now: T0 + 1,
        ..w.clone()
    };
    assert_exists(store.put_object(again, None, &[]).await, "object");

    let hijack = ObjectWrite {
        id: w.id,
        ..item(other.user.id, other.personal, 1, T0)
    };
    assert_exists(store.put_object(hijack, None, &[]).await, "object");

    assert_eq!(
        store.get_object(acc.user.id, w.id).await.unwrap(),
        Some(original)
    );
    assert_eq!(store.get_object(other.user.id, w.id).await.unwrap(), None);
}

/// Creating into another user's vault, or a vault that does not exist, is `NotFound`.
pub async fn object_create_in_foreign_or_missing_vault<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let w = item(acc.user.id, other.personal, 1, T0);
    assert_not_found(store.put_object(w.clone(), None, &[]).await);
    assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);
    assert_eq!(store.get_object(other.user.id, w.id).await.unwrap(), None);
    assert!(store
        .list_objects(other.user.id, None)
        .await
        .unwrap()
        .is_empty());

    let w = item(acc.user.id, Uuid::new_v4(), 1, T0);
    assert_not_found(store.put_object(w.clone(), None, &[]).await);
    assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);

    // A user that does not exist owns no vault.
    let w = item(Uuid::new_v4(), acc.personal, 1, T0);
    assert_not_found(store.put_object(w, None, &[]).await);
}

/// Updates succeed against the current version only and keep `created_at`.
pub async fn object_update_compare_and_swap<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None, &[]).await.unwrap();

    let v2 = ObjectWrite {
        trashed: true,
        ..next(&v1, T0 + 10)
    };
    let rec = store.put_object(v2.clone(), Some(1), &[]).await.unwrap();
    assert_eq!(rec, record_of(&v2, T0, rec.seq));
    assert_eq!(
        store.get_object(uid, v1.id).await.unwrap(),
        Some(rec.clone())
    );

    // A client still at version 1 loses.
    let stale = next(&v1, T0 + 20);
    assert_conflict(store.put_object(stale, Some(1), &[]).await, 2);
    // A client claiming a future version loses too.
    let ahead = ObjectWrite {
        version: 4,
        ..next(&v2, T0 + 20)
    };
    assert_conflict(store.put_object(ahead, Some(3), &[]).await, 2);
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));

    let v3 = ObjectWrite {
        trashed: false,
        ..next(&v2, T0 + 30)
    };
    let rec = store.put_object(v3.clone(), Some(2), &[]).await.unwrap();
    assert_eq!(rec, record_of(&v3, T0, rec.seq));
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
}

/// The new version must be exactly `expected + 1`.
pub async fn object_update_wrong_increment<S: Store>(store: &S) {
    let acc = account(store).await;
    let v1 = item(acc.user.id, acc.personal, 1, T0);
    let rec = store.put_object(v1.clone(), None, &[]).await.unwrap();
    for version in [1, 3, 0, -1] {
        let w = ObjectWrite {
            version,
            ..next(&v1, T0 + 1)
        };
        assert_conflict(store.put_object(w, Some(1), &[]).await, 1);
    }
    assert_eq!(
        store.get_object(acc.user.id, v1.id).await.unwrap(),
        Some(rec)
    );
}

/// Updating an object that does not exist, or is another user's, is `NotFound`.
pub async fn object_update_missing_or_foreign<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let missing = item(acc.user.id, acc.personal, 2, T0);
    assert_not_found(store.put_object(missing.clone(), Some(1), &[]).await);
    assert_eq!(
        store.get_object(acc.user.id, missing.id).await.unwrap(),
        None
    );

    let theirs = item(other.user.id, other.personal, 1, T0);
    let rec = store.put_object(theirs.clone(), None, &[]).await.unwrap();
    // Into the attacker's own vault and into the owner's vault: both refused.
    let steal = ObjectWrite {
        user_id: acc.user.id,
        vault_id: acc.personal,
        ..next(&theirs, T0 + 1)
    };
    assert_not_found(store.put_object(steal, Some(1), &[]).await);
    let overwrite = ObjectWrite {
        user_id: acc.user.id,
        ..next(&theirs, T0 + 1)
    };
    assert_not_found(store.put_object(overwrite, Some(1), &[]).await);
    assert_eq!(
        store.get_object(other.user.id, theirs.id).await.unwrap(),
        Some(rec)
    );
    assert_eq!(
        store.get_object(acc.user.id, theirs.id).await.unwrap(),
        None
    );
}

/// An update may move the object to another vault of the same user.
pub async fn object_move_between_own_vaults<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None, &[]).await.unwrap();
    let moved = ObjectWrite {
        vault_id: acc.business,
        key_wrap: random_bytes(),
        ..next(&v1, T0 + 1)
    };
    let rec = store.put_object(moved.clone(), Some(1), &[]).await.unwrap();
    assert_eq!(rec.vault_id, acc.business);
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
    assert!(store
        .list_objects(uid, Some(acc.personal))
        .await
        .unwrap()
        .is_empty());
    let in_business: Vec<Uuid> = store
        .list_objects(uid, Some(acc.business))
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(in_business, vec![v1.id]);
}

/// Moving into another user's vault (or a missing one) is `NotFound` and changes nothing.
pub async fn object_move_into_foreign_vault_refused<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let v1 = item(acc.user.id, acc.personal, 1, T0);
    let rec = store.put_object(v1.clone(), None, &[]).await.unwrap();
    let into_theirs = ObjectWrite {
        vault_id: other.personal,
        ..next(&v1, T0 + 1)
    };
    assert_not_found(store.put_object(into_theirs, Some(1), &[]).await);
    let into_nothing = ObjectWrite {
        vault_id: Uuid::new_v4(),
        ..next(&v1, T0 + 1)
    };
    assert_not_found(store.put_object(into_nothing, Some(1), &[]).await);
    assert_eq!(
        store.get_object(acc.user.id, v1.id).await.unwrap(),
        Some(rec)
    );
    assert!(store
        .list_objects(other.user.id, None)
        .await
        .unwrap()
        .is_empty());
    // The object is still writable at version 1.
    store
        .put_object(next(&v1, T0 + 2), Some(1), &[])
        .await
        .unwrap();
}

/// Another user's object is invisible (`None`), as is a missing one.
pub async fn object_get_foreign_is_none<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let w = item(other.user.id, other.personal, 1, T0);
    store.put_object(w.clone(), None, &[]).await.unwrap();
    assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);
    assert!(store
        .get_object(other.user.id, w.id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.get_object(acc.user.id, Uuid::new_v4()).await.unwrap(),
        None
    );
}

/// Listing: the user's objects only, optionally one vault, ordered by id.
pub async fn object_list_filters_and_orders<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let uid = acc.user.id;
    let mut personal = Vec::new();
    let mut business = Vec::new();
    for i in 0..5 {
        let w = item(uid, acc.personal, 1, T0 + i);
        personal.push(store.put_object(w, None, &[]).await.unwrap());
        let w = ObjectWrite {
            kind: ObjectKind::Folder,
            ..item(uid, acc.business, 1, T0 + i)
        };
        business.push(store.put_object(w, None, &[]).await.unwrap());
    }
    store
        .put_object(item(other.user.id, other.personal, 1, T0), None, &[])
        .await
        .unwrap();

    personal.sort_by_key(|o| o.id);
    business.sort_by_key(|o| o.id);
    let mut all: Vec<ObjectRecord> = personal.iter().chain(&business).cloned().collect();
    all.sort_by_key(|o| o.id);

    assert_eq!(store.list_objects(uid, None).await.unwrap(), all);
    assert_eq!(
        store.list_objects(uid, Some(acc.personal)).await.unwrap(),
        personal
    );
    assert_eq!(
        store.list_objects(uid, Some(acc.business)).await.unwrap(),
        business
    );
    // Another user's vault id yields nothing, even though it has objects.
    assert!(store
        .list_objects(uid, Some(other.personal))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.list_objects(other.user.id, None).await.unwrap().len(),
        1
    );
    assert!(store
        .list_objects(Uuid::new_v4(), None)
        .await
        .unwrap()
        .is_empty());
}

/// Deleting at the current version removes the object for good.
pub async fn object_delete_hard<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None, &[]).await.unwrap();
    let v2 = ObjectWrite {
        trashed: true,
        ..next(&v1, T0 + 1)
    };
    store.put_object(v2.clone(), Some(1), &[]).await.unwrap();
    let keep = store
        .put_object(item(uid, acc.personal, 1, T0), None, &[])
        .await
        .unwrap();

    store
        .delete_object(uid, v1.id, 2, &[], T0 + 3)
        .await
        .unwrap();
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), None);
    assert_eq!(store.list_objects(uid, None).await.unwrap(), vec![keep]);
    assert_not_found(store.delete_object(uid, v1.id, 2, &[], T0 + 3).await);
    assert_not_found(store.put_object(next(&v2, T0 + 2), Some(2), &[]).await);
}

/// Deleting with a stale version is a `VersionConflict` and keeps the object.
pub async fn object_delete_stale_version<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None, &[]).await.unwrap();
    let rec = store
        .put_object(next(&v1, T0 + 1), Some(1), &[])
        .await
        .unwrap();
    assert_conflict(store.delete_object(uid, v1.id, 1, &[], T0 + 2).await, 2);
    assert_conflict(store.delete_object(uid, v1.id, 3, &[], T0 + 2).await, 2);
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
}

/// Deleting a missing object or another user's is `NotFound`.
pub async fn object_delete_missing_or_foreign<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    assert_not_found(
        store
            .delete_object(acc.user.id, Uuid::new_v4(), 1, &[], T0)
            .await,
    );
    let theirs = item(other.user.id, other.personal, 1, T0);
    let rec = store.put_object(theirs.clone(), None, &[]).await.unwrap();
    assert_not_found(
        store
            .delete_object(acc.user.id, theirs.id, 1, &[], T0)
            .await,
    );
    assert_eq!(
        store.get_object(other.user.id, theirs.id).await.unwrap(),
        Some(rec)
    );
}

/// Ten concurrent updates from the same base version: exactly one wins.
pub async fn object_concurrent_updates_one_wins<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None, &[]).await.unwrap();

    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = store.clone();
        let w = next(&v1, T0 + 1 + i);
        set.spawn(async move { (w.clone(), store.put_object(w, Some(1), &[]).await) });
    }
    let results = set.join_all().await;
    let winners: Vec<&ObjectWrite> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(w, _)| w)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one update wins: {results:?}");
    for (_, r) in results.iter().filter(|(_, r)| r.is_err()) {
        match r {
            Err(StoreError::VersionConflict { current: 2 }) => {}
            other => panic!("losers get VersionConflict {{ current: 2 }}, got {other:?}"),
        }
    }
    let stored = store.get_object(uid, v1.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        record_of(winners[0], T0, stored.seq),
        "the winner's write is the one stored"
    );
}

/// Ten concurrent creates of one id: exactly one wins.
pub async fn object_concurrent_creates_one_wins<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let id = Uuid::new_v4();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = store.clone();
        let w = ObjectWrite {
            id,
            ..item(uid, acc.personal, 1, T0 + i)
        };
        set.spawn(async move { (w.clone(), store.put_object(w, None, &[]).await) });
    }
    let results = set.join_all().await;
    let winners: Vec<&ObjectWrite> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(w, _)| w)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one create wins: {results:?}");
    for (_, r) in results.iter().filter(|(_, r)| r.is_err()) {
        match r {
            Err(StoreError::AlreadyExists("object")) => {}
            other => panic!("losers get AlreadyExists(\"object\"), got {other:?}"),
        }
    }
    let stored = store.get_object(uid, id).await.unwrap().unwrap();
    assert_eq!(stored, record_of(winners[0], winners[0].now, stored.seq));
}

// ---------------------------------------------------------------------------------------------
// change feed, tombstones and manifests

fn manifest(vault_id: Uuid, counter: i64) -> ManifestWrite {
    ManifestWrite {
        vault_id,
        counter,
        blob: random_bytes(),
    }
}

/// One feed entry: (seq, id, is_tombstone).
type Entry = (i64, Uuid, bool);

/// The entries of a page in seq order; checks that each list is in seq order, that every entry
/// is after `since` (unless reset) and that the cursor is the last entry.
#[track_caller]
fn entries(page: &ChangePage, since: i64) -> Vec<Entry> {
    assert!(
        page.objects.windows(2).all(|w| w[0].seq < w[1].seq),
        "objects in seq order"
    );
    assert!(
        page.tombstones.windows(2).all(|w| w[0].seq < w[1].seq),
        "tombstones in seq order"
    );
    let mut all: Vec<Entry> = page
        .objects
        .iter()
        .map(|o| (o.seq, o.id, false))
        .chain(page.tombstones.iter().map(|t| (t.seq, t.id, true)))
        .collect();
    all.sort();
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "no two entries share a seq"
    );
    if !page.reset {
        assert!(
            all.iter().all(|e| e.0 > since),
            "every entry is after since"
        );
    }
    if let Some(last) = all.last() {
        assert_eq!(page.cursor, last.0, "the cursor is the last entry's seq");
    }
    all
}

/// Creates a folder for the user and returns its seq: a cursor after which the scenario's own
/// changes follow, whatever the database held before.
async fn anchor<S: Store>(store: &S, acc: &Account) -> i64 {
    let folder = ObjectWrite {
        kind: ObjectKind::Folder,
        key_wrap: Vec::new(),
        details: Vec::new(),
        ..item(acc.user.id, acc.personal, 1, T0)
    };
    store.put_object(folder, None, &[]).await.unwrap().seq
}

/// Every page after `since`, following cursors until `has_more` is false.
async fn all_pages<S: Store>(store: &S, user_id: Uuid, since: i64, limit: u32) -> Vec<ChangePage> {
    let mut pages = Vec::new();
    let mut cursor = since;
    loop {
        let page = store.changes_since(user_id, cursor, limit).await.unwrap();
        entries(&page, cursor);
        cursor = page.cursor;
        let more = page.has_more;
        pages.push(page);
        if !more {
            return pages;
        }
        assert!(pages.len() < 1000, "the feed never ends");
    }
}

async fn manifest_counters<S: Store>(store: &S, user_id: Uuid) -> Vec<(Uuid, i64)> {
    let mut m: Vec<(Uuid, i64)> = store
        .manifests_for_user(user_id)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.vault_id, m.counter))
        .collect();
    m.sort();
    m
}

/// Every successful write takes a new, higher seq; reads report it; failed writes keep it.
pub async fn object_seq_moves_with_each_write<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    let r1 = store.put_object(v1.clone(), None, &[]).await.unwrap();
    assert!(r1.seq > 0, "seq starts above 0");
    assert_eq!(
        store.get_object(uid, v1.id).await.unwrap(),
        Some(r1.clone())
    );
    let other = store
        .put_object(item(uid, acc.business, 1, T0), None, &[])
        .await
        .unwrap();
    assert!(other.seq > r1.seq);

    let r2 = store
        .put_object(next(&v1, T0 + 1), Some(1), &[])
        .await
        .unwrap();
    assert!(r2.seq > other.seq, "an update moves the object to the head");
    assert_conflict(store.put_object(next(&v1, T0 + 2), Some(1), &[]).await, 2);
    assert_eq!(
        store.get_object(uid, v1.id).await.unwrap(),
        Some(r2.clone())
    );
    let listed = store.list_objects(uid, Some(acc.personal)).await.unwrap();
    assert_eq!(listed, vec![r2.clone()]);
    // The failed write took no position: the next one is the only change after r2.
    let r3 = store
        .put_object(next(&next(&v1, T0 + 1), T0 + 3), Some(2), &[])
        .await
        .unwrap();
    let page = store.changes_since(uid, r2.seq, 10).await.unwrap();
    assert_eq!(page.objects, vec![r3]);
    assert!(page.tombstones.is_empty());
}

/// 25 changes (creates, an object changed twice, another once, deletes) read with limit 10:
/// three pages in seq order, continuous cursors, no duplicates, latest states only.
pub async fn feed_pages_in_seq_order<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let since = anchor(store, &acc).await;
    let mut writes = Vec::new();
    for i in 0..25 {
        let vault = if i % 2 == 0 {
            acc.personal
        } else {
            acc.business
        };
        let w = item(uid, vault, 1, T0 + i);
        store.put_object(w.clone(), None, &[]).await.unwrap();
        writes.push(w);
    }
    let o0v2 = next(&writes[0], T0 + 100);
    store.put_object(o0v2.clone(), Some(1), &[]).await.unwrap();
    let o0 = store
        .put_object(next(&o0v2, T0 + 101), Some(2), &[])
        .await
        .unwrap();
    let o5 = store
        .put_object(next(&writes[5], T0 + 102), Some(1), &[])
        .await
        .unwrap();
    for w in &writes[10..13] {
        store
            .delete_object(uid, w.id, 1, &[], T0 + 103)
            .await
            .unwrap();
    }
    // 22 live objects and 3 tombstones: 25 changes.

    let pages = all_pages(store, uid, since, 10).await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p.objects.len() + p.tombstones.len())
        .collect();
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(
        pages.iter().map(|p| p.has_more).collect::<Vec<_>>(),
        vec![true, true, false]
    );
    assert!(pages.iter().all(|p| !p.reset));
    let mut previous = since;
    let mut all: Vec<Entry> = Vec::new();
    for page in &pages {
        let e = entries(page, previous);
        assert!(e[0].0 > previous, "a page starts after the previous cursor");
        previous = page.cursor;
        all.extend(e);
    }
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "strictly increasing seqs across pages"
    );
    let mut ids: Vec<Uuid> = all.iter().map(|e| e.1).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no object appears twice");

    let objects: Vec<&ObjectRecord> = pages.iter().flat_map(|p| &p.objects).collect();
    let tombstones: Vec<&Tombstone> = pages.iter().flat_map(|p| &p.tombstones).collect();
    let mut expected: Vec<Uuid> = writes
        .iter()
        .enumerate()
        .filter(|(i, _)| !(10..13).contains(i))
        .map(|(_, w)| w.id)
        .collect();
    expected.sort();
    let mut got: Vec<Uuid> = objects.iter().map(|o| o.id).collect();
    got.sort();
    assert_eq!(got, expected);
    for o in &objects {
        assert_eq!(
            store.get_object(uid, o.id).await.unwrap().as_ref(),
            Some(*o),
            "the feed carries the stored state"
        );
    }
    assert_eq!(
        tombstones.iter().map(|t| t.id).collect::<Vec<_>>(),
        writes[10..13].iter().map(|w| w.id).collect::<Vec<_>>()
    );
    for (t, w) in tombstones.iter().zip(&writes[10..13]) {
        assert_eq!(t.vault_id, w.vault_id);
    }
    // The latest changes come last: o0 (version 3), o5 (version 2), then the deletes.
    let tail: Vec<Entry> = all[20..].to_vec();
    assert_eq!(tail[0], (o0.seq, o0.id, false));
    assert_eq!(tail[1], (o5.seq, o5.id, false));
    assert!(tail[2..].iter().all(|e| e.2));
    let o0_in_feed = objects.iter().find(|o| o.id == o0.id).unwrap();
    assert_eq!(**o0_in_feed, o0);
    assert_eq!(o0_in_feed.version, 3);

    // Up to date: an empty page that keeps the cursor.
    let end = pages[2].cursor;
    let page = store.changes_since(uid, end, 10).await.unwrap();
    assert!(page.objects.is_empty() && page.tombstones.is_empty());
    assert_eq!(page.cursor, end);
    assert!(!page.has_more && !page.reset);

    // Exact limits.
    let page = store.changes_since(uid, since, 25).await.unwrap();
    assert_eq!(entries(&page, since), all);
    assert!(!page.has_more);
    assert_eq!(page.cursor, end);
    let page = store.changes_since(uid, since, 24).await.unwrap();
    assert_eq!(entries(&page, since), all[..24].to_vec());
    assert!(page.has_more);
    let page = store.changes_since(uid, since, 1).await.unwrap();
    assert_eq!(entries(&page, since), all[..1].to_vec());
    assert!(page.has_more);
    // From the middle of a page.
    let mid = all[14].0;
    let page = store.changes_since(uid, mid, 100).await.unwrap();
    assert_eq!(entries(&page, mid), all[15..].to_vec());
}

/// A user's feed holds only that user's objects and tombstones.
pub async fn feed_is_per_user<S: Store>(store: &S) {
    let a = account(store).await;
    let b = account(store).await;
    let since_a = anchor(store, &a).await;
    let since_b = anchor(store, &b).await;
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..5 {
        let w = item(a.user.id, a.personal, 1, T0 + i);
        mine.push(store.put_object(w, None, &[]).await.unwrap());
        let w = item(b.user.id, b.business, 1, T0 + i);
        theirs.push(store.put_object(w, None, &[]).await.unwrap());
    }
    store
        .delete_object(a.user.id, mine[0].id, 1, &[], T0 + 10)
        .await
        .unwrap();
    store
        .delete_object(b.user.id, theirs[1].id, 1, &[], T0 + 10)
        .await
        .unwrap();

    for (user, since, objects, deleted, stranger) in [
        (a.user.id, since_a, &mine, mine[0].id, &theirs),
        (b.user.id, since_b, &theirs, theirs[1].id, &mine),
    ] {
        let page = store.changes_since(user, since, 100).await.unwrap();
        entries(&page, since);
        assert!(!page.has_more);
        let mut got: Vec<Uuid> = page.objects.iter().map(|o| o.id).collect();
        got.sort();
        let mut expected: Vec<Uuid> = objects
            .iter()
            .map(|o| o.id)
            .filter(|id| *id != deleted)
            .collect();
        expected.sort();
        assert_eq!(got, expected);
        assert!(page.objects.iter().all(|o| o.user_id == Some(user)));
        assert_eq!(
            page.tombstones.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![deleted]
        );
        assert!(!page
            .objects
            .iter()
            .any(|o| stranger.iter().any(|s| s.id == o.id)));
        // From 0 too (the whole feed of the user, whatever else the database holds).
        let pages = all_pages(store, user, 0, 1000).await;
        for page in &pages {
            assert!(page.objects.iter().all(|o| o.user_id == Some(user)));
            assert!(!page
                .tombstones
                .iter()
                .any(|t| stranger.iter().any(|s| s.id == t.id)));
        }
    }
    // A user without changes has an empty feed.
    let nobody = Uuid::new_v4();
    let page = store.changes_since(nobody, 0, 10).await.unwrap();
    assert!(page.objects.is_empty() && page.tombstones.is_empty() && !page.has_more);
}

/// A delete leaves a tombstone at a new position, in the vault the object was in; a failed
/// delete leaves nothing.
pub async fn feed_delete_leaves_tombstone<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let since = anchor(store, &acc).await;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None, &[]).await.unwrap();
    let moved = ObjectWrite {
        vault_id: acc.business,
        ..next(&v1, T0 + 1)
    };
    let rec = store.put_object(moved, Some(1), &[]).await.unwrap();

    assert_conflict(store.delete_object(uid, v1.id, 1, &[], T0 + 2).await, 2);
    let page = store.changes_since(uid, rec.seq, 10).await.unwrap();
    assert!(
        page.objects.is_empty() && page.tombstones.is_empty(),
        "a failed delete leaves no tombstone"
    );

    store
        .delete_object(uid, v1.id, 2, &[manifest(acc.business, 1)], T0 + 3)
        .await
        .unwrap();
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), None);
    let page = store.changes_since(uid, rec.seq, 10).await.unwrap();
    assert!(page.objects.is_empty());
    assert_eq!(page.tombstones.len(), 1);
    let t = &page.tombstones[0];
    assert_eq!(t.id, v1.id);
    assert_eq!(
        t.vault_id, acc.business,
        "the vault the object was deleted from"
    );
    assert!(t.seq > rec.seq, "a new feed position");
    assert_eq!(page.cursor, t.seq);
    assert!(!page.has_more && !page.reset);

    // From before the object existed: only the tombstone, never the deleted object.
    let page = store.changes_since(uid, since, 10).await.unwrap();
    assert!(page.objects.is_empty());
    assert_eq!(page.tombstones, vec![t.clone()]);
    // The delete wrote its manifest.
    assert_eq!(manifest_counters(store, uid).await, vec![(acc.business, 1)]);
    // Positions keep growing after a delete.
    let after = store
        .put_object(item(uid, acc.personal, 1, T0 + 4), None, &[])
        .await
        .unwrap();
    assert!(after.seq > t.seq);
}

/// Creating a deleted id again (same user) replaces the tombstone; another user cannot take it.
pub async fn feed_recreate_removes_tombstone<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let uid = acc.user.id;
    let since = anchor(store, &acc).await;
    let w = item(uid, acc.personal, 1, T0);
    store.put_object(w.clone(), None, &[]).await.unwrap();
    store
        .delete_object(uid, w.id, 1, &[], T0 + 1)
        .await
        .unwrap();
    let page = store.changes_since(uid, since, 10).await.unwrap();
    let tombstone_seq = page.tombstones[0].seq;

    let hijack = ObjectWrite {
        id: w.id,
        ..item(other.user.id, other.personal, 1, T0 + 2)
    };
    assert_exists(store.put_object(hijack, None, &[]).await, "object");
    assert_eq!(store.get_object(other.user.id, w.id).await.unwrap(), None);

    let again = ObjectWrite {
        overview: random_bytes(),
        now: T0 + 3,
        ..w.clone()
    };
    let rec = store.put_object(again, None, &[]).await.unwrap();
    assert!(rec.seq > tombstone_seq);
    for from in [since, tombstone_seq] {
        let page = store.changes_since(uid, from, 10).await.unwrap();
        assert_eq!(page.objects, vec![rec.clone()]);
        assert!(page.tombstones.is_empty(), "the tombstone is gone");
    }

    store
        .delete_object(uid, w.id, 1, &[], T0 + 4)
        .await
        .unwrap();
    let page = store.changes_since(uid, since, 10).await.unwrap();
    assert!(page.objects.is_empty());
    assert_eq!(page.tombstones.len(), 1);
    assert!(page.tombstones[0].seq > rec.seq);
}

/// A cursor ahead of the feed gives a reset page from 0.
pub async fn feed_reset_for_unknown_cursor<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let mut recs = Vec::new();
    for i in 0..3 {
        let w = item(uid, acc.personal, 1, T0 + i);
        recs.push(store.put_object(w, None, &[]).await.unwrap());
    }
    let last = recs[2].seq;
    let page = store.changes_since(uid, last, 10).await.unwrap();
    assert!(!page.reset, "the newest position is a known cursor");
    assert!(page.objects.is_empty());
    assert_eq!(page.cursor, last);

    for since in [last + 1_000_000_000, i64::MAX] {
        let page = store.changes_since(uid, since, 10).await.unwrap();
        assert!(page.reset, "since {since} is ahead of the feed");
        assert_eq!(page.objects, recs);
        assert!(page.tombstones.is_empty());
        assert!(!page.has_more);
        assert_eq!(page.cursor, last);
    }
    // The reset listing pages like any other.
    let page = store.changes_since(uid, i64::MAX, 2).await.unwrap();
    assert!(page.reset && page.has_more);
    assert_eq!(page.objects, recs[..2].to_vec());
    assert_eq!(page.cursor, recs[1].seq);
    let page = store.changes_since(uid, page.cursor, 2).await.unwrap();
    assert!(!page.reset && !page.has_more);
    assert_eq!(page.objects, recs[2..].to_vec());

    // A user with nothing in the feed: a reset, empty page whose cursor is valid next time.
    let empty = account(store).await;
    let page = store
        .changes_since(empty.user.id, i64::MAX, 10)
        .await
        .unwrap();
    assert!(page.reset);
    assert!(page.objects.is_empty() && page.tombstones.is_empty() && !page.has_more);
    let again = store
        .changes_since(empty.user.id, page.cursor, 10)
        .await
        .unwrap();
    assert!(!again.reset, "the cursor of a reset page is valid");
}

/// The first manifest of a vault has counter 1; each next one exactly the stored counter + 1.
pub async fn manifest_counter_starts_at_one_and_grows_by_one<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let w = item(uid, acc.personal, 1, T0);
    for counter in [2, 0, -1] {
        assert_manifest_conflict(
            store
                .put_object(w.clone(), None, &[manifest(acc.personal, counter)])
                .await,
            acc.personal,
            0,
        );
    }
    assert_eq!(store.get_object(uid, w.id).await.unwrap(), None);
    assert!(store.manifests_for_user(uid).await.unwrap().is_empty());

    let m1 = manifest(acc.personal, 1);
    store
        .put_object(w.clone(), None, std::slice::from_ref(&m1))
        .await
        .unwrap();
    let stored = store.manifests_for_user(uid).await.unwrap();
    assert_eq!(
        stored,
        vec![ManifestRecord {
            vault_id: acc.personal,
            user_id: Some(uid),
            counter: 1,
            blob: m1.blob.clone(),
            updated_at: T0,
        }]
    );

    let mut current = w.clone();
    for (counter, expected) in [(1, 1), (3, 1), (0, 1)] {
        assert_manifest_conflict(
            store
                .put_object(
                    next(&current, T0 + 1),
                    Some(current.version),
                    &[manifest(acc.personal, counter)],
                )
                .await,
            acc.personal,
            expected,
        );
    }
    for counter in 2..=4 {
        let n = next(&current, T0 + counter);
        let m = manifest(acc.personal, counter);
        store
            .put_object(n.clone(), Some(current.version), std::slice::from_ref(&m))
            .await
            .unwrap();
        current = n;
        let stored = store.manifests_for_user(uid).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].counter, counter);
        assert_eq!(stored[0].blob, m.blob);
        assert_eq!(stored[0].updated_at, T0 + counter);
    }
    // Vaults count independently.
    store
        .put_object(
            item(uid, acc.business, 1, T0),
            None,
            &[manifest(acc.business, 1)],
        )
        .await
        .unwrap();
    assert_eq!(manifest_counters(store, uid).await, {
        let mut v = vec![(acc.personal, 4), (acc.business, 1)];
        v.sort();
        v
    });
}

/// A failed manifest compare-and-swap writes nothing: not the object, not a feed position.
pub async fn manifest_conflict_leaves_object_unchanged<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    let rec = store
        .put_object(v1.clone(), None, &[manifest(acc.personal, 1)])
        .await
        .unwrap();

    // Update with a stale manifest.
    assert_manifest_conflict(
        store
            .put_object(next(&v1, T0 + 1), Some(1), &[manifest(acc.personal, 1)])
            .await,
        acc.personal,
        1,
    );
    assert_eq!(
        store.get_object(uid, v1.id).await.unwrap(),
        Some(rec.clone())
    );
    // Create with a stale manifest.
    let fresh = item(uid, acc.personal, 1, T0 + 2);
    assert_manifest_conflict(
        store
            .put_object(fresh.clone(), None, &[manifest(acc.personal, 5)])
            .await,
        acc.personal,
        1,
    );
    assert_eq!(store.get_object(uid, fresh.id).await.unwrap(), None);
    let page = store.changes_since(uid, rec.seq, 10).await.unwrap();
    assert!(
        page.objects.is_empty() && page.tombstones.is_empty(),
        "no feed entry"
    );
    // Two manifests, the second stale: the first is not stored either.
    assert_manifest_conflict(
        store
            .put_object(
                ObjectWrite {
                    vault_id: acc.business,
                    ..next(&v1, T0 + 3)
                },
                Some(1),
                &[manifest(acc.business, 1), manifest(acc.personal, 7)],
            )
            .await,
        acc.personal,
        1,
    );
    assert_eq!(manifest_counters(store, uid).await, vec![(acc.personal, 1)]);
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
    // The right counter then works.
    let rec = store
        .put_object(next(&v1, T0 + 4), Some(1), &[manifest(acc.personal, 2)])
        .await
        .unwrap();
    assert_eq!(rec.version, 2);
}

/// A delete with a stale manifest keeps the object and leaves no tombstone.
pub async fn manifest_conflict_on_delete_keeps_object<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    let rec = store
        .put_object(v1.clone(), None, &[manifest(acc.personal, 1)])
        .await
        .unwrap();
    assert_manifest_conflict(
        store
            .delete_object(uid, v1.id, 1, &[manifest(acc.personal, 3)], T0 + 1)
            .await,
        acc.personal,
        1,
    );
    assert_eq!(
        store.get_object(uid, v1.id).await.unwrap(),
        Some(rec.clone())
    );
    let page = store.changes_since(uid, rec.seq, 10).await.unwrap();
    assert!(page.objects.is_empty() && page.tombstones.is_empty());
    assert_eq!(manifest_counters(store, uid).await, vec![(acc.personal, 1)]);
    // A stale version wins over a stale manifest, and changes nothing either.
    assert_conflict(
        store
            .delete_object(uid, v1.id, 5, &[manifest(acc.personal, 3)], T0 + 1)
            .await,
        1,
    );
    store
        .delete_object(uid, v1.id, 1, &[manifest(acc.personal, 2)], T0 + 2)
        .await
        .unwrap();
    let stored = store.manifests_for_user(uid).await.unwrap();
    assert_eq!(stored[0].counter, 2);
    assert_eq!(stored[0].updated_at, T0 + 2);
}

/// A version conflict does not store the manifest that came with the write.
pub async fn version_conflict_leaves_manifest_unchanged<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store
        .put_object(v1.clone(), None, &[manifest(acc.personal, 1)])
        .await
        .unwrap();
    let before = store.manifests_for_user(uid).await.unwrap();
    let m2 = manifest(acc.personal, 2);
    assert_conflict(
        store
            .put_object(
                next(&next(&v1, T0), T0 + 1),
                Some(2),
                std::slice::from_ref(&m2),
            )
            .await,
        1,
    );
    // An existing id on create, too.
    assert_exists(
        store
            .put_object(v1.clone(), None, std::slice::from_ref(&m2))
            .await,
        "object",
    );
    assert_eq!(store.manifests_for_user(uid).await.unwrap(), before);
    // The same manifest is accepted with the right version.
    store
        .put_object(next(&v1, T0 + 2), Some(1), std::slice::from_ref(&m2))
        .await
        .unwrap();
    let stored = store.manifests_for_user(uid).await.unwrap();
    assert_eq!(stored[0].counter, 2);
    assert_eq!(stored[0].blob, m2.blob);
}

/// A manifest for another user's vault (or a missing one) is `NotFound` and writes nothing.
pub async fn manifest_for_foreign_or_missing_vault_not_found<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let uid = acc.user.id;
    store
        .put_object(
            item(other.user.id, other.personal, 1, T0),
            None,
            &[manifest(other.personal, 1)],
        )
        .await
        .unwrap();
    let theirs = store.manifests_for_user(other.user.id).await.unwrap();

    for vault in [other.personal, other.business, Uuid::new_v4()] {
        let w = item(uid, acc.personal, 1, T0);
        for counter in [1, 2] {
            assert_not_found(
                store
                    .put_object(
                        w.clone(),
                        None,
                        &[manifest(acc.personal, 1), manifest(vault, counter)],
                    )
                    .await,
            );
        }
        assert_eq!(store.get_object(uid, w.id).await.unwrap(), None);
    }
    let mine = store
        .put_object(item(uid, acc.personal, 1, T0), None, &[])
        .await
        .unwrap();
    assert_not_found(
        store
            .delete_object(uid, mine.id, 1, &[manifest(other.personal, 2)], T0 + 1)
            .await,
    );
    assert!(store.get_object(uid, mine.id).await.unwrap().is_some());
    assert!(store.manifests_for_user(uid).await.unwrap().is_empty());
    assert_eq!(
        store.manifests_for_user(other.user.id).await.unwrap(),
        theirs
    );
}

/// A move between vaults carries the manifests of both; both are stored, or neither.
pub async fn object_move_with_two_manifests<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store
        .put_object(v1.clone(), None, &[manifest(acc.personal, 1)])
        .await
        .unwrap();
    store
        .put_object(
            item(uid, acc.business, 1, T0),
            None,
            &[manifest(acc.business, 1)],
        )
        .await
        .unwrap();

    let moved = ObjectWrite {
        vault_id: acc.business,
        key_wrap: random_bytes(),
        ..next(&v1, T0 + 1)
    };
    let (leave, enter) = (manifest(acc.personal, 2), manifest(acc.business, 2));
    let rec = store
        .put_object(moved.clone(), Some(1), &[leave.clone(), enter.clone()])
        .await
        .unwrap();
    assert_eq!(rec.vault_id, acc.business);
    let mut stored = store.manifests_for_user(uid).await.unwrap();
    stored.sort_by_key(|m| m.vault_id);
    let mut expected = vec![
        ManifestRecord {
            vault_id: acc.personal,
            user_id: Some(uid),
            counter: 2,
            blob: leave.blob,
            updated_at: T0 + 1,
        },
        ManifestRecord {
            vault_id: acc.business,
            user_id: Some(uid),
            counter: 2,
            blob: enter.blob,
            updated_at: T0 + 1,
        },
    ];
    expected.sort_by_key(|m| m.vault_id);
    assert_eq!(stored, expected);

    // Moving back with one stale manifest: nothing changes.
    let back = ObjectWrite {
        vault_id: acc.personal,
        ..next(&moved, T0 + 2)
    };
    assert_manifest_conflict(
        store
            .put_object(
                back.clone(),
                Some(2),
                &[manifest(acc.business, 3), manifest(acc.personal, 2)],
            )
            .await,
        acc.personal,
        2,
    );
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
    let mut after = store.manifests_for_user(uid).await.unwrap();
    after.sort_by_key(|m| m.vault_id);
    assert_eq!(after, expected);
    let rec = store
        .put_object(
            back,
            Some(2),
            &[manifest(acc.business, 3), manifest(acc.personal, 3)],
        )
        .await
        .unwrap();
    assert_eq!(rec.vault_id, acc.personal);
    assert_eq!(manifest_counters(store, uid).await, {
        let mut v = vec![(acc.personal, 3), (acc.business, 3)];
        v.sort();
        v
    });
}

/// `manifests_for_user` lists the user's current manifests only.
pub async fn manifests_listed_per_user<S: Store>(store: &S) {
    let a = account(store).await;
    let b = account(store).await;
    assert!(store
        .manifests_for_user(a.user.id)
        .await
        .unwrap()
        .is_empty());
    let mut current = item(a.user.id, a.personal, 1, T0);
    store
        .put_object(current.clone(), None, &[manifest(a.personal, 1)])
        .await
        .unwrap();
    let mut last = None;
    for counter in 2..=3 {
        let n = next(&current, T0 + counter);
        let m = manifest(a.personal, counter);
        store
            .put_object(n.clone(), Some(current.version), std::slice::from_ref(&m))
            .await
            .unwrap();
        current = n;
        last = Some(m);
    }
    store
        .put_object(
            item(b.user.id, b.business, 1, T0),
            None,
            &[manifest(b.business, 1)],
        )
        .await
        .unwrap();
    let listed = store.manifests_for_user(a.user.id).await.unwrap();
    assert_eq!(
        listed,
        vec![ManifestRecord {
            vault_id: a.personal,
            user_id: Some(a.user.id),
            counter: 3,
            blob: last.unwrap().blob,
            updated_at: T0 + 3,
        }],
        "one manifest per vault, the latest"
    );
    assert_eq!(
        manifest_counters(store, b.user.id).await,
        vec![(b.business, 1)]
    );
    assert!(store
        .manifests_for_user(Uuid::new_v4())
        .await
        .unwrap()
        .is_empty());
}

/// Pruning forgets old tombstones and expires the cursors that could have missed them.
/// Uses deletion times far before [`T0`] (see the crate documentation).
pub async fn tombstones_prune_expires_old_cursors<S: Store>(store: &S) {
    const OLD: i64 = 1_000;
    const LESS_OLD: i64 = 2_000;
    let acc = account(store).await;
    let other = account(store).await;
    let uid = acc.user.id;
    let since = anchor(store, &acc).await;
    let mut recs = Vec::new();
    for i in 0..4 {
        let w = item(uid, acc.personal, 1, T0 + i);
        recs.push(store.put_object(w, None, &[]).await.unwrap());
    }
    let before_deletes = recs[3].seq;
    store
        .delete_object(uid, recs[0].id, 1, &[], OLD)
        .await
        .unwrap();
    store
        .delete_object(uid, recs[1].id, 1, &[], LESS_OLD)
        .await
        .unwrap();
    let theirs = store
        .put_object(item(other.user.id, other.personal, 1, T0), None, &[])
        .await
        .unwrap();
    store
        .delete_object(other.user.id, theirs.id, 1, &[], LESS_OLD)
        .await
        .unwrap();
    let page = store.changes_since(uid, before_deletes, 10).await.unwrap();
    let (old, less_old) = (page.tombstones[0].clone(), page.tombstones[1].clone());
    assert_eq!((old.id, less_old.id), (recs[0].id, recs[1].id));
    let their_tombstone = store
        .changes_since(other.user.id, theirs.seq, 10)
        .await
        .unwrap()
        .tombstones[0]
        .clone();

    // Nothing older than OLD: nothing pruned, nothing expired.
    assert_eq!(store.prune_tombstones(OLD).await.unwrap(), 0);
    assert!(!store.changes_since(uid, since, 10).await.unwrap().reset);

    // Prune the oldest tombstone (deleted_at < OLD + 1).
    assert_eq!(store.prune_tombstones(OLD + 1).await.unwrap(), 1);
    // A cursor before it is expired: a reset page from 0 without the pruned tombstone.
    for expired in [since, before_deletes, old.seq - 1] {
        let page = store.changes_since(uid, expired, 100).await.unwrap();
        assert!(page.reset, "cursor {expired} is expired");
        let ids: Vec<Uuid> = page.objects.iter().map(|o| o.id).collect();
        assert!(ids.contains(&recs[2].id) && ids.contains(&recs[3].id));
        assert!(!ids.contains(&recs[0].id) && !ids.contains(&recs[1].id));
        assert_eq!(page.tombstones, vec![less_old.clone()]);
    }
    // The pruned tombstone's own position and later ones are still valid.
    let page = store.changes_since(uid, old.seq, 100).await.unwrap();
    assert!(!page.reset);
    assert_eq!(page.tombstones, vec![less_old.clone()]);
    assert!(
        !store
            .changes_since(uid, less_old.seq, 10)
            .await
            .unwrap()
            .reset
    );

    // Prune the rest (of both users).
    assert_eq!(store.prune_tombstones(LESS_OLD + 1).await.unwrap(), 2);
    assert_eq!(store.prune_tombstones(LESS_OLD + 1).await.unwrap(), 0);
    let page = store.changes_since(uid, old.seq, 100).await.unwrap();
    assert!(page.reset, "expired by the second prune");
    assert!(page.tombstones.is_empty());
    let page = store
        .changes_since(other.user.id, theirs.seq, 100)
        .await
        .unwrap();
    assert!(page.reset, "the floor applies to every user");
    // The floor never goes down: pruning nothing keeps cursors expired.
    assert_eq!(store.prune_tombstones(OLD).await.unwrap(), 0);
    assert!(store.changes_since(uid, old.seq, 10).await.unwrap().reset);
    // Objects are untouched by pruning, and new changes are after the floor.
    assert_eq!(store.list_objects(uid, None).await.unwrap().len(), 3);
    let fresh = store
        .put_object(item(uid, acc.personal, 1, T0 + 10), None, &[])
        .await
        .unwrap();
    assert!(
        store
            .changes_since(uid, less_old.seq, 10)
            .await
            .unwrap()
            .reset
    );
    let page = store
        .changes_since(uid, their_tombstone.seq, 10)
        .await
        .unwrap();
    assert!(!page.reset, "the newest pruned position is a valid cursor");
    assert_eq!(page.objects, vec![fresh]);
}
