export type CryptoErrorKind =
  | 'malformed'
  | 'unsupported_suite'
  | 'wrong_object_type'
  | 'wrong_key_id'
  | 'integrity'
  | 'bad_signature'
  | 'weak_kdf'
  | 'bad_secret_key'
  | 'opaque'
  | 'invalid_key'
  | 'totp';

/** One error type for the browser crypto, mirroring castellan-crypto's CryptoError. */
export class CryptoError extends Error {
  constructor(
    readonly kind: CryptoErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CryptoError';
  }
}
