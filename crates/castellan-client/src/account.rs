//! Accounts: registration, OPAQUE login, local unlock, master password change, logout.
//!
//! Key hierarchy (see docs/security-design.md): password + Secret Key → OPAQUE export key →
//! account unlock key (AUK) → account key (AK) → identity keys and vault keys → item keys.
//! On a device, the AK is also wrapped under a local unlock key (Argon2id of the password, mixed
//! with the Secret Key), so a device can unlock without the server.

use castellan_crypto::{
    self as crypto, Context, HpkePrivateKey, KsfParams, SecretKey, SigningKey, SymmetricKey,
};
use castellan_types::*;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::api::ApiClient;
use crate::home::{DeviceState, Home};
use crate::keyids::{ak_id, auk_id, luk_id, vault_key_id};
use crate::{ClientError, ClientResult};

/// Statement type of the self-signed binding of a user's identity keys.
const KEY_BINDING: &str = "key-binding";
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A vault key, unwrapped.
pub struct UnlockedVault {
    pub id: Uuid,
    pub kind: VaultKindDto,
    pub key: SymmetricKey,
    pub key_version: u64,
}

impl UnlockedVault {
    pub fn key_id(&self) -> Uuid {
        vault_key_id(self.id, self.key_version)
    }
}

/// The keys of an unlocked account. Dropping it zeroizes every key.
pub struct UnlockedAccount {
    pub user_id: Uuid,
    pub email: String,
    pub ak: SymmetricKey,
    pub ak_version: u64,
    pub signing: SigningKey,
    pub encryption: HpkePrivateKey,
    pub vaults: Vec<UnlockedVault>,
    /// The share keys this account can use, verified (filled by sync and from the offline
    /// cache; see `share`).
    pub shares: crate::share::ShareRing,
}

impl std::fmt::Debug for UnlockedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockedAccount")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl UnlockedAccount {
    pub fn vault(&self, kind: VaultKindDto) -> ClientResult<&UnlockedVault> {
        self.vaults.iter().find(|v| v.kind == kind).ok_or_else(|| {
            ClientError::integrity(format!("the {} vault is missing", kind.as_str()))
        })
    }
    pub fn vault_by_id(&self, id: Uuid) -> Option<&UnlockedVault> {
        self.vaults.iter().find(|v| v.id == id)
    }
}

