// Pinned company keys and the highest verified policy per company
// (crates/castellan-client/src/org/pins.rs), kept in the browser's device state (field `org`,
// the same layout as device.json). A pin is set once and never changes silently: served keys
// that differ are an integrity error. The policy counter only goes up.
import { b64u } from '../crypto/bytes';
import { IntegrityError } from '../client/account';
import { publicFromDto, publicKeys, sameKeys, type PublicKeys } from './keys';
import { fromB64u } from '../crypto/bytes';
import type { CompanyKeysDto, PolicyBody, SignedDoc } from './types';

export type PinSource = 'created' | 'invite-link' | 'grant' | 'first-use';

export interface CompanyPin {
  signing_public_key: string;
  encryption_public_key: string;
  source: string;
  policy_counter: number;
  policy: SignedDoc | null;
}

export interface OrgPins {
  my_company: string | null;
  companies: Record<string, CompanyPin>;
}

export function emptyPins(): OrgPins {
  return { my_company: null, companies: {} };
}

export function pinKeys(p: CompanyPin): PublicKeys {
  return publicKeys(fromB64u(p.signing_public_key), fromB64u(p.encryption_public_key));
}

/** The pinned keys of a company, or null. */
export function pinnedKeys(pins: OrgPins, companyId: string): PublicKeys | null {
  const p = pins.companies[companyId];
  return p ? pinKeys(p) : null;
}

/** Checks served keys against the pin; pins them when there is none yet. */
export function checkOrPin(pins: OrgPins, companyId: string, served: PublicKeys, source: PinSource): PublicKeys {
  const pin = pins.companies[companyId];
  if (pin) {
    const pinned = pinKeys(pin);
    if (!sameKeys(pinned, served)) throw new IntegrityError(`the server sent other keys for company ${companyId} than the ones pinned on this device`);
    return pinned;
  }
  pins.companies[companyId] = {
    signing_public_key: b64u(served.signing),
    encryption_public_key: b64u(served.encryption),
    source,
    policy_counter: 0,
    policy: null,
  };
  return served;
}

export function checkOrPinDto(pins: OrgPins, companyId: string, served: CompanyKeysDto, source: PinSource): PublicKeys {
  return checkOrPin(pins, companyId, publicFromDto(served), source);
}

/** Records a verified policy document if its counter is higher than the pinned one. */
export function recordPolicy(pins: OrgPins, companyId: string, body: PolicyBody, doc: SignedDoc): void {
  const pin = pins.companies[companyId];
  if (pin && body.counter > pin.policy_counter) {
    pin.policy_counter = body.counter;
    pin.policy = { body: doc.body, signature: doc.signature };
  }
}

/** Where the pins live: the device state in IndexedDB (browser) or memory (tests). */
export interface PinStorage {
  load(): OrgPins;
  save(pins: OrgPins): Promise<void>;
}

export class MemoryPins implements PinStorage {
  constructor(public pins: OrgPins = emptyPins()) {}
  load(): OrgPins {
    return structuredClone(this.pins);
  }
  async save(pins: OrgPins): Promise<void> {
    this.pins = structuredClone(pins);
  }
}

/** Applies `f` to a fresh copy of the pins and saves them when `f` changed them. */
export async function updatePins<T>(store: PinStorage, f: (p: OrgPins) => T): Promise<T> {
  const pins = store.load();
  const before = JSON.stringify(pins);
  const out = f(pins);
  if (JSON.stringify(pins) !== before) await store.save(pins);
  return out;
}
