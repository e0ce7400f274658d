// Share crypto and verification (crates/castellan-client/src/share/*, manifest.rs). No Rust-written
// share vectors exist yet; byte-for-byte interop with the Rust client is proven end to end in
// e2e/shares.e2e.test.mjs (the CLI reads shares the browser made and rotated, and vice versa).
// Here: the constants and layouts as the Rust code defines them, and every refusal rule.
import { describe, expect, it } from 'vitest';
import { b64u, concat, fromB64u, hex, lp, randomBytes, u64be, utf8, uuidBytes, uuidV4 } from '../src/crypto/bytes';
import { hpkeOpen } from '../src/crypto/hpke';
import { SetHash } from '../src/crypto/sethash';
import { elementBytes } from '../src/client/codec';
import { manifestBody, signShareManifest, verifyManifest, verifyShareManifest } from '../src/client/manifest';
import { signDoc, STATEMENT } from '../src/org/docs';
import { KeyPair } from '../src/org/keys';
import type { MemberCertBody } from '../src/org/types';
import { aclBytes, roleOf, signAcl, verifyAcl, writers } from '../src/share/acl';
import { Directory } from '../src/share/directory';
import { grantInfo, grantSigBody, openGrant, openName, openNameForAdmins, sealGrant, sealName, sealNameForAdmins } from '../src/share/grant';
import { checkAcl, emptySharePins, recordAcl } from '../src/share/pins';
import type { ShareAclBody } from '../src/share/types';
import type { ObjectDto } from '../src/client/types';

function world(n: number) {
  const company = KeyPair.generate();
  const cid = uuidV4();
  const users = Array.from({ length: n }, () => ({ id: uuidV4(), keys: KeyPair.generate() }));
  const members = users.map((u) => {
    const body: MemberCertBody = { company_id: cid, user_id: u.id, email: `${u.id}@x.test`, role: 'user', signing_public_key: b64u(u.keys.publicKeys.signing), encryption_public_key: b64u(u.keys.publicKeys.encryption), serial: uuidV4(), issued_at: 0, issued_by: u.id };
    return { user_id: u.id, email: body.email, cert: signDoc(company, STATEMENT.MEMBER_CERT, body) };
  });
  const dir = Directory.verify({ members, groups: [] }, cid, company.publicKeys, emptySharePins());
  return { company, cid, users, dir };
}

function body(w: ReturnType<typeof world>, sid: string, version: number, owner: number, signer: number): ShareAclBody {
  return { share_id: sid, company_id: w.cid, version, key_version: 1, entries: [{ principal: { kind: 'user', id: w.users[owner].id }, role: 'owner' }], expires_at: null, issued_at: 0, signer: { kind: 'member', user_id: w.users[signer].id } };
}