fn lp(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

fn key_binding_body(user_id: Uuid, k: &AccountKeyset) -> Vec<u8> {
    key_binding_body_parts(
        user_id,
        k.ak_version,
        k.signing_key_id,
        k.signing_public_key.as_slice(),
        k.encryption_key_id,
        k.encryption_public_key.as_slice(),
    )
}

/// Checks a user's self-signed key binding (as served with a company member), as
/// [`open_account`] does for the own account.
pub fn verify_key_binding(
    user_id: Uuid,
    ak_version: u64,
    signing_key_id: Uuid,
    signing_public_key: &[u8],
    encryption_key_id: Uuid,
    encryption_public_key: &[u8],
    signature: &[u8],
) -> ClientResult<()> {
    let vk = crypto::VerifyingKey::from_bytes(signing_public_key)
        .map_err(|_| ClientError::integrity("a member's signing key is invalid"))?;
    vk.verify_statement(
        KEY_BINDING,
        &key_binding_body_parts(
            user_id,
            ak_version,
            signing_key_id,
            signing_public_key,
            encryption_key_id,
            encryption_public_key,
        ),
        signature,
    )
    .map_err(|_| ClientError::integrity("a member's key binding signature is invalid"))
}

fn key_binding_body_parts(
    user_id: Uuid,
    ak_version: u64,
    signing_key_id: Uuid,
    signing_public_key: &[u8],
    encryption_key_id: Uuid,
    encryption_public_key: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(200);
    lp(&mut b, user_id.as_bytes());
    lp(&mut b, &ak_version.to_be_bytes());
    lp(&mut b, signing_key_id.as_bytes());
    lp(&mut b, signing_public_key);
    lp(&mut b, encryption_key_id.as_bytes());
    lp(&mut b, encryption_public_key);
    b
}

fn ksf_params(p: KsfProfile) -> KsfParams {
    KsfParams {
        m_kib: p.m_kib,
        t: p.t,
        p: p.p,
    }
}

fn ksf_profile(p: KsfParams) -> KsfProfile {
    KsfProfile {
        m_kib: p.m_kib,
        t: p.t,
        p: p.p,
    }
}

/// Refuses KSF parameters below the compiled floor or below what this device pinned. Runs
/// before the password is stretched or any password-derived message is sent.
pub fn check_ksf(offered: KsfProfile, pinned: Option<KsfProfile>) -> ClientResult<KsfParams> {
    let params = ksf_params(offered);
    params.check_floor()?;
    if let Some(pin) = pinned {
        if !params.at_least(&ksf_params(pin)) {
            return Err(ClientError::integrity(format!(
                "the server offered key derivation parameters (m={} KiB, t={}, p={}) weaker than this device pinned",
                offered.m_kib, offered.t, offered.p
            )));
        }
    }
    Ok(params)
}

/// Opens a key set with the account key, checking every binding. Refuses a key set that is
/// missing, another user's, or does not match its own signatures.
pub fn open_account(
    user_id: Uuid,
    email: &str,
    ak: SymmetricKey,
    account: &AccountResponse,
) -> ClientResult<UnlockedAccount> {
    let k = &account.keyset;
    if account.user_id != user_id {
        return Err(ClientError::integrity(
            "the server returned another account's keys",
        ));
    }
    if k.format != 1 {
        return Err(ClientError::integrity("unknown key set format"));
    }
    let akid = ak_id(user_id, k.ak_version);
    let seed = crypto::open(
        &ak,
        akid,
        &Context::private_key_wrap(user_id, k.signing_key_id, "sig"),
        k.signing_key_wrap.as_slice(),
    )?;
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| ClientError::integrity("bad signing key"))?;
    let signing = SigningKey::from_seed(seed);
    if signing.verifying_key().to_bytes().as_slice() != k.signing_public_key.as_slice() {
        return Err(ClientError::integrity(
            "the signing public key does not match the account's private key",
        ));
    }
    let enc = crypto::open(
        &ak,
        akid,
        &Context::private_key_wrap(user_id, k.encryption_key_id, "enc"),
        k.encryption_key_wrap.as_slice(),
    )?;
    let enc: [u8; 32] = enc
        .as_slice()
        .try_into()
        .map_err(|_| ClientError::integrity("bad encryption key"))?;
    let encryption = HpkePrivateKey::from_bytes(enc);
    if encryption.public_key().to_bytes().as_slice() != k.encryption_public_key.as_slice() {
        return Err(ClientError::integrity(
            "the encryption public key does not match the account's private key",
        ));
    }
    signing
        .verifying_key()
        .verify_statement(
            KEY_BINDING,
            &key_binding_body(user_id, k),
            k.key_binding_signature.as_slice(),
        )
        .map_err(|_| ClientError::integrity("the key binding signature is invalid"))?;

    let mut vaults = Vec::new();
    for kind in [VaultKindDto::Personal, VaultKindDto::Business] {
        let mut matching = account.vaults.iter().filter(|v| v.kind == kind);
        let (Some(v), None) = (matching.next(), matching.next()) else {
            return Err(ClientError::integrity(format!(
                "the account must have exactly one {} vault",
                kind.as_str()
            )));
        };
        let ctx = Context::vault_key_wrap(user_id, v.id, v.key_version, kind.as_str());
        let key = crypto::unwrap_key(&ak, akid, &ctx, v.key_wrap.as_slice())?;
        vaults.push(UnlockedVault {
            id: v.id,
            kind,
            key,
            key_version: v.key_version,
        });
    }
    Ok(UnlockedAccount {
        user_id,
        email: email.to_string(),
        ak,
        ak_version: k.ak_version,
        signing,
        encryption,
        vaults,
        shares: Default::default(),
    })
}

