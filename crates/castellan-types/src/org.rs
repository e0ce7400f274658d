//! The organisation API: setup, partners and customers, members and invitations, groups,
//! subscriptions, policies, technicians, two-step verification and the audit log.
//!
//! Endpoints (all under `/api/v1`, all but the invitation preview need a session):
//!
//! | Method and path | Who |
//! |---|---|
//! | `GET  /setup` (is setup still open?), `POST /setup` | anyone with the setup token |
//! | `GET  /me/membership` | any user: own company, role, signed policy, company keys |
//! | `GET  /me/key-grants` | company private keys sealed to me (admins, technicians) |
//! | `GET  /me/groups` | my groups with my sealed group keys |
//! | `POST /me/audit-events` | any member, only when password auditing is on |
//! | `GET  /partners/{pid}/customers`, `POST /partners/{pid}/customers` | partner admin (technician: list of assigned) |
//! | `GET/POST /partners/{pid}/policy-templates`, `DELETE .../{tid}` | partner admin |
//! | `GET  /partners/{pid}/technicians/{uid}/customers`, `PUT/DELETE .../{cid}` | partner admin |
//! | `GET  /companies/{cid}`, `PATCH /companies/{cid}` | company admins (PATCH status: partner admin) |
//! | `PUT  /companies/{cid}/subscription` | partner admin |
//! | `GET/PUT /companies/{cid}/policy` | company admins |
//! | `PUT  /companies/{cid}/revocations` | company admins: the signed certificate revocation list (served in the directory) |
//! | `GET/POST /companies/{cid}/invitations`, `DELETE .../{id}` | company admins |
//! | `POST /invitations/{id}/preview` (no session), `POST /invitations/{id}/accept` | invitee |
//! | `GET  /companies/{cid}/members`, `POST .../{uid}/confirm`, `PATCH .../{uid}`, `POST .../{uid}/remove`, `POST .../{uid}/reset`, `DELETE .../{uid}` | company admins |
//! | `GET/POST /companies/{cid}/groups`, `PUT .../{gid}/roster`, `DELETE .../{gid}` | company admins |
//! | `GET  /companies/{cid}/audit` (`?format=csv`) | company admins |
//! | `POST /account/2fa/enroll`, `POST /account/2fa/confirm`, `POST /account/2fa/disable` | the user |
//! | `POST /auth/login/2fa` | a login that got `two_factor_required` |
//!
//! "Company admins" of a company are: its admins; the admins of its partner; technicians of
//! its partner assigned to it. A company outside the caller's reach answers 404, exactly like
//! one that does not exist.
//!
//! Signed documents ([`SignedDoc`]) carry the exact JSON bytes that were signed with a company
//! root key (Ed25519 over `"castellan/v1/sig/" || statement type || 0x00 || body`). Clients
//! verify the signature against the company key they pinned before they read the body.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Bytes;

