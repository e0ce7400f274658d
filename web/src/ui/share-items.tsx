// The items of an existing shared folder (crates/castellan-client/src/share/ops.rs `share_add_items`,
// `share_remove_items`, `share_rm`; CLI `castellan share add-items|remove-items|rm`): owners and
// editors add Business items or a Business folder and move items back to their Business profile;
// owners delete the share, its items coming back to their Business profile first.
import { useState } from 'preact/hooks';
import type { VaultClient } from '../client/vault';
import { addToShare, deleteShare, removeFromShare } from '../share/ops';
import type { UnlockedShare } from '../share/ring';
import { Modal } from './shares';
import { errorText, showToast } from './util';
import './share-items.css';

function useRun(onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      onDone();
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

function ItemChecklist(props: { client: VaultClient; items: { id: string; title: string; sub: string }[]; picked: Set<string>; setPicked: (s: Set<string>) => void; label: string; empty: string }) {
  const [filter, setFilter] = useState('');
  const shown = props.items.filter((i) => !filter || i.title.toLowerCase().includes(filter.toLowerCase()));
  return (
    <>
      {props.items.length > 6 && <input type="search" aria-label="Filter items" placeholder="Filter items" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />}
      <div class="share-items" role="group" aria-label={props.label}>
        {props.items.length === 0 && <p class="muted small">{props.empty}</p>}
        {shown.map((i) => (
          <label class="check" key={i.id}>
            <input
              type="checkbox"
              checked={props.picked.has(i.id)}
              onChange={(e) => {
                const n = new Set(props.picked);
                if (e.currentTarget.checked) n.add(i.id);
                else n.delete(i.id);
                props.setPicked(n);
              }}
            />{' '}
            {i.title}
            {i.sub ? <span class="muted small"> · {i.sub}</span> : null}
          </label>
        ))}
      </div>
    </>
  );
}

/** Moves Business items and/or a Business folder (with its subfolders) into the share. */
export function AddItemsDialog(props: { client: VaultClient; share: UnlockedShare; onClose: () => void }) {
  const { client, share } = props;
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [folder, setFolder] = useState('');
  const { busy, error, setError, run } = useRun(props.onClose);
  const items = client.items.value
    .filter((i) => i.profile === 'business' && !i.shareId && !i.trashed)
    .map((i) => ({ id: i.id, title: i.overview.title, sub: [i.overview.username, i.overview.folder_id ? client.folderPath(i.overview.folder_id) : ''].filter(Boolean).join(' · ') }))
    .sort((a, b) => a.title.localeCompare(b.title));
  const folders = client.folders.value
    .filter((f) => f.profile === 'business' && !f.shareId)
    .map((f) => ({ id: f.id, path: client.folderPath(f.id) }))
    .sort((a, b) => a.path.localeCompare(b.path));
  const submit = (e: Event) => {
    e.preventDefault();
    if (picked.size === 0 && !folder) return setError('Choose at least one Business item or a folder to add.');
    void run(async () => {
      const n = await addToShare(client, share.id, [...picked], folder || null);
      showToast(`${n} item${n === 1 ? '' : 's'} added to "${share.name}"`);
    });
  };
  return (
    <Modal title={`Add items to "${share.name}"`} id="add-items-title" onClose={props.onClose} wide testid="add-items-dialog">
      <form class="share-form" aria-label="Add items to the shared folder" onSubmit={submit}>
        <label>
          Folder (moved in with its subfolders and items)
          <select aria-label="Folder to add" value={folder} onChange={(e) => setFolder(e.currentTarget.value)}>
            <option value="">(no folder)</option>
            {folders.map((f) => (
              <option key={f.id} value={f.id}>
                {f.path}
              </option>
            ))}
          </select>
        </label>
        <ItemChecklist client={client} items={items} picked={picked} setPicked={setPicked} label="Business items to add" empty="No Business items left to add. Personal items cannot be shared; move them to Business first." />
        <p class="muted small">The items move into the shared folder: re-encrypted in this browser under the share key with new ids, and removed from your Business profile. Every recipient sees them after their next sync.</p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add to shared folder'}
          </button>
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Moves items of the share back to my Business profile (its top level). */
export function RemoveItemsDialog(props: { client: VaultClient; share: UnlockedShare; onClose: () => void }) {
  const { client, share } = props;
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const { busy, error, setError, run } = useRun(props.onClose);
  const items = client.items.value
    .filter((i) => i.shareId === share.id)
    .map((i) => ({ id: i.id, title: i.overview.title, sub: [i.trashed ? 'in the trash' : '', i.overview.folder_id ? client.folderPath(i.overview.folder_id) : ''].filter(Boolean).join(' · ') }))
    .sort((a, b) => a.title.localeCompare(b.title));
  const submit = (e: Event) => {
    e.preventDefault();
    if (picked.size === 0) return setError('Choose the items to take out of the shared folder.');
    void run(async () => {
      const n = await removeFromShare(client, share.id, [...picked]);
      showToast(`${n} item${n === 1 ? '' : 's'} moved back to your Business profile`);
    });
  };
  return (
    <Modal title={`Remove items from "${share.name}"`} id="remove-items-title" onClose={props.onClose} wide testid="remove-items-dialog">
      <form class="share-form" aria-label="Remove items from the shared folder" onSubmit={submit}>
        <ItemChecklist client={client} items={items} picked={picked} setPicked={setPicked} label="Items to remove" empty="This shared folder has no items." />
        <p class="muted small">The chosen items move to the top of your Business profile and leave the shared folder for everyone. Recipients could already read them: change passwords that must stay private. The share key is not rotated (as the CLI's "share remove-items").</p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Moving…' : 'Move to my Business profile'}
          </button>
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Deletes the share (owners); its items and subfolders come back under a Business folder of its name. */
export function DeleteShareDialog(props: { client: VaultClient; share: UnlockedShare; onClose: () => void; onDeleted: () => void }) {
  const { client, share } = props;
  const { busy, error, run } = useRun(props.onDeleted);
  const count = client.items.value.filter((i) => i.shareId === share.id).length;
  const folders = client.folders.value.filter((f) => f.shareId === share.id).length;
  return (
    <Modal title={`Delete the shared folder "${share.name}"?`} id="delete-share-title" onClose={props.onClose} testid="delete-share-dialog">
      <p>
        Its {count} item{count === 1 ? '' : 's'}
        {folders ? ` and ${folders} subfolder${folders === 1 ? '' : 's'}` : ''} move back to your Business profile, into the folder <strong>{share.name}</strong>. Then the share is deleted: every recipient loses it at their next sync.
      </p>
      <p class="muted small">Recipients could read these items until now; change passwords that must stay private.</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const n = await deleteShare(client, share.id);
              showToast(`"${share.name}" deleted; ${n} item${n === 1 ? '' : 's'} back in your Business profile`);
            })
          }
        >
          {busy ? 'Deleting…' : 'Delete shared folder'}
        </button>
        <button type="button" class="ghost" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </Modal>
  );
}
