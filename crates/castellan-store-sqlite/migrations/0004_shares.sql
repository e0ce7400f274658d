-- Castellan SQLite schema, version 4: sharing.
--
-- A share is a vault of kind 'share' that belongs to a company (vaults.company_id) instead of a
-- user (vaults.user_id is NULL). Its objects are ordinary objects with vault_id = the share id,
-- no user_id and an author_id (the writer of the current version); their tombstones and the
-- share's manifest have no user_id either. Who may read or write a share is decided from
-- share_entries (the server's copy of the current signed ACL), group_members and share_states.
--
-- SQLite cannot change a column's NOT NULL or a CHECK in place: vaults, objects, tombstones and
-- vault_manifests are rebuilt (create, copy, drop, rename). The store runs its migrations with
-- foreign keys off and checks them (PRAGMA foreign_key_check) afterwards, as SQLite's documented
-- procedure for such changes requires: with foreign keys on, dropping the old vaults table
-- would cascade into the objects.

CREATE TABLE vaults_new (
    id          TEXT    NOT NULL PRIMARY KEY,
    -- The owner of a personal or business vault; NULL for a share.
    user_id     TEXT    NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('personal', 'business', 'share')),
    key_wrap    BLOB    NOT NULL,
    key_version INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    -- The company of a share; NULL for a user's own vault. (Last, as in PostgreSQL, which adds
    -- it to the existing table.)
    company_id  TEXT    NULL REFERENCES companies (id),
    CHECK ((kind = 'share') = (user_id IS NULL)),
    CHECK ((kind = 'share') = (company_id IS NOT NULL)),
    -- Target of the (vault_id, user_id) foreign keys of objects and manifests.
    UNIQUE (id, user_id)
) STRICT;

INSERT INTO vaults_new (id, user_id, kind, key_wrap, key_version, created_at, company_id)
    SELECT id, user_id, kind, key_wrap, key_version, created_at, NULL FROM vaults;
DROP TABLE vaults;
ALTER TABLE vaults_new RENAME TO vaults;
CREATE INDEX vaults_user_id ON vaults (user_id);
CREATE INDEX vaults_company_id ON vaults (company_id);

CREATE TABLE objects_new (
    id         TEXT    NOT NULL PRIMARY KEY,
    -- The owner of the object's own vault; NULL for an object of a share.
    user_id    TEXT    NULL REFERENCES users (id) ON DELETE CASCADE,
    vault_id   TEXT    NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('item', 'folder')),
    version    INTEGER NOT NULL CHECK (version >= 1),
    trashed    INTEGER NOT NULL CHECK (trashed IN (0, 1)),
    key_wrap   BLOB    NOT NULL,
    overview   BLOB    NOT NULL,
    details    BLOB    NOT NULL,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- The writer of the current version of a share's object (not a foreign key: the item stays
    -- when its author's account goes). NULL in own vaults.
    author_id  TEXT    NULL,
    CHECK (user_id IS NULL OR author_id IS NULL),
    -- An object of an own vault lives in a vault of its own user (not checked when user_id is
    -- NULL, i.e. for shares).
    FOREIGN KEY (vault_id, user_id) REFERENCES vaults (id, user_id) ON DELETE CASCADE
) STRICT;

INSERT INTO objects_new (id, user_id, vault_id, kind, version, trashed, key_wrap, overview,
        details, seq, created_at, updated_at, author_id)
    SELECT id, user_id, vault_id, kind, version, trashed, key_wrap, overview, details, seq,
        created_at, updated_at, NULL FROM objects;
DROP TABLE objects;
ALTER TABLE objects_new RENAME TO objects;
CREATE INDEX objects_user_vault ON objects (user_id, vault_id);
CREATE INDEX objects_vault_user ON objects (vault_id, user_id);
CREATE UNIQUE INDEX objects_user_seq ON objects (user_id, seq);
CREATE INDEX objects_vault_seq ON objects (vault_id, seq);

