//! Organisation backup scenarios: backups per company and user, retention, deletion with the
//! policy, survival of the user's deletion, Recovery Groups and handovers.

use castellan_store::{BackupRecord, GroupRecord, HandoverRecord, Role, Store, StoreError};
use uuid::Uuid;

use crate::org::{customer, join, partner};
use crate::{assert_not_found, random_bytes, T0};

fn backup(company_id: Uuid, user_id: Uuid, email: &str, at: i64) -> BackupRecord {
    BackupRecord {
        company_id,
        user_id,
        user_email: email.to_string(),
        backup_id: Uuid::new_v4(),
        created_at: at,
        key_version: 1,
        public_key: vec![9; 32],
        sealed_key: random_bytes(),
        envelope: vec![7; 100],
        member_cert: random_bytes(),
        signature: vec![1; 64],
    }
}

/// Backups are stored and read per company, listed by user and newest first, pruned by age,
/// and survive the user's deletion.
pub async fn backup_put_list_get_prune<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let other = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::User, admin.user.id).await;
    let v = join(store, c.id, Role::User, admin.user.id).await;
    let b1 = backup(c.id, u.user.id, &u.user.email, T0);
    let b2 = backup(c.id, u.user.id, &u.user.email, T0 + 100);
    let b3 = backup(c.id, v.user.id, &v.user.email, T0 + 50);
    for b in [&b1, &b2, &b3] {
        store.put_backup(b.clone()).await.unwrap();
    }
    // The same id twice; an unknown company.
    assert!(matches!(
        store.put_backup(b1.clone()).await,
        Err(StoreError::AlreadyExists("backup"))
    ));
    assert!(matches!(
        store
            .put_backup(backup(Uuid::new_v4(), u.user.id, "x@y", T0))
            .await,
        Err(StoreError::NotFound)
    ));

    let all = store.list_backups(c.id, None).await.unwrap();
    assert_eq!(all.len(), 3);
    let of_u: Vec<_> = all.iter().filter(|s| s.user_id == u.user.id).collect();
    assert_eq!(of_u[0].backup_id, b2.backup_id, "newest first");
    assert_eq!(of_u[1].backup_id, b1.backup_id);
    assert_eq!(of_u[0].size, 100);
    let only_v = store.list_backups(c.id, Some(v.user.id)).await.unwrap();
    assert_eq!(only_v.len(), 1);
    assert_eq!(only_v[0].user_email, v.user.email);
    // Another company sees nothing and cannot read them by id.
    assert!(store.list_backups(other.id, None).await.unwrap().is_empty());
    assert!(store
        .get_backup(other.id, b1.backup_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get_backup(c.id, b1.backup_id).await.unwrap(),
        Some(b1.clone())
    );

    // The user is deleted: the backups stay.
    store.delete_user(u.user.id).await.unwrap();
    assert_eq!(
        store.get_backup(c.id, b2.backup_id).await.unwrap(),
        Some(b2.clone())
    );

    // Retention: older than T0 + 50 goes.
    assert_eq!(store.prune_backups(c.id, T0 + 50).await.unwrap(), 1);
    assert_eq!(store.list_backups(c.id, None).await.unwrap().len(), 2);
    assert_eq!(store.prune_backups(other.id, T0 + 1000).await.unwrap(), 0);
    // Policy off: all of the company's go.
    store
        .put_backup(backup(other.id, v.user.id, "v@x", T0))
        .await
        .unwrap();
    assert_eq!(store.delete_company_backups(c.id).await.unwrap(), 2);
    assert!(store.list_backups(c.id, None).await.unwrap().is_empty());
    assert_eq!(store.list_backups(other.id, None).await.unwrap().len(), 1);
}

/// A Recovery Group keeps its flag and has no admin grant; other groups are not flagged.
pub async fn backup_recovery_group_flag<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let everyone = store.groups_of(c.id).await.unwrap().remove(0);
    assert!(!everyone.is_recovery);
    let g = GroupRecord {
        id: Uuid::new_v4(),
        company_id: c.id,
        name: "Recovery Group".into(),
        is_everyone: false,
        signing_public_key: random_bytes(),
        encryption_public_key: random_bytes(),
        roster: random_bytes(),
        roster_version: 1,
        admin_grant: Vec::new(),
        members: Vec::new(),
        created_at: T0,
        updated_at: T0,
        is_recovery: true,
    };
    store.create_group(g.clone(), vec![]).await.unwrap();
    let back = store.group(c.id, g.id).await.unwrap().unwrap();
    assert!(back.is_recovery);
    assert!(back.admin_grant.is_empty());
    let _ = admin;
}

/// Handovers are kept for their user until deleted by them; unknown users are refused.
pub async fn backup_handovers<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::User, admin.user.id).await;
    let h = HandoverRecord {
        id: Uuid::new_v4(),
        company_id: c.id,
        user_id: u.user.id,
        created_by: admin.user.id,
        created_at: T0,
        sealed: random_bytes(),
        admin_cert: random_bytes(),
        signature: vec![2; 64],
    };
    store.put_handover(h.clone()).await.unwrap();
    assert!(matches!(
        store.put_handover(h.clone()).await,
        Err(StoreError::AlreadyExists("handover"))
    ));
    assert!(matches!(
        store
            .put_handover(HandoverRecord {
                id: Uuid::new_v4(),
                user_id: Uuid::new_v4(),
                ..h.clone()
            })
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.handovers_for(u.user.id).await.unwrap(),
        vec![h.clone()]
    );
    assert!(store.handovers_for(admin.user.id).await.unwrap().is_empty());
    assert_not_found(store.delete_handover(admin.user.id, h.id).await);
    store.delete_handover(u.user.id, h.id).await.unwrap();
    assert!(store.handovers_for(u.user.id).await.unwrap().is_empty());
}
