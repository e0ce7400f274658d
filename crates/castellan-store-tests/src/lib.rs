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
//! - `put_object` checks the object row (existence, owner, versions) before the target vault.

use castellan_store::{
    LoginAttempt, NewUser, NewVault, ObjectKind, ObjectRecord, ObjectWrite, SessionRecord, Store,
    StoreError, VaultKind,
};
use uuid::Uuid;

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
    }
}

fn record_of(w: &ObjectWrite, created_at: i64) -> ObjectRecord {
    ObjectRecord {
        id: w.id,
        user_id: w.user_id,
        vault_id: w.vault_id,
        kind: w.kind,
        version: w.version,
        trashed: w.trashed,
        key_wrap: w.key_wrap.clone(),
        overview: w.overview.clone(),
        details: w.details.clone(),
        created_at,
        updated_at: w.now,
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
    let rec = store.put_object(w.clone(), None).await.unwrap();
    assert_eq!(rec, record_of(&w, T0));
    assert_eq!(store.get_object(uid, w.id).await.unwrap(), Some(rec));

    let folder = ObjectWrite {
        kind: ObjectKind::Folder,
        key_wrap: Vec::new(),
        details: Vec::new(),
        trashed: true,
        ..item(uid, acc.business, 1, T0 + 5)
    };
    let rec = store.put_object(folder.clone(), None).await.unwrap();
    assert_eq!(rec, record_of(&folder, T0 + 5));
    assert_eq!(store.get_object(uid, folder.id).await.unwrap(), Some(rec));
}

/// A create must carry version 1.
pub async fn object_create_requires_version_one<S: Store>(store: &S) {
    let acc = account(store).await;
    for version in [0, 2, 5] {
        let w = item(acc.user.id, acc.personal, version, T0);
        assert_conflict(store.put_object(w.clone(), None).await, 0);
        assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);
    }
}

/// Creating an id that exists (for this or another user) is `AlreadyExists("object")`.
pub async fn object_create_existing_id<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let w = item(acc.user.id, acc.personal, 1, T0);
    let original = store.put_object(w.clone(), None).await.unwrap();

    assert_exists(store.put_object(next(&w, T0 + 1), None).await, "object");
    let again = ObjectWrite {
        overview: random_bytes(),
        now: T0 + 1,
        ..w.clone()
    };
    assert_exists(store.put_object(again, None).await, "object");

    let hijack = ObjectWrite {
        id: w.id,
        ..item(other.user.id, other.personal, 1, T0)
    };
    assert_exists(store.put_object(hijack, None).await, "object");

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
    assert_not_found(store.put_object(w.clone(), None).await);
    assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);
    assert_eq!(store.get_object(other.user.id, w.id).await.unwrap(), None);
    assert!(store
        .list_objects(other.user.id, None)
        .await
        .unwrap()
        .is_empty());

    let w = item(acc.user.id, Uuid::new_v4(), 1, T0);
    assert_not_found(store.put_object(w.clone(), None).await);
    assert_eq!(store.get_object(acc.user.id, w.id).await.unwrap(), None);

    // A user that does not exist owns no vault.
    let w = item(Uuid::new_v4(), acc.personal, 1, T0);
    assert_not_found(store.put_object(w, None).await);
}

/// Updates succeed against the current version only and keep `created_at`.
pub async fn object_update_compare_and_swap<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None).await.unwrap();

    let v2 = ObjectWrite {
        trashed: true,
        ..next(&v1, T0 + 10)
    };
    let rec = store.put_object(v2.clone(), Some(1)).await.unwrap();
    assert_eq!(rec, record_of(&v2, T0));
    assert_eq!(
        store.get_object(uid, v1.id).await.unwrap(),
        Some(rec.clone())
    );

    // A client still at version 1 loses.
    let stale = next(&v1, T0 + 20);
    assert_conflict(store.put_object(stale, Some(1)).await, 2);
    // A client claiming a future version loses too.
    let ahead = ObjectWrite {
        version: 4,
        ..next(&v2, T0 + 20)
    };
    assert_conflict(store.put_object(ahead, Some(3)).await, 2);
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));

    let v3 = ObjectWrite {
        trashed: false,
        ..next(&v2, T0 + 30)
    };
    let rec = store.put_object(v3.clone(), Some(2)).await.unwrap();
    assert_eq!(rec, record_of(&v3, T0));
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
}

