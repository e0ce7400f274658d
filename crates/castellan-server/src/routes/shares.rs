//! Sharing (see `docs/sharing.md` and `castellan_types::shares`): shares of a company's items
//! to users and groups, their signed access lists, key grants, rotation, the recipients'
//! accept and decline, deletion, the admins' overview and the company directory.
//!
//! Who may do what is decided here from the stored share (owners, principals) and, for
//! everything about the company, by [`Caller`] (`crate::authz`). A share outside the caller's
//! reach (not a principal, not an administrator of its company) answers `404 not_found`
//! exactly like one that does not exist; a principal whose role does not allow an action gets
//! `403 forbidden`.
//!
//! The server checks what it can check without the share key: access lists are signed by the
//! caller's identity key (an owner, a confirmed member) or by the company root key (an
//! administrator), name the share and company, and follow the stored version; principals are
//! the company's members and groups (or other registered users where the company's policy
//! allows); grants are signed by the caller for principals of the access list. Clients verify
//! all of it again against the keys they pinned.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_crypto as crypto;
use castellan_store::{
    AclWrite, CompanyRecord, MemberStatus, PrincipalKind, RewrappedObject, ShareCreate, ShareEntry,
    ShareGrantRecord, ShareRecord, ShareRole, ShareRotation, ShareState, Store, StoreError,
    UserShare, UserShareState,
};
use castellan_types::{
    share_statement, AclEntryDto, AclSignerDto, AddGrantsRequest, CreateShareRequest,
    DirectoryEntryDto, DirectoryResponse, ErrorBody, ErrorCode, ManifestDto, PrincipalDto,
    PrincipalKindDto, RotateShareRequest, ShareAclBody, ShareDto, ShareGrantDto, ShareListResponse,
    ShareRoleDto, ShareStateDto, ShareSummaryDto, SignedDoc, UpdateAclRequest, MAX_ENVELOPE_BYTES,
};
use serde_json::json;
use uuid::Uuid;

