// The CAE1 envelope, byte for byte as crates/castellan-crypto/src/envelope.rs:
//
//  0..4    magic "CAE1"      4  suite 0x01      5  obj_type     6..22  key_id
// 22..46   salt (24)        46..78  commit = HMAC-SHA256(K_cmt, "castellan/v1/commit" || bytes[0..46] || SHA-256(ctx))
// 78..     AES-256-GCM(K_enc, nonce 0^12, aad = bytes[0..78] || ctx, u32_be(len) || pt || 0* to a multiple of 64) || tag
//
// K_enc || K_cmt = HKDF-SHA256(ikm = key, salt = salt, info = "castellan/v1/sym" || suite || obj_type, 64)
import { concat, ctEq, lp, randomBytes, u32be, u64be, utf8, uuidBytes } from './bytes';
import { CryptoError } from './errors';
import { aesGcmOpen, aesGcmSeal, hkdfSha256, hmacSha256, sha256 } from './primitives';

export const SUITE_V1 = 0x01;
export const MAGIC = utf8('CAE1');
export const HEADER_LEN = 78;
export const SALT_LEN = 24;
export const PAD_BLOCK = 64;
export const TAG_LEN = 16;
export const MIN_LEN = HEADER_LEN + PAD_BLOCK + TAG_LEN;

const SYM_INFO = utf8('castellan/v1/sym');
const COMMIT_LABEL = utf8('castellan/v1/commit');
const CTX_LABEL = utf8('castellan/v1/ctx/');
const ZERO_NONCE = new Uint8Array(12);

export enum ObjType {
  AccountKeyWrap = 1,
  PrivateKeyWrap = 2,
  VaultKeyWrap = 3,
  ItemKeyWrap = 4,
  ItemOverview = 5,
  ItemDetails = 6,
  AttachmentChunk = 7,
  LocalDeviceWrap = 8,
  FolderMetadata = 9,
  EscrowCheck = 10,
  /** A share's name and description under the share key. */
  ShareMetadata = 11,
  /** An organisation backup of a member's Business profile, under a fresh backup key. */
  OrgBackup = 12,
}

/** The associated-data context of an envelope: its object type and LP-encoded fields. */
export class Context {
  private readonly parts: Uint8Array[] = [];
  private constructor(readonly objType: ObjType) {}

  private uuid(id: string): this {
    this.parts.push(lp(uuidBytes(id)));
    return this;
  }
  private u64(v: number | bigint): this {
    this.parts.push(lp(u64be(v)));
    return this;
  }
  private u32(v: number): this {
    this.parts.push(lp(u32be(v)));
    return this;
  }
  private str(s: string): this {
    this.parts.push(lp(utf8(s)));
    return this;
  }

  static accountKeyWrap(userId: string, akVersion: number | bigint): Context {
    return new Context(ObjType.AccountKeyWrap).uuid(userId).u64(akVersion);
  }
  static privateKeyWrap(userId: string, keyId: string, purpose: string): Context {
    return new Context(ObjType.PrivateKeyWrap).uuid(userId).uuid(keyId).str(purpose);
  }
  static vaultKeyWrap(ownerId: string, vaultId: string, vaultKeyVersion: number | bigint, vaultKind: string): Context {
    return new Context(ObjType.VaultKeyWrap).uuid(ownerId).uuid(vaultId).u64(vaultKeyVersion).str(vaultKind);
  }
  static itemKeyWrap(orgId: string, vaultId: string, itemId: string, vaultKeyVersion: number | bigint, itemKeyVersion: number | bigint): Context {
    return new Context(ObjType.ItemKeyWrap).uuid(orgId).uuid(vaultId).uuid(itemId).u64(vaultKeyVersion).u64(itemKeyVersion);
  }
  static itemOverview(orgId: string, vaultId: string, itemId: string, itemVersion: number | bigint, schemaVersion: number, authorId: string): Context {
    return new Context(ObjType.ItemOverview).uuid(orgId).uuid(vaultId).uuid(itemId).u64(itemVersion).u32(schemaVersion).uuid(authorId);
  }
  static itemDetails(orgId: string, vaultId: string, itemId: string, itemVersion: number | bigint, schemaVersion: number, authorId: string): Context {
    return new Context(ObjType.ItemDetails).uuid(orgId).uuid(vaultId).uuid(itemId).u64(itemVersion).u32(schemaVersion).uuid(authorId);
  }
  static attachmentChunk(orgId: string, vaultId: string, itemId: string, attachmentId: string, chunkIndex: number | bigint, isFinal: boolean): Context {
    const c = new Context(ObjType.AttachmentChunk).uuid(orgId).uuid(vaultId).uuid(itemId).uuid(attachmentId).u64(chunkIndex);
    c.parts.push(lp(new Uint8Array([isFinal ? 1 : 0])));
    return c;
  }
  static localDeviceWrap(userId: string, deviceId: string): Context {
    return new Context(ObjType.LocalDeviceWrap).uuid(userId).uuid(deviceId);
  }
  static folderMetadata(orgId: string, vaultId: string, folderId: string, metaVersion: number | bigint): Context {
    return new Context(ObjType.FolderMetadata).uuid(orgId).uuid(vaultId).uuid(folderId).u64(metaVersion);
  }
  static escrowCheck(userId: string, escrowId: string): Context {
    return new Context(ObjType.EscrowCheck).uuid(userId).uuid(escrowId);
  }
  static shareMetadata(companyId: string, shareId: string, keyVersion: number | bigint): Context {
    return new Context(ObjType.ShareMetadata).uuid(companyId).uuid(shareId).u64(keyVersion);
  }
  static orgBackup(companyId: string, userId: string, backupId: string, keyVersion: number | bigint): Context {
    return new Context(ObjType.OrgBackup).uuid(companyId).uuid(userId).uuid(backupId).u64(keyVersion);
  }

