// The company administrators' share crypto (src/org/shares-admin.ts), mirroring
// crates/castellan-client/src/share/{admin,acl,grant}.rs. The portal e2e
// (e2e/portal-shares.e2e.test.mjs) opens names sealed by the Rust CLI and has the CLI verify
// access lists signed here.
import { describe, expect, it } from 'vitest';
import { b64u, dec, fromB64u, hex, utf8, uuidV4 } from '../src/crypto/bytes';
import { signDoc, STATEMENT } from '../src/org/docs';
import { KeyPair } from '../src/org/keys';
import { aclBytes, adminNameInfo, Directory, nextAcl, openNameForAdmins, sealNameForAdmins, ShareAdminError, signAcl, verifyAcl, type ShareAclBody } from '../src/org/shares-admin';
import type { MemberCertBody } from '../src/org/types';
import { signStatement } from '../src/crypto/sign';
import { emptySharePins } from '../src/share/pins';

function world() {
  const company = KeyPair.generate();
  const cid = uuidV4();
  const users = [0, 1, 2].map((i) => ({ id: uuidV4(), email: `u${i}@acme.test`, keys: KeyPair.generate() }));
  const members = users.map((u) => {
    const body: MemberCertBody = {
      company_id: cid,
      user_id: u.id,
      email: u.email,
      role: 'user',
      signing_public_key: b64u(u.keys.publicKeys.signing),
      encryption_public_key: b64u(u.keys.publicKeys.encryption),
      serial: uuidV4(),
      issued_at: 1,
      issued_by: u.id,
    };
    return { user_id: u.id, email: u.email, cert: signDoc(company, STATEMENT.MEMBER_CERT, body) };
  });
  const dir = Directory.verify({ members, groups: [] }, cid, company.publicKeys, emptySharePins());
  return { company, cid, users, dir };
}

function acl(w: ReturnType<typeof world>, sid: string, signer: number): ShareAclBody {
  return {
    share_id: sid,
    company_id: w.cid,
    version: 1,
    key_version: 1,
    entries: [
      { principal: { kind: 'user', id: w.users[0].id }, role: 'owner' },
      { principal: { kind: 'user', id: w.users[1].id }, role: 'read_only' },
      { principal: { kind: 'user', id: w.users[2].id }, role: 'editor' },
    ],
    expires_at: null,
    issued_at: 100,
    signer: { kind: 'member', user_id: w.users[signer].id },
  };
}

function memberSigned(key: KeyPair, body: ShareAclBody) {
  const b = aclBytes(body);
  return { body: b64u(b), signature: b64u(signStatement(key.seed, 'share-acl', b)) };
}

describe('share name for admins', () => {
  it('uses info "castellan/v1/share-name-admin" || share_id || company_id and opens only for that share and company', async () => {
    const company = KeyPair.generate();
    const sid = '00000000-0000-0000-0000-000000000001';
    const cid = '00000000-0000-0000-0000-000000000002';
    const info = adminNameInfo(sid, cid);
    expect(info.length).toBe('castellan/v1/share-name-admin'.length + 32);
    expect(hex(info.subarray(info.length - 32))).toBe('00000000000000000000000000000001' + '00000000000000000000000000000002');
    const sealed = await sealNameForAdmins(company.publicKeys.encryption, cid, sid, 'Team ✓');
    expect(await openNameForAdmins(company.encryptionKey, cid, sid, sealed)).toBe('Team ✓');
    await expect(openNameForAdmins(company.encryptionKey, sid, cid, sealed)).rejects.toThrow(/does not open/);
    await expect(openNameForAdmins(KeyPair.generate().encryptionKey, cid, sid, sealed)).rejects.toThrow(/does not open/);
  });
});