CREATE TABLE tombstones_new (
    id         TEXT    NOT NULL PRIMARY KEY,
    -- The owner of the vault the object was deleted from; NULL for a share's object.
    user_id    TEXT    NULL REFERENCES users (id) ON DELETE CASCADE,
    vault_id   TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL
) STRICT;

INSERT INTO tombstones_new (id, user_id, vault_id, seq, deleted_at)
    SELECT id, user_id, vault_id, seq, deleted_at FROM tombstones;
DROP TABLE tombstones;
ALTER TABLE tombstones_new RENAME TO tombstones;
CREATE INDEX tombstones_user_seq ON tombstones (user_id, seq);
CREATE INDEX tombstones_vault_seq ON tombstones (vault_id, seq);
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

CREATE TABLE vault_manifests_new (
    vault_id   TEXT    NOT NULL PRIMARY KEY REFERENCES vaults (id) ON DELETE CASCADE,
    -- The owner of an own vault; NULL for a share.
    user_id    TEXT    NULL REFERENCES users (id) ON DELETE CASCADE,
    counter    INTEGER NOT NULL CHECK (counter >= 1),
    blob       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (vault_id, user_id) REFERENCES vaults (id, user_id) ON DELETE CASCADE
) STRICT;

INSERT INTO vault_manifests_new (vault_id, user_id, counter, blob, updated_at)
    SELECT vault_id, user_id, counter, blob, updated_at FROM vault_manifests;
DROP TABLE vault_manifests;
ALTER TABLE vault_manifests_new RENAME TO vault_manifests;
CREATE INDEX vault_manifests_user_id ON vault_manifests (user_id);

-- One row per share (id = its vault's id). The signed ACL is opaque here; its entries are in
-- share_entries. The name blobs are client ciphertext.
CREATE TABLE shares (
    id              TEXT    NOT NULL PRIMARY KEY REFERENCES vaults (id) ON DELETE CASCADE,
    company_id      TEXT    NOT NULL REFERENCES companies (id),
    acl             BLOB    NOT NULL,
    acl_version     INTEGER NOT NULL CHECK (acl_version >= 1),
    key_version     INTEGER NOT NULL CHECK (key_version >= 1),
    expires_at      INTEGER NULL,
    name            BLOB    NOT NULL,
    name_for_admins BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX shares_company_id ON shares (company_id);

-- The entries of each share's current ACL (replaced on every ACL write). principal_id names a
-- user or a group (no foreign key: the signed ACL may outlive either).
CREATE TABLE share_entries (
    share_id       TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal_id   TEXT NOT NULL,
    role           TEXT NOT NULL
        CHECK (role IN ('owner', 'editor', 'read_only', 'read_only_hidden')),
    PRIMARY KEY (share_id, principal_kind, principal_id)
) STRICT;

CREATE INDEX share_entries_principal ON share_entries (principal_id, principal_kind);

-- The share key sealed to one principal for one key version, signed by an owner.
CREATE TABLE share_grants (
    share_id       TEXT    NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    principal_kind TEXT    NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal_id   TEXT    NOT NULL,
    key_version    INTEGER NOT NULL,
    sealed         BLOB    NOT NULL,
    granted_by     TEXT    NOT NULL,
    signature      BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (share_id, principal_kind, principal_id, key_version)
) STRICT;

-- A recipient's answer to a share (no row = invited).
CREATE TABLE share_states (
    share_id   TEXT    NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL CHECK (state IN ('invited', 'accepted', 'declined')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (share_id, user_id)
) STRICT;

CREATE INDEX share_states_user_id ON share_states (user_id);

-- Users who could read a share when it was deleted: their feeds keep the share's tombstones
-- (forgotten with them by pruning).
CREATE TABLE deleted_share_readers (
    share_id   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (share_id, user_id)
) STRICT;

CREATE INDEX deleted_share_readers_user_id ON deleted_share_readers (user_id);
CREATE INDEX deleted_share_readers_deleted_at ON deleted_share_readers (deleted_at);
