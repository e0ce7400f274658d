// Accounts (crates/castellan-client/src/account.rs): register, OPAQUE login, local unlock and
// open_account with every check of the key set.
import { b64u, concat, ctEq, fromB64u, lp, randomBytes, u64be, uuidBytes, uuidV4 } from '../crypto/bytes';
import { Context, open, seal, unwrapKey, wrapKey } from '../crypto/envelope';
import { CryptoError } from '../crypto/errors';
import { accountUnlockKey, atLeast, checkFloor, KSF_FLOOR, localUnlockKey, type KsfParams } from '../crypto/kdf';
import { akId, aukId, lukId, vaultKeyId } from '../crypto/keyids';
import { clientLoginFinish, clientLoginStart, clientRegistrationFinish, clientRegistrationStart } from '../crypto/opaque';
import { formatSecretKey, parseSecretKey, passwordInput } from '../crypto/secretKey';
import { publicKeyFromSeed, signStatement, verifyStatement } from '../crypto/sign';
import { x25519PublicKey } from '../crypto/hpke';
import { Api, ApiFailure } from './api';
import type { DeviceState } from './db';
import type { AccountKeyset, AccountResponse, KsfProfile, VaultDto, VaultKind } from './types';

export const MIN_PASSWORD_CHARS = 8;
const KEY_BINDING = 'key-binding';

/** An integrity failure: the server sent something the client refuses. */
export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}
export class WrongCredentials extends Error {
  constructor(message = 'wrong email, master password or Secret Key') {
    super(message);
    this.name = 'WrongCredentials';
  }
}

export interface UnlockedVault {
  id: string;
  kind: VaultKind;
  key: Uint8Array;
  keyVersion: number;
  keyId: string;
}

export interface UnlockedAccount {
  userId: string;
  email: string;
  ak: Uint8Array;
  akVersion: number;
  signingSeed: Uint8Array;
  signingPublic: Uint8Array;
  encryptionPrivate: Uint8Array;
  vaults: UnlockedVault[];
}

export function wipeAccount(a: UnlockedAccount): void {
  a.ak.fill(0);
  a.signingSeed.fill(0);
  a.encryptionPrivate.fill(0);
  for (const v of a.vaults) v.key.fill(0);
}

function keyBindingBody(userId: string, k: AccountKeyset): Uint8Array {
  return concat(
    lp(uuidBytes(userId)),
    lp(u64be(k.ak_version)),
    lp(uuidBytes(k.signing_key_id)),
    lp(fromB64u(k.signing_public_key)),
    lp(uuidBytes(k.encryption_key_id)),
    lp(fromB64u(k.encryption_public_key)),
  );
}

/** Checks a member's self-signed key binding (as account::verify_key_binding). */
export function verifyKeyBinding(userId: string, akVersion: number, signingKeyId: string, signingPublicKey: string, encryptionKeyId: string, encryptionPublicKey: string, signature: string): void {
  const k = { ak_version: akVersion, signing_key_id: signingKeyId, signing_public_key: signingPublicKey, encryption_key_id: encryptionKeyId, encryption_public_key: encryptionPublicKey } as AccountKeyset;
  try {
    verifyStatement(fromB64u(signingPublicKey), KEY_BINDING, keyBindingBody(userId, k), fromB64u(signature));
  } catch {
    throw new IntegrityError("the member's key binding signature is invalid");
  }
}

/** Refuses KSF parameters below the floor or below what this device pinned. */
export function checkKsf(offered: KsfProfile, pinned: KsfProfile | null): KsfParams {
  checkFloor(offered);
  if (pinned && !atLeast(offered, pinned)) {
    throw new IntegrityError(`the server offered key derivation parameters (m=${offered.m_kib} KiB, t=${offered.t}, p=${offered.p}) weaker than this device pinned`);
  }
  return { m_kib: offered.m_kib, t: offered.t, p: offered.p };
}

