// The organisation formats against the Rust client: test/fixtures/org_vectors.json is written by
// crates/castellan-web-assets/tests/org_vectors.rs; test/fixtures/browser_org_vectors.json is
// written here (CASTELLAN_UPDATE_BROWSER_VECTORS=1) and checked by that Rust test.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { b64u, fromB64u, fromHex, hex, utf8 } from '../src/crypto/bytes';
import { x25519PublicKey } from '../src/crypto/hpke';
import { bodyBytes, signDoc, STATEMENT, verifyDoc, verifyInvitation, verifyMemberCert, verifyPolicy, verifyRoster } from '../src/org/docs';
import { formatInviteLink, parseInviteLink } from '../src/org/invite';
import { companyFingerprint, fingerprintB64, fingerprintDisplay, KeyPair, memberFingerprint } from '../src/org/keys';
import { masterPasswordProblems } from '../src/org/policy';
import type { MasterPasswordPolicy, PolicyBody, SignedDoc } from '../src/org/types';

const v = JSON.parse(readFileSync(new URL('./fixtures/org_vectors.json', import.meta.url), 'utf8'));
const BROWSER = new URL('./fixtures/browser_org_vectors.json', import.meta.url);

const kp = (k: { signing_seed: string; encryption_private: string }) => KeyPair.fromSecrets(fromHex(k.signing_seed), fromHex(k.encryption_private));
const doc = (d: { body: string; signature: string }): SignedDoc => ({ body: b64u(utf8(d.body)), signature: b64u(fromHex(d.signature)) });
const ids = v.ids as { company: string; user: string; group: string; admin: string };

describe('company keys and fingerprints', () => {
  it('derive the same public keys and fingerprints as Rust', () => {
    for (const name of ['company', 'group', 'holder']) {
      const k = kp(v[name]);
      expect(hex(k.publicKeys.signing)).toBe(v[name].signing_public);
      expect(hex(k.publicKeys.encryption)).toBe(v[name].encryption_public);
    }
    const fp = companyFingerprint(kp(v.company).publicKeys);
    expect(hex(fp)).toBe(v.fingerprint.raw);
    expect(fingerprintDisplay(fp)).toBe(v.fingerprint.display);
    expect(fingerprintDisplay(fp).split(' ')).toHaveLength(8);
    expect(fingerprintB64(fp)).toBe(v.fingerprint.b64);
    const h = kp(v.holder).publicKeys;
    expect(hex(memberFingerprint(h.signing, h.encryption))).toBe(v.fingerprint.member);
  });
});

describe('key grants sealed by Rust', () => {
  const company = kp(v.company);
  const group = kp(v.group);
  const holder = kp(v.holder);
  it('open with the exact info strings and ids', async () => {
    const c = await KeyPair.openCompanyGrant(holder.encryptionKey, fromHex(v.grants.company_grant), ids.company, ids.user, company.publicKeys);
    expect(hex(c.seed)).toBe(v.company.signing_seed);
    await KeyPair.openGroupGrant(holder.encryptionKey, fromHex(v.grants.group_grant), ids.group, ids.user, group.publicKeys);
    await KeyPair.openGroupAdminGrant(company, fromHex(v.grants.group_admin_grant), ids.group, ids.company, group.publicKeys);
  });
  it('refuse other ids, other kinds of grant and other expected keys', async () => {
    await expect(KeyPair.openCompanyGrant(holder.encryptionKey, fromHex(v.grants.company_grant), ids.user, ids.company, company.publicKeys)).rejects.toThrow(/does not open/);
    await expect(KeyPair.openGroupGrant(holder.encryptionKey, fromHex(v.grants.company_grant), ids.company, ids.user, company.publicKeys)).rejects.toThrow(/does not open/);
    await expect(KeyPair.openCompanyGrant(holder.encryptionKey, fromHex(v.grants.company_grant), ids.company, ids.user, group.publicKeys)).rejects.toThrow(/other keys/);
    const flipped = fromHex(v.grants.company_grant);
    flipped[40] ^= 1;
    await expect(KeyPair.openCompanyGrant(holder.encryptionKey, flipped, ids.company, ids.user, company.publicKeys)).rejects.toThrow();
  });
  it('round-trip in the browser', async () => {
    const sealed = await company.sealCompanyGrant(holder.publicKeys.encryption, ids.company, ids.user);
    const opened = await KeyPair.openCompanyGrant(holder.encryptionKey, sealed, ids.company, ids.user, company.publicKeys);
    expect(hex(opened.encryptionKey)).toBe(v.company.encryption_private);
  });
});

