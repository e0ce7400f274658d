//! Published test vectors (RFC 5869, RFC 9106, RFC 8032, RFC 6238, NIST GCM, RFC 9180) run
//! through this crate's code paths. The vectors live in `tests/vectors/*.json`.

use castellan_crypto::{
    argon2id, hazmat, hkdf_sha256, hpke_open, HpkePrivateKey, KsfParams, SigningKey, TotpAlgorithm,
    TotpSpec, VerifyingKey,
};
use serde_json::Value;

fn load(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn hx(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))).unwrap()
}

fn arr<const N: usize>(v: &Value, key: &str) -> [u8; N] {
    hx(v, key).try_into().unwrap()
}

#[test]
fn hkdf_sha256_rfc5869() {
    let v = load(include_str!("vectors/hkdf_rfc5869.json"));
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for c in cases {
        let mut okm = vec![0u8; c["l"].as_u64().unwrap() as usize];
        hkdf_sha256(&hx(c, "ikm"), &hx(c, "salt"), &hx(c, "info"), &mut okm);
        assert_eq!(okm, hx(c, "okm"), "{}", c["name"]);
    }
}

fn params(c: &Value) -> KsfParams {
    KsfParams {
        m_kib: c["m_kib"].as_u64().unwrap() as u32,
        t: c["t"].as_u64().unwrap() as u32,
        p: c["p"].as_u64().unwrap() as u32,
    }
}

#[test]
fn argon2id_rfc9106_and_phc() {
    let v = load(include_str!("vectors/argon2.json"));
    let cases = v["cases"].as_array().unwrap();
    // RFC 9106 5.3 uses a secret and associated data, which only the hazmat entry point takes.
    let rfc = &cases[0];
    let mut out = [0u8; 32];
    hazmat::argon2id_with_secret_and_ad(
        &hx(rfc, "password"),
        &hx(rfc, "salt"),
        &hx(rfc, "secret"),
        &hx(rfc, "ad"),
        params(rfc),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.to_vec(), hx(rfc, "tag"));

    // The PHC reference vector goes through the public `argon2id()` (below our floor on
    // purpose: the raw function does not enforce it).
    let phc = &cases[1];
    let mut out = [0u8; 32];
    argon2id(
        &hx(phc, "password"),
        &hx(phc, "salt"),
        params(phc),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.to_vec(), hx(phc, "tag"));
    assert!(params(phc).check_floor().is_err());
}

#[test]
fn ed25519_rfc8032() {
    let v = load(include_str!("vectors/ed25519_rfc8032.json"));
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for c in cases {
        let sk = SigningKey::from_seed(arr(c, "secret_key"));
        let vk = sk.verifying_key();
        assert_eq!(vk.to_bytes().to_vec(), hx(c, "public_key"), "{}", c["name"]);
        let msg = hx(c, "message");
        let sig = hx(c, "signature");
        assert_eq!(sk.sign_raw(&msg).to_vec(), sig, "{}", c["name"]);
        let parsed = VerifyingKey::from_bytes(&hx(c, "public_key")).unwrap();
        parsed.verify_raw(&msg, &sig).unwrap();
        let mut wrong = msg.clone();
        wrong.push(0);
        assert!(parsed.verify_raw(&wrong, &sig).is_err());
    }
}

/// S + L (little-endian) — same signature value mod L, but non-canonical.
fn malleate(sig: &[u8]) -> Vec<u8> {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = sig.to_vec();
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0);
    out
}

#[test]
fn ed25519_negative_cases() {
    let v = load(include_str!("vectors/ed25519_rfc8032.json"));
    let c = &v["cases"][0];
    let vk = VerifyingKey::from_bytes(&hx(c, "public_key")).unwrap();
    let sig = hx(c, "signature");
    // S >= L: rejected by verify_strict even though it is "the same" signature mod L.
    assert!(vk.verify_raw(&[], &malleate(&sig)).is_err());
    // Wrong length.
    assert!(vk.verify_raw(&[], &sig[..63]).is_err());
    assert!(VerifyingKey::from_bytes(&hx(c, "public_key")[..31]).is_err());
    // Small-order public keys: the identity (y = 1), y = -1 (order 2), and an order-8 point.
    for weak in [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ] {
        assert!(
            VerifyingKey::from_bytes(&hex::decode(weak).unwrap()).is_err(),
            "{weak}"
        );
    }
    // Not a curve point at all.
    let mut bad = [0u8; 32];
    bad[0] = 2;
    bad[31] = 0x7f;
    let _ = VerifyingKey::from_bytes(&bad); // must not panic, may or may not decode
}

