//! An unlocked vault session: reads from the offline cache (kept current by sync), queues
//! writes and sends them at once when the server is reachable, sealing and opening every
//! envelope with contexts the client builds itself.

use std::collections::{BTreeMap, HashMap, HashSet};

use castellan_crypto::{self as crypto, Context, SymmetricKey};
use castellan_types::{ObjectDto, ObjectKindDto, VaultKindDto};
use uuid::Uuid;

use crate::account::{self, UnlockedAccount, UnlockedVault};
use crate::api::ApiClient;
use crate::cache::{Cache, PendingState};
use crate::folder::{self, FolderData};
use crate::home::{DeviceState, Home, SeenVersions};
use crate::item::{ItemData, ItemOverview, SCHEMA_VERSION};
use crate::keyids::item_key_id;
use crate::search::SearchIndex;
use crate::sync::SyncReport;
use crate::{ClientError, ClientResult};

/// Item keys are never rotated by an edit; a full key rotation would bump this.
const ITEM_KEY_VERSION: u64 = 1;

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An item as listed: public metadata plus the decrypted overview.
#[derive(Debug, Clone)]
pub struct ItemEntry {
    pub id: Uuid,
    pub vault_id: Uuid,
    pub profile: VaultKindDto,
    pub version: i64,
    pub trashed: bool,
    pub overview: ItemOverview,
    /// The share the item is in (`None`: the account's own vaults).
    pub share_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct FolderEntry {
    pub id: Uuid,
    pub vault_id: Uuid,
    pub profile: VaultKindDto,
    pub version: i64,
    pub data: FolderData,
    /// The share the folder is in (`None`: the account's own vaults).
    pub share_id: Option<Uuid>,
}

/// Everything in the account, decrypted and verified.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub items: Vec<ItemEntry>,
    pub folders: Vec<FolderEntry>,
    /// The shares whose objects are in the snapshot, by id.
    pub shares: BTreeMap<Uuid, ShareInfo>,
}

/// A share as listed with the snapshot (its folder under "Shared folders").
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShareInfo {
    pub id: Uuid,
    pub name: String,
    pub role: castellan_types::ShareRoleDto,
}

impl ShareInfo {
    pub fn role_str(&self) -> &'static str {
        crate::share::acl::role_str(self.role)
    }
    pub fn hides_secrets(&self) -> bool {
        self.role == castellan_types::ShareRoleDto::ReadOnlyHidden
    }
}

impl Snapshot {
    pub fn folder(&self, id: Uuid) -> Option<&FolderEntry> {
        self.folders.iter().find(|f| f.id == id)
    }

    /// The share an item or folder is in.
    pub fn share_of(&self, share_id: Option<Uuid>) -> Option<&ShareInfo> {
        share_id.and_then(|s| self.shares.get(&s))
    }

    /// "Shared folders/NAME" for a share.
    pub fn share_root(&self, share_id: Uuid) -> String {
        let name = self
            .shares
            .get(&share_id)
            .map(|s| s.name.as_str())
            .unwrap_or("?");
        format!("{}/{name}", crate::share::SHARED_FOLDERS)
    }

    /// The display folder of an item: its folder path, under "Shared folders/NAME" in a share.
    pub fn item_folder(&self, i: &ItemEntry) -> Option<String> {
        match (i.share_id, i.overview.folder_id) {
            (_, Some(f)) => Some(self.folder_path(f)),
            (Some(s), None) => Some(self.share_root(s)),
            (None, None) => None,
        }
    }

    /// Resolves "Shared folders/NAME[/sub/path]" to (share, folder within it: `None` = its
    /// root). `Ok(None)` when the path is not under "Shared folders".
    pub fn find_shared(&self, path: &str) -> ClientResult<Option<(Uuid, Option<Uuid>)>> {
        let segs = folder::split_path(path)?;
        if segs.first().map(String::as_str) != Some(crate::share::SHARED_FOLDERS) {
            return Ok(None);
        }
        let Some(name) = segs.get(1) else {
            return Err(ClientError::Invalid(
                "name a share: \"Shared folders/NAME\"".into(),
            ));
        };
        let share = self
            .shares
            .values()
            .find(|s| &s.name == name)
            .ok_or_else(|| ClientError::NotFound(format!("no share named {name:?}")))?;
        let mut parent: Option<Uuid> = None;
        for seg in &segs[2..] {
            let f = self
                .folders
                .iter()
                .find(|f| {
                    f.share_id == Some(share.id)
                        && f.data.parent_id == parent
                        && &f.data.name == seg
                })
                .ok_or_else(|| ClientError::NotFound(format!("no folder {path:?}")))?;
            parent = Some(f.id);
        }
        Ok(Some((share.id, parent)))
    }

    /// "A/B/C" for a folder id (the path within its profile, or under "Shared folders/NAME").
    pub fn folder_path(&self, id: Uuid) -> String {
        let inner = self.folder_path_inner(id);
        match self.folder(id).and_then(|f| f.share_id) {
            Some(s) => format!("{}/{inner}", self.share_root(s)),
            None => inner,
        }
    }