/// The new version must be exactly `expected + 1`.
pub async fn object_update_wrong_increment<S: Store>(store: &S) {
    let acc = account(store).await;
    let v1 = item(acc.user.id, acc.personal, 1, T0);
    let rec = store.put_object(v1.clone(), None).await.unwrap();
    for version in [1, 3, 0, -1] {
        let w = ObjectWrite {
            version,
            ..next(&v1, T0 + 1)
        };
        assert_conflict(store.put_object(w, Some(1)).await, 1);
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
    assert_not_found(store.put_object(missing.clone(), Some(1)).await);
    assert_eq!(
        store.get_object(acc.user.id, missing.id).await.unwrap(),
        None
    );

    let theirs = item(other.user.id, other.personal, 1, T0);
    let rec = store.put_object(theirs.clone(), None).await.unwrap();
    // Into the attacker's own vault and into the owner's vault: both refused.
    let steal = ObjectWrite {
        user_id: acc.user.id,
        vault_id: acc.personal,
        ..next(&theirs, T0 + 1)
    };
    assert_not_found(store.put_object(steal, Some(1)).await);
    let overwrite = ObjectWrite {
        user_id: acc.user.id,
        ..next(&theirs, T0 + 1)
    };
    assert_not_found(store.put_object(overwrite, Some(1)).await);
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
    store.put_object(v1.clone(), None).await.unwrap();
    let moved = ObjectWrite {
        vault_id: acc.business,
        key_wrap: random_bytes(),
        ..next(&v1, T0 + 1)
    };
    let rec = store.put_object(moved.clone(), Some(1)).await.unwrap();
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
    let rec = store.put_object(v1.clone(), None).await.unwrap();
    let into_theirs = ObjectWrite {
        vault_id: other.personal,
        ..next(&v1, T0 + 1)
    };
    assert_not_found(store.put_object(into_theirs, Some(1)).await);
    let into_nothing = ObjectWrite {
        vault_id: Uuid::new_v4(),
        ..next(&v1, T0 + 1)
    };
    assert_not_found(store.put_object(into_nothing, Some(1)).await);
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
    store.put_object(next(&v1, T0 + 2), Some(1)).await.unwrap();
}

/// Another user's object is invisible (`None`), as is a missing one.
pub async fn object_get_foreign_is_none<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    let w = item(other.user.id, other.personal, 1, T0);
    store.put_object(w.clone(), None).await.unwrap();
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
        personal.push(store.put_object(w, None).await.unwrap());
        let w = ObjectWrite {
            kind: ObjectKind::Folder,
            ..item(uid, acc.business, 1, T0 + i)
        };
        business.push(store.put_object(w, None).await.unwrap());
    }
    store
        .put_object(item(other.user.id, other.personal, 1, T0), None)
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
    store.put_object(v1.clone(), None).await.unwrap();
    let v2 = ObjectWrite {
        trashed: true,
        ..next(&v1, T0 + 1)
    };
    store.put_object(v2.clone(), Some(1)).await.unwrap();
    let keep = store
        .put_object(item(uid, acc.personal, 1, T0), None)
        .await
        .unwrap();

    store.delete_object(uid, v1.id, 2).await.unwrap();
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), None);
    assert_eq!(store.list_objects(uid, None).await.unwrap(), vec![keep]);
    assert_not_found(store.delete_object(uid, v1.id, 2).await);
    assert_not_found(store.put_object(next(&v2, T0 + 2), Some(2)).await);
}

/// Deleting with a stale version is a `VersionConflict` and keeps the object.
pub async fn object_delete_stale_version<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let v1 = item(uid, acc.personal, 1, T0);
    store.put_object(v1.clone(), None).await.unwrap();
    let rec = store.put_object(next(&v1, T0 + 1), Some(1)).await.unwrap();
    assert_conflict(store.delete_object(uid, v1.id, 1).await, 2);
    assert_conflict(store.delete_object(uid, v1.id, 3).await, 2);
    assert_eq!(store.get_object(uid, v1.id).await.unwrap(), Some(rec));
}

/// Deleting a missing object or another user's is `NotFound`.
pub async fn object_delete_missing_or_foreign<S: Store>(store: &S) {
    let acc = account(store).await;
    let other = account(store).await;
    assert_not_found(store.delete_object(acc.user.id, Uuid::new_v4(), 1).await);
    let theirs = item(other.user.id, other.personal, 1, T0);
    let rec = store.put_object(theirs.clone(), None).await.unwrap();
    assert_not_found(store.delete_object(acc.user.id, theirs.id, 1).await);
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
    store.put_object(v1.clone(), None).await.unwrap();

    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = store.clone();
        let w = next(&v1, T0 + 1 + i);
        set.spawn(async move { (w.clone(), store.put_object(w, Some(1)).await) });
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
        record_of(winners[0], T0),
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
        set.spawn(async move { (w.clone(), store.put_object(w, None).await) });
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
    assert_eq!(
        store.get_object(uid, id).await.unwrap(),
        Some(record_of(winners[0], winners[0].now))
    );
}
