// Restoring organisation backups in the browser, against data made by the RUST client:
// test/fixtures/backup_vectors.json holds two recovery kits and their words written by
// `castellan backup enable`, and a backup written by `castellan backup now` as the server
// serves it (made by test/fixtures/make-backup-vectors.mjs with the real binary).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { b64u, dec, fromB64u, i64be, concat, utf8, uuidBytes } from '../src/crypto/bytes';
import { Context, open as openEnvelope } from '../src/crypto/envelope';
import { hpkeOpen, x25519PublicKey } from '../src/crypto/hpke';
import { signStatement } from '../src/crypto/sign';
import { IntegrityError } from '../src/client/account';
import { backupKeyFingerprint, keyWords } from '../src/org/backup';
import {
  backupSignedBytes,
  decodeWords,
  folderPath,
  kitPrivateKey,
  kitSecretFor,
  openBackup,
  openHandover,
  parseKit,
  parsePayload,
  payloadJson,
  readExport,
  sealHandover,
  verifyBackup,
  writeExport,
  type BackupDto,
} from '../src/org/backup-restore';
import { KeyPair, publicFromDto } from '../src/org/keys';
import { OrgError } from '../src/org/session';
import { sha256 } from '../src/crypto/primitives';

interface Vectors {
  company_id: string;
  company_keys: { signing_public_key: string; encryption_public_key: string };
  kit_v1: string;
  words_v1: string;
  kit_v2: string;
  words_v2: string;
  fingerprint_v2: string;
  backup_items: number;
  backup: BackupDto;
}

const v = JSON.parse(readFileSync(new URL('./fixtures/backup_vectors.json', import.meta.url), 'utf8')) as Vectors;
const company = publicFromDto(v.company_keys);
const b = v.backup;
const cid = v.company_id;
const uid = b.user_id;

function flip(s: string, at: (n: number) => number): string {
  const x = fromB64u(s).slice();
  x[at(x.length)] ^= 0x01;
  return b64u(x);
}

