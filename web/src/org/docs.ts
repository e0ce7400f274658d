// Signed documents (crates/castellan-client/src/org/docs.rs): member certificates, invitations,
// group rosters and company policies, signed with a company root key over
// "castellan/v1/sig/" || statement type || 0x00 || body.
//
// Bodies are written exactly as serde_json writes the Rust structs: compact, fields in
// declaration order, every field present (None = null). Verification checks the signature over
// the exact bytes with a key the caller chose BEFORE the body is parsed, then that the body names
// the company and ids the caller expects.
import { b64u, dec, fromB64u, utf8 } from '../crypto/bytes';
import { signStatement, verifyStatement } from '../crypto/sign';
import { IntegrityError } from '../client/account';
import { publicKeys, type KeyPair, type PublicKeys } from './keys';
import type { GeneratorPolicy, OrgBackupPolicy, GroupRosterBody, InvitationBody, MasterPasswordPolicy, MemberCertBody, PolicyBody, PolicySet, RevocationListBody, Role, SignedDoc } from './types';

export const STATEMENT = {
  MEMBER_CERT: 'member-cert',
  INVITATION: 'invitation',
  POLICY: 'company-policy',
  GROUP_ROSTER: 'group-roster',
  REVOKED_CERTS: 'revoked-certs',
} as const;

const ROLES: Role[] = ['admin', 'technician', 'user'];

// ------------------------------------------------------------ canonical bodies

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new IntegrityError(`${what} is not an integer`);
  return v;
}
function u32(v: unknown, what: string): number {
  const n = int(v, what);
  if (n < 0 || n > 0xffffffff) throw new IntegrityError(`${what} is out of range`);
  return n;
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new IntegrityError(`${what} is not a string`);
  return v;
}
function bool(v: unknown, what: string, dflt?: boolean): boolean {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'boolean') throw new IntegrityError(`${what} is not a boolean`);
  return v;
}
function uuid(v: unknown, what: string): string {
  const s = str(v, what).toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s)) throw new IntegrityError(`${what} is not a UUID`);
  return s;
}
function bytes(v: unknown, what: string): string {
  const s = str(v, what);
  try {
    fromB64u(s);
  } catch {
    throw new IntegrityError(`${what} is not base64url`);
  }
  return s;
}
function role(v: unknown): Role {
  if (!ROLES.includes(v as Role)) throw new IntegrityError('unknown role');
  return v as Role;
}
function strings(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new IntegrityError(`${what} is not a list`);
  return v.map((x) => str(x, what));
}
function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IntegrityError(`${what} is not an object`);
  return v as Record<string, unknown>;
}

export function normMasterPassword(v: unknown): MasterPasswordPolicy {
  const o = obj(v, 'master_password');
  return {
    min_length: u32(o.min_length, 'min_length'),
    require_uppercase: bool(o.require_uppercase, 'require_uppercase', false),
    require_lowercase: bool(o.require_lowercase, 'require_lowercase', false),
    require_digits: bool(o.require_digits, 'require_digits', false),
    require_symbols: bool(o.require_symbols, 'require_symbols', false),
    max_age_days: o.max_age_days === undefined || o.max_age_days === null ? null : u32(o.max_age_days, 'max_age_days'),
  };
}

export function normGenerator(v: unknown): GeneratorPolicy {
  const o = obj(v, 'password_generator');
  return {
    min_length: u32(o.min_length, 'min_length'),
    require_uppercase: bool(o.require_uppercase, 'require_uppercase', false),
    require_lowercase: bool(o.require_lowercase, 'require_lowercase', false),
    require_digits: bool(o.require_digits, 'require_digits', false),
    require_symbols: bool(o.require_symbols, 'require_symbols', false),
  };
}

/** OrgBackupPolicy in the Rust field order (`recovery_group_id` defaults to null, `retention_days` to 90). */
export function normOrgBackup(v: unknown): OrgBackupPolicy {
  const o = obj(v, 'org_backup');
  if (o.mode !== 'offline-key' && o.mode !== 'recovery-group') throw new IntegrityError('unknown org_backup mode');
  const pk = bytes(o.public_key, 'org_backup.public_key');
  return {
    mode: o.mode,
    public_key: pk,
    key_version: int(o.key_version, 'key_version'),
    recovery_group_id: o.recovery_group_id === undefined || o.recovery_group_id === null ? null : uuid(o.recovery_group_id, 'recovery_group_id'),
    retention_days: o.retention_days === undefined ? 90 : u32(o.retention_days, 'retention_days'),
  };
}

