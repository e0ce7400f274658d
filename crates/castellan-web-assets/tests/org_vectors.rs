//! Organisation vectors for the web app (`web/test/org-vectors.test.ts`), written by the Rust
//! client code, and the browser's own vectors checked here in the other direction.
//!
//! - `org_vectors_are_current` rebuilds the deterministic part of
//!   `web/test/fixtures/org_vectors.json` (keys, fingerprints, signed documents, an invitation
//!   link, master password checks) and fails if it differs. HPKE grants are randomised, so the
//!   grants in the file are only checked to open (with the known holder keys) to the expected
//!   keys; they are rewritten only with the update switch. To change the file on purpose:
//!   `CASTELLAN_UPDATE_WEB_VECTORS=1 cargo test -p castellan-web-assets --test org_vectors`.
//! - `browser_org_vectors_verify_in_rust` reads `web/test/fixtures/browser_org_vectors.json`
//!   (written by the browser code: `CASTELLAN_UPDATE_BROWSER_VECTORS=1 npx vitest run
//!   test/org-vectors.test.ts`) and checks the browser's grants open and its documents verify
//!   with the Rust client code.

use castellan_client::org::docs::{self, sign};
use castellan_client::org::keys::{fingerprint_b64, fingerprint_display, member_fingerprint};
use castellan_client::org::policy::master_password_problems;
use castellan_client::org::{InviteLink, KeyPair, PublicKeys};
use castellan_client::Secret;
use castellan_crypto::{HpkePrivateKey, SigningKey};
use castellan_types::{
    statement, Bytes, GeneratorPolicy, GroupRosterBody, InvitationBody, MasterPasswordPolicy,
    MemberCertBody, OrgBackupMode, OrgBackupPolicy, PolicyBody, PolicySet, RoleDto, SignedDoc,
};
use serde_json::{json, Value};
use uuid::Uuid;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn seed(base: u8) -> [u8; 32] {
    std::array::from_fn(|i| base.wrapping_add(i as u8))
}

fn keypair(base: u8) -> KeyPair {
    KeyPair {
        signing: SigningKey::from_seed(seed(base)),
        encryption: HpkePrivateKey::from_bytes(seed(base.wrapping_add(0x40))),
    }
}

fn keys_json(k: &KeyPair) -> Value {
    let p = k.public();
    json!({
        "signing_seed": hex(&seed_of(k)),
        "encryption_private": hex(&k.encryption.to_bytes()[..]),
        "signing_public": hex(&p.signing),
        "encryption_public": hex(&p.encryption),
    })
}

fn seed_of(k: &KeyPair) -> [u8; 32] {
    *k.signing.seed()
}

fn doc_json(d: &SignedDoc) -> Value {
    json!({"body": String::from_utf8(d.body.0.clone()).unwrap(), "signature": hex(&d.signature.0)})
}

const COMPANY: u8 = 0x10;
const GROUP: u8 = 0x30;
const HOLDER: u8 = 0x70;

fn full_policy() -> PolicySet {
    PolicySet {
        require_two_factor: true,
        master_password: Some(MasterPasswordPolicy {
            min_length: 14,
            require_uppercase: true,
            require_lowercase: false,
            require_digits: true,
            require_symbols: true,
            max_age_days: Some(90),
        }),
        force_business_domains: vec!["example.com".into(), "acme.test".into()],
        remove_business_items_on_removal: true,
        org_backup: Some(OrgBackupPolicy {
            mode: OrgBackupMode::RecoveryGroup,
            public_key: Bytes(vec![9; 32]),
            key_version: 2,
            recovery_group_id: Some(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0031)),
            retention_days: 90,
        }),
        exclude_business_from_emergency_access: true,
        restrict_portal_access: true,
        restrict_sharing_domains: vec!["example.com".into()],
        password_auditing: true,
        user_change_notifications: vec!["it@example.com".into()],
        disable_personal_export: true,
        max_vault_timeout_minutes: Some(15),
        password_generator: Some(GeneratorPolicy {
            min_length: 20,
            require_uppercase: true,
            require_lowercase: true,
            require_digits: false,
            require_symbols: true,
        }),
    }
}

