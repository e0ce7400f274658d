// The member's side of organisation backup in the browser (src/org/member-backup.ts): handovers
// are verified exactly as the Rust client's import_handovers (and a little more) before they are
// opened, and refused clearly otherwise; backups written by the browser verify and open as the
// admin's restore expects, hold the Business profile only, and follow the verified policy.
import { beforeEach, describe, expect, it } from 'vitest';
import { b64u, concat, fromB64u, randomBytes, utf8, uuidV4 } from '../src/crypto/bytes';
import { sha256 } from '../src/crypto/primitives';
import { vaultKeyId } from '../src/crypto/keyids';
import { hpkeSeal, x25519PublicKey } from '../src/crypto/hpke';
import { publicKeyFromSeed, signStatement } from '../src/crypto/sign';
import type { UnlockedAccount } from '../src/client/account';
import { Api } from '../src/client/api';
import { LocalCache, MemoryBackend } from '../src/client/db';
import { VaultClient } from '../src/client/vault';
import { newItem, setField } from '../src/model/item';
import { type BackupDto, type BackupPayload, HANDOVER_STATEMENT, handoverInfo, handoverSignedBytes, openBackup, payloadJson, sealHandover, verifyBackup } from '../src/org/backup-restore';
import { signDoc, STATEMENT } from '../src/org/docs';
import { KeyPair, keysDto } from '../src/org/keys';
import { businessPayload, type HandoverDto, handoverItems, MemberBackup, MemoryBackupState, openHandoverFor, sealBackup, verifyHandover, writeBackup } from '../src/org/member-backup';
import { checkOrPin, emptyPins, MemoryPins, type OrgPins } from '../src/org/pins';
import { defaultPolicySet } from '../src/org/policy';
import type { MemberCertBody, MembershipResponse, Role, SignedDoc } from '../src/org/types';
import { FakeServer } from './fakeServer';

const cid = uuidV4();
const company = KeyPair.generate();

function account(email = 'member@example.test'): UnlockedAccount {
  const seed = randomBytes(32);
  const vault = (kind: 'personal' | 'business') => {
    const id = uuidV4();
    return { id, kind, key: randomBytes(32), keyVersion: 1, keyId: vaultKeyId(id, 1) };
  };
  return { userId: uuidV4(), email, ak: randomBytes(32), akVersion: 1, signingSeed: seed, signingPublic: publicKeyFromSeed(seed), encryptionPrivate: randomBytes(32), vaults: [vault('personal'), vault('business')] };
}

function cert(by: KeyPair, userId: string, email: string, role: Role, signing: Uint8Array, encryption: Uint8Array): SignedDoc {
  const body: MemberCertBody = { company_id: cid, user_id: userId, email, role, signing_public_key: b64u(signing), encryption_public_key: b64u(encryption), serial: uuidV4(), issued_at: 1_700_000_000, issued_by: userId };
  return signDoc(by, STATEMENT.MEMBER_CERT, body);
}

function pinsFor(companyId = cid): OrgPins {
  const p = emptyPins();
  checkOrPin(p, companyId, company.publicKeys, 'invite-link');
  p.my_company = companyId;
  return p;
}

function login(title: string, password: string, folder: string | null = null) {
  const d = newItem('login', title, 1000);
  setField(d, 'username', 'alice', 1000);
  setField(d, 'password', password, 1000);
  d.folder_id = folder;
  return d;
}

const me = account();
const myPublic = x25519PublicKey(me.encryptionPrivate);
const adminId = uuidV4();
const admin = KeyPair.generate();
const adminCert = cert(company, adminId, 'admin@example.test', 'admin', admin.publicKeys.signing, admin.publicKeys.encryption);

function payloadFor(userId = me.userId, companyId = cid): BackupPayload {
  const folder = uuidV4();
  return {
    format: 1,
    company_id: companyId,
    user_id: userId,
    created_at: 1_700_000_100,
    items: [login('Company VPN', 'vpn-pass-111', folder), login('Wiki', 'wiki-pass')],
    folders: [{ id: folder, data: { name: 'Office', parent_id: null } }],
  };
}

