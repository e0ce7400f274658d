// Reading shares during the sync (crates/castellan-client/src/share/mod.rs `refresh`,
// `verify_share`): what the server sends is untrusted. A share is used only after its access list
// verified (an owner whose member certificate verifies against the PINNED company key, or the
// company key; not below the version pinned here), its grant verified (signed by an owner) and
// opened (HPKE to my key, or to my group's key opened from my group grant and a verified roster),
// and the key opened the share's name. A share that fails is skipped with a warning; the rest of
// the vault syncs on. The verified state is cached with the key wrapped under the account key
// (ciphertext only), so share items open offline like the others.
import { b64u, concat, fromB64u } from '../crypto/bytes';
import { Context, unwrapKey, wrapKey } from '../crypto/envelope';
import { akId } from '../crypto/keyids';
import { sha256 } from '../crypto/primitives';
import { IntegrityError, type UnlockedAccount } from '../client/account';
import { type Api, ApiFailure } from '../client/api';
import type { Batch, LocalCache, Meta } from '../client/db';
import { KeyPair } from '../org/keys';
import { pinnedKeys } from '../org/pins';
import { type SignedDoc } from '../org/types';
import { owners, peekAcl, roleOf, verifyAcl, writers } from './acl';
import { ShareApi } from './api';
import { Directory, verifyGroup } from './directory';
import { openGrant, openName, sealName, shareKeyId } from './grant';
import { cachePins, checkAcl, recordAcl, recordRevocations, recordRoster, updateSharePins, type SharePinStore } from './pins';
import { type Invitation, setShareRing, shareRing, shareStatus, type UnlockedShare } from './ring';
import type { ShareDto, ShareRole, ShareState } from './types';

/** A share's verified state as kept in the offline cache (`Meta.shares`). */
export interface StoredShare {
  id: string;
  company_id: string;
  key_version: number;
  ak_version: number;
  /** The share key under the account key (Context::vault_key_wrap(user, share, kv, "share")). */
  key_wrap: string;
  acl: SignedDoc;
  /** The name sealed under the share key. */
  name: string;
  state: ShareState;
  role: ShareRole;
  my_groups: string[];
  owners: string[];
  writers: Record<string, string>;
  /** SHA-256 over what was verified (list, grant, name, key version): unchanged input needs no new check. */
  verified: string;
  fetched: boolean;
}

export class NoGrant extends Error {}

const wrapCtx = (user: string, share: string, kv: number) => Context.vaultKeyWrap(user, share, Math.max(0, kv), 'share');

export async function storeShare(acct: UnlockedAccount, s: UnlockedShare, verified: string): Promise<StoredShare> {
  return {
    id: s.id,
    company_id: s.companyId,
    key_version: s.keyVersion,
    ak_version: acct.akVersion,
    key_wrap: b64u(await wrapKey(acct.ak, akId(acct.userId, acct.akVersion), wrapCtx(acct.userId, s.id, s.keyVersion), s.key)),
    acl: s.aclDoc,
    name: b64u(await sealName(s.key, s.companyId, s.id, s.keyVersion, s.name)),
    state: s.state,
    role: s.role,
    my_groups: [...s.myGroups],
    owners: [...s.owners],
    writers: Object.fromEntries([...s.writers].map(([u, k]) => [u, b64u(k)])),
    verified,
    fetched: s.fetched,
  };
}

export async function unlockStored(acct: UnlockedAccount, st: StoredShare): Promise<UnlockedShare> {
  if (st.ak_version !== acct.akVersion) throw new IntegrityError('a stored share key is wrapped under an old account key');
  let key: Uint8Array;
  try {
    key = await unwrapKey(acct.ak, akId(acct.userId, acct.akVersion), wrapCtx(acct.userId, st.id, st.key_version), fromB64u(st.key_wrap));
  } catch {
    throw new IntegrityError('a stored share key does not open');
  }
  const name = await openName(key, st.company_id, st.id, st.key_version, fromB64u(st.name));
  const acl = peekAcl(st.acl);
  if (!acl) throw new IntegrityError('a stored access list is malformed');
  return {
    id: st.id,
    companyId: st.company_id,
    key,
    keyVersion: st.key_version,
    keyId: shareKeyId(st.id, st.key_version),
    acl,
    aclDoc: st.acl,
    name,
    state: st.state,
    role: st.role,
    myGroups: [...st.my_groups],
    owners: new Set(st.owners),
    writers: new Map(Object.entries(st.writers).map(([u, k]) => [u, fromB64u(k)])),
    fetched: st.fetched,
  };
}

