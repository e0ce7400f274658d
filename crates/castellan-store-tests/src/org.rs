//! Conformance scenarios of [`castellan_store::OrgStore`]: setup token, companies, key grants,
//! technicians, invitations and seats, members, groups, policy templates, two-step
//! verification, session restrictions and the audit log.
//!
//! Every scenario creates its own users and companies, so they share a database with the rest
//! of the suite. The setup token is one value per database: only `org_setup_token_*` scenarios
//! touch it, and each sets it first.

use std::collections::HashSet;

use castellan_store::{
    AuditQuery, AuditRecord, CompanyCreate, CompanyDoc, CompanyKind, CompanyRecord, CompanyStatus,
    CompanyUpdate, FounderMembership, GroupGrantRecord, GroupRecord, InvitationRecord,
    KeyGrantRecord, MemberStatus, MemberUpdate, NewCompany, Plan, PolicyTemplateRecord, Role,
    RosterWrite, Store, StoreError, TwoFactorChallenge, TwoFactorRecord,
};
use uuid::Uuid;

use crate::{
    account, assert_conflict, assert_exists, assert_not_found, item, random_bytes, session,
    Account, T0,
};

/// An expiry far after both [`T0`] and the wall clock: open for every reader.
pub(crate) const FAR: i64 = T0 + 100 * 365 * 86_400;
const DAY: i64 = 86_400;

// ---------------------------------------------------------------------------------------------
// helpers

#[track_caller]
fn assert_limit<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::LimitReached(w)) => assert_eq!(w, what, "LimitReached target"),
        other => panic!("expected LimitReached({what:?}), got {other:?}"),
    }
}

fn new_company(kind: CompanyKind, partner_id: Option<Uuid>, seats: Option<i64>) -> NewCompany {
    NewCompany {
        id: Uuid::new_v4(),
        kind,
        partner_id,
        name: format!("{} {}", kind.as_str(), Uuid::new_v4().simple()),
        plan: Plan::Trial,
        seats,
        trial_ends_at: Some(T0 + 30 * DAY),
        signing_public_key: random_bytes(),
        encryption_public_key: random_bytes(),
        created_at: T0,
    }
}

fn everyone(company_id: Uuid, members: Vec<Uuid>) -> GroupRecord {
    GroupRecord {
        id: Uuid::new_v4(),
        company_id,
        name: "Everyone".into(),
        is_everyone: true,
        signing_public_key: random_bytes(),
        encryption_public_key: random_bytes(),
        roster: random_bytes(),
        roster_version: 1,
        admin_grant: random_bytes(),
        members,
        created_at: T0,
        updated_at: T0,
        is_recovery: false,
    }
}

fn group_grant(group_id: Uuid, user_id: Uuid) -> GroupGrantRecord {
    GroupGrantRecord {
        group_id,
        user_id,
        sealed: random_bytes(),
    }
}

fn key_grant(company_id: Uuid, user_id: Uuid, granted_by: Uuid, now: i64) -> KeyGrantRecord {
    KeyGrantRecord {
        company_id,
        user_id,
        sealed: random_bytes(),
        granted_by,
        created_at: now,
    }
}

/// A company with its Everyone group; with a founder, the founder is its confirmed admin, in
/// Everyone, with a key grant.
fn company_create(
    company: NewCompany,
    founder: Option<Uuid>,
    setup_token: Option<String>,
) -> CompanyCreate {
    let everyone = everyone(company.id, founder.into_iter().collect());
    CompanyCreate {
        setup_token,
        founder: founder.map(|user_id| FounderMembership {
            user_id,
            cert: random_bytes(),
        }),
        key_grants: founder
            .map(|f| key_grant(company.id, f, f, T0))
            .into_iter()
            .collect(),
        everyone_grants: founder
            .map(|f| group_grant(everyone.id, f))
            .into_iter()
            .collect(),
        everyone,
        company,
        policy: None,
    }
}

/// A partner with a founding admin.
pub(crate) async fn partner<S: Store>(store: &S) -> (CompanyRecord, Account) {
    let admin = account(store).await;
    let company = store
        .create_company(company_create(
            new_company(CompanyKind::Partner, None, None),
            Some(admin.user.id),
            None,
        ))
        .await
        .expect("create partner");
    (company, admin)
}

pub(crate) async fn customer<S: Store>(
    store: &S,
    partner_id: Uuid,
    seats: Option<i64>,
) -> CompanyRecord {
    store
        .create_company(company_create(
            new_company(CompanyKind::Customer, Some(partner_id), seats),
            None,
            None,
        ))
        .await
        .expect("create customer")
}

fn invitation(
    company_id: Uuid,
    email: &str,
    role: Role,
    created_by: Uuid,
    created_at: i64,
    expires_at: i64,
) -> InvitationRecord {
    InvitationRecord {
        id: Uuid::new_v4(),
        company_id,
        email: email.to_string(),
        role,
        secret_hash: random_bytes(),
        signed: random_bytes(),
        created_by,
        created_at,
        expires_at,
        accepted_by: None,
        accepted_at: None,
        revoked_at: None,
    }
}

fn email() -> String {
    format!("{}@example.test", Uuid::new_v4().simple())
}

/// A new account that joined the company (invited by `inviter`, accepted, not confirmed).
pub(crate) async fn join<S: Store>(
    store: &S,
    company_id: Uuid,
    role: Role,
    inviter: Uuid,
) -> Account {
    let acc = account(store).await;
    let inv = invitation(company_id, &acc.user.email, role, inviter, T0, FAR);
    store.create_invitation(inv.clone()).await.expect("invite");
    store
        .accept_invitation(inv.id, acc.user.id, T0 + 1)
        .await
        .expect("accept");
    acc
}

fn member_ids(members: &[castellan_store::MemberRecord]) -> HashSet<Uuid> {
    members.iter().map(|m| m.user_id).collect()
}

fn audit(company_id: Option<Uuid>, at: i64, event: &str) -> AuditRecord {
    AuditRecord {
        seq: 0,
        at,
        company_id,
        actor_id: None,
        actor_email: None,
        target_user_id: None,
        target_email: None,
        event: event.to_string(),
        details: format!("{{\"n\":\"{}\"}}", Uuid::new_v4().simple()),
        ip: None,
    }
}

fn audit_query(company_ids: Vec<Uuid>) -> AuditQuery {
    AuditQuery {
        company_ids,
        limit: 100,
        ..AuditQuery::default()
    }
}

fn seqs(events: &[AuditRecord]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

// ---------------------------------------------------------------------------------------------
// setup token and companies

/// The first stored setup token stays until it is replaced.
pub async fn org_setup_token_get_or_init_keeps_first<S: Store>(store: &S) {
    let first = format!("token-{}", Uuid::new_v4());
    store.setup_token_set(first.clone()).await.unwrap();
    assert_eq!(
        store
            .setup_token_get_or_init(format!("other-{}", Uuid::new_v4()))
            .await
            .unwrap(),
        first
    );
    let replaced = format!("token-{}", Uuid::new_v4());
    store.setup_token_set(replaced.clone()).await.unwrap();
    assert_eq!(
        store.setup_token_get_or_init("x".into()).await.unwrap(),
        replaced
    );
}

/// A wrong token creates nothing; the right one creates the partner with its founder, grants,
/// Everyone group and policy, and is consumed: it never works again.
pub async fn org_setup_token_consumed_once<S: Store>(store: &S) {
    let token = format!("token-{}", Uuid::new_v4());
    store.setup_token_set(token.clone()).await.unwrap();
    let founder = account(store).await;
    let uid = founder.user.id;

    let mut create = company_create(
        new_company(CompanyKind::Partner, None, None),
        Some(uid),
        Some(format!("{token}x")),
    );
    create.policy = Some(random_bytes());
    let cid = create.company.id;
    assert_not_found(store.create_company(create.clone()).await);
    assert_eq!(store.company(cid).await.unwrap(), None, "nothing created");
    assert_eq!(store.membership_of(uid).await.unwrap(), None);
    assert!(store.key_grants_for_user(uid).await.unwrap().is_empty());
    assert!(store.groups_of(cid).await.unwrap().is_empty());
    assert!(store.groups_of_user(uid).await.unwrap().is_empty());
    assert_not_found(
        store
            .create_company(CompanyCreate {
                setup_token: Some(String::new()),
                ..create.clone()
            })
            .await,
    );

    create.setup_token = Some(token.clone());
    let rec = store.create_company(create.clone()).await.unwrap();
    assert_eq!(rec.id, cid);
    assert_eq!(rec.kind, CompanyKind::Partner);
    assert_eq!(rec.partner_id, None);
    assert_eq!(rec.name, create.company.name);
    assert_eq!(rec.status, CompanyStatus::Active);
    assert_eq!(rec.plan, Plan::Trial);
    assert_eq!(rec.seats, None);
    assert_eq!(rec.trial_ends_at, create.company.trial_ends_at);
    assert_eq!(rec.signing_public_key, create.company.signing_public_key);
    assert_eq!(
        rec.encryption_public_key,
        create.company.encryption_public_key
    );
    assert_eq!(rec.policy, create.policy);
    assert_eq!(rec.policy_counter, 1);
    assert_eq!(rec.seats_used, 1, "the founder");
    assert_eq!((rec.created_at, rec.updated_at), (T0, T0));
    assert_eq!(store.company(cid).await.unwrap(), Some(rec.clone()));
    assert!(store.has_partner().await.unwrap());

    let m = store.membership_of(uid).await.unwrap().expect("founder");
    assert_eq!(m.company_id, cid);
    assert_eq!(m.email, founder.user.email);
    assert_eq!(m.role, Role::Admin);
    assert_eq!(m.status, MemberStatus::Confirmed);
    assert_eq!(
        m.cert,
        create.founder.as_ref().map(|f| f.cert.clone()),
        "self-issued certificate"
    );
    assert!(!m.disabled && !m.require_password_change);
    assert_eq!(m.confirmed_at, Some(T0));
    assert_eq!(
        store.key_grants_for_user(uid).await.unwrap(),
        create.key_grants
    );
    let groups = store.groups_of(cid).await.unwrap();
    assert_eq!(groups, vec![create.everyone.clone()]);
    assert_eq!(
        store.groups_of_user(uid).await.unwrap(),
        vec![(create.everyone.clone(), create.everyone_grants[0].clone())]
    );

    // Consumed: the same token creates nothing more.
    let again = company_create(
        new_company(CompanyKind::Partner, None, None),
        Some(account(store).await.user.id),
        Some(token.clone()),
    );
    assert_not_found(store.create_company(again.clone()).await);
    assert_eq!(store.company(again.company.id).await.unwrap(), None);
    let fresh = format!("token-{}", Uuid::new_v4());
    assert_eq!(
        store.setup_token_get_or_init(fresh.clone()).await.unwrap(),
        fresh,
        "no token is stored after consumption"
    );

    // Two setups racing with one token: exactly one partner.
    let mut set = tokio::task::JoinSet::new();
    let mut ids = Vec::new();
    for _ in 0..6 {
        let create = company_create(
            new_company(CompanyKind::Partner, None, None),
            Some(account(store).await.user.id),
            Some(fresh.clone()),
        );
        ids.push(create.company.id);
        let store = store.clone();
        set.spawn(async move { store.create_company(create).await });
    }
    let results = set.join_all().await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert_not_found(r);
    }
    let mut created = 0;
    for id in ids {
        created += usize::from(store.company(id).await.unwrap().is_some());
    }
    assert_eq!(created, 1);
}

