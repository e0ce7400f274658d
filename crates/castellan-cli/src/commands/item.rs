//! `castellan item ...`, `castellan trash ...`, `castellan totp`.

use anyhow::{bail, Result};
use castellan_client::item::{FieldKind, ItemData, ItemType};
use castellan_client::vault::{now, ItemEntry, Snapshot, SyncStatus, VaultSession};
use castellan_client::ClientError;
use castellan_crypto::{generate_password, PasswordPolicy, TotpSpec};
use castellan_types::ItemEventKind;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{profile, Ctx};
use crate::cli::{ItemCommand, ItemFieldArgs, TrashCommand};
use crate::output::{fmt_time, print_json};

/// Finds one item by full id, unique id prefix (4+ characters) or exact title.
pub fn resolve<'a>(snap: &'a Snapshot, key: &str) -> Result<&'a ItemEntry> {
    let key = key.trim();
    if let Ok(id) = key.parse::<Uuid>() {
        return snap
            .items
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| ClientError::NotFound(format!("no item with id {id}")).into());
    }
    let by_prefix: Vec<&ItemEntry> = if key.len() >= 4 {
        snap.items
            .iter()
            .filter(|i| i.id.to_string().starts_with(&key.to_lowercase()))
            .collect()
    } else {
        Vec::new()
    };
    let candidates = if by_prefix.is_empty() {
        snap.items
            .iter()
            .filter(|i| i.overview.title == key)
            .collect()
    } else {
        by_prefix
    };
    match candidates.len() {
        1 => Ok(candidates[0]),
        0 => Err(ClientError::NotFound(format!("no item matches {key:?}")).into()),
        n => Err(ClientError::Invalid(format!("{n} items match {key:?}; use the full id")).into()),
    }
}

fn apply_fields(data: &mut ItemData, f: &ItemFieldArgs, ts: i64) -> Result<()> {
    if let Some(u) = &f.username {
        set_typed(data, &["username", "email", "cardholder", "ssid"], u, ts)?;
    }
    let password = if f.generate {
        Some(generate_password(&PasswordPolicy::default())?.to_string())
    } else {
        f.password.clone()
    };
    if let Some(p) = password {
        data.set_field("password", &p, ts)?;
    }
    if let Some(u) = &f.url {
        data.set_field("url", u, ts)?;
    }
    if let Some(t) = &f.totp {
        if data.item_type.field("totp").is_none() {
            bail!(ClientError::Invalid(format!(
                "{} items have no one-time code field",
                data.item_type.as_str()
            )));
        }
        data.set_field("totp", t, ts)?;
    }
    if let Some(n) = &f.notes {
        data.set_notes(n)?;
    }
    for kv in &f.fields {
        let Some((k, v)) = kv.split_once('=') else {
            bail!(ClientError::Invalid(format!(
                "--field expects NAME=VALUE, got {kv:?}"
            )));
        };
        data.set_field(k, v, ts)?;
    }
    if !f.tags.is_empty() {
        let mut tags = data.tags.clone();
        tags.extend(
            f.tags
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
        tags.sort();
        tags.dedup();
        data.tags = tags;
    }
    Ok(())
}

/// `--username` lands in the type's user field (username, email, cardholder, ssid).
fn set_typed(data: &mut ItemData, names: &[&str], value: &str, ts: i64) -> Result<()> {
    let name = names
        .iter()
        .find(|n| data.item_type.field(n).is_some())
        .copied()
        .unwrap_or("username");
    Ok(data.set_field(name, value, ts)?)
}

type Statuses = std::collections::HashMap<Uuid, SyncStatus>;

fn status_of(st: &Statuses, id: Uuid) -> SyncStatus {
    st.get(&id).copied().unwrap_or(SyncStatus::Synced)
}

/// A coloured dot on a terminal (green, yellow, red) followed by the status name.
fn status_cell(s: SyncStatus) -> String {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return s.as_str().to_string();
    }
    let colour = match s {
        SyncStatus::Synced => 32,
        SyncStatus::Pending => 33,
        SyncStatus::Offline => 31,
    };
    format!("\x1b[{colour}m●\x1b[0m {}", s.as_str())
}