/** Loads the verified shares of the offline cache (no server needed). */
export async function loadShares(cache: LocalCache, acct: UnlockedAccount): Promise<void> {
  const m = new Map<string, UnlockedShare>();
  for (const st of Object.values(cache.meta.shares ?? {})) {
    try {
      m.set(st.id, await unlockStored(acct, st));
    } catch {
      // Verified again at the next sync.
    }
  }
  setShareRing(acct, m);
}

export function readable(state: ShareState, expiresAt: number | null, now: number): boolean {
  if (state === 'owned') return true;
  if (state === 'accepted') return expiresAt === null || expiresAt > now;
  return false;
}

function fingerprint(d: ShareDto): string {
  const parts: Uint8Array[] = [sha256(fromB64u(d.acl.body)), sha256(fromB64u(d.acl.signature))];
  if (d.grant) parts.push(sha256(fromB64u(d.grant.sealed)), sha256(fromB64u(d.grant.signature)));
  parts.push(sha256(fromB64u(d.name)), new TextEncoder().encode(String(d.key_version)));
  return b64u(sha256(concat(...parts)));
}

/** Lazily fetched, verified organisation data for one refresh (directories, my groups' keys). */
export class Org {
  private dirs = new Map<string, Directory>();
  private groups: Map<string, KeyPair> | null = null;
  readonly api: ShareApi;

  constructor(
    api: Api,
    readonly cache: LocalCache,
    readonly account: UnlockedAccount,
    readonly pins: SharePinStore = cachePins(cache),
  ) {
    this.api = new ShareApi(api);
  }

  companyKeys(companyId: string) {
    const k = this.cache.device?.org ? pinnedKeys(this.cache.device.org, companyId) : null;
    if (!k) throw new IntegrityError(`the keys of company ${companyId} are not pinned on this browser: cannot verify its members`);
    return k;
  }

  myCompany(): string | null {
    return this.cache.device?.org?.my_company ?? null;
  }

  /** The verified directory of a company whose keys this device pinned. */
  async directory(companyId: string): Promise<Directory> {
    const have = this.dirs.get(companyId);
    if (have) return have;
    const company = this.companyKeys(companyId);
    const resp = await this.api.directory(companyId);
    const dir = Directory.verify(resp, companyId, company, this.pins.load());
    await updateSharePins(this.pins, (p) => {
      for (const g of dir.groups.values()) recordRoster(p, g.id, g.version);
      recordRevocations(p, companyId, dir.revocationsVersion);
    });
    this.dirs.set(companyId, dir);
    return dir;
  }

  /** My groups' key pairs, opened from my group grants (roster verified, keys equal, I am in it). */
  async myGroups(): Promise<Map<string, KeyPair>> {
    if (this.groups) return this.groups;
    const out = new Map<string, KeyPair>();
    let list: { group: import('../org/types').GroupDto; grant: string }[] = [];
    try {
      list = (await this.api.myGroups()).groups;
    } catch (e) {
      if (!(e instanceof ApiFailure && e.status === 404)) throw e;
    }
    const pins = this.pins.load();
    for (const mg of list) {
      const g = mg.group;
      const company = this.cache.device?.org ? pinnedKeys(this.cache.device.org, g.company_id) : null;
      if (!company) continue;
      try {
        const v = verifyGroup(company, g.company_id, g, pins);
        if (!v.members.includes(this.account.userId)) continue;
        out.set(g.id, await KeyPair.openGroupGrant(this.account.encryptionPrivate, fromB64u(mg.grant), g.id, this.account.userId, v.keys));
      } catch {
        // not usable: shares granted to this group do not open
      }
    }
    this.groups = out;
    return out;
  }