    fn folder_path_inner(&self, id: Uuid) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id);
        let mut guard = 0;
        while let Some(c) = cur {
            let Some(f) = self.folder(c) else { break };
            parts.push(f.data.name.clone());
            cur = f.data.parent_id;
            guard += 1;
            if guard > folder::MAX_FOLDER_DEPTH {
                break;
            }
        }
        parts.reverse();
        parts.join("/")
    }

    /// Finds a folder by path in a profile.
    pub fn find_folder(
        &self,
        profile: VaultKindDto,
        path: &str,
    ) -> ClientResult<Option<&FolderEntry>> {
        let segs = folder::split_path(path)?;
        let mut parent: Option<Uuid> = None;
        let mut found = None;
        for seg in &segs {
            let next = self.folders.iter().find(|f| {
                f.share_id.is_none()
                    && f.profile == profile
                    && f.data.parent_id == parent
                    && f.data.name == *seg
            });
            match next {
                Some(f) => {
                    parent = Some(f.id);
                    found = Some(f);
                }
                None => return Ok(None),
            }
        }
        Ok(found)
    }

    /// The folder and all folders below it.
    pub fn subtree(&self, root: Uuid) -> HashSet<Uuid> {
        let mut set = HashSet::from([root]);
        loop {
            let before = set.len();
            for f in &self.folders {
                if f.data.parent_id.is_some_and(|p| set.contains(&p)) {
                    set.insert(f.id);
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }

    pub fn index(&self) -> SearchIndex {
        let mut idx = SearchIndex::with_capacity(self.items.len());
        for i in &self.items {
            idx.add(i.id, &i.overview);
        }
        idx
    }
}

/// What to do with the items of a folder being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderItemsAction {
    /// Items (and subfolders) move to the deleted folder's parent.
    MoveToParent,
    /// Items in the folder and its subfolders go to the trash; subfolders are deleted.
    Trash,
}

/// Sync state of one item or folder, as shown next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// On the server as shown (green).
    Synced,
    /// Changed here, being sent (yellow).
    Pending,
    /// Changed here, could not be sent: the server is unreachable or refused it (red).
    Offline,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::Pending => "pending",
            SyncStatus::Offline => "offline",
        }
    }
}

pub struct VaultSession {
    home: Home,
    pub state: DeviceState,
    pub account: UnlockedAccount,
    api: ApiClient,
    cache: Cache,
    /// The report of the last sync run by this session.
    pub last_sync: Option<SyncReport>,
    /// A running agent keeps the cache in sync: reads use the cache as it is.
    agent_syncs: bool,
}

impl VaultSession {
    /// Unlocks with the master password. Refuses when the device was locked with
    /// `castellan lock` (unless `unlocking` is set, which `castellan unlock` does).
    pub async fn open(home: &Home, password: &str, unlocking: bool) -> ClientResult<Self> {
        let state = home.device()?;
        if state.locked && !unlocking {
            return Err(ClientError::Locked);
        }
        let (state, account) = account::unlock_local(home, password)?;
        Self::from_parts(home, state, account).await
    }

    pub async fn from_parts(
        home: &Home,
        state: DeviceState,
        account: UnlockedAccount,
    ) -> ClientResult<Self> {
        let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
        let cache = Cache::open(home.dir()).await?;
        crate::share::load_ring(&cache, &account).await?;
        Ok(VaultSession {
            home: home.clone(),
            state,
            account,
            api,
            cache,
            last_sync: None,
            agent_syncs: false,
        })
    }

    /// Marks that a running agent syncs this device in the background, so reads need not.
    pub fn set_agent_syncs(&mut self, yes: bool) {
        self.agent_syncs = yes;
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Queues a change of an object (used by the share operations).
    pub(crate) async fn queue_change(
        &self,
        id: Uuid,
        target: Option<ObjectDto>,
    ) -> ClientResult<()> {
        self.queue(id, target).await
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Two-way sync now. An unreachable server is not an error: changes stay queued (red).
    /// Then, as an owner, drops users who left the company from my shares' access lists (with a
    /// key rotation, see `share::ops`).
    pub async fn sync(&mut self) -> ClientResult<SyncReport> {
        let report = self.sync_once().await?;
        if !report.offline && self.share_cleanup().await? {
            return self.sync_once().await;
        }
        Ok(report)
    }

    /// [`Self::sync`] without the owners' share cleanup.
    pub(crate) async fn sync_once(&mut self) -> ClientResult<SyncReport> {
        let report =
            crate::sync::sync_with(&self.home, &self.cache, &self.api, &self.account).await?;
        self.last_sync = Some(report.clone());
        Ok(report)
    }

    fn vault_for(&self, id: Uuid) -> ClientResult<&UnlockedVault> {
        self.account
            .vault_by_id(id)
            .ok_or_else(|| ClientError::integrity(format!("object in unknown vault {id}")))
    }

    /// The local view: synced objects with queued changes applied on top.
    pub async fn view(&self) -> ClientResult<Vec<ObjectDto>> {
        let mut objs: BTreeMap<Uuid, ObjectDto> = self
            .cache
            .objects()
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        for op in self.cache.pending().await? {
            match op.target {
                Some(t) => {
                    objs.insert(op.object_id, t);
                }
                None => {
                    objs.remove(&op.object_id);
                }
            }
        }
        Ok(objs.into_values().collect())
    }

    async fn view_object(&self, id: Uuid) -> ClientResult<ObjectDto> {
        let pending = self.cache.pending().await?;
        if let Some(op) = pending.iter().find(|p| p.object_id == id) {
            return op
                .target
                .clone()
                .ok_or_else(|| ClientError::NotFound(format!("no item or folder with id {id}")));
        }
        self.cache
            .object(id)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("no item or folder with id {id}")))
    }

