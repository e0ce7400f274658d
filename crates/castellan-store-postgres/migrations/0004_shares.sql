-- Castellan PostgreSQL schema, version 4: sharing (the SQLite schema's 0004, see its comments).
--
-- A share is a vault of kind 'share' that belongs to a company (vaults.company_id, user_id
-- NULL). Its objects have no user_id and record their writer (author_id); their tombstones and
-- the share's manifest have no user_id either. Access is decided from share_entries (the
-- server's copy of the current signed ACL), group_members and share_states.

ALTER TABLE vaults ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE vaults ADD COLUMN company_id UUID NULL REFERENCES companies (id);
ALTER TABLE vaults DROP CONSTRAINT vaults_kind_check;
ALTER TABLE vaults ADD CONSTRAINT vaults_kind_check
    CHECK (kind IN ('personal', 'business', 'share'));
ALTER TABLE vaults ADD CONSTRAINT vaults_share_has_no_user
    CHECK ((kind = 'share') = (user_id IS NULL));
ALTER TABLE vaults ADD CONSTRAINT vaults_share_has_company
    CHECK ((kind = 'share') = (company_id IS NOT NULL));
CREATE INDEX vaults_company_id ON vaults (company_id);

-- The (vault_id, user_id) foreign key is not checked when user_id is NULL (MATCH SIMPLE): share
-- objects reference their vault by id alone.
ALTER TABLE objects ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE objects ADD COLUMN author_id UUID NULL;
ALTER TABLE objects ADD CONSTRAINT objects_vault_id_fkey
    FOREIGN KEY (vault_id) REFERENCES vaults (id) ON DELETE CASCADE;
ALTER TABLE objects ADD CONSTRAINT objects_owner_or_author
    CHECK (user_id IS NULL OR author_id IS NULL);
CREATE INDEX objects_vault_seq ON objects (vault_id, seq);

ALTER TABLE tombstones ALTER COLUMN user_id DROP NOT NULL;
CREATE INDEX tombstones_vault_seq ON tombstones (vault_id, seq);

ALTER TABLE vault_manifests ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE vault_manifests ADD CONSTRAINT vault_manifests_vault_id_fkey
    FOREIGN KEY (vault_id) REFERENCES vaults (id) ON DELETE CASCADE;

CREATE TABLE shares (
    id              UUID   NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    company_id      UUID   NOT NULL REFERENCES companies (id),
    acl             BYTEA  NOT NULL,
    acl_version     BIGINT NOT NULL CHECK (acl_version >= 1),
    key_version     BIGINT NOT NULL CHECK (key_version >= 1),
    expires_at      BIGINT NULL,
    name            BYTEA  NOT NULL,
    name_for_admins BYTEA  NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT shares_pkey PRIMARY KEY (id)
);

CREATE INDEX shares_company_id ON shares (company_id);

CREATE TABLE share_entries (
    share_id       UUID NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal_id   UUID NOT NULL,
    role           TEXT NOT NULL
        CHECK (role IN ('owner', 'editor', 'read_only', 'read_only_hidden')),
    CONSTRAINT share_entries_pkey PRIMARY KEY (share_id, principal_kind, principal_id)
);

CREATE INDEX share_entries_principal ON share_entries (principal_id, principal_kind);

CREATE TABLE share_grants (
    share_id       UUID   NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    principal_kind TEXT   NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal_id   UUID   NOT NULL,
    key_version    BIGINT NOT NULL,
    sealed         BYTEA  NOT NULL,
    granted_by     UUID   NOT NULL,
    signature      BYTEA  NOT NULL,
    created_at     BIGINT NOT NULL,
    CONSTRAINT share_grants_pkey PRIMARY KEY (share_id, principal_kind, principal_id, key_version)
);

CREATE TABLE share_states (
    share_id   UUID   NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT   NOT NULL CHECK (state IN ('invited', 'accepted', 'declined')),
    updated_at BIGINT NOT NULL,
    CONSTRAINT share_states_pkey PRIMARY KEY (share_id, user_id)
);

CREATE INDEX share_states_user_id ON share_states (user_id);

CREATE TABLE deleted_share_readers (
    share_id   UUID   NOT NULL,
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deleted_at BIGINT NOT NULL,
    CONSTRAINT deleted_share_readers_pkey PRIMARY KEY (share_id, user_id)
);

CREATE INDEX deleted_share_readers_user_id ON deleted_share_readers (user_id);
CREATE INDEX deleted_share_readers_deleted_at ON deleted_share_readers (deleted_at);