/** A handover as the admin's client makes it (backup-restore.ts sealHandover, as hand_over). */
async function handover(o: { to?: Uint8Array; userId?: string; signer?: KeyPair; adminCert?: SignedDoc; createdBy?: string } = {}): Promise<HandoverDto> {
  const id = uuidV4();
  const userId = o.userId ?? me.userId;
  const signer = o.signer ?? admin;
  const req = await sealHandover({ id, companyId: cid, userId, memberEncryptionKey: o.to ?? myPublic, payload: payloadFor(userId), adminCert: o.adminCert ?? adminCert, adminSigningSeed: signer.seed, sign: signStatement });
  return { id, company_id: cid, user_id: req.user_id, created_by: o.createdBy ?? adminId, created_at: 1_700_000_200, sealed: req.sealed, admin_cert: req.admin_cert, signature: req.signature };
}

function flip(s: string, at: number): string {
  const x = fromB64u(s).slice();
  x[at] ^= 1;
  return b64u(x);
}

describe('handovers: verified before anything is opened', () => {
  it('accepts a handover of an admin of my company sealed to my key, and flattens the folders', async () => {
    const h = await handover();
    const c = verifyHandover(pinsFor(), me.userId, h);
    expect(c.role).toBe('admin');
    const p = await openHandoverFor(me.encryptionPrivate, h);
    expect(p.items.map((i) => i.title)).toEqual(['Company VPN', 'Wiki']);
    const items = handoverItems(p);
    expect(items.every((i) => i.folder_id === null)).toBe(true);
    expect(items[0].fields.password).toBe('vpn-pass-111');
  });

  it('refuses a handover addressed to another account', async () => {
    const h = await handover();
    expect(() => verifyHandover(pinsFor(), uuidV4(), h)).toThrow('it is addressed to another account');
  });

  it('refuses a handover of a company that is not pinned or not mine', async () => {
    const h = await handover();
    expect(() => verifyHandover(emptyPins(), me.userId, h)).toThrow(/company that is not yours/);
    const other = pinsFor();
    other.my_company = uuidV4();
    expect(() => verifyHandover(other, me.userId, h)).toThrow(/company that is not yours/);
  });

  it("refuses an admin certificate not signed with the pinned company key (a server's forgery)", async () => {
    const rogue = KeyPair.generate();
    const h = await handover({ adminCert: cert(rogue, adminId, 'admin@example.test', 'admin', admin.publicKeys.signing, admin.publicKeys.encryption) });
    expect(() => verifyHandover(pinsFor(), me.userId, h)).toThrow(/administrator's certificate does not verify with your company's key/);
  });

  it('refuses a certificate of another user than the one who made the handover', async () => {
    const h = await handover({ createdBy: uuidV4() });
    expect(() => verifyHandover(pinsFor(), me.userId, h)).toThrow(/certificate does not verify.*another user/);
  });

  it('refuses a handover made by a member who is not an admin', async () => {
    const userCert = cert(company, adminId, 'colleague@example.test', 'user', admin.publicKeys.signing, admin.publicKeys.encryption);
    const h = await handover({ adminCert: userCert });
    expect(() => verifyHandover(pinsFor(), me.userId, h)).toThrow('it was not made by an administrator of your company');
  });

  it("refuses a signature that is not the certified admin's, or sealed bytes that were changed", async () => {
    const forged = await handover({ signer: KeyPair.generate() });
    expect(() => verifyHandover(pinsFor(), me.userId, forged)).toThrow(/signature does not verify \(tampered or forged\)/);
    const h = await handover();
    const tampered = { ...h, sealed: flip(h.sealed, 60) };
    expect(() => verifyHandover(pinsFor(), me.userId, tampered)).toThrow(/signature does not verify/);
    const otherId = { ...h, id: uuidV4() };
    expect(() => verifyHandover(pinsFor(), me.userId, otherId)).toThrow(/signature does not verify/);
    expect(() => verifyHandover(pinsFor(), me.userId, { ...h, sealed: b64u(randomBytes(20)) })).toThrow('it is malformed');
  });

  it('refuses a handover sealed to another key than mine (it does not open)', async () => {
    const h = await handover({ to: x25519PublicKey(randomBytes(32)) });
    verifyHandover(pinsFor(), me.userId, h);
    await expect(openHandoverFor(me.encryptionPrivate, h)).rejects.toThrow(/does not open with your key/);
  });

  it("refuses contents that name another user than the handover's, though sealed to me and signed", async () => {
    // sealHandover always writes the target into the payload: forge one by hand.
    const id = uuidV4();
    const pt = utf8(payloadJson(payloadFor(uuidV4())));
    const { enc, ct } = await hpkeSeal(myPublic, handoverInfo(cid, me.userId, id), new Uint8Array(0), pt);
    const sealed = concat(enc, ct);
    const signature = signStatement(admin.seed, HANDOVER_STATEMENT, handoverSignedBytes(id, cid, me.userId, sha256(sealed)));
    const h: HandoverDto = { id, company_id: cid, user_id: me.userId, created_by: adminId, created_at: 1_700_000_200, sealed: b64u(sealed), admin_cert: adminCert, signature: b64u(signature) };
    verifyHandover(pinsFor(), me.userId, h);
    await expect(openHandoverFor(me.encryptionPrivate, h)).rejects.toThrow('its contents name another company or user');
  });
});

