//! Two-way sync between the offline cache and the server.
//!
//! Pull: fetch the change feed after the stored cursor (paged), apply it to the cache in one
//! transaction, refuse rolled-back objects, and check every vault against its signed manifest;
//! a refused pull leaves the cache untouched. Push: send queued changes in order, each with the
//! vault's next signed manifest; on a version conflict merge field by field (keeping a conflict
//! copy when both sides changed the same field), on a manifest conflict pull and retry. If the
//! server cannot be reached, queued changes are marked as failed (red) and kept.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use castellan_crypto::{SetElement, SetHash, SymmetricKey};
use castellan_types::{
    Bytes, DeleteObjectRequest, ErrorCode, ManifestDto, ObjectDto, ObjectKindDto, PutObjectRequest,
};
use serde::Serialize;
use uuid::Uuid;

use crate::account::UnlockedAccount;
use crate::api::{self, ApiClient};
use crate::cache::{Cache, PendingOp, PendingState, VaultSyncState};
use crate::folder::FolderData;
use crate::home::Home;
use crate::item::ItemData;
use crate::manifest::{self, Manifest};
use crate::merge;
use crate::vault::{codec, now};
use crate::{ClientError, ClientResult};

const PAGE: u32 = 1000;
const PULL_ATTEMPTS: usize = 3;
const PUSH_ATTEMPTS: usize = 6;

/// What one sync did.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SyncReport {
    /// Objects created, changed or deleted on the server that this device received.
    pub pulled: usize,
    /// Queued changes the server accepted.
    pub pushed: usize,
    /// Changes merged with a concurrent edit (field by field, or with a conflict copy).
    pub conflicts: usize,
    /// The server could not be reached; queued changes stay queued.
    pub offline: bool,
    /// Changes still queued after this sync.
    pub pending: usize,
    pub cursor: i64,
}

/// Runs one two-way sync for a device. Only one sync per device runs at a time (a lock file in
/// the home), so the CLI and the agent never send the same change twice.
pub async fn sync_now(home: &Home, account: &UnlockedAccount) -> ClientResult<SyncReport> {
    let state = home.device()?;
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    let cache = Cache::open(home.dir()).await?;
    let r = sync_with(home, &cache, &api, account).await;
    cache.close().await;
    r
}

/// [`sync_now`] with an already open cache and API client.
pub async fn sync_with(
    home: &Home,
    cache: &Cache,
    api: &ApiClient,
    account: &UnlockedAccount,
) -> ClientResult<SyncReport> {
    let _lock = SyncLock::acquire(home).await?;
    // Shares first: which ones this account reads now, verified, with their keys. A share that
    // fails verification is refused (and reported after the sync of everything else).
    let share_error = match crate::share::refresh(home, cache, api, account).await {
        Ok(_) => None,
        Err(e) if is_offline(&e) => None,
        Err(e) if api::is_unauthorized(&e) => return Err(ClientError::SessionExpired),
        Err(e) => Some(e),
    };
    let syncer = Syncer::new(cache, api, account);
    let report = syncer.run().await?;
    // A share whose objects or manifest failed verification was set aside (its last verified
    // copy kept) so that everything else synced; it is reported after the rest.
    let share_error =
        share_error.or_else(|| syncer.refused_shares().into_iter().next().map(|(_, e)| e));
    if !report.offline {
        crate::share::ops::owner_duties(home, cache, api, account).await;
        // Organisation backup: written when the Business vault changed (or daily); handovers.
        crate::backup::after_sync(home, cache, api, account).await;
    }
    match share_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

struct SyncLock(std::fs::File);

impl SyncLock {
    async fn acquire(home: &Home) -> ClientResult<SyncLock> {
        let path = home.dir().join("sync.lock");
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let f = opts
            .open(&path)
            .map_err(|e| ClientError::io(format!("cannot open {}", path.display()), e))?;
        for _ in 0..600 {
            match f.try_lock() {
                Ok(()) => return Ok(SyncLock(f)),
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(ClientError::io("cannot lock the sync", e))
                }
            }
        }
        Err(ClientError::Conflict(
            "another sync of this device is still running".into(),
        ))
    }
}

