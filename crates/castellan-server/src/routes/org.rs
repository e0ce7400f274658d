//! What the organisation routes share: record ↔ wire conversions, input checks, verification
//! of signed documents, the audit recorder and mail notices.

use std::collections::HashSet;

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use castellan_crypto as crypto;
use castellan_store::{
    AuditRecord, CompanyKind, CompanyRecord, CompanyStatus, GroupGrantRecord, GroupRecord,
    InvitationRecord, MemberRecord, MemberStatus, Plan, PolicyTemplateRecord, Role, Store,
};
use castellan_types::{
    AccountKeyset, AuditEventDto, Bytes, CompanyDto, CompanyKeysDto, CompanyKindDto,
    CompanyStatusDto, ErrorCode, GroupDto, GroupGrantDto, GroupKeysDto, GroupRosterBody,
    InvitationDto, InvitationStateDto, MemberDto, MemberStatusDto, NewGroupDto, PlanDto,
    PolicyBody, PolicySet, PolicyTemplateDto, RoleDto, SignedDoc,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::{normalize_email, now};
use crate::authz::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::mail::Mail;
use crate::Shared;

/// Longest name of a company, group or template, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 200;
/// Largest signed document body, in bytes (a roster of thousands of members fits).
pub(crate) const MAX_DOC_BYTES: usize = 1024 * 1024;
/// Most members in one group roster.
pub(crate) const MAX_GROUP_MEMBERS: usize = 10_000;
/// Largest sealed key grant (HPKE enc || ciphertext of 64 bytes of keys), in bytes.
pub(crate) const MAX_GRANT_BYTES: usize = 1024;
/// Smallest: enc (32) + AES-GCM tag (16).
pub(crate) const MIN_GRANT_BYTES: usize = 48;
/// Most key grants in one request (one per partner admin).
pub(crate) const MAX_GRANTS: usize = 1000;
/// Most entries in a policy list (domains, notification addresses).
pub(crate) const MAX_POLICY_LIST: usize = 200;
/// Longest invitation link.
pub(crate) const MAX_LINK_CHARS: usize = 2048;
/// Invitations live 7 days; a client clock may be a little ahead.
pub(crate) const INVITATION_TTL_SECS: i64 = 7 * 24 * 3600;
pub(crate) const CLOCK_SLACK: i64 = 3600;
/// Most seats a subscription may have.
pub(crate) const MAX_SEATS: i64 = 1_000_000;
/// Key type of the company root fingerprint.
pub(crate) const COMPANY_FINGERPRINT_TYPE: &str = "company-root";

/// A JSON body whose errors are held back until authorisation has passed.
pub(crate) type Body<T> = Result<ApiJson<T>, ApiError>;

/// Unwraps a [`Body`] (call it after the authorisation check).
pub(crate) fn body<T>(b: Body<T>) -> ApiResult<T> {
    b.map(|ApiJson(v)| v)
}

// ---------------------------------------------------------------- enums

pub(crate) fn role_dto(r: Role) -> RoleDto {
    match r {
        Role::Admin => RoleDto::Admin,
        Role::Technician => RoleDto::Technician,
        Role::User => RoleDto::User,
    }
}

pub(crate) fn role_of(r: RoleDto) -> Role {
    match r {
        RoleDto::Admin => Role::Admin,
        RoleDto::Technician => Role::Technician,
        RoleDto::User => Role::User,
    }
}

pub(crate) fn plan_dto(p: Plan) -> PlanDto {
    match p {
        Plan::Trial => PlanDto::Trial,
        Plan::Standard => PlanDto::Standard,
        Plan::Advanced => PlanDto::Advanced,
    }
}

pub(crate) fn plan_of(p: PlanDto) -> Plan {
    match p {
        PlanDto::Trial => Plan::Trial,
        PlanDto::Standard => Plan::Standard,
        PlanDto::Advanced => Plan::Advanced,
    }
}

pub(crate) fn status_dto(s: CompanyStatus) -> CompanyStatusDto {
    match s {
        CompanyStatus::Active => CompanyStatusDto::Active,
        CompanyStatus::Disabled => CompanyStatusDto::Disabled,
    }
}

pub(crate) fn status_of(s: CompanyStatusDto) -> CompanyStatus {
    match s {
        CompanyStatusDto::Active => CompanyStatus::Active,
        CompanyStatusDto::Disabled => CompanyStatus::Disabled,
    }
}

/// Technicians exist only in partners.
pub(crate) fn check_role_for(company: &CompanyRecord, role: RoleDto) -> ApiResult<()> {
    if role == RoleDto::Technician && company.kind != CompanyKind::Partner {
        return Err(ApiError::invalid(
            "the technician role exists only in a partner; a customer's roles are admin and user",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- stored documents

/// A stored signed document (JSON of a [`SignedDoc`]); `None` if it does not parse.
pub(crate) fn stored_doc(bytes: &[u8]) -> Option<SignedDoc> {
    serde_json::from_slice(bytes).ok()
}

pub(crate) fn doc_bytes(doc: &SignedDoc) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(doc).map_err(|_| ApiError::internal())
}

/// The policies the server enforces, from the company's stored (and, when stored, verified)
/// policy document. No document, or one that does not parse: every policy off.
pub fn company_policy(company: &CompanyRecord) -> PolicySet {
    company
        .policy
        .as_deref()
        .and_then(stored_doc)
        .and_then(|d| serde_json::from_slice::<PolicyBody>(d.body.as_slice()).ok())
        .map(|b| b.policies)
        .unwrap_or_default()
}

/// Verifies `doc` with the company's signing key and parses its body as `T`.
pub(crate) fn verify_doc<T: DeserializeOwned>(
    doc: &SignedDoc,
    statement: &str,
    signing_public_key: &[u8],
    what: &str,
) -> ApiResult<T> {
    if doc.body.len() > MAX_DOC_BYTES {
        return Err(ApiError::invalid(format!("the {what} is too large")));
    }
    if doc.signature.len() != 64 {
        return Err(ApiError::invalid(format!(
            "the {what} signature must be 64 bytes"
        )));
    }
    let key = crypto::VerifyingKey::from_bytes(signing_public_key)
        .map_err(|_| ApiError::invalid("the company signing key is not a valid Ed25519 key"))?;
    key.verify_statement(statement, doc.body.as_slice(), doc.signature.as_slice())
        .map_err(|_| {
            ApiError::invalid(format!(
                "the {what} signature does not verify with the company's root key"
            ))
        })?;
    serde_json::from_slice(doc.body.as_slice()).map_err(|e| {
        ApiError::invalid(format!(
            "the signed {what} is not a valid {what} document: {e}"
        ))
    })
}

// ---------------------------------------------------------------- input checks

/// Trims a display name; non-empty, at most 200 characters, no control characters.
pub(crate) fn check_name(name: &str, what: &str) -> ApiResult<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(ApiError::invalid(format!("the {what} must not be empty")));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "the {what} is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if n.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "the {what} must not contain control characters"
        )));
    }
    Ok(n.to_string())
}

