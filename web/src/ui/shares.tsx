// Shares in the vault: the "Shared folders" section of the sidebar (accepted shares as folders
// named after the share, with the role badge), invitations with Accept / Decline, warnings for
// shares that failed verification, the share dialog (create) and the manage dialog (recipients,
// roles, expiry; removal rotates the share key).
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { VaultClient } from '../client/vault';
import { roleLabel, ROLES } from '../share/acl';
import type { Directory } from '../share/directory';
import { acceptShare, addRecipient, createShare, declineShare, myDirectory, type RecipientChoice, recipients, type RecipientView, removeRecipient, setExpiry, setRole } from '../share/ops';
import { shareRing, shareStatus, type UnlockedShare } from '../share/ring';
import type { Principal, ShareRole } from '../share/types';
import { errorText, formatTime, showToast } from './util';
import { AddItemsDialog, DeleteShareDialog, RemoveItemsDialog } from './share-items';
import './shares.css';

export const SHARE_RENAME_REFUSED = 'A shared folder is named by its owner: it cannot be renamed here. Ask an owner of the share to change it.';

/** The verified shares, sorted by name (re-read on every vault revision). */
export function useShares(client: VaultClient): UnlockedShare[] {
  void client.revision.value;
  void shareStatus(client.account).value;
  return [...shareRing(client.account).values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function RoleBadge(props: { role: ShareRole }) {
  const cls = props.role === 'owner' ? 'owner' : props.role === 'editor' ? 'editor' : 'reader';
  const title =
    props.role === 'read_only_hidden'
      ? 'Read-only with the password hidden. This browser neither shows nor copies passwords or hidden fields of these items — a client-side restriction: the share key on this device could decrypt them.'
      : props.role === 'read_only'
        ? 'Read-only: you can see and copy, but not change these items.'
        : props.role === 'editor'
          ? 'Editor: your changes reach every recipient.'
          : 'Owner: you manage recipients, roles and expiry.';
  return (
    <span class={`share-badge share-${cls}`} title={title} data-testid="role-badge">
      {props.role === 'read_only_hidden' ? 'Hidden' : props.role === 'read_only' ? 'Read-only' : roleLabel(props.role)}
    </span>
  );
}

/** The subfolders of a share, as a tree under the share (share folders cannot be renamed away from the share). */
function ShareFolderTree(props: { client: VaultClient; share: UnlockedShare; parent: string | null; active: string | null; onOpen: (id: string) => void; counts: Map<string, number>; depth: number }) {
  const all = props.client.folders.value.filter((f) => f.shareId === props.share.id);
  const ids = new Set(all.map((f) => f.id));
  // A folder whose parent is not in the share (never expected) is shown at the share's top level.
  const children = all.filter((f) => (props.parent === null ? !f.data.parent_id || !ids.has(f.data.parent_id) : f.data.parent_id === props.parent)).sort((a, b) => a.data.name.localeCompare(b.data.name));
  if (children.length === 0 || props.depth > 32) return null;
  return (
    <ul class="tree share-subtree" role="group">
      {children.map((f) => (
        <li key={f.id} role="treeitem" aria-selected={props.active === f.id}>
          <button type="button" class={`nav-item ${props.active === f.id ? 'active' : ''}`} data-share-folder={`${props.share.name}/${props.client.folderPath(f.id)}`} onClick={() => props.onOpen(f.id)}>
            <span class="folder-icon" aria-hidden="true">
              ▸
            </span>
            <span class="grow">{f.data.name}</span>
            <span class="count">{props.counts.get(f.id) ?? ''}</span>
          </button>
          <ShareFolderTree {...props} parent={f.id} depth={props.depth + 1} />
        </li>
      ))}
    </ul>
  );
}

export function SharedFoldersSection(props: { client: VaultClient; active: string | null; onOpen: (id: string) => void; onOpenFolder: (id: string) => void; onCreate: () => void; counts: Map<string, number>; canShare: boolean }) {
  const { client } = props;
  const shares = useShares(client);
  const status = shareStatus(client.account).value;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const act = async (id: string, f: () => Promise<void>) => {
    setBusy(id);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section class="folders shared-folders" aria-label="Shared folders" data-testid="shared-folders">
      <div class="section-head">
        <span>Shared folders</span>
        {props.canShare && (
          <button type="button" class="icon-btn" aria-label="Share items" title="Share items with people of your company" onClick={props.onCreate}>
            +
          </button>
        )}
      </div>
      {status.invitations.length > 0 && (
        <ul class="share-invites" aria-label="Invitations to shared folders">
          {status.invitations.map((inv) => (
            <li key={inv.id} class="share-invite" data-testid="share-invite" data-name={inv.name ?? ''}>
              <div class="share-invite-text">
                <strong>{inv.name ?? 'Shared folder'}</strong>
                <span class="small">
                  {inv.owners.length ? `from ${inv.owners.join(', ')}` : inv.problem ? 'could not be verified' : ''}
                  {inv.role ? ` · ${roleLabel(inv.role)}` : ''}
                </span>
                {inv.problem && <span class="small share-warn">{inv.problem}</span>}
              </div>
              <div class="row">
                {!inv.problem && (
                  <button type="button" class="share-accept" disabled={busy === inv.id} onClick={() => act(inv.id, () => acceptShare(client, inv.id).then(() => showToast(`"${inv.name}" added to Shared folders`)))}>
                    Accept
                  </button>
                )}
                <button type="button" class="ghost share-decline" disabled={busy === inv.id} onClick={() => act(inv.id, () => declineShare(client, inv.id))}>
                  Decline
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {shares.length === 0 && status.invitations.length === 0 && <p class="share-empty small">Nothing shared with you yet.</p>}
      <ul class="tree" role="tree" aria-label="Shared folders">
        {shares.map((s) => (
          <li key={s.id} role="treeitem" aria-selected={props.active === s.id}>
            <button
              type="button"
              class={`nav-item share-item ${props.active === s.id ? 'active' : ''}`}
              data-share={s.name}
              onClick={() => props.onOpen(s.id)}
              onDblClick={() => setNote(SHARE_RENAME_REFUSED)}
              onKeyDown={(e) => {
                if (e.key === 'F2') {
                  e.preventDefault();
                  setNote(SHARE_RENAME_REFUSED);
                }
              }}
            >
              <span class="folder-icon" aria-hidden="true">
                ⇄
              </span>
              <span class="grow">{s.name}</span>
              <RoleBadge role={s.role} />
              <span class="count">{props.counts.get(s.id) ?? ''}</span>
            </button>
            <ShareFolderTree client={client} share={s} parent={null} active={props.active} onOpen={props.onOpenFolder} counts={props.counts} depth={0} />
          </li>
        ))}
      </ul>
      {note && (
        <p class="share-note small" role="status" data-testid="share-note">
          {note}{' '}
          <button type="button" class="link" onClick={() => setNote(null)}>
            OK
          </button>
        </p>
      )}
      {status.warnings.map((w) => (
        <p class="error small" role="alert" key={w} data-testid="share-warning">
          {w}
        </p>
      ))}
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** The bar above the items of a shared folder: name, role, who owns it, manage, items, delete. */
export function ShareBar(props: { client: VaultClient; share: UnlockedShare; folder: string | null; onManage: () => void; onDeleted: () => void }) {
  const { share, client } = props;
  const [dialog, setDialog] = useState<'add' | 'remove' | 'delete' | null>(null);
  const writer = share.role === 'owner' || share.role === 'editor';
  return (
    <div class="share-bar" data-testid="share-bar">
      <span class="folder-icon" aria-hidden="true">
        ⇄
      </span>
      <div class="grow">
        <div class="share-bar-title">
          <span data-testid="share-title">{share.name}</span>
          {props.folder && <span class="muted"> / {client.folderPath(props.folder)}</span>} <RoleBadge role={share.role} />
        </div>
        <div class="small muted">
          {share.role === 'owner'
            ? 'You own this shared folder.'
            : share.role === 'editor'
              ? 'Your changes are encrypted under the share key and reach every recipient.'
              : share.role === 'read_only'
                ? 'Read-only: items cannot be changed here.'
                : 'Read-only, passwords hidden (a client-side restriction).'}
          {share.acl.expires_at ? ` Expires ${formatTime(share.acl.expires_at)}.` : ''}
        </div>
      </div>
      <div class="share-bar-actions">
        {writer && (
          <button type="button" onClick={() => setDialog('add')}>
            Add items…
          </button>
        )}
        {writer && (
          <button type="button" onClick={() => setDialog('remove')}>
            Remove items…
          </button>
        )}
        <button type="button" onClick={props.onManage}>
          {share.role === 'owner' ? 'Manage sharing' : 'People'}
        </button>
        {share.role === 'owner' && (
          <button type="button" class="danger-ghost" onClick={() => setDialog('delete')}>
            Delete share…
          </button>
        )}
      </div>
      {dialog === 'add' && <AddItemsDialog client={client} share={share} onClose={() => setDialog(null)} />}
      {dialog === 'remove' && <RemoveItemsDialog client={client} share={share} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && <DeleteShareDialog client={client} share={share} onClose={() => setDialog(null)} onDeleted={props.onDeleted} />}
    </div>
  );
}

const ROLE_OPTIONS = ROLES.map((r) => ({ value: r, label: roleLabel(r) }));

function RoleSelect(props: { value: ShareRole; onChange: (r: ShareRole) => void; label: string; group?: boolean; disabled?: boolean }) {
  return (
    <select aria-label={props.label} value={props.value} disabled={props.disabled} onChange={(e) => props.onChange(e.currentTarget.value as ShareRole)}>
      {ROLE_OPTIONS.filter((o) => !(props.group && o.value === 'owner')).map((o) => (
        <option value={o.value} key={o.value}>
          {o.label}
        </option>
      ))}
    </select>
  );
}

/** Picks a user (by email) or a group (by name) from the verified directory only. */
function RecipientPicker(props: { dir: Directory; me: string; exclude: Principal[]; onAdd: (p: Principal, role: ShareRole) => void; busy?: boolean }) {
  const [who, setWho] = useState('');
  const [role, setRoleV] = useState<ShareRole>('read_only');
  const [error, setError] = useState<string | null>(null);
  const taken = (p: Principal) => props.exclude.some((x) => x.kind === p.kind && x.id === p.id);
  const options = useMemo(() => {
    const out: { key: string; label: string; p: Principal }[] = [];
    for (const m of props.dir.members.values()) if (m.userId !== props.me) out.push({ key: `u:${m.userId}`, label: m.email, p: { kind: 'user', id: m.userId } });
    for (const g of props.dir.groups.values()) out.push({ key: `g:${g.id}`, label: `group ${g.name}`, p: { kind: 'group', id: g.id } });
    return out.filter((o) => !taken(o.p)).sort((a, b) => a.label.localeCompare(b.label));
  }, [props.dir, props.exclude]);
  const add = () => {
    setError(null);
    const v = who.trim().toLowerCase();
    const found = options.find((o) => o.label.toLowerCase() === v || o.label.toLowerCase() === `group ${v}`);
    if (!found) {
      setError(v ? `"${who}" is not a confirmed member or group of your company with a verified certificate or roster.` : 'Choose a person or a group.');
      return;
    }
    if (found.p.kind === 'group' && role === 'owner') {
      setError('Only users can own a share.');
      return;
    }
    props.onAdd(found.p, role);
    setWho('');
  };
  return (
    <div class="recipient-picker">
      <div class="input-row">
        <input
          list="share-directory"
          aria-label="Person or group"
          placeholder="email@company or group name"
          value={who}
          onInput={(e) => setWho(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <datalist id="share-directory">
          {options.map((o) => (
            <option value={o.label} key={o.key} />
          ))}
        </datalist>
        <RoleSelect label="Role of the new recipient" value={role} onChange={setRoleV} />
        <button type="button" onClick={add} disabled={props.busy}>
          Add
        </button>
      </div>
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function dateInput(at: number | null): string {
  if (!at) return '';
  const d = new Date(at * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function parseDate(v: string): number | null {
  if (!v) return null;
  const t = new Date(`${v}T23:59:59`).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}

export function Modal(props: { title: string; id: string; onClose: () => void; children: preact.ComponentChildren; wide?: boolean; testid?: string }) {
  return (
    <div class="modal-backdrop" role="presentation" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class={`modal card ${props.wide ? 'share-modal' : ''}`} role="dialog" aria-modal="true" aria-labelledby={props.id} data-testid={props.testid} onKeyDown={(e) => e.key === 'Escape' && props.onClose()}>
        <h2 id={props.id}>{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}

/** Create a share from Business items and/or a Business folder. */
export function ShareDialog(props: { client: VaultClient; preselect: string[]; onClose: () => void; onCreated: (id: string) => void }) {
  const { client } = props;
  const [dir, setDir] = useState<Directory | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set(props.preselect));
  const [folder, setFolder] = useState('');
  const [filter, setFilter] = useState('');
  const [list, setList] = useState<RecipientChoice[]>([]);
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    myDirectory(client).then(setDir, (e) => setLoadError(errorText(e)));
  }, []);
  const items = client.items.value.filter((i) => i.profile === 'business' && !i.shareId && !i.trashed);
  const shown = items.filter((i) => !filter || i.overview.title.toLowerCase().includes(filter.toLowerCase()));
  const folders = client.folders.value.filter((f) => f.profile === 'business' && !f.shareId);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Give the shared folder a name.');
    if (picked.size === 0 && !folder) return setError('Choose at least one item or a folder to share.');
    if (list.length === 0) return setError('Add at least one person or group.');
    setBusy(true);
    try {
      const id = await createShare(client, { name, items: [...picked], folder: folder || null, recipients: list, expiresAt: parseDate(expires) });
      showToast(`"${name.trim()}" shared`);
      props.onCreated(id);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="Share items" id="share-dialog-title" onClose={props.onClose} wide testid="share-dialog">
      {loadError ? (
        <p class="error" role="alert">
          {loadError}
        </p>
      ) : !dir ? (
        <p class="muted" aria-busy="true">
          Verifying your company's directory…
        </p>
      ) : (
        <form class="share-form" aria-label="Share items" onSubmit={submit}>
          <label>
            Name of the shared folder
            <input name="share-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus placeholder="e.g. Network team" />
          </label>
          <fieldset>
            <legend>What to share (Business profile)</legend>
            <label>
              Folder
              <select aria-label="Folder to share" value={folder} onChange={(e) => setFolder(e.currentTarget.value)}>
                <option value="">(no folder)</option>
                {folders
                  .map((f) => ({ id: f.id, path: client.folderPath(f.id) }))
                  .sort((a, b) => a.path.localeCompare(b.path))
                  .map((f) => (
                    <option key={f.id} value={f.id}>
                      {f.path}
                    </option>
                  ))}
              </select>
            </label>
            <input type="search" aria-label="Filter items" placeholder="Filter items" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
            <div class="share-items" role="group" aria-label="Items to share">
              {items.length === 0 && <p class="muted small">No Business items to share. Items of the Personal profile cannot be shared.</p>}
              {shown.map((i) => (
                <label class="check" key={i.id}>
                  <input
                    type="checkbox"
                    checked={picked.has(i.id)}
                    onChange={(e) => {
                      const n = new Set(picked);
                      if (e.currentTarget.checked) n.add(i.id);
                      else n.delete(i.id);
                      setPicked(n);
                    }}
                  />{' '}
                  {i.overview.title}
                  {i.overview.username ? <span class="muted small"> · {i.overview.username}</span> : null}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset>
            <legend>People and groups</legend>
            <p class="muted small">Only confirmed members and groups whose certificates and rosters verify against your company's pinned key can be chosen.</p>
            <ul class="share-recipients">
              {list.map((r, i) => (
                <li key={`${r.principal.kind}:${r.principal.id}`} data-testid="recipient-row">
                  <span class="grow">{dir.principalName(r.principal.kind, r.principal.id)}</span>
                  <RoleSelect label={`Role of ${dir.principalName(r.principal.kind, r.principal.id)}`} value={r.role} group={r.principal.kind === 'group'} onChange={(role) => setList(list.map((x, j) => (j === i ? { ...x, role } : x)))} />
                  <button type="button" class="icon-btn" aria-label={`Remove ${dir.principalName(r.principal.kind, r.principal.id)}`} onClick={() => setList(list.filter((_, j) => j !== i))}>
                    ✕
                  </button>
                </li>
              ))}
            </ul>
            <RecipientPicker dir={dir} me={client.account.userId} exclude={list.map((r) => r.principal)} onAdd={(p, role) => setList([...list, { principal: p, role }])} />
          </fieldset>
          <label>
            Expires (optional)
            <input type="date" aria-label="Expiry date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
          </label>
          <p class="muted small">The items move into the shared folder: they are re-encrypted under a new share key in this browser. "Read-only, password hidden" is enforced by the recipients' apps, not by cryptography.</p>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="row">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Sharing…' : 'Share'}
            </button>
            <button type="button" class="ghost" onClick={props.onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

/** Recipients, roles and expiry of a share; owners change them (removal rotates the share key). */
export function ManageShareDialog(props: { client: VaultClient; share: UnlockedShare; onClose: () => void }) {
  const { client } = props;
  const share = shareRing(client.account).get(props.share.id) ?? props.share;
  const owner = share.role === 'owner';
  const [data, setData] = useState<{ dir: Directory; list: RecipientView[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [exposed, setExposed] = useState<string[] | null>(null);
  const [expires, setExpires] = useState(dateInput(share.acl.expires_at));
  const reload = () => recipients(client, share.id).then(setData, (e) => setError(errorText(e)));
  useEffect(() => {
    void reload();
  }, [share.acl.version]);
  const act = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      await reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Sharing of "${share.name}"`} id="manage-share-title" onClose={props.onClose} wide testid="manage-share-dialog">
      {!data ? (
        <p class="muted" aria-busy="true">
          {error ?? 'Verifying recipients…'}
        </p>
      ) : (
        <>
          <ul class="share-recipients" aria-label="Recipients">
            {data.list.map((r) => (
              <li key={`${r.principal.kind}:${r.principal.id}`} data-testid="recipient-row" data-name={r.name}>
                <span class="grow">
                  {r.name}
                  {r.me ? <span class="muted small"> (you)</span> : null}
                </span>
                {owner && !r.me ? (
                  <>
                    <RoleSelect label={`Role of ${r.name}`} value={r.role} group={r.principal.kind === 'group'} disabled={busy} onChange={(role) => act(() => setRole(client, share.id, r.principal, role))} />
                    <button
                      type="button"
                      class="danger-ghost"
                      disabled={busy}
                      onClick={() => {
                        if (!window.confirm(`Remove ${r.name}? The share key is rotated so they cannot read what is written later.`)) return;
                        void act(async () => setExposed(await removeRecipient(client, share.id, r.principal)));
                      }}
                    >
                      Remove
                    </button>
                  </>
                ) : (
                  <RoleBadge role={r.role} />
                )}
              </li>
            ))}
          </ul>
          {exposed && (
            <div class="share-exposed" role="status">
              <strong>Key rotated.</strong> The removed recipient could read {exposed.length} item(s){exposed.length ? `: ${exposed.join(', ')}` : ''}. Change those passwords.
            </div>
          )}
          {owner ? (
            <>
              <RecipientPicker dir={data.dir} me={client.account.userId} busy={busy} exclude={data.list.map((r) => r.principal)} onAdd={(p, role) => void act(() => addRecipient(client, share.id, p, role))} />
              <div class="input-row">
                <label class="grow">
                  Expires
                  <input type="date" aria-label="Expiry date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
                </label>
                <button type="button" disabled={busy} onClick={() => act(() => setExpiry(client, share.id, parseDate(expires)))}>
                  Save expiry
                </button>
                {share.acl.expires_at && (
                  <button type="button" class="ghost" disabled={busy} onClick={() => act(async () => {
                    setExpires('');
                    await setExpiry(client, share.id, null);
                  })}>
                    Clear expiry
                  </button>
                )}
              </div>
            </>
          ) : (
            <p class="muted small">Only the owners of a shared folder change who can see it.</p>
          )}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
        </>
      )}
      <div class="row">
        <button type="button" class="ghost" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}

/** A password or hidden field of a "read-only, password hidden" share: neither shown nor copyable. */
export function HiddenSecret(props: { label: string }) {
  return (
    <div class="field">
      <div class="field-label">{props.label}</div>
      <div class="field-value">
        <span class="hidden-secret" data-field={props.label} data-testid="hidden-secret" title="Hidden by the share's owner. This browser neither shows nor copies it; this is a client-side restriction — the share key on this device could decrypt it.">
          Hidden by the share owner
        </span>
      </div>
    </div>
  );
}
