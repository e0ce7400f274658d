//! OPAQUE (RFC 9807) via `opaque-ke` 4, wire-compatible with `@serenity-kit/opaque` 1.x.
//!
//! Suite: OPRF Ristretto255 / SHA-512, key exchange `TripleDh<Ristretto255, Sha512>`,
//! KSF Argon2id v1.3 with explicit parameters, default identifiers (the public keys), no context.
//!
//! The client always passes the KSF explicitly: `opaque-ke` would otherwise fall back to
//! `Argon2::default()` (19 MiB, t=2, p=1), which neither matches serenity-kit (whose default is
//! m=64 MiB, t=3, p=4) nor our floor.

use argon2::{Algorithm, Argon2, Version};
use opaque_ke::{
    ClientLoginFinishParameters, ClientRegistrationFinishParameters, CredentialFinalization,
    CredentialRequest, CredentialResponse, Identifiers, RegistrationRequest, RegistrationResponse,
    RegistrationUpload, ServerLoginParameters, ServerRegistration,
};
use rand::rngs::OsRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CryptoError, Result};
use crate::kdf::KsfParams;

/// The `opaque-ke` cipher suite.
struct Suite;

impl opaque_ke::CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::TripleDh<opaque_ke::Ristretto255, sha2::Sha512>;
    type Ksf = Argon2<'static>;
}

fn opaque_err(what: &str) -> impl FnOnce(opaque_ke::errors::ProtocolError) -> CryptoError + '_ {
    move |e| CryptoError::Opaque(format!("{what}: {e}"))
}

fn bad_message(what: &'static str) -> impl FnOnce(opaque_ke::errors::ProtocolError) -> CryptoError {
    move |_| CryptoError::Opaque(format!("malformed {what}"))
}

fn copy64(src: &[u8]) -> Result<[u8; 64]> {
    src.try_into()
        .map_err(|_| CryptoError::Opaque("unexpected key length".into()))
}

macro_rules! secret_bytes_64 {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            bytes: [u8; 64],
        }

        impl $name {
            /// The 64 raw bytes.
            pub fn expose_secret(&self) -> &[u8] {
                &self.bytes
            }

            /// Wraps raw bytes. Only for golden vectors and tests; real values come out of the
            /// OPAQUE functions.
            #[doc(hidden)]
            pub fn from_bytes(bytes: [u8; 64]) -> Self {
                Self { bytes }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_bytes_64!(
    /// OPAQUE export key (64 bytes), known only to the client; input of the account unlock key.
    ExportKey
);
secret_bytes_64!(
    /// OPAQUE session key (64 bytes), shared by client and server after a successful login.
    SessionKey
);

macro_rules! redacted_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

/// Long-term secret server state: OPRF seed and server key pair (plus opaque-ke's fake key
/// for unknown users). Persist with [`ServerSetup::to_bytes`]; losing it invalidates every
/// registration.
pub struct ServerSetup {
    inner: opaque_ke::ServerSetup<Suite>,
}

// The opaque-ke fields (OPRF seed, private key) zeroize themselves on drop.
impl ZeroizeOnDrop for ServerSetup {}
redacted_debug!(ServerSetup);

impl ServerSetup {
    /// Fresh random server setup.
    pub fn generate() -> Self {
        Self {
            inner: opaque_ke::ServerSetup::<Suite>::new(&mut OsRng),
        }
    }

    /// Serialized form (secret!).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut ga = self.inner.serialize();
        let out = Zeroizing::new(ga.to_vec());
        ga.as_mut_slice().zeroize();
        out
    }

    /// Restores a [`ServerSetup::to_bytes`] blob.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let inner = opaque_ke::ServerSetup::<Suite>::deserialize(b)
            .map_err(|_| CryptoError::InvalidKey("invalid OPAQUE server setup"))?;
        let s = Self { inner };
        // opaque-ke ignores trailing bytes; we do not.
        if s.to_bytes().len() != b.len() {
            return Err(CryptoError::InvalidKey("invalid OPAQUE server setup"));
        }
        Ok(s)
    }

    /// The server's static public key (32 bytes); clients may pin it.
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.keypair().public().serialize().to_vec()
    }
}