async function openOrIntegrity<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CryptoError) throw new IntegrityError(`${what}: ${e.message}`);
    throw e;
  }
}

/** Opens a key set with the account key, checking every binding. */
export async function openAccount(userId: string, email: string, ak: Uint8Array, account: AccountResponse): Promise<UnlockedAccount> {
  const k = account.keyset;
  if (account.user_id !== userId) throw new IntegrityError("the server returned another account's keys");
  if (k.format !== 1) throw new IntegrityError('unknown key set format');
  const akid = akId(userId, k.ak_version);
  const seed = await openOrIntegrity(open(ak, akid, Context.privateKeyWrap(userId, k.signing_key_id, 'sig'), fromB64u(k.signing_key_wrap)), 'signing key');
  if (seed.length !== 32) throw new IntegrityError('bad signing key');
  const signingPublic = publicKeyFromSeed(seed);
  if (!ctEq(signingPublic, fromB64u(k.signing_public_key))) throw new IntegrityError("the signing public key does not match the account's private key");
  const enc = await openOrIntegrity(open(ak, akid, Context.privateKeyWrap(userId, k.encryption_key_id, 'enc'), fromB64u(k.encryption_key_wrap)), 'encryption key');
  if (enc.length !== 32) throw new IntegrityError('bad encryption key');
  if (!ctEq(x25519PublicKey(enc), fromB64u(k.encryption_public_key))) throw new IntegrityError("the encryption public key does not match the account's private key");
  try {
    verifyStatement(signingPublic, KEY_BINDING, keyBindingBody(userId, k), fromB64u(k.key_binding_signature));
  } catch {
    throw new IntegrityError('the key binding signature is invalid');
  }
  const vaults: UnlockedVault[] = [];
  for (const kind of ['personal', 'business'] as VaultKind[]) {
    const matching = account.vaults.filter((v) => v.kind === kind);
    if (matching.length !== 1) throw new IntegrityError(`the account must have exactly one ${kind} vault`);
    const v = matching[0];
    const key = await openOrIntegrity(unwrapKey(ak, akid, Context.vaultKeyWrap(userId, v.id, v.key_version, kind), fromB64u(v.key_wrap)), `${kind} vault key`);
    vaults.push({ id: v.id, kind, key, keyVersion: v.key_version, keyId: vaultKeyId(v.id, v.key_version) });
  }
  return { userId, email, ak, akVersion: k.ak_version, signingSeed: seed, signingPublic, encryptionPrivate: enc, vaults };
}

async function newAccountMaterial(userId: string, ak: Uint8Array, accountKeyWrap: Uint8Array, ksf: KsfParams): Promise<{ keyset: AccountKeyset; vaults: VaultDto[] }> {
  const akVersion = 1;
  const akid = akId(userId, akVersion);
  const signingSeed = randomBytes(32);
  const encPriv = randomBytes(32);
  const signingKeyId = uuidV4();
  const encryptionKeyId = uuidV4();
  const keyset: AccountKeyset = {
    format: 1,
    ak_version: akVersion,
    account_key_wrap: b64u(accountKeyWrap),
    ksf: { m_kib: ksf.m_kib, t: ksf.t, p: ksf.p },
    signing_key_id: signingKeyId,
    signing_public_key: b64u(publicKeyFromSeed(signingSeed)),
    signing_key_wrap: b64u(await seal(ak, akid, Context.privateKeyWrap(userId, signingKeyId, 'sig'), signingSeed)),
    encryption_key_id: encryptionKeyId,
    encryption_public_key: b64u(x25519PublicKey(encPriv)),
    encryption_key_wrap: b64u(await seal(ak, akid, Context.privateKeyWrap(userId, encryptionKeyId, 'enc'), encPriv)),
    key_binding_signature: '',
  };
  keyset.key_binding_signature = b64u(signStatement(signingSeed, KEY_BINDING, keyBindingBody(userId, keyset)));
  signingSeed.fill(0);
  encPriv.fill(0);
  const vaults: VaultDto[] = [];
  for (const kind of ['personal', 'business'] as VaultKind[]) {
    const id = uuidV4();
    const key = randomBytes(32);
    vaults.push({ id, kind, key_wrap: b64u(await wrapKey(ak, akid, Context.vaultKeyWrap(userId, id, 1, kind), key)), key_version: 1 });
    key.fill(0);
  }
  return { keyset, vaults };
}