/// The part of the file that is the same on every run.
fn deterministic() -> Value {
    let company = keypair(COMPANY);
    let group = keypair(GROUP);
    let holder = keypair(HOLDER);
    let cp = company.public();
    let fp = cp.fingerprint();
    let (cid, uid, gid, admin) = (id(1), id(2), id(3), id(4));
    let hp = holder.public();

    let policy_full = sign(
        &company.signing,
        statement::POLICY,
        &PolicyBody {
            company_id: cid,
            counter: 7,
            issued_at: 1_700_000_000,
            issued_by: admin,
            policies: full_policy(),
        },
    );
    let policy_default = sign(
        &company.signing,
        statement::POLICY,
        &PolicyBody {
            company_id: cid,
            counter: 1,
            issued_at: 1_700_000_001,
            issued_by: admin,
            policies: PolicySet::default(),
        },
    );
    let cert = sign(
        &company.signing,
        statement::MEMBER_CERT,
        &MemberCertBody {
            company_id: cid,
            user_id: uid,
            email: "zoë@example.com".into(),
            role: RoleDto::Admin,
            signing_public_key: Bytes(hp.signing.to_vec()),
            encryption_public_key: Bytes(hp.encryption.to_vec()),
            serial: id(5),
            issued_at: 1_700_000_002,
            issued_by: admin,
        },
    );
    let invitation = sign(
        &company.signing,
        statement::INVITATION,
        &InvitationBody {
            company_id: cid,
            invitation_id: id(6),
            email: "new.user@example.com".into(),
            role: RoleDto::User,
            expires_at: 1_700_604_800,
            invited_by: admin,
        },
    );
    let gpub = group.public();
    let roster = sign(
        &company.signing,
        statement::GROUP_ROSTER,
        &GroupRosterBody {
            company_id: cid,
            group_id: gid,
            name: "Ops \"night\" shift\n".into(),
            is_everyone: false,
            version: 3,
            signing_public_key: Bytes(gpub.signing.to_vec()),
            encryption_public_key: Bytes(gpub.encryption.to_vec()),
            members: vec![uid, admin],
        },
    );
    let link = InviteLink {
        server: "https://vault.example.com".into(),
        invitation_id: id(6),
        secret: Secret::new("c2VjcmV0LXNlY3JldA"),
        fingerprint: fp,
    };
    let mp = MasterPasswordPolicy {
        min_length: 12,
        require_uppercase: true,
        require_lowercase: true,
        require_digits: true,
        require_symbols: true,
        max_age_days: None,
    };
    let passwords = [
        "short",
        "alllowercaseletters",
        "Long enough pass 1!",
        "ÉCOLE école 12345 ½",
        "Ω ω 𝟙 ALPHA beta ????",
        "UPPER lower 1234 five",
    ];
    json!({
        "ids": {"company": cid, "user": uid, "group": gid, "admin": admin},
        "company": keys_json(&company),
        "group": keys_json(&group),
        "holder": keys_json(&holder),
        "fingerprint": {
            "raw": hex(&fp),
            "display": fingerprint_display(&fp),
            "b64": fingerprint_b64(&fp),
            "member": hex(&member_fingerprint(&hp.signing, &hp.encryption)),
        },
        "docs": {
            "policy_full": doc_json(&policy_full),
            "policy_default": doc_json(&policy_default),
            "member_cert": doc_json(&cert),
            "invitation": doc_json(&invitation),
            "roster": doc_json(&roster),
        },
        "invite_link": link.to_link().expose(),
        "master_password": {
            "policy": mp,
            "cases": passwords.iter().map(|p| json!({"password": p, "problems": master_password_problems(&mp, p)})).collect::<Vec<_>>(),
        },
    })
}

/// Grants sealed by the Rust code (random each time).
fn grants() -> Value {
    let company = keypair(COMPANY);
    let group = keypair(GROUP);
    let holder = keypair(HOLDER);
    let hp = holder.public();
    let (cid, uid, gid) = (id(1), id(2), id(3));
    json!({
        "company_grant": hex(&company.seal_company_grant(&hp.encryption, cid, uid).unwrap()),
        "group_grant": hex(&group.seal_group_grant(&hp.encryption, gid, uid).unwrap()),
        "group_admin_grant": hex(&group.seal_group_admin_grant(&company.public().encryption, gid, cid).unwrap()),
    })
}

fn path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/test/fixtures")
        .join(name)
}