    /// The version a new local change of `id` must carry: one above the server state it is
    /// based on (queued changes of the same object share their base).
    async fn next_version(&self, id: Uuid) -> ClientResult<i64> {
        if let Some(op) = self
            .cache
            .pending()
            .await?
            .into_iter()
            .find(|p| p.object_id == id)
        {
            return Ok(op.base.map(|b| b.version + 1).unwrap_or(1));
        }
        Ok(self
            .cache
            .object(id)
            .await?
            .map(|o| o.version + 1)
            .unwrap_or(1))
    }

    /// Sync status of every object with a queued change (the rest are synced). A change that
    /// could not be sent shows as offline (red) while the server is unreachable, and as pending
    /// (yellow) once it answers again, until the next sync sends it.
    pub async fn statuses(&self) -> ClientResult<HashMap<Uuid, SyncStatus>> {
        let pending = self.cache.pending().await?;
        let reachable = if pending.iter().any(|p| p.state == PendingState::Failed) {
            self.api.health().await.is_ok()
        } else {
            false
        };
        Ok(pending
            .into_iter()
            .map(|p| {
                (
                    p.object_id,
                    if p.state == PendingState::Failed && !reachable {
                        SyncStatus::Offline
                    } else {
                        SyncStatus::Pending
                    },
                )
            })
            .collect())
    }

    /// Syncs (best effort; not when an agent does it) and returns everything, decrypted and
    /// verified.
    pub async fn snapshot(&mut self) -> ClientResult<Snapshot> {
        if !self.agent_syncs {
            self.sync().await?;
        }
        self.local_snapshot().await
    }

    /// Everything in the local view, without contacting the server.
    pub async fn local_snapshot(&self) -> ClientResult<Snapshot> {
        let mut view = self.view().await?;
        // Objects of a share this device no longer opens are not part of the account.
        view.retain(|o| {
            self.account.vault_by_id(o.vault_id).is_some()
                || self.account.shares.get(o.vault_id).is_some()
        });
        codec::decrypt_snapshot(&self.account, &SeenVersions::default(), &view)
    }

    /// Reads one item with all its fields (from the local view; sync first for fresh data).
    pub async fn get_item(&self, id: Uuid) -> ClientResult<(ItemEntry, ItemData)> {
        let o = self.view_object(id).await?;
        if o.kind != ObjectKindDto::Item {
            return Err(ClientError::NotFound(format!(
                "{id} is a folder, not an item"
            )));
        }
        let entry = codec::open_overview(&self.account, &o)?;
        let (data, _) = codec::open_details(&self.account, &o)?;
        if data.overview() != entry.overview {
            return Err(ClientError::integrity(format!(
                "item {id}: overview and details disagree"
            )));
        }
        Ok((entry, data))
    }

    /// Queues a change (`None`: delete for good) without sending it.
    async fn queue(&self, id: Uuid, target: Option<ObjectDto>) -> ClientResult<()> {
        let base = self.cache.object(id).await?;
        self.cache
            .enqueue(id, base.as_ref(), target.as_ref(), now())
            .await
    }

    fn item_dto(
        vault: &UnlockedVault,
        id: Uuid,
        version: i64,
        trashed: bool,
        sealed: (Vec<u8>, Vec<u8>, Vec<u8>),
    ) -> ObjectDto {
        Self::item_dto_in(vault.id, id, version, trashed, sealed)
    }

    pub(crate) fn item_dto_in(
        vault_id: Uuid,
        id: Uuid,
        version: i64,
        trashed: bool,
        sealed: (Vec<u8>, Vec<u8>, Vec<u8>),
    ) -> ObjectDto {
        let ts = now();
        ObjectDto {
            id,
            vault_id,
            kind: ObjectKindDto::Item,
            version,
            trashed,
            key_wrap: sealed.0.into(),
            overview: sealed.1.into(),
            details: sealed.2.into(),
            created_at: ts,
            updated_at: ts,
            seq: 0,
            author_id: None,
        }
    }

    /// Creates an item in a profile; returns its id. Works offline (queued, shown red).
    pub async fn create_item(
        &mut self,
        profile: VaultKindDto,
        data: &ItemData,
    ) -> ClientResult<Uuid> {
        let id = Uuid::new_v4();
        let vault = self.account.vault(profile)?;
        let key = SymmetricKey::generate();
        let sealed = codec::seal_item(&self.account, vault, id, &key, 1, data)?;
        let dto = Self::item_dto(vault, id, 1, data.trashed, sealed);
        self.queue(id, Some(dto)).await?;
        self.sync().await?;
        Ok(id)
    }

