//! Vectors of the client formats that the crypto golden file does not cover (multiset hash,
//! signed vault manifests, set elements of objects, item overviews), written by the Rust client
//! code for the web app's tests (`web/test/rust-vectors.test.ts`).
//!
//! `web_vectors_are_current` rebuilds `web/test/fixtures/rust_vectors.json` and fails if the file
//! differs. To change it on purpose: `CASTELLAN_UPDATE_WEB_VECTORS=1 cargo test -p
//! castellan-web-assets --test web_vectors`, then review the diff.

use castellan_client::item::{ItemData, ItemType};
use castellan_client::manifest::{element, Manifest};
use castellan_crypto::{SetElement, SetHash, SigningKey};
use castellan_types::{Bytes, ObjectDto, ObjectKindDto};
use serde_json::{json, Value};
use uuid::Uuid;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn build() -> Value {
    // Multiset hash: elements and sums.
    let inputs: Vec<Vec<u8>> = vec![vec![], b"a".to_vec(), (0u8..=99).collect(), vec![0xff; 200]];
    let mut set = SetHash::empty();
    let mut elements = Vec::new();
    for i in &inputs {
        let e = SetElement::of(i);
        set.add(&e).unwrap();
        elements.push(json!({"input": hex(i), "element": hex(&e.to_bytes())}));
    }
    let sum_all = set.to_bytes();
    set.remove(&SetElement::of(&inputs[1])).unwrap();
    let sum_without_second = set.to_bytes();

    // Objects and their set elements.
    let item = ObjectDto {
        id: id(3),
        vault_id: id(2),
        kind: ObjectKindDto::Item,
        version: 7,
        trashed: true,
        key_wrap: Bytes(vec![1, 2, 3]),
        overview: Bytes(vec![4; 100]),
        details: Bytes(vec![5; 300]),
        created_at: 1,
        updated_at: 2,
        seq: 9,
        author_id: None,
    };
    let folder = ObjectDto {
        id: id(4),
        kind: ObjectKindDto::Folder,
        version: 1,
        trashed: false,
        key_wrap: Bytes(vec![]),
        details: Bytes(vec![]),
        ..item.clone()
    };
    let mut objects = Vec::new();
    let mut vault_set = SetHash::empty();
    for o in [&item, &folder] {
        let e = element(o);
        vault_set.add(&e).unwrap();
        objects.push(json!({"object": o, "element": hex(&e.to_bytes())}));
    }

    // A signed manifest over those two objects.
    let seed: [u8; 32] = std::array::from_fn(|i| 0x50 + i as u8);
    let key = SigningKey::from_seed(seed);
    let m = Manifest::sign(&key, id(2), 5, 2, &vault_set);

    // Item overviews as the Rust client computes them, for every type with every field set.
    let mut items = Vec::new();
    for t in ItemType::ALL {
        let mut d = ItemData::new(t, &format!("Title of {}", t.as_str()), 1_700_000_000).unwrap();
        for spec in t.fields() {
            let v = if spec.name == "totp" {
                "JBSWY3DPEHPK3PXP".to_string()
            } else {
                format!("{}-value", spec.name)
            };
            d.set_field(spec.name, &v, 1_700_000_001).unwrap();
        }
        d.set_field("password", "changed-once", 1_700_000_002).ok();
        d.set_field("recovery code", "custom", 1_700_000_003)
            .unwrap();
        d.set_field("api token", "hidden-custom", 1_700_000_003)
            .unwrap();
        d.set_field("tags", "b, a, b", 1_700_000_003).unwrap();
        d.folder_id = Some(id(40));
        items.push(json!({
            "details": serde_json::to_value(&d).unwrap(),
            "overview": serde_json::to_value(d.overview()).unwrap(),
        }));
    }

    json!({
        "format": "castellan-web-vectors-v1",
        "description": "Written by crates/castellan-web-assets/tests/web_vectors.rs from the Rust client code.",
        "sethash": {
            "elements": elements,
            "sum_all": hex(&sum_all),
            "sum_without_second": hex(&sum_without_second),
            "empty": hex(&SetHash::empty().to_bytes()),
        },
        "objects": objects,
        "manifest": {
            "seed": hex(&seed),
            "public_key": hex(&key.verifying_key().to_bytes()),
            "vault_id": id(2),
            "counter": 5,
            "count": 2,
            "set_hash": hex(&vault_set.to_bytes()),
            "blob": String::from_utf8(m.to_bytes()).unwrap(),
        },
        "items": items,
    })
}

#[test]
fn web_vectors_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/test/fixtures/rust_vectors.json");
    let text = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    if std::env::var_os("CASTELLAN_UPDATE_WEB_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "{} is out of date; regenerate it with CASTELLAN_UPDATE_WEB_VECTORS=1 (see the module docs)",
        path.display()
    );
}