/// Everything of a company or nothing: a taken id, a founder who is already a member, a
/// customer of an unknown partner, an Everyone member who is not a member; a refused create
/// does not consume the setup token.
pub async fn org_company_create_is_atomic<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    assert_eq!(p.seats_used, 1);

    // A taken id, with a valid setup token: refused, and the token stays.
    let token = format!("token-{}", Uuid::new_v4());
    store.setup_token_set(token.clone()).await.unwrap();
    let newcomer = account(store).await;
    let mut dup = company_create(
        new_company(CompanyKind::Partner, None, None),
        Some(newcomer.user.id),
        Some(token.clone()),
    );
    dup.company.id = p.id;
    dup.everyone.company_id = p.id;
    dup.key_grants[0].company_id = p.id;
    assert_exists(store.create_company(dup).await, "company");
    assert_eq!(store.membership_of(newcomer.user.id).await.unwrap(), None);
    assert!(store
        .key_grants_for_user(newcomer.user.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.company(p.id).await.unwrap(), Some(p.clone()));

    // The founder is already a member of a company.
    let taken = company_create(
        new_company(CompanyKind::Partner, None, None),
        Some(admin.user.id),
        Some(token.clone()),
    );
    assert_exists(store.create_company(taken.clone()).await, "membership");
    assert_eq!(store.company(taken.company.id).await.unwrap(), None);
    assert!(store.groups_of(taken.company.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .membership_of(admin.user.id)
            .await
            .unwrap()
            .unwrap()
            .company_id,
        p.id
    );

    // A customer of a partner that does not exist, or of a customer.
    let orphan = company_create(
        new_company(CompanyKind::Customer, Some(Uuid::new_v4()), Some(5)),
        None,
        None,
    );
    assert_not_found(store.create_company(orphan.clone()).await);
    assert_eq!(store.company(orphan.company.id).await.unwrap(), None);
    let c = customer(store, p.id, Some(5)).await;
    let nested = company_create(
        new_company(CompanyKind::Customer, Some(c.id), Some(5)),
        None,
        None,
    );
    assert_not_found(store.create_company(nested.clone()).await);
    assert_eq!(store.company(nested.company.id).await.unwrap(), None);

    // An Everyone group listing someone who is not a member of the new company.
    let mut stranger = company_create(
        new_company(CompanyKind::Customer, Some(p.id), None),
        None,
        None,
    );
    stranger.everyone.members = vec![newcomer.user.id];
    stranger.everyone_grants = vec![group_grant(stranger.everyone.id, newcomer.user.id)];
    assert_not_found(store.create_company(stranger.clone()).await);
    assert_eq!(store.company(stranger.company.id).await.unwrap(), None);
    assert!(store
        .groups_of_user(newcomer.user.id)
        .await
        .unwrap()
        .is_empty());

    // The token survived every refusal.
    let ok = company_create(
        new_company(CompanyKind::Partner, None, None),
        Some(newcomer.user.id),
        Some(token),
    );
    store.create_company(ok).await.unwrap();
}

/// Reads, the customer list (by name, only the partner's own) and updates.
pub async fn org_company_read_and_update<S: Store>(store: &S) {
    let (p, _) = partner(store).await;
    let (other, _) = partner(store).await;
    assert_eq!(store.company(Uuid::new_v4()).await.unwrap(), None);

    let mut names = Vec::new();
    for name in ["Zeta", "Alpha", "Mid"] {
        let mut create = company_create(
            new_company(CompanyKind::Customer, Some(p.id), Some(10)),
            None,
            None,
        );
        create.company.name = format!("{name} {}", Uuid::new_v4().simple());
        create.company.plan = Plan::Standard;
        names.push(create.company.name.clone());
        let rec = store.create_company(create).await.unwrap();
        assert_eq!(rec.partner_id, Some(p.id));
        assert_eq!(rec.kind, CompanyKind::Customer);
        assert_eq!(rec.plan, Plan::Standard);
        assert_eq!(rec.seats, Some(10));
        assert_eq!(rec.seats_used, 0);
        assert_eq!(rec.policy, None);
        assert_eq!(rec.policy_counter, 0);
    }
    customer(store, other.id, None).await;
    names.sort();
    let listed = store.customers_of(p.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        names
    );
    assert!(store.customers_of(Uuid::new_v4()).await.unwrap().is_empty());

    let c = listed[0].clone();
    let updated = store
        .update_company(
            c.id,
            CompanyUpdate {
                name: Some("Renamed".into()),
                status: Some(CompanyStatus::Disabled),
                plan: Some(Plan::Advanced),
                seats: Some(Some(25)),
                trial_ends_at: Some(None),
                now: T0 + 5,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.status, CompanyStatus::Disabled);
    assert_eq!(updated.plan, Plan::Advanced);
    assert_eq!(updated.seats, Some(25));
    assert_eq!(updated.trial_ends_at, None);
    assert_eq!(updated.updated_at, T0 + 5);
    assert_eq!(updated.created_at, T0);
    assert_eq!(updated.signing_public_key, c.signing_public_key);
    assert_eq!(store.company(c.id).await.unwrap(), Some(updated.clone()));

    // `None` leaves a field; `Some(None)` clears it.
    let again = store
        .update_company(
            c.id,
            CompanyUpdate {
                seats: Some(None),
                now: T0 + 6,
                ..CompanyUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.seats, None);
    assert_eq!(again.name, "Renamed");
    assert_eq!(again.status, CompanyStatus::Disabled);
    assert_eq!(again.plan, Plan::Advanced);
    assert_eq!(again.updated_at, T0 + 6);

    assert_not_found(
        store
            .update_company(Uuid::new_v4(), CompanyUpdate::default())
            .await,
    );
}

/// The policy counter is compared and swapped: only `stored + 1` is accepted.
pub async fn org_policy_compare_and_swap<S: Store>(store: &S) {
    let (p, _) = partner(store).await;
    let c = customer(store, p.id, None).await;
    assert_eq!(c.policy_counter, 0);
    assert_conflict(store.set_policy(c.id, 2, random_bytes(), T0).await, 0);
    let doc1 = random_bytes();
    store
        .set_policy(c.id, 1, doc1.clone(), T0 + 1)
        .await
        .unwrap();
    let rec = store.company(c.id).await.unwrap().unwrap();
    assert_eq!((rec.policy, rec.policy_counter), (Some(doc1.clone()), 1));
    assert_eq!(rec.updated_at, T0 + 1);
    assert_conflict(store.set_policy(c.id, 1, random_bytes(), T0).await, 1);
    assert_conflict(store.set_policy(c.id, 5, random_bytes(), T0).await, 1);
    let rec = store.company(c.id).await.unwrap().unwrap();
    assert_eq!(rec.policy, Some(doc1), "a refused write changes nothing");
    assert_not_found(
        store
            .set_policy(Uuid::new_v4(), 1, random_bytes(), T0)
            .await,
    );

    // A policy given at creation is counter 1.
    let mut create = company_create(
        new_company(CompanyKind::Customer, Some(p.id), None),
        None,
        None,
    );
    create.policy = Some(random_bytes());
    let with_policy = store.create_company(create).await.unwrap();
    assert_eq!(with_policy.policy_counter, 1);
    assert_conflict(
        store
            .set_policy(with_policy.id, 1, random_bytes(), T0)
            .await,
        1,
    );

    // Concurrent writers of the same next counter: exactly one wins.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        let doc = random_bytes();
        let cid = c.id;
        set.spawn(async move { (store.set_policy(cid, 2, doc.clone(), T0 + 2).await, doc) });
    }
    let results = set.join_all().await;
    let winners: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1);
    for (r, _) in results.iter().filter(|(r, _)| r.is_err()) {
        assert!(
            matches!(r, Err(StoreError::VersionConflict { current: 2 })),
            "{r:?}"
        );
    }
    let rec = store.company(c.id).await.unwrap().unwrap();
    assert_eq!(rec.policy_counter, 2);
    assert_eq!(rec.policy.as_ref(), Some(&winners[0].1));
}

/// The revocation list has its own counter, swapped like the policy's and independent of it.
pub async fn org_revocations_compare_and_swap<S: Store>(store: &S) {
    let (p, _) = partner(store).await;
    let c = customer(store, p.id, None).await;
    assert_eq!((c.revocations.as_ref(), c.revocations_version), (None, 0));
    let revocations = |counter: i64, doc: Vec<u8>| {
        store.set_company_doc(c.id, CompanyDoc::Revocations, counter, doc, T0 + counter)
    };
    assert_conflict(revocations(2, random_bytes()).await, 0);
    let doc1 = random_bytes();
    revocations(1, doc1.clone()).await.unwrap();
    assert_conflict(revocations(1, random_bytes()).await, 1);
    let doc2 = random_bytes();
    revocations(2, doc2.clone()).await.unwrap();
    let rec = store.company(c.id).await.unwrap().unwrap();
    assert_eq!((rec.revocations, rec.revocations_version), (Some(doc2), 2));
    assert_eq!(
        (rec.policy, rec.policy_counter),
        (None, 0),
        "the policy is untouched"
    );
    // And the policy's counter does not move the revocation list's.
    store.set_policy(c.id, 1, random_bytes(), T0).await.unwrap();
    assert_eq!(
        store
            .company(c.id)
            .await
            .unwrap()
            .unwrap()
            .revocations_version,
        2
    );
    assert_not_found(
        store
            .set_company_doc(
                Uuid::new_v4(),
                CompanyDoc::Revocations,
                1,
                random_bytes(),
                T0,
            )
            .await,
    );
}

/// Grants are inserted or replaced per (company, user), listed per user and deleted.
pub async fn org_key_grants<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c1 = customer(store, p.id, None).await;
    let c2 = customer(store, p.id, None).await;
    let uid = admin.user.id;
    let g1 = key_grant(c1.id, uid, uid, T0 + 1);
    let g2 = key_grant(c2.id, uid, uid, T0 + 1);
    store
        .put_key_grants(vec![g1.clone(), g2.clone()])
        .await
        .unwrap();
    let grants = store.key_grants_for_user(uid).await.unwrap();
    assert_eq!(grants.len(), 3, "the founder's grant and two more");
    assert!(grants.contains(&g1) && grants.contains(&g2));
    assert!(grants.iter().any(|g| g.company_id == p.id));
    assert!(
        grants.windows(2).all(|w| w[0].company_id < w[1].company_id),
        "by company"
    );

    // Replace.
    let g1b = key_grant(c1.id, uid, Uuid::new_v4(), T0 + 9);
    store.put_key_grants(vec![g1b.clone()]).await.unwrap();
    let grants = store.key_grants_for_user(uid).await.unwrap();
    assert_eq!(grants.len(), 3);
    assert!(grants.contains(&g1b) && !grants.contains(&g1));

    // Delete.
    store.delete_key_grant(c1.id, uid).await.unwrap();
    assert_not_found(store.delete_key_grant(c1.id, uid).await);
    assert_not_found(store.delete_key_grant(c2.id, Uuid::new_v4()).await);
    let grants = store.key_grants_for_user(uid).await.unwrap();
    assert_eq!(grants.len(), 2);
    assert!(grants.iter().all(|g| g.company_id != c1.id));

    // A grant for an unknown user or company: nothing stored.
    let stranger = Uuid::new_v4();
    assert_not_found(
        store
            .put_key_grants(vec![
                key_grant(c1.id, uid, uid, T0),
                key_grant(c1.id, stranger, uid, T0),
            ])
            .await,
    );
    assert_eq!(
        store.key_grants_for_user(uid).await.unwrap().len(),
        2,
        "all or nothing"
    );
    assert_not_found(
        store
            .put_key_grants(vec![key_grant(Uuid::new_v4(), uid, uid, T0)])
            .await,
    );
    assert!(store
        .key_grants_for_user(stranger)
        .await
        .unwrap()
        .is_empty());
}

