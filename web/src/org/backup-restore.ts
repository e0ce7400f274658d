// Organisation backup restore, byte for byte as crates/castellan-client/src/backup/ (mod.rs and
// words.rs): the backup private key from the recovery kit file or the 33 recovery words; the
// checks made BEFORE anything is opened (member certificate against the pinned company key, the
// member's signature over ids, time, key version and the SHA-256 of the sealed key and the
// envelope); opening (HPKE, then the envelope under the backup key); the handover sealed to a
// member's certified key and signed by the admin; and the encrypted export file.
import { b64u, concat, ctEq, dec, fromB64u, i64be, randomBytes, utf8, uuidBytes } from '../crypto/bytes';
import { Context, open as openEnvelope, seal as sealEnvelope } from '../crypto/envelope';
import { hpkeOpen, hpkeSeal, x25519PublicKey } from '../crypto/hpke';
import { argon2id, checkCeiling, checkFloor, KSF_FLOOR, type KsfParams } from '../crypto/kdf';
import { sha256 } from '../crypto/primitives';
import { verifyStatement } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import { folderJson, parseFolderData, type FolderData } from '../model/folder';
import { itemDataJson, parseItemData, type ItemData } from '../model/item';
import { verifyMemberCert } from './docs';
import { publicKeys, type PublicKeys } from './keys';
import { OrgError } from './session';
import { WORDS } from './backup';
import type { MemberCertBody, SignedDoc } from './types';

export const BACKUP_STATEMENT = 'org-backup';
export const HANDOVER_STATEMENT = 'org-backup-handover';
export const BACKUP_KEY_INFO = 'castellan/v1/org-backup-key';
export const HANDOVER_INFO = 'castellan/v1/org-backup-handover';
export const KIT_KIND = 'castellan-backup-recovery-kit';
export const EXPORT_KIND = 'castellan-backup-export';
const WORDS_LABEL = 'castellan/v1/backup-words';

/** `GET /companies/{cid}/backups/{bid}` (castellan-types `BackupDto`). */
export interface BackupDto {
  company_id: string;
  user_id: string;
  user_email: string;
  backup_id: string;
  created_at: number;
  key_version: number;
  public_key: string;
  sealed_key: string;
  envelope: string;
  member_cert: SignedDoc;
  signature: string;
}

export interface BackupFolder {
  id: string;
  data: FolderData;
}

/** The plaintext of a backup: the Business profile only (Rust `BackupPayload`). */
export interface BackupPayload {
  format: number;
  company_id: string;
  user_id: string;
  created_at: number;
  items: ItemData[];
  folders: BackupFolder[];
}

/** The recovery kit file (Rust `RecoveryKit`). */
export interface RecoveryKit {
  kind: string;
  company_id: string;
  key_version: number;
  fingerprint: string;
  private_key: string;
}

// ------------------------------------------------------------ the key: words and kit

function wordsChecksum(key: Uint8Array): number {
  return sha256(concat(utf8(WORDS_LABEL), key))[0];
}

/**
 * The 32-byte key from typed recovery words (words.rs `decode`): any whitespace, comma or hyphen
 * separates words, case does not matter; a clear error for a wrong count, an unknown word or a
 * checksum that does not match.
 */
