//! The organisation: partners, customers, members, invitations, groups, policies, technician
//! assignments, two-step verification and the audit log.
//!
//! As everywhere in the store, byte fields are either public keys, client ciphertext (keys
//! sealed with HPKE to a user's public key) or documents signed by a company's root key. The
//! server reads the JSON of signed documents it must enforce (policies) but never signs one.

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreResult;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

str_enum!(
    /// A partner (MSP) or one of its customers. A partner is also a company with its own users.
    CompanyKind { Partner = "partner", Customer = "customer" }
);
str_enum!(
    /// The subscription of a company. Trial has the Advanced features.
    Plan { Trial = "trial", Standard = "standard", Advanced = "advanced" }
);
str_enum!(
    CompanyStatus { Active = "active", Disabled = "disabled" }
);
str_enum!(
    /// `Admin` of a partner = partner admin (all its customers); `Technician` only in a partner
    /// (assigned customers only); `Admin` of a customer = customer admin; `User` = own account.
    Role { Admin = "admin", Technician = "technician", User = "user" }
);
str_enum!(
    /// `Accepted`: the user accepted an invitation and waits for an admin to confirm them (no
    /// member certificate yet). `Confirmed`: an admin's client signed a member certificate.
    MemberStatus { Accepted = "accepted", Confirmed = "confirmed" }
);

