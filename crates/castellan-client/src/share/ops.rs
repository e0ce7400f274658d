//! The share operations of an unlocked session: create, items in and out, recipients and roles
//! (with key rotation when someone loses access), expiry, accept, decline, delete.
//!
//! Keys are sealed only to keys from verified certificates and rosters (`Directory`); every new
//! access list is signed by me as an owner; the client refuses what my role does not allow
//! before asking the server (which refuses it too).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use castellan_crypto::{SetHash, SymmetricKey};
use castellan_types::*;
use serde::Serialize;
use uuid::Uuid;

use super::directory::Directory;
use super::{acl, grant, pins, Org, UnlockedShare};
use crate::account::UnlockedAccount;
use crate::api::ApiClient;
use crate::cache::{Cache, VaultSyncState};
use crate::folder::FolderData;
use crate::home::Home;
use crate::manifest::{self, Manifest};
use crate::vault::codec::{self, VaultRef};
use crate::vault::{now, Snapshot, VaultSession};
use crate::{ClientError, ClientResult};

/// A refusal because of the share role (exit code 10 in the CLI, like the server's 403).
pub fn forbidden(msg: impl Into<String>) -> ClientError {
    ClientError::Api {
        status: 403,
        code: ErrorCode::Forbidden,
        message: msg.into(),
        current_version: None,
    }
}

pub fn require_writer(s: &UnlockedShare) -> ClientResult<()> {
    if s.can_write() {
        Ok(())
    } else {
        Err(forbidden(format!(
            "you are {} in the share {:?}: only its owners and editors can change its items",
            acl::role_str(s.role),
            s.name
        )))
    }
}

pub fn require_owner(s: &UnlockedShare) -> ClientResult<()> {
    if s.is_owner() {
        Ok(())
    } else {
        Err(forbidden(format!(
            "you are {} in the share {:?}: only its owners can change recipients, roles, expiry or delete it",
            acl::role_str(s.role),
            s.name
        )))
    }
}

/// Who to share with.
#[derive(Debug, Clone)]
pub enum Recipient {
    User(String),
    Group(String),
}

/// A share as shown by `share list` / `share show`.
#[derive(Debug, Clone, Serialize)]
pub struct ShareView {
    pub id: Uuid,
    pub name: Option<String>,
    pub state: ShareStateDto,
    pub role: Option<ShareRoleDto>,
    pub acl_version: i64,
    pub key_version: i64,
    pub expires_at: Option<i64>,
    pub object_count: i64,
    pub recipients: Vec<RecipientView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecipientView {
    pub kind: PrincipalKindDto,
    pub id: Uuid,
    pub name: String,
    pub role: ShareRoleDto,
}

/// The result of removing someone: the items they could read (change those passwords).
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    pub share_id: Uuid,
    pub removed: String,
    pub key_version: i64,
    pub exposed_items: Vec<(Uuid, String)>,
}

fn principal_user(id: Uuid) -> PrincipalDto {
    PrincipalDto {
        kind: PrincipalKindDto::User,
        id,
    }
}

/// The encryption key of a principal, from a verified certificate or roster only.
fn principal_key(dir: &Directory, p: PrincipalDto) -> ClientResult<crate::org::keys::PublicKeys> {
    match p.kind {
        PrincipalKindDto::User => Ok(dir.member(p.id)?.keys),
        PrincipalKindDto::Group => Ok(dir.group(p.id)?.keys),
    }
}

fn my_company(home: &Home) -> ClientResult<Uuid> {
    home.device()?.org.my_company.ok_or_else(|| {
        ClientError::Invalid(
            "sharing is between members of a company: join one first (`castellan join LINK`)"
                .into(),
        )
    })
}

fn resolve_recipient(dir: &Directory, r: &Recipient) -> ClientResult<(PrincipalDto, String)> {
    Ok(match r {
        Recipient::User(email) => {
            let m = dir.member_by_email(email)?;
            (principal_user(m.user_id), m.email.clone())
        }
        Recipient::Group(name) => {
            let g = dir.group_by_name(name)?;
            (
                PrincipalDto {
                    kind: PrincipalKindDto::Group,
                    id: g.id,
                },
                format!("group {}", g.name),
            )
        }
    })
}

/// Signs and verifies (with my certified key) a new list, so I never send what others refuse.
fn sign_acl(
    acct: &UnlockedAccount,
    dir: &Directory,
    body: &ShareAclBody,
) -> ClientResult<SignedDoc> {
    acl::check_shape(body, body.share_id, body.company_id)?;
    let mine = dir.member(acct.user_id)?;
    if mine.keys.signing != acct.signing.verifying_key().to_bytes() {
        return Err(ClientError::integrity(
            "your member certificate names another signing key than your account's",
        ));
    }
    Ok(acl::sign_member(&acct.signing, body))
}

