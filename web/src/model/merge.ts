// Three-way, field-by-field merge of concurrent item edits (crates/castellan-client/src/merge.rs).
import { cloneItem, fieldSpec, MAX_HISTORY, type CustomField, type ItemData, type PasswordChange } from './item';

const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function pick<T>(name: string, base: T, local: T, remote: T, conflicts: string[]): T {
  if (eq(local, base) || eq(local, remote)) return remote;
  if (eq(remote, base)) return local;
  conflicts.push(name);
  return remote;
}

export interface Merged {
  item: ItemData;
  conflictCopy: ItemData | null;
  conflictingFields: string[];
}

export function merge(base: ItemData, local: ItemData, remote: ItemData, now: number): Merged {
  const conflicts: string[] = [];
  const item = cloneItem(remote);
  item.type = pick('type', base.type, local.type, remote.type, conflicts);
  item.title = pick('title', base.title, local.title, remote.title, conflicts);
  item.notes = pick('notes', base.notes, local.notes, remote.notes, conflicts);
  item.favorite = pick('favorite', base.favorite, local.favorite, remote.favorite, conflicts);
  item.folder_id = pick('folder', base.folder_id, local.folder_id, remote.folder_id, conflicts);
  item.tags = pick('tags', base.tags, local.tags, remote.tags, conflicts);
  item.trashed = pick('trashed', base.trashed, local.trashed, remote.trashed, conflicts);
  const names = [...new Set([...Object.keys(base.fields), ...Object.keys(local.fields), ...Object.keys(remote.fields)])].sort();
  const fields: Record<string, string> = {};
  const get = (d: ItemData, n: string) => (Object.prototype.hasOwnProperty.call(d.fields, n) ? d.fields[n] : null);
  for (const n of names) {
    const v = pick(n, get(base, n), get(local, n), get(remote, n), conflicts);
    if (v !== null) fields[n] = v;
  }
  item.fields = fields;
  const cnames = [...new Set([...base.custom_fields, ...local.custom_fields, ...remote.custom_fields].map((c) => c.name))].sort();
  const find = (d: ItemData, n: string): CustomField | null => d.custom_fields.find((c) => c.name === n) ?? null;
  const custom: CustomField[] = [];
  for (const n of cnames) {
    const c = pick(n, find(base, n), find(local, n), find(remote, n), conflicts);
    if (c) custom.push({ ...c });
  }
  item.custom_fields = custom;
  const history: PasswordChange[] = [];
  for (const h of [...local.password_history, ...remote.password_history]) {
    if (!history.some((x) => x.password === h.password && x.field === h.field)) history.push({ ...h });
  }
  for (const n of conflicts) {
    if (fieldSpec(local.type, n)?.kind === 'secret' && Object.prototype.hasOwnProperty.call(local.fields, n)) {
      const lost = local.fields[n];
      if (!history.some((x) => x.password === lost && x.field === n)) history.unshift({ password: lost, field: n, replaced_at: now });
    }
  }
  history.sort((a, b) => b.replaced_at - a.replaced_at);
  item.password_history = history.slice(0, MAX_HISTORY);
  item.updated_at = now;
  let conflictCopy: ItemData | null = null;
  if (conflicts.length > 0) {
    conflictCopy = cloneItem(local);
    const stamp = new Date(now * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    conflictCopy.title = `${local.title} (conflict copy ${stamp})`;
    conflictCopy.created_at = now;
    conflictCopy.updated_at = now;
  }
  return { item, conflictCopy, conflictingFields: conflicts };
}
