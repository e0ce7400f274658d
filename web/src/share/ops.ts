// The share operations of an unlocked browser vault (crates/castellan-client/src/share/ops.rs):
// create, recipients and roles (with key rotation when someone loses access), expiry, accept,
// decline. Keys are sealed only to keys of the verified company directory; every new access list
// is signed by me as an owner; the client refuses what my role does not allow before asking the
// server (which refuses it too).
import { b64u, ctEq, fromB64u, randomBytes, uuidV4 } from '../crypto/bytes';
import { SetHash } from '../crypto/sethash';
import { IntegrityError } from '../client/account';
import { element, newItemKey, openDetails, openFolder, sealFolder, sealItem, shareRef } from '../client/codec';
import { signShareManifest } from '../client/manifest';
import { now } from '../client/sync';
import type { ObjectDto } from '../client/types';
import type { VaultClient } from '../client/vault';
import { checkFolderName } from '../model/folder';
import { cloneItem, type ItemData } from '../model/item';
import { canWrite, checkShape, entryOf, owners, roleLabel, samePrincipal, signAcl, writers } from './acl';
import { Directory, ShareError } from './directory';
import { sealGrant, sealName, sealNameForAdmins, shareKeyId } from './grant';
import { recordAcl, updateSharePins } from './pins';
import { shareRing, type UnlockedShare } from './ring';
import { Org, storeShare } from './sync';
import type { AclEntry, Principal, RewrappedObjectDto, ShareAclBody, ShareGrantDto, ShareRole } from './types';

export interface RecipientChoice {
  principal: Principal;
  role: ShareRole;
}

function requireOwner(s: UnlockedShare): void {
  if (s.role !== 'owner') throw new ShareError(`You are ${roleLabel(s.role).toLowerCase()} in the shared folder "${s.name}": only its owners can change recipients, roles or expiry.`);
}

function org(client: VaultClient): Org {
  return new Org(client.api, client.cache, client.account);
}

/** My company, and the verified directory to pick recipients from. */
export async function myDirectory(client: VaultClient): Promise<Directory> {
  const o = org(client);
  const cid = o.myCompany();
  if (!cid) throw new ShareError('Sharing is between members of a company: join one first.');
  return o.directory(cid);
}

/** Signs a new list after checking it and that my certificate names my account's key. */
function signMine(client: VaultClient, dir: Directory, body: ShareAclBody) {
  checkShape(body, body.share_id, body.company_id);
  const mine = dir.member(client.account.userId);
  if (!ctEq(mine.keys.signing, client.account.signingPublic)) throw new IntegrityError("your member certificate names another signing key than your account's");
  return signAcl(client.account.signingSeed, body);
}

async function grantsFor(client: VaultClient, dir: Directory, shareId: string, key: Uint8Array, keyVersion: number, principals: Principal[]): Promise<ShareGrantDto[]> {
  const out: ShareGrantDto[] = [];
  for (const p of principals) out.push(await sealGrant(client.account.signingSeed, client.account.userId, shareId, key, keyVersion, p, dir.principalKeys(p.kind, p.id)));
  return out;
}

function writerKeys(body: ShareAclBody, dir: Directory): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const w of writers(body, dir)) {
    const mem = dir.members.get(w);
    if (mem) m.set(w, mem.keys.signing);
  }
  return m;
}

async function remember(client: VaultClient, s: UnlockedShare, vaultState?: { counter: number; manifest: string; count: number; set_hash: string }): Promise<void> {
  const st = await storeShare(client.account, s, '');
  const meta = { ...client.cache.meta, shares: { ...(client.cache.meta.shares ?? {}), [s.id]: st }, vaults: { ...client.cache.meta.vaults } };
  if (vaultState) meta.vaults[s.id] = vaultState;
  await client.cache.apply({ meta });
  const ring = shareRing(client.account);
  const old = ring.get(s.id);
  ring.set(s.id, s);
  if (old && old !== s) old.key.fill(0);
}