fn grants_for(
    acct: &UnlockedAccount,
    dir: &Directory,
    share_id: Uuid,
    key: &SymmetricKey,
    key_version: i64,
    principals: impl IntoIterator<Item = PrincipalDto>,
) -> ClientResult<Vec<ShareGrantDto>> {
    principals
        .into_iter()
        .map(|p| {
            let pk = principal_key(dir, p)?;
            grant::seal_grant(
                &acct.signing,
                acct.user_id,
                share_id,
                key,
                key_version,
                p,
                &pk,
            )
        })
        .collect()
}

impl VaultSession {
    fn share_by(&self, which: &str) -> ClientResult<std::sync::Arc<UnlockedShare>> {
        let w = which.trim();
        let all = self.account.shares.all();
        if let Ok(id) = w.parse::<Uuid>() {
            if let Some(s) = all.iter().find(|s| s.id == id) {
                return Ok(s.clone());
            }
        }
        let by_name: Vec<_> = all.iter().filter(|s| s.name == w).collect();
        match by_name.as_slice() {
            [s] => Ok((*s).clone()),
            [] => Err(ClientError::NotFound(format!(
                "no share {w:?} you can open (see `castellan share list`; accept invitations first)"
            ))),
            _ => Err(ClientError::Invalid(format!(
                "several shares are called {w:?}; use the share id"
            ))),
        }
    }

    /// The share id of `which` among the shares the server lists (any state, invitations too).
    async fn served_share(&self, which: &str) -> ClientResult<ShareDto> {
        let w = which.trim();
        if let Ok(s) = self.share_by(w) {
            return self.api().share(s.id).await;
        }
        let list = self.api().shares().await?.shares;
        if let Ok(id) = w.parse::<Uuid>() {
            if let Some(d) = list.into_iter().find(|d| d.id == id) {
                return Ok(d);
            }
            return Err(ClientError::NotFound(format!("no share {w}")));
        }
        Err(ClientError::NotFound(format!(
            "no share named {w:?}; an invitation is named by its id until accepted (see `castellan share list`)"
        )))
    }

    /// Every share the server lists for me, with names where I can open them.
    pub async fn list_shares(&mut self) -> ClientResult<Vec<ShareView>> {
        self.sync().await?;
        let list = self.api().shares().await?.shares;
        let mut out = Vec::new();
        for d in list {
            let opened = self.account.shares.get(d.id);
            out.push(ShareView {
                id: d.id,
                name: opened.as_ref().map(|s| s.name.clone()),
                state: d.state,
                role: opened.as_ref().map(|s| s.role).or(d.role),
                acl_version: d.acl_version,
                key_version: d.key_version,
                expires_at: opened
                    .as_ref()
                    .map(|s| s.acl.expires_at)
                    .unwrap_or(d.expires_at),
                object_count: d.object_count,
                recipients: Vec::new(),
            });
        }
        Ok(out)
    }

    /// One share with its verified recipients.
    pub async fn show_share(&mut self, which: &str) -> ClientResult<ShareView> {
        self.sync().await?;
        let d = self.served_share(which).await?;
        let opened = self.account.shares.get(d.id);
        let mut org = Org::new(self.api(), self.home(), self.account.user_id);
        let dir = org.directory(d.company_id).await?.clone();
        let body = match &opened {
            Some(s) => s.acl.clone(),
            None => {
                let prev = self
                    .state
                    .shares
                    .acl(d.id)
                    .and_then(|p| crate::org::docs::peek(&p.doc));
                acl::verify(&d.acl, d.id, d.company_id, &dir, prev.as_ref())?
            }
        };
        Ok(ShareView {
            id: d.id,
            name: opened.as_ref().map(|s| s.name.clone()),
            state: d.state,
            role: opened.as_ref().map(|s| s.role).or(d.role),
            acl_version: body.version,
            key_version: body.key_version,
            expires_at: body.expires_at,
            object_count: d.object_count,
            recipients: body
                .entries
                .iter()
                .map(|e| RecipientView {
                    kind: e.principal.kind,
                    id: e.principal.id,
                    name: dir.principal_name(e.principal.kind, e.principal.id),
                    role: e.role,
                })
                .collect(),
        })
    }

