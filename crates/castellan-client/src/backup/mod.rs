//! Organisation backup, client side (docs/org-backup.md).
//!
//! - Writing: after a sync, when the Business vault changed since the last backup (or a day
//!   passed), the member's client seals the Business items and folders (never the Personal
//!   profile, never a key) under a fresh key, seals that key with HPKE ONLY to the public key of
//!   the VERIFIED policy (signed with the pinned company key, counter pinned), signs the backup
//!   with its identity key and uploads it with its member certificate.
//! - Admin operations: enabling (offline key with a recovery kit and words, or a Recovery Group
//!   whose keys are sealed only to its members), Recovery Group membership (adding needs a
//!   current member's client; removing rotates the key), disabling, listing, restoring (verify
//!   the certificate, the signature, the ids and the key version BEFORE opening anything), and
//!   handovers to a member's new account.

pub mod words;

use std::path::{Path, PathBuf};

use castellan_crypto::{
    self as crypto, hpke_open, hpke_seal, Context, HpkePrivateKey, HpkePublicKey, KsfParams,
    SymmetricKey,
};
use castellan_types::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::account::UnlockedAccount;
use crate::api::ApiClient;
use crate::cache::Cache;
use crate::folder::FolderData;
use crate::home::Home;
use crate::item::ItemData;
use crate::org::docs::{self, normalise_email, sign};
use crate::org::keys::{fingerprint_display, KeyPair, PublicKeys};
use crate::org::pins::update_pins;
use crate::org::{now, policy, OrgSession};
use crate::vault::codec;
use crate::{ClientError, ClientResult};

/// HPKE info of a backup key: binds company, user, backup and key version.
pub const BACKUP_KEY_INFO: &[u8] = b"castellan/v1/org-backup-key";
/// HPKE info of a handover: binds company, user and handover id.
pub const HANDOVER_INFO: &[u8] = b"castellan/v1/org-backup-handover";
/// Name of the Recovery Group.
pub const RECOVERY_GROUP: &str = "Recovery Group";
/// The fingerprint key type of a backup public key.
pub const KEY_FINGERPRINT_TYPE: &str = "org-backup-key";
/// A backup is written at least this often while something syncs.
pub const MAX_BACKUP_AGE_SECS: i64 = 86_400;
const STATE_FILE: &str = "backup_state.json";
const PAYLOAD_FORMAT: u32 = 1;

fn invalid(msg: impl Into<String>) -> ClientError {
    ClientError::Invalid(msg.into())
}

/// `fingerprint("org-backup-key", public_key)` as 8 groups of 4 hex digits.
pub fn key_fingerprint(public_key: &[u8]) -> String {
    fingerprint_display(&crypto::fingerprint(KEY_FINGERPRINT_TYPE, public_key))
}

fn key_info(company_id: Uuid, user_id: Uuid, backup_id: Uuid, key_version: i64) -> Vec<u8> {
    let mut v = BACKUP_KEY_INFO.to_vec();
    v.extend_from_slice(company_id.as_bytes());
    v.extend_from_slice(user_id.as_bytes());
    v.extend_from_slice(backup_id.as_bytes());
    v.extend_from_slice(&key_version.to_be_bytes());
    v
}

fn handover_info(company_id: Uuid, user_id: Uuid, id: Uuid) -> Vec<u8> {
    let mut v = HANDOVER_INFO.to_vec();
    v.extend_from_slice(company_id.as_bytes());
    v.extend_from_slice(user_id.as_bytes());
    v.extend_from_slice(id.as_bytes());
    v
}

// ------------------------------------------------------------------ payload

/// A folder of the Business profile as backed up.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFolder {
    pub id: Uuid,
    pub data: FolderData,
}

/// The plaintext of a backup: the Business profile only. Wiped when dropped.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupPayload {
    pub format: u32,
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub created_at: i64,
    pub items: Vec<ItemData>,
    pub folders: Vec<BackupFolder>,
}

impl std::fmt::Debug for BackupPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupPayload")
            .field("user_id", &self.user_id)
            .field("items", &self.items.len())
            .field("folders", &self.folders.len())
            .finish_non_exhaustive()
    }
}

impl BackupPayload {
    /// The folder path of a folder id ("A/B"), from the payload's own folders.
    pub fn folder_path(&self, id: Uuid) -> Option<String> {
        let mut names = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            let f = self.folders.iter().find(|f| f.id == c)?;
            names.push(f.data.name.clone());
            cur = f.data.parent_id;
            if names.len() > crate::folder::MAX_FOLDER_DEPTH {
                return None;
            }
        }
        names.reverse();
        Some(names.join("/"))
    }
}

/// The Business items and folders of the account, from the cache (as last synced).
pub async fn business_payload(
    cache: &Cache,
    account: &UnlockedAccount,
    company_id: Uuid,
) -> ClientResult<BackupPayload> {
    let business = account.vault(VaultKindDto::Business)?.id;
    let mut items = Vec::new();
    let mut folders = Vec::new();
    for o in cache.objects().await? {
        // Only the Business vault: never the Personal profile, never a share.
        if o.vault_id != business {
            continue;
        }
        match o.kind {
            ObjectKindDto::Item => items.push(codec::open_details(account, &o)?.0),
            ObjectKindDto::Folder => {
                let f = codec::open_folder(account, &o)?;
                folders.push(BackupFolder {
                    id: f.id,
                    data: f.data,
                })
            }
        }
    }
    Ok(BackupPayload {
        format: PAYLOAD_FORMAT,
        company_id,
        user_id: account.user_id,
        created_at: now(),
        items,
        folders,
    })
}

/// A digest of the Business vault's state (ids and versions): a backup is due when it changes.
async fn business_digest(cache: &Cache, account: &UnlockedAccount) -> ClientResult<String> {
    let business = account.vault(VaultKindDto::Business)?.id;
    let mut v: Vec<(Uuid, i64)> = cache
        .objects()
        .await?
        .into_iter()
        .filter(|o| o.vault_id == business)
        .map(|o| (o.id, o.version))
        .collect();
    v.sort();
    let mut bytes = Vec::with_capacity(v.len() * 24);
    for (id, ver) in v {
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&ver.to_be_bytes());
    }
    Ok(hex::encode(crypto::sha256(&bytes)))
}

// ------------------------------------------------------------------ sealing and opening