pub(crate) fn check_size(what: &str, b: &[u8], min: usize, max: usize) -> ApiResult<()> {
    if b.len() < min || b.len() > max {
        return Err(ApiError::invalid(if min == max {
            format!("{what} must be {min} bytes")
        } else {
            format!("{what} must be {min} to {max} bytes")
        }));
    }
    Ok(())
}

pub(crate) fn check_grant(what: &str, b: &[u8]) -> ApiResult<()> {
    check_size(what, b, MIN_GRANT_BYTES, MAX_GRANT_BYTES)
}

/// An Ed25519 key and an X25519 key, 32 bytes each and usable.
pub(crate) fn check_key_pair(what: &str, signing: &[u8], encryption: &[u8]) -> ApiResult<()> {
    check_size(&format!("the {what} signing public key"), signing, 32, 32)?;
    check_size(
        &format!("the {what} encryption public key"),
        encryption,
        32,
        32,
    )?;
    crypto::VerifyingKey::from_bytes(signing).map_err(|_| {
        ApiError::invalid(format!(
            "the {what} signing public key is not a valid Ed25519 key"
        ))
    })?;
    crypto::HpkePublicKey::from_bytes(encryption).map_err(|_| {
        ApiError::invalid(format!(
            "the {what} encryption public key is not a valid X25519 key"
        ))
    })?;
    Ok(())
}

