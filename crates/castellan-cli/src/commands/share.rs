//! `castellan share ...`

use anyhow::Result;
use castellan_client::share::acl::{parse_role, role_str};
use castellan_client::share::ops::{Recipient, ShareView};
use castellan_client::vault::VaultSession;
use castellan_client::ClientError;
use castellan_types::{ShareRoleDto, ShareStateDto};
use serde_json::json;
use uuid::Uuid;

use super::item::resolve;
use super::Ctx;
use crate::cli::{ShareCommand, ShareRoleArg, ShareWho};
use crate::output::{fmt_time, print_json};

fn role(r: ShareRoleArg) -> ShareRoleDto {
    match r {
        ShareRoleArg::Owner => ShareRoleDto::Owner,
        ShareRoleArg::Editor => ShareRoleDto::Editor,
        ShareRoleArg::ReadOnly => ShareRoleDto::ReadOnly,
        ShareRoleArg::ReadOnlyHidden => ShareRoleDto::ReadOnlyHidden,
    }
}

fn who(w: &ShareWho) -> Result<Recipient> {
    match (&w.user, &w.group) {
        (Some(u), None) => Ok(Recipient::User(u.clone())),
        (None, Some(g)) => Ok(Recipient::Group(g.clone())),
        _ => Err(ClientError::Invalid("give --user EMAIL or --group NAME".into()).into()),
    }
}

/// `NAME[:ROLE]` (role read-only when absent).
fn with_role(spec: &str) -> Result<(String, ShareRoleDto)> {
    match spec.rsplit_once(':') {
        Some((n, r)) if !n.is_empty() => Ok((n.to_string(), parse_role(r)?)),
        _ => Ok((spec.to_string(), ShareRoleDto::ReadOnly)),
    }
}

/// `YYYY-MM-DD` (the end of that day, UTC) or an RFC 3339 time.
pub fn parse_date(s: &str) -> Result<i64> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(s, &fmt) {
        Ok(d) => Ok(d
            .with_hms(23, 59, 59)
            .map_err(|e| ClientError::Invalid(e.to_string()))?
            .assume_utc()
            .unix_timestamp()),
        Err(_) => Err(ClientError::Invalid(format!(
            "not a date: {s:?} (use YYYY-MM-DD or an RFC 3339 time)"
        ))
        .into()),
    }
}

fn state_str(s: ShareStateDto) -> &'static str {
    match s {
        ShareStateDto::Owned => "owned",
        ShareStateDto::Invited => "invited",
        ShareStateDto::Accepted => "accepted",
        ShareStateDto::Declined => "declined",
        ShareStateDto::Admin => "admin",
    }
}

fn view_json(v: &ShareView) -> serde_json::Value {
    json!({
        "id": v.id,
        "name": v.name,
        "state": state_str(v.state),
        "role": v.role.map(role_str),
        "acl_version": v.acl_version,
        "key_version": v.key_version,
        "expires_at": v.expires_at,
        "items": v.object_count,
        "recipients": v.recipients.iter().map(|r| json!({
            "kind": match r.kind { castellan_types::PrincipalKindDto::User => "user", castellan_types::PrincipalKindDto::Group => "group" },
            "id": r.id,
            "name": r.name,
            "role": role_str(r.role),
        })).collect::<Vec<_>>(),
    })
}

async fn item_ids(s: &mut VaultSession, keys: &[String]) -> Result<Vec<Uuid>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let snap = s.snapshot().await?;
    keys.iter()
        .map(|k| resolve(&snap, k).map(|i| i.id))
        .collect()
}