/// Seals a payload into an upload: a fresh key, the envelope, the key sealed to the policy's
/// public key, the signature. `policy` must come from a VERIFIED policy document.
pub fn seal_backup(
    account: &UnlockedAccount,
    policy: &OrgBackupPolicy,
    member_cert: SignedDoc,
    payload: &BackupPayload,
) -> ClientResult<UploadBackupRequest> {
    let backup_id = Uuid::new_v4();
    let public = HpkePublicKey::from_bytes(policy.public_key.as_slice())
        .map_err(|_| ClientError::integrity("the policy's backup key is not an X25519 key"))?;
    let key = SymmetricKey::generate();
    let plaintext = Zeroizing::new(
        serde_json::to_vec(payload).map_err(|e| ClientError::Protocol(e.to_string()))?,
    );
    let ctx = Context::org_backup(
        payload.company_id,
        account.user_id,
        backup_id,
        policy.key_version as u64,
    );
    let envelope = crypto::seal(&key, backup_id, &ctx, &plaintext);
    let (enc, ct) = hpke_seal(
        &public,
        &key_info(
            payload.company_id,
            account.user_id,
            backup_id,
            policy.key_version,
        ),
        b"",
        key.expose_secret(),
    )?;
    let mut sealed_key = enc;
    sealed_key.extend_from_slice(&ct);
    let created_at = payload.created_at;
    let bytes = backup_signed_bytes(
        backup_id,
        payload.company_id,
        account.user_id,
        created_at,
        policy.key_version,
        policy.public_key.as_slice(),
        &crypto::sha256(&sealed_key),
        &crypto::sha256(&envelope),
    );
    let signature = account.signing.sign_statement(BACKUP_STATEMENT, &bytes);
    Ok(UploadBackupRequest {
        backup_id,
        created_at,
        key_version: policy.key_version,
        public_key: policy.public_key.clone(),
        sealed_key: Bytes(sealed_key),
        envelope: Bytes(envelope),
        member_cert,
        signature: Bytes(signature.to_vec()),
    })
}

/// Verifies a downloaded backup BEFORE anything is opened: the member certificate against the
/// pinned company key (naming the company and the user), the signature with the certified key,
/// the ids. Returns the certificate.
pub fn verify_backup(
    company: &PublicKeys,
    company_id: Uuid,
    user_id: Uuid,
    b: &BackupDto,
) -> ClientResult<MemberCertBody> {
    if b.company_id != company_id || b.user_id != user_id {
        return Err(ClientError::integrity(
            "the backup names another company or user",
        ));
    }
    let cert =
        docs::verify_member_cert(company, &b.member_cert, company_id, user_id).map_err(|e| {
            ClientError::integrity(format!(
                "the backup's member certificate does not verify with the company key ({e})"
            ))
        })?;
    let key = PublicKeys::from_slices(
        cert.signing_public_key.as_slice(),
        cert.encryption_public_key.as_slice(),
    )?
    .verifying_key()?;
    let bytes = backup_signed_bytes(
        b.backup_id,
        b.company_id,
        b.user_id,
        b.created_at,
        b.key_version,
        b.public_key.as_slice(),
        &crypto::sha256(b.sealed_key.as_slice()),
        &crypto::sha256(b.envelope.as_slice()),
    );
    key.verify_statement(BACKUP_STATEMENT, &bytes, b.signature.as_slice())
        .map_err(|_| {
            ClientError::integrity(
                "the backup is not signed by the user's certified key (tampered or forged)",
            )
        })?;
    Ok(cert)
}

/// Opens a VERIFIED backup with the backup private key.
pub fn open_backup(secret: &HpkePrivateKey, b: &BackupDto) -> ClientResult<BackupPayload> {
    if !crypto::ct_eq(&secret.public_key().to_bytes(), b.public_key.as_slice()) {
        return Err(invalid(format!(
            "this backup (key version {}) was sealed to another backup key than the one given",
            b.key_version
        )));
    }
    let sealed = b.sealed_key.as_slice();
    if sealed.len() < 48 {
        return Err(ClientError::integrity("the sealed backup key is malformed"));
    }
    let raw = hpke_open(
        secret,
        &sealed[..32],
        &key_info(b.company_id, b.user_id, b.backup_id, b.key_version),
        b"",
        &sealed[32..],
    )
    .map_err(|_| invalid("the backup key does not open with the key given"))?;
    let key = SymmetricKey::try_from_slice(&raw)?;
    let ctx = Context::org_backup(b.company_id, b.user_id, b.backup_id, b.key_version as u64);
    let pt = crypto::open(&key, b.backup_id, &ctx, b.envelope.as_slice())
        .map_err(|_| ClientError::integrity("the backup does not open (tampered)"))?;
    let payload: BackupPayload = serde_json::from_slice(&pt)
        .map_err(|e| ClientError::integrity(format!("the backup is malformed: {e}")))?;
    if payload.company_id != b.company_id || payload.user_id != b.user_id {
        return Err(ClientError::integrity(
            "the backup's contents name another company or user",
        ));
    }
    Ok(payload)
}

// ------------------------------------------------------------------ writing (every member)

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupState {
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub last_at: Option<i64>,
    #[serde(default)]
    pub key_version: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
}

