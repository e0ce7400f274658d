// Ed25519 with strict verification (as ed25519-dalek's verify_strict): canonical encodings only,
// no small-order public key or R, cofactorless equation.
import { ed25519 } from '@noble/curves/ed25519.js';
import { concat, utf8 } from './bytes';
import { CryptoError } from './errors';

const SIG_LABEL = utf8('castellan/v1/sig/');

export function statementMessage(statementType: string, body: Uint8Array): Uint8Array {
  return concat(SIG_LABEL, utf8(statementType), new Uint8Array([0]), body);
}

export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

export function signStatement(seed: Uint8Array, statementType: string, body: Uint8Array): Uint8Array {
  return ed25519.sign(statementMessage(statementType, body), seed);
}

function point(bytes: Uint8Array) {
  // zip215 = false: canonical (RFC 8032) decoding only.
  return ed25519.Point.fromBytes(bytes, false);
}

/** Rejects malformed and weak (small-order) public keys, as VerifyingKey::from_bytes. */
export function checkPublicKey(pk: Uint8Array): void {
  if (pk.length !== 32) throw new CryptoError('invalid_key', 'an Ed25519 public key is 32 bytes');
  let p;
  try {
    p = point(pk);
  } catch {
    throw new CryptoError('invalid_key', 'not a valid Ed25519 public key');
  }
  if (p.isSmallOrder()) throw new CryptoError('invalid_key', 'weak (small-order) Ed25519 public key');
}

export function verifyRaw(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): void {
  if (sig.length !== 64) throw new CryptoError('bad_signature', 'bad signature');
  checkPublicKey(pk);
  let r;
  try {
    r = point(sig.subarray(0, 32));
  } catch {
    throw new CryptoError('bad_signature', 'bad signature');
  }
  if (r.isSmallOrder()) throw new CryptoError('bad_signature', 'bad signature');
  let ok = false;
  try {
    ok = ed25519.verify(sig, msg, pk, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) throw new CryptoError('bad_signature', 'bad signature');
}

export function verifyStatement(pk: Uint8Array, statementType: string, body: Uint8Array, sig: Uint8Array): void {
  if (statementType.includes('\0')) throw new CryptoError('bad_signature', 'bad signature');
  verifyRaw(pk, statementMessage(statementType, body), sig);
}