export interface CreateShareInput {
  name: string;
  /** Business items to move into the share. */
  items: string[];
  /** A Business folder to move in (with its subfolders and items), or null. */
  folder: string | null;
  recipients: RecipientChoice[];
  expiresAt: number | null;
}

/**
 * Creates a share: key, access list version 1 (me as owner, the recipients), grants, name,
 * manifest; then moves the items and folder in (new ids and item keys under the share key; the
 * originals are deleted once the copies are queued).
 */
export async function createShare(client: VaultClient, input: CreateShareInput): Promise<string> {
  const name = checkFolderName(input.name);
  const ring = shareRing(client.account);
  if ([...ring.values()].some((s) => s.name === name)) throw new ShareError(`You already have a shared folder named "${name}".`);
  const dir = await myDirectory(client);
  const cid = dir.companyId;
  const me = client.account.userId;
  const entries: AclEntry[] = [{ principal: { kind: 'user', id: me }, role: 'owner' }];
  for (const r of input.recipients) {
    if (r.principal.kind === 'user' && r.principal.id === me) continue;
    if (r.role === 'owner' && r.principal.kind === 'group') throw new ShareError(`${dir.principalName('group', r.principal.id)} cannot be an owner: only users can own a share.`);
    if (entries.some((e) => samePrincipal(e.principal, r.principal))) throw new ShareError(`${dir.principalName(r.principal.kind, r.principal.id)} is listed twice.`);
    dir.principalKeys(r.principal.kind, r.principal.id);
    entries.push({ principal: { ...r.principal }, role: r.role });
  }
  const sid = uuidV4();
  const key = randomBytes(32);
  const body: ShareAclBody = { share_id: sid, company_id: cid, version: 1, key_version: 1, entries, expires_at: input.expiresAt, issued_at: now(), signer: { kind: 'member', user_id: me } };
  const doc = signMine(client, dir, body);
  const grants = await grantsFor(client, dir, sid, key, 1, entries.map((e) => e.principal));
  const empty = SetHash.empty().toBytes();
  const manifest = b64u(signShareManifest(client.account.signingSeed, me, sid, 1, 0, empty));
  await org(client).api.create({
    share_id: sid,
    company_id: cid,
    acl: doc,
    name: b64u(await sealName(key, cid, sid, 1, name)),
    name_for_admins: b64u(await sealNameForAdmins(dir.company, cid, sid, name)),
    grants,
    manifest: { vault_id: sid, counter: 1, manifest },
  });
  await updateSharePins(org(client).pins, (p) => recordAcl(p, sid, 1, doc));
  const share: UnlockedShare = {
    id: sid,
    companyId: cid,
    key,
    keyVersion: 1,
    keyId: shareKeyId(sid, 1),
    acl: body,
    aclDoc: doc,
    name,
    state: 'owned',
    role: 'owner',
    myGroups: [],
    owners: owners(body),
    writers: writerKeys(body, dir),
    fetched: true,
  };
  await remember(client, share, { counter: 1, manifest, count: 0, set_hash: b64u(empty) });
  await moveIntoShare(client, share, input.items, input.folder);
  await client.refresh();
  await client.sync();
  return sid;
}

