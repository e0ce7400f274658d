//! The organisation API end to end over real HTTP on SQLite: setup, customers, invitations,
//! confirmation, groups, policies, subscriptions, the member lifecycle, mail, the audit log,
//! and bad input (clear errors, nothing half-created).

mod common;

use castellan_store::{InvitationRecord, OrgStore, Role, Store};
use castellan_types::*;
use common::*;
use serde_json::json;
use uuid::Uuid;

fn settings() -> castellan_server::Settings {
    castellan_server::Settings::default()
}

/// A partner with its admin and one customer with an admin and a user.
struct World {
    s: Srv,
    partner_admin: User,
    partner: Company,
    c1: Company,
    c1_admin: User,
    c1_user: User,
}

async fn world(settings: castellan_server::Settings) -> World {
    let s = start(settings).await;
    let mut partner_admin = quick_user(&s, "boss@msp.example").await;
    let partner = setup_partner(&s, &mut partner_admin, "MSP").await;
    let mut c1 = create_customer(&s, &partner, &partner_admin, "Acme", PlanDto::Advanced, 10).await;
    let c1_admin = quick_user(&s, "admin@acme.example").await;
    let c1_user = quick_user(&s, "user@acme.example").await;
    add_member(&s, &mut c1, &partner_admin, &c1_admin, RoleDto::Admin).await;
    add_member(&s, &mut c1, &c1_admin, &c1_user, RoleDto::User).await;
    World {
        s,
        partner_admin,
        partner,
        c1,
        c1_admin,
        c1_user,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_customers_invitations_confirmation_groups_and_policies() {
    let s = start(settings()).await;
    assert_eq!(s.get("/setup", None).await.body["open"], true);

    // A wrong setup token creates nothing.
    let mut boss = quick_user(&s, "Boss@MSP.example").await;
    let p = Company::new("MSP");
    let mut req = setup_request(&s, &boss, &p).await;
    req.setup_token = "not the token".into();
    s.post("/setup", boss.t(), &req)
        .await
        .err(403, "setup_token_invalid");
    assert!(!s.store.has_partner().await.unwrap());
    assert!(s.store.company(p.id).await.unwrap().is_none());
    assert!(s.store.membership_of(boss.id).await.unwrap().is_none());

    let partner = setup_partner(&s, &mut boss, "MSP").await;
    assert_eq!(s.get("/setup", None).await.body["open"], false);
    let m: MembershipResponse = s.get("/me/membership", boss.t()).await.json();
    assert_eq!(m.company.as_ref().unwrap().id, partner.id);
    assert_eq!(m.company.as_ref().unwrap().kind, CompanyKindDto::Partner);
    let me = m.member.unwrap();
    assert_eq!(
        (me.role, me.status),
        (RoleDto::Admin, MemberStatusDto::Confirmed)
    );
    // The used token does not work twice.
    let again = Company::new("Second");
    let mut req = setup_request(&s, &boss, &again).await;
    s.store.setup_token_set("fresh".into()).await.unwrap();
    req.setup_token = "fresh".into();
    s.post("/setup", boss.t(), &req)
        .await
        .err(409, "already_exists");

    // Two customers with different subscriptions.
    let mut acme = create_customer(&s, &partner, &boss, "Acme", PlanDto::Advanced, 3).await;
    let mut small = create_customer(&s, &partner, &boss, "Small", PlanDto::Standard, 1).await;
    let list: CompanyListResponse = s
        .get(&format!("/partners/{}/customers", partner.id), boss.t())
        .await
        .json();
    let names: Vec<_> = list.companies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Acme", "Small"]);
    let m: MembershipResponse = s.get("/me/membership", boss.t()).await.json();
    assert_eq!(m.managed_customers.len(), 2);

    // Invite, accept, confirm.
    let alice = quick_user(&s, "alice@acme.example").await;
    let bob = quick_user(&s, "bob@acme.example").await;
    let (inv, secret) = acme.invitation(&boss, "Alice@Acme.example", RoleDto::Admin);
    let r = s
        .post(
            &format!("/companies/{}/invitations", acme.id),
            boss.t(),
            &inv,
        )
        .await;
    r.ok();
    let created: InvitationCreatedResponse = r.json();
    assert!(!created.mailed, "no SMTP configured");
    assert_eq!(created.invitation.email, "alice@acme.example");
    let preview: InvitationPreviewResponse = s
        .post(
            &format!("/invitations/{}/preview", inv.invitation_id),
            None,
            &InvitationSecretRequest {
                secret: secret.clone(),
            },
        )
        .await
        .json();
    assert_eq!(preview.company_name, "Acme");
    assert_eq!(preview.keys, acme.keys());
    // Someone else cannot use Alice's link.
    s.post(
        &format!("/invitations/{}/accept", inv.invitation_id),
        bob.t(),
        &InvitationSecretRequest {
            secret: secret.clone(),
        },
    )
    .await
    .err(403, "invitation_invalid");
    let r = s
        .post(
            &format!("/invitations/{}/accept", inv.invitation_id),
            alice.t(),
            &InvitationSecretRequest {
                secret: secret.clone(),
            },
        )
        .await;
    r.ok();
    let accepted: MemberDto = r.json();
    assert_eq!(accepted.status, MemberStatusDto::Accepted);
    assert_eq!(accepted.signing_public_key, alice.signing_pk());
    // Accepted but not confirmed: no admin powers yet.
    s.get(&format!("/companies/{}/members", acme.id), alice.t())
        .await
        .err(403, "forbidden");
    // A reused link.
    s.post(
        &format!("/invitations/{}/accept", inv.invitation_id),
        alice.t(),
        &InvitationSecretRequest { secret },
    )
    .await
    .err(403, "invitation_invalid");

    // The confirmation needs a certificate for exactly this member.
    let mut wrong = confirm_request(&acme, &boss, &alice, RoleDto::User);
    let r = s
        .post(
            &format!("/companies/{}/members/{}/confirm", acme.id, alice.id),
            boss.t(),
            &wrong,
        )
        .await;
    r.err(422, "invalid_value");
    wrong = confirm_request(&acme, &boss, &alice, RoleDto::Admin);
    wrong.cert = small.cert(&alice, RoleDto::Admin, &boss);
    s.post(
        &format!("/companies/{}/members/{}/confirm", acme.id, alice.id),
        boss.t(),
        &wrong,
    )
    .await
    .err(422, "invalid_value");
    confirm(&s, &mut acme, &boss, &alice, RoleDto::Admin)
        .await
        .ok();
    confirm(&s, &mut acme, &boss, &alice, RoleDto::Admin)
        .await
        .err(409, "already_exists");
    let grants: KeyGrantListResponse = s.get("/me/key-grants", alice.t()).await.json();
    assert_eq!(grants.grants.len(), 1);
    assert_eq!(grants.grants[0].company_id, acme.id);

    // The new admin invites and confirms a user.
    invite_and_accept(&s, &acme, &alice, &bob, RoleDto::User)
        .await
        .ok();
    confirm(&s, &mut acme, &alice, &bob, RoleDto::User)
        .await
        .ok();
    let mine: MyGroupsResponse = s.get("/me/groups", bob.t()).await.json();
    assert_eq!(mine.groups.len(), 1);
    assert!(mine.groups[0].group.is_everyone);
    assert_eq!(mine.groups[0].group.members.len(), 2);
    let members: MemberListResponse = s
        .get(&format!("/companies/{}/members", acme.id), alice.t())
        .await
        .json();
    assert_eq!(members.members.len(), 2);
    assert!(members.members.iter().all(|m| m.cert.is_some()));
    // A user cannot administer.
    s.get(&format!("/companies/{}/members", acme.id), bob.t())
        .await
        .err(403, "forbidden");
    // A user reads the summary of their company, but not another customer.
    s.get(&format!("/companies/{}", acme.id), bob.t())
        .await
        .ok();
    s.get(&format!("/companies/{}", small.id), bob.t())
        .await
        .err(404, "not_found");
    s.get(&format!("/companies/{}", small.id), alice.t())
        .await
        .err(404, "not_found");

    // Groups.
    let mut sales = Group::new("Sales", false);
    let r = s
        .post(
            &format!("/companies/{}/groups", acme.id),
            alice.t(),
            &sales.new_dto(&acme, &[&alice, &bob]),
        )
        .await;
    r.ok();
    assert_eq!(r.status, 201);
    sales.version = 1;
    // A stranger cannot be listed in a roster.
    let stranger = quick_user(&s, "stranger@elsewhere.example").await;
    let mut bad = Group::new("Bad", false);
    bad.name = "Bad".into();
    s.post(
        &format!("/companies/{}/groups", acme.id),
        alice.t(),
        &bad.new_dto(&acme, &[&stranger]),
    )
    .await
    .err(422, "invalid_value");
    // Rename and remove Bob (version 2).
    sales.name = "Sales EU".into();
    let r = s
        .put(
            &format!("/companies/{}/groups/{}/roster", acme.id, sales.id),
            alice.t(),
            &RosterUpdateRequest {
                roster: sales.roster(&acme, 2, &[alice.id]),
                grants: vec![],
            },
        )
        .await;
    r.ok();
    let g: GroupDto = r.json();
    assert_eq!((g.name.as_str(), g.roster_version), ("Sales EU", 2));
    assert_eq!(g.members, [alice.id]);
    // A stale version.
    s.put(
        &format!("/companies/{}/groups/{}/roster", acme.id, sales.id),
        alice.t(),
        &RosterUpdateRequest {
            roster: sales.roster(&acme, 2, &[alice.id, bob.id]),
            grants: vec![sales.grant(&bob)],
        },
    )
    .await
    .err(409, "version_conflict");
    // Adding a member needs their grant.
    s.put(
        &format!("/companies/{}/groups/{}/roster", acme.id, sales.id),
        alice.t(),
        &RosterUpdateRequest {
            roster: sales.roster(&acme, 3, &[alice.id, bob.id]),
            grants: vec![],
        },
    )
    .await
    .err(422, "invalid_value");
    s.delete(
        &format!("/companies/{}/groups/{}", acme.id, acme.everyone.id),
        alice.t(),
    )
    .await
    .err(422, "invalid_value");
    let r = s
        .delete(
            &format!("/companies/{}/groups/{}", acme.id, sales.id),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 204);

    // Policies: signed, counter = stored + 1, Advanced-only refused on Standard.
    let doc = acme.policy(
        &alice,
        PolicySet {
            require_two_factor: true,
            password_auditing: true,
            ..Default::default()
        },
    );
    let r = s
        .put(
            &format!("/companies/{}/policy", acme.id),
            alice.t(),
            &SetPolicyRequest {
                policy: doc.clone(),
            },
        )
        .await;
    r.ok();
    s.put(
        &format!("/companies/{}/policy", acme.id),
        alice.t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .err(409, "version_conflict");
    let mut forged = acme.policy(&alice, PolicySet::default());
    forged.body = Bytes(
        String::from_utf8(forged.body.0)
            .unwrap()
            .replace(
                "\"require_two_factor\":false",
                "\"require_two_factor\":true",
            )
            .into_bytes(),
    );
    s.put(
        &format!("/companies/{}/policy", acme.id),
        alice.t(),
        &SetPolicyRequest { policy: forged },
    )
    .await
    .err(422, "invalid_value");
    let small_admin = quick_user(&s, "admin@small.example").await;
    add_member(&s, &mut small, &boss, &small_admin, RoleDto::Admin).await;
    let advanced = small.policy(
        &small_admin,
        PolicySet {
            restrict_portal_access: true,
            ..Default::default()
        },
    );
    let r = s
        .put(
            &format!("/companies/{}/policy", small.id),
            small_admin.t(),
            &SetPolicyRequest { policy: advanced },
        )
        .await;
    r.err(403, "plan_required");
    assert!(
        r.message().contains("restrict_portal_access"),
        "{}",
        r.message()
    );
    small.policy_counter -= 1;
    let basic = small.policy(
        &small_admin,
        PolicySet {
            require_two_factor: true,
            ..Default::default()
        },
    );
    s.put(
        &format!("/companies/{}/policy", small.id),
        small_admin.t(),
        &SetPolicyRequest { policy: basic },
    )
    .await
    .ok();
    let got: PolicyResponse = s
        .get(&format!("/companies/{}/policy", small.id), small_admin.t())
        .await
        .json();
    let body: PolicyBody = serde_json::from_slice(got.policy.unwrap().body.as_slice()).unwrap();
    assert_eq!(body.counter, 1);

    // Subscriptions: the partner decides; seats never below those in use.
    s.put(
        &format!("/companies/{}/subscription", small.id),
        small_admin.t(),
        &SubscriptionRequest {
            plan: PlanDto::Advanced,
            seats: 5,
            trial_ends_at: None,
        },
    )
    .await
    .err(403, "forbidden");
    let sub = |plan, seats| SubscriptionRequest {
        plan,
        seats,
        trial_ends_at: None,
    };
    s.put(
        &format!("/companies/{}/subscription", acme.id),
        boss.t(),
        &sub(PlanDto::Advanced, 1),
    )
    .await
    .err(409, "seat_limit");
    let r = s
        .put(
            &format!("/companies/{}/subscription", acme.id),
            boss.t(),
            &sub(PlanDto::Standard, 5),
        )
        .await;
    r.err(422, "invalid_value");
    assert!(r.message().contains("password_auditing"), "{}", r.message());
    let c: CompanyDto = s
        .put(
            &format!("/companies/{}/subscription", small.id),
            boss.t(),
            &sub(PlanDto::Trial, 4),
        )
        .await
        .json();
    assert_eq!((c.plan, c.seats), (PlanDto::Trial, Some(4)));
    assert!(c.trial_ends_at.unwrap() > now());

    // The audit log recorded all of it.
    let log: AuditListResponse = s
        .get(
            &format!("/companies/{}/audit?limit=1000", acme.id),
            alice.t(),
        )
        .await
        .json();
    let kinds: Vec<&str> = log.events.iter().map(|e| e.event.as_str()).collect();
    for k in [
        "company.created",
        "invitation.created",
        "invitation.accepted",
        "member.confirmed",
        "group.created",
        "group.changed",
        "group.deleted",
        "policy.changed",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(
        log.events.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    let partner_log: AuditListResponse = s
        .get(&format!("/companies/{}/audit", partner.id), boss.t())
        .await
        .json();
    assert!(partner_log
        .events
        .iter()
        .any(|e| e.event == "setup.partner_created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_filters_pages_and_exports_csv() {
    let w = world(settings()).await;
    let (s, a) = (&w.s, &w.c1_admin);
    let base = format!("/companies/{}/audit", w.c1.id);
    let all: AuditListResponse = s.get(&format!("{base}?limit=1000"), a.t()).await.json();
    assert!(all.events.len() >= 6, "{:?}", all.events);
    assert_eq!(all.next_before, None);
    // Paging backwards.
    let p1: AuditListResponse = s.get(&format!("{base}?limit=2"), a.t()).await.json();
    assert_eq!(p1.events.len(), 2);
    let before = p1.next_before.unwrap();
    let p2: AuditListResponse = s
        .get(&format!("{base}?limit=2&before={before}"), a.t())
        .await
        .json();
    assert!(p2.events.iter().all(|e| e.seq < before));
    assert_eq!(p2.events[0].seq, all.events[2].seq);
    // By type prefix and by user (email or id).
    let inv: AuditListResponse = s
        .get(&format!("{base}?type=invitation"), a.t())
        .await
        .json();
    assert!(!inv.events.is_empty());
    assert!(inv.events.iter().all(|e| e.event.starts_with("invitation")));
    for user in [w.c1_user.email.clone(), w.c1_user.id.to_string()] {
        let by: AuditListResponse = s.get(&format!("{base}?user={user}"), a.t()).await.json();
        assert!(!by.events.is_empty());
        assert!(by
            .events
            .iter()
            .all(|e| e.actor_id == Some(w.c1_user.id) || e.target_user_id == Some(w.c1_user.id)));
    }
    let none: AuditListResponse = s
        .get(&format!("{base}?user=nobody@nowhere.example"), a.t())
        .await
        .json();
    assert!(none.events.is_empty());
    let future: AuditListResponse = s
        .get(&format!("{base}?since={}", now() + 1000), a.t())
        .await
        .json();
    assert!(future.events.is_empty());
    s.get(&format!("{base}?limit=1001"), a.t())
        .await
        .err(422, "invalid_value");
    s.get(&format!("{base}?format=xml"), a.t())
        .await
        .err(422, "invalid_value");
    // CSV.
    let csv = s.get(&format!("{base}?format=csv&limit=1000"), a.t()).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let text = csv.body.as_str().unwrap();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "seq,at,company_id,actor_id,actor_email,target_user_id,target_email,event,details,ip"
    );
    assert!(text.contains("invitation.accepted"));
    // Details are JSON objects: quoted, with doubled quotes.
    assert!(text.contains(",\"{\"\""), "{text}");
    assert_eq!(text.matches("\r\n").count(), all.events.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_item_events_only_while_password_auditing_is_on() {
    let mut w = world(settings()).await;
    let s = &w.s;
    let report = ItemEventsRequest {
        events: vec![ItemEventDto {
            item_id: Uuid::new_v4(),
            event: ItemEventKind::Copied,
            field: Some("password".into()),
            at: now(),
        }],
    };
    let r = s.post("/me/audit-events", w.c1_user.t(), &report).await;
    r.err(403, "forbidden");
    assert!(r.message().contains("password auditing"), "{}", r.message());
    let doc = w.c1.policy(
        &w.c1_admin,
        PolicySet {
            password_auditing: true,
            ..Default::default()
        },
    );
    s.put(
        &format!("/companies/{}/policy", w.c1.id),
        w.c1_admin.t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .ok();
    assert_eq!(
        s.post("/me/audit-events", w.c1_user.t(), &report)
            .await
            .status,
        204
    );
    let log: AuditListResponse = s
        .get(
            &format!("/companies/{}/audit?type=item.", w.c1.id),
            w.c1_admin.t(),
        )
        .await
        .json();
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.events[0].event, "item.copied");
    assert_eq!(log.events[0].actor_id, Some(w.c1_user.id));
    assert_eq!(log.events[0].details["field"], "password");
    // Not a member: refused.
    let loner = quick_user(s, "loner@example.com").await;
    s.post("/me/audit-events", loner.t(), &report)
        .await
        .err(403, "forbidden");
    // Bad fields.
    let mut bad = report.clone();
    bad.events[0].field = Some("pass word".into());
    s.post("/me/audit-events", w.c1_user.t(), &bad)
        .await
        .err(422, "invalid_value");
    // Downgraded below Advanced: plan_required, even though the policy still says on.
    w.s.store
        .update_company(
            w.c1.id,
            castellan_store::CompanyUpdate {
                plan: Some(castellan_store::Plan::Standard),
                now: now(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.post("/me/audit-events", w.c1_user.t(), &report)
        .await
        .err(403, "plan_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_nothing_is_half_created() {
    let mut w = world(settings()).await;
    let s = &w.s;
    let (boss, admin) = (&w.partner_admin, &w.c1_admin);
    let inv_path = format!("/companies/{}/invitations", w.c1.id);
    let open_invitations = |s: &'_ Srv, cid: Uuid| {
        let store = s.store.clone();
        async move {
            store
                .invitations_of(cid)
                .await
                .unwrap()
                .into_iter()
                .filter(|i| i.is_open(now()))
                .count()
        }
    };

    // An existing member; a duplicate open invitation; an unknown role; a technician in a
    // customer; a bad email.
    let (req, _) = w.c1.invitation(admin, &w.c1_user.email, RoleDto::User);
    let r = s.post(&inv_path, admin.t(), &req).await;
    r.err(409, "already_exists");
    assert!(r.message().contains("already a member"), "{}", r.message());
    let (req, _) = w.c1.invitation(admin, "new@acme.example", RoleDto::User);
    s.post(&inv_path, admin.t(), &req).await.ok();
    let (dup, _) = w.c1.invitation(admin, "NEW@acme.example", RoleDto::User);
    let r = s.post(&inv_path, admin.t(), &dup).await;
    r.err(409, "already_exists");
    assert!(r.message().contains("open invitation"), "{}", r.message());
    let mut raw =
        serde_json::to_value(w.c1.invitation(admin, "x@acme.example", RoleDto::User).0).unwrap();
    raw["role"] = json!("wizard");
    let r = s
        .call(reqwest::Method::POST, &inv_path, admin.t(), Some(&raw))
        .await;
    r.err(400, "invalid_request");
    assert!(r.message().contains("wizard"), "{}", r.message());
    let (tech, _) =
        w.c1.invitation(admin, "tech@acme.example", RoleDto::Technician);
    let r = s.post(&inv_path, admin.t(), &tech).await;
    r.err(422, "invalid_value");
    assert!(r.message().contains("technician"), "{}", r.message());
    let (mut bad_email, _) = w.c1.invitation(admin, "no-at-sign", RoleDto::User);
    bad_email.email = "no-at-sign".into();
    s.post(&inv_path, admin.t(), &bad_email)
        .await
        .err(422, "invalid_value");
    // A signature by another key; a link with another company's fingerprint; a body that
    // names another email than the request.
    let other = Company::new("Other");
    let (mut forged, _) = w.c1.invitation(admin, "f@acme.example", RoleDto::User);
    forged.invitation = other
        .invitation(admin, "f@acme.example", RoleDto::User)
        .0
        .invitation;
    s.post(&inv_path, admin.t(), &forged)
        .await
        .err(422, "invalid_value");
    let (mut wrong_fp, _) = w.c1.invitation(admin, "g@acme.example", RoleDto::User);
    let (head, _) = wrong_fp.link.rsplit_once('.').unwrap();
    wrong_fp.link = format!(
        "{head}.{}",
        other
            .invitation(admin, "g@a.example", RoleDto::User)
            .0
            .link
            .rsplit_once('.')
            .unwrap()
            .1
    );
    let r = s.post(&inv_path, admin.t(), &wrong_fp).await;
    r.err(422, "invalid_value");
    assert!(r.message().contains("fingerprint"), "{}", r.message());
    let (mut swapped, _) = w.c1.invitation(admin, "h@acme.example", RoleDto::User);
    swapped.email = "i@acme.example".into();
    s.post(&inv_path, admin.t(), &swapped)
        .await
        .err(422, "invalid_value");
    assert_eq!(open_invitations(s, w.c1.id).await, 1, "only the valid one");

    // Seats: 10 seats, 2 members + 1 open invitation; fill them, then one more is refused.
    for i in 0..7 {
        let (req, _) =
            w.c1.invitation(admin, &format!("seat{i}@acme.example"), RoleDto::User);
        s.post(&inv_path, admin.t(), &req).await.ok();
    }
    let (req, _) =
        w.c1.invitation(admin, "one-too-many@acme.example", RoleDto::User);
    let r = s.post(&inv_path, admin.t(), &req).await;
    r.err(409, "seat_limit");
    assert!(r.message().contains("seat"), "{}", r.message());
    assert!(s
        .store
        .invitation(req.invitation_id)
        .await
        .unwrap()
        .is_none());

    // Expired, revoked and unknown links; a wrong secret.
    let joiner = quick_user(s, "joiner@acme.example").await;
    let (req, secret) = w.c1.invitation(admin, &joiner.email, RoleDto::User);
    let seat0 = s
        .store
        .invitations_of(w.c1.id)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.email == "seat0@acme.example")
        .unwrap();
    let r = s
        .delete(&format!("{inv_path}/{}", seat0.id), admin.t())
        .await;
    assert_eq!(r.status, 204);
    s.delete(&format!("{inv_path}/{}", seat0.id), admin.t())
        .await
        .err(409, "invalid_value");
    s.store
        .create_invitation(InvitationRecord {
            id: req.invitation_id,
            company_id: w.c1.id,
            email: joiner.email.clone(),
            role: Role::User,
            secret_hash: req.secret_hash.0.clone(),
            signed: serde_json::to_vec(&req.invitation).unwrap(),
            created_by: admin.id,
            created_at: now() - 8 * 24 * 3600,
            expires_at: now() - 24 * 3600,
            accepted_by: None,
            accepted_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    let accept = |id: Uuid, secret: &str| {
        let body = InvitationSecretRequest {
            secret: secret.into(),
        };
        let s = &w.s;
        let t = joiner.token.clone();
        async move {
            s.post(&format!("/invitations/{id}/accept"), Some(&t), &body)
                .await
        }
    };
    let r = accept(req.invitation_id, &secret).await;
    r.err(403, "invitation_invalid");
    assert!(r.message().contains("expired"), "{}", r.message());
    let r = accept(req.invitation_id, "wrong secret").await;
    r.err(403, "invitation_invalid");
    accept(Uuid::new_v4(), &secret)
        .await
        .err(403, "invitation_invalid");
    let revoked = s
        .store
        .invitations_of(w.c1.id)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.email == "seat0@acme.example")
        .unwrap();
    s.post(
        &format!("/invitations/{}/preview", revoked.id),
        None,
        &InvitationSecretRequest {
            secret: "whatever".into(),
        },
    )
    .await
    .err(403, "invitation_invalid");
    assert!(s.store.membership_of(joiner.id).await.unwrap().is_none());

    // A disabled company accepts no invitations: neither new ones nor open links.
    let (open_req, open_secret) = w.c1.invitation(admin, "later@acme.example", RoleDto::User);
    s.delete(
        &format!(
            "{inv_path}/{}",
            s.store
                .invitations_of(w.c1.id)
                .await
                .unwrap()
                .into_iter()
                .find(|i| i.email == "seat1@acme.example")
                .unwrap()
                .id
        ),
        admin.t(),
    )
    .await;
    s.post(&inv_path, admin.t(), &open_req).await.ok();
    s.patch(
        &format!("/companies/{}", w.c1.id),
        admin.t(),
        &json!({"status": "disabled"}),
    )
    .await
    .err(403, "forbidden");
    s.patch(
        &format!("/companies/{}", w.c1.id),
        boss.t(),
        &json!({"status": "disabled"}),
    )
    .await
    .ok();
    let later = quick_user(s, "later@acme.example").await;
    s.post(
        &format!("/invitations/{}/accept", open_req.invitation_id),
        later.t(),
        &InvitationSecretRequest {
            secret: open_secret,
        },
    )
    .await
    .err(403, "account_disabled");
    let (req, _) = w.c1.invitation(boss, "never@acme.example", RoleDto::User);
    let r = s.post(&inv_path, boss.t(), &req).await;
    r.err(403, "account_disabled");
    assert!(r.message().contains("disabled"), "{}", r.message());
    // Its admin's session ended with the disable.
    s.get("/me/membership", admin.t())
        .await
        .err(401, "unauthorized");
    s.patch(
        &format!("/companies/{}", w.c1.id),
        boss.t(),
        &json!({"status": "active"}),
    )
    .await
    .ok();

    // Customer creation: every partner admin must get the keys; names are checked; nothing
    // is created on refusal.
    let c = Company::new("Half");
    let mut req = customer_request(&c, PlanDto::Standard, 5, &[boss]);
    req.key_grants.clear();
    let path = format!("/partners/{}/customers", w.partner.id);
    let r = s.post(&path, boss.t(), &req).await;
    r.err(422, "invalid_value");
    assert!(r.message().contains("key grant"), "{}", r.message());
    for name in ["", "   ", &"n".repeat(201)] {
        let mut req = customer_request(&c, PlanDto::Standard, 5, &[boss]);
        req.name = name.to_string();
        s.post(&path, boss.t(), &req)
            .await
            .err(422, "invalid_value");
    }
    let mut req = customer_request(&c, PlanDto::Standard, 5, &[boss]);
    req.keys.signing_public_key = Bytes(vec![1; 31]);
    s.post(&path, boss.t(), &req)
        .await
        .err(422, "invalid_value");
    let mut req = customer_request(&c, PlanDto::Standard, 0, &[boss]);
    req.seats = 0;
    s.post(&path, boss.t(), &req)
        .await
        .err(422, "invalid_value");
    assert!(s.store.company(c.id).await.unwrap().is_none());
    // The same id twice.
    s.post(
        &path,
        boss.t(),
        &customer_request(&c, PlanDto::Standard, 5, &[boss]),
    )
    .await
    .ok();
    s.post(
        &path,
        boss.t(),
        &customer_request(&c, PlanDto::Standard, 5, &[boss]),
    )
    .await
    .err(409, "already_exists");

    // Renames: checked the same way (the customer admin was logged out by the disable).
    let admin = boss;
    s.patch(
        &format!("/companies/{}", w.c1.id),
        admin.t(),
        &json!({"name": "  "}),
    )
    .await
    .err(422, "invalid_value");
    let c1: CompanyDto = s
        .patch(
            &format!("/companies/{}", w.c1.id),
            admin.t(),
            &json!({"name": " Acme Ltd "}),
        )
        .await
        .json();
    assert_eq!(c1.name, "Acme Ltd");

    // Confirming someone who never accepted; a member of another company.
    let ghost = quick_user(s, "ghost@acme.example").await;
    confirm(s, &mut w.c1, admin, &ghost, RoleDto::User)
        .await
        .err(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_lifecycle_disable_password_change_remove_reset_delete() {
    let mut settings = settings();
    settings.reauth_window_secs = 3600;
    let s = start(settings).await;
    let mut boss = quick_user(&s, "boss@msp.example").await;
    let partner = setup_partner(&s, &mut boss, "MSP").await;
    let mut c = create_customer(&s, &partner, &boss, "Acme", PlanDto::Advanced, 10).await;
    let admin = quick_user(&s, "admin@acme.example").await;
    add_member(&s, &mut c, &boss, &admin, RoleDto::Admin).await;
    let user = register(&s, "user@acme.example").await;
    add_member(&s, &mut c, &admin, &user, RoleDto::User).await;
    let cid = c.id;
    let member = move |uid: Uuid| format!("/companies/{cid}/members/{uid}");

    // Disable: sessions end, login refused after the password proved right.
    let r = s
        .patch(&member(user.id), admin.t(), &json!({"disabled": true}))
        .await;
    assert!(r.json::<MemberDto>().disabled);
    s.get("/account", user.t()).await.err(401, "unauthorized");
    login(&s, &user.email, PW)
        .await
        .err(403, "account_disabled");
    login(&s, &user.email, "wrong password")
        .await
        .err(401, "invalid_credentials");
    s.patch(&member(admin.id), admin.t(), &json!({"disabled": true}))
        .await
        .err(422, "invalid_value");
    s.patch(&member(user.id), admin.t(), &json!({"disabled": false}))
        .await
        .ok();

    // Require a master password change: the next session may only do that.
    s.patch(
        &member(user.id),
        admin.t(),
        &json!({"require_password_change": true}),
    )
    .await
    .ok();
    let r = login(&s, &user.email, PW).await;
    r.ok();
    assert_eq!(r.body["restriction"], "password_change");
    let token = r.body["session_token"].as_str().unwrap().to_string();
    s.get("/me/membership", Some(&token))
        .await
        .err(403, "password_change_required");
    s.get("/account", Some(&token)).await.ok();
    let pw_in = castellan_crypto::password_input(
        "a brand new password",
        &castellan_crypto::SecretKey::from_bytes([9u8; 16]),
    );
    let (st, reg) = castellan_crypto::client_registration_start(&pw_in).unwrap();
    let r = s
        .post(
            "/account/password/start",
            Some(&token),
            &PasswordChangeStartRequest {
                registration_request: reg.into(),
            },
        )
        .await;
    r.ok();
    let start: RegisterStartResponse = r.json();
    let (upload, _, _) = castellan_crypto::client_registration_finish(
        st,
        &pw_in,
        start.registration_response.as_slice(),
        castellan_crypto::KsfParams::FLOOR,
    )
    .unwrap();
    let account: AccountResponse = s.get("/account", Some(&token)).await.json();
    s.post(
        "/account/password/finish",
        Some(&token),
        &PasswordChangeFinishRequest {
            credentials_version: account.credentials_version,
            registration_record: upload.into(),
            keyset: account.keyset,
        },
    )
    .await
    .ok();
    s.get("/me/membership", Some(&token)).await.ok();
    let m = s.store.member(c.id, user.id).await.unwrap().unwrap();
    assert!(!m.require_password_change);

    // Remove (with the policy that deletes Business items); the account stays.
    let doc = c.policy(
        &admin,
        PolicySet {
            remove_business_items_on_removal: true,
            ..Default::default()
        },
    );
    s.put(
        &format!("/companies/{}/policy", c.id),
        admin.t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .ok();
    s.post(
        &format!("{}/remove", member(admin.id)),
        admin.t(),
        &json!({}),
    )
    .await
    .err(422, "invalid_value");
    let r = s
        .post(
            &format!("{}/remove", member(user.id)),
            admin.t(),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    c.everyone.members.retain(|u| *u != user.id);
    assert!(s.store.membership_of(user.id).await.unwrap().is_none());
    assert!(s.store.user_by_id(user.id).await.unwrap().is_some());
    s.post(
        &format!("{}/remove", member(user.id)),
        admin.t(),
        &json!({}),
    )
    .await
    .err(404, "not_found");

    // Reset: the account is deleted and a new invitation for the same email and role issued.
    let u2 = quick_user(&s, "u2@acme.example").await;
    add_member(&s, &mut c, &admin, &u2, RoleDto::User).await;
    let (wrong_role, _) = c.invitation(&admin, &u2.email, RoleDto::Admin);
    s.post(
        &format!("{}/reset", member(u2.id)),
        admin.t(),
        &ResetMemberRequest {
            invitation: wrong_role,
        },
    )
    .await
    .err(422, "invalid_value");
    assert!(
        s.store.user_by_id(u2.id).await.unwrap().is_some(),
        "nothing deleted"
    );
    let (again, secret) = c.invitation(&admin, &u2.email, RoleDto::User);
    let r = s
        .post(
            &format!("{}/reset", member(u2.id)),
            admin.t(),
            &ResetMemberRequest {
                invitation: again.clone(),
            },
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    c.everyone.members.retain(|u| *u != u2.id);
    assert!(s.store.user_by_id(u2.id).await.unwrap().is_none());
    let inv = s
        .store
        .invitation(again.invitation_id)
        .await
        .unwrap()
        .unwrap();
    assert!(inv.is_open(now()));
    // The user starts over with a new account and the new link.
    let u2b = quick_user(&s, "u2@acme.example").await;
    s.post(
        &format!("/invitations/{}/accept", again.invitation_id),
        u2b.t(),
        &InvitationSecretRequest { secret },
    )
    .await
    .ok();

    // Delete.
    let u3 = quick_user(&s, "u3@acme.example").await;
    add_member(&s, &mut c, &admin, &u3, RoleDto::User).await;
    assert_eq!(s.delete(&member(u3.id), admin.t()).await.status, 204);
    c.everyone.members.retain(|u| *u != u3.id);
    assert!(s.store.user_by_id(u3.id).await.unwrap().is_none());
    s.get("/account", u3.t()).await.err(401, "unauthorized");

    // Roles: promotion needs a certificate and the company keys.
    let u4 = quick_user(&s, "u4@acme.example").await;
    add_member(&s, &mut c, &admin, &u4, RoleDto::User).await;
    s.patch(&member(u4.id), admin.t(), &json!({"role": "admin"}))
        .await
        .err(422, "invalid_value");
    s.patch(&member(u4.id), admin.t(), &json!({"role": "overlord"}))
        .await
        .err(400, "invalid_request");
    let r = s
        .patch(
            &member(u4.id),
            admin.t(),
            &UpdateMemberRequest {
                role: Some(RoleDto::Admin),
                cert: Some(c.cert(&u4, RoleDto::Admin, &admin)),
                key_grant: Some(c.grant(&u4)),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.json::<MemberDto>().role, RoleDto::Admin);
    s.get(&format!("/companies/{}/members", c.id), u4.t())
        .await
        .ok();
    let grants: KeyGrantListResponse = s.get("/me/key-grants", u4.t()).await.json();
    assert_eq!(grants.grants.len(), 1);
    // Demotion takes the keys away.
    s.patch(
        &member(u4.id),
        admin.t(),
        &UpdateMemberRequest {
            role: Some(RoleDto::User),
            cert: Some(c.cert(&u4, RoleDto::User, &admin)),
            ..Default::default()
        },
    )
    .await
    .ok();
    let grants: KeyGrantListResponse = s.get("/me/key-grants", u4.t()).await.json();
    assert!(grants.grants.is_empty());

    let log: AuditListResponse = s
        .get(&format!("/companies/{}/audit?type=member", c.id), admin.t())
        .await
        .json();
    let kinds: Vec<&str> = log.events.iter().map(|e| e.event.as_str()).collect();
    for k in [
        "member.disabled",
        "member.enabled",
        "member.updated",
        "member.removed",
        "member.reset",
        "member.deleted",
        "member.confirmed",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let logins: AuditListResponse = s
        .get(&format!("/companies/{}/audit?type=login", c.id), admin.t())
        .await
        .json();
    assert!(logins.events.iter().any(|e| e.event == "login.refused"));
    assert!(logins.events.iter().any(
        |e| e.event == "login.failed" && e.actor_email.as_deref() == Some("user@acme.example")
    ));
    assert!(logins.events.iter().any(|e| e.event == "login.succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technicians_see_only_assigned_customers() {
    let s = start(settings()).await;
    let mut boss = quick_user(&s, "boss@msp.example").await;
    let mut partner = setup_partner(&s, &mut boss, "MSP").await;
    let a = create_customer(&s, &partner, &boss, "A", PlanDto::Standard, 5).await;
    let b = create_customer(&s, &partner, &boss, "B", PlanDto::Standard, 5).await;
    let tech = quick_user(&s, "tech@msp.example").await;
    add_member(&s, &mut partner, &boss, &tech, RoleDto::Technician).await;
    let assign = format!(
        "/partners/{}/technicians/{}/customers/{}",
        partner.id, tech.id, a.id
    );
    s.put(
        &assign,
        boss.t(),
        &AssignTechnicianRequest {
            key_grant: a.grant(&tech),
        },
    )
    .await
    .ok();
    let list: CompanyListResponse = s
        .get(&format!("/partners/{}/customers", partner.id), tech.t())
        .await
        .json();
    assert_eq!(list.companies.len(), 1);
    assert_eq!(list.companies[0].id, a.id);
    s.get(&format!("/companies/{}/members", a.id), tech.t())
        .await
        .ok();
    s.get(&format!("/companies/{}/members", b.id), tech.t())
        .await
        .err(404, "not_found");
    s.get(&format!("/companies/{}/members", partner.id), tech.t())
        .await
        .err(403, "forbidden");
    s.put(
        &format!("/companies/{}/subscription", a.id),
        tech.t(),
        &SubscriptionRequest {
            plan: PlanDto::Advanced,
            seats: 9,
            trial_ends_at: None,
        },
    )
    .await
    .err(403, "forbidden");
    let grants: KeyGrantListResponse = s.get("/me/key-grants", tech.t()).await.json();
    assert_eq!(grants.grants.len(), 1);
    let m: MembershipResponse = s.get("/me/membership", tech.t()).await.json();
    assert_eq!(m.managed_customers, [a.id]);
    // Unassigned: the customer is out of reach again, and the grant is gone.
    assert_eq!(s.delete(&assign, boss.t()).await.status, 204);
    s.get(&format!("/companies/{}/members", a.id), tech.t())
        .await
        .err(404, "not_found");
    let grants: KeyGrantListResponse = s.get("/me/key-grants", tech.t()).await.json();
    assert!(grants.grants.is_empty());
    let assigned: TechnicianCustomersResponse = s
        .get(
            &format!("/partners/{}/technicians/{}/customers", partner.id, tech.id),
            boss.t(),
        )
        .await
        .json();
    assert!(assigned.customers.is_empty());
    // Only technicians can be assigned.
    s.put(
        &format!(
            "/partners/{}/technicians/{}/customers/{}",
            partner.id, boss.id, a.id
        ),
        boss.t(),
        &AssignTechnicianRequest {
            key_grant: a.grant(&boss),
        },
    )
    .await
    .err(404, "not_found");

    // Policy templates.
    let t = PutPolicyTemplateRequest {
        id: Uuid::new_v4(),
        name: "Strict".into(),
        policies: PolicySet {
            require_two_factor: true,
            ..Default::default()
        },
    };
    let path = format!("/partners/{}/policy-templates", partner.id);
    s.post(&path, boss.t(), &t).await.ok();
    s.post(&path, tech.t(), &t).await.err(403, "forbidden");
    let list: PolicyTemplateListResponse = s.get(&path, boss.t()).await.json();
    assert_eq!(list.templates.len(), 1);
    assert!(list.templates[0].policies.require_two_factor);
    assert_eq!(
        s.delete(&format!("{path}/{}", t.id), boss.t()).await.status,
        204
    );
    s.delete(&format!("{path}/{}", t.id), boss.t())
        .await
        .err(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrict_portal_access_keeps_users_out_of_company_pages() {
    let mut w = world(settings()).await;
    let s = &w.s;
    let page = format!("/companies/{}", w.c1.id);
    s.get(&page, w.c1_user.t()).await.ok();
    let doc = w.c1.policy(
        &w.c1_admin,
        PolicySet {
            restrict_portal_access: true,
            ..Default::default()
        },
    );
    s.put(
        &format!("{page}/policy"),
        w.c1_admin.t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .ok();
    s.get(&page, w.c1_user.t()).await.err(403, "forbidden");
    s.get(&page, w.c1_admin.t()).await.ok();
    s.get(&page, w.partner_admin.t()).await.ok();
    // The membership (and its signed policy) stays readable: clients need it.
    s.get("/me/membership", w.c1_user.t()).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_token_guesses_are_rate_limited() {
    let mut settings = settings();
    settings.rate_limits.token_guesses_per_address = 3;
    let s = start(settings).await;
    let u = quick_user(&s, "guesser@example.com").await;
    let p = Company::new("Guess");
    let mut req = setup_request(&s, &u, &p).await;
    req.setup_token = "guess".into();
    for _ in 0..3 {
        s.post("/setup", u.t(), &req)
            .await
            .err(403, "setup_token_invalid");
    }
    s.post("/setup", u.t(), &req).await.err(429, "rate_limited");
    // Even the right token now waits for the window.
    req.setup_token = s.setup_token().await;
    s.post("/setup", u.t(), &req).await.err(429, "rate_limited");
    assert!(!s.store.has_partner().await.unwrap());
    // No session: 401.
    s.post("/setup", None, &req).await.err(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_issues_setup_tokens_for_further_partners() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = castellan_server::issue_setup_token(dir.path(), None)
        .await
        .unwrap();
    let t2 = castellan_server::issue_setup_token(dir.path(), None)
        .await
        .unwrap();
    assert_ne!(t1, t2);
    assert!(t2.len() >= 40);
    let store = castellan_store_sqlite::SqliteStore::open(&dir.path().join("castellan.sqlite3"))
        .await
        .unwrap();
    // The newest one replaced the other.
    assert_eq!(store.setup_token_get_or_init("x".into()).await.unwrap(), t2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_the_organisation_endpoints() {
    let s = start(settings()).await;
    let doc = s.get("/openapi.json", None).await.body;
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/setup",
        "/api/v1/me/membership",
        "/api/v1/me/key-grants",
        "/api/v1/me/groups",
        "/api/v1/me/audit-events",
        "/api/v1/partners/{pid}/customers",
        "/api/v1/partners/{pid}/policy-templates",
        "/api/v1/partners/{pid}/policy-templates/{tid}",
        "/api/v1/partners/{pid}/technicians/{uid}/customers",
        "/api/v1/partners/{pid}/technicians/{uid}/customers/{cid}",
        "/api/v1/companies/{cid}",
        "/api/v1/companies/{cid}/subscription",
        "/api/v1/companies/{cid}/policy",
        "/api/v1/companies/{cid}/invitations",
        "/api/v1/companies/{cid}/invitations/{id}",
        "/api/v1/invitations/{id}/preview",
        "/api/v1/invitations/{id}/accept",
        "/api/v1/companies/{cid}/members",
        "/api/v1/companies/{cid}/members/{uid}",
        "/api/v1/companies/{cid}/members/{uid}/confirm",
        "/api/v1/companies/{cid}/members/{uid}/remove",
        "/api/v1/companies/{cid}/members/{uid}/reset",
        "/api/v1/companies/{cid}/groups",
        "/api/v1/companies/{cid}/groups/{gid}",
        "/api/v1/companies/{cid}/groups/{gid}/roster",
        "/api/v1/companies/{cid}/audit",
        "/api/v1/account/2fa/enroll",
        "/api/v1/account/2fa/confirm",
        "/api/v1/account/2fa/disable",
        "/api/v1/auth/login/2fa",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_partner_admin_gets_every_customers_keys_and_loses_them_when_demoted() {
    let mut w = world(settings()).await;
    let second = quick_user(&w.s, "second@msp.example").await;
    invite_and_accept(&w.s, &w.partner, &w.partner_admin, &second, RoleDto::Admin)
        .await
        .ok();
    let confirm_path = format!("/companies/{}/members/{}/confirm", w.partner.id, second.id);

    // Without the customers' keys the confirmation is refused and nothing changes.
    let req = confirm_request(&w.partner, &w.partner_admin, &second, RoleDto::Admin);
    let r = w.s.post(&confirm_path, w.partner_admin.t(), &req).await;
    r.err(422, "invalid_value");
    assert!(r.message().contains("all 1 customers"), "{}", r.message());
    // Keys of a company that is not a customer of this partner are refused too.
    let mut req = confirm_request(&w.partner, &w.partner_admin, &second, RoleDto::Admin);
    req.customer_key_grants = vec![KeyGrantDto {
        company_id: w.partner.id,
        user_id: second.id,
        sealed: w.partner.grant(&second),
    }];
    w.s.post(&confirm_path, w.partner_admin.t(), &req)
        .await
        .err(422, "invalid_value");
    let grants: KeyGrantListResponse = w.s.get("/me/key-grants", second.t()).await.json();
    assert!(grants.grants.is_empty());

    let mut req = confirm_request(&w.partner, &w.partner_admin, &second, RoleDto::Admin);
    req.customer_key_grants = vec![KeyGrantDto {
        company_id: w.c1.id,
        user_id: second.id,
        sealed: w.c1.grant(&second),
    }];
    w.s.post(&confirm_path, w.partner_admin.t(), &req)
        .await
        .ok();
    w.partner.everyone.version += 1;
    w.partner.everyone.members.push(second.id);
    let grants: KeyGrantListResponse = w.s.get("/me/key-grants", second.t()).await.json();
    let mut companies: Vec<Uuid> = grants.grants.iter().map(|g| g.company_id).collect();
    companies.sort();
    let mut expected = vec![w.partner.id, w.c1.id];
    expected.sort();
    assert_eq!(companies, expected);

    // Demoted to technician: no keys of the partner or of any customer remain.
    w.s.patch(
        &format!("/companies/{}/members/{}", w.partner.id, second.id),
        w.partner_admin.t(),
        &UpdateMemberRequest {
            role: Some(RoleDto::Technician),
            cert: Some(
                w.partner
                    .cert(&second, RoleDto::Technician, &w.partner_admin),
            ),
            ..Default::default()
        },
    )
    .await
    .ok();
    let grants: KeyGrantListResponse = w.s.get("/me/key-grants", second.t()).await.json();
    assert!(grants.grants.is_empty(), "{:?}", grants.grants);
}
