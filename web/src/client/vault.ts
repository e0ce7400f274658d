// An unlocked vault in the browser: the local view (synced objects with queued changes on top),
// writes queued in the offline cache and sent at once, sync on change hints, sync status per item.
import { batch, signal } from '@preact/signals';
import { b64u } from '../crypto/bytes';
import { checkFolderName, type FolderData } from '../model/folder';
import { cloneItem, overviewOf, sameOverview, type ItemData } from '../model/item';
import { IntegrityError, type UnlockedAccount, wipeAccount } from './account';
import { Api, ApiFailure, Unreachable } from './api';
import { element, type FolderEntry, type ItemEntry, newItemKey, openDetails, openFolder, openOverview, sealFolder, sealItem, vaultFor } from './codec';
import { roleLabel } from '../share/acl';
import { shareCanWrite, shareRing, wipeShares } from '../share/ring';
import { loadShares } from '../share/sync';
import type { LocalCache, PendingOp } from './db';
import { now, SessionExpired, Syncer } from './sync';
import type { ObjectDto, VaultKind } from './types';
import { uuidV4 } from '../crypto/bytes';

const COLLATOR = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export type SyncStatus = 'synced' | 'pending' | 'offline';
export interface ListedItem extends ItemEntry {
  status: SyncStatus;
}

export class VaultClient {
  readonly items = signal<ListedItem[]>([]);
  readonly folders = signal<FolderEntry[]>([]);
  readonly reachable = signal(true);
  readonly syncing = signal(false);
  readonly lastError = signal<string | null>(null);
  readonly sessionExpired = signal(false);
  readonly revision = signal(0);

  private overviewCache = new Map<string, { el: string; entry: ItemEntry }>();
  private folderCache = new Map<string, { el: string; entry: FolderEntry }>();
  private syncRunning: Promise<void> | null = null;
  private syncAgain = false;
  private hintTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Runs after every sync that reached the server (organisation backup: handovers and backups). */
  afterSync: (() => Promise<void>) | null = null;
  private events: AbortController | null = null;

  constructor(
    readonly cache: LocalCache,
    readonly api: Api,
    readonly account: UnlockedAccount,
  ) {}

  /** The local view: synced objects with queued changes applied on top. */
  view(): Map<string, ObjectDto> {
    const m = new Map<string, ObjectDto>();
    for (const [id, o] of this.cache.objects) m.set(id, o.dto);
    for (const p of this.cache.pendingOps()) {
      if (p.target) m.set(p.object_id, p.target);
      else m.delete(p.object_id);
    }
    return m;
  }

  private sharesLoaded = false;

  /** Decrypts what changed since the last refresh and publishes the lists. */
  async refresh(): Promise<void> {
    if (!this.sharesLoaded) {
      // The shares verified before (key wrapped in the cache): share items open offline too.
      this.sharesLoaded = true;
      await loadShares(this.cache, this.account);
    }
    const ring = shareRing(this.account);
    const view = this.view();
    // Objects of shares this browser cannot open now (not verified, or dropped) are not shown.
    for (const [id, o] of view) if (!ring.has(o.vault_id) && !this.account.vaults.some((v) => v.id === o.vault_id)) view.delete(id);
    const items: ItemEntry[] = [];
    const folders: FolderEntry[] = [];
    const bad: string[] = [];
    const nextOv = new Map<string, { el: string; entry: ItemEntry }>();
    const nextF = new Map<string, { el: string; entry: FolderEntry }>();
    const work: Promise<void>[] = [];
    for (const o of view.values()) {
      const el = `${o.vault_id}|${o.version}|${o.trashed}|${o.key_wrap}|${o.overview}`;
      if (o.kind === 'item') {
        const c = this.overviewCache.get(o.id);
        if (c && c.el === el) {
          nextOv.set(o.id, c);
          items.push(c.entry);
          continue;
        }
        work.push(
          openOverview(this.account, o).then(
            (entry) => {
              nextOv.set(o.id, { el, entry });
              items.push(entry);
            },
            (e) => void bad.push(`${o.id}: ${(e as Error).message}`),
          ),
        );
      } else {
        const c = this.folderCache.get(o.id);
        if (c && c.el === el) {
          nextF.set(o.id, c);
          folders.push(c.entry);
          continue;
        }
        work.push(
          openFolder(this.account, o).then(
            (entry) => {
              nextF.set(o.id, { el, entry });
              folders.push(entry);
            },
            (e) => void bad.push(`${o.id}: ${(e as Error).message}`),
          ),
        );
      }
    }
    await Promise.all(work);
    this.overviewCache = nextOv;
    this.folderCache = nextF;
    const statuses = this.statuses();
    items.sort((a, b) => COLLATOR.compare(a.overview.title, b.overview.title) || (a.id < b.id ? -1 : 1));
    folders.sort((a, b) => COLLATOR.compare(a.data.name, b.data.name));
    batch(() => {
      this.items.value = items.map((e) => ({ ...e, status: statuses.get(e.id) ?? 'synced' }));
      this.folders.value = folders;
      this.revision.value++;
      if (bad.length > 0) this.lastError.value = `${bad.length} object(s) failed verification: ${bad[0]}`;
    });
  }