/// A partner's technician is assigned to its customers with a key grant; unassigning removes
/// both. Only technicians of the customer's own partner can be assigned.
pub async fn org_technician_assignments<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let (other_partner, _) = partner(store).await;
    let tech = join(store, p.id, Role::Technician, admin.user.id).await;
    let plain = join(store, p.id, Role::User, admin.user.id).await;
    let t = tech.user.id;
    let c1 = customer(store, p.id, None).await;
    let c2 = customer(store, p.id, None).await;
    let foreign = customer(store, other_partner.id, None).await;
    assert!(store.technician_customers(t).await.unwrap().is_empty());

    for c in [&c1, &c2] {
        store
            .assign_technician(c.id, t, key_grant(c.id, t, admin.user.id, T0 + 2))
            .await
            .unwrap();
    }
    // Assigning again replaces the grant.
    let regrant = key_grant(c1.id, t, admin.user.id, T0 + 3);
    store
        .assign_technician(c1.id, t, regrant.clone())
        .await
        .unwrap();
    let mut expected = vec![c1.id, c2.id];
    expected.sort();
    assert_eq!(store.technician_customers(t).await.unwrap(), expected);
    let grants = store.key_grants_for_user(t).await.unwrap();
    assert_eq!(grants.len(), 2);
    assert!(grants.contains(&regrant));

    // Not a technician of the customer's partner.
    assert_not_found(
        store
            .assign_technician(foreign.id, t, key_grant(foreign.id, t, t, T0))
            .await,
    );
    assert_not_found(
        store
            .assign_technician(c1.id, plain.user.id, key_grant(c1.id, plain.user.id, t, T0))
            .await,
    );
    assert_not_found(
        store
            .assign_technician(p.id, t, key_grant(p.id, t, t, T0))
            .await,
    );
    assert!(store
        .key_grants_for_user(plain.user.id)
        .await
        .unwrap()
        .is_empty());

    store.unassign_technician(c1.id, t).await.unwrap();
    assert_eq!(store.technician_customers(t).await.unwrap(), vec![c2.id]);
    let grants = store.key_grants_for_user(t).await.unwrap();
    assert_eq!(
        grants.iter().map(|g| g.company_id).collect::<Vec<_>>(),
        vec![c2.id]
    );
    assert_not_found(store.unassign_technician(c1.id, t).await);
    assert_not_found(store.unassign_technician(foreign.id, t).await);
}

// ---------------------------------------------------------------------------------------------
// invitations and seats

