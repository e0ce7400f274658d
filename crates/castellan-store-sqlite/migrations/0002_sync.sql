-- Castellan SQLite schema, version 2: the sync change feed (tombstones, feed floor) and signed
-- vault manifests.
--
-- The feed of a user is the union of its objects (by objects.seq, the position of each object's
-- last change) and its tombstones (by tombstones.seq, the position of the delete). Both take
-- their seq from feed_counter in the transaction of the write. objects (user_id, seq) is indexed
-- by objects_user_seq (migration 0001).

-- A deleted object, kept so that clients which have not synced since learn of the delete.
-- Removed when an object with the same id is created again by the same user, or by pruning.
CREATE TABLE tombstones (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    vault_id   TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL
) STRICT;

CREATE INDEX tombstones_user_seq ON tombstones (user_id, seq);
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

-- The highest seq of a pruned tombstone. A cursor below it may have missed a delete: it is
-- expired and the feed answers with a reset.
CREATE TABLE feed_floor (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;

INSERT INTO feed_floor (id, value) VALUES (1, 0);

-- The current signed manifest of each vault: opaque to the server, which only enforces that
-- counter grows by exactly one per write (compare and swap).
CREATE TABLE vault_manifests (
    vault_id   TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    counter    INTEGER NOT NULL CHECK (counter >= 1),
    blob       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    -- A manifest can only belong to a vault of its own user.
    FOREIGN KEY (vault_id, user_id) REFERENCES vaults (id, user_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX vault_manifests_user_id ON vault_manifests (user_id);