/** Moves Business items (and a folder with its subtree) into a share. Returns the number of items. */
async function moveIntoShare(client: VaultClient, share: UnlockedShare, itemIds: string[], folderId: string | null): Promise<number> {
  const me = client.account.userId;
  const target = shareRef(share);
  const view = client.view();
  const folderMap = new Map<string, string>();
  const changes: [string, ObjectDto | null][] = [];
  const movedFolders: string[] = [];
  if (folderId) {
    // The folder and its subfolders, parents first.
    const all = client.folders.value.filter((f) => !f.shareId);
    const order: string[] = [folderId];
    for (let i = 0; i < order.length; i++) for (const f of all) if (f.data.parent_id === order[i]) order.push(f.id);
    for (const fid of order) {
      const f = all.find((x) => x.id === fid);
      if (!f) throw new ShareError('no such folder');
      if (f.profile !== 'business') throw new ShareError('only Business folders can be shared');
      const nid = uuidV4();
      folderMap.set(fid, nid);
      const data = { name: f.data.name, parent_id: fid === folderId ? null : (folderMap.get(f.data.parent_id ?? '') ?? null) };
      const ts = now();
      changes.push([nid, { id: nid, vault_id: share.id, kind: 'folder', version: 1, trashed: false, key_wrap: '', overview: b64u(await sealFolder(target, nid, 1, data)), details: '', created_at: ts, updated_at: ts, seq: 0, author_id: me }]);
      movedFolders.push(fid);
    }
  }
  const ids = new Set(itemIds);
  for (const i of client.items.value) if (!i.shareId && i.overview.folder_id && folderMap.has(i.overview.folder_id)) ids.add(i.id);
  const originals: string[] = [];
  for (const id of ids) {
    const o = view.get(id);
    if (!o || o.kind !== 'item') throw new ShareError(`no item ${id}`);
    if (shareRing(client.account).has(o.vault_id)) throw new ShareError('an item is already in a shared folder');
    if (client.profileOf(o.vault_id) !== 'business') throw new ShareError('only Business items can be shared; move Personal items to Business first');
    const { data: cur, key: oldKey } = await openDetails(client.account, o);
    oldKey.fill(0);
    const data = cloneItem(cur);
    data.folder_id = data.folder_id ? (folderMap.get(data.folder_id) ?? null) : null;
    const nid = uuidV4();
    const k = newItemKey();
    const s = await sealItem(client.account, target, nid, k, 1, data);
    k.fill(0);
    const ts = now();
    changes.push([nid, { id: nid, vault_id: share.id, kind: 'item', version: 1, trashed: data.trashed, key_wrap: b64u(s.keyWrap), overview: b64u(s.overview), details: b64u(s.details), created_at: ts, updated_at: ts, seq: 0, author_id: me }]);
    originals.push(id);
  }
  for (const id of originals) changes.push([id, null]);
  for (const id of movedFolders.reverse()) changes.push([id, null]);
  await client.queueChanges(changes);
  return originals.length;
}

/** Adds Business items to a share I own or edit. */
export async function addItems(client: VaultClient, shareId: string, itemIds: string[]): Promise<number> {
  const s = shareRing(client.account).get(shareId);
  if (!s) throw new ShareError('no such shared folder');
  if (!canWrite(s.role)) throw new ShareError(`You are ${roleLabel(s.role).toLowerCase()} in "${s.name}".`);
  const n = await moveIntoShare(client, s, itemIds, null);
  await client.refresh();
  await client.sync();
  return n;
}

/** Adds Business items and/or a Business folder (with its subtree) to a share I own or edit (`share add-items`). */
export async function addToShare(client: VaultClient, shareId: string, itemIds: string[], folderId: string | null): Promise<number> {
  await client.sync();
  const s = current(client, shareId);
  if (!canWrite(s.role)) throw new ShareError(`You are ${roleLabel(s.role).toLowerCase()} in "${s.name}": only its owners and editors can add items.`);
  if (itemIds.length === 0 && !folderId) throw new ShareError('Choose the Business items or folder to add.');
  const n = await moveIntoShare(client, s, itemIds, folderId);
  await client.refresh();
  await client.sync();
  return n;
}

function businessVault(client: VaultClient) {
  const v = client.account.vaults.find((x) => x.kind === 'business');
  if (!v) throw new IntegrityError('the Business vault is missing');
  return v;
}

/**
 * Moves items out of a share back to my Business profile (`share remove-items`; owners and
 * editors): a copy with a new id and item key in Business (at its top level), the share's copy
 * deleted. Recipients keep what they already synced, as with every removal.
 */