impl Drop for SyncLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

pub struct Syncer<'a> {
    pub cache: &'a Cache,
    pub api: &'a ApiClient,
    pub account: &'a UnlockedAccount,
    /// Shares whose objects or manifest failed verification in this sync: their objects are
    /// left out (the cache keeps the last verified copy) and they are fetched in full at the
    /// next sync, so one bad share never blocks the other vaults.
    refused: std::sync::Mutex<BTreeMap<Uuid, String>>,
}

/// Why a pull failed: because of one share (which can be set aside) or for everything.
enum PullError {
    Share(Uuid, ClientError),
    Other(ClientError),
}

impl From<ClientError> for PullError {
    fn from(e: ClientError) -> Self {
        PullError::Other(e)
    }
}

impl From<castellan_crypto::CryptoError> for PullError {
    fn from(e: castellan_crypto::CryptoError) -> Self {
        PullError::Other(e.into())
    }
}

fn share_fault(share: Uuid) -> impl FnOnce(ClientError) -> PullError {
    move |e| PullError::Share(share, e)
}

fn is_offline(e: &ClientError) -> bool {
    matches!(e, ClientError::Unreachable { .. })
}

fn session_error(e: ClientError) -> ClientError {
    if api::is_unauthorized(&e) {
        ClientError::SessionExpired
    } else {
        e
    }
}

/// The per-vault (count, set hash) kept while applying a pull.
struct VaultSets {
    sets: BTreeMap<Uuid, (i64, SetHash)>,
}

impl VaultSets {
    fn get(&mut self, vault: Uuid, st: &VaultSyncState) -> ClientResult<&mut (i64, SetHash)> {
        match self.sets.entry(vault) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(e) => {
                let h = if st.set_hash.is_empty() {
                    SetHash::empty()
                } else {
                    SetHash::from_bytes(st.set_hash.as_slice()).map_err(|_| {
                        ClientError::CorruptState {
                            path: crate::cache::CACHE_FILE.into(),
                            detail: "bad set hash".into(),
                        }
                    })?
                };
                Ok(e.insert((st.count, h)))
            }
        }
    }
}