/// Invitations are stored as given, listed newest first, refused twice for one email while
/// open, revocable (not when accepted), and refused when revoked or expired.
pub async fn org_invitation_lifecycle<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let other = customer(store, p.id, None).await;
    let a = admin.user.id;

    let first = invitation(c.id, &email(), Role::User, a, T0, FAR);
    store.create_invitation(first.clone()).await.unwrap();
    assert_eq!(
        store.invitation(first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.invitation(Uuid::new_v4()).await.unwrap(), None);
    let second = invitation(c.id, &email(), Role::Admin, a, T0 + 10, FAR);
    store.create_invitation(second.clone()).await.unwrap();
    assert_eq!(
        store.invitations_of(c.id).await.unwrap(),
        vec![second.clone(), first.clone()],
        "newest first"
    );
    assert!(store.invitations_of(other.id).await.unwrap().is_empty());

    // One open invitation per email and company; other companies may invite the same email.
    assert_exists(
        store
            .create_invitation(invitation(c.id, &first.email, Role::Admin, a, T0 + 11, FAR))
            .await,
        "invitation",
    );
    store
        .create_invitation(invitation(other.id, &first.email, Role::User, a, T0, FAR))
        .await
        .unwrap();
    // A taken id, an unknown company.
    assert_exists(
        store
            .create_invitation(InvitationRecord {
                email: email(),
                ..first.clone()
            })
            .await,
        "invitation",
    );
    assert_not_found(
        store
            .create_invitation(invitation(Uuid::new_v4(), &email(), Role::User, a, T0, FAR))
            .await,
    );

    // Revoke: only through its own company; the first revocation time stays.
    assert_not_found(store.revoke_invitation(other.id, first.id, T0 + 20).await);
    assert_not_found(store.revoke_invitation(c.id, Uuid::new_v4(), T0 + 20).await);
    store
        .revoke_invitation(c.id, first.id, T0 + 20)
        .await
        .unwrap();
    store
        .revoke_invitation(c.id, first.id, T0 + 30)
        .await
        .unwrap();
    let revoked = store.invitation(first.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 20));
    assert!(!revoked.is_open(T0 + 21));
    let invitee = account(store).await;
    assert_not_found(
        store
            .accept_invitation(first.id, invitee.user.id, T0 + 21)
            .await,
    );
    // A revoked invitation no longer blocks a new one for the email.
    store
        .create_invitation(invitation(c.id, &first.email, Role::User, a, T0 + 22, FAR))
        .await
        .unwrap();

    // Expired: refused at `expires_at` and later; it blocks nothing.
    let expiring = invitation(c.id, &invitee.user.email, Role::User, a, T0, T0 + 100);
    store.create_invitation(expiring.clone()).await.unwrap();
    assert_not_found(
        store
            .accept_invitation(expiring.id, invitee.user.id, T0 + 100)
            .await,
    );
    assert_eq!(store.membership_of(invitee.user.id).await.unwrap(), None);
    let stored = store.invitation(expiring.id).await.unwrap().unwrap();
    assert_eq!(stored.accepted_at, None);
    store
        .create_invitation(invitation(
            c.id,
            &invitee.user.email,
            Role::User,
            a,
            T0 + 100,
            FAR,
        ))
        .await
        .unwrap();

    // An accepted invitation cannot be revoked.
    let joiner = account(store).await;
    let third = invitation(c.id, &joiner.user.email, Role::User, a, T0 + 50, FAR);
    store.create_invitation(third.clone()).await.unwrap();
    store
        .accept_invitation(third.id, joiner.user.id, T0 + 51)
        .await
        .unwrap();
    assert_not_found(store.revoke_invitation(c.id, third.id, T0 + 52).await);
    assert_eq!(
        store
            .invitation(third.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
}

/// Accepting makes an `accepted` member with the invitation's role and signed invitation, and
/// marks the invitation used; a second accept, or a user who already has a company, is refused.
pub async fn org_invitation_accept_creates_member<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, Some(10)).await;
    let invitee = account(store).await;
    let inv = invitation(
        c.id,
        &invitee.user.email,
        Role::Admin,
        admin.user.id,
        T0,
        FAR,
    );
    store.create_invitation(inv.clone()).await.unwrap();
    let m = store
        .accept_invitation(inv.id, invitee.user.id, T0 + 5)
        .await
        .unwrap();
    assert_eq!(m.company_id, c.id);
    assert_eq!(m.user_id, invitee.user.id);
    assert_eq!(m.email, invitee.user.email);
    assert_eq!(m.role, Role::Admin);
    assert_eq!(m.status, MemberStatus::Accepted);
    assert!(!m.disabled && !m.require_password_change);
    assert_eq!(m.cert, None);
    assert_eq!(m.invitation, Some(inv.signed.clone()));
    assert_eq!(m.logins_without_2fa, 0);
    assert_eq!(m.joined_at, T0 + 5);
    assert_eq!((m.confirmed_at, m.confirmed_by), (None, None));
    assert_eq!(
        store.member(c.id, invitee.user.id).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(store.membership_of(invitee.user.id).await.unwrap(), Some(m));
    let used = store.invitation(inv.id).await.unwrap().unwrap();
    assert_eq!(used.accepted_by, Some(invitee.user.id));
    assert_eq!(used.accepted_at, Some(T0 + 5));
    assert!(!used.is_open(T0 + 6));
    assert_eq!(
        store.company(c.id).await.unwrap().unwrap().seats_used,
        1,
        "an accepted invitation is counted once, as a member"
    );

    // Single use.
    let someone = account(store).await;
    assert_not_found(
        store
            .accept_invitation(inv.id, someone.user.id, T0 + 6)
            .await,
    );
    assert_eq!(store.membership_of(someone.user.id).await.unwrap(), None);
    assert_not_found(
        store
            .accept_invitation(Uuid::new_v4(), someone.user.id, T0 + 6)
            .await,
    );
    // An unknown user.
    let open = invitation(c.id, &email(), Role::User, admin.user.id, T0, FAR);
    store.create_invitation(open.clone()).await.unwrap();
    assert_not_found(
        store
            .accept_invitation(open.id, Uuid::new_v4(), T0 + 6)
            .await,
    );

    // The email is already a member of the company.
    assert_exists(
        store
            .create_invitation(invitation(
                c.id,
                &invitee.user.email,
                Role::User,
                admin.user.id,
                T0 + 7,
                FAR,
            ))
            .await,
        "member",
    );
}

/// A user belongs to at most one company: an invitation of another company cannot be accepted
/// (and stays open), a founder cannot found a second company.
pub async fn org_one_company_per_user<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let a = customer(store, p.id, None).await;
    let b = customer(store, p.id, None).await;
    let user = join(store, a.id, Role::User, admin.user.id).await;
    let inv = invitation(b.id, &user.user.email, Role::User, admin.user.id, T0, FAR);
    store.create_invitation(inv.clone()).await.unwrap();
    assert_exists(
        store.accept_invitation(inv.id, user.user.id, T0 + 2).await,
        "membership",
    );
    assert!(store
        .invitation(inv.id)
        .await
        .unwrap()
        .unwrap()
        .is_open(T0 + 3));
    assert_eq!(
        store
            .membership_of(user.user.id)
            .await
            .unwrap()
            .unwrap()
            .company_id,
        a.id
    );
    assert!(store.members_of(b.id).await.unwrap().is_empty());
    assert_exists(
        store
            .create_company(company_create(
                new_company(CompanyKind::Partner, None, None),
                Some(user.user.id),
                None,
            ))
            .await,
        "membership",
    );

    // One user accepting invitations of two companies at once: one membership.
    let racer = account(store).await;
    let mut set = tokio::task::JoinSet::new();
    for c in [a.id, b.id] {
        let inv = invitation(c, &racer.user.email, Role::User, admin.user.id, T0, FAR);
        store.create_invitation(inv.clone()).await.unwrap();
        let store = store.clone();
        let uid = racer.user.id;
        set.spawn(async move { store.accept_invitation(inv.id, uid, T0 + 4).await });
    }
    let results = set.join_all().await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert_exists(r, "membership");
    }
}

/// Concurrent accepts of one invitation: exactly one membership.
pub async fn org_invitation_concurrent_accept_single_use<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, Some(3)).await;
    let inv = invitation(c.id, &email(), Role::User, admin.user.id, T0, FAR);
    store.create_invitation(inv.clone()).await.unwrap();
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(account(store).await.user.id);
    }
    let mut set = tokio::task::JoinSet::new();
    for uid in users.clone() {
        let store = store.clone();
        set.spawn(async move { (uid, store.accept_invitation(inv.id, uid, T0 + 1).await) });
    }
    let results = set.join_all().await;
    let winners: Vec<Uuid> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(u, _)| *u)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (_, r) in results.into_iter().filter(|(_, r)| r.is_err()) {
        assert_not_found(r);
    }
    let members = store.members_of(c.id).await.unwrap();
    assert_eq!(member_ids(&members), HashSet::from([winners[0]]));
    assert_eq!(
        store.invitation(inv.id).await.unwrap().unwrap().accepted_by,
        Some(winners[0])
    );
    for uid in users.into_iter().filter(|u| *u != winners[0]) {
        assert_eq!(store.membership_of(uid).await.unwrap(), None);
    }
}

