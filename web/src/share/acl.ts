// Signed access lists (crates/castellan-client/src/share/acl.rs), statement `share-acl`.
//
// Who may sign version N of a share's list:
// - a member (their identity key, taken from their member certificate verified against the
//   pinned company key) who is an owner in the previous list this device pinned (only when that
//   list is the immediate predecessor), or in this list itself (version 1, the first list this
//   device sees, or after a gap);
// - the company root key (an admin acting from the portal), verified with the pinned key.
import { b64u, dec, fromB64u, utf8 } from '../crypto/bytes';
import { signStatement, verifyStatement } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import type { SignedDoc } from '../org/types';
import type { Directory } from './directory';
import type { AclEntry, AclSigner, Principal, ShareAclBody, ShareRole } from './types';

export const ACL_STATEMENT = 'share-acl';
export const GRANT_STATEMENT = 'share-grant';

export const ROLES: ShareRole[] = ['owner', 'editor', 'read_only', 'read_only_hidden'];

/** Strength of a role (higher is stronger). */
export function rank(r: ShareRole): number {
  return r === 'owner' ? 3 : r === 'editor' ? 2 : r === 'read_only' ? 1 : 0;
}

export function canWrite(r: ShareRole): boolean {
  return r === 'owner' || r === 'editor';
}

/** As the CLI names roles. */
export function roleStr(r: ShareRole): string {
  return r === 'owner' ? 'owner' : r === 'editor' ? 'editor' : r === 'read_only' ? 'read-only' : 'read-only-hidden';
}

/** As people read them. */
export function roleLabel(r: ShareRole): string {
  return r === 'owner' ? 'Owner' : r === 'editor' ? 'Editor' : r === 'read_only' ? 'Read-only' : 'Read-only, password hidden';
}

export function samePrincipal(a: Principal, b: Principal): boolean {
  return a.kind === b.kind && a.id === b.id;
}

export function owners(body: ShareAclBody): Set<string> {
  return new Set(body.entries.filter((e) => e.principal.kind === 'user' && e.role === 'owner').map((e) => e.principal.id));
}

export function isOwner(body: ShareAclBody, user: string): boolean {
  return owners(body).has(user);
}

export function entryOf(body: ShareAclBody, p: Principal): AclEntry | undefined {
  return body.entries.find((e) => samePrincipal(e.principal, p));
}

/** The strongest role of a user: their own entry and those of the groups they are in. */
export function roleOf(body: ShareAclBody, user: string, groups: string[]): ShareRole | null {
  let best: ShareRole | null = null;
  for (const e of body.entries) {
    const mine = e.principal.kind === 'user' ? e.principal.id === user : groups.includes(e.principal.id);
    if (mine && (best === null || rank(e.role) > rank(best))) best = e.role;
  }
  return best;
}

/** Users who may write: user entries with a writing role and members of such groups (verified rosters only). */
export function writers(body: ShareAclBody, dir: Directory): Set<string> {
  const out = new Set<string>();
  for (const e of body.entries) {
    if (!canWrite(e.role)) continue;
    if (e.principal.kind === 'user') out.add(e.principal.id);
    else for (const m of dir.groups.get(e.principal.id)?.members ?? []) out.add(m);
  }
  return out;
}

/** Ids, versions, unique principals, at least one owner, owners are users. */
export function checkShape(body: ShareAclBody, shareId: string, companyId: string): void {
  const bad = (m: string) => new IntegrityError(`share access list: ${m}`);
  if (body.share_id !== shareId) throw bad('it names another share');
  if (body.company_id !== companyId) throw bad('it names another company');
  if (body.version < 1 || body.key_version < 1) throw bad('bad version');
  const seen = new Set<string>();
  for (const e of body.entries) {
    const k = `${e.principal.kind}:${e.principal.id}`;
    if (seen.has(k)) throw bad('a principal is listed twice');
    seen.add(k);
    if (e.role === 'owner' && e.principal.kind === 'group') throw bad('a group cannot be an owner');
  }
  if (owners(body).size === 0) throw bad('it has no owner');
}

