//! `castellan folder ...`

use anyhow::{bail, Result};
use castellan_client::vault::{FolderItemsAction, VaultSession};
use castellan_client::ClientError;
use serde_json::{json, Value};

use super::{profile, Ctx};
use crate::cli::{FolderCommand, ItemsChoice};
use crate::output::print_json;

/// Folder commands change the user's own folders; a share's folder is named after the share
/// and managed with `castellan share` (recipients can never rename it).
fn refuse_shared(path: &str) -> Result<()> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segs.first() == Some(&castellan_client::share::SHARED_FOLDERS) {
        if segs.len() <= 2 {
            bail!(castellan_client::share::ops::forbidden(
                "a share's folder always has the share's name and cannot be renamed, moved or deleted here (owners manage shares with `castellan share`)"
            ));
        }
        bail!(ClientError::Invalid(
            "folders inside a share are changed by moving items with `castellan share add-items` / `remove-items`".into()
        ));
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, cmd: FolderCommand) -> Result<()> {
    match &cmd {
        FolderCommand::Rename { path, .. }
        | FolderCommand::Mv { path, .. }
        | FolderCommand::Rm { path, .. } => refuse_shared(path)?,
        _ => {}
    }
    let mut s = ctx.session().await?;
    match cmd {
        FolderCommand::Add { path, profile: p } => {
            let id = s.create_folder(profile(p), &path).await?;
            if ctx.json {
                print_json(
                    &json!({ "id": id, "path": path.trim_matches('/'), "profile": profile(p).as_str() }),
                );
            } else {
                println!("{id}");
            }
        }
        FolderCommand::List { profile: p } => {
            let snap = s.snapshot().await?;
            let counts = VaultSession::folder_counts(&snap);
            let rows = VaultSession::folder_paths(&snap, p.map(profile));
            if ctx.json {
                let v: Vec<Value> = rows
                    .iter()
                    .map(|(pr, path, id)| {
                        let f = snap.folder(*id);
                        json!({
                            "id": id,
                            "profile": pr.as_str(),
                            "path": path,
                            "name": f.map(|f| f.data.name.clone()),
                            "parent_id": f.and_then(|f| f.data.parent_id),
                            "items": counts.get(id).copied().unwrap_or(0),
                        })
                    })
                    .collect();
                print_json(&Value::Array(v));
            } else if rows.is_empty() {
                println!("No folders.");
            } else {
                for (pr, path, id) in rows {
                    println!(
                        "{:<8}  {:<50}  {} item(s)",
                        pr.as_str(),
                        path,
                        counts.get(&id).copied().unwrap_or(0)
                    );
                }
            }
        }
        FolderCommand::Rename {
            path,
            new_name,
            profile: p,
        } => {
            let id = s.rename_folder(profile(p), &path, &new_name).await?;
            ok(
                ctx,
                &s,
                json!({ "id": id, "name": new_name.trim() }),
                "Renamed.",
            );
        }
        FolderCommand::Mv {
            path,
            to,
            top,
            profile: p,
        } => {
            if to.is_none() && !top {
                bail!(ClientError::Invalid(
                    "say where to: --to PARENT or --top".into()
                ));
            }
            let id = s.move_folder(profile(p), &path, to.as_deref()).await?;
            ok(ctx, &s, json!({ "id": id }), "Moved.");
        }
        FolderCommand::Rm {
            path,
            items,
            profile: p,
        } => {
            let snap = s.snapshot().await?;
            let f = snap.find_folder(profile(p), &path)?.ok_or_else(|| {
                ClientError::NotFound(format!(
                    "no folder {path:?} in the {} profile",
                    profile(p).as_str()
                ))
            })?;
            let sub = snap.subtree(f.id);
            let has_contents = sub.len() > 1
                || snap
                    .items
                    .iter()
                    .any(|i| i.overview.folder_id.is_some_and(|x| sub.contains(&x)));
            let action = match (items, has_contents) {
                (Some(ItemsChoice::MoveToParent), _) => FolderItemsAction::MoveToParent,
                (Some(ItemsChoice::Trash), _) => FolderItemsAction::Trash,
                (None, false) => FolderItemsAction::MoveToParent,
                (None, true) => bail!(ClientError::Invalid(
                    "the folder is not empty; choose --items move-to-parent or --items trash (nothing was deleted)".into()
                )),
            };
            let (n_items, n_folders) = s.delete_folder(profile(p), &path, action).await?;
            let what = match action {
                FolderItemsAction::MoveToParent => "moved to the parent folder",
                FolderItemsAction::Trash => "moved to the trash",
            };
            ok(
                ctx,
                &s,
                json!({ "deleted_folders": n_folders, "items": n_items, "items_action": match action { FolderItemsAction::MoveToParent => "move-to-parent", FolderItemsAction::Trash => "trash" } }),
                &format!("Deleted {n_folders} folder(s); {n_items} item(s) {what}."),
            );
        }
    }
    Ok(())
}

fn ok(ctx: &Ctx, s: &VaultSession, v: Value, text: &str) {
    if !ctx.json && s.last_sync.as_ref().is_some_and(|r| r.offline) {
        eprintln!("note: the server is unreachable; the change is saved on this device and will sync when it is back");
    }
    if ctx.json {
        print_json(&v);
    } else {
        println!("{text}");
    }
}