pub fn load_state(home: &Home) -> BackupState {
    std::fs::read(home.dir().join(STATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save_state(home: &Home, s: &BackupState) -> ClientResult<()> {
    let path = home.dir().join(STATE_FILE);
    let bytes = serde_json::to_vec_pretty(s).map_err(|e| ClientError::Protocol(e.to_string()))?;
    write_private(&path, &bytes)
}

fn write_private(path: &Path, bytes: &[u8]) -> ClientResult<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&tmp)
        .map_err(|e| ClientError::io(format!("cannot write {}", tmp.display()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| ClientError::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| ClientError::io(format!("cannot write {}", path.display()), e))
}

/// What [`write_backup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Written {
        backup_id: Uuid,
        items: usize,
    },
    /// Nothing changed since the last backup, which is recent.
    NotDue,
    /// No policy (or no verified one), no company, or this member has no certificate yet.
    NotEnrolled(String),
}

/// Writes a backup when one is due (or always with `force`). The backup key comes ONLY from
/// the verified policy (a served document that fails verification is ignored).
pub async fn write_backup(
    home: &Home,
    cache: &Cache,
    api: &ApiClient,
    account: &UnlockedAccount,
    force: bool,
) -> ClientResult<WriteOutcome> {
    let mut state = load_state(home);
    let digest = business_digest(cache, account).await?;
    let recent = state
        .last_at
        .is_some_and(|t| now() - t < MAX_BACKUP_AGE_SECS);
    if !force && recent && state.digest.as_deref() == Some(digest.as_str()) {
        return Ok(WriteOutcome::NotDue);
    }
    let Some((membership, eff)) = crate::org::refresh_membership(home).await? else {
        return Ok(WriteOutcome::NotEnrolled("no company".into()));
    };
    let Some(policy) = eff.policies.org_backup.clone() else {
        return Ok(WriteOutcome::NotEnrolled(
            "the verified company policy has no organisation backup".into(),
        ));
    };
    let company_id = eff.company_id;
    let cert = membership
        .member
        .as_ref()
        .and_then(|m| m.cert.clone())
        .ok_or_else(|| invalid("this member has no certificate yet (not confirmed)"))?;
    let keys = home
        .device()?
        .org
        .keys(company_id)?
        .ok_or_else(|| ClientError::integrity("the company is not pinned on this device"))?;
    let body = docs::verify_member_cert(&keys, &cert, company_id, account.user_id)?;
    let mine = PublicKeys {
        signing: account.signing.verifying_key().to_bytes(),
        encryption: account.encryption.public_key().to_bytes(),
    };
    let certified = PublicKeys::from_slices(
        body.signing_public_key.as_slice(),
        body.encryption_public_key.as_slice(),
    )?;
    if !certified.ct_eq(&mine) {
        return Ok(WriteOutcome::NotEnrolled(
            "the member certificate is for other keys than this account's".into(),
        ));
    }
    let mut payload = business_payload(cache, account, company_id).await?;
    // Backup points are ordered by their (signed, whole-second) time: two backups in the same
    // second would make "the newest" ambiguous, so a later backup is always at least a second
    // after this device's previous one.
    if let Some(last) = state.last_at {
        payload.created_at = payload.created_at.max(last + 1);
    }
    let req = seal_backup(account, &policy, cert, &payload)?;
    api.upload_backup(company_id, &req).await?;
    state.digest = Some(digest);
    state.last_at = Some(payload.created_at);
    state.key_version = Some(policy.key_version);
    state.last_error = None;
    save_state(home, &state)?;
    Ok(WriteOutcome::Written {
        backup_id: req.backup_id,
        items: payload.items.len(),
    })
}

/// Called after every successful sync: writes a backup when due and imports handovers. Never
/// fails the sync; an error is kept for `castellan backup check`.
pub async fn after_sync(home: &Home, cache: &Cache, api: &ApiClient, account: &UnlockedAccount) {
    if let Err(e) = import_handovers(home, cache, api, account).await {
        let mut s = load_state(home);
        s.last_error = Some(format!("handover: {e}"));
        let _ = save_state(home, &s);
    }
    if let Err(e) = write_backup(home, cache, api, account, false).await {
        let mut s = load_state(home);
        s.last_error = Some(e.to_string());
        let _ = save_state(home, &s);
    }
}

// ------------------------------------------------------------------ handovers (the new account)

/// Imports handovers for this account: each must carry an admin certificate of the user's own
/// company (pinned key, role admin) and that admin's signature; then its items are queued as
/// new Business items (sent at the next sync) and the handover is deleted.
pub async fn import_handovers(
    home: &Home,
    cache: &Cache,
    api: &ApiClient,
    account: &UnlockedAccount,
) -> ClientResult<usize> {
    let list = match api.my_handovers().await {
        Ok(l) => l.handovers,
        Err(ClientError::Api { status: 404, .. }) => return Ok(0),
        Err(e) => return Err(e),
    };
    if list.is_empty() {
        return Ok(0);
    }
    let pins = home.device()?.org;
    let mut imported = 0;
    for h in list {
        let Some(keys) = pins.keys(h.company_id)? else {
            continue;
        };
        if pins.my_company != Some(h.company_id) || h.user_id != account.user_id {
            continue;
        }
        let cert = docs::verify_member_cert(&keys, &h.admin_cert, h.company_id, h.created_by)?;
        let revoked = crate::org::revoked_serials(api, home, h.company_id, &keys).await?;
        if revoked.contains(&cert.serial) {
            return Err(ClientError::integrity(
                "a handover was made with an administrator certificate the company revoked",
            ));
        }
        if cert.role != RoleDto::Admin {
            return Err(ClientError::integrity(
                "a handover was not made by an admin of the company",
            ));
        }
        let vk = PublicKeys::from_slices(
            cert.signing_public_key.as_slice(),
            cert.encryption_public_key.as_slice(),
        )?
        .verifying_key()?;
        let bytes = handover_signed_bytes(
            h.id,
            h.company_id,
            h.user_id,
            &crypto::sha256(h.sealed.as_slice()),
        );
        vk.verify_statement(HANDOVER_STATEMENT, &bytes, h.signature.as_slice())
            .map_err(|_| ClientError::integrity("a handover's signature does not verify"))?;
        let s = h.sealed.as_slice();
        if s.len() < 48 {
            return Err(ClientError::integrity("a handover is malformed"));
        }
        let pt = hpke_open(
            &account.encryption,
            &s[..32],
            &handover_info(h.company_id, h.user_id, h.id),
            b"",
            &s[32..],
        )
        .map_err(|_| ClientError::integrity("a handover does not open"))?;
        let payload: BackupPayload = serde_json::from_slice(&pt)
            .map_err(|e| ClientError::integrity(format!("a handover is malformed: {e}")))?;
        queue_items(cache, account, &payload).await?;
        api.delete_my_handover(h.id).await?;
        imported += payload.items.len();
    }
    Ok(imported)
}

/// Queues the payload's items as new Business items (folders are flattened away: a handover
/// restores the items; the user files them again).
async fn queue_items(
    cache: &Cache,
    account: &UnlockedAccount,
    payload: &BackupPayload,
) -> ClientResult<()> {
    let vault = account.vault(VaultKindDto::Business)?;
    for data in &payload.items {
        let mut data = data.clone();
        data.folder_id = None;
        let id = Uuid::new_v4();
        let key = SymmetricKey::generate();
        let sealed = codec::seal_item(account, vault, id, &key, 1, &data)?;
        let dto = crate::vault::VaultSession::item_dto_in(vault.id, id, 1, data.trashed, sealed);
        cache.enqueue(id, None, Some(&dto), now()).await?;
    }
    Ok(())
}

// ------------------------------------------------------------------ the recovery kit

/// The recovery kit file (JSON, mode 0600). Never printed by `Debug`; wiped when dropped.
#[derive(Serialize, Deserialize)]
pub struct RecoveryKit {
    pub kind: String,
    pub company_id: Uuid,
    pub key_version: i64,
    pub fingerprint: String,
    /// The X25519 private key, base64url.
    pub private_key: String,
}

impl Drop for RecoveryKit {
    fn drop(&mut self) {
        self.private_key.zeroize();
    }
}

impl std::fmt::Debug for RecoveryKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryKit")
            .field("company_id", &self.company_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

impl RecoveryKit {
    pub fn read(path: &Path) -> ClientResult<Self> {
        let bytes = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| ClientError::io(format!("cannot read {}", path.display()), e))?,
        );
        let kit: RecoveryKit = serde_json::from_slice(&bytes).map_err(|_| {
            invalid(format!(
                "{} is not a Castellan backup recovery kit",
                path.display()
            ))
        })?;
        if kit.kind != "castellan-backup-recovery-kit" {
            return Err(invalid(format!(
                "{} is not a Castellan backup recovery kit",
                path.display()
            )));
        }
        Ok(kit)
    }

    pub fn private_key(&self) -> ClientResult<HpkePrivateKey> {
        let raw = Zeroizing::new(
            Bytes::from_b64(&self.private_key)
                .ok_or_else(|| invalid("the recovery kit's key is malformed"))?
                .0,
        );
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| invalid("the recovery kit's key is malformed"))?;
        Ok(HpkePrivateKey::from_bytes(arr))
    }
}

