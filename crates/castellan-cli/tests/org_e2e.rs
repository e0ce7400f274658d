//! The organisation end to end, through the real binary as server and clients: setup token →
//! partner admin → two customers with different subscriptions → invitations (mailed to a real
//! SMTP sink on loopback) → accept → confirm → groups → policies that take effect.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn link_from_mail(msg: &str) -> String {
    let text = unfold_qp(msg);
    let start = text.find("http://").expect("a link in the mail");
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
        .next()
        .unwrap()
        .to_string()
}

fn invite(admin: &Device, email: &str, role: &str, company: &str) -> Value {
    admin.json(&[
        "admin",
        "user",
        "invite",
        email,
        "--role",
        role,
        "--company",
        company,
    ])
}

#[test]
fn setup_customers_invitations_confirmation_groups_and_policies() {
    let sink = SmtpSink::start();
    let server = OrgServer::start(&format!(
        "smtp_url = \"smtp://{}\"\npublic_url = \"http://{}\"",
        sink.addr, "127.0.0.1:1"
    ));

    // The partner admin: a registered account redeems the setup token.
    let mut partner = Device::new();
    partner.register_at(&server.url, "boss@msp.example");
    let p = partner.json(&[
        "admin",
        "setup",
        "--token",
        &server.setup_token,
        "--name",
        "Good MSP",
    ]);
    assert_eq!(p["name"], "Good MSP");
    assert_eq!(p["fingerprint"].as_str().unwrap().split(' ').count(), 8);
    // The token works once.
    let mut other = Device::new();
    other.register_at(&server.url, "other@msp.example");
    let (code, _) = other.fails(&[
        "admin",
        "setup",
        "--token",
        &server.setup_token,
        "--name",
        "Evil MSP",
    ]);
    assert_ne!(code, 0);

    // Two customers with different subscriptions.
    let alpha = partner.json(&[
        "admin", "customer", "create", "--name", "Alpha", "--plan", "standard", "--seats", "5",
    ]);
    partner.json(&[
        "admin", "customer", "create", "--name", "Beta", "--plan", "advanced", "--seats", "2",
    ]);
    let list = partner.json(&["admin", "customer", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Alpha") && names.contains(&"Beta"),
        "{names:?}"
    );
    let show = partner.json(&["admin", "customer", "show", "Alpha"]);
    assert_eq!(show["plan"], "standard");
    assert_eq!(show["id"], alpha["id"]);

    // Policies: a Standard customer cannot turn on Advanced-only policies.
    let (code, msg) = partner.fails(&[
        "admin",
        "policy",
        "set",
        "--company",
        "Alpha",
        "--password-auditing",
        "on",
    ]);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("Advanced"), "{msg}");
    let pol = partner.json(&[
        "admin",
        "policy",
        "set",
        "--company",
        "Alpha",
        "--mp-min-length",
        "20",
        "--mp-require-digits",
        "on",
        "--require-2fa",
        "on",
    ]);
    assert_eq!(pol["policies"]["master_password"]["min_length"], 20);
    let shown = partner.json(&["admin", "policy", "show", "--company", "Alpha"]);
    assert_eq!(shown["counter"], pol["counter"]);
    // Beta (Advanced) may.
    partner.json(&[
        "admin",
        "policy",
        "set",
        "--company",
        "Beta",
        "--password-auditing",
        "on",
    ]);

    // Invite a user to Alpha; the mail with the link arrives at the SMTP sink.
    let inv = invite(&partner, "carol@alpha.example", "user", "Alpha");
    let link = inv["link"].as_str().unwrap().to_string();
    assert!(link.contains("/join#v1."), "{link}");
    if inv["mailed"] == true {
        let mail = sink
            .wait_for("carol@alpha.example", Duration::from_secs(20))
            .expect("the invitation mail arrives");
        let mailed = link_from_mail(&mail);
        assert!(mailed.contains(link.split('#').nth(1).unwrap()), "{mailed}");
    } else {
        panic!("the server did not mail the invitation: {inv}");
    }

    // A master password below the company's policy is refused BEFORE any account exists.
    let mut carol = Device::new();
    carol.password = "only-letters-and-long-enough".into();
    let (code, msg) = carol.fails(&["register", "--invite", &link, "--server", &server.url]);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("policy"), "{msg}");
    assert!(!carol.home.path().join("device.json").exists());
    // A compliant one registers and joins.
    carol.password = "a much longer passphrase 2026".into();
    let j = carol.json(&["register", "--invite", &link, "--server", &server.url]);
    carol.secret_key = Some(j["secret_key"].as_str().unwrap().to_string());
    assert_eq!(j["company"]["company_name"], "Alpha");
    assert_eq!(j["company"]["fingerprint"], alpha["fingerprint"]);
    // The link is single use.
    let mut again = Device::new();
    again.password = "a much longer passphrase 2026".into();
    let (code, _) = again.fails(&["register", "--invite", &link, "--server", &server.url]);
    assert_ne!(code, 0);

    // Confirmation: needs a human (or --yes); shows the member's key fingerprint.
    let (code, _) = partner.fails(&[
        "admin",
        "user",
        "confirm",
        "carol@alpha.example",
        "--company",
        "Alpha",
    ]);
    assert_eq!(code, 1);
    let members = partner.json(&["admin", "user", "list", "--company", "Alpha"]);
    let carol_m = &members.as_array().unwrap()[0];
    assert_eq!(carol_m["status"], "accepted");
    let status = carol.json(&["status"]);
    assert_eq!(carol_m["fingerprint"], status["fingerprint"]);
    let c = partner.json(&[
        "admin",
        "user",
        "confirm",
        "carol@alpha.example",
        "--company",
        "Alpha",
        "--yes",
    ]);
    assert_eq!(c["role"], "user");
    assert_eq!(c["fingerprint"], status["fingerprint"]);
    let members = partner.json(&["admin", "user", "list", "--company", "Alpha"]);
    assert_eq!(members[0]["status"], "confirmed");
    assert_eq!(members[0]["certified"], true);

    // Groups: Everyone has the confirmed member; a new group with a signed roster.
    partner.json(&[
        "admin",
        "group",
        "create",
        "Ops",
        "--member",
        "carol@alpha.example",
        "--company",
        "Alpha",
    ]);
    let groups = partner.json(&["admin", "group", "list", "--company", "Alpha"]);
    let by_name = |n: &str| {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no group {n}: {groups}"))
    };
    assert_eq!(by_name("Everyone")["members"][0], "carol@alpha.example");
    assert_eq!(by_name("Ops")["members"][0], "carol@alpha.example");
    partner.json(&[
        "admin",
        "group",
        "rename",
        "Ops",
        "Operations",
        "--company",
        "Alpha",
    ]);
    partner.json(&[
        "admin",
        "group",
        "remove-member",
        "Operations",
        "carol@alpha.example",
        "--company",
        "Alpha",
    ]);
    let groups = partner.json(&["admin", "group", "list", "--company", "Alpha"]);
    let ops = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Operations")
        .unwrap();
    assert_eq!(ops["members"].as_array().unwrap().len(), 0);
    assert_eq!(ops["version"], 3);

    // Two-step verification is required: three grace logins, then the session is restricted.
    let mut restricted_at = None;
    for n in 1..=5 {
        let out = carol.run(&[
            "login",
            "--server",
            &server.url,
            "--email",
            "carol@alpha.example",
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["restriction"] == "two_factor_setup" {
            restricted_at = Some(n);
            break;
        }
    }
    assert_eq!(
        restricted_at,
        Some(4),
        "blocked after the three grace logins"
    );
    let (code, msg) = carol.fails(&["item", "list"]);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("2fa enable"), "{msg}");

    // Seats: Beta has two; members plus open invitations may not exceed them.
    invite(&partner, "d1@beta.example", "user", "Beta");
    invite(&partner, "d2@beta.example", "admin", "Beta");
    let (code, msg) = partner.fails(&[
        "admin",
        "user",
        "invite",
        "d3@beta.example",
        "--role",
        "user",
        "--company",
        "Beta",
    ]);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("seat"), "{msg}");
    partner.json(&[
        "admin",
        "user",
        "revoke-invite",
        "d1@beta.example",
        "--company",
        "Beta",
    ]);
    let d3 = invite(&partner, "d3@beta.example", "user", "Beta");

    // Password auditing (on for Beta): a member's client reports events on Business items,
    // with the item id only.
    let mut dana = Device::new();
    let j = dana.json(&[
        "register",
        "--invite",
        d3["link"].as_str().unwrap(),
        "--server",
        &server.url,
    ]);
    dana.secret_key = Some(j["secret_key"].as_str().unwrap().to_string());
    partner.json(&[
        "admin",
        "user",
        "confirm",
        "d3@beta.example",
        "--company",
        "Beta",
        "--yes",
    ]);
    let item = dana.json(&[
        "item",
        "add",
        "--profile",
        "business",
        "--title",
        "Router",
        "--password",
        "s3cret!",
    ]);
    dana.ok(&[
        "item",
        "get",
        item["id"].as_str().unwrap(),
        "--field",
        "password",
    ]);
    dana.json(&["item", "add", "--title", "Personal thing"]);
    let events = partner.json(&["admin", "audit", "--company", "Beta", "--type", "item"]);
    let items: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["details"]["item_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        items.contains(&("item.created", item["id"].as_str().unwrap())),
        "{events}"
    );
    assert!(items.iter().any(|(k, _)| *k == "item.viewed"), "{events}");
    assert_eq!(items.len(), 2, "personal items are not reported: {events}");
    assert!(
        !events.to_string().contains("Router"),
        "no titles in the audit log"
    );

    // An admin requires a new master password: a login without a terminal stops with exit 10;
    // with CASTELLAN_NEW_PASSWORD it changes the password right away.
    partner.json(&[
        "admin",
        "user",
        "require-password-change",
        "d3@beta.example",
        "--company",
        "Beta",
    ]);
    let login = [
        "login",
        "--server",
        &server.url,
        "--email",
        "d3@beta.example",
    ];
    let (code, msg) = dana.fails(&login);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("change-password"), "{msg}");
    let out = dana
        .cmd(&[&login[..], &["--json"]].concat())
        .env("CASTELLAN_NEW_PASSWORD", "a brand new passphrase 99")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["password_changed"], true, "{v}");
    assert!(v["restriction"].is_null(), "{v}");
    dana.password = "a brand new passphrase 99".into();
    let v = dana.json(&login);
    assert!(
        v["restriction"].is_null(),
        "the requirement is fulfilled: {v}"
    );
    dana.json(&["item", "list"]);

    // The audit log has the story.
    let events = partner.json(&["admin", "audit", "--company", "Alpha"]);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("member.confirmed")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.starts_with("invitation")),
        "{kinds:?}"
    );
    let csv = partner.ok(&["admin", "audit", "--company", "Alpha", "--format", "csv"]);
    assert!(csv.starts_with("seq,at,time,"), "{csv}");

    // The operator issues a token for a second partner; it sees nothing of the first one.
    let out = std::process::Command::new(bin())
        .args(["server", "setup-token", "--json", "--data-dir"])
        .arg(server.data.path().join("data"))
        .env_remove("CASTELLAN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    other.json(&[
        "admin",
        "setup",
        "--token",
        t["setup_token"].as_str().unwrap(),
        "--name",
        "Other MSP",
    ]);
    let (code, _) = other.fails(&["admin", "customer", "show", alpha["id"].as_str().unwrap()]);
    assert_eq!(
        code, 5,
        "another partner's customer does not exist for them"
    );
    let (code, _) = other.fails(&["admin", "user", "list", "--company", "Alpha"]);
    assert_eq!(code, 5);
}

