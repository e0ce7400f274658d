// Two-way sync between the offline cache and the server (crates/castellan-client/src/sync.rs).
// Pull: feed pages after the cursor, applied in one IndexedDB transaction after every vault was
// checked against its signed manifest; a refused pull leaves the cache as it was. Push: queued
// changes in order, each with the next signed manifest of every vault it touches.
import { b64u, fromB64u } from '../crypto/bytes';
import { SetHash } from '../crypto/sethash';
import { merge } from '../model/merge';
import { IntegrityError, type UnlockedAccount } from './account';
import { Api, ApiFailure, Unreachable } from './api';
import { element, newItemKey, openDetails, openFolder, sealFolder, sealItem, vaultFor } from './codec';
import type { Batch, CachedObject, LocalCache, PendingOp, VaultSyncState } from './db';
import { signManifest, signShareManifest, verifyManifest, verifyShareManifest } from './manifest';
import { ShareApi } from '../share/api';
import { shareRing, shareStatus } from '../share/ring';
import { markFetched, markUnfetched, refreshShares } from '../share/sync';
import type { ManifestDto, ObjectDto } from './types';
import { uuidV4 } from '../crypto/bytes';

const PAGE = 1000;
const PULL_ATTEMPTS = 3;
const PUSH_ATTEMPTS = 6;

export interface SyncReport {
  pulled: number;
  pushed: number;
  conflicts: number;
  offline: boolean;
  pending: number;
}

export class SessionExpired extends Error {
  constructor() {
    super('session expired; log in again');
    this.name = 'SessionExpired';
  }
}

export const now = () => Math.floor(Date.now() / 1000);

