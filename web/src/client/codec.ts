// Sealing and opening of items and folders (crates/castellan-client/src/vault.rs `codec`). Every
// context is rebuilt from what the client expects, never copied from a server field.
import { b64u, dec, fromB64u, i64be, randomBytes, utf8, uuidBytes } from '../crypto/bytes';
import { Context, open, seal, unwrapKey, wrapKey } from '../crypto/envelope';
import { CryptoError } from '../crypto/errors';
import { itemKeyId } from '../crypto/keyids';
import { sha256 } from '../crypto/primitives';
import { setElement } from '../crypto/sethash';
import { type FolderData, folderJson, parseFolderData } from '../model/folder';
import { type ItemData, type ItemOverview, itemDataJson, overviewJson, overviewOf, parseItemData, parseOverview, SCHEMA_VERSION } from '../model/item';
import { IntegrityError, type UnlockedAccount, type UnlockedVault } from './account';
import type { ObjectDto, VaultKind } from './types';
import { shareRing, type UnlockedShare } from '../share/ring';

export const NIL = '00000000-0000-0000-0000-000000000000';
const ITEM_KEY_VERSION = 1;

export interface ItemEntry {
  id: string;
  vaultId: string;
  profile: VaultKind;
  version: number;
  trashed: boolean;
  overview: ItemOverview;
  /** The share the item lives in (null: one of the account's own vaults). */
  shareId?: string | null;
}

export interface FolderEntry {
  id: string;
  vaultId: string;
  profile: VaultKind;
  version: number;
  data: FolderData;
  shareId?: string | null;
}

/**
 * The vault an object lives in: one of the account's own, or a verified share
 * (crates/castellan-client/src/vault.rs `VaultRef`). Contexts of share objects carry the company
 * id as org_id, the share id as vault_id and the writer as author_id.
 */
export interface VaultRef {
  id: string;
  key: Uint8Array;
  keyId: string;
  keyVersion: number;
  /** The organisation field of the contexts: nil for own vaults, the company for shares. */
  org: string;
  /** Shares are company data: shown with the Business profile. */
  profile: VaultKind;
  share: UnlockedShare | null;
}

export function ownRef(v: UnlockedVault): VaultRef {
  return { id: v.id, key: v.key, keyId: v.keyId, keyVersion: v.keyVersion, org: NIL, profile: v.kind, share: null };
}

export function shareRef(s: UnlockedShare): VaultRef {
  return { id: s.id, key: s.key, keyId: s.keyId, keyVersion: s.keyVersion, org: s.companyId, profile: 'business', share: s };
}

export function vaultFor(acct: UnlockedAccount, id: string): VaultRef {
  const v = acct.vaults.find((x) => x.id === id);
  if (v) return ownRef(v);
  const s = shareRing(acct).get(id);
  if (s) return shareRef(s);
  throw new IntegrityError(`object in unknown vault ${id}`);
}

/** Who wrote an object, as its contexts name it: me in my own vaults; in a share, the author the server recorded. */
function authorOf(acct: UnlockedAccount, vault: VaultRef, o: ObjectDto): string {
  if (!vault.share) return acct.userId;
  if (!o.author_id) throw new IntegrityError(`share object ${o.id} has no author`);
  return o.author_id;
}

async function guard<T>(id: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CryptoError) throw new IntegrityError(`object ${id} failed verification: ${e.message}`);
    throw e;
  }
}

function itemCtx(org: string, author: string, overview: boolean, vaultId: string, itemId: string, version: number): Context {
  const v = Math.max(0, version);
  return overview ? Context.itemOverview(org, vaultId, itemId, v, SCHEMA_VERSION, author) : Context.itemDetails(org, vaultId, itemId, v, SCHEMA_VERSION, author);
}

async function itemKey(vault: VaultRef, o: ObjectDto): Promise<Uint8Array> {
  return unwrapKey(vault.key, vault.keyId, Context.itemKeyWrap(vault.org, vault.id, o.id, vault.keyVersion, ITEM_KEY_VERSION), fromB64u(o.key_wrap));
}

function json(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(dec.decode(bytes));
  } catch {
    throw new IntegrityError(what);
  }
}