/// Members plus open invitations must stay within the seats; revoked, expired and accepted
/// invitations are not counted twice; no limit without seats.
pub async fn org_seats_limit<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let a = admin.user.id;
    let c = customer(store, p.id, Some(2)).await;
    let invitee = account(store).await;
    let first = invitation(c.id, &invitee.user.email, Role::User, a, T0, FAR);
    let second = invitation(c.id, &email(), Role::User, a, T0, FAR);
    store.create_invitation(first.clone()).await.unwrap();
    store.create_invitation(second.clone()).await.unwrap();
    assert_eq!(store.company(c.id).await.unwrap().unwrap().seats_used, 2);
    let third = invitation(c.id, &email(), Role::User, a, T0 + 1, FAR);
    assert_limit(store.create_invitation(third.clone()).await, "seats");
    assert_eq!(store.invitation(third.id).await.unwrap(), None);

    // A revoked invitation frees its seat.
    store
        .revoke_invitation(c.id, second.id, T0 + 2)
        .await
        .unwrap();
    assert_eq!(store.company(c.id).await.unwrap().unwrap().seats_used, 1);
    store.create_invitation(third.clone()).await.unwrap();
    assert_limit(
        store
            .create_invitation(invitation(c.id, &email(), Role::User, a, T0 + 3, FAR))
            .await,
        "seats",
    );

    // Accepting keeps the count (the invitation becomes a member).
    store
        .accept_invitation(first.id, invitee.user.id, T0 + 4)
        .await
        .unwrap();
    assert_eq!(store.company(c.id).await.unwrap().unwrap().seats_used, 2);
    assert_limit(
        store
            .create_invitation(invitation(c.id, &email(), Role::User, a, T0 + 5, FAR))
            .await,
        "seats",
    );

    // An expired invitation frees its seat from its expiry on.
    let d = customer(store, p.id, Some(1)).await;
    let short = invitation(d.id, &email(), Role::User, a, T0, T0 + 50);
    store.create_invitation(short).await.unwrap();
    assert_limit(
        store
            .create_invitation(invitation(d.id, &email(), Role::User, a, T0 + 49, FAR))
            .await,
        "seats",
    );
    store
        .create_invitation(invitation(d.id, &email(), Role::User, a, T0 + 50, FAR))
        .await
        .unwrap();
    assert_eq!(store.company(d.id).await.unwrap().unwrap().seats_used, 1);

    // Disabled members still hold their seat; more seats allow more invitations.
    let member = store.members_of(c.id).await.unwrap()[0].user_id;
    store
        .update_member(
            c.id,
            member,
            MemberUpdate {
                disabled: Some(true),
                ..MemberUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.company(c.id).await.unwrap().unwrap().seats_used, 2);
    store
        .update_company(
            c.id,
            CompanyUpdate {
                seats: Some(Some(3)),
                now: T0 + 6,
                ..CompanyUpdate::default()
            },
        )
        .await
        .unwrap();
    store
        .create_invitation(invitation(c.id, &email(), Role::User, a, T0 + 7, FAR))
        .await
        .unwrap();
    assert_eq!(store.company(c.id).await.unwrap().unwrap().seats_used, 3);

    // Zero seats: nothing; no seats: no limit.
    let zero = customer(store, p.id, Some(0)).await;
    assert_limit(
        store
            .create_invitation(invitation(zero.id, &email(), Role::User, a, T0, FAR))
            .await,
        "seats",
    );
    let unlimited = customer(store, p.id, None).await;
    for _ in 0..5 {
        store
            .create_invitation(invitation(unlimited.id, &email(), Role::User, a, T0, FAR))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .company(unlimited.id)
            .await
            .unwrap()
            .unwrap()
            .seats_used,
        5
    );
}

/// Concurrent invitations for the last seats never exceed the seats.
pub async fn org_seats_concurrent_last_seat<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    for (seats, taken) in [(1, 0), (3, 1)] {
        let c = customer(store, p.id, Some(seats)).await;
        for _ in 0..taken {
            join(store, c.id, Role::User, admin.user.id).await;
        }
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let store = store.clone();
            let inv = invitation(c.id, &email(), Role::User, admin.user.id, T0, FAR);
            set.spawn(async move { store.create_invitation(inv).await });
        }
        let results = set.join_all().await;
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won as i64, seats - taken, "{results:?}");
        for r in results.into_iter().filter(|r| r.is_err()) {
            assert_limit(r, "seats");
        }
        let rec = store.company(c.id).await.unwrap().unwrap();
        assert_eq!(rec.seats_used, seats);
        assert_eq!(
            store.invitations_of(c.id).await.unwrap().len() as i64,
            seats
        );
    }
}

// ---------------------------------------------------------------------------------------------
// members

/// Confirming, updating and listing members; another company's member is never reached.
pub async fn org_member_confirm_and_update<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let other = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::User, admin.user.id).await;
    let v = join(store, c.id, Role::Admin, admin.user.id).await;
    let uid = u.user.id;

    assert_eq!(store.member(other.id, uid).await.unwrap(), None);
    assert_eq!(store.member(c.id, Uuid::new_v4()).await.unwrap(), None);
    let cert = random_bytes();
    assert_not_found(
        store
            .confirm_member(other.id, uid, cert.clone(), admin.user.id, T0 + 10)
            .await,
    );
    let m = store
        .confirm_member(c.id, uid, cert.clone(), admin.user.id, T0 + 10)
        .await
        .unwrap();
    assert_eq!(m.status, MemberStatus::Confirmed);
    assert_eq!(m.cert, Some(cert));
    assert_eq!(m.confirmed_at, Some(T0 + 10));
    assert_eq!(m.confirmed_by, Some(admin.user.id));
    assert_eq!(m.joined_at, T0 + 1);
    assert_eq!(store.member(c.id, uid).await.unwrap(), Some(m.clone()));
    assert_not_found(
        store
            .confirm_member(c.id, uid, random_bytes(), admin.user.id, T0 + 11)
            .await,
    );

    let cert2 = random_bytes();
    let updated = store
        .update_member(
            c.id,
            uid,
            MemberUpdate {
                disabled: Some(true),
                require_password_change: Some(true),
                role: Some(Role::Admin),
                cert: Some(cert2.clone()),
                logins_without_2fa: Some(2),
            },
        )
        .await
        .unwrap();
    assert!(updated.disabled && updated.require_password_change);
    assert_eq!(updated.role, Role::Admin);
    assert_eq!(updated.cert, Some(cert2.clone()));
    assert_eq!(updated.logins_without_2fa, 2);
    assert_eq!(updated.status, MemberStatus::Confirmed);
    assert_eq!(updated.confirmed_at, Some(T0 + 10));
    // `None` leaves each field as it is.
    let same = store
        .update_member(
            c.id,
            uid,
            MemberUpdate {
                disabled: Some(false),
                ..MemberUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(!same.disabled && same.require_password_change);
    assert_eq!(same.cert, Some(cert2));
    assert_eq!(same.logins_without_2fa, 2);
    assert_not_found(
        store
            .update_member(other.id, uid, MemberUpdate::default())
            .await,
    );
    assert_not_found(
        store
            .update_member(c.id, Uuid::new_v4(), MemberUpdate::default())
            .await,
    );

    let members = store.members_of(c.id).await.unwrap();
    assert_eq!(member_ids(&members), HashSet::from([uid, v.user.id]));
    let emails: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted, "members by email");
    assert_eq!(members.iter().find(|m| m.user_id == uid), Some(&same));
    assert!(store.members_of(other.id).await.unwrap().is_empty());
}

/// Removal ends the membership, the user's key grants (company and its customers), technician
/// assignments and group grants; the user's items stay without `delete_business_items`.
pub async fn org_remove_member_keeps_items<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let tech = join(store, p.id, Role::Technician, admin.user.id).await;
    let t = tech.user.id;
    let c = customer(store, p.id, None).await;
    store
        .assign_technician(c.id, t, key_grant(c.id, t, admin.user.id, T0))
        .await
        .unwrap();
    store
        .put_key_grants(vec![key_grant(p.id, t, admin.user.id, T0)])
        .await
        .unwrap();
    let everyone = store.groups_of(p.id).await.unwrap().remove(0);
    let mut members = everyone.members.clone();
    members.push(t);
    let grant = group_grant(everyone.id, t);
    store
        .update_group(
            p.id,
            everyone.id,
            RosterWrite {
                name: everyone.name.clone(),
                roster: random_bytes(),
                version: 2,
                members: members.clone(),
                grants: vec![grant.clone()],
                now: T0 + 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.groups_of_user(t).await.unwrap().len(), 1);
    let kept = store
        .put_object(item(t, tech.business, 1, T0), None, &[])
        .await
        .unwrap();

    // Another company cannot remove them.
    assert_not_found(store.remove_member(c.id, t, true, T0 + 2).await);
    assert!(store.membership_of(t).await.unwrap().is_some());

    store.remove_member(p.id, t, false, T0 + 2).await.unwrap();
    assert_eq!(store.membership_of(t).await.unwrap(), None);
    assert_eq!(store.member(p.id, t).await.unwrap(), None);
    assert!(store.key_grants_for_user(t).await.unwrap().is_empty());
    assert!(store.technician_customers(t).await.unwrap().is_empty());
    assert!(store.groups_of_user(t).await.unwrap().is_empty());
    // The roster is the client's to re-sign: the listed members stay as uploaded.
    let group = store.group(p.id, everyone.id).await.unwrap().unwrap();
    assert_eq!(group.members, members);
    assert_eq!(store.get_object(t, kept.id).await.unwrap(), Some(kept));
    // The admin keeps everything of theirs.
    assert!(store.membership_of(admin.user.id).await.unwrap().is_some());
    assert_eq!(store.groups_of_user(admin.user.id).await.unwrap().len(), 1);
    assert!(!store
        .key_grants_for_user(admin.user.id)
        .await
        .unwrap()
        .is_empty());
    assert_not_found(store.remove_member(p.id, t, false, T0 + 3).await);
    // The seat is free again.
    assert_eq!(store.company(p.id).await.unwrap().unwrap().seats_used, 1);
}