// ------------------------------------------------------------ writing

class StubApi extends Api {
  uploads: { path: string; body: unknown }[] = [];
  constructor(private readonly membership: () => MembershipResponse) {
    super('http://fake', 'token');
  }
  override async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (method === 'GET' && path === '/me/membership') return this.membership() as T;
    if (method === 'POST' && path.endsWith('/backups')) {
      this.uploads.push({ path, body });
      return null as T;
    }
    throw new Error(`unexpected ${method} ${path}`);
  }
}

let server: FakeServer;
beforeEach(() => {
  server = new FakeServer();
  server.install();
});

async function deviceWithItems(acct: UnlockedAccount): Promise<VaultClient> {
  const cache = new LocalCache(new MemoryBackend());
  await cache.load();
  const c = new VaultClient(cache, new Api('http://fake', 'token'), acct);
  const office = await c.createFolder('business', 'Office', null);
  await c.createItem('business', login('Company VPN', 'vpn-pass-111', office));
  await c.createItem('personal', login('PERSONAL-SENTINEL', 'personal-pass'));
  await c.sync();
  return c;
}

function membershipFor(acct: UnlockedAccount, backupKey: Uint8Array | null, counter = 1, memberCert?: SignedDoc): MembershipResponse {
  const policies = defaultPolicySet();
  if (backupKey) policies.org_backup = { mode: 'offline-key', public_key: b64u(backupKey), key_version: 2, recovery_group_id: null, retention_days: 90 };
  const policy = signDoc(company, STATEMENT.POLICY, { company_id: cid, counter, issued_at: 1_700_000_000, issued_by: adminId, policies });
  return {
    company: { id: cid, kind: 'customer', partner_id: null, name: 'Acme', status: 'active', plan: 'advanced', seats: null, seats_used: 2, trial_ends_at: null, keys: keysDto(company.publicKeys), created_at: 1_700_000_000 },
    member: { company_id: cid, user_id: acct.userId, email: acct.email, role: 'user', status: 'confirmed', disabled: false, signing_key_id: uuidV4(), signing_public_key: b64u(acct.signingPublic), encryption_key_id: uuidV4(), encryption_public_key: b64u(x25519PublicKey(acct.encryptionPrivate)), ak_version: 1, key_binding_signature: '', cert: memberCert ?? cert(company, acct.userId, acct.email, 'user', acct.signingPublic, x25519PublicKey(acct.encryptionPrivate)), invitation: null } as MembershipResponse['member'],
    policy,
    partner: null,
    managed_customers: [],
  };
}