#[test]
fn two_step_verification_enrolment_and_login() {
    let server = OrgServer::start("");
    let mut u = Device::new();
    u.register_at(&server.url, "totp@example.com");
    let e = u.json(&["2fa", "enable"]);
    assert_eq!(e["enabled"], false);
    let secret = e["secret"].as_str().unwrap().to_string();
    let spec = castellan_crypto::TotpSpec::parse(&secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let done = u.json(&["2fa", "enable", "--code", &spec.code_at(now)]);
    assert_eq!(done["enabled"], true);
    let recovery: Vec<String> = done["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    // A login without a code (no terminal) exits 4; with a wrong code 4; a recovery code works.
    let login = [
        "login",
        "--server",
        &server.url,
        "--email",
        "totp@example.com",
    ];
    let (code, msg) = u.fails(&login);
    assert_eq!(code, 4, "{msg}");
    let mut with = login.to_vec();
    with.extend(["--totp", "000000"]);
    let wrong = if spec.code_at(now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    with[6] = wrong;
    let (code, msg) = u.fails(&with);
    assert_eq!(code, 4, "{msg}");
    with[6] = &recovery[0];
    u.ok(&with);
    // A recovery code works once.
    let (code, _) = u.fails(&with);
    assert_eq!(code, 4);
    let st = u.json(&["2fa", "status"]);
    assert!(st["enabled"] == true || st["enabled"].is_null(), "{st}");
}

/// "Remove business profile items when users are removed": the removed member's Business items
/// are gone from the server and from their device, their Personal items stay, and their device
/// keeps syncing (the emptied Business vault is accepted only because the account is no longer
/// a member of any company). Without the policy, a removed member keeps their items.
#[test]
fn removal_deletes_business_items_only_under_the_policy_and_the_device_keeps_working() {
    let server = OrgServer::start("");
    let company = Company::setup(
        &server,
        "Removals Inc",
        "admin@removals.example",
        &["gone@removals.example", "kept@removals.example"],
    );
    for (email, d) in &company.members {
        d.add(&[
            "--profile",
            "business",
            "--type",
            "login",
            "--title",
            "Company VPN",
            "--username",
            email,
            "--password",
            "vpn-secret",
        ]);
        d.add(&[
            "--profile",
            "personal",
            "--type",
            "login",
            "--title",
            "My bank",
            "--username",
            email,
            "--password",
            "bank-secret",
        ]);
        d.ok(&["sync"]);
    }
    let titles = |d: &Device| -> Vec<(String, String)> {
        let list = d.json(&["item", "list"]);
        let mut v: Vec<(String, String)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["profile"].as_str().unwrap().to_string(),
                    i["title"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };

    // Without the policy the removed member keeps everything.
    company.admin.json(&[
        "admin",
        "user",
        "remove",
        "kept@removals.example",
        "--company",
        "Removals Inc",
        "--yes",
    ]);
    let kept = company.member("kept@removals.example");
    kept.ok(&["sync"]);
    assert_eq!(
        titles(kept),
        vec![
            ("business".to_string(), "Company VPN".to_string()),
            ("personal".to_string(), "My bank".to_string())
        ]
    );

    // With it, the Business items go and the device goes on working.
    company.admin.json(&[
        "admin",
        "policy",
        "set",
        "--company",
        "Removals Inc",
        "--remove-business-items",
        "on",
    ]);
    company.admin.json(&[
        "admin",
        "user",
        "remove",
        "gone@removals.example",
        "--company",
        "Removals Inc",
        "--yes",
    ]);
    let gone = company.member("gone@removals.example");
    gone.ok(&["sync"]);
    assert_eq!(
        titles(gone),
        vec![("personal".to_string(), "My bank".to_string())]
    );
    gone.add(&[
        "--profile",
        "business",
        "--type",
        "secure_note",
        "--title",
        "Fresh start",
    ]);
    gone.ok(&["sync"]);
    assert_eq!(
        titles(gone),
        vec![
            ("business".to_string(), "Fresh start".to_string()),
            ("personal".to_string(), "My bank".to_string())
        ]
    );
}
