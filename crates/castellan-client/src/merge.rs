//! Three-way merge of concurrent edits of one item, so that no edit is ever silently dropped.
//!
//! Each field is compared with the common base: a field changed on one side only takes that
//! side's value; a field changed on both sides to different values is a conflict. The merged item
//! keeps the server's value for conflicting fields, and the local version survives whole as a
//! separate "conflict copy" item. Any password that loses goes into the password history.

use std::collections::{BTreeMap, BTreeSet};

use crate::item::{ItemData, PasswordChange, MAX_HISTORY};

pub struct Merged {
    pub item: ItemData,
    /// The local version as a new item, when both sides changed the same field differently.
    pub conflict_copy: Option<ItemData>,
    pub conflicting_fields: Vec<String>,
}

fn pick<T: PartialEq + Clone>(
    name: &str,
    base: &T,
    local: &T,
    remote: &T,
    conflicts: &mut Vec<String>,
) -> T {
    if local == base || local == remote {
        remote.clone()
    } else if remote == base {
        local.clone()
    } else {
        conflicts.push(name.to_string());
        remote.clone()
    }
}

pub fn merge(base: &ItemData, local: &ItemData, remote: &ItemData, now: i64) -> Merged {
    let mut conflicts = Vec::new();
    let mut item = remote.clone();
    item.item_type = pick(
        "type",
        &base.item_type,
        &local.item_type,
        &remote.item_type,
        &mut conflicts,
    );
    item.title = pick(
        "title",
        &base.title,
        &local.title,
        &remote.title,
        &mut conflicts,
    );
    item.notes = pick(
        "notes",
        &base.notes,
        &local.notes,
        &remote.notes,
        &mut conflicts,
    );
    item.favorite = pick(
        "favorite",
        &base.favorite,
        &local.favorite,
        &remote.favorite,
        &mut conflicts,
    );
    item.folder_id = pick(
        "folder",
        &base.folder_id,
        &local.folder_id,
        &remote.folder_id,
        &mut conflicts,
    );
    item.tags = pick(
        "tags",
        &base.tags,
        &local.tags,
        &remote.tags,
        &mut conflicts,
    );
    item.trashed = pick(
        "trashed",
        &base.trashed,
        &local.trashed,
        &remote.trashed,
        &mut conflicts,
    );

    let names: BTreeSet<&String> = base
        .fields
        .keys()
        .chain(local.fields.keys())
        .chain(remote.fields.keys())
        .collect();
    let mut fields = BTreeMap::new();
    for name in names {
        let v = pick(
            name,
            &base.fields.get(name),
            &local.fields.get(name),
            &remote.fields.get(name),
            &mut conflicts,
        );
        if let Some(v) = v {
            fields.insert(name.clone(), v.clone());
        }
    }
    item.fields = fields;

    let cnames: BTreeSet<&String> = base
        .custom_fields
        .iter()
        .chain(&local.custom_fields)
        .chain(&remote.custom_fields)
        .map(|c| &c.name)
        .collect();
    let find = |d: &ItemData, n: &str| d.custom_fields.iter().find(|c| c.name == n).cloned();
    let mut custom = Vec::new();
    for name in cnames {
        if let Some(c) = pick(
            name,
            &find(base, name),
            &find(local, name),
            &find(remote, name),
            &mut conflicts,
        ) {
            custom.push(c);
        }
    }
    item.custom_fields = custom;

    // Password history: everything either side remembered, plus every secret that lost.
    let mut history: Vec<PasswordChange> = Vec::new();
    for h in local
        .password_history
        .iter()
        .chain(&remote.password_history)
    {
        if !history
            .iter()
            .any(|x| x.password == h.password && x.field == h.field)
        {
            history.push(h.clone());
        }
    }
    for name in &conflicts {
        let secret = local
            .item_type
            .field(name)
            .is_some_and(|s| s.kind == crate::item::FieldKind::Secret);
        if secret {
            if let Some(lost) = local.fields.get(name) {
                if !history
                    .iter()
                    .any(|x| &x.password == lost && &x.field == name)
                {
                    history.insert(
                        0,
                        PasswordChange {
                            password: lost.clone(),
                            field: name.clone(),
                            replaced_at: now,
                        },
                    );
                }
            }
        }
    }
    history.sort_by_key(|h| std::cmp::Reverse(h.replaced_at));
    history.truncate(MAX_HISTORY);
    item.password_history = history;
    item.updated_at = now;

    let conflict_copy = if conflicts.is_empty() {
        None
    } else {
        let mut copy = local.clone();
        let stamp = time::OffsetDateTime::from_unix_timestamp(now)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| now.to_string());
        copy.title = format!("{} (conflict copy {stamp})", local.title);
        copy.created_at = now;
        copy.updated_at = now;
        Some(copy)
    };
    Merged {
        item,
        conflict_copy,
        conflicting_fields: conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemType;

    fn base() -> ItemData {
        let mut d = ItemData::new(ItemType::Login, "Router", 1).unwrap();
        d.set_field("username", "admin", 1).unwrap();
        d.set_field("password", "base-pass", 1).unwrap();
        d
    }

    #[test]
    fn edits_to_different_fields_both_survive() {
        let b = base();
        let mut l = b.clone();
        l.set_field("url", "https://router.lan", 2).unwrap();
        let mut r = b.clone();
        r.set_field("username", "root", 3).unwrap();
        let m = merge(&b, &l, &r, 4);
        assert!(m.conflict_copy.is_none());
        assert_eq!(m.item.field("url").as_deref(), Some("https://router.lan"));
        assert_eq!(m.item.field("username").as_deref(), Some("root"));
    }

    #[test]
    fn the_same_field_changed_twice_keeps_both_values() {
        let b = base();
        let mut l = b.clone();
        l.set_field("password", "local-pass", 2).unwrap();
        let mut r = b.clone();
        r.set_field("password", "remote-pass", 3).unwrap();
        let m = merge(&b, &l, &r, 4);
        assert_eq!(m.item.field("password").as_deref(), Some("remote-pass"));
        let copy = m.conflict_copy.expect("conflict copy");
        assert_eq!(copy.field("password").as_deref(), Some("local-pass"));
        assert!(copy.title.contains("conflict copy"));
        let old: Vec<&str> = m
            .item
            .password_history
            .iter()
            .map(|h| h.password.as_str())
            .collect();
        assert!(
            old.contains(&"local-pass") && old.contains(&"base-pass"),
            "{old:?}"
        );
        assert_eq!(m.conflicting_fields, vec!["password".to_string()]);
    }

    #[test]
    fn identical_changes_are_not_conflicts() {
        let b = base();
        let mut l = b.clone();
        l.set_field("password", "same", 2).unwrap();
        let r = l.clone();
        let m = merge(&b, &l, &r, 3);
        assert!(m.conflict_copy.is_none());
        assert_eq!(m.item.field("password").as_deref(), Some("same"));
    }
}