/// Statement types of signed documents (the `statement_type` of `sign_statement`).
pub mod statement {
    pub const MEMBER_CERT: &str = "member-cert";
    pub const INVITATION: &str = "invitation";
    pub const POLICY: &str = "company-policy";
    pub const GROUP_ROSTER: &str = "group-roster";
    pub const REVOKED_CERTS: &str = "revoked-certs";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompanyKindDto {
    Partner,
    Customer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanDto {
    Trial,
    Standard,
    Advanced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatusDto {
    Active,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    Admin,
    Technician,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatusDto {
    /// Accepted the invitation; waits for an admin to confirm (no certificate yet).
    Accepted,
    Confirmed,
}

/// The exact bytes a company root key signed, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedDoc {
    /// UTF-8 JSON of the statement body.
    pub body: Bytes,
    /// Ed25519 signature (64 bytes).
    pub signature: Bytes,
}

/// A company's public keys. Fingerprint: `fingerprint("company-root", sig || enc)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompanyKeysDto {
    /// Ed25519 root signing key (32 bytes).
    pub signing_public_key: Bytes,
    /// X25519 HPKE key (32 bytes) to which group keys are sealed for the admins.
    pub encryption_public_key: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompanyDto {
    pub id: Uuid,
    pub kind: CompanyKindDto,
    pub partner_id: Option<Uuid>,
    pub name: String,
    pub status: CompanyStatusDto,
    pub plan: PlanDto,
    /// `None` = unlimited.
    pub seats: Option<i64>,
    pub seats_used: i64,
    pub trial_ends_at: Option<i64>,
    pub keys: CompanyKeysDto,
    pub created_at: i64,
}

/// The company private keys sealed to one user: HPKE (info binds company and user ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyGrantDto {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub sealed: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyGrantListResponse {
    pub grants: Vec<KeyGrantDto>,
}

// ---------------------------------------------------------------- signed document bodies

/// Body of a member certificate, signed by the company root key by an admin's client after a
/// human confirmed the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberCertBody {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub signing_public_key: Bytes,
    pub encryption_public_key: Bytes,
    /// Unique per certificate (a new certificate supersedes the older ones of the member).
    pub serial: Uuid,
    pub issued_at: i64,
    /// The admin whose client signed.
    pub issued_by: Uuid,
}

/// Body of a signed invitation: what the admin asked for; a member is confirmed only with the
/// role of a signed invitation for their email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationBody {
    pub company_id: Uuid,
    pub invitation_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub expires_at: i64,
    pub invited_by: Uuid,
}

/// Body of a group roster, signed by the company root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupRosterBody {
    pub company_id: Uuid,
    pub group_id: Uuid,
    pub name: String,
    pub is_everyone: bool,
    pub version: i64,
    pub signing_public_key: Bytes,
    pub encryption_public_key: Bytes,
    pub members: Vec<Uuid>,
}

/// Body of a company policy document, signed by the company root key; `counter` strictly
/// increases, and clients refuse a lower one than they have seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyBody {
    pub company_id: Uuid,
    pub counter: i64,
    pub issued_at: i64,
    pub issued_by: Uuid,
    pub policies: PolicySet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MasterPasswordPolicy {
    pub min_length: u32,
    #[serde(default)]
    pub require_uppercase: bool,
    #[serde(default)]
    pub require_lowercase: bool,
    #[serde(default)]
    pub require_digits: bool,
    #[serde(default)]
    pub require_symbols: bool,
    /// Days after which the master password must be changed.
    #[serde(default)]
    pub max_age_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GeneratorPolicy {
    pub min_length: u32,
    #[serde(default)]
    pub require_uppercase: bool,
    #[serde(default)]
    pub require_lowercase: bool,
    #[serde(default)]
    pub require_digits: bool,
    #[serde(default)]
    pub require_symbols: bool,
}

/// Organisation backup mode (docs/org-backup.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrgBackupMode {
    /// The private key is held offline by an admin (recovery kit file or words).
    OfflineKey,
    /// The private key is the encryption key of the company's Recovery Group.
    RecoveryGroup,
}

fn default_retention_days() -> u32 {
    90
}

/// The organisation backup policy. Clients seal backup keys ONLY to `public_key` from a
/// verified policy document (signed with the company root key, counter pinned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgBackupPolicy {
    pub mode: OrgBackupMode,
    /// The X25519 backup public key (32 bytes).
    pub public_key: Bytes,
    /// Grows with every new backup key (enabling again, rotating the Recovery Group).
    pub key_version: i64,
    /// Recovery-group mode: the group whose encryption key is `public_key`.
    #[serde(default)]
    pub recovery_group_id: Option<Uuid>,
    /// Backups older than this are deleted (default 90).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