  wipe(): void {
    for (const k of this.groups?.values() ?? []) k.wipe();
  }
}

/** Verifies a served share and opens its key; pins its access list. */
export async function verifyShare(org: Org, d: ShareDto): Promise<UnlockedShare> {
  const pins = org.pins.load();
  const previous = peekAcl(pins.acls[d.id]?.doc);
  const dir = await org.directory(d.company_id);
  const body = verifyAcl(d.acl, d.id, d.company_id, dir, previous);
  checkAcl(pins, d.id, body.version, d.acl);
  if (body.key_version !== d.key_version) throw new IntegrityError(`share ${d.id}: the server's key version differs from the signed access list`);
  const me = org.account.userId;
  const viaGroups = [...dir.groups.values()].filter((g) => g.members.includes(me) && body.entries.some((e) => e.principal.kind === 'group' && e.principal.id === g.id)).map((g) => g.id);
  const role = roleOf(body, me, viaGroups);
  if (!role) throw new IntegrityError(`share ${d.id}: the signed access list does not name this user`);
  const ws = new Map<string, Uint8Array>();
  for (const w of writers(body, dir)) {
    const m = dir.members.get(w);
    if (m) ws.set(w, m.keys.signing);
  }
  const g = d.grant;
  if (!g) throw new NoGrant(`share ${d.id} has no key grant for you yet`);
  let key: Uint8Array;
  if (g.principal.kind === 'user') {
    if (g.principal.id !== me) throw new IntegrityError(`the key grant of share ${d.id} is addressed to another user`);
    key = await openGrant(g, d.id, g.principal, body, dir, org.account.encryptionPrivate);
  } else {
    if (!viaGroups.includes(g.principal.id)) throw new IntegrityError(`the key grant of share ${d.id} is for a group this user is not in`);
    const kp = (await org.myGroups()).get(g.principal.id);
    if (!kp) throw new IntegrityError(`cannot open the keys of the group that share ${d.id} is granted to`);
    key = await openGrant(g, d.id, g.principal, body, dir, kp.encryptionKey);
  }
  const name = await openName(key, d.company_id, d.id, d.key_version, fromB64u(d.name));
  await updateSharePins(org.pins, (p) => {
    checkAcl(p, d.id, body.version, d.acl);
    recordAcl(p, d.id, body.version, d.acl);
  });
  return {
    id: d.id,
    companyId: d.company_id,
    key,
    keyVersion: d.key_version,
    keyId: shareKeyId(d.id, d.key_version),
    acl: body,
    aclDoc: d.acl,
    name,
    state: d.state,
    role,
    myGroups: viaGroups,
    owners: owners(body),
    writers: ws,
    fetched: false,
  };
}

export interface RefreshReport {
  added: string[];
  dropped: string[];
  refused: [string, string][];
}

/**
 * Brings the account's shares in line with the server: verifies new or changed shares, stores
 * them (key wrapped, name sealed), drops those no longer readable (their cached objects and
 * queued changes with them). Never throws for one bad share: it is reported and skipped.
 */