use super::now;
use super::objects::manifest_writes;
use super::org::{
    account_keys, body, check_grant, company_policy, doc_bytes, group_dto, record, stored_doc,
    Body, Event, MAX_DOC_BYTES,
};
use crate::authz::{forbidden, Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::Shared;

/// Most entries in one access list (users and groups).
pub(crate) const MAX_SHARE_ENTRIES: usize = 1000;
/// Most grants in one request (one per principal of the access list).
pub(crate) const MAX_SHARE_GRANTS: usize = MAX_SHARE_ENTRIES;
/// Largest sealed share name (an envelope of a short text), in bytes.
pub(crate) const MAX_SHARE_NAME_BYTES: usize = 4096;
/// Most objects in one rotation.
pub(crate) const MAX_ROTATE_OBJECTS: usize = 100_000;
/// Largest rotation request body: every object of the share re-wrapped, in bytes.
pub(crate) const MAX_ROTATE_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Latest expiry accepted (the end of year 9999).
const MAX_EXPIRES_AT: i64 = 253_402_300_799;

// ---------------------------------------------------------------- conversions

fn kind_of(k: PrincipalKindDto) -> PrincipalKind {
    match k {
        PrincipalKindDto::User => PrincipalKind::User,
        PrincipalKindDto::Group => PrincipalKind::Group,
    }
}

fn kind_dto(k: PrincipalKind) -> PrincipalKindDto {
    match k {
        PrincipalKind::User => PrincipalKindDto::User,
        PrincipalKind::Group => PrincipalKindDto::Group,
    }
}

fn role_of(r: ShareRoleDto) -> ShareRole {
    match r {
        ShareRoleDto::Owner => ShareRole::Owner,
        ShareRoleDto::Editor => ShareRole::Editor,
        ShareRoleDto::ReadOnly => ShareRole::ReadOnly,
        ShareRoleDto::ReadOnlyHidden => ShareRole::ReadOnlyHidden,
    }
}

pub(crate) fn share_role_dto(r: ShareRole) -> ShareRoleDto {
    match r {
        ShareRole::Owner => ShareRoleDto::Owner,
        ShareRole::Editor => ShareRoleDto::Editor,
        ShareRole::ReadOnly => ShareRoleDto::ReadOnly,
        ShareRole::ReadOnlyHidden => ShareRoleDto::ReadOnlyHidden,
    }
}

fn state_dto(s: UserShareState) -> ShareStateDto {
    match s {
        UserShareState::Owned => ShareStateDto::Owned,
        UserShareState::Invited => ShareStateDto::Invited,
        UserShareState::Accepted => ShareStateDto::Accepted,
        UserShareState::Declined => ShareStateDto::Declined,
    }
}

fn grant_dto(g: &ShareGrantRecord) -> ShareGrantDto {
    ShareGrantDto {
        principal: PrincipalDto {
            kind: kind_dto(g.kind),
            id: g.principal_id,
        },
        key_version: g.key_version,
        sealed: g.sealed.clone().into(),
        granted_by: g.granted_by,
        signature: g.signature.clone().into(),
    }
}

fn signed(bytes: &[u8]) -> SignedDoc {
    stored_doc(bytes).unwrap_or(SignedDoc {
        body: Vec::new().into(),
        signature: Vec::new().into(),
    })
}

/// What the caller may see of a share.
enum View<'a> {
    /// A principal (owner or recipient): their state, role and grants.
    Principal(&'a UserShare, Uuid),
    /// A company administrator who is not a principal (or the overview): metadata only.
    Admin,
}

fn share_dto(share: &ShareRecord, view: View<'_>) -> ShareDto {
    let (state, role, grant, grants, manifest) = match view {
        View::Principal(us, user_id) => {
            let mine = |g: &&ShareGrantRecord| match g.kind {
                PrincipalKind::User => g.principal_id == user_id,
                PrincipalKind::Group => us.via_groups.contains(&g.principal_id),
            };
            // Prefer the grant to the user over one to a group.
            let grant = share
                .grants
                .iter()
                .filter(mine)
                .min_by_key(|g| g.kind != PrincipalKind::User)
                .map(grant_dto);
            let grants = if us.state == UserShareState::Owned {
                share.grants.iter().map(grant_dto).collect()
            } else {
                share.grants.iter().filter(mine).map(grant_dto).collect()
            };
            let manifest = if us.readable {
                share.manifest.as_ref().map(|m| ManifestDto {
                    vault_id: m.vault_id,
                    counter: m.counter,
                    manifest: m.blob.clone().into(),
                })
            } else {
                None
            };
            (
                state_dto(us.state),
                Some(share_role_dto(us.role)),
                grant,
                grants,
                manifest,
            )
        }
        View::Admin => (ShareStateDto::Admin, None, None, Vec::new(), None),
    };
    ShareDto {
        id: share.id,
        company_id: share.company_id,
        owner_ids: share.owner_ids.clone(),
        acl: signed(&share.acl),
        acl_version: share.acl_version,
        key_version: share.key_version,
        expires_at: share.expires_at,
        name: share.name.clone().into(),
        name_for_admins: share.name_for_admins.clone().into(),
        state,
        role,
        grant,
        grants,
        manifest,
        object_count: share.object_count,
        created_at: share.created_at,
        updated_at: share.updated_at,
    }
}

// ---------------------------------------------------------------- looking shares up

/// How `user_id` stands with the share (`None`: not a principal).
pub(crate) async fn view_of<S: Store>(
    state: &Shared<S>,
    user_id: Uuid,
    share_id: Uuid,
    now: i64,
) -> ApiResult<Option<UserShare>> {
    Ok(state
        .store
        .shares_for_user(user_id, now)
        .await?
        .into_iter()
        .find(|us| us.share.id == share_id))
}

/// A principal who still sees the share: owners always, recipients until it expires.
fn visible(us: &UserShare, now: i64) -> bool {
    us.state == UserShareState::Owned || !us.share.is_expired(now)
}

/// The shares the user sees in `SyncResponse.shares`: readable ones and open invitations.
pub(crate) async fn share_summaries<S: Store>(
    state: &Shared<S>,
    user_id: Uuid,
) -> ApiResult<Vec<ShareSummaryDto>> {
    let now = now();
    Ok(state
        .store
        .shares_for_user(user_id, now)
        .await?
        .into_iter()
        .filter(|us| {
            us.readable || (us.state == UserShareState::Invited && !us.share.is_expired(now))
        })
        .map(|us| ShareSummaryDto {
            id: us.share.id,
            acl_version: us.share.acl_version,
            key_version: us.share.key_version,
            state: state_dto(us.state),
            role: share_role_dto(us.role),
        })
        .collect())
}

/// The share, its company and the caller's standing with it.
struct Standing {
    share: ShareRecord,
    company: CompanyRecord,
    /// The caller as a principal who still sees the share.
    view: Option<UserShare>,
    /// Whether the caller administers the share's company.
    admin: bool,
}

impl Standing {
    fn is_owner(&self, user_id: Uuid) -> bool {
        self.share.owner_ids.contains(&user_id)
    }

    fn dto(&self, user_id: Uuid) -> ShareDto {
        match &self.view {
            Some(us) => share_dto(&self.share, View::Principal(us, user_id)),
            None => share_dto(&self.share, View::Admin),
        }
    }
}

/// Loads the share and decides whether the caller may know it exists: a principal who still
/// sees it, or an administrator of its company. Anyone else gets `404`, as for an unknown id.
async fn standing<S: Store>(state: &Shared<S>, caller: &Caller, sid: Uuid) -> ApiResult<Standing> {
    // A disabled member, or a member of a disabled company, does nothing in it.
    caller.check_enabled()?;
    let not_found = || ApiError::not_found("share");
    let now = now();
    let share = state.store.share(sid).await?.ok_or_else(not_found)?;
    let company = state
        .store
        .company(share.company_id)
        .await?
        .ok_or_else(not_found)?;
    let view = view_of(state, caller.user_id(), sid, now)
        .await?
        .filter(|us| visible(us, now));
    let admin = caller.check(&company, Need::Administer).is_ok();
    if view.is_none() && !admin {
        return Err(not_found());
    }
    Ok(Standing {
        share,
        company,
        view,
        admin,
    })
}

// ---------------------------------------------------------------- checks

fn conflict(message: String, current: i64) -> ApiError {
    ApiError {
        current_version: Some(current),
        ..ApiError::new(StatusCode::CONFLICT, ErrorCode::VersionConflict, message)
    }
}

/// A share's store errors in words about shares.
fn share_store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("share"),
        StoreError::VersionConflict { current } => conflict(
            format!("the share changed meanwhile (current version {current}); reload it and retry"),
            current,
        ),
        StoreError::AlreadyExists(_) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            "a share or vault with this id exists already; retry with a new id",
        ),
        other => other.into(),
    }
}