/// Where the restoring admin's key comes from.
pub enum KeySource {
    KitFile(PathBuf),
    Words(Zeroizing<String>),
    /// Membership of the Recovery Group.
    Group,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::KitFile(p) => write!(f, "KitFile({})", p.display()),
            KeySource::Words(_) => f.write_str("Words(<redacted>)"),
            KeySource::Group => f.write_str("Group"),
        }
    }
}

// ------------------------------------------------------------------ admin operations

/// The outcome of `backup enable --mode offline-key`. `words` is the private key; shown once.
pub struct EnabledOffline {
    pub key_version: i64,
    pub fingerprint: String,
    pub kit_path: PathBuf,
    pub words: Zeroizing<String>,
}

impl std::fmt::Debug for EnabledOffline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnabledOffline")
            .field("key_version", &self.key_version)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EnabledGroup {
    pub key_version: i64,
    pub fingerprint: String,
    pub group_id: Uuid,
}

fn current_backup_policy(eff: &policy::EffectivePolicy) -> Option<&OrgBackupPolicy> {
    eff.policies.org_backup.as_ref()
}

/// Enables offline-key mode: a new key pair; the public half in a new signed policy (key
/// version + 1); the private half written to the kit file (0600) and returned as words.
pub async fn enable_offline(
    org: &OrgSession,
    company_id: Uuid,
    kit_path: &Path,
    retention_days: Option<u32>,
) -> ClientResult<EnabledOffline> {
    if kit_path.exists() {
        return Err(invalid(format!(
            "{} exists already; choose a new file for the recovery kit",
            kit_path.display()
        )));
    }
    let current = org.policy(company_id).await?;
    let key_version = current_backup_policy(&current).map_or(0, |p| p.key_version) + 1;
    let retention = retention_days
        .or(current_backup_policy(&current).map(|p| p.retention_days))
        .unwrap_or(90);
    let secret = HpkePrivateKey::generate();
    let public = secret.public_key().to_bytes();
    let fingerprint = key_fingerprint(&public);
    let raw = secret.to_bytes();
    let words = words::encode(&raw);
    // The kit is written before the policy: a key nobody holds is never published.
    let kit = RecoveryKit {
        kind: "castellan-backup-recovery-kit".into(),
        company_id,
        key_version,
        fingerprint: fingerprint.clone(),
        private_key: Bytes(raw.to_vec()).to_b64(),
    };
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(&kit).map_err(|e| ClientError::Protocol(e.to_string()))?,
    );
    drop(kit);
    write_private(kit_path, &json)?;
    let policy = OrgBackupPolicy {
        mode: OrgBackupMode::OfflineKey,
        public_key: Bytes(public.to_vec()),
        key_version,
        recovery_group_id: None,
        retention_days: retention,
    };
    if let Err(e) = org
        .set_policy(company_id, |p| p.org_backup = Some(policy))
        .await
    {
        let _ = std::fs::remove_file(kit_path);
        return Err(e);
    }
    Ok(EnabledOffline {
        key_version,
        fingerprint,
        kit_path: kit_path.to_path_buf(),
        words,
    })
}

/// My certified encryption key in the company (I must be a confirmed member).
async fn my_certified(
    org: &OrgSession,
    company_id: Uuid,
    keys: &PublicKeys,
) -> ClientResult<[u8; 32]> {
    let cert = org
        .membership
        .member
        .as_ref()
        .filter(|m| m.company_id == company_id)
        .and_then(|m| m.cert.clone())
        .ok_or_else(|| {
            invalid("only a confirmed member of this company can hold the Recovery Group's key")
        })?;
    let body = docs::verify_member_cert(keys, &cert, company_id, org.me())?;
    let pk: [u8; 32] = body
        .encryption_public_key
        .as_slice()
        .try_into()
        .map_err(|_| ClientError::integrity("bad certified key"))?;
    if !crypto::ct_eq(&pk, &org.account.encryption.public_key().to_bytes()) {
        return Err(ClientError::integrity(
            "your member certificate is for other keys than this account's",
        ));
    }
    Ok(pk)
}

/// Certified encryption keys of members, by email (certificate verified with the pinned key,
/// served keys equal to the certified ones).
async fn certified_members(
    org: &OrgSession,
    company_id: Uuid,
    keys: &PublicKeys,
    emails: &[String],
) -> ClientResult<Vec<(Uuid, String, [u8; 32])>> {
    let list = org.api.members(company_id).await?.members;
    let revoked = org.revoked_serials(company_id).await?;
    emails
        .iter()
        .map(|e| {
            let want = normalise_email(e);
            let m = list
                .iter()
                .find(|m| normalise_email(&m.email) == want)
                .ok_or_else(|| ClientError::NotFound(format!("no member {want}")))?;
            let cert = m.cert.as_ref().ok_or_else(|| {
                invalid(format!("{want} is not confirmed yet; confirm them first"))
            })?;
            let body = docs::verify_member_cert(keys, cert, company_id, m.user_id)?;
            if revoked.contains(&body.serial) {
                return Err(ClientError::integrity(format!(
                    "the server serves a certificate of {want} that the company revoked: refusing to use it"
                )));
            }
            if normalise_email(&body.email) != want {
                return Err(ClientError::integrity(format!(
                    "the certificate of {want} names another email"
                )));
            }
            let served = PublicKeys::from_slices(
                m.signing_public_key.as_slice(),
                m.encryption_public_key.as_slice(),
            )?;
            let certified = PublicKeys::from_slices(
                body.signing_public_key.as_slice(),
                body.encryption_public_key.as_slice(),
            )?;
            if !served.ct_eq(&certified) {
                return Err(ClientError::integrity(format!(
                    "the server sent other keys for {want} than the certified ones"
                )));
            }
            Ok((m.user_id, want, certified.encryption))
        })
        .collect()
}

