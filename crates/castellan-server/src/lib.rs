//! The Castellan server as a library.
//!
//! `castellan server` (in `castellan-cli`) is a thin wrapper around [`run`]. Tests start a
//! server on their own listener with [`serve`] and stop it through the shutdown future.
//!
//! The server is generic over [`castellan_store::Store`]; it never sees a key or a plaintext
//! secret: it checks sessions, enforces ownership and versions, and stores client ciphertext.

#![forbid(unsafe_code)]

mod error;
mod extract;
pub mod hints;
mod openapi;
mod ratelimit;
mod routes;
mod settings;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use castellan_store::Store;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use hints::{Hint, HintBus};
pub use openapi::openapi_json;
pub use settings::{RateLimitSettings, Settings};
pub use state::AppState;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the database: {0}")]
    Store(#[from] castellan_store::StoreError),
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the stored server key is unreadable: {0}")]
    ServerKey(String),
    #[error("server stopped with an I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the application router over a store.
pub async fn app<S: Store>(store: S, settings: Settings) -> Result<Router, ServerError> {
    Ok(app_with_hints(store, settings).await?.0)
}

/// The router and its hint bus (to feed it from elsewhere, or to close it at shutdown so that
/// open `GET /events` streams end).
pub async fn app_with_hints<S: Store>(
    store: S,
    settings: Settings,
) -> Result<(Router, HintBus), ServerError> {
    let state = AppState::new(store, settings).await?;
    let hints = state.hints.clone();
    Ok((routes::router(state), hints))
}

/// Serves `store` on an already bound listener until `shutdown` completes.
pub async fn serve<S: Store>(
    store: S,
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (router, hints) = app_with_hints(store, settings).await?;
    // Event streams never end on their own: close them, or the graceful shutdown would wait
    // for them forever.
    let shutdown = async move {
        shutdown.await;
        hints.close();
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Opens the SQLite database under `data_dir` (created 0700 if missing), binds `bind`, and
/// serves until Ctrl-C / SIGTERM.
pub async fn run(
    data_dir: &std::path::Path,
    bind: &str,
    settings: Settings,
) -> Result<(), ServerError> {
    prepare_data_dir(data_dir)?;
    let store =
        castellan_store_sqlite::SqliteStore::open(&data_dir.join("castellan.sqlite3")).await?;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: bind.to_string(),
            source,
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %data_dir.display(), "castellan server listening");
    println!(
        "castellan server listening on http://{addr} (data in {})",
        data_dir.display()
    );
    serve(store, settings, listener, shutdown_signal()).await
}

fn prepare_data_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    let err = |source| ServerError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Shared handle type used by the handlers.
pub(crate) type Shared<S> = Arc<AppState<S>>;
