// The browser's offline cache: IndexedDB with ciphertext and public metadata only (the server's
// envelopes as last synced and verified, queued envelopes sealed here), plus the device state.
// Never a key or a plaintext. Mirrored in memory; every change is written in one transaction.
import type { AccountResponse, KsfProfile, ObjectDto } from './types';
import type { OrgPins } from '../org/pins';
import type { SharePins } from '../share/pins';
import type { StoredShare } from '../share/sync';

export interface DeviceState {
  format: 1;
  email: string;
  user_id: string;
  device_id: string;
  device_salt: string;
  server_public_key: string;
  ksf: KsfProfile;
  /** The Secret Key text, as device.json keeps it (needed for the local unlock). */
  secret_key: string;
  /** The account key under the local unlock key. */
  local_wrap: string;
  account: AccountResponse;
  session_token: string | null;
  session_id: string | null;
  /** Pinned company keys and verified policies (device.json's `org`). */
  org?: OrgPins;
  /** Pinned share access lists and group roster versions (device.json's `shares`). */
  shares?: SharePins;
}

export interface CachedObject {
  dto: ObjectDto;
  /** The object's manifest set element (32 bytes, base64url). */
  element: string;
}

export type PendingStateName = 'pending' | 'failed';
export interface PendingOp {
  op: number;
  object_id: string;
  base: ObjectDto | null;
  target: ObjectDto | null;
  state: PendingStateName;
  attempts: number;
  last_error: string | null;
}

export interface VaultSyncState {
  counter: number;
  manifest: string | null;
  count: number;
  set_hash: string;
}

export interface Meta {
  cursor: number;
  last_sync_at: number | null;
  vaults: Record<string, VaultSyncState>;
  next_op: number;
  /** Verified shares: key wrapped under the account key, name sealed (share/sync.ts). */
  shares?: Record<string, StoredShare>;
}

export interface Batch {
  putObjects?: CachedObject[];
  deleteObjects?: string[];
  putPending?: PendingOp[];
  deletePending?: string[];
  seen?: [string, number][];
  meta?: Meta;
  device?: DeviceState | null;
}

/** Storage behind the cache: IndexedDB in the browser, memory in unit tests. */
export interface Backend {
  loadAll(): Promise<{ device: DeviceState | null; objects: CachedObject[]; pending: PendingOp[]; seen: [string, number][]; meta: Meta | null }>;
  write(b: Batch): Promise<void>;
  clear(): Promise<void>;
}