describe('signed documents', () => {
  const company = kp(v.company);
  const pub = company.publicKeys;
  it('verify, and re-sign to the same bytes and signature as Rust', () => {
    const cases: [string, string][] = [
      ['policy_full', STATEMENT.POLICY],
      ['policy_default', STATEMENT.POLICY],
      ['member_cert', STATEMENT.MEMBER_CERT],
      ['invitation', STATEMENT.INVITATION],
      ['roster', STATEMENT.GROUP_ROSTER],
    ];
    for (const [name, st] of cases) {
      const d = doc(v.docs[name]);
      const body = verifyDoc(pub.signing, st, d);
      expect(new TextDecoder().decode(bodyBytes(st, body))).toBe(v.docs[name].body);
      const again = signDoc(company, st, body);
      expect(again).toEqual(d);
    }
    expect(verifyPolicy(pub, doc(v.docs.policy_full), ids.company).policies.master_password?.min_length).toBe(14);
    expect(verifyMemberCert(pub, doc(v.docs.member_cert), ids.company, ids.user).email).toBe('zoë@example.com');
    expect(verifyInvitation(pub, doc(v.docs.invitation), ids.company).role).toBe('user');
    expect(verifyRoster(pub, doc(v.docs.roster), ids.company, ids.group).members).toEqual([ids.user, ids.admin]);
  });
  it('refuse other companies, other statement types, other keys and edits', () => {
    const d = doc(v.docs.policy_full);
    expect(() => verifyPolicy(pub, d, ids.user)).toThrow(/another company/);
    expect(() => verifyDoc(pub.signing, STATEMENT.GROUP_ROSTER, d)).toThrow(/signature/);
    expect(() => verifyPolicy(kp(v.group).publicKeys, d, ids.company)).toThrow(/signature/);
    expect(() => verifyMemberCert(pub, doc(v.docs.member_cert), ids.company, ids.admin)).toThrow(/another user/);
    expect(() => verifyRoster(pub, doc(v.docs.roster), ids.company, ids.user)).toThrow(/another group/);
    const edited = { ...v.docs.policy_full, body: v.docs.policy_full.body.replace('"counter":7', '"counter":8') };
    expect(() => verifyPolicy(pub, doc(edited), ids.company)).toThrow(/signature/);
    expect(() => verifyPolicy(pub, { body: b64u(utf8('not json')), signature: b64u(new Uint8Array(64)) }, ids.company)).toThrow(/signature/);
  });
  it('fill absent policy fields with their defaults, in the Rust order', () => {
    const body = { company_id: ids.company, counter: 1, issued_at: 1700000001, issued_by: ids.admin, policies: {} };
    expect(new TextDecoder().decode(bodyBytes(STATEMENT.POLICY, body))).toBe(v.docs.policy_default.body);
  });
});

describe('invitation links and password rules', () => {
  it('parse the Rust link and write it back', () => {
    const l = parseInviteLink(v.invite_link);
    expect(l.server).toBe('https://vault.example.com');
    expect(l.invitationId).toBe('01900000-0000-7000-8000-000000000006');
    expect(l.secret).toBe('c2VjcmV0LXNlY3JldA');
    expect(hex(l.fingerprint)).toBe(v.fingerprint.raw);
    expect(formatInviteLink(l)).toBe(v.invite_link);
    expect(() => parseInviteLink('http://x/join#v2.a.b.c')).toThrow(/version/);
    expect(() => parseInviteLink('http://x/join')).toThrow();
    expect(() => parseInviteLink(`http://x/join#v1.${ids.company}.s.AAAA`)).toThrow();
  });
  it('find the same master password problems as Rust', () => {
    const p = v.master_password.policy as MasterPasswordPolicy;
    for (const c of v.master_password.cases) expect(masterPasswordProblems(p, c.password)).toEqual(c.problems);
  });
});