/** A PolicySet with every field, in the Rust order (absent = off, as `#[serde(default)]`). */
export function normPolicySet(v: unknown): PolicySet {
  const o = v === undefined || v === null ? {} : obj(v, 'policies');
  const opt = <T>(x: unknown, f: (x: unknown) => T): T | null => (x === undefined || x === null ? null : f(x));
  const backup = opt(o.org_backup, normOrgBackup);
  return {
    require_two_factor: bool(o.require_two_factor, 'require_two_factor', false),
    master_password: opt(o.master_password, normMasterPassword),
    force_business_domains: strings(o.force_business_domains, 'force_business_domains'),
    remove_business_items_on_removal: bool(o.remove_business_items_on_removal, 'remove_business_items_on_removal', false),
    org_backup: backup,
    exclude_business_from_emergency_access: bool(o.exclude_business_from_emergency_access, 'exclude_business_from_emergency_access', false),
    restrict_portal_access: bool(o.restrict_portal_access, 'restrict_portal_access', false),
    restrict_sharing_domains: strings(o.restrict_sharing_domains, 'restrict_sharing_domains'),
    password_auditing: bool(o.password_auditing, 'password_auditing', false),
    user_change_notifications: strings(o.user_change_notifications, 'user_change_notifications'),
    disable_personal_export: bool(o.disable_personal_export, 'disable_personal_export', false),
    max_vault_timeout_minutes: opt(o.max_vault_timeout_minutes, (x) => u32(x, 'max_vault_timeout_minutes')),
    password_generator: opt(o.password_generator, normGenerator),
  };
}

export function normPolicyBody(v: unknown): PolicyBody {
  const o = obj(v, 'policy');
  return {
    company_id: uuid(o.company_id, 'company_id'),
    counter: int(o.counter, 'counter'),
    issued_at: int(o.issued_at, 'issued_at'),
    issued_by: uuid(o.issued_by, 'issued_by'),
    policies: normPolicySet(o.policies),
  };
}

export function normMemberCert(v: unknown): MemberCertBody {
  const o = obj(v, 'member certificate');
  return {
    company_id: uuid(o.company_id, 'company_id'),
    user_id: uuid(o.user_id, 'user_id'),
    email: str(o.email, 'email'),
    role: role(o.role),
    signing_public_key: bytes(o.signing_public_key, 'signing_public_key'),
    encryption_public_key: bytes(o.encryption_public_key, 'encryption_public_key'),
    serial: uuid(o.serial, 'serial'),
    issued_at: int(o.issued_at, 'issued_at'),
    issued_by: uuid(o.issued_by, 'issued_by'),
  };
}

export function normInvitation(v: unknown): InvitationBody {
  const o = obj(v, 'invitation');
  return {
    company_id: uuid(o.company_id, 'company_id'),
    invitation_id: uuid(o.invitation_id, 'invitation_id'),
    email: str(o.email, 'email'),
    role: role(o.role),
    expires_at: int(o.expires_at, 'expires_at'),
    invited_by: uuid(o.invited_by, 'invited_by'),
  };
}

export function normRoster(v: unknown): GroupRosterBody {
  const o = obj(v, 'group roster');
  if (!Array.isArray(o.members)) throw new IntegrityError('members is not a list');
  return {
    company_id: uuid(o.company_id, 'company_id'),
    group_id: uuid(o.group_id, 'group_id'),
    name: str(o.name, 'name'),
    is_everyone: bool(o.is_everyone, 'is_everyone'),
    version: int(o.version, 'version'),
    signing_public_key: bytes(o.signing_public_key, 'signing_public_key'),
    encryption_public_key: bytes(o.encryption_public_key, 'encryption_public_key'),
    members: o.members.map((m) => uuid(m, 'member')),
  };
}

export function normRevocations(v: unknown): RevocationListBody {
  const o = obj(v, 'revocation list');
  if (!Array.isArray(o.serials)) throw new IntegrityError('serials is not a list');
  return {
    company_id: uuid(o.company_id, 'company_id'),
    version: int(o.version, 'version'),
    serials: o.serials.map((x) => uuid(x, 'serial')),
    issued_at: int(o.issued_at, 'issued_at'),
    issued_by: uuid(o.issued_by, 'issued_by'),
  };
}

