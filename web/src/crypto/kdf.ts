// Argon2id (hash-wasm), the KSF floor, the local unlock key and the account unlock key.
import { argon2id as wasmArgon2id } from 'hash-wasm';
import { concat, utf8, uuidBytes } from './bytes';
import { CryptoError } from './errors';
import { hkdfSha256 } from './primitives';

export interface KsfParams {
  m_kib: number;
  t: number;
  p: number;
}

/** 64 MiB, 3 passes, 4 lanes: the compiled floor, as KsfParams::FLOOR. */
export const KSF_FLOOR: KsfParams = { m_kib: 65536, t: 3, p: 4 };
export const KSF_CEILING: KsfParams = { m_kib: 4 * 1024 * 1024, t: 64, p: 64 };

export function atLeast(a: KsfParams, pinned: KsfParams): boolean {
  return a.m_kib >= pinned.m_kib && a.t >= pinned.t && a.p >= pinned.p;
}

export function checkFloor(p: KsfParams): void {
  if (!atLeast(p, KSF_FLOOR)) {
    throw new CryptoError(
      'weak_kdf',
      `Argon2id m=${p.m_kib} KiB, t=${p.t}, p=${p.p} is below the minimum m=${KSF_FLOOR.m_kib} KiB, t=${KSF_FLOOR.t}, p=${KSF_FLOOR.p}`,
    );
  }
}

export function checkCeiling(p: KsfParams): void {
  if (p.m_kib > KSF_CEILING.m_kib || p.t > KSF_CEILING.t || p.p > KSF_CEILING.p) {
    throw new CryptoError('invalid_key', 'Argon2id parameters exceed the supported maximum');
  }
}

/** Raw Argon2id v0x13 (no floor check, so that the RFC 9106 vector can run). */
export async function argon2id(password: Uint8Array, salt: Uint8Array, params: KsfParams, outLen: number, secret?: Uint8Array): Promise<Uint8Array> {
  if (params.p < 1 || params.p > 0xffffff) throw new CryptoError('invalid_key', 'Argon2id parallelism out of range');
  if (params.t < 1) throw new CryptoError('invalid_key', 'Argon2id time cost too small');
  if (params.m_kib < 8 * params.p) throw new CryptoError('invalid_key', 'Argon2id memory cost too small');
  if (salt.length < 8) throw new CryptoError('invalid_key', 'Argon2id salt too short (min 8 bytes)');
  if (outLen < 4) throw new CryptoError('invalid_key', 'Argon2id output too short (min 4 bytes)');
  return wasmArgon2id({
    password,
    salt,
    secret,
    parallelism: params.p,
    iterations: params.t,
    memorySize: params.m_kib,
    hashLength: outLen,
    outputType: 'binary',
  });
}

const LUK_INFO = utf8('castellan/v1/luk');
const AUK_INFO = utf8('castellan/v1/auk');

export function nfkc(password: string): Uint8Array {
  return utf8(password.normalize('NFKC'));
}

/**
 * LUK = HKDF-SHA256(ikm = Argon2id(NFKC(password), device_salt, params) || secret_key, salt = "",
 * info = "castellan/v1/luk" || device_id), 32 bytes.
 */
export async function localUnlockKey(password: string, secretKey: Uint8Array, deviceSalt: Uint8Array, deviceId: string, params: KsfParams): Promise<Uint8Array> {
  checkFloor(params);
  checkCeiling(params);
  const pw = nfkc(password);
  const stretched = await argon2id(pw, deviceSalt, params, 32);
  pw.fill(0);
  const ikm = concat(stretched, secretKey);
  stretched.fill(0);
  const out = hkdfSha256(ikm, new Uint8Array(0), concat(LUK_INFO, uuidBytes(deviceId)), 32);
  ikm.fill(0);
  return out;
}

/** AUK = HKDF-SHA256(ikm = export_key, salt = "", info = "castellan/v1/auk" || user_id), 32 bytes. */
export function accountUnlockKey(exportKey: Uint8Array, userId: string): Uint8Array {
  return hkdfSha256(exportKey, new Uint8Array(0), concat(AUK_INFO, uuidBytes(userId)), 32);
}
