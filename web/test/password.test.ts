// Master password change in the browser (src/client/password.ts) against an in-memory accounts
// server whose OPAQUE side is @serenity-kit/opaque (the same opaque-ke suite as the Rust server).
// The end-to-end test (e2e/settings.e2e.test.mjs) checks the same against the real server and CLI.
import * as serenity from '@serenity-kit/opaque';
import { beforeAll, describe, expect, it } from 'vitest';
import { login, register, unlockLocal, WrongCredentials } from '../src/client/account';
import { Api } from '../src/client/api';
import type { DeviceState } from '../src/client/db';
import { changePassword, emergencyKitText, maskSecretKey, newPasswordProblems, passwordStrength } from '../src/client/password';
import type { AccountKeyset, KsfProfile } from '../src/client/types';
import { hex } from '../src/crypto/bytes';

const FLOOR: KsfProfile = { m_kib: 65536, t: 3, p: 4 };

interface User {
  id: string;
  email: string;
  record: string;
  keyset: AccountKeyset;
  vaults: unknown[];
  credentials_version: number;
}

/** Just enough of the accounts API: registration, login, password change, sessions. */
class FakeAccounts {
  users = new Map<string, User>();
  logins = new Map<string, { state: string; user: User }>();
  sessions = new Map<string, { id: string; user: string; token: string; created: number }>();
  requests: string[] = [];
  /** Another server setup answers `password/start` (a server that swapped its OPAQUE key). */
  swapKeyOnChange = false;
  ksfOnChange: KsfProfile = FLOOR;
  private seq = 0;

  constructor(readonly setup: string, readonly otherSetup: string) {}

  install(): void {
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => this.handle(String(input), init ?? {})) as typeof fetch;
  }

  private json(status: number, body: unknown): Response {
    return new Response(body === null ? '' : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }
  private err(status: number, code: string): Response {
    return this.json(status, { error: { code, message: code } });
  }
  private session(init: RequestInit) {
    const auth = new Headers(init.headers).get('authorization') ?? '';
    return [...this.sessions.values()].find((s) => `Bearer ${s.token}` === auth) ?? null;
  }
  private account(u: User) {
    return { user_id: u.id, email: u.email, credentials_version: u.credentials_version, password_changed_at: 0, keyset: u.keyset, vaults: u.vaults };
  }

  private async handle(url: string, init: RequestInit): Promise<Response> {
    const path = new URL(url, 'http://fake').pathname.replace(/^\/api\/v1/, '');
    const method = (init.method ?? 'GET').toUpperCase();
    this.requests.push(`${method} ${path}`);
    const body = init.body ? JSON.parse(String(init.body)) : {};
    if (path === '/accounts/register/start') {
      const { registrationResponse } = serenity.server.createRegistrationResponse({ serverSetup: this.setup, userIdentifier: body.user_id, registrationRequest: body.registration_request });
      return this.json(200, { registration_response: registrationResponse, ksf: FLOOR });
    }
    if (path === '/accounts/register/finish') {
      this.users.set(body.email, { id: body.user_id, email: body.email, record: body.registration_record, keyset: body.keyset, vaults: body.vaults, credentials_version: 1 });
      return this.json(200, { user_id: body.user_id });
    }
    if (path === '/auth/login/start') {
      const u = this.users.get(body.email)!;
      const { serverLoginState, loginResponse } = serenity.server.startLogin({ serverSetup: this.setup, userIdentifier: u.id, registrationRecord: u.record, startLoginRequest: body.credential_request });
      const loginId = `login-${++this.seq}`;
      this.logins.set(loginId, { state: serverLoginState, user: u });
      return this.json(200, { login_id: loginId, user_id: u.id, credential_response: loginResponse, ksf: FLOOR });
    }
    if (path === '/auth/login/finish') {
      const l = this.logins.get(body.login_id)!;
      const r = serenity.server.finishLogin({ finishLoginRequest: body.credential_finalization, serverLoginState: l.state });
      if (!r) return this.err(401, 'invalid_credentials');
      const id = `00000000-0000-4000-8000-${String(++this.seq).padStart(12, '0')}`;
      const token = `token-${this.seq}`;
      this.sessions.set(id, { id, user: l.user.id, token, created: this.seq });
      return this.json(200, { session_token: token, session_id: id, expires_at: 0, account: this.account(l.user) });
    }
    const s = this.session(init);
    if (!s) return this.err(401, 'unauthorized');
    const user = [...this.users.values()].find((u) => u.id === s.user)!;
    if (path === '/account/password/start') {
      const { registrationResponse } = serenity.server.createRegistrationResponse({ serverSetup: this.swapKeyOnChange ? this.otherSetup : this.setup, userIdentifier: user.id, registrationRequest: body.registration_request });
      return this.json(200, { registration_response: registrationResponse, ksf: this.ksfOnChange });
    }
    if (path === '/account/password/finish') {
      if (body.credentials_version !== user.credentials_version) return this.err(409, 'version_conflict');
      const old = user.keyset;
      const k = body.keyset as AccountKeyset;
      if (old.signing_public_key !== k.signing_public_key || old.encryption_public_key !== k.encryption_public_key || old.ak_version !== k.ak_version) return this.err(422, 'invalid_value');
      user.record = body.registration_record;
      user.keyset = k;
      user.credentials_version++;
      let revoked = 0;
      for (const x of [...this.sessions.values()])
        if (x.user === user.id && x.id !== s.id) {
          this.sessions.delete(x.id);
          revoked++;
        }
      return this.json(200, { credentials_version: user.credentials_version, revoked_sessions: revoked });
    }
    const del = path.match(/^\/sessions\/(.+)$/);
    if (del && method === 'DELETE') {
      const x = this.sessions.get(del[1]);
      if (x && x.user === user.id) this.sessions.delete(x.id);
      return new Response(null, { status: 204 });
    }
    return this.err(404, 'not_found');
  }
}

