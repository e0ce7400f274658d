//! Sharing, client side (docs/sharing.md): share keys, signed access lists, grants, the share
//! vaults in the sync, and the share operations.
//!
//! What the server sends is untrusted. A share is used only after:
//! - its access list verified (signature by an owner whose member certificate verifies against
//!   the PINNED company key, or by the company key; version not below the one pinned here);
//! - its key grant verified (signed by an owner of that list) and opened (HPKE to my key, or to
//!   my group's key, which itself opens from my group grant and a roster signed by the company);
//! - the key opened the share's name (key confirmation).
//!
//! The verified state and the share key (wrapped under the account key) are kept in the offline
//! cache, so share objects open offline like the others. Objects of a share are accepted only
//! from writers, under a manifest signed by a writer (see `sync.rs`).

pub mod acl;
pub mod admin;
pub mod directory;
pub mod grant;
pub mod ops;
pub mod pins;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use castellan_crypto::{
    self as crypto, sha256, Context, HpkePrivateKey, SymmetricKey, VerifyingKey,
};
use castellan_types::{
    Bytes, PrincipalDto, PrincipalKindDto, ShareAclBody, ShareDto, ShareRoleDto, ShareStateDto,
    SignedDoc,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::UnlockedAccount;
use crate::api::ApiClient;
use crate::cache::Cache;
use crate::home::Home;
use crate::keyids::ak_id;
use crate::org::keys::KeyPair;
use crate::{ClientError, ClientResult};
use directory::Directory;

/// The folder under which shares appear.
pub const SHARED_FOLDERS: &str = "Shared folders";

/// A share this account can open, verified.
pub struct UnlockedShare {
    pub id: Uuid,
    pub company_id: Uuid,
    pub key: SymmetricKey,
    pub key_version: i64,
    pub acl: ShareAclBody,
    pub acl_doc: SignedDoc,
    pub name: String,
    pub state: ShareStateDto,
    /// My role (the strongest of my entry and my groups' entries in the verified list).
    pub role: ShareRoleDto,
    /// Groups through which I am a principal.
    pub my_groups: Vec<Uuid>,
    pub owners: BTreeSet<Uuid>,
    /// Writers with their certified signing keys.
    pub writers: BTreeMap<Uuid, [u8; 32]>,
    /// Whether this device fetched all of the share's objects once.
    pub fetched: bool,
}

impl std::fmt::Debug for UnlockedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockedShare")
            .field("id", &self.id)
            .field("key_version", &self.key_version)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl UnlockedShare {
    pub fn key_id(&self) -> Uuid {
        grant::share_key_id(self.id, self.key_version)
    }
    pub fn can_write(&self) -> bool {
        self.role.can_write()
    }
    pub fn is_owner(&self) -> bool {
        self.role == ShareRoleDto::Owner
    }
    /// Read-only with passwords hidden: the client never shows or copies secrets.
    pub fn hides_secrets(&self) -> bool {
        self.role == ShareRoleDto::ReadOnlyHidden
    }
    pub fn writer_key(&self, user: Uuid) -> Option<VerifyingKey> {
        self.writers
            .get(&user)
            .and_then(|k| VerifyingKey::from_bytes(k).ok())
    }
    pub fn is_writer(&self, user: Uuid) -> bool {
        self.writers.contains_key(&user)
    }
}

/// The verified shares of an unlocked account (shared by the sync and the commands).
#[derive(Default)]
pub struct ShareRing(RwLock<BTreeMap<Uuid, Arc<UnlockedShare>>>);

impl std::fmt::Debug for ShareRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShareRing({} shares)", self.all().len())
    }
}

