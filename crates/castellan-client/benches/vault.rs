//! Client-side costs of a large vault: decrypting and indexing 10,000 items, and searching them.
//! The unlock (Argon2id) cost is measured separately in castellan-crypto's benches.

use castellan_client::account::{UnlockedAccount, UnlockedVault};
use castellan_client::home::SeenVersions;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::vault::codec;
use castellan_crypto::{HpkePrivateKey, SigningKey, SymmetricKey};
use castellan_types::{ObjectDto, ObjectKindDto, VaultKindDto};
use criterion::{criterion_group, criterion_main, Criterion};
use uuid::Uuid;

fn account() -> UnlockedAccount {
    UnlockedAccount {
        user_id: Uuid::new_v4(),
        email: "bench@example.com".into(),
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

fn vault_of(acct: &UnlockedAccount, n: usize) -> Vec<ObjectDto> {
    (0..n)
        .map(|i| {
            let vault = &acct.vaults[i % 2];
            let mut d = ItemData::new(
                ItemType::Login,
                &format!("Service {i} at customer {}", i % 97),
                1,
            )
            .unwrap();
            d.set_field(
                "username",
                &format!("user{i}@customer{}.example", i % 97),
                1,
            )
            .unwrap();
            d.set_field("password", &format!("pw-{i}-xxxxxxxxxxxxxxxx"), 1)
                .unwrap();
            d.set_field(
                "url",
                &format!("https://app{i}.customer{}.example/login", i % 97),
                1,
            )
            .unwrap();
            d.tags = vec![format!("team{}", i % 7)];
            d.notes = "some notes that make the details envelope a realistic size".repeat(3);
            let id = Uuid::new_v4();
            let key = SymmetricKey::generate();
            let (key_wrap, overview, details) =
                codec::seal_item(acct, vault, id, &key, 1, &d).unwrap();
            ObjectDto {
                id,
                vault_id: vault.id,
                kind: ObjectKindDto::Item,
                version: 1,
                trashed: false,
                key_wrap: key_wrap.into(),
                overview: overview.into(),
                details: details.into(),
                created_at: 0,
                updated_at: 0,
                seq: 0,
                author_id: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let acct = account();
    let objects = vault_of(&acct, 10_000);
    let seen = SeenVersions::default();
    let mut g = c.benchmark_group("vault_10k");
    g.sample_size(20);
    g.bench_function("decrypt_and_index", |b| {
        b.iter(|| {
            let snap = codec::decrypt_snapshot(&acct, &seen, &objects).unwrap();
            let idx = snap.index();
            assert_eq!(idx.len(), 10_000);
            idx
        })
    });
    let snap = codec::decrypt_snapshot(&acct, &seen, &objects).unwrap();
    let idx = snap.index();
    g.bench_function("search_substring", |b| {
        b.iter(|| idx.search("customer42 team3"))
    });
    g.bench_function("search_no_match", |b| {
        b.iter(|| idx.search("zzzz-not-there"))
    });
    g.bench_function("open_one_item_details", |b| {
        b.iter(|| codec::open_details(&acct, &objects[1234]).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