describe('access lists', () => {
  it('serialise in serde order with the tagged signer', () => {
    const w = world(1);
    const b = body(w, uuidV4(), 1, 0, 0);
    const json = new TextDecoder().decode(aclBytes(b));
    expect(json).toBe(
      `{"share_id":"${b.share_id}","company_id":"${w.cid}","version":1,"key_version":1,"entries":[{"principal":{"kind":"user","id":"${w.users[0].id}"},"role":"owner"}],"expires_at":null,"issued_at":0,"signer":{"kind":"member","user_id":"${w.users[0].id}"}}`,
    );
    expect(new TextDecoder().decode(aclBytes({ ...b, signer: { kind: 'company' } }))).toContain('"signer":{"kind":"company"}');
  });

  it('verify when an owner signs; refuse another share, company, a non-owner, a forged signer', () => {
    const w = world(2);
    const sid = uuidV4();
    const b = body(w, sid, 1, 0, 0);
    const doc = signAcl(w.users[0].keys.seed, b);
    expect(verifyAcl(doc, sid, w.cid, w.dir, null)).toEqual(b);
    expect(() => verifyAcl(doc, uuidV4(), w.cid, w.dir, null)).toThrow(/another share/);
    expect(() => verifyAcl(doc, sid, uuidV4(), w.dir, null)).toThrow(/another company/);
    // User 1 signs a list naming user 0 as owner.
    expect(() => verifyAcl(signAcl(w.users[1].keys.seed, body(w, sid, 1, 0, 1)), sid, w.cid, w.dir, null)).toThrow(/not an owner/);
    // Claims user 0 but signed by user 1's key.
    expect(() => verifyAcl(signAcl(w.users[1].keys.seed, b), sid, w.cid, w.dir, null)).toThrow(/invalid/);
    // Version 2 makes user 1 owner, signed by user 1: not an owner in version 1.
    const v2 = body(w, sid, 2, 1, 1);
    expect(() => verifyAcl(signAcl(w.users[1].keys.seed, v2), sid, w.cid, w.dir, b)).toThrow(/not an owner/);
    // The company key may sign it; a member posing as the company may not.
    const v2c: ShareAclBody = { ...v2, signer: { kind: 'company' } };
    expect(verifyAcl(signAcl(w.company.seed, v2c), sid, w.cid, w.dir, b).version).toBe(2);
    expect(() => verifyAcl(signAcl(w.users[0].keys.seed, v2c), sid, w.cid, w.dir, b)).toThrow();
    // A signer without a verified certificate: refused.
    const stranger = KeyPair.generate();
    const sb: ShareAclBody = { ...b, signer: { kind: 'member', user_id: uuidV4() } };
    expect(() => verifyAcl(signAcl(stranger.seed, sb), sid, w.cid, w.dir, null)).toThrow(/no valid member certificate/);
  });

  it('roles and writers', () => {
    const w = world(3);
    const gid = uuidV4();
    const b = body(w, uuidV4(), 1, 0, 0);
    b.entries.push({ principal: { kind: 'group', id: gid }, role: 'read_only' }, { principal: { kind: 'user', id: w.users[1].id }, role: 'editor' });
    expect(roleOf(b, w.users[1].id, [gid])).toBe('editor');
    expect(roleOf(b, w.users[2].id, [gid])).toBe('read_only');
    expect(roleOf(b, w.users[2].id, [])).toBeNull();
    const ws = writers(b, w.dir);
    expect(ws.has(w.users[0].id) && ws.has(w.users[1].id) && !ws.has(w.users[2].id)).toBe(true);
  });

  it('pins: versions never go down, no second list under one version', () => {
    const p = emptySharePins();
    const sid = uuidV4();
    const d = (n: number) => ({ body: b64u(new Uint8Array([n])), signature: '' });
    recordAcl(p, sid, 3, d(3));
    expect(() => checkAcl(p, sid, 3, d(3))).not.toThrow();
    expect(() => checkAcl(p, sid, 4, d(4))).not.toThrow();
    expect(() => checkAcl(p, sid, 2, d(2))).toThrow(/older/);
    expect(() => checkAcl(p, sid, 3, d(9))).toThrow(/two different/);
    recordAcl(p, sid, 2, d(2));
    expect(p.acls[sid].version).toBe(3);
  });
});