export async function removeFromShare(client: VaultClient, shareId: string, itemIds: string[]): Promise<number> {
  await client.sync();
  const s = current(client, shareId);
  if (!canWrite(s.role)) throw new ShareError(`You are ${roleLabel(s.role).toLowerCase()} in "${s.name}": only its owners and editors can remove items.`);
  const business = businessVault(client);
  const view = client.view();
  const changes: [string, ObjectDto | null][] = [];
  for (const id of itemIds) {
    const o = view.get(id);
    if (!o || o.kind !== 'item') throw new ShareError(`no item ${id}`);
    const entry = client.items.value.find((i) => i.id === id);
    if (o.vault_id !== s.id) throw new ShareError(`the item "${entry?.overview.title ?? id}" is not in the shared folder "${s.name}"`);
    const { data: cur, key: oldKey } = await openDetails(client.account, o);
    oldKey.fill(0);
    const data = cloneItem(cur);
    data.folder_id = null;
    changes.push(await businessItem(client, business, data), [id, null]);
  }
  await client.queueChanges(changes);
  await client.refresh();
  await client.sync();
  return itemIds.length;
}

async function businessItem(client: VaultClient, business: ReturnType<typeof businessVault>, data: ItemData): Promise<[string, ObjectDto]> {
  const nid = uuidV4();
  const k = newItemKey();
  const sealed = await sealItem(client.account, business, nid, k, 1, data);
  k.fill(0);
  const ts = now();
  return [nid, { id: nid, vault_id: business.id, kind: 'item', version: 1, trashed: data.trashed, key_wrap: b64u(sealed.keyWrap), overview: b64u(sealed.overview), details: b64u(sealed.details), created_at: ts, updated_at: ts, seq: 0 }];
}

async function businessFolder(business: ReturnType<typeof businessVault>, id: string, data: { name: string; parent_id: string | null }): Promise<[string, ObjectDto]> {
  const ts = now();
  return [id, { id, vault_id: business.id, kind: 'folder', version: 1, trashed: false, key_wrap: '', overview: b64u(await sealFolder(business, id, 1, data)), details: '', created_at: ts, updated_at: ts, seq: 0 }];
}

/**
 * Deletes a share I own (`share rm`): its items come back to my Business profile first, under a
 * Business folder named after the share (found or made), its subfolders as folders under it.
 * The share is deleted on the server only once those copies are saved. Returns the number of items.
 */
export async function deleteShare(client: VaultClient, shareId: string): Promise<number> {
  await client.sync();
  const s = current(client, shareId);
  requireOwner(s);
  const business = businessVault(client);
  const changes: [string, ObjectDto | null][] = [];
  const existing = client.folders.value.find((f) => !f.shareId && f.profile === 'business' && f.data.parent_id === null && f.data.name === s.name);
  let root = existing?.id;
  if (!root) {
    root = uuidV4();
    changes.push(await businessFolder(business, root, { name: s.name, parent_id: null }));
  }
  const shareFolders = client.folders.value.filter((f) => f.shareId === s.id);
  const depth = (id: string | null): number => {
    let d = 0;
    for (let cur = id; cur && d < 64; d++) cur = shareFolders.find((f) => f.id === cur)?.data.parent_id ?? null;
    return d;
  };
  const map = new Map<string, string>();
  for (const f of [...shareFolders].sort((a, b) => depth(a.id) - depth(b.id))) {
    const nid = uuidV4();
    map.set(f.id, nid);
    changes.push(await businessFolder(business, nid, { name: f.data.name, parent_id: (f.data.parent_id ? map.get(f.data.parent_id) : undefined) ?? root }));
  }
  const view = client.view();
  let n = 0;
  for (const o of view.values()) {
    if (o.vault_id !== s.id || o.kind !== 'item') continue;
    const { data: cur, key: oldKey } = await openDetails(client.account, o);
    oldKey.fill(0);
    const data = cloneItem(cur);
    data.folder_id = (data.folder_id ? map.get(data.folder_id) : undefined) ?? root;
    changes.push(await businessItem(client, business, data));
    n++;
  }
  await client.queueChanges(changes);
  await client.refresh();
  await client.sync();
  const ours = new Set(changes.map(([id]) => id));
  if (!client.reachable.value || client.cache.pendingOps().some((p) => ours.has(p.object_id))) {
    throw new ShareError(`The items of "${s.name}" could not be saved to your Business profile yet (${client.lastError.value ?? 'offline'}); the shared folder was not deleted. Try again when the sync succeeds.`);
  }
  await org(client).api.remove(s.id);
  await client.sync();
  return n;
}

