//! Conformance scenarios for sharing (`ShareStore` and the share side of the object methods).
//!
//! Semantics pinned here beyond the trait's doc comments:
//! - reads take the wall clock for expiry (`get_object`, `list_objects`, `changes_since`,
//!   `manifests_for_user` have no `now`); writes take `write.now`;
//! - access through a group needs the group's member list and a membership of the share's
//!   company; a group member without a stored state is `Invited`;
//! - a write into a share by someone who may read but not write it is `NotFound`, like a vault
//!   they cannot reach; a share's objects have `user_id` `None` and `author_id` the writer.

use castellan_store::{
    AclWrite, GroupRecord, ManifestWrite, ObjectWrite, PrincipalKind, RewrappedObject, ShareCreate,
    ShareEntry, ShareGrantRecord, ShareRole, ShareRotation, ShareState, Store, StoreError,
    UserShareState,
};
use uuid::Uuid;

use crate::org::{join, partner};
use crate::{assert_conflict, assert_not_found, item, random_bytes, Account, T0};

fn wall() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn entry(kind: PrincipalKind, principal_id: Uuid, role: ShareRole) -> ShareEntry {
    ShareEntry {
        kind,
        principal_id,
        role,
    }
}

fn user(id: Uuid, role: ShareRole) -> ShareEntry {
    entry(PrincipalKind::User, id, role)
}

fn grant(e: &ShareEntry, key_version: i64, by: Uuid) -> ShareGrantRecord {
    ShareGrantRecord {
        kind: e.kind,
        principal_id: e.principal_id,
        key_version,
        sealed: random_bytes(),
        granted_by: by,
        signature: random_bytes(),
    }
}

fn mw(vault_id: Uuid, counter: i64) -> ManifestWrite {
    ManifestWrite {
        vault_id,
        counter,
        blob: random_bytes(),
    }
}

/// A company (a partner) with its founding admin as the owner-to-be, and helpers' ids.
struct World {
    company: Uuid,
    owner: Account,
}

async fn world<S: Store>(store: &S) -> World {
    let (company, owner) = partner(store).await;
    World {
        company: company.id,
        owner,
    }
}

async fn create<S: Store>(
    store: &S,
    w: &World,
    others: Vec<ShareEntry>,
    expires_at: Option<i64>,
) -> Uuid {
    let id = Uuid::new_v4();
    let mut entries = vec![user(w.owner.user.id, ShareRole::Owner)];
    entries.extend(others);
    let grants = entries
        .iter()
        .map(|e| grant(e, 1, w.owner.user.id))
        .collect();
    let share = store
        .create_share(ShareCreate {
            id,
            company_id: w.company,
            acl: random_bytes(),
            acl_version: 1,
            key_version: 1,
            expires_at,
            name: random_bytes(),
            name_for_admins: random_bytes(),
            entries,
            grants,
            manifest: mw(id, 1),
            now: T0,
        })
        .await
        .expect("create_share");
    assert_eq!(share.acl_version, 1);
    assert!(share.owner_ids.contains(&w.owner.user.id));
    assert_eq!(share.manifest.as_ref().map(|m| m.counter), Some(1));
    id
}

/// Writes a new item into `vault` as `writer`, with manifest counter `counter`.
async fn write_item<S: Store>(
    store: &S,
    writer: Uuid,
    vault: Uuid,
    counter: i64,
) -> Result<castellan_store::ObjectRecord, StoreError> {
    let w: ObjectWrite = item(writer, vault, 1, T0);
    store.put_object(w, None, &[mw(vault, counter)]).await
}

async fn can_read<S: Store>(store: &S, user_id: Uuid, share: Uuid) -> bool {
    let listed = !store
        .list_objects(user_id, Some(share))
        .await
        .unwrap()
        .is_empty();
    let manifest = store
        .manifests_for_user(user_id)
        .await
        .unwrap()
        .iter()
        .any(|m| m.vault_id == share);
    assert_eq!(listed, manifest, "objects and manifest agree on access");
    manifest
}

fn state_of(shares: &[castellan_store::UserShare], id: Uuid) -> Option<UserShareState> {
    shares.iter().find(|s| s.share.id == id).map(|s| s.state)
}

