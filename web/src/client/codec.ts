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

export const NIL = '00000000-0000-0000-0000-000000000000';
const ITEM_KEY_VERSION = 1;

export interface ItemEntry {
  id: string;
  vaultId: string;
  profile: VaultKind;
  version: number;
  trashed: boolean;
  overview: ItemOverview;
}

export interface FolderEntry {
  id: string;
  vaultId: string;
  profile: VaultKind;
  version: number;
  data: FolderData;
}

function vaultFor(acct: UnlockedAccount, id: string): UnlockedVault {
  const v = acct.vaults.find((x) => x.id === id);
  if (!v) throw new IntegrityError(`object in unknown vault ${id}`);
  return v;
}

async function guard<T>(id: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CryptoError) throw new IntegrityError(`object ${id} failed verification: ${e.message}`);
    throw e;
  }
}

function itemCtx(acct: UnlockedAccount, overview: boolean, vaultId: string, itemId: string, version: number): Context {
  const v = Math.max(0, version);
  return overview ? Context.itemOverview(NIL, vaultId, itemId, v, SCHEMA_VERSION, acct.userId) : Context.itemDetails(NIL, vaultId, itemId, v, SCHEMA_VERSION, acct.userId);
}

async function itemKey(vault: UnlockedVault, o: ObjectDto): Promise<Uint8Array> {
  return unwrapKey(vault.key, vault.keyId, Context.itemKeyWrap(NIL, vault.id, o.id, vault.keyVersion, ITEM_KEY_VERSION), fromB64u(o.key_wrap));
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
    const key = await itemKey(vault, o);
    const pt = await open(key, itemKeyId(o.id, ITEM_KEY_VERSION), itemCtx(acct, true, o.vault_id, o.id, o.version), fromB64u(o.overview));
    key.fill(0);
    let overview: ItemOverview;
    try {
      overview = parseOverview(json(pt, `item ${o.id} has an unreadable overview`));
    } catch {
      throw new IntegrityError(`item ${o.id} has an unreadable overview`);
    }
    if (overview.trashed !== o.trashed) throw new IntegrityError(`item ${o.id}: the server's trash flag disagrees with the encrypted item`);
    return { id: o.id, vaultId: o.vault_id, profile: vault.kind, version: o.version, trashed: o.trashed, overview };
  })());
}

export async function openDetails(acct: UnlockedAccount, o: ObjectDto): Promise<{ data: ItemData; key: Uint8Array }> {
  const vault = vaultFor(acct, o.vault_id);
  return guard(o.id, (async () => {
    const key = await itemKey(vault, o);
    const pt = await open(key, itemKeyId(o.id, ITEM_KEY_VERSION), itemCtx(acct, false, o.vault_id, o.id, o.version), fromB64u(o.details));
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
    const pt = await open(vault.key, vault.keyId, Context.folderMetadata(NIL, vault.id, o.id, Math.max(0, o.version)), fromB64u(o.overview));
    let data: FolderData;
    try {
      data = parseFolderData(json(pt, `folder ${o.id} is unreadable`));
    } catch {
      throw new IntegrityError(`folder ${o.id} is unreadable`);
    }
    return { id: o.id, vaultId: o.vault_id, profile: vault.kind, version: o.version, data };
  })());
}

export async function sealItem(acct: UnlockedAccount, vault: UnlockedVault, itemId: string, key: Uint8Array, version: number, data: ItemData): Promise<{ keyWrap: Uint8Array; overview: Uint8Array; details: Uint8Array }> {
  const keyWrap = await wrapKey(vault.key, vault.keyId, Context.itemKeyWrap(NIL, vault.id, itemId, vault.keyVersion, ITEM_KEY_VERSION), key);
  const kid = itemKeyId(itemId, ITEM_KEY_VERSION);
  const ov = utf8(overviewJson(overviewOf(data)));
  const det = utf8(itemDataJson(data));
  const overview = await seal(key, kid, itemCtx(acct, true, vault.id, itemId, version), ov);
  const details = await seal(key, kid, itemCtx(acct, false, vault.id, itemId, version), det);
  det.fill(0);
  return { keyWrap, overview, details };
}

export async function sealFolder(vault: UnlockedVault, id: string, version: number, data: FolderData): Promise<Uint8Array> {
  return seal(vault.key, vault.keyId, Context.folderMetadata(NIL, vault.id, id, Math.max(0, version)), utf8(folderJson(data)));
}

export function newItemKey(): Uint8Array {
  return randomBytes(32);
}

/** The manifest set element of one object's state (crates/castellan-client/src/manifest.rs). */
export function elementBytes(o: ObjectDto): Uint8Array {
  const b = new Uint8Array(16 + 1 + 8 + 1 + 96);
  b.set(uuidBytes(o.id), 0);
  b[16] = o.kind === 'item' ? 1 : 2;
  b.set(i64be(o.version), 17);
  b[25] = o.trashed ? 1 : 0;
  b.set(sha256(fromB64u(o.key_wrap)), 26);
  b.set(sha256(fromB64u(o.overview)), 58);
  b.set(sha256(fromB64u(o.details)), 90);
  return b;
}

export function element(o: ObjectDto): string {
  return b64u(setElement(elementBytes(o)));
}