/// With `delete_business_items`, the objects of the user's business vault are deleted, each
/// leaving a tombstone in the user's feed; personal objects stay.
pub async fn org_remove_member_deletes_business_items<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::User, admin.user.id).await;
    let uid = u.user.id;
    let personal = store
        .put_object(item(uid, u.personal, 1, T0), None, &[])
        .await
        .unwrap();
    let writes: Vec<_> = (0..3).map(|_| item(uid, u.business, 1, T0)).collect();
    let mut business = Vec::new();
    for w in &writes {
        business.push(store.put_object(w.clone(), None, &[]).await.unwrap());
    }
    // One written with the vault's signed manifest.
    business.push(
        store
            .put_object(
                item(uid, u.business, 1, T0),
                None,
                &[castellan_store::ManifestWrite {
                    vault_id: u.business,
                    counter: 1,
                    blob: vec![1, 2, 3],
                }],
            )
            .await
            .unwrap(),
    );
    // One of them at version 2 and trashed.
    let trashed = castellan_store::ObjectWrite {
        trashed: true,
        ..crate::next(&writes[0], T0 + 1)
    };
    let last = store.put_object(trashed, Some(1), &[]).await.unwrap();
    let cursor = last.seq;
    // Someone else's business items are not touched.
    let bystander = join(store, c.id, Role::User, admin.user.id).await;
    let theirs = store
        .put_object(
            item(bystander.user.id, bystander.business, 1, T0),
            None,
            &[],
        )
        .await
        .unwrap();

    store.remove_member(c.id, uid, true, T0 + 9).await.unwrap();
    assert_eq!(store.membership_of(uid).await.unwrap(), None);
    assert!(store
        .list_objects(uid, Some(u.business))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.list_objects(uid, None).await.unwrap(),
        vec![personal.clone()]
    );
    let page = store.changes_since(uid, cursor, 100).await.unwrap();
    assert!(!page.reset && !page.has_more);
    assert!(page.objects.is_empty());
    let mut deleted: Vec<Uuid> = page.tombstones.iter().map(|t| t.id).collect();
    deleted.sort();
    let mut expected: Vec<Uuid> = business.iter().map(|o| o.id).collect();
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(page.tombstones.iter().all(|t| t.vault_id == u.business));
    let mut positions: Vec<i64> = page.tombstones.iter().map(|t| t.seq).collect();
    positions.dedup();
    assert_eq!(positions.len(), 4, "a new feed position per delete");
    // The business vault starts over: its manifest described the deleted objects.
    assert!(store
        .manifests_for_user(uid)
        .await
        .unwrap()
        .iter()
        .all(|m| m.vault_id != u.business));
    assert!(positions.iter().all(|s| *s > cursor));
    assert_eq!(
        store
            .get_object(bystander.user.id, theirs.id)
            .await
            .unwrap(),
        Some(theirs)
    );
    // The user can still write to the feed afterwards.
    let after = store
        .put_object(item(uid, u.personal, 1, T0 + 10), None, &[])
        .await
        .unwrap();
    assert!(after.seq > page.cursor);
}

/// Deleting an account removes everything of it; the audit log keeps its events.
pub async fn org_delete_user<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::Admin, admin.user.id).await;
    let uid = u.user.id;
    store
        .put_key_grants(vec![key_grant(c.id, uid, admin.user.id, T0)])
        .await
        .unwrap();
    let everyone = store.groups_of(c.id).await.unwrap().remove(0);
    store
        .update_group(
            c.id,
            everyone.id,
            RosterWrite {
                name: everyone.name.clone(),
                roster: random_bytes(),
                version: 2,
                members: vec![uid],
                grants: vec![group_grant(everyone.id, uid)],
                now: T0 + 1,
            },
        )
        .await
        .unwrap();
    store
        .put_object(item(uid, u.business, 1, T0), None, &[])
        .await
        .unwrap();
    let s = session(uid, T0, FAR);
    store.create_session(s.clone()).await.unwrap();
    store
        .put_two_factor(TwoFactorRecord {
            user_id: uid,
            secret_sealed: random_bytes(),
            enabled: true,
            last_used_step: 0,
            recovery_code_hashes: vec![random_bytes()],
            created_at: T0,
        })
        .await
        .unwrap();
    store
        .put_two_factor_challenge(TwoFactorChallenge {
            id: Uuid::new_v4(),
            user_id: uid,
            token_hash: random_bytes(),
            device_name: "d".into(),
            expires_at: FAR,
        })
        .await
        .unwrap();
    let seq = store
        .append_audit(AuditRecord {
            actor_id: Some(uid),
            actor_email: Some(u.user.email.clone()),
            ..audit(Some(c.id), T0 + 2, "login.succeeded")
        })
        .await
        .unwrap();

    store.delete_user(uid).await.unwrap();
    assert_eq!(store.user_by_id(uid).await.unwrap(), None);
    assert_eq!(store.membership_of(uid).await.unwrap(), None);
    assert!(store.members_of(c.id).await.unwrap().is_empty());
    assert!(store.key_grants_for_user(uid).await.unwrap().is_empty());
    assert!(store.groups_of_user(uid).await.unwrap().is_empty());
    assert!(store.vaults_for_user(uid).await.unwrap().is_empty());
    assert!(store.list_objects(uid, None).await.unwrap().is_empty());
    assert_eq!(
        store
            .session_by_token_hash(&s.token_hash, T0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.two_factor(uid).await.unwrap(), None);
    assert_eq!(store.company(c.id).await.unwrap().unwrap().seats_used, 0);
    let events = store
        .query_audit(AuditQuery {
            user_id: Some(uid),
            ..audit_query(vec![c.id])
        })
        .await
        .unwrap();
    assert_eq!(
        seqs(&events),
        vec![seq],
        "the audit log keeps the user's events"
    );
    assert_eq!(
        events[0].actor_email.as_deref(),
        Some(u.user.email.as_str())
    );
    assert_not_found(store.delete_user(uid).await);
    // The email is free again.
    let mut again = crate::new_user();
    again.email = u.user.email.clone();
    store.create_user(again, vec![]).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// groups

fn new_group(company_id: Uuid, name: &str, members: Vec<Uuid>) -> GroupRecord {
    GroupRecord {
        name: name.to_string(),
        is_everyone: false,
        ..everyone(company_id, members)
    }
}

/// Groups are created with their members (in roster order) and grants, listed (Everyone first,
/// then by name), read only through their company, and deleted with their grants.
pub async fn org_groups_create_list_delete<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::User, admin.user.id).await.user.id;
    let v = join(store, c.id, Role::User, admin.user.id).await.user.id;
    let everyone = store.groups_of(c.id).await.unwrap().remove(0);
    assert!(everyone.is_everyone && everyone.members.is_empty());

    let zed = new_group(c.id, "Zed", vec![v, u]);
    let zed_grants = vec![group_grant(zed.id, v), group_grant(zed.id, u)];
    store
        .create_group(zed.clone(), zed_grants.clone())
        .await
        .unwrap();
    let alpha = new_group(c.id, "Alpha", vec![u]);
    let alpha_grant = group_grant(alpha.id, u);
    store
        .create_group(alpha.clone(), vec![alpha_grant.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.groups_of(c.id).await.unwrap(),
        vec![everyone.clone(), alpha.clone(), zed.clone()]
    );
    assert_eq!(store.group(c.id, zed.id).await.unwrap(), Some(zed.clone()));
    assert_eq!(store.group(p.id, zed.id).await.unwrap(), None);
    assert_eq!(store.group(c.id, Uuid::new_v4()).await.unwrap(), None);
    let mine = store.groups_of_user(u).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&(alpha.clone(), alpha_grant)));
    assert!(mine.contains(&(zed.clone(), zed_grants[1].clone())));

    // A taken id, a second Everyone group, an unknown company, a non-member.
    assert_exists(
        store
            .create_group(
                GroupRecord {
                    name: "Dup".into(),
                    ..zed.clone()
                },
                vec![],
            )
            .await,
        "group",
    );
    assert_exists(
        store.create_group(everyone_like(c.id), vec![]).await,
        "group",
    );
    assert_not_found(
        store
            .create_group(new_group(Uuid::new_v4(), "X", vec![]), vec![])
            .await,
    );
    let outsider = new_group(c.id, "Outsiders", vec![admin.user.id]);
    assert_not_found(
        store
            .create_group(
                outsider.clone(),
                vec![group_grant(outsider.id, admin.user.id)],
            )
            .await,
    );
    assert_eq!(store.group(c.id, outsider.id).await.unwrap(), None);
    assert!(store
        .groups_of_user(admin.user.id)
        .await
        .unwrap()
        .iter()
        .all(|(g, _)| g.company_id == p.id));

    assert_not_found(store.delete_group(p.id, zed.id).await);
    store.delete_group(c.id, zed.id).await.unwrap();
    assert_not_found(store.delete_group(c.id, zed.id).await);
    assert_eq!(
        store.groups_of(c.id).await.unwrap(),
        vec![everyone, alpha.clone()]
    );
    assert_eq!(
        store.groups_of_user(v).await.unwrap(),
        vec![],
        "the grants went with the group"
    );
    assert_eq!(store.groups_of_user(u).await.unwrap().len(), 1);
}