/// "shared" for items of a share, else the profile.
fn profile_label(i: &ItemEntry) -> &'static str {
    if i.share_id.is_some() {
        "shared"
    } else {
        i.profile.as_str()
    }
}

fn entry_json(snap: &Snapshot, st: &Statuses, i: &ItemEntry) -> Value {
    let share = snap.share_of(i.share_id);
    json!({
        "id": i.id,
        "profile": profile_label(i),
        "share_id": i.share_id,
        "share": share.map(|s| s.name.clone()),
        "share_role": share.map(|s| s.role_str()),
        "type": i.overview.item_type.as_str(),
        "title": i.overview.title,
        "username": i.overview.username,
        "urls": i.overview.urls,
        "tags": i.overview.tags,
        "favorite": i.overview.favorite,
        "folder": snap.item_folder(i),
        "folder_id": i.overview.folder_id,
        "trashed": i.trashed,
        "version": i.version,
        "updated_at": i.overview.updated_at,
        "sync_status": status_of(st, i.id).as_str(),
    })
}

/// Whether the item is in a share whose role hides passwords and hidden fields from me.
fn hides_secrets(snap: Option<&Snapshot>, e: &ItemEntry) -> bool {
    e.share_id.is_some()
        && snap
            .and_then(|s| s.share_of(e.share_id))
            .is_none_or(|s| s.hides_secrets())
}

/// A copy of the item without secret and hidden fields (read-only-hidden shares).
fn redacted(d: &ItemData) -> ItemData {
    let mut d = d.clone();
    let secret: Vec<String> = d
        .item_type
        .fields()
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Secret | FieldKind::Totp))
        .map(|f| f.name.to_string())
        .collect();
    for k in secret {
        if d.fields.contains_key(&k) {
            d.fields.insert(k, "(hidden)".into());
        }
    }
    for c in d.custom_fields.iter_mut().filter(|c| c.hidden) {
        c.value = "(hidden)".into();
    }
    d.password_history.clear();
    d
}

fn item_json(snap: Option<&Snapshot>, e: &ItemEntry, d: &ItemData) -> Value {
    let hidden;
    let d = if hides_secrets(snap, e) {
        hidden = redacted(d);
        &hidden
    } else {
        d
    };
    let mut m = Map::new();
    // Type fields first, so the fixed keys below always win over a same-named field.
    for (k, v) in &d.fields {
        m.insert(k.clone(), json!(v));
    }
    m.insert("id".into(), json!(e.id));
    m.insert("profile".into(), json!(profile_label(e)));
    if let Some(sh) = snap.and_then(|s| s.share_of(e.share_id)) {
        m.insert("share".into(), json!(sh.name));
        m.insert("share_role".into(), json!(sh.role_str()));
    }
    m.insert("type".into(), json!(d.item_type.as_str()));
    m.insert("title".into(), json!(d.title));
    m.insert("fields".into(), json!(d.fields));
    m.insert("custom_fields".into(), json!(d.custom_fields));
    m.insert("notes".into(), json!(d.notes));
    m.insert("tags".into(), json!(d.tags));
    m.insert("favorite".into(), json!(d.favorite));
    m.insert("folder".into(), json!(snap.and_then(|s| s.item_folder(e))));
    m.insert("folder_id".into(), json!(d.folder_id));
    m.insert("trashed".into(), json!(e.trashed));
    m.insert("version".into(), json!(e.version));
    m.insert("created_at".into(), json!(d.created_at));
    m.insert("updated_at".into(), json!(d.updated_at));
    m.insert(
        "password_history_count".into(),
        json!(d.password_history.len()),
    );
    Value::Object(m)
}