/// Every security policy of a company. Absent / false / empty = off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PolicySet {
    /// Require two-step verification (grace of three logins).
    pub require_two_factor: bool,
    pub master_password: Option<MasterPasswordPolicy>,
    /// Items whose URL or username domain is in the list belong in the Business profile.
    pub force_business_domains: Vec<String>,
    /// Delete the Business profile items of a user removed from the company.
    pub remove_business_items_on_removal: bool,
    /// Advanced: organisation backup of Business profiles.
    pub org_backup: Option<OrgBackupPolicy>,
    /// Advanced: Business items never go to emergency contacts.
    pub exclude_business_from_emergency_access: bool,
    /// Advanced: only admins may use the Customer Portal.
    pub restrict_portal_access: bool,
    /// Advanced: share recipients must have one of these email domains; users outside the
    /// company may receive shares only when their domain is listed (empty = off: members only).
    pub restrict_sharing_domains: Vec<String>,
    /// Advanced: clients report item events (created, changed, copied, ...) to the audit log.
    pub password_auditing: bool,
    /// More addresses notified when users are added or removed.
    pub user_change_notifications: Vec<String>,
    pub disable_personal_export: bool,
    /// Longest allowed auto-lock timeout, in minutes.
    pub max_vault_timeout_minutes: Option<u32>,
    pub password_generator: Option<GeneratorPolicy>,
}

impl PolicySet {
    /// Names of the Advanced-only policies that are switched on.
    pub fn advanced_in_use(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.org_backup.is_some() {
            v.push("org_backup");
        }
        if self.exclude_business_from_emergency_access {
            v.push("exclude_business_from_emergency_access");
        }
        if self.restrict_portal_access {
            v.push("restrict_portal_access");
        }
        if !self.restrict_sharing_domains.is_empty() {
            v.push("restrict_sharing_domains");
        }
        if self.password_auditing {
            v.push("password_auditing");
        }
        v
    }
}

// ---------------------------------------------------------------- setup and companies

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetupStatusResponse {
    /// True until the first partner is created.
    pub open: bool,
}