impl ShareRing {
    pub fn get(&self, id: Uuid) -> Option<Arc<UnlockedShare>> {
        self.0.read().ok().and_then(|m| m.get(&id).cloned())
    }
    pub fn all(&self) -> Vec<Arc<UnlockedShare>> {
        self.0
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
    pub fn insert(&self, s: UnlockedShare) {
        if let Ok(mut m) = self.0.write() {
            m.insert(s.id, Arc::new(s));
        }
    }
    pub fn remove(&self, id: Uuid) {
        if let Ok(mut m) = self.0.write() {
            m.remove(&id);
        }
    }
    fn replace(&self, new: BTreeMap<Uuid, Arc<UnlockedShare>>) {
        if let Ok(mut m) = self.0.write() {
            *m = new;
        }
    }
}

/// A share's verified state as kept in the offline cache. The key is wrapped under the account
/// key (`Context::vault_key_wrap(user, share, key_version, "share")`); the name stays sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredShare {
    pub id: Uuid,
    pub company_id: Uuid,
    pub key_version: i64,
    pub ak_version: u64,
    pub key_wrap: Bytes,
    pub acl: SignedDoc,
    pub name: Bytes,
    pub state: ShareStateDto,
    pub role: ShareRoleDto,
    pub my_groups: Vec<Uuid>,
    pub owners: Vec<Uuid>,
    pub writers: BTreeMap<Uuid, Bytes>,
    /// SHA-256 over what was verified (list, grant, name): unchanged input needs no new check.
    pub verified: Bytes,
    pub fetched: bool,
}

fn wrap_ctx(user: Uuid, share: Uuid, key_version: i64) -> Context {
    Context::vault_key_wrap(user, share, key_version.max(0) as u64, "share")
}

impl StoredShare {
    fn unlock(&self, acct: &UnlockedAccount) -> ClientResult<UnlockedShare> {
        if self.ak_version != acct.ak_version {
            return Err(ClientError::integrity(
                "a stored share key is wrapped under an old account key",
            ));
        }
        let key = crypto::unwrap_key(
            &acct.ak,
            ak_id(acct.user_id, acct.ak_version),
            &wrap_ctx(acct.user_id, self.id, self.key_version),
            self.key_wrap.as_slice(),
        )?;
        let name = grant::open_name(
            &key,
            self.company_id,
            self.id,
            self.key_version,
            self.name.as_slice(),
        )?;
        let acl: ShareAclBody = crate::org::docs::peek(&self.acl)
            .ok_or_else(|| ClientError::integrity("a stored access list is malformed"))?;
        let mut writers = BTreeMap::new();
        for (u, k) in &self.writers {
            let k: [u8; 32] = k
                .as_slice()
                .try_into()
                .map_err(|_| ClientError::integrity("a stored writer key is malformed"))?;
            writers.insert(*u, k);
        }
        Ok(UnlockedShare {
            id: self.id,
            company_id: self.company_id,
            key,
            key_version: self.key_version,
            acl,
            acl_doc: self.acl.clone(),
            name,
            state: self.state,
            role: self.role,
            my_groups: self.my_groups.clone(),
            owners: self.owners.iter().copied().collect(),
            writers,
            fetched: self.fetched,
        })
    }

    pub fn from_unlocked(
        acct: &UnlockedAccount,
        s: &UnlockedShare,
        verified: Vec<u8>,
    ) -> ClientResult<Self> {
        let key_wrap = crypto::wrap_key(
            &acct.ak,
            ak_id(acct.user_id, acct.ak_version),
            &wrap_ctx(acct.user_id, s.id, s.key_version),
            &s.key,
        );
        Ok(StoredShare {
            id: s.id,
            company_id: s.company_id,
            key_version: s.key_version,
            ak_version: acct.ak_version,
            key_wrap: Bytes(key_wrap),
            acl: s.acl_doc.clone(),
            name: Bytes(grant::seal_name(
                &s.key,
                s.company_id,
                s.id,
                s.key_version,
                &s.name,
            )?),
            state: s.state,
            role: s.role,
            my_groups: s.my_groups.clone(),
            owners: s.owners.iter().copied().collect(),
            writers: s
                .writers
                .iter()
                .map(|(u, k)| (*u, Bytes(k.to_vec())))
                .collect(),
            verified: Bytes(verified),
            fetched: s.fetched,
        })
    }
}

pub(crate) fn parse_stored(data: &str) -> ClientResult<StoredShare> {
    serde_json::from_str(data).map_err(|e| ClientError::CorruptState {
        path: crate::cache::CACHE_FILE.into(),
        detail: format!("a stored share: {e}"),
    })
}

/// Loads the verified shares of the offline cache into the account (no server needed).
pub async fn load_ring(cache: &Cache, acct: &UnlockedAccount) -> ClientResult<()> {
    let mut map = BTreeMap::new();
    for (id, data) in cache.shares().await? {
        let st = parse_stored(&data)?;
        match st.unlock(acct) {
            Ok(s) => {
                map.insert(id, Arc::new(s));
            }
            // Wrapped under an older account key: verified again at the next sync.
            Err(ClientError::Integrity(_)) => {}
            Err(e) => return Err(e),
        }
    }
    acct.shares.replace(map);
    Ok(())
}