describe('backups written by the browser', () => {
  it('seals the Business profile only, to the verified key; the admin verifies and opens it', async () => {
    const acct = account();
    const c = await deviceWithItems(acct);
    const backupSecret = randomBytes(32);
    const api = new StubApi(() => membershipFor(acct, x25519PublicKey(backupSecret)));
    const state = new MemoryBackupState();
    const pins = new MemoryPins();
    const out = await writeBackup({ cache: c.cache, api, account: acct, pins, state });
    expect(out).toMatchObject({ kind: 'written', items: 1 });
    expect(api.uploads).toHaveLength(1);
    expect(api.uploads[0].path).toBe(`/companies/${cid}/backups`);
    const req = api.uploads[0].body as Omit<BackupDto, 'company_id' | 'user_id' | 'user_email'>;
    expect(JSON.stringify(req)).not.toContain('SENTINEL');
    const dto: BackupDto = { ...req, company_id: cid, user_id: acct.userId, user_email: acct.email };
    verifyBackup(company.publicKeys, cid, acct.userId, dto);
    const p = await openBackup(backupSecret, dto);
    expect(p.items.map((i) => i.title)).toEqual(['Company VPN']);
    expect(p.folders.map((f) => f.data.name)).toEqual(['Office']);
    expect(p.items[0].folder_id).toBe(p.folders[0].id);
    expect(dto.key_version).toBe(2);
    // Nothing changed: not due again until a day has passed.
    expect(await writeBackup({ cache: c.cache, api, account: acct, pins, state })).toEqual({ kind: 'not-due' });
    // A Business change makes one due; its time is after the previous one.
    await c.createItem('business', login('Wiki', 'wiki-pass'));
    await c.sync();
    const again = await writeBackup({ cache: c.cache, api, account: acct, pins, state });
    expect(again).toMatchObject({ kind: 'written', items: 2 });
    expect((api.uploads[1].body as { created_at: number }).created_at).toBeGreaterThan(req.created_at);
    // A Personal change alone is not a reason for a backup.
    await c.createItem('personal', login('Another personal', 'x'));
    await c.sync();
    expect(await writeBackup({ cache: c.cache, api, account: acct, pins, state })).toEqual({ kind: 'not-due' });
  });

  it('writes nothing without a verified backup policy, or with a certificate of other keys', async () => {
    const acct = account();
    const c = await deviceWithItems(acct);
    const off = new StubApi(() => membershipFor(acct, null));
    expect(await writeBackup({ cache: c.cache, api: off, account: acct, pins: new MemoryPins(), state: new MemoryBackupState() })).toMatchObject({ kind: 'not-enrolled' });
    // A policy that does not verify with the pinned company key is ignored (no backup key).
    const rogue = KeyPair.generate();
    const forged = membershipFor(acct, x25519PublicKey(randomBytes(32)));
    forged.policy = signDoc(rogue, STATEMENT.POLICY, { company_id: cid, counter: 5, issued_at: 1, issued_by: adminId, policies: { ...defaultPolicySet(), org_backup: { mode: 'offline-key', public_key: b64u(x25519PublicKey(randomBytes(32))), key_version: 9, recovery_group_id: null, retention_days: 90 } } });
    const pins = new MemoryPins(pinsFor());
    const viaForged = new StubApi(() => forged);
    const out = await writeBackup({ cache: c.cache, api: viaForged, account: acct, pins, state: new MemoryBackupState() });
    expect(out).toMatchObject({ kind: 'not-enrolled', reason: 'the verified company policy has no organisation backup' });
    expect(viaForged.uploads).toHaveLength(0);
    const otherKeys = KeyPair.generate();
    const wrongCert = new StubApi(() => membershipFor(acct, x25519PublicKey(randomBytes(32)), 1, cert(company, acct.userId, acct.email, 'user', otherKeys.publicKeys.signing, otherKeys.publicKeys.encryption)));
    expect(await writeBackup({ cache: c.cache, api: wrongCert, account: acct, pins: new MemoryPins(), state: new MemoryBackupState() })).toMatchObject({ kind: 'not-enrolled', reason: "the member certificate is for other keys than this account's" });
    expect(wrongCert.uploads).toHaveLength(0);
  });

  it('a payload from the cache holds synced Business objects only', async () => {
    const acct = account();
    const c = await deviceWithItems(acct);
    await c.createItem('business', login('Not yet synced', 'x'));
    server.online = false;
    await c.sync();
    const p = await businessPayload(c.cache, acct, cid, 1_700_000_000);
    expect(p.items.map((i) => i.title)).toEqual(['Company VPN']);
    const req = await sealBackup(acct, { mode: 'offline-key', public_key: b64u(x25519PublicKey(randomBytes(32))), key_version: 1, recovery_group_id: null, retention_days: 90 }, cert(company, acct.userId, acct.email, 'user', acct.signingPublic, x25519PublicKey(acct.encryptionPrivate)), p);
    expect(fromB64u(req.signature)).toHaveLength(64);
  });
});