/// A direct recipient reads after accepting, not before; a reader cannot write; an editor
/// writes and is recorded as the author; the feed and the manifests follow.
pub async fn share_access_via_user_entry<S: Store>(store: &S) {
    let w = world(store).await;
    let reader = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    let editor = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    let (r, e) = (reader.user.id, editor.user.id);
    let share = create(
        store,
        &w,
        vec![user(r, ShareRole::ReadOnly), user(e, ShareRole::Editor)],
        None,
    )
    .await;
    let first = write_item(store, w.owner.user.id, share, 2).await.unwrap();
    assert_eq!(first.user_id, None);
    assert_eq!(first.author_id, Some(w.owner.user.id));

    // Invited: nothing yet.
    assert!(!can_read(store, r, share).await);
    assert!(store.get_object(r, first.id).await.unwrap().is_none());
    let listed = store.shares_for_user(r, wall()).await.unwrap();
    assert_eq!(state_of(&listed, share), Some(UserShareState::Invited));
    assert!(!listed[0].readable);
    let owned = store
        .shares_for_user(w.owner.user.id, wall())
        .await
        .unwrap();
    assert_eq!(state_of(&owned, share), Some(UserShareState::Owned));

    store
        .set_share_state(share, r, ShareState::Accepted, T0)
        .await
        .unwrap();
    store
        .set_share_state(share, e, ShareState::Accepted, T0)
        .await
        .unwrap();
    assert!(can_read(store, r, share).await);
    let got = store.get_object(r, first.id).await.unwrap().unwrap();
    assert_eq!(got.author_id, Some(w.owner.user.id));
    let feed = store.changes_since(r, 0, 100).await.unwrap();
    assert!(feed.objects.iter().any(|o| o.id == first.id));
    assert!(store
        .list_objects(r, None)
        .await
        .unwrap()
        .iter()
        .any(|o| o.id == first.id));

    // A reader may not write (as if the vault were out of reach), an editor may.
    assert_not_found(write_item(store, r, share, 3).await);
    let mut update = item(r, share, 2, T0 + 1);
    update.id = first.id;
    assert_not_found(store.put_object(update, Some(1), &[mw(share, 3)]).await);
    assert_not_found(
        store
            .delete_object(r, first.id, 1, &[mw(share, 3)], T0)
            .await,
    );
    let by_editor = write_item(store, e, share, 3).await.unwrap();
    assert_eq!(by_editor.author_id, Some(e));
    let mut edit = item(e, share, 2, T0 + 2);
    edit.id = first.id;
    let edited = store
        .put_object(edit, Some(1), &[mw(share, 4)])
        .await
        .unwrap();
    assert_eq!(edited.author_id, Some(e));
    let seq = store
        .delete_object(e, by_editor.id, 1, &[mw(share, 5)], T0 + 3)
        .await
        .unwrap();
    assert!(seq > edited.seq);
    let feed = store.changes_since(r, first.seq, 100).await.unwrap();
    assert!(feed
        .tombstones
        .iter()
        .any(|t| t.id == by_editor.id && t.seq == seq));
    assert!(feed
        .objects
        .iter()
        .any(|o| o.id == first.id && o.version == 2));

    // Someone outside the share reads nothing of it.
    let outsider = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    assert!(!can_read(store, outsider.user.id, share).await);
    assert!(store
        .shares_for_user(outsider.user.id, wall())
        .await
        .unwrap()
        .is_empty());
    assert_not_found(
        store
            .set_share_state(share, outsider.user.id, ShareState::Accepted, T0)
            .await,
    );
    // Owners do not accept.
    assert_not_found(
        store
            .set_share_state(share, w.owner.user.id, ShareState::Accepted, T0)
            .await,
    );
}