fn check_grants(g: &Value) {
    let company = keypair(COMPANY);
    let group = keypair(GROUP);
    let holder = keypair(HOLDER);
    let (cid, uid, gid) = (id(1), id(2), id(3));
    let get = |k: &str| unhex(g[k].as_str().unwrap());
    let c = KeyPair::open_company_grant(
        &holder.encryption,
        &get("company_grant"),
        cid,
        uid,
        &company.public(),
    )
    .unwrap();
    assert!(c.public().ct_eq(&company.public()));
    KeyPair::open_group_grant(
        &holder.encryption,
        &get("group_grant"),
        gid,
        uid,
        &group.public(),
    )
    .unwrap();
    KeyPair::open_group_admin_grant(
        &company,
        &get("group_admin_grant"),
        gid,
        cid,
        &group.public(),
    )
    .unwrap();
    // Bound to their ids.
    assert!(KeyPair::open_company_grant(
        &holder.encryption,
        &get("company_grant"),
        uid,
        cid,
        &company.public()
    )
    .is_err());
}

#[test]
fn org_vectors_are_current() {
    let file = path("org_vectors.json");
    let update = std::env::var_os("CASTELLAN_UPDATE_WEB_VECTORS").is_some();
    let mut want = deterministic();
    if update || !file.exists() {
        want["grants"] = grants();
        std::fs::write(&file, serde_json::to_string_pretty(&want).unwrap() + "\n").unwrap();
        return;
    }
    let have: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    check_grants(&have["grants"]);
    let mut have_det = have.clone();
    have_det.as_object_mut().unwrap().remove("grants");
    assert!(
        have_det == want,
        "web/test/fixtures/org_vectors.json is out of date: CASTELLAN_UPDATE_WEB_VECTORS=1 cargo test -p castellan-web-assets --test org_vectors"
    );
}

#[test]
fn browser_org_vectors_verify_in_rust() {
    let file = path("browser_org_vectors.json");
    let Ok(raw) = std::fs::read(&file) else {
        panic!("{} is missing", file.display());
    };
    let v: Value = serde_json::from_slice(&raw).unwrap();
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap().to_string();
    let uuid = |p: &str| s(p).parse::<Uuid>().unwrap();
    let company = KeyPair {
        signing: SigningKey::from_seed(unhex(&s("/company/signing_seed")).try_into().unwrap()),
        encryption: HpkePrivateKey::from_bytes(
            unhex(&s("/company/encryption_private")).try_into().unwrap(),
        ),
    };
    let cp = company.public();
    assert_eq!(hex(&cp.signing), s("/company/signing_public"));
    assert_eq!(hex(&cp.encryption), s("/company/encryption_public"));
    assert_eq!(hex(&cp.fingerprint()), s("/fingerprint"));
    let holder = HpkePrivateKey::from_bytes(unhex(&s("/holder_private")).try_into().unwrap());
    let (cid, uid, gid) = (uuid("/ids/company"), uuid("/ids/user"), uuid("/ids/group"));
    let opened =
        KeyPair::open_company_grant(&holder, &unhex(&s("/company_grant")), cid, uid, &cp).unwrap();
    assert!(opened.public().ct_eq(&cp));
    let group = PublicKeys::from_slices(
        &unhex(&s("/group/signing_public")),
        &unhex(&s("/group/encryption_public")),
    )
    .unwrap();
    KeyPair::open_group_grant(&holder, &unhex(&s("/group_grant")), gid, uid, &group).unwrap();
    KeyPair::open_group_admin_grant(&company, &unhex(&s("/group_admin_grant")), gid, cid, &group)
        .unwrap();
    let doc = |p: &str| SignedDoc {
        body: Bytes(s(&format!("{p}/body")).into_bytes()),
        signature: Bytes(unhex(&s(&format!("{p}/signature")))),
    };
    let policy = docs::verify_policy(&cp, &doc("/policy"), cid).unwrap();
    assert_eq!(policy.policies, full_policy());
    // The browser's bytes are exactly what serde_json writes for the same body.
    assert_eq!(serde_json::to_vec(&policy).unwrap(), doc("/policy").body.0);
    let cert = docs::verify_member_cert(&cp, &doc("/member_cert"), cid, uid).unwrap();
    assert_eq!(
        serde_json::to_vec(&cert).unwrap(),
        doc("/member_cert").body.0
    );
    let inv = docs::verify_invitation(&cp, &doc("/invitation"), cid).unwrap();
    assert_eq!(serde_json::to_vec(&inv).unwrap(), doc("/invitation").body.0);
    let roster = docs::verify_roster(&cp, &doc("/roster"), cid, gid).unwrap();
    assert_eq!(serde_json::to_vec(&roster).unwrap(), doc("/roster").body.0);
    let link = InviteLink::parse(&s("/invite_link")).unwrap();
    assert_eq!(link.fingerprint, cp.fingerprint());
    assert_eq!(link.invitation_id, inv.invitation_id);
}
