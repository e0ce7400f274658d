//! Golden vectors of Castellan's own formats, for other implementations (the TypeScript
//! client) and to catch accidental format changes.
//!
//! `golden_vectors_are_current` rebuilds `tests/vectors/castellan_golden_v1.json` from fixed
//! inputs and fails if the file differs. To change the format on purpose, run
//! `CASTELLAN_UPDATE_GOLDEN=1 cargo test -p castellan-crypto --test golden` and review the diff.

use castellan_crypto::{
    account_unlock_key, fingerprint, local_unlock_key, open, password_input, seal_with_salt,
    unwrap_key, Context, ExportKey, KsfParams, ObjType, SecretKey, SigningKey, SymmetricKey,
    VerifyingKey,
};
use serde_json::{json, Value};
use uuid::Uuid;

const GOLDEN_FILE: &str = "tests/vectors/castellan_golden_v1.json";

fn golden_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN_FILE)
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn seq<const N: usize>(start: u8) -> [u8; N] {
    let mut a = [0u8; N];
    for (i, b) in a.iter_mut().enumerate() {
        *b = start.wrapping_add(i as u8);
    }
    a
}

/// Rebuilds a [`Context`] from its JSON description with the typed constructors.
fn context_from_json(c: &Value) -> Context {
    let u = |k: &str| Uuid::parse_str(c[k].as_str().unwrap()).unwrap();
    let n = |k: &str| c[k].as_u64().unwrap();
    let s = |k: &str| c[k].as_str().unwrap().to_string();
    match c["constructor"].as_str().unwrap() {
        "account_key_wrap" => Context::account_key_wrap(u("user_id"), n("ak_version")),
        "private_key_wrap" => Context::private_key_wrap(u("user_id"), u("key_id"), &s("purpose")),
        "vault_key_wrap" => Context::vault_key_wrap(
            u("owner_id"),
            u("vault_id"),
            n("vault_key_version"),
            &s("vault_kind"),
        ),
        "item_key_wrap" => Context::item_key_wrap(
            u("org_id"),
            u("vault_id"),
            u("item_id"),
            n("vault_key_version"),
            n("item_key_version"),
        ),
        "item_overview" => Context::item_overview(
            u("org_id"),
            u("vault_id"),
            u("item_id"),
            n("item_version"),
            n("schema_version") as u32,
            u("author_id"),
        ),
        "item_details" => Context::item_details(
            u("org_id"),
            u("vault_id"),
            u("item_id"),
            n("item_version"),
            n("schema_version") as u32,
            u("author_id"),
        ),
        "attachment_chunk" => Context::attachment_chunk(
            u("org_id"),
            u("vault_id"),
            u("item_id"),
            u("attachment_id"),
            n("chunk_index"),
            c["is_final"].as_bool().unwrap(),
        ),
        "local_device_wrap" => Context::local_device_wrap(u("user_id"), u("device_id")),
        "folder_metadata" => Context::folder_metadata(
            u("org_id"),
            u("vault_id"),
            u("folder_id"),
            n("meta_version"),
        ),
        "escrow_check" => Context::escrow_check(u("user_id"), u("escrow_id")),
        "share_metadata" => {
            Context::share_metadata(u("company_id"), u("share_id"), n("key_version"))
        }
        "org_backup" => Context::org_backup(
            u("company_id"),
            u("user_id"),
            u("backup_id"),
            n("key_version"),
        ),
        other => panic!("unknown constructor {other}"),
    }
}