fn check_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*'))
}

/// Sizes and ranges of a policy set (a signed document is checked the same way: the server
/// stores nothing it could not serve back sensibly).
pub(crate) fn check_policy_set(p: &PolicySet) -> ApiResult<()> {
    if let Some(mp) = &p.master_password {
        if !(1..=1024).contains(&mp.min_length) {
            return Err(ApiError::invalid(
                "master_password.min_length must be 1 to 1024",
            ));
        }
        if mp.max_age_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            return Err(ApiError::invalid(
                "master_password.max_age_days must be 1 to 3650",
            ));
        }
    }
    if let Some(g) = &p.password_generator {
        if !(4..=1024).contains(&g.min_length) {
            return Err(ApiError::invalid(
                "password_generator.min_length must be 4 to 1024",
            ));
        }
    }
    if p.max_vault_timeout_minutes
        .is_some_and(|m| !(1..=525_600).contains(&m))
    {
        return Err(ApiError::invalid(
            "max_vault_timeout_minutes must be 1 to 525600",
        ));
    }
    for (name, list) in [
        ("force_business_domains", &p.force_business_domains),
        ("restrict_sharing_domains", &p.restrict_sharing_domains),
    ] {
        if list.len() > MAX_POLICY_LIST {
            return Err(ApiError::invalid(format!(
                "{name} has more than {MAX_POLICY_LIST} entries"
            )));
        }
        if let Some(bad) = list.iter().find(|d| !check_domain(d)) {
            return Err(ApiError::invalid(format!(
                "{name}: {:?} is not a domain name",
                bad.chars().take(60).collect::<String>()
            )));
        }
    }
    if let Some(b) = &p.org_backup {
        if b.public_key.len() != 32
            || crypto::HpkePublicKey::from_bytes(b.public_key.as_slice()).is_err()
        {
            return Err(ApiError::invalid(
                "org_backup.public_key must be a valid X25519 public key",
            ));
        }
        if b.key_version < 1 {
            return Err(ApiError::invalid(
                "org_backup.key_version must be at least 1",
            ));
        }
        if !(1..=3650).contains(&b.retention_days) {
            return Err(ApiError::invalid(
                "org_backup.retention_days must be 1 to 3650",
            ));
        }
        let group_mode = b.mode == castellan_types::OrgBackupMode::RecoveryGroup;
        if group_mode != b.recovery_group_id.is_some() {
            return Err(ApiError::invalid(
                "org_backup.recovery_group_id is set exactly in recovery-group mode",
            ));
        }
    }
    if p.user_change_notifications.len() > MAX_POLICY_LIST {
        return Err(ApiError::invalid(format!(
            "user_change_notifications has more than {MAX_POLICY_LIST} entries"
        )));
    }
    for e in &p.user_change_notifications {
        normalize_email(e).map_err(|_| {
            ApiError::invalid(format!(
                "user_change_notifications: {:?} is not an email address",
                e.chars().take(60).collect::<String>()
            ))
        })?;
    }
    Ok(())
}

/// Refuses Advanced-only policies on a plan without them.
pub(crate) fn check_plan_allows(plan: Plan, p: &PolicySet) -> ApiResult<()> {
    let advanced = p.advanced_in_use();
    if !plan.has_advanced() && !advanced.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PlanRequired,
            format!(
                "{} {} the Advanced subscription (this company has {}); ask your partner to upgrade",
                advanced.join(", "),
                if advanced.len() == 1 { "needs" } else { "need" },
                plan.as_str()
            ),
        ));
    }
    Ok(())
}

