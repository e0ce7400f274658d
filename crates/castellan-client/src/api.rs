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
            Ok(ErrorBody {
                error:
                    ErrorDetail {
                        code: ErrorCode::TwoFactorRequired,
                        challenge: Some(challenge),
                        ..
                    },
            }) => ClientError::TwoFactorRequired {
                challenge: crate::Secret::new(challenge),
            },
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

/// Percent-encodes a query value.
fn q(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Filters of an audit query (`GET /companies/{cid}/audit`).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// An email or a user id (actor or target).
    pub user: Option<String>,
    pub event_prefix: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

impl AuditFilter {
    fn query(&self, format: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(u) = &self.user {
            parts.push(format!("user={}", q(u)));
        }
        if let Some(e) = &self.event_prefix {
            parts.push(format!("type={}", q(e)));
        }
        if let Some(t) = self.since {
            parts.push(format!("since={t}"));
        }
        if let Some(t) = self.until {
            parts.push(format!("until={t}"));
        }
        if let Some(b) = self.before {
            parts.push(format!("before={b}"));
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit={l}"));
        }
        if let Some(f) = format {
            parts.push(format!("format={f}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// The organisation endpoints (docs/organisation.md; the list is in `castellan_types::org`).
/// Answers whose shape the contract leaves open are read as JSON values.
impl ApiClient {
    async fn call_ok<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<()> {
        self.call_raw(method, path, body).await.map(|_| ())
    }

    pub async fn login_2fa(
        &self,
        req: &TwoFactorLoginRequest,
    ) -> ClientResult<LoginFinishResponse> {
        self.call(Method::POST, "/auth/login/2fa", Some(req)).await
    }
    pub async fn setup_status(&self) -> ClientResult<SetupStatusResponse> {
        self.call::<(), _>(Method::GET, "/setup", None).await
    }
    pub async fn setup(&self, req: &SetupRequest) -> ClientResult<()> {
        self.call_ok(Method::POST, "/setup", Some(req)).await
    }
    pub async fn membership(&self) -> ClientResult<MembershipResponse> {
        self.call::<(), _>(Method::GET, "/me/membership", None)
            .await
    }
    pub async fn my_key_grants(&self) -> ClientResult<KeyGrantListResponse> {
        self.call::<(), _>(Method::GET, "/me/key-grants", None)
            .await
    }
    pub async fn my_groups(&self) -> ClientResult<MyGroupsResponse> {
        self.call::<(), _>(Method::GET, "/me/groups", None).await
    }
    pub async fn report_item_events(&self, req: &ItemEventsRequest) -> ClientResult<()> {
        self.call_ok(Method::POST, "/me/audit-events", Some(req))
            .await
    }
    pub async fn customers(&self, partner: Uuid) -> ClientResult<CompanyListResponse> {
        self.call::<(), _>(Method::GET, &format!("/partners/{partner}/customers"), None)
            .await
    }
    pub async fn create_customer(
        &self,
        partner: Uuid,
        req: &CreateCustomerRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/partners/{partner}/customers"),
            Some(req),
        )
        .await
    }
    pub async fn policy_templates(
        &self,
        partner: Uuid,
    ) -> ClientResult<PolicyTemplateListResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!("/partners/{partner}/policy-templates"),
            None,
        )
        .await
    }
    pub async fn put_policy_template(
        &self,
        partner: Uuid,
        req: &PutPolicyTemplateRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/partners/{partner}/policy-templates"),
            Some(req),
        )
        .await
    }
    pub async fn delete_policy_template(&self, partner: Uuid, id: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(
            Method::DELETE,
            &format!("/partners/{partner}/policy-templates/{id}"),
            None,
        )
        .await
    }
    pub async fn technician_customers(
        &self,
        partner: Uuid,
        tech: Uuid,
    ) -> ClientResult<TechnicianCustomersResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!("/partners/{partner}/technicians/{tech}/customers"),
            None,
        )
        .await
    }
    pub async fn assign_technician(
        &self,
        partner: Uuid,
        tech: Uuid,
        customer: Uuid,
        req: &AssignTechnicianRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::PUT,
            &format!("/partners/{partner}/technicians/{tech}/customers/{customer}"),
            Some(req),
        )
        .await
    }
    pub async fn unassign_technician(
        &self,
        partner: Uuid,
        tech: Uuid,
        customer: Uuid,
    ) -> ClientResult<()> {
        self.call_ok::<()>(
            Method::DELETE,
            &format!("/partners/{partner}/technicians/{tech}/customers/{customer}"),
            None,
        )
        .await
    }
    pub async fn company(&self, id: Uuid) -> ClientResult<CompanyDto> {
        self.call::<(), _>(Method::GET, &format!("/companies/{id}"), None)
            .await
    }
    pub async fn update_company(&self, id: Uuid, req: &UpdateCompanyRequest) -> ClientResult<()> {
        self.call_ok(Method::PATCH, &format!("/companies/{id}"), Some(req))
            .await
    }
    pub async fn set_subscription(&self, id: Uuid, req: &SubscriptionRequest) -> ClientResult<()> {
        self.call_ok(
            Method::PUT,
            &format!("/companies/{id}/subscription"),
            Some(req),
        )
        .await
    }
    pub async fn policy(&self, id: Uuid) -> ClientResult<PolicyResponse> {
        self.call::<(), _>(Method::GET, &format!("/companies/{id}/policy"), None)
            .await
    }
    pub async fn set_policy(&self, id: Uuid, req: &SetPolicyRequest) -> ClientResult<()> {
        self.call_ok(Method::PUT, &format!("/companies/{id}/policy"), Some(req))
            .await
    }
    pub async fn set_revocations(&self, id: Uuid, req: &SetRevocationsRequest) -> ClientResult<()> {
        self.call_ok(
            Method::PUT,
            &format!("/companies/{id}/revocations"),
            Some(req),
        )
        .await
    }
    pub async fn invitations(&self, id: Uuid) -> ClientResult<InvitationListResponse> {
        self.call::<(), _>(Method::GET, &format!("/companies/{id}/invitations"), None)
            .await
    }
    pub async fn create_invitation(
        &self,
        id: Uuid,
        req: &CreateInvitationRequest,
    ) -> ClientResult<InvitationCreatedResponse> {
        self.call(
            Method::POST,
            &format!("/companies/{id}/invitations"),
            Some(req),
        )
        .await
    }
    pub async fn revoke_invitation(&self, id: Uuid, invitation: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(
            Method::DELETE,
            &format!("/companies/{id}/invitations/{invitation}"),
            None,
        )
        .await
    }
    pub async fn preview_invitation(
        &self,
        invitation: Uuid,
        req: &InvitationSecretRequest,
    ) -> ClientResult<InvitationPreviewResponse> {
        self.call(
            Method::POST,
            &format!("/invitations/{invitation}/preview"),
            Some(req),
        )
        .await
    }
    pub async fn accept_invitation(
        &self,
        invitation: Uuid,
        req: &InvitationSecretRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/invitations/{invitation}/accept"),
            Some(req),
        )
        .await
    }
    pub async fn members(&self, id: Uuid) -> ClientResult<MemberListResponse> {
        self.call::<(), _>(Method::GET, &format!("/companies/{id}/members"), None)
            .await
    }
    pub async fn confirm_member(
        &self,
        id: Uuid,
        user: Uuid,
        req: &ConfirmMemberRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/companies/{id}/members/{user}/confirm"),
            Some(req),
        )
        .await
    }
    pub async fn update_member(
        &self,
        id: Uuid,
        user: Uuid,
        req: &UpdateMemberRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::PATCH,
            &format!("/companies/{id}/members/{user}"),
            Some(req),
        )
        .await
    }
    pub async fn remove_member(&self, id: Uuid, user: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(
            Method::POST,
            &format!("/companies/{id}/members/{user}/remove"),
            None,
        )
        .await
    }
    pub async fn reset_member(
        &self,
        id: Uuid,
        user: Uuid,
        req: &ResetMemberRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/companies/{id}/members/{user}/reset"),
            Some(req),
        )
        .await
    }
    pub async fn delete_member(&self, id: Uuid, user: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(
            Method::DELETE,
            &format!("/companies/{id}/members/{user}"),
            None,
        )
        .await
    }
    pub async fn groups(&self, id: Uuid) -> ClientResult<GroupListResponse> {
        self.call::<(), _>(Method::GET, &format!("/companies/{id}/groups"), None)
            .await
    }
    pub async fn create_group(&self, id: Uuid, req: &NewGroupDto) -> ClientResult<()> {
        self.call_ok(Method::POST, &format!("/companies/{id}/groups"), Some(req))
            .await
    }
    pub async fn update_roster(
        &self,
        id: Uuid,
        group: Uuid,
        req: &RosterUpdateRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::PUT,
            &format!("/companies/{id}/groups/{group}/roster"),
            Some(req),
        )
        .await
    }
    pub async fn delete_group(&self, id: Uuid, group: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(
            Method::DELETE,
            &format!("/companies/{id}/groups/{group}"),
            None,
        )
        .await
    }
    pub async fn audit(&self, id: Uuid, filter: &AuditFilter) -> ClientResult<AuditListResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!("/companies/{id}/audit{}", filter.query(None)),
            None,
        )
        .await
    }
    /// The audit events as CSV text (the server's export).
    pub async fn audit_csv(&self, id: Uuid, filter: &AuditFilter) -> ClientResult<String> {
        let bytes = self
            .call_raw::<()>(
                Method::GET,
                &format!("/companies/{id}/audit{}", filter.query(Some("csv"))),
                None,
            )
            .await?;
        String::from_utf8(bytes)
            .map_err(|_| ClientError::Protocol("the CSV export is not UTF-8".into()))
    }
    pub async fn two_factor_enroll(&self) -> ClientResult<TwoFactorEnrollResponse> {
        self.call::<(), _>(Method::POST, "/account/2fa/enroll", None)
            .await
    }
    pub async fn two_factor_confirm(
        &self,
        req: &TwoFactorCodeRequest,
    ) -> ClientResult<TwoFactorConfirmResponse> {
        self.call(Method::POST, "/account/2fa/confirm", Some(req))
            .await
    }
    pub async fn two_factor_disable(&self, req: &TwoFactorCodeRequest) -> ClientResult<()> {
        self.call_ok(Method::POST, "/account/2fa/disable", Some(req))
            .await
    }
}