fn everyone_like(company_id: Uuid) -> GroupRecord {
    everyone(company_id, Vec::new())
}

/// Roster writes compare and swap the version; members no longer listed lose their grants,
/// added members get theirs; a refused write changes nothing.
pub async fn org_group_roster_compare_and_swap<S: Store>(store: &S) {
    let (p, admin) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let u = join(store, c.id, Role::User, admin.user.id).await.user.id;
    let v = join(store, c.id, Role::User, admin.user.id).await.user.id;
    let w = join(store, c.id, Role::User, admin.user.id).await.user.id;
    let g = new_group(c.id, "Team", vec![u, v]);
    store
        .create_group(g.clone(), vec![group_grant(g.id, u), group_grant(g.id, v)])
        .await
        .unwrap();

    let write = RosterWrite {
        name: "Team 2".into(),
        roster: random_bytes(),
        version: 2,
        members: vec![w, u],
        grants: vec![group_grant(g.id, w)],
        now: T0 + 5,
    };
    let rec = store.update_group(c.id, g.id, write.clone()).await.unwrap();
    assert_eq!(rec.name, "Team 2");
    assert_eq!(rec.roster, write.roster);
    assert_eq!(rec.roster_version, 2);
    assert_eq!(rec.members, vec![w, u]);
    assert_eq!((rec.created_at, rec.updated_at), (T0, T0 + 5));
    assert_eq!(rec.admin_grant, g.admin_grant);
    assert_eq!(store.group(c.id, g.id).await.unwrap(), Some(rec.clone()));
    assert!(store.groups_of_user(v).await.unwrap().is_empty(), "v left");
    assert_eq!(store.groups_of_user(w).await.unwrap()[0].1, write.grants[0]);
    assert_eq!(store.groups_of_user(u).await.unwrap().len(), 1, "u stays");

    // Stale or skipping versions, another company, a non-member: nothing changes.
    assert_conflict(store.update_group(c.id, g.id, write.clone()).await, 2);
    assert_conflict(
        store
            .update_group(
                c.id,
                g.id,
                RosterWrite {
                    version: 4,
                    ..write.clone()
                },
            )
            .await,
        2,
    );
    assert_not_found(
        store
            .update_group(
                p.id,
                g.id,
                RosterWrite {
                    version: 3,
                    ..write.clone()
                },
            )
            .await,
    );
    assert_not_found(
        store
            .update_group(
                c.id,
                g.id,
                RosterWrite {
                    version: 3,
                    members: vec![u, admin.user.id],
                    grants: vec![group_grant(g.id, admin.user.id)],
                    ..write.clone()
                },
            )
            .await,
    );
    assert_eq!(store.group(c.id, g.id).await.unwrap(), Some(rec.clone()));
    assert!(store
        .groups_of_user(admin.user.id)
        .await
        .unwrap()
        .iter()
        .all(|(group, _)| group.id != g.id));

    // Concurrent writers of the next version: exactly one wins.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..6 {
        let store = store.clone();
        let (cid, gid) = (c.id, g.id);
        let write = RosterWrite {
            name: format!("Team v3 #{i}"),
            roster: random_bytes(),
            version: 3,
            members: vec![u],
            grants: vec![],
            now: T0 + 6,
        };
        set.spawn(async move { store.update_group(cid, gid, write).await });
    }
    let results = set.join_all().await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert_conflict(r, 3);
    }
    let rec = store.group(c.id, g.id).await.unwrap().unwrap();
    assert_eq!((rec.roster_version, rec.members), (3, vec![u]));
    assert!(store.groups_of_user(w).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// policy templates

/// Templates are per partner: stored, replaced by id, listed by name, deleted; another
/// partner's template is never reached.
pub async fn org_policy_templates<S: Store>(store: &S) {
    let (p, _) = partner(store).await;
    let (q, _) = partner(store).await;
    let c = customer(store, p.id, None).await;
    let template = |partner_id: Uuid, name: &str| PolicyTemplateRecord {
        id: Uuid::new_v4(),
        partner_id,
        name: name.to_string(),
        policies: format!("{{\"require_two_factor\":true,\"n\":\"{}\"}}", name),
        created_at: T0,
        updated_at: T0,
    };
    let strict = template(p.id, "Strict");
    let basic = template(p.id, "Basic");
    store.put_policy_template(strict.clone()).await.unwrap();
    store.put_policy_template(basic.clone()).await.unwrap();
    store
        .put_policy_template(template(q.id, "Other"))
        .await
        .unwrap();
    assert_eq!(
        store.policy_templates_of(p.id).await.unwrap(),
        vec![basic.clone(), strict.clone()]
    );

    let changed = PolicyTemplateRecord {
        name: "Strict v2".into(),
        policies: "{}".into(),
        updated_at: T0 + 5,
        ..strict.clone()
    };
    store.put_policy_template(changed.clone()).await.unwrap();
    assert_eq!(
        store.policy_templates_of(p.id).await.unwrap(),
        vec![basic.clone(), changed.clone()]
    );
    // Another partner cannot take over the id; customers and unknown ids have no templates.
    assert_not_found(
        store
            .put_policy_template(PolicyTemplateRecord {
                partner_id: q.id,
                ..changed.clone()
            })
            .await,
    );
    assert_not_found(store.put_policy_template(template(c.id, "No")).await);
    assert_not_found(
        store
            .put_policy_template(template(Uuid::new_v4(), "No"))
            .await,
    );
    assert_eq!(store.policy_templates_of(q.id).await.unwrap().len(), 1);

    assert_not_found(store.delete_policy_template(q.id, basic.id).await);
    store.delete_policy_template(p.id, basic.id).await.unwrap();
    assert_not_found(store.delete_policy_template(p.id, basic.id).await);
    assert_eq!(
        store.policy_templates_of(p.id).await.unwrap(),
        vec![changed]
    );
}

// ---------------------------------------------------------------------------------------------
// two-step verification and sessions

/// A TOTP step is accepted once and only above the last one; recovery codes are single use;
/// a new enrolment replaces everything.
pub async fn org_two_factor_steps_and_recovery_codes<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    assert_eq!(store.two_factor(uid).await.unwrap(), None);
    assert_not_found(store.use_totp_step(uid, 5).await);
    let codes: Vec<Vec<u8>> = (0..10).map(|_| random_bytes()).collect();
    let record = TwoFactorRecord {
        user_id: uid,
        secret_sealed: random_bytes(),
        enabled: false,
        last_used_step: 0,
        recovery_code_hashes: codes.clone(),
        created_at: T0,
    };
    store.put_two_factor(record.clone()).await.unwrap();
    assert_eq!(store.two_factor(uid).await.unwrap(), Some(record.clone()));

    assert!(store.use_totp_step(uid, 100).await.unwrap());
    assert!(!store.use_totp_step(uid, 100).await.unwrap(), "replay");
    assert!(!store.use_totp_step(uid, 99).await.unwrap(), "older step");
    assert!(store.use_totp_step(uid, 101).await.unwrap());
    assert_eq!(
        store.two_factor(uid).await.unwrap().unwrap().last_used_step,
        101
    );

    // The same step sent twice at once: accepted once.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        set.spawn(async move { store.use_totp_step(uid, 200).await.unwrap() });
    }
    assert_eq!(set.join_all().await.iter().filter(|b| **b).count(), 1);

    assert!(store.use_recovery_code(uid, &codes[3]).await.unwrap());
    assert!(
        !store.use_recovery_code(uid, &codes[3]).await.unwrap(),
        "used"
    );
    assert!(!store.use_recovery_code(uid, &random_bytes()).await.unwrap());
    let other = account(store).await.user.id;
    assert!(!store.use_recovery_code(other, &codes[4]).await.unwrap());
    let mut left = codes.clone();
    left.remove(3);
    assert_eq!(
        store
            .two_factor(uid)
            .await
            .unwrap()
            .unwrap()
            .recovery_code_hashes,
        left,
        "the unused codes, in their order"
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        let code = codes[5].clone();
        set.spawn(async move { store.use_recovery_code(uid, &code).await.unwrap() });
    }
    assert_eq!(set.join_all().await.iter().filter(|b| **b).count(), 1);

    // Re-enrolment replaces secret, step and codes.
    let renewed = TwoFactorRecord {
        secret_sealed: random_bytes(),
        enabled: true,
        last_used_step: 0,
        recovery_code_hashes: vec![random_bytes(), random_bytes()],
        created_at: T0 + 9,
        ..record
    };
    store.put_two_factor(renewed.clone()).await.unwrap();
    assert_eq!(store.two_factor(uid).await.unwrap(), Some(renewed));
    assert!(!store.use_recovery_code(uid, &codes[0]).await.unwrap());
    assert!(store.use_totp_step(uid, 1).await.unwrap());

    store.delete_two_factor(uid).await.unwrap();
    assert_eq!(store.two_factor(uid).await.unwrap(), None);
    store.delete_two_factor(uid).await.unwrap();
    assert_not_found(store.use_totp_step(uid, 2).await);
    assert!(!store.use_recovery_code(uid, &codes[0]).await.unwrap());
    assert_not_found(
        store
            .put_two_factor(TwoFactorRecord {
                user_id: Uuid::new_v4(),
                secret_sealed: random_bytes(),
                enabled: false,
                last_used_step: 0,
                recovery_code_hashes: vec![],
                created_at: T0,
            })
            .await,
    );
}

