//! Client-side cost of sharing (docs/benchmarks.md, "Sharing"): creating a share of 1,000
//! Business items for a group of 50 users, and adding a 51st member.
//!
//! What is measured is the client's work with the HTTP calls left out (as in `vault.rs`): the
//! share key, the signed access list, the HPKE grants, the share name for the share and for
//! the admins, opening each item from the Business vault and sealing it under a new item key
//! wrapped with the share key, the manifest set hash and signature, and serialising every
//! request body (`CreateShareRequest`, one `PutObjectRequest` per item). The server's time and
//! the network are not included.

use std::sync::Arc;

use castellan_client::account::{UnlockedAccount, UnlockedVault};
use castellan_client::item::{ItemData, ItemType};
use castellan_client::manifest::{self, Manifest};
use castellan_client::org::keys::{KeyPair, PublicKeys};
use castellan_client::share::{acl, grant, UnlockedShare};
use castellan_client::vault::codec::{self, VaultRef};
use castellan_crypto::{HpkePrivateKey, SetHash, SigningKey, SymmetricKey};
use castellan_types::*;
use criterion::{criterion_group, criterion_main, Criterion};
use uuid::Uuid;

const ITEMS: usize = 1_000;
const MEMBERS: usize = 50;

fn account() -> UnlockedAccount {
    UnlockedAccount {
        user_id: Uuid::new_v4(),
        email: "owner@example.com".into(),
        ak: SymmetricKey::generate(),
        ak_version: 1,
        signing: SigningKey::generate(),
        encryption: HpkePrivateKey::generate(),
        vaults: [VaultKindDto::Personal, VaultKindDto::Business]
            .into_iter()
            .map(|kind| UnlockedVault {
                id: Uuid::new_v4(),
                kind,
                key: SymmetricKey::generate(),
                key_version: 1,
            })
            .collect(),
        shares: Default::default(),
    }
}

fn business_items(acct: &UnlockedAccount) -> Vec<ObjectDto> {
    let vault = &acct.vaults[1];
    (0..ITEMS)
        .map(|i| {
            let mut d = ItemData::new(ItemType::Login, &format!("Service {i}"), 1).unwrap();
            d.set_field("username", &format!("user{i}@customer.example"), 1)
                .unwrap();
            d.set_field("password", &format!("pw-{i}-xxxxxxxxxxxxxxxx"), 1)
                .unwrap();
            d.set_field("url", &format!("https://app{i}.customer.example/"), 1)
                .unwrap();
            d.notes = "some notes that make the details envelope a realistic size".repeat(3);
            let id = Uuid::new_v4();
            let (w, ov, det) =
                codec::seal_item(acct, vault, id, &SymmetricKey::generate(), 1, &d).unwrap();
            ObjectDto {
                id,
                vault_id: vault.id,
                kind: ObjectKindDto::Item,
                version: 1,
                trashed: false,
                key_wrap: w.into(),
                overview: ov.into(),
                details: det.into(),
                created_at: 0,
                updated_at: 0,
                seq: 0,
                author_id: None,
            }
        })
        .collect()
}

struct World {
    acct: UnlockedAccount,
    cid: Uuid,
    company: PublicKeys,
    group_id: Uuid,
    group: PublicKeys,
    /// The 50 members' keys, and a 51st.
    members: Vec<(Uuid, PublicKeys)>,
    newcomer: (Uuid, PublicKeys),
    items: Vec<ObjectDto>,
}

fn user(id: Uuid) -> PrincipalDto {
    PrincipalDto {
        kind: PrincipalKindDto::User,
        id,
    }
}

/// Counts HPKE seals and item re-encryptions of one operation.
#[derive(Default, Debug)]
struct Work {
    grants: usize,
    items_sealed: usize,
}