    /// Creates many items with one sync at the end (imports); returns their ids.
    pub async fn create_items(
        &mut self,
        profile: VaultKindDto,
        items: &[ItemData],
    ) -> ClientResult<Vec<Uuid>> {
        let vault = self.account.vault(profile)?;
        let mut ids = Vec::with_capacity(items.len());
        for data in items {
            let id = Uuid::new_v4();
            let key = SymmetricKey::generate();
            let sealed = codec::seal_item(&self.account, vault, id, &key, 1, data)?;
            let dto = Self::item_dto(vault, id, 1, data.trashed, sealed);
            self.cache.enqueue(id, None, Some(&dto), now()).await?;
            ids.push(id);
        }
        self.sync().await?;
        Ok(ids)
    }

    async fn update_item_queued(
        &mut self,
        id: Uuid,
        to_profile: Option<VaultKindDto>,
        trashed: Option<bool>,
        change: impl FnOnce(&mut ItemData) -> ClientResult<()>,
    ) -> ClientResult<(ItemData, i64)> {
        let o = self.view_object(id).await?;
        if o.kind != ObjectKindDto::Item {
            return Err(ClientError::NotFound(format!(
                "{id} is a folder, not an item"
            )));
        }
        let (mut data, key) = codec::open_details(&self.account, &o)?;
        change(&mut data)?;
        if let Some(t) = trashed {
            data.trashed = t;
        }
        data.updated_at = now();
        if let Some(share) = self.account.shares.get(o.vault_id) {
            crate::share::ops::require_writer(&share)?;
            if to_profile.is_some() {
                return Err(ClientError::Invalid(format!(
                    "the item is in the share {:?}; take it out with `castellan share remove-items`",
                    share.name
                )));
            }
            let version = self.next_version(id).await?;
            let me = self.account.user_id;
            let vref = codec::VaultRef::Share(share);
            let sealed = codec::seal_item_in(&vref, me, id, &key, version, &data)?;
            let mut dto = Self::item_dto_in(vref.id(), id, version, data.trashed, sealed);
            dto.created_at = o.created_at;
            dto.author_id = Some(me);
            self.queue(id, Some(dto)).await?;
            return Ok((data, version));
        }
        let target = match to_profile {
            Some(p) => self.account.vault(p)?,
            None => self.vault_for(o.vault_id)?,
        };
        let version = self.next_version(id).await?;
        let sealed = codec::seal_item(&self.account, target, id, &key, version, &data)?;
        let mut dto = Self::item_dto(target, id, version, data.trashed, sealed);
        dto.created_at = o.created_at;
        self.queue(id, Some(dto)).await?;
        Ok((data, version))
    }

    /// Rewrites an item after `change` edits it; `to_profile` moves it to the other vault.
    /// Returns the item and its new version. Works offline.
    pub async fn update_item(
        &mut self,
        id: Uuid,
        to_profile: Option<VaultKindDto>,
        trashed: Option<bool>,
        change: impl FnOnce(&mut ItemData) -> ClientResult<()>,
    ) -> ClientResult<(ItemData, i64)> {
        let r = self
            .update_item_queued(id, to_profile, trashed, change)
            .await?;
        self.sync().await?;
        Ok(r)
    }

    /// Deletes an item for good (it must be in the trash, or `force`).
    pub async fn purge_item(&mut self, id: Uuid, force: bool) -> ClientResult<()> {
        let o = self.view_object(id).await?;
        if let Some(share) = self.account.shares.get(o.vault_id) {
            crate::share::ops::require_writer(&share)?;
        }
        if !o.trashed && !force {
            return Err(ClientError::Invalid(
                "only items in the trash can be deleted for good; move it to the trash first"
                    .into(),
            ));
        }
        self.queue(id, None).await?;
        self.sync().await?;
        Ok(())
    }

    /// Deletes every trashed item of the account for good; returns how many.
    pub async fn empty_trash(&mut self) -> ClientResult<usize> {
        let snap = self.snapshot().await?;
        let trashed: Vec<Uuid> = snap
            .items
            .iter()
            .filter(|i| i.trashed)
            .filter(|i| {
                i.share_id
                    .is_none_or(|sid| self.account.shares.get(sid).is_some_and(|s| s.can_write()))
            })
            .map(|i| i.id)
            .collect();
        for id in &trashed {
            self.queue(*id, None).await?;
        }
        self.sync().await?;
        Ok(trashed.len())
    }

    // ---- folders