/// A new Recovery Group (roster version 1 signed by the company; keys sealed only to `members`).
fn new_recovery_group(
    company: &KeyPair,
    company_id: Uuid,
    members: &[(Uuid, [u8; 32])],
) -> ClientResult<(NewRecoveryGroupDto, KeyPair)> {
    let group_id = Uuid::new_v4();
    let keys = KeyPair::generate();
    let public = keys.public();
    let body = GroupRosterBody {
        company_id,
        group_id,
        name: RECOVERY_GROUP.into(),
        is_everyone: false,
        version: 1,
        signing_public_key: Bytes(public.signing.to_vec()),
        encryption_public_key: Bytes(public.encryption.to_vec()),
        members: members.iter().map(|(u, _)| *u).collect(),
    };
    let grants = members
        .iter()
        .map(|(u, pk)| {
            Ok(GroupGrantDto {
                user_id: *u,
                sealed: Bytes(keys.seal_group_grant(pk, group_id, *u)?),
            })
        })
        .collect::<ClientResult<Vec<_>>>()?;
    Ok((
        NewRecoveryGroupDto {
            group_id,
            name: RECOVERY_GROUP.into(),
            keys: public.group_dto(),
            roster: sign(&company.signing, statement::GROUP_ROSTER, &body),
            grants,
        },
        keys,
    ))
}

/// Enables recovery-group mode: a new Recovery Group whose keys are sealed only to the enabling
/// admin (a confirmed member), its encryption key published in a new signed policy.
pub async fn enable_group(
    org: &OrgSession,
    company_id: Uuid,
    retention_days: Option<u32>,
) -> ClientResult<EnabledGroup> {
    let (company, keys) = org.company_keys(company_id).await?;
    let me = my_certified(org, company_id, &keys).await?;
    let current = org.policy(company_id).await?;
    let key_version = current_backup_policy(&current).map_or(0, |p| p.key_version) + 1;
    let retention = retention_days
        .or(current_backup_policy(&current).map(|p| p.retention_days))
        .unwrap_or(90);
    let (dto, group) = new_recovery_group(&company, company_id, &[(org.me(), me)])?;
    let public = group.public().encryption;
    org.api.create_recovery_group(company_id, &dto).await?;
    let policy = OrgBackupPolicy {
        mode: OrgBackupMode::RecoveryGroup,
        public_key: Bytes(public.to_vec()),
        key_version,
        recovery_group_id: Some(dto.group_id),
        retention_days: retention,
    };
    org.set_policy(company_id, |p| p.org_backup = Some(policy))
        .await?;
    Ok(EnabledGroup {
        key_version,
        fingerprint: key_fingerprint(&public),
        group_id: dto.group_id,
    })
}

/// The verified backup policy in recovery-group mode, and the Recovery Group it names.
async fn current_group(
    org: &OrgSession,
    company_id: Uuid,
    keys: &PublicKeys,
) -> ClientResult<(
    policy::EffectivePolicy,
    OrgBackupPolicy,
    GroupDto,
    GroupRosterBody,
)> {
    let eff = org.policy(company_id).await?;
    let p = current_backup_policy(&eff)
        .filter(|p| p.mode == OrgBackupMode::RecoveryGroup)
        .cloned()
        .ok_or_else(|| invalid("organisation backup is not in recovery-group mode"))?;
    let gid = p
        .recovery_group_id
        .ok_or_else(|| ClientError::integrity("the policy names no Recovery Group"))?;
    let g = org
        .api
        .groups(company_id)
        .await?
        .groups
        .into_iter()
        .find(|g| g.id == gid)
        .ok_or_else(|| {
            ClientError::NotFound("the Recovery Group is missing on the server".into())
        })?;
    let roster = docs::verify_roster(keys, &g.roster, company_id, gid)?;
    if !crypto::ct_eq(
        roster.encryption_public_key.as_slice(),
        p.public_key.as_slice(),
    ) {
        return Err(ClientError::integrity(
            "the Recovery Group's signed keys differ from the policy's backup key",
        ));
    }
    Ok((eff, p, g, roster))
}

/// My copy of a group's keys (from `/me/groups`), checked against the verified roster keys.
async fn my_group_keys(
    org: &OrgSession,
    group_id: Uuid,
    expected: &PublicKeys,
) -> ClientResult<KeyPair> {
    let mine = org.api.my_groups().await?;
    let g = mine
        .groups
        .iter()
        .find(|g| g.group.id == group_id)
        .ok_or_else(|| {
            invalid("you are not a member of the Recovery Group; a current member must add you")
        })?;
    KeyPair::open_group_grant(
        &org.account.encryption,
        g.grant.as_slice(),
        group_id,
        org.me(),
        expected,
    )
}

/// Adds a member to the Recovery Group: needs a current member (their client opens the group
/// keys, verifies the new member's certificate and seals the keys to them).
pub async fn add_recovery_member(
    org: &OrgSession,
    company_id: Uuid,
    email: &str,
) -> ClientResult<Uuid> {
    let (company, keys) = org.company_keys(company_id).await?;
    let (_, _, g, roster) = current_group(org, company_id, &keys).await?;
    let expected = PublicKeys::from_slices(
        roster.signing_public_key.as_slice(),
        roster.encryption_public_key.as_slice(),
    )?;
    let group_keys = my_group_keys(org, g.id, &expected).await?;
    let (uid, _, pk) = certified_members(org, company_id, &keys, &[email.to_string()])
        .await?
        .remove(0);
    if roster.members.contains(&uid) {
        return Err(invalid(format!("{email} is in the Recovery Group already")));
    }
    let mut members = roster.members.clone();
    members.push(uid);
    let body = GroupRosterBody {
        version: roster.version + 1,
        members,
        ..roster
    };
    org.api
        .update_roster(
            company_id,
            g.id,
            &RosterUpdateRequest {
                roster: sign(&company.signing, statement::GROUP_ROSTER, &body),
                grants: vec![GroupGrantDto {
                    user_id: uid,
                    sealed: Bytes(group_keys.seal_group_grant(&pk, g.id, uid)?),
                }],
            },
        )
        .await?;
    Ok(uid)
}

