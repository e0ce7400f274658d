-- Castellan SQLite schema, version 3: the organisation (partners and customers, members,
-- invitations, key grants, technician assignments, groups, policy templates), two-step
-- verification, the append-only audit log, and session restrictions.
--
-- Conventions as in 0001: ids are UUIDs as hyphenated lowercase text, times Unix seconds,
-- flags 0/1, tables STRICT. BLOB columns hold public keys, client ciphertext (keys sealed to a
-- user's or the company's public key) or documents signed by a company root key.
--
-- Columns that name a user who acted (granted_by, created_by, accepted_by, confirmed_by) are
-- not foreign keys: deleting that user's account must not take other people's rows with it.
-- The audit log has no foreign keys at all: it outlives the users and rows it mentions.

-- A session that may only fix something (set up 2FA, change the master password) and log out.
ALTER TABLE sessions ADD COLUMN restriction TEXT NULL;

-- Partners (kind 'partner', no partner_id) and their customers (kind 'customer').
CREATE TABLE companies (
    id                    TEXT    NOT NULL PRIMARY KEY,
    kind                  TEXT    NOT NULL CHECK (kind IN ('partner', 'customer')),
    partner_id            TEXT    NULL REFERENCES companies (id),
    name                  TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('active', 'disabled')),
    plan                  TEXT    NOT NULL CHECK (plan IN ('trial', 'standard', 'advanced')),
    -- NULL = unlimited.
    seats                 INTEGER NULL CHECK (seats IS NULL OR seats >= 0),
    trial_ends_at         INTEGER NULL,
    signing_public_key    BLOB    NOT NULL,
    encryption_public_key BLOB    NOT NULL,
    -- The current signed policy document (JSON of a SignedDoc) and its counter (0 = none).
    policy                BLOB    NULL,
    policy_counter        INTEGER NOT NULL CHECK (policy_counter >= 0),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    CHECK ((kind = 'partner') = (partner_id IS NULL)),
    CHECK ((policy IS NULL) = (policy_counter = 0))
) STRICT;

CREATE INDEX companies_partner_name ON companies (partner_id, name);
CREATE INDEX companies_kind ON companies (kind);

-- One company per user: user_id is the key.
CREATE TABLE members (
    user_id                 TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    company_id              TEXT    NOT NULL REFERENCES companies (id),
    role                    TEXT    NOT NULL CHECK (role IN ('admin', 'technician', 'user')),
    status                  TEXT    NOT NULL CHECK (status IN ('accepted', 'confirmed')),
    disabled                INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    cert                    BLOB    NULL,
    invitation              BLOB    NULL,
    require_password_change INTEGER NOT NULL CHECK (require_password_change IN (0, 1)),
    logins_without_2fa      INTEGER NOT NULL CHECK (logins_without_2fa >= 0),
    joined_at               INTEGER NOT NULL,
    confirmed_at            INTEGER NULL,
    confirmed_by            TEXT    NULL
) STRICT;

CREATE INDEX members_company_id ON members (company_id);

-- The company's private keys sealed to one holder.
CREATE TABLE key_grants (
    company_id TEXT    NOT NULL REFERENCES companies (id),
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed     BLOB    NOT NULL,
    granted_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (company_id, user_id)
) STRICT;

CREATE INDEX key_grants_user_id ON key_grants (user_id);

-- Partner technicians assigned to customers.
CREATE TABLE technician_assignments (
    customer_id   TEXT    NOT NULL REFERENCES companies (id),
    technician_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assigned_at   INTEGER NOT NULL,
    PRIMARY KEY (customer_id, technician_id)
) STRICT;

CREATE INDEX technician_assignments_technician ON technician_assignments (technician_id);

-- Only the SHA-256 of the link secret is stored.
CREATE TABLE invitations (
    id          TEXT    NOT NULL PRIMARY KEY,
    company_id  TEXT    NOT NULL REFERENCES companies (id),
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'technician', 'user')),
    secret_hash BLOB    NOT NULL,
    signed      BLOB    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_by TEXT    NULL,
    accepted_at INTEGER NULL,
    revoked_at  INTEGER NULL
) STRICT;

CREATE INDEX invitations_company_created ON invitations (company_id, created_at);
CREATE INDEX invitations_company_email ON invitations (company_id, email);

CREATE TABLE groups (
    id                    TEXT    NOT NULL PRIMARY KEY,
    company_id            TEXT    NOT NULL REFERENCES companies (id),
    name                  TEXT    NOT NULL,
    is_everyone           INTEGER NOT NULL CHECK (is_everyone IN (0, 1)),
    signing_public_key    BLOB    NOT NULL,
    encryption_public_key BLOB    NOT NULL,
    roster                BLOB    NOT NULL,
    roster_version        INTEGER NOT NULL CHECK (roster_version >= 1),
    admin_grant           BLOB    NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;

CREATE INDEX groups_company_id ON groups (company_id);
-- At most one Everyone group per company.
CREATE UNIQUE INDEX groups_one_everyone ON groups (company_id) WHERE is_everyone = 1;

-- The member list of each group as uploaded with its signed roster, in roster order.
CREATE TABLE group_members (
    group_id TEXT    NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT;

CREATE INDEX group_members_user_id ON group_members (user_id);

-- The group's private keys sealed to one member.
CREATE TABLE group_grants (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed   BLOB NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT;

CREATE INDEX group_grants_user_id ON group_grants (user_id);

CREATE TABLE policy_templates (
    id         TEXT    NOT NULL PRIMARY KEY,
    partner_id TEXT    NOT NULL REFERENCES companies (id),
    name       TEXT    NOT NULL,
    policies   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX policy_templates_partner ON policy_templates (partner_id, name);

-- TOTP: the secret sealed under the server's 2FA key; the last accepted time step.
CREATE TABLE two_factor (
    user_id        TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed  BLOB    NOT NULL,
    enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    last_used_step INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;

-- SHA-256 of each unused recovery code; a used code's row is deleted.
CREATE TABLE two_factor_recovery_codes (
    user_id   TEXT    NOT NULL REFERENCES two_factor (user_id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- Logins that passed OPAQUE and wait for the second factor.
CREATE TABLE two_factor_challenges (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  BLOB    NOT NULL,
    device_name TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX two_factor_challenges_user_id ON two_factor_challenges (user_id);
CREATE INDEX two_factor_challenges_expires_at ON two_factor_challenges (expires_at);

-- The position of the last audit event: every append takes the next value in its transaction
-- (as feed_counter does for the change feed).
CREATE TABLE audit_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;

INSERT INTO audit_counter (id, value) VALUES (1, 0);

-- Append-only: the triggers below refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
    seq            INTEGER NOT NULL PRIMARY KEY,
    at             INTEGER NOT NULL,
    company_id     TEXT    NULL,
    actor_id       TEXT    NULL,
    actor_email    TEXT    NULL,
    target_user_id TEXT    NULL,
    target_email   TEXT    NULL,
    event          TEXT    NOT NULL,
    details        TEXT    NOT NULL,
    ip             TEXT    NULL
) STRICT;

CREATE INDEX audit_log_company_seq ON audit_log (company_id, seq);
CREATE INDEX audit_log_actor_seq ON audit_log (actor_id, seq);
CREATE INDEX audit_log_target_seq ON audit_log (target_user_id, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