    async fn put_folder(
        &mut self,
        vault_id: Uuid,
        id: Uuid,
        data: &FolderData,
    ) -> ClientResult<()> {
        let version = self.next_version(id).await?;
        let vault = codec::vault_ref(&self.account, vault_id)?;
        if let Some(share) = vault.share() {
            crate::share::ops::require_writer(share)?;
        }
        let overview = codec::seal_folder_in(&vault, id, version, data)?;
        let author_id = vault.share().map(|_| self.account.user_id);
        let ts = now();
        let dto = ObjectDto {
            id,
            vault_id,
            kind: ObjectKindDto::Folder,
            version,
            trashed: false,
            key_wrap: Default::default(),
            overview: overview.into(),
            details: Default::default(),
            created_at: ts,
            updated_at: ts,
            seq: 0,
            author_id,
        };
        self.queue(id, Some(dto)).await
    }

    /// Returns the folder at `path` in `profile`, creating missing folders along the way.
    pub async fn ensure_folder_path(
        &mut self,
        snap: &mut Snapshot,
        profile: VaultKindDto,
        path: &str,
    ) -> ClientResult<Uuid> {
        let segs = folder::split_path(path)?;
        let vault_id = self.account.vault(profile)?.id;
        let mut parent: Option<Uuid> = None;
        for seg in segs {
            let existing = snap
                .folders
                .iter()
                .find(|f| {
                    f.share_id.is_none()
                        && f.profile == profile
                        && f.data.parent_id == parent
                        && f.data.name == seg
                })
                .map(|f| f.id);
            let id = match existing {
                Some(id) => id,
                None => {
                    let id = Uuid::new_v4();
                    let data = FolderData {
                        name: seg,
                        parent_id: parent,
                    };
                    self.put_folder(vault_id, id, &data).await?;
                    snap.folders.push(FolderEntry {
                        id,
                        vault_id,
                        profile,
                        version: 1,
                        data,
                        share_id: None,
                    });
                    id
                }
            };
            parent = Some(id);
        }
        parent.ok_or_else(|| ClientError::Invalid("empty folder path".into()))
    }

    /// Creates a folder path; fails if the full path already exists.
    pub async fn create_folder(&mut self, profile: VaultKindDto, path: &str) -> ClientResult<Uuid> {
        let mut snap = self.snapshot().await?;
        if snap.find_folder(profile, path)?.is_some() {
            return Err(ClientError::Conflict(format!(
                "the folder {path:?} already exists in the {} profile",
                profile.as_str()
            )));
        }
        let id = self.ensure_folder_path(&mut snap, profile, path).await?;
        self.sync().await?;
        Ok(id)
    }

