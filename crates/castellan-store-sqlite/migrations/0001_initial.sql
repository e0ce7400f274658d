-- Castellan SQLite schema, version 1.
--
-- Ids are UUIDs as hyphenated lowercase text. Times are Unix seconds. Every BLOB column holds
-- client ciphertext or an opaque protocol blob; the server never stores a usable key.
-- Tables are STRICT so a binding mistake (text where a blob belongs) fails loudly.

CREATE TABLE server_config (
    key   TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    opaque_record       BLOB    NOT NULL,
    keyset              TEXT    NOT NULL,
    credentials_version INTEGER NOT NULL CHECK (credentials_version >= 1),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE vaults (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('personal', 'business')),
    key_wrap    BLOB    NOT NULL,
    key_version INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    -- Target of the (vault_id, user_id) foreign key of objects: an object can only live in a
    -- vault of its own user, enforced by the schema as well as by the queries.
    UNIQUE (id, user_id)
) STRICT;

CREATE INDEX vaults_user_id ON vaults (user_id);

CREATE TABLE login_attempts (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    state      BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX login_attempts_expires_at ON login_attempts (expires_at);

CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL UNIQUE,
    device_name  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER NULL
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE rate_limits (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;

-- Monotonic change counter for the sync feed: every object write takes the next value in the
-- same transaction and stores it in objects.seq.
CREATE TABLE feed_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;

INSERT INTO feed_counter (id, value) VALUES (1, 0);

CREATE TABLE objects (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    vault_id   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('item', 'folder')),
    version    INTEGER NOT NULL CHECK (version >= 1),
    trashed    INTEGER NOT NULL CHECK (trashed IN (0, 1)),
    key_wrap   BLOB    NOT NULL,
    overview   BLOB    NOT NULL,
    details    BLOB    NOT NULL,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (vault_id, user_id) REFERENCES vaults (id, user_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX objects_user_vault ON objects (user_id, vault_id);
CREATE INDEX objects_vault_user ON objects (vault_id, user_id);
CREATE UNIQUE INDEX objects_user_seq ON objects (user_id, seq);