/// Removes a member from the Recovery Group and rotates the key: a new Recovery Group sealed to
/// the remaining members, a new policy (key version + 1); the old group (for older backups)
/// loses the member too.
pub async fn remove_recovery_member(
    org: &OrgSession,
    company_id: Uuid,
    email: &str,
) -> ClientResult<EnabledGroup> {
    let (company, keys) = org.company_keys(company_id).await?;
    let (_, p, g, roster) = current_group(org, company_id, &keys).await?;
    let all = org.api.members(company_id).await?.members;
    let want = normalise_email(email);
    let uid = all
        .iter()
        .find(|m| normalise_email(&m.email) == want)
        .map(|m| m.user_id)
        .filter(|u| roster.members.contains(u))
        .ok_or_else(|| invalid(format!("{want} is not in the Recovery Group")))?;
    let remaining: Vec<Uuid> = roster
        .members
        .iter()
        .copied()
        .filter(|u| *u != uid)
        .collect();
    if remaining.is_empty() {
        return Err(invalid(
            "the Recovery Group would be empty; add another member first (or disable backups)",
        ));
    }
    let emails: Vec<String> = remaining
        .iter()
        .filter_map(|u| {
            all.iter()
                .find(|m| m.user_id == *u)
                .map(|m| m.email.clone())
        })
        .collect();
    let members: Vec<(Uuid, [u8; 32])> = certified_members(org, company_id, &keys, &emails)
        .await?
        .into_iter()
        .map(|(u, _, pk)| (u, pk))
        .collect();
    // The old group keeps serving older backups, without the removed member.
    let old = GroupRosterBody {
        version: roster.version + 1,
        members: remaining.clone(),
        ..roster
    };
    org.api
        .update_roster(
            company_id,
            g.id,
            &RosterUpdateRequest {
                roster: sign(&company.signing, statement::GROUP_ROSTER, &old),
                grants: vec![],
            },
        )
        .await?;
    let (dto, group) = new_recovery_group(&company, company_id, &members)?;
    let public = group.public().encryption;
    org.api.create_recovery_group(company_id, &dto).await?;
    let key_version = p.key_version + 1;
    let policy = OrgBackupPolicy {
        mode: OrgBackupMode::RecoveryGroup,
        public_key: Bytes(public.to_vec()),
        key_version,
        recovery_group_id: Some(dto.group_id),
        retention_days: p.retention_days,
    };
    org.set_policy(company_id, |s| s.org_backup = Some(policy))
        .await?;
    Ok(EnabledGroup {
        key_version,
        fingerprint: key_fingerprint(&public),
        group_id: dto.group_id,
    })
}

/// Turns the policy off (a new signed policy) and deletes every backup of the company.
pub async fn disable(org: &OrgSession, company_id: Uuid) -> ClientResult<u64> {
    let eff = org.policy(company_id).await?;
    if eff.policies.org_backup.is_some() {
        org.set_policy(company_id, |p| p.org_backup = None).await?;
    }
    Ok(org.api.delete_backups(company_id).await?.deleted)
}

/// A backup opened after verification.
pub struct Restored {
    pub backup: BackupDto,
    pub payload: BackupPayload,
    pub mode: OrgBackupMode,
}

impl std::fmt::Debug for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restored")
            .field("backup_id", &self.backup.backup_id)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

/// The newest backup point of `email` at or before `at` (default: now).
pub async fn pick_point(
    org: &OrgSession,
    company_id: Uuid,
    email: &str,
    at: Option<i64>,
) -> ClientResult<(Uuid, BackupPointDto)> {
    let want = normalise_email(email);
    let list = org.api.backups(company_id, None).await?;
    // One email can have had several accounts (a reset or deleted account and the new one):
    // the points of all of them count.
    let users: Vec<_> = list
        .users
        .into_iter()
        .filter(|u| normalise_email(&u.email) == want)
        .collect();
    if users.is_empty() {
        return Err(ClientError::NotFound(format!("no backups of {want}")));
    }
    let at = at.unwrap_or(i64::MAX);
    users
        .into_iter()
        .flat_map(|u| u.points.into_iter().map(move |p| (u.user_id, p)))
        .filter(|(_, p)| p.created_at <= at)
        .max_by_key(|(_, p)| (p.created_at, p.backup_id))
        .ok_or_else(|| ClientError::NotFound(format!("no backup of {want} at or before that time")))
}

/// Downloads, VERIFIES and opens one backup with the given key source.
pub async fn restore(
    org: &OrgSession,
    company_id: Uuid,
    email: &str,
    at: Option<i64>,
    source: &KeySource,
) -> ClientResult<Restored> {
    let keys = org.company_public(company_id).await?;
    let (user_id, point) = pick_point(org, company_id, email, at).await?;
    let b = org.api.backup(company_id, point.backup_id).await?;
    if b.backup_id != point.backup_id {
        return Err(ClientError::integrity("the server sent another backup"));
    }
    verify_backup(&keys, company_id, user_id, &b)?;
    let (secret, mode) = match source {
        KeySource::KitFile(path) => {
            let kit = RecoveryKit::read(path)?;
            if kit.company_id != company_id {
                return Err(invalid(format!(
                    "{} is the recovery kit of another company",
                    path.display()
                )));
            }
            if kit.key_version != b.key_version {
                return Err(invalid(format!(
                    "this backup is sealed to backup key version {}; {} holds version {}",
                    b.key_version,
                    path.display(),
                    kit.key_version
                )));
            }
            (kit.private_key()?, OrgBackupMode::OfflineKey)
        }
        KeySource::Words(w) => (
            HpkePrivateKey::from_bytes(*words::decode(w)?),
            OrgBackupMode::OfflineKey,
        ),
        KeySource::Group => {
            let secret = group_secret_for(org, company_id, &keys, b.public_key.as_slice()).await?;
            (secret, OrgBackupMode::RecoveryGroup)
        }
    };
    let payload = open_backup(&secret, &b)?;
    Ok(Restored {
        backup: b,
        payload,
        mode,
    })
}