    fn require_folder<'a>(
        snap: &'a Snapshot,
        profile: VaultKindDto,
        path: &str,
    ) -> ClientResult<&'a FolderEntry> {
        snap.find_folder(profile, path)?.ok_or_else(|| {
            ClientError::NotFound(format!(
                "no folder {path:?} in the {} profile",
                profile.as_str()
            ))
        })
    }

    fn sibling_taken(
        snap: &Snapshot,
        profile: VaultKindDto,
        parent: Option<Uuid>,
        name: &str,
        except: Uuid,
    ) -> bool {
        snap.folders.iter().any(|f| {
            f.share_id.is_none()
                && f.profile == profile
                && f.data.parent_id == parent
                && f.data.name == name
                && f.id != except
        })
    }

    pub async fn rename_folder(
        &mut self,
        profile: VaultKindDto,
        path: &str,
        new_name: &str,
    ) -> ClientResult<Uuid> {
        let snap = self.snapshot().await?;
        let f = Self::require_folder(&snap, profile, path)?.clone();
        let name = folder::check_name(new_name)?;
        if Self::sibling_taken(&snap, profile, f.data.parent_id, &name, f.id) {
            return Err(ClientError::Conflict(format!(
                "a folder named {name:?} already exists there"
            )));
        }
        let data = FolderData {
            name,
            parent_id: f.data.parent_id,
        };
        self.put_folder(f.vault_id, f.id, &data).await?;
        self.sync().await?;
        Ok(f.id)
    }

    /// Moves a folder under another (`None`: to the top level). Refuses cycles.
    pub async fn move_folder(
        &mut self,
        profile: VaultKindDto,
        path: &str,
        new_parent: Option<&str>,
    ) -> ClientResult<Uuid> {
        let snap = self.snapshot().await?;
        let f = Self::require_folder(&snap, profile, path)?.clone();
        let parent = match new_parent {
            Some(p) => Some(Self::require_folder(&snap, profile, p)?.id),
            None => None,
        };
        if let Some(p) = parent {
            if snap.subtree(f.id).contains(&p) {
                return Err(ClientError::Invalid(
                    "cannot move a folder into itself or one of its subfolders".into(),
                ));
            }
        }
        if Self::sibling_taken(&snap, profile, parent, &f.data.name, f.id) {
            return Err(ClientError::Conflict(format!(
                "a folder named {:?} already exists there",
                f.data.name
            )));
        }
        let data = FolderData {
            name: f.data.name.clone(),
            parent_id: parent,
        };
        self.put_folder(f.vault_id, f.id, &data).await?;
        self.sync().await?;
        Ok(f.id)
    }

    /// Deletes a folder. Items inside are never lost: they move to the parent or to the trash,
    /// as the caller chose. Returns (items moved or trashed, folders deleted).
    pub async fn delete_folder(
        &mut self,
        profile: VaultKindDto,
        path: &str,
        action: FolderItemsAction,
    ) -> ClientResult<(usize, usize)> {
        let snap = self.snapshot().await?;
        let f = Self::require_folder(&snap, profile, path)?.clone();
        let parent = f.data.parent_id;
        let (affected, to_delete): (HashSet<Uuid>, Vec<FolderEntry>) = match action {
            FolderItemsAction::MoveToParent => {
                for sub in snap
                    .folders
                    .iter()
                    .filter(|s| s.data.parent_id == Some(f.id))
                {
                    if Self::sibling_taken(&snap, profile, parent, &sub.data.name, sub.id) {
                        return Err(ClientError::Conflict(format!(
                            "the subfolder {:?} would clash with a folder of the same name in the parent; rename it first",
                            sub.data.name
                        )));
                    }
                }
                (HashSet::from([f.id]), vec![f.clone()])
            }
            FolderItemsAction::Trash => {
                let sub = snap.subtree(f.id);
                let mut list: Vec<FolderEntry> = snap
                    .folders
                    .iter()
                    .filter(|x| sub.contains(&x.id))
                    .cloned()
                    .collect();
                list.sort_by_key(|x| std::cmp::Reverse(depth(&snap, x.id)));
                (sub, list)
            }
        };
        let targets: Vec<Uuid> = snap
            .items
            .iter()
            .filter(|i| {
                i.overview
                    .folder_id
                    .is_some_and(|fid| affected.contains(&fid))
            })
            .map(|i| i.id)
            .collect();
        let (trash, new_folder) = match action {
            FolderItemsAction::MoveToParent => (None, parent),
            FolderItemsAction::Trash => (Some(true), None),
        };
        // Items first, then subfolders, then the folders themselves: an interruption never
        // leaves an item pointing at a deleted folder.
        for id in &targets {
            self.update_item_queued(*id, None, trash, |d| {
                d.folder_id = new_folder;
                Ok(())
            })
            .await?;
        }
        if action == FolderItemsAction::MoveToParent {
            let subs: Vec<FolderEntry> = snap
                .folders
                .iter()
                .filter(|s| s.data.parent_id == Some(f.id))
                .cloned()
                .collect();
            for s in subs {
                let data = FolderData {
                    name: s.data.name.clone(),
                    parent_id: parent,
                };
                self.put_folder(s.vault_id, s.id, &data).await?;
            }
        }
        for d in &to_delete {
            self.queue(d.id, None).await?;
        }
        self.sync().await?;
        Ok((targets.len(), to_delete.len()))
    }

    /// Folder tree of a profile as (profile, path, id), sorted by path.
    pub fn folder_paths(
        snap: &Snapshot,
        profile: Option<VaultKindDto>,
    ) -> Vec<(VaultKindDto, String, Uuid)> {
        let mut out: Vec<(VaultKindDto, String, Uuid)> = snap
            .folders
            .iter()
            .filter(|f| profile.is_none_or(|p| p == f.profile && f.share_id.is_none()))
            .map(|f| (f.profile, snap.folder_path(f.id), f.id))
            .collect();
        out.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        out
    }

    /// Number of items per folder id.
    pub fn folder_counts(snap: &Snapshot) -> HashMap<Uuid, usize> {
        let mut m = HashMap::new();
        for i in snap.items.iter().filter(|i| !i.trashed) {
            if let Some(f) = i.overview.folder_id {
                *m.entry(f).or_insert(0) += 1;
            }
        }
        m
    }
}

fn depth(snap: &Snapshot, id: Uuid) -> usize {
    let mut d = 0;
    let mut cur = snap.folder(id).and_then(|f| f.data.parent_id);
    while let Some(c) = cur {
        d += 1;
        if d > folder::MAX_FOLDER_DEPTH {
            break;
        }
        cur = snap.folder(c).and_then(|f| f.data.parent_id);
    }
    d
}

/// Groups items by profile for display.
pub fn by_profile(items: &[ItemEntry]) -> BTreeMap<&'static str, Vec<&ItemEntry>> {
    let mut m: BTreeMap<&'static str, Vec<&ItemEntry>> = BTreeMap::new();
    for i in items {
        m.entry(i.profile.as_str()).or_default().push(i);
    }
    m
}

/// Envelope sealing and opening for one account. Every context is built here from what the
/// client expects (its own user id, the vault it holds the key of, the object id and version it
/// asked for), never from a field the server could choose freely.
pub mod codec {
    use super::*;
    use crate::share::UnlockedShare;
    use std::sync::Arc;

    /// The vault an object lives in: one of the account's own, or a share.
    pub enum VaultRef<'a> {
        Own(&'a UnlockedVault),
        Share(Arc<UnlockedShare>),
    }