describe('backup key from the recovery words and the kit (Rust-made)', () => {
  it('decodes the words to the key in the kit, for both key versions', () => {
    for (const [words, kit] of [
      [v.words_v1, v.kit_v1],
      [v.words_v2, v.kit_v2],
    ]) {
      const fromWords = decodeWords(words);
      const fromKit = kitPrivateKey(parseKit(kit));
      expect(fromWords).toEqual(fromKit);
      expect(keyWords(fromKit)).toBe(words);
    }
  });

  it("derives the public key of the backup and the fingerprint the CLI printed", () => {
    const sk = decodeWords(v.words_v2);
    expect(b64u(x25519PublicKey(sk))).toBe(b.public_key);
    expect(backupKeyFingerprint(x25519PublicKey(sk))).toBe(v.fingerprint_v2);
    expect(parseKit(v.kit_v2).fingerprint).toBe(v.fingerprint_v2);
  });

  it('accepts words typed with other case, commas, hyphens and line breaks', () => {
    const typed = v.words_v2.toUpperCase().split(' ').join(',\n ').replace(/, ([A-Z]+),/, ' - $1-');
    expect(decodeWords(typed)).toEqual(decodeWords(v.words_v2));
  });

  it('names a wrong count, an unknown word and a mistyped word', () => {
    const w = v.words_v2.split(' ');
    expect(() => decodeWords(w.slice(0, 32).join(' '))).toThrow('the recovery words are 33 words; 32 were given');
    expect(() => decodeWords(['zebra', ...w.slice(1)].join(' '))).toThrow('word 1 ("zebra") is not a recovery word');
    const swapped = [...w];
    [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
    if (swapped[0] === w[0]) swapped[0] = swapped[0] === 'able' ? 'acid' : 'able';
    expect(() => decodeWords(swapped.join(' '))).toThrow('do not check out');
  });

  it('refuses a kit of another company, of another key version, and a file that is no kit', () => {
    expect(kitSecretFor(v.kit_v2, 'kit.json', cid, 2)).toEqual(decodeWords(v.words_v2));
    const other = JSON.stringify({ ...JSON.parse(v.kit_v2), company_id: '0190aaaa-0000-7000-8000-000000000001' });
    expect(() => kitSecretFor(other, 'other.json', cid, 2)).toThrow('other.json is the recovery kit of another company');
    expect(() => kitSecretFor(v.kit_v1, 'kit1.json', cid, 2)).toThrow('this backup is sealed to backup key version 2; kit1.json holds version 1');
    expect(() => kitSecretFor('{"hello":1}', 'notes.json', cid, 2)).toThrow('notes.json is not a Castellan backup recovery kit');
    expect(() => kitSecretFor('not json', 'x.txt', cid, 2)).toThrow(OrgError);
    const bad = JSON.stringify({ ...JSON.parse(v.kit_v2), private_key: 'AAAA' });
    expect(() => kitSecretFor(bad, 'bad.json', cid, 2)).toThrow("the recovery kit's key is malformed");
  });
});

describe('verifying and opening a Rust-made backup', () => {
  it('verifies the certificate and the signature, then opens the Business items only', async () => {
    const cert = verifyBackup(company, cid, uid, b);
    expect(cert.email).toBe('member@vectors.test');
    const p = await openBackup(kitSecretFor(v.kit_v2, 'kit', cid, b.key_version), b);
    expect(p.items).toHaveLength(v.backup_items);
    const titles = p.items.map((i) => i.title).sort();
    expect(titles).toEqual(['Alarm code', 'Company VPN']);
    const vpn = p.items.find((i) => i.title === 'Company VPN')!;
    expect(vpn.fields.password).toBe('vpn-pass-111');
    expect(vpn.fields.username).toBe('member@vectors.test');
    const note = p.items.find((i) => i.title === 'Alarm code')!;
    expect(note.notes).toBe('4711');
    expect(folderPath(p, note.folder_id!)).toBe('Office/Building');
    expect(JSON.stringify(p)).not.toContain('PERSONAL');
  });

  it('writes the payload back to the bytes serde_json wrote', async () => {
    const sk = decodeWords(v.words_v2);
    const sealed = fromB64u(b.sealed_key);
    const info = concat(utf8('castellan/v1/org-backup-key'), uuidBytes(cid), uuidBytes(uid), uuidBytes(b.backup_id), i64be(b.key_version));
    const key = await hpkeOpen(sk, sealed.subarray(0, 32), info, new Uint8Array(0), sealed.subarray(32));
    const pt = dec.decode(await openEnvelope(key, b.backup_id, Context.orgBackup(cid, uid, b.backup_id, b.key_version), fromB64u(b.envelope)));
    expect(payloadJson(parsePayload(JSON.parse(pt)))).toBe(pt);
  });

  it('refuses the key of another version or company before opening anything', async () => {
    await expect(openBackup(decodeWords(v.words_v1), b)).rejects.toThrow('this backup (key version 2) was sealed to another backup key than the one given');
    const foreign = decodeWords(keyWords(new Uint8Array(32).fill(7)));
    await expect(openBackup(foreign, b)).rejects.toThrow(OrgError);
  });

  it('refuses a tampered envelope, sealed key or time, and nothing opens', () => {
    for (const t of [
      { ...b, envelope: flip(b.envelope, (n) => n >> 1) },
      { ...b, sealed_key: flip(b.sealed_key, (n) => n - 1) },
      { ...b, created_at: b.created_at - 3600 },
      { ...b, key_version: 1 },
    ]) {
      expect(() => verifyBackup(company, cid, uid, t)).toThrow("the backup is not signed by the user's certified key (tampered or forged)");
    }
  });

  it("refuses another company's key, another user, a rogue signature and an uncertified key", () => {
    const other = KeyPair.generate();
    expect(() => verifyBackup(other.publicKeys, cid, uid, b)).toThrow(/member certificate does not verify with the company key/);
    expect(() => verifyBackup(company, cid, '0190aaaa-0000-7000-8000-000000000002', b)).toThrow('the backup names another company or user');
    // The genuine certificate, a signature by another key over the right bytes.
    const rogue = KeyPair.generate();
    const bytes = backupSignedBytes(b.backup_id, cid, uid, b.created_at, b.key_version, fromB64u(b.public_key), sha256(fromB64u(b.sealed_key)), sha256(fromB64u(b.envelope)));
    const forged = { ...b, signature: b64u(signStatement(rogue.seed, 'org-backup', bytes)) };
    expect(() => verifyBackup(company, cid, uid, forged)).toThrow(IntegrityError);
    // ... and a certificate for the rogue key signed by a key that is not the company's.
    const body = JSON.parse(dec.decode(fromB64u(b.member_cert.body)));
    body.signing_public_key = b64u(rogue.publicKeys.signing);
    const certBytes = utf8(JSON.stringify(body));
    const rogueCert = { body: b64u(certBytes), signature: b64u(signStatement(other.seed, 'member-cert', certBytes)) };
    expect(() => verifyBackup(company, cid, uid, { ...forged, member_cert: rogueCert })).toThrow(/certificate/);
  });
});

describe('handover and export', () => {
  it("seals a handover to the member's new key, signed by the admin; it opens only there", async () => {
    const p = await openBackup(decodeWords(v.words_v2), b);
    const member = KeyPair.generate();
    const admin = KeyPair.generate();
    const newUser = '0190bbbb-0000-7000-8000-000000000003';
    const h = await sealHandover({ id: '0190cccc-0000-7000-8000-000000000004', companyId: cid, userId: newUser, memberEncryptionKey: member.publicKeys.encryption, payload: p, adminCert: b.member_cert, adminSigningSeed: admin.seed, sign: signStatement });
    expect(h.user_id).toBe(newUser);
    const back = await openHandover(member.encryptionKey, cid, h, admin.publicKeys.signing);
    expect(back.user_id).toBe(newUser);
    expect(back.items).toEqual(p.items);
    await expect(openHandover(KeyPair.generate().encryptionKey, cid, h, admin.publicKeys.signing)).rejects.toThrow();
    await expect(openHandover(member.encryptionKey, cid, h, KeyPair.generate().publicKeys.signing)).rejects.toThrow();
  });

  it('writes an export file in the Rust layout that opens only with its passphrase', async () => {
    const p = await openBackup(decodeWords(v.words_v2), b);
    await expect(writeExport(b, p, 'short')).rejects.toThrow('at least 8 characters');
    const text = await writeExport(b, p, 'export passphrase 2026');
    const f = JSON.parse(text);
    expect(Object.keys(f)).toEqual(['kind', 'company_id', 'user_id', 'backup_id', 'key_version', 'kdf', 'm_kib', 't', 'p', 'salt', 'envelope']);
    expect(f.kind).toBe('castellan-backup-export');
    expect([f.m_kib, f.t, f.p]).toEqual([65536, 3, 4]);
    expect(text).not.toContain('vpn-pass-111');
    expect((await readExport(text, 'export passphrase 2026')).items).toEqual(p.items);
    await expect(readExport(text, 'wrong passphrase!')).rejects.toThrow('wrong passphrase, or the export file is damaged');
  });
});