/// The company's fingerprint as people compare it: 8 groups of 4 hex digits.
pub(crate) fn fingerprint_groups(company: &CompanyRecord) -> String {
    let fp = company_fingerprint(company);
    fp[..16]
        .chunks(2)
        .map(|c| format!("{:02x}{:02x}", c[0], c[1]))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn company_fingerprint(company: &CompanyRecord) -> [u8; 32] {
    let mut raw = company.signing_public_key.clone();
    raw.extend_from_slice(&company.encryption_public_key);
    crypto::fingerprint(COMPANY_FINGERPRINT_TYPE, &raw)
}

/// The link must be `http(s)://…/join#v1.{id}.{secret}.{fingerprint}` with this invitation's
/// id, a secret that hashes (SHA-256 of its text) to `secret_hash`, and this company's
/// fingerprint. Returns the fragment (`v1.…`).
pub(crate) fn check_link(
    link: &str,
    invitation_id: Uuid,
    secret_hash: &[u8],
    company: &CompanyRecord,
) -> ApiResult<String> {
    if link.chars().count() > MAX_LINK_CHARS || link.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "the invitation link is too long or has control characters",
        ));
    }
    let bad = |why: &str| ApiError::invalid(format!("the invitation link {why}"));
    if !(link.starts_with("https://") || link.starts_with("http://")) {
        return Err(bad("must start with https:// or http://"));
    }
    let (head, fragment) = link
        .split_once('#')
        .ok_or_else(|| bad("has no #v1.… fragment"))?;
    if !head.trim_end_matches('/').ends_with("/join") {
        return Err(bad("must point to /join"));
    }
    let parts: Vec<&str> = fragment.split('.').collect();
    let [v, id, secret, fp] = parts.as_slice() else {
        return Err(bad(
            "fragment must be v1.{invitation_id}.{secret}.{fingerprint}",
        ));
    };
    if *v != "v1" || id.parse::<Uuid>().ok() != Some(invitation_id) {
        return Err(bad("does not name this invitation"));
    }
    if secret.is_empty() || !crypto::ct_eq(&crypto::sha256(secret.as_bytes()), secret_hash) {
        return Err(bad(
            "carries a secret whose SHA-256 is not the invitation's secret_hash",
        ));
    }
    if URL_SAFE_NO_PAD.decode(fp).ok().as_deref() != Some(&company_fingerprint(company)[..]) {
        return Err(bad("carries another fingerprint than this company's keys"));
    }
    Ok(fragment.to_string())
}

// ---------------------------------------------------------------- groups

/// The members a roster may name: confirmed members of the company.
pub(crate) async fn confirmed_member_ids<S: Store>(
    state: &Shared<S>,
    company_id: Uuid,
) -> ApiResult<HashSet<Uuid>> {
    Ok(state
        .store
        .members_of(company_id)
        .await?
        .into_iter()
        .filter(|m| m.status == MemberStatus::Confirmed)
        .map(|m| m.user_id)
        .collect())
}

/// What a roster must say to be accepted for a group.
pub(crate) struct RosterExpect<'a> {
    pub company: &'a CompanyRecord,
    pub group_id: Uuid,
    pub version: i64,
    pub is_everyone: bool,
    pub signing_public_key: &'a [u8],
    pub encryption_public_key: &'a [u8],
}

/// Verifies a roster with the company key and checks it against `expect`; returns the body
/// with its (deduplicated) member list.
pub(crate) fn verify_roster(
    doc: &SignedDoc,
    expect: &RosterExpect<'_>,
) -> ApiResult<GroupRosterBody> {
    let mut body: GroupRosterBody = verify_doc(
        doc,
        castellan_types::statement::GROUP_ROSTER,
        &expect.company.signing_public_key,
        "group roster",
    )?;
    if body.company_id != expect.company.id || body.group_id != expect.group_id {
        return Err(ApiError::invalid(
            "the roster names another company or group",
        ));
    }
    if body.version != expect.version {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::VersionConflict,
            format!(
                "the roster must have version {} (the stored one is {}); reload the group and retry",
                expect.version,
                expect.version - 1
            ),
        ));
    }
    if body.is_everyone != expect.is_everyone {
        return Err(ApiError::invalid(if expect.is_everyone {
            "the roster of the Everyone group must say is_everyone"
        } else {
            "only the automatic Everyone group says is_everyone"
        }));
    }
    if body.signing_public_key.as_slice() != expect.signing_public_key
        || body.encryption_public_key.as_slice() != expect.encryption_public_key
    {
        return Err(ApiError::invalid(
            "the roster names other group keys than the group's",
        ));
    }
    body.name = check_name(&body.name, "group name")?;
    if body.members.len() > MAX_GROUP_MEMBERS {
        return Err(ApiError::invalid(format!(
            "a group has at most {MAX_GROUP_MEMBERS} members"
        )));
    }
    let unique: HashSet<Uuid> = body.members.iter().copied().collect();
    if unique.len() != body.members.len() {
        return Err(ApiError::invalid("the roster lists a member twice"));
    }
    Ok(body)
}

