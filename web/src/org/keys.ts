// Company and group key pairs, key grants and fingerprints (crates/castellan-client/src/org/keys.rs).
//
// A grant is `enc(32) || ciphertext` of HPKE-seal(recipient, info, aad = "",
// signing_seed(32) || encryption_sk(32)). The info binds the grant to the company (or group) and
// the holder. Whoever opens a grant checks that the opened keys' public halves equal the keys
// they expected (pinned, or from a verified roster); a grant that opens to other keys is refused.
import { b64u, concat, ctEq, fromB64u, hex, randomBytes, utf8, uuidBytes } from '../crypto/bytes';
import { fingerprint } from '../crypto/fingerprint';
import { hpkeOpen, hpkeSeal, x25519PublicKey } from '../crypto/hpke';
import { checkPublicKey, publicKeyFromSeed } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import type { CompanyKeysDto } from './types';

export const COMPANY_GRANT_INFO = 'castellan/v1/company-key-grant';
export const GROUP_GRANT_INFO = 'castellan/v1/group-key-grant';
export const GROUP_ADMIN_GRANT_INFO = 'castellan/v1/group-admin-grant';
export const FINGERPRINT_TYPE = 'company-root';
export const MEMBER_FINGERPRINT_TYPE = 'member-identity';

/** The public halves of a key pair (32 bytes each). */
export interface PublicKeys {
  signing: Uint8Array;
  encryption: Uint8Array;
}

/** X25519 public keys that X25519 itself refuses (all-zero shared secret) are refused here too. */
function checkX25519(pk: Uint8Array): void {
  if (pk.length !== 32) throw new IntegrityError('an encryption public key is not 32 bytes');
  if (pk.every((b) => b === 0)) throw new IntegrityError('an invalid encryption public key');
}

export function publicKeys(signing: Uint8Array, encryption: Uint8Array): PublicKeys {
  if (signing.length !== 32) throw new IntegrityError('a signing public key is not 32 bytes');
  try {
    checkPublicKey(signing);
  } catch {
    throw new IntegrityError('an invalid signing public key');
  }
  checkX25519(encryption);
  return { signing: signing.slice(), encryption: encryption.slice() };
}

export function publicFromDto(k: CompanyKeysDto): PublicKeys {
  return publicKeys(fromB64u(k.signing_public_key), fromB64u(k.encryption_public_key));
}

export function keysDto(p: PublicKeys): CompanyKeysDto {
  return { signing_public_key: b64u(p.signing), encryption_public_key: b64u(p.encryption) };
}

export function sameKeys(a: PublicKeys, b: PublicKeys): boolean {
  const s = ctEq(a.signing, b.signing);
  const e = ctEq(a.encryption, b.encryption);
  return s && e;
}

/** fingerprint("company-root", signing || encryption) */
export function companyFingerprint(p: PublicKeys): Uint8Array {
  return fingerprint(FINGERPRINT_TYPE, concat(p.signing, p.encryption));
}

/** The fingerprint of a member's account keys, shown to the admin who confirms them. */
export function memberFingerprint(signing: Uint8Array, encryption: Uint8Array): Uint8Array {
  return fingerprint(MEMBER_FINGERPRINT_TYPE, concat(signing, encryption));
}

/** As people compare it: the first 16 bytes as 8 groups of 4 hex digits. */
export function fingerprintDisplay(fp: Uint8Array): string {
  const h = hex(fp.subarray(0, 16));
  const groups: string[] = [];
  for (let i = 0; i < h.length; i += 4) groups.push(h.slice(i, i + 4));
  return groups.join(' ');
}

/** As it appears in invitation links (base64url, no padding). */
export function fingerprintB64(fp: Uint8Array): string {
  return b64u(fp);
}

function info(prefix: string, a: string, b: string): Uint8Array {
  return concat(utf8(prefix), uuidBytes(a), uuidBytes(b));
}

/** An Ed25519 + X25519 key pair: a company's root keys or a group's keys. */
export class KeyPair {
  private constructor(
    private readonly signingSeed: Uint8Array,
    private readonly encryptionPrivate: Uint8Array,
    readonly public_: PublicKeys,
  ) {}