  /** "castellan/v1/ctx/" || obj_type || LP(field)... */
  bytes(): Uint8Array {
    return concat(CTX_LABEL, new Uint8Array([this.objType]), ...this.parts);
  }
}

function messageKeys(key: Uint8Array, salt: Uint8Array, objType: number): { kEnc: Uint8Array; kCmt: Uint8Array } {
  const okm = hkdfSha256(key, salt, concat(SYM_INFO, new Uint8Array([SUITE_V1, objType])), 64);
  return { kEnc: okm.slice(0, 32), kCmt: okm.slice(32) };
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32) throw new CryptoError('invalid_key', 'a symmetric key is 32 bytes');
}

/** Seals with a caller-chosen salt: only for golden vectors and tests. */
export async function sealWithSalt(key: Uint8Array, keyId: string, ctx: Context, plaintext: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  if (salt.length !== SALT_LEN) throw new CryptoError('malformed', 'salt must be 24 bytes');
  const bodyLen = Math.ceil((4 + plaintext.length) / PAD_BLOCK) * PAD_BLOCK;
  const header46 = concat(MAGIC, new Uint8Array([SUITE_V1, ctx.objType]), uuidBytes(keyId), salt);
  const { kEnc, kCmt } = messageKeys(key, salt, ctx.objType);
  const ctxBytes = ctx.bytes();
  const commit = hmacSha256(kCmt, concat(COMMIT_LABEL, header46, sha256(ctxBytes)));
  const header = concat(header46, commit);
  const padded = new Uint8Array(bodyLen);
  padded.set(u32be(plaintext.length), 0);
  padded.set(plaintext, 4);
  try {
    const ct = await aesGcmSeal(kEnc, ZERO_NONCE, concat(header, ctxBytes), padded);
    return concat(header, ct);
  } finally {
    padded.fill(0);
    kEnc.fill(0);
    kCmt.fill(0);
  }
}

/** Encrypts `plaintext` for `ctx` under `key` (identified by `keyId`), with a random salt. */
export function seal(key: Uint8Array, keyId: string, ctx: Context, plaintext: Uint8Array): Promise<Uint8Array> {
  return sealWithSalt(key, keyId, ctx, plaintext, randomBytes(SALT_LEN));
}

function checkStructure(env: Uint8Array): void {
  if (env.length < MIN_LEN) throw new CryptoError('malformed', 'malformed envelope: too short');
  if ((env.length - HEADER_LEN - TAG_LEN) % PAD_BLOCK !== 0) throw new CryptoError('malformed', 'malformed envelope: bad length');
  if (!ctEq(env.subarray(0, 4), MAGIC)) throw new CryptoError('malformed', 'malformed envelope: bad magic');
  if (env[4] !== SUITE_V1) throw new CryptoError('unsupported_suite', `unsupported suite ${env[4]}`);
}

/** The object type in an envelope's header, without any cryptography. */
export function envelopeObjType(env: Uint8Array): ObjType {
  checkStructure(env);
  const t = env[5];
  if (t < 1 || t > 12) throw new CryptoError('malformed', 'unknown object type');
  return t as ObjType;
}

/**
 * Opens an envelope. Check order as in Rust: structure, suite, object type, key id (all before
 * any cryptography), then the commitment (constant time), AES-GCM and the padding.
 */
export async function open(key: Uint8Array, expectedKeyId: string, ctx: Context, env: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  checkStructure(env);
  if (env[5] !== ctx.objType) throw new CryptoError('wrong_object_type', `wrong object type: expected ${ctx.objType}, found ${env[5]}`);
  if (!ctEq(env.subarray(6, 22), uuidBytes(expectedKeyId))) throw new CryptoError('wrong_key_id', 'wrong key id');
  const header = env.subarray(0, HEADER_LEN);
  const salt = env.subarray(22, 46);
  const { kEnc, kCmt } = messageKeys(key, salt, env[5]);
  const ctxBytes = ctx.bytes();
  try {
    const commit = hmacSha256(kCmt, concat(COMMIT_LABEL, env.subarray(0, 46), sha256(ctxBytes)));
    if (!ctEq(commit, env.subarray(46, 78))) throw new CryptoError('integrity', 'integrity check failed');
    const padded = await aesGcmOpen(kEnc, ZERO_NONCE, concat(header, ctxBytes), env.subarray(HEADER_LEN));
    const len = new DataView(padded.buffer, padded.byteOffset, 4).getUint32(0, false);
    if (len > padded.length - 4) {
      padded.fill(0);
      throw new CryptoError('integrity', 'integrity check failed');
    }
    let zeros = 0;
    for (let i = 4 + len; i < padded.length; i++) zeros |= padded[i];
    if (zeros !== 0) {
      padded.fill(0);
      throw new CryptoError('integrity', 'integrity check failed');
    }
    const out = padded.slice(4, 4 + len);
    padded.fill(0);
    return out;
  } finally {
    kEnc.fill(0);
    kCmt.fill(0);
  }
}

export function wrapKey(kek: Uint8Array, kekId: string, ctx: Context, key: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  return seal(kek, kekId, ctx, key);
}

export async function unwrapKey(kek: Uint8Array, kekId: string, ctx: Context, env: Uint8Array): Promise<Uint8Array> {
  const k = await open(kek, kekId, ctx, env);
  if (k.length !== 32) {
    k.fill(0);
    throw new CryptoError('invalid_key', 'wrapped key is not 32 bytes');
  }
  return k;
}