/// The Recovery Group key (from my grant) whose VERIFIED roster names `public_key`.
async fn group_secret_for(
    org: &OrgSession,
    company_id: Uuid,
    keys: &PublicKeys,
    public_key: &[u8],
) -> ClientResult<HpkePrivateKey> {
    let mine = org.api.my_groups().await?;
    for g in &mine.groups {
        if g.group.company_id != company_id {
            continue;
        }
        let Ok(roster) = docs::verify_roster(keys, &g.group.roster, company_id, g.group.id) else {
            continue;
        };
        if !crypto::ct_eq(roster.encryption_public_key.as_slice(), public_key)
            || !roster.members.contains(&org.me())
        {
            continue;
        }
        let expected = PublicKeys::from_slices(
            roster.signing_public_key.as_slice(),
            roster.encryption_public_key.as_slice(),
        )?;
        let kp = KeyPair::open_group_grant(
            &org.account.encryption,
            g.grant.as_slice(),
            g.group.id,
            org.me(),
            &expected,
        )?;
        return Ok(kp.encryption);
    }
    Err(invalid(
        "you are not a member of the Recovery Group that holds this backup's key",
    ))
}

/// Records the restore in the audit log.
pub async fn record_restore(
    org: &OrgSession,
    company_id: Uuid,
    r: &Restored,
    into: RestoreTargetDto,
) -> ClientResult<()> {
    org.api
        .backup_restored(
            company_id,
            r.backup.backup_id,
            &BackupRestoredRequest {
                into,
                items: r.payload.items.len() as u32,
            },
        )
        .await
}

/// Hands the restored items to the user's (new) account: sealed to their CERTIFIED key, signed
/// by me with my admin certificate; their client imports them at its next sync.
pub async fn hand_over(org: &OrgSession, company_id: Uuid, r: &Restored) -> ClientResult<Uuid> {
    let keys = org.company_public(company_id).await?;
    let (uid, _, pk) =
        certified_members(org, company_id, &keys, std::slice::from_ref(&r.backup.user_email))
            .await
            .map_err(|e| {
                invalid(format!(
                    "{} has no certified account to hand the items to ({e}); confirm their new account first",
                    r.backup.user_email
                ))
            })?
            .remove(0);
    let own_cert = org
        .membership
        .member
        .as_ref()
        .filter(|m| m.company_id == company_id)
        .and_then(|m| m.cert.clone());
    let admin_cert = match own_cert {
        Some(cert) => cert,
        // A partner admin or technician is not a member of the customer, but holds its root
        // key: they certify their own identity keys as an admin of it for this handover.
        None => {
            let (company_keys, _) = org.company_keys(company_id).await.map_err(|e| {
                invalid(format!(
                    "a handover needs an admin certificate of this company or its keys ({e})"
                ))
            })?;
            sign(
                &company_keys.signing,
                statement::MEMBER_CERT,
                &MemberCertBody {
                    company_id,
                    user_id: org.me(),
                    email: org.account.email.clone(),
                    role: RoleDto::Admin,
                    signing_public_key: Bytes(
                        org.account.signing.verifying_key().to_bytes().to_vec(),
                    ),
                    encryption_public_key: Bytes(
                        org.account.encryption.public_key().to_bytes().to_vec(),
                    ),
                    serial: Uuid::new_v4(),
                    issued_at: now(),
                    issued_by: org.me(),
                },
            )
        }
    };
    let id = Uuid::new_v4();
    let payload = BackupPayload {
        user_id: uid,
        ..r.payload.clone()
    };
    let pt = Zeroizing::new(
        serde_json::to_vec(&payload).map_err(|e| ClientError::Protocol(e.to_string()))?,
    );
    let pkey = HpkePublicKey::from_bytes(&pk)
        .map_err(|_| ClientError::integrity("the member's certified key is invalid"))?;
    let (enc, ct) = hpke_seal(&pkey, &handover_info(company_id, uid, id), b"", &pt)?;
    let mut sealed = enc;
    sealed.extend_from_slice(&ct);
    let bytes = handover_signed_bytes(id, company_id, uid, &crypto::sha256(&sealed));
    let signature = org
        .account
        .signing
        .sign_statement(HANDOVER_STATEMENT, &bytes);
    org.api
        .create_handover(
            company_id,
            &NewHandoverRequest {
                id,
                user_id: uid,
                sealed: Bytes(sealed),
                admin_cert,
                signature: Bytes(signature.to_vec()),
            },
        )
        .await?;
    Ok(uid)
}

/// An encrypted export file: the payload sealed under Argon2id(passphrase).
#[derive(Serialize, Deserialize)]
pub struct ExportFile {
    pub kind: String,
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub backup_id: Uuid,
    pub key_version: i64,
    pub kdf: String,
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    pub salt: Bytes,
    pub envelope: Bytes,
}

fn export_key(passphrase: &str, salt: &[u8], params: KsfParams) -> ClientResult<SymmetricKey> {
    let mut out = Zeroizing::new([0u8; 32]);
    crypto::argon2id(passphrase.as_bytes(), salt, params, &mut out[..])?;
    Ok(SymmetricKey::from_bytes(*out))
}

/// Writes the restored payload as an encrypted export file (mode 0600).
pub fn write_export(path: &Path, r: &Restored, passphrase: &str) -> ClientResult<()> {
    if passphrase.chars().count() < 8 {
        return Err(invalid("the export passphrase needs at least 8 characters"));
    }
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let params = KsfParams::FLOOR;
    let key = export_key(passphrase, &salt, params)?;
    let b = &r.backup;
    let ctx = Context::org_backup(b.company_id, b.user_id, b.backup_id, b.key_version as u64);
    let pt = Zeroizing::new(
        serde_json::to_vec(&r.payload).map_err(|e| ClientError::Protocol(e.to_string()))?,
    );
    let envelope = crypto::seal(&key, b.backup_id, &ctx, &pt);
    let file = ExportFile {
        kind: "castellan-backup-export".into(),
        company_id: b.company_id,
        user_id: b.user_id,
        backup_id: b.backup_id,
        key_version: b.key_version,
        kdf: "argon2id".into(),
        m_kib: params.m_kib,
        t: params.t,
        p: params.p,
        salt: Bytes(salt.to_vec()),
        envelope: Bytes(envelope),
    };
    let json =
        serde_json::to_vec_pretty(&file).map_err(|e| ClientError::Protocol(e.to_string()))?;
    write_private(path, &json)
}