let setup: string;
let otherSetup: string;
beforeAll(async () => {
  await serenity.ready;
  setup = serenity.server.createSetup();
  otherSetup = serenity.server.createSetup();
});

async function world(email: string, password: string) {
  const fake = new FakeAccounts(setup, otherSetup);
  fake.install();
  const api = new Api('http://fake');
  const { secretKey } = await register(api, email, password);
  const first = await login(api, email, password, secretKey, null, 'browser');
  // A second device (another session) that the change must sign out.
  await login(new Api('http://fake'), email, password, secretKey, null, 'cli');
  api.token = first.device.session_token;
  return { fake, api, secretKey, device: first.device, account: first.account };
}

describe('master password change', () => {
  it('re-wraps the account key for the new password: the new one logs in anywhere, the old one nowhere', async () => {
    const { fake, api, secretKey, device, account } = await world('a@example.com', 'old password 1');
    const akBefore = hex(account.ak);
    let relogged: DeviceState | null = null;
    const r = await changePassword({ api, device, currentPassword: 'old password 1', newPassword: 'new password 2', policy: null, deviceName: 'browser', onRelogin: async (d) => void (relogged = d) });
    expect(r.revokedSessions).toBe(1); // the CLI's (this browser's previous session was ended after the fresh login)
    expect(fake.sessions.has(device.session_id!)).toBe(false);
    expect(relogged).not.toBeNull();
    expect(api.token).toBe(r.device.session_token);
    expect(r.device.session_id).not.toBe(device.session_id);
    expect(r.device.account.credentials_version).toBe(2);
    // Same identity keys, same vault wraps: only the account key wrap changed.
    const k0 = device.account.keyset;
    const k1 = r.device.account.keyset;
    expect(k1.signing_public_key).toBe(k0.signing_public_key);
    expect(k1.encryption_key_wrap).toBe(k0.encryption_key_wrap);
    expect(k1.account_key_wrap).not.toBe(k0.account_key_wrap);
    expect(fake.users.get('a@example.com')!.keyset).toEqual(k1);
    // Local unlock on this browser: the new password only.
    expect(hex((await unlockLocal(r.device, 'new password 2')).ak)).toBe(akBefore);
    await expect(unlockLocal(r.device, 'old password 1')).rejects.toBeInstanceOf(WrongCredentials);
    // A new device: the new password opens the same account key; the old one is refused.
    const fresh = await login(new Api('http://fake'), 'a@example.com', 'new password 2', secretKey, null, 'other');
    expect(hex(fresh.account.ak)).toBe(akBefore);
    await expect(login(new Api('http://fake'), 'a@example.com', 'old password 1', secretKey, null, 'other')).rejects.toBeInstanceOf(WrongCredentials);
  });

  it('refuses a password below the company policy or too short before anything is sent', async () => {
    const { fake, api, device } = await world('b@example.com', 'old password 1');
    const n = fake.requests.length;
    const policy = { min_length: 16, require_uppercase: true, require_lowercase: false, require_digits: true, require_symbols: false, max_age_days: null };
    await expect(changePassword({ api, device, currentPassword: 'old password 1', newPassword: 'short pw 123', policy, deviceName: 'x' })).rejects.toThrow(/at least 16 characters, an uppercase letter/);
    await expect(changePassword({ api, device, currentPassword: 'old password 1', newPassword: 'seven77', policy: null, deviceName: 'x' })).rejects.toThrow(/at least 8 characters/);
    expect(fake.requests.length).toBe(n);
  });

  it('refuses a wrong current password, a swapped OPAQUE server key and a weaker KSF without sending the change', async () => {
    const { fake, api, device } = await world('c@example.com', 'old password 1');
    await expect(changePassword({ api, device, currentPassword: 'not it at all', newPassword: 'new password 2', policy: null, deviceName: 'x' })).rejects.toBeInstanceOf(WrongCredentials);
    fake.swapKeyOnChange = true;
    await expect(changePassword({ api, device, currentPassword: 'old password 1', newPassword: 'new password 2', policy: null, deviceName: 'x' })).rejects.toThrow(/OPAQUE key differs/);
    fake.swapKeyOnChange = false;
    fake.ksfOnChange = { m_kib: 32768, t: 3, p: 4 };
    await expect(changePassword({ api, device, currentPassword: 'old password 1', newPassword: 'new password 2', policy: null, deviceName: 'x' })).rejects.toThrow();
    expect(fake.requests.filter((r) => r.endsWith('/account/password/finish'))).toEqual([]);
    // The account still opens with the old password.
    await login(new Api('http://fake'), 'c@example.com', 'old password 1', null, device, 'x');
  });
});

