//! Organisation storage (partners, customers, members, invitations, groups, policies,
//! technician assignments, two-step verification, the audit log), schema in
//! `migrations/0003_org.sql`.
//!
//! Write transactions run at READ COMMITTED (as every write of this backend) with explicit row
//! locks where a check must still hold at the commit:
//! - the setup token row is locked (`FOR UPDATE`) before it is compared and deleted, so two
//!   setups with one token create one company;
//! - an invitation locks its company row (`FOR NO KEY UPDATE`, which still lets foreign keys
//!   point at it) before it counts the seats and looks for an open invitation of the email, so
//!   concurrent invitations for the last seat queue and the later ones see the earlier ones;
//! - accepting locks the invitation row (`FOR UPDATE`): a concurrent accept waits and then finds
//!   it used; the unique key of `members` (one company per user) settles a user accepting two
//!   invitations at once;
//! - a roster write locks the group row before it compares the version; policy counters,
//!   confirmations, TOTP steps and recovery codes are compare-and-swap statements whose `WHERE`
//!   PostgreSQL re-checks on the newest row after a wait;
//! - removing a member's business items locks the vault and its objects first.
//!
//! Transactions that PostgreSQL aborts as deadlock victims are retried ([`crate::retry`]).
//! The SQL text is at the top of this file: the SQLite backend's, with row locks, `uuid[]`
//! parameters (`= ANY($1)`) and byte-order (`COLLATE "C"`) sorting of names.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use castellan_store::{
    AuditQuery, AuditRecord, CompanyCreate, CompanyDoc, CompanyKind, CompanyRecord, CompanyStatus,
    CompanyUpdate, GroupGrantRecord, GroupRecord, InvitationRecord, KeyGrantRecord, MemberRecord,
    MemberStatus, MemberUpdate, OrgStore, Plan, PolicyTemplateRecord, Role, RosterWrite,
    StoreError, StoreResult, TwoFactorChallenge, TwoFactorRecord,
};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    backend, corrupt, delete_object_leaving_tombstone, get, map_unique, notify_change, retry,
    Error, PgStore,
};

// ---------------------------------------------------------------------------------------------
// SQL

/// The key of the setup token in `server_config`.
const SETUP_TOKEN_KEY: &str = "org.setup_token";

const CONFIG_INSERT_IF_ABSENT: &str =
    "INSERT INTO server_config (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
const CONFIG_UPSERT: &str = "INSERT INTO server_config (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const CONFIG_GET: &str = "SELECT value FROM server_config WHERE key = $1";
/// PostgreSQL-specific (`FOR UPDATE`): concurrent consumers of the token queue here; the later
/// ones find no row once the first has deleted it.
const CONFIG_GET_FOR_UPDATE: &str = "SELECT value FROM server_config WHERE key = $1 FOR UPDATE";
const CONFIG_DELETE: &str = "DELETE FROM server_config WHERE key = $1";

const HAS_PARTNER: &str =
    "SELECT EXISTS (SELECT 1 FROM companies WHERE kind = 'partner') AS has_partner";

/// Members (any status, disabled included) plus open invitations of company `$company` at
/// `$now`: what counts against the seats.
macro_rules! seats_used {
    ($company:literal, $now:literal) => {
        concat!(
            "(SELECT COUNT(*) FROM members sm WHERE sm.company_id = ",
            $company,
            ") + (SELECT COUNT(*) FROM invitations si WHERE si.company_id = ",
            $company,
            " AND si.accepted_at IS NULL AND si.revoked_at IS NULL AND si.expires_at > ",
            $now,
            ")"
        )
    };
}
/// `$1` = now (for the open invitations of `seats_used`).
macro_rules! company_select {
    () => {
        concat!(
            "SELECT c.id, c.kind, c.partner_id, c.name, c.status, c.plan, c.seats, \
             c.trial_ends_at, c.signing_public_key, c.encryption_public_key, c.policy, \
             c.policy_counter, c.revocations, c.revocations_version, c.created_at, \
             c.updated_at, ",
            seats_used!("c.id", "$1"),
            " AS seats_used FROM companies c"
        )
    };
}
const COMPANY_BY_ID: &str = concat!(company_select!(), " WHERE c.id = $2");
const CUSTOMERS_OF: &str = concat!(
    company_select!(),
    " WHERE c.partner_id = $2 ORDER BY c.name COLLATE \"C\", c.id"
);
const COMPANY_KIND: &str = "SELECT kind FROM companies WHERE id = $1";
const COMPANY_INSERT: &str = "INSERT INTO companies \
     (id, kind, partner_id, name, status, plan, seats, trial_ends_at, signing_public_key, \
     encryption_public_key, policy, policy_counter, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12, $12)";
/// `$5`/`$7`: whether to set seats (`$6`) / trial_ends_at (`$8`), which may be set to NULL.
const COMPANY_UPDATE: &str = "UPDATE companies SET \
     name = COALESCE($2, name), status = COALESCE($3, status), plan = COALESCE($4, plan), \
     seats = CASE WHEN $5 THEN $6 ELSE seats END, \
     trial_ends_at = CASE WHEN $7 THEN $8 ELSE trial_ends_at END, \
     updated_at = $9 WHERE id = $1";
/// Compare-and-swap on a document counter: stores counter `$2` only over `$2 - 1`. The second
/// statement reads the stored counter (as `counter`) after a failed swap.
fn company_doc_sql(which: CompanyDoc) -> (&'static str, &'static str) {
    match which {
        CompanyDoc::Policy => (
            "UPDATE companies SET policy = $3, policy_counter = $2, updated_at = $4 \
             WHERE id = $1 AND policy_counter = $2 - 1",
            "SELECT policy_counter AS counter FROM companies WHERE id = $1",
        ),
        CompanyDoc::Revocations => (
            "UPDATE companies SET revocations = $3, revocations_version = $2, updated_at = $4 \
             WHERE id = $1 AND revocations_version = $2 - 1",
            "SELECT revocations_version AS counter FROM companies WHERE id = $1",
        ),
    }
}
/// PostgreSQL-specific (`FOR NO KEY UPDATE`): serialises the invitations of a company (and its
/// updates) while foreign keys may still reference the row.
const SEATS_OF_FOR_UPDATE: &str = "SELECT seats FROM companies WHERE id = $1 FOR NO KEY UPDATE";
const SEATS_USED: &str = concat!("SELECT ", seats_used!("$1", "$2"), " AS used");

const USER_EXISTS: &str = "SELECT 1 FROM users WHERE id = $1";

const KEY_GRANT_UPSERT: &str = "INSERT INTO key_grants \
     (company_id, user_id, sealed, granted_by, created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (company_id, user_id) DO UPDATE SET sealed = excluded.sealed, \
     granted_by = excluded.granted_by, created_at = excluded.created_at";
const KEY_GRANTS_FOR_USER: &str = "SELECT company_id, user_id, sealed, granted_by, created_at \
     FROM key_grants WHERE user_id = $1 ORDER BY company_id";
const KEY_GRANT_DELETE: &str = "DELETE FROM key_grants WHERE company_id = $1 AND user_id = $2";
/// The user's grants for company `$1` and for the customers of `$1` (when it is a partner).
const KEY_GRANTS_DELETE_IN_COMPANY: &str = "DELETE FROM key_grants WHERE user_id = $2 AND \
     (company_id = $1 OR company_id IN (SELECT id FROM companies WHERE partner_id = $1))";

const TECHNICIAN_OF_PARTNER: &str = "SELECT 1 FROM companies c JOIN members m \
     ON m.company_id = c.partner_id AND m.user_id = $2 AND m.role = 'technician' \
     WHERE c.id = $1 AND c.kind = 'customer'";