describe('access lists', () => {
  it('are written as serde_json writes ShareAclBody', () => {
    const body: ShareAclBody = {
      share_id: '00000000-0000-0000-0000-00000000000a',
      company_id: '00000000-0000-0000-0000-00000000000b',
      version: 2,
      key_version: 1,
      entries: [{ principal: { kind: 'group', id: '00000000-0000-0000-0000-00000000000c' }, role: 'read_only_hidden' }],
      expires_at: null,
      issued_at: 5,
      signer: { kind: 'company' },
    };
    expect(dec.decode(aclBytes(body))).toBe(
      '{"share_id":"00000000-0000-0000-0000-00000000000a","company_id":"00000000-0000-0000-0000-00000000000b","version":2,"key_version":1,' +
        '"entries":[{"principal":{"kind":"group","id":"00000000-0000-0000-0000-00000000000c"},"role":"read_only_hidden"}],"expires_at":null,"issued_at":5,"signer":{"kind":"company"}}',
    );
    const m = { ...body, signer: { kind: 'member' as const, user_id: '00000000-0000-0000-0000-00000000000d' } };
    expect(dec.decode(aclBytes(m))).toMatch(/"signer":\{"kind":"member","user_id":"00000000-0000-0000-0000-00000000000d"\}\}$/);
  });

  it('verify with the owner key or the pinned company key, and are refused otherwise', () => {
    const w = world();
    const sid = uuidV4();
    const ok = acl(w, sid, 0);
    expect(verifyAcl(memberSigned(w.users[0].keys, ok), sid, w.cid, w.dir)).toEqual(ok);
    // Signed by a recipient who is not an owner.
    expect(() => verifyAcl(memberSigned(w.users[1].keys, acl(w, sid, 1)), sid, w.cid, w.dir)).toThrow(/not an owner/);
    // Claims the owner, signed by someone else.
    expect(() => verifyAcl(memberSigned(w.users[1].keys, ok), sid, w.cid, w.dir)).toThrow(/signature/);
    // Another share or company.
    expect(() => verifyAcl(memberSigned(w.users[0].keys, ok), uuidV4(), w.cid, w.dir)).toThrow(/another share/);
    // The company key signs admin lists; "company" signed by another key is refused.
    const byCompany = nextAcl(ok, { kind: 'remove', principal: { kind: 'user', id: w.users[1].id } }, 200);
    expect(verifyAcl(signAcl(w.company, byCompany), sid, w.cid, w.dir).version).toBe(2);
    expect(() => verifyAcl(signAcl(KeyPair.generate(), byCompany), sid, w.cid, w.dir)).toThrow(/signature/);
    // A tampered body.
    const doc = signAcl(w.company, byCompany);
    const tampered = { ...doc, body: b64u(utf8(dec.decode(fromB64u(doc.body)).replace('"version":2', '"version":3'))) };
    expect(() => verifyAcl(tampered, sid, w.cid, w.dir)).toThrow(/signature/);
  });
});

describe('admin changes (admin::change_share)', () => {
  it('removes readers only, keeps an owner, and transfers ownership to a recipient', () => {
    const w = world();
    const sid = uuidV4();
    const body = acl(w, sid, 0);
    const removed = nextAcl(body, { kind: 'remove', principal: { kind: 'user', id: w.users[1].id } }, 300);
    expect(removed.entries.map((e) => e.principal.id)).toEqual([w.users[0].id, w.users[2].id]);
    expect(removed.version).toBe(2);
    expect(removed.key_version).toBe(1);
    expect(removed.signer).toEqual({ kind: 'company' });
    expect(removed.issued_at).toBe(300);
    expect(body.version).toBe(1); // the input is not changed
    expect(() => nextAcl(body, { kind: 'remove', principal: { kind: 'user', id: w.users[2].id } }, 1)).toThrow(/an owner removes them/);
    expect(() => nextAcl(body, { kind: 'remove', principal: { kind: 'group', id: uuidV4() } }, 1)).toThrow(ShareAdminError);
    const moved = nextAcl(body, { kind: 'transfer', to: w.users[1].id }, 400);
    expect(moved.entries.map((e) => e.role)).toEqual(['editor', 'owner', 'editor']);
    expect(() => nextAcl(body, { kind: 'transfer', to: uuidV4() }, 1)).toThrow(/current recipient/);
  });
});