impl<'a> Syncer<'a> {
    pub fn new(cache: &'a Cache, api: &'a ApiClient, account: &'a UnlockedAccount) -> Self {
        Syncer {
            cache,
            api,
            account,
            refused: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The shares set aside during this sync, with the reason.
    pub fn refused_shares(&self) -> Vec<(Uuid, ClientError)> {
        let map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .map(|(id, m)| (*id, ClientError::Integrity(m.clone())))
            .collect()
    }

    fn is_refused(&self, share: Uuid) -> bool {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&share)
    }

    pub async fn run(&self) -> ClientResult<SyncReport> {
        let mut report = SyncReport::default();
        match self.pull().await {
            Ok(n) => report.pulled = n,
            Err(e) if is_offline(&e) => {
                self.cache
                    .mark_pending(PendingState::Failed, Some("server unreachable"), now())
                    .await?;
                report.offline = true;
                report.pending = self.cache.pending().await?.len();
                return Ok(report);
            }
            Err(e) => return Err(session_error(e)),
        }
        self.cache.set_all_pending().await?;
        match self.push(&mut report).await {
            Ok(()) => {}
            Err(e) if is_offline(&e) => {
                self.cache
                    .mark_pending(PendingState::Failed, Some("server unreachable"), now())
                    .await?;
                report.offline = true;
            }
            Err(e) => return Err(session_error(e)),
        }
        report.pending = self.cache.pending().await?.len();
        report.cursor = self
            .cache
            .meta("cursor")
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if !report.offline {
            self.cache
                .set_meta("last_sync_at", &now().to_string())
                .await?;
        }
        Ok(report)
    }

    /// Pulls and verifies; retries a few times when manifests and objects disagree, which a
    /// concurrent write can cause for a moment. A persistent disagreement is an attack: when it
    /// concerns one share, that share is set aside ([`Self::refused_shares`]) and the pull is
    /// done again without it; otherwise the pull fails and nothing is applied.
    pub async fn pull(&self) -> ClientResult<usize> {
        let mut attempt = 0;
        loop {
            let (share, e) = match self.pull_once().await {
                Ok(n) => return Ok(n),
                Err(PullError::Share(id, e)) => (Some(id), e),
                Err(PullError::Other(e)) => (None, e),
            };
            let transient =
                matches!(&e, ClientError::Integrity(m) if m.starts_with("manifest mismatch"));
            if transient && attempt + 1 < PULL_ATTEMPTS {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(150 * attempt as u64)).await;
                continue;
            }
            match (share, e) {
                (Some(id), ClientError::Integrity(m)) if !self.is_refused(id) => {
                    self.refused
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id, m);
                    attempt = 0;
                }
                (_, e) => return Err(e),
            }
        }
    }

    /// Whether the server may have emptied this vault and dropped its manifest: only the
    /// Business vault, and only when the account is no longer a member of any company (the
    /// company removed it under "remove business profile items when users are removed").
    /// Anything else that loses a manifest is refused as a rollback.
    async fn business_vault_reset(
        &self,
        vault: &crate::account::UnlockedVault,
    ) -> ClientResult<bool> {
        if vault.kind != castellan_types::VaultKindDto::Business {
            return Ok(false);
        }
        let membership = self.api.membership().await.map_err(session_error)?;
        Ok(membership.company.is_none())
    }

    async fn pull_once(&self) -> Result<usize, PullError> {
        let start: i64 = self
            .cache
            .meta("cursor")
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut tx = self.cache.begin().await?;
        let mut sets = VaultSets {
            sets: BTreeMap::new(),
        };
        let shares: Vec<_> = self
            .account
            .shares
            .all()
            .into_iter()
            .filter(|s| !self.is_refused(s.id))
            .collect();
        for id in self
            .account
            .vaults
            .iter()
            .map(|v| v.id)
            .chain(shares.iter().map(|s| s.id))
        {
            let st = tx.vault_state(id).await?;
            sets.get(id, &st)?;
        }
        // Share objects whose author is not a writer now (accepted only under a manifest signed
        // by an owner: a key rotation keeps the authors of older objects).
        let mut by_non_writers: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        // The cached objects and high-water marks, loaded once unless only a few changes come.
        let mut known: std::collections::HashMap<Uuid, (Uuid, Vec<u8>)> = Default::default();
        let mut seen: std::collections::HashMap<Uuid, i64> = Default::default();
        let mut loaded = false;
        let mut since = start;
        let mut pulled = 0;
        let mut reset = false;
        let mut listed: HashSet<Uuid> = HashSet::new();
        let mut manifests: Vec<ManifestDto>;
        let no_state = VaultSyncState::default();
        loop {
            let page = self.api.sync(since, PAGE).await?;
            if page.reset && since == start {
                reset = true;
            } else if page.reset || (page.cursor < since) {
                return Err(
                    ClientError::integrity("the server's change feed went backwards").into(),
                );
            }
            if !loaded && (page.objects.len() + page.tombstones.len() > 64 || page.reset) {
                (known, seen) = tx.entries().await?;
                loaded = true;
            }
            let mut batch: Vec<(&ObjectDto, [u8; 32])> = Vec::with_capacity(page.objects.len());
            for o in &page.objects {
                if !loaded {
                    if let Some(v) = tx.seen(o.id).await? {
                        seen.insert(o.id, v);
                    }
                    if let Some((v, _, el)) = tx.object_entry(o.id).await? {
                        known.insert(o.id, (v, el));
                    }
                }
                let own = self.account.vault_by_id(o.vault_id).is_some();
                if !own {
                    match shares.iter().find(|s| s.id == o.vault_id) {
                        Some(share) => match o.author_id {
                            Some(a) if share.is_writer(a) => {}
                            Some(_) => by_non_writers.entry(o.vault_id).or_default().push(o.id),
                            None => {
                                return Err(PullError::Share(
                                    o.vault_id,
                                    ClientError::integrity(format!(
                                        "share object {} has no author",
                                        o.id
                                    )),
                                ))
                            }
                        },
                        // A share that became readable after this sync's share refresh (fetched
                        // in full at the next sync), or one set aside in this sync.
                        None => continue,
                    }
                }
                if let Some(&v) = seen.get(&o.id) {
                    if o.version < v {
                        let e = ClientError::integrity(format!(
                            "object {} was rolled back from version {v} to {}",
                            o.id, o.version
                        ));
                        return Err(if own {
                            e.into()
                        } else {
                            PullError::Share(o.vault_id, e)
                        });
                    }
                }
                if let Some((old_vault, old_el)) = known.get(&o.id) {
                    let set = sets.get(*old_vault, &no_state)?;
                    set.0 -= 1;
                    set.1.remove(
                        &SetElement::from_bytes(old_el)
                            .map_err(|_| ClientError::integrity("bad cached element"))?,
                    )?;
                }
                let el = manifest::element(o);
                let set = sets.get(o.vault_id, &no_state)?;
                set.0 += 1;
                set.1.add(&el)?;
                batch.push((o, el.to_bytes()));
                known.insert(o.id, (o.vault_id, el.to_bytes().to_vec()));
                listed.insert(o.id);
                pulled += 1;
            }
            tx.put_objects(&batch).await?;
            for t in &page.tombstones {
                if !loaded {
                    if let Some((v, _, el)) = tx.object_entry(t.id).await? {
                        known.insert(t.id, (v, el));
                    }
                }
                // A share set aside in this sync keeps its cached copy untouched.
                if known.get(&t.id).is_some_and(|(v, _)| self.is_refused(*v)) {
                    continue;
                }
                if let Some((old_vault, old_el)) = known.remove(&t.id) {
                    let set = sets.get(old_vault, &no_state)?;
                    set.0 -= 1;
                    set.1.remove(
                        &SetElement::from_bytes(&old_el)
                            .map_err(|_| ClientError::integrity("bad cached element"))?,
                    )?;
                    tx.delete_object(t.id).await?;
                    pulled += 1;
                }
            }
            since = page.cursor;
            manifests = page.manifests;
            if !page.has_more {
                break;
            }
        }
        // Shares this device reads but never fetched: their objects predate the cursor, so
        // fetch them in full (and replace whatever the cache held of them).
        let mut fetched_now = Vec::new();
        for share in shares.iter().filter(|s| !s.fetched) {
            let fault = |e| PullError::Share(share.id, e);
            let listing = self.api.list_objects(Some(share.id)).await?;
            // The listing replaces whatever the cache held of the share: its set starts empty
            // (the pinned manifest counter still guards against a rollback).
            sets.sets.insert(share.id, (0, SetHash::empty()));
            for (id, _) in tx.vault_entries(share.id).await? {
                tx.delete_object(id).await?;
                known.remove(&id);
            }
            let mut batch: Vec<(&ObjectDto, [u8; 32])> = Vec::new();
            for o in &listing.objects {
                if o.vault_id != share.id {
                    return Err(fault(ClientError::integrity(format!(
                        "the server listed object {} of another vault as part of share {}",
                        o.id, share.id
                    ))));
                }
                if let Some(v) = tx.seen(o.id).await? {
                    if o.version < v {
                        return Err(fault(ClientError::integrity(format!(
                            "object {} was rolled back from version {v} to {}",
                            o.id, o.version
                        ))));
                    }
                }
                match o.author_id {
                    Some(a) if share.is_writer(a) => {}
                    Some(_) => by_non_writers.entry(share.id).or_default().push(o.id),
                    None => {
                        return Err(fault(ClientError::integrity(format!(
                            "share object {} has no author",
                            o.id
                        ))))
                    }
                }
                let el = manifest::element(o);
                let set = sets.get(share.id, &no_state)?;
                set.0 += 1;
                set.1.add(&el)?;
                batch.push((o, el.to_bytes()));
                known.insert(o.id, (o.vault_id, el.to_bytes().to_vec()));
                listed.insert(o.id);
                pulled += 1;
            }
            tx.put_objects(&batch).await?;
            fetched_now.push(share.id);
        }
        if reset {
            if !loaded {
                (known, _) = tx.entries().await?;
                known.retain(|id, _| !listed.contains(id));
            }
            // A full listing: whatever the cache holds beyond it is gone on the server.
            let gone: Vec<Uuid> = known
                .iter()
                .filter(|(id, (v, _))| !listed.contains(*id) && !self.is_refused(*v))
                .map(|(id, _)| *id)
                .collect();
            for id in gone {
                if let Some((v, el)) = known.remove(&id) {
                    let set = sets.get(v, &no_state)?;
                    set.0 -= 1;
                    set.1.remove(
                        &SetElement::from_bytes(&el)
                            .map_err(|_| ClientError::integrity("bad cached element"))?,
                    )?;
                }
                tx.delete_object(id).await?;
            }
        }
        // Every vault must match its newest signed manifest.
        let vk = self.account.signing.verifying_key();
        for vault in &self.account.vaults {
            let st = tx.vault_state(vault.id).await?;
            let (count, hash) = *sets.get(vault.id, &st)?;
            let m = manifests.iter().find(|m| m.vault_id == vault.id);
            let new_state = match m {
                None => {
                    if st.counter > 0 && !(count == 0 && self.business_vault_reset(vault).await?) {
                        return Err(ClientError::integrity(format!(
                            "the server no longer has the manifest of the {} vault (this device saw version {})",
                            vault.kind.as_str(),
                            st.counter
                        )).into());
                    }
                    if count != 0 {
                        return Err(ClientError::integrity(format!(
                            "manifest mismatch: the {} vault has objects but no signed manifest",
                            vault.kind.as_str()
                        ))
                        .into());
                    }
                    VaultSyncState {
                        counter: 0,
                        manifest: None,
                        count,
                        set_hash: Bytes(hash.to_bytes().to_vec()),
                    }
                }
                Some(m) => {
                    let verified =
                        Manifest::verify(m.manifest.as_slice(), &vk, vault.id, m.counter)?;
                    if m.counter < st.counter {
                        return Err(ClientError::integrity(format!(
                            "the server replayed an old state of the {} vault (manifest {} after {})",
                            vault.kind.as_str(),
                            m.counter,
                            st.counter
                        )).into());
                    }
                    if verified.count != count || verified.set_hash.as_slice() != hash.to_bytes() {
                        return Err(ClientError::integrity(format!(
                            "manifest mismatch: the {} vault's objects do not match its signed manifest ({} expected, {} received): objects were dropped, duplicated or rolled back",
                            vault.kind.as_str(),
                            verified.count,
                            count
                        )).into());
                    }
                    VaultSyncState {
                        counter: m.counter,
                        manifest: Some(m.manifest.clone()),
                        count,
                        set_hash: Bytes(hash.to_bytes().to_vec()),
                    }
                }
            };
            tx.set_vault_state(vault.id, &new_state).await?;
        }
        for share in &shares {
            let st = tx.vault_state(share.id).await?;
            let (count, hash) = *sets.get(share.id, &st)?;
            let what = format!("share {:?}", share.name);
            let fault = share_fault(share.id);
            let Some(m) = manifests.iter().find(|m| m.vault_id == share.id) else {
                if st.counter > 0 || count != 0 {
                    return Err(fault(ClientError::integrity(format!(
                        "the server did not send the manifest of the {what}"
                    ))));
                }
                continue;
            };
            let verified =
                Manifest::verify_share(m.manifest.as_slice(), share.id, m.counter, |u| {
                    share.writer_key(u)
                })
                .map_err(share_fault(share.id))?;
            if m.counter < st.counter {
                return Err(fault(ClientError::integrity(format!(
                    "the server replayed an old state of the {what} (manifest {} after {})",
                    m.counter, st.counter
                ))));
            }
            if verified.count != count || verified.set_hash.as_slice() != hash.to_bytes() {
                return Err(fault(ClientError::integrity(format!(
                    "manifest mismatch: the {what}'s objects do not match its signed manifest ({} expected, {} received): objects were injected, dropped, duplicated or rolled back",
                    verified.count, count
                ))));
            }
            if let Some(ids) = by_non_writers.get(&share.id) {
                let signer_is_owner = verified.signer.is_some_and(|s| share.owners.contains(&s));
                if !signer_is_owner {
                    return Err(fault(ClientError::integrity(format!(
                        "the {what} contains {} object(s) written by someone who is not a writer of it ({})",
                        ids.len(),
                        ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
                    ))));
                }
            }
            tx.set_vault_state(
                share.id,
                &VaultSyncState {
                    counter: m.counter,
                    manifest: Some(m.manifest.clone()),
                    count,
                    set_hash: Bytes(hash.to_bytes().to_vec()),
                },
            )
            .await?;
        }
        tx.set_meta("cursor", &since.to_string()).await?;
        tx.commit().await?;
        for id in fetched_now {
            crate::share::set_fetched(self.cache, self.account, id, true).await?;
        }
        // Shares set aside skipped this pull's objects: fetch them in full next time.
        let refused: Vec<Uuid> = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        for id in refused {
            crate::share::set_fetched(self.cache, self.account, id, false).await?;
        }
        Ok(pulled)
    }

    async fn push(&self, report: &mut SyncReport) -> ClientResult<()> {
        // Resolving a conflict can queue a conflict copy: keep going until nothing new is queued.
        let mut tried: HashSet<i64> = HashSet::new();
        loop {
            let ops: Vec<PendingOp> = self
                .cache
                .pending()
                .await?
                .into_iter()
                .filter(|o| !tried.contains(&o.op))
                .collect();
            if ops.is_empty() {
                return Ok(());
            }
            tried.extend(ops.iter().map(|o| o.op));
            self.push_ops(ops, report).await?;
        }
    }

    async fn push_ops(&self, ops: Vec<PendingOp>, report: &mut SyncReport) -> ClientResult<()> {
        for op in ops {
            let mut op = op;
            let mut done = false;
            for _ in 0..PUSH_ATTEMPTS {
                match self.push_one(&op).await {
                    Ok(()) => {
                        report.pushed += 1;
                        done = true;
                        break;
                    }
                    Err(ClientError::Api {
                        code: ErrorCode::ManifestConflict,
                        ..
                    }) => {
                        self.pull().await?;
                    }
                    // A stale base, an object deleted elsewhere, or a create whose first answer was lost
                    // (the server has it already): pull, then rebuild the change on the new state.
                    Err(ClientError::Api {
                        code:
                            ErrorCode::VersionConflict | ErrorCode::NotFound | ErrorCode::AlreadyExists,
                        ..
                    }) => {
                        self.pull().await?;
                        if self.drop_if_applied(&op).await? {
                            done = true;
                            break;
                        }
                        match self.resolve(&op).await? {
                            Some(next) => {
                                report.conflicts += 1;
                                op = next;
                            }
                            None => {
                                done = true;
                                break;
                            }
                        }
                    }
                    Err(e) if is_offline(&e) || api::is_unauthorized(&e) => return Err(e),
                    Err(e) => {
                        self.cache
                            .mark_op(op.op, PendingState::Failed, Some(&e.to_string()), now())
                            .await?;
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                self.cache
                    .mark_op(
                        op.op,
                        PendingState::Failed,
                        Some("gave up after repeated conflicts"),
                        now(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    fn vault_set(st: &VaultSyncState) -> ClientResult<SetHash> {
        if st.set_hash.is_empty() {
            Ok(SetHash::empty())
        } else {
            Ok(SetHash::from_bytes(st.set_hash.as_slice())?)
        }
    }

    /// Sends one queued change with the next manifests, and applies the accepted result.
    async fn push_one(&self, op: &PendingOp) -> ClientResult<()> {
        if self.drop_if_applied(op).await? {
            return Ok(());
        }
        let current = self.cache.object(op.object_id).await?;
        // The server state moved since the change was made (we learned it in the pull).
        let base_version = op.base.as_ref().map(|b| b.version);
        if current.as_ref().map(|c| c.version) != base_version {
            return Err(ClientError::Api {
                status: 409,
                code: ErrorCode::VersionConflict,
                message: "stale base".into(),
                current_version: None,
            });
        }
        let old_el = match &current {
            Some(c) => Some(
                SetElement::from_bytes(&self.cache.element(c.id).await?.unwrap_or_default())
                    .map_err(|_| ClientError::integrity("bad cached element"))?,
            ),
            None => None,
        };
        let mut states: BTreeMap<Uuid, VaultSyncState> = BTreeMap::new();
        let mut sets: BTreeMap<Uuid, (i64, SetHash)> = BTreeMap::new();
        for v in [
            current.as_ref().map(|c| c.vault_id),
            op.target.as_ref().map(|t| t.vault_id),
        ]
        .into_iter()
        .flatten()
        {
            if let std::collections::btree_map::Entry::Vacant(e) = states.entry(v) {
                let st = self.cache.vault_state(v).await?;
                sets.insert(v, (st.count, Self::vault_set(&st)?));
                e.insert(st);
            }
        }
        if let (Some(c), Some(el)) = (&current, &old_el) {
            let s = sets
                .get_mut(&c.vault_id)
                .ok_or_else(|| ClientError::Protocol("vault".into()))?;
            s.0 -= 1;
            s.1.remove(el)?;
        }
        let new_el = op.target.as_ref().map(manifest::element);
        if let (Some(t), Some(el)) = (&op.target, &new_el) {
            let s = sets
                .get_mut(&t.vault_id)
                .ok_or_else(|| ClientError::Protocol("vault".into()))?;
            s.0 += 1;
            s.1.add(el)?;
        }
        let mut manifests = Vec::new();
        let mut new_states = Vec::new();
        for (v, st) in &states {
            let (count, hash) = sets[v];
            let counter = st.counter + 1;
            let m = if self.account.shares.get(*v).is_some() {
                Manifest::sign_share(
                    &self.account.signing,
                    self.account.user_id,
                    *v,
                    counter,
                    count,
                    &hash,
                )
            } else {
                Manifest::sign(&self.account.signing, *v, counter, count, &hash)
            };
            let blob = Bytes(m.to_bytes());
            manifests.push(ManifestDto {
                vault_id: *v,
                counter,
                manifest: blob.clone(),
            });
            new_states.push((
                *v,
                VaultSyncState {
                    counter,
                    manifest: Some(blob),
                    count,
                    set_hash: Bytes(hash.to_bytes().to_vec()),
                },
            ));
        }
        let stored = match &op.target {
            Some(t) => {
                let req = PutObjectRequest {
                    vault_id: t.vault_id,
                    kind: t.kind,
                    version: t.version,
                    expected_version: base_version,
                    trashed: t.trashed,
                    key_wrap: t.key_wrap.clone(),
                    overview: t.overview.clone(),
                    details: t.details.clone(),
                    manifests,
                };
                let stored = self.api.put_object(op.object_id, &req).await?;
                if Some(manifest::element(&stored)) != new_el || stored.id != op.object_id {
                    return Err(ClientError::integrity(
                        "the server stored something other than what was sent",
                    ));
                }
                Some(stored)
            }
            None => {
                let version = base_version
                    .ok_or_else(|| ClientError::Protocol("delete without base".into()))?;
                self.api
                    .delete_object(op.object_id, &DeleteObjectRequest { version, manifests })
                    .await?;
                None
            }
        };
        let mut tx = self.cache.begin().await?;
        match (&stored, &new_el) {
            (Some(s), Some(el)) => tx.put_object(s, &el.to_bytes()).await?,
            _ => tx.delete_object(op.object_id).await?,
        }
        for (v, st) in &new_states {
            tx.set_vault_state(*v, st).await?;
        }
        tx.remove_op(op.op).await?;
        tx.commit().await
    }

    /// A change whose earlier attempt reached the server although its answer was lost is
    /// already in the (freshly pulled) cache: drop it from the queue instead of sending or
    /// merging it again.
    async fn drop_if_applied(&self, op: &PendingOp) -> ClientResult<bool> {
        let current = self.cache.object(op.object_id).await?;
        let applied = match (&current, &op.target) {
            (Some(c), Some(t)) => manifest::element(c) == manifest::element(t),
            (None, None) => op.base.is_some(),
            _ => false,
        };
        if applied {
            let mut tx = self.cache.begin().await?;
            tx.remove_op(op.op).await?;
            tx.commit().await?;
        }
        Ok(applied)
    }

    /// Rebuilds a queued change against the server's newer state. Returns the op to retry, or
    /// `None` when nothing is left to send.
    async fn resolve(&self, op: &PendingOp) -> ClientResult<Option<PendingOp>> {
        let remote = self.cache.object(op.object_id).await?;
        let ts = now();
        let Some(target) = &op.target else {
            // A delete racing with a newer edit elsewhere keeps the newer version; a delete of
            // something already gone is done.
            let mut tx = self.cache.begin().await?;
            tx.remove_op(op.op).await?;
            tx.commit().await?;
            return Ok(None);
        };
        let new_target = match target.kind {
            ObjectKindDto::Item => {
                let (local, key) = codec::open_details(self.account, target)?;
                let vault = codec::vault_ref(self.account, target.vault_id)?;
                let me = self.account.user_id;
                match &remote {
                    None => {
                        // Deleted elsewhere while edited here: bring it back as it is here.
                        let (w, o, d) =
                            codec::seal_item_in(&vault, me, op.object_id, &key, 1, &local)?;
                        ObjectDto {
                            version: 1,
                            key_wrap: w.into(),
                            overview: o.into(),
                            details: d.into(),
                            ..target.clone()
                        }
                    }
                    Some(remote_dto) => {
                        let (remote_data, remote_key) =
                            codec::open_details(self.account, remote_dto)?;
                        let base_data: ItemData = match &op.base {
                            Some(b) => codec::open_details(self.account, b)?.0,
                            None => remote_data.clone(),
                        };
                        let merged = merge::merge(&base_data, &local, &remote_data, ts);
                        if let Some(copy) = &merged.conflict_copy {
                            let id = Uuid::new_v4();
                            let k = SymmetricKey::generate();
                            let (w, o, d) = codec::seal_item_in(&vault, me, id, &k, 1, copy)?;
                            let dto = ObjectDto {
                                id,
                                version: 1,
                                key_wrap: w.into(),
                                overview: o.into(),
                                details: d.into(),
                                seq: 0,
                                ..target.clone()
                            };
                            self.cache.enqueue(id, None, Some(&dto), ts).await?;
                        }
                        let version = remote_dto.version + 1;
                        let (w, o, d) = codec::seal_item_in(
                            &vault,
                            me,
                            op.object_id,
                            &remote_key,
                            version,
                            &merged.item,
                        )?;
                        ObjectDto {
                            version,
                            trashed: merged.item.trashed,
                            key_wrap: w.into(),
                            overview: o.into(),
                            details: d.into(),
                            ..target.clone()
                        }
                    }
                }
            }
            ObjectKindDto::Folder => {
                let local = codec::open_folder(self.account, target)?.data;
                let vault = codec::vault_ref(self.account, target.vault_id)?;
                let (data, version) = match &remote {
                    None => (local, 1),
                    Some(r) => {
                        let remote_data = codec::open_folder(self.account, r)?.data;
                        let base = match &op.base {
                            Some(b) => codec::open_folder(self.account, b)?.data,
                            None => remote_data.clone(),
                        };
                        let name = if local.name != base.name && remote_data.name == base.name {
                            local.name.clone()
                        } else {
                            remote_data.name.clone()
                        };
                        let parent_id = if local.parent_id != base.parent_id
                            && remote_data.parent_id == base.parent_id
                        {
                            local.parent_id
                        } else {
                            remote_data.parent_id
                        };
                        (FolderData { name, parent_id }, r.version + 1)
                    }
                };
                let overview = codec::seal_folder_in(&vault, op.object_id, version, &data)?;
                ObjectDto {
                    version,
                    overview: overview.into(),
                    ..target.clone()
                }
            }
        };
        self.cache
            .rebase_op(op.op, remote.as_ref(), Some(&new_target))
            .await?;
        Ok(Some(PendingOp {
            base: remote,
            target: Some(new_target),
            ..op.clone()
        }))
    }
}