fn check_sealed_name(what: &str, b: &[u8]) -> ApiResult<()> {
    if b.is_empty() || b.len() > MAX_SHARE_NAME_BYTES {
        return Err(ApiError::invalid(format!(
            "{what} must be 1 to {MAX_SHARE_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The caller's identity signing key, from their account key set.
fn caller_key(caller: &Caller) -> ApiResult<crypto::VerifyingKey> {
    let keys = account_keys(&caller.user.keyset)?;
    crypto::VerifyingKey::from_bytes(keys.signing_public_key.as_slice())
        .map_err(|_| ApiError::invalid("your account's signing key is not a valid Ed25519 key"))
}

fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Whether `domain` is one of the policy's domains (`*.example.com` also matches
/// subdomains).
fn domain_allowed(domain: &str, allowed: &[String]) -> bool {
    let domain = domain.to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_prefix("*.") {
            Some(base) => domain.ends_with(&format!(".{base}")) || domain == base,
            None => domain == a,
        }
    })
}

/// What an access list must say to be stored.
struct AclExpect<'a> {
    share_id: Uuid,
    company: &'a CompanyRecord,
    version: i64,
    key_version: i64,
    /// The stored share (`None` on create).
    stored: Option<&'a ShareRecord>,
}

/// A checked access list: its body and the entries for the store.
struct CheckedAcl {
    body: ShareAclBody,
    entries: Vec<ShareEntry>,
}

/// Verifies an access list: the signature (the caller's identity key, or the company key for
/// an administrator), what it names, its versions, and its principals.
async fn check_acl<S: Store>(
    state: &Shared<S>,
    caller: &Caller,
    doc: &SignedDoc,
    expect: &AclExpect<'_>,
) -> ApiResult<CheckedAcl> {
    if doc.body.len() > MAX_DOC_BYTES {
        return Err(ApiError::invalid("the access list is too large"));
    }
    if doc.signature.len() != 64 {
        return Err(ApiError::invalid(
            "the access list signature must be 64 bytes",
        ));
    }
    let body: ShareAclBody = serde_json::from_slice(doc.body.as_slice()).map_err(|e| {
        ApiError::invalid(format!(
            "the signed access list is not a valid access list document: {e}"
        ))
    })?;
    let company = expect.company;
    match body.signer {
        AclSignerDto::Member(u) => {
            if u != caller.user_id() {
                return Err(ApiError::invalid(
                    "an access list signed by a member must be signed by you",
                ));
            }
            caller.check(company, Need::Member)?;
            caller_key(caller)?
                .verify_statement(
                    share_statement::ACL,
                    doc.body.as_slice(),
                    doc.signature.as_slice(),
                )
                .map_err(|_| {
                    ApiError::invalid(
                        "the access list signature does not verify with your identity key",
                    )
                })?;
        }
        AclSignerDto::Company => {
            caller.check(company, Need::Administer)?;
            let key = crypto::VerifyingKey::from_bytes(&company.signing_public_key)
                .map_err(|_| ApiError::internal())?;
            key.verify_statement(
                share_statement::ACL,
                doc.body.as_slice(),
                doc.signature.as_slice(),
            )
            .map_err(|_| {
                ApiError::invalid(
                    "the access list signature does not verify with the company's root key",
                )
            })?;
        }
    }
    if body.share_id != expect.share_id || body.company_id != company.id {
        return Err(ApiError::invalid(
            "the access list names another share or company",
        ));
    }
    let stored_version = expect.version - 1;
    if body.version != expect.version {
        return Err(conflict(
            format!(
                "the access list must have version {} (the stored one is {stored_version}); reload the share and retry",
                expect.version
            ),
            stored_version,
        ));
    }
    if body.key_version != expect.key_version {
        return Err(conflict(
            format!(
                "the access list must be for share key version {} (its key_version is {}); reload the share and retry",
                expect.key_version, body.key_version
            ),
            stored_version,
        ));
    }
    if body
        .expires_at
        .is_some_and(|t| !(0..=MAX_EXPIRES_AT).contains(&t))
    {
        return Err(ApiError::invalid("expires_at is out of range"));
    }
    if body.entries.len() > MAX_SHARE_ENTRIES {
        return Err(ApiError::invalid(format!(
            "an access list has at most {MAX_SHARE_ENTRIES} entries"
        )));
    }
    let mut seen = HashSet::new();
    for e in &body.entries {
        if !seen.insert(e.principal) {
            return Err(ApiError::invalid(format!(
                "the access list names {} twice",
                e.principal.id
            )));
        }
        if e.principal.kind == PrincipalKindDto::Group && e.role == ShareRoleDto::Owner {
            return Err(ApiError::invalid(
                "owners are users: a group cannot be an owner",
            ));
        }
    }
    let owners: Vec<Uuid> = body
        .entries
        .iter()
        .filter(|e| e.role == ShareRoleDto::Owner)
        .map(|e| e.principal.id)
        .collect();
    if owners.is_empty() {
        return Err(ApiError::invalid("a share needs at least one owner"));
    }
    // A member signs only as an owner: of the stored list, or of the first one they create.
    if let AclSignerDto::Member(u) = body.signer {
        let owner = match expect.stored {
            Some(s) => s.owner_ids.contains(&u),
            None => owners.contains(&u),
        };
        if !owner {
            return Err(forbidden(match expect.stored {
                Some(_) => "only the share's owners may change its access list",
                None => "the creator of a share must be an owner in its access list",
            }));
        }
    }
    check_principals(state, caller, company, &body.entries, expect.stored).await?;
    let entries = body
        .entries
        .iter()
        .map(|e: &AclEntryDto| ShareEntry {
            kind: kind_of(e.principal.kind),
            principal_id: e.principal.id,
            role: role_of(e.role),
        })
        .collect();
    Ok(CheckedAcl { body, entries })
}

/// Owners are confirmed members of the company; groups are the company's; users a list adds
/// are its confirmed members or, only while the company's "restrict sharing domains" policy
/// lists domains, other registered users; with that policy set, every user a list adds (but
/// the caller) has one of the listed email domains.
async fn check_principals<S: Store>(
    state: &Shared<S>,
    caller: &Caller,
    company: &CompanyRecord,
    entries: &[AclEntryDto],
    stored: Option<&ShareRecord>,
) -> ApiResult<()> {
    let members: HashMap<Uuid, castellan_store::MemberRecord> = state
        .store
        .members_of(company.id)
        .await?
        .into_iter()
        .filter(|m| m.status == MemberStatus::Confirmed)
        .map(|m| (m.user_id, m))
        .collect();
    let groups: HashSet<Uuid> = if entries
        .iter()
        .any(|e| e.principal.kind == PrincipalKindDto::Group)
    {
        state
            .store
            .groups_of(company.id)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect()
    } else {
        HashSet::new()
    };
    let restrict = company_policy(company).restrict_sharing_domains;
    let added = |e: &AclEntryDto| match stored {
        None => true,
        Some(s) => !s
            .entries
            .iter()
            .any(|x| x.kind == kind_of(e.principal.kind) && x.principal_id == e.principal.id),
    };
    for e in entries {
        let id = e.principal.id;
        match e.principal.kind {
            PrincipalKindDto::Group => {
                if !groups.contains(&id) {
                    return Err(ApiError::invalid(format!(
                        "{id} is not a group of the share's company"
                    )));
                }
            }
            PrincipalKindDto::User => {
                if e.role == ShareRoleDto::Owner && !members.contains_key(&id) {
                    return Err(ApiError::invalid(format!(
                        "owners must be confirmed members of the share's company; {id} is not"
                    )));
                }
                if !added(e) {
                    continue;
                }
                let email = match members.get(&id) {
                    Some(m) => m.email.clone(),
                    None => {
                        let Some(user) = state.store.user_by_id(id).await? else {
                            return Err(ApiError::invalid(format!(
                                "{id} is not a registered user"
                            )));
                        };
                        // Outside the company: only registered users whose domain the
                        // company's "restrict sharing domains" policy lists.
                        if restrict.is_empty() {
                            return Err(forbidden(
                                "sharing outside the company is off: the company's \"restrict sharing domains\" policy lists no domains outside recipients may have",
                            ));
                        }
                        user.email
                    }
                };
                if !restrict.is_empty() && id != caller.user_id() {
                    let domain = email_domain(&email);
                    if !domain_allowed(domain, &restrict) {
                        return Err(forbidden(&format!(
                            "the company's policy restricts sharing to the domains {}; {domain} is not one of them",
                            restrict.join(", ")
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Checks grants made by the caller for principals of `entries` at `key_version` and
/// converts them for the store.
fn check_grants(
    caller: &Caller,
    share_id: Uuid,
    entries: &[ShareEntry],
    key_version: i64,
    grants: &[ShareGrantDto],
) -> ApiResult<Vec<ShareGrantRecord>> {
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    if grants.len() > MAX_SHARE_GRANTS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_SHARE_GRANTS} grants per request"
        )));
    }
    let me = caller.user_id();
    let owner = entries.iter().any(|e| {
        e.kind == PrincipalKind::User && e.principal_id == me && e.role == ShareRole::Owner
    });
    if !owner {
        return Err(forbidden(
            "only owners of the share grant its key (recipients accept grants signed by an owner)",
        ));
    }
    let key = caller_key(caller)?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        let p = g.principal;
        if !seen.insert(p) {
            return Err(ApiError::invalid(format!("two grants for {}", p.id)));
        }
        let kind = kind_of(p.kind);
        if !entries
            .iter()
            .any(|e| e.kind == kind && e.principal_id == p.id)
        {
            return Err(ApiError::invalid(format!(
                "a grant for {}, who is not in the share's access list",
                p.id
            )));
        }
        if g.key_version != key_version {
            return Err(ApiError::invalid(format!(
                "a grant of share key version {} where the access list's is {key_version}",
                g.key_version
            )));
        }
        if g.granted_by != me {
            return Err(ApiError::invalid("grants must be granted by you"));
        }
        check_grant("a share grant", g.sealed.as_slice())?;
        if g.signature.len() != 64 {
            return Err(ApiError::invalid("a grant signature must be 64 bytes"));
        }
        let digest = crypto::sha256(g.sealed.as_slice());
        let signed = ShareGrantDto::signed_body(share_id, p, key_version, &digest);
        key.verify_statement(share_statement::GRANT, &signed, g.signature.as_slice())
            .map_err(|_| {
                ApiError::invalid(format!(
                    "the grant for {} does not verify with your identity key",
                    p.id
                ))
            })?;
        out.push(ShareGrantRecord {
            kind,
            principal_id: p.id,
            key_version,
            sealed: g.sealed.as_slice().to_vec(),
            granted_by: me,
            signature: g.signature.as_slice().to_vec(),
        });
    }
    Ok(out)
}

fn check_share_manifest(
    share_id: Uuid,
    m: ManifestDto,
) -> ApiResult<castellan_store::ManifestWrite> {
    if m.vault_id != share_id {
        return Err(ApiError::invalid(
            "the manifest must be the share vault's (vault_id = share id)",
        ));
    }
    manifest_writes(vec![m]).map(|mut v| v.remove(0))
}

// ---------------------------------------------------------------- hints and audit

/// Tells every user in `users` that their feed (or the shares they see) changed at `seq`.
fn announce<S: Store>(state: &Shared<S>, mut users: Vec<Uuid>, seq: i64) {
    users.sort();
    users.dedup();
    let seq = seq.max(state.hints.latest());
    for u in users {
        state.hints.publish(u, seq);
    }
}

async fn audience<S: Store>(state: &Shared<S>, share_id: Uuid) -> Vec<Uuid> {
    match state.store.share_audience(share_id).await {
        Ok(users) => users,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list whom to tell about a share change");
            Vec::new()
        }
    }
}

/// After a group's roster changed: the members it added or removed (`changed`) gain or lose
/// the company's shares that list the group; tell them (their `SyncResponse.shares` changed).
pub(crate) async fn announce_group_change<S: Store>(
    state: &Shared<S>,
    company_id: Uuid,
    group_id: Uuid,
    changed: Vec<Uuid>,
) {
    if changed.is_empty() {
        return;
    }
    let shares = match state.store.shares_of_company(company_id).await {
        Ok(shares) => shares,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the shares of a group whose roster changed");
            return;
        }
    };
    let listed = shares.iter().any(|s| {
        s.entries
            .iter()
            .any(|e| e.kind == PrincipalKind::Group && e.principal_id == group_id)
    });
    if listed {
        announce(state, changed, 0);
    }
}

fn signer_label(s: AclSignerDto) -> &'static str {
    match s {
        AclSignerDto::Member(_) => "member",
        AclSignerDto::Company => "company",
    }
}

// ---------------------------------------------------------------- handlers

/// The company's confirmed members with their certificates, and its groups with their signed
/// rosters: what a client picks recipients from and verifies their keys with.
#[utoipa::path(get, path = "/api/v1/companies/{cid}/directory", tag = "sharing", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = DirectoryResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn company_directory<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<DirectoryResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Directory).await?;
    let members = state
        .store
        .members_of(company.id)
        .await?
        .into_iter()
        .filter(|m| m.status == MemberStatus::Confirmed && !m.disabled)
        .filter_map(|m| {
            let cert = stored_doc(m.cert.as_deref()?)?;
            Some(DirectoryEntryDto {
                user_id: m.user_id,
                email: m.email,
                cert,
            })
        })
        .collect();
    let groups = state
        .store
        .groups_of(company.id)
        .await?
        .iter()
        .map(group_dto)
        .collect();
    Ok(Json(DirectoryResponse {
        members,
        groups,
        revocations: company.revocations.as_deref().and_then(stored_doc),
    }))
}

/// Creates a share: its vault, access list version 1 (signed by the caller, an owner in it),
/// grants, sealed names and the empty vault's manifest (counter 1). The caller is a confirmed
/// member of the company.
#[utoipa::path(post, path = "/api/v1/shares", tag = "sharing", security(("bearer" = [])),
    request_body = CreateShareRequest,
    responses((status = 201, body = ShareDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_share<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    req: Body<CreateShareRequest>,
) -> ApiResult<(StatusCode, Json<ShareDto>)> {
    let req = body(req)?;
    let (company, _) = caller.company(&state, req.company_id, Need::Member).await?;
    let acl = check_acl(
        &state,
        &caller,
        &req.acl,
        &AclExpect {
            share_id: req.share_id,
            company: &company,
            version: 1,
            key_version: 1,
            stored: None,
        },
    )
    .await?;
    if acl.body.signer != AclSignerDto::Member(caller.user_id()) {
        return Err(ApiError::invalid(
            "the first access list is signed by its creator's identity key",
        ));
    }
    check_sealed_name("the share name", req.name.as_slice())?;
    check_sealed_name("the share name for admins", req.name_for_admins.as_slice())?;
    let grants = check_grants(&caller, req.share_id, &acl.entries, 1, &req.grants)?;
    let manifest = check_share_manifest(req.share_id, req.manifest)?;
    if manifest.counter != 1 {
        return Err(ApiError::invalid("a new share's manifest has counter 1"));
    }
    let now = now();
    let share = state
        .store
        .create_share(ShareCreate {
            id: req.share_id,
            company_id: company.id,
            acl: doc_bytes(&req.acl)?,
            acl_version: 1,
            key_version: 1,
            expires_at: acl.body.expires_at,
            name: req.name.into_vec(),
            name_for_admins: req.name_for_admins.into_vec(),
            entries: acl.entries,
            grants,
            manifest,
            now,
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("company"),
            other => share_store_error(other),
        })?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "share.created").details(json!({
            "share_id": share.id, "acl_version": share.acl_version,
            "entries": share.entries.len(), "grants": share.grants.len(),
            "expires_at": share.expires_at,
        })),
    )
    .await;
    announce(&state, audience(&state, share.id).await, 0);
    let view = view_of(&state, caller.user_id(), share.id, now).await?;
    let dto = match &view {
        Some(us) => share_dto(&us.share, View::Principal(us, caller.user_id())),
        None => share_dto(&share, View::Admin),
    };
    Ok((StatusCode::CREATED, Json(dto)))
}