fn new_account_material(
    user_id: Uuid,
    ak: &SymmetricKey,
    account_key_wrap: Vec<u8>,
    ksf: KsfParams,
) -> (AccountKeyset, Vec<VaultDto>) {
    let ak_version = 1;
    let akid = ak_id(user_id, ak_version);
    let signing = SigningKey::generate();
    let encryption = HpkePrivateKey::generate();
    let (signing_key_id, encryption_key_id) = (Uuid::new_v4(), Uuid::new_v4());
    let signing_key_wrap = crypto::seal(
        ak,
        akid,
        &Context::private_key_wrap(user_id, signing_key_id, "sig"),
        signing.seed(),
    );
    let enc_bytes = encryption.to_bytes();
    let encryption_key_wrap = crypto::seal(
        ak,
        akid,
        &Context::private_key_wrap(user_id, encryption_key_id, "enc"),
        &enc_bytes[..],
    );
    let mut keyset = AccountKeyset {
        format: 1,
        ak_version,
        account_key_wrap: account_key_wrap.into(),
        ksf: ksf_profile(ksf),
        signing_key_id,
        signing_public_key: signing.verifying_key().to_bytes().to_vec().into(),
        signing_key_wrap: signing_key_wrap.into(),
        encryption_key_id,
        encryption_public_key: encryption.public_key().to_bytes().to_vec().into(),
        encryption_key_wrap: encryption_key_wrap.into(),
        key_binding_signature: Bytes::default(),
    };
    keyset.key_binding_signature = signing
        .sign_statement(KEY_BINDING, &key_binding_body(user_id, &keyset))
        .to_vec()
        .into();
    let vaults = [VaultKindDto::Personal, VaultKindDto::Business]
        .into_iter()
        .map(|kind| {
            let id = Uuid::new_v4();
            let key = SymmetricKey::generate();
            let ctx = Context::vault_key_wrap(user_id, id, 1, kind.as_str());
            VaultDto {
                id,
                kind,
                key_wrap: crypto::wrap_key(ak, akid, &ctx, &key).into(),
                key_version: 1,
            }
        })
        .collect();
    (keyset, vaults)
}

/// What registration returns: the Secret Key to put on the Emergency Kit.
pub struct Registered {
    pub user_id: Uuid,
    pub email: String,
    pub secret_key: Zeroizing<String>,
}