describe('settings helpers', () => {
  it('lists what a new password lacks, with the policy, the confirmation and reuse', () => {
    const policy = { min_length: 12, require_uppercase: false, require_lowercase: false, require_digits: false, require_symbols: true, max_age_days: 90 };
    expect(newPasswordProblems('old', 'short', 'short', null)).toEqual(['The new master password must have at least 8 characters.']);
    expect(newPasswordProblems('old', 'long enough pw', 'long enough pw', policy)).toEqual(["Your company's policy needs a symbol."]);
    expect(newPasswordProblems('same password', 'same password', 'same passwor', null)).toEqual(['The new master password is the same as the current one.', 'The two new passwords differ.']);
    expect(newPasswordProblems('old', 'long enough pw!', 'long enough pw!', policy)).toEqual([]);
  });

  it('rates passwords roughly', () => {
    expect(passwordStrength('').score).toBe(0);
    expect(passwordStrength('abc').label).toBe('Too short');
    expect(passwordStrength('aaaaaaaaaaaa').score).toBe(1);
    expect(passwordStrength('correct horse battery staple').score).toBe(4);
    expect(passwordStrength('Tr0ub4dor&3').label).toBe('Fair'); // xkcd 936: short, however mixed
  });

  it('writes the Emergency Kit as the CLI does and masks the Secret Key', () => {
    const sk = 'CK1-ABCDEF-GHJKM-NPQRS-TVWXY-Z0123-4';
    const kit = emergencyKitText('http://127.0.0.1:8087/', 'a@example.com', sk);
    expect(kit.split('\n').slice(0, 6)).toEqual([
      'CASTELLAN EMERGENCY KIT',
      '=======================',
      'Server:      http://127.0.0.1:8087',
      'Email:       a@example.com',
      `Secret Key:  ${sk}`,
      'Master password: ______________________ (write it here by hand)',
    ]);
    expect(maskSecretKey(sk)).toBe('CK1-••••••-•••••-•••••-•••••-•••••-•');
  });
});