/// My shares: those I own, have accepted, declined or am invited to (`state`), with my role
/// and grant. Expired shares are left out for recipients.
#[utoipa::path(get, path = "/api/v1/shares", tag = "sharing", security(("bearer" = [])),
    responses((status = 200, body = ShareListResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_shares<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
) -> ApiResult<Json<ShareListResponse>> {
    let now = now();
    let mine = state.store.shares_for_user(caller.user_id(), now).await?;
    Ok(Json(ShareListResponse {
        shares: mine
            .iter()
            .filter(|us| visible(us, now))
            .map(|us| share_dto(&us.share, View::Principal(us, caller.user_id())))
            .collect(),
    }))
}

/// One share: for its owners and recipients (until it expires) with their state, role and
/// grants; for administrators of its company, metadata only (`state` = `admin`).
#[utoipa::path(get, path = "/api/v1/shares/{sid}", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")),
    responses((status = 200, body = ShareDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_share<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
) -> ApiResult<Json<ShareDto>> {
    let st = standing(&state, &caller, sid).await?;
    Ok(Json(st.dto(caller.user_id())))
}

/// Replaces the access list (version = stored + 1, same key version): signed by an owner's
/// identity key, or by the company root key (an administrator changing recipients or
/// transferring ownership). Grants for principals it adds may come along (owners only).
#[utoipa::path(put, path = "/api/v1/shares/{sid}/acl", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")), request_body = UpdateAclRequest,
    responses((status = 200, body = ShareDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "version_conflict"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn update_share_acl<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
    req: Body<UpdateAclRequest>,
) -> ApiResult<Json<ShareDto>> {
    let st = standing(&state, &caller, sid).await?;
    if !st.is_owner(caller.user_id()) && !st.admin {
        return Err(forbidden(
            "only the share's owners and the company's administrators may change its recipients",
        ));
    }
    let req = body(req)?;
    let acl = check_acl(
        &state,
        &caller,
        &req.acl,
        &AclExpect {
            share_id: sid,
            company: &st.company,
            version: st.share.acl_version + 1,
            key_version: st.share.key_version,
            stored: Some(&st.share),
        },
    )
    .await?;
    let grants = check_grants(
        &caller,
        sid,
        &acl.entries,
        st.share.key_version,
        &req.grants,
    )?;
    let before = audience(&state, sid).await;
    let n_grants = grants.len();
    let updated = state
        .store
        .update_acl(
            sid,
            AclWrite {
                acl: doc_bytes(&req.acl)?,
                acl_version: acl.body.version,
                expires_at: acl.body.expires_at,
                entries: acl.entries,
                grants,
                now: now(),
            },
        )
        .await
        .map_err(share_store_error)?;
    record(
        &state,
        Event::by(&caller, Some(st.company.id), "share.acl_changed").details(json!({
            "share_id": sid, "acl_version": updated.acl_version,
            "signer": signer_label(acl.body.signer), "entries": updated.entries.len(),
            "grants": n_grants, "expires_at": updated.expires_at,
        })),
    )
    .await;
    let mut users = before;
    users.extend(audience(&state, sid).await);
    announce(&state, users, 0);
    let st = Standing {
        view: view_of(&state, caller.user_id(), sid, now()).await?,
        share: updated,
        ..st
    };
    Ok(Json(st.dto(caller.user_id())))
}

/// Adds or replaces key grants of the current key version for principals of the current
/// access list (an owner's client completing grants, e.g. after an administrator added
/// recipients).
#[utoipa::path(post, path = "/api/v1/shares/{sid}/grants", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")), request_body = AddGrantsRequest,
    responses((status = 200, body = ShareDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn add_share_grants<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
    req: Body<AddGrantsRequest>,
) -> ApiResult<Json<ShareDto>> {
    let st = standing(&state, &caller, sid).await?;
    if !st.is_owner(caller.user_id()) {
        return Err(forbidden("only the share's owners may grant its key"));
    }
    caller.check(&st.company, Need::Member)?;
    let req = body(req)?;
    if req.grants.is_empty() {
        return Err(ApiError::invalid("no grants given"));
    }
    let grants = check_grants(
        &caller,
        sid,
        &st.share.entries,
        st.share.key_version,
        &req.grants,
    )?;
    let n = grants.len();
    let principals: Vec<Uuid> = grants.iter().map(|g| g.principal_id).collect();
    let updated = state
        .store
        .add_grants(sid, grants, now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::invalid("a grant names a principal who is not in the access list")
            }
            StoreError::VersionConflict { current } => conflict(
                format!(
                    "the share key was rotated (key version {current}); reload the share and retry"
                ),
                current,
            ),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(st.company.id), "share.grants_added").details(json!({
            "share_id": sid, "key_version": updated.key_version, "grants": n,
            "principals": principals,
        })),
    )
    .await;
    announce(&state, audience(&state, sid).await, 0);
    let st = Standing {
        view: view_of(&state, caller.user_id(), sid, now()).await?,
        share: updated,
        ..st
    };
    Ok(Json(st.dto(caller.user_id())))
}

/// Rotates the share key: access list and key version + 1, every object of the share
/// re-wrapped (exactly the stored objects at their stored versions), grants of the new key
/// version for the remaining principals (older grants are dropped), the new names and the
/// next manifest, in one transaction. Owners only.
#[utoipa::path(post, path = "/api/v1/shares/{sid}/rotate", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")), request_body = RotateShareRequest,
    responses((status = 200, body = ShareDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "version_conflict (the share or an object changed) or manifest_conflict"),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn rotate_share<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
    req: Body<RotateShareRequest>,
) -> ApiResult<Json<ShareDto>> {
    let st = standing(&state, &caller, sid).await?;
    if !st.is_owner(caller.user_id()) {
        return Err(forbidden("only the share's owners may rotate its key"));
    }
    let req = body(req)?;
    let key_version = st.share.key_version + 1;
    let acl = check_acl(
        &state,
        &caller,
        &req.acl,
        &AclExpect {
            share_id: sid,
            company: &st.company,
            version: st.share.acl_version + 1,
            key_version,
            stored: Some(&st.share),
        },
    )
    .await?;
    check_sealed_name("the share name", req.name.as_slice())?;
    check_sealed_name("the share name for admins", req.name_for_admins.as_slice())?;
    let grants = check_grants(&caller, sid, &acl.entries, key_version, &req.grants)?;
    if req.objects.len() > MAX_ROTATE_OBJECTS {
        return Err(ApiError::invalid(format!(
            "a rotation re-wraps at most {MAX_ROTATE_OBJECTS} objects"
        )));
    }
    let mut ids = HashSet::new();
    let mut objects = Vec::with_capacity(req.objects.len());
    for o in req.objects {
        if !ids.insert(o.id) {
            return Err(ApiError::invalid(format!(
                "object {} is listed twice",
                o.id
            )));
        }
        if o.expected_version < 1 {
            return Err(ApiError::invalid("expected_version must be at least 1"));
        }
        for (what, b) in [
            ("key_wrap", o.key_wrap.as_slice()),
            ("overview", o.overview.as_slice()),
            ("details", o.details.as_slice()),
        ] {
            if b.len() > MAX_ENVELOPE_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "{what} of object {} is larger than {MAX_ENVELOPE_BYTES} bytes",
                        o.id
                    ),
                ));
            }
        }
        if o.overview.is_empty() {
            return Err(ApiError::invalid(format!(
                "the overview of object {} is empty",
                o.id
            )));
        }
        objects.push(RewrappedObject {
            id: o.id,
            expected_version: o.expected_version,
            key_wrap: o.key_wrap.into_vec(),
            overview: o.overview.into_vec(),
            details: o.details.into_vec(),
        });
    }
    let manifest = check_share_manifest(sid, req.manifest)?;
    let before = audience(&state, sid).await;
    let n_objects = objects.len();
    let n_grants = grants.len();
    let (updated, positions) = state
        .store
        .rotate_share(
            sid,
            ShareRotation {
                acl: doc_bytes(&req.acl)?,
                acl_version: acl.body.version,
                key_version,
                expires_at: acl.body.expires_at,
                entries: acl.entries,
                name: req.name.into_vec(),
                name_for_admins: req.name_for_admins.into_vec(),
                objects,
                grants,
                manifest,
                now: now(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::VersionConflict { current } => conflict(
                format!(
                    "the share or one of its objects changed meanwhile (current version {current}); sync, re-wrap every object of the share and retry"
                ),
                current,
            ),
            other => share_store_error(other),
        })?;
    record(
        &state,
        Event::by(&caller, Some(st.company.id), "share.rotated").details(json!({
            "share_id": sid, "acl_version": updated.acl_version, "key_version": updated.key_version,
            "objects": n_objects, "grants": n_grants, "entries": updated.entries.len(),
        })),
    )
    .await;
    let mut users = before;
    users.extend(audience(&state, sid).await);
    announce(&state, users, positions.into_iter().max().unwrap_or(0));
    let st = Standing {
        view: view_of(&state, caller.user_id(), sid, now()).await?,
        share: updated,
        ..st
    };
    Ok(Json(st.dto(caller.user_id())))
}