function current(client: VaultClient, shareId: string): UnlockedShare {
  const s = shareRing(client.account).get(shareId);
  if (!s) throw new ShareError('no such shared folder (it may have been removed)');
  return s;
}

/** Sends the next access list (version + 1) with grants for the principals it adds. */
async function nextAcl(client: VaultClient, s: UnlockedShare, dir: Directory, entries: AclEntry[], expiresAt: number | null): Promise<void> {
  const body: ShareAclBody = { share_id: s.id, company_id: s.companyId, version: s.acl.version + 1, key_version: s.keyVersion, entries, expires_at: expiresAt, issued_at: now(), signer: { kind: 'member', user_id: client.account.userId } };
  const doc = signMine(client, dir, body);
  const added = entries.map((e) => e.principal).filter((p) => !entryOf(s.acl, p));
  const grants = await grantsFor(client, dir, s.id, s.key, s.keyVersion, added);
  await org(client).api.updateAcl(s.id, { acl: doc, grants });
  await client.sync();
}

export async function addRecipient(client: VaultClient, shareId: string, p: Principal, role: ShareRole): Promise<void> {
  await client.sync();
  const s = current(client, shareId);
  requireOwner(s);
  const dir = await myDirectory(client);
  dir.principalKeys(p.kind, p.id);
  if (entryOf(s.acl, p)) throw new ShareError(`${dir.principalName(p.kind, p.id)} is already a recipient; change their role instead.`);
  if (role === 'owner' && p.kind === 'group') throw new ShareError('Only users can own a share.');
  await nextAcl(client, s, dir, [...s.acl.entries, { principal: p, role }], s.acl.expires_at);
}

export async function setRole(client: VaultClient, shareId: string, p: Principal, role: ShareRole): Promise<void> {
  await client.sync();
  const s = current(client, shareId);
  requireOwner(s);
  const dir = await myDirectory(client);
  const old = entryOf(s.acl, p);
  if (!old) throw new ShareError(`${dir.principalName(p.kind, p.id)} is not a recipient of "${s.name}".`);
  if (role === 'owner' && p.kind === 'group') throw new ShareError('Only users can own a share.');
  const entries = s.acl.entries.map((e) => (samePrincipal(e.principal, p) ? { principal: e.principal, role } : e));
  if (owners({ ...s.acl, entries }).size === 0) throw new ShareError('A share needs at least one owner.');
  // A writer who loses the right to write: rotate, so the manifest is signed by a writer again.
  if (canWrite(old.role) && !canWrite(role)) await rotate(client, s, dir, entries, s.acl.expires_at);
  else await nextAcl(client, s, dir, entries, s.acl.expires_at);
}

export async function setExpiry(client: VaultClient, shareId: string, at: number | null): Promise<void> {
  await client.sync();
  const s = current(client, shareId);
  requireOwner(s);
  const dir = await myDirectory(client);
  await nextAcl(client, s, dir, s.acl.entries, at);
}

/** Removes a principal and rotates the share key. Returns the titles of the items they could read. */
export async function removeRecipient(client: VaultClient, shareId: string, p: Principal): Promise<string[]> {
  await client.sync();
  const s = current(client, shareId);
  requireOwner(s);
  const dir = await myDirectory(client);
  if (!entryOf(s.acl, p)) throw new ShareError(`${dir.principalName(p.kind, p.id)} is not a recipient of "${s.name}".`);
  const entries = s.acl.entries.filter((e) => !samePrincipal(e.principal, p));
  if (owners({ ...s.acl, entries }).size === 0) throw new ShareError('A share needs at least one owner; add another owner first.');
  const exposed = client.items.value.filter((i) => i.shareId === s.id && !i.trashed).map((i) => i.overview.title);
  await rotate(client, s, dir, entries, s.acl.expires_at);
  return exposed;
}

/**
 * New access list and key version, every object of the share re-sealed under new item keys
 * wrapped with the new share key (authors kept), grants for every principal, name and manifest,
 * in one request (POST /shares/{id}/rotate).
 */
