-- Castellan PostgreSQL schema, version 1: the tables of the SQLite schema's version 1
-- (castellan-store-sqlite/migrations/0001_initial.sql), column for column.
--
-- Ids are native `uuid`s (ordered by their bytes, as `Uuid`'s `Ord` orders them, whatever the
-- database's collation). Times are Unix seconds (BIGINT). Every BYTEA column holds client
-- ciphertext or an opaque protocol blob; the server never stores a usable key.
-- Constraints are named explicitly: the store maps unique violations to
-- `StoreError::AlreadyExists(..)` by constraint name.

CREATE TABLE server_config (
    key   TEXT  NOT NULL,
    value BYTEA NOT NULL,
    CONSTRAINT server_config_pkey PRIMARY KEY (key)
);

CREATE TABLE users (
    id                  UUID   NOT NULL,
    email               TEXT   NOT NULL,
    opaque_record       BYTEA  NOT NULL,
    keyset              TEXT   NOT NULL,
    credentials_version BIGINT NOT NULL CHECK (credentials_version >= 1),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE vaults (
    id          UUID   NOT NULL,
    user_id     UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT   NOT NULL CHECK (kind IN ('personal', 'business')),
    key_wrap    BYTEA  NOT NULL,
    key_version BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT vaults_pkey PRIMARY KEY (id),
    -- Target of the (vault_id, user_id) foreign key of objects: an object can only live in a
    -- vault of its own user, enforced by the schema as well as by the queries.
    CONSTRAINT vaults_id_user_id_key UNIQUE (id, user_id)
);

CREATE INDEX vaults_user_id ON vaults (user_id);

CREATE TABLE login_attempts (
    id         UUID   NOT NULL,
    user_id    UUID   NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT   NOT NULL,
    state      BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL,
    CONSTRAINT login_attempts_pkey PRIMARY KEY (id)
);

CREATE INDEX login_attempts_expires_at ON login_attempts (expires_at);

CREATE TABLE sessions (
    id           UUID   NOT NULL,
    user_id      UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA  NOT NULL,
    device_name  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE rate_limits (
    key          TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (key)
);

-- Monotonic change counter for the sync feed: every object write takes the next value in the
-- same transaction (UPDATE ... RETURNING) and stores it in objects.seq.
--
-- A one-row table rather than a SEQUENCE on purpose: the UPDATE holds the row lock until the
-- writer commits, so positions are handed out in commit order. A reader that sees position N
-- therefore sees every write below N, and a cursor never skips a write that commits late
-- (with a sequence, position 5 could commit after position 6 had been read).
CREATE TABLE feed_counter (
    id    INTEGER NOT NULL CHECK (id = 1),
    value BIGINT  NOT NULL,
    CONSTRAINT feed_counter_pkey PRIMARY KEY (id)
);

INSERT INTO feed_counter (id, value) VALUES (1, 0);

CREATE TABLE objects (
    id         UUID    NOT NULL,
    user_id    UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    vault_id   UUID    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('item', 'folder')),
    version    BIGINT  NOT NULL CHECK (version >= 1),
    trashed    BOOLEAN NOT NULL,
    key_wrap   BYTEA   NOT NULL,
    overview   BYTEA   NOT NULL,
    details    BYTEA   NOT NULL,
    seq        BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    CONSTRAINT objects_pkey PRIMARY KEY (id),
    FOREIGN KEY (vault_id, user_id) REFERENCES vaults (id, user_id) ON DELETE CASCADE
);

CREATE INDEX objects_user_vault ON objects (user_id, vault_id);
CREATE INDEX objects_vault_user ON objects (vault_id, user_id);
CREATE UNIQUE INDEX objects_user_seq ON objects (user_id, seq);