const NORMALISE: Record<string, (v: unknown) => unknown> = {
  [STATEMENT.REVOKED_CERTS]: normRevocations,
  [STATEMENT.POLICY]: normPolicyBody,
  [STATEMENT.MEMBER_CERT]: normMemberCert,
  [STATEMENT.INVITATION]: normInvitation,
  [STATEMENT.GROUP_ROSTER]: normRoster,
};

/** The exact bytes serde_json writes for a statement body. */
export function bodyBytes(statementType: string, body: unknown): Uint8Array {
  const norm = NORMALISE[statementType];
  if (!norm) throw new Error(`unknown statement type ${statementType}`);
  return utf8(JSON.stringify(norm(body)));
}

// ------------------------------------------------------------ sign and verify

export function signDoc(key: KeyPair, statementType: string, body: unknown): SignedDoc {
  const b = bodyBytes(statementType, body);
  return { body: b64u(b), signature: b64u(signStatement(key.seed, statementType, b)) };
}

/** Verifies the signature over the exact bytes, then parses them. */
export function verifyDoc<T>(key: Uint8Array, statementType: string, doc: SignedDoc): T {
  let body: Uint8Array;
  let sig: Uint8Array;
  try {
    body = fromB64u(doc.body);
    sig = fromB64u(doc.signature);
    verifyStatement(key, statementType, body, sig);
  } catch {
    throw new IntegrityError(`the signature of a ${statementType} document is invalid`);
  }
  try {
    return NORMALISE[statementType](JSON.parse(dec.decode(body))) as T;
  } catch (e) {
    throw new IntegrityError(`a signed ${statementType} document is malformed: ${(e as Error).message}`);
  }
}

/** Parses a body WITHOUT verifying it (only for values checked elsewhere). */
export function peekDoc<T>(doc: SignedDoc | null | undefined): T | null {
  if (!doc) return null;
  try {
    return JSON.parse(dec.decode(fromB64u(doc.body))) as T;
  } catch {
    return null;
  }
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new IntegrityError(what);
}

export function verifyMemberCert(company: PublicKeys, doc: SignedDoc, companyId: string, userId: string): MemberCertBody {
  const body = verifyDoc<MemberCertBody>(company.signing, STATEMENT.MEMBER_CERT, doc);
  expect(body.company_id === companyId, 'a member certificate names another company');
  expect(body.user_id === userId, 'a member certificate names another user');
  publicKeys(fromB64u(body.signing_public_key), fromB64u(body.encryption_public_key));
  return body;
}

export function verifyInvitation(company: PublicKeys, doc: SignedDoc, companyId: string): InvitationBody {
  const body = verifyDoc<InvitationBody>(company.signing, STATEMENT.INVITATION, doc);
  expect(body.company_id === companyId, 'an invitation names another company');
  return body;
}

export function verifyRoster(company: PublicKeys, doc: SignedDoc, companyId: string, groupId: string): GroupRosterBody {
  const body = verifyDoc<GroupRosterBody>(company.signing, STATEMENT.GROUP_ROSTER, doc);
  expect(body.company_id === companyId, 'a group roster names another company');
  expect(body.group_id === groupId, 'a group roster names another group');
  publicKeys(fromB64u(body.signing_public_key), fromB64u(body.encryption_public_key));
  return body;
}

/** The certificate revocation list of `companyId` (`docs::verify_revocations`). */
export function verifyRevocations(company: PublicKeys, doc: SignedDoc, companyId: string): RevocationListBody {
  const body = verifyDoc<RevocationListBody>(company.signing, STATEMENT.REVOKED_CERTS, doc);
  expect(body.company_id === companyId, 'a revocation list names another company');
  expect(body.version >= 1, 'a revocation list has no version');
  return body;
}

export function verifyPolicy(company: PublicKeys, doc: SignedDoc, companyId: string): PolicyBody {
  const body = verifyDoc<PolicyBody>(company.signing, STATEMENT.POLICY, doc);
  expect(body.company_id === companyId, 'a policy document names another company');
  expect(body.counter >= 1, 'a policy document has a counter below 1');
  return body;
}

export function roleRank(r: Role): number {
  return r === 'admin' ? 2 : r === 'technician' ? 1 : 0;
}