const ASSIGNMENT_UPSERT: &str = "INSERT INTO technician_assignments \
     (customer_id, technician_id, assigned_at) VALUES ($1, $2, $3) \
     ON CONFLICT (customer_id, technician_id) DO NOTHING";
const ASSIGNMENT_DELETE: &str =
    "DELETE FROM technician_assignments WHERE customer_id = $1 AND technician_id = $2";
const ASSIGNMENTS_OF_TECHNICIAN: &str = "SELECT customer_id FROM technician_assignments \
     WHERE technician_id = $1 ORDER BY customer_id";
/// The user's assignments to customers of partner `$1`.
const ASSIGNMENTS_DELETE_IN_PARTNER: &str = "DELETE FROM technician_assignments \
     WHERE technician_id = $2 AND customer_id IN (SELECT id FROM companies WHERE partner_id = $1)";

macro_rules! invitation_columns {
    () => {
        "id, company_id, email, role, secret_hash, signed, created_by, created_at, expires_at, \
         accepted_by, accepted_at, revoked_at"
    };
}
const INVITATION_INSERT: &str = concat!(
    "INSERT INTO invitations (",
    invitation_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL)"
);
const INVITATION_BY_ID: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invitations WHERE id = $1"
);
/// PostgreSQL-specific (`FOR UPDATE`): concurrent accepts of one invitation queue here.
const INVITATION_BY_ID_FOR_UPDATE: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invitations WHERE id = $1 FOR UPDATE"
);
const INVITATIONS_OF: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invitations WHERE company_id = $1 ORDER BY created_at DESC, id DESC"
);
const INVITATION_OPEN_FOR_EMAIL: &str = "SELECT 1 FROM invitations WHERE company_id = $1 \
     AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3";
/// Keeps the first revocation time; an accepted invitation cannot be revoked.
const INVITATION_REVOKE: &str = "UPDATE invitations SET revoked_at = COALESCE(revoked_at, $3) \
     WHERE id = $2 AND company_id = $1 AND accepted_at IS NULL";
/// Marks the invitation accepted if it is open at `$3`.
const INVITATION_ACCEPT: &str = "UPDATE invitations SET accepted_by = $2, accepted_at = $3 \
     WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3";
const EMAIL_IS_MEMBER: &str = "SELECT 1 FROM members m JOIN users u ON u.id = m.user_id \
     WHERE m.company_id = $1 AND u.email = $2";

macro_rules! member_select {
    () => {
        "SELECT m.user_id, m.company_id, u.email, m.role, m.status, m.disabled, m.cert, \
         m.invitation, m.require_password_change, m.logins_without_2fa, m.joined_at, \
         m.confirmed_at, m.confirmed_by FROM members m JOIN users u ON u.id = m.user_id"
    };
}
const MEMBER: &str = concat!(
    member_select!(),
    " WHERE m.company_id = $1 AND m.user_id = $2"
);
const MEMBERSHIP_OF: &str = concat!(member_select!(), " WHERE m.user_id = $1");
const MEMBERS_OF: &str = concat!(
    member_select!(),
    " WHERE m.company_id = $1 ORDER BY u.email COLLATE \"C\", m.user_id"
);
const MEMBER_INSERT: &str = "INSERT INTO members \
     (user_id, company_id, role, status, disabled, cert, invitation, require_password_change, \
     logins_without_2fa, joined_at, confirmed_at, confirmed_by) \
     VALUES ($1, $2, $3, $4, false, $5, $6, false, 0, $7, $8, $9)";
const MEMBER_EXISTS_FOR_USER: &str = "SELECT 1 FROM members WHERE user_id = $1";
const MEMBER_CONFIRM: &str = "UPDATE members SET status = 'confirmed', cert = $3, \
     confirmed_at = $4, confirmed_by = $5 \
     WHERE company_id = $1 AND user_id = $2 AND status = 'accepted'";
const MEMBER_UPDATE: &str = "UPDATE members SET disabled = COALESCE($3, disabled), \
     require_password_change = COALESCE($4, require_password_change), \
     role = COALESCE($5, role), cert = COALESCE($6, cert), \
     logins_without_2fa = COALESCE($7, logins_without_2fa) \
     WHERE company_id = $1 AND user_id = $2";
const MEMBER_DELETE: &str = "DELETE FROM members WHERE company_id = $1 AND user_id = $2";
const USER_DELETE: &str = "DELETE FROM users WHERE id = $1";

/// PostgreSQL-specific (`FOR UPDATE`): no object can be created in or moved into the vaults
/// (the foreign key check needs a key-share lock on the vault) until the removal commits.
const BUSINESS_VAULTS_OF_FOR_UPDATE: &str =
    "SELECT id FROM vaults WHERE user_id = $1 AND kind = 'business' ORDER BY id FOR UPDATE";
/// PostgreSQL-specific (`FOR UPDATE`): the objects to remove, locked in id order.
const OBJECTS_IN_VAULT_FOR_UPDATE: &str = "SELECT id, version FROM objects \
     WHERE user_id = $1 AND vault_id = $2 ORDER BY id FOR UPDATE";

macro_rules! group_columns {
    () => {
        "g.id, g.company_id, g.name, g.is_everyone, g.signing_public_key, \
         g.encryption_public_key, g.roster, g.roster_version, g.admin_grant, g.created_at, \
         g.updated_at, g.is_recovery"
    };
}
const GROUP_INSERT: &str = "INSERT INTO groups \
     (id, company_id, name, is_everyone, signing_public_key, encryption_public_key, roster, \
     roster_version, admin_grant, created_at, updated_at, is_recovery) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const GROUP_BY_ID: &str = concat!(
    "SELECT ",
    group_columns!(),
    " FROM groups g WHERE g.id = $2 AND g.company_id = $1"
);
/// PostgreSQL-specific (`FOR UPDATE`): concurrent roster writes of one group queue here.
const GROUP_VERSION_FOR_UPDATE: &str =
    "SELECT roster_version FROM groups WHERE id = $2 AND company_id = $1 FOR UPDATE";
const GROUPS_OF: &str = concat!(
    "SELECT ",
    group_columns!(),
    " FROM groups g WHERE g.company_id = $1 \
     ORDER BY g.is_everyone DESC, g.name COLLATE \"C\", g.id"
);
const GROUP_MEMBERS_OF_COMPANY: &str = "SELECT gm.group_id, gm.user_id FROM group_members gm \
     JOIN groups g ON g.id = gm.group_id WHERE g.company_id = $1 \
     ORDER BY gm.group_id, gm.position";
const GROUP_MEMBERS_OF_GROUP: &str = "SELECT group_id, user_id FROM group_members \
     WHERE group_id = $1 ORDER BY position";
/// The groups user `$1` is listed in and holds a grant for, with that grant.
const GROUPS_OF_USER: &str = concat!(
    "SELECT ",
    group_columns!(),
    ", gg.sealed AS grant_sealed FROM group_grants gg JOIN groups g ON g.id = gg.group_id \
     JOIN group_members gm ON gm.group_id = gg.group_id AND gm.user_id = gg.user_id \
     WHERE gg.user_id = $1 \
     ORDER BY g.company_id, g.is_everyone DESC, g.name COLLATE \"C\", g.id"
);
const GROUP_MEMBERS_OF_USER_GROUPS: &str = "SELECT gm.group_id, gm.user_id \
     FROM group_members gm WHERE gm.group_id IN \
     (SELECT group_id FROM group_grants WHERE user_id = $1) ORDER BY gm.group_id, gm.position";
const EVERYONE_EXISTS: &str = "SELECT 1 FROM groups WHERE company_id = $1 AND is_everyone";
const GROUP_UPDATE: &str = "UPDATE groups SET name = $3, roster = $4, roster_version = $5, \
     updated_at = $6 WHERE id = $1 AND company_id = $2 AND roster_version = $5 - 1";