  static generate(): KeyPair {
    return KeyPair.fromSecrets(randomBytes(32), randomBytes(32));
  }

  static fromSecrets(signingSeed: Uint8Array, encryptionPrivate: Uint8Array): KeyPair {
    if (signingSeed.length !== 32 || encryptionPrivate.length !== 32) throw new IntegrityError('a key grant has the wrong length');
    const pub = { signing: publicKeyFromSeed(signingSeed), encryption: x25519PublicKey(encryptionPrivate) };
    return new KeyPair(signingSeed.slice(), encryptionPrivate.slice(), pub);
  }

  get publicKeys(): PublicKeys {
    return this.public_;
  }

  /** The Ed25519 seed, for signing statements. */
  get seed(): Uint8Array {
    return this.signingSeed;
  }

  get encryptionKey(): Uint8Array {
    return this.encryptionPrivate;
  }

  wipe(): void {
    this.signingSeed.fill(0);
    this.encryptionPrivate.fill(0);
  }

  private async seal(recipient: Uint8Array, inf: Uint8Array): Promise<Uint8Array> {
    checkX25519(recipient);
    const pt = concat(this.signingSeed, this.encryptionPrivate);
    try {
      const { enc, ct } = await hpkeSeal(recipient, inf, new Uint8Array(0), pt);
      if (enc.length !== 32) throw new Error('unexpected HPKE encapsulation');
      return concat(enc, ct);
    } finally {
      pt.fill(0);
    }
  }

  private static async open(me: Uint8Array, sealed: Uint8Array, inf: Uint8Array, expected: PublicKeys, what: string): Promise<KeyPair> {
    if (sealed.length < 32) throw new IntegrityError(`the ${what} is malformed`);
    let pt: Uint8Array;
    try {
      pt = await hpkeOpen(me, sealed.subarray(0, 32), inf, new Uint8Array(0), sealed.subarray(32));
    } catch {
      throw new IntegrityError(`the ${what} does not open`);
    }
    if (pt.length !== 64) {
      pt.fill(0);
      throw new IntegrityError('a key grant has the wrong length');
    }
    const kp = KeyPair.fromSecrets(pt.subarray(0, 32), pt.subarray(32));
    pt.fill(0);
    if (!sameKeys(kp.publicKeys, expected)) {
      kp.wipe();
      throw new IntegrityError(`the ${what} opens to other keys than the expected ones`);
    }
    return kp;
  }

  sealCompanyGrant(holderEncryptionKey: Uint8Array, companyId: string, holderId: string): Promise<Uint8Array> {
    return this.seal(holderEncryptionKey, info(COMPANY_GRANT_INFO, companyId, holderId));
  }
  static openCompanyGrant(me: Uint8Array, sealed: Uint8Array, companyId: string, myId: string, expected: PublicKeys): Promise<KeyPair> {
    return KeyPair.open(me, sealed, info(COMPANY_GRANT_INFO, companyId, myId), expected, 'company key grant');
  }
  sealGroupGrant(memberEncryptionKey: Uint8Array, groupId: string, memberId: string): Promise<Uint8Array> {
    return this.seal(memberEncryptionKey, info(GROUP_GRANT_INFO, groupId, memberId));
  }
  static openGroupGrant(me: Uint8Array, sealed: Uint8Array, groupId: string, myId: string, expected: PublicKeys): Promise<KeyPair> {
    return KeyPair.open(me, sealed, info(GROUP_GRANT_INFO, groupId, myId), expected, 'group key grant');
  }
  sealGroupAdminGrant(companyEncryptionKey: Uint8Array, groupId: string, companyId: string): Promise<Uint8Array> {
    return this.seal(companyEncryptionKey, info(GROUP_ADMIN_GRANT_INFO, groupId, companyId));
  }
  static openGroupAdminGrant(company: KeyPair, sealed: Uint8Array, groupId: string, companyId: string, expected: PublicKeys): Promise<KeyPair> {
    return KeyPair.open(company.encryptionPrivate, sealed, info(GROUP_ADMIN_GRANT_INFO, groupId, companyId), expected, 'group admin grant');
  }
}
