// Certificate revocation (property 24; crates/castellan-client/src/org/docs.rs `verify_revocations`,
// share/directory.rs `Directory::verify`, share/pins.rs `check_revocations`, org/admin.rs
// `revoke_certificates`): the signed list's layout, the directory leaving revoked members out, the
// version pin (a hidden or older list is refused), and the admin operations that write the list.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { b64u, dec, fromB64u, uuidV4 } from '../src/crypto/bytes';
import { Api } from '../src/client/api';
import { IntegrityError, type UnlockedAccount } from '../src/client/account';
import { bodyBytes, signDoc, STATEMENT, verifyRevocations } from '../src/org/docs';
import { signStatement } from '../src/crypto/sign';
import { KeyPair, keysDto } from '../src/org/keys';
import { MemoryPins } from '../src/org/pins';
import { OrgSession } from '../src/org/session';
import { Directory as AdminDirectory } from '../src/org/shares-admin';
import type { CompanyDto, MemberCertBody, MemberDto, RevocationListBody, SignedDoc } from '../src/org/types';
import { Directory } from '../src/share/directory';
import { checkRevocations, emptySharePins, MemorySharePins, recordRevocations } from '../src/share/pins';
import type { DirectoryResponse } from '../src/share/types';

interface Person {
  id: string;
  email: string;
  keys: KeyPair;
  serial: string;
  cert: SignedDoc;
}

function world(n: number) {
  const company = KeyPair.generate();
  const cid = uuidV4();
  const people: Person[] = Array.from({ length: n }, (_, i) => {
    const id = uuidV4();
    const keys = KeyPair.generate();
    const serial = uuidV4();
    const body: MemberCertBody = { company_id: cid, user_id: id, email: `p${i}@x.test`, role: i === 0 ? 'admin' : 'user', signing_public_key: b64u(keys.publicKeys.signing), encryption_public_key: b64u(keys.publicKeys.encryption), serial, issued_at: 1, issued_by: id };
    return { id, email: body.email, keys, serial, cert: signDoc(company, STATEMENT.MEMBER_CERT, body) };
  });
  return { company, cid, people };
}

function list(company: KeyPair, cid: string, version: number, serials: string[]): SignedDoc {
  const body: RevocationListBody = { company_id: cid, version, serials, issued_at: 7, issued_by: cid };
  return signDoc(company, STATEMENT.REVOKED_CERTS, body);
}

function served(w: ReturnType<typeof world>, revocations?: SignedDoc | null): DirectoryResponse {
  return { members: w.people.map((p) => ({ user_id: p.id, email: p.email, cert: p.cert })), groups: [], revocations };
}

describe('the revocation list document', () => {
  it('is written as serde_json writes RevocationListBody, signed under "revoked-certs"', () => {
    const cid = uuidV4();
    const s = uuidV4();
    const by = uuidV4();
    const json = dec.decode(bodyBytes(STATEMENT.REVOKED_CERTS, { serials: [s], issued_by: by, version: 3, company_id: cid, issued_at: 9 }));
    expect(json).toBe(`{"company_id":"${cid}","version":3,"serials":["${s}"],"issued_at":9,"issued_by":"${by}"}`);
    expect(STATEMENT.REVOKED_CERTS).toBe('revoked-certs');
  });

  it('verifies with the company key only, for this company, with a version of at least 1', () => {
    const w = world(1);
    const doc = list(w.company, w.cid, 1, [w.people[0].serial]);
    expect(verifyRevocations(w.company.publicKeys, doc, w.cid).serials).toEqual([w.people[0].serial]);
    expect(() => verifyRevocations(KeyPair.generate().publicKeys, doc, w.cid)).toThrow(IntegrityError);
    expect(() => verifyRevocations(w.company.publicKeys, doc, uuidV4())).toThrow(/another company/);
    expect(() => verifyRevocations(w.company.publicKeys, list(w.company, w.cid, 0, []), w.cid)).toThrow(/no version/);
    // the same bytes signed under another statement type do not verify as a revocation list
    const other = { body: doc.body, signature: b64u(signStatement(w.company.seed, STATEMENT.POLICY, fromB64u(doc.body))) };
    expect(() => verifyRevocations(w.company.publicKeys, other, w.cid)).toThrow(IntegrityError);
  });
});