/// Creates the share: key, list v1 (me owner, the group or each member read-only), grants,
/// names, then every item moved in (opened, sealed under the share key), the manifest, and the
/// request bodies. Returns the share and the amount of work.
fn create_share(w: &World, to_group: bool) -> (Arc<UnlockedShare>, Work, usize) {
    let acct = &w.acct;
    let me = acct.user_id;
    let sid = Uuid::new_v4();
    let key = SymmetricKey::generate();
    let mut entries = vec![AclEntryDto {
        principal: user(me),
        role: ShareRoleDto::Owner,
    }];
    let mut targets: Vec<(PrincipalDto, PublicKeys)> = Vec::new();
    if to_group {
        let p = PrincipalDto {
            kind: PrincipalKindDto::Group,
            id: w.group_id,
        };
        entries.push(AclEntryDto {
            principal: p,
            role: ShareRoleDto::ReadOnly,
        });
        targets.push((p, w.group));
    } else {
        for (u, k) in &w.members {
            entries.push(AclEntryDto {
                principal: user(*u),
                role: ShareRoleDto::ReadOnly,
            });
            targets.push((user(*u), *k));
        }
    }
    let mine = PublicKeys::from_slices(
        &acct.signing.verifying_key().to_bytes(),
        &acct.encryption.public_key().to_bytes(),
    )
    .unwrap();
    targets.insert(0, (user(me), mine));
    let body = ShareAclBody {
        share_id: sid,
        company_id: w.cid,
        version: 1,
        key_version: 1,
        entries,
        expires_at: None,
        issued_at: 0,
        signer: AclSignerDto::Member(me),
    };
    let doc = acl::sign_member(&acct.signing, &body);
    let mut work = Work::default();
    let grants: Vec<ShareGrantDto> = targets
        .iter()
        .map(|(p, k)| {
            work.grants += 1;
            grant::seal_grant(&acct.signing, me, sid, &key, 1, *p, k).unwrap()
        })
        .collect();
    let share = Arc::new(UnlockedShare {
        id: sid,
        company_id: w.cid,
        key,
        key_version: 1,
        owners: acl::owners(&body),
        acl: body,
        acl_doc: doc.clone(),
        name: "Customers".into(),
        state: ShareStateDto::Owned,
        role: ShareRoleDto::Owner,
        my_groups: Vec::new(),
        writers: [(me, acct.signing.verifying_key().to_bytes())]
            .into_iter()
            .collect(),
        fetched: true,
    });
    let empty = SetHash::empty();
    let m0 = Manifest::sign_share(&acct.signing, me, sid, 1, 0, &empty);
    let create = CreateShareRequest {
        share_id: sid,
        company_id: w.cid,
        acl: doc,
        name: Bytes(grant::seal_name(&share.key, w.cid, sid, 1, &share.name).unwrap()),
        name_for_admins: Bytes(
            grant::seal_name_for_admins(&w.company, w.cid, sid, &share.name).unwrap(),
        ),
        grants,
        manifest: ManifestDto {
            vault_id: sid,
            counter: 1,
            manifest: Bytes(m0.to_bytes()),
        },
    };
    let mut bytes = serde_json::to_vec(&create).unwrap().len();
    // The items: opened from the Business vault, sealed into the share, one manifest each.
    let vref = VaultRef::Share(share.clone());
    let mut set = SetHash::empty();
    for (n, o) in w.items.iter().enumerate() {
        let (data, _) = codec::open_details(acct, o).unwrap();
        let nid = Uuid::new_v4();
        let (kw, ov, det) =
            codec::seal_item_in(&vref, me, nid, &SymmetricKey::generate(), 1, &data).unwrap();
        work.items_sealed += 1;
        let dto = ObjectDto {
            id: nid,
            vault_id: sid,
            kind: ObjectKindDto::Item,
            version: 1,
            trashed: false,
            key_wrap: kw.into(),
            overview: ov.into(),
            details: det.into(),
            created_at: 0,
            updated_at: 0,
            seq: 0,
            author_id: Some(me),
        };
        set.add(&manifest::element(&dto)).unwrap();
        let m = Manifest::sign_share(&acct.signing, me, sid, 2 + n as i64, 1 + n as i64, &set);
        let put = PutObjectRequest {
            vault_id: sid,
            kind: ObjectKindDto::Item,
            version: 1,
            expected_version: None,
            trashed: false,
            key_wrap: dto.key_wrap,
            overview: dto.overview,
            details: dto.details,
            manifests: vec![ManifestDto {
                vault_id: sid,
                counter: 2 + n as i64,
                manifest: Bytes(m.to_bytes()),
            }],
        };
        bytes += serde_json::to_vec(&put).unwrap().len();
    }
    (share, work, bytes)
}

