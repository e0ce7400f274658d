// Company administrators and shares (crates/castellan-client/src/share/admin.rs): the overview of
// every share of a company, and access list changes signed with the company root key (removing a
// recipient, transferring ownership).
//
// An administrator holds the company keys, not the share keys: they see who has access and the
// share's name (HPKE-sealed to the company encryption key for them), never its items, and they
// make no key grants. A recipient they remove loses access on the server at once; the share key
// rotates when an owner's client next changes the share (docs/sharing.md).
//
// Constants, checked against the Rust code:
// - the admin copy of the name: `enc(32) || ct` of HPKE (the suite of src/crypto/hpke.ts, aad
//   empty) to the company encryption key, info `"castellan/v1/share-name-admin" || share_id (16)
//   || company_id (16)` (share/grant.rs `ADMIN_NAME_INFO`, `admin_info`), plaintext the JSON
//   `{"name": "..."}` (`NameDoc`);
// - the access list: statement `share-acl` (castellan-types `share_statement::ACL`) over the
//   exact bytes serde_json writes for `ShareAclBody` (fields in declaration order, `expires_at`
//   null when absent, `signer` adjacently tagged: `{"kind":"member","user_id":…}` or
//   `{"kind":"company"}`); verified with the signer's key BEFORE the body is trusted: a member's
//   key from their certificate verified against the PINNED company key, or the pinned company key.
import { b64u, dec, fromB64u, utf8, uuidBytes, concat } from '../crypto/bytes';
import { hpkeOpen, hpkeSeal } from '../crypto/hpke';
import { signStatement, verifyStatement } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import type { OrgApi } from './api';
import { normaliseEmail, verifyMemberCert, verifyRevocations, verifyRoster } from './docs';
import { checkRevocations, MemorySharePins, recordRevocations, updateSharePins, type SharePins, type SharePinStore } from '../share/pins';
import { KeyPair, publicFromDto, publicKeys, sameKeys, type PublicKeys } from './keys';
import type { GroupDto, SignedDoc } from './types';

export const ADMIN_NAME_INFO = 'castellan/v1/share-name-admin';
export const ACL_STATEMENT = 'share-acl';

export type ShareRole = 'owner' | 'editor' | 'read_only' | 'read_only_hidden';
export type PrincipalKind = 'user' | 'group';
export interface Principal {
  kind: PrincipalKind;
  id: string;
}
export interface AclEntry {
  principal: Principal;
  role: ShareRole;
}
export type AclSigner = { kind: 'member'; user_id: string } | { kind: 'company' };
export interface ShareAclBody {
  share_id: string;
  company_id: string;
  version: number;
  key_version: number;
  entries: AclEntry[];
  expires_at: number | null;
  issued_at: number;
  signer: AclSigner;
}

/** `ShareDto` as `GET /companies/{cid}/shares` serves it (`state` = `admin`, no grants). */
export interface AdminShareDto {
  id: string;
  company_id: string;
  owner_ids: string[];
  acl: SignedDoc;
  acl_version: number;
  key_version: number;
  expires_at: number | null;
  name: string;
  name_for_admins: string;
  state: string;
  object_count: number;
  created_at: number;
  updated_at: number;
}

export interface DirectoryResponse {
  members: { user_id: string; email: string; cert: SignedDoc }[];
  groups: GroupDto[];
  /** The company's signed certificate revocation list, if any certificate was ever revoked. */
  revocations?: SignedDoc | null;
}

export const ROLE_LABEL: Record<ShareRole, string> = {
  owner: 'Owner',
  editor: 'Editor',
  read_only: 'Read-only',
  read_only_hidden: 'Read-only, password hidden',
};
const ROLES = Object.keys(ROLE_LABEL) as ShareRole[];

export function canWrite(r: ShareRole): boolean {
  return r === 'owner' || r === 'editor';
}

// ------------------------------------------------------------ the verified directory