/// Reads an export file back (for tests and for importing elsewhere).
pub fn read_export(path: &Path, passphrase: &str) -> ClientResult<BackupPayload> {
    let bytes = std::fs::read(path)
        .map_err(|e| ClientError::io(format!("cannot read {}", path.display()), e))?;
    let f: ExportFile =
        serde_json::from_slice(&bytes).map_err(|_| invalid("not a Castellan backup export"))?;
    let params = KsfParams {
        m_kib: f.m_kib,
        t: f.t,
        p: f.p,
    };
    params.check_floor()?;
    let key = export_key(passphrase, f.salt.as_slice(), params)?;
    let ctx = Context::org_backup(f.company_id, f.user_id, f.backup_id, f.key_version as u64);
    let pt = crypto::open(&key, f.backup_id, &ctx, f.envelope.as_slice())
        .map_err(|_| invalid("wrong passphrase, or the export file is damaged"))?;
    serde_json::from_slice(&pt).map_err(|e| invalid(format!("the export is malformed: {e}")))
}

// ------------------------------------------------------------------ self-check

#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    pub check: String,
    pub pass: bool,
    pub detail: String,
}

fn line(check: &str, pass: bool, detail: impl Into<String>) -> CheckLine {
    CheckLine {
        check: check.into(),
        pass,
        detail: detail.into(),
    }
}

/// The preconditions of a backup, for this account or (as an admin) for another member.
pub async fn check(org: &OrgSession, user: Option<&str>) -> Vec<CheckLine> {
    let mut out = Vec::new();
    out.push(match org.api.health().await {
        Ok(_) => line("server reachable", true, org.api.base_url()),
        Err(e) => line("server reachable", false, e.to_string()),
    });
    let Ok(company) = org.my_company() else {
        out.push(line(
            "member of a company",
            false,
            "this account has no company",
        ));
        return out;
    };
    let cid = company.id;
    out.push(line("member of a company", true, company.name.clone()));
    // The member's own view (the membership endpoint, which every member may read, else the
    // last policy verified on this device): the admin-only policy endpoint would fail here for
    // a plain member.
    let eff = match crate::org::current_policy(&org.home).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            out.push(line("policy verified", false, "no verified policy"));
            return out;
        }
        Err(e) => {
            out.push(line("policy verified", false, e.to_string()));
            return out;
        }
    };
    out.push(line(
        "policy verified",
        eff.warnings.is_empty(),
        if eff.warnings.is_empty() {
            format!("policy #{} signed with the pinned company key", eff.counter)
        } else {
            eff.warnings.join("; ")
        },
    ));
    let Some(p) = eff.policies.org_backup.clone() else {
        out.push(line(
            "backup policy on",
            false,
            "organisation backup is off",
        ));
        return out;
    };
    out.push(line(
        "backup policy on",
        true,
        format!(
            "{} mode, retention {} days",
            match p.mode {
                OrgBackupMode::OfflineKey => "offline-key",
                OrgBackupMode::RecoveryGroup => "recovery-group",
            },
            p.retention_days
        ),
    ));
    let key_ok = HpkePublicKey::from_bytes(p.public_key.as_slice()).is_ok();
    out.push(line(
        "backup key present and verified",
        key_ok,
        format!(
            "version {}, fingerprint {}",
            p.key_version,
            key_fingerprint(p.public_key.as_slice())
        ),
    ));
    if p.mode == OrgBackupMode::RecoveryGroup {
        if let Ok(keys) = org.company_public(cid).await {
            out.push(match current_group(org, cid, &keys).await {
                Ok(_) => line(
                    "Recovery Group matches the policy",
                    true,
                    "signed roster names the policy's key",
                ),
                Err(e) => line("Recovery Group matches the policy", false, e.to_string()),
            });
        }
    }
    match user {
        None => {
            let enrolled = org
                .membership
                .member
                .as_ref()
                .is_some_and(|m| m.cert.is_some());
            out.push(line(
                "user enrolled",
                enrolled,
                if enrolled {
                    "confirmed member with a certificate"
                } else {
                    "not confirmed yet: no backups until an admin confirms you"
                },
            ));
            let s = load_state(&org.home);
            out.push(match s.last_at {
                Some(t) => line(
                    "last backup",
                    now() - t < 2 * MAX_BACKUP_AGE_SECS,
                    format!(
                        "{} (key version {})",
                        fmt_time(t),
                        s.key_version.unwrap_or(0)
                    ),
                ),
                None => line("last backup", false, "none written from this device yet"),
            });
            if let Some(e) = s.last_error {
                out.push(line("last attempt", false, e));
            }
        }
        Some(email) => {
            let want = normalise_email(email);
            let members = org.api.members(cid).await.map(|l| l.members);
            let m = members
                .ok()
                .and_then(|l| l.into_iter().find(|m| normalise_email(&m.email) == want));
            out.push(line(
                "user enrolled",
                m.as_ref().is_some_and(|m| m.cert.is_some()),
                match &m {
                    Some(m) if m.cert.is_some() => "confirmed member with a certificate".into(),
                    Some(_) => "not confirmed yet".to_string(),
                    None => "not a member".to_string(),
                },
            ));
            match org.api.backups(cid, m.as_ref().map(|m| m.user_id)).await {
                Ok(list) => {
                    let newest = list
                        .users
                        .iter()
                        .filter(|u| normalise_email(&u.email) == want)
                        .flat_map(|u| u.points.iter())
                        .map(|p| p.created_at)
                        .max();
                    out.push(match newest {
                        Some(t) => line(
                            "last backup",
                            now() - t < 2 * MAX_BACKUP_AGE_SECS,
                            fmt_time(t),
                        ),
                        None => line("last backup", false, "no backup on the server"),
                    });
                }
                Err(e) => out.push(line("last backup", false, e.to_string())),
            }
        }
    }
    out
}

/// Unix seconds as RFC 3339 (UTC).
pub fn fmt_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Parses `--at`: Unix seconds or RFC 3339.
pub fn parse_time(s: &str) -> ClientResult<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|d| d.unix_timestamp())
        .map_err(|_| {
            invalid(format!(
                "{s:?} is not a time: use Unix seconds or RFC 3339 (2026-01-31T12:00:00Z)"
            ))
        })
}

/// Pins the company policy counter after our own policy change (used by tests).
pub fn pinned_counter(home: &Home, company_id: Uuid) -> i64 {
    update_pins(home, |p| {
        Ok(p.get(company_id).map_or(0, |c| c.policy_counter))
    })
    .map(|(c, _)| c)
    .unwrap_or(0)
}

#[cfg(test)]
mod tests;
