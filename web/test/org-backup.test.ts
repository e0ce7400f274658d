// Offline backup keys made in the browser: the word list and kit layout of the Rust client.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromB64u } from '../src/crypto/bytes';
import { x25519PublicKey } from '../src/crypto/hpke';
import { backupKeyFingerprint, keyWords, newOfflineKey, WORDS } from '../src/org/backup';
import { normOrgBackup } from '../src/org/docs';
import { defaultPolicySet } from '../src/org/policy';

describe('organisation backup (offline key)', () => {
  it('uses the word list of crates/castellan-client/src/backup/words.rs', () => {
    const rs = readFileSync(new URL('../../crates/castellan-client/src/backup/words.rs', import.meta.url), 'utf8');
    const block = rs.slice(rs.indexOf('pub const WORDS'), rs.indexOf('];'));
    const rust = [...block.matchAll(/"([a-z]+)"/g)].map((m) => m[1]);
    expect(rust).toHaveLength(256);
    expect([...WORDS]).toEqual(rust);
    expect(new Set(WORDS).size).toBe(256);
  });

  it('writes 33 words: one per key byte and a checksum word', () => {
    const key = new Uint8Array(32).fill(0x5a);
    const w = keyWords(key).split(' ');
    expect(w).toHaveLength(33);
    expect(w.slice(0, 32).every((x) => x === WORDS[0x5a])).toBe(true);
  });

  it('makes the next key version, a kit in the Rust layout and a policy that parses', () => {
    const cid = '01900000-0000-7000-8000-000000000001';
    const cur = defaultPolicySet();
    cur.org_backup = { mode: 'recovery-group', public_key: 'AAAA', key_version: 4, recovery_group_id: cid, retention_days: 30 };
    const k = newOfflineKey(cid, cur);
    expect(k.policy.key_version).toBe(5);
    expect(k.policy.retention_days).toBe(30);
    expect(k.policy.recovery_group_id).toBeNull();
    const kit = JSON.parse(k.kit);
    expect(Object.keys(kit)).toEqual(['kind', 'company_id', 'key_version', 'fingerprint', 'private_key']);
    expect(kit.kind).toBe('castellan-backup-recovery-kit');
    const sk = fromB64u(kit.private_key);
    expect(x25519PublicKey(sk)).toEqual(fromB64u(k.policy.public_key));
    expect(kit.fingerprint).toBe(backupKeyFingerprint(fromB64u(k.policy.public_key)));
    expect(k.words).toBe(keyWords(sk));
    expect(k.kit).toContain('\n  "kind": "castellan-backup-recovery-kit",\n');
    expect(normOrgBackup(JSON.parse(JSON.stringify(k.policy)))).toEqual(k.policy);
  });
});