export function decodeWords(text: string): Uint8Array {
  const words = text
    .split(/[\s,-]+/u)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
  if (words.length !== 33) throw new OrgError(`the recovery words are 33 words; ${words.length} were given`);
  const bytes = new Uint8Array(33);
  words.forEach((w, i) => {
    const idx = WORDS.indexOf(w);
    if (idx < 0) throw new OrgError(`word ${i + 1} ("${w}") is not a recovery word`);
    bytes[i] = idx;
  });
  const key = bytes.slice(0, 32);
  const ok = wordsChecksum(key) === bytes[32];
  bytes.fill(0);
  if (!ok) {
    key.fill(0);
    throw new OrgError('the recovery words do not check out (a word is mistyped or missing)');
  }
  return key;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function canonUuid(v: string): string {
  const h = v.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Parses a recovery kit file's text (RecoveryKit::read). `name` is used in messages. */
export function parseKit(text: string, name = 'this file'): RecoveryKit {
  const notKit = () => new OrgError(`${name} is not a Castellan backup recovery kit`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw notKit();
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw notKit();
  const o = v as Record<string, unknown>;
  if (
    typeof o.kind !== 'string' ||
    typeof o.company_id !== 'string' ||
    !UUID_RE.test(o.company_id) ||
    typeof o.key_version !== 'number' ||
    !Number.isSafeInteger(o.key_version) ||
    typeof o.fingerprint !== 'string' ||
    typeof o.private_key !== 'string'
  )
    throw notKit();
  if (o.kind !== KIT_KIND) throw notKit();
  return { kind: o.kind, company_id: canonUuid(o.company_id), key_version: o.key_version, fingerprint: o.fingerprint, private_key: o.private_key };
}

/** The X25519 private key of a kit (RecoveryKit::private_key). */
export function kitPrivateKey(kit: RecoveryKit): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = fromB64u(kit.private_key);
  } catch {
    throw new OrgError("the recovery kit's key is malformed");
  }
  if (raw.length !== 32) throw new OrgError("the recovery kit's key is malformed");
  return raw.slice();
}

/**
 * The private key of a kit file for a backup of `companyId` sealed to `keyVersion`, with the
 * checks of backup::restore: a kit of another company or of another key version is refused.
 */
export function kitSecretFor(text: string, name: string, companyId: string, keyVersion: number): Uint8Array {
  const kit = parseKit(text, name);
  if (kit.company_id !== companyId) throw new OrgError(`${name} is the recovery kit of another company`);
  if (kit.key_version !== keyVersion) throw new OrgError(`this backup is sealed to backup key version ${keyVersion}; ${name} holds version ${kit.key_version}`);
  return kitPrivateKey(kit);
}

// ------------------------------------------------------------ verifying and opening

export function keyInfo(companyId: string, userId: string, backupId: string, keyVersion: number): Uint8Array {
  return concat(utf8(BACKUP_KEY_INFO), uuidBytes(companyId), uuidBytes(userId), uuidBytes(backupId), i64be(keyVersion));
}

export function handoverInfo(companyId: string, userId: string, id: string): Uint8Array {
  return concat(utf8(HANDOVER_INFO), uuidBytes(companyId), uuidBytes(userId), uuidBytes(id));
}

/** castellan-types `backup_signed_bytes`. */
export function backupSignedBytes(backupId: string, companyId: string, userId: string, createdAt: number, keyVersion: number, publicKey: Uint8Array, sealedKeySha256: Uint8Array, envelopeSha256: Uint8Array): Uint8Array {
  return concat(utf8('castellan/v1/org-backup'), uuidBytes(backupId), uuidBytes(companyId), uuidBytes(userId), i64be(createdAt), i64be(keyVersion), publicKey, sealedKeySha256, envelopeSha256);
}

/** castellan-types `handover_signed_bytes`. */
export function handoverSignedBytes(id: string, companyId: string, userId: string, sealedSha256: Uint8Array): Uint8Array {
  return concat(utf8('castellan/v1/org-backup-handover'), uuidBytes(id), uuidBytes(companyId), uuidBytes(userId), sealedSha256);
}

function bytesOf(v: string, what: string): Uint8Array {
  try {
    return fromB64u(v);
  } catch {
    throw new IntegrityError(`the backup's ${what} is malformed`);
  }
}

/**
 * Verifies a downloaded backup BEFORE anything is opened (backup::verify_backup): the ids, the
 * member certificate against the pinned company key, the signature with the certified key.
 */
export function verifyBackup(company: PublicKeys, companyId: string, userId: string, b: BackupDto): MemberCertBody {
  if (b.company_id !== companyId || b.user_id !== userId) throw new IntegrityError('the backup names another company or user');
  let cert: MemberCertBody;
  try {
    cert = verifyMemberCert(company, b.member_cert, companyId, userId);
  } catch (e) {
    throw new IntegrityError(`the backup's member certificate does not verify with the company key (${(e as Error).message})`);
  }
  const signing = fromB64u(cert.signing_public_key);
  const bytes = backupSignedBytes(b.backup_id, b.company_id, b.user_id, b.created_at, b.key_version, bytesOf(b.public_key, 'public key'), sha256(bytesOf(b.sealed_key, 'sealed key')), sha256(bytesOf(b.envelope, 'envelope')));
  try {
    verifyStatement(signing, BACKUP_STATEMENT, bytes, bytesOf(b.signature, 'signature'));
  } catch {
    throw new IntegrityError("the backup is not signed by the user's certified key (tampered or forged)");
  }
  return cert;
}

const PAYLOAD_KEYS = ['format', 'company_id', 'user_id', 'created_at', 'items', 'folders'];

/** Parses a payload strictly (serde `deny_unknown_fields`, items as the details documents). */
export function parsePayload(json: unknown): BackupPayload {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!PAYLOAD_KEYS.includes(k)) throw new Error(`unknown field ${k}`);
  const uuid = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !UUID_RE.test(v)) throw new Error(`${what} is not a UUID`);
    return canonUuid(v);
  };
  if (typeof o.format !== 'number' || !Number.isInteger(o.format) || o.format < 0) throw new Error('bad format');
  if (typeof o.created_at !== 'number' || !Number.isSafeInteger(o.created_at)) throw new Error('bad created_at');
  if (!Array.isArray(o.items) || !Array.isArray(o.folders)) throw new Error('items and folders must be arrays');
  return {
    format: o.format,
    company_id: uuid(o.company_id, 'company_id'),
    user_id: uuid(o.user_id, 'user_id'),
    created_at: o.created_at,
    items: o.items.map((i) => parseItemData(i)),
    folders: o.folders.map((f) => {
      if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new Error('bad folder');
      const x = f as Record<string, unknown>;
      return { id: uuid(x.id, 'folder id'), data: parseFolderData(x.data) };
    }),
  };
}