export function checkNewPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_CHARS) throw new Error(`the master password must have at least ${MIN_PASSWORD_CHARS} characters`);
}

/** Creates an account; returns the Secret Key text for the Emergency Kit. */
export async function register(api: Api, email: string, password: string): Promise<{ userId: string; secretKey: string }> {
  checkNewPassword(password);
  const sk = randomBytes(16);
  const pwIn = passwordInput(password, sk);
  const userId = uuidV4();
  const { state, request } = clientRegistrationStart(pwIn);
  const start = await api.registerStart(email.trim(), userId, b64u(request));
  const ksf = checkKsf(start.ksf, null);
  const { upload, exportKey } = await clientRegistrationFinish(state, pwIn, fromB64u(start.registration_response), ksf);
  pwIn.fill(0);
  const auk = accountUnlockKey(exportKey, userId);
  exportKey.fill(0);
  const ak = randomBytes(32);
  const akWrap = await wrapKey(auk, aukId(userId), Context.accountKeyWrap(userId, 1), ak);
  auk.fill(0);
  const { keyset, vaults } = await newAccountMaterial(userId, ak, akWrap, ksf);
  ak.fill(0);
  await api.registerFinish(email.trim(), userId, b64u(upload), keyset, vaults);
  const secretKey = formatSecretKey(sk);
  sk.fill(0);
  return { userId, secretKey };
}

async function localWrap(password: string, sk: Uint8Array, salt: Uint8Array, deviceId: string, userId: string, ak: Uint8Array): Promise<Uint8Array> {
  const luk = await localUnlockKey(password, sk, salt, deviceId, KSF_FLOOR);
  try {
    return await wrapKey(luk, lukId(deviceId), Context.localDeviceWrap(userId, deviceId), ak);
  } finally {
    luk.fill(0);
  }
}

/**
 * OPAQUE login. `existing` is this browser's device state for the same account (its pins and
 * Secret Key), if any. Returns the new device state and the unlocked account.
 */
/** Asks the user for a two-step code (or a recovery code); `retry` is set after a wrong one. */
export type TwoFactorPrompt = (retry: boolean) => Promise<string>;

/** What the login answer says the session must fix or will soon have to. */
export interface LoginNotice {
  restriction: string | null;
  twoFactorGraceRemaining: number | null;
}