impl Plan {
    /// Trial and Advanced unlock the Advanced-only features.
    pub fn has_advanced(self) -> bool {
        matches!(self, Plan::Trial | Plan::Advanced)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompany {
    /// Chosen by the creating client (it is bound into signed documents before upload).
    pub id: Uuid,
    pub kind: CompanyKind,
    /// The owning partner of a customer; `None` for a partner.
    pub partner_id: Option<Uuid>,
    pub name: String,
    pub plan: Plan,
    /// `None` = unlimited (partners).
    pub seats: Option<i64>,
    pub trial_ends_at: Option<i64>,
    /// Public half of the company root signing key (Ed25519, 32 bytes).
    pub signing_public_key: Vec<u8>,
    /// Public half of the company encryption key (X25519 HPKE, 32 bytes).
    pub encryption_public_key: Vec<u8>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyRecord {
    pub id: Uuid,
    pub kind: CompanyKind,
    pub partner_id: Option<Uuid>,
    pub name: String,
    pub status: CompanyStatus,
    pub plan: Plan,
    pub seats: Option<i64>,
    pub trial_ends_at: Option<i64>,
    pub signing_public_key: Vec<u8>,
    pub encryption_public_key: Vec<u8>,
    /// The current signed policy document (JSON of `castellan_types::SignedDoc`), if any.
    pub policy: Option<Vec<u8>>,
    /// Counter of the current policy document (0 = none).
    pub policy_counter: i64,
    /// The current signed certificate revocation list (JSON of `castellan_types::SignedDoc`).
    pub revocations: Option<Vec<u8>>,
    /// Version of the current revocation list (0 = none).
    pub revocations_version: i64,
    /// Members (accepted or confirmed, disabled included) plus open invitations.
    pub seats_used: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The versioned signed documents a company row holds, each replaced by compare-and-swap on its
/// counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanyDoc {
    /// The policy document (`policy`, `policy_counter`).
    Policy,
    /// The certificate revocation list (`revocations`, `revocations_version`).
    Revocations,
}

impl CompanyRecord {
    /// The plan in force at `now`: a trial past its end counts as Standard.
    pub fn effective_plan(&self, now: i64) -> Plan {
        match (self.plan, self.trial_ends_at) {
            (Plan::Trial, Some(end)) if now >= end => Plan::Standard,
            (plan, _) => plan,
        }
    }
}

/// Changes to a company; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyUpdate {
    pub name: Option<String>,
    pub status: Option<CompanyStatus>,
    pub plan: Option<Plan>,
    /// `Some(None)` = unlimited.
    pub seats: Option<Option<i64>>,
    pub trial_ends_at: Option<Option<i64>>,
    pub now: i64,
}

/// The company's private keys sealed (HPKE) to one holder's encryption key by a client that
/// holds them. Holders: the company's admins, the partner's admins, assigned technicians.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyGrantRecord {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub sealed: Vec<u8>,
    pub granted_by: Uuid,
    pub created_at: i64,
}

impl std::fmt::Debug for KeyGrantRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyGrantRecord")
            .field("company_id", &self.company_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub company_id: Uuid,
    pub user_id: Uuid,
    /// The user's (normalised) email, joined from the account.
    pub email: String,
    pub role: Role,
    pub status: MemberStatus,
    pub disabled: bool,
    /// The member certificate (JSON of a `SignedDoc`) once confirmed.
    pub cert: Option<Vec<u8>>,
    /// The signed invitation (JSON of a `SignedDoc`) the member accepted.
    pub invitation: Option<Vec<u8>>,
    pub require_password_change: bool,
    /// Logins since "require two-step verification" applied to the user without 2FA set up.
    pub logins_without_2fa: i64,
    pub joined_at: i64,
    pub confirmed_at: Option<i64>,
    pub confirmed_by: Option<Uuid>,
}

/// Changes to a member; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberUpdate {
    pub disabled: Option<bool>,
    pub require_password_change: Option<bool>,
    /// A role change must come with a new certificate for a confirmed member.
    pub role: Option<Role>,
    pub cert: Option<Vec<u8>>,
    pub logins_without_2fa: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    /// Chosen by the inviting client; part of the link.
    pub id: Uuid,
    pub company_id: Uuid,
    pub email: String,
    pub role: Role,
    /// SHA-256 of the link secret; the secret itself is never stored.
    pub secret_hash: Vec<u8>,
    /// The invitation signed with the company root key (JSON of a `SignedDoc`).
    pub signed: Vec<u8>,
    pub created_by: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<Uuid>,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl InvitationRecord {
    /// Neither accepted, revoked nor expired at `now`.
    pub fn is_open(&self, now: i64) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && now < self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    /// The automatic group of every confirmed member: it cannot be renamed or deleted.
    pub is_everyone: bool,
    pub signing_public_key: Vec<u8>,
    pub encryption_public_key: Vec<u8>,
    /// The roster signed with the company root key (JSON of a `SignedDoc`).
    pub roster: Vec<u8>,
    pub roster_version: i64,
    /// The group's private keys sealed to the company encryption key (for admins).
    pub admin_grant: Vec<u8>,
    /// Members, from the roster as uploaded (the client trusts only the signed roster).
    pub members: Vec<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
    /// A Recovery Group of organisation backup: `admin_grant` is empty.
    pub is_recovery: bool,
}

/// The group's private keys sealed (HPKE) to one member.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupGrantRecord {
    pub group_id: Uuid,
    pub user_id: Uuid,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for GroupGrantRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupGrantRecord")
            .field("group_id", &self.group_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// A new roster for a group: stored only if the stored version is `version - 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterWrite {
    pub name: String,
    pub roster: Vec<u8>,
    pub version: i64,
    /// The complete member list after the change.
    pub members: Vec<Uuid>,
    /// Grants for members added by this change (one per added member).
    pub grants: Vec<GroupGrantRecord>,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTemplateRecord {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub name: String,
    /// The policy set as JSON (unsigned: the applying client signs one document per customer).
    pub policies: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct TwoFactorRecord {
    pub user_id: Uuid,
    /// The TOTP secret sealed under the server's 2FA key (never stored in clear).
    pub secret_sealed: Vec<u8>,
    pub enabled: bool,
    /// The last TOTP time step accepted (replay protection); 0 = none.
    pub last_used_step: i64,
    /// SHA-256 of each unused recovery code.
    pub recovery_code_hashes: Vec<Vec<u8>>,
    pub created_at: i64,
}

impl std::fmt::Debug for TwoFactorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactorRecord")
            .field("user_id", &self.user_id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// A login that passed OPAQUE and waits for the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorChallenge {
    pub id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 of the challenge token given to the client.
    pub token_hash: Vec<u8>,
    pub device_name: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Assigned by the store on append (strictly increasing).
    pub seq: i64,
    pub at: i64,
    /// The company the event belongs to (`None` for instance-level events).
    pub company_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub target_user_id: Option<Uuid>,
    pub target_email: Option<String>,
    /// Dotted event type, e.g. `login.succeeded`, `member.confirmed`, `item.copied`.
    pub event: String,
    /// JSON object with event details (never a secret).
    pub details: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events of any of these companies (must not be empty).
    pub company_ids: Vec<Uuid>,
    /// Events whose actor or target is this user.
    pub user_id: Option<Uuid>,
    /// Event type prefix, e.g. `login` or `member.confirmed`.
    pub event_prefix: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only events with `seq < before_seq` (paging backwards).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// What to create together with a company, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyCreate {
    pub company: NewCompany,
    /// For the first partner: the setup token, which must be the stored one and is consumed.
    pub setup_token: Option<String>,
    /// The founding admin, confirmed from the start (their certificate is self-issued by the
    /// new root key), for partners created with a setup token.
    pub founder: Option<FounderMembership>,
    pub key_grants: Vec<KeyGrantRecord>,
    /// The automatic "Everyone" group.
    pub everyone: GroupRecord,
    pub everyone_grants: Vec<GroupGrantRecord>,
    /// The first signed policy document (counter 1), if any.
    pub policy: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FounderMembership {
    pub user_id: Uuid,
    pub cert: Vec<u8>,
}

/// Storage of the organisation. Tenant checks are the caller's job (the server's authorisation
/// layer); every method that names a company and a row checks that the row is that company's
/// (`NotFound` otherwise).
#[async_trait]
pub trait OrgStore: Send + Sync {
    // ---- setup
    /// Stores `token` as the setup token unless one is stored; returns the stored one.
    async fn setup_token_get_or_init(&self, token: String) -> StoreResult<String>;
    /// Replaces the setup token (operator command for an additional partner).
    async fn setup_token_set(&self, token: String) -> StoreResult<()>;
    /// Whether any partner exists.
    async fn has_partner(&self) -> StoreResult<bool>;

    // ---- companies
    /// Creates everything in `create` atomically. `AlreadyExists("company")` for a taken id;
    /// `NotFound` if `setup_token` is given and is not the stored token (which is then
    /// deleted in the same transaction); `AlreadyExists("membership")` if the founder is
    /// already a member of a company.
    async fn create_company(&self, create: CompanyCreate) -> StoreResult<CompanyRecord>;
    async fn company(&self, id: Uuid) -> StoreResult<Option<CompanyRecord>>;
    /// Customers of a partner, by name.
    async fn customers_of(&self, partner_id: Uuid) -> StoreResult<Vec<CompanyRecord>>;
    /// `NotFound` if absent.
    async fn update_company(&self, id: Uuid, update: CompanyUpdate) -> StoreResult<CompanyRecord>;
    /// Stores a new version of one of the company's signed documents if the stored counter is
    /// `counter - 1` (else `VersionConflict { current }`; `NotFound` without the company).
    async fn set_company_doc(
        &self,
        company_id: Uuid,
        which: CompanyDoc,
        counter: i64,
        doc: Vec<u8>,
        now: i64,
    ) -> StoreResult<()>;

    /// [`Self::set_company_doc`] for the policy document.
    async fn set_policy(
        &self,
        company_id: Uuid,
        counter: i64,
        doc: Vec<u8>,
        now: i64,
    ) -> StoreResult<()> {
        self.set_company_doc(company_id, CompanyDoc::Policy, counter, doc, now)
            .await
    }

    // ---- key grants
    /// Inserts or replaces grants (keyed by company and user).
    async fn put_key_grants(&self, grants: Vec<KeyGrantRecord>) -> StoreResult<()>;
    async fn key_grants_for_user(&self, user_id: Uuid) -> StoreResult<Vec<KeyGrantRecord>>;
    async fn delete_key_grant(&self, company_id: Uuid, user_id: Uuid) -> StoreResult<()>;

    // ---- technicians (partner users assigned to customers)
    /// Assigns the technician and stores their key grant for the customer, atomically.
    async fn assign_technician(
        &self,
        customer_id: Uuid,
        technician_id: Uuid,
        grant: KeyGrantRecord,
    ) -> StoreResult<()>;
    /// Removes the assignment and the technician's key grant for the customer.
    async fn unassign_technician(&self, customer_id: Uuid, technician_id: Uuid) -> StoreResult<()>;
    async fn technician_customers(&self, technician_id: Uuid) -> StoreResult<Vec<Uuid>>;

    // ---- invitations
    /// `LimitReached("seats")` when the company's members plus open invitations already fill
    /// its seats; `AlreadyExists("invitation")` when an open invitation for the email exists;
    /// `AlreadyExists("member")` when the email is already a member of the company.
    async fn create_invitation(&self, invitation: InvitationRecord) -> StoreResult<()>;
    async fn invitation(&self, id: Uuid) -> StoreResult<Option<InvitationRecord>>;
    /// Open and closed invitations of the company, newest first.
    async fn invitations_of(&self, company_id: Uuid) -> StoreResult<Vec<InvitationRecord>>;
    async fn revoke_invitation(&self, company_id: Uuid, id: Uuid, now: i64) -> StoreResult<()>;
    /// Marks the invitation accepted by `user_id` and creates the membership (status
    /// accepted, role from the invitation) in one transaction. `NotFound` if the invitation is
    /// not open at `now`; `AlreadyExists("membership")` if the user is a member of a company.
    async fn accept_invitation(
        &self,
        id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> StoreResult<MemberRecord>;

    // ---- members
    async fn member(&self, company_id: Uuid, user_id: Uuid) -> StoreResult<Option<MemberRecord>>;
    /// The company membership of a user (a user belongs to at most one company).
    async fn membership_of(&self, user_id: Uuid) -> StoreResult<Option<MemberRecord>>;
    async fn members_of(&self, company_id: Uuid) -> StoreResult<Vec<MemberRecord>>;
    /// Confirms an accepted member with their certificate. `NotFound` if not accepted.
    async fn confirm_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        cert: Vec<u8>,
        confirmed_by: Uuid,
        now: i64,
    ) -> StoreResult<MemberRecord>;
    async fn update_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        update: MemberUpdate,
    ) -> StoreResult<MemberRecord>;
    /// Ends the membership: removes the member, their key grants, technician assignments and
    /// group grants (rosters are re-signed by a client). With `delete_business_items`, the
    /// objects of the user's business vault are deleted too (with tombstones in the feed) and
    /// its manifest is dropped, so the vault starts over at counter 1.
    async fn remove_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        delete_business_items: bool,
        now: i64,
    ) -> StoreResult<()>;
    /// Deletes the account and everything that belongs to it (sessions, vaults, objects,
    /// membership, grants). Shares the user owns alone are deleted (with tombstones for their
    /// readers); shares with other owners lose the user's entries and grants. The audit log
    /// keeps its events.
    async fn delete_user(&self, user_id: Uuid) -> StoreResult<()>;

    // ---- groups
    async fn create_group(
        &self,
        group: GroupRecord,
        grants: Vec<GroupGrantRecord>,
    ) -> StoreResult<()>;
    async fn groups_of(&self, company_id: Uuid) -> StoreResult<Vec<GroupRecord>>;
    async fn group(&self, company_id: Uuid, group_id: Uuid) -> StoreResult<Option<GroupRecord>>;
    /// Compare-and-swap on the roster version (`VersionConflict`); removes the grants of
    /// members no longer listed and stores the new ones.
    async fn update_group(
        &self,
        company_id: Uuid,
        group_id: Uuid,
        write: RosterWrite,
    ) -> StoreResult<GroupRecord>;
    async fn delete_group(&self, company_id: Uuid, group_id: Uuid) -> StoreResult<()>;
    /// The groups the user is a member of, with the user's grant for each.
    async fn groups_of_user(
        &self,
        user_id: Uuid,
    ) -> StoreResult<Vec<(GroupRecord, GroupGrantRecord)>>;

    // ---- policy templates
    async fn put_policy_template(&self, template: PolicyTemplateRecord) -> StoreResult<()>;
    async fn policy_templates_of(&self, partner_id: Uuid)
        -> StoreResult<Vec<PolicyTemplateRecord>>;
    async fn delete_policy_template(&self, partner_id: Uuid, id: Uuid) -> StoreResult<()>;

    // ---- two-step verification
    /// Inserts or replaces the user's record (enrolment restarts with a new secret).
    async fn put_two_factor(&self, record: TwoFactorRecord) -> StoreResult<()>;
    async fn two_factor(&self, user_id: Uuid) -> StoreResult<Option<TwoFactorRecord>>;
    async fn delete_two_factor(&self, user_id: Uuid) -> StoreResult<()>;
    /// Records `step` as used if it is newer than the last used step; `false` if not (replay).
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool>;
    /// Removes the recovery code hash if present; `false` if it was not (unknown or used).
    async fn use_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool>;
    async fn put_two_factor_challenge(&self, challenge: TwoFactorChallenge) -> StoreResult<()>;
    /// Only unexpired challenges.
    async fn two_factor_challenge(
        &self,
        id: Uuid,
        now: i64,
    ) -> StoreResult<Option<TwoFactorChallenge>>;
    async fn delete_two_factor_challenge(&self, id: Uuid) -> StoreResult<()>;

    // ---- sessions restricted until the user fixes something
    /// Sets (or clears) the restriction of a session: `two_factor_setup`,
    /// `password_change`.
    async fn set_session_restriction(
        &self,
        session_id: Uuid,
        restriction: Option<String>,
    ) -> StoreResult<()>;

    // ---- audit log (append-only)
    async fn append_audit(&self, event: AuditRecord) -> StoreResult<i64>;
    /// Newest first.
    async fn query_audit(&self, query: AuditQuery) -> StoreResult<Vec<AuditRecord>>;
}