function setOf(st: VaultSyncState): SetHash {
  return st.set_hash ? SetHash.fromBytes(fromB64u(st.set_hash)) : SetHash.empty();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Syncer {
  constructor(
    private readonly cache: LocalCache,
    private readonly api: Api,
    private readonly account: UnlockedAccount,
  ) {}

  /** Objects of share vaults skipped by the last pulls (shares not readable or not verified here). */
  skippedShareObjects = 0;

  /** Shares first: which ones this account reads now, verified, with their keys. A share that
   * fails is skipped with a warning; nothing of it stops the sync of the rest. */
  private async refreshShares(): Promise<void> {
    try {
      await refreshShares(this.cache, this.api, this.account, now());
    } catch (e) {
      if (e instanceof Unreachable) return;
      if (e instanceof ApiFailure && e.status === 401) throw new SessionExpired();
      const st = shareStatus(this.account);
      st.value = { ...st.value, warnings: [`Shares could not be checked: ${(e as Error).message}`] };
    }
  }

  private shareWarning(msg: string): void {
    const st = shareStatus(this.account);
    if (!st.value.warnings.includes(msg)) st.value = { ...st.value, warnings: [...st.value.warnings, msg] };
  }

  async run(): Promise<SyncReport> {
    const report: SyncReport = { pulled: 0, pushed: 0, conflicts: 0, offline: false, pending: 0 };
    await this.refreshShares();
    try {
      report.pulled = await this.pull();
    } catch (e) {
      if (e instanceof Unreachable) {
        await this.markAll('failed', 'server unreachable');
        report.offline = true;
        report.pending = this.cache.pending.size;
        return report;
      }
      throw this.sessionError(e);
    }
    await this.markAll('pending', null);
    try {
      await this.push(report);
    } catch (e) {
      if (e instanceof Unreachable) {
        await this.markAll('failed', 'server unreachable');
        report.offline = true;
      } else throw this.sessionError(e);
    }
    report.pending = this.cache.pending.size;
    if (!report.offline) await this.cache.apply({ meta: { ...this.cache.meta, last_sync_at: now() } });
    return report;
  }

  private sessionError(e: unknown): unknown {
    return e instanceof ApiFailure && e.status === 401 ? new SessionExpired() : e;
  }

  /** Marks every queued change; only those whose state changes are written (cheap when offline). */
  private async markAll(state: 'pending' | 'failed', error: string | null): Promise<void> {
    const ops = this.cache.pendingOps().filter((p) => p.state !== state || p.last_error !== error);
    if (ops.length === 0) return;
    await this.cache.apply({ putPending: ops.map((p) => ({ ...p, state, last_error: error, attempts: p.attempts + (state === 'failed' ? 1 : 0) })) });
  }

  async pull(): Promise<number> {
    let last = '';
    for (let attempt = 0; attempt < PULL_ATTEMPTS; attempt++) {
      try {
        return await this.pullOnce(attempt + 1 === PULL_ATTEMPTS);
      } catch (e) {
        if (e instanceof IntegrityError && e.message.startsWith('manifest mismatch') && attempt + 1 < PULL_ATTEMPTS) {
          last = e.message;
          await sleep(150 * (attempt + 1));
          continue;
        }
        throw e;
      }
    }
    throw new IntegrityError(last);
  }

  private async pullOnce(final = true): Promise<number> {
    const start = this.cache.meta.cursor;
    const sets = new Map<string, { count: number; hash: SetHash }>();
    const setFor = (vault: string) => {
      let s = sets.get(vault);
      if (!s) {
        const st = this.cache.vaultState(vault);
        s = { count: st.count, hash: setOf(st) };
        sets.set(vault, s);
      }
      return s;
    };
    for (const v of this.account.vaults) setFor(v.id);
    const ring = shareRing(this.account);
    for (const s of ring.values()) setFor(s.id);
    // Share objects whose author is not a writer now (accepted only under an owner's manifest:
    // a key rotation keeps the authors of older objects), and shares that failed in this pull.
    const byNonWriters = new Map<string, string[]>();
    const failed = new Map<string, string>();
    // The new state of each touched object: a CachedObject, or null when deleted.
    const changed = new Map<string, CachedObject | null>();
    const current = (id: string): CachedObject | undefined => (changed.has(id) ? (changed.get(id) ?? undefined) : this.cache.objects.get(id));
    const seen: [string, number][] = [];
    let since = start;
    let pulled = 0;
    let reset = false;
    const listed = new Set<string>();
    let manifests: ManifestDto[] = [];
    for (;;) {
      const page = await this.api.sync(since, PAGE);
      if (page.reset && since === start) reset = true;
      else if (page.reset || page.cursor < since) throw new IntegrityError("the server's change feed went backwards");
      // Objects of shares this browser verified and fetched in full are taken from the feed
      // (their authors checked, their manifests below); objects of other shares are skipped,
      // never trusted or shown: a share read for the first time is fetched whole below.
      const shareIds = new Set((page.shares ?? []).map((x) => x.id));
      for (const o of page.objects) {
        if (!this.account.vaults.some((v) => v.id === o.vault_id)) {
          const share = ring.get(o.vault_id);
          if (!share || !share.fetched) {
            if (share || shareIds.has(o.vault_id)) {
              this.skippedShareObjects++;
              continue;
            }
            throw new IntegrityError(`object ${o.id} is in a vault this account does not have`);
          }
          if (!o.author_id) {
            failed.set(share.id, `share object ${o.id} has no author`);
            continue;
          }
          if (!share.writers.has(o.author_id)) byNonWriters.set(share.id, [...(byNonWriters.get(share.id) ?? []), o.id]);
        }
        const hw = this.cache.seen.get(o.id);
        if (hw !== undefined && o.version < hw) throw new IntegrityError(`object ${o.id} was rolled back from version ${hw} to ${o.version}`);
        const old = current(o.id);
        if (old) {
          const s = setFor(old.dto.vault_id);
          s.count -= 1;
          s.hash.remove(fromB64u(old.element));
        }
        const el = element(o);
        const s = setFor(o.vault_id);
        s.count += 1;
        s.hash.add(fromB64u(el));
        changed.set(o.id, { dto: o, element: el });
        seen.push([o.id, Math.max(hw ?? 0, o.version)]);
        listed.add(o.id);
        pulled++;
      }
      for (const t of page.tombstones) {
        const old = current(t.id);
        if (old) {
          const s = setFor(old.dto.vault_id);
          s.count -= 1;
          s.hash.remove(fromB64u(old.element));
          changed.set(t.id, null);
          pulled++;
        }
      }
      since = page.cursor;
      manifests = page.manifests;
      if (!page.has_more) break;
    }
    // Shares this browser reads but never fetched: their objects predate the cursor, so fetch
    // them in full (and replace whatever the cache held of them).
    const fetchedNow: string[] = [];
    const shareApi = new ShareApi(this.api);
    for (const share of ring.values()) {
      if (share.fetched) continue;
      let listing: ObjectDto[];
      try {
        listing = (await shareApi.objects(share.id)).objects;
      } catch (e) {
        if (e instanceof Unreachable || (e instanceof ApiFailure && e.status === 401)) throw e;
        failed.set(share.id, `its objects could not be listed: ${(e as Error).message}`);
        continue;
      }
      for (const [id] of this.cache.objects) {
        const cur = current(id);
        if (cur && cur.dto.vault_id === share.id) {
          const s = setFor(share.id);
          s.count -= 1;
          s.hash.remove(fromB64u(cur.element));
          changed.set(id, null);
        }
      }
      let bad: string | null = null;
      const adds: CachedObject[] = [];
      for (const o of listing) {
        if (o.vault_id !== share.id) bad = `the server listed object ${o.id} of another vault as part of the share`;
        else if (!o.author_id) bad = `share object ${o.id} has no author`;
        else {
          const hw = this.cache.seen.get(o.id);
          if (hw !== undefined && o.version < hw) bad = `object ${o.id} was rolled back from version ${hw} to ${o.version}`;
        }
        if (bad) break;
        if (!share.writers.has(o.author_id!)) byNonWriters.set(share.id, [...(byNonWriters.get(share.id) ?? []), o.id]);
        adds.push({ dto: o, element: element(o) });
      }
      if (bad) {
        failed.set(share.id, bad);
        continue;
      }
      for (const a of adds) {
        const s = setFor(share.id);
        s.count += 1;
        s.hash.add(fromB64u(a.element));
        changed.set(a.dto.id, a);
        seen.push([a.dto.id, Math.max(this.cache.seen.get(a.dto.id) ?? 0, a.dto.version)]);
        listed.add(a.dto.id);
        pulled++;
      }
      fetchedNow.push(share.id);
    }
    if (reset) {
      for (const [id, o] of this.cache.objects) {
        if (listed.has(id) || changed.get(id) === null) continue;
        const s = setFor(o.dto.vault_id);
        s.count -= 1;
        s.hash.remove(fromB64u(o.element));
        changed.set(id, null);
      }
    }
    const vaults: Record<string, VaultSyncState> = { ...this.cache.meta.vaults };
    for (const vault of this.account.vaults) {
      const st = this.cache.vaultState(vault.id);
      const { count, hash } = setFor(vault.id);
      const m = manifests.find((x) => x.vault_id === vault.id);
      if (!m) {
        if (st.counter > 0) throw new IntegrityError(`the server no longer has the manifest of the ${vault.kind} vault (this device saw version ${st.counter})`);
        if (count !== 0) throw new IntegrityError(`manifest mismatch: the ${vault.kind} vault has objects but no signed manifest`);
        vaults[vault.id] = { counter: 0, manifest: null, count, set_hash: b64u(hash.toBytes()) };
        continue;
      }
      const verified = verifyManifest(fromB64u(m.manifest), this.account.signingPublic, vault.id, m.counter);
      if (m.counter < st.counter) throw new IntegrityError(`the server replayed an old state of the ${vault.kind} vault (manifest ${m.counter} after ${st.counter})`);
      if (verified.count !== count || verified.set_hash !== b64u(hash.toBytes())) {
        throw new IntegrityError(
          `manifest mismatch: the ${vault.kind} vault's objects do not match its signed manifest (${verified.count} expected, ${count} received): objects were dropped, duplicated or rolled back`,
        );
      }
      vaults[vault.id] = { counter: m.counter, manifest: m.manifest, count, set_hash: b64u(hash.toBytes()) };
    }
    // Every share must match its newest manifest, signed by a writer of its verified list.
    for (const share of ring.values()) {
      if (failed.has(share.id)) continue;
      const st = this.cache.vaultState(share.id);
      const { count, hash } = setFor(share.id);
      const what = `share "${share.name}"`;
      try {
        const m = manifests.find((x) => x.vault_id === share.id);
        if (!m) {
          if (st.counter > 0 || count !== 0) throw new IntegrityError(`the server did not send the manifest of the ${what}`);
          continue;
        }
        const verified = verifyShareManifest(fromB64u(m.manifest), share.id, m.counter, (u) => share.writers.get(u));
        if (m.counter < st.counter) throw new IntegrityError(`the server replayed an old state of the ${what} (manifest ${m.counter} after ${st.counter})`);
        if (verified.count !== count || verified.set_hash !== b64u(hash.toBytes())) {
          throw new IntegrityError(`manifest mismatch: the ${what}'s objects do not match its signed manifest (${verified.count} expected, ${count} received): objects were injected, dropped, duplicated or rolled back`);
        }
        const nonWriters = byNonWriters.get(share.id);
        if (nonWriters && !(verified.signer && share.owners.has(verified.signer))) {
          throw new IntegrityError(`the ${what} contains ${nonWriters.length} object(s) written by someone who is not a writer of it (${nonWriters.join(', ')})`);
        }
        vaults[share.id] = { counter: m.counter, manifest: m.manifest, count, set_hash: b64u(hash.toBytes()) };
      } catch (e) {
        if (!(e instanceof IntegrityError)) throw e;
        // A concurrent write can make a manifest and the objects disagree for a moment: retry.
        if (!final && e.message.startsWith('manifest mismatch')) throw e;
        failed.set(share.id, e.message);
      }
    }
    // A share that failed keeps what this browser verified before; its changes of this pull are
    // left out and it is fetched in full again at the next sync. The rest of the vault syncs on.
    const meta = { ...this.cache.meta, cursor: since, vaults };
    for (const [sid, msg] of failed) {
      const dropped = new Set<string>();
      for (const [id, x] of [...changed]) {
        const old = this.cache.objects.get(id);
        if ((x && x.dto.vault_id === sid && (!old || old.dto.vault_id === sid)) || (!x && old?.dto.vault_id === sid)) {
          changed.delete(id);
          dropped.add(id);
        }
      }
      for (let i = seen.length - 1; i >= 0; i--) if (dropped.has(seen[i][0])) seen.splice(i, 1);
      markUnfetched(this.account, meta, sid);
      const name = ring.get(sid)?.name ?? sid;
      this.shareWarning(`The share "${name}" failed verification and was not updated: ${msg}`);
    }
    markFetched(this.account, meta, fetchedNow.filter((id) => !failed.has(id)));
    const batch: Batch = {
      putObjects: [...changed.values()].filter((x): x is CachedObject => x !== null),
      deleteObjects: [...changed.entries()].filter(([, x]) => x === null).map(([id]) => id),
      seen,
      meta,
    };
    await this.cache.apply(batch);
    return pulled;
  }

  private async push(report: SyncReport): Promise<void> {
    const tried = new Set<number>();
    for (;;) {
      const ops = this.cache.pendingOps().filter((o) => !tried.has(o.op));
      if (ops.length === 0) return;
      for (const o of ops) tried.add(o.op);
      for (let op of ops) {
        let done = false;
        for (let i = 0; i < PUSH_ATTEMPTS && !done; i++) {
          try {
            await this.pushOne(op);
            report.pushed++;
            done = true;
          } catch (e) {
            if (e instanceof ApiFailure && e.code === 'manifest_conflict') {
              await this.pull();
            } else if (e instanceof ApiFailure && ['version_conflict', 'not_found', 'already_exists'].includes(e.code)) {
              await this.pull();
              if (await this.dropIfApplied(op)) {
                done = true;
                break;
              }
              const next = await this.resolve(op);
              if (next) {
                report.conflicts++;
                op = next;
              } else done = true;
            } else if (e instanceof Unreachable || (e instanceof ApiFailure && e.status === 401)) {
              throw e;
            } else {
              const cur = this.cache.pending.get(op.object_id);
              if (cur) await this.cache.apply({ putPending: [{ ...cur, state: 'failed', last_error: (e as Error).message, attempts: cur.attempts + 1 }] });
              done = true;
            }
          }
        }
        if (!done) {
          const cur = this.cache.pending.get(op.object_id);
          if (cur) await this.cache.apply({ putPending: [{ ...cur, state: 'failed', last_error: 'gave up after repeated conflicts', attempts: cur.attempts + 1 }] });
        }
      }
    }
  }

  private async pushOne(op: PendingOp): Promise<void> {
    if (await this.dropIfApplied(op)) return;
    const current = this.cache.objects.get(op.object_id)?.dto ?? null;
    const baseVersion = op.base ? op.base.version : null;
    if ((current ? current.version : null) !== baseVersion) throw new ApiFailure(409, 'version_conflict', 'stale base');
    const oldEl = current ? this.cache.objects.get(op.object_id)!.element : null;
    const touched = [...new Set([current?.vault_id, op.target?.vault_id].filter((x): x is string => !!x))];
    const sets = new Map<string, { count: number; hash: SetHash; st: VaultSyncState }>();
    for (const v of touched) {
      const st = this.cache.vaultState(v);
      sets.set(v, { count: st.count, hash: setOf(st), st });
    }
    if (current && oldEl) {
      const s = sets.get(current.vault_id)!;
      s.count -= 1;
      s.hash.remove(fromB64u(oldEl));
    }
    const newEl = op.target ? element(op.target) : null;
    if (op.target && newEl) {
      const s = sets.get(op.target.vault_id)!;
      s.count += 1;
      s.hash.add(fromB64u(newEl));
    }
    const manifests: ManifestDto[] = [];
    const vaults: Record<string, VaultSyncState> = { ...this.cache.meta.vaults };
    for (const [v, s] of sets) {
      const counter = s.st.counter + 1;
      const hash = s.hash.toBytes();
      const blob = shareRing(this.account).has(v)
        ? b64u(signShareManifest(this.account.signingSeed, this.account.userId, v, counter, s.count, hash))
        : b64u(signManifest(this.account.signingSeed, v, counter, s.count, hash));
      manifests.push({ vault_id: v, counter, manifest: blob });
      vaults[v] = { counter, manifest: blob, count: s.count, set_hash: b64u(hash) };
    }
    let stored: ObjectDto | null = null;
    if (op.target) {
      const t = op.target;
      stored = await this.api.putObject(op.object_id, {
        vault_id: t.vault_id,
        kind: t.kind,
        version: t.version,
        expected_version: baseVersion,
        trashed: t.trashed,
        key_wrap: t.key_wrap,
        overview: t.overview,
        details: t.details,
        manifests,
      });
      if (element(stored) !== newEl || stored.id !== op.object_id) throw new IntegrityError('the server stored something other than what was sent');
    } else {
      if (baseVersion === null) throw new Error('delete without base');
      await this.api.deleteObject(op.object_id, baseVersion, manifests);
    }
    const batch: Batch = { deletePending: [op.object_id], meta: { ...this.cache.meta, vaults } };
    // The object was changed again on this device while the request was in flight: keep that
    // newer change queued, rebased on what the server now stores.
    const latest = this.cache.pending.get(op.object_id);
    if (latest && latest !== op && latest.op === op.op) {
      batch.deletePending = [];
      batch.putPending = [await this.rebase(latest, stored)];
    }
    if (stored && newEl) {
      batch.putObjects = [{ dto: stored, element: newEl }];
      batch.seen = [[stored.id, Math.max(this.cache.seen.get(stored.id) ?? 0, stored.version)]];
    } else batch.deleteObjects = [op.object_id];
    await this.cache.apply(batch);
  }

  /** A queued change re-sealed on top of `stored` (the state this device just sent). */
  private async rebase(op: PendingOp, stored: ObjectDto | null): Promise<PendingOp> {
    const t = op.target;
    if (!t || !stored) return { ...op, base: stored, state: 'pending' };
    const vault = vaultFor(this.account, t.vault_id);
    const version = stored.version + 1;
    let target: ObjectDto;
    if (t.kind === 'item') {
      const { data, key } = await openDetails(this.account, t);
      const sealed = await sealItem(this.account, vault, op.object_id, key, version, data);
      key.fill(0);
      target = { ...t, version, key_wrap: b64u(sealed.keyWrap), overview: b64u(sealed.overview), details: b64u(sealed.details) };
    } else {
      const { data } = await openFolder(this.account, t);
      target = { ...t, version, overview: b64u(await sealFolder(vault, op.object_id, version, data)) };
    }
    return { ...op, base: stored, target, state: 'pending' };
  }

  private async dropIfApplied(op: PendingOp): Promise<boolean> {
    const current = this.cache.objects.get(op.object_id)?.dto ?? null;
    const applied = current && op.target ? element(current) === element(op.target) : !current && !op.target ? op.base !== null : false;
    if (applied) await this.cache.apply({ deletePending: [op.object_id] });
    return applied;
  }

  /** Rebuilds a queued change against the server's newer state (merge, conflict copy). */
  private async resolve(op: PendingOp): Promise<PendingOp | null> {
    const remote = this.cache.objects.get(op.object_id)?.dto ?? null;
    const ts = now();
    const target = op.target;
    if (!target) {
      await this.cache.apply({ deletePending: [op.object_id] });
      return null;
    }
    let newTarget: ObjectDto;
    const vault = vaultFor(this.account, target.vault_id);
    if (target.kind === 'item') {
      const { data: local, key } = await openDetails(this.account, target);
      if (!remote) {
        const s = await sealItem(this.account, vault, op.object_id, key, 1, local);
        newTarget = { ...target, version: 1, key_wrap: b64u(s.keyWrap), overview: b64u(s.overview), details: b64u(s.details) };
      } else {
        const { data: remoteData, key: remoteKey } = await openDetails(this.account, remote);
        const baseData = op.base ? (await openDetails(this.account, op.base)).data : remoteData;
        const merged = merge(baseData, local, remoteData, ts);
        if (merged.conflictCopy) {
          const id = uuidV4();
          const k = newItemKey();
          const s = await sealItem(this.account, vault, id, k, 1, merged.conflictCopy);
          const dto: ObjectDto = { ...target, id, version: 1, key_wrap: b64u(s.keyWrap), overview: b64u(s.overview), details: b64u(s.details), seq: 0 };
          await this.cache.apply({ putPending: [{ op: this.cache.meta.next_op, object_id: id, base: null, target: dto, state: 'pending', attempts: 0, last_error: null }], meta: { ...this.cache.meta, next_op: this.cache.meta.next_op + 1 } });
        }
        const version = remote.version + 1;
        const s = await sealItem(this.account, vault, op.object_id, remoteKey, version, merged.item);
        newTarget = { ...target, version, trashed: merged.item.trashed, key_wrap: b64u(s.keyWrap), overview: b64u(s.overview), details: b64u(s.details) };
      }
    } else {
      const local = (await openFolder(this.account, target)).data;
      let data = local;
      let version = 1;
      if (remote) {
        const r = (await openFolder(this.account, remote)).data;
        const base = op.base ? (await openFolder(this.account, op.base)).data : r;
        data = {
          name: local.name !== base.name && r.name === base.name ? local.name : r.name,
          parent_id: local.parent_id !== base.parent_id && r.parent_id === base.parent_id ? local.parent_id : r.parent_id,
        };
        version = remote.version + 1;
      }
      newTarget = { ...target, version, overview: b64u(await sealFolder(vault, op.object_id, version, data)) };
    }
    const next: PendingOp = { ...op, base: remote, target: newTarget };
    await this.cache.apply({ putPending: [next] });
    return next;
  }
}
