// Application state: which screen is shown, the device state and the unlocked vault.
import { signal } from '@preact/signals';
import { login, register, unlockLocal, type LoginNotice, type UnlockedAccount } from './client/account';
import { Api } from './client/api';
import { IdbBackend, LocalCache } from './client/db';
import { VaultClient } from './client/vault';
import { ApiFailure } from './client/api';
import { OrgApi } from './org/api';
import { normaliseEmail } from './org/docs';
import type { InviteLink } from './org/invite';
import { emptyPins, type OrgPins, type PinStorage } from './org/pins';
import { cachePins } from './share/pins';
import { checkMasterPassword } from './org/policy';
import { joinWithLink, OrgSession, verifyInvitationPreview } from './org/session';
import { attachMemberBackup } from './org/member-backup';

export type Phase = 'boot' | 'other-tab' | 'login' | 'register' | 'kit' | 'unlock' | 'restricted' | 'vault';

export const phase = signal<Phase>('boot');
export const vault = signal<VaultClient | null>(null);
export const kit = signal<{ email: string; secretKey: string; server: string } | null>(null);
export const bootError = signal<string | null>(null);
/** Set while the login waits for a two-step code (`retry` after a wrong one). */
export const twoFactorAsk = signal<{ retry: boolean; resolve: (code: string) => void; reject: (e: Error) => void } | null>(null);
/** What the last login answered about two-step verification and restrictions. */
export const loginNotice = signal<LoginNotice | null>(null);
/** A signed-in session that may only fix something first (phase 'restricted'). */
let restrictedSession: { api: Api; account: UnlockedAccount } | null = null;

export const cache = new LocalCache(new IdbBackend());
const origin = () => window.location.origin;

export const IDLE_LOCK_MS = 10 * 60 * 1000;

const TAB_LOCK = 'castellan-vault-v1';

/**
 * One tab at a time: every tab keeps the offline cache mirrored in memory, so two tabs writing
 * the same IndexedDB cache would overwrite each other's sync state. The tab holds a Web Lock for
 * as long as it lives; another tab can take it over ("use it here"), which sends the first one
 * back to a notice.
 */
function holdTabLock(steal: boolean): Promise<boolean> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    const opts: LockOptions = steal ? { steal: true } : { ifAvailable: true };
    locks
      .request(TAB_LOCK, opts, (lock) => {
        if (!lock) {
          resolve(false);
          return undefined;
        }
        resolve(true);
        return new Promise<void>(() => undefined);
      })
      .catch(() => {
        // Another tab took the vault over.
        vault.value?.lock();
        vault.value = null;
        phase.value = 'other-tab';
      });
  });
}

export async function useHere(): Promise<void> {
  await holdTabLock(true);
  await loadAndStart();
}

export async function boot(): Promise<void> {
  if (!(await holdTabLock(false))) {
    phase.value = 'other-tab';
    return;
  }
  await loadAndStart();
}

async function loadAndStart(): Promise<void> {
  try {
    await cache.load();
    phase.value = cache.device ? 'unlock' : 'login';
  } catch (e) {
    bootError.value = `The local vault storage (IndexedDB) is not available: ${(e as Error).message}`;
    phase.value = 'login';
  }
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Chrome\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : 'browser';
  return `Web vault (${browser})`;
}

async function openVault(api: Api, account: Awaited<ReturnType<typeof unlockLocal>>): Promise<void> {
  const client = new VaultClient(cache, api, account);
  attachMemberBackup(client, devicePins);
  vault.value = client;
  await client.refresh();
  phase.value = 'vault';
  client.startEvents();
  void loadOrg();
}

export async function doLogin(email: string, password: string, secretKey: string): Promise<void> {
  const existing = cache.device && cache.device.email.toLowerCase() === email.trim().toLowerCase() ? cache.device : null;
  if (cache.device && !existing) {
    if (cache.pending.size > 0) throw new Error(`this browser holds ${cache.pending.size} unsent change(s) of ${cache.device.email}; sign in as that account first`);
    await cache.clear();
  }
  const api = new Api(origin());
  const ask = (retry: boolean) => new Promise<string>((resolve, reject) => (twoFactorAsk.value = { retry, resolve, reject }));
  let r;
  try {
    r = await login(api, email, password, secretKey.trim() ? secretKey : null, existing, deviceName(), ask);
  } finally {
    twoFactorAsk.value = null;
  }
  const { device, account, notice } = r;
  await cache.apply({ device });
  api.token = device.session_token;
  loginNotice.value = notice.restriction || notice.twoFactorGraceRemaining !== null ? notice : null;
  if (notice.restriction) {
    // The server answers only the fix (and GET /account) until it is done.
    restrictedSession = { api, account };
    phase.value = 'restricted';
    return;
  }
  await openVault(api, account);
}

