//! OPAQUE end to end. Each client finish runs Argon2id at the floor (64 MiB, t=3, p=4), so the
//! scenarios share one registration.

use castellan_crypto::{
    account_unlock_key, client_login_finish, client_login_start, client_registration_finish,
    client_registration_start, password_input, server_login_finish, server_login_start,
    server_registration_finish, server_registration_start, CryptoError, KsfParams, SecretKey,
    ServerLogin, ServerSetup,
};
use uuid::Uuid;

const CRED_ID: &[u8] = b"user-0001";

fn register(setup: &ServerSetup, pw_in: &[u8]) -> (Vec<u8>, [u8; 64]) {
    let (state, request) = client_registration_start(pw_in).unwrap();
    let response = server_registration_start(setup, &request, CRED_ID).unwrap();
    let (upload, export_key, server_pk) =
        client_registration_finish(state, pw_in, &response, KsfParams::FLOOR).unwrap();
    assert_eq!(server_pk, setup.public_key());
    let file = server_registration_finish(&upload).unwrap();
    (file, export_key.expose_secret().try_into().unwrap())
}

#[test]
fn register_login_wrong_credentials_and_dummy() {
    let setup = ServerSetup::from_bytes(&ServerSetup::generate().to_bytes()).unwrap();
    let sk = SecretKey::generate();
    let pw_in = password_input("correct horse battery staple", &sk);
    let (file, reg_export) = register(&setup, &pw_in);

    // Successful login, with the server state stored as bytes between the two messages.
    let (state, request) = client_login_start(&pw_in).unwrap();
    let (server_state, response) =
        server_login_start(&setup, Some(&file), &request, CRED_ID).unwrap();
    let stored = server_state.to_bytes();
    let server_state = ServerLogin::from_bytes(&stored).unwrap();
    let (fin, client_session, export_key, server_pk) =
        client_login_finish(state, &pw_in, &response, KsfParams::FLOOR).unwrap();
    assert_eq!(export_key.expose_secret(), &reg_export[..]);
    assert_eq!(server_pk, setup.public_key());
    let server_session = server_login_finish(server_state, &fin).unwrap();
    assert_eq!(
        client_session.expose_secret(),
        server_session.expose_secret()
    );
    assert_eq!(
        account_unlock_key(&export_key, Uuid::nil()).expose_secret(),
        account_unlock_key(
            &castellan_crypto::ExportKey::from_bytes(reg_export),
            Uuid::nil()
        )
        .expose_secret()
    );
    let real_response_len = response.len();

    // Wrong password.
    let wrong_pw = password_input("correct horse battery stapler", &sk);
    let (state, request) = client_login_start(&wrong_pw).unwrap();
    let (_, response) = server_login_start(&setup, Some(&file), &request, CRED_ID).unwrap();
    assert!(matches!(
        client_login_finish(state, &wrong_pw, &response, KsfParams::FLOOR),
        Err(CryptoError::Opaque(_))
    ));

    // Wrong Secret Key, right password.
    let wrong_sk = password_input("correct horse battery staple", &SecretKey::generate());
    let (state, request) = client_login_start(&wrong_sk).unwrap();
    let (_, response) = server_login_start(&setup, Some(&file), &request, CRED_ID).unwrap();
    assert!(matches!(
        client_login_finish(state, &wrong_sk, &response, KsfParams::FLOOR),
        Err(CryptoError::Opaque(_))
    ));

    // Unknown user: the dummy record yields a response of exactly the same length. (The
    // client would fail just like with a wrong password; no need to pay for another Argon2id.)
    let (_state, request) = client_login_start(&pw_in).unwrap();
    let (dummy_state, dummy_response) =
        server_login_start(&setup, None, &request, b"nobody").unwrap();
    assert_eq!(dummy_response.len(), real_response_len);
    // A finalization meant for another session does not verify.
    assert!(matches!(
        server_login_finish(dummy_state, &fin),
        Err(CryptoError::Opaque(_))
    ));
}

#[test]
fn weak_or_absurd_ksf_is_refused_before_any_work() {
    let setup = ServerSetup::generate();
    let pw_in = password_input("pw", &SecretKey::generate());
    let weak = KsfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    }; // argon2's own default
    let (state, request) = client_registration_start(&pw_in).unwrap();
    let response = server_registration_start(&setup, &request, CRED_ID).unwrap();
    assert!(matches!(
        client_registration_finish(state, &pw_in, &response, weak),
        Err(CryptoError::WeakKdf(_))
    ));

    let (state, _request) = client_login_start(&pw_in).unwrap();
    // The response is never even parsed: garbage is fine.
    assert!(matches!(
        client_login_finish(state, &pw_in, b"garbage", weak),
        Err(CryptoError::WeakKdf(_))
    ));

    let absurd = KsfParams {
        m_kib: u32::MAX,
        t: 3,
        p: 4,
    };
    let (state, _request) = client_login_start(&pw_in).unwrap();
    assert!(client_login_finish(state, &pw_in, b"garbage", absurd).is_err());
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    let setup = ServerSetup::generate();
    for junk in [&b""[..], b"\x00", &[0xFFu8; 32], &[0u8; 500]] {
        assert!(server_registration_start(&setup, junk, CRED_ID).is_err());
        assert!(server_registration_finish(junk).is_err());
        assert!(server_login_start(&setup, None, junk, CRED_ID).is_err());
        assert!(ServerLogin::from_bytes(junk).is_err());
        assert!(ServerSetup::from_bytes(junk).is_err());
        let (state, _) = client_login_start(b"pw").unwrap();
        assert!(matches!(
            client_login_finish(state, b"pw", junk, KsfParams::FLOOR),
            Err(CryptoError::Opaque(_))
        ));
        let (state, _) = client_registration_start(b"pw").unwrap();
        assert!(matches!(
            client_registration_finish(state, b"pw", junk, KsfParams::FLOOR),
            Err(CryptoError::Opaque(_))
        ));
    }
    // A corrupt password file is reported, not silently replaced by the dummy.
    let (_, request) = client_login_start(b"pw").unwrap();
    assert!(server_login_start(&setup, Some(&[1u8; 10]), &request, CRED_ID).is_err());
    assert_eq!(format!("{setup:?}"), "ServerSetup(<redacted>)");
}