/// Client state between [`client_registration_start`] and [`client_registration_finish`].
pub struct ClientRegistration {
    inner: opaque_ke::ClientRegistration<Suite>,
}
impl ZeroizeOnDrop for ClientRegistration {}
redacted_debug!(ClientRegistration);

/// Client state between [`client_login_start`] and [`client_login_finish`].
pub struct ClientLogin {
    inner: opaque_ke::ClientLogin<Suite>,
}
impl ZeroizeOnDrop for ClientLogin {}
redacted_debug!(ClientLogin);

/// Server state between [`server_login_start`] and [`server_login_finish`]; can be stored
/// (it is secret: keep it server-side only, short-lived).
pub struct ServerLogin {
    inner: opaque_ke::ServerLogin<Suite>,
}
impl ZeroizeOnDrop for ServerLogin {}
redacted_debug!(ServerLogin);

impl ServerLogin {
    /// Serialized form (secret).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut ga = self.inner.serialize();
        let out = Zeroizing::new(ga.to_vec());
        ga.as_mut_slice().zeroize();
        out
    }

    /// Restores a [`ServerLogin::to_bytes`] blob.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let inner = opaque_ke::ServerLogin::<Suite>::deserialize(b)
            .map_err(bad_message("server login state"))?;
        let s = Self { inner };
        if s.to_bytes().len() != b.len() {
            return Err(CryptoError::Opaque("malformed server login state".into()));
        }
        Ok(s)
    }
}

/// The KSF exactly as serenity-kit builds it: Argon2id v0x13 with the given costs and the
/// output length left to opaque-ke (64 bytes). Floor and ceiling are checked first.
fn ksf(params: KsfParams) -> Result<Argon2<'static>> {
    params.check_floor()?;
    params.check_ceiling()?;
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        params.to_argon2_params(None)?,
    ))
}

/// Client step 1 of registration: returns the state and the registration request.
pub fn client_registration_start(password_input: &[u8]) -> Result<(ClientRegistration, Vec<u8>)> {
    let r = opaque_ke::ClientRegistration::<Suite>::start(&mut OsRng, password_input)
        .map_err(opaque_err("registration start failed"))?;
    Ok((
        ClientRegistration { inner: r.state },
        r.message.serialize().to_vec(),
    ))
}

/// Client step 2 of registration. Returns `(registration_upload, export_key, server_public_key)`.
/// Refuses `ksf` below [`KsfParams::FLOOR`] with `WeakKdf` before doing any work.
pub fn client_registration_finish(
    state: ClientRegistration,
    password_input: &[u8],
    response: &[u8],
    ksf_params: KsfParams,
) -> Result<(Vec<u8>, ExportKey, Vec<u8>)> {
    let ksf = ksf(ksf_params)?;
    let response = RegistrationResponse::<Suite>::deserialize(response)
        .map_err(bad_message("registration response"))?;
    let params = ClientRegistrationFinishParameters::new(Identifiers::default(), Some(&ksf));
    let mut r = state
        .inner
        .finish(&mut OsRng, password_input, response, params)
        .map_err(opaque_err("registration failed"))?;
    let export_key = copy64(&r.export_key);
    r.export_key.as_mut_slice().zeroize();
    Ok((
        r.message.serialize().to_vec(),
        ExportKey { bytes: export_key? },
        r.server_s_pk.serialize().to_vec(),
    ))
}

/// Client step 1 of login: returns the state and the credential request.
pub fn client_login_start(password_input: &[u8]) -> Result<(ClientLogin, Vec<u8>)> {
    let r = opaque_ke::ClientLogin::<Suite>::start(&mut OsRng, password_input)
        .map_err(opaque_err("login start failed"))?;
    Ok((
        ClientLogin { inner: r.state },
        r.message.serialize().to_vec(),
    ))
}

