//! Two-step verification over real HTTP: enrolment, the login challenge, one use per time
//! step within ±1 step, recovery codes, rate limiting of wrong codes, and the company policy
//! that requires it (three grace logins, then sessions that may only set it up).

mod common;

use castellan_crypto as crypto;
use castellan_types::*;
use common::*;
use serde_json::json;

const STEP: i64 = 30;

/// The code `steps` time steps away from now.
fn code(spec: &crypto::TotpSpec, steps: i64) -> String {
    spec.code_at((now() + steps * STEP) as u64)
}

/// Waits until the current step has at least 18 seconds left, so that "now ± n steps" means
/// the same steps for the next few requests.
async fn fresh_step() {
    while STEP - now() % STEP < 18 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Enrols and confirms with the current code; returns the TOTP spec and recovery codes.
async fn enable(s: &Srv, token: &str) -> (crypto::TotpSpec, Vec<String>) {
    let r = s.post("/account/2fa/enroll", Some(token), &json!({})).await;
    r.ok();
    let e: TwoFactorEnrollResponse = r.json();
    assert!(e.otpauth_uri.starts_with("otpauth://totp/Castellan%3A"));
    assert!(e.otpauth_uri.contains(&format!("secret={}", e.secret)));
    let spec = crypto::TotpSpec::parse(&e.otpauth_uri).unwrap();
    fresh_step().await;
    let r = s
        .post(
            "/account/2fa/confirm",
            Some(token),
            &TwoFactorCodeRequest {
                code: code(&spec, 0),
            },
        )
        .await;
    r.ok();
    let c: TwoFactorConfirmResponse = r.json();
    assert_eq!(c.recovery_codes.len(), 10);
    (spec, c.recovery_codes)
}

/// Logs in up to the challenge.
async fn challenge(s: &Srv, email: &str) -> String {
    let r = login(s, email, PW).await;
    r.err(401, "two_factor_required");
    r.body["error"]["challenge"].as_str().unwrap().to_string()
}

async fn second_step(s: &Srv, challenge: &str, code: &str) -> Resp {
    s.post(
        "/auth/login/2fa",
        None,
        &TwoFactorLoginRequest {
            challenge: challenge.into(),
            code: code.into(),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_work_once_within_one_step_and_recovery_codes_once() {
    let s = start(Default::default()).await;
    let u = register(&s, "totp@example.com").await;
    // Confirming needs an enrolment, and a right code.
    s.post(
        "/account/2fa/confirm",
        u.t(),
        &TwoFactorCodeRequest {
            code: "123456".into(),
        },
    )
    .await
    .err(409, "invalid_value");
    let (spec, recovery) = enable(&s, &u.token).await;
    s.post("/account/2fa/enroll", u.t(), &json!({}))
        .await
        .err(409, "already_exists");
    let members: AccountResponse = s.get("/account", u.t()).await.json();
    assert_eq!(members.user_id, u.id);

    // The password alone gives no session.
    let ch = challenge(&s, &u.email).await;
    let sessions: SessionListResponse = s.get("/sessions", u.t()).await.json();
    assert_eq!(sessions.sessions.len(), 1);
    // The code used to confirm is spent; two steps ahead is outside the window.
    second_step(&s, &ch, &code(&spec, 0))
        .await
        .err(401, "invalid_two_factor_code");
    second_step(&s, &ch, &code(&spec, 2))
        .await
        .err(401, "invalid_two_factor_code");
    // One step ahead (a clock a little fast) is accepted, once.
    let r = second_step(&s, &ch, &code(&spec, 1)).await;
    r.ok();
    let token = r.body["session_token"].as_str().unwrap().to_string();
    s.get("/me/membership", Some(&token)).await.ok();
    // The challenge is single use.
    second_step(&s, &ch, &code(&spec, 1))
        .await
        .err(401, "login_expired");
    let ch = challenge(&s, &u.email).await;
    second_step(&s, &ch, &code(&spec, 1))
        .await
        .err(401, "invalid_two_factor_code");
    // A step older than the last one used is refused even inside the window.
    second_step(&s, &ch, &code(&spec, -1))
        .await
        .err(401, "invalid_two_factor_code");
    // Recovery codes: any case and separators, once each.
    let r = second_step(&s, &ch, &recovery[0].to_uppercase()).await;
    r.ok();
    let ch = challenge(&s, &u.email).await;
    second_step(&s, &ch, &recovery[0])
        .await
        .err(401, "invalid_two_factor_code");
    second_step(&s, "garbage", &recovery[1])
        .await
        .err(401, "login_expired");

    // Disabling needs a valid code too.
    s.post(
        "/account/2fa/disable",
        Some(&token),
        &TwoFactorCodeRequest {
            code: "000000".into(),
        },
    )
    .await
    .err(403, "invalid_two_factor_code");
    assert_eq!(
        s.post(
            "/account/2fa/disable",
            Some(&token),
            &TwoFactorCodeRequest {
                code: recovery[1].clone(),
            },
        )
        .await
        .status,
        204
    );
    login(&s, &u.email, PW).await.ok();
    s.post(
        "/account/2fa/disable",
        Some(&token),
        &TwoFactorCodeRequest {
            code: recovery[2].clone(),
        },
    )
    .await
    .err(409, "invalid_value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_against_the_login_limit() {
    let mut settings = castellan_server::Settings::default();
    settings.rate_limits.failed_logins_per_account = 3;
    let s = start(settings).await;
    let u = register(&s, "limited@example.com").await;
    let (spec, _) = enable(&s, &u.token).await;
    let ch = challenge(&s, &u.email).await;
    for _ in 0..3 {
        second_step(&s, &ch, "000000")
            .await
            .err(401, "invalid_two_factor_code");
    }
    // Even the right code waits now, and so does a new login.
    second_step(&s, &ch, &code(&spec, 1))
        .await
        .err(429, "rate_limited");
    login(&s, &u.email, PW).await.err(429, "rate_limited");
    // Another account is not affected.
    let other = register(&s, "other@example.com").await;
    s.get("/account", other.t()).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_two_factor_allows_three_grace_logins_then_only_its_setup() {
    let s = start(Default::default()).await;
    let mut boss = quick_user(&s, "boss@msp.example").await;
    let partner = setup_partner(&s, &mut boss, "MSP").await;
    let mut c = create_customer(&s, &partner, &boss, "Acme", PlanDto::Standard, 5).await;
    let admin = quick_user(&s, "admin@acme.example").await;
    add_member(&s, &mut c, &boss, &admin, RoleDto::Admin).await;
    let user = register(&s, "user@acme.example").await;
    add_member(&s, &mut c, &admin, &user, RoleDto::User).await;
    let doc = c.policy(
        &admin,
        PolicySet {
            require_two_factor: true,
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

    for remaining in [2, 1, 0] {
        let r = login(&s, &user.email, PW).await;
        r.ok();
        assert_eq!(
            r.body["two_factor_grace_remaining"], remaining,
            "{}",
            r.body
        );
        assert!(r.body.get("restriction").is_none(), "{}", r.body);
        let t = r.body["session_token"].as_str().unwrap().to_string();
        s.get("/me/membership", Some(&t)).await.ok();
    }
    // The fourth login: a session that may only set up two-step verification.
    let r = login(&s, &user.email, PW).await;
    r.ok();
    assert_eq!(r.body["restriction"], "two_factor_setup");
    assert_eq!(r.body["two_factor_grace_remaining"], 0);
    let t = r.body["session_token"].as_str().unwrap().to_string();
    for path in ["/me/membership", "/sessions", "/objects", "/me/groups"] {
        s.get(path, Some(&t))
            .await
            .err(403, "two_factor_setup_required");
    }
    s.post("/account/2fa/disable", Some(&t), &json!({"code": "1"}))
        .await
        .err(403, "two_factor_setup_required");
    s.get("/account", Some(&t)).await.ok();
    let (spec, recovery) = enable(&s, &t).await;
    // Lifted for this session once it is on.
    s.get("/me/membership", Some(&t)).await.ok();
    let members: MemberListResponse = s
        .get(&format!("/companies/{}/members", c.id), admin.t())
        .await
        .json();
    assert!(members
        .members
        .iter()
        .any(|m| m.user_id == user.id && m.two_factor_enabled));
    // Later logins ask for a code.
    let ch = challenge(&s, &user.email).await;
    let r = second_step(&s, &ch, &code(&spec, 1)).await;
    r.ok();
    assert!(r.body.get("restriction").is_none(), "{}", r.body);
    // Turning it off again does not bring the grace back.
    s.post(
        "/account/2fa/disable",
        Some(&t),
        &TwoFactorCodeRequest {
            code: recovery[0].clone(),
        },
    )
    .await;
    let r = login(&s, &user.email, PW).await;
    r.ok();
    assert_eq!(r.body["restriction"], "two_factor_setup");
    // A restricted session can still log out.
    let t = r.body["session_token"].as_str().unwrap().to_string();
    assert_eq!(
        s.post("/auth/logout", Some(&t), &json!({})).await.status,
        204
    );

    let log: AuditListResponse = s
        .get(
            &format!("/companies/{}/audit?type=two_factor", c.id),
            admin.t(),
        )
        .await
        .json();
    let kinds: Vec<&str> = log.events.iter().map(|e| e.event.as_str()).collect();
    assert!(kinds.contains(&"two_factor.enabled"), "{kinds:?}");
    assert!(kinds.contains(&"two_factor.disabled"), "{kinds:?}");
}
