// The company directory as this client trusts it (crates/castellan-client/src/share/directory.rs):
// every member certificate and group roster verified against the PINNED company key. Keys are
// only ever taken from a verified certificate or roster, never from the server's plain fields,
// so a server cannot substitute a recipient's key (P22) or add someone to a group (P28).
import { fromB64u } from '../crypto/bytes';
import { IntegrityError } from '../client/account';
import { normaliseEmail, verifyMemberCert, verifyRevocations, verifyRoster } from '../org/docs';
import { publicFromDto, publicKeys, sameKeys, type PublicKeys } from '../org/keys';
import type { GroupDto, Role } from '../org/types';
import { checkRevocations, checkRoster, type SharePins } from './pins';
import type { DirectoryResponse, PrincipalKind } from './types';

export interface Member {
  userId: string;
  email: string;
  role: Role;
  keys: PublicKeys;
}

export interface Group {
  id: string;
  name: string;
  isEveryone: boolean;
  version: number;
  keys: PublicKeys;
  members: string[];
}

/** A refusal the user can act on (unknown recipient, ambiguous name). */
export class ShareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShareError';
  }
}

/** Verifies a roster served as a GroupDto: company signature, ids, served keys equal to the signed ones. */
export function verifyGroupUnpinned(company: PublicKeys, companyId: string, g: GroupDto): Group {
  const body = verifyRoster(company, g.roster, companyId, g.id);
  const keys = publicKeys(fromB64u(body.signing_public_key), fromB64u(body.encryption_public_key));
  const served = publicFromDto(g.keys);
  if (!sameKeys(served, keys)) throw new IntegrityError(`the server sent other keys for group "${body.name}" than its signed roster`);
  return { id: g.id, name: body.name, isEveryone: body.is_everyone, version: body.version, keys, members: body.members };
}

export function verifyGroup(company: PublicKeys, companyId: string, g: GroupDto, pins: SharePins): Group {
  const group = verifyGroupUnpinned(company, companyId, g);
  checkRoster(pins, g.id, group.version);
  return group;
}

export class Directory {
  readonly members = new Map<string, Member>();
  readonly groups = new Map<string, Group>();
  /** The version of the verified certificate revocation list (0 = none served). */
  revocationsVersion = 0;
  /** Entries the server sent that did not verify (shown, never used). */
  readonly rejected: string[] = [];

  constructor(
    readonly companyId: string,
    readonly company: PublicKeys,
  ) {}

  /**
   * Verifies a served directory. Members or groups that fail are left out (listed in
   * `rejected`), and so are members whose certificate serial the company's signed revocation
   * list names (property 24); a group roster or a revocation list older than the pinned one, or
   * a revocation list that does not verify, fails the whole directory.
   */
  static verify(resp: DirectoryResponse, companyId: string, company: PublicKeys, pins: SharePins): Directory {
    const revoked = resp.revocations ? verifyRevocations(company, resp.revocations, companyId) : null;
    checkRevocations(pins, companyId, revoked ? revoked.version : null);
    const serials = new Set(revoked?.serials ?? []);
    const dir = new Directory(companyId, company);
    dir.revocationsVersion = revoked?.version ?? 0;
    for (const m of resp.members) {
      let body;
      try {
        body = verifyMemberCert(company, m.cert, companyId, m.user_id);
      } catch (e) {
        dir.rejected.push(`member ${m.email}: ${(e as Error).message}`);
        continue;
      }
      if (serials.has(body.serial)) {
        dir.rejected.push(`member ${m.email}: their certificate was revoked by the company`);
        continue;
      }
      try {
        const keys = publicKeys(fromB64u(body.signing_public_key), fromB64u(body.encryption_public_key));
        dir.members.set(m.user_id, { userId: m.user_id, email: normaliseEmail(body.email), role: body.role, keys });
      } catch (e) {
        dir.rejected.push(`member ${m.email}: ${(e as Error).message}`);
      }
    }
    for (const g of resp.groups) {
      let v: Group;
      try {
        v = verifyGroupUnpinned(company, companyId, g);
      } catch (e) {
        dir.rejected.push(`group ${g.name}: ${(e as Error).message}`);
        continue;
      }
      checkRoster(pins, g.id, v.version);
      dir.groups.set(g.id, v);
    }
    return dir;
  }

  member(userId: string): Member {
    const m = this.members.get(userId);
    if (!m) throw new IntegrityError(`user ${userId} has no valid member certificate of the company: refusing to use their keys`);
    return m;
  }

  memberByEmail(email: string): Member {
    const e = normaliseEmail(email);
    for (const m of this.members.values()) if (m.email === e) return m;
    throw new ShareError(`${email} is not a confirmed member of your company with a valid certificate`);
  }

  group(id: string): Group {
    const g = this.groups.get(id);
    if (!g) throw new IntegrityError(`group ${id} has no valid signed roster: refusing to use its keys`);
    return g;
  }

  groupByName(name: string): Group {
    const n = name.trim().toLowerCase();
    const found = [...this.groups.values()].filter((g) => g.name.toLowerCase() === n || g.id === n);
    if (found.length === 1) return found[0];
    if (found.length === 0) throw new ShareError(`no group "${name}" with a valid roster in your company`);
    throw new ShareError(`several groups are called "${name}"`);
  }

  principalName(kind: PrincipalKind, id: string): string {
    if (kind === 'user') return this.members.get(id)?.email ?? id;
    const g = this.groups.get(id);
    return g ? `group ${g.name}` : `group ${id}`;
  }

  /** The encryption key of a principal, from a verified certificate or roster only. */
  principalKeys(kind: PrincipalKind, id: string): PublicKeys {
    return kind === 'user' ? this.member(id).keys : this.group(id).keys;
  }
}