#[test]
fn totp_rfc6238() {
    let v = load(include_str!("vectors/totp_rfc6238.json"));
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for c in cases {
        let alg = c["algorithm"].as_str().unwrap();
        let seed = v["seeds_base32"][alg].as_str().unwrap();
        let uri =
            format!("otpauth://totp/RFC6238?secret={seed}&algorithm={alg}&digits=8&period=30");
        let spec = TotpSpec::parse(&uri).unwrap();
        let expected_alg = match alg {
            "SHA1" => TotpAlgorithm::Sha1,
            "SHA256" => TotpAlgorithm::Sha256,
            _ => TotpAlgorithm::Sha512,
        };
        assert_eq!(spec.algorithm, expected_alg);
        assert_eq!(
            spec.secret,
            v["seeds_ascii"][alg].as_str().unwrap().as_bytes()
        );
        let t = c["time"].as_u64().unwrap();
        assert_eq!(spec.code_at(t), c["code"].as_str().unwrap(), "{alg} T={t}");
    }
}

#[test]
fn aes256gcm_nist() {
    let v = load(include_str!("vectors/aes256gcm_nist.json"));
    for c in v["cases"].as_array().unwrap() {
        let key = arr::<32>(c, "key");
        let nonce = arr::<12>(c, "nonce");
        let mut expected = hx(c, "ciphertext");
        expected.extend(hx(c, "tag"));
        let ct = hazmat::aes256gcm_seal(&key, &nonce, &hx(c, "aad"), &hx(c, "plaintext")).unwrap();
        assert_eq!(ct, expected);
        let pt = hazmat::aes256gcm_open(&key, &nonce, &hx(c, "aad"), &ct).unwrap();
        assert_eq!(&pt[..], &hx(c, "plaintext")[..]);
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        assert!(hazmat::aes256gcm_open(&key, &nonce, &hx(c, "aad"), &bad).is_err());
    }
    assert!(hazmat::aes256gcm_open(&[0; 32], &[0; 12], b"", &[0; 15]).is_err());
}

#[test]
fn hpke_rfc9180_base_x25519_sha256_aes256gcm() {
    use hpke::{
        aead::AesGcm256, kdf::HkdfSha256, kem::X25519HkdfSha256, Deserializable, Kem, OpModeR,
    };

    let v = load(include_str!("vectors/hpke_rfc9180.json"));
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 1);
    let t = &vectors[0];
    assert_eq!(
        (
            t["mode"].as_u64(),
            t["kem_id"].as_u64(),
            t["kdf_id"].as_u64(),
            t["aead_id"].as_u64()
        ),
        (Some(0), Some(0x20), Some(1), Some(2))
    );

    // Deterministic key derivation (DeriveKeyPair) matches skRm / pkRm.
    let (sk, pk) = hazmat::hpke_derive_keypair(&hx(t, "ikmR"));
    assert_eq!(sk.to_bytes().to_vec(), hx(t, "skRm"));
    assert_eq!(pk.to_bytes().to_vec(), hx(t, "pkRm"));
    let sk = HpkePrivateKey::from_bytes(arr(t, "skRm"));
    assert_eq!(sk.public_key().to_bytes().to_vec(), hx(t, "pkRm"));

    let info = hx(t, "info");
    let enc = hx(t, "enc");
    let encryptions = t["encryptions"].as_array().unwrap();
    assert!(encryptions.len() > 1);

    // Our single-shot open handles sequence number 0.
    let e0 = &encryptions[0];
    let pt = hpke_open(&sk, &enc, &info, &hx(e0, "aad"), &hx(e0, "ct")).unwrap();
    assert_eq!(&pt[..], &hx(e0, "pt")[..]);
    // ... and rejects the sequence-1 ciphertext (different nonce).
    let e1 = &encryptions[1];
    assert!(hpke_open(&sk, &enc, &info, &hx(e1, "aad"), &hx(e1, "ct")).is_err());

    // The full receiver context (same hpke crate, same suite) opens every ciphertext in order
    // and reproduces the exporter values.
    type K = X25519HkdfSha256;
    let skr = <K as Kem>::PrivateKey::from_bytes(&hx(t, "skRm")).unwrap();
    let encapped = <K as Kem>::EncappedKey::from_bytes(&enc).unwrap();
    let mut ctx =
        hpke::setup_receiver::<AesGcm256, HkdfSha256, K>(&OpModeR::Base, &skr, &encapped, &info)
            .unwrap();
    for e in encryptions {
        assert_eq!(ctx.open(&hx(e, "ct"), &hx(e, "aad")).unwrap(), hx(e, "pt"));
    }
    for x in t["exports"].as_array().unwrap() {
        let mut out = vec![0u8; x["L"].as_u64().unwrap() as usize];
        ctx.export(&hx(x, "exporter_context"), &mut out).unwrap();
        assert_eq!(out, hx(x, "exported_value"));
    }
}
