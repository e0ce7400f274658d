//! Mail through a real SMTP exchange with a sink on loopback: the invitation (link and company
//! fingerprint), notices to admins and notification addresses, and a relay that is down.

mod common;

use castellan_types::*;
use common::*;
use serde_json::json;

fn mail_settings(smtp_url: &str) -> castellan_server::Settings {
    castellan_server::Settings {
        smtp_url: Some(smtp_url.to_string()),
        smtp_from: Some("Castellan <noreply@castellan.test>".into()),
        public_url: Some("https://vault.example.com/".into()),
        smtp_timeout_secs: 3,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_member_notices_are_mailed() {
    let (sink, url) = SmtpSink::start().await;
    let s = start(mail_settings(&url)).await;
    let mut boss = quick_user(&s, "boss@msp.example").await;
    let partner = setup_partner(&s, &mut boss, "MSP").await;
    let mut c = create_customer(&s, &partner, &boss, "Acme", PlanDto::Advanced, 5).await;
    let admin = quick_user(&s, "admin@acme.example").await;
    add_member(&s, &mut c, &boss, &admin, RoleDto::Admin).await;
    let doc = c.policy(
        &admin,
        PolicySet {
            user_change_notifications: vec!["HR@acme.example".into()],
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

    let newbie = quick_user(&s, "newbie@acme.example").await;
    let (req, secret) = c.invitation(&admin, &newbie.email, RoleDto::User);
    let r = s
        .post(&format!("/companies/{}/invitations", c.id), admin.t(), &req)
        .await;
    r.ok();
    assert!(r.json::<InvitationCreatedResponse>().mailed);
    let fragment = req.link.split_once('#').unwrap().1.to_string();
    let mail = sink
        .wait_for(
            "newbie@acme.example",
            &format!("https://vault.example.com/join#{fragment}"),
        )
        .await;
    assert!(
        mail.data.contains("Subject: Invitation to join Acme"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains(&c.fingerprint_groups()), "{}", mail.data);
    assert!(
        mail.data.contains("noreply@castellan.test"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("admin@acme.example"), "{}", mail.data);

    // Joining tells the admins and the notification addresses.
    s.post(
        &format!("/invitations/{}/accept", req.invitation_id),
        newbie.t(),
        &InvitationSecretRequest { secret },
    )
    .await
    .ok();
    sink.wait_for("admin@acme.example", "newbie@acme.example joined Acme")
        .await;
    sink.wait_for("hr@acme.example", "newbie@acme.example joined Acme")
        .await;
    confirm(&s, &mut c, &admin, &newbie, RoleDto::User)
        .await
        .ok();
    // So does a removal.
    s.post(
        &format!("/companies/{}/members/{}/remove", c.id, newbie.id),
        admin.t(),
        &json!({}),
    )
    .await;
    sink.wait_for(
        "hr@acme.example",
        "newbie@acme.example was removed from Acme",
    )
    .await;
    sink.wait_for("admin@acme.example", "was removed from Acme")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_is_down_leaves_the_invitation_for_the_admin_to_pass_on() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("smtp://{}", l.local_addr().unwrap());
    drop(l);
    let s = start(mail_settings(&dead)).await;
    let mut boss = quick_user(&s, "boss@msp.example").await;
    let partner = setup_partner(&s, &mut boss, "MSP").await;
    let c = create_customer(&s, &partner, &boss, "Acme", PlanDto::Standard, 5).await;
    let (req, _) = c.invitation(&boss, "x@acme.example", RoleDto::User);
    let r = s
        .post(&format!("/companies/{}/invitations", c.id), boss.t(), &req)
        .await;
    r.ok();
    assert!(!r.json::<InvitationCreatedResponse>().mailed);
    let list: InvitationListResponse = s
        .get(&format!("/companies/{}/invitations", c.id), boss.t())
        .await
        .json();
    assert_eq!(list.invitations.len(), 1);
    assert_eq!(list.invitations[0].state, InvitationStateDto::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_mail_settings_stop_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = castellan_store_sqlite::SqliteStore::open(&dir.path().join("db.sqlite3"))
        .await
        .unwrap();
    for (url, from) in [
        ("ftp://relay.example:21", None),
        ("smtp://u:hunter2@relay.example:25", Some("not an address")),
    ] {
        let settings = castellan_server::Settings {
            smtp_url: Some(url.into()),
            smtp_from: from.map(String::from),
            ..Default::default()
        };
        let Err(err) = castellan_server::app(store.clone(), settings).await else {
            panic!("{url}: the settings were accepted");
        };
        let text = err.to_string();
        assert!(text.starts_with("invalid mail settings"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
