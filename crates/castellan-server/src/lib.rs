//! The Castellan server as a library.
//!
//! `castellan server` (in `castellan-cli`) is a thin wrapper around [`run`], which picks the
//! storage backend from a database URL (SQLite by default, PostgreSQL for `postgres://`). Tests
//! start a server on their own listener with [`serve`] and stop it through the shutdown future.
//!
//! The server is generic over [`castellan_store::Store`]; it never sees a key or a plaintext
//! secret: it checks sessions, enforces ownership and versions, and stores client ciphertext.

#![forbid(unsafe_code)]

mod authz;
pub mod backup;
mod error;
mod extract;
pub mod hints;
mod mail;
pub mod migrate;
mod openapi;
mod ratelimit;
mod routes;
mod settings;
mod state;
mod webapp;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use castellan_store::{OrgStore, Store};
use tokio::net::TcpListener;

/// Hides the password of a database URL (`scheme://user:***@host/db`) for logs and messages.
pub use castellan_store_postgres::redact_url as redact_database_url;
pub use error::ApiError;
pub use hints::{Hint, HintBus};
pub use openapi::openapi_json;
pub use settings::{RateLimitSettings, Settings};
pub use state::AppState;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The message includes the store error's, so it is not also reported as the source (an
    /// error chain, as the CLI prints it, would show it twice).
    #[error("cannot open the database: {0}")]
    Store(castellan_store::StoreError),
    /// The database URL names no backend this server has, or is malformed. `url` is what may
    /// be shown of it: the URL without its password, or only its scheme when it is not one the
    /// server knows (an unknown string is never echoed: it could be a secret).
    #[error("unsupported database URL {url}: {reason}")]
    DatabaseUrl { url: String, reason: String },
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
    /// `smtp_url` or `smtp_from` is unusable (the message never shows the relay's password).
    #[error("invalid mail settings: {0}")]
    Mail(String),
}

impl From<castellan_store::StoreError> for ServerError {
    fn from(e: castellan_store::StoreError) -> Self {
        ServerError::Store(e)
    }
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
    serve_router(router, hints, listener, shutdown).await
}

async fn serve_router(
    router: Router,
    hints: HintBus,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
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

/// The storage backend named by a database URL.
#[derive(Debug, PartialEq, Eq)]
enum Backend<'a> {
    /// A SQLite file; `in_data_dir` when it is the default one under the data directory.
    Sqlite { path: PathBuf, in_data_dir: bool },
    /// A PostgreSQL URL, as given.
    Postgres(&'a str),
}

/// The file name of the default SQLite database in the data directory.
const SQLITE_FILE: &str = "castellan.sqlite3";

/// Picks the backend: no URL is the SQLite file `<data_dir>/castellan.sqlite3`;
/// `sqlite://PATH` (or `sqlite:PATH`; `sqlite:///abs/path` for an absolute path) another SQLite
/// file; `postgres://…` or `postgresql://…` PostgreSQL.
fn backend_for<'a>(
    data_dir: &Path,
    database_url: Option<&'a str>,
) -> Result<Backend<'a>, ServerError> {
    let Some(url) = database_url else {
        return Ok(Backend::Sqlite {
            path: data_dir.join(SQLITE_FILE),
            in_data_dir: true,
        });
    };
    let invalid = |shown: String, reason: &str| ServerError::DatabaseUrl {
        url: shown,
        reason: reason.to_string(),
    };
    const SUPPORTED: &str = "supported: sqlite://PATH, postgres://…, postgresql://…";
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(invalid("(not a URL)".into(), SUPPORTED));
    };
    let is_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return Err(invalid("(not a URL)".into(), SUPPORTED));
    }
    let invalid_sqlite = |reason: &str| invalid(redact_database_url(url), reason);
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => Ok(Backend::Postgres(url)),
        "sqlite" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.contains('?') {
                return Err(invalid_sqlite(
                    "SQLite URLs take no parameters (the server sets its own options)",
                ));
            }
            if path.is_empty() || path == ":memory:" {
                return Err(invalid_sqlite(
                    "a SQLite URL needs a file path (sqlite://PATH)",
                ));
            }
            Ok(Backend::Sqlite {
                path: PathBuf::from(path),
                in_data_dir: false,
            })
        }
        _ => Err(invalid(
            format!("{scheme}:…"),
            &format!("unknown scheme; {SUPPORTED}"),
        )),
    }
}

