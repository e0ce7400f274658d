// The verified effective policy of a company, and the checks the client enforces itself
// (crates/castellan-client/src/org/policy.rs). A served policy document is used only when its
// signature verifies against the pinned company key, it names the company, and its counter is
// at least the highest one this device verified; anything else is ignored with a warning.
import { IntegrityError } from '../client/account';
import { verifyPolicy } from './docs';
import { pinKeys, recordPolicy, type OrgPins } from './pins';
import type { MasterPasswordPolicy, PolicySet, SignedDoc } from './types';

export interface EffectivePolicy {
  company_id: string;
  /** Counter of the document in force (0 = none). */
  counter: number;
  policies: PolicySet;
  warnings: string[];
}

export function defaultPolicySet(): PolicySet {
  return {
    require_two_factor: false,
    master_password: null,
    force_business_domains: [],
    remove_business_items_on_removal: false,
    org_backup: null,
    exclude_business_from_emergency_access: false,
    restrict_portal_access: false,
    restrict_sharing_domains: [],
    password_auditing: false,
    user_change_notifications: [],
    disable_personal_export: false,
    max_vault_timeout_minutes: null,
    password_generator: null,
  };
}

/** Names of the Advanced-only policies that are switched on (as PolicySet::advanced_in_use). */
export function advancedInUse(p: PolicySet): string[] {
  const v: string[] = [];
  if (p.org_backup !== null) v.push('org_backup');
  if (p.exclude_business_from_emergency_access) v.push('exclude_business_from_emergency_access');
  if (p.restrict_portal_access) v.push('restrict_portal_access');
  if (p.restrict_sharing_domains.length > 0) v.push('restrict_sharing_domains');
  if (p.password_auditing) v.push('password_auditing');
  return v;
}

/** The last verified policy of a pinned company (re-verified), without the server. */
export function pinnedPolicy(pins: OrgPins, companyId: string): EffectivePolicy | null {
  const pin = pins.companies[companyId];
  if (!pin?.policy) return null;
  try {
    const body = verifyPolicy(pinKeys(pin), pin.policy, companyId);
    return { company_id: companyId, counter: body.counter, policies: body.policies, warnings: [] };
  } catch {
    return null;
  }
}

function same(a: SignedDoc | null, b: SignedDoc): boolean {
  return !!a && a.body === b.body && a.signature === b.signature;
}

/** The effective policy given the served document; records a newer verified one in the pins. */
export function resolvePolicy(pins: OrgPins, companyId: string, served: SignedDoc | null | undefined): EffectivePolicy {
  const pin = pins.companies[companyId];
  if (!pin) throw new IntegrityError(`company ${companyId} is not pinned on this device; its policy cannot be verified`);
  const keys = pinKeys(pin);
  const pinnedCounter = pin.policy_counter;
  const pinnedDoc = pin.policy;
  const fallback = pinnedPolicy(pins, companyId) ?? { company_id: companyId, counter: 0, policies: defaultPolicySet(), warnings: [] };
  if (!served) {
    if (pinnedCounter > 0) fallback.warnings.push(`the server sent no policy although this device verified policy #${pinnedCounter}; the verified one applies`);
    return fallback;
  }
  let body;
  try {
    body = verifyPolicy(keys, served, companyId);
  } catch (e) {
    fallback.warnings.push(`the server sent a policy that does not verify (${(e as Error).message}); it is ignored and the last verified one applies`);
    return fallback;
  }
  if (body.counter > pinnedCounter) {
    recordPolicy(pins, companyId, body, served);
    return { company_id: companyId, counter: body.counter, policies: body.policies, warnings: [] };
  }
  if (body.counter === pinnedCounter) {
    if (!same(pinnedDoc, served)) fallback.warnings.push(`the server sent a different policy with the same number (#${body.counter}) as the verified one; it is ignored`);
    return fallback;
  }
  fallback.warnings.push(`the server sent an older policy (#${body.counter} < #${pinnedCounter}); it is ignored and the last verified one applies`);
  return fallback;
}

const UPPER = /\p{Uppercase}/u;
const LOWER = /\p{Lowercase}/u;
const NUMERIC = /\p{N}/u;
const SYMBOL = /[^\p{Alphabetic}\p{N}\p{White_Space}]/u;

/** What the master password lacks under the policy; empty = it complies. */
export function masterPasswordProblems(p: MasterPasswordPolicy, password: string): string[] {
  const out: string[] = [];
  if ([...password].length < p.min_length) out.push(`at least ${p.min_length} characters`);
  if (p.require_uppercase && !UPPER.test(password)) out.push('an uppercase letter');
  if (p.require_lowercase && !LOWER.test(password)) out.push('a lowercase letter');
  if (p.require_digits && !NUMERIC.test(password)) out.push('a digit');
  if (p.require_symbols && !SYMBOL.test(password)) out.push('a symbol');
  return out;
}

/** Refuses a new master password that does not meet the company's policy. */
export function checkMasterPassword(policies: PolicySet, password: string): void {
  if (!policies.master_password) return;
  const problems = masterPasswordProblems(policies.master_password, password);
  if (problems.length) throw new Error(`the master password does not meet your company's policy: it needs ${problems.join(', ')}`);
}

/** Whether a company may switch on Advanced-only policies (Advanced, or a running trial). */
export function advancedAllowed(plan: string, trialEndsAt: number | null, now: number): boolean {
  if (plan === 'advanced') return true;
  if (plan === 'trial') return trialEndsAt === null || trialEndsAt > now;
  return false;
}
