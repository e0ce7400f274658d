// Hashes, HMAC and HKDF from @noble/hashes (synchronous), AES-256-GCM from WebCrypto.
import { hkdf, extract as hkdfExtract, expand as hkdfExpand } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nsha256, sha512 as nsha512 } from '@noble/hashes/sha2.js';
import { CryptoError } from './errors';

export function sha256(data: Uint8Array): Uint8Array {
  return nsha256(data);
}
export function sha512(data: Uint8Array): Uint8Array {
  return nsha512(data);
}
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nsha256, key, data);
}
export function hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nsha512, key, data);
}
/** HKDF-SHA256 extract-and-expand; an empty salt is the RFC default (zeros). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, len: number): Uint8Array {
  if (len > 255 * 32) throw new CryptoError('invalid_key', 'HKDF-SHA256 output longer than 8160 bytes');
  return hkdf(nsha256, ikm, salt, info, len);
}
export function hkdfSha512Extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hkdfExtract(nsha512, ikm, salt);
}
export function hkdfSha512Expand(prk: Uint8Array, info: Uint8Array, len: number): Uint8Array {
  return hkdfExpand(nsha512, prk, info, len);
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

async function aesKey(key: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  if (key.length !== 32) throw new CryptoError('invalid_key', 'AES-256 key must be 32 bytes');
  return subtle().importKey('raw', key as BufferSource, { name: 'AES-GCM' }, false, [usage]);
}

/** AES-256-GCM, returns ciphertext || tag (16 bytes). */
export async function aesGcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Promise<Uint8Array> {
  const k = await aesKey(key, 'encrypt');
  const ct = await subtle().encrypt(
    { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource, tagLength: 128 },
    k,
    pt as BufferSource,
  );
  return new Uint8Array(ct);
}

/** AES-256-GCM open of ciphertext || tag; `integrity` on a bad tag. */
export async function aesGcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ctTag: Uint8Array): Promise<Uint8Array> {
  if (ctTag.length < 16) throw new CryptoError('malformed', 'ciphertext shorter than the AES-GCM tag');
  const k = await aesKey(key, 'decrypt');
  try {
    const pt = await subtle().decrypt(
      { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource, tagLength: 128 },
      k,
      ctTag as BufferSource,
    );
    return new Uint8Array(pt);
  } catch {
    throw new CryptoError('integrity', 'integrity check failed');
  }
}
