// Application state: which screen is shown, the device state and the unlocked vault.
import { signal } from '@preact/signals';
import { login, register, unlockLocal } from './client/account';
import { Api } from './client/api';
import { IdbBackend, LocalCache } from './client/db';
import { VaultClient } from './client/vault';

export type Phase = 'boot' | 'other-tab' | 'login' | 'register' | 'kit' | 'unlock' | 'vault';

export const phase = signal<Phase>('boot');
export const vault = signal<VaultClient | null>(null);
export const kit = signal<{ email: string; secretKey: string; server: string } | null>(null);
export const bootError = signal<string | null>(null);

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
  vault.value = client;
  await client.refresh();
  phase.value = 'vault';
  client.startEvents();
}

export async function doLogin(email: string, password: string, secretKey: string): Promise<void> {
  const existing = cache.device && cache.device.email.toLowerCase() === email.trim().toLowerCase() ? cache.device : null;
  if (cache.device && !existing) {
    if (cache.pending.size > 0) throw new Error(`this browser holds ${cache.pending.size} unsent change(s) of ${cache.device.email}; sign in as that account first`);
    await cache.clear();
  }
  const api = new Api(origin());
  const { device, account } = await login(api, email, password, secretKey.trim() ? secretKey : null, existing, deviceName());
  await cache.apply({ device });
  api.token = device.session_token;
  await openVault(api, account);
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
  vault.value = client;
  await client.refresh();
  phase.value = 'kit';
}

export function continueFromKit(): void {
  kit.value = null;
  phase.value = 'vault';
  vault.value?.startEvents();
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
  phase.value = 'login';
}

export function lock(): void {
  vault.value?.lock();
  vault.value = null;
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
  await cache.clear();
  phase.value = 'login';
}
