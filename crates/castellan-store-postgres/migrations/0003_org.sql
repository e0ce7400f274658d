-- Castellan PostgreSQL schema, version 3: the organisation, two-step verification, the
-- append-only audit log and session restrictions; the same tables as the SQLite schema's
-- version 3 (castellan-store-sqlite/migrations/0003_org.sql), column for column.
--
-- Columns that name a user who acted (granted_by, created_by, accepted_by, confirmed_by) are
-- not foreign keys: deleting that user's account must not take other people's rows with it.
-- The audit log has no foreign keys at all: it outlives the users and rows it mentions.
-- Constraints are named where the store maps their violations to `AlreadyExists(..)`.

-- A session that may only fix something (set up 2FA, change the master password) and log out.
ALTER TABLE sessions ADD COLUMN restriction TEXT NULL;

-- Partners (kind 'partner', no partner_id) and their customers (kind 'customer').
CREATE TABLE companies (
    id                    UUID   NOT NULL,
    kind                  TEXT   NOT NULL CHECK (kind IN ('partner', 'customer')),
    partner_id            UUID   NULL,
    name                  TEXT   NOT NULL,
    status                TEXT   NOT NULL CHECK (status IN ('active', 'disabled')),
    plan                  TEXT   NOT NULL CHECK (plan IN ('trial', 'standard', 'advanced')),
    -- NULL = unlimited.
    seats                 BIGINT NULL CHECK (seats IS NULL OR seats >= 0),
    trial_ends_at         BIGINT NULL,
    signing_public_key    BYTEA  NOT NULL,
    encryption_public_key BYTEA  NOT NULL,
    -- The current signed policy document (JSON of a SignedDoc) and its counter (0 = none).
    policy                BYTEA  NULL,
    policy_counter        BIGINT NOT NULL CHECK (policy_counter >= 0),
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    CONSTRAINT companies_pkey PRIMARY KEY (id),
    -- Deferrable so that a copy of the table (server migrate-db) may insert in id order.
    CONSTRAINT companies_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES companies (id)
        DEFERRABLE INITIALLY IMMEDIATE,
    CHECK ((kind = 'partner') = (partner_id IS NULL)),
    CHECK ((policy IS NULL) = (policy_counter = 0))
);

CREATE INDEX companies_partner_name ON companies (partner_id, name);
CREATE INDEX companies_kind ON companies (kind);

-- One company per user: user_id is the key.
CREATE TABLE members (
    user_id                 UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id              UUID    NOT NULL REFERENCES companies (id),
    role                    TEXT    NOT NULL CHECK (role IN ('admin', 'technician', 'user')),
    status                  TEXT    NOT NULL CHECK (status IN ('accepted', 'confirmed')),
    disabled                BOOLEAN NOT NULL,
    cert                    BYTEA   NULL,
    invitation              BYTEA   NULL,
    require_password_change BOOLEAN NOT NULL,
    logins_without_2fa      BIGINT  NOT NULL CHECK (logins_without_2fa >= 0),
    joined_at               BIGINT  NOT NULL,
    confirmed_at            BIGINT  NULL,
    confirmed_by            UUID    NULL,
    CONSTRAINT members_pkey PRIMARY KEY (user_id)
);

CREATE INDEX members_company_id ON members (company_id);

-- The company's private keys sealed to one holder.
CREATE TABLE key_grants (
    company_id UUID   NOT NULL REFERENCES companies (id),
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed     BYTEA  NOT NULL,
    granted_by UUID   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT key_grants_pkey PRIMARY KEY (company_id, user_id)
);

CREATE INDEX key_grants_user_id ON key_grants (user_id);

-- Partner technicians assigned to customers.
CREATE TABLE technician_assignments (
    customer_id   UUID   NOT NULL REFERENCES companies (id),
    technician_id UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assigned_at   BIGINT NOT NULL,
    CONSTRAINT technician_assignments_pkey PRIMARY KEY (customer_id, technician_id)
);

CREATE INDEX technician_assignments_technician ON technician_assignments (technician_id);

-- Only the SHA-256 of the link secret is stored.
CREATE TABLE invitations (
    id          UUID   NOT NULL,
    company_id  UUID   NOT NULL REFERENCES companies (id),
    email       TEXT   NOT NULL,
    role        TEXT   NOT NULL CHECK (role IN ('admin', 'technician', 'user')),
    secret_hash BYTEA  NOT NULL,
    signed      BYTEA  NOT NULL,
    created_by  UUID   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_by UUID   NULL,
    accepted_at BIGINT NULL,
    revoked_at  BIGINT NULL,
    CONSTRAINT invitations_pkey PRIMARY KEY (id)
);