const DB_NAME = 'castellan-v1';

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class IdbBackend implements Backend {
  private dbp: Promise<IDBDatabase> | null = null;

  private db(): Promise<IDBDatabase> {
    if (!this.dbp) {
      this.dbp = new Promise((resolve, reject) => {
        const r = indexedDB.open(DB_NAME, 1);
        r.onupgradeneeded = () => {
          const db = r.result;
          db.createObjectStore('kv');
          db.createObjectStore('objects', { keyPath: 'dto.id' });
          db.createObjectStore('pending', { keyPath: 'object_id' });
          db.createObjectStore('seen');
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    }
    return this.dbp;
  }

  async loadAll() {
    const db = await this.db();
    const tx = db.transaction(['kv', 'objects', 'pending', 'seen'], 'readonly');
    const [device, meta, objects, pending, seenKeys, seenVals] = await Promise.all([
      req(tx.objectStore('kv').get('device')),
      req(tx.objectStore('kv').get('meta')),
      req(tx.objectStore('objects').getAll()),
      req(tx.objectStore('pending').getAll()),
      req(tx.objectStore('seen').getAllKeys()),
      req(tx.objectStore('seen').getAll()),
    ]);
    return {
      device: (device as DeviceState | undefined) ?? null,
      meta: (meta as Meta | undefined) ?? null,
      objects: objects as CachedObject[],
      pending: (pending as PendingOp[]).sort((a, b) => a.op - b.op),
      seen: (seenKeys as string[]).map((k, i) => [k, seenVals[i] as number] as [string, number]),
    };
  }

  async write(b: Batch): Promise<void> {
    const db = await this.db();
    const tx = db.transaction(['kv', 'objects', 'pending', 'seen'], 'readwrite');
    const objects = tx.objectStore('objects');
    const pending = tx.objectStore('pending');
    const seen = tx.objectStore('seen');
    const kv = tx.objectStore('kv');
    for (const id of b.deleteObjects ?? []) objects.delete(id);
    for (const o of b.putObjects ?? []) objects.put(o);
    for (const id of b.deletePending ?? []) pending.delete(id);
    for (const p of b.putPending ?? []) pending.put(p);
    for (const [id, v] of b.seen ?? []) seen.put(v, id);
    if (b.meta) kv.put(b.meta, 'meta');
    if (b.device !== undefined) {
      if (b.device === null) kv.delete('device');
      else kv.put(b.device, 'device');
    }
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
    });
  }

  async clear(): Promise<void> {
    const db = await this.db();
    const tx = db.transaction(['kv', 'objects', 'pending', 'seen'], 'readwrite');
    for (const s of ['kv', 'objects', 'pending', 'seen']) tx.objectStore(s).clear();
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
}

export class MemoryBackend implements Backend {
  device: DeviceState | null = null;
  objects = new Map<string, CachedObject>();
  pending = new Map<string, PendingOp>();
  seen = new Map<string, number>();
  meta: Meta | null = null;
  async loadAll() {
    const clone = <T>(x: T): T => structuredClone(x);
    return {
      device: clone(this.device),
      meta: clone(this.meta),
      objects: clone([...this.objects.values()]),
      pending: clone([...this.pending.values()].sort((a, b) => a.op - b.op)),
      seen: [...this.seen.entries()],
    };
  }
  async write(b: Batch) {
    const clone = <T>(x: T): T => structuredClone(x);
    for (const id of b.deleteObjects ?? []) this.objects.delete(id);
    for (const o of b.putObjects ?? []) this.objects.set(o.dto.id, clone(o));
    for (const id of b.deletePending ?? []) this.pending.delete(id);
    for (const p of b.putPending ?? []) this.pending.set(p.object_id, clone(p));
    for (const [id, v] of b.seen ?? []) this.seen.set(id, v);
    if (b.meta) this.meta = clone(b.meta);
    if (b.device !== undefined) this.device = clone(b.device);
  }
  async clear() {
    this.device = null;
    this.objects.clear();
    this.pending.clear();
    this.seen.clear();
    this.meta = null;
  }
}

/** The in-memory mirror of the cache. */
export class LocalCache {
  device: DeviceState | null = null;
  objects = new Map<string, CachedObject>();
  pending = new Map<string, PendingOp>();
  seen = new Map<string, number>();
  meta: Meta = { cursor: 0, last_sync_at: null, vaults: {}, next_op: 1 };

  constructor(readonly backend: Backend) {}

  async load(): Promise<void> {
    const all = await this.backend.loadAll();
    this.device = all.device;
    this.objects = new Map(all.objects.map((o) => [o.dto.id, o]));
    this.pending = new Map(all.pending.map((p) => [p.object_id, p]));
    this.seen = new Map(all.seen);
    this.meta = all.meta ?? { cursor: 0, last_sync_at: null, vaults: {}, next_op: 1 };
  }

  /** Writes a batch, then applies it to memory (so memory never runs ahead of the disk). */
  async apply(b: Batch): Promise<void> {
    await this.backend.write(b);
    for (const id of b.deleteObjects ?? []) this.objects.delete(id);
    for (const o of b.putObjects ?? []) this.objects.set(o.dto.id, o);
    for (const id of b.deletePending ?? []) this.pending.delete(id);
    for (const p of b.putPending ?? []) this.pending.set(p.object_id, p);
    for (const [id, v] of b.seen ?? []) this.seen.set(id, v);
    if (b.meta) this.meta = b.meta;
    if (b.device !== undefined) this.device = b.device;
  }

  pendingOps(): PendingOp[] {
    return [...this.pending.values()].sort((a, b) => a.op - b.op);
  }

  vaultState(id: string): VaultSyncState {
    return this.meta.vaults[id] ?? { counter: 0, manifest: null, count: 0, set_hash: '' };
  }

  async clear(): Promise<void> {
    await this.backend.clear();
    this.device = null;
    this.objects.clear();
    this.pending.clear();
    this.seen.clear();
    this.meta = { cursor: 0, last_sync_at: null, vaults: {}, next_op: 1 };
  }
}