/** The JSON text serde_json writes for a `BackupPayload`. */
export function payloadJson(p: BackupPayload): string {
  const items = p.items.map((i) => itemDataJson(i)).join(',');
  const folders = p.folders.map((f) => `{"id":${JSON.stringify(f.id)},"data":${folderJson(f.data)}}`).join(',');
  return `{"format":${p.format},"company_id":${JSON.stringify(p.company_id)},"user_id":${JSON.stringify(p.user_id)},"created_at":${p.created_at},"items":[${items}],"folders":[${folders}]}`;
}

/**
 * Opens a VERIFIED backup with the backup private key (backup::open_backup): the key must be the
 * one the backup names, then HPKE opens the backup key and the envelope opens under it.
 */
export async function openBackup(secret: Uint8Array, b: BackupDto): Promise<BackupPayload> {
  const pub = bytesOf(b.public_key, 'public key');
  if (!ctEq(x25519PublicKey(secret), pub)) throw new OrgError(`this backup (key version ${b.key_version}) was sealed to another backup key than the one given`);
  const sealed = bytesOf(b.sealed_key, 'sealed key');
  if (sealed.length < 48) throw new IntegrityError('the sealed backup key is malformed');
  let raw: Uint8Array;
  try {
    raw = await hpkeOpen(secret, sealed.subarray(0, 32), keyInfo(b.company_id, b.user_id, b.backup_id, b.key_version), new Uint8Array(0), sealed.subarray(32));
  } catch {
    throw new OrgError('the backup key does not open with the key given');
  }
  if (raw.length !== 32) {
    raw.fill(0);
    throw new IntegrityError('the backup key is malformed');
  }
  let pt: Uint8Array;
  try {
    pt = await openEnvelope(raw, b.backup_id, Context.orgBackup(b.company_id, b.user_id, b.backup_id, b.key_version), bytesOf(b.envelope, 'envelope'));
  } catch {
    throw new IntegrityError('the backup does not open (tampered)');
  } finally {
    raw.fill(0);
  }
  let payload: BackupPayload;
  try {
    payload = parsePayload(JSON.parse(dec.decode(pt)));
  } catch (e) {
    throw new IntegrityError(`the backup is malformed: ${(e as Error).message}`);
  } finally {
    pt.fill(0);
  }
  if (payload.company_id !== b.company_id || payload.user_id !== b.user_id) throw new IntegrityError("the backup's contents name another company or user");
  return payload;
}

/** "A/B": the path of one of the payload's folders (BackupPayload::folder_path). */
export function folderPath(p: BackupPayload, id: string): string | null {
  const names: string[] = [];
  let cur: string | null = id;
  while (cur) {
    const f = p.folders.find((x) => x.id === cur);
    if (!f) return null;
    names.unshift(f.data.name);
    cur = f.data.parent_id;
    if (names.length > 64) return null;
  }
  return names.join('/');
}

// ------------------------------------------------------------ handover

/** A handover request (castellan-types `NewHandoverRequest`). */
export interface NewHandoverRequest {
  id: string;
  user_id: string;
  sealed: string;
  admin_cert: SignedDoc;
  signature: string;
}

/**
 * Seals restored items to a member's CERTIFIED encryption key and signs them with the admin's
 * identity key (backup::hand_over): the member's client checks both and imports the items.
 */