const GROUP_DELETE: &str = "DELETE FROM groups WHERE id = $2 AND company_id = $1";
const GROUP_MEMBER_INSERT: &str =
    "INSERT INTO group_members (group_id, user_id, position) VALUES ($1, $2, $3)";
const GROUP_MEMBERS_CLEAR: &str = "DELETE FROM group_members WHERE group_id = $1";
/// How many listed members of group `$1` are not members of company `$2`.
const GROUP_MEMBERS_OUTSIDE_COMPANY: &str = "SELECT COUNT(*) AS outside FROM group_members gm \
     LEFT JOIN members m ON m.user_id = gm.user_id AND m.company_id = $2 \
     WHERE gm.group_id = $1 AND m.user_id IS NULL";
const GROUP_GRANT_UPSERT: &str = "INSERT INTO group_grants (group_id, user_id, sealed) \
     VALUES ($1, $2, $3) ON CONFLICT (group_id, user_id) DO UPDATE SET sealed = excluded.sealed";
const GROUP_GRANTS_OF_UNLISTED: &str = "DELETE FROM group_grants WHERE group_id = $1 \
     AND user_id NOT IN (SELECT user_id FROM group_members WHERE group_id = $1)";
/// The user's grants for the groups of company `$1`.
const GROUP_GRANTS_DELETE_IN_COMPANY: &str = "DELETE FROM group_grants WHERE user_id = $2 \
     AND group_id IN (SELECT id FROM groups WHERE company_id = $1)";

const TEMPLATE_UPSERT: &str = "INSERT INTO policy_templates \
     (id, partner_id, name, policies, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, policies = excluded.policies, \
     updated_at = excluded.updated_at WHERE policy_templates.partner_id = excluded.partner_id";
const TEMPLATES_OF: &str = "SELECT id, partner_id, name, policies, created_at, updated_at \
     FROM policy_templates WHERE partner_id = $1 ORDER BY name COLLATE \"C\", id";
const TEMPLATE_DELETE: &str = "DELETE FROM policy_templates WHERE id = $2 AND partner_id = $1";

const TWO_FACTOR_UPSERT: &str = "INSERT INTO two_factor \
     (user_id, secret_sealed, enabled, last_used_step, created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
     enabled = excluded.enabled, last_used_step = excluded.last_used_step, \
     created_at = excluded.created_at";
const TWO_FACTOR_GET: &str = "SELECT user_id, secret_sealed, enabled, last_used_step, created_at \
     FROM two_factor WHERE user_id = $1";
const TWO_FACTOR_DELETE: &str = "DELETE FROM two_factor WHERE user_id = $1";
/// Records step `$2` only if it is newer than the last used one (replay protection).
const TWO_FACTOR_USE_STEP: &str = "UPDATE two_factor SET last_used_step = $2 \
     WHERE user_id = $1 AND last_used_step < $2";
const TWO_FACTOR_EXISTS: &str = "SELECT 1 FROM two_factor WHERE user_id = $1";
const RECOVERY_CODES_CLEAR: &str = "DELETE FROM two_factor_recovery_codes WHERE user_id = $1";
const RECOVERY_CODE_INSERT: &str = "INSERT INTO two_factor_recovery_codes \
     (user_id, code_hash, position) VALUES ($1, $2, $3)";
const RECOVERY_CODES_OF: &str = "SELECT code_hash FROM two_factor_recovery_codes \
     WHERE user_id = $1 ORDER BY position";
const RECOVERY_CODE_USE: &str =
    "DELETE FROM two_factor_recovery_codes WHERE user_id = $1 AND code_hash = $2";
const CHALLENGE_INSERT: &str = "INSERT INTO two_factor_challenges \
     (id, user_id, token_hash, device_name, expires_at) VALUES ($1, $2, $3, $4, $5)";
const CHALLENGE_GET: &str = "SELECT id, user_id, token_hash, device_name, expires_at \
     FROM two_factor_challenges WHERE id = $1 AND expires_at > $2";
const CHALLENGE_DELETE: &str = "DELETE FROM two_factor_challenges WHERE id = $1";
const CHALLENGES_PURGE_EXPIRED: &str = "DELETE FROM two_factor_challenges WHERE expires_at <= $1";

const SESSION_SET_RESTRICTION: &str = "UPDATE sessions SET restriction = $2 WHERE id = $1";

const AUDIT_NEXT_SEQ: &str =
    "UPDATE audit_counter SET value = value + 1 WHERE id = 1 RETURNING value";
const AUDIT_INSERT: &str = "INSERT INTO audit_log \
     (seq, at, company_id, actor_id, actor_email, target_user_id, target_email, event, details, ip) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
/// `$1` company ids; `$2..$6` optional filters (NULL = any); newest first.
const AUDIT_QUERY: &str = "SELECT seq, at, company_id, actor_id, actor_email, target_user_id, \
     target_email, event, details, ip FROM audit_log \
     WHERE company_id = ANY($1) \
     AND ($2::uuid IS NULL OR actor_id = $2 OR target_user_id = $2) \
     AND ($3::text IS NULL OR left(event, char_length($3)) = $3) \
     AND ($4::bigint IS NULL OR at >= $4) \
     AND ($5::bigint IS NULL OR at <= $5) \
     AND ($6::bigint IS NULL OR seq < $6) \
     ORDER BY seq DESC LIMIT $7";

// ---------------------------------------------------------------------------------------------
// helpers