export async function openOverview(acct: UnlockedAccount, o: ObjectDto): Promise<ItemEntry> {
  const vault = vaultFor(acct, o.vault_id);
  return guard(o.id, (async () => {
    const author = authorOf(acct, vault, o);
    const key = await itemKey(vault, o);
    const pt = await open(key, itemKeyId(o.id, ITEM_KEY_VERSION), itemCtx(vault.org, author, true, o.vault_id, o.id, o.version), fromB64u(o.overview));
    key.fill(0);
    let overview: ItemOverview;
    try {
      overview = parseOverview(json(pt, `item ${o.id} has an unreadable overview`));
    } catch {
      throw new IntegrityError(`item ${o.id} has an unreadable overview`);
    }
    if (overview.trashed !== o.trashed) throw new IntegrityError(`item ${o.id}: the server's trash flag disagrees with the encrypted item`);
    return { id: o.id, vaultId: o.vault_id, profile: vault.profile, version: o.version, trashed: o.trashed, overview, shareId: vault.share?.id ?? null };
  })());
}

export async function openDetails(acct: UnlockedAccount, o: ObjectDto): Promise<{ data: ItemData; key: Uint8Array }> {
  const vault = vaultFor(acct, o.vault_id);
  return guard(o.id, (async () => {
    const author = authorOf(acct, vault, o);
    const key = await itemKey(vault, o);
    const pt = await open(key, itemKeyId(o.id, ITEM_KEY_VERSION), itemCtx(vault.org, author, false, o.vault_id, o.id, o.version), fromB64u(o.details));
    let data: ItemData;
    try {
      data = parseItemData(json(pt, `item ${o.id} has unreadable details`));
    } catch {
      throw new IntegrityError(`item ${o.id} has unreadable details`);
    } finally {
      pt.fill(0);
    }
    return { data, key };
  })());
}

export async function openFolder(acct: UnlockedAccount, o: ObjectDto): Promise<FolderEntry> {
  const vault = vaultFor(acct, o.vault_id);
  return guard(o.id, (async () => {
    if (vault.share) authorOf(acct, vault, o);
    const pt = await open(vault.key, vault.keyId, Context.folderMetadata(vault.org, vault.id, o.id, Math.max(0, o.version)), fromB64u(o.overview));
    let data: FolderData;
    try {
      data = parseFolderData(json(pt, `folder ${o.id} is unreadable`));
    } catch {
      throw new IntegrityError(`folder ${o.id} is unreadable`);
    }
    return { id: o.id, vaultId: o.vault_id, profile: vault.profile, version: o.version, data, shareId: vault.share?.id ?? null };
  })());
}

function asRef(vault: UnlockedVault | VaultRef): VaultRef {
  return 'org' in vault ? vault : ownRef(vault);
}

/**
 * Seals an item for `version` in a vault. In a share the author is me, except when an owner
 * re-wraps a share's objects at a key rotation: their authors stay (`author`).
 */
export async function sealItem(acct: UnlockedAccount, target: UnlockedVault | VaultRef, itemId: string, key: Uint8Array, version: number, data: ItemData, author: string = acct.userId): Promise<{ keyWrap: Uint8Array; overview: Uint8Array; details: Uint8Array }> {
  const vault = asRef(target);
  const keyWrap = await wrapKey(vault.key, vault.keyId, Context.itemKeyWrap(vault.org, vault.id, itemId, vault.keyVersion, ITEM_KEY_VERSION), key);
  const kid = itemKeyId(itemId, ITEM_KEY_VERSION);
  const ov = utf8(overviewJson(overviewOf(data)));
  const det = utf8(itemDataJson(data));
  const overview = await seal(key, kid, itemCtx(vault.org, author, true, vault.id, itemId, version), ov);
  const details = await seal(key, kid, itemCtx(vault.org, author, false, vault.id, itemId, version), det);
  det.fill(0);
  return { keyWrap, overview, details };
}

export async function sealFolder(target: UnlockedVault | VaultRef, id: string, version: number, data: FolderData): Promise<Uint8Array> {
  const vault = asRef(target);
  return seal(vault.key, vault.keyId, Context.folderMetadata(vault.org, vault.id, id, Math.max(0, version)), utf8(folderJson(data)));
}

export function newItemKey(): Uint8Array {
  return randomBytes(32);
}

/** The manifest set element of one object's state (crates/castellan-client/src/manifest.rs); share objects append their author. */
export function elementBytes(o: ObjectDto): Uint8Array {
  const b = new Uint8Array(16 + 1 + 8 + 1 + 96 + (o.author_id ? 16 : 0));
  b.set(uuidBytes(o.id), 0);
  b[16] = o.kind === 'item' ? 1 : 2;
  b.set(i64be(o.version), 17);
  b[25] = o.trashed ? 1 : 0;
  b.set(sha256(fromB64u(o.key_wrap)), 26);
  b.set(sha256(fromB64u(o.overview)), 58);
  b.set(sha256(fromB64u(o.details)), 90);
  if (o.author_id) b.set(uuidBytes(o.author_id), 122);
  return b;
}

export function element(o: ObjectDto): string {
  return b64u(setElement(elementBytes(o)));
}
