// The plaintext item model, as crates/castellan-client/src/item.rs. The JSON documents must
// parse with serde's deny_unknown_fields on the Rust side, so they carry exactly these keys.
import { parseTotp } from '../crypto/totp';

export const SCHEMA_VERSION = 1;
export const MAX_TITLE_CHARS = 1000;
export const MAX_FIELD_BYTES = 64 * 1024;
export const MAX_FIELDS = 200;
export const MAX_HISTORY = 50;

export type ItemType =
  | 'login'
  | 'server'
  | 'database'
  | 'ssh_key'
  | 'email'
  | 'wifi'
  | 'application'
  | 'bank_account'
  | 'credit_card'
  | 'identity'
  | 'secure_note'
  | 'software_license';

export type FieldKind = 'text' | 'secret' | 'url' | 'totp' | 'multiline';
export interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
}

const f = (name: string, label: string, kind: FieldKind): FieldSpec => ({ name, label, kind });

export const ITEM_TYPES: { type: ItemType; label: string; fields: FieldSpec[] }[] = [
  { type: 'login', label: 'Login', fields: [f('username', 'Username', 'text'), f('password', 'Password', 'secret'), f('url', 'Website', 'url'), f('totp', 'One-time code', 'totp')] },
  {
    type: 'server',
    label: 'Server',
    fields: [f('hostname', 'Hostname', 'text'), f('port', 'Port', 'text'), f('username', 'Username', 'text'), f('password', 'Password', 'secret'), f('url', 'Admin URL', 'url'), f('totp', 'One-time code', 'totp')],
  },
  {
    type: 'database',
    label: 'Database',
    fields: [
      f('database_type', 'Type', 'text'),
      f('hostname', 'Hostname', 'text'),
      f('port', 'Port', 'text'),
      f('database', 'Database', 'text'),
      f('username', 'Username', 'text'),
      f('password', 'Password', 'secret'),
      f('connection_string', 'Connection string', 'secret'),
    ],
  },
  {
    type: 'ssh_key',
    label: 'SSH key',
    fields: [f('hostname', 'Hostname', 'text'), f('username', 'Username', 'text'), f('private_key', 'Private key', 'secret'), f('public_key', 'Public key', 'multiline'), f('passphrase', 'Passphrase', 'secret'), f('fingerprint', 'Fingerprint', 'text')],
  },
  {
    type: 'email',
    label: 'Email account',
    fields: [
      f('email', 'Email address', 'text'),
      f('username', 'Username', 'text'),
      f('password', 'Password', 'secret'),
      f('imap_server', 'IMAP server', 'text'),
      f('smtp_server', 'SMTP server', 'text'),
      f('url', 'Webmail', 'url'),
      f('totp', 'One-time code', 'totp'),
    ],
  },
  { type: 'wifi', label: 'Wi-Fi', fields: [f('ssid', 'Network name', 'text'), f('password', 'Password', 'secret'), f('security', 'Security', 'text')] },
  { type: 'application', label: 'Application', fields: [f('username', 'Username', 'text'), f('password', 'Password', 'secret'), f('url', 'URL', 'url'), f('version', 'Version', 'text'), f('totp', 'One-time code', 'totp')] },
  {
    type: 'bank_account',
    label: 'Bank account',
    fields: [
      f('bank_name', 'Bank', 'text'),
      f('account_holder', 'Account holder', 'text'),
      f('account_number', 'Account number', 'secret'),
      f('routing_number', 'Routing number', 'text'),
      f('iban', 'IBAN', 'secret'),
      f('swift', 'SWIFT/BIC', 'text'),
      f('pin', 'PIN', 'secret'),
      f('username', 'Online banking user', 'text'),
      f('password', 'Online banking password', 'secret'),
      f('url', 'Website', 'url'),
    ],
  },
  {
    type: 'credit_card',
    label: 'Credit card',
    fields: [f('cardholder', 'Cardholder', 'text'), f('number', 'Card number', 'secret'), f('expiry', 'Expiry (MM/YY)', 'text'), f('cvv', 'Security code', 'secret'), f('pin', 'PIN', 'secret'), f('brand', 'Brand', 'text')],
  },
  {
    type: 'identity',
    label: 'Identity',
    fields: [
      f('first_name', 'First name', 'text'),
      f('last_name', 'Last name', 'text'),
      f('email', 'Email', 'text'),
      f('phone', 'Phone', 'text'),
      f('address', 'Address', 'multiline'),
      f('company', 'Company', 'text'),
      f('birth_date', 'Date of birth', 'text'),
      f('passport_number', 'Passport number', 'secret'),
      f('national_id', 'National ID', 'secret'),
    ],
  },
  { type: 'secure_note', label: 'Secure note', fields: [f('template', 'Template', 'text')] },
  {
    type: 'software_license',
    label: 'Software license',
    fields: [
      f('product', 'Product', 'text'),
      f('version', 'Version', 'text'),
      f('license_key', 'License key', 'secret'),
      f('licensed_to', 'Licensed to', 'text'),
      f('email', 'Registered email', 'text'),
      f('url', 'Download URL', 'url'),
      f('purchase_date', 'Purchase date', 'text'),
    ],
  },
];