/// Checks group grants: exactly one for each of `expected` (members the change adds).
pub(crate) fn check_group_grants(
    grants: &[GroupGrantDto],
    expected: &HashSet<Uuid>,
    group_id: Uuid,
) -> ApiResult<Vec<GroupGrantRecord>> {
    if grants.len() > MAX_GROUP_MEMBERS {
        return Err(ApiError::invalid("too many group grants"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        check_grant("a group grant", g.sealed.as_slice())?;
        if !expected.contains(&g.user_id) {
            return Err(ApiError::invalid(format!(
                "a group grant for {} who is not added by this roster",
                g.user_id
            )));
        }
        if !seen.insert(g.user_id) {
            return Err(ApiError::invalid(format!(
                "two group grants for {}",
                g.user_id
            )));
        }
        out.push(GroupGrantRecord {
            group_id,
            user_id: g.user_id,
            sealed: g.sealed.as_slice().to_vec(),
        });
    }
    if let Some(missing) = expected.iter().find(|u| !seen.contains(u)) {
        return Err(ApiError::invalid(format!(
            "no group grant for the added member {missing}"
        )));
    }
    Ok(out)
}

/// A new group (the Everyone group at company creation, or any other): keys, signed roster
/// version 1, grants for every listed member, members among `allowed`.
pub(crate) fn new_group(
    dto: &NewGroupDto,
    company: &CompanyRecord,
    is_everyone: bool,
    allowed: &HashSet<Uuid>,
    now: i64,
) -> ApiResult<(GroupRecord, Vec<GroupGrantRecord>)> {
    check_key_pair(
        "group",
        dto.keys.signing_public_key.as_slice(),
        dto.keys.encryption_public_key.as_slice(),
    )?;
    check_grant("the group admin grant", dto.admin_grant.as_slice())?;
    let name = check_name(&dto.name, "group name")?;
    let roster = verify_roster(
        &dto.roster,
        &RosterExpect {
            company,
            group_id: dto.group_id,
            version: 1,
            is_everyone,
            signing_public_key: dto.keys.signing_public_key.as_slice(),
            encryption_public_key: dto.keys.encryption_public_key.as_slice(),
        },
    )?;
    if roster.name != name {
        return Err(ApiError::invalid(
            "the group name differs from the signed roster's",
        ));
    }
    if let Some(u) = roster.members.iter().find(|u| !allowed.contains(u)) {
        return Err(ApiError::invalid(format!(
            "{u} is not a confirmed member of the company"
        )));
    }
    let members: HashSet<Uuid> = roster.members.iter().copied().collect();
    let grants = check_group_grants(&dto.grants, &members, dto.group_id)?;
    Ok((
        GroupRecord {
            id: dto.group_id,
            company_id: company.id,
            name,
            is_everyone,
            signing_public_key: dto.keys.signing_public_key.as_slice().to_vec(),
            encryption_public_key: dto.keys.encryption_public_key.as_slice().to_vec(),
            roster: doc_bytes(&dto.roster)?,
            roster_version: 1,
            admin_grant: dto.admin_grant.as_slice().to_vec(),
            members: roster.members,
            created_at: now,
            updated_at: now,
            is_recovery: false,
        },
        grants,
    ))
}

// ---------------------------------------------------------------- wire conversions

fn signed(bytes: &[u8]) -> SignedDoc {
    stored_doc(bytes).unwrap_or(SignedDoc {
        body: Bytes(Vec::new()),
        signature: Bytes(Vec::new()),
    })
}

pub(crate) fn company_dto(c: &CompanyRecord) -> CompanyDto {
    CompanyDto {
        id: c.id,
        kind: match c.kind {
            CompanyKind::Partner => CompanyKindDto::Partner,
            CompanyKind::Customer => CompanyKindDto::Customer,
        },
        partner_id: c.partner_id,
        name: c.name.clone(),
        status: status_dto(c.status),
        plan: plan_dto(c.plan),
        seats: c.seats,
        seats_used: c.seats_used,
        trial_ends_at: c.trial_ends_at,
        keys: CompanyKeysDto {
            signing_public_key: c.signing_public_key.clone().into(),
            encryption_public_key: c.encryption_public_key.clone().into(),
        },
        created_at: c.created_at,
    }
}

pub(crate) fn invitation_dto(i: &InvitationRecord, now: i64) -> InvitationDto {
    let state = if i.accepted_at.is_some() {
        InvitationStateDto::Accepted
    } else if i.revoked_at.is_some() {
        InvitationStateDto::Revoked
    } else if now >= i.expires_at {
        InvitationStateDto::Expired
    } else {
        InvitationStateDto::Open
    };
    InvitationDto {
        id: i.id,
        company_id: i.company_id,
        email: i.email.clone(),
        role: role_dto(i.role),
        state,
        created_at: i.created_at,
        expires_at: i.expires_at,
        invitation: signed(&i.signed),
    }
}

pub(crate) fn group_dto(g: &GroupRecord) -> GroupDto {
    GroupDto {
        id: g.id,
        company_id: g.company_id,
        name: g.name.clone(),
        is_everyone: g.is_everyone,
        keys: GroupKeysDto {
            signing_public_key: g.signing_public_key.clone().into(),
            encryption_public_key: g.encryption_public_key.clone().into(),
        },
        roster: signed(&g.roster),
        roster_version: g.roster_version,
        admin_grant: g.admin_grant.clone().into(),
        members: g.members.clone(),
        is_recovery: g.is_recovery,
    }
}

pub(crate) fn template_dto(t: &PolicyTemplateRecord) -> PolicyTemplateDto {
    PolicyTemplateDto {
        id: t.id,
        partner_id: t.partner_id,
        name: t.name.clone(),
        policies: serde_json::from_str(&t.policies).unwrap_or_default(),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

pub(crate) fn audit_dto(a: AuditRecord) -> AuditEventDto {
    AuditEventDto {
        seq: a.seq,
        at: a.at,
        company_id: a.company_id,
        actor_id: a.actor_id,
        actor_email: a.actor_email,
        target_user_id: a.target_user_id,
        target_email: a.target_email,
        event: a.event,
        details: serde_json::from_str(&a.details).unwrap_or(Value::Null),
        ip: a.ip,
    }
}

/// The member with their account's public keys and two-step state.
pub(crate) async fn member_dto<S: Store>(
    state: &Shared<S>,
    m: &MemberRecord,
) -> ApiResult<MemberDto> {
    let user = state
        .store
        .user_by_id(m.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let keyset: AccountKeyset =
        serde_json::from_str(&user.keyset).map_err(|_| ApiError::internal())?;
    let two_factor_enabled = state
        .store
        .two_factor(m.user_id)
        .await?
        .is_some_and(|t| t.enabled);
    Ok(MemberDto {
        company_id: m.company_id,
        user_id: m.user_id,
        email: m.email.clone(),
        role: role_dto(m.role),
        status: match m.status {
            MemberStatus::Accepted => MemberStatusDto::Accepted,
            MemberStatus::Confirmed => MemberStatusDto::Confirmed,
        },
        disabled: m.disabled,
        signing_key_id: keyset.signing_key_id,
        signing_public_key: keyset.signing_public_key,
        encryption_key_id: keyset.encryption_key_id,
        encryption_public_key: keyset.encryption_public_key,
        ak_version: keyset.ak_version,
        key_binding_signature: keyset.key_binding_signature,
        cert: m.cert.as_deref().map(signed),
        invitation: m.invitation.as_deref().map(signed),
        two_factor_enabled,
        require_password_change: m.require_password_change,
        joined_at: m.joined_at,
        confirmed_at: m.confirmed_at,
    })
}

/// The account's public keys (from its key set).
pub(crate) fn account_keys(keyset_json: &str) -> ApiResult<AccountKeyset> {
    serde_json::from_str(keyset_json).map_err(|_| ApiError::internal())
}

// ---------------------------------------------------------------- audit

/// One audit event, filled in by a handler and appended with [`record`].
pub(crate) struct Event {
    pub company_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub target_user_id: Option<Uuid>,
    pub target_email: Option<String>,
    pub event: String,
    pub details: Value,
    pub ip: Option<String>,
}

impl Event {
    /// An event done by the caller in `company_id`.
    pub(crate) fn by(caller: &Caller, company_id: Option<Uuid>, event: &str) -> Event {
        Event {
            company_id,
            actor_id: Some(caller.user.id),
            actor_email: Some(caller.user.email.clone()),
            target_user_id: None,
            target_email: None,
            event: event.to_string(),
            details: Value::Object(Default::default()),
            ip: caller.addr.0.map(|ip| ip.to_string()),
        }
    }

    pub(crate) fn target(mut self, user_id: Uuid, email: &str) -> Event {
        self.target_user_id = Some(user_id);
        self.target_email = Some(email.to_string());
        self
    }

    pub(crate) fn details(mut self, details: Value) -> Event {
        self.details = details;
        self
    }
}

/// Appends an event. The change it records has happened already; a failure to record it is
/// logged as an error, not reported to the caller.
pub(crate) async fn record<S: Store>(state: &Shared<S>, e: Event) {
    let rec = AuditRecord {
        seq: 0,
        at: now(),
        company_id: e.company_id,
        actor_id: e.actor_id,
        actor_email: e.actor_email,
        target_user_id: e.target_user_id,
        target_email: e.target_email,
        event: e.event,
        details: e.details.to_string(),
        ip: e.ip,
    };
    let event = rec.event.clone();
    if let Err(err) = state.store.append_audit(rec).await {
        tracing::error!(%event, error = %err, "cannot append to the audit log");
    }
}

// ---------------------------------------------------------------- mail

/// Sends in the background (best effort; failures are logged).
pub(crate) fn spawn_mail<S: Store>(state: &Shared<S>, mails: Vec<Mail>) {
    if state.mailer.is_none() || mails.is_empty() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let Some(mailer) = state.mailer.as_ref() else {
            return;
        };
        for m in mails {
            if let Err(e) = mailer.send(m).await {
                tracing::warn!(error = %e, "cannot send a notice mail");
            }
        }
    });
}

/// Tells the company's admins and the policy's notification addresses that a member joined
/// or was removed (best effort, in the background).
pub(crate) async fn notify_member_change<S: Store>(
    state: &Shared<S>,
    company: &CompanyRecord,
    member_email: &str,
    joined: bool,
) {
    if state.mailer.is_none() {
        return;
    }
    let mut to: Vec<String> = match state.store.members_of(company.id).await {
        Ok(ms) => ms
            .into_iter()
            .filter(|m| m.role == Role::Admin && m.status == MemberStatus::Confirmed && !m.disabled)
            .map(|m| m.email)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the admins to notify");
            Vec::new()
        }
    };
    to.extend(
        company_policy(company)
            .user_change_notifications
            .iter()
            .filter_map(|e| normalize_email(e).ok()),
    );
    to.sort();
    to.dedup();
    to.retain(|e| e != member_email);
    let public_url = state.settings.public_url.as_deref();
    let mails = to
        .iter()
        .map(|t| {
            crate::mail::member_change_mail(t, &company.name, member_email, joined, public_url)
        })
        .collect();
    spawn_mail(state, mails);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  Acme ", "name").unwrap(), "Acme");
        assert!(check_name("   ", "name").is_err());
        assert!(check_name(&"x".repeat(201), "name").is_err());
        assert!(check_name(&"é".repeat(200), "name").is_ok());
        assert!(check_name("a\u{7}b", "name").is_err());
    }

    #[test]
    fn policy_lists_are_checked() {
        let mut p = PolicySet::default();
        assert!(check_policy_set(&p).is_ok());
        p.force_business_domains = vec!["example.com".into(), "*.corp.example".into()];
        assert!(check_policy_set(&p).is_ok());
        p.force_business_domains.push("bad domain".into());
        assert!(check_policy_set(&p).is_err());
        p.force_business_domains.clear();
        p.user_change_notifications = vec!["not an email".into()];
        assert!(check_policy_set(&p).is_err());
    }
}
