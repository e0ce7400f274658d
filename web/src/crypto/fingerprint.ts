import { concat, lp, utf8 } from './bytes';
import { sha256 } from './primitives';

/** SHA-256("castellan/v1/fpr" || LP(key_type) || raw_public_key) */
export function fingerprint(keyType: string, rawPublicKey: Uint8Array): Uint8Array {
  return sha256(concat(utf8('castellan/v1/fpr'), lp(utf8(keyType)), rawPublicKey));
}
