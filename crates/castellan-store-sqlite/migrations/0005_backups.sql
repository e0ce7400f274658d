-- Castellan SQLite schema, version 5: organisation backup (docs/org-backup.md).
--
-- Backups have no foreign key to users on purpose: they survive the user's deletion. They
-- reference the company, whose policy decides whether they are kept.

ALTER TABLE groups ADD COLUMN is_recovery INTEGER NOT NULL DEFAULT 0 CHECK (is_recovery IN (0, 1));

CREATE TABLE backups (
    backup_id   TEXT    NOT NULL PRIMARY KEY,
    company_id  TEXT    NOT NULL REFERENCES companies (id),
    user_id     TEXT    NOT NULL,
    user_email  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    public_key  BLOB    NOT NULL,
    sealed_key  BLOB    NOT NULL,
    envelope    BLOB    NOT NULL,
    member_cert BLOB    NOT NULL,
    signature   BLOB    NOT NULL
) STRICT;

CREATE INDEX backups_company_user_created ON backups (company_id, user_id, created_at);
CREATE INDEX backups_company_created ON backups (company_id, created_at);

-- Restored items sealed to a member's new account, until their client imports them.
CREATE TABLE backup_handovers (
    id          TEXT    NOT NULL PRIMARY KEY,
    company_id  TEXT    NOT NULL REFERENCES companies (id),
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    sealed      BLOB    NOT NULL,
    admin_cert  BLOB    NOT NULL,
    signature   BLOB    NOT NULL
) STRICT;

CREATE INDEX backup_handovers_user ON backup_handovers (user_id, created_at);
