-- Castellan PostgreSQL schema, version 6: the company's signed certificate revocation list
-- (docs/security-design.md, "Certificate revocation"). Replaced by compare-and-swap on its
-- version, like the policy document.

ALTER TABLE companies ADD COLUMN revocations BYTEA;
ALTER TABLE companies ADD COLUMN revocations_version BIGINT NOT NULL DEFAULT 0
    CHECK (revocations_version >= 0);
