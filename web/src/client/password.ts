// Account settings in the browser: master password change and sessions, as
// crates/castellan-client/src/account.rs (`change_password_with`) and the CLI's `sessions`.
//
// Master password change, step by step (byte-compatible with the Rust client):
// 1. the new password is checked (8 characters; the company's verified master password policy);
// 2. a fresh OPAQUE login with the CURRENT password (the server refuses credential changes from
//    sessions older than its re-authentication window; this also proves the password), which
//    gives this browser a new session;
// 3. a new OPAQUE registration with the same Secret Key (`POST /account/password/start`),
//    refused when the offered KSF is below the pinned one or the server's OPAQUE key differs
//    from the pinned one;
// 4. the account key re-wrapped under the new account unlock key (same AK, same ak_version, same
//    identity keys), sent with the OPAQUE record and the read `credentials_version`
//    (`POST /account/password/finish`); the server revokes every other session;
// 5. the local unlock wrap re-made with the new password; the device state saved.
import { b64u, ctEq, fromB64u } from '../crypto/bytes';
import { Context, wrapKey } from '../crypto/envelope';
import { accountUnlockKey, KSF_FLOOR, localUnlockKey } from '../crypto/kdf';
import { aukId, lukId } from '../crypto/keyids';
import { clientRegistrationFinish, clientRegistrationStart } from '../crypto/opaque';
import { parseSecretKey, passwordInput } from '../crypto/secretKey';
import type { MasterPasswordPolicy } from '../org/types';
import { masterPasswordProblems } from '../org/policy';
import { checkKsf, IntegrityError, login, MIN_PASSWORD_CHARS, wipeAccount, type TwoFactorPrompt, type UnlockedAccount } from './account';
import type { Api } from './api';
import type { DeviceState } from './db';
import type { AccountKeyset, RegisterStartResponse } from './types';

export interface SessionDto {
  id: string;
  device_name: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  current: boolean;
}

export function listSessions(api: Api): Promise<SessionDto[]> {
  return api.call<{ sessions: SessionDto[] }>('GET', '/sessions').then((r) => r.sessions);
}

export function revokeSession(api: Api, id: string): Promise<null> {
  return api.call<null>('DELETE', `/sessions/${id}`);
}

/** Revokes every session but the current one; returns how many. */
export async function revokeOtherSessions(api: Api): Promise<number> {
  let n = 0;
  for (const s of await listSessions(api)) {
    if (s.current) continue;
    await revokeSession(api, s.id);
    n++;
  }
  return n;
}

/**
 * What a new master password lacks before anything is sent: the same checks as the Rust
 * client's `check_new_password` and `check_master_password` (the verified company policy),
 * plus the form's own (the confirmation, and not the current password again).
 */
export function newPasswordProblems(current: string, next: string, confirm: string, policy: MasterPasswordPolicy | null): string[] {
  const out: string[] = [];
  if ([...next].length < MIN_PASSWORD_CHARS) out.push(`The new master password must have at least ${MIN_PASSWORD_CHARS} characters.`);
  if (policy) {
    const p = masterPasswordProblems(policy, next);
    if (p.length) out.push(`Your company's policy needs ${p.join(', ')}.`);
  }
  if (next && next === current) out.push('The new master password is the same as the current one.');
  if (confirm !== next) out.push('The two new passwords differ.');
  return out;
}

/** A rough strength estimate (0 to 4) from length and character classes; a hint, not a guarantee. */
export function passwordStrength(pw: string): { score: 0 | 1 | 2 | 3 | 4; label: string } {
  const len = [...pw].length;
  if (len === 0) return { score: 0, label: '' };
  let classes = 0;
  for (const re of [/\p{Lowercase}/u, /\p{Uppercase}/u, /\p{N}/u, /[^\p{Alphabetic}\p{N}]/u]) if (re.test(pw)) classes++;
  const words = pw.trim().split(/\s+/).length;
  // Bits, roughly: each character adds more when several classes are mixed; passphrases of
  // four or more words count by length.
  const perChar = classes <= 1 ? 3 : classes === 2 ? 4.5 : 5.5;
  let bits = len * perChar;
  if (/^(.)\1*$/u.test(pw)) bits = 4;
  if (words >= 4) bits = Math.max(bits, len * 4);
  const score = len < MIN_PASSWORD_CHARS ? 0 : bits < 45 ? 1 : bits < 65 ? 2 : bits < 85 ? 3 : 4;
  return { score, label: ['Too short', 'Weak', 'Fair', 'Good', 'Strong'][score] };
}

async function localWrap(password: string, sk: Uint8Array, device: DeviceState, ak: Uint8Array): Promise<Uint8Array> {
  const luk = await localUnlockKey(password, sk, fromB64u(device.device_salt), device.device_id, KSF_FLOOR);
  try {
    return await wrapKey(luk, lukId(device.device_id), Context.localDeviceWrap(device.user_id, device.device_id), ak);
  } finally {
    luk.fill(0);
  }
}

export interface PasswordChanged {
  /** The device state to store (new session, new local wrap, new key set wrap, credentials version). */
  device: DeviceState;
  /** Other sessions the server revoked. */
  revokedSessions: number;
}