pub async fn run(ctx: &Ctx, cmd: ShareCommand) -> Result<()> {
    let mut s = ctx.session().await?;
    match cmd {
        ShareCommand::Create {
            name,
            items,
            folders,
            to,
            groups,
            expires,
        } => {
            let ids = item_ids(&mut s, &items).await?;
            let mut recipients = Vec::new();
            for t in &to {
                let (n, r) = with_role(t)?;
                recipients.push((Recipient::User(n), r));
            }
            for g in &groups {
                let (n, r) = with_role(g)?;
                recipients.push((Recipient::Group(n), r));
            }
            let expires_at = expires.as_deref().map(parse_date).transpose()?;
            let id = s
                .create_share(&name, &ids, &folders, &recipients, expires_at)
                .await?;
            if ctx.json {
                print_json(&json!({ "id": id, "name": name }));
            } else {
                println!("{id}");
            }
        }
        ShareCommand::List => {
            let list = s.list_shares().await?;
            if ctx.json {
                print_json(&serde_json::Value::Array(
                    list.iter().map(view_json).collect(),
                ));
            } else if list.is_empty() {
                println!("No shares.");
            } else {
                println!(
                    "{:<36}  {:<24}  {:<9}  {:<16}  {:>5}  EXPIRES",
                    "ID", "NAME", "STATE", "ROLE", "ITEMS"
                );
                for v in list {
                    println!(
                        "{:<36}  {:<24}  {:<9}  {:<16}  {:>5}  {}",
                        v.id,
                        v.name.as_deref().unwrap_or("(accept to see the name)"),
                        state_str(v.state),
                        v.role.map(role_str).unwrap_or("-"),
                        v.object_count,
                        v.expires_at.map(fmt_time).unwrap_or_else(|| "never".into())
                    );
                }
            }
        }
        ShareCommand::Show { share } => {
            let v = s.show_share(&share).await?;
            if ctx.json {
                print_json(&view_json(&v));
            } else {
                println!(
                    "{}  ({}, you: {})",
                    v.name.as_deref().unwrap_or("(not accepted)"),
                    state_str(v.state),
                    v.role.map(role_str).unwrap_or("-")
                );
                println!("  id:          {}", v.id);
                println!(
                    "  expires:     {}",
                    v.expires_at.map(fmt_time).unwrap_or_else(|| "never".into())
                );
                println!(
                    "  access list: version {}, key version {}",
                    v.acl_version, v.key_version
                );
                println!("  items:       {}", v.object_count);
                println!("  recipients:");
                for r in &v.recipients {
                    println!("    {:<40}  {}", r.name, role_str(r.role));
                }
            }
        }
        ShareCommand::AddItems {
            share,
            items,
            folders,
        } => {
            if items.is_empty() && folders.is_empty() {
                return Err(
                    ClientError::Invalid("give --item ITEM or --folder PATH".into()).into(),
                );
            }
            let ids = item_ids(&mut s, &items).await?;
            let n = s.share_add_items(&share, &ids, &folders).await?;
            if ctx.json {
                print_json(&json!({ "moved": n }));
            } else {
                println!("Moved {n} item(s) into the share.");
            }
        }
        ShareCommand::RemoveItems { share, items } => {
            let ids = item_ids(&mut s, &items).await?;
            let n = s.share_remove_items(&share, &ids).await?;
            if ctx.json {
                print_json(&json!({ "moved": n }));
            } else {
                println!("Moved {n} item(s) back to your Business profile.");
            }
        }
        ShareCommand::AddRecipient {
            share,
            who: w,
            role: r,
        } => {
            let label = s.share_add_recipient(&share, &who(&w)?, role(r)).await?;
            if ctx.json {
                print_json(&json!({ "added": label, "role": role_str(role(r)) }));
            } else {
                println!("Shared with {label} ({}).", role_str(role(r)));
            }
        }
        ShareCommand::RemoveRecipient { share, who: w } => {
            let r = s.share_remove_recipient(&share, &who(&w)?).await?;
            if ctx.json {
                print_json(&json!({
                    "removed": r.removed,
                    "key_version": r.key_version,
                    "exposed_items": r.exposed_items.iter().map(|(id, t)| json!({"id": id, "title": t})).collect::<Vec<_>>(),
                }));
            } else {
                println!(
                    "Removed {}; the share key was rotated (version {}).",
                    r.removed, r.key_version
                );
                if !r.exposed_items.is_empty() {
                    println!(
                        "They could read these {} item(s); change their passwords:",
                        r.exposed_items.len()
                    );
                    for (id, t) in &r.exposed_items {
                        println!("  {id}  {t}");
                    }
                }
            }
        }
        ShareCommand::SetRole {
            share,
            who: w,
            role: r,
        } => {
            let label = s.share_set_role(&share, &who(&w)?, role(r)).await?;
            if ctx.json {
                print_json(&json!({ "recipient": label, "role": role_str(role(r)) }));
            } else {
                println!("{label} is now {}.", role_str(role(r)));
            }
        }
        ShareCommand::Expire { share, at, never } => {
            let at = if never {
                None
            } else {
                at.as_deref().map(parse_date).transpose()?
            };
            s.share_expire(&share, at).await?;
            if ctx.json {
                print_json(&json!({ "expires_at": at }));
            } else {
                match at {
                    Some(t) => println!("The share expires at {}.", fmt_time(t)),
                    None => println!("The share no longer expires."),
                }
            }
        }
        ShareCommand::Accept { share } => {
            let id = s.share_accept(&share).await?;
            let name = s.account.shares.get(id).map(|x| x.name.clone());
            if ctx.json {
                print_json(&json!({ "id": id, "name": name }));
            } else {
                match name {
                    Some(n) => println!("Accepted: the share is in \"Shared folders/{n}\"."),
                    None => println!("Accepted."),
                }
            }
        }
        ShareCommand::Decline { share } => {
            let id = s.share_decline(&share).await?;
            if ctx.json {
                print_json(&json!({ "id": id, "declined": true }));
            } else {
                println!("Declined.");
            }
        }
        ShareCommand::Rm { share } => {
            let n = s.share_rm(&share).await?;
            if ctx.json {
                print_json(&json!({ "deleted": true, "items_returned": n }));
            } else {
                println!("Deleted the share; {n} item(s) are back in your Business profile.");
            }
        }
    }
    Ok(())
}