fn check_new_password(password: &str) -> ClientResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ClientError::Invalid(format!(
            "the master password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn refuse_other_account(
    home: &Home,
    server: &str,
    email: &str,
) -> ClientResult<Option<DeviceState>> {
    let existing = home.load_device()?;
    if let Some(s) = &existing {
        if !s.email.eq_ignore_ascii_case(email.trim())
            || s.server.trim_end_matches('/') != server.trim().trim_end_matches('/')
        {
            return Err(ClientError::Invalid(format!(
                "{} already holds the account {} on {}; run `castellan logout` first or use another CASTELLAN_HOME",
                home.dir().display(),
                s.email,
                s.server
            )));
        }
    }
    Ok(existing)
}

/// Creates an account: generates the Secret Key and every key, registers with OPAQUE, then
/// logs this device in.
pub async fn register(
    home: &Home,
    server: &str,
    email: &str,
    password: &str,
    device_name: &str,
) -> ClientResult<(Registered, UnlockedAccount)> {
    if let Some(s) = home.load_device()? {
        return Err(ClientError::Invalid(format!(
            "{} already holds the account {}; run `castellan logout` first or use another CASTELLAN_HOME",
            home.dir().display(),
            s.email
        )));
    }
    check_new_password(password)?;
    let api = ApiClient::new(server)?;
    let sk = SecretKey::generate();
    let pw_in = crypto::password_input(password, &sk);
    let user_id = Uuid::new_v4();
    let (state, request) = crypto::client_registration_start(&pw_in)?;
    let start = api
        .register_start(&RegisterStartRequest {
            email: email.trim().to_string(),
            user_id,
            registration_request: request.into(),
        })
        .await?;
    let ksf = check_ksf(start.ksf, None)?;
    let (upload, export_key, _server_pk) = crypto::client_registration_finish(
        state,
        &pw_in,
        start.registration_response.as_slice(),
        ksf,
    )?;
    let auk = crypto::account_unlock_key(&export_key, user_id);
    let ak = SymmetricKey::generate();
    let account_key_wrap = crypto::wrap_key(
        &auk,
        auk_id(user_id),
        &Context::account_key_wrap(user_id, 1),
        &ak,
    );
    let (keyset, vaults) = new_account_material(user_id, &ak, account_key_wrap, ksf);
    api.register_finish(&RegisterFinishRequest {
        email: email.trim().to_string(),
        user_id,
        registration_record: upload.into(),
        keyset,
        vaults,
    })
    .await?;
    let secret_key = sk.to_display();
    let unlocked = login(
        home,
        server,
        email,
        password,
        Some(&secret_key),
        device_name,
    )
    .await?;
    Ok((
        Registered {
            user_id,
            email: email.trim().to_lowercase(),
            secret_key,
        },
        unlocked,
    ))
}

/// Logs this device in with the master password and the Secret Key (from the argument, or the
/// one this device already holds). Pins the server key and KSF profile on first use. An account
/// with two-step verification makes this fail with `TwoFactorRequired`; use [`login_with`].
pub async fn login(
    home: &Home,
    server: &str,
    email: &str,
    password: &str,
    secret_key: Option<&str>,
    device_name: &str,
) -> ClientResult<UnlockedAccount> {
    Ok(
        login_with(home, server, email, password, secret_key, device_name, None)
            .await?
            .unlocked,
    )
}

/// Asks for a two-step verification code (a prompt, a flag, an environment variable).
pub type CodeSource<'a> = &'a mut (dyn FnMut() -> ClientResult<crate::Secret> + Send);

/// What a login returns besides the keys: what the server restricts the session to.
pub struct LoginOutcome {
    pub unlocked: UnlockedAccount,
    /// `two_factor_setup` or `password_change` when the session may only fix that first.
    pub restriction: Option<String>,
    /// Logins left before two-step verification becomes mandatory.
    pub two_factor_grace_remaining: Option<u32>,
    /// When the master password was last set (from the verified login), Unix seconds.
    pub password_changed_at: i64,
}

/// [`login`], answering a `two_factor_required` login with a code from `two_factor`.
pub async fn login_with(
    home: &Home,
    server: &str,
    email: &str,
    password: &str,
    secret_key: Option<&str>,
    device_name: &str,
    two_factor: Option<CodeSource<'_>>,
) -> ClientResult<LoginOutcome> {
    let existing = refuse_other_account(home, server, email)?;
    let sk = match (secret_key, &existing) {
        (Some(text), _) => SecretKey::parse(text)?,
        (None, Some(s)) => SecretKey::parse(&s.secret_key)?,
        (None, None) => {
            return Err(ClientError::Invalid(
                "the Secret Key is required to log in on a new device".into(),
            ))
        }
    };
    let api = ApiClient::new(server)?;
    let pw_in = crypto::password_input(password, &sk);
    let (state, request) = crypto::client_login_start(&pw_in)?;
    let start = api
        .login_start(&LoginStartRequest {
            email: email.trim().to_string(),
            credential_request: request.into(),
        })
        .await?;
    let ksf = check_ksf(start.ksf, existing.as_ref().map(|s| s.ksf))?;
    if let Some(s) = &existing {
        if s.user_id != start.user_id {
            return Err(ClientError::integrity(
                "the server returned a different account id than this device pinned",
            ));
        }
    }
    let (finalization, _session_key, export_key, server_pk) =
        crypto::client_login_finish(state, &pw_in, start.credential_response.as_slice(), ksf)?;
    if let Some(s) = &existing {
        if !crypto::ct_eq(s.server_public_key.as_slice(), &server_pk) {
            return Err(ClientError::integrity(
                "the server's OPAQUE key differs from the one pinned on this device",
            ));
        }
    }
    let first = api
        .login_finish(&LoginFinishRequest {
            login_id: start.login_id,
            credential_finalization: finalization.into(),
            device_name: device_name.to_string(),
        })
        .await;
    let finish = match first {
        Err(ClientError::TwoFactorRequired { challenge }) => {
            let Some(source) = two_factor else {
                return Err(ClientError::TwoFactorRequired { challenge });
            };
            let code = source()?;
            api.login_2fa(&TwoFactorLoginRequest {
                challenge: challenge.expose().to_string(),
                code: code.expose().trim().to_string(),
            })
            .await?
        }
        other => other.map_err(|e| match e {
            ClientError::Api {
                code: ErrorCode::InvalidCredentials,
                ..
            } => ClientError::WrongCredentials,
            other => other,
        })?,
    };
    let account = finish.account.clone();
    let user_id = start.user_id;
    if account.keyset.ksf != start.ksf {
        return Err(ClientError::integrity(
            "the key set's KSF profile differs from the one used to log in",
        ));
    }
    let auk = crypto::account_unlock_key(&export_key, user_id);
    let ak = crypto::unwrap_key(
        &auk,
        auk_id(user_id),
        &Context::account_key_wrap(user_id, account.keyset.ak_version),
        account.keyset.account_key_wrap.as_slice(),
    )
    .map_err(|_| {
        ClientError::integrity(
            "the account key does not open with this login (another account's key, or tampered)",
        )
    })?;
    let unlocked = open_account(user_id, &account.email, ak, &account)?;

    let device_id = existing
        .as_ref()
        .map(|s| s.device_id)
        .unwrap_or_else(Uuid::new_v4);
    let device_salt = match &existing {
        Some(s) => s.device_salt.clone(),
        None => {
            let mut salt = vec![0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
            Bytes(salt)
        }
    };
    let local_wrap = local_wrap(
        password,
        &sk,
        &device_salt,
        device_id,
        user_id,
        &unlocked.ak,
    )?;
    let state = DeviceState {
        format: 1,
        server: api.base_url().to_string(),
        email: account.email.clone(),
        user_id,
        device_id,
        device_salt,
        server_public_key: server_pk.into(),
        ksf: start.ksf,
        secret_key: sk.to_display().to_string(),
        local_wrap: local_wrap.into(),
        account,
        session_token: Some(finish.session_token.clone()),
        session_id: Some(finish.session_id),
        locked: false,
        shares: existing
            .as_ref()
            .map(|s| s.shares.clone())
            .unwrap_or_default(),
        org: existing.map(|s| s.org).unwrap_or_default(),
    };
    home.save_device(&state)?;
    Ok(LoginOutcome {
        unlocked,
        restriction: finish.restriction.clone(),
        two_factor_grace_remaining: finish.two_factor_grace_remaining,
        password_changed_at: finish.account.password_changed_at,
    })
}

fn salt16(b: &Bytes) -> ClientResult<[u8; 16]> {
    b.as_slice()
        .try_into()
        .map_err(|_| ClientError::CorruptState {
            path: "device.json".into(),
            detail: "bad device salt".into(),
        })
}

fn local_wrap(
    password: &str,
    sk: &SecretKey,
    salt: &Bytes,
    device_id: Uuid,
    user_id: Uuid,
    ak: &SymmetricKey,
) -> ClientResult<Vec<u8>> {
    let luk = crypto::local_unlock_key(password, sk, &salt16(salt)?, device_id, KsfParams::FLOOR)?;
    Ok(crypto::wrap_key(
        &luk,
        luk_id(device_id),
        &Context::local_device_wrap(user_id, device_id),
        ak,
    ))
}

/// Unlocks the account on this device from the master password, without the server.
pub fn unlock_local(home: &Home, password: &str) -> ClientResult<(DeviceState, UnlockedAccount)> {
    let state = home.device()?;
    let sk = SecretKey::parse(&state.secret_key)?;
    let luk = crypto::local_unlock_key(
        password,
        &sk,
        &salt16(&state.device_salt)?,
        state.device_id,
        KsfParams::FLOOR,
    )?;
    let ak = crypto::unwrap_key(
        &luk,
        luk_id(state.device_id),
        &Context::local_device_wrap(state.user_id, state.device_id),
        state.local_wrap.as_slice(),
    )
    .map_err(|_| ClientError::WrongPassword)?;
    let unlocked = open_account(state.user_id, &state.email, ak, &state.account)?;
    Ok((state, unlocked))
}

/// Changes the master password: a new OPAQUE registration and a re-wrap of the account key.
/// Vault and item keys do not change. Other sessions of the account are revoked by the server.
pub async fn change_password(
    home: &Home,
    unlocked: &UnlockedAccount,
    old_password: &str,
    new_password: &str,
) -> ClientResult<u64> {
    change_password_with(home, unlocked, old_password, new_password, None).await
}

/// [`change_password`], with a source of two-step codes for the fresh login. The new password
/// must meet the company's verified master password policy.
pub async fn change_password_with(
    home: &Home,
    unlocked: &UnlockedAccount,
    old_password: &str,
    new_password: &str,
    two_factor: Option<CodeSource<'_>>,
) -> ClientResult<u64> {
    change_password_inner(
        home,
        unlocked,
        Some((old_password, two_factor)),
        new_password,
    )
    .await
}

/// Changes the master password right after a login on this device (whose session is fresh),
/// for example when the server restricts the new session to a password change.
pub async fn change_password_after_login(
    home: &Home,
    unlocked: &UnlockedAccount,
    new_password: &str,
) -> ClientResult<u64> {
    change_password_inner(home, unlocked, None, new_password).await
}

async fn change_password_inner(
    home: &Home,
    unlocked: &UnlockedAccount,
    relogin: Option<(&str, Option<CodeSource<'_>>)>,
    new_password: &str,
) -> ClientResult<u64> {
    check_new_password(new_password)?;
    if let Some(policy) = crate::org::current_policy(home).await? {
        crate::org::policy::check_master_password(&policy.policies, new_password)?;
    }
    if let Some((old_password, two_factor)) = relogin {
        // A fresh OPAQUE login proves the current password to the server (it refuses
        // credential changes from older sessions) and gives this device a new session.
        let current = home.device()?;
        login_with(
            home,
            &current.server,
            &current.email,
            old_password,
            None,
            "castellan CLI",
            two_factor,
        )
        .await?;
    }
    let mut state = home.device()?;
    let sk = SecretKey::parse(&state.secret_key)?;
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    let pw_in = crypto::password_input(new_password, &sk);
    let (reg, request) = crypto::client_registration_start(&pw_in)?;
    let start = api
        .password_change_start(&PasswordChangeStartRequest {
            registration_request: request.into(),
        })
        .await?;
    let ksf = check_ksf(start.ksf, Some(state.ksf))?;
    let (upload, export_key, server_pk) = crypto::client_registration_finish(
        reg,
        &pw_in,
        start.registration_response.as_slice(),
        ksf,
    )?;
    if !crypto::ct_eq(state.server_public_key.as_slice(), &server_pk) {
        return Err(ClientError::integrity(
            "the server's OPAQUE key differs from the one pinned on this device",
        ));
    }
    let user_id = state.user_id;
    let auk = crypto::account_unlock_key(&export_key, user_id);
    let mut keyset = state.account.keyset.clone();
    keyset.account_key_wrap = crypto::wrap_key(
        &auk,
        auk_id(user_id),
        &Context::account_key_wrap(user_id, unlocked.ak_version),
        &unlocked.ak,
    )
    .into();
    keyset.ksf = ksf_profile(ksf);
    let done = api
        .password_change_finish(&PasswordChangeFinishRequest {
            credentials_version: state.account.credentials_version,
            registration_record: upload.into(),
            keyset: keyset.clone(),
        })
        .await?;
    state.local_wrap = local_wrap(
        new_password,
        &sk,
        &state.device_salt,
        state.device_id,
        user_id,
        &unlocked.ak,
    )?
    .into();
    state.account.keyset = keyset;
    state.account.credentials_version = done.credentials_version;
    state.ksf = ksf_profile(ksf);
    home.save_device(&state)?;
    Ok(done.revoked_sessions)
}

/// Ends the server session (best effort when the server is unreachable) and forgets the
/// account on this device. Returns whether the server confirmed.
pub async fn logout(home: &Home) -> ClientResult<bool> {
    let state = home.device()?;
    let confirmed = match ApiClient::new(&state.server) {
        Ok(api) => api
            .with_token(state.session_token.clone())
            .logout()
            .await
            .is_ok(),
        Err(_) => false,
    };
    home.clear()?;
    Ok(confirmed)
}