/** The session's restriction was lifted (two-step verification set up): on to the vault. */
export async function leaveRestricted(): Promise<void> {
  const s = restrictedSession;
  restrictedSession = null;
  if (loginNotice.value) loginNotice.value = { ...loginNotice.value, restriction: null, twoFactorGraceRemaining: null };
  if (!s) {
    phase.value = cache.device ? 'unlock' : 'login';
    return;
  }
  await openVault(s.api, s.account);
}

/** The restricted session's API and keys (a password change made right after the login). */
export function restrictedAccount(): { api: Api; account: UnlockedAccount } | null {
  return restrictedSession;
}

/** The API of the open session (vault or restricted), for account calls such as 2FA enrolment. */
export function sessionApi(): Api | null {
  return restrictedSession?.api ?? (cache.device ? new Api(origin(), cache.device.session_token) : null);
}

export async function doRegister(email: string, password: string): Promise<void> {
  const api = new Api(origin());
  const { secretKey } = await register(api, email, password);
  await cache.clear();
  const { device, account } = await login(api, email, password, secretKey, null, deviceName());
  await cache.apply({ device });
  api.token = device.session_token;
  kit.value = { email: device.email, secretKey, server: origin() };
  const client = new VaultClient(cache, api, account);
  attachMemberBackup(client, devicePins);
  vault.value = client;
  await client.refresh();
  phase.value = 'kit';
}

export function continueFromKit(): void {
  kit.value = null;
  phase.value = 'vault';
  vault.value?.startEvents();
  void loadOrg();
}

export async function doUnlock(password: string): Promise<void> {
  const device = cache.device;
  if (!device) throw new Error('no account on this browser');
  const account = await unlockLocal(device, password);
  await openVault(new Api(origin(), device.session_token), account);
}

/** Back to the sign-in page (keeping this browser's device state), e.g. after the session expired. */
export function signInAgain(): void {
  vault.value?.lock();
  vault.value = null;
  org.value = null;
  phase.value = 'login';
}

export function lock(): void {
  vault.value?.lock();
  vault.value = null;
  org.value = null;
  phase.value = cache.device ? 'unlock' : 'login';
}

/** Forgets the account on this browser (refused while changes are unsent, unless forced). */
export async function logout(force: boolean): Promise<void> {
  if (cache.pending.size > 0 && !force) throw new Error(`${cache.pending.size} change(s) have not reached the server yet`);
  const token = cache.device?.session_token ?? null;
  if (token) {
    try {
      await new Api(origin(), token).logout();
    } catch {
      // best effort, as the CLI
    }
  }
  vault.value?.lock();
  vault.value = null;
  org.value = null;
  await cache.clear();
  phase.value = 'login';
}

// ------------------------------------------------------------ organisation: portals and joining

/** The pins live in the device state (IndexedDB), as device.json's `org` field. */
export const devicePins: PinStorage = {
  load: () => structuredClone(cache.device?.org ?? emptyPins()),
  save: async (pins: OrgPins) => {
    if (!cache.device) throw new Error('no account on this browser');
    await cache.apply({ device: { ...cache.device, org: pins } });
  },
};

export type Route =
  | { page: 'vault' }
  | { page: 'portal' }
  | { page: 'setup' }
  | { page: 'account' }
  | { page: 'partner'; tab: 'customers' | 'templates' | 'technicians' }
  | { page: 'company'; id: string; tab: 'users' | 'groups' | 'policies' | 'subscription' | 'backup' | 'shares' | 'audit' };