/// Opens the backend named by `database_url` (see below), binds `bind`, and serves until
/// Ctrl-C / SIGTERM.
///
/// - `None`: SQLite in `<data_dir>/castellan.sqlite3` (the directory is created 0700 if missing);
/// - `sqlite://PATH`: SQLite in that file (`data_dir` is not used);
/// - `postgres://…` / `postgresql://…`: PostgreSQL (`data_dir` is not used). Several instances
///   may serve one database: each relays the others' change hints (`LISTEN`/`NOTIFY`) to its
///   own event streams.
///
/// Any other scheme is [`ServerError::DatabaseUrl`]. The URL's password never appears in logs
/// or errors.
pub async fn run(
    data_dir: &Path,
    database_url: Option<&str>,
    bind: &str,
    settings: Settings,
) -> Result<(), ServerError> {
    match backend_for(data_dir, database_url)? {
        Backend::Sqlite { path, in_data_dir } => {
            if in_data_dir {
                prepare_data_dir(data_dir)?;
            }
            let store = castellan_store_sqlite::SqliteStore::open(&path).await?;
            let listener = bind_listener(bind).await?;
            let addr = listener.local_addr()?;
            if in_data_dir {
                tracing::info!(%addr, data_dir = %data_dir.display(), "castellan server listening");
                println!(
                    "castellan server listening on http://{addr} (data in {})",
                    data_dir.display()
                );
            } else {
                tracing::info!(%addr, database = %path.display(), "castellan server listening");
                println!(
                    "castellan server listening on http://{addr} (SQLite database {})",
                    path.display()
                );
            }
            announce_setup_token(&store).await;
            serve(store, settings, listener, shutdown_signal()).await
        }
        Backend::Postgres(url) => {
            let shown = redact_database_url(url);
            let store = castellan_store_postgres::PgStore::connect(url).await?;
            let (router, hints) = app_with_hints(store.clone(), settings).await?;
            // Writes through other instances reach this instance's event streams. Writes through
            // this one arrive twice (published by the handler and relayed): harmless for hints.
            let relay = hints.clone();
            let listening = store
                .listen_changes(move |user_id, seq| relay.publish(user_id, seq))
                .await?;
            let result = async {
                let listener = bind_listener(bind).await?;
                let addr = listener.local_addr()?;
                tracing::info!(%addr, database = %shown, "castellan server listening");
                println!("castellan server listening on http://{addr} (database {shown})");
                announce_setup_token(&store).await;
                serve_router(router, hints, listener, shutdown_signal()).await
            }
            .await;
            listening.abort();
            store.close().await;
            result
        }
    }
}

/// While no partner exists, prints the setup token (made and stored on the first start, the
/// same on every start until it is used) on stdout, with the command that uses it. It is never
/// logged.
async fn announce_setup_token<S: Store>(store: &S) {
    match store.has_partner().await {
        Ok(true) => {}
        Ok(false) => match store
            .setup_token_get_or_init(routes::new_setup_token())
            .await
        {
            Ok(token) => {
                println!("Setup token: {token}");
                println!(
                    "Create the first partner with: castellan admin setup --token {token} --name \"Your company\""
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot read or store the setup token"),
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell whether setup is done; no setup token printed")
        }
    }
}

/// Operator command (`castellan server setup-token`): stores a new setup token, replacing any
/// unused one, and returns it. With it a registered user creates a further partner
/// (`castellan admin setup`). Opens the database named as for [`run`].
pub async fn issue_setup_token(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<String, ServerError> {
    let token = routes::new_setup_token();
    match backend_for(data_dir, database_url)? {
        Backend::Sqlite { path, in_data_dir } => {
            if in_data_dir {
                prepare_data_dir(data_dir)?;
            }
            let store = castellan_store_sqlite::SqliteStore::open(&path).await?;
            store.setup_token_set(token.clone()).await?;
        }
        Backend::Postgres(url) => {
            let store = castellan_store_postgres::PgStore::connect(url).await?;
            let result = store.setup_token_set(token.clone()).await;
            store.close().await;
            result?;
        }
    }
    Ok(token)
}

async fn bind_listener(bind: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: bind.to_string(),
            source,
        })
}

fn prepare_data_dir(dir: &Path) -> Result<(), ServerError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(url: Option<&str>) -> Result<Backend<'_>, ServerError> {
        backend_for(Path::new("/srv/castellan"), url)
    }

    #[test]
    fn no_url_is_sqlite_in_the_data_dir() {
        assert_eq!(
            backend(None).unwrap(),
            Backend::Sqlite {
                path: PathBuf::from("/srv/castellan/castellan.sqlite3"),
                in_data_dir: true
            }
        );
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        for (url, path) in [
            (
                "sqlite:///var/lib/castellan/db.sqlite3",
                "/var/lib/castellan/db.sqlite3",
            ),
            ("sqlite://relative/db.sqlite3", "relative/db.sqlite3"),
            ("sqlite:db.sqlite3", "db.sqlite3"),
            ("SQLITE:///x.db", "/x.db"),
        ] {
            assert_eq!(
                backend(Some(url)).unwrap(),
                Backend::Sqlite {
                    path: PathBuf::from(path),
                    in_data_dir: false
                },
                "{url}"
            );
        }
        for url in [
            "sqlite://",
            "sqlite:",
            "sqlite::memory:",
            "sqlite://x.db?mode=ro",
        ] {
            assert!(
                matches!(backend(Some(url)), Err(ServerError::DatabaseUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn postgres_urls_are_passed_through() {
        for url in [
            "postgres://castellan@db:5432/castellan",
            "postgresql://castellan:pw@db/castellan?sslmode=require",
            "Postgres://db/castellan",
        ] {
            assert_eq!(backend(Some(url)).unwrap(), Backend::Postgres(url));
        }
    }

    #[test]
    fn unknown_schemes_are_refused_without_the_password() {
        for url in [
            "mysql://root:hunter2@db/castellan",
            "hunter2",
            "/var/lib/hunter2.sqlite3",
            "http://u:hunter2@host/",
            "root:hunter2@db/castellan",
            "pg sql:hunter2",
        ] {
            let err = backend(Some(url)).unwrap_err();
            assert!(matches!(err, ServerError::DatabaseUrl { .. }), "{url}");
            let text = err.to_string();
            assert!(text.starts_with("unsupported database URL"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        let text = backend(Some("mysql://root:pw@db/x"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("mysql:"), "{text}");
    }
}