fn print_item_text(snap: &Snapshot, e: &ItemEntry, d: &ItemData, reveal: bool) {
    let hidden = hides_secrets(Some(snap), e);
    let reveal = reveal && !hidden;
    match snap.share_of(e.share_id) {
        Some(sh) => println!(
            "{}  ({}, shared as {}{})",
            d.title,
            d.item_type.as_str(),
            sh.role_str(),
            if e.trashed { ", in trash" } else { "" }
        ),
        None => println!(
            "{}  ({}, {} profile{})",
            d.title,
            d.item_type.as_str(),
            e.profile.as_str(),
            if e.trashed { ", in trash" } else { "" }
        ),
    }
    println!("  id:        {}", e.id);
    if let Some(f) = snap.item_folder(e) {
        println!("  folder:    {f}");
    }
    for spec in d.item_type.fields() {
        if let Some(v) = d.fields.get(spec.name) {
            let hidden = matches!(spec.kind, FieldKind::Secret | FieldKind::Totp);
            let shown = if hidden && !reveal {
                "••••••••".to_string()
            } else {
                v.clone()
            };
            println!("  {:<10} {}", format!("{}:", spec.name), shown);
        }
    }
    for c in &d.custom_fields {
        let shown = if c.hidden && !reveal {
            "••••••••".to_string()
        } else {
            c.value.clone()
        };
        println!("  {:<10} {}", format!("{}:", c.name), shown);
    }
    if !d.tags.is_empty() {
        println!("  tags:      {}", d.tags.join(", "));
    }
    if !d.notes.is_empty() {
        println!("  notes:     {}", d.notes.replace('\n', "\n             "));
    }
}

async fn snapshot_and_resolve(s: &mut VaultSession, key: &str) -> Result<(Snapshot, Uuid)> {
    let snap = s.snapshot().await?;
    let id = resolve(&snap, key)?.id;
    Ok((snap, id))
}