/// Sharing (`castellan-types::shares`).
impl ApiClient {
    pub async fn share_directory(&self, company: Uuid) -> ClientResult<DirectoryResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!("/companies/{company}/directory"),
            None,
        )
        .await
    }
    pub async fn create_share(&self, req: &CreateShareRequest) -> ClientResult<()> {
        self.call_ok(Method::POST, "/shares", Some(req)).await
    }
    pub async fn shares(&self) -> ClientResult<ShareListResponse> {
        self.call::<(), _>(Method::GET, "/shares", None).await
    }
    pub async fn share(&self, id: Uuid) -> ClientResult<ShareDto> {
        self.call::<(), _>(Method::GET, &format!("/shares/{id}"), None)
            .await
    }
    pub async fn company_shares(&self, company: Uuid) -> ClientResult<ShareListResponse> {
        self.call::<(), _>(Method::GET, &format!("/companies/{company}/shares"), None)
            .await
    }
    pub async fn update_share_acl(&self, id: Uuid, req: &UpdateAclRequest) -> ClientResult<()> {
        self.call_ok(Method::PUT, &format!("/shares/{id}/acl"), Some(req))
            .await
    }
    pub async fn add_share_grants(&self, id: Uuid, req: &AddGrantsRequest) -> ClientResult<()> {
        self.call_ok(Method::POST, &format!("/shares/{id}/grants"), Some(req))
            .await
    }
    pub async fn rotate_share(&self, id: Uuid, req: &RotateShareRequest) -> ClientResult<()> {
        self.call_ok(Method::POST, &format!("/shares/{id}/rotate"), Some(req))
            .await
    }
    pub async fn accept_share(&self, id: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(Method::POST, &format!("/shares/{id}/accept"), None)
            .await
    }
    pub async fn decline_share(&self, id: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(Method::POST, &format!("/shares/{id}/decline"), None)
            .await
    }
    pub async fn delete_share(&self, id: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(Method::DELETE, &format!("/shares/{id}"), None)
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

/// Organisation backup (`castellan_types::backups`, docs/org-backup.md).
impl ApiClient {
    pub async fn upload_backup(
        &self,
        company: Uuid,
        req: &UploadBackupRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/companies/{company}/backups"),
            Some(req),
        )
        .await
    }
    pub async fn backups(
        &self,
        company: Uuid,
        user: Option<Uuid>,
    ) -> ClientResult<BackupListResponse> {
        let q = user.map(|u| format!("?user_id={u}")).unwrap_or_default();
        self.call::<(), _>(
            Method::GET,
            &format!("/companies/{company}/backups{q}"),
            None,
        )
        .await
    }
    pub async fn backup(&self, company: Uuid, backup: Uuid) -> ClientResult<BackupDto> {
        self.call::<(), _>(
            Method::GET,
            &format!("/companies/{company}/backups/{backup}"),
            None,
        )
        .await
    }
    pub async fn delete_backups(&self, company: Uuid) -> ClientResult<BackupsDeletedResponse> {
        self.call::<(), _>(
            Method::DELETE,
            &format!("/companies/{company}/backups"),
            None,
        )
        .await
    }
    pub async fn backup_restored(
        &self,
        company: Uuid,
        backup: Uuid,
        req: &BackupRestoredRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/companies/{company}/backups/{backup}/restored"),
            Some(req),
        )
        .await
    }
    pub async fn create_recovery_group(
        &self,
        company: Uuid,
        req: &NewRecoveryGroupDto,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/companies/{company}/recovery-groups"),
            Some(req),
        )
        .await
    }
    pub async fn create_handover(
        &self,
        company: Uuid,
        req: &NewHandoverRequest,
    ) -> ClientResult<()> {
        self.call_ok(
            Method::POST,
            &format!("/companies/{company}/handovers"),
            Some(req),
        )
        .await
    }
    pub async fn my_handovers(&self) -> ClientResult<HandoverListResponse> {
        self.call::<(), _>(Method::GET, "/me/handovers", None).await
    }
    pub async fn delete_my_handover(&self, id: Uuid) -> ClientResult<()> {
        self.call_ok::<()>(Method::DELETE, &format!("/me/handovers/{id}"), None)
            .await
    }
}