const BY_TYPE = new Map(ITEM_TYPES.map((t) => [t.type, t]));

export function typeInfo(t: ItemType) {
  const i = BY_TYPE.get(t);
  if (!i) throw new Error(`unknown item type ${t}`);
  return i;
}
export function isItemType(t: unknown): t is ItemType {
  return typeof t === 'string' && BY_TYPE.has(t as ItemType);
}
export function fieldSpec(t: ItemType, name: string): FieldSpec | undefined {
  return typeInfo(t).fields.find((s) => s.name === name);
}

export interface CustomField {
  name: string;
  value: string;
  hidden: boolean;
}
export interface PasswordChange {
  password: string;
  field: string;
  replaced_at: number;
}

/** The `details` envelope's plaintext. */
export interface ItemData {
  type: ItemType;
  title: string;
  fields: Record<string, string>;
  custom_fields: CustomField[];
  notes: string;
  tags: string[];
  favorite: boolean;
  folder_id: string | null;
  password_history: PasswordChange[];
  trashed: boolean;
  created_at: number;
  updated_at: number;
}

/** The `overview` envelope's plaintext. */
export interface ItemOverview {
  type: ItemType;
  title: string;
  username: string;
  urls: string[];
  tags: string[];
  favorite: boolean;
  folder_id: string | null;
  trashed: boolean;
  updated_at: number;
}

export class InvalidInput extends Error {}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new InvalidInput(`${what} must be a string`);
  return v;
}
function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidInput(`${what} must be a boolean`);
  return v;
}
function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new InvalidInput(`${what} must be an integer`);
  return v;
}
function uuidOrNull(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) throw new InvalidInput(`${what} must be a UUID`);
  return v.toLowerCase();
}
function strictKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InvalidInput(`unknown field ${k} in ${what}`);
}
function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInput(`${what} must be an object`);
  return v as Record<string, unknown>;
}
function arr(v: unknown, what: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidInput(`${what} must be an array`);
  return v;
}

const DATA_KEYS = ['type', 'title', 'fields', 'custom_fields', 'notes', 'tags', 'favorite', 'folder_id', 'password_history', 'trashed', 'created_at', 'updated_at'];
const OVERVIEW_KEYS = ['type', 'title', 'username', 'urls', 'tags', 'favorite', 'folder_id', 'trashed', 'updated_at'];

