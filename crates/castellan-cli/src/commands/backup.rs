//! `castellan backup`: organisation backup (docs/org-backup.md).

use std::collections::HashMap;

use anyhow::Result;
use castellan_client::backup::{self, KeySource, Restored};
use castellan_client::org::OrgSession;
use castellan_client::ClientError;
use castellan_types::{RestoreTargetDto, VaultKindDto};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::Ctx;
use crate::cli::{BackupCommand, BackupModeArg, RecoveryGroupCommand, RestoreIntoArg};
use crate::output::print_json;
use crate::prompt;

async fn org(ctx: &Ctx) -> Result<OrgSession> {
    let account = ctx.account().await?;
    let s = OrgSession::open(&ctx.home, account).await?;
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    Ok(s)
}

/// The company to act on: `--company` (a customer a partner admin or technician administers),
/// else the caller's own.
async fn company_id(s: &OrgSession, company: Option<&str>) -> Result<Uuid> {
    Ok(match company {
        Some(c) => s.resolve_company(Some(c)).await?.id,
        None => s.my_company()?.id,
    })
}

pub async fn run(ctx: &Ctx, cmd: BackupCommand) -> Result<()> {
    match cmd {
        BackupCommand::Enable {
            mode,
            kit,
            retention_days,
            company,
        } => {
            let s = org(ctx).await?;
            let cid = company_id(&s, company.as_deref()).await?;
            match mode {
                BackupModeArg::OfflineKey => {
                    let current = s.policy(cid).await?;
                    let next = current
                        .policies
                        .org_backup
                        .as_ref()
                        .map_or(0, |p| p.key_version)
                        + 1;
                    let path = kit.unwrap_or_else(|| {
                        format!("castellan-backup-kit-{cid}-v{next}.json").into()
                    });
                    let e = backup::enable_offline(&s, cid, &path, retention_days).await?;
                    if ctx.json {
                        print_json(&json!({
                            "mode": "offline-key", "key_version": e.key_version,
                            "fingerprint": e.fingerprint, "kit": e.kit_path,
                            "words": e.words.as_str(),
                        }));
                    } else {
                        println!(
                            "Organisation backup is on (offline key, version {}).",
                            e.key_version
                        );
                        println!("Backup key fingerprint: {}", e.fingerprint);
                        println!(
                            "Recovery kit written to {} (keep it offline and safe).",
                            e.kit_path.display()
                        );
                        println!("The same key as words (shown once; write them down):");
                        println!("  {}", e.words.as_str());
                        println!(
                            "Backups made before this key stay readable only with the earlier kit."
                        );
                    }
                }
                BackupModeArg::RecoveryGroup => {
                    let e = backup::enable_group(&s, cid, retention_days).await?;
                    if ctx.json {
                        print_json(
                            &json!({"mode": "recovery-group", "key_version": e.key_version,
                            "fingerprint": e.fingerprint, "group_id": e.group_id}),
                        );
                    } else {
                        println!(
                            "Organisation backup is on (Recovery Group, key version {}).",
                            e.key_version
                        );
                        println!("Backup key fingerprint: {}", e.fingerprint);
                        println!("You are the Recovery Group's only member; add others with `castellan backup recovery-group add-member EMAIL`.");
                    }
                }
            }
        }
        BackupCommand::Disable { yes, company } => {
            let s = org(ctx).await?;
            let cid = company_id(&s, company.as_deref()).await?;
            if !yes {
                if !prompt::interactive() {
                    return Err(ClientError::Invalid(
                        "turning backup off deletes every backup of the company: refusing without a terminal; pass --yes".into(),
                    )
                    .into());
                }
                if !prompt::confirm(
                    "Turn organisation backup off and DELETE every backup of the company?",
                )? {
                    anyhow::bail!("cancelled; nothing was changed");
                }
            }
            let n = backup::disable(&s, cid).await?;
            if ctx.json {
                print_json(&json!({"disabled": true, "deleted": n}));
            } else {
                println!("Organisation backup is off; {n} backups deleted.");
            }
        }
        BackupCommand::List { user, company } => {
            let s = org(ctx).await?;
            let cid = company_id(&s, company.as_deref()).await?;
            let mut list = s.api.backups(cid, None).await?;
            if let Some(u) = &user {
                let want = u.trim().to_lowercase();
                list.users.retain(|x| x.email.to_lowercase() == want);
            }
            if ctx.json {
                print_json(&serde_json::to_value(&list)?);
            } else if list.users.is_empty() {
                println!("No backups.");
            } else {
                for u in &list.users {
                    println!("{} ({} backups)", u.email, u.points.len());
                    for p in &u.points {
                        println!(
                            "  {}  {}  key v{}  {} bytes",
                            backup::fmt_time(p.created_at),
                            p.backup_id,
                            p.key_version,
                            p.size
                        );
                    }
                }
            }
        }
        BackupCommand::Restore {
            user,
            at,
            key_file,
            words,
            into,
            output,
            company,
        } => {
            let at = at.map(|a| backup::parse_time(&a)).transpose()?;
            let source = match (key_file, words) {
                (Some(f), _) => KeySource::KitFile(f),
                (None, Some(w)) => KeySource::Words(Zeroizing::new(w)),
                (None, None) => KeySource::Group,
            };
            if into == RestoreIntoArg::File && output.is_none() {
                return Err(ClientError::Invalid("--into file needs --output FILE".into()).into());
            }
            let s = org(ctx).await?;
            let cid = company_id(&s, company.as_deref()).await?;
            let r = backup::restore(&s, cid, &user, at, &source).await?;
            let (target, detail) = match into {
                RestoreIntoArg::Me => {
                    let n = import_into_me(ctx, &r).await?;
                    (
                        RestoreTargetDto::Me,
                        format!("{n} items imported into your Business profile"),
                    )
                }
                RestoreIntoArg::User => {
                    backup::hand_over(&s, cid, &r).await?;
                    (
                        RestoreTargetDto::User,
                        format!("{} items handed over to {}; their client imports them at its next sync", r.payload.items.len(), r.backup.user_email),
                    )
                }
                RestoreIntoArg::File => {
                    let path = output.expect("checked");
                    let pass = match std::env::var("CASTELLAN_EXPORT_PASSPHRASE") {
                        Ok(p) if !p.is_empty() => Zeroizing::new(p),
                        _ => export_passphrase()?,
                    };
                    backup::write_export(&path, &r, &pass)?;
                    (
                        RestoreTargetDto::File,
                        format!(
                            "{} items written to {} (encrypted)",
                            r.payload.items.len(),
                            path.display()
                        ),
                    )
                }
            };
            backup::record_restore(&s, cid, &r, target).await?;
            let group_mode = r.mode == castellan_types::OrgBackupMode::RecoveryGroup;
            if ctx.json {
                print_json(&json!({
                    "user": r.backup.user_email, "backup_id": r.backup.backup_id,
                    "created_at": r.backup.created_at, "key_version": r.backup.key_version,
                    "items": r.payload.items.len(), "into": target,
                }));
            } else {
                println!(
                    "Verified the backup of {} from {} (signed by their certified key).",
                    r.backup.user_email,
                    backup::fmt_time(r.backup.created_at)
                );
                println!("{detail}.");
            }
            if group_mode {
                eprintln!("reminder: if you were added to the Recovery Group only for this restore, remove yourself: `castellan backup recovery-group remove-member {}`", s.account.email);
            }
        }
        BackupCommand::RecoveryGroup(c) => {
            let s = org(ctx).await?;
            let cid = company_id(&s, None).await?;
            match c {
                RecoveryGroupCommand::AddMember { email } => {
                    let uid = backup::add_recovery_member(&s, cid, &email).await?;
                    if ctx.json {
                        print_json(&json!({"added": email, "user_id": uid}));
                    } else {
                        println!("{email} is now a member of the Recovery Group.");
                    }
                }
                RecoveryGroupCommand::RemoveMember { email } => {
                    let e = backup::remove_recovery_member(&s, cid, &email).await?;
                    if ctx.json {
                        print_json(&json!({"removed": email, "key_version": e.key_version,
                            "fingerprint": e.fingerprint, "group_id": e.group_id}));
                    } else {
                        println!("{email} was removed from the Recovery Group; new backup key version {} ({}).", e.key_version, e.fingerprint);
                    }
                }
            }
        }
        BackupCommand::Check { user } => {
            let s = org(ctx).await?;
            let lines = backup::check(&s, user.as_deref()).await;
            let ok = lines.iter().all(|l| l.pass);
            if ctx.json {
                print_json(&json!({"ok": ok, "checks": lines}));
            } else {
                for l in &lines {
                    println!(
                        "{} {}: {}",
                        if l.pass { "pass" } else { "FAIL" },
                        l.check,
                        l.detail
                    );
                }
            }
            if !ok {
                std::process::exit(1);
            }
        }
        BackupCommand::Now => {
            let mut session = ctx.session().await?;
            session.sync().await?;
            let out = backup::write_backup(
                session.home(),
                session.cache(),
                session.api(),
                &session.account,
                true,
            )
            .await?;
            match out {
                backup::WriteOutcome::Written { backup_id, items } => {
                    if ctx.json {
                        print_json(&json!({"backup_id": backup_id, "items": items}));
                    } else {
                        println!("Backup {backup_id} written ({items} Business items).");
                    }
                }
                backup::WriteOutcome::NotDue => println!("Nothing to back up."),
                backup::WriteOutcome::NotEnrolled(why) => {
                    return Err(ClientError::Invalid(format!("no backup written: {why}")).into())
                }
            }
        }
    }
    Ok(())
}