/// Whether a user in `state` reads the share's objects now.
pub fn readable(state: ShareStateDto, expires_at: Option<i64>, now: i64) -> bool {
    match state {
        ShareStateDto::Owned => true,
        ShareStateDto::Accepted => expires_at.is_none_or(|t| t > now),
        _ => false,
    }
}

fn fingerprint(d: &ShareDto) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&sha256(d.acl.body.as_slice()));
    b.extend_from_slice(&sha256(d.acl.signature.as_slice()));
    if let Some(g) = &d.grant {
        b.extend_from_slice(&sha256(g.sealed.as_slice()));
        b.extend_from_slice(&sha256(g.signature.as_slice()));
    }
    b.extend_from_slice(&sha256(d.name.as_slice()));
    b.extend_from_slice(&d.key_version.to_be_bytes());
    sha256(&b).to_vec()
}

/// Lazily fetched, verified organisation data for one refresh.
pub struct Org<'a> {
    pub api: &'a ApiClient,
    pub home: &'a Home,
    pub me: Uuid,
    dirs: BTreeMap<Uuid, Directory>,
    /// My groups: id → opened key pair (only those whose roster verified and lists me).
    my_groups: Option<BTreeMap<Uuid, KeyPair>>,
}

impl<'a> Org<'a> {
    pub fn new(api: &'a ApiClient, home: &'a Home, me: Uuid) -> Self {
        Org {
            api,
            home,
            me,
            dirs: BTreeMap::new(),
            my_groups: None,
        }
    }

    /// The verified directory of a company whose keys this device pinned.
    pub async fn directory(&mut self, company_id: Uuid) -> ClientResult<&Directory> {
        if !self.dirs.contains_key(&company_id) {
            let state = self.home.device()?;
            let company = state.org.keys(company_id)?.ok_or_else(|| {
                ClientError::integrity(format!(
                    "the keys of company {company_id} are not pinned on this device: cannot verify its members"
                ))
            })?;
            let resp = self.api.share_directory(company_id).await?;
            let dir = Directory::verify(&resp, company_id, &company, &state.shares)?;
            let versions: Vec<(Uuid, i64)> =
                dir.groups.values().map(|g| (g.id, g.version)).collect();
            let revocations = dir.revocations_version;
            pins::update_share_pins(self.home, |p| {
                for (g, v) in &versions {
                    p.record_roster(*g, *v);
                }
                p.record_revocations(company_id, revocations);
                Ok(())
            })?;
            self.dirs.insert(company_id, dir);
        }
        self.dirs
            .get(&company_id)
            .ok_or_else(|| ClientError::Protocol("directory".into()))
    }

    pub fn forget_directory(&mut self, company_id: Uuid) {
        self.dirs.remove(&company_id);
    }

    /// My groups' key pairs, opened from my group grants (roster verified with the pinned
    /// company key, keys equal to the roster's, I am in the roster).
    async fn my_groups(&mut self, me: &HpkePrivateKey) -> ClientResult<&BTreeMap<Uuid, KeyPair>> {
        if self.my_groups.is_none() {
            let state = self.home.device()?;
            let mut out = BTreeMap::new();
            let resp = match self.api.my_groups().await {
                Ok(r) => r.groups,
                Err(ClientError::Api { status: 404, .. }) => Vec::new(),
                Err(e) => return Err(e),
            };
            for mg in resp {
                let g = &mg.group;
                let Some(company) = state.org.keys(g.company_id)? else {
                    continue;
                };
                let Ok(v) = directory::verify_group(&company, g.company_id, g, &state.shares)
                else {
                    continue;
                };
                if !v.members.contains(&self.me) {
                    continue;
                }
                if let Ok(kp) =
                    KeyPair::open_group_grant(me, mg.grant.as_slice(), g.id, self.me, &v.keys)
                {
                    out.insert(g.id, kp);
                }
            }
            self.my_groups = Some(out);
        }
        Ok(self.my_groups.get_or_insert_with(BTreeMap::new))
    }
}