/// Group recipients: members (also those added later) get access, removed members lose it.
pub async fn share_access_via_group<S: Store>(store: &S) {
    let w = world(store).await;
    let a = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    let b = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    let group = GroupRecord {
        id: Uuid::new_v4(),
        company_id: w.company,
        name: "Team".into(),
        is_everyone: false,
        signing_public_key: random_bytes(),
        encryption_public_key: random_bytes(),
        roster: random_bytes(),
        roster_version: 1,
        admin_grant: random_bytes(),
        members: vec![a.user.id],
        created_at: T0,
        updated_at: T0,
        is_recovery: false,
    };
    store.create_group(group.clone(), vec![]).await.unwrap();
    let share = create(
        store,
        &w,
        vec![entry(PrincipalKind::Group, group.id, ShareRole::Editor)],
        None,
    )
    .await;
    let obj = write_item(store, w.owner.user.id, share, 2).await.unwrap();
    let listed = store.shares_for_user(a.user.id, wall()).await.unwrap();
    assert_eq!(state_of(&listed, share), Some(UserShareState::Invited));
    assert_eq!(listed[0].via_groups, vec![group.id]);
    assert_eq!(listed[0].role, ShareRole::Editor);
    store
        .set_share_state(share, a.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    assert!(can_read(store, a.user.id, share).await);
    assert!(write_item(store, a.user.id, share, 3).await.is_ok());
    assert!(!can_read(store, b.user.id, share).await);
    assert_eq!(store.share_audience(share).await.unwrap().len(), 2);

    // b joins the group later: the share reaches them (after accepting).
    let roster = |members: Vec<Uuid>, version: i64| castellan_store::RosterWrite {
        name: "Team".into(),
        roster: random_bytes(),
        version,
        members,
        grants: vec![],
        now: T0 + version,
    };
    store
        .update_group(w.company, group.id, roster(vec![a.user.id, b.user.id], 2))
        .await
        .unwrap();
    assert!(store
        .shares_for_user(b.user.id, wall())
        .await
        .unwrap()
        .iter()
        .any(|s| s.share.id == share));
    store
        .set_share_state(share, b.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    assert!(can_read(store, b.user.id, share).await);
    assert!(store.get_object(b.user.id, obj.id).await.unwrap().is_some());

    // a leaves the group: no access at once.
    store
        .update_group(w.company, group.id, roster(vec![b.user.id], 3))
        .await
        .unwrap();
    assert!(!can_read(store, a.user.id, share).await);
    assert!(store.get_object(a.user.id, obj.id).await.unwrap().is_none());
    assert!(store
        .shares_for_user(a.user.id, wall())
        .await
        .unwrap()
        .is_empty());
    assert_not_found(write_item(store, a.user.id, share, 4).await);
}

/// After `expires_at` recipients read nothing; owners keep the share. Declined shares give
/// nothing either.
pub async fn share_expired_and_declined<S: Store>(store: &S) {
    let w = world(store).await;
    let r = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    let d = join(
        store,
        w.company,
        castellan_store::Role::User,
        w.owner.user.id,
    )
    .await;
    let expired = create(
        store,
        &w,
        vec![user(r.user.id, ShareRole::Editor)],
        Some(wall() - 10),
    )
    .await;
    write_item(store, w.owner.user.id, expired, 2)
        .await
        .unwrap();
    store
        .set_share_state(expired, r.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    assert!(!can_read(store, r.user.id, expired).await);
    assert!(can_read(store, w.owner.user.id, expired).await);
    let listed = store.shares_for_user(r.user.id, wall()).await.unwrap();
    assert_eq!(state_of(&listed, expired), Some(UserShareState::Accepted));
    assert!(!listed[0].readable);
    // Writes at a time after expiry are refused too.
    let late = item(r.user.id, expired, 1, wall());
    assert_not_found(store.put_object(late, None, &[mw(expired, 3)]).await);

    let live = create(
        store,
        &w,
        vec![user(d.user.id, ShareRole::ReadOnly)],
        Some(wall() + 3600),
    )
    .await;
    write_item(store, w.owner.user.id, live, 2).await.unwrap();
    store
        .set_share_state(live, d.user.id, ShareState::Declined, T0)
        .await
        .unwrap();
    assert!(!can_read(store, d.user.id, live).await);
    let listed = store.shares_for_user(d.user.id, wall()).await.unwrap();
    assert_eq!(state_of(&listed, live), Some(UserShareState::Declined));
    store
        .set_share_state(live, d.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    assert!(can_read(store, d.user.id, live).await);
}

/// ACL updates are compare-and-swapped, replace the entries and drop grants of removed
/// principals; rotation re-wraps exactly the share's objects, atomically.
pub async fn share_acl_and_rotation<S: Store>(store: &S) {
    let w = world(store).await;
    let o = w.owner.user.id;
    let r = join(store, w.company, castellan_store::Role::User, o).await;
    let x = join(store, w.company, castellan_store::Role::User, o).await;
    let share = create(store, &w, vec![user(r.user.id, ShareRole::ReadOnly)], None).await;
    let a = write_item(store, o, share, 2).await.unwrap();
    let b = write_item(store, o, share, 3).await.unwrap();

    let entries = vec![
        user(o, ShareRole::Owner),
        user(x.user.id, ShareRole::Editor),
    ];
    let acl = |version: i64, entries: Vec<ShareEntry>, grants: Vec<ShareGrantRecord>| AclWrite {
        acl: random_bytes(),
        acl_version: version,
        expires_at: None,
        entries,
        grants,
        now: T0 + 10,
    };
    assert_conflict(
        store
            .update_acl(share, acl(3, entries.clone(), vec![]))
            .await,
        1,
    );
    let updated = store
        .update_acl(
            share,
            acl(2, entries.clone(), vec![grant(&entries[1], 1, o)]),
        )
        .await
        .unwrap();
    assert_eq!(updated.acl_version, 2);
    assert_eq!(updated.entries.len(), 2);
    assert!(updated.grants.iter().all(|g| g.principal_id != r.user.id));
    assert_eq!(updated.grants.len(), 2);
    assert!(store
        .shares_for_user(r.user.id, wall())
        .await
        .unwrap()
        .is_empty());
    // A grant for a principal outside the ACL.
    assert_not_found(
        store
            .add_grants(
                share,
                vec![grant(&user(r.user.id, ShareRole::ReadOnly), 1, o)],
                T0,
            )
            .await,
    );

    let rotation = |objects: Vec<RewrappedObject>, acl_version: i64, counter: i64| {
        let entries = entries.clone();
        ShareRotation {
            acl: random_bytes(),
            acl_version,
            key_version: 2,
            expires_at: None,
            grants: entries.iter().map(|e| grant(e, 2, o)).collect(),
            entries,
            name: random_bytes(),
            name_for_admins: random_bytes(),
            objects,
            manifest: mw(share, counter),
            now: T0 + 20,
        }
    };
    let rewrap = |id: Uuid, expected_version: i64| RewrappedObject {
        id,
        expected_version,
        key_wrap: random_bytes(),
        overview: random_bytes(),
        details: random_bytes(),
    };
    // Stale ACL version, missing object, stale object version, foreign object: nothing changes.
    assert_conflict(
        store
            .rotate_share(
                share,
                rotation(vec![rewrap(a.id, 1), rewrap(b.id, 1)], 2, 4),
            )
            .await,
        2,
    );
    assert_conflict(
        store
            .rotate_share(share, rotation(vec![rewrap(a.id, 1)], 3, 4))
            .await,
        1,
    );
    assert_conflict(
        store
            .rotate_share(
                share,
                rotation(vec![rewrap(a.id, 1), rewrap(b.id, 7)], 3, 4),
            )
            .await,
        1,
    );
    assert_conflict(
        store
            .rotate_share(
                share,
                rotation(
                    vec![rewrap(a.id, 1), rewrap(b.id, 1), rewrap(Uuid::new_v4(), 1)],
                    3,
                    4,
                ),
            )
            .await,
        0,
    );
    assert!(matches!(
        store
            .rotate_share(
                share,
                rotation(vec![rewrap(a.id, 1), rewrap(b.id, 1)], 3, 9)
            )
            .await,
        Err(StoreError::ManifestConflict { current: 3, .. })
    ));
    let unchanged = store.share(share).await.unwrap().unwrap();
    assert_eq!((unchanged.acl_version, unchanged.key_version), (2, 1));
    assert_eq!(store.get_object(o, a.id).await.unwrap().unwrap().version, 1);

    let (rotated, seqs) = store
        .rotate_share(
            share,
            rotation(vec![rewrap(a.id, 1), rewrap(b.id, 1)], 3, 4),
        )
        .await
        .unwrap();
    assert_eq!((rotated.acl_version, rotated.key_version), (3, 2));
    assert_eq!(rotated.grants.len(), 2);
    assert!(rotated.grants.iter().all(|g| g.key_version == 2));
    assert_eq!(rotated.manifest.unwrap().counter, 4);
    assert_eq!(seqs.len(), 2);
    let after = store.get_object(o, a.id).await.unwrap().unwrap();
    assert_eq!(after.version, 2);
    assert!(after.seq > b.seq);
    assert_eq!(after.author_id, Some(o));
}

/// Deleting a share removes its objects and leaves their tombstones in the feed of everyone who
/// could read it; deleting users deletes the shares they alone own.
pub async fn share_delete_and_user_deletion<S: Store>(store: &S) {
    let w = world(store).await;
    let o = w.owner.user.id;
    let r = join(store, w.company, castellan_store::Role::User, o).await;
    let co = join(store, w.company, castellan_store::Role::User, o).await;
    let share = create(store, &w, vec![user(r.user.id, ShareRole::ReadOnly)], None).await;
    let a = write_item(store, o, share, 2).await.unwrap();
    store
        .set_share_state(share, r.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    let cursor = store.changes_since(r.user.id, 0, 100).await.unwrap().cursor;
    let (readers, last) = store.delete_share(share, T0 + 5).await.unwrap();
    assert_eq!(readers.len(), 2);
    assert!(last > a.seq);
    assert!(store.share(share).await.unwrap().is_none());
    let feed = store.changes_since(r.user.id, cursor, 100).await.unwrap();
    assert_eq!(feed.tombstones.len(), 1);
    assert_eq!(
        (feed.tombstones[0].id, feed.tombstones[0].vault_id),
        (a.id, share)
    );
    assert!(store
        .shares_for_user(r.user.id, wall())
        .await
        .unwrap()
        .is_empty());
    assert!(!can_read(store, o, share).await);
    assert_not_found(store.delete_share(share, T0).await);

    // Sole owner deleted: the share goes; with a co-owner it stays, without the user.
    let sole = create(store, &w, vec![user(r.user.id, ShareRole::ReadOnly)], None).await;
    let shared = create(
        store,
        &w,
        vec![
            user(co.user.id, ShareRole::Owner),
            user(r.user.id, ShareRole::ReadOnly),
        ],
        None,
    )
    .await;
    write_item(store, o, sole, 2).await.unwrap();
    let kept = write_item(store, o, shared, 2).await.unwrap();
    store
        .set_share_state(sole, r.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    let cursor = store.changes_since(r.user.id, 0, 100).await.unwrap().cursor;
    store.delete_user(o).await.unwrap();
    assert!(store.share(sole).await.unwrap().is_none());
    let feed = store.changes_since(r.user.id, cursor, 100).await.unwrap();
    assert!(feed.tombstones.iter().any(|t| t.vault_id == sole));
    let left = store.share(shared).await.unwrap().unwrap();
    assert_eq!(left.owner_ids, vec![co.user.id]);
    assert!(left.entries.iter().all(|e| e.principal_id != o));
    assert!(store
        .get_object(co.user.id, kept.id)
        .await
        .unwrap()
        .is_some());
}

/// An object moves between a share and an own vault only by a writer of both; readers of the
/// share who cannot follow it see a tombstone, the mover does not.
pub async fn share_moves<S: Store>(store: &S) {
    let w = world(store).await;
    let o = w.owner.user.id;
    let r = join(store, w.company, castellan_store::Role::User, o).await;
    let share = create(store, &w, vec![user(r.user.id, ShareRole::Editor)], None).await;
    store
        .set_share_state(share, r.user.id, ShareState::Accepted, T0)
        .await
        .unwrap();
    let own = item(o, w.owner.business, 1, T0);
    let own = store
        .put_object(own, None, &[mw(w.owner.business, 1)])
        .await
        .unwrap();
    // Into the share.
    let mut into = item(o, share, 2, T0 + 1);
    into.id = own.id;
    let moved = store
        .put_object(into, Some(1), &[mw(share, 2), mw(w.owner.business, 2)])
        .await
        .unwrap();
    assert_eq!((moved.user_id, moved.author_id), (None, Some(o)));
    assert!(store.get_object(r.user.id, own.id).await.unwrap().is_some());
    // The recipient cannot take it into their own vault (not a writer of... the owner's
    // vault), nor can it go to someone else's vault.
    let mut away = item(r.user.id, w.owner.personal, 3, T0 + 2);
    away.id = own.id;
    assert_not_found(
        store
            .put_object(away, Some(2), &[mw(w.owner.personal, 1), mw(share, 3)])
            .await,
    );
    let cursor = store.changes_since(r.user.id, 0, 100).await.unwrap().cursor;
    let owner_cursor = store.changes_since(o, 0, 100).await.unwrap().cursor;
    // Back out to the owner's business vault.
    let mut back = item(o, w.owner.business, 3, T0 + 3);
    back.id = own.id;
    let back = store
        .put_object(back, Some(2), &[mw(w.owner.business, 3), mw(share, 3)])
        .await
        .unwrap();
    assert_eq!((back.user_id, back.author_id), (Some(o), None));
    let feed = store.changes_since(r.user.id, cursor, 100).await.unwrap();
    assert_eq!(feed.tombstones.len(), 1);
    assert_eq!(feed.tombstones[0].vault_id, share);
    assert!(store.get_object(r.user.id, own.id).await.unwrap().is_none());
    let feed = store.changes_since(o, owner_cursor, 100).await.unwrap();
    assert!(
        feed.tombstones.is_empty(),
        "the mover still reads the object"
    );
    assert!(feed
        .objects
        .iter()
        .any(|x| x.id == own.id && x.version == 3));
}