export async function login(api: Api, email: string, password: string, secretKeyText: string | null, existing: DeviceState | null, deviceName: string, twoFactor?: TwoFactorPrompt): Promise<{ device: DeviceState; account: UnlockedAccount; notice: LoginNotice }> {
  if (existing && existing.email.toLowerCase() !== email.trim().toLowerCase()) throw new Error(`this browser holds the account ${existing.email}; log out first`);
  const text = secretKeyText ?? existing?.secret_key;
  if (!text) throw new Error('the Secret Key is required to log in on a new device');
  const sk = parseSecretKey(text);
  const pwIn = passwordInput(password, sk);
  const { state, request } = clientLoginStart(pwIn);
  const start = await api.loginStart(email.trim(), b64u(request));
  const ksf = checkKsf(start.ksf, existing?.ksf ?? null);
  if (existing && existing.user_id !== start.user_id) throw new IntegrityError('the server returned a different account id than this device pinned');
  let fin;
  try {
    fin = await clientLoginFinish(state, pwIn, fromB64u(start.credential_response), ksf);
  } catch (e) {
    if (e instanceof CryptoError && e.kind === 'opaque' && /wrong password/.test(e.message)) throw new WrongCredentials();
    throw e;
  } finally {
    pwIn.fill(0);
  }
  fin.sessionKey.fill(0);
  if (existing && !ctEq(fromB64u(existing.server_public_key), fin.serverPublicKey)) throw new IntegrityError("the server's OPAQUE key differs from the one pinned on this device");
  let finish;
  try {
    finish = await api.loginFinish(start.login_id, b64u(fin.finalization), deviceName);
  } catch (e) {
    if (e instanceof ApiFailure && e.code === 'invalid_credentials') throw new WrongCredentials();
    if (!(e instanceof ApiFailure && e.code === 'two_factor_required' && typeof e.detail.challenge === 'string')) throw e;
    if (!twoFactor) throw e;
    // The password was right: the same challenge is answered with a code; a wrong code may be
    // retried (the server rate-limits failures per account and the challenge expires).
    const challenge = e.detail.challenge;
    let retry = false;
    for (;;) {
      const code = (await twoFactor(retry)).trim();
      try {
        finish = await api.loginTwoFactor(challenge, code);
        break;
      } catch (e2) {
        if (e2 instanceof ApiFailure && e2.code === 'invalid_two_factor_code') {
          retry = true;
          continue;
        }
        throw e2;
      }
    }
  }
  const account = finish.account;
  const userId = start.user_id;
  const k = account.keyset.ksf;
  if (k.m_kib !== start.ksf.m_kib || k.t !== start.ksf.t || k.p !== start.ksf.p) throw new IntegrityError("the key set's KSF profile differs from the one used to log in");
  const auk = accountUnlockKey(fin.exportKey, userId);
  fin.exportKey.fill(0);
  let ak: Uint8Array;
  try {
    ak = await unwrapKey(auk, aukId(userId), Context.accountKeyWrap(userId, account.keyset.ak_version), fromB64u(account.keyset.account_key_wrap));
  } catch {
    throw new IntegrityError('the account key does not open with this login (another account\'s key, or tampered)');
  } finally {
    auk.fill(0);
  }
  const unlocked = await openAccount(userId, account.email, ak, account);
  const deviceId = existing?.device_id ?? uuidV4();
  const salt = existing ? fromB64u(existing.device_salt) : randomBytes(16);
  const wrap = await localWrap(password, sk, salt, deviceId, userId, unlocked.ak);
  const device: DeviceState = {
    format: 1,
    email: account.email,
    user_id: userId,
    device_id: deviceId,
    device_salt: b64u(salt),
    server_public_key: b64u(fin.serverPublicKey),
    ksf: start.ksf,
    secret_key: formatSecretKey(sk),
    local_wrap: b64u(wrap),
    account,
    session_token: finish.session_token,
    session_id: finish.session_id,
  };
  if (existing?.org) device.org = existing.org;
  sk.fill(0);
  return { device, account: unlocked, notice: { restriction: finish.restriction ?? null, twoFactorGraceRemaining: finish.two_factor_grace_remaining ?? null } };
}

/** Unlocks from the master password without the server (Argon2id, then the local wrap). */
export async function unlockLocal(device: DeviceState, password: string): Promise<UnlockedAccount> {
  const sk = parseSecretKey(device.secret_key);
  const luk = await localUnlockKey(password, sk, fromB64u(device.device_salt), device.device_id, KSF_FLOOR);
  sk.fill(0);
  let ak: Uint8Array;
  try {
    ak = await unwrapKey(luk, lukId(device.device_id), Context.localDeviceWrap(device.user_id, device.device_id), fromB64u(device.local_wrap));
  } catch {
    throw new WrongCredentials('wrong master password');
  } finally {
    luk.fill(0);
  }
  return openAccount(device.user_id, device.email, ak, device.account);
}