/// The wall clock, for reads that the trait gives no `now` (the open invitations counted in
/// `CompanyRecord::seats_used`).
fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Compares without stopping at the first difference (setup tokens).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A foreign key violation (a named company or user does not exist) is `NotFound`; a unique
/// violation is `AlreadyExists` by constraint as in [`map_unique`].
fn map_missing_or_unique(e: sqlx::Error, targets: &[(&str, &'static str)]) -> Error {
    if e.as_database_error()
        .is_some_and(|db| db.is_foreign_key_violation())
    {
        return Error::Store(StoreError::NotFound);
    }
    map_unique(e, targets)
}

fn company_from_row(row: &PgRow) -> StoreResult<CompanyRecord> {
    let kind: &str = get(row, "kind")?;
    let status: &str = get(row, "status")?;
    let plan: &str = get(row, "plan")?;
    Ok(CompanyRecord {
        id: get(row, "id")?,
        kind: CompanyKind::parse(kind).ok_or_else(|| corrupt("kind"))?,
        partner_id: get(row, "partner_id")?,
        name: get(row, "name")?,
        status: CompanyStatus::parse(status).ok_or_else(|| corrupt("status"))?,
        plan: Plan::parse(plan).ok_or_else(|| corrupt("plan"))?,
        seats: get(row, "seats")?,
        trial_ends_at: get(row, "trial_ends_at")?,
        signing_public_key: get(row, "signing_public_key")?,
        encryption_public_key: get(row, "encryption_public_key")?,
        policy: get(row, "policy")?,
        policy_counter: get(row, "policy_counter")?,
        revocations: get(row, "revocations")?,
        revocations_version: get(row, "revocations_version")?,
        seats_used: get(row, "seats_used")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn key_grant_from_row(row: &PgRow) -> StoreResult<KeyGrantRecord> {
    Ok(KeyGrantRecord {
        company_id: get(row, "company_id")?,
        user_id: get(row, "user_id")?,
        sealed: get(row, "sealed")?,
        granted_by: get(row, "granted_by")?,
        created_at: get(row, "created_at")?,
    })
}

fn invitation_from_row(row: &PgRow) -> StoreResult<InvitationRecord> {
    let role: &str = get(row, "role")?;
    Ok(InvitationRecord {
        id: get(row, "id")?,
        company_id: get(row, "company_id")?,
        email: get(row, "email")?,
        role: Role::parse(role).ok_or_else(|| corrupt("role"))?,
        secret_hash: get(row, "secret_hash")?,
        signed: get(row, "signed")?,
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        accepted_by: get(row, "accepted_by")?,
        accepted_at: get(row, "accepted_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

fn member_from_row(row: &PgRow) -> StoreResult<MemberRecord> {
    let role: &str = get(row, "role")?;
    let status: &str = get(row, "status")?;
    Ok(MemberRecord {
        company_id: get(row, "company_id")?,
        user_id: get(row, "user_id")?,
        email: get(row, "email")?,
        role: Role::parse(role).ok_or_else(|| corrupt("role"))?,
        status: MemberStatus::parse(status).ok_or_else(|| corrupt("status"))?,
        disabled: get(row, "disabled")?,
        cert: get(row, "cert")?,
        invitation: get(row, "invitation")?,
        require_password_change: get(row, "require_password_change")?,
        logins_without_2fa: get(row, "logins_without_2fa")?,
        joined_at: get(row, "joined_at")?,
        confirmed_at: get(row, "confirmed_at")?,
        confirmed_by: get(row, "confirmed_by")?,
    })
}

/// A group row; its `members` are filled in by [`with_members`].
fn group_from_row(row: &PgRow) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        id: get(row, "id")?,
        company_id: get(row, "company_id")?,
        name: get(row, "name")?,
        is_everyone: get(row, "is_everyone")?,
        signing_public_key: get(row, "signing_public_key")?,
        encryption_public_key: get(row, "encryption_public_key")?,
        roster: get(row, "roster")?,
        roster_version: get(row, "roster_version")?,
        admin_grant: get(row, "admin_grant")?,
        members: Vec::new(),
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        is_recovery: get(row, "is_recovery")?,
    })
}

/// Fills in each group's members from `(group_id, user_id)` rows in roster order.
fn with_members(
    mut groups: Vec<GroupRecord>,
    member_rows: &[PgRow],
) -> StoreResult<Vec<GroupRecord>> {
    let mut members: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in member_rows {
        members
            .entry(get(row, "group_id")?)
            .or_default()
            .push(get(row, "user_id")?);
    }
    for group in &mut groups {
        group.members = members.remove(&group.id).unwrap_or_default();
    }
    Ok(groups)
}

fn template_from_row(row: &PgRow) -> StoreResult<PolicyTemplateRecord> {
    Ok(PolicyTemplateRecord {
        id: get(row, "id")?,
        partner_id: get(row, "partner_id")?,
        name: get(row, "name")?,
        policies: get(row, "policies")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn challenge_from_row(row: &PgRow) -> StoreResult<TwoFactorChallenge> {
    Ok(TwoFactorChallenge {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        token_hash: get(row, "token_hash")?,
        device_name: get(row, "device_name")?,
        expires_at: get(row, "expires_at")?,
    })
}

fn audit_from_row(row: &PgRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        seq: get(row, "seq")?,
        at: get(row, "at")?,
        company_id: get(row, "company_id")?,
        actor_id: get(row, "actor_id")?,
        actor_email: get(row, "actor_email")?,
        target_user_id: get(row, "target_user_id")?,
        target_email: get(row, "target_email")?,
        event: get(row, "event")?,
        details: get(row, "details")?,
        ip: get(row, "ip")?,
    })
}

/// Checks what a caller must get right (a mistake here is a bug of the caller, not a conflict):
/// the members of a roster are distinct, and every grant is for this group and a listed member.
fn check_roster(group_id: Uuid, members: &[Uuid], grants: &[GroupGrantRecord]) -> StoreResult<()> {
    let mut seen = std::collections::HashSet::new();
    if !members.iter().all(|m| seen.insert(*m)) {
        return Err(StoreError::Backend(
            "the group's member list names a user twice".into(),
        ));
    }
    if grants
        .iter()
        .any(|g| g.group_id != group_id || !seen.contains(&g.user_id))
    {
        return Err(StoreError::Backend(
            "a group key grant is not for a listed member of the group".into(),
        ));
    }
    Ok(())
}

fn check_new_company(create: &CompanyCreate) -> StoreResult<()> {
    let c = &create.company;
    if (c.kind == CompanyKind::Partner) != c.partner_id.is_none() {
        return Err(StoreError::Backend(
            "a partner has no partner_id and a customer has one".into(),
        ));
    }
    if create.everyone.company_id != c.id || !create.everyone.is_everyone {
        return Err(StoreError::Backend(
            "the Everyone group must belong to the new company".into(),
        ));
    }
    if create.key_grants.iter().any(|g| g.company_id != c.id) {
        return Err(StoreError::Backend(
            "the key grants must be for the new company".into(),
        ));
    }
    check_roster(
        create.everyone.id,
        &create.everyone.members,
        &create.everyone_grants,
    )
}

async fn read_company(
    conn: &mut PgConnection,
    company_id: Uuid,
    now: i64,
) -> Result<Option<CompanyRecord>, Error> {
    let row = sqlx::query(COMPANY_BY_ID)
        .bind(now)
        .bind(company_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(company_from_row).transpose()?)
}

async fn read_member(
    conn: &mut PgConnection,
    company_id: Uuid,
    user_id: Uuid,
) -> Result<Option<MemberRecord>, Error> {
    let row = sqlx::query(MEMBER)
        .bind(company_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(member_from_row).transpose()?)
}

async fn read_group(
    conn: &mut PgConnection,
    company_id: Uuid,
    group_id: Uuid,
) -> Result<Option<GroupRecord>, Error> {
    let Some(row) = sqlx::query(GROUP_BY_ID)
        .bind(company_id)
        .bind(group_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let group = group_from_row(&row)?;
    let member_rows = sqlx::query(GROUP_MEMBERS_OF_GROUP)
        .bind(group_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(with_members(vec![group], &member_rows)?.pop())
}

async fn exists(conn: &mut PgConnection, query: &str, key: Uuid) -> Result<bool, Error> {
    Ok(sqlx::query(query)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

/// The kind of a company, if it exists.
async fn company_kind(conn: &mut PgConnection, company_id: Uuid) -> Result<Option<String>, Error> {
    let row = sqlx::query(COMPANY_KIND)
        .bind(company_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(|r| get(r, "kind")).transpose()?)
}

async fn put_key_grant(conn: &mut PgConnection, grant: &KeyGrantRecord) -> Result<(), Error> {
    sqlx::query(KEY_GRANT_UPSERT)
        .bind(grant.company_id)
        .bind(grant.user_id)
        .bind(&grant.sealed)
        .bind(grant.granted_by)
        .bind(grant.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| map_missing_or_unique(e, &[]))?;
    Ok(())
}

/// Replaces the member list of a group (in roster order); `NotFound` if a listed user is not
/// a member of `company_id`.
async fn write_group_members(
    conn: &mut PgConnection,
    group_id: Uuid,
    company_id: Uuid,
    members: &[Uuid],
) -> Result<(), Error> {
    sqlx::query(GROUP_MEMBERS_CLEAR)
        .bind(group_id)
        .execute(&mut *conn)
        .await?;
    for (position, user_id) in (0i64..).zip(members) {
        sqlx::query(GROUP_MEMBER_INSERT)
            .bind(group_id)
            .bind(user_id)
            .bind(position)
            .execute(&mut *conn)
            .await
            .map_err(|e| map_missing_or_unique(e, &[]))?;
    }
    let outside: i64 = get(
        &sqlx::query(GROUP_MEMBERS_OUTSIDE_COMPANY)
            .bind(group_id)
            .bind(company_id)
            .fetch_one(&mut *conn)
            .await?,
        "outside",
    )?;
    if outside > 0 {
        return Err(StoreError::NotFound.into());
    }
    Ok(())
}

async fn put_group_grants(
    conn: &mut PgConnection,
    grants: &[GroupGrantRecord],
) -> Result<(), Error> {
    for grant in grants {
        sqlx::query(GROUP_GRANT_UPSERT)
            .bind(grant.group_id)
            .bind(grant.user_id)
            .bind(&grant.sealed)
            .execute(&mut *conn)
            .await
            .map_err(|e| map_missing_or_unique(e, &[]))?;
    }
    Ok(())
}

/// Inserts a group with its members and grants (checked by [`check_roster`] before).
async fn insert_group(
    conn: &mut PgConnection,
    group: &GroupRecord,
    grants: &[GroupGrantRecord],
) -> Result<(), Error> {
    if company_kind(conn, group.company_id).await?.is_none() {
        return Err(StoreError::NotFound.into());
    }
    if group.is_everyone && exists(conn, EVERYONE_EXISTS, group.company_id).await? {
        return Err(StoreError::AlreadyExists("group").into());
    }
    sqlx::query(GROUP_INSERT)
        .bind(group.id)
        .bind(group.company_id)
        .bind(&group.name)
        .bind(group.is_everyone)
        .bind(&group.signing_public_key)
        .bind(&group.encryption_public_key)
        .bind(&group.roster)
        .bind(group.roster_version)
        .bind(&group.admin_grant)
        .bind(group.created_at)
        .bind(group.updated_at)
        .bind(group.is_recovery)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            map_missing_or_unique(
                e,
                &[("groups_pkey", "group"), ("groups_one_everyone", "group")],
            )
        })?;
    write_group_members(conn, group.id, group.company_id, &group.members).await?;
    put_group_grants(conn, grants).await
}

/// Checks `token` against the stored setup token and consumes it; `NotFound` if there is none
/// or it differs.
async fn consume_setup_token(conn: &mut PgConnection, token: &str) -> Result<(), Error> {
    let stored: Option<Vec<u8>> = match sqlx::query(CONFIG_GET_FOR_UPDATE)
        .bind(SETUP_TOKEN_KEY)
        .fetch_optional(&mut *conn)
        .await?
    {
        Some(row) => Some(get(&row, "value")?),
        None => None,
    };
    match stored {
        Some(stored) if same_secret(&stored, token.as_bytes()) => {}
        _ => return Err(StoreError::NotFound.into()),
    }
    sqlx::query(CONFIG_DELETE)
        .bind(SETUP_TOKEN_KEY)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// transactions (one attempt each; the trait methods retry deadlock victims)

impl PgStore {
    async fn setup_token_get_or_init_once(&self, token: &str) -> Result<String, Error> {
        // A concurrent first insert makes this one wait for its commit and do nothing; the
        // read that follows sees the winner's value. A token consumed between the two
        // statements is stored again on the next round.
        for _ in 0..3 {
            sqlx::query(CONFIG_INSERT_IF_ABSENT)
                .bind(SETUP_TOKEN_KEY)
                .bind(token.as_bytes())
                .execute(&self.pool)
                .await?;
            let row = sqlx::query(CONFIG_GET)
                .bind(SETUP_TOKEN_KEY)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                let value: Vec<u8> = get(&row, "value")?;
                return Ok(String::from_utf8(value).map_err(|_| corrupt("server_config.value"))?);
            }
        }
        Err(StoreError::Backend("the setup token keeps being consumed".into()).into())
    }

    async fn create_company_once(&self, create: &CompanyCreate) -> Result<CompanyRecord, Error> {
        let c = &create.company;
        let mut tx = self.begin_write().await?;
        if let Some(token) = &create.setup_token {
            consume_setup_token(&mut tx, token).await?;
        }
        if let Some(partner_id) = c.partner_id {
            if company_kind(&mut tx, partner_id).await?.as_deref()
                != Some(CompanyKind::Partner.as_str())
            {
                return Err(StoreError::NotFound.into());
            }
        }
        let policy_counter: i64 = if create.policy.is_some() { 1 } else { 0 };
        sqlx::query(COMPANY_INSERT)
            .bind(c.id)
            .bind(c.kind.as_str())
            .bind(c.partner_id)
            .bind(&c.name)
            .bind(c.plan.as_str())
            .bind(c.seats)
            .bind(c.trial_ends_at)
            .bind(&c.signing_public_key)
            .bind(&c.encryption_public_key)
            .bind(&create.policy)
            .bind(policy_counter)
            .bind(c.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_missing_or_unique(e, &[("companies_pkey", "company")]))?;
        if let Some(founder) = &create.founder {
            if !exists(&mut tx, USER_EXISTS, founder.user_id).await? {
                return Err(StoreError::NotFound.into());
            }
            if exists(&mut tx, MEMBER_EXISTS_FOR_USER, founder.user_id).await? {
                return Err(StoreError::AlreadyExists("membership").into());
            }
            sqlx::query(MEMBER_INSERT)
                .bind(founder.user_id)
                .bind(c.id)
                .bind(Role::Admin.as_str())
                .bind(MemberStatus::Confirmed.as_str())
                .bind(&founder.cert)
                .bind(None::<Vec<u8>>)
                .bind(c.created_at)
                .bind(Some(c.created_at))
                .bind(Some(founder.user_id))
                .execute(&mut *tx)
                .await
                .map_err(|e| map_missing_or_unique(e, &[("members_pkey", "membership")]))?;
        }
        for grant in &create.key_grants {
            put_key_grant(&mut tx, grant).await?;
        }
        insert_group(&mut tx, &create.everyone, &create.everyone_grants).await?;
        let record = read_company(&mut tx, c.id, c.created_at)
            .await?
            .ok_or_else(|| StoreError::Backend("the new company is not readable".into()))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn update_company_once(
        &self,
        company_id: Uuid,
        update: &CompanyUpdate,
    ) -> Result<CompanyRecord, Error> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(COMPANY_UPDATE)
            .bind(company_id)
            .bind(&update.name)
            .bind(update.status.map(CompanyStatus::as_str))
            .bind(update.plan.map(Plan::as_str))
            .bind(update.seats.is_some())
            .bind(update.seats.flatten())
            .bind(update.trial_ends_at.is_some())
            .bind(update.trial_ends_at.flatten())
            .bind(update.now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound.into());
        }
        let record = read_company(&mut tx, company_id, update.now)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(record)
    }

    async fn set_company_doc_once(
        &self,
        company_id: Uuid,
        which: CompanyDoc,
        counter: i64,
        doc: &[u8],
        now: i64,
    ) -> Result<(), Error> {
        let (swap, read_counter) = company_doc_sql(which);
        let mut tx = self.begin_write().await?;
        let written = sqlx::query(swap)
            .bind(company_id)
            .bind(counter)
            .bind(doc)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if written == 0 {
            // READ COMMITTED: the newest committed counter (the one that made the swap fail).
            let row = sqlx::query(read_counter)
                .bind(company_id)
                .fetch_optional(&mut *tx)
                .await?;
            return match row {
                None => Err(StoreError::NotFound.into()),
                Some(row) => Err(StoreError::VersionConflict {
                    current: get(&row, "counter")?,
                }
                .into()),
            };
        }
        tx.commit().await?;
        Ok(())
    }

    async fn put_key_grants_once(&self, grants: &[KeyGrantRecord]) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        for grant in grants {
            put_key_grant(&mut tx, grant).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn assign_technician_once(
        &self,
        customer_id: Uuid,
        technician_id: Uuid,
        grant: &KeyGrantRecord,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        let is_technician = sqlx::query(TECHNICIAN_OF_PARTNER)
            .bind(customer_id)
            .bind(technician_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !is_technician {
            return Err(StoreError::NotFound.into());
        }
        sqlx::query(ASSIGNMENT_UPSERT)
            .bind(customer_id)
            .bind(technician_id)
            .bind(grant.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_missing_or_unique(e, &[]))?;
        put_key_grant(&mut tx, grant).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unassign_technician_once(
        &self,
        customer_id: Uuid,
        technician_id: Uuid,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(ASSIGNMENT_DELETE)
            .bind(customer_id)
            .bind(technician_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound.into());
        }
        sqlx::query(KEY_GRANT_DELETE)
            .bind(customer_id)
            .bind(technician_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_invitation_once(&self, invitation: &InvitationRecord) -> Result<(), Error> {
        let company_id = invitation.company_id;
        let now = invitation.created_at;
        let mut tx = self.begin_write().await?;
        // Locked until the commit: the checks below stay true.
        let seats: Option<i64> = match sqlx::query(SEATS_OF_FOR_UPDATE)
            .bind(company_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            None => return Err(StoreError::NotFound.into()),
            Some(row) => get(&row, "seats")?,
        };
        let is_member = sqlx::query(EMAIL_IS_MEMBER)
            .bind(company_id)
            .bind(&invitation.email)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if is_member {
            return Err(StoreError::AlreadyExists("member").into());
        }
        let open = sqlx::query(INVITATION_OPEN_FOR_EMAIL)
            .bind(company_id)
            .bind(&invitation.email)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if open {
            return Err(StoreError::AlreadyExists("invitation").into());
        }
        if let Some(seats) = seats {
            let used: i64 = get(
                &sqlx::query(SEATS_USED)
                    .bind(company_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?,
                "used",
            )?;
            if used >= seats {
                return Err(StoreError::LimitReached("seats").into());
            }
        }
        sqlx::query(INVITATION_INSERT)
            .bind(invitation.id)
            .bind(company_id)
            .bind(&invitation.email)
            .bind(invitation.role.as_str())
            .bind(&invitation.secret_hash)
            .bind(&invitation.signed)
            .bind(invitation.created_by)
            .bind(invitation.created_at)
            .bind(invitation.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_missing_or_unique(e, &[("invitations_pkey", "invitation")]))?;
        tx.commit().await?;
        Ok(())
    }

    async fn accept_invitation_once(
        &self,
        invitation_id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> Result<MemberRecord, Error> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(INVITATION_BY_ID_FOR_UPDATE)
            .bind(invitation_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::NotFound.into());
        };
        let invitation = invitation_from_row(&row)?;
        if !invitation.is_open(now) || !exists(&mut tx, USER_EXISTS, user_id).await? {
            return Err(StoreError::NotFound.into());
        }
        if exists(&mut tx, MEMBER_EXISTS_FOR_USER, user_id).await? {
            return Err(StoreError::AlreadyExists("membership").into());
        }
        sqlx::query(MEMBER_INSERT)
            .bind(user_id)
            .bind(invitation.company_id)
            .bind(invitation.role.as_str())
            .bind(MemberStatus::Accepted.as_str())
            .bind(None::<Vec<u8>>)
            .bind(&invitation.signed)
            .bind(now)
            .bind(None::<i64>)
            .bind(None::<Uuid>)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_missing_or_unique(e, &[("members_pkey", "membership")]))?;
        let accepted = sqlx::query(INVITATION_ACCEPT)
            .bind(invitation_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if accepted == 0 {
            // Unreachable while the row lock taken above is held.
            return Err(StoreError::NotFound.into());
        }
        let member = read_member(&mut tx, invitation.company_id, user_id)
            .await?
            .ok_or_else(|| StoreError::Backend("the new member is not readable".into()))?;
        tx.commit().await?;
        Ok(member)
    }

    async fn confirm_member_once(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        cert: &[u8],
        confirmed_by: Uuid,
        now: i64,
    ) -> Result<MemberRecord, Error> {
        let mut tx = self.begin_write().await?;
        let confirmed = sqlx::query(MEMBER_CONFIRM)
            .bind(company_id)
            .bind(user_id)
            .bind(cert)
            .bind(now)
            .bind(confirmed_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if confirmed == 0 {
            return Err(StoreError::NotFound.into());
        }
        let member = read_member(&mut tx, company_id, user_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    async fn update_member_once(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        update: &MemberUpdate,
    ) -> Result<MemberRecord, Error> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(MEMBER_UPDATE)
            .bind(company_id)
            .bind(user_id)
            .bind(update.disabled)
            .bind(update.require_password_change)
            .bind(update.role.map(Role::as_str))
            .bind(&update.cert)
            .bind(update.logins_without_2fa)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound.into());
        }
        let member = read_member(&mut tx, company_id, user_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(member)
    }

    async fn remove_member_once(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        delete_business_items: bool,
        now: i64,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query(MEMBER_DELETE)
            .bind(company_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(StoreError::NotFound.into());
        }
        for statement in [
            KEY_GRANTS_DELETE_IN_COMPANY,
            ASSIGNMENTS_DELETE_IN_PARTNER,
            GROUP_GRANTS_DELETE_IN_COMPANY,
        ] {
            sqlx::query(statement)
                .bind(company_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if delete_business_items {
            let vaults = sqlx::query(BUSINESS_VAULTS_OF_FOR_UPDATE)
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            let mut last_seq = None;
            for vault in &vaults {
                let vault_id: Uuid = get(vault, "id")?;
                let objects = sqlx::query(OBJECTS_IN_VAULT_FOR_UPDATE)
                    .bind(user_id)
                    .bind(vault_id)
                    .fetch_all(&mut *tx)
                    .await?;
                for object in &objects {
                    let object_id: Uuid = get(object, "id")?;
                    let version: i64 = get(object, "version")?;
                    let seq = delete_object_leaving_tombstone(&mut tx, object_id, version, now)
                        .await?
                        .ok_or_else(|| {
                            StoreError::Backend("an object changed during its removal".into())
                        })?;
                    last_seq = Some(seq);
                }
                // The vault starts over: its signed manifest described the deleted objects.
                sqlx::query("DELETE FROM vault_manifests WHERE vault_id = $1")
                    .bind(vault_id)
                    .execute(&mut *tx)
                    .await?;
            }
            // One hint for the whole removal: hints name the newest position only.
            if let Some(seq) = last_seq {
                notify_change(&mut tx, user_id, seq).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_group_once(
        &self,
        group: &GroupRecord,
        grants: &[GroupGrantRecord],
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        insert_group(&mut tx, group, grants).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn groups_of_once(&self, company_id: Uuid) -> Result<Vec<GroupRecord>, Error> {
        let mut tx = self.begin_read().await?;
        let rows = sqlx::query(GROUPS_OF)
            .bind(company_id)
            .fetch_all(&mut *tx)
            .await?;
        let member_rows = sqlx::query(GROUP_MEMBERS_OF_COMPANY)
            .bind(company_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let groups = rows
            .iter()
            .map(group_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(with_members(groups, &member_rows)?)
    }

    async fn group_once(
        &self,
        company_id: Uuid,
        group_id: Uuid,
    ) -> Result<Option<GroupRecord>, Error> {
        let mut tx = self.begin_read().await?;
        let group = read_group(&mut tx, company_id, group_id).await?;
        tx.commit().await?;
        Ok(group)
    }

    async fn update_group_once(
        &self,
        company_id: Uuid,
        group_id: Uuid,
        write: &RosterWrite,
    ) -> Result<GroupRecord, Error> {
        let mut tx = self.begin_write().await?;
        let current: i64 = match sqlx::query(GROUP_VERSION_FOR_UPDATE)
            .bind(company_id)
            .bind(group_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            None => return Err(StoreError::NotFound.into()),
            Some(row) => get(&row, "roster_version")?,
        };
        if write.version != current + 1 {
            return Err(StoreError::VersionConflict { current }.into());
        }
        let updated = sqlx::query(GROUP_UPDATE)
            .bind(group_id)
            .bind(company_id)
            .bind(&write.name)
            .bind(&write.roster)
            .bind(write.version)
            .bind(write.now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            // Unreachable while the row lock taken above is held.
            return Err(StoreError::VersionConflict { current }.into());
        }
        write_group_members(&mut tx, group_id, company_id, &write.members).await?;
        sqlx::query(GROUP_GRANTS_OF_UNLISTED)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        put_group_grants(&mut tx, &write.grants).await?;
        let record = read_group(&mut tx, company_id, group_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(record)
    }

    async fn groups_of_user_once(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<(GroupRecord, GroupGrantRecord)>, Error> {
        let mut tx = self.begin_read().await?;
        let rows = sqlx::query(GROUPS_OF_USER)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        let member_rows = sqlx::query(GROUP_MEMBERS_OF_USER_GROUPS)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut grants = Vec::with_capacity(rows.len());
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            let group = group_from_row(row)?;
            grants.push(GroupGrantRecord {
                group_id: group.id,
                user_id,
                sealed: get(row, "grant_sealed")?,
            });
            groups.push(group);
        }
        Ok(with_members(groups, &member_rows)?
            .into_iter()
            .zip(grants)
            .collect())
    }

    async fn put_policy_template_once(&self, template: &PolicyTemplateRecord) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        if company_kind(&mut tx, template.partner_id).await?.as_deref()
            != Some(CompanyKind::Partner.as_str())
        {
            return Err(StoreError::NotFound.into());
        }
        let written = sqlx::query(TEMPLATE_UPSERT)
            .bind(template.id)
            .bind(template.partner_id)
            .bind(&template.name)
            .bind(&template.policies)
            .bind(template.created_at)
            .bind(template.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_missing_or_unique(e, &[]))?
            .rows_affected();
        if written == 0 {
            // The id is another partner's template.
            return Err(StoreError::NotFound.into());
        }
        tx.commit().await?;
        Ok(())
    }

    async fn put_two_factor_once(&self, record: &TwoFactorRecord) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(TWO_FACTOR_UPSERT)
            .bind(record.user_id)
            .bind(&record.secret_sealed)
            .bind(record.enabled)
            .bind(record.last_used_step)
            .bind(record.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_missing_or_unique(e, &[]))?;
        sqlx::query(RECOVERY_CODES_CLEAR)
            .bind(record.user_id)
            .execute(&mut *tx)
            .await?;
        for (position, hash) in (0i64..).zip(&record.recovery_code_hashes) {
            sqlx::query(RECOVERY_CODE_INSERT)
                .bind(record.user_id)
                .bind(hash)
                .bind(position)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    map_missing_or_unique(e, &[("two_factor_recovery_codes_pkey", "recovery_code")])
                })?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn two_factor_once(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>, Error> {
        let mut tx = self.begin_read().await?;
        let Some(row) = sqlx::query(TWO_FACTOR_GET)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        let codes = sqlx::query(RECOVERY_CODES_OF)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(TwoFactorRecord {
            user_id: get(&row, "user_id")?,
            secret_sealed: get(&row, "secret_sealed")?,
            enabled: get(&row, "enabled")?,
            last_used_step: get(&row, "last_used_step")?,
            recovery_code_hashes: codes
                .iter()
                .map(|r| get(r, "code_hash"))
                .collect::<StoreResult<_>>()?,
            created_at: get(&row, "created_at")?,
        }))
    }

    async fn use_totp_step_once(&self, user_id: Uuid, step: i64) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let used = sqlx::query(TWO_FACTOR_USE_STEP)
            .bind(user_id)
            .bind(step)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if used == 0 && !exists(&mut tx, TWO_FACTOR_EXISTS, user_id).await? {
            return Err(StoreError::NotFound.into());
        }
        tx.commit().await?;
        Ok(used == 1)
    }

    async fn append_audit_once(&self, event: &AuditRecord) -> Result<i64, Error> {
        let mut tx = self.begin_write().await?;
        // Its row lock is held until the commit: positions appear in commit order.
        let seq: i64 = get(
            &sqlx::query(AUDIT_NEXT_SEQ).fetch_one(&mut *tx).await?,
            "value",
        )?;
        sqlx::query(AUDIT_INSERT)
            .bind(seq)
            .bind(event.at)
            .bind(event.company_id)
            .bind(event.actor_id)
            .bind(&event.actor_email)
            .bind(event.target_user_id)
            .bind(&event.target_email)
            .bind(&event.event)
            .bind(&event.details)
            .bind(&event.ip)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }
}

// ---------------------------------------------------------------------------------------------
// the trait

#[async_trait]
impl OrgStore for PgStore {
    async fn setup_token_get_or_init(&self, token: String) -> StoreResult<String> {
        retry(|| self.setup_token_get_or_init_once(&token)).await
    }

    async fn setup_token_set(&self, token: String) -> StoreResult<()> {
        sqlx::query(CONFIG_UPSERT)
            .bind(SETUP_TOKEN_KEY)
            .bind(token.into_bytes())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn has_partner(&self) -> StoreResult<bool> {
        let row = sqlx::query(HAS_PARTNER)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        get(&row, "has_partner")
    }

    async fn create_company(&self, create: CompanyCreate) -> StoreResult<CompanyRecord> {
        check_new_company(&create)?;
        retry(|| self.create_company_once(&create)).await
    }

    async fn company(&self, company_id: Uuid) -> StoreResult<Option<CompanyRecord>> {
        let row = sqlx::query(COMPANY_BY_ID)
            .bind(wall_clock())
            .bind(company_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(company_from_row).transpose()
    }

    async fn customers_of(&self, partner_id: Uuid) -> StoreResult<Vec<CompanyRecord>> {
        let rows = sqlx::query(CUSTOMERS_OF)
            .bind(wall_clock())
            .bind(partner_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(company_from_row).collect()
    }

    async fn update_company(
        &self,
        company_id: Uuid,
        update: CompanyUpdate,
    ) -> StoreResult<CompanyRecord> {
        retry(|| self.update_company_once(company_id, &update)).await
    }

    async fn set_company_doc(
        &self,
        company_id: Uuid,
        which: CompanyDoc,
        counter: i64,
        doc: Vec<u8>,
        now: i64,
    ) -> StoreResult<()> {
        retry(|| self.set_company_doc_once(company_id, which, counter, &doc, now)).await
    }

    async fn put_key_grants(&self, grants: Vec<KeyGrantRecord>) -> StoreResult<()> {
        retry(|| self.put_key_grants_once(&grants)).await
    }

    async fn key_grants_for_user(&self, user_id: Uuid) -> StoreResult<Vec<KeyGrantRecord>> {
        let rows = sqlx::query(KEY_GRANTS_FOR_USER)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(key_grant_from_row).collect()
    }

    async fn delete_key_grant(&self, company_id: Uuid, user_id: Uuid) -> StoreResult<()> {
        let deleted = sqlx::query(KEY_GRANT_DELETE)
            .bind(company_id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn assign_technician(
        &self,
        customer_id: Uuid,
        technician_id: Uuid,
        grant: KeyGrantRecord,
    ) -> StoreResult<()> {
        if grant.company_id != customer_id || grant.user_id != technician_id {
            return Err(StoreError::Backend(
                "the key grant is not for the assigned technician and customer".into(),
            ));
        }
        retry(|| self.assign_technician_once(customer_id, technician_id, &grant)).await
    }

    async fn unassign_technician(&self, customer_id: Uuid, technician_id: Uuid) -> StoreResult<()> {
        retry(|| self.unassign_technician_once(customer_id, technician_id)).await
    }

    async fn technician_customers(&self, technician_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query(ASSIGNMENTS_OF_TECHNICIAN)
            .bind(technician_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|r| get(r, "customer_id")).collect()
    }

    async fn create_invitation(&self, invitation: InvitationRecord) -> StoreResult<()> {
        retry(|| self.create_invitation_once(&invitation)).await
    }

    async fn invitation(&self, invitation_id: Uuid) -> StoreResult<Option<InvitationRecord>> {
        let row = sqlx::query(INVITATION_BY_ID)
            .bind(invitation_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn invitations_of(&self, company_id: Uuid) -> StoreResult<Vec<InvitationRecord>> {
        let rows = sqlx::query(INVITATIONS_OF)
            .bind(company_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn revoke_invitation(
        &self,
        company_id: Uuid,
        invitation_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        let revoked = sqlx::query(INVITATION_REVOKE)
            .bind(company_id)
            .bind(invitation_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if revoked == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn accept_invitation(
        &self,
        invitation_id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> StoreResult<MemberRecord> {
        retry(|| self.accept_invitation_once(invitation_id, user_id, now)).await
    }

    async fn member(&self, company_id: Uuid, user_id: Uuid) -> StoreResult<Option<MemberRecord>> {
        let row = sqlx::query(MEMBER)
            .bind(company_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(member_from_row).transpose()
    }

    async fn membership_of(&self, user_id: Uuid) -> StoreResult<Option<MemberRecord>> {
        let row = sqlx::query(MEMBERSHIP_OF)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(member_from_row).transpose()
    }

    async fn members_of(&self, company_id: Uuid) -> StoreResult<Vec<MemberRecord>> {
        let rows = sqlx::query(MEMBERS_OF)
            .bind(company_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(member_from_row).collect()
    }

    async fn confirm_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        cert: Vec<u8>,
        confirmed_by: Uuid,
        now: i64,
    ) -> StoreResult<MemberRecord> {
        retry(|| self.confirm_member_once(company_id, user_id, &cert, confirmed_by, now)).await
    }

    async fn update_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        update: MemberUpdate,
    ) -> StoreResult<MemberRecord> {
        retry(|| self.update_member_once(company_id, user_id, &update)).await
    }

    async fn remove_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        delete_business_items: bool,
        now: i64,
    ) -> StoreResult<()> {
        retry(|| self.remove_member_once(company_id, user_id, delete_business_items, now)).await
    }

    async fn delete_user(&self, user_id: Uuid) -> StoreResult<()> {
        // Shares the user alone owns go (their recipients keep tombstones); other shares lose
        // the user's entries. Everything else of the user goes with the users row (ON DELETE
        // CASCADE); the audit log has no foreign keys and keeps its events.
        retry(|| async {
            let mut tx = self.begin_write().await?;
            if !exists(&mut tx, USER_EXISTS, user_id).await? {
                return Err(StoreError::NotFound.into());
            }
            crate::shares::remove_user_from_shares(&mut tx, user_id, crate::wall_clock()).await?;
            let deleted = sqlx::query(USER_DELETE)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn create_group(
        &self,
        group: GroupRecord,
        grants: Vec<GroupGrantRecord>,
    ) -> StoreResult<()> {
        check_roster(group.id, &group.members, &grants)?;
        retry(|| self.create_group_once(&group, &grants)).await
    }

    async fn groups_of(&self, company_id: Uuid) -> StoreResult<Vec<GroupRecord>> {
        retry(|| self.groups_of_once(company_id)).await
    }

    async fn group(&self, company_id: Uuid, group_id: Uuid) -> StoreResult<Option<GroupRecord>> {
        retry(|| self.group_once(company_id, group_id)).await
    }

    async fn update_group(
        &self,
        company_id: Uuid,
        group_id: Uuid,
        write: RosterWrite,
    ) -> StoreResult<GroupRecord> {
        check_roster(group_id, &write.members, &write.grants)?;
        retry(|| self.update_group_once(company_id, group_id, &write)).await
    }

    async fn delete_group(&self, company_id: Uuid, group_id: Uuid) -> StoreResult<()> {
        // Members and grants go with the row (ON DELETE CASCADE).
        let deleted = sqlx::query(GROUP_DELETE)
            .bind(company_id)
            .bind(group_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn groups_of_user(
        &self,
        user_id: Uuid,
    ) -> StoreResult<Vec<(GroupRecord, GroupGrantRecord)>> {
        retry(|| self.groups_of_user_once(user_id)).await
    }

    async fn put_policy_template(&self, template: PolicyTemplateRecord) -> StoreResult<()> {
        retry(|| self.put_policy_template_once(&template)).await
    }

    async fn policy_templates_of(
        &self,
        partner_id: Uuid,
    ) -> StoreResult<Vec<PolicyTemplateRecord>> {
        let rows = sqlx::query(TEMPLATES_OF)
            .bind(partner_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(template_from_row).collect()
    }

    async fn delete_policy_template(&self, partner_id: Uuid, template_id: Uuid) -> StoreResult<()> {
        let deleted = sqlx::query(TEMPLATE_DELETE)
            .bind(partner_id)
            .bind(template_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn put_two_factor(&self, record: TwoFactorRecord) -> StoreResult<()> {
        retry(|| self.put_two_factor_once(&record)).await
    }

    async fn two_factor(&self, user_id: Uuid) -> StoreResult<Option<TwoFactorRecord>> {
        retry(|| self.two_factor_once(user_id)).await
    }

    async fn delete_two_factor(&self, user_id: Uuid) -> StoreResult<()> {
        // The recovery codes go with the row (ON DELETE CASCADE).
        sqlx::query(TWO_FACTOR_DELETE)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        retry(|| self.use_totp_step_once(user_id, step)).await
    }

    async fn use_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool> {
        let used = sqlx::query(RECOVERY_CODE_USE)
            .bind(user_id)
            .bind(code_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(used == 1)
    }

    async fn put_two_factor_challenge(&self, challenge: TwoFactorChallenge) -> StoreResult<()> {
        sqlx::query(CHALLENGE_INSERT)
            .bind(challenge.id)
            .bind(challenge.user_id)
            .bind(&challenge.token_hash)
            .bind(&challenge.device_name)
            .bind(challenge.expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                map_missing_or_unique(e, &[("two_factor_challenges_pkey", "challenge")])
                    .into_store()
            })?;
        Ok(())
    }

    async fn two_factor_challenge(
        &self,
        challenge_id: Uuid,
        now: i64,
    ) -> StoreResult<Option<TwoFactorChallenge>> {
        let row = sqlx::query(CHALLENGE_GET)
            .bind(challenge_id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let challenge = row.as_ref().map(challenge_from_row).transpose()?;
        // Housekeeping: abandoned challenges would otherwise stay forever.
        sqlx::query(CHALLENGES_PURGE_EXPIRED)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(challenge)
    }

    async fn delete_two_factor_challenge(&self, challenge_id: Uuid) -> StoreResult<()> {
        sqlx::query(CHALLENGE_DELETE)
            .bind(challenge_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn set_session_restriction(
        &self,
        session_id: Uuid,
        restriction: Option<String>,
    ) -> StoreResult<()> {
        let updated = sqlx::query(SESSION_SET_RESTRICTION)
            .bind(session_id)
            .bind(restriction)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn append_audit(&self, event: AuditRecord) -> StoreResult<i64> {
        retry(|| self.append_audit_once(&event)).await
    }

    async fn query_audit(&self, query: AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        if query.company_ids.is_empty() || query.limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(AUDIT_QUERY)
            .bind(&query.company_ids)
            .bind(query.user_id)
            .bind(&query.event_prefix)
            .bind(query.since)
            .bind(query.until)
            .bind(query.before_seq)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(audit_from_row).collect()
    }
}