    /// Creates a share: key, access list version 1 (me as owner, the recipients), grants, name,
    /// manifest; then moves the items and folders in (new item keys under the share key).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_share(
        &mut self,
        name: &str,
        items: &[Uuid],
        folders: &[String],
        recipients: &[(Recipient, ShareRoleDto)],
        expires_at: Option<i64>,
    ) -> ClientResult<Uuid> {
        let name = crate::folder::check_name(name)?;
        let cid = my_company(self.home())?;
        let mut snap = self.snapshot().await?;
        if snap.shares.values().any(|s| s.name == name) {
            return Err(ClientError::Conflict(format!(
                "you already have a share named {name:?}"
            )));
        }
        let mut org = Org::new(self.api(), self.home(), self.account.user_id);
        let dir = org.directory(cid).await?.clone();
        let me = self.account.user_id;
        let mut entries = vec![AclEntryDto {
            principal: principal_user(me),
            role: ShareRoleDto::Owner,
        }];
        for (r, role) in recipients {
            let (p, label) = resolve_recipient(&dir, r)?;
            if p == principal_user(me) {
                continue;
            }
            if *role == ShareRoleDto::Owner && p.kind == PrincipalKindDto::Group {
                return Err(ClientError::Invalid(format!(
                    "{label} cannot be an owner: only users can own a share"
                )));
            }
            if entries.iter().any(|e| e.principal == p) {
                return Err(ClientError::Invalid(format!("{label} is listed twice")));
            }
            entries.push(AclEntryDto {
                principal: p,
                role: *role,
            });
        }
        let sid = Uuid::new_v4();
        let key = SymmetricKey::generate();
        let body = ShareAclBody {
            share_id: sid,
            company_id: cid,
            version: 1,
            key_version: 1,
            entries: entries.clone(),
            expires_at,
            issued_at: now(),
            signer: AclSignerDto::Member(me),
        };
        let doc = sign_acl(&self.account, &dir, &body)?;
        let grants = grants_for(
            &self.account,
            &dir,
            sid,
            &key,
            1,
            entries.iter().map(|e| e.principal),
        )?;
        let empty = SetHash::empty();
        let m = Manifest::sign_share(&self.account.signing, me, sid, 1, 0, &empty);
        let req = CreateShareRequest {
            share_id: sid,
            company_id: cid,
            acl: doc.clone(),
            name: Bytes(grant::seal_name(&key, cid, sid, 1, &name)?),
            name_for_admins: Bytes(grant::seal_name_for_admins(&dir.company, cid, sid, &name)?),
            grants,
            manifest: ManifestDto {
                vault_id: sid,
                counter: 1,
                manifest: Bytes(m.to_bytes()),
            },
        };
        self.api().create_share(&req).await?;
        pins::update_share_pins(self.home(), |p| {
            p.record_acl(sid, 1, &doc);
            Ok(())
        })?;
        let writers = acl::writers(&body, &dir)
            .into_iter()
            .filter_map(|w| dir.members.get(&w).map(|m| (w, m.keys.signing)))
            .collect();
        let share = UnlockedShare {
            id: sid,
            company_id: cid,
            key,
            key_version: 1,
            owners: acl::owners(&body),
            acl: body,
            acl_doc: doc,
            name: name.clone(),
            state: ShareStateDto::Owned,
            role: ShareRoleDto::Owner,
            my_groups: Vec::new(),
            writers,
            fetched: true,
        };
        super::store_own(self.cache(), &self.account, share).await?;
        let mut tx = self.cache().begin().await?;
        tx.set_vault_state(
            sid,
            &VaultSyncState {
                counter: 1,
                manifest: Some(Bytes(m.to_bytes())),
                count: 0,
                set_hash: Bytes(empty.to_bytes().to_vec()),
            },
        )
        .await?;
        tx.commit().await?;
        snap.shares.insert(
            sid,
            crate::vault::ShareInfo {
                id: sid,
                name,
                role: ShareRoleDto::Owner,
            },
        );
        self.move_into_share(&snap, sid, items, folders, None)
            .await?;
        self.sync().await?;
        Ok(sid)
    }

    /// Moves my items and folders (with their subfolders and items) into a share, under
    /// `into` (a folder of the share; `None`: its top). Copies get new ids and item keys; the
    /// originals are deleted after the copies are queued. Returns the number of items moved.
    async fn move_into_share(
        &mut self,
        snap: &Snapshot,
        sid: Uuid,
        items: &[Uuid],
        folders: &[String],
        into: Option<Uuid>,
    ) -> ClientResult<usize> {
        let share = self
            .account
            .shares
            .get(sid)
            .ok_or_else(|| ClientError::NotFound(format!("no share {sid}")))?;
        require_writer(&share)?;
        let me = self.account.user_id;
        let vref = VaultRef::Share(share.clone());
        // Folders: each given path with its subtree, mapped to new folders in the share.
        let mut folder_map: HashMap<Uuid, Uuid> = HashMap::new();
        let mut moved_folders: Vec<Uuid> = Vec::new();
        let mut new_folders: Vec<(Uuid, FolderData)> = Vec::new();
        for path in folders {
            let f = match snap.find_folder(VaultKindDto::Business, path)? {
                Some(f) => f,
                None => snap
                    .find_folder(VaultKindDto::Personal, path)?
                    .ok_or_else(|| ClientError::NotFound(format!("no folder {path:?}")))?,
            };
            let sub = snap.subtree(f.id);
            let mut list: Vec<&crate::vault::FolderEntry> = snap
                .folders
                .iter()
                .filter(|x| sub.contains(&x.id))
                .collect();
            list.sort_by_key(|x| snap.folder_path(x.id).matches('/').count());
            for x in list {
                let nid = Uuid::new_v4();
                folder_map.insert(x.id, nid);
                let parent = if x.id == f.id {
                    into
                } else {
                    x.data.parent_id.and_then(|p| folder_map.get(&p).copied())
                };
                new_folders.push((
                    nid,
                    FolderData {
                        name: x.data.name.clone(),
                        parent_id: parent,
                    },
                ));
                moved_folders.push(x.id);
            }
        }
        let mut item_ids: BTreeSet<Uuid> = items.iter().copied().collect();
        for i in &snap.items {
            if i.share_id.is_none()
                && i.overview
                    .folder_id
                    .is_some_and(|f| folder_map.contains_key(&f))
            {
                item_ids.insert(i.id);
            }
        }
        for (nid, data) in &new_folders {
            let overview = codec::seal_folder_in(&vref, *nid, 1, data)?;
            let ts = now();
            self.queue_change(
                *nid,
                Some(ObjectDto {
                    id: *nid,
                    vault_id: sid,
                    kind: ObjectKindDto::Folder,
                    version: 1,
                    trashed: false,
                    key_wrap: Default::default(),
                    overview: overview.into(),
                    details: Default::default(),
                    created_at: ts,
                    updated_at: ts,
                    seq: 0,
                    author_id: Some(me),
                }),
            )
            .await?;
        }
        let mut originals = Vec::new();
        for id in &item_ids {
            let entry = snap
                .items
                .iter()
                .find(|i| i.id == *id)
                .ok_or_else(|| ClientError::NotFound(format!("no item {id}")))?;
            if entry.share_id.is_some() {
                return Err(ClientError::Invalid(format!(
                    "item {:?} is already in a share",
                    entry.overview.title
                )));
            }
            let (_, mut data) = self.get_item(*id).await?;
            data.folder_id = match data.folder_id {
                Some(f) => folder_map.get(&f).copied().or(into),
                None => into,
            };
            let nid = Uuid::new_v4();
            let k = SymmetricKey::generate();
            let sealed = codec::seal_item_in(&vref, me, nid, &k, 1, &data)?;
            let mut dto = VaultSession::item_dto_in(sid, nid, 1, data.trashed, sealed);
            dto.author_id = Some(me);
            self.queue_change(nid, Some(dto)).await?;
            originals.push(*id);
        }
        for id in &originals {
            self.queue_change(*id, None).await?;
        }
        for id in moved_folders.iter().rev() {
            self.queue_change(*id, None).await?;
        }
        Ok(originals.len())
    }

    /// `share add-items`: moves my items and folders into a share (owners and editors).
    pub async fn share_add_items(
        &mut self,
        which: &str,
        items: &[Uuid],
        folders: &[String],
    ) -> ClientResult<usize> {
        let snap = self.snapshot().await?;
        let share = self.share_by(which)?;
        require_writer(&share)?;
        let n = self
            .move_into_share(&snap, share.id, items, folders, None)
            .await?;
        self.sync().await?;
        Ok(n)
    }

    /// `share remove-items`: moves items out of a share back to my Business profile (owners
    /// and editors).
    pub async fn share_remove_items(&mut self, which: &str, items: &[Uuid]) -> ClientResult<usize> {
        let snap = self.snapshot().await?;
        let share = self.share_by(which)?;
        require_writer(&share)?;
        let business = self.account.vault(VaultKindDto::Business)?;
        let mut n = 0;
        for id in items {
            let entry = snap
                .items
                .iter()
                .find(|i| i.id == *id)
                .ok_or_else(|| ClientError::NotFound(format!("no item {id}")))?;
            if entry.share_id != Some(share.id) {
                return Err(ClientError::Invalid(format!(
                    "item {:?} is not in the share {:?}",
                    entry.overview.title, share.name
                )));
            }
            let (_, mut data) = self.get_item(*id).await?;
            data.folder_id = None;
            let nid = Uuid::new_v4();
            let k = SymmetricKey::generate();
            let sealed = codec::seal_item(&self.account, business, nid, &k, 1, &data)?;
            let dto = VaultSession::item_dto_in(business.id, nid, 1, data.trashed, sealed);
            self.queue_change(nid, Some(dto)).await?;
            self.queue_change(*id, None).await?;
            n += 1;
        }
        self.sync().await?;
        Ok(n)
    }

    async fn directory_for(&self, share: &UnlockedShare) -> ClientResult<Directory> {
        let mut org = Org::new(self.api(), self.home(), self.account.user_id);
        Ok(org.directory(share.company_id).await?.clone())
    }

    /// Sends the next access list (version + 1) with grants for principals it adds.
    async fn next_acl(
        &mut self,
        share: &UnlockedShare,
        dir: &Directory,
        entries: Vec<AclEntryDto>,
        expires_at: Option<i64>,
    ) -> ClientResult<()> {
        let body = ShareAclBody {
            share_id: share.id,
            company_id: share.company_id,
            version: share.acl.version + 1,
            key_version: share.key_version,
            entries: entries.clone(),
            expires_at,
            issued_at: now(),
            signer: AclSignerDto::Member(self.account.user_id),
        };
        let doc = sign_acl(&self.account, dir, &body)?;
        let added: Vec<PrincipalDto> = entries
            .iter()
            .map(|e| e.principal)
            .filter(|p| acl::entry(&share.acl, *p).is_none())
            .collect();
        let grants = grants_for(
            &self.account,
            dir,
            share.id,
            &share.key,
            share.key_version,
            added,
        )?;
        self.api()
            .update_share_acl(share.id, &UpdateAclRequest { acl: doc, grants })
            .await?;
        self.sync().await?;
        Ok(())
    }

    pub async fn share_add_recipient(
        &mut self,
        which: &str,
        who: &Recipient,
        role: ShareRoleDto,
    ) -> ClientResult<String> {
        self.sync().await?;
        let share = self.share_by(which)?;
        require_owner(&share)?;
        let dir = self.directory_for(&share).await?;
        let (p, label) = resolve_recipient(&dir, who)?;
        if acl::entry(&share.acl, p).is_some() {
            return Err(ClientError::Conflict(format!(
                "{label} is already a recipient; change the role with `castellan share set-role`"
            )));
        }
        if role == ShareRoleDto::Owner && p.kind == PrincipalKindDto::Group {
            return Err(ClientError::Invalid("only users can own a share".into()));
        }
        let mut entries = share.acl.entries.clone();
        entries.push(AclEntryDto { principal: p, role });
        self.next_acl(&share, &dir, entries, share.acl.expires_at)
            .await?;
        Ok(label)
    }

    pub async fn share_set_role(
        &mut self,
        which: &str,
        who: &Recipient,
        role: ShareRoleDto,
    ) -> ClientResult<String> {
        self.sync().await?;
        let share = self.share_by(which)?;
        require_owner(&share)?;
        let dir = self.directory_for(&share).await?;
        let (p, label) = resolve_recipient(&dir, who)?;
        let Some(old) = acl::entry(&share.acl, p).map(|e| e.role) else {
            return Err(ClientError::NotFound(format!(
                "{label} is not a recipient of the share {:?}",
                share.name
            )));
        };
        if role == ShareRoleDto::Owner && p.kind == PrincipalKindDto::Group {
            return Err(ClientError::Invalid("only users can own a share".into()));
        }
        let mut entries = share.acl.entries.clone();
        for e in entries.iter_mut().filter(|e| e.principal == p) {
            e.role = role;
        }
        if acl::owners(&ShareAclBody {
            entries: entries.clone(),
            ..share.acl.clone()
        })
        .is_empty()
        {
            return Err(ClientError::Invalid(
                "a share needs at least one owner".into(),
            ));
        }
        if old.can_write() && !role.can_write() {
            // A writer lost the right to write: rotate, so the manifest is signed by a writer
            // again and what they wrote is vouched for by an owner.
            self.rotate(&share, &dir, entries, share.acl.expires_at)
                .await?;
        } else {
            self.next_acl(&share, &dir, entries, share.acl.expires_at)
                .await?;
        }
        Ok(label)
    }

    pub async fn share_expire(&mut self, which: &str, at: Option<i64>) -> ClientResult<()> {
        self.sync().await?;
        let share = self.share_by(which)?;
        require_owner(&share)?;
        let dir = self.directory_for(&share).await?;
        self.next_acl(&share, &dir, share.acl.entries.clone(), at)
            .await
    }

    /// Removes a principal, then rotates the share key (new key version, every object
    /// re-wrapped, grants for the others, one request). Returns the items they could read.
    pub async fn share_remove_recipient(
        &mut self,
        which: &str,
        who: &Recipient,
    ) -> ClientResult<Removed> {
        self.sync().await?;
        let share = self.share_by(which)?;
        require_owner(&share)?;
        let dir = self.directory_for(&share).await?;
        let (p, label) = resolve_recipient(&dir, who)?;
        if acl::entry(&share.acl, p).is_none() {
            return Err(ClientError::NotFound(format!(
                "{label} is not a recipient of the share {:?}",
                share.name
            )));
        }
        let entries: Vec<AclEntryDto> = share
            .acl
            .entries
            .iter()
            .filter(|e| e.principal != p)
            .cloned()
            .collect();
        if acl::owners(&ShareAclBody {
            entries: entries.clone(),
            ..share.acl.clone()
        })
        .is_empty()
        {
            return Err(ClientError::Invalid(
                "a share needs at least one owner; add another owner first".into(),
            ));
        }
        let snap = self.local_snapshot().await?;
        let exposed: Vec<(Uuid, String)> = snap
            .items
            .iter()
            .filter(|i| i.share_id == Some(share.id) && !i.trashed)
            .map(|i| (i.id, i.overview.title.clone()))
            .collect();
        let key_version = self
            .rotate(&share, &dir, entries, share.acl.expires_at)
            .await?;
        Ok(Removed {
            share_id: share.id,
            removed: label,
            key_version,
            exposed_items: exposed,
        })
    }

    /// New access list and key version, every object of the share re-sealed under new item
    /// keys wrapped with the new share key (authors kept), grants for every principal, name and
    /// manifest, in one request. Returns the new key version.
    async fn rotate(
        &mut self,
        share: &UnlockedShare,
        dir: &Directory,
        entries: Vec<AclEntryDto>,
        expires_at: Option<i64>,
    ) -> ClientResult<i64> {
        // Send queued changes first: the rotation must cover the share exactly as stored.
        self.sync_once().await?;
        if self
            .cache()
            .pending()
            .await?
            .iter()
            .any(|p| p.target.as_ref().map(|t| t.vault_id) == Some(share.id))
        {
            return Err(ClientError::Conflict(
                "changes to the share are still waiting to be sent; run `castellan sync` and try again"
                    .into(),
            ));
        }
        let me = self.account.user_id;
        let key_version = share.key_version + 1;
        let body = ShareAclBody {
            share_id: share.id,
            company_id: share.company_id,
            version: share.acl.version + 1,
            key_version,
            entries: entries.clone(),
            expires_at,
            issued_at: now(),
            signer: AclSignerDto::Member(me),
        };
        let doc = sign_acl(&self.account, dir, &body)?;
        let key = SymmetricKey::generate();
        let writers: BTreeMap<Uuid, [u8; 32]> = acl::writers(&body, dir)
            .into_iter()
            .filter_map(|w| dir.members.get(&w).map(|m| (w, m.keys.signing)))
            .collect();
        let next = UnlockedShare {
            id: share.id,
            company_id: share.company_id,
            key,
            key_version,
            owners: acl::owners(&body),
            acl: body.clone(),
            acl_doc: doc.clone(),
            name: share.name.clone(),
            state: share.state,
            role: share.role,
            my_groups: share.my_groups.clone(),
            writers,
            fetched: false,
        };
        let next = std::sync::Arc::new(next);
        let vref = VaultRef::Share(next.clone());
        let objects = self.cache().vault_objects(share.id).await?;
        let mut rewrapped = Vec::with_capacity(objects.len());
        let mut set = SetHash::empty();
        for o in &objects {
            let version = o.version + 1;
            let author = o.author_id.ok_or_else(|| {
                ClientError::integrity(format!("share object {} has no author", o.id))
            })?;
            let (w, ov, det) = match o.kind {
                ObjectKindDto::Item => {
                    let (data, _) = codec::open_details(&self.account, o)?;
                    let k = SymmetricKey::generate();
                    codec::seal_item_in(&vref, author, o.id, &k, version, &data)?
                }
                ObjectKindDto::Folder => {
                    let f = codec::open_folder(&self.account, o)?;
                    (
                        Vec::new(),
                        codec::seal_folder_in(&vref, o.id, version, &f.data)?,
                        Vec::new(),
                    )
                }
            };
            let after = ObjectDto {
                version,
                key_wrap: Bytes(w.clone()),
                overview: Bytes(ov.clone()),
                details: Bytes(det.clone()),
                ..o.clone()
            };
            set.add(&manifest::element(&after))?;
            rewrapped.push(RewrappedObjectDto {
                id: o.id,
                expected_version: o.version,
                key_wrap: Bytes(w),
                overview: Bytes(ov),
                details: Bytes(det),
            });
        }
        let st = self.cache().vault_state(share.id).await?;
        let counter = st.counter + 1;
        let m = Manifest::sign_share(
            &self.account.signing,
            me,
            share.id,
            counter,
            objects.len() as i64,
            &set,
        );
        let grants = grants_for(
            &self.account,
            dir,
            share.id,
            &next.key,
            key_version,
            entries.iter().map(|e| e.principal),
        )?;
        let req = RotateShareRequest {
            acl: doc.clone(),
            name: Bytes(grant::seal_name(
                &next.key,
                share.company_id,
                share.id,
                key_version,
                &share.name,
            )?),
            name_for_admins: Bytes(grant::seal_name_for_admins(
                &dir.company,
                share.company_id,
                share.id,
                &share.name,
            )?),
            objects: rewrapped,
            grants,
            manifest: ManifestDto {
                vault_id: share.id,
                counter,
                manifest: Bytes(m.to_bytes()),
            },
        };
        self.api().rotate_share(share.id, &req).await?;
        pins::update_share_pins(self.home(), |p| {
            p.record_acl(share.id, body.version, &doc);
            Ok(())
        })?;
        // The next sync fetches the re-wrapped share in full under the new key.
        let next = std::sync::Arc::try_unwrap(next)
            .map_err(|_| ClientError::Protocol("the rotated share is still in use".into()));
        if let Ok(n) = next {
            super::store_own(self.cache(), &self.account, n).await?;
        }
        self.sync_once().await?;
        Ok(key_version)
    }

    /// As an owner: users of my shares' access lists who no longer hold a valid member
    /// certificate (their account was deleted, or they left the company) are dropped, with a
    /// key rotation: the list they signed or are named in would no longer verify for the
    /// others, and the manifest is signed by a remaining writer again. Returns whether a share
    /// changed. (A server hiding a member's certificate can make an owner drop them: a denial
    /// of service, never a disclosure.)
    pub(crate) async fn share_cleanup(&mut self) -> ClientResult<bool> {
        let owned: Vec<_> = self
            .account
            .shares
            .all()
            .into_iter()
            .filter(|s| s.is_owner())
            .collect();
        if owned.is_empty() {
            return Ok(false);
        }
        let mut dirs: BTreeMap<Uuid, Directory> = BTreeMap::new();
        let mut changed = false;
        for share in owned {
            let dir = match dirs.entry(share.company_id) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    match self.directory_for(&share).await {
                        Ok(d) => v.insert(d),
                        Err(ClientError::Integrity(m)) => return Err(ClientError::Integrity(m)),
                        Err(_) => continue,
                    }
                }
            };
            let entries = kept_entries(&share.acl, dir);
            if entries.len() == share.acl.entries.len()
                || acl::owners(&ShareAclBody {
                    entries: entries.clone(),
                    ..share.acl.clone()
                })
                .is_empty()
            {
                continue;
            }
            let dir = dir.clone();
            self.rotate(&share, &dir, entries, share.acl.expires_at)
                .await?;
            changed = true;
        }
        Ok(changed)
    }

    pub async fn share_accept(&mut self, which: &str) -> ClientResult<Uuid> {
        let d = self.served_share(which).await?;
        match d.state {
            ShareStateDto::Owned => return Err(ClientError::Invalid("you own this share".into())),
            ShareStateDto::Accepted => return Ok(d.id),
            _ => {}
        }
        self.api().accept_share(d.id).await?;
        self.sync().await?;
        Ok(d.id)
    }

    pub async fn share_decline(&mut self, which: &str) -> ClientResult<Uuid> {
        let d = self.served_share(which).await?;
        if d.state == ShareStateDto::Owned {
            return Err(ClientError::Invalid(
                "you own this share: delete it with `castellan share rm`".into(),
            ));
        }
        self.api().decline_share(d.id).await?;
        self.sync().await?;
        Ok(d.id)
    }

    /// Deletes a share (owners): its items return to my Business profile first.
    pub async fn share_rm(&mut self, which: &str) -> ClientResult<usize> {
        let snap = self.snapshot().await?;
        let share = self.share_by(which)?;
        require_owner(&share)?;
        // Folders of the share come back as folders under a folder named after the share.
        let mut snap2 = Snapshot {
            items: Vec::new(),
            folders: snap
                .folders
                .iter()
                .filter(|f| f.share_id.is_none())
                .cloned()
                .collect(),
            shares: Default::default(),
        };
        let root = self
            .ensure_folder_path(&mut snap2, VaultKindDto::Business, &share.name)
            .await?;
        let business = self.account.vault(VaultKindDto::Business)?;
        let mut map: HashMap<Uuid, Uuid> = HashMap::new();
        let mut folders: Vec<&crate::vault::FolderEntry> = snap
            .folders
            .iter()
            .filter(|f| f.share_id == Some(share.id))
            .collect();
        folders.sort_by_key(|f| snap.folder_path(f.id).matches('/').count());
        for f in folders {
            let nid = Uuid::new_v4();
            map.insert(f.id, nid);
            let data = FolderData {
                name: f.data.name.clone(),
                parent_id: Some(
                    f.data
                        .parent_id
                        .and_then(|p| map.get(&p).copied())
                        .unwrap_or(root),
                ),
            };
            let overview = codec::seal_folder(business, nid, 1, &data)?;
            let ts = now();
            self.queue_change(
                nid,
                Some(ObjectDto {
                    id: nid,
                    vault_id: business.id,
                    kind: ObjectKindDto::Folder,
                    version: 1,
                    trashed: false,
                    key_wrap: Default::default(),
                    overview: overview.into(),
                    details: Default::default(),
                    created_at: ts,
                    updated_at: ts,
                    seq: 0,
                    author_id: None,
                }),
            )
            .await?;
        }
        let mut n = 0;
        let ids: Vec<Uuid> = snap
            .items
            .iter()
            .filter(|i| i.share_id == Some(share.id))
            .map(|i| i.id)
            .collect();
        for id in ids {
            let (_, mut data) = self.get_item(id).await?;
            data.folder_id = Some(
                data.folder_id
                    .and_then(|f| map.get(&f).copied())
                    .unwrap_or(root),
            );
            let nid = Uuid::new_v4();
            let k = SymmetricKey::generate();
            let sealed = codec::seal_item(&self.account, business, nid, &k, 1, &data)?;
            let dto = VaultSession::item_dto_in(business.id, nid, 1, data.trashed, sealed);
            self.queue_change(nid, Some(dto)).await?;
            n += 1;
        }
        self.sync().await?;
        if self
            .last_sync
            .as_ref()
            .is_some_and(|r| r.offline || r.pending > 0)
        {
            return Err(ClientError::Conflict(
                "the share's items could not be saved to your Business profile yet; the share was not deleted"
                    .into(),
            ));
        }
        self.api().delete_share(share.id).await?;
        self.sync().await?;
        Ok(n)
    }
}