/// Verifies a served share and opens its key. `previous` is the list pinned on this device.
pub async fn verify_share(
    org: &mut Org<'_>,
    acct: &UnlockedAccount,
    d: &ShareDto,
) -> ClientResult<UnlockedShare> {
    let state = org.home.device()?;
    let previous: Option<ShareAclBody> = state
        .shares
        .acl(d.id)
        .and_then(|p| crate::org::docs::peek(&p.doc));
    let dir = org.directory(d.company_id).await?;
    let body = acl::verify(&d.acl, d.id, d.company_id, dir, previous.as_ref())?;
    state.shares.check_acl(d.id, body.version, &d.acl)?;
    if body.key_version != d.key_version {
        return Err(ClientError::integrity(format!(
            "share {}: the server's key version differs from the signed access list",
            d.id
        )));
    }
    let me = acct.user_id;
    let via_groups: Vec<Uuid> = dir
        .groups
        .values()
        .filter(|g| g.members.contains(&me))
        .map(|g| g.id)
        .filter(|g| {
            body.entries.iter().any(|e| {
                e.principal
                    == PrincipalDto {
                        kind: PrincipalKindDto::Group,
                        id: *g,
                    }
            })
        })
        .collect();
    let role = acl::role_of(&body, me, &via_groups).ok_or_else(|| {
        ClientError::integrity(format!(
            "share {}: the signed access list does not name this user",
            d.id
        ))
    })?;
    let writer_ids = acl::writers(&body, dir);
    let mut writers = BTreeMap::new();
    for w in writer_ids {
        if let Ok(m) = dir.member(w) {
            writers.insert(w, m.keys.signing);
        }
    }
    let owners = acl::owners(&body);
    let g = d.grant.as_ref().ok_or_else(|| {
        ClientError::NotFound(format!("share {} has no key grant for you yet", d.id))
    })?;
    let dir_owned = dir.clone();
    let key = match g.principal.kind {
        PrincipalKindDto::User => {
            if g.principal.id != me {
                return Err(ClientError::integrity(format!(
                    "the key grant of share {} is addressed to another user",
                    d.id
                )));
            }
            grant::open_grant(g, d.id, g.principal, &body, &dir_owned, &acct.encryption)?
        }
        PrincipalKindDto::Group => {
            if !via_groups.contains(&g.principal.id) {
                return Err(ClientError::integrity(format!(
                    "the key grant of share {} is for a group this user is not in",
                    d.id
                )));
            }
            let groups = org.my_groups(&acct.encryption).await?;
            let kp = groups.get(&g.principal.id).ok_or_else(|| {
                ClientError::integrity(format!(
                    "cannot open the keys of the group that share {} is granted to",
                    d.id
                ))
            })?;
            grant::open_grant(g, d.id, g.principal, &body, &dir_owned, &kp.encryption)?
        }
    };
    let name = grant::open_name(&key, d.company_id, d.id, d.key_version, d.name.as_slice())?;
    pins::update_share_pins(org.home, |p| {
        p.check_acl(d.id, body.version, &d.acl)?;
        p.record_acl(d.id, body.version, &d.acl);
        Ok(())
    })?;
    Ok(UnlockedShare {
        id: d.id,
        company_id: d.company_id,
        key,
        key_version: d.key_version,
        acl: body,
        acl_doc: d.acl.clone(),
        name,
        state: d.state,
        role,
        my_groups: via_groups,
        owners,
        writers,
        fetched: false,
    })
}

/// What a refresh changed.
#[derive(Debug, Default, Clone)]
pub struct RefreshReport {
    /// Shares newly readable on this device (their objects are fetched in full next).
    pub added: Vec<Uuid>,
    /// Shares whose local copy was dropped (revoked, expired, declined, deleted).
    pub dropped: Vec<Uuid>,
    /// Shares that failed verification (left out, with the reason).
    pub refused: Vec<(Uuid, String)>,
}