pub async fn run(ctx: &Ctx, cmd: ItemCommand) -> Result<()> {
    let mut s = ctx.session().await?;
    match cmd {
        ItemCommand::Add {
            profile: p,
            item_type,
            title,
            folder,
            favorite,
            fields,
        } => {
            let t = ItemType::parse(&item_type)?;
            let ts = now();
            let mut data = ItemData::new(t, &title, ts)?;
            apply_fields(&mut data, &fields, ts)?;
            data.password_history.clear();
            data.favorite = favorite;
            if let Some(path) = &folder {
                let mut snap = s.snapshot().await?;
                data.folder_id = Some(s.ensure_folder_path(&mut snap, profile(p), path).await?);
            }
            let id = s.create_item(profile(p), &data).await?;
            offline_note(ctx, &s);
            audit(ctx, profile(p), id, ItemEventKind::Created, None).await;
            if ctx.json {
                print_json(&json!({ "id": id }));
            } else {
                println!("{id}");
            }
        }
        ItemCommand::List {
            profile: p,
            folder,
            recursive,
            search,
            item_type,
            favorites,
        } => {
            let snap = s.snapshot().await?;
            let statuses = s.statuses().await?;
            let want_type = item_type.as_deref().map(ItemType::parse).transpose()?;
            let shared_filter = match &folder {
                Some(path) => snap.find_shared(path)?,
                None => None,
            };
            let folder_ids = match &folder {
                Some(_) if shared_filter.is_some() => None,
                Some(path) => {
                    let mut ids = std::collections::HashSet::new();
                    let profiles = match p {
                        Some(p) => vec![profile(p)],
                        None => vec![
                            castellan_types::VaultKindDto::Personal,
                            castellan_types::VaultKindDto::Business,
                        ],
                    };
                    for pr in profiles {
                        if let Some(f) = snap.find_folder(pr, path)? {
                            if recursive {
                                ids.extend(snap.subtree(f.id))
                            } else {
                                ids.insert(f.id);
                            }
                        }
                    }
                    if ids.is_empty() {
                        bail!(ClientError::NotFound(format!("no folder {path:?}")));
                    }
                    Some(ids)
                }
                None => None,
            };
            let matches: Option<std::collections::HashSet<Uuid>> = search
                .as_deref()
                .map(|q| snap.index().search(q).into_iter().collect());
            let mut items: Vec<&ItemEntry> = snap
                .items
                .iter()
                .filter(|i| !i.trashed)
                .filter(|i| p.is_none_or(|p| i.share_id.is_none() && i.profile == profile(p)))
                .filter(|i| want_type.is_none_or(|t| i.overview.item_type == t))
                .filter(|i| !favorites || i.overview.favorite)
                .filter(|i| {
                    folder_ids
                        .as_ref()
                        .is_none_or(|ids| i.overview.folder_id.is_some_and(|f| ids.contains(&f)))
                })
                .filter(|i| matches.as_ref().is_none_or(|m| m.contains(&i.id)))
                .filter(|i| match shared_filter {
                    None => true,
                    Some((sid, None)) => i.share_id == Some(sid),
                    Some((sid, Some(f))) => {
                        i.share_id == Some(sid)
                            && i.overview.folder_id.is_some_and(|x| {
                                if recursive {
                                    snap.subtree(f).contains(&x)
                                } else {
                                    x == f
                                }
                            })
                    }
                })
                .collect();
            items.sort_by(|a, b| {
                (a.profile.as_str(), a.overview.title.to_lowercase())
                    .cmp(&(b.profile.as_str(), b.overview.title.to_lowercase()))
            });
            if ctx.json {
                print_json(&Value::Array(
                    items
                        .iter()
                        .map(|i| entry_json(&snap, &statuses, i))
                        .collect(),
                ));
            } else if items.is_empty() {
                println!("No items.");
            } else {
                println!(
                    "{:<36}  {:<8}  {:<16}  {:<30}  {:<24}  {:<20}  SYNC",
                    "ID", "PROFILE", "TYPE", "TITLE", "USERNAME", "FOLDER"
                );
                for i in items {
                    let folder = snap.item_folder(i).unwrap_or_default();
                    let prof = match snap.share_of(i.share_id) {
                        Some(sh) => sh.role_str(),
                        None => i.profile.as_str(),
                    };
                    println!(
                        "{:<36}  {:<8}  {:<16}  {:<30}  {:<24}  {:<20}  {}",
                        i.id,
                        prof,
                        i.overview.item_type.as_str(),
                        clip(&i.overview.title, 30),
                        clip(&i.overview.username, 24),
                        clip(&folder, 20),
                        status_cell(status_of(&statuses, i.id))
                    );
                }
            }
        }
        ItemCommand::Get {
            item,
            field,
            reveal,
        } => {
            let (snap, id) = snapshot_and_resolve(&mut s, &item).await?;
            let (entry, data) = s.get_item(id).await?;
            if hides_secrets(Some(&snap), &entry) {
                let secret_field = field.as_deref().is_some_and(|name| {
                    data.item_type
                        .field(name)
                        .is_some_and(|f| matches!(f.kind, FieldKind::Secret | FieldKind::Totp))
                        || data
                            .custom_fields
                            .iter()
                            .any(|c| c.name == name && c.hidden)
                });
                if secret_field || (reveal && field.is_none()) {
                    bail!(castellan_client::share::ops::forbidden(
                        "this item is shared with you read-only with passwords hidden: its passwords and hidden fields are not shown or copied"
                    ));
                }
            }
            let shown = match &field {
                Some(name) => Some(Some(name.as_str())),
                None if ctx.json || reveal => Some(None),
                None => None,
            };
            if let Some(f) = shown {
                audit(ctx, entry.profile, id, ItemEventKind::Viewed, f).await;
            }
            if let Some(name) = field {
                let v = data.field(&name).ok_or_else(|| {
                    ClientError::NotFound(format!("the item has no field {name:?}"))
                })?;
                if ctx.json {
                    print_json(&json!({ "name": name, "value": v }));
                } else {
                    println!("{v}");
                }
            } else if ctx.json {
                print_json(&item_json(Some(&snap), &entry, &data));
            } else {
                print_item_text(&snap, &entry, &data, reveal);
            }
        }
        ItemCommand::Edit {
            item,
            title,
            favorite,
            fields,
        } => {
            let (snap, id) = snapshot_and_resolve(&mut s, &item).await?;
            let item_profile = resolve(&snap, &id.to_string())?.profile;
            let ts = now();
            let (data, version) = s
                .update_item(id, None, None, |d| {
                    if let Some(t) = &title {
                        d.set_title(t)?;
                    }
                    if let Some(f) = favorite {
                        d.favorite = f;
                    }
                    apply_fields(d, &fields, ts).map_err(|e| match e.downcast::<ClientError>() {
                        Ok(c) => c,
                        Err(e) => ClientError::Invalid(e.to_string()),
                    })
                })
                .await?;
            audit(ctx, item_profile, id, ItemEventKind::Changed, None).await;
            done(ctx, &s, id, version, &format!("Updated {}.", data.title));
        }
        ItemCommand::Mv {
            item,
            folder,
            no_folder,
            profile: p,
        } => {
            let (mut snap, id) = snapshot_and_resolve(&mut s, &item).await?;
            let current = resolve(&snap, &id.to_string())?.clone();
            let target_profile = p.map(profile).unwrap_or(current.profile);
            let new_folder = match (&folder, no_folder) {
                (Some(path), _) => Some(Some(
                    s.ensure_folder_path(&mut snap, target_profile, path)
                        .await?,
                )),
                (None, true) => Some(None),
                // Folders belong to a profile: moving to another profile leaves the folder.
                (None, false) if target_profile != current.profile => Some(None),
                (None, false) => None,
            };
            let to = if target_profile != current.profile {
                Some(target_profile)
            } else {
                None
            };
            let (_, version) = s
                .update_item(id, to, None, |d| {
                    if let Some(f) = new_folder {
                        d.folder_id = f;
                    }
                    Ok(())
                })
                .await?;
            done(ctx, &s, id, version, "Moved.");
        }
        ItemCommand::Rm { item, purge } => {
            let (snap, id) = snapshot_and_resolve(&mut s, &item).await?;
            let item_profile = resolve(&snap, &id.to_string())?.profile;
            audit(ctx, item_profile, id, ItemEventKind::Deleted, None).await;
            if purge {
                s.purge_item(id, true).await?;
                if ctx.json {
                    print_json(&json!({ "id": id, "deleted": true }));
                } else {
                    println!("Deleted for good.");
                }
            } else {
                let (_, version) = s.update_item(id, None, Some(true), |_| Ok(())).await?;
                done(
                    ctx,
                    &s,
                    id,
                    version,
                    "Moved to the trash (restore with `castellan item restore`).",
                );
            }
        }
        ItemCommand::Restore { item } => restore(ctx, &mut s, &item).await?,
        ItemCommand::History { item } => {
            let (snap, id) = snapshot_and_resolve(&mut s, &item).await?;
            let (entry, data) = s.get_item(id).await?;
            refuse_hidden(&snap, &entry)?;
            if ctx.json {
                print_json(&json!(data.password_history));
            } else if data.password_history.is_empty() {
                println!("No earlier passwords.");
            } else {
                for h in &data.password_history {
                    println!(
                        "{}  {:<10} {}",
                        fmt_time(h.replaced_at),
                        h.field,
                        h.password
                    );
                }
            }
        }
    }
    Ok(())
}