async fn set_state<S: Store>(
    state: &Shared<S>,
    caller: &Caller,
    sid: Uuid,
    to: ShareState,
) -> ApiResult<Json<ShareDto>> {
    let st = standing(state, caller, sid).await?;
    let Some(view) = &st.view else {
        // An administrator who is not a principal: there is nothing for them to accept.
        return Err(forbidden(
            "only recipients of the share may accept or decline it",
        ));
    };
    if view.state == UserShareState::Owned {
        return Err(ApiError::invalid(
            "owners do not accept or decline their own share",
        ));
    }
    state
        .store
        .set_share_state(sid, caller.user_id(), to, now())
        .await
        .map_err(share_store_error)?;
    let event = match to {
        ShareState::Accepted => "share.accepted",
        _ => "share.declined",
    };
    record(
        state,
        Event::by(caller, Some(st.company.id), event).details(json!({"share_id": sid})),
    )
    .await;
    announce(state, audience(state, sid).await, 0);
    let view = view_of(state, caller.user_id(), sid, now()).await?;
    Ok(Json(match &view {
        Some(us) => share_dto(&us.share, View::Principal(us, caller.user_id())),
        None => share_dto(&st.share, View::Admin),
    }))
}

/// Accepts a share I was given (directly or through a group): its objects join my feed.
#[utoipa::path(post, path = "/api/v1/shares/{sid}/accept", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")),
    responses((status = 200, body = ShareDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn accept_share<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
) -> ApiResult<Json<ShareDto>> {
    set_state(&state, &caller, sid, ShareState::Accepted).await
}

/// Declines a share I was given (or leaves one I accepted): its objects leave my feed.
#[utoipa::path(post, path = "/api/v1/shares/{sid}/decline", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")),
    responses((status = 200, body = ShareDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn decline_share<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
) -> ApiResult<Json<ShareDto>> {
    set_state(&state, &caller, sid, ShareState::Declined).await
}

/// Deletes a share (its owners, or an administrator of its company): every object leaves a
/// tombstone in the feeds of those who could read it.
#[utoipa::path(delete, path = "/api/v1/shares/{sid}", tag = "sharing", security(("bearer" = [])),
    params(("sid" = Uuid, Path, description = "share id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_share<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(sid): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let st = standing(&state, &caller, sid).await?;
    if !st.is_owner(caller.user_id()) && !st.admin {
        return Err(forbidden(
            "only the share's owners and the company's administrators may delete it",
        ));
    }
    if !st.admin {
        caller.check(&st.company, Need::Member)?;
    }
    let before = audience(&state, sid).await;
    let (readers, last) = state
        .store
        .delete_share(sid, now())
        .await
        .map_err(share_store_error)?;
    record(
        &state,
        Event::by(&caller, Some(st.company.id), "share.deleted").details(json!({
            "share_id": sid, "objects": st.share.object_count,
        })),
    )
    .await;
    let mut users = before;
    users.extend(readers);
    announce(&state, users, last);
    Ok(StatusCode::NO_CONTENT)
}

/// Every share of the company, metadata only (`state` = `admin`): for its administrators.
#[utoipa::path(get, path = "/api/v1/companies/{cid}/shares", tag = "sharing", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = ShareListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn company_shares<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<ShareListResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let shares = state.store.shares_of_company(company.id).await?;
    Ok(Json(ShareListResponse {
        shares: shares.iter().map(|s| share_dto(s, View::Admin)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_exactly_or_as_wildcards() {
        let allowed = vec!["example.com".to_string(), "*.corp.example".to_string()];
        assert!(domain_allowed("example.com", &allowed));
        assert!(domain_allowed("EXAMPLE.com", &allowed));
        assert!(!domain_allowed("sub.example.com", &allowed));
        assert!(!domain_allowed("badexample.com", &allowed));
        assert!(domain_allowed("eu.corp.example", &allowed));
        assert!(!domain_allowed("xcorp.example", &allowed));
        assert_eq!(email_domain("a@b.example"), "b.example");
    }
}
