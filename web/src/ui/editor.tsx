import { useState } from 'preact/hooks';
import { cloneItem, ITEM_TYPES, type ItemData, type ItemType, newItem, parseTags, setField, setTitle, typeInfo } from '../model/item';
import type { VaultClient } from '../client/vault';
import type { VaultKind } from '../client/types';
import { now } from '../client/sync';
import { Generator } from './generator';
import { errorText } from './util';

export interface EditorTarget {
  id: string | null;
  profile: VaultKind;
  data: ItemData | null;
  folderId: string | null;
  /** The shared folder the item is (or is created) in. */
  shareId?: string | null;
}

/** Create or edit an item: every field of its type, notes, tags, folder and profile. */
export function Editor(props: { client: VaultClient; target: EditorTarget; onDone: (id: string | null) => void }) {
  const { client, target } = props;
  const [type, setType] = useState<ItemType>(target.data?.type ?? 'login');
  const [title, setTitleV] = useState(target.data?.title ?? '');
  const [fields, setFields] = useState<Record<string, string>>({ ...(target.data?.fields ?? {}) });
  const [notes, setNotes] = useState(target.data?.notes ?? '');
  const [tags, setTags] = useState((target.data?.tags ?? []).join(', '));
  const [folder, setFolder] = useState<string>(target.data?.folder_id ?? target.folderId ?? '');
  const [profile, setProfile] = useState<VaultKind>(target.profile);
  const [custom, setCustom] = useState(target.data?.custom_fields.map((c) => ({ ...c })) ?? []);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [genFor, setGenFor] = useState<string | null>(null);
  const folders = client.folders.value.filter((f) => (target.shareId ? f.shareId === target.shareId : !f.shareId && f.profile === profile));

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const ts = now();
      const apply = (d: ItemData) => {
        d.type = type;
        setTitle(d, title);
        // The type's own fields as edited (an emptied field is removed). Fields of the previous
        // type after a type change are kept; the detail view lists them under their names.
        for (const spec of typeInfo(type).fields) setField(d, spec.name, (fields[spec.name] ?? '').trim() === '' ? '' : fields[spec.name], ts);
        d.notes = notes;
        d.tags = parseTags(tags);
        d.folder_id = folder || null;
        const names = new Set(custom.map((c) => c.name.trim()).filter(Boolean));
        d.custom_fields = d.custom_fields.filter((c) => names.has(c.name));
        for (const c of custom) if (c.name.trim()) setField(d, c.name, c.value, ts);
        for (const c of d.custom_fields) {
          const mine = custom.find((x) => x.name.trim() === c.name);
          if (mine) c.hidden = mine.hidden;
        }
      };
      if (target.id && target.data) {
        // Validate on a copy first, so a bad value is reported before anything is queued.
        apply(cloneItem(target.data));
        const toProfile = profile !== target.profile ? profile : undefined;
        await client.updateItem(target.id, (d) => apply(d), { toProfile });
        props.onDone(target.id);
      } else {
        const d = newItem(type, title || ' ', ts);
        apply(d);
        const id = target.shareId ? await client.createItemInShare(target.shareId, d) : await client.createItem(profile, d);
        props.onDone(id);
      }
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <form class="editor" onSubmit={save} aria-label={target.id ? 'Edit item' : 'New item'}>
      <header class="detail-head">
        <h2>{target.id ? 'Edit item' : 'New item'}</h2>
      </header>
      <div class="grid2">
        <label>
          Type
          <select name="type" aria-label="Type" value={type} onChange={(e) => setType(e.currentTarget.value as ItemType)}>
            {ITEM_TYPES.map((t) => (
              <option value={t.type} key={t.type}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <label hidden={!!target.shareId}>
          Profile
          <select name="profile" aria-label="Profile" value={profile} onChange={(e) => {
            setProfile(e.currentTarget.value as VaultKind);
            setFolder('');
          }}>
            <option value="personal">Personal</option>
            <option value="business">Business</option>
          </select>
        </label>
      </div>
      <label>
        Title
        <input name="title" required value={title} onInput={(e) => setTitleV(e.currentTarget.value)} autoFocus />
      </label>
      {typeInfo(type).fields.map((spec) =>
        spec.kind === 'multiline' || spec.name === 'private_key' ? (
          <label key={spec.name}>
            {spec.label}
            <textarea name={spec.name} rows={3} value={fields[spec.name] ?? ''} onInput={(e) => setFields({ ...fields, [spec.name]: e.currentTarget.value })} />
          </label>
        ) : (
          <div class="labeled" key={spec.name}>
            <label>
              {spec.label}
              <input
                name={spec.name}
                type={(spec.kind === 'secret' ? 'password' : 'text') as 'text'}
                autoComplete="off"
                spellcheck={false}
                placeholder={spec.kind === 'totp' ? 'Base32 seed or otpauth:// URI' : undefined}
                value={fields[spec.name] ?? ''}
                onInput={(e) => setFields({ ...fields, [spec.name]: e.currentTarget.value })}
              />
            </label>
            {spec.kind === 'secret' && (
              <button type="button" class="icon-btn" aria-label={`Generate ${spec.label}`} onClick={() => setGenFor(spec.name)}>
                Generate
              </button>
            )}
          </div>
        ),
      )}
      <fieldset class="custom">
        <legend>Custom fields</legend>
        {custom.map((c, i) => (
          <div class="input-row" key={i}>
            <input aria-label="Custom field name" placeholder="Name" value={c.name} onInput={(e) => setCustom(custom.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)))} />
            <input aria-label="Custom field value" placeholder="Value" type={(c.hidden ? 'password' : 'text') as 'text'} value={c.value} onInput={(e) => setCustom(custom.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))} />
            <label class="check small">
              <input type="checkbox" checked={c.hidden} onChange={(e) => setCustom(custom.map((x, j) => (j === i ? { ...x, hidden: e.currentTarget.checked } : x)))} /> hidden
            </label>
            <button type="button" class="icon-btn" aria-label="Remove custom field" onClick={() => setCustom(custom.filter((_, j) => j !== i))}>
              ✕
            </button>
          </div>
        ))}
        <button type="button" class="ghost" onClick={() => setCustom([...custom, { name: '', value: '', hidden: false }])}>
          + Add field
        </button>
      </fieldset>
      <div class="grid2">
        <label>
          Folder
          <select name="folder" aria-label="Folder" value={folder} onChange={(e) => setFolder(e.currentTarget.value)}>
            <option value="">(no folder)</option>
            {folders
              .map((f) => ({ id: f.id, path: client.folderPath(f.id) }))
              .sort((a, b) => a.path.localeCompare(b.path))
              .map((f) => (
                <option value={f.id} key={f.id}>
                  {f.path}
                </option>
              ))}
          </select>
        </label>
        <label>
          Tags
          <input name="tags" placeholder="comma, separated" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </label>
      </div>
      <label>
        Notes
        <textarea name="notes" rows={4} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
        <button type="button" class="ghost" onClick={() => props.onDone(target.id)}>
          Cancel
        </button>
      </div>
      {genFor && (
        <Generator
          onClose={() => setGenFor(null)}
          onUse={(pw) => {
            setFields({ ...fields, [genFor]: pw });
            setGenFor(null);
          }}
        />
      )}
    </form>
  );
}
