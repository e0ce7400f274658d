// The multiset hash of the vault manifests (crates/castellan-crypto/src/sethash.rs): a sum on
// ristretto255 of one point per element, point = from_uniform_bytes(SHA-512(label || element)).
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { concat, utf8 } from './bytes';
import { CryptoError } from './errors';
import { sha512 } from './primitives';

const ELEMENT_LABEL = utf8('castellan/v1/sethash-element');
const Point = ristretto255.Point;
type P = InstanceType<typeof Point>;

/** The compressed point of one element. */
export function setElement(bytes: Uint8Array): Uint8Array {
  return ristretto255_hasher.deriveToCurve!(sha512(concat(ELEMENT_LABEL, bytes))).toBytes();
}

function decode(b: Uint8Array, what: string): P {
  if (b.length !== 32) throw new CryptoError('malformed', `${what} must be 32 bytes`);
  try {
    return Point.fromBytes(b);
  } catch {
    throw new CryptoError('malformed', `${what} is not a group element`);
  }
}

export class SetHash {
  private constructor(private p: P) {}
  static empty(): SetHash {
    return new SetHash(Point.ZERO);
  }
  static fromBytes(b: Uint8Array): SetHash {
    return new SetHash(decode(b, 'set hash'));
  }
  add(element: Uint8Array): void {
    this.p = this.p.add(decode(element, 'set element'));
  }
  remove(element: Uint8Array): void {
    this.p = this.p.subtract(decode(element, 'set element'));
  }
  clone(): SetHash {
    return new SetHash(this.p);
  }
  toBytes(): Uint8Array {
    return this.p.toBytes();
  }
}
