// What this device pinned about shares (crates/castellan-client/src/share/pins.rs), kept in the
// browser's device state (field `shares`, the layout of device.json): the highest verified access
// list version per share with the hash of its body (a server cannot show two different lists
// under one version) and the highest verified roster version per group. Versions never go down.
import { b64u, ctEq, fromB64u } from '../crypto/bytes';
import { sha256 } from '../crypto/primitives';
import { IntegrityError } from '../client/account';
import type { LocalCache } from '../client/db';
import type { SignedDoc } from '../org/types';

export interface AclPin {
  version: number;
  /** SHA-256 of the signed body of that version. */
  body_hash: string;
  /** The verified document: the previous list the next version is checked against. */
  doc: SignedDoc;
}

export interface SharePins {
  acls: Record<string, AclPin>;
  /** Group id → highest verified roster version. */
  rosters: Record<string, number>;
  /** Company id → highest verified certificate revocation list version (absent in older device states). */
  revocations?: Record<string, number>;
}

export function emptySharePins(): SharePins {
  return { acls: {}, rosters: {}, revocations: {} };
}

/** Refuses a version below the pin, or another document under the pinned version. */
export function checkAcl(p: SharePins, shareId: string, version: number, doc: SignedDoc): void {
  const pin = p.acls[shareId];
  if (!pin) return;
  if (version < pin.version) throw new IntegrityError(`the server sent version ${version} of the access list of share ${shareId}, older than version ${pin.version} seen on this device`);
  if (version === pin.version && !ctEq(sha256(fromB64u(doc.body)), fromB64u(pin.body_hash))) throw new IntegrityError(`the server sent two different access lists of share ${shareId} as version ${version}`);
}

export function recordAcl(p: SharePins, shareId: string, version: number, doc: SignedDoc): void {
  const pin = p.acls[shareId];
  if (!pin || version > pin.version) p.acls[shareId] = { version, body_hash: b64u(sha256(fromB64u(doc.body))), doc: { body: doc.body, signature: doc.signature } };
}

export function checkRoster(p: SharePins, groupId: string, version: number): void {
  const v = p.rosters[groupId];
  if (v !== undefined && version < v) throw new IntegrityError(`the server sent version ${version} of a group roster, older than version ${v} seen on this device`);
}

export function recordRoster(p: SharePins, groupId: string, version: number): void {
  const v = p.rosters[groupId];
  if (v === undefined || version > v) p.rosters[groupId] = version;
}

/**
 * Refuses a revocation list below the pinned version, or none when one was seen
 * (`SharePins::check_revocations`): a server that hides revocations could otherwise bring a
 * removed member's certificate back.
 */
export function checkRevocations(p: SharePins, companyId: string, version: number | null): void {
  const pinned = p.revocations?.[companyId] ?? 0;
  const served = version ?? 0;
  if (served < pinned) {
    throw new IntegrityError(`the server sent ${version === null ? 'no version' : `version ${version}`} of the company's certificate revocation list, older than version ${pinned} seen on this device`);
  }
}

export function recordRevocations(p: SharePins, companyId: string, version: number): void {
  const r = (p.revocations ??= {});
  r[companyId] = Math.max(r[companyId] ?? 0, version);
}

/** Where the share pins live: the device state in IndexedDB (memory in unit tests). */
export interface SharePinStore {
  load(): SharePins;
  save(p: SharePins): Promise<void>;
}


export function cachePins(cache: LocalCache): SharePinStore {
  return {
    load: () => structuredClone(cache.device?.shares ?? emptySharePins()),
    save: async (p) => {
      if (!cache.device) throw new Error('no account on this browser');
      await cache.apply({ device: { ...cache.device, shares: p } });
    },
  };
}

export class MemorySharePins implements SharePinStore {
  constructor(public pins: SharePins = emptySharePins()) {}
  load(): SharePins {
    return structuredClone(this.pins);
  }
  async save(p: SharePins): Promise<void> {
    this.pins = structuredClone(p);
  }
}

export async function updateSharePins<T>(store: SharePinStore, f: (p: SharePins) => T): Promise<T> {
  const p = store.load();
  const before = JSON.stringify(p);
  const out = f(p);
  if (JSON.stringify(p) !== before) await store.save(p);
  return out;
}
