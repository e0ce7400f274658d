-- Castellan PostgreSQL schema, version 5: organisation backup (docs/org-backup.md).
--
-- Backups have no foreign key to users on purpose: they survive the user's deletion. They
-- reference the company, whose policy decides whether they are kept.

ALTER TABLE groups ADD COLUMN is_recovery BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE backups (
    backup_id   UUID   NOT NULL,
    company_id  UUID   NOT NULL REFERENCES companies (id),
    user_id     UUID   NOT NULL,
    user_email  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    key_version BIGINT NOT NULL,
    public_key  BYTEA  NOT NULL,
    sealed_key  BYTEA  NOT NULL,
    envelope    BYTEA  NOT NULL,
    member_cert BYTEA  NOT NULL,
    signature   BYTEA  NOT NULL,
    CONSTRAINT backups_pkey PRIMARY KEY (backup_id)
);

CREATE INDEX backups_company_user_created ON backups (company_id, user_id, created_at);
CREATE INDEX backups_company_created ON backups (company_id, created_at);

-- Restored items sealed to a member's new account, until their client imports them.
CREATE TABLE backup_handovers (
    id          UUID   NOT NULL,
    company_id  UUID   NOT NULL REFERENCES companies (id),
    user_id     UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by  UUID   NOT NULL,
    created_at  BIGINT NOT NULL,
    sealed      BYTEA  NOT NULL,
    admin_cert  BYTEA  NOT NULL,
    signature   BYTEA  NOT NULL,
    CONSTRAINT backup_handovers_pkey PRIMARY KEY (id)
);

CREATE INDEX backup_handovers_user ON backup_handovers (user_id, created_at);