export async function refreshShares(cache: LocalCache, api: Api, acct: UnlockedAccount, now: number): Promise<RefreshReport> {
  const report: RefreshReport = { added: [], dropped: [], refused: [] };
  const org = new Org(api, cache, acct);
  let served: ShareDto[];
  try {
    served = (await org.api.shares()).shares;
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 404) served = [];
    else throw e;
  }
  const ring = shareRing(acct);
  const stored = cache.meta.shares ?? {};
  const keep = new Map<string, UnlockedShare>();
  const writes: Record<string, StoredShare> = {};
  const invitations: Invitation[] = [];
  try {
    for (const d of served) {
      if (d.state === 'invited') {
        invitations.push(await describeInvitation(org, d));
        continue;
      }
      if (!readable(d.state, d.expires_at, now)) continue;
      const fp = fingerprint(d);
      const st = stored[d.id];
      if (st && st.verified === fp && st.state === d.state) {
        const have = ring.get(d.id);
        if (have) {
          keep.set(d.id, have);
          continue;
        }
        try {
          keep.set(d.id, await unlockStored(acct, st));
          continue;
        } catch {
          // verify again below
        }
      }
      try {
        const s = await verifyShare(org, d);
        s.fetched = !!st && st.fetched && st.key_version === s.keyVersion;
        if (!st) report.added.push(d.id);
        // Expired for everyone but owners: the signed list's expiry counts too.
        if (s.role !== 'owner' && s.acl.expires_at !== null && s.acl.expires_at <= now) continue;
        writes[d.id] = await storeShare(acct, s, fp);
        keep.set(d.id, s);
      } catch (e) {
        if (e instanceof NoGrant) continue;
        if (e instanceof IntegrityError) {
          report.refused.push([d.id, e.message]);
          // Keep the last verified copy (if any) rather than anything unverified.
          const have = ring.get(d.id);
          if (have) keep.set(d.id, have);
          continue;
        }
        throw e;
      }
    }
  } finally {
    org.wipe();
  }
  const nextStored: Record<string, StoredShare> = {};
  for (const id of keep.keys()) nextStored[id] = writes[id] ?? stored[id];
  for (const id of Object.keys(stored)) if (!keep.has(id)) report.dropped.push(id);
  const batch: Batch = {};
  const meta: Meta = { ...cache.meta, shares: nextStored, vaults: { ...cache.meta.vaults } };
  if (report.dropped.length) {
    const gone = new Set(report.dropped);
    batch.deleteObjects = [...cache.objects.values()].filter((o) => gone.has(o.dto.vault_id)).map((o) => o.dto.id);
    batch.deletePending = cache.pendingOps().filter((p) => gone.has(p.target?.vault_id ?? p.base?.vault_id ?? '')).map((p) => p.object_id);
    for (const id of gone) delete meta.vaults[id];
  }
  if (report.dropped.length || Object.keys(writes).length || JSON.stringify(Object.keys(stored).sort()) !== JSON.stringify([...keep.keys()].sort())) {
    batch.meta = meta;
    await cache.apply(batch);
  }
  setShareRing(acct, keep);
  shareStatus(acct).value = {
    invitations,
    served,
    warnings: report.refused.map(([id, m]) => `Share ${id} was skipped: ${m}`),
  };
  return report;
}

/** An invitation, verified as far as it goes (name and owners), without storing anything. */
async function describeInvitation(org: Org, d: ShareDto): Promise<Invitation> {
  const inv: Invitation = { id: d.id, name: null, role: d.role, owners: [], problem: null, expiresAt: d.expires_at };
  try {
    const s = await verifyShare(org, d);
    const dir = await org.directory(d.company_id);
    inv.name = s.name;
    inv.role = s.role;
    inv.expiresAt = s.acl.expires_at;
    inv.owners = [...s.owners].map((u) => dir.principalName('user', u));
    s.key.fill(0);
  } catch (e) {
    inv.problem = (e as Error).message;
  }
  return inv;
}

/** Marks shares as fully fetched in a meta about to be written. */
export function markFetched(acct: UnlockedAccount, meta: Meta, ids: string[]): void {
  if (!ids.length) return;
  const shares = { ...(meta.shares ?? {}) };
  for (const id of ids) {
    if (shares[id]) shares[id] = { ...shares[id], fetched: true };
    const s = shareRing(acct).get(id);
    if (s) s.fetched = true;
  }
  meta.shares = shares;
}

/** Marks a share to be fetched in full again (after it failed verification in a pull). */
export function markUnfetched(acct: UnlockedAccount, meta: Meta, id: string): void {
  const shares = { ...(meta.shares ?? {}) };
  if (shares[id]) shares[id] = { ...shares[id], fetched: false };
  meta.shares = shares;
  const s = shareRing(acct).get(id);
  if (s) s.fetched = false;
}