/// Imports a restored payload into my Business profile, under "Restored <email>/…".
async fn import_into_me(ctx: &Ctx, r: &Restored) -> Result<usize> {
    let mut session = ctx.session().await?;
    let mut snap = session.snapshot().await?;
    let root = format!("Restored {}", r.backup.user_email.replace('/', "_"));
    let mut folders: HashMap<Uuid, Uuid> = HashMap::new();
    let root_id = session
        .ensure_folder_path(&mut snap, VaultKindDto::Business, &root)
        .await?;
    for f in &r.payload.folders {
        if let Some(path) = r.payload.folder_path(f.id) {
            let id = session
                .ensure_folder_path(&mut snap, VaultKindDto::Business, &format!("{root}/{path}"))
                .await?;
            folders.insert(f.id, id);
        }
    }
    let items: Vec<_> = r
        .payload
        .items
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i.folder_id = Some(
                i.folder_id
                    .and_then(|f| folders.get(&f).copied())
                    .unwrap_or(root_id),
            );
            i
        })
        .collect();
    session.create_items(VaultKindDto::Business, &items).await?;
    Ok(items.len())
}

/// The export passphrase from a hidden prompt (twice).
fn export_passphrase() -> Result<Zeroizing<String>> {
    if !prompt::interactive() {
        return Err(ClientError::Invalid(
            "no export passphrase: set CASTELLAN_EXPORT_PASSPHRASE or run in a terminal".into(),
        )
        .into());
    }
    let p = Zeroizing::new(rpassword::prompt_password("Export passphrase: ")?);
    let again = Zeroizing::new(rpassword::prompt_password("Repeat export passphrase: ")?);
    if *p != *again {
        anyhow::bail!("the two passphrases differ; nothing was written");
    }
    Ok(p)
}