export interface DirMember {
  userId: string;
  email: string;
  signing: Uint8Array;
}
export interface DirGroup {
  id: string;
  name: string;
  isEveryone: boolean;
  members: string[];
}

/** The company directory as this browser trusts it (share/directory.rs): certificates and rosters
 * verified against the pinned company key; entries that fail are left out and listed. */
export class Directory {
  members = new Map<string, DirMember>();
  groups = new Map<string, DirGroup>();
  rejected: string[] = [];
  /** Members whose certificate the company revoked: user id → certified email, for display only (their keys are never used). */
  revoked = new Map<string, string>();
  /** The version of the verified certificate revocation list (0 = none served). */
  revocationsVersion = 0;
  constructor(
    readonly companyId: string,
    readonly company: PublicKeys,
  ) {}

  /**
   * As share/directory.ts: the revocation list is verified with the pinned company key and must
   * not be older than the pinned version; members whose certificate serial it lists are left out.
   */
  static verify(resp: DirectoryResponse, companyId: string, company: PublicKeys, pins: SharePins): Directory {
    const list = resp.revocations ? verifyRevocations(company, resp.revocations, companyId) : null;
    checkRevocations(pins, companyId, list ? list.version : null);
    const serials = new Set(list?.serials ?? []);
    const dir = new Directory(companyId, company);
    dir.revocationsVersion = list?.version ?? 0;
    for (const m of resp.members) {
      try {
        const body = verifyMemberCert(company, m.cert, companyId, m.user_id);
        if (serials.has(body.serial)) {
          dir.revoked.set(m.user_id, normaliseEmail(body.email));
          dir.rejected.push(`member ${m.email}: their certificate was revoked by the company`);
          continue;
        }
        dir.members.set(m.user_id, { userId: m.user_id, email: normaliseEmail(body.email), signing: fromB64u(body.signing_public_key) });
      } catch (e) {
        dir.rejected.push(`member ${m.email}: ${(e as Error).message}`);
      }
    }
    for (const g of resp.groups) {
      try {
        const body = verifyRoster(company, g.roster, companyId, g.id);
        const signed = publicKeys(fromB64u(body.signing_public_key), fromB64u(body.encryption_public_key));
        if (!sameKeys(signed, publicFromDto(g.keys))) throw new IntegrityError(`the server sent other keys for group ${body.name} than its signed roster`);
        dir.groups.set(g.id, { id: g.id, name: body.name, isEveryone: body.is_everyone, members: body.members });
      } catch (e) {
        dir.rejected.push(`group ${g.name}: ${(e as Error).message}`);
      }
    }
    return dir;
  }

  /** A display name: the verified email or group name, else the id (as `principal_name`). */
  principalName(p: Principal): string {
    if (p.kind === 'user') {
      const revoked = this.revoked.get(p.id);
      return this.members.get(p.id)?.email ?? (revoked ? `${revoked} (certificate revoked)` : `user ${p.id}`);
    }
    return this.groups.get(p.id)?.name ?? `group ${p.id}`;
  }
}

// ------------------------------------------------------------ access lists