/// Tells a person (not a script) that a change was kept locally for later.
fn offline_note(ctx: &Ctx, s: &VaultSession) {
    if !ctx.json && s.last_sync.as_ref().is_some_and(|r| r.offline) {
        eprintln!("note: the server is unreachable; the change is saved on this device and will sync when it is back");
    }
}

fn done(ctx: &Ctx, s: &VaultSession, id: Uuid, version: i64, text: &str) {
    offline_note(ctx, s);
    if ctx.json {
        print_json(&json!({ "id": id, "version": version }));
    } else {
        println!("{text}");
    }
}

async fn restore(ctx: &Ctx, s: &mut VaultSession, item: &str) -> Result<()> {
    let (snap, id) = snapshot_and_resolve(s, item).await?;
    let entry = resolve(&snap, &id.to_string())?;
    if !entry.trashed {
        bail!(ClientError::Invalid("the item is not in the trash".into()));
    }
    let (_, version) = s.update_item(id, None, Some(false), |_| Ok(())).await?;
    done(ctx, s, id, version, "Restored.");
    Ok(())
}

pub async fn trash(ctx: &Ctx, cmd: TrashCommand) -> Result<()> {
    let mut s = ctx.session().await?;
    match cmd {
        TrashCommand::List => {
            let snap = s.snapshot().await?;
            let statuses = s.statuses().await?;
            let items: Vec<&ItemEntry> = snap.items.iter().filter(|i| i.trashed).collect();
            if ctx.json {
                print_json(&Value::Array(
                    items
                        .iter()
                        .map(|i| entry_json(&snap, &statuses, i))
                        .collect(),
                ));
            } else if items.is_empty() {
                println!("The trash is empty.");
            } else {
                for i in items {
                    println!("{}  {:<8}  {}", i.id, i.profile.as_str(), i.overview.title);
                }
            }
        }
        TrashCommand::Restore { item } => restore(ctx, &mut s, &item).await?,
        TrashCommand::Empty { yes } => {
            if !yes {
                bail!(ClientError::Invalid(
                    "emptying the trash deletes its items for good; add --yes to confirm".into()
                ));
            }
            let n = s.empty_trash().await?;
            if ctx.json {
                print_json(&json!({ "deleted": n }));
            } else {
                println!("Deleted {n} item(s) for good.");
            }
        }
    }
    Ok(())
}