async function rotate(client: VaultClient, s: UnlockedShare, dir: Directory, entries: AclEntry[], expiresAt: number | null): Promise<void> {
  if (client.cache.pendingOps().some((op) => (op.target ?? op.base)?.vault_id === s.id)) throw new ShareError('Changes to this shared folder are still waiting to be sent; wait for the sync and try again.');
  const me = client.account.userId;
  const keyVersion = s.keyVersion + 1;
  const body: ShareAclBody = { share_id: s.id, company_id: s.companyId, version: s.acl.version + 1, key_version: keyVersion, entries, expires_at: expiresAt, issued_at: now(), signer: { kind: 'member', user_id: me } };
  const doc = signMine(client, dir, body);
  const next: UnlockedShare = { ...s, key: randomBytes(32), keyVersion, keyId: shareKeyId(s.id, keyVersion), acl: body, aclDoc: doc, owners: owners(body), writers: writerKeys(body, dir), fetched: false };
  const target = shareRef(next);
  const objects = [...client.cache.objects.values()].map((o) => o.dto).filter((o) => o.vault_id === s.id);
  const set = SetHash.empty();
  const rewrapped: RewrappedObjectDto[] = [];
  for (const o of objects) {
    const version = o.version + 1;
    if (!o.author_id) throw new IntegrityError(`share object ${o.id} has no author`);
    let kw = '';
    let ov: string;
    let det = '';
    if (o.kind === 'item') {
      const { data, key: oldKey } = await openDetails(client.account, o);
      oldKey.fill(0);
      const k = newItemKey();
      const sealed = await sealItem(client.account, target, o.id, k, version, data, o.author_id);
      k.fill(0);
      kw = b64u(sealed.keyWrap);
      ov = b64u(sealed.overview);
      det = b64u(sealed.details);
    } else {
      const f = await openFolder(client.account, o);
      ov = b64u(await sealFolder(target, o.id, version, f.data));
    }
    set.add(fromB64u(element({ ...o, version, key_wrap: kw, overview: ov, details: det })));
    rewrapped.push({ id: o.id, expected_version: o.version, key_wrap: kw, overview: ov, details: det });
  }
  const counter = client.cache.vaultState(s.id).counter + 1;
  const manifest = b64u(signShareManifest(client.account.signingSeed, me, s.id, counter, objects.length, set.toBytes()));
  const grants = await grantsFor(client, dir, s.id, next.key, keyVersion, entries.map((e) => e.principal));
  await org(client).api.rotate(s.id, {
    acl: doc,
    name: b64u(await sealName(next.key, s.companyId, s.id, keyVersion, s.name)),
    name_for_admins: b64u(await sealNameForAdmins(dir.company, s.companyId, s.id, s.name)),
    objects: rewrapped,
    grants,
    manifest: { vault_id: s.id, counter, manifest },
  });
  await updateSharePins(org(client).pins, (p) => recordAcl(p, s.id, body.version, doc));
  // The next sync fetches the re-wrapped share in full under the new key.
  await remember(client, next);
  await client.sync();
}

export async function acceptShare(client: VaultClient, shareId: string): Promise<void> {
  await org(client).api.accept(shareId);
  await client.sync();
}

export async function declineShare(client: VaultClient, shareId: string): Promise<void> {
  await org(client).api.decline(shareId);
  await client.sync();
}

/** A recipient's view of a share's list, named from the verified directory. */
export interface RecipientView {
  principal: Principal;
  name: string;
  role: ShareRole;
  me: boolean;
}

export async function recipients(client: VaultClient, shareId: string): Promise<{ dir: Directory; list: RecipientView[] }> {
  const s = current(client, shareId);
  const dir = await new Org(client.api, client.cache, client.account).directory(s.companyId);
  return {
    dir,
    list: s.acl.entries.map((e) => ({ principal: e.principal, name: dir.principalName(e.principal.kind, e.principal.id), role: e.role, me: e.principal.kind === 'user' && e.principal.id === client.account.userId })),
  };
}