export async function sealHandover(opts: { id: string; companyId: string; userId: string; memberEncryptionKey: Uint8Array; payload: BackupPayload; adminCert: SignedDoc; adminSigningSeed: Uint8Array; sign: (seed: Uint8Array, statement: string, body: Uint8Array) => Uint8Array }): Promise<NewHandoverRequest> {
  const p: BackupPayload = { ...opts.payload, user_id: opts.userId };
  const pt = utf8(payloadJson(p));
  let sealed: Uint8Array;
  try {
    const { enc, ct } = await hpkeSeal(opts.memberEncryptionKey, handoverInfo(opts.companyId, opts.userId, opts.id), new Uint8Array(0), pt);
    sealed = concat(enc, ct);
  } finally {
    pt.fill(0);
  }
  const sig = opts.sign(opts.adminSigningSeed, HANDOVER_STATEMENT, handoverSignedBytes(opts.id, opts.companyId, opts.userId, sha256(sealed)));
  return { id: opts.id, user_id: opts.userId, sealed: b64u(sealed), admin_cert: opts.adminCert, signature: b64u(sig) };
}

/** Opens a handover as the member's client does (for tests; the Rust client imports them). */
export async function openHandover(memberPrivate: Uint8Array, companyId: string, h: NewHandoverRequest, adminSigningPublic: Uint8Array): Promise<BackupPayload> {
  const sealed = fromB64u(h.sealed);
  verifyStatement(adminSigningPublic, HANDOVER_STATEMENT, handoverSignedBytes(h.id, companyId, h.user_id, sha256(sealed)), fromB64u(h.signature));
  const pt = await hpkeOpen(memberPrivate, sealed.subarray(0, 32), handoverInfo(companyId, h.user_id, h.id), new Uint8Array(0), sealed.subarray(32));
  return parsePayload(JSON.parse(dec.decode(pt)));
}

// ------------------------------------------------------------ export file

/** The encrypted export file (Rust `ExportFile`), serde field order. */
export interface ExportFile {
  kind: string;
  company_id: string;
  user_id: string;
  backup_id: string;
  key_version: number;
  kdf: string;
  m_kib: number;
  t: number;
  p: number;
  salt: string;
  envelope: string;
}

async function exportKey(passphrase: string, salt: Uint8Array, params: KsfParams): Promise<Uint8Array> {
  return argon2id(utf8(passphrase), salt, params, 32);
}

/**
 * The restored payload as an encrypted export file (backup::write_export): Argon2id (the KSF
 * floor, 16-byte salt) of the passphrase, the payload sealed in an `OrgBackup` envelope bound to
 * the backup's ids; pretty-printed JSON as serde_json writes it.
 */
export async function writeExport(b: Pick<BackupDto, 'company_id' | 'user_id' | 'backup_id' | 'key_version'>, payload: BackupPayload, passphrase: string): Promise<string> {
  if ([...passphrase].length < 8) throw new OrgError('the export passphrase needs at least 8 characters');
  const salt = randomBytes(16);
  const params = KSF_FLOOR;
  const key = await exportKey(passphrase, salt, params);
  const pt = utf8(payloadJson(payload));
  let envelope: Uint8Array;
  try {
    envelope = await sealEnvelope(key, b.backup_id, Context.orgBackup(b.company_id, b.user_id, b.backup_id, b.key_version), pt);
  } finally {
    key.fill(0);
    pt.fill(0);
  }
  const file: ExportFile = { kind: EXPORT_KIND, company_id: b.company_id, user_id: b.user_id, backup_id: b.backup_id, key_version: b.key_version, kdf: 'argon2id', m_kib: params.m_kib, t: params.t, p: params.p, salt: b64u(salt), envelope: b64u(envelope) };
  return JSON.stringify(file, null, 2);
}

/** Reads an export file back (backup::read_export). */
export async function readExport(text: string, passphrase: string): Promise<BackupPayload> {
  let f: ExportFile;
  try {
    f = JSON.parse(text) as ExportFile;
  } catch {
    throw new OrgError('not a Castellan backup export');
  }
  if (typeof f !== 'object' || f === null || typeof f.salt !== 'string' || typeof f.envelope !== 'string') throw new OrgError('not a Castellan backup export');
  const params = { m_kib: f.m_kib, t: f.t, p: f.p };
  checkFloor(params);
  checkCeiling(params);
  const key = await exportKey(passphrase, fromB64u(f.salt), params);
  let pt: Uint8Array;
  try {
    pt = await openEnvelope(key, f.backup_id, Context.orgBackup(f.company_id, f.user_id, f.backup_id, f.key_version), fromB64u(f.envelope));
  } catch {
    throw new OrgError('wrong passphrase, or the export file is damaged');
  } finally {
    key.fill(0);
  }
  return parsePayload(JSON.parse(dec.decode(pt)));
}

/** Public keys from a certificate body. */
export function certKeys(cert: MemberCertBody): PublicKeys {
  return publicKeys(fromB64u(cert.signing_public_key), fromB64u(cert.encryption_public_key));
}
