-- Castellan PostgreSQL schema, version 2: the sync change feed (tombstones, feed floor) and
-- signed vault manifests; the same tables as the SQLite schema's version 2
-- (castellan-store-sqlite/migrations/0002_sync.sql). Migration numbers stay in step with the
-- SQLite backend.
--
-- The feed of a user is the union of its objects (by objects.seq, the position of each object's
-- last change) and its tombstones (by tombstones.seq, the position of the delete). Both take
-- their seq from feed_counter in the transaction of the write.

-- A deleted object, kept so that clients which have not synced since learn of the delete.
-- Removed when an object with the same id is created again by the same user, or by pruning.
CREATE TABLE tombstones (
    id         UUID   NOT NULL,
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    vault_id   UUID   NOT NULL,
    seq        BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL,
    CONSTRAINT tombstones_pkey PRIMARY KEY (id)
);

CREATE INDEX tombstones_user_seq ON tombstones (user_id, seq);
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

-- The highest seq of a pruned tombstone. A cursor below it may have missed a delete: it is
-- expired and the feed answers with a reset.
CREATE TABLE feed_floor (
    id    INTEGER NOT NULL CHECK (id = 1),
    value BIGINT  NOT NULL,
    CONSTRAINT feed_floor_pkey PRIMARY KEY (id)
);

INSERT INTO feed_floor (id, value) VALUES (1, 0);

-- The current signed manifest of each vault: opaque to the server, which only enforces that
-- counter grows by exactly one per write (compare and swap).
CREATE TABLE vault_manifests (
    vault_id   UUID   NOT NULL,
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    counter    BIGINT NOT NULL CHECK (counter >= 1),
    blob       BYTEA  NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT vault_manifests_pkey PRIMARY KEY (vault_id),
    -- A manifest can only belong to a vault of its own user.
    FOREIGN KEY (vault_id, user_id) REFERENCES vaults (id, user_id) ON DELETE CASCADE
);

CREATE INDEX vault_manifests_user_id ON vault_manifests (user_id);