  statuses(): Map<string, SyncStatus> {
    const m = new Map<string, SyncStatus>();
    for (const p of this.cache.pendingOps()) m.set(p.object_id, p.state === 'failed' && !this.reachable.value ? 'offline' : 'pending');
    return m;
  }

  /** Runs a two-way sync; calls while one runs are folded into one more run. */
  sync(): Promise<void> {
    if (this.syncRunning) {
      this.syncAgain = true;
      return this.syncRunning;
    }
    this.syncRunning = (async () => {
      try {
        do {
          this.syncAgain = false;
          this.syncing.value = true;
          let reached = false;
          try {
            const r = await new Syncer(this.cache, this.api, this.account).run();
            this.reachable.value = !r.offline;
            reached = !r.offline;
            if (!r.offline) this.lastError.value = null;
          } catch (e) {
            if (e instanceof SessionExpired) this.sessionExpired.value = true;
            else if (e instanceof IntegrityError) this.lastError.value = `Integrity failure: ${e.message}`;
            else this.lastError.value = (e as Error).message;
          } finally {
            this.syncing.value = false;
          }
          if (reached && this.afterSync && !this.stopped) await this.afterSync();
          await this.refresh();
        } while (this.syncAgain && !this.stopped);
      } finally {
        this.syncRunning = null;
      }
    })();
    return this.syncRunning;
  }

  /** A change hint: sync soon (hints within 300 ms share one sync). */
  hint(): void {
    if (this.hintTimer) return;
    this.hintTimer = setTimeout(() => {
      this.hintTimer = null;
      void this.sync();
    }, 300);
  }

  // ---- the event stream (GET /api/v1/events with the bearer header, read with fetch)

  startEvents(): void {
    void this.eventsLoop();
  }

  private async eventsLoop(): Promise<void> {
    let backoff = 1000;
    while (!this.stopped) {
      this.events = new AbortController();
      const ctl = this.events;
      let watchdog: ReturnType<typeof setTimeout> | null = null;
      const kick = () => {
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(() => ctl.abort(), 40000);
      };
      try {
        const res = await fetch('/api/v1/events', { headers: { Authorization: `Bearer ${this.api.token}`, Accept: 'text/event-stream' }, signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
        if (res.status === 401) {
          this.sessionExpired.value = true;
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        backoff = 1000;
        this.reachable.value = true;
        void this.sync();
        kick();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let event = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          kick();
          buf += value;
          if (buf.length > 65536) throw new Error('event too long');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).replace(/\r$/, '');
            buf = buf.slice(nl + 1);
            if (line === '') {
              event = '';
            } else if (line.startsWith('event:')) {
              event = line.slice(6).trim();
            } else if (line.startsWith('data:') && event === 'change') {
              this.hint();
            }
          }
        }
      } catch {
        // reconnect below
      } finally {
        if (watchdog) clearTimeout(watchdog);
      }
      if (this.stopped) break;
      // The stream ended: the server may be gone; a sync tells (and marks queued changes red).
      void this.sync();
      await new Promise((r) => setTimeout(r, backoff + Math.random() * 250));
      backoff = Math.min(backoff * 2, 4000);
    }
  }

