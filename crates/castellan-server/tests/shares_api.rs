//! The sharing API on a real server over loopback: roles (owner, editor, read-only, hidden),
//! access lists signed by owners and by the company, the company's domain restriction, expiry,
//! accept and decline, groups (members added later and removed), rotation conflicts, deletion
//! with tombstones, change hints to recipients, the admins' overview and the directory.

mod common;

use std::time::Duration;

use castellan_store::Store;
use castellan_types::*;
use common::*;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use ShareRoleDto::{Editor, Owner, ReadOnly, ReadOnlyHidden};

// ---------------------------------------------------------------- the world

/// Partner P (admin `pa`) with customers C (Advanced; admin `ca`; users alice … grace; group
/// Sales = {erin}) and D (user mallory); olga has an account and no company.
struct W {
    s: Srv,
    pa: User,
    c: Company,
    ca: User,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    erin: User,
    frank: User,
    grace: User,
    d: Company,
    mallory: User,
    olga: User,
    sales: Group,
}

async fn world() -> W {
    let s = start(castellan_server::Settings::default()).await;
    let mut pa = quick_user(&s, "pa@partner.example").await;
    let p = setup_partner(&s, &mut pa, "Partner").await;
    let mut c = create_customer(&s, &p, &pa, "Acme", PlanDto::Advanced, 100).await;
    let mut d = create_customer(&s, &p, &pa, "Dee", PlanDto::Standard, 100).await;
    let ca = quick_user(&s, "ca@acme.example").await;
    add_member(&s, &mut c, &pa, &ca, RoleDto::Admin).await;
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol", "dave", "erin", "frank", "grace"] {
        let u = quick_user(&s, &format!("{name}@acme.example")).await;
        add_member(&s, &mut c, &ca, &u, RoleDto::User).await;
        users.push(u);
    }
    let mallory = quick_user(&s, "mallory@dee.example").await;
    add_member(&s, &mut d, &pa, &mallory, RoleDto::User).await;
    let olga = quick_user(&s, "olga@elsewhere.example").await;
    let [alice, bob, carol, dave, erin, frank, grace]: [User; 7] = users.try_into().ok().unwrap();
    let mut sales = Group::new("Sales", false);
    s.post(
        &format!("/companies/{}/groups", c.id),
        ca.t(),
        &sales.new_dto(&c, &[&erin]),
    )
    .await
    .ok();
    sales.version = 1;
    sales.members = vec![erin.id];
    W {
        s,
        pa,
        c,
        ca,
        alice,
        bob,
        carol,
        dave,
        erin,
        frank,
        grace,
        d,
        mallory,
        olga,
        sales,
    }
}

// ---------------------------------------------------------------- helpers

fn share_path(sh: &Share) -> String {
    format!("/shares/{}", sh.id)
}

async fn get_share(s: &Srv, sh: &Share, u: &User) -> Resp {
    s.get(&share_path(sh), u.t()).await
}

async fn accept(s: &Srv, sh: &Share, u: &User) -> ShareDto {
    let r = s
        .post(&format!("{}/accept", share_path(sh)), u.t(), &json!({}))
        .await;
    r.ok();
    r.json()
}

async fn sync(s: &Srv, u: &User, since: i64) -> SyncResponse {
    let r = s.get(&format!("/sync?since={since}"), u.t()).await;
    r.ok();
    r.json()
}

async fn share_objects(s: &Srv, sh: &Share, u: &User) -> Vec<ObjectDto> {
    let r = s.get(&format!("/objects?vault_id={}", sh.id), u.t()).await;
    r.ok();
    r.json::<ObjectListResponse>().objects
}

/// Writes an item into the share (create when `expected` is `None`); the manifest counter is
/// the share's next one, advanced only on success.
async fn put_item(s: &Srv, sh: &mut Share, u: &User, id: Uuid, expected: Option<i64>) -> Resp {
    let version = expected.map_or(1, |v| v + 1);
    let req = share_item(
        sh.id,
        version,
        expected,
        sh.manifest_at(sh.manifest_counter + 1),
    );
    let r = s.put(&format!("/objects/{id}"), u.t(), &req).await;
    if r.status == 200 {
        sh.manifest_counter += 1;
    }
    r
}

async fn delete_item(s: &Srv, sh: &mut Share, u: &User, id: Uuid, version: i64) -> Resp {
    let req = DeleteObjectRequest {
        version,
        manifests: vec![sh.manifest_at(sh.manifest_counter + 1)],
    };
    let v = serde_json::to_value(req).unwrap();
    let r = s
        .call(Method::DELETE, &format!("/objects/{id}"), u.t(), Some(&v))
        .await;
    if r.status == 204 {
        sh.manifest_counter += 1;
    }
    r
}

/// Sends the next access list (current entries of `sh`) signed by `signer`, as `caller`.
async fn put_acl(
    s: &Srv,
    sh: &mut Share,
    caller: &User,
    signer: AclSigner<'_>,
    grants: Vec<ShareGrantDto>,
) -> Resp {
    let req = UpdateAclRequest {
        acl: sh.next_acl(signer),
        grants,
    };
    let r = s
        .put(&format!("{}/acl", share_path(sh)), caller.t(), &req)
        .await;
    if r.status == 200 {
        sh.acl_version += 1;
    }
    r
}

#[track_caller]
fn forbidden(r: &Resp, needle: &str) {
    r.err(403, "forbidden");
    assert!(r.message().contains(needle), "{}", r.message());
}

