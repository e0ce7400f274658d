//! Property tests of SymEnvelope v1.

use castellan_crypto::{
    envelope_obj_type, open, seal, unwrap_key, wrap_key, Context, CryptoError, ObjType,
    SymmetricKey, ENVELOPE_HEADER_LEN, ENVELOPE_MIN_LEN, ENVELOPE_PAD_BLOCK,
};
use proptest::prelude::*;
use uuid::Uuid;

fn ctx(vault: u128, item: u128, version: u64) -> Context {
    Context::item_details(
        Uuid::nil(),
        Uuid::from_u128(vault),
        Uuid::from_u128(item),
        version,
        1,
        Uuid::from_u128(7),
    )
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn aligned(len: usize) -> bool {
    if len < ENVELOPE_MIN_LEN {
        return false;
    }
    let rem = (len - ENVELOPE_HEADER_LEN - 16) % ENVELOPE_PAD_BLOCK;
    rem == 0
}

proptest! {
    #![proptest_config(cfg(64))]

    #[test]
    fn round_trip(key in any::<[u8; 32]>(), kid in any::<u128>(), pt in proptest::collection::vec(any::<u8>(), 0..600),
                  vault in any::<u128>(), item in any::<u128>(), version in any::<u64>()) {
        let k = SymmetricKey::from_bytes(key);
        let c = ctx(vault, item, version);
        let env = seal(&k, Uuid::from_u128(kid), &c, &pt);
        prop_assert_eq!(&open(&k, Uuid::from_u128(kid), &c, &env).unwrap()[..], &pt[..]);
        prop_assert_eq!(envelope_obj_type(&env).unwrap(), ObjType::ItemDetails);
        // Length hides the plaintext length up to 64-byte buckets.
        prop_assert!(aligned(env.len()));
    }

    #[test]
    fn any_single_bit_flip_fails(pt in proptest::collection::vec(any::<u8>(), 0..200), idx in any::<prop::sample::Index>(), bit in 0u8..8) {
        let k = SymmetricKey::from_bytes([3u8; 32]);
        let c = ctx(1, 2, 3);
        let mut env = seal(&k, Uuid::from_u128(9), &c, &pt);
        let i = idx.index(env.len());
        env[i] ^= 1 << bit;
        let err = open(&k, Uuid::from_u128(9), &c, &env).unwrap_err();
        match i {
            0..=3 => prop_assert_eq!(err, CryptoError::Malformed("bad magic")),
            4 => prop_assert!(matches!(err, CryptoError::UnsupportedSuite(_)), "{:?}", err),
            5 => prop_assert!(matches!(err, CryptoError::WrongObjectType { .. }), "{:?}", err),
            6..=21 => prop_assert_eq!(err, CryptoError::WrongKeyId),
            _ => prop_assert_eq!(err, CryptoError::Integrity),
        }
    }

    #[test]
    fn wrong_context_fails(pt in proptest::collection::vec(any::<u8>(), 0..100), which in 0u8..5) {
        let k = SymmetricKey::generate();
        let kid = Uuid::from_u128(1);
        let env = seal(&k, kid, &ctx(10, 20, 30), &pt);
        let other = match which {
            0 => ctx(11, 20, 30),   // vault id
            1 => ctx(10, 21, 30),   // item id
            2 => ctx(10, 20, 31),   // version
            3 => Context::item_details(Uuid::from_u128(1), Uuid::from_u128(10), Uuid::from_u128(20), 30, 1, Uuid::from_u128(7)), // org
            _ => Context::item_overview(Uuid::nil(), Uuid::from_u128(10), Uuid::from_u128(20), 30, 1, Uuid::from_u128(7)), // obj type
        };
        let err = open(&k, kid, &other, &env).unwrap_err();
        if which == 4 {
            prop_assert_eq!(err, CryptoError::WrongObjectType { expected: 5, found: 6 });
        } else {
            prop_assert_eq!(err, CryptoError::Integrity);
        }
    }

    #[test]
    fn wrong_key_fails(k1 in any::<[u8; 32]>(), k2 in any::<[u8; 32]>(), pt in proptest::collection::vec(any::<u8>(), 0..100)) {
        prop_assume!(k1 != k2);
        let c = ctx(1, 2, 3);
        let env = seal(&SymmetricKey::from_bytes(k1), Uuid::nil(), &c, &pt);
        prop_assert_eq!(open(&SymmetricKey::from_bytes(k2), Uuid::nil(), &c, &env).unwrap_err(), CryptoError::Integrity);
    }

    #[test]
    fn truncation_never_panics(pt in proptest::collection::vec(any::<u8>(), 0..300), cut in any::<prop::sample::Index>()) {
        let k = SymmetricKey::from_bytes([5u8; 32]);
        let c = ctx(1, 2, 3);
        let env = seal(&k, Uuid::nil(), &c, &pt);
        let n = cut.index(env.len()); // strictly shorter
        let err = open(&k, Uuid::nil(), &c, &env[..n]).unwrap_err();
        if aligned(n) {
            // Dropping whole 64-byte blocks keeps the shape valid; the tag then fails.
            prop_assert_eq!(err, CryptoError::Integrity);
        } else {
            prop_assert!(matches!(err, CryptoError::Malformed(_)), "{:?}", err);
        }
        prop_assert!(envelope_obj_type(&env[..n]).is_err() || aligned(n));
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let k = SymmetricKey::from_bytes([5u8; 32]);
        prop_assert!(open(&k, Uuid::nil(), &ctx(1, 2, 3), &data).is_err());
        let _ = envelope_obj_type(&data);
    }
}

#[test]
fn key_id_mismatch_is_reported_before_crypto() {
    let k = SymmetricKey::generate();
    let c = ctx(1, 2, 3);
    let env = seal(&k, Uuid::from_u128(1), &c, b"secret");
    // Even with the wrong key the key-id check comes first.
    let wrong = SymmetricKey::generate();
    assert_eq!(
        open(&wrong, Uuid::from_u128(2), &c, &env).unwrap_err(),
        CryptoError::WrongKeyId
    );
    assert_eq!(
        open(&k, Uuid::from_u128(2), &c, &env).unwrap_err(),
        CryptoError::WrongKeyId
    );
}

#[test]
fn suite_byte_changed_is_unsupported() {
    let k = SymmetricKey::generate();
    let c = ctx(1, 2, 3);
    let mut env = seal(&k, Uuid::nil(), &c, b"x");
    env[4] = 0x02;
    assert_eq!(
        open(&k, Uuid::nil(), &c, &env).unwrap_err(),
        CryptoError::UnsupportedSuite(2)
    );
    assert_eq!(
        envelope_obj_type(&env).unwrap_err(),
        CryptoError::UnsupportedSuite(2)
    );
}

#[test]
fn short_inputs_are_malformed() {
    let k = SymmetricKey::generate();
    let c = ctx(1, 2, 3);
    for n in 0..ENVELOPE_MIN_LEN {
        assert!(matches!(
            open(&k, Uuid::nil(), &c, &vec![0u8; n]),
            Err(CryptoError::Malformed(_))
        ));
    }
}

/// Key commitment: an envelope opens under exactly one key. We model the attack surface
/// directly: for the same header (salt, key id, obj type) and ciphertext, a second key would
/// have to reproduce the commitment, which is an HMAC under a key derived from it.
#[test]
fn two_keys_cannot_open_the_same_envelope() {
    let c = ctx(1, 2, 3);
    let k1 = SymmetricKey::generate();
    let env = seal(&k1, Uuid::nil(), &c, b"payload");
    for _ in 0..200 {
        let k2 = SymmetricKey::generate();
        assert_eq!(
            open(&k2, Uuid::nil(), &c, &env).unwrap_err(),
            CryptoError::Integrity
        );
    }
    // Re-using k1's ciphertext with k2's commitment (spliced header) fails at AES-GCM or the
    // commitment, never opens.
    let k2 = SymmetricKey::generate();
    let env2 = castellan_crypto::seal_with_salt(
        &k2,
        Uuid::nil(),
        &c,
        b"payload",
        env[22..46].try_into().unwrap(),
    );
    let mut spliced = env2[..ENVELOPE_HEADER_LEN].to_vec();
    spliced.extend_from_slice(&env[ENVELOPE_HEADER_LEN..]);
    assert!(open(&k1, Uuid::nil(), &c, &spliced).is_err());
    assert!(open(&k2, Uuid::nil(), &c, &spliced).is_err());
}

#[test]
fn wrap_unwrap() {
    let kek = SymmetricKey::generate();
    let key = SymmetricKey::generate();
    let c = Context::vault_key_wrap(Uuid::from_u128(1), Uuid::from_u128(2), 1, "personal");
    let w = wrap_key(&kek, Uuid::from_u128(3), &c, &key);
    assert_eq!(envelope_obj_type(&w).unwrap(), ObjType::VaultKeyWrap);
    let back = unwrap_key(&kek, Uuid::from_u128(3), &c, &w).unwrap();
    assert_eq!(back.expose_secret(), key.expose_secret());
    // A non-key payload under a key-wrap context is refused.
    let not_a_key = seal(&kek, Uuid::from_u128(3), &c, b"short");
    assert!(matches!(
        unwrap_key(&kek, Uuid::from_u128(3), &c, &not_a_key),
        Err(CryptoError::InvalidKey(_))
    ));
    let c2 = Context::vault_key_wrap(Uuid::from_u128(1), Uuid::from_u128(2), 1, "shared");
    assert_eq!(
        unwrap_key(&kek, Uuid::from_u128(3), &c2, &w).unwrap_err(),
        CryptoError::Integrity
    );
}