const COMPANY_TABS = ['users', 'groups', 'policies', 'subscription', 'backup', 'shares', 'audit'] as const;
const PARTNER_TABS = ['customers', 'templates', 'technicians'] as const;

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'portal') return { page: 'portal' };
  if (parts[0] === 'setup') return { page: 'setup' };
  if (parts[0] === 'account') return { page: 'account' };
  if (parts[0] === 'partner') {
    const tab = (PARTNER_TABS as readonly string[]).includes(parts[1]) ? (parts[1] as (typeof PARTNER_TABS)[number]) : 'customers';
    return { page: 'partner', tab };
  }
  if (parts[0] === 'company' && parts[1] && /^[0-9a-f-]{36}$/i.test(parts[1])) {
    const tab = (COMPANY_TABS as readonly string[]).includes(parts[2]) ? (parts[2] as (typeof COMPANY_TABS)[number]) : 'users';
    return { page: 'company', id: parts[1].toLowerCase(), tab };
  }
  return { page: 'vault' };
}

export function routeHash(r: Route): string {
  switch (r.page) {
    case 'vault':
      return '#/';
    case 'portal':
    case 'setup':
    case 'account':
      return `#/${r.page}`;
    case 'partner':
      return `#/partner/${r.tab}`;
    case 'company':
      return `#/company/${r.id}/${r.tab}`;
  }
}

/** An invitation link the page was opened with (`/join#v1...`); removed from the address bar at once. */
export const joinLink = signal<string | null>(null);
export const route = signal<Route>({ page: 'vault' });
/** The invitee chose to sign in with an existing account first. */
export const joinSignIn = signal(false);

export function initRouting(): void {
  if (window.location.pathname === '/join' && window.location.hash.startsWith('#v1.')) {
    joinLink.value = window.location.href;
    // The fragment holds the link's secret: keep it out of the address bar and the history.
    window.history.replaceState(null, '', '/');
  }
  route.value = parseRoute(window.location.hash);
  window.addEventListener('hashchange', () => {
    route.value = parseRoute(window.location.hash);
  });
}

export function navigate(r: Route): void {
  const h = routeHash(r);
  if (window.location.hash !== h) window.location.hash = h;
  route.value = r;
}

/** The organisation view of the signed-in account (null: no company, or not loaded yet). */
export const org = signal<OrgSession | null>(null);
export const orgState = signal<'idle' | 'loading' | 'ready' | 'error'>('idle');
export const orgError = signal<string | null>(null);
/** The server still accepts a setup token (no partner exists yet). */
export const setupOpen = signal(false);

export async function loadOrg(): Promise<void> {
  const client = vault.value;
  if (!client) return;
  orgState.value = 'loading';
  orgError.value = null;
  try {
    const s = await OrgSession.open(client.api, client.account, devicePins, origin(), cachePins(cache));
    org.value = s;
    if (!s.company) {
      try {
        setupOpen.value = (await s.api.setupStatus()).open;
      } catch {
        setupOpen.value = false;
      }
    }
    orgState.value = 'ready';
  } catch (e) {
    org.value = null;
    if (e instanceof ApiFailure && e.status === 404) {
      orgState.value = 'ready';
      return;
    }
    orgError.value = (e as Error).message;
    orgState.value = 'error';
  }
}

/** Registers through an invitation: the link is verified and the master password checked against
 * the company's verified policy BEFORE the account is created; then the account joins. */
export async function doRegisterWithInvite(link: InviteLink, password: string): Promise<void> {
  const api = new Api(origin());
  const oapi = new OrgApi(api);
  const pins = emptyPins();
  const v = await verifyInvitationPreview(oapi, link, pins);
  checkMasterPassword(v.policy.policies, password);
  const email = normaliseEmail(v.body.email);
  const { secretKey } = await register(api, email, password);
  await cache.clear();
  const { device, account } = await login(api, email, password, secretKey, null, deviceName());
  device.org = pins;
  await cache.apply({ device });
  api.token = device.session_token;
  await joinWithLink(new OrgApi(api), devicePins, email, link);
  kit.value = { email: device.email, secretKey, server: origin() };
  const client = new VaultClient(cache, api, account);
  attachMemberBackup(client, devicePins);
  vault.value = client;
  await client.refresh();
  joinLink.value = null;
  phase.value = 'kit';
}

/** Joins with the signed-in account. */
export async function doJoin(link: InviteLink): Promise<{ companyName: string; role: string; fingerprint: string; warnings: string[] }> {
  const client = vault.value;
  if (!client) throw new Error('sign in first');
  const r = await joinWithLink(new OrgApi(client.api), devicePins, client.account.email, link);
  await loadOrg();
  return r;
}