// ------------------------------------------------------------ canonical body (serde's order)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
function uuid(v: unknown, what: string): string {
  if (typeof v !== 'string' || !UUID.test(v.toLowerCase())) throw new IntegrityError(`${what} is not a UUID`);
  return v.toLowerCase();
}
function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new IntegrityError(`${what} is not an integer`);
  return v;
}
function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IntegrityError(`${what} is not an object`);
  return v as Record<string, unknown>;
}
function principal(v: unknown): Principal {
  const o = obj(v, 'principal');
  if (o.kind !== 'user' && o.kind !== 'group') throw new IntegrityError('unknown principal kind');
  return { kind: o.kind, id: uuid(o.id, 'principal id') };
}
function role(v: unknown): ShareRole {
  if (!ROLES.includes(v as ShareRole)) throw new IntegrityError('unknown share role');
  return v as ShareRole;
}
function signer(v: unknown): AclSigner {
  const o = obj(v, 'signer');
  if (o.kind === 'company') return { kind: 'company' };
  if (o.kind === 'member') return { kind: 'member', user_id: uuid(o.user_id, 'signer') };
  throw new IntegrityError('unknown access list signer');
}

/** An access list body with every field, in the Rust order. */
export function normAcl(v: unknown): ShareAclBody {
  const o = obj(v, 'access list');
  if (!Array.isArray(o.entries)) throw new IntegrityError('entries is not a list');
  return {
    share_id: uuid(o.share_id, 'share_id'),
    company_id: uuid(o.company_id, 'company_id'),
    version: int(o.version, 'version'),
    key_version: int(o.key_version, 'key_version'),
    entries: o.entries.map((e) => {
      const x = obj(e, 'entry');
      return { principal: principal(x.principal), role: role(x.role) };
    }),
    expires_at: o.expires_at === null || o.expires_at === undefined ? null : int(o.expires_at, 'expires_at'),
    issued_at: int(o.issued_at, 'issued_at'),
    signer: signer(o.signer),
  };
}

export function aclBytes(body: ShareAclBody): Uint8Array {
  return utf8(JSON.stringify(normAcl(body)));
}

/** Signs a list with a member's identity key (the Ed25519 seed). */
export function signAcl(seed: Uint8Array, body: ShareAclBody): SignedDoc {
  const b = aclBytes(body);
  return { body: b64u(b), signature: b64u(signStatement(seed, ACL_STATEMENT, b)) };
}

/** Parses a list WITHOUT verifying it (to learn who claims to have signed it). */
export function peekAcl(doc: SignedDoc | null | undefined): ShareAclBody | null {
  if (!doc) return null;
  try {
    return normAcl(JSON.parse(dec.decode(fromB64u(doc.body))));
  } catch {
    return null;
  }
}

/**
 * Verifies a served list: the signature with the signer's verified key, the shape, and the
 * signer's authority against `previous` (the list this device pinned).
 */
export function verifyAcl(doc: SignedDoc, shareId: string, companyId: string, dir: Directory, previous: ShareAclBody | null): ShareAclBody {
  const claimed = peekAcl(doc);
  if (!claimed) throw new IntegrityError('a share access list is malformed');
  const key = claimed.signer.kind === 'member' ? dir.member(claimed.signer.user_id).keys.signing : dir.company.signing;
  let bytes: Uint8Array;
  try {
    bytes = fromB64u(doc.body);
    verifyStatement(key, ACL_STATEMENT, bytes, fromB64u(doc.signature));
  } catch {
    throw new IntegrityError(`the signature of the access list of share ${shareId} is invalid`);
  }
  const body = normAcl(JSON.parse(dec.decode(bytes)));
  checkShape(body, shareId, companyId);
  if (body.signer.kind === 'member') {
    const authority = previous && body.version > 1 && previous.version + 1 === body.version ? previous : body;
    if (!isOwner(authority, body.signer.user_id)) throw new IntegrityError(`version ${body.version} of the access list of share ${shareId} is signed by someone who is not an owner`);
  }
  return body;
}
