use std::sync::Arc;

use castellan_crypto::{ServerSetup, SymmetricKey};
use castellan_store::Store;
use zeroize::Zeroizing;

use crate::hints::HintBus;
use crate::mail::Mailer;
use crate::{ServerError, Settings};

const OPAQUE_SETUP_KEY: &str = "opaque_server_setup_v1";
const ENUMERATION_KEY: &str = "enumeration_hmac_key_v1";
const TWO_FACTOR_KEY: &str = "two_factor_key_v1";

/// Everything a handler needs. Nothing here lives only in this process's memory except caches
/// of values that are also in the store, so several instances can share one database.
pub struct AppState<S> {
    pub store: S,
    pub settings: Settings,
    pub opaque: ServerSetup,
    /// Key for deriving stable fake user ids for unknown emails (no account enumeration).
    pub enumeration_key: Zeroizing<Vec<u8>>,
    /// Change hints for `GET /events`, published after every committed object write.
    pub hints: HintBus,
    /// Seals the users' TOTP secrets at rest (kept in the store's server configuration, like
    /// the OPAQUE setup, so every instance shares it).
    pub two_factor_key: SymmetricKey,
    /// The mail relay, when `smtp_url` is set.
    pub mailer: Option<Mailer>,
}

impl<S: Store> AppState<S> {
    pub async fn new(store: S, settings: Settings) -> Result<Arc<Self>, ServerError> {
        let fresh = ServerSetup::generate();
        let stored = store
            .config_get_or_init(OPAQUE_SETUP_KEY, fresh.to_bytes().to_vec())
            .await?;
        let opaque =
            ServerSetup::from_bytes(&stored).map_err(|e| ServerError::ServerKey(e.to_string()))?;
        let mut key = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let enumeration_key = Zeroizing::new(store.config_get_or_init(ENUMERATION_KEY, key).await?);
        let fresh = SymmetricKey::generate();
        let stored = Zeroizing::new(
            store
                .config_get_or_init(TWO_FACTOR_KEY, fresh.expose_secret().to_vec())
                .await?,
        );
        let two_factor_key = SymmetricKey::try_from_slice(&stored)
            .map_err(|e| ServerError::ServerKey(e.to_string()))?;
        let mailer = Mailer::from_settings(&settings).map_err(ServerError::Mail)?;
        Ok(Arc::new(AppState {
            store,
            settings,
            opaque,
            enumeration_key,
            hints: HintBus::default(),
            two_factor_key,
            mailer,
        }))
    }
}