describe('the member side wired to the vault', () => {
  class MemberApi extends Api {
    handovers: HandoverDto[] = [];
    deleted: string[] = [];
    uploads = 0;
    constructor(private readonly m: () => MembershipResponse) {
      super('http://fake', 'token');
    }
    override async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      if (method === 'GET' && path === '/me/handovers') return { handovers: this.handovers } as T;
      if (method === 'DELETE' && path.startsWith('/me/handovers/')) {
        const id = path.split('/').pop()!;
        this.deleted.push(id);
        this.handovers = this.handovers.filter((h) => h.id !== id);
        return null as T;
      }
      if (method === 'GET' && path === '/me/membership') return this.m() as T;
      if (method === 'POST' && path.endsWith('/backups')) {
        this.uploads++;
        return null as T;
      }
      return super.call<T>(method, path, body);
    }
  }

  it('imports a genuine handover into Business once, refuses a forged one with a notice, then backs up', async () => {
    const acct = me;
    const api = new MemberApi(() => membershipFor(acct, x25519PublicKey(randomBytes(32))));
    const good = await handover();
    const forged = await handover({ signer: KeyPair.generate() });
    api.handovers = [forged, good];
    const cache = new LocalCache(new MemoryBackend());
    await cache.load();
    const client = new VaultClient(cache, api, acct);
    const mb = new MemberBackup(client, new MemoryPins(pinsFor()), new MemoryBackupState());
    client.afterSync = () => mb.run();
    await client.sync();
    await mb.run();
    await client.sync();
    const business = acct.vaults.find((v) => v.kind === 'business')!.id;
    const titles = client.items.value.filter((i) => i.vaultId === business).map((i) => i.overview.title).sort();
    expect(titles).toEqual(['Company VPN', 'Wiki']);
    expect(client.items.value.filter((i) => i.profile === 'personal')).toHaveLength(0);
    expect(api.deleted).toEqual([good.id]);
    expect(api.handovers.map((h) => h.id)).toEqual([forged.id]);
    const kinds = mb.notices.value.map((n) => n.kind).sort();
    expect(kinds).toEqual(['refused', 'restored']);
    expect(mb.notices.value.find((n) => n.kind === 'refused')!.text).toMatch(/refused for your security and not imported: the administrator's signature does not verify/);
    expect(mb.notices.value.find((n) => n.kind === 'restored')!.text).toBe('Your administrator restored 2 items from the organisation backup into your Business profile.');
    // The imported items were synced, and the Business change was backed up.
    expect(api.uploads).toBeGreaterThan(0);
    // Dismissed notices stay hidden; the refused handover is still reported while it exists.
    mb.dismiss(mb.notices.value.find((n) => n.kind === 'restored')!.id);
    expect(mb.notices.value.map((n) => n.kind)).toEqual(['refused']);
    api.handovers = [];
    await mb.run();
    expect(mb.notices.value).toEqual([]);
  });
});
