use std::sync::Arc;

use castellan_crypto::ServerSetup;
use castellan_store::Store;
use zeroize::Zeroizing;

use crate::hints::HintBus;
use crate::{ServerError, Settings};

const OPAQUE_SETUP_KEY: &str = "opaque_server_setup_v1";
const ENUMERATION_KEY: &str = "enumeration_hmac_key_v1";

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
        Ok(Arc::new(AppState {
            store,
            settings,
            opaque,
            enumeration_key,
            hints: HintBus::default(),
        }))
    }
}