function isUuid(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v);
}
function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Checks the parsed JSON of an access list field by field and returns it in the Rust order. */
export function normAcl(v: unknown): ShareAclBody {
  const bad = (m: string): never => {
    throw new IntegrityError(`a share access list is malformed: ${m}`);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('not an object');
  const o = v as Record<string, unknown>;
  if (!isUuid(o.share_id) || !isUuid(o.company_id)) return bad('ids');
  if (!isInt(o.version) || !isInt(o.key_version) || !isInt(o.issued_at)) return bad('numbers');
  if (!(o.expires_at === null || o.expires_at === undefined || isInt(o.expires_at))) return bad('expires_at');
  if (!Array.isArray(o.entries)) return bad('entries');
  const entries: AclEntry[] = o.entries.map((e: unknown) => {
    const x = e as { principal?: { kind?: unknown; id?: unknown }; role?: unknown };
    if (!x || typeof x !== 'object' || !x.principal || (x.principal.kind !== 'user' && x.principal.kind !== 'group') || !isUuid(x.principal.id)) return bad('an entry');
    if (!ROLES.includes(x.role as ShareRole)) return bad('a role');
    return { principal: { kind: x.principal.kind, id: x.principal.id }, role: x.role as ShareRole };
  });
  const s = o.signer as { kind?: unknown; user_id?: unknown } | null;
  let signer: AclSigner;
  if (s && s.kind === 'company') signer = { kind: 'company' };
  else if (s && s.kind === 'member' && isUuid(s.user_id)) signer = { kind: 'member', user_id: s.user_id };
  else return bad('signer');
  return { share_id: o.share_id, company_id: o.company_id, version: o.version, key_version: o.key_version, entries, expires_at: (o.expires_at as number | null | undefined) ?? null, issued_at: o.issued_at, signer };
}

/** The exact bytes serde_json writes for a `ShareAclBody`. */
export function aclBytes(body: ShareAclBody): Uint8Array {
  const b = normAcl(body);
  return utf8(JSON.stringify(b));
}

/** Users with an owner entry (`acl::owners`). */
export function owners(body: ShareAclBody): string[] {
  return [...new Set(body.entries.filter((e) => e.principal.kind === 'user' && e.role === 'owner').map((e) => e.principal.id))].sort();
}

/** `acl::check_shape`: ids, versions, unique principals, at least one owner, owners are users. */
export function checkShape(body: ShareAclBody, shareId: string, companyId: string): void {
  const bad = (m: string) => {
    throw new IntegrityError(`share access list: ${m}`);
  };
  if (body.share_id !== shareId) bad('it names another share');
  if (body.company_id !== companyId) bad('it names another company');
  if (body.version < 1 || body.key_version < 1) bad('bad version');
  const seen = new Set<string>();
  for (const e of body.entries) {
    const k = `${e.principal.kind}:${e.principal.id}`;
    if (seen.has(k)) bad('a principal is listed twice');
    seen.add(k);
    if (e.role === 'owner' && e.principal.kind === 'group') bad('a group cannot be an owner');
  }
  if (owners(body).length === 0) bad('it has no owner');
}

/**
 * `acl::verify` without a pinned previous list (the admin overview): the signature with the
 * signer's verified key, the shape, and a member signer must be an owner in the list itself.
 */
export function verifyAcl(doc: SignedDoc, shareId: string, companyId: string, dir: Directory): ShareAclBody {
  let bodyBytes: Uint8Array;
  let claimed: ShareAclBody;
  try {
    bodyBytes = fromB64u(doc.body);
    claimed = normAcl(JSON.parse(dec.decode(bodyBytes)));
  } catch {
    throw new IntegrityError('a share access list is malformed');
  }
  let key: Uint8Array;
  if (claimed.signer.kind === 'company') key = dir.company.signing;
  else {
    const m = dir.members.get(claimed.signer.user_id);
    if (!m) throw new IntegrityError(`user ${claimed.signer.user_id} has no valid member certificate of the company: refusing to use their keys`);
    key = m.signing;
  }
  try {
    verifyStatement(key, ACL_STATEMENT, bodyBytes, fromB64u(doc.signature));
  } catch {
    throw new IntegrityError(`the signature of a ${ACL_STATEMENT} document is invalid`);
  }
  const body = claimed;
  checkShape(body, shareId, companyId);
  if (body.signer.kind === 'member' && !owners(body).includes(body.signer.user_id)) {
    throw new IntegrityError(`version ${body.version} of the access list of share ${shareId} is signed by someone who is not an owner`);
  }
  return body;
}

export function signAcl(company: KeyPair, body: ShareAclBody): SignedDoc {
  const b = aclBytes(body);
  return { body: b64u(b), signature: b64u(signStatement(company.seed, ACL_STATEMENT, b)) };
}

// ------------------------------------------------------------ the name for admins

export function adminNameInfo(shareId: string, companyId: string): Uint8Array {
  return concat(utf8(ADMIN_NAME_INFO), uuidBytes(shareId), uuidBytes(companyId));
}

/** `grant::open_name_for_admins`. */
export async function openNameForAdmins(companyEncryptionPrivate: Uint8Array, companyId: string, shareId: string, sealed: Uint8Array): Promise<string> {
  if (sealed.length < 32) throw new IntegrityError('a share name for admins is malformed');
  let pt: Uint8Array;
  try {
    pt = await hpkeOpen(companyEncryptionPrivate, sealed.subarray(0, 32), adminNameInfo(shareId, companyId), new Uint8Array(0), sealed.subarray(32));
  } catch {
    throw new IntegrityError('a share name for admins does not open');
  }
  let d: unknown;
  try {
    d = JSON.parse(dec.decode(pt));
  } catch {
    throw new IntegrityError('a share name is malformed');
  }
  const name = (d as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') throw new IntegrityError('a share name is malformed');
  return name;
}

/** `grant::seal_name_for_admins` (used by tests here; owners' clients seal it). */
export async function sealNameForAdmins(companyEncryptionPublic: Uint8Array, companyId: string, shareId: string, name: string): Promise<Uint8Array> {
  const { enc, ct } = await hpkeSeal(companyEncryptionPublic, adminNameInfo(shareId, companyId), new Uint8Array(0), utf8(JSON.stringify({ name })));
  return concat(enc, ct);
}

// ------------------------------------------------------------ the overview

export interface AdminRecipient {
  principal: Principal;
  name: string;
  role: ShareRole;
}

/** A share as a company administrator sees it (`AdminShareView`), or why it was refused. */
export interface AdminShareView {
  id: string;
  /** null when the name does not open with the company key. */
  name: string | null;
  aclVersion: number;
  keyVersion: number;
  owners: string[];
  recipients: AdminRecipient[];
  expiresAt: number | null;
  objectCount: number;
  createdAt: number;
  updatedAt: number;
  signedBy: string;
  /** Set when the access list did not verify: nothing else of the share is trusted or shown. */
  refused: string | null;
  acl: ShareAclBody | null;
}

export interface CompanyShares {
  shares: AdminShareView[];
  directory: Directory;
}

export function shareState(v: AdminShareView, now: number): 'refused' | 'expired' | 'expiring' | 'active' {
  if (v.refused) return 'refused';
  if (v.expiresAt !== null && v.expiresAt <= now) return 'expired';
  if (v.expiresAt !== null) return 'expiring';
  return 'active';
}

/**
 * Every share of the company with verified access lists. Unlike the Rust overview, which fails
 * as a whole on the first list that does not verify, a refused share is listed as refused (with
 * only its id), so that one bad entry does not hide the others.
 */
export async function companyShares(api: OrgApi, company: KeyPair, companyId: string, pins: SharePinStore = new MemorySharePins()): Promise<CompanyShares> {
  const [dirResp, list] = await Promise.all([
    api.api.call<DirectoryResponse>('GET', `/companies/${companyId}/directory`),
    api.api.call<{ shares: AdminShareDto[] }>('GET', `/companies/${companyId}/shares`),
  ]);
  const dir = Directory.verify(dirResp, companyId, company.publicKeys, pins.load());
  await updateSharePins(pins, (p) => recordRevocations(p, companyId, dir.revocationsVersion));
  const out: AdminShareView[] = [];
  for (const dto of list.shares) {
    const base = { id: dto.id, objectCount: dto.object_count, createdAt: dto.created_at, updatedAt: dto.updated_at };
    let body: ShareAclBody;
    try {
      if (dto.company_id !== companyId) throw new IntegrityError('the server listed a share of another company');
      body = verifyAcl(dto.acl, dto.id, companyId, dir);
    } catch (e) {
      out.push({ ...base, name: null, aclVersion: 0, keyVersion: 0, owners: [], recipients: [], expiresAt: null, signedBy: '', refused: (e as Error).message, acl: null });
      continue;
    }
    let name: string | null = null;
    try {
      name = await openNameForAdmins(company.encryptionKey, companyId, dto.id, fromB64u(dto.name_for_admins));
    } catch {
      name = null;
    }
    out.push({
      ...base,
      name,
      aclVersion: body.version,
      keyVersion: body.key_version,
      owners: owners(body).map((u) => dir.principalName({ kind: 'user', id: u })),
      recipients: body.entries.filter((e) => e.role !== 'owner').map((e) => ({ principal: e.principal, name: dir.principalName(e.principal), role: e.role })),
      expiresAt: body.expires_at,
      signedBy: body.signer.kind === 'company' ? 'the company key (an administrator)' : dir.principalName({ kind: 'user', id: body.signer.user_id }),
      refused: null,
      acl: body,
    });
  }
  out.sort((a, b) => (a.name ?? '\uffff').localeCompare(b.name ?? '\uffff') || a.id.localeCompare(b.id));
  return { shares: out, directory: dir };
}

// ------------------------------------------------------------ changes signed with the company key

export type AdminChange = { kind: 'remove'; principal: Principal } | { kind: 'transfer'; to: string };

/** Refusals a person can act on. */
export class ShareAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShareAdminError';
  }
}