fn context_cases() -> Vec<(Value, Vec<u8>)> {
    let user = id(1);
    let vault = id(2);
    let item = id(3);
    let org = Uuid::nil();
    let key32 = seq::<32>(0xA0).to_vec();
    vec![
        (
            json!({"constructor": "account_key_wrap", "user_id": user, "ak_version": 1}),
            key32.clone(),
        ),
        (
            json!({"constructor": "private_key_wrap", "user_id": user, "key_id": id(10), "purpose": "sig"}),
            key32.clone(),
        ),
        (
            json!({"constructor": "vault_key_wrap", "owner_id": user, "vault_id": vault,
                   "vault_key_version": 1, "vault_kind": "personal"}),
            key32.clone(),
        ),
        (
            json!({"constructor": "item_key_wrap", "org_id": org, "vault_id": vault, "item_id": item,
                   "vault_key_version": 1, "item_key_version": 1}),
            key32.clone(),
        ),
        (
            json!({"constructor": "item_overview", "org_id": org, "vault_id": vault, "item_id": item,
                   "item_version": 4_294_967_301u64, "schema_version": 1, "author_id": user}),
            br#"{"title":"Example login","urls":["https://example.com"]}"#.to_vec(),
        ),
        (
            json!({"constructor": "item_details", "org_id": org, "vault_id": vault, "item_id": item,
                   "item_version": 4_294_967_301u64, "schema_version": 1, "author_id": user}),
            "{\"username\":\"alice\",\"password\":\"p\u{00e4}ssw\u{00f6}rd \u{1F511}\"}"
                .as_bytes()
                .to_vec(),
        ),
        (
            json!({"constructor": "attachment_chunk", "org_id": org, "vault_id": vault, "item_id": item,
                   "attachment_id": id(20), "chunk_index": 0, "is_final": true}),
            (0u8..=199).collect(),
        ),
        (
            json!({"constructor": "local_device_wrap", "user_id": user, "device_id": id(30)}),
            key32.clone(),
        ),
        (
            json!({"constructor": "folder_metadata", "org_id": org, "vault_id": vault, "folder_id": id(40),
                   "meta_version": 2}),
            br#"{"name":"Work"}"#.to_vec(),
        ),
        (
            json!({"constructor": "escrow_check", "user_id": user, "escrow_id": id(50)}),
            Vec::new(),
        ),
        (
            json!({"constructor": "share_metadata", "company_id": id(60), "share_id": id(61),
                   "key_version": 2}),
            br#"{"name":"Team \u00c4 passwords"}"#.to_vec(),
        ),
        (
            json!({"constructor": "org_backup", "company_id": id(70), "user_id": id(71),
                   "backup_id": id(72), "key_version": 3}),
            br#"{"format":1,"items":[],"folders":[]}"#.to_vec(),
        ),
    ]
}

fn build_golden() -> Value {
    let key = SymmetricKey::from_bytes(seq(0x00));
    let key_id = id(100);

    let mut envelopes = Vec::new();
    for (i, (ctx_json, plaintext)) in context_cases().into_iter().enumerate() {
        let ctx = context_from_json(&ctx_json);
        let salt: [u8; 24] = [0x10 + i as u8; 24];
        let env = seal_with_salt(&key, key_id, &ctx, &plaintext, salt);
        envelopes.push(json!({
            "obj_type": ctx.obj_type().as_u8(),
            "key": hex::encode(key.expose_secret()),
            "key_id": key_id,
            "salt": hex::encode(salt),
            "context": ctx_json,
            "ctx_bytes": hex::encode(ctx.bytes()),
            "plaintext": hex::encode(&plaintext),
            "envelope": hex::encode(&env),
        }));
    }

    // Key wrap: wrap_key(kek, id, ctx, k) is seal(kek, id, ctx, k's 32 bytes); pinned salt here.
    let kek = SymmetricKey::from_bytes(seq(0x40));
    let wrapped = SymmetricKey::from_bytes(seq(0x80));
    let wrap_ctx_json = json!({"constructor": "vault_key_wrap", "owner_id": id(1), "vault_id": id(2),
                               "vault_key_version": 3, "vault_kind": "shared"});
    let wrap_ctx = context_from_json(&wrap_ctx_json);
    let wrap_salt = [0xEEu8; 24];
    let wrap_env = seal_with_salt(&kek, id(101), &wrap_ctx, wrapped.expose_secret(), wrap_salt);

    let sk = SecretKey::from_bytes(seq(0xC0));
    let password = "Correct Horse \u{FB01} Battery A\u{030A}";
    let pw_in = password_input(password, &sk);

    let device_salt: [u8; 16] = seq(0x30);
    let luk = local_unlock_key(password, &sk, &device_salt, id(30), KsfParams::FLOOR).unwrap();

    let export_bytes: [u8; 64] = seq(0x01);
    let auk = account_unlock_key(&ExportKey::from_bytes(export_bytes), id(1));

    let signing = SigningKey::from_seed(seq(0x50));
    let body = b"{\"user_id\":\"01900000-0000-7000-8000-000000000001\"}";
    let signature = signing.sign_statement("key-binding", body);
    let vk = signing.verifying_key().to_bytes();

    json!({
        "format": "castellan-golden-v1",
        "description": "Deterministic vectors for Castellan crypto suite v1. All byte strings are lowercase hex; UUIDs are hyphenated and encoded as their 16 raw bytes; integers in contexts are big-endian (u64 except schema_version: u32). Generated by crates/castellan-crypto/tests/golden.rs.",
        "envelopes": envelopes,
        "key_wrap": {
            "kek": hex::encode(kek.expose_secret()),
            "kek_id": id(101),
            "salt": hex::encode(wrap_salt),
            "context": wrap_ctx_json,
            "ctx_bytes": hex::encode(wrap_ctx.bytes()),
            "wrapped_key": hex::encode(wrapped.expose_secret()),
            "envelope": hex::encode(&wrap_env),
        },
        "password_input": {
            "password": password,
            "password_nfkc": "Correct Horse fi Battery \u{00C5}",
            "secret_key": hex::encode(sk.expose_secret()),
            "output": hex::encode(&pw_in[..]),
        },
        "local_unlock_key": {
            "password": password,
            "secret_key": hex::encode(sk.expose_secret()),
            "device_salt": hex::encode(device_salt),
            "device_id": id(30),
            "params": {"m_kib": KsfParams::FLOOR.m_kib, "t": KsfParams::FLOOR.t, "p": KsfParams::FLOOR.p},
            "luk": hex::encode(luk.expose_secret()),
        },
        "account_unlock_key": {
            "export_key": hex::encode(export_bytes),
            "user_id": id(1),
            "auk": hex::encode(auk.expose_secret()),
        },
        "statement_signature": {
            "seed": hex::encode(signing.seed()),
            "public_key": hex::encode(vk),
            "statement_type": "key-binding",
            "body": hex::encode(body),
            "signed_message": hex::encode([&b"castellan/v1/sig/key-binding\0"[..], &body[..]].concat()),
            "signature": hex::encode(signature),
        },
        "fingerprint": {
            "key_type": "ed25519",
            "raw_public_key": hex::encode(vk),
            "fingerprint": hex::encode(fingerprint("ed25519", &vk)),
        },
        "secret_key_text": {
            "bytes": hex::encode(sk.expose_secret()),
            "text": sk.to_display().as_str(),
        },
    })
}