  /** The vault was locked or closed. */
  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.events?.abort();
    if (this.hintTimer) clearTimeout(this.hintTimer);
  }

  lock(): void {
    this.stop();
    wipeShares(this.account);
    wipeAccount(this.account);
    this.overviewCache.clear();
    this.items.value = [];
    this.folders.value = [];
  }

  // ---- reads and writes

  private vault(kind: VaultKind) {
    const v = this.account.vaults.find((x) => x.kind === kind);
    if (!v) throw new IntegrityError(`the ${kind} vault is missing`);
    return v;
  }
  private vaultById(id: string) {
    return vaultFor(this.account, id);
  }
  profileOf(vaultId: string): VaultKind {
    return this.vaultById(vaultId).profile;
  }

  /** Refuses a change the share role does not allow (the server refuses it too). */
  requireWritable(vaultId: string): void {
    const s = shareRing(this.account).get(vaultId);
    if (s && !shareCanWrite(s)) throw new Error(`You are ${roleLabel(s.role).toLowerCase()} in the shared folder "${s.name}": only its owners and editors can change its items.`);
  }

  /** Queues changes made elsewhere (share operations), in one transaction. */
  async queueChanges(changes: [string, ObjectDto | null][]): Promise<void> {
    for (const [id, target] of changes) await this.queue(id, target);
  }

  private viewObject(id: string): ObjectDto {
    const p = this.cache.pending.get(id);
    if (p) {
      if (!p.target) throw new Error(`no item or folder with id ${id}`);
      return p.target;
    }
    const o = this.cache.objects.get(id);
    if (!o) throw new Error(`no item or folder with id ${id}`);
    return o.dto;
  }

  private nextVersion(id: string): number {
    const p = this.cache.pending.get(id);
    if (p) return p.base ? p.base.version + 1 : 1;
    const o = this.cache.objects.get(id);
    return o ? o.dto.version + 1 : 1;
  }

  private async queue(id: string, target: ObjectDto | null): Promise<void> {
    const existing = this.cache.pending.get(id);
    if (existing) {
      if (!target && !existing.base) {
        await this.cache.apply({ deletePending: [id] });
      } else {
        await this.cache.apply({ putPending: [{ ...existing, target, state: 'pending' }] });
      }
      return;
    }
    const base = this.cache.objects.get(id)?.dto ?? null;
    const op = this.cache.meta.next_op;
    await this.cache.apply({
      putPending: [{ op, object_id: id, base, target, state: 'pending', attempts: 0, last_error: null }],
      meta: { ...this.cache.meta, next_op: op + 1 },
    });
  }

  private itemDto(vaultId: string, id: string, version: number, trashed: boolean, s: { keyWrap: Uint8Array; overview: Uint8Array; details: Uint8Array }, createdAt?: number): ObjectDto {
    const ts = now();
    const dto: ObjectDto = { id, vault_id: vaultId, kind: 'item', version, trashed, key_wrap: b64u(s.keyWrap), overview: b64u(s.overview), details: b64u(s.details), created_at: createdAt ?? ts, updated_at: ts, seq: 0 };
    // The server records the writer of a share object; the envelopes name them too.
    if (shareRing(this.account).has(vaultId)) dto.author_id = this.account.userId;
    return dto;
  }

  /** Queues the changes, shows them at once (yellow), then syncs. */
  private async afterWrite(): Promise<void> {
    await this.refresh();
    void this.sync();
  }

  async getItem(id: string): Promise<{ entry: ItemEntry; data: ItemData }> {
    const o = this.viewObject(id);
    if (o.kind !== 'item') throw new Error(`${id} is a folder, not an item`);
    const entry = await openOverview(this.account, o);
    const { data, key } = await openDetails(this.account, o);
    key.fill(0);
    if (!sameOverview(overviewOf(data), entry.overview)) throw new IntegrityError(`item ${id}: overview and details disagree`);
    return { entry, data };
  }

  async createItem(profile: VaultKind, data: ItemData): Promise<string> {
    const id = uuidV4();
    const vault = this.vault(profile);
    const key = newItemKey();
    const s = await sealItem(this.account, vault, id, key, 1, data);
    key.fill(0);
    await this.queue(id, this.itemDto(vault.id, id, 1, data.trashed, s));
    await this.afterWrite();
    return id;
  }

  /** Creates many items, queued in one transaction, with one sync at the end (imports). */
  async createItems(profile: VaultKind, items: ItemData[]): Promise<void> {
    const vault = this.vault(profile);
    const ops: PendingOp[] = [];
    let next = this.cache.meta.next_op;
    for (const data of items) {
      const id = uuidV4();
      const key = newItemKey();
      const s = await sealItem(this.account, vault, id, key, 1, data);
      key.fill(0);
      ops.push({ op: next++, object_id: id, base: null, target: this.itemDto(vault.id, id, 1, data.trashed, s), state: 'pending', attempts: 0, last_error: null });
    }
    await this.cache.apply({ putPending: ops, meta: { ...this.cache.meta, next_op: next } });
    await this.afterWrite();
  }

  /** Creates an item in a shared folder (owners and editors). */
  async createItemInShare(shareId: string, data: ItemData): Promise<string> {
    this.requireWritable(shareId);
    const id = uuidV4();
    const key = newItemKey();
    const s = await sealItem(this.account, this.vaultById(shareId), id, key, 1, data);
    key.fill(0);
    await this.queue(id, this.itemDto(shareId, id, 1, data.trashed, s));
    await this.afterWrite();
    return id;
  }

  async updateItem(id: string, change: (d: ItemData) => void, opts: { toProfile?: VaultKind; trashed?: boolean } = {}): Promise<void> {
    const o = this.viewObject(id);
    if (o.kind !== 'item') throw new Error(`${id} is a folder, not an item`);
    this.requireWritable(o.vault_id);
    if (opts.toProfile && shareRing(this.account).has(o.vault_id)) throw new Error('an item in a shared folder cannot be moved to another profile');
    const { data: current, key } = await openDetails(this.account, o);
    const data = cloneItem(current);
    change(data);
    if (opts.trashed !== undefined) data.trashed = opts.trashed;
    data.updated_at = now();
    const target = opts.toProfile ? this.vault(opts.toProfile) : this.vaultById(o.vault_id);
    const version = this.nextVersion(id);
    const s = await sealItem(this.account, target, id, key, version, data);
    key.fill(0);
    await this.queue(id, this.itemDto(target.id, id, version, data.trashed, s, o.created_at));
    await this.afterWrite();
  }

  async purgeItem(id: string): Promise<void> {
    const o = this.viewObject(id);
    this.requireWritable(o.vault_id);
    if (!o.trashed) throw new Error('only items in the trash can be deleted for good');
    await this.queue(id, null);
    await this.afterWrite();
  }

  async emptyTrash(): Promise<number> {
    const trashed = this.items.value.filter((i) => i.trashed && (!i.shareId || shareCanWrite(shareRing(this.account).get(i.shareId)!))).map((i) => i.id);
    for (const id of trashed) await this.queue(id, null);
    await this.afterWrite();
    return trashed.length;
  }

  private async putFolder(vaultId: string, id: string, data: FolderData): Promise<void> {
    const version = this.nextVersion(id);
    const vault = this.vaultById(vaultId);
    const overview = await sealFolder(vault, id, version, data);
    const ts = now();
    const dto: ObjectDto = { id, vault_id: vaultId, kind: 'folder', version, trashed: false, key_wrap: '', overview: b64u(overview), details: '', created_at: ts, updated_at: ts, seq: 0 };
    if (shareRing(this.account).has(vaultId)) {
      this.requireWritable(vaultId);
      dto.author_id = this.account.userId;
    }
    await this.queue(id, dto);
  }

  private siblingTaken(profile: VaultKind, parent: string | null, name: string, except: string | null): boolean {
    return this.folders.value.some((f) => !f.shareId && f.profile === profile && f.data.parent_id === parent && f.data.name === name && f.id !== except);
  }

  async createFolder(profile: VaultKind, name: string, parent: string | null): Promise<string> {
    const n = checkFolderName(name);
    if (this.siblingTaken(profile, parent, n, null)) throw new Error(`a folder named "${n}" already exists there`);
    const id = uuidV4();
    await this.putFolder(this.vault(profile).id, id, { name: n, parent_id: parent });
    await this.afterWrite();
    return id;
  }

  async renameFolder(id: string, name: string): Promise<void> {
    const f = this.folders.value.find((x) => x.id === id);
    if (!f) throw new Error('no such folder');
    const n = checkFolderName(name);
    if (this.siblingTaken(f.profile, f.data.parent_id, n, f.id)) throw new Error(`a folder named "${n}" already exists there`);
    await this.putFolder(f.vaultId, f.id, { name: n, parent_id: f.data.parent_id });
    await this.afterWrite();
  }

  /** Deletes a folder; its items and subfolders move to its parent (nothing is lost). */
  async deleteFolder(id: string): Promise<void> {
    const f = this.folders.value.find((x) => x.id === id);
    if (!f) throw new Error('no such folder');
    const parent = f.data.parent_id;
    const subs = this.folders.value.filter((s) => s.data.parent_id === f.id);
    for (const s of subs) if (this.siblingTaken(f.profile, parent, s.data.name, s.id)) throw new Error(`the subfolder "${s.data.name}" would clash with a folder of the same name in the parent; rename it first`);
    for (const i of this.items.value.filter((x) => x.overview.folder_id === f.id)) {
      const o = this.viewObject(i.id);
      const { data: cur, key } = await openDetails(this.account, o);
      const data = cloneItem(cur);
      data.folder_id = parent;
      data.updated_at = now();
      const version = this.nextVersion(i.id);
      const s = await sealItem(this.account, this.vaultById(o.vault_id), i.id, key, version, data);
      key.fill(0);
      await this.queue(i.id, this.itemDto(o.vault_id, i.id, version, data.trashed, s, o.created_at));
    }
    for (const s of subs) await this.putFolder(s.vaultId, s.id, { name: s.data.name, parent_id: parent });
    await this.queue(f.id, null);
    await this.afterWrite();
  }

  /** The folder path "A/B/C" of a folder id. */
  folderPath(id: string | null): string {
    const parts: string[] = [];
    let cur = id;
    let guard = 0;
    while (cur && guard++ < 64) {
      const f = this.folders.value.find((x) => x.id === cur);
      if (!f) break;
      parts.unshift(f.data.name);
      cur = f.data.parent_id;
    }
    return parts.join('/');
  }
}

export { ApiFailure, Unreachable, element };