CREATE INDEX invitations_company_created ON invitations (company_id, created_at);
CREATE INDEX invitations_company_email ON invitations (company_id, email);

CREATE TABLE groups (
    id                    UUID    NOT NULL,
    company_id            UUID    NOT NULL REFERENCES companies (id),
    name                  TEXT    NOT NULL,
    is_everyone           BOOLEAN NOT NULL,
    signing_public_key    BYTEA   NOT NULL,
    encryption_public_key BYTEA   NOT NULL,
    roster                BYTEA   NOT NULL,
    roster_version        BIGINT  NOT NULL CHECK (roster_version >= 1),
    admin_grant           BYTEA   NOT NULL,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL,
    CONSTRAINT groups_pkey PRIMARY KEY (id)
);

CREATE INDEX groups_company_id ON groups (company_id);
-- At most one Everyone group per company.
CREATE UNIQUE INDEX groups_one_everyone ON groups (company_id) WHERE is_everyone;

-- The member list of each group as uploaded with its signed roster, in roster order.
CREATE TABLE group_members (
    group_id UUID   NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    CONSTRAINT group_members_pkey PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user_id ON group_members (user_id);

-- The group's private keys sealed to one member.
CREATE TABLE group_grants (
    group_id UUID  NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  UUID  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed   BYTEA NOT NULL,
    CONSTRAINT group_grants_pkey PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_grants_user_id ON group_grants (user_id);

CREATE TABLE policy_templates (
    id         UUID   NOT NULL,
    partner_id UUID   NOT NULL REFERENCES companies (id),
    name       TEXT   NOT NULL,
    policies   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT policy_templates_pkey PRIMARY KEY (id)
);

CREATE INDEX policy_templates_partner ON policy_templates (partner_id, name);

-- TOTP: the secret sealed under the server's 2FA key; the last accepted time step.
CREATE TABLE two_factor (
    user_id        UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed  BYTEA   NOT NULL,
    enabled        BOOLEAN NOT NULL,
    last_used_step BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    CONSTRAINT two_factor_pkey PRIMARY KEY (user_id)
);

-- SHA-256 of each unused recovery code; a used code's row is deleted.
CREATE TABLE two_factor_recovery_codes (
    user_id   UUID   NOT NULL REFERENCES two_factor (user_id) ON DELETE CASCADE,
    code_hash BYTEA  NOT NULL,
    position  BIGINT NOT NULL,
    CONSTRAINT two_factor_recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
);

-- Logins that passed OPAQUE and wait for the second factor.
CREATE TABLE two_factor_challenges (
    id          UUID   NOT NULL,
    user_id     UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  BYTEA  NOT NULL,
    device_name TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    CONSTRAINT two_factor_challenges_pkey PRIMARY KEY (id)
);

CREATE INDEX two_factor_challenges_user_id ON two_factor_challenges (user_id);
CREATE INDEX two_factor_challenges_expires_at ON two_factor_challenges (expires_at);

-- The position of the last audit event: every append takes the next value in its transaction.
-- A one-row table like feed_counter: the row lock is held until the append commits, so
-- positions appear in commit order and a reader paging backwards never misses a later commit
-- below a position it has seen.
CREATE TABLE audit_counter (
    id    INTEGER NOT NULL CHECK (id = 1),
    value BIGINT  NOT NULL,
    CONSTRAINT audit_counter_pkey PRIMARY KEY (id)
);

INSERT INTO audit_counter (id, value) VALUES (1, 0);

-- Append-only: the triggers below refuse every UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    seq            BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    company_id     UUID   NULL,
    actor_id       UUID   NULL,
    actor_email    TEXT   NULL,
    target_user_id UUID   NULL,
    target_email   TEXT   NULL,
    event          TEXT   NOT NULL,
    details        TEXT   NOT NULL,
    ip             TEXT   NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq)
);

CREATE INDEX audit_log_company_seq ON audit_log (company_id, seq);
CREATE INDEX audit_log_actor_seq ON audit_log (actor_id, seq);
CREATE INDEX audit_log_target_seq ON audit_log (target_user_id, seq);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