/// The entries of a list whose users still hold a verified member certificate (groups stay).
fn kept_entries(body: &ShareAclBody, dir: &Directory) -> Vec<AclEntryDto> {
    body.entries
        .iter()
        .filter(|e| {
            e.principal.kind == PrincipalKindDto::Group || dir.members.contains_key(&e.principal.id)
        })
        .cloned()
        .collect()
}

/// What an owner's client completes at each sync: grants for principals of the current list
/// that have none (an admin added them, or a group got new keys). Best effort: failures are
/// left for the next sync.
pub async fn owner_duties(home: &Home, _cache: &Cache, api: &ApiClient, acct: &UnlockedAccount) {
    let owned: Vec<_> = acct
        .shares
        .all()
        .into_iter()
        .filter(|s| s.is_owner())
        .collect();
    if owned.is_empty() {
        return;
    }
    let mut org = Org::new(api, home, acct.user_id);
    for s in owned {
        let Ok(d) = api.share(s.id).await else {
            continue;
        };
        if d.key_version != s.key_version || d.acl_version != s.acl.version {
            continue;
        }
        let Ok(dir) = org.directory(s.company_id).await.cloned() else {
            continue;
        };
        // A list naming users who left: the owner's session rotates it first (share_cleanup).
        if kept_entries(&s.acl, &dir).len() != s.acl.entries.len() {
            continue;
        }
        let missing: Vec<PrincipalDto> = s
            .acl
            .entries
            .iter()
            .map(|e| e.principal)
            .filter(|p| {
                // Grants by someone who is no longer an owner (ownership transferred by an
                // admin) are made again by this owner, so they stay valid once an owner signs
                // the next access list.
                !d.grants.iter().any(|g| {
                    g.principal == *p
                        && g.key_version == s.key_version
                        && acl::is_owner(&s.acl, g.granted_by)
                        && grant::verify_grant(g, s.id, &s.acl, &dir).is_ok()
                })
            })
            .filter(|p| principal_key(&dir, *p).is_ok())
            .collect();
        if missing.is_empty() {
            continue;
        }
        if let Ok(grants) = grants_for(acct, &dir, s.id, &s.key, s.key_version, missing) {
            let _ = api
                .add_share_grants(s.id, &AddGrantsRequest { grants })
                .await;
        }
    }
}