/**
 * Changes the master password. `api` is a client of this origin (its token is replaced by the
 * fresh login's); `device` is this browser's device state; `policy` the verified company master
 * password policy, if any. With `afterLogin`, the session is known to be fresh (a login just
 * happened, e.g. a session restricted to a password change) and no second login is made; then
 * `account` must be the account that login unlocked.
 */
export async function changePassword(opts: {
  api: Api;
  device: DeviceState;
  account?: UnlockedAccount;
  currentPassword?: string;
  newPassword: string;
  policy: MasterPasswordPolicy | null;
  deviceName: string;
  twoFactor?: TwoFactorPrompt;
  /** Called with the fresh login's device state (a new session) before the change is sent, so
   * that it is kept even when the change fails afterwards. */
  onRelogin?: (device: DeviceState) => Promise<void>;
}): Promise<PasswordChanged> {
  const { api, newPassword } = opts;
  if ([...newPassword].length < MIN_PASSWORD_CHARS) throw new Error(`the master password must have at least ${MIN_PASSWORD_CHARS} characters`);
  if (opts.policy) {
    const p = masterPasswordProblems(opts.policy, newPassword);
    if (p.length) throw new Error(`the master password does not meet your company's policy: it needs ${p.join(', ')}`);
  }
  let device = opts.device;
  let account: UnlockedAccount;
  let ownAccount = false;
  if (opts.currentPassword !== undefined) {
    // A fresh OPAQUE login proves the current password and gives this browser a new session.
    const r = await login(api, device.email, opts.currentPassword, null, device, opts.deviceName, opts.twoFactor);
    device = r.device;
    account = r.account;
    ownAccount = true;
    api.token = device.session_token;
    await opts.onRelogin?.(device);
    // This browser's previous session is replaced by the fresh one: end it now, so that the
    // count the server reports below is the other devices' sessions only.
    const previous = opts.device.session_id;
    if (previous && previous !== device.session_id) await revokeSession(api, previous).catch(() => null);
  } else if (opts.account) {
    account = opts.account;
  } else {
    throw new Error('the current master password is required');
  }
  try {
    const sk = parseSecretKey(device.secret_key);
    const userId = device.user_id;
    const pwIn = passwordInput(newPassword, sk);
    const { state, request } = clientRegistrationStart(pwIn);
    const start = await api.call<RegisterStartResponse>('POST', '/account/password/start', { registration_request: b64u(request) });
    const ksf = checkKsf(start.ksf, device.ksf);
    let reg;
    try {
      reg = await clientRegistrationFinish(state, pwIn, fromB64u(start.registration_response), ksf);
    } finally {
      pwIn.fill(0);
    }
    if (!ctEq(fromB64u(device.server_public_key), reg.serverPublicKey)) {
      reg.exportKey.fill(0);
      throw new IntegrityError("the server's OPAQUE key differs from the one pinned on this device");
    }
    const auk = accountUnlockKey(reg.exportKey, userId);
    reg.exportKey.fill(0);
    let akWrap: Uint8Array;
    try {
      akWrap = await wrapKey(auk, aukId(userId), Context.accountKeyWrap(userId, account.akVersion), account.ak);
    } finally {
      auk.fill(0);
    }
    const keyset: AccountKeyset = { ...device.account.keyset, account_key_wrap: b64u(akWrap), ksf: { m_kib: ksf.m_kib, t: ksf.t, p: ksf.p } };
    const done = await api.call<{ credentials_version: number; revoked_sessions: number }>('POST', '/account/password/finish', {
      credentials_version: device.account.credentials_version,
      registration_record: b64u(reg.upload),
      keyset,
    });
    const wrap = await localWrap(newPassword, sk, device, account.ak);
    sk.fill(0);
    const next: DeviceState = {
      ...device,
      local_wrap: b64u(wrap),
      ksf: { m_kib: ksf.m_kib, t: ksf.t, p: ksf.p },
      account: { ...device.account, keyset, credentials_version: done.credentials_version },
    };
    return { device: next, revokedSessions: done.revoked_sessions };
  } finally {
    if (ownAccount) wipeAccount(account);
  }
}

/** The Emergency Kit as the CLI writes it (`castellan register --kit-file`). */
export function emergencyKitText(server: string, email: string, secretKey: string): string {
  return (
    'CASTELLAN EMERGENCY KIT\n' +
    '=======================\n' +
    `Server:      ${server.replace(/\/+$/, '')}\n` +
    `Email:       ${email}\n` +
    `Secret Key:  ${secretKey}\n` +
    'Master password: ______________________ (write it here by hand)\n\n' +
    'You need the Secret Key and your master password to sign in on a new device.\n' +
    'Nobody, including your administrator and the server, can recover them for you.\n' +
    'Print this page or keep it somewhere safe and offline.\n'
  );
}

/** The Secret Key with every group but the "CK1" prefix hidden. */
export function maskSecretKey(text: string): string {
  const parts = text.split('-');
  if (parts.length < 3) return '•'.repeat(text.length);
  return parts.map((p, i) => (i === 0 ? p : '•'.repeat(p.length))).join('-');
}