/** Vectors written by the browser code, checked by crates/castellan-web-assets/tests/org_vectors.rs. */
async function browserVectors() {
  const company = KeyPair.generate();
  const group = KeyPair.generate();
  const holder = KeyPair.generate();
  const pub = company.publicKeys;
  const g = group.publicKeys;
  const h = holder.publicKeys;
  const policy = verifyPolicy(kp(v.company).publicKeys, doc(v.docs.policy_full), ids.company) as PolicyBody;
  const raw = (d: SignedDoc) => ({ body: new TextDecoder().decode(fromB64u(d.body)), signature: hex(fromB64u(d.signature)) });
  return {
    ids,
    company: { signing_seed: hex(company.seed), encryption_private: hex(company.encryptionKey), signing_public: hex(pub.signing), encryption_public: hex(pub.encryption) },
    fingerprint: hex(companyFingerprint(pub)),
    holder_private: hex(holder.encryptionKey),
    group: { signing_public: hex(g.signing), encryption_public: hex(g.encryption) },
    company_grant: hex(await company.sealCompanyGrant(h.encryption, ids.company, ids.user)),
    group_grant: hex(await group.sealGroupGrant(h.encryption, ids.group, ids.user)),
    group_admin_grant: hex(await group.sealGroupAdminGrant(pub.encryption, ids.group, ids.company)),
    policy: raw(signDoc(company, STATEMENT.POLICY, { ...policy, counter: 3 })),
    member_cert: raw(signDoc(company, STATEMENT.MEMBER_CERT, { company_id: ids.company, user_id: ids.user, email: 'zoë@example.com', role: 'technician', signing_public_key: b64u(h.signing), encryption_public_key: b64u(x25519PublicKey(holder.encryptionKey)), serial: ids.admin, issued_at: 1700000100, issued_by: ids.admin })),
    invitation: raw(signDoc(company, STATEMENT.INVITATION, { company_id: ids.company, invitation_id: ids.group, email: 'a"b\u0001@example.com', role: 'admin', expires_at: 1700600000, invited_by: ids.admin })),
    roster: raw(signDoc(company, STATEMENT.GROUP_ROSTER, { company_id: ids.company, group_id: ids.group, name: 'Ops "night" shift\n\u00e9', is_everyone: true, version: 2, signing_public_key: b64u(g.signing), encryption_public_key: b64u(g.encryption), members: [ids.user] })),
    invite_link: formatInviteLink({ server: 'http://127.0.0.1:8087', invitationId: ids.group, secret: 'c2VjcmV0', fingerprint: companyFingerprint(pub) }),
  };
}

describe('browser vectors for Rust', () => {
  it('are written on request and the committed ones verify here', async () => {
    if (process.env.CASTELLAN_UPDATE_BROWSER_VECTORS) writeFileSync(BROWSER, JSON.stringify(await browserVectors(), null, 2) + '\n');
    if (!existsSync(BROWSER)) return;
    const b = JSON.parse(readFileSync(BROWSER, 'utf8'));
    const company = KeyPair.fromSecrets(fromHex(b.company.signing_seed), fromHex(b.company.encryption_private));
    const d = (x: { body: string; signature: string }) => doc(x);
    expect(verifyPolicy(company.publicKeys, d(b.policy), ids.company).counter).toBe(3);
    expect(verifyMemberCert(company.publicKeys, d(b.member_cert), ids.company, ids.user).role).toBe('technician');
    await KeyPair.openCompanyGrant(fromHex(b.holder_private), fromHex(b.company_grant), ids.company, ids.user, company.publicKeys);
  });
});