/// Challenges are found only before they expire, and deleted.
pub async fn org_two_factor_challenges_expire<S: Store>(store: &S) {
    let acc = account(store).await;
    let challenge = TwoFactorChallenge {
        id: Uuid::new_v4(),
        user_id: acc.user.id,
        token_hash: random_bytes(),
        device_name: "laptop".into(),
        expires_at: T0 + 300,
    };
    store
        .put_two_factor_challenge(challenge.clone())
        .await
        .unwrap();
    assert_exists(
        store.put_two_factor_challenge(challenge.clone()).await,
        "challenge",
    );
    assert_eq!(
        store.two_factor_challenge(challenge.id, T0).await.unwrap(),
        Some(challenge.clone())
    );
    assert_eq!(
        store
            .two_factor_challenge(challenge.id, T0 + 299)
            .await
            .unwrap(),
        Some(challenge.clone())
    );
    assert_eq!(
        store
            .two_factor_challenge(challenge.id, T0 + 300)
            .await
            .unwrap(),
        None,
        "expired at expires_at"
    );
    assert_eq!(
        store
            .two_factor_challenge(Uuid::new_v4(), T0)
            .await
            .unwrap(),
        None
    );
    let live = TwoFactorChallenge {
        id: Uuid::new_v4(),
        expires_at: FAR,
        ..challenge
    };
    store.put_two_factor_challenge(live.clone()).await.unwrap();
    store.delete_two_factor_challenge(live.id).await.unwrap();
    assert_eq!(store.two_factor_challenge(live.id, T0).await.unwrap(), None);
    store.delete_two_factor_challenge(live.id).await.unwrap();
    assert_not_found(
        store
            .put_two_factor_challenge(TwoFactorChallenge {
                id: Uuid::new_v4(),
                user_id: Uuid::new_v4(),
                ..live
            })
            .await,
    );
}

/// A session's restriction is stored at creation, read back by every session read, and set or
/// cleared later.
pub async fn org_session_restriction_round_trip<S: Store>(store: &S) {
    let acc = account(store).await;
    let uid = acc.user.id;
    let restricted = castellan_store::SessionRecord {
        restriction: Some("two_factor_setup".into()),
        ..session(uid, T0, FAR)
    };
    let full = session(uid, T0 + 1, FAR);
    store.create_session(restricted.clone()).await.unwrap();
    store.create_session(full.clone()).await.unwrap();
    assert_eq!(
        store
            .session_by_token_hash(&restricted.token_hash, T0)
            .await
            .unwrap(),
        Some(restricted.clone())
    );
    assert_eq!(
        store.list_sessions(uid, T0 + 2).await.unwrap(),
        vec![full.clone(), restricted.clone()]
    );

    store
        .set_session_restriction(full.id, Some("password_change".into()))
        .await
        .unwrap();
    store
        .set_session_restriction(restricted.id, None)
        .await
        .unwrap();
    let got = |token: Vec<u8>| async move {
        store
            .session_by_token_hash(&token, T0)
            .await
            .unwrap()
            .unwrap()
            .restriction
    };
    assert_eq!(
        got(full.token_hash.clone()).await.as_deref(),
        Some("password_change")
    );
    assert_eq!(got(restricted.token_hash.clone()).await, None);
    assert_not_found(
        store
            .set_session_restriction(Uuid::new_v4(), Some("password_change".into()))
            .await,
    );
}

// ---------------------------------------------------------------------------------------------
// audit log

/// Appends get strictly increasing positions; queries filter by company set, user (actor or
/// target), event prefix, time (both bounds inclusive) and position, newest first, limited.
pub async fn org_audit_append_and_query<S: Store>(store: &S) {
    let (a, b, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let events = vec![
        AuditRecord {
            actor_id: Some(alice),
            actor_email: Some("alice@example.test".into()),
            ip: Some("192.0.2.1".into()),
            ..audit(Some(a), T0, "login.succeeded")
        },
        AuditRecord {
            actor_id: Some(bob),
            ..audit(Some(a), T0 + 10, "login.failed")
        },
        AuditRecord {
            actor_id: Some(alice),
            target_user_id: Some(bob),
            target_email: Some("bob@example.test".into()),
            ..audit(Some(b), T0 + 20, "member.confirmed")
        },
        audit(Some(b), T0 + 30, "policy.changed"),
        audit(Some(other), T0 + 40, "login.succeeded"),
        audit(None, T0 + 50, "setup.completed"),
        AuditRecord {
            target_user_id: Some(alice),
            ..audit(Some(a), T0 + 60, "member.disabled")
        },
        audit(Some(a), T0 + 70, "loginx.other"),
    ];
    let mut appended = Vec::new();
    for e in &events {
        let seq = store.append_audit(e.clone()).await.unwrap();
        appended.push(AuditRecord { seq, ..e.clone() });
    }
    assert!(
        appended.windows(2).all(|w| w[0].seq < w[1].seq),
        "strictly increasing"
    );
    let by_index = |indexes: &[usize]| -> Vec<AuditRecord> {
        indexes.iter().map(|i| appended[*i].clone()).collect()
    };
    let q = |company_ids: Vec<Uuid>| audit_query(company_ids);

    assert_eq!(
        store.query_audit(q(vec![a, b])).await.unwrap(),
        by_index(&[7, 6, 3, 2, 1, 0]),
        "the companies' events, newest first, exactly as appended"
    );
    assert_eq!(
        seqs(&store.query_audit(q(vec![b])).await.unwrap()),
        seqs(&by_index(&[3, 2]))
    );
    assert!(store.query_audit(q(vec![])).await.unwrap().is_empty());
    assert!(store
        .query_audit(q(vec![Uuid::new_v4()]))
        .await
        .unwrap()
        .is_empty());

    let with = |f: &dyn Fn(&mut AuditQuery)| {
        let mut query = q(vec![a, b]);
        f(&mut query);
        query
    };
    // Actor or target.
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| q.user_id = Some(alice)))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[6, 2, 0]))
    );
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| q.user_id = Some(bob)))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[2, 1]))
    );
    // Prefix.
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| q.event_prefix = Some("login.".into())))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[1, 0]))
    );
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| q.event_prefix = Some("login".into())))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[7, 1, 0])),
        "a plain string prefix"
    );
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| q.event_prefix = Some("member.confirmed".into())))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[2]))
    );
    assert!(store
        .query_audit(with(&|q| q.event_prefix = Some("%".into())))
        .await
        .unwrap()
        .is_empty());
    // Time, both bounds inclusive.
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| {
                    q.since = Some(T0 + 10);
                    q.until = Some(T0 + 30);
                }))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[3, 2, 1]))
    );
    // Paging backwards.
    let page1 = store.query_audit(with(&|q| q.limit = 4)).await.unwrap();
    assert_eq!(seqs(&page1), seqs(&by_index(&[7, 6, 3, 2])));
    let before = page1.last().unwrap().seq;
    let page2 = store
        .query_audit(with(&|q| {
            q.limit = 4;
            q.before_seq = Some(before);
        }))
        .await
        .unwrap();
    assert_eq!(seqs(&page2), seqs(&by_index(&[1, 0])));
    assert!(store
        .query_audit(with(&|q| q.limit = 0))
        .await
        .unwrap()
        .is_empty());
    // Everything combined.
    assert_eq!(
        seqs(
            &store
                .query_audit(with(&|q| {
                    q.user_id = Some(alice);
                    q.event_prefix = Some("member".into());
                    q.since = Some(T0 + 20);
                    q.before_seq = Some(appended[6].seq);
                }))
                .await
                .unwrap()
        ),
        seqs(&by_index(&[2]))
    );
}

/// Appends from many tasks at once get distinct positions.
pub async fn org_audit_concurrent_appends<S: Store>(store: &S) {
    let company = Uuid::new_v4();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        set.spawn(async move {
            store
                .append_audit(audit(Some(company), T0 + i, "item.copied"))
                .await
                .unwrap()
        });
    }
    let mut positions = set.join_all().await;
    positions.sort();
    positions.dedup();
    assert_eq!(positions.len(), 20);
    let listed = store.query_audit(audit_query(vec![company])).await.unwrap();
    let mut listed_seqs = seqs(&listed);
    listed_seqs.reverse();
    assert_eq!(listed_seqs, positions);
}