fn listed(page: &SyncResponse, sh: &Share) -> Option<ShareSummaryDto> {
    page.shares.iter().find(|x| x.id == sh.id).copied()
}

/// A share of alice's with bob (editor), carol (read-only) and dave (read-only, hidden), all
/// accepted, with one item by alice.
async fn team_share(w: &W) -> (Share, Uuid) {
    let s = &w.s;
    let mut sh = Share::new(
        &w.c,
        &w.alice,
        &[
            (user_p(&w.bob), Editor),
            (user_p(&w.carol), ReadOnly),
            (user_p(&w.dave), ReadOnlyHidden),
        ],
    );
    create_share(s, &mut sh, &w.alice, &[&w.bob, &w.carol, &w.dave]).await;
    for u in [&w.bob, &w.carol, &w.dave] {
        accept(s, &sh, u).await;
    }
    let item = Uuid::new_v4();
    put_item(s, &mut sh, &w.alice, item, None).await.ok();
    (sh, item)
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_can_do_exactly_what_it_should() {
    let w = world().await;
    let s = &w.s;
    let mut sh = Share::new(
        &w.c,
        &w.alice,
        &[
            (user_p(&w.bob), Editor),
            (user_p(&w.carol), ReadOnly),
            (user_p(&w.dave), ReadOnlyHidden),
        ],
    );
    let created = create_share(s, &mut sh, &w.alice, &[&w.bob, &w.carol, &w.dave]).await;
    assert_eq!(created.state, ShareStateDto::Owned);
    assert_eq!(created.role, Some(Owner));
    assert_eq!((created.acl_version, created.key_version), (1, 1));
    assert_eq!(created.grants.len(), 4, "owners see every grant");
    assert_eq!(created.owner_ids, vec![w.alice.id]);
    assert_eq!(created.manifest.as_ref().unwrap().counter, 1);

    // Recipients are invited: they see their own grant, and nothing of the vault yet.
    for (u, role) in [
        (&w.bob, Editor),
        (&w.carol, ReadOnly),
        (&w.dave, ReadOnlyHidden),
    ] {
        let mine: ShareDto = get_share(s, &sh, u).await.json();
        assert_eq!(mine.state, ShareStateDto::Invited);
        assert_eq!(mine.role, Some(role));
        assert_eq!(mine.grant.as_ref().unwrap().principal, user_p(u));
        assert_eq!(mine.grants.len(), 1, "a recipient sees only their grant");
        assert!(mine.manifest.is_none());
        let page = sync(s, u, 0).await;
        let summary = listed(&page, &sh).expect("the invitation is listed");
        assert_eq!(summary.state, ShareStateDto::Invited);
        assert_eq!(summary.role, role);
    }

    // The owner writes; the server records her as the author.
    let item = Uuid::new_v4();
    let r = put_item(s, &mut sh, &w.alice, item, None).await;
    r.ok();
    assert_eq!(r.json::<ObjectDto>().author_id, Some(w.alice.id));
    assert!(
        share_objects(s, &sh, &w.bob).await.is_empty(),
        "not accepted yet"
    );
    put_item(s, &mut sh, &w.bob, item, Some(1))
        .await
        .err(404, "not_found");

    for u in [&w.bob, &w.carol, &w.dave] {
        let dto = accept(s, &sh, u).await;
        assert_eq!(dto.state, ShareStateDto::Accepted);
        assert!(dto.manifest.is_some());
        let page = sync(s, u, 0).await;
        assert_eq!(listed(&page, &sh).unwrap().state, ShareStateDto::Accepted);
        assert!(page.objects.iter().any(|o| o.id == item));
        assert!(page.manifests.iter().any(|m| m.vault_id == sh.id));
    }

    // The editor edits; the author is now the editor, as everyone reads it.
    let r = put_item(s, &mut sh, &w.bob, item, Some(1)).await;
    r.ok();
    assert_eq!(r.json::<ObjectDto>().author_id, Some(w.bob.id));
    for u in [&w.alice, &w.carol, &w.dave] {
        let objects = share_objects(s, &sh, u).await;
        assert_eq!(objects.len(), 1);
        assert_eq!(
            (objects[0].version, objects[0].author_id),
            (2, Some(w.bob.id))
        );
    }
    // The editor adds and removes items.
    let extra = Uuid::new_v4();
    put_item(s, &mut sh, &w.bob, extra, None).await.ok();
    assert_eq!(delete_item(s, &mut sh, &w.bob, extra, 1).await.status, 204);

    // Readers (hidden passwords included: a client-side restriction) cannot write.
    for u in [&w.carol, &w.dave] {
        forbidden(&put_item(s, &mut sh, u, item, Some(2)).await, "read-only");
        forbidden(
            &put_item(s, &mut sh, u, Uuid::new_v4(), None).await,
            "read-only",
        );
        forbidden(&delete_item(s, &mut sh, u, item, 2).await, "read-only");
        let r = s.get(&format!("/objects/{item}"), u.t()).await;
        r.ok();
    }

    // Only owners manage the share.
    for u in [&w.bob, &w.carol, &w.dave] {
        let sp = share_path(&sh);
        forbidden(
            &s.put(&format!("{sp}/acl"), u.t(), &garbage()).await,
            "owners",
        );
        forbidden(
            &s.post(&format!("{sp}/grants"), u.t(), &garbage()).await,
            "owners",
        );
        forbidden(
            &s.post(&format!("{sp}/rotate"), u.t(), &garbage()).await,
            "owners",
        );
        forbidden(&s.delete(&sp, u.t()).await, "owners");
    }
    // Even with a valid body: an editor's own signature on a new list is refused.
    let r = put_acl(s, &mut sh, &w.bob, AclSigner::Member(&w.bob), vec![]).await;
    forbidden(&r, "owners");

    // The owner re-grants (replacing a grant) and changes a role.
    let r = s
        .post(
            &format!("{}/grants", share_path(&sh)),
            w.alice.t(),
            &AddGrantsRequest {
                grants: vec![sh.user_grant(&w.alice, &w.carol)],
            },
        )
        .await;
    r.ok();
    sh.entries[2].role = Editor;
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
    put_item(s, &mut sh, &w.carol, item, Some(2)).await.ok();

    // Someone of the company who is not a principal learns nothing.
    let frank = &w.frank;
    get_share(s, &sh, frank).await.err(404, "not_found");
    s.get(&format!("/objects/{item}"), frank.t())
        .await
        .err(404, "not_found");
    put_item(s, &mut sh, frank, Uuid::new_v4(), None)
        .await
        .err(404, "not_found");
    s.post(
        &format!("{}/accept", share_path(&sh)),
        frank.t(),
        &json!({}),
    )
    .await
    .err(404, "not_found");
    s.delete(&share_path(&sh), frank.t())
        .await
        .err(404, "not_found");
    assert!(share_objects(s, &sh, frank).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_lists_are_checked_and_other_companies_are_refused() {
    let mut w = world().await;
    let s = &w.s;
    let (mut sh, _) = team_share(&w).await;
    let acl_path = format!("{}/acl", share_path(&sh));
    let send = |acl: SignedDoc| UpdateAclRequest {
        acl,
        grants: vec![],
    };

    // A stale version.
    let r = s
        .put(
            &acl_path,
            w.alice.t(),
            &send(sh.acl_at(1, AclSigner::Member(&w.alice))),
        )
        .await;
    r.err(409, "version_conflict");
    assert_eq!(r.body["error"]["current_version"], 1);
    // Signed by someone else's key, or naming another signer.
    let mut doc = sh.next_acl(AclSigner::Member(&w.alice));
    doc.signature = Bytes(
        w.bob
            .sign
            .sign_statement(share_statement::ACL, doc.body.as_slice())
            .to_vec(),
    );
    s.put(&acl_path, w.alice.t(), &send(doc))
        .await
        .err(422, "invalid_value");
    s.put(
        &acl_path,
        w.alice.t(),
        &send(sh.next_acl(AclSigner::Member(&w.bob))),
    )
    .await
    .err(422, "invalid_value");
    // Another share's list.
    let other = Share::new(&w.c, &w.alice, &[]);
    s.put(
        &acl_path,
        w.alice.t(),
        &send(other.acl_at(2, AclSigner::Member(&w.alice))),
    )
    .await
    .err(422, "invalid_value");

    // Bad entries.
    let keep = sh.entries.clone();
    let bad_entries: Vec<(Vec<AclEntryDto>, &str)> = vec![
        (vec![entry(user_p(&w.bob), Editor)], "at least one owner"),
        (
            [keep.clone(), vec![entry(group_p(&w.sales), Owner)]].concat(),
            "group cannot be an owner",
        ),
        (
            [keep.clone(), vec![entry(user_p(&w.bob), ReadOnly)]].concat(),
            "twice",
        ),
        (
            [keep.clone(), vec![entry(user_p(&w.mallory), Owner)]].concat(),
            "owners must be confirmed members",
        ),
        (
            [keep.clone(), vec![entry(user_p(&w.olga), Owner)]].concat(),
            "owners must be confirmed members",
        ),
        (
            [
                keep.clone(),
                vec![entry(
                    PrincipalDto {
                        kind: PrincipalKindDto::Group,
                        id: w.d.everyone.id,
                    },
                    ReadOnly,
                )],
            ]
            .concat(),
            "not a group of the share's company",
        ),
        (
            [
                keep.clone(),
                vec![entry(
                    PrincipalDto {
                        kind: PrincipalKindDto::User,
                        id: Uuid::new_v4(),
                    },
                    ReadOnly,
                )],
            ]
            .concat(),
            "not a registered user",
        ),
    ];
    for (entries, needle) in bad_entries {
        sh.entries = entries;
        let r = put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![]).await;
        r.err(422, "invalid_value");
        assert!(r.message().contains(needle), "{needle}: {}", r.message());
    }
    sh.entries = keep.clone();

    // A grant for someone not in the list, or not signed by the caller.
    let g = sh.user_grant(&w.alice, &w.frank);
    let r = put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![g]).await;
    r.err(422, "invalid_value");
    let mut g = sh.user_grant(&w.alice, &w.carol);
    g.signature = sh.user_grant(&w.bob, &w.carol).signature;
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![g])
        .await
        .err(422, "invalid_value");

    // Users of another company and accounts without one are refused while the company's
    // policy lists no sharing domains...
    for u in [&w.mallory, &w.olga] {
        sh.entries.push(entry(user_p(u), ReadOnly));
        let g = vec![sh.user_grant(&w.alice, u)];
        forbidden(
            &put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), g).await,
            "outside the company",
        );
        sh.entries.pop();
    }
    // ... and may be recipients when it lists their domains; they accept and read.
    let doc = w.c.policy(
        &w.ca,
        PolicySet {
            restrict_sharing_domains: vec![
                "acme.example".into(),
                "dee.example".into(),
                "elsewhere.example".into(),
            ],
            ..Default::default()
        },
    );
    s.put(
        &format!("/companies/{}/policy", w.c.id),
        w.ca.t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .ok();
    sh.entries.push(entry(user_p(&w.mallory), ReadOnly));
    sh.entries.push(entry(user_p(&w.olga), ReadOnly));
    let grants = vec![
        sh.user_grant(&w.alice, &w.mallory),
        sh.user_grant(&w.alice, &w.olga),
    ];
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), grants)
        .await
        .ok();
    for u in [&w.mallory, &w.olga] {
        accept(s, &sh, u).await;
        assert_eq!(share_objects(s, &sh, u).await.len(), 1);
        forbidden(
            &put_item(s, &mut sh, u, Uuid::new_v4(), None).await,
            "read-only",
        );
    }

    // The company's administrator changes recipients with the company key (no grants: they do
    // not hold the share key); an owner who is not an administrator cannot sign so.
    sh.entries.push(entry(user_p(&w.frank), ReadOnly));
    forbidden(
        &put_acl(s, &mut sh, &w.alice, AclSigner::Company(&w.c), vec![]).await,
        "administrators",
    );
    let r = put_acl(s, &mut sh, &w.ca, AclSigner::Company(&w.c), vec![]).await;
    r.ok();
    let dto: ShareDto = r.json();
    assert_eq!(dto.state, ShareStateDto::Admin);
    assert!(dto.grants.is_empty() && dto.grant.is_none() && dto.manifest.is_none());
    let grant = sh.user_grant(&w.alice, &w.frank);
    sh.entries.pop();
    forbidden(
        &put_acl(s, &mut sh, &w.ca, AclSigner::Company(&w.c), vec![grant]).await,
        "only owners",
    );
    // An administrator transfers ownership: bob becomes the owner, alice an editor.
    sh.entries[0].role = Editor;
    sh.entries[1].role = Owner;
    put_acl(s, &mut sh, &w.ca, AclSigner::Company(&w.c), vec![])
        .await
        .ok();
    let dto: ShareDto = get_share(s, &sh, &w.bob).await.json();
    assert_eq!(dto.owner_ids, vec![w.bob.id]);
    assert_eq!(dto.state, ShareStateDto::Owned);
    forbidden(
        &put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![]).await,
        "owners",
    );

    // Another company's people: no share in C, no directory, no overview, no access.
    let mut theirs = Share::new(&w.c, &w.mallory, &[]);
    let req = theirs.create_request(&w.mallory, vec![]);
    s.post("/shares", w.mallory.t(), &req)
        .await
        .err(404, "not_found");
    let mut foreign = Share::new(&w.d, &w.mallory, &[(user_p(&w.alice), ReadOnly)]);
    let req = foreign.create_request(&w.mallory, vec![]);
    // D (Standard: no sharing domains) cannot share with alice, who is outside it ...
    forbidden(
        &s.post("/shares", w.mallory.t(), &req).await,
        "outside the company",
    );
    // ... and a D member cannot make a C member an owner of a share of D.
    let mut foreign2 = Share::new(&w.d, &w.mallory, &[(user_p(&w.alice), Owner)]);
    let req = foreign2.create_request(&w.mallory, vec![]);
    s.post("/shares", w.mallory.t(), &req)
        .await
        .err(422, "invalid_value");
    for u in [&w.mallory, &w.olga] {
        s.get(&format!("/companies/{}/directory", w.c.id), u.t())
            .await
            .err(404, "not_found");
        s.get(&format!("/companies/{}/shares", w.c.id), u.t())
            .await
            .err(404, "not_found");
    }
    // A partner admin administers C but is not one of its members: no shares of their own there.
    let mut pas = Share::new(&w.c, &w.pa, &[]);
    let req = pas.create_request(&w.pa, vec![]);
    forbidden(&s.post("/shares", w.pa.t(), &req).await, "members");
    // Creating twice with one id.
    let mut again = Share::new(&w.c, &w.alice, &[]);
    let req = again.create_request(&w.alice, vec![]);
    s.post("/shares", w.alice.t(), &req).await.ok();
    s.post("/shares", w.alice.t(), &req)
        .await
        .err(409, "already_exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrict_sharing_domains_refuses_other_domains() {
    let mut w = world().await;
    let doc = w.c.policy(
        &w.ca,
        PolicySet {
            restrict_sharing_domains: vec!["acme.example".into()],
            ..Default::default()
        },
    );
    let s = &w.s;
    s.put(
        &format!("/companies/{}/policy", w.c.id),
        w.ca.t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .ok();
    // At creation.
    let mut sh = Share::new(&w.c, &w.alice, &[(user_p(&w.olga), ReadOnly)]);
    let req = sh.create_request(&w.alice, vec![]);
    let r = s.post("/shares", w.alice.t(), &req).await;
    forbidden(&r, "elsewhere.example");
    assert!(r.message().contains("acme.example"), "{}", r.message());
    // When adding recipients.
    let (mut sh, _) = team_share(&w).await;
    for u in [&w.olga, &w.mallory] {
        sh.entries.push(entry(user_p(u), ReadOnly));
        let r = put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![]).await;
        forbidden(&r, crate_domain(&u.email));
        sh.entries.pop();
    }
    sh.entries.push(entry(user_p(&w.frank), ReadOnly));
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
}

