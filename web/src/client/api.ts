// Typed calls to /api/v1 on the origin that served the page.
import type { AccountResponse, LoginFinishResponse, LoginStartResponse, ObjectDto, ManifestDto, RegisterStartResponse, SyncResponse, VaultDto, AccountKeyset } from './types';

/** The server could not be reached (network error or timeout). */
export class Unreachable extends Error {
  constructor(detail: string) {
    super(`server unreachable: ${detail}`);
    this.name = 'Unreachable';
  }
}

/** The server answered with an error body. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error object of the body (e.g. `challenge` for `two_factor_required`). */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

const PREFIX = '/api/v1';

export class Api {
  constructor(
    private readonly base: string,
    public token: string | null = null,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = await this.callText(method, path, body);
    return (text ? JSON.parse(text) : null) as T;
  }

  /** The body of a successful answer as text (JSON or, e.g., the audit log's CSV). */
  async callText(method: string, path: string, body?: unknown): Promise<string> {
    const headers: Record<string, string> = {};
    if (this.token) headers['Authorization'] = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 30000);
    try {
      res = await fetch(this.base + PREFIX + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new Unreachable((e as Error).name === 'AbortError' ? 'timed out' : 'connection failed');
    } finally {
      clearTimeout(timer);
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new Unreachable('connection lost');
    }
    if (res.ok) return text;
    // A proxy or a stopped server behind one answers 502/503/504 without our error body.
    let parsed: { error?: { code?: string; message?: string; [k: string]: unknown } } | null = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!parsed?.error && (res.status === 502 || res.status === 503 || res.status === 504)) throw new Unreachable(`HTTP ${res.status}`);
    throw new ApiFailure(res.status, parsed?.error?.code ?? 'http_error', parsed?.error?.message ?? `HTTP ${res.status} from ${path}`, parsed?.error ?? {});
  }

  health() {
    return this.call<{ status: string; version: string }>('GET', '/health');
  }
  registerStart(email: string, userId: string, request: string) {
    return this.call<RegisterStartResponse>('POST', '/accounts/register/start', { email, user_id: userId, registration_request: request });
  }
  registerFinish(email: string, userId: string, record: string, keyset: AccountKeyset, vaults: VaultDto[]) {
    return this.call<{ user_id: string }>('POST', '/accounts/register/finish', { email, user_id: userId, registration_record: record, keyset, vaults });
  }
  loginStart(email: string, request: string) {
    return this.call<LoginStartResponse>('POST', '/auth/login/start', { email, credential_request: request });
  }
  loginTwoFactor(challenge: string, code: string) {
    return this.call<LoginFinishResponse>('POST', '/auth/login/2fa', { challenge, code });
  }
  twoFactorEnroll() {
    return this.call<{ secret: string; otpauth_uri: string }>('POST', '/account/2fa/enroll', {});
  }
  twoFactorConfirm(code: string) {
    return this.call<{ recovery_codes: string[] }>('POST', '/account/2fa/confirm', { code });
  }
  loginFinish(loginId: string, finalization: string, deviceName: string) {
    return this.call<LoginFinishResponse>('POST', '/auth/login/finish', { login_id: loginId, credential_finalization: finalization, device_name: deviceName });
  }
  logout() {
    return this.call<null>('POST', '/auth/logout');
  }
  account() {
    return this.call<AccountResponse>('GET', '/account');
  }
  sync(since: number, limit: number) {
    return this.call<SyncResponse>('GET', `/sync?since=${since}&limit=${limit}`);
  }
  putObject(id: string, req: { vault_id: string; kind: string; version: number; expected_version: number | null; trashed: boolean; key_wrap: string; overview: string; details: string; manifests: ManifestDto[] }) {
    return this.call<ObjectDto>('PUT', `/objects/${id}`, req);
  }
  deleteObject(id: string, version: number, manifests: ManifestDto[]) {
    return this.call<null>('DELETE', `/objects/${id}`, { version, manifests });
  }
}