/// Creates the first partner (or another one, with a token the operator issued), with the
/// caller as its confirmed admin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetupRequest {
    pub setup_token: String,
    pub company_id: Uuid,
    pub name: String,
    pub keys: CompanyKeysDto,
    /// The company private keys sealed to the caller.
    pub key_grant: Bytes,
    /// The caller's member certificate (role admin), signed by the new root key.
    pub admin_cert: SignedDoc,
    pub everyone: NewGroupDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateCustomerRequest {
    pub company_id: Uuid,
    pub name: String,
    pub plan: PlanDto,
    pub seats: i64,
    pub keys: CompanyKeysDto,
    /// The new company's private keys sealed to each admin of the partner (every one of them
    /// must be covered) and, optionally, to assigned technicians.
    pub key_grants: Vec<KeyGrantDto>,
    pub everyone: NewGroupDto,
    /// The first policy document (counter 1), optional.
    #[serde(default)]
    pub policy: Option<SignedDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompanyListResponse {
    pub companies: Vec<CompanyDto>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateCompanyRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// Partner admins only.
    #[serde(default)]
    pub status: Option<CompanyStatusDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionRequest {
    pub plan: PlanDto,
    pub seats: i64,
    /// For a trial: when it ends (default 30 days from now).
    #[serde(default)]
    pub trial_ends_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MembershipResponse {
    pub company: Option<CompanyDto>,
    pub member: Option<MemberDto>,
    /// The company's current signed policy document.
    pub policy: Option<SignedDoc>,
    /// The partner of the company (for a customer), so its keys can be pinned too.
    pub partner: Option<CompanyDto>,
    /// Customers the caller administers (partner admin: all; technician: assigned).
    pub managed_customers: Vec<Uuid>,
}

// ---------------------------------------------------------------- technicians

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssignTechnicianRequest {
    /// The customer's private keys sealed to the technician.
    pub key_grant: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TechnicianCustomersResponse {
    pub customers: Vec<Uuid>,
}

// ---------------------------------------------------------------- invitations and members

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateInvitationRequest {
    pub invitation_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    /// SHA-256 of the link secret (the secret is made by the client and put in the link).
    pub secret_hash: Bytes,
    /// The invitation signed with the company root key (an [`InvitationBody`]).
    pub invitation: SignedDoc,
    /// The complete link, for the server to mail (its fragment holds the company key
    /// fingerprint; see docs/security-design.md on why it is verified out of band too).
    pub link: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationCreatedResponse {
    pub invitation: InvitationDto,
    /// True when the server sent the mail; otherwise the admin passes the link on.
    pub mailed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStateDto {
    Open,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationDto {
    pub id: Uuid,
    pub company_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub state: InvitationStateDto,
    pub created_at: i64,
    pub expires_at: i64,
    pub invitation: SignedDoc,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationListResponse {
    pub invitations: Vec<InvitationDto>,
}

/// The link secret proves the caller holds the link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationSecretRequest {
    pub secret: String,
}

/// What an invitee sees before joining; the client checks `keys` against the fingerprint in
/// the link before it accepts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationPreviewResponse {
    pub invitation_id: Uuid,
    pub company_id: Uuid,
    pub company_name: String,
    pub email: String,
    pub role: RoleDto,
    pub expires_at: i64,
    pub keys: CompanyKeysDto,
    pub invitation: SignedDoc,
    /// The company's current signed policy (the client checks a new master password
    /// against it at registration).
    pub policy: Option<SignedDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberDto {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub status: MemberStatusDto,
    pub disabled: bool,
    /// The member's public keys with their self-signed key binding (from the account key set),
    /// for the confirming admin to check and certify.
    pub signing_key_id: Uuid,
    pub signing_public_key: Bytes,
    pub encryption_key_id: Uuid,
    pub encryption_public_key: Bytes,
    pub ak_version: u64,
    pub key_binding_signature: Bytes,
    pub cert: Option<SignedDoc>,
    pub invitation: Option<SignedDoc>,
    pub two_factor_enabled: bool,
    pub require_password_change: bool,
    pub joined_at: i64,
    pub confirmed_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberListResponse {
    pub members: Vec<MemberDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConfirmMemberRequest {
    /// The member certificate ([`MemberCertBody`]) signed with the company root key.
    pub cert: SignedDoc,
    /// For an admin: the company private keys sealed to them.
    #[serde(default)]
    pub key_grant: Option<Bytes>,
    /// The Everyone group's new roster including the member, with their group grant.
    pub everyone_roster: RosterUpdateRequest,
    /// For an admin of a partner: every customer's private keys sealed to them (all of the
    /// partner's customers must be covered).
    #[serde(default)]
    pub customer_key_grants: Vec<KeyGrantDto>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateMemberRequest {
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub require_password_change: Option<bool>,
    /// A role change needs a new certificate for a confirmed member.
    #[serde(default)]
    pub role: Option<RoleDto>,
    #[serde(default)]
    pub cert: Option<SignedDoc>,
    /// Promotion to admin: the company private keys sealed to the member.
    #[serde(default)]
    pub key_grant: Option<Bytes>,
    /// Promotion to admin of a partner: every customer's private keys sealed to the member.
    #[serde(default)]
    pub customer_key_grants: Vec<KeyGrantDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResetMemberRequest {
    /// A new invitation (for the same email and role) that the user follows to set up a new
    /// account; built by the admin's client exactly as for an invite.
    pub invitation: CreateInvitationRequest,
}

// ---------------------------------------------------------------- groups

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupKeysDto {
    pub signing_public_key: Bytes,
    pub encryption_public_key: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupGrantDto {
    pub user_id: Uuid,
    /// The group private keys sealed to the member.
    pub sealed: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewGroupDto {
    pub group_id: Uuid,
    pub name: String,
    pub keys: GroupKeysDto,
    /// A [`GroupRosterBody`] with version 1, signed by the company root key.
    pub roster: SignedDoc,
    /// The group private keys sealed to the company encryption key.
    pub admin_grant: Bytes,
    pub grants: Vec<GroupGrantDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterUpdateRequest {
    /// The new roster (version = stored + 1; rename and membership changes both go here).
    pub roster: SignedDoc,
    /// Grants for the members this roster adds.
    pub grants: Vec<GroupGrantDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupDto {
    pub id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    pub is_everyone: bool,
    pub keys: GroupKeysDto,
    pub roster: SignedDoc,
    pub roster_version: i64,
    /// Empty for a Recovery Group (its keys are sealed only to its members).
    pub admin_grant: Bytes,
    pub members: Vec<Uuid>,
    /// A Recovery Group of organisation backup (no admin copy of its keys).
    #[serde(default)]
    pub is_recovery: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupListResponse {
    pub groups: Vec<GroupDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyGroupDto {
    pub group: GroupDto,
    /// The group private keys sealed to me.
    pub grant: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyGroupsResponse {
    pub groups: Vec<MyGroupDto>,
}

// ---------------------------------------------------------------- policies

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyResponse {
    pub policy: Option<SignedDoc>,
}

/// Body of the company's certificate revocation list, signed by the company root key by an
/// admin's client: the serials of member certificates that no longer count (the member was
/// removed, deleted or reset, or a newer certificate superseded this one). The version goes up
/// by one with every change, and clients never accept a lower one than they saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationListBody {
    pub company_id: Uuid,
    pub version: i64,
    /// Every revoked certificate serial, oldest first (the list only grows).
    pub serials: Vec<Uuid>,
    pub issued_at: i64,
    /// The admin whose client signed.
    pub issued_by: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetRevocationsRequest {
    /// A [`RevocationListBody`] with version = stored + 1, signed by the company root key.
    pub revocations: SignedDoc,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetPolicyRequest {
    /// A [`PolicyBody`] with counter = stored + 1, signed by the company root key.
    pub policy: SignedDoc,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyTemplateDto {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub name: String,
    pub policies: PolicySet,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PutPolicyTemplateRequest {
    pub id: Uuid,
    pub name: String,
    pub policies: PolicySet,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyTemplateListResponse {
    pub templates: Vec<PolicyTemplateDto>,
}

// ---------------------------------------------------------------- two-step verification

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorEnrollResponse {
    /// Base32 TOTP secret (SHA-1, 6 digits, 30 s), shown once.
    pub secret: String,
    /// `otpauth://totp/...` for the QR code.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TwoFactorEnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwoFactorEnrollResponse(<redacted>)")
    }
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorCodeRequest {
    /// A current TOTP code, or (for login and disable) a recovery code.
    pub code: String,
}

impl std::fmt::Debug for TwoFactorCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwoFactorCodeRequest(<redacted>)")
    }
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorConfirmResponse {
    /// One-time recovery codes, shown once.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for TwoFactorConfirmResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwoFactorConfirmResponse(<redacted>)")
    }
}

/// Second step of a login that answered `two_factor_required` (the error's `challenge`).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TwoFactorLoginRequest {
    pub challenge: String,
    pub code: String,
}

impl std::fmt::Debug for TwoFactorLoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwoFactorLoginRequest(<redacted>)")
    }
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEventDto {
    pub seq: i64,
    pub at: i64,
    pub company_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub target_user_id: Option<Uuid>,
    pub target_email: Option<String>,
    pub event: String,
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditListResponse {
    pub events: Vec<AuditEventDto>,
    /// Pass as `before` to get the next (older) page; `None` at the end.
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemEventKind {
    Created,
    Changed,
    Copied,
    Deleted,
    Exported,
    Imported,
    Used,
    Viewed,
}

/// A client-reported event on a Business item (only ids, never titles or secrets).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemEventDto {
    pub item_id: Uuid,
    pub event: ItemEventKind,
    /// Which field, for copied/viewed (e.g. `password`).
    #[serde(default)]
    pub field: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemEventsRequest {
    pub events: Vec<ItemEventDto>,
}