/// A 51st user as a direct recipient: list v2 and one grant of the current key; no item is
/// touched.
fn add_user(w: &World, share: &UnlockedShare) -> (Work, usize) {
    let acct = &w.acct;
    let (u, k) = w.newcomer;
    let mut body = share.acl.clone();
    body.version += 1;
    body.entries.push(AclEntryDto {
        principal: user(u),
        role: ShareRoleDto::ReadOnly,
    });
    let doc = acl::sign_member(&acct.signing, &body);
    let g = grant::seal_grant(
        &acct.signing,
        acct.user_id,
        share.id,
        &share.key,
        share.key_version,
        user(u),
        &k,
    )
    .unwrap();
    let req = UpdateAclRequest {
        acl: doc,
        grants: vec![g],
    };
    (
        Work {
            grants: 1,
            items_sealed: 0,
        },
        serde_json::to_vec(&req).unwrap().len(),
    )
}

/// A 51st member of the recipient group: the admin seals the group keys to them (one HPKE
/// seal, in the roster change); the share itself does not change.
fn add_group_member(group: &KeyPair, w: &World) -> Work {
    let (u, k) = w.newcomer;
    group
        .seal_group_grant(&k.encryption, w.group_id, u)
        .unwrap();
    Work {
        grants: 1,
        items_sealed: 0,
    }
}

fn bench(c: &mut Criterion) {
    let acct = account();
    let items = business_items(&acct);
    let group = KeyPair::generate();
    let w = World {
        cid: Uuid::new_v4(),
        company: KeyPair::generate().public(),
        group_id: Uuid::new_v4(),
        group: group.public(),
        members: (0..MEMBERS)
            .map(|_| (Uuid::new_v4(), KeyPair::generate().public()))
            .collect(),
        newcomer: (Uuid::new_v4(), KeyPair::generate().public()),
        items,
        acct,
    };
    let (share, work, bytes) = create_share(&w, true);
    println!(
        "create, to a group of {MEMBERS}: {} grants, {} items sealed, {} KiB of request bodies",
        work.grants,
        work.items_sealed,
        bytes / 1024
    );
    assert_eq!((work.grants, work.items_sealed), (2, ITEMS));
    let (_, work_u, _) = create_share(&w, false);
    println!(
        "create, to {MEMBERS} users: {} grants, {} items sealed",
        work_u.grants, work_u.items_sealed
    );
    assert_eq!(work_u.grants, MEMBERS + 1);
    let (add, add_bytes) = add_user(&w, &share);
    println!(
        "51st member as a user: {} grant, {} items re-encrypted, {} bytes of request",
        add.grants, add.items_sealed, add_bytes
    );
    assert_eq!((add.grants, add.items_sealed), (1, 0));
    let addg = add_group_member(&group, &w);
    println!(
        "51st member of the group: {} group key grant, {} items re-encrypted, share unchanged",
        addg.grants, addg.items_sealed
    );
    assert_eq!((addg.grants, addg.items_sealed), (1, 0));

    let mut g = c.benchmark_group("share_1k_items");
    g.sample_size(10);
    g.bench_function("create_to_group_of_50", |b| {
        b.iter(|| create_share(&w, true))
    });
    g.bench_function("create_to_50_users", |b| b.iter(|| create_share(&w, false)));
    g.bench_function("add_51st_user", |b| b.iter(|| add_user(&w, &share)));
    g.bench_function("add_51st_group_member", |b| {
        b.iter(|| add_group_member(&group, &w))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