describe('the pinned version', () => {
  it('refuses no list or an older list once a version was seen; versions never go down', () => {
    const p = emptySharePins();
    const cid = uuidV4();
    checkRevocations(p, cid, null);
    recordRevocations(p, cid, 2);
    expect(p.revocations).toEqual({ [cid]: 2 });
    expect(() => checkRevocations(p, cid, null)).toThrow(/no version of the company's certificate revocation list, older than version 2/);
    expect(() => checkRevocations(p, cid, 1)).toThrow(/version 1 .* older than version 2/);
    checkRevocations(p, cid, 2);
    checkRevocations(p, cid, 3);
    recordRevocations(p, cid, 1);
    expect(p.revocations?.[cid]).toBe(2);
    // other companies are independent; device states written before P24 have no map
    checkRevocations({ acls: {}, rosters: {} }, cid, null);
  });
});

describe('the verified directory (vault and portal)', () => {
  for (const [what, verify] of [
    ['share/directory.ts', (r: DirectoryResponse, cid: string, k: KeyPair, pins = emptySharePins()) => {
      const d = Directory.verify(r, cid, k.publicKeys, pins);
      return { members: [...d.members.keys()], rejected: d.rejected, version: d.revocationsVersion };
    }],
    ['org/shares-admin.ts', (r: DirectoryResponse, cid: string, k: KeyPair, pins = emptySharePins()) => {
      const d = AdminDirectory.verify(r, cid, k.publicKeys, pins);
      return { members: [...d.members.keys()], rejected: d.rejected, version: d.revocationsVersion };
    }],
  ] as const) {
    it(`${what}: leaves out members whose certificate serial is listed`, () => {
      const w = world(3);
      const none = verify(served(w), w.cid, w.company);
      expect(none.members).toHaveLength(3);
      expect(none.version).toBe(0);
      const d = verify(served(w, list(w.company, w.cid, 2, [uuidV4(), w.people[1].serial])), w.cid, w.company);
      expect(d.members).toEqual([w.people[0].id, w.people[2].id]);
      expect(d.rejected).toEqual([`member ${w.people[1].email}: their certificate was revoked by the company`]);
      expect(d.version).toBe(2);
    });

    it(`${what}: a forged, foreign, hidden or older list fails the whole directory`, () => {
      const w = world(2);
      const forged = list(KeyPair.generate(), w.cid, 5, []);
      expect(() => verify(served(w, forged), w.cid, w.company)).toThrow(IntegrityError);
      const foreign = list(w.company, uuidV4(), 5, []);
      expect(() => verify(served(w, foreign), w.cid, w.company)).toThrow(/another company/);
      const pins = emptySharePins();
      recordRevocations(pins, w.cid, 2);
      expect(() => verify(served(w), w.cid, w.company, pins)).toThrow(/no version .* older than version 2/);
      expect(() => verify(served(w, null), w.cid, w.company, pins)).toThrow(/revocation list/);
      expect(() => verify(served(w, list(w.company, w.cid, 1, [w.people[1].serial])), w.cid, w.company, pins)).toThrow(/version 1 .* older than version 2/);
      expect(verify(served(w, list(w.company, w.cid, 2, [w.people[1].serial])), w.cid, w.company, pins).members).toEqual([w.people[0].id]);
    });
  }

  it('the portal names a revoked recipient by their certified email, marked revoked', () => {
    const w = world(2);
    const d = AdminDirectory.verify(served(w, list(w.company, w.cid, 1, [w.people[1].serial])), w.cid, w.company.publicKeys, emptySharePins());
    expect(d.principalName({ kind: 'user', id: w.people[1].id })).toBe(`${w.people[1].email} (certificate revoked)`);
    expect(d.members.has(w.people[1].id)).toBe(false);
  });
});

// ------------------------------------------------------------ the admin's client writes the list

/** A tiny stand-in for the organisation endpoints the revocation code uses. */
class FakeOrgServer {
  revocations: SignedDoc | null = null;
  /** Serve this directory list instead of the stored one (a malicious server). */
  serveRevocations: SignedDoc | null | undefined = undefined;
  /** Answer the next PUT with 409 after another admin's list was stored. */
  conflictWith: SignedDoc | null = null;
  log: string[] = [];
  members: MemberDto[];
  company: CompanyDto;
  grant = '';
  private saved: typeof fetch | null = null;

  constructor(
    readonly w: ReturnType<typeof world>,
    readonly admin: Person,
  ) {
    this.company = { id: w.cid, kind: 'customer', partner_id: null, name: 'Acme', status: 'active', plan: 'standard', seats: 10, seats_used: w.people.length, trial_ends_at: null, keys: keysDto(w.company.publicKeys), created_at: 1 };
    this.members = w.people.map((p): MemberDto => ({
      company_id: w.cid,
      user_id: p.id,
      email: p.email,
      role: p === admin ? 'admin' : 'user',
      status: 'confirmed',
      disabled: false,
      signing_key_id: 'k',
      signing_public_key: b64u(p.keys.publicKeys.signing),
      encryption_key_id: 'k',
      encryption_public_key: b64u(p.keys.publicKeys.encryption),
      ak_version: 1,
      key_binding_signature: '',
      cert: p.cert,
      invitation: null,
      two_factor_enabled: false,
      require_password_change: false,
      joined_at: 1,
      confirmed_at: 1,
    }));
  }

  install(): void {
    this.saved = globalThis.fetch;
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => this.handle(String(input), init ?? {})) as typeof fetch;
  }
  uninstall(): void {
    if (this.saved) globalThis.fetch = this.saved;
  }

  private json(status: number, body: unknown): Response {
    return new Response(body === null ? '' : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }

  version(doc: SignedDoc | null): number {
    return doc ? (JSON.parse(dec.decode(fromB64u(doc.body))) as RevocationListBody).version : 0;
  }

  private async handle(url: string, init: RequestInit): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase();
    const path = new URL(url).pathname.replace(/^\/api\/v1/, '');
    this.log.push(`${method} ${path}`);
    const cid = this.w.cid;
    if (path === '/me/membership') return this.json(200, { company: this.company, member: this.members.find((m) => m.user_id === this.admin.id), policy: null, partner: null, managed_customers: [] });
    if (path === `/companies/${cid}`) return this.json(200, this.company);
    if (path === '/me/key-grants') return this.json(200, { grants: [{ company_id: cid, user_id: this.admin.id, sealed: this.grant }] });
    if (path === `/companies/${cid}/members`) return this.json(200, { members: this.members });
    if (path === `/companies/${cid}/groups`) return this.json(200, { groups: [] });
    if (path === `/companies/${cid}/directory`) {
      const rev = this.serveRevocations === undefined ? this.revocations : this.serveRevocations;
      return this.json(200, { members: [], groups: [], revocations: rev });
    }
    if (path === `/companies/${cid}/revocations` && method === 'PUT') {
      if (this.conflictWith) {
        this.revocations = this.conflictWith;
        this.conflictWith = null;
        return this.json(409, { error: { code: 'version_conflict', message: 'conflict' } });
      }
      const doc = (JSON.parse(String(init.body)) as { revocations: SignedDoc }).revocations;
      const body = verifyRevocations(this.w.company.publicKeys, doc, cid);
      if (body.version !== this.version(this.revocations) + 1) return this.json(409, { error: { code: 'version_conflict', message: 'conflict' } });
      this.revocations = doc;
      return new Response(null, { status: 204 });
    }
    const m = path.match(/^\/companies\/[^/]+\/members\/([^/]+)(\/remove)?$/);
    if (m && (method === 'POST' || method === 'DELETE')) {
      this.members = this.members.filter((x) => x.user_id !== m[1]);
      return this.json(200, {});
    }
    if (m && method === 'PATCH') return this.json(200, this.members.find((x) => x.user_id === m[1]));
    return this.json(404, { error: { code: 'not_found', message: `no route ${method} ${path}` } });
  }
}