/// Brings the account's shares in line with the server: verifies new or changed shares, opens
/// their keys, stores them in the cache, and drops shares that are no longer readable. A share
/// that fails verification is refused (integrity error) and never used.
pub async fn refresh(
    home: &Home,
    cache: &Cache,
    api: &ApiClient,
    acct: &UnlockedAccount,
) -> ClientResult<RefreshReport> {
    let mut report = RefreshReport::default();
    let served = match api.shares().await {
        Ok(r) => r.shares,
        // A server without sharing, or a user without a company.
        Err(ClientError::Api { status: 404, .. }) => return Ok(report),
        Err(e) => return Err(e),
    };
    let now = crate::vault::now();
    let stored: BTreeMap<Uuid, StoredShare> = cache
        .shares()
        .await?
        .into_iter()
        .map(|(id, d)| parse_stored(&d).map(|s| (id, s)))
        .collect::<ClientResult<_>>()?;
    let mut org = Org::new(api, home, acct.user_id);
    let mut keep: BTreeMap<Uuid, Arc<UnlockedShare>> = BTreeMap::new();
    let mut writes: Vec<StoredShare> = Vec::new();
    let mut first_error: Option<ClientError> = None;
    for d in &served {
        if !readable(d.state, d.expires_at, now) {
            continue;
        }
        let fp = fingerprint(d);
        if let Some(st) = stored.get(&d.id) {
            if st.verified.as_slice() == fp.as_slice() && st.state == d.state {
                if let Some(s) = acct.shares.get(d.id) {
                    keep.insert(d.id, s);
                    continue;
                }
                if let Ok(s) = st.unlock(acct) {
                    keep.insert(d.id, Arc::new(s));
                    continue;
                }
            }
        }
        match verify_share(&mut org, acct, d).await {
            Ok(mut s) => {
                s.fetched = stored
                    .get(&d.id)
                    .is_some_and(|st| st.fetched && st.key_version == s.key_version);
                if !stored.contains_key(&d.id) {
                    report.added.push(d.id);
                }
                // Expired for everyone but owners: the signed list's expiry counts too.
                if !s.is_owner() && s.acl.expires_at.is_some_and(|t| t <= now) {
                    continue;
                }
                writes.push(StoredShare::from_unlocked(acct, &s, fp)?);
                keep.insert(d.id, Arc::new(s));
            }
            Err(ClientError::NotFound(_)) => {}
            Err(e @ ClientError::Integrity(_)) => {
                report.refused.push((d.id, e.to_string()));
                if first_error.is_none() {
                    first_error = Some(e);
                }
                // Keep the last verified copy (if any) rather than anything unverified.
                if let Some(s) = acct.shares.get(d.id) {
                    keep.insert(d.id, s);
                }
            }
            Err(e) => return Err(e),
        }
    }
    let mut tx = cache.begin().await?;
    for id in stored.keys() {
        if !keep.contains_key(id) {
            tx.drop_share(*id).await?;
            report.dropped.push(*id);
        }
    }
    for w in &writes {
        let json = serde_json::to_string(w).map_err(|e| ClientError::Protocol(e.to_string()))?;
        tx.put_share(w.id, &json).await?;
    }
    tx.commit().await?;
    acct.shares.replace(keep);
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(report)
}

/// Records that a share's objects were fetched in full on this device.
pub async fn set_fetched(
    cache: &Cache,
    acct: &UnlockedAccount,
    id: Uuid,
    fetched: bool,
) -> ClientResult<()> {
    if acct.shares.get(id).is_none() {
        return Ok(());
    }
    let Some((_, data)) = cache.shares().await?.into_iter().find(|(i, _)| *i == id) else {
        return Ok(());
    };
    let mut st = parse_stored(&data)?;
    st.fetched = fetched;
    let json = serde_json::to_string(&st).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let mut tx = cache.begin().await?;
    tx.put_share(id, &json).await?;
    tx.commit().await?;
    let mut map: BTreeMap<Uuid, Arc<UnlockedShare>> =
        acct.shares.all().into_iter().map(|x| (x.id, x)).collect();
    let mut new = st.unlock(acct)?;
    new.fetched = fetched;
    map.insert(id, Arc::new(new));
    acct.shares.replace(map);
    Ok(())
}

/// Stores a share this client just made or changed (already verified by construction).
pub async fn store_own(
    cache: &Cache,
    acct: &UnlockedAccount,
    s: UnlockedShare,
) -> ClientResult<()> {
    let st = StoredShare::from_unlocked(acct, &s, Vec::new())?;
    let json = serde_json::to_string(&st).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let mut tx = cache.begin().await?;
    tx.put_share(s.id, &json).await?;
    tx.commit().await?;
    acct.shares.insert(s);
    Ok(())
}
