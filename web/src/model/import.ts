// Import of items from a JSON file: an array of {type, title, fields?, notes?, tags?, favorite?}.
import { InvalidInput, isItemType, type ItemData, newItem, parseTags, setField } from './item';

export const MAX_IMPORT_ITEMS = 50000;

export function parseImport(text: string, now: number): ItemData[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InvalidInput('the file is not JSON');
  }
  const list = Array.isArray(doc) ? doc : (doc as { items?: unknown })?.items;
  if (!Array.isArray(list)) throw new InvalidInput('expected a JSON array of items (or {"items": [...]})');
  if (list.length > MAX_IMPORT_ITEMS) throw new InvalidInput(`at most ${MAX_IMPORT_ITEMS} items per import`);
  return list.map((raw, i) => {
    const o = raw as Record<string, unknown>;
    const where = `item ${i + 1}`;
    if (typeof o !== 'object' || o === null) throw new InvalidInput(`${where} is not an object`);
    const type = o.type ?? 'login';
    if (!isItemType(type)) throw new InvalidInput(`${where}: unknown type ${String(type)}`);
    if (typeof o.title !== 'string') throw new InvalidInput(`${where}: a title is required`);
    const d = newItem(type, o.title, now);
    const fields = (o.fields ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v !== 'string') throw new InvalidInput(`${where}: field ${k} must be a string`);
      setField(d, k, v, now);
    }
    if (typeof o.notes === 'string') d.notes = o.notes;
    if (Array.isArray(o.tags)) d.tags = parseTags(o.tags.filter((t) => typeof t === 'string').join(','));
    if (o.favorite === true) d.favorite = true;
    return d;
  });
}
