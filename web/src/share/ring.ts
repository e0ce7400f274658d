// The verified shares of an unlocked account (crates/castellan-client/src/share/mod.rs
// `UnlockedShare`, `ShareRing`): kept beside the account (a WeakMap, so wiping the account drops
// them), read by the codec, the sync and the UI.
import { signal, type Signal } from '@preact/signals';
import type { UnlockedAccount } from '../client/account';
import type { SignedDoc } from '../org/types';
import { canWrite } from './acl';
import type { ShareAclBody, ShareDto, ShareRole, ShareState } from './types';

export const SHARED_FOLDERS = 'Shared folders';

export interface UnlockedShare {
  id: string;
  companyId: string;
  key: Uint8Array;
  keyVersion: number;
  keyId: string;
  acl: ShareAclBody;
  aclDoc: SignedDoc;
  name: string;
  state: ShareState;
  /** My role: the strongest of my entry and my groups' entries in the verified list. */
  role: ShareRole;
  /** Groups through which I am a principal. */
  myGroups: string[];
  owners: Set<string>;
  /** Writers with their certified signing keys. */
  writers: Map<string, Uint8Array>;
  /** Whether this device fetched all of the share's objects once (under this key version). */
  fetched: boolean;
}

export function shareCanWrite(s: UnlockedShare): boolean {
  return canWrite(s.role);
}
export function shareIsOwner(s: UnlockedShare): boolean {
  return s.role === 'owner';
}
/** Read-only with passwords hidden: the client never shows or copies secrets (a client-side restriction). */
export function shareHidesSecrets(s: UnlockedShare): boolean {
  return s.role === 'read_only_hidden';
}

/** An invitation as this browser verified it (or could not). */
export interface Invitation {
  id: string;
  /** The share name, when its access list, grant and name verified. */
  name: string | null;
  role: ShareRole | null;
  /** Emails of the owners, from verified member certificates. */
  owners: string[];
  /** Why it could not be verified (it can still be declined). */
  problem: string | null;
  expiresAt: number | null;
}

const RINGS = new WeakMap<UnlockedAccount, Map<string, UnlockedShare>>();

/** The verified shares of an account (empty until the first refresh or load). */
export function shareRing(acct: UnlockedAccount): Map<string, UnlockedShare> {
  let m = RINGS.get(acct);
  if (!m) {
    m = new Map();
    RINGS.set(acct, m);
  }
  return m;
}

export function setShareRing(acct: UnlockedAccount, m: Map<string, UnlockedShare>): void {
  const old = RINGS.get(acct);
  if (old) for (const [id, s] of old) if (m.get(id) !== s) s.key.fill(0);
  RINGS.set(acct, m);
}

export function wipeShares(acct: UnlockedAccount): void {
  const old = RINGS.get(acct);
  if (old) for (const s of old.values()) s.key.fill(0);
  RINGS.delete(acct);
}

/** What the last share refresh saw, for the UI: invitations and shares refused (with reasons). */
export interface ShareStatus {
  invitations: Invitation[];
  /** Shares that failed verification: skipped, never used. */
  warnings: string[];
  /** The server's list as last fetched. */
  served: ShareDto[];
}

const STATUS = new WeakMap<UnlockedAccount, Signal<ShareStatus>>();

export function shareStatus(acct: UnlockedAccount): Signal<ShareStatus> {
  let s = STATUS.get(acct);
  if (!s) {
    s = signal<ShareStatus>({ invitations: [], warnings: [], served: [] });
    STATUS.set(acct, s);
  }
  return s;
}
