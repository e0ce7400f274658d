// An in-memory stand-in for the server's vault API (GET /sync, PUT/DELETE /objects/{id},
// GET /health) with the same compare-and-swap rules for object versions and manifest counters,
// installed as globalThis.fetch. It can be taken offline and made to misbehave.
import type { ManifestDto, ObjectDto } from '../src/client/types';

interface Stored extends ObjectDto {}

export class FakeServer {
  objects = new Map<string, Stored>();
  tombstones: { id: string; vault_id: string; seq: number }[] = [];
  manifests = new Map<string, ManifestDto>();
  seq = 0;
  online = true;
  /** Hooks for malicious behaviour: rewrite a sync page before it is sent. */
  rewriteSync: ((page: { objects: ObjectDto[]; tombstones: unknown[] }) => void) | null = null;
  /** Called when a request arrives (to interleave edits with requests in flight). */
  onRequest: ((method: string, path: string) => Promise<void> | void) | null = null;
  requests: string[] = [];

  install(): void {
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => this.handle(String(input), init ?? {})) as typeof fetch;
  }

  private json(status: number, body: unknown): Response {
    return new Response(body === null ? '' : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }
  private error(status: number, code: string, message: string): Response {
    return this.json(status, { error: { code, message } });
  }

  private async handle(url: string, init: RequestInit): Promise<Response> {
    if (!this.online) throw new TypeError('fetch failed');
    const u = new URL(url, 'http://fake');
    const method = (init.method ?? 'GET').toUpperCase();
    const path = u.pathname.replace(/^\/api\/v1/, '');
    this.requests.push(`${method} ${path}`);
    if (this.onRequest) await this.onRequest(method, path);
    if (path === '/health') return this.json(200, { status: 'ok', version: 'fake' });
    if (path === '/sync' && method === 'GET') {
      const since = Number(u.searchParams.get('since') ?? 0);
      const objects = [...this.objects.values()].filter((o) => o.seq > since).sort((a, b) => a.seq - b.seq).map((o) => ({ ...o }));
      const tombstones = this.tombstones.filter((t) => t.seq > since);
      const page = { objects, tombstones };
      this.rewriteSync?.(page);
      return this.json(200, { ...page, cursor: this.seq, has_more: false, reset: false, manifests: [...this.manifests.values()] });
    }
    const m = path.match(/^\/objects\/([0-9a-f-]{36})$/);
    if (m) {
      const id = m[1];
      const body = JSON.parse(String(init.body ?? '{}'));
      const current = this.objects.get(id);
      const touched = [body.vault_id ?? current?.vault_id];
      if (current && body.vault_id && current.vault_id !== body.vault_id) touched.push(current.vault_id);
      if (method === 'PUT') {
        if (body.expected_version == null ? current : current?.version !== body.expected_version) return this.error(409, current ? 'version_conflict' : 'not_found', 'stale');
        if (body.version !== (body.expected_version ?? 0) + 1) return this.error(422, 'invalid_value', 'bad version');
      } else if (method === 'DELETE') {
        if (!current) return this.error(404, 'not_found', 'gone');
        if (current.version !== body.version) return this.error(409, 'version_conflict', 'stale');
      }
      for (const v of touched) {
        const mm = (body.manifests as ManifestDto[]).find((x) => x.vault_id === v);
        if (!mm) return this.error(422, 'invalid_value', 'missing manifest');
        if (mm.counter !== (this.manifests.get(v)?.counter ?? 0) + 1) return this.error(409, 'manifest_conflict', 'stale manifest');
      }
      for (const mm of body.manifests as ManifestDto[]) this.manifests.set(mm.vault_id, mm);
      this.seq++;
      if (method === 'DELETE') {
        this.objects.delete(id);
        this.tombstones.push({ id, vault_id: current!.vault_id, seq: this.seq });
        return new Response(null, { status: 204 });
      }
      const stored: Stored = {
        id,
        vault_id: body.vault_id,
        kind: body.kind,
        version: body.version,
        trashed: body.trashed,
        key_wrap: body.key_wrap,
        overview: body.overview,
        details: body.details,
        created_at: current?.created_at ?? 1,
        updated_at: 2,
        seq: this.seq,
      };
      this.objects.set(id, stored);
      return this.json(200, stored);
    }
    return this.error(404, 'not_found', 'no such endpoint');
  }
}