describe('an admin removing, deleting or re-roling a member revokes the certificate first', () => {
  let srv: FakeOrgServer;
  let session: OrgSession;
  let sharePins: MemorySharePins;
  let w: ReturnType<typeof world>;

  beforeEach(async () => {
    w = world(4);
    const admin = w.people[0];
    srv = new FakeOrgServer(w, admin);
    srv.grant = b64u(await w.company.sealCompanyGrant(admin.keys.publicKeys.encryption, w.cid, admin.id));
    srv.install();
    const account: UnlockedAccount = { userId: admin.id, email: admin.email, ak: new Uint8Array(32), akVersion: 1, signingSeed: admin.keys.seed, signingPublic: admin.keys.publicKeys.signing, encryptionPrivate: admin.keys.encryptionKey, vaults: [] };
    sharePins = new MemorySharePins();
    session = await OrgSession.open(new Api('http://fake'), account, new MemoryPins(), 'http://fake', sharePins);
  });
  afterEach(() => srv.uninstall());

  const stored = () => verifyRevocations(w.company.publicKeys, srv.revocations as SignedDoc, w.cid);

  it('remove, then delete: version 1 then 2, every serial kept, signed by this admin, pinned', async () => {
    await session.removeMember(w.cid, w.people[1].id);
    const rev = srv.log.indexOf(`PUT /companies/${w.cid}/revocations`);
    expect(rev).toBeGreaterThan(-1);
    expect(rev).toBeLessThan(srv.log.indexOf(`POST /companies/${w.cid}/members/${w.people[1].id}/remove`));
    expect(stored()).toMatchObject({ version: 1, serials: [w.people[1].serial], issued_by: w.people[0].id });
    expect(sharePins.pins.revocations).toEqual({ [w.cid]: 1 });

    await session.deleteMember(w.cid, w.people[2].id);
    expect(stored()).toMatchObject({ version: 2, serials: [w.people[1].serial, w.people[2].serial] });
    expect(sharePins.pins.revocations?.[w.cid]).toBe(2);
  });

  it('a role change revokes the superseded certificate', async () => {
    await session.changeRole(srv.company, w.people[3].id, 'admin');
    expect(stored().serials).toEqual([w.people[3].serial]);
  });

  it('retries over another admin\'s newer list (409) and keeps its serials', async () => {
    const other = uuidV4();
    srv.conflictWith = list(w.company, w.cid, 1, [other]);
    await session.removeMember(w.cid, w.people[1].id);
    expect(stored()).toMatchObject({ version: 2, serials: [other, w.people[1].serial] });
  });

  it('a server hiding or rolling back the list is refused and the member is not removed', async () => {
    await session.removeMember(w.cid, w.people[1].id);
    await session.removeMember(w.cid, w.people[2].id);
    srv.serveRevocations = null;
    await expect(session.removeMember(w.cid, w.people[3].id)).rejects.toThrow(/no version .* older than version 2/);
    srv.serveRevocations = list(w.company, w.cid, 1, [w.people[1].serial]);
    await expect(session.deleteMember(w.cid, w.people[3].id)).rejects.toThrow(/version 1 .* older than version 2/);
    srv.serveRevocations = list(KeyPair.generate(), w.cid, 3, []);
    await expect(session.removeMember(w.cid, w.people[3].id)).rejects.toThrow(IntegrityError);
    expect(srv.members.some((m) => m.user_id === w.people[3].id)).toBe(true);
    expect(srv.log.filter((l) => l.includes(w.people[3].id) && !l.startsWith('GET'))).toEqual([]);
  });
});