/** Parses a details document strictly (unknown fields refused, serde defaults applied). */
export function parseItemData(json: unknown): ItemData {
  const o = obj(json, 'item');
  strictKeys(o, DATA_KEYS, 'item');
  if (!isItemType(o.type)) throw new InvalidInput('unknown item type');
  const fields: Record<string, string> = {};
  if (o.fields !== undefined) for (const [k, v] of Object.entries(obj(o.fields, 'fields'))) fields[k] = str(v, 'field');
  return {
    type: o.type,
    title: str(o.title, 'title'),
    fields,
    custom_fields: arr(o.custom_fields, 'custom_fields').map((c) => {
      const x = obj(c, 'custom field');
      return { name: str(x.name, 'name'), value: str(x.value, 'value'), hidden: x.hidden === undefined ? false : bool(x.hidden, 'hidden') };
    }),
    notes: o.notes === undefined ? '' : str(o.notes, 'notes'),
    tags: arr(o.tags, 'tags').map((t) => str(t, 'tag')),
    favorite: o.favorite === undefined ? false : bool(o.favorite, 'favorite'),
    folder_id: uuidOrNull(o.folder_id, 'folder_id'),
    password_history: arr(o.password_history, 'password_history').map((c) => {
      const x = obj(c, 'password change');
      return { password: str(x.password, 'password'), field: str(x.field, 'field'), replaced_at: int(x.replaced_at, 'replaced_at') };
    }),
    trashed: o.trashed === undefined ? false : bool(o.trashed, 'trashed'),
    created_at: int(o.created_at, 'created_at'),
    updated_at: int(o.updated_at, 'updated_at'),
  };
}

export function parseOverview(json: unknown): ItemOverview {
  const o = obj(json, 'overview');
  strictKeys(o, OVERVIEW_KEYS, 'overview');
  if (!isItemType(o.type)) throw new InvalidInput('unknown item type');
  return {
    type: o.type,
    title: str(o.title, 'title'),
    username: o.username === undefined ? '' : str(o.username, 'username'),
    urls: arr(o.urls, 'urls').map((u) => str(u, 'url')),
    tags: arr(o.tags, 'tags').map((t) => str(t, 'tag')),
    favorite: o.favorite === undefined ? false : bool(o.favorite, 'favorite'),
    folder_id: uuidOrNull(o.folder_id, 'folder_id'),
    trashed: o.trashed === undefined ? false : bool(o.trashed, 'trashed'),
    updated_at: int(o.updated_at, 'updated_at'),
  };
}

/** The JSON text of a details document, keys in serde's order (fields sorted like a BTreeMap). */
export function itemDataJson(d: ItemData): string {
  const fields: Record<string, string> = {};
  for (const k of Object.keys(d.fields).sort(cmpUtf8)) fields[k] = d.fields[k];
  return JSON.stringify({
    type: d.type,
    title: d.title,
    fields,
    custom_fields: d.custom_fields.map((c) => ({ name: c.name, value: c.value, hidden: c.hidden })),
    notes: d.notes,
    tags: d.tags,
    favorite: d.favorite,
    folder_id: d.folder_id,
    password_history: d.password_history.map((p) => ({ password: p.password, field: p.field, replaced_at: p.replaced_at })),
    trashed: d.trashed,
    created_at: d.created_at,
    updated_at: d.updated_at,
  });
}

export function overviewJson(o: ItemOverview): string {
  return JSON.stringify({
    type: o.type,
    title: o.title,
    username: o.username,
    urls: o.urls,
    tags: o.tags,
    favorite: o.favorite,
    folder_id: o.folder_id,
    trashed: o.trashed,
    updated_at: o.updated_at,
  });
}

/** Byte-wise (UTF-8) order, as Rust's String ordering. */
export function cmpUtf8(a: string, b: string): number {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}

export function username(d: ItemData): string {
  for (const k of ['username', 'email', 'cardholder', 'ssid', 'licensed_to', 'account_holder']) {
    if (Object.prototype.hasOwnProperty.call(d.fields, k)) return d.fields[k];
  }
  return '';
}

export function urls(d: ItemData): string[] {
  const out = typeInfo(d.type)
    .fields.filter((s) => s.kind === 'url')
    .filter((s) => Object.prototype.hasOwnProperty.call(d.fields, s.name))
    .map((s) => d.fields[s.name]);
  if (Object.prototype.hasOwnProperty.call(d.fields, 'hostname')) out.push(d.fields.hostname);
  return out;
}

