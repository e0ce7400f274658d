//! Typed calls to the server's HTTP API.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use castellan_types::*;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::{ClientError, ClientResult};

/// Largest response body the client reads, in bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Splits a server setting into base URLs: one URL, or several separated by commas for a
/// deployment of several instances (the client fails over between them).
pub fn server_urls(server: &str) -> ClientResult<Vec<String>> {
    let urls: Vec<String> = server
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(ClientError::Invalid("no server URL given".into()));
    }
    for u in &urls {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(ClientError::Invalid(format!(
                "server URL must start with http:// or https:// (got {u:?})"
            )));
        }
    }
    Ok(urls)
}

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    bases: Vec<String>,
    /// The instance that answered last; tried first next time.
    preferred: Arc<AtomicUsize>,
    token: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("bases", &self.bases)
            .field("authenticated", &self.token.is_some())
            .finish()
    }
}

impl ApiClient {
    /// `server` is the base URL, for example `http://127.0.0.1:8087`, or several separated by
    /// commas. A request that cannot reach one instance (refused, reset, timed out) is sent to
    /// the next; writes are safe to repeat because every write is a compare-and-swap and the
    /// sync recognises a write that already landed.
    pub fn new(server: &str) -> ClientResult<Self> {
        let bases = server_urls(server)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("castellan/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(ApiClient {
            http,
            bases,
            preferred: Arc::new(AtomicUsize::new(0)),
            token: None,
        })
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The server setting as given (several URLs joined by commas).
    pub fn base_url(&self) -> String {
        self.bases.join(",")
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<R> {
        let bytes = self.call_raw(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(format!("{path}: {e}")))
    }

    async fn call_raw<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<Vec<u8>> {
        let n = self.bases.len();
        let first = self.preferred.load(Ordering::Relaxed) % n;
        let mut last = None;
        for i in 0..n {
            let idx = (first + i) % n;
            match self
                .call_one(&self.bases[idx], method.clone(), path, body)
                .await
            {
                Err(e @ ClientError::Unreachable { .. }) => last = Some(e),
                other => {
                    self.preferred.store(idx, Ordering::Relaxed);
                    return other;
                }
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Protocol("no server".into())))
    }

    async fn call_one<B: Serialize>(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<Vec<u8>> {
        let url = format!("{base}{API_PREFIX}{path}");
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: base.to_string(),
            detail: short(&e),
        })?;
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|l| l as usize > MAX_RESPONSE_BYTES)
        {
            return Err(ClientError::Protocol("response too large".into()));
        }
        let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
            url: base.to_string(),
            detail: short(&e),
        })?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(ClientError::Protocol("response too large".into()));
        }
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ClientError::Api {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
                current_version: body.error.current_version,
            },
            Err(_) => ClientError::Protocol(format!("HTTP {} from {path}", status.as_u16())),
        })
    }

    pub async fn health(&self) -> ClientResult<HealthResponse> {
        self.call::<(), _>(Method::GET, "/health", None).await
    }

    pub async fn register_start(
        &self,
        req: &RegisterStartRequest,
    ) -> ClientResult<RegisterStartResponse> {
        self.call(Method::POST, "/accounts/register/start", Some(req))
            .await
    }
    pub async fn register_finish(
        &self,
        req: &RegisterFinishRequest,
    ) -> ClientResult<RegisterFinishResponse> {
        self.call(Method::POST, "/accounts/register/finish", Some(req))
            .await
    }
    pub async fn login_start(&self, req: &LoginStartRequest) -> ClientResult<LoginStartResponse> {
        self.call(Method::POST, "/auth/login/start", Some(req))
            .await
    }
    pub async fn login_finish(
        &self,
        req: &LoginFinishRequest,
    ) -> ClientResult<LoginFinishResponse> {
        self.call(Method::POST, "/auth/login/finish", Some(req))
            .await
    }
    pub async fn logout(&self) -> ClientResult<()> {
        self.call_raw::<()>(Method::POST, "/auth/logout", None)
            .await
            .map(|_| ())
    }
    pub async fn account(&self) -> ClientResult<AccountResponse> {
        self.call::<(), _>(Method::GET, "/account", None).await
    }
    pub async fn password_change_start(
        &self,
        req: &PasswordChangeStartRequest,
    ) -> ClientResult<RegisterStartResponse> {
        self.call(Method::POST, "/account/password/start", Some(req))
            .await
    }
    pub async fn password_change_finish(
        &self,
        req: &PasswordChangeFinishRequest,
    ) -> ClientResult<PasswordChangeFinishResponse> {
        self.call(Method::POST, "/account/password/finish", Some(req))
            .await
    }
    pub async fn sessions(&self) -> ClientResult<SessionListResponse> {
        self.call::<(), _>(Method::GET, "/sessions", None).await
    }
    pub async fn revoke_session(&self, id: Uuid) -> ClientResult<()> {
        self.call_raw::<()>(Method::DELETE, &format!("/sessions/{id}"), None)
            .await
            .map(|_| ())
    }
    pub async fn list_objects(&self, vault_id: Option<Uuid>) -> ClientResult<ObjectListResponse> {
        let path = match vault_id {
            Some(v) => format!("/objects?vault_id={v}"),
            None => "/objects".to_string(),
        };
        self.call::<(), _>(Method::GET, &path, None).await
    }
    pub async fn get_object(&self, id: Uuid) -> ClientResult<ObjectDto> {
        self.call::<(), _>(Method::GET, &format!("/objects/{id}"), None)
            .await
    }
    pub async fn put_object(&self, id: Uuid, req: &PutObjectRequest) -> ClientResult<ObjectDto> {
        self.call(Method::PUT, &format!("/objects/{id}"), Some(req))
            .await
    }
    pub async fn delete_object(&self, id: Uuid, req: &DeleteObjectRequest) -> ClientResult<()> {
        self.call_raw(Method::DELETE, &format!("/objects/{id}"), Some(req))
            .await
            .map(|_| ())
    }
    /// One page of the change feed after `since`.
    pub async fn sync(&self, since: i64, limit: u32) -> ClientResult<SyncResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!("/sync?since={since}&limit={limit}"),
            None,
        )
        .await
    }
}

fn short(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused or host unreachable".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        let mut s = e.to_string();
        s.truncate(200);
        s
    }
}

/// True for errors that mean "the server said no because of the session".
pub fn is_unauthorized(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, .. } if *status == StatusCode::UNAUTHORIZED.as_u16())
}