fn refuse_hidden(snap: &Snapshot, e: &ItemEntry) -> Result<()> {
    if hides_secrets(Some(snap), e) {
        bail!(castellan_client::share::ops::forbidden(
            "this item is shared with you read-only with passwords hidden: its passwords and hidden fields are not shown or copied"
        ));
    }
    Ok(())
}

pub async fn totp(ctx: &Ctx, item: &str) -> Result<()> {
    let mut s = ctx.session().await?;
    let (snap, id) = snapshot_and_resolve(&mut s, item).await?;
    let (entry, data) = s.get_item(id).await?;
    refuse_hidden(&snap, &entry)?;
    let seed = data
        .totp()
        .ok_or_else(|| ClientError::NotFound("the item has no TOTP seed".into()))?;
    let spec = TotpSpec::parse(seed)
        .map_err(|e| ClientError::Invalid(format!("the item's TOTP seed is invalid: {e}")))?;
    let t = now().max(0) as u64;
    let code = spec.code_at(t);
    if ctx.json {
        print_json(
            &json!({ "code": code, "seconds_remaining": spec.seconds_remaining(t), "period": spec.period }),
        );
    } else {
        println!("{code}");
    }
    Ok(())
}

/// Reports an event on a Business item when the company's verified policy turns password
/// auditing on (ids only; best effort, never fails the command).
async fn audit(
    ctx: &Ctx,
    profile: castellan_types::VaultKindDto,
    id: Uuid,
    kind: ItemEventKind,
    field: Option<&str>,
) {
    if profile == castellan_types::VaultKindDto::Business {
        castellan_client::org::events::report(&ctx.home, &[(id, kind, field)]).await;
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