/// Client step 2 of login. Returns `(credential_finalization, session_key, export_key,
/// server_public_key)`; `Err(Opaque)` on a wrong password or Secret Key (or a server that does
/// not know the account). Refuses `ksf` below [`KsfParams::FLOOR`] with `WeakKdf` first.
pub fn client_login_finish(
    state: ClientLogin,
    password_input: &[u8],
    response: &[u8],
    ksf_params: KsfParams,
) -> Result<(Vec<u8>, SessionKey, ExportKey, Vec<u8>)> {
    let ksf = ksf(ksf_params)?;
    let response = CredentialResponse::<Suite>::deserialize(response)
        .map_err(bad_message("credential response"))?;
    let params = ClientLoginFinishParameters::new(None, Identifiers::default(), Some(&ksf));
    let mut r = state
        .inner
        .finish(&mut OsRng, password_input, response, params)
        .map_err(|e| match e {
            opaque_ke::errors::ProtocolError::InvalidLoginError => {
                CryptoError::Opaque("login failed: wrong password or Secret Key".into())
            }
            e => CryptoError::Opaque(format!("login failed: {e}")),
        })?;
    let session_key = copy64(&r.session_key);
    let export_key = copy64(&r.export_key);
    r.session_key.as_mut_slice().zeroize();
    r.export_key.as_mut_slice().zeroize();
    Ok((
        r.message.serialize().to_vec(),
        SessionKey {
            bytes: session_key?,
        },
        ExportKey { bytes: export_key? },
        r.server_s_pk.serialize().to_vec(),
    ))
}

/// Server step of registration: evaluates the OPRF for `credential_identifier` (use the
/// stable user id) and returns the registration response.
pub fn server_registration_start(
    setup: &ServerSetup,
    request: &[u8],
    credential_identifier: &[u8],
) -> Result<Vec<u8>> {
    let request = RegistrationRequest::<Suite>::deserialize(request)
        .map_err(bad_message("registration request"))?;
    let r = ServerRegistration::<Suite>::start(&setup.inner, request, credential_identifier)
        .map_err(opaque_err("registration failed"))?;
    Ok(r.message.serialize().to_vec())
}

/// Validates the client's registration upload and returns the password file to store.
pub fn server_registration_finish(upload: &[u8]) -> Result<Vec<u8>> {
    let upload = RegistrationUpload::<Suite>::deserialize(upload)
        .map_err(bad_message("registration upload"))?;
    Ok(ServerRegistration::<Suite>::finish(upload)
        .serialize()
        .to_vec())
}

/// Server step 1 of login. With `password_file = None` opaque-ke answers from a dummy record,
/// so unknown users get a response of the same shape (no user enumeration).
pub fn server_login_start(
    setup: &ServerSetup,
    password_file: Option<&[u8]>,
    request: &[u8],
    credential_identifier: &[u8],
) -> Result<(ServerLogin, Vec<u8>)> {
    let password_file = password_file
        .map(ServerRegistration::<Suite>::deserialize)
        .transpose()
        .map_err(bad_message("password file"))?;
    let request = CredentialRequest::<Suite>::deserialize(request)
        .map_err(bad_message("credential request"))?;
    let r = opaque_ke::ServerLogin::start(
        &mut OsRng,
        &setup.inner,
        password_file,
        request,
        credential_identifier,
        ServerLoginParameters::default(),
    )
    .map_err(opaque_err("login failed"))?;
    Ok((
        ServerLogin { inner: r.state },
        r.message.serialize().to_vec(),
    ))
}

/// Server step 2 of login: verifies the client's finalization and returns the session key.
pub fn server_login_finish(state: ServerLogin, finalization: &[u8]) -> Result<SessionKey> {
    let fin = CredentialFinalization::<Suite>::deserialize(finalization)
        .map_err(bad_message("credential finalization"))?;
    let mut r = state
        .inner
        .finish(fin, ServerLoginParameters::default())
        .map_err(|_| {
            CryptoError::Opaque("login failed: client authentication did not verify".into())
        })?;
    let session_key = copy64(&r.session_key);
    r.session_key.as_mut_slice().zeroize();
    Ok(SessionKey {
        bytes: session_key?,
    })
}