/** The next access list for `change` (`admin::change_share`), or a refusal. Pure. */
export function nextAcl(current: ShareAclBody, change: AdminChange, now: number): ShareAclBody {
  const body: ShareAclBody = structuredClone(current);
  const same = (a: Principal, b: Principal) => a.kind === b.kind && a.id === b.id;
  if (change.kind === 'remove') {
    const p = change.principal;
    if (body.entries.some((e) => same(e.principal, p) && canWrite(e.role))) {
      throw new ShareAdminError("an owner or editor wrote the share's items and manifests: an owner removes them (their client rotates the key and signs the share again); transfer ownership first if the owner is gone");
    }
    const before = body.entries.length;
    body.entries = body.entries.filter((e) => !same(e.principal, p));
    if (body.entries.length === before) throw new ShareAdminError("that user or group is not on the share's access list");
    if (owners(body).length === 0) throw new ShareAdminError('that would leave the share without an owner; transfer it first');
  } else {
    const target: Principal = { kind: 'user', id: change.to };
    if (!body.entries.some((e) => same(e.principal, target))) throw new ShareAdminError('ownership goes to a current recipient (who has the items); add them first');
    for (const e of body.entries) {
      if (same(e.principal, target)) e.role = 'owner';
      else if (e.role === 'owner') e.role = 'editor';
    }
  }
  body.version += 1;
  body.signer = { kind: 'company' };
  body.issued_at = now;
  return body;
}

/**
 * Applies `change` to a share with a new access list signed by the company key. The list is
 * fetched and verified again right before (the overview on screen may be stale). Returns the
 * new list.
 */
export async function changeShare(api: OrgApi, company: KeyPair, companyId: string, shareId: string, change: AdminChange, now: number, pins: SharePinStore = new MemorySharePins()): Promise<ShareAclBody> {
  const { shares } = await companyShares(api, company, companyId, pins);
  const v = shares.find((s) => s.id === shareId);
  if (!v) throw new ShareAdminError('the share no longer exists in this company');
  if (!v.acl) throw new IntegrityError(`the share's access list does not verify: ${v.refused}`);
  const body = nextAcl(v.acl, change, now);
  await api.api.call<unknown>('PUT', `/shares/${shareId}/acl`, { acl: signAcl(company, body), grants: [] });
  return body;
}