    impl VaultRef<'_> {
        pub fn id(&self) -> Uuid {
            match self {
                VaultRef::Own(v) => v.id,
                VaultRef::Share(s) => s.id,
            }
        }
        pub fn key(&self) -> &SymmetricKey {
            match self {
                VaultRef::Own(v) => &v.key,
                VaultRef::Share(s) => &s.key,
            }
        }
        pub fn key_id(&self) -> Uuid {
            match self {
                VaultRef::Own(v) => v.key_id(),
                VaultRef::Share(s) => s.key_id(),
            }
        }
        pub fn key_version(&self) -> u64 {
            match self {
                VaultRef::Own(v) => v.key_version,
                VaultRef::Share(s) => s.key_version.max(0) as u64,
            }
        }
        /// The organisation field of the contexts: nil for own vaults, the company for shares.
        pub fn org(&self) -> Uuid {
            match self {
                VaultRef::Own(_) => Uuid::nil(),
                VaultRef::Share(s) => s.company_id,
            }
        }
        /// The profile shown: shares are company data.
        pub fn profile(&self) -> VaultKindDto {
            match self {
                VaultRef::Own(v) => v.kind,
                VaultRef::Share(_) => VaultKindDto::Business,
            }
        }
        pub fn share(&self) -> Option<&Arc<UnlockedShare>> {
            match self {
                VaultRef::Own(_) => None,
                VaultRef::Share(s) => Some(s),
            }
        }
        pub fn share_id(&self) -> Option<Uuid> {
            self.share().map(|s| s.id)
        }
    }

    pub fn vault_ref(acct: &UnlockedAccount, id: Uuid) -> ClientResult<VaultRef<'_>> {
        if let Some(v) = acct.vault_by_id(id) {
            return Ok(VaultRef::Own(v));
        }
        acct.shares
            .get(id)
            .map(VaultRef::Share)
            .ok_or_else(|| ClientError::integrity(format!("object in unknown vault {id}")))
    }

    /// Who wrote an object, as its contexts name it: me in my own vaults; in a share, the
    /// author the server recorded (the envelopes fail to open if that is not who sealed them).
    fn author(acct: &UnlockedAccount, vault: &VaultRef<'_>, o: &ObjectDto) -> ClientResult<Uuid> {
        match vault {
            VaultRef::Own(_) => Ok(acct.user_id),
            VaultRef::Share(_) => o.author_id.ok_or_else(|| {
                ClientError::integrity(format!("share object {} has no author", o.id))
            }),
        }
    }

    fn item_key(vault: &VaultRef<'_>, o: &ObjectDto) -> ClientResult<SymmetricKey> {
        let ctx = Context::item_key_wrap(
            vault.org(),
            vault.id(),
            o.id,
            vault.key_version(),
            ITEM_KEY_VERSION,
        );
        Ok(crypto::unwrap_key(
            vault.key(),
            vault.key_id(),
            &ctx,
            o.key_wrap.as_slice(),
        )?)
    }

    fn item_ctx(
        org: Uuid,
        author: Uuid,
        overview: bool,
        vault_id: Uuid,
        item_id: Uuid,
        version: i64,
    ) -> Context {
        let v = version.max(0) as u64;
        if overview {
            Context::item_overview(org, vault_id, item_id, v, SCHEMA_VERSION, author)
        } else {
            Context::item_details(org, vault_id, item_id, v, SCHEMA_VERSION, author)
        }
    }

    pub fn open_overview(acct: &UnlockedAccount, o: &ObjectDto) -> ClientResult<ItemEntry> {
        let vault = vault_ref(acct, o.vault_id)?;
        let key = item_key(&vault, o)?;
        let author = author(acct, &vault, o)?;
        let pt = crypto::open(
            &key,
            item_key_id(o.id, ITEM_KEY_VERSION),
            &item_ctx(vault.org(), author, true, o.vault_id, o.id, o.version),
            o.overview.as_slice(),
        )?;
        let overview: ItemOverview = serde_json::from_slice(&pt).map_err(|_| {
            ClientError::integrity(format!("item {} has an unreadable overview", o.id))
        })?;
        if overview.trashed != o.trashed {
            return Err(ClientError::integrity(format!(
                "item {}: the server's trash flag disagrees with the encrypted item",
                o.id
            )));
        }
        Ok(ItemEntry {
            id: o.id,
            vault_id: o.vault_id,
            profile: vault.profile(),
            version: o.version,
            trashed: o.trashed,
            overview,
            share_id: vault.share_id(),
        })
    }

    /// The full item and its (unwrapped) item key.
    pub fn open_details(
        acct: &UnlockedAccount,
        o: &ObjectDto,
    ) -> ClientResult<(ItemData, SymmetricKey)> {
        let vault = vault_ref(acct, o.vault_id)?;
        let key = item_key(&vault, o)?;
        let author = author(acct, &vault, o)?;
        let pt = crypto::open(
            &key,
            item_key_id(o.id, ITEM_KEY_VERSION),
            &item_ctx(vault.org(), author, false, o.vault_id, o.id, o.version),
            o.details.as_slice(),
        )?;
        let data = serde_json::from_slice(&pt)
            .map_err(|_| ClientError::integrity(format!("item {} has unreadable details", o.id)))?;
        Ok((data, key))
    }

    pub fn open_folder(acct: &UnlockedAccount, o: &ObjectDto) -> ClientResult<FolderEntry> {
        let vault = vault_ref(acct, o.vault_id)?;
        if vault.share().is_some() {
            author(acct, &vault, o)?;
        }
        let ctx = Context::folder_metadata(vault.org(), vault.id(), o.id, o.version.max(0) as u64);
        let pt = crypto::open(vault.key(), vault.key_id(), &ctx, o.overview.as_slice())?;
        let data: FolderData = serde_json::from_slice(&pt)
            .map_err(|_| ClientError::integrity(format!("folder {} is unreadable", o.id)))?;
        Ok(FolderEntry {
            id: o.id,
            vault_id: o.vault_id,
            profile: vault.profile(),
            version: o.version,
            data,
            share_id: vault.share_id(),
        })
    }

    /// Seals an item into (key wrap, overview, details) for `version` in `vault`.
    pub fn seal_item(
        acct: &UnlockedAccount,
        vault: &UnlockedVault,
        item_id: Uuid,
        key: &SymmetricKey,
        version: i64,
        data: &ItemData,
    ) -> ClientResult<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        seal_item_in(
            &VaultRef::Own(vault),
            acct.user_id,
            item_id,
            key,
            version,
            data,
        )
    }

    /// Seals an item in any vault, naming `author` as its writer (me, except when an owner
    /// re-wraps a share's objects at a key rotation: their authors stay).
    pub fn seal_item_in(
        vault: &VaultRef<'_>,
        author: Uuid,
        item_id: Uuid,
        key: &SymmetricKey,
        version: i64,
        data: &ItemData,
    ) -> ClientResult<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let wrap_ctx = Context::item_key_wrap(
            vault.org(),
            vault.id(),
            item_id,
            vault.key_version(),
            ITEM_KEY_VERSION,
        );
        let key_wrap = crypto::wrap_key(vault.key(), vault.key_id(), &wrap_ctx, key);
        let kid = item_key_id(item_id, ITEM_KEY_VERSION);
        let ov = serde_json::to_vec(&data.overview())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let det = zeroize::Zeroizing::new(
            serde_json::to_vec(data).map_err(|e| ClientError::Protocol(e.to_string()))?,
        );
        let org = vault.org();
        let overview = crypto::seal(
            key,
            kid,
            &item_ctx(org, author, true, vault.id(), item_id, version),
            &ov,
        );
        let details = crypto::seal(
            key,
            kid,
            &item_ctx(org, author, false, vault.id(), item_id, version),
            &det,
        );
        Ok((key_wrap, overview, details))
    }

    pub fn seal_folder(
        vault: &UnlockedVault,
        id: Uuid,
        version: i64,
        data: &FolderData,
    ) -> ClientResult<Vec<u8>> {
        seal_folder_in(&VaultRef::Own(vault), id, version, data)
    }

    pub fn seal_folder_in(
        vault: &VaultRef<'_>,
        id: Uuid,
        version: i64,
        data: &FolderData,
    ) -> ClientResult<Vec<u8>> {
        let ctx = Context::folder_metadata(vault.org(), vault.id(), id, version.max(0) as u64);
        let pt = serde_json::to_vec(data).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(crypto::seal(vault.key(), vault.key_id(), &ctx, &pt))
    }

    /// Decrypts a listing. Objects older than a version already seen (`seen`) count as
    /// rollbacks. Any failure fails the whole listing, naming the objects.
    pub fn decrypt_snapshot(
        acct: &UnlockedAccount,
        seen: &SeenVersions,
        objects: &[ObjectDto],
    ) -> ClientResult<Snapshot> {
        let mut snap = Snapshot {
            items: Vec::with_capacity(objects.len()),
            folders: Vec::new(),
            shares: acct
                .shares
                .all()
                .iter()
                .map(|s| {
                    (
                        s.id,
                        ShareInfo {
                            id: s.id,
                            name: s.name.clone(),
                            role: s.role,
                        },
                    )
                })
                .collect(),
        };
        let mut bad: Vec<(Uuid, String)> = Vec::new();
        for o in objects {
            if let Some(&v) = seen.objects.get(&o.id) {
                if o.version < v {
                    bad.push((
                        o.id,
                        format!(
                            "object {} was rolled back from version {v} to {}",
                            o.id, o.version
                        ),
                    ));
                    continue;
                }
            }
            let r = match o.kind {
                ObjectKindDto::Item => open_overview(acct, o).map(|e| snap.items.push(e)),
                ObjectKindDto::Folder => open_folder(acct, o).map(|f| snap.folders.push(f)),
            };
            match r {
                Ok(()) => {}
                Err(ClientError::Integrity(m)) => bad.push((o.id, m)),
                Err(e) => return Err(e),
            }
        }
        if let Some((_, first)) = bad.first() {
            let ids: Vec<String> = bad.iter().map(|(id, _)| id.to_string()).collect();
            return Err(ClientError::integrity(format!(
                "{} object(s) failed verification ({}): {first}",
                bad.len(),
                ids.join(", ")
            )));
        }
        Ok(snap)
    }
}