fn read_golden() -> Option<String> {
    std::fs::read_to_string(golden_path()).ok()
}

#[test]
fn golden_vectors_are_current() {
    let fresh = serde_json::to_string_pretty(&build_golden()).unwrap() + "\n";
    let update = std::env::var("CASTELLAN_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    if update {
        std::fs::write(golden_path(), &fresh).unwrap();
        return;
    }
    match read_golden() {
        None => panic!("{GOLDEN_FILE} is missing; generate it with CASTELLAN_UPDATE_GOLDEN=1"),
        Some(existing) => assert!(
            existing == fresh,
            "{GOLDEN_FILE} is out of date: the byte format changed. If intended, rerun with \
             CASTELLAN_UPDATE_GOLDEN=1 and review the diff."
        ),
    }
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn golden_envelopes_open() {
    let Some(text) = read_golden() else {
        panic!("{GOLDEN_FILE} is missing");
    };
    let g: Value = serde_json::from_str(&text).unwrap();
    let envelopes = g["envelopes"].as_array().unwrap();
    let mut seen: Vec<u8> = Vec::new();
    for e in envelopes {
        let key = SymmetricKey::try_from_slice(&hx(&e["key"])).unwrap();
        let key_id = Uuid::parse_str(e["key_id"].as_str().unwrap()).unwrap();
        let ctx = context_from_json(&e["context"]);
        assert_eq!(ctx.bytes(), hx(&e["ctx_bytes"]));
        assert_eq!(
            u64::from(ctx.obj_type().as_u8()),
            e["obj_type"].as_u64().unwrap()
        );
        let env = hx(&e["envelope"]);
        assert_eq!(
            castellan_crypto::envelope_obj_type(&env).unwrap(),
            ctx.obj_type()
        );
        let pt = open(&key, key_id, &ctx, &env).unwrap();
        assert_eq!(&pt[..], &hx(&e["plaintext"])[..]);
        seen.push(ctx.obj_type().as_u8());
    }
    seen.sort_unstable();
    let all: Vec<u8> = ObjType::ALL.iter().map(|t| t.as_u8()).collect();
    assert_eq!(seen, all, "one golden envelope per object type");

    let w = &g["key_wrap"];
    let kek = SymmetricKey::try_from_slice(&hx(&w["kek"])).unwrap();
    let kek_id = Uuid::parse_str(w["kek_id"].as_str().unwrap()).unwrap();
    let ctx = context_from_json(&w["context"]);
    let k = unwrap_key(&kek, kek_id, &ctx, &hx(&w["envelope"])).unwrap();
    assert_eq!(k.expose_secret().to_vec(), hx(&w["wrapped_key"]));

    let s = &g["statement_signature"];
    let vk = VerifyingKey::from_bytes(&hx(&s["public_key"])).unwrap();
    vk.verify_statement(
        s["statement_type"].as_str().unwrap(),
        &hx(&s["body"]),
        &hx(&s["signature"]),
    )
    .unwrap();
    vk.verify_raw(&hx(&s["signed_message"]), &hx(&s["signature"]))
        .unwrap();

    let t = &g["secret_key_text"];
    let sk = SecretKey::parse(t["text"].as_str().unwrap()).unwrap();
    assert_eq!(sk.expose_secret().to_vec(), hx(&t["bytes"]));
}