describe('grants and names', () => {
  it('grant info and signed body have the Rust layout', () => {
    const sid = '00000000-0000-0000-0000-000000000001';
    const p = { kind: 'group' as const, id: '00000000-0000-0000-0000-000000000002' };
    const info = grantInfo(sid, p, 3);
    const prefix = utf8('castellan/v1/share-key-grant');
    expect(info.length).toBe(prefix.length + 16 + 1 + 16 + 8);
    expect(info[prefix.length + 16]).toBe(2);
    expect(hex(info.subarray(info.length - 8))).toBe(hex(u64be(3)));
    const sealed = randomBytes(80);
    const sig = grantSigBody(sid, p, 3, sealed);
    expect(hex(sig.subarray(0, 20))).toBe(hex(lp(uuidBytes(sid))));
    expect(sig.length).toBe(4 * 5 + 16 + 1 + 16 + 8 + 32);
  });

  it('a grant opens for its principal only, signed by an owner', async () => {
    const w = world(3);
    const sid = uuidV4();
    const acl = body(w, sid, 1, 0, 0);
    const key = randomBytes(32);
    const pa = { kind: 'user' as const, id: w.users[1].id };
    const g = await sealGrant(w.users[0].keys.seed, w.users[0].id, sid, key, 1, pa, w.users[1].keys.publicKeys);
    expect(hex(await openGrant(g, sid, pa, acl, w.dir, w.users[1].keys.encryptionKey))).toBe(hex(key));
    // Relayed to user 2 (as it is, or relabelled): refused (P29).
    const pb = { kind: 'user' as const, id: w.users[2].id };
    await expect(openGrant(g, sid, pb, acl, w.dir, w.users[2].keys.encryptionKey)).rejects.toThrow(/someone else/);
    const sealed = fromB64u(g.sealed);
    await expect(hpkeOpen(w.users[2].keys.encryptionKey, sealed.subarray(0, 32), grantInfo(sid, pb, 1), new Uint8Array(0), sealed.subarray(32))).rejects.toThrow();
    // Made by a non-owner (P26/P27): refused.
    const forged = await sealGrant(w.users[2].keys.seed, w.users[2].id, sid, randomBytes(32), 1, pa, w.users[1].keys.publicKeys);
    await expect(openGrant(forged, sid, pa, acl, w.dir, w.users[1].keys.encryptionKey)).rejects.toThrow(/not signed by an owner/);
    // Another key version than the list's: refused.
    await expect(openGrant({ ...g, key_version: 2 }, sid, pa, acl, w.dir, w.users[1].keys.encryptionKey)).rejects.toThrow(/key version/);
  });

  it('names round-trip under the share key and for the admins', async () => {
    const key = randomBytes(32);
    const cid = uuidV4();
    const sid = uuidV4();
    const env = await sealName(key, cid, sid, 2, 'Team');
    expect(await openName(key, cid, sid, 2, env)).toBe('Team');
    await expect(openName(key, cid, sid, 1, env)).rejects.toThrow(/substituted/);
    await expect(openName(randomBytes(32), cid, sid, 2, env)).rejects.toThrow();
    const company = KeyPair.generate();
    const s = await sealNameForAdmins(company.publicKeys, cid, sid, 'Team');
    expect(await openNameForAdmins(company.encryptionKey, cid, sid, s)).toBe('Team');
    await expect(openNameForAdmins(company.encryptionKey, sid, cid, s)).rejects.toThrow();
  });
});

describe('share manifests (format 2)', () => {
  it('name and sign over the signer; only writers verify', () => {
    const writer = KeyPair.generate();
    const other = KeyPair.generate();
    const wid = uuidV4();
    const sid = uuidV4();
    const h = SetHash.empty().toBytes();
    const blob = signShareManifest(writer.seed, wid, sid, 4, 0, h);
    const m = JSON.parse(new TextDecoder().decode(blob));
    expect(Object.keys(m)).toEqual(['format', 'vault_id', 'counter', 'count', 'set_hash', 'signer', 'signature']);
    expect(m.format).toBe(2);
    const keyOf = (u: string) => (u === wid ? writer.publicKeys.signing : null);
    expect(verifyShareManifest(blob, sid, 4, keyOf).signer).toBe(wid);
    expect(() => verifyShareManifest(blob, sid, 5, keyOf)).toThrow(/mislabelled/);
    expect(() => verifyShareManifest(blob, sid, 4, () => null)).toThrow(/not a writer/);
    expect(() => verifyShareManifest(blob, sid, 4, () => other.publicKeys.signing)).toThrow(/invalid signature/);
    // The signer is in the signed bytes: relabelling it breaks the signature.
    const relabelled = utf8(JSON.stringify({ ...m, signer: uuidV4() }));
    expect(() => verifyShareManifest(relabelled, sid, 4, () => writer.publicKeys.signing)).toThrow(/invalid signature/);
    // A format-2 manifest is never an own vault's manifest, nor the reverse.
    expect(() => verifyManifest(blob, writer.publicKeys.signing, sid, 4)).toThrow();
    expect(concat(manifestBody(sid, 4, 0, h), lp(uuidBytes(wid))).length).toBe(manifestBody(sid, 4, 0, h).length + 20);
  });

  it('the set element of a share object covers its author', () => {
    const o: ObjectDto = { id: uuidV4(), vault_id: uuidV4(), kind: 'item', version: 1, trashed: false, key_wrap: b64u(randomBytes(8)), overview: b64u(randomBytes(8)), details: b64u(randomBytes(8)), created_at: 0, updated_at: 0, seq: 0 };
    const author = uuidV4();
    const own = elementBytes(o);
    const shared = elementBytes({ ...o, author_id: author });
    expect(own.length).toBe(122);
    expect(shared.length).toBe(138);
    expect(hex(shared.subarray(0, 122))).toBe(hex(own));
    expect(hex(shared.subarray(122))).toBe(hex(uuidBytes(author)));
  });
});