export function totpSeed(d: ItemData): string | undefined {
  for (const s of typeInfo(d.type).fields) if (s.kind === 'totp' && Object.prototype.hasOwnProperty.call(d.fields, s.name)) return d.fields[s.name];
  return undefined;
}

export function overviewOf(d: ItemData): ItemOverview {
  return { type: d.type, title: d.title, username: username(d), urls: urls(d), tags: [...d.tags], favorite: d.favorite, folder_id: d.folder_id, trashed: d.trashed, updated_at: d.updated_at };
}

export function sameOverview(a: ItemOverview, b: ItemOverview): boolean {
  return overviewJson(a) === overviewJson(b);
}

export function newItem(type: ItemType, title: string, now: number): ItemData {
  const d: ItemData = { type, title: '', fields: {}, custom_fields: [], notes: '', tags: [], favorite: false, folder_id: null, password_history: [], trashed: false, created_at: now, updated_at: now };
  setTitle(d, title);
  return d;
}

export function setTitle(d: ItemData, title: string): void {
  const t = title.trim();
  if (t.length === 0) throw new InvalidInput('the title must not be empty');
  if ([...t].length > MAX_TITLE_CHARS) throw new InvalidInput(`the title is longer than ${MAX_TITLE_CHARS} characters`);
  d.title = t;
}

export function parseTags(value: string): string[] {
  const tags = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .sort(cmpUtf8);
  return tags.filter((t, i) => i === 0 || t !== tags[i - 1]);
}

function looksSecret(name: string): boolean {
  const n = name.toLowerCase();
  return ['password', 'secret', 'pin', 'key', 'token', 'passphrase'].some((w) => n.includes(w));
}

function pushHistory(d: ItemData, old: string, field: string, now: number): void {
  d.password_history.unshift({ password: old, field, replaced_at: now });
  d.password_history.length = Math.min(d.password_history.length, MAX_HISTORY);
}

/** Sets a field as ItemData::set_field: type fields, title/notes/tags, else a custom field. */
export function setField(d: ItemData, rawName: string, value: string, now: number): void {
  const name = rawName.trim();
  if (!name) throw new InvalidInput('a field name must not be empty');
  if (new TextEncoder().encode(value).length > MAX_FIELD_BYTES) throw new InvalidInput(`the value of ${name} is larger than ${MAX_FIELD_BYTES} bytes`);
  if (name === 'title') return setTitle(d, value);
  if (name === 'notes') {
    d.notes = value;
    return;
  }
  if (name === 'tags') {
    d.tags = parseTags(value);
    return;
  }
  const spec = fieldSpec(d.type, name);
  if (spec) {
    if (spec.kind === 'totp' && value !== '') {
      try {
        parseTotp(value);
      } catch (e) {
        throw new InvalidInput(`the TOTP seed is not valid: ${(e as Error).message}`);
      }
    }
    const had = Object.prototype.hasOwnProperty.call(d.fields, name);
    const old = had ? d.fields[name] : undefined;
    if (value === '') delete d.fields[name];
    else d.fields[name] = value;
    if (old !== undefined && spec.kind === 'secret' && old !== value && old !== '') pushHistory(d, old, name, now);
    return;
  }
  const i = d.custom_fields.findIndex((c) => c.name === name);
  if (i >= 0 && value === '') d.custom_fields.splice(i, 1);
  else if (i >= 0) {
    const c = d.custom_fields[i];
    if (c.hidden && c.value !== value) {
      pushHistory(d, c.value, name, now);
    }
    c.value = value;
  } else if (value !== '') {
    if (d.custom_fields.length >= MAX_FIELDS) throw new InvalidInput(`an item can have at most ${MAX_FIELDS} custom fields`);
    d.custom_fields.push({ name, value, hidden: looksSecret(name) });
  }
}

export function cloneItem(d: ItemData): ItemData {
  return parseItemData(JSON.parse(itemDataJson(d)));
}
