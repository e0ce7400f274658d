// Folders (crates/castellan-client/src/folder.rs): a name and an optional parent, per profile.
import { InvalidInput } from './item';

export const MAX_FOLDER_NAME_CHARS = 255;
export const MAX_FOLDER_DEPTH = 64;

export interface FolderData {
  name: string;
  parent_id: string | null;
}

export function checkFolderName(name: string): string {
  const n = name.trim();
  if (!n) throw new InvalidInput('a folder name must not be empty');
  if (n.includes('/')) throw new InvalidInput(`a folder name cannot contain '/': "${n}"`);
  // eslint-disable-next-line no-control-regex
  if ([...n].length > MAX_FOLDER_NAME_CHARS || /[\u0000-\u001f\u007f-\u009f]/.test(n)) throw new InvalidInput('the folder name is too long or contains control characters');
  return n;
}

export function parseFolderData(json: unknown): FolderData {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidInput('folder must be an object');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'name' && k !== 'parent_id') throw new InvalidInput(`unknown field ${k} in folder`);
  if (typeof o.name !== 'string') throw new InvalidInput('folder name must be a string');
  const p = o.parent_id;
  if (p !== undefined && p !== null && (typeof p !== 'string' || !/^[0-9a-f-]{36}$/i.test(p))) throw new InvalidInput('bad parent id');
  return { name: o.name, parent_id: typeof p === 'string' ? p.toLowerCase() : null };
}

export function folderJson(d: FolderData): string {
  return JSON.stringify({ name: d.name, parent_id: d.parent_id });
}