fn crate_domain(email: &str) -> &str {
    email.split_once('@').unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_share_is_gone_for_recipients_but_not_for_owners() {
    let w = world().await;
    let s = &w.s;
    let (mut sh, item) = team_share(&w).await;
    sh.expires_at = Some(now() - 10);
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
    for u in [&w.bob, &w.carol] {
        get_share(s, &sh, u).await.err(404, "not_found");
        assert!(share_objects(s, &sh, u).await.is_empty());
        let page = sync(s, u, 0).await;
        assert!(listed(&page, &sh).is_none());
        assert!(!page.objects.iter().any(|o| o.id == item));
        assert!(!page.manifests.iter().any(|m| m.vault_id == sh.id));
        let mine: ShareListResponse = s.get("/shares", u.t()).await.json();
        assert!(mine.shares.is_empty());
        s.get(&format!("/objects/{item}"), u.t())
            .await
            .err(404, "not_found");
    }
    put_item(s, &mut sh, &w.bob, item, Some(1))
        .await
        .err(404, "not_found");
    // The owner keeps it.
    assert_eq!(share_objects(s, &sh, &w.alice).await.len(), 1);
    let page = sync(s, &w.alice, 0).await;
    assert_eq!(listed(&page, &sh).unwrap().state, ShareStateDto::Owned);
    put_item(s, &mut sh, &w.alice, item, Some(1)).await.ok();
    // A later expiry gives it back, accepted as before.
    sh.expires_at = Some(now() + 3600);
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
    let dto: ShareDto = get_share(s, &sh, &w.carol).await.json();
    assert_eq!(dto.state, ShareStateDto::Accepted);
    assert_eq!(dto.expires_at, sh.expires_at);
    assert_eq!(share_objects(s, &sh, &w.carol).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_accept_and_decline() {
    let w = world().await;
    let s = &w.s;
    let (sh, item) = team_share(&w).await;
    let sp = share_path(&sh);
    let r = s
        .post(&format!("{sp}/decline"), w.carol.t(), &json!({}))
        .await;
    r.ok();
    assert_eq!(r.json::<ShareDto>().state, ShareStateDto::Declined);
    assert!(share_objects(s, &sh, &w.carol).await.is_empty());
    let page = sync(s, &w.carol, 0).await;
    assert!(listed(&page, &sh).is_none());
    assert!(!page.objects.iter().any(|o| o.id == item));
    let mine: ShareListResponse = s.get("/shares", w.carol.t()).await.json();
    assert_eq!(mine.shares[0].state, ShareStateDto::Declined);
    // Accepting again brings it back.
    accept(s, &sh, &w.carol).await;
    assert_eq!(share_objects(s, &sh, &w.carol).await.len(), 1);
    // Owners do not accept; administrators who are not principals have nothing to accept;
    // strangers get 404.
    s.post(&format!("{sp}/accept"), w.alice.t(), &json!({}))
        .await
        .err(422, "invalid_value");
    forbidden(
        &s.post(&format!("{sp}/accept"), w.ca.t(), &json!({})).await,
        "recipients",
    );
    s.post(&format!("{sp}/decline"), w.frank.t(), &json!({}))
        .await
        .err(404, "not_found");
    s.post(
        &format!("/shares/{}/accept", Uuid::new_v4()),
        w.carol.t(),
        &json!({}),
    )
    .await
    .err(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_recipients_follow_the_group() {
    let mut w = world().await;
    let mut sh = Share::new(&w.c, &w.alice, &[(group_p(&w.sales), ReadOnly)]);
    let grants = vec![
        sh.user_grant(&w.alice, &w.alice),
        sh.group_grant(&w.alice, &w.sales),
    ];
    let req = sh.create_request(&w.alice, grants);
    let s = &w.s;
    s.post("/shares", w.alice.t(), &req).await.ok();
    sh.acl_version = 1;
    let item = Uuid::new_v4();
    put_item(s, &mut sh, &w.alice, item, None).await.ok();

    let dto: ShareDto = get_share(s, &sh, &w.erin).await.json();
    assert_eq!(dto.state, ShareStateDto::Invited);
    assert_eq!(dto.grant.unwrap().principal, group_p(&w.sales));
    get_share(s, &sh, &w.grace).await.err(404, "not_found");
    accept(s, &sh, &w.erin).await;
    assert_eq!(share_objects(s, &sh, &w.erin).await.len(), 1);
    forbidden(
        &put_item(s, &mut sh, &w.erin, item, Some(1)).await,
        "read-only",
    );

    // grace joins the group: the group's grant opens the share for her, no new grant needed.
    let roster = |w: &W, members: &[Uuid]| w.sales.roster(&w.c, w.sales.version + 1, members);
    let mut grace_hints = s.events(&w.grace).await;
    let req = RosterUpdateRequest {
        roster: roster(&w, &[w.erin.id, w.grace.id]),
        grants: vec![w.sales.grant(&w.grace)],
    };
    s.put(
        &format!("/companies/{}/groups/{}/roster", w.c.id, w.sales.id),
        w.ca.t(),
        &req,
    )
    .await
    .ok();
    w.sales.version += 1;
    assert!(
        grace_hints.hint(Duration::from_secs(5)).await.is_some(),
        "joining a recipient group is announced"
    );
    let dto: ShareDto = get_share(s, &sh, &w.grace).await.json();
    assert_eq!(dto.state, ShareStateDto::Invited);
    assert_eq!(dto.grant.unwrap().principal, group_p(&w.sales));
    let page = sync(s, &w.grace, 0).await;
    assert_eq!(listed(&page, &sh).unwrap().state, ShareStateDto::Invited);
    accept(s, &sh, &w.grace).await;
    assert_eq!(share_objects(s, &sh, &w.grace).await.len(), 1);
    assert_eq!(dto.grants.len(), 1, "only the grants she opens");

    // erin leaves the group: she loses the share at once.
    let mut erin_hints = s.events(&w.erin).await;
    let req = RosterUpdateRequest {
        roster: roster(&w, &[w.grace.id]),
        grants: vec![],
    };
    s.put(
        &format!("/companies/{}/groups/{}/roster", w.c.id, w.sales.id),
        w.ca.t(),
        &req,
    )
    .await
    .ok();
    w.sales.version += 1;
    assert!(
        erin_hints.hint(Duration::from_secs(5)).await.is_some(),
        "leaving a recipient group is announced"
    );
    get_share(s, &sh, &w.erin).await.err(404, "not_found");
    assert!(share_objects(s, &sh, &w.erin).await.is_empty());
    assert!(listed(&sync(s, &w.erin, 0).await, &sh).is_none());
    assert_eq!(share_objects(s, &sh, &w.grace).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_replaces_the_key_in_one_step_and_refuses_stale_lists() {
    let w = world().await;
    let s = &w.s;
    let (mut sh, i1) = team_share(&w).await;
    let i2 = Uuid::new_v4();
    put_item(s, &mut sh, &w.bob, i2, None).await.ok();
    // carol is removed; then the owner rotates.
    sh.entries.retain(|e| e.principal != user_p(&w.carol));
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
    get_share(s, &sh, &w.carol).await.err(404, "not_found");

    let old_key_version = sh.key_version;
    sh.key_version += 1;
    sh.key = rand_key();
    let rewrap = |id: Uuid, v: i64| RewrappedObjectDto {
        id,
        expected_version: v,
        key_wrap: Bytes(vec![9; 60]),
        overview: Bytes(vec![8; 200]),
        details: Bytes(vec![7; 300]),
    };
    let request =
        |sh: &Share, objects: Vec<RewrappedObjectDto>, acl_version: i64| RotateShareRequest {
            acl: sh.acl_at(acl_version, AclSigner::Member(&w.alice)),
            name: Bytes(vec![0x6e; 96]),
            name_for_admins: Bytes(vec![0x61; 96]),
            objects,
            grants: vec![
                sh.user_grant(&w.alice, &w.alice),
                sh.user_grant(&w.alice, &w.bob),
                sh.user_grant(&w.alice, &w.dave),
            ],
            manifest: sh.manifest_at(sh.manifest_counter + 1),
        };
    let path = format!("{}/rotate", share_path(&sh));
    let next = sh.acl_version + 1;
    // An object missing from the list.
    s.post(&path, w.alice.t(), &request(&sh, vec![rewrap(i1, 1)], next))
        .await
        .err(409, "version_conflict");
    // A stale access list version.
    let r = s
        .post(
            &path,
            w.alice.t(),
            &request(&sh, vec![rewrap(i1, 1), rewrap(i2, 1)], next - 1),
        )
        .await;
    r.err(409, "version_conflict");
    // An object that changed after the client read it.
    let prepared = request(&sh, vec![rewrap(i1, 1), rewrap(i2, 1)], next);
    put_item(s, &mut sh, &w.bob, i1, Some(1)).await.ok();
    let r = s.post(&path, w.alice.t(), &prepared).await;
    r.err(409, "version_conflict");
    assert_eq!(r.body["error"]["current_version"], 2);
    // An editor may not rotate.
    forbidden(&s.post(&path, w.bob.t(), &prepared).await, "owners");

    // Done right: everything at once.
    let r = s
        .post(
            &path,
            w.alice.t(),
            &request(&sh, vec![rewrap(i1, 2), rewrap(i2, 1)], next),
        )
        .await;
    r.ok();
    sh.acl_version += 1;
    sh.manifest_counter += 1;
    let dto: ShareDto = r.json();
    assert_eq!(
        (dto.acl_version, dto.key_version),
        (next, old_key_version + 1)
    );
    assert_eq!(dto.grants.len(), 3);
    assert!(dto.grants.iter().all(|g| g.key_version == sh.key_version));
    let objects = share_objects(s, &sh, &w.bob).await;
    assert_eq!(objects.len(), 2);
    for o in &objects {
        assert_eq!(o.key_wrap, Bytes(vec![9; 60]));
        let expected = if o.id == i1 {
            (3, w.bob.id)
        } else {
            (2, w.bob.id)
        };
        assert_eq!(
            (o.version, o.author_id.unwrap()),
            expected,
            "authors are kept"
        );
    }
    // Grants of the old key version are refused now.
    let mut old = sh.user_grant(&w.alice, &w.bob);
    old.key_version = old_key_version;
    let r = s
        .post(
            &format!("{}/grants", share_path(&sh)),
            w.alice.t(),
            &AddGrantsRequest { grants: vec![old] },
        )
        .await;
    r.err(422, "invalid_value");
    // And an access list of the old key version.
    sh.key_version = old_key_version;
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .err(409, "version_conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_share_leaves_tombstones_and_unlists_it() {
    let w = world().await;
    let s = &w.s;
    let (mut sh, i1) = team_share(&w).await;
    let i2 = Uuid::new_v4();
    put_item(s, &mut sh, &w.bob, i2, None).await.ok();
    let cursor = sync(s, &w.carol, 0).await.cursor;
    forbidden(&s.delete(&share_path(&sh), w.bob.t()).await, "owners");
    assert_eq!(s.delete(&share_path(&sh), w.alice.t()).await.status, 204);
    for u in [&w.bob, &w.carol] {
        let after = sync(s, u, cursor).await;
        let gone: Vec<Uuid> = after.tombstones.iter().map(|t| t.id).collect();
        assert!(gone.contains(&i1) && gone.contains(&i2), "{gone:?}");
        assert!(listed(&after, &sh).is_none());
        assert!(!after.manifests.iter().any(|m| m.vault_id == sh.id));
        get_share(s, &sh, u).await.err(404, "not_found");
    }
    get_share(s, &sh, &w.alice).await.err(404, "not_found");
    // A company administrator deletes another share.
    let (sh2, _) = team_share(&w).await;
    assert_eq!(s.delete(&share_path(&sh2), w.ca.t()).await.status, 204);

    // The audit log has the share's history.
    let r = s
        .get(&format!("/companies/{}/audit?limit=1000", w.c.id), w.ca.t())
        .await;
    r.ok();
    let events: Vec<String> = r
        .json::<AuditListResponse>()
        .events
        .into_iter()
        .filter(|e| e.details["share_id"] == json!(sh.id))
        .map(|e| e.event)
        .collect();
    for e in ["share.created", "share.accepted", "share.deleted"] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_hints_reach_every_recipient() {
    let w = world().await;
    let s = &w.s;
    let wait = Duration::from_secs(5);
    let quiet = Duration::from_millis(300);
    let mut frank = s.events(&w.frank).await;
    let mut carol = s.events(&w.carol).await;
    let (mut sh, item) = team_share(&w).await;
    assert!(carol.hint(wait).await.is_some(), "the invitation");
    carol.drain(quiet).await;
    // An editor's write reaches the readers.
    put_item(s, &mut sh, &w.bob, item, Some(1)).await.ok();
    let at = carol.hint(wait).await.expect("a write");
    assert!(at > 0);
    carol.drain(quiet).await;
    // A delete too.
    let extra = Uuid::new_v4();
    put_item(s, &mut sh, &w.alice, extra, None).await.ok();
    carol.drain(quiet).await;
    assert_eq!(
        delete_item(s, &mut sh, &w.alice, extra, 1).await.status,
        204
    );
    assert!(carol.hint(wait).await.is_some(), "a delete");
    carol.drain(quiet).await;
    // A new recipient hears of the invitation; an old one of the change.
    assert!(
        frank.next(quiet).await.is_none(),
        "frank is not a principal"
    );
    sh.entries.push(entry(user_p(&w.frank), ReadOnly));
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
    assert!(frank.hint(wait).await.is_some(), "frank's invitation");
    assert!(carol.hint(wait).await.is_some(), "the access list changed");
    carol.drain(quiet).await;
    // Removed recipients learn that they lost it.
    sh.entries.retain(|e| e.principal != user_p(&w.carol));
    put_acl(s, &mut sh, &w.alice, AclSigner::Member(&w.alice), vec![])
        .await
        .ok();
    assert!(carol.hint(wait).await.is_some(), "carol's removal");
    carol.drain(quiet).await;
    frank.drain(quiet).await;
    // Writes to someone's own vault do not reach the share's recipients.
    let personal = s.store.vaults_for_user(w.alice.id).await.unwrap()[0].id;
    let own = share_item(
        personal,
        1,
        None,
        ManifestDto {
            vault_id: personal,
            counter: 1,
            manifest: Bytes(vec![1; 64]),
        },
    );
    s.put(&format!("/objects/{}", Uuid::new_v4()), w.alice.t(), &own)
        .await
        .ok();
    assert!(frank.next(quiet).await.is_none(), "an own-vault write");
    // The share's deletion reaches its readers.
    frank.drain(quiet).await;
    accept(s, &sh, &w.frank).await;
    frank.drain(quiet).await;
    assert_eq!(s.delete(&share_path(&sh), w.alice.t()).await.status, 204);
    assert!(frank.hint(wait).await.is_some(), "the deletion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_see_every_share_as_metadata_and_members_the_directory() {
    let w = world().await;
    let s = &w.s;
    let (sh, _) = team_share(&w).await;
    let path = format!("/companies/{}/shares", w.c.id);
    for admin in [&w.ca, &w.pa] {
        let r = s.get(&path, admin.t()).await;
        r.ok();
        let list: ShareListResponse = r.json();
        assert_eq!(list.shares.len(), 1);
        let x = &list.shares[0];
        assert_eq!((x.id, x.state, x.role), (sh.id, ShareStateDto::Admin, None));
        assert!(x.grants.is_empty() && x.grant.is_none() && x.manifest.is_none());
        assert_eq!(x.object_count, 1);
        assert_eq!(x.owner_ids, vec![w.alice.id]);
        let one: ShareDto = get_share(s, &sh, admin).await.json();
        assert_eq!(one.state, ShareStateDto::Admin);
        assert!(one.grants.is_empty());
        // Metadata only: no objects.
        assert!(share_objects(s, &sh, admin).await.is_empty());
    }
    forbidden(&s.get(&path, w.carol.t()).await, "administrators");
    s.get(&path, w.mallory.t()).await.err(404, "not_found");
    s.get(&format!("/companies/{}/shares", w.d.id), w.ca.t())
        .await
        .err(404, "not_found");

    // The directory: confirmed members with certificates, and groups.
    let r = s
        .get(&format!("/companies/{}/directory", w.c.id), w.carol.t())
        .await;
    r.ok();
    let dir: DirectoryResponse = r.json();
    assert_eq!(dir.members.len(), 8, "ca and seven users");
    let bob = dir.members.iter().find(|m| m.user_id == w.bob.id).unwrap();
    assert_eq!(bob.email, "bob@acme.example");
    let cert: MemberCertBody = serde_json::from_slice(bob.cert.body.as_slice()).unwrap();
    assert_eq!(cert.signing_public_key, w.bob.signing_pk());
    assert!(dir.groups.iter().any(|g| g.id == w.sales.id));
    assert!(dir.groups.iter().any(|g| g.is_everyone));
    s.get(&format!("/companies/{}/directory", w.c.id), w.pa.t())
        .await
        .ok();
    s.get("/shares", w.olga.t()).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_are_bounded() {
    let w = world().await;
    let s = &w.s;
    let many: Vec<(PrincipalDto, ShareRoleDto)> = (0..1001)
        .map(|_| {
            (
                PrincipalDto {
                    kind: PrincipalKindDto::User,
                    id: Uuid::new_v4(),
                },
                ReadOnly,
            )
        })
        .collect();
    let mut sh = Share::new(&w.c, &w.alice, &many);
    let req = sh.create_request(&w.alice, vec![]);
    let r = s.post("/shares", w.alice.t(), &req).await;
    r.err(422, "invalid_value");
    assert!(r.message().contains("at most"), "{}", r.message());
    let mut sh = Share::new(&w.c, &w.alice, &[]);
    let mut req = sh.create_request(&w.alice, vec![]);
    req.name = Bytes(vec![1; 5000]);
    s.post("/shares", w.alice.t(), &req)
        .await
        .err(422, "invalid_value");
    req.name = Bytes(vec![]);
    s.post("/shares", w.alice.t(), &req)
        .await
        .err(422, "invalid_value");
    let mut req = sh.create_request(&w.alice, vec![]);
    req.manifest.counter = 2;
    s.post("/shares", w.alice.t(), &req)
        .await
        .err(422, "invalid_value");
    let mut req = sh.create_request(&w.alice, vec![]);
    let mut g = sh.user_grant(&w.alice, &w.alice);
    g.sealed = Bytes(vec![0; 2000]);
    req.grants = vec![g];
    s.post("/shares", w.alice.t(), &req)
        .await
        .err(422, "invalid_value");
    // A rotation may be larger than the usual 2 MiB body limit (it carries every object).
    let (mut real, _) = team_share(&w).await;
    real.key_version = 2;
    let big = RotateShareRequest {
        acl: real.acl_at(2, AclSigner::Member(&w.alice)),
        name: Bytes(vec![1; 10]),
        name_for_admins: Bytes(vec![1; 10]),
        objects: (0..8)
            .map(|_| RewrappedObjectDto {
                id: Uuid::new_v4(),
                expected_version: 1,
                key_wrap: Bytes(vec![1; 60]),
                overview: Bytes(vec![2; 400_000]),
                details: Bytes(vec![3; 10]),
            })
            .collect(),
        grants: vec![],
        manifest: real.manifest_at(real.manifest_counter + 1),
    };
    let r = s
        .post(&format!("{}/rotate", share_path(&real)), w.alice.t(), &big)
        .await;
    assert_ne!(r.status, 413, "{}", r.body);
    r.err(409, "version_conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_the_sharing_endpoints() {
    let s = start(castellan_server::Settings::default()).await;
    let doc = s.get("/openapi.json", None).await.body;
    let paths = &doc["paths"];
    for (p, methods) in [
        ("/api/v1/companies/{cid}/directory", &["get"][..]),
        ("/api/v1/companies/{cid}/shares", &["get"]),
        ("/api/v1/shares", &["get", "post"]),
        ("/api/v1/shares/{sid}", &["get", "delete"]),
        ("/api/v1/shares/{sid}/acl", &["put"]),
        ("/api/v1/shares/{sid}/grants", &["post"]),
        ("/api/v1/shares/{sid}/rotate", &["post"]),
        ("/api/v1/shares/{sid}/accept", &["post"]),
        ("/api/v1/shares/{sid}/decline", &["post"]),
    ] {
        for m in methods {
            assert!(
                paths[p][m].is_object(),
                "{m} {p} missing from the OpenAPI document"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    for t in [
        "ShareAclBody",
        "ShareGrantDto",
        "ShareSummaryDto",
        "SyncResponse",
    ] {
        assert!(schemas[t].is_object(), "{t}");
    }
    assert!(schemas["ObjectDto"]["properties"]["author_id"].is_object());
    assert!(schemas["SyncResponse"]["properties"]["shares"].is_object());
}
