import { computed, useSignal } from '@preact/signals';
import { TwoFactorButton, TwoFactorGraceNotice } from './twofactor';
import { SettingsButton, SettingsHost } from './settings';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ItemData } from '../model/item';
import { ITEM_TYPES, typeInfo } from '../model/item';
import type { FolderEntry } from '../client/codec';
import type { VaultKind } from '../client/types';
import type { ListedItem, VaultClient } from '../client/vault';
import { IDLE_LOCK_MS, lock, logout, org, orgState, setupOpen, signInAgain } from '../state';
import { Detail } from './detail';
import { Editor, type EditorTarget } from './editor';
import { Generator } from './generator';
import { errorText, showToast, toast } from './util';
import { parseImport } from '../model/import';
import { IdleTimer } from '../client/idle';
import { now } from '../client/sync';
import { VirtualList } from './vlist';
import { ManageShareDialog, ShareBar, ShareDialog, SharedFoldersSection } from './shares';
import { MemberBackupNotices } from './member-backup';
import { shareCanWrite, shareRing } from '../share/ring';

type View = { kind: 'all' } | { kind: 'favorites' } | { kind: 'trash' } | { kind: 'type'; type: string } | { kind: 'folder'; id: string } | { kind: 'share'; id: string };
type ProfileFilter = 'all' | VaultKind;

const STATUS_LABEL = { synced: 'Synced', pending: 'Sync in progress', offline: 'Not synced: the server cannot be reached' } as const;

/** One lowercase haystack per item: title, username, URLs, tags (as the CLI's search). */
function haystack(i: ListedItem): string {
  const o = i.overview;
  return [o.title, o.username, ...o.urls, ...o.tags].join('\u001f').toLowerCase();
}

function FolderTree(props: { client: VaultClient; profile: VaultKind; folders: FolderEntry[]; parent: string | null; depth: number; view: View; setView: (v: View) => void; counts: Map<string, number> }) {
  const children = props.folders.filter((f) => !f.shareId && f.profile === props.profile && f.data.parent_id === props.parent);
  if (children.length === 0) return null;
  return (
    <ul class="tree" role={props.depth === 0 ? 'tree' : 'group'} aria-label={props.depth === 0 ? `${props.profile} folders` : undefined}>
      {children.map((f) => (
        <li key={f.id} role="treeitem" aria-expanded={true} aria-selected={props.view.kind === 'folder' && props.view.id === f.id}>
          <button type="button" class={`nav-item ${props.view.kind === 'folder' && props.view.id === f.id ? 'active' : ''}`} data-folder={props.client.folderPath(f.id)} onClick={() => props.setView({ kind: 'folder', id: f.id })}>
            <span class="folder-icon" aria-hidden="true">
              ▸
            </span>
            <span class="grow">{f.data.name}</span>
            <span class="count">{props.counts.get(f.id) ?? ''}</span>
          </button>
          <FolderTree {...props} parent={f.id} depth={props.depth + 1} />
        </li>
      ))}
    </ul>
  );
}

/** The way into the portals, labelled by what this account may do there. */
function PortalLink() {
  const s = org.value;
  if (orgState.value !== 'ready') return null;
  let label = 'My account';
  let sub = s?.company ? s.company.name : 'No company';
  if (s?.company && s.isPartner && (s.isAdmin || s.isTechnician)) label = 'Partner Portal';
  else if (s?.company && s.isAdmin) label = 'Admin portal';
  else if (!s?.company && setupOpen.value) {
    label = 'Set up a partner';
    sub = 'Setup token needed';
  }
  return (
    <a class="portal-link" href={!s?.company && setupOpen.value ? '#/setup' : '#/portal'} data-testid="portal-link">
      <span class="portal-icon" aria-hidden="true">
        ▦
      </span>
      <span class="grow">
        <span class="portal-label">{label}</span>
        <span class="portal-sub">{sub}</span>
      </span>
      <span aria-hidden="true">→</span>
    </a>
  );
}

export function VaultScreen(props: { client: VaultClient }) {
  const { client } = props;
  const [view, setView] = useState<View>({ kind: 'all' });
  const [profile, setProfile] = useState<ProfileFilter>('all');
  const query = useSignal('');
  const [selected, setSelected] = useState<string | null>(null);
  const [editing, setEditing] = useState<EditorTarget | null>(null);
  const [showGen, setShowGen] = useState(false);
  const [menuError, setMenuError] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [sharing, setSharing] = useState<string[] | null>(null);
  const [managing, setManaging] = useState<string | null>(null);

  // Keyboard: '/' focuses the search box, Escape in it clears the query.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT');
      if (e.key === '/' && !typing) {
        e.preventDefault();
        document.querySelector<HTMLInputElement>('input.search')?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // Lock after idle.
  useEffect(() => {
    const idle = new IdleTimer(IDLE_LOCK_MS, lock);
    const bump = () => idle.bump();
    const events = ['pointerdown', 'keydown', 'wheel', 'touchstart'];
    for (const e of events) window.addEventListener(e, bump, { passive: true });
    const h = setInterval(() => idle.check(), 5000);
    return () => {
      clearInterval(h);
      for (const e of events) window.removeEventListener(e, bump);
    };
  }, []);

  const items = client.items.value;
  const folders = client.folders.value;
  const index = useMemo(() => items.map((i) => ({ item: i, hay: haystack(i) })), [items]);
  const counts = useMemo(() => {
    const m = new Map<string, number>();
    for (const i of items) if (!i.trashed && i.overview.folder_id) m.set(i.overview.folder_id, (m.get(i.overview.folder_id) ?? 0) + 1);
    for (const i of items) if (!i.trashed && i.shareId) m.set(i.shareId, (m.get(i.shareId) ?? 0) + 1);
    return m;
  }, [items]);

  // A share's top level lists the items outside its subfolders (those are in the tree below it).
  const shareFolderIds = useMemo(() => new Set(folders.filter((f) => f.shareId).map((f) => f.id)), [folders]);
  const inShareFolder = (i: ListedItem) => !!i.overview.folder_id && shareFolderIds.has(i.overview.folder_id);
  const filtered = useMemo(
    () =>
      computed(() => {
        const words = query.value.split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
        const out: ListedItem[] = [];
        for (const { item, hay } of index) {
          if (profile !== 'all' && item.profile !== profile) continue;
          if (view.kind === 'trash' ? !item.trashed : item.trashed) continue;
          if (view.kind === 'favorites' && !item.overview.favorite) continue;
          if (view.kind === 'type' && item.overview.type !== view.type) continue;
          if (view.kind === 'folder' && item.overview.folder_id !== view.id) continue;
          if (view.kind === 'share' && (item.shareId !== view.id || inShareFolder(item))) continue;
          if (words.length && !words.every((w) => hay.includes(w))) continue;
          out.push(item);
        }
        return out;
      }),
    [index, profile, view, shareFolderIds],
  ).value;

  const current = selected ? items.find((i) => i.id === selected) ?? null : null;
  const pending = items.filter((i) => i.status !== 'synced').length;
  const offline = !client.reachable.value;
  const currentFolder = view.kind === 'folder' ? folders.find((f) => f.id === view.id) ?? null : null;
  const currentShare = view.kind === 'share' ? shareRing(client.account).get(view.id) ?? null : currentFolder?.shareId ? shareRing(client.account).get(currentFolder.shareId) ?? null : null;

  const newItem = () => {
    if (currentShare) {
      if (!shareCanWrite(currentShare)) {
        setMenuError(`You are read-only in "${currentShare.name}": only its owners and editors can add items.`);
        return;
      }
      setEditing({ id: null, profile: 'business', data: null, folderId: currentFolder?.shareId ? currentFolder.id : null, shareId: currentShare.id });
      return;
    }
    const p: VaultKind = currentFolder?.profile ?? (profile === 'all' ? 'personal' : profile);
    setEditing({ id: null, profile: p, data: null, folderId: currentFolder?.id ?? null });
  };
  const folderAction = async (f: () => Promise<unknown>) => {
    setMenuError(null);
    try {
      await f();
    } catch (e) {
      setMenuError(errorText(e));
    }
  };
  const onListKey = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const i = filtered.findIndex((x) => x.id === selected);
    const next = e.key === 'ArrowDown' ? Math.min(filtered.length - 1, i + 1) : Math.max(0, i - 1);
    if (filtered[next]) setSelected(filtered[next].id);
  };

  const navButton = (v: View, label: string, count?: number) => {
    const active = JSON.stringify(v) === JSON.stringify(view);
    return (
      <button
        type="button"
        class={`nav-item ${active ? 'active' : ''}`}
        aria-current={active ? 'page' : undefined}
        onClick={() => {
          setView(v);
          setMenuOpen(false);
        }}
      >
        <span class="grow">{label}</span>
        {count !== undefined && <span class="count">{count}</span>}
      </button>
    );
  };

  return (
    <div class={`app ${current || editing ? 'has-detail' : ''}`}>
      <aside class={`sidebar ${menuOpen ? 'open' : ''}`} aria-label="Vault navigation">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>
          <span class="grow">Castellan</span>
          <button type="button" class="menu-btn icon-btn" aria-expanded={menuOpen} aria-label="Menu" onClick={() => setMenuOpen(!menuOpen)}>
            ☰
          </button>
        </div>
        <div class="profile-switch" role="group" aria-label="Profile">
          {(['all', 'personal', 'business'] as ProfileFilter[]).map((p) => (
            <button type="button" key={p} aria-pressed={profile === p} class={profile === p ? 'active' : ''} onClick={() => setProfile(p)}>
              {p === 'all' ? 'All' : p === 'personal' ? 'Personal' : 'Business'}
            </button>
          ))}
        </div>
        <nav>
          {navButton({ kind: 'all' }, 'All items', items.filter((i) => !i.trashed && (profile === 'all' || i.profile === profile)).length)}
          {navButton({ kind: 'favorites' }, 'Favourites')}
          <details class="types">
            <summary>Categories</summary>
            {ITEM_TYPES.map((t) => navButton({ kind: 'type', type: t.type }, t.label))}
          </details>
          {(['personal', 'business'] as VaultKind[])
            .filter((p) => profile === 'all' || profile === p)
            .map((p) => (
              <section class="folders" key={p} aria-label={`${p} folders`}>
                <div class="section-head">
                  <span>{p === 'personal' ? 'Personal folders' : 'Business folders'}</span>
                  <button
                    type="button"
                    class="icon-btn"
                    aria-label={`New ${p} folder`}
                    onClick={() =>
                      folderAction(async () => {
                        const parent = currentFolder && currentFolder.profile === p ? currentFolder.id : null;
                        const name = window.prompt(parent ? `New folder inside ${client.folderPath(parent)}` : 'New folder name');
                        if (name) setView({ kind: 'folder', id: await client.createFolder(p, name, parent) });
                      })
                    }
                  >
                    +
                  </button>
                </div>
                <FolderTree client={client} profile={p} folders={folders} parent={null} depth={0} view={view} setView={setView} counts={counts} />
              </section>
            ))}
          {profile !== 'personal' && (
            <SharedFoldersSection client={client} active={view.kind === 'share' ? view.id : view.kind === 'folder' ? view.id : null} counts={counts} canShare={!!org.value?.company} onOpen={(id) => {
              setView({ kind: 'share', id });
              setMenuOpen(false);
            }} onOpenFolder={(id) => {
              setView({ kind: 'folder', id });
              setMenuOpen(false);
            }} onCreate={() => setSharing(current && current.profile === 'business' && !current.shareId ? [current.id] : [])} />
          )}
          {currentFolder && (!currentFolder.shareId || (currentShare && shareCanWrite(currentShare))) && (
            <div class="row small folder-actions">
              <button type="button" class="ghost" onClick={() => folderAction(async () => {
                const name = window.prompt('Rename folder', currentFolder.data.name);
                if (name) await client.renameFolder(currentFolder.id, name);
              })}>
                Rename folder
              </button>
              <button type="button" class="ghost" onClick={() => folderAction(async () => {
                if (window.confirm(`Delete the folder "${currentFolder.data.name}"? Its items move to the parent folder.`)) {
                  await client.deleteFolder(currentFolder.id);
                  setView({ kind: 'all' });
                }
              })}>
                Delete folder
              </button>
            </div>
          )}
          {menuError && (
            <p class="error small" role="alert">
              {menuError}
            </p>
          )}
          {navButton({ kind: 'trash' }, 'Trash', items.filter((i) => i.trashed).length)}
        </nav>
        <div class="sidebar-foot">
          <PortalLink />
          <div class={`sync-state ${offline ? 'off' : pending ? 'busy' : 'ok'}`} role="status" data-testid="sync-state">
            <span class="dot" aria-hidden="true" />
            {offline ? `Offline · ${pending} change(s) queued` : pending || client.syncing.value ? 'Syncing…' : 'All changes synced'}
          </div>
          <div class="row">
            <button type="button" onClick={() => setShowGen(true)}>
              Generator
            </button>
            <button type="button" onClick={lock}>
              Lock
            </button>
            <label class="file-btn">
              Import
              <input
                type="file"
                accept="application/json,.json"
                aria-label="Import items from a JSON file"
                data-testid="import-file"
                onChange={async (e) => {
                  const input = e.currentTarget;
                  const file = input.files?.[0];
                  input.value = '';
                  if (!file) return;
                  try {
                    const items = parseImport(await file.text(), now());
                    const target: VaultKind = profile === 'business' ? 'business' : 'personal';
                    showToast(`Importing ${items.length} item(s)…`);
                    await client.createItems(target, items);
                    showToast(`${items.length} item(s) imported`);
                  } catch (err) {
                    setMenuError(`Import failed: ${errorText(err)}`);
                  }
                }}
              />
            </label>
            <TwoFactorButton />
            <SettingsButton />
            <button
              type="button"
              class="ghost"
              onClick={async () => {
                try {
                  await logout(false);
                } catch (e) {
                  if (window.confirm(`${errorText(e)}. Sign out anyway and lose them?`)) await logout(true);
                }
              }}
            >
              Sign out
            </button>
          </div>
        </div>
      </aside>

      <section class="list-pane" aria-label="Items">
        <div class="list-head">
          <input type="search" class="search" placeholder="Search the vault  ( / )" aria-label="Search" value={query.value} onInput={(e) => (query.value = e.currentTarget.value)} onKeyDown={(e) => {
            if (e.key === 'Escape') query.value = '';
            if (e.key === 'ArrowDown' && filtered[0]) {
              e.preventDefault();
              setSelected(filtered[0].id);
              document.querySelector<HTMLElement>('.vlist')?.focus();
            }
          }} />
          <button type="button" class="primary" onClick={newItem} aria-label="New item">
            + New
          </button>
        </div>
        <TwoFactorGraceNotice />
        {currentShare && <ShareBar client={client} share={currentShare} folder={currentFolder?.shareId ? currentFolder.id : null} onManage={() => setManaging(currentShare.id)} onDeleted={() => setView({ kind: 'all' })} />}
        <MemberBackupNotices client={client} />
        {client.lastError.value && (
          <p class="error banner" role="alert">
            {client.lastError.value}
          </p>
        )}
        {client.sessionExpired.value && (
          <p class="error banner" role="alert">
            Your session expired; changes stay on this browser until you sign in again.{' '}
            <button type="button" class="link" onClick={signInAgain}>
              Sign in again
            </button>
          </p>
        )}
        {view.kind === 'trash' && filtered.length > 0 && (
          <div class="row trash-bar">
            <button type="button" class="danger-ghost" onClick={() => window.confirm('Delete every item in the trash for good?') && client.emptyTrash().then((n) => showToast(`${n} item(s) deleted`))}>
              Empty trash
            </button>
          </div>
        )}
        {filtered.length === 0 ? (
          <div class="empty" data-testid="empty-list">
            {items.length === 0 ? (
              <>
                <h3>Your vault is empty</h3>
                <p class="muted">Add your first login, server or note. Everything is encrypted in this browser before it is sent.</p>
                <button type="button" class="primary" onClick={newItem}>
                  Add an item
                </button>
              </>
            ) : query.value ? (
              <>
                <h3>No matches</h3>
                <p class="muted">Nothing matches “{query.value}”.</p>
              </>
            ) : view.kind === 'trash' ? (
              <>
                <h3>The trash is empty</h3>
              </>
            ) : (
              <>
                <h3>Nothing here yet</h3>
                <button type="button" class="primary" onClick={newItem}>
                  Add an item
                </button>
              </>
            )}
          </div>
        ) : (
          <VirtualList
            items={filtered}
            rowHeight={56}
            label="Items"
            onKey={onListKey}
            selectedIndex={filtered.findIndex((x) => x.id === selected)}
            render={(i) => (
              <button type="button" role="option" aria-selected={i.id === selected} class={`item-row ${i.id === selected ? 'selected' : ''}`} data-testid="item-row" data-title={i.overview.title} data-status={i.status} onClick={() => {
                setSelected(i.id);
                setEditing(null);
              }}>
                <span class={`type-icon small t-${i.overview.type}`} aria-hidden="true">
                  {typeInfo(i.overview.type).label.slice(0, 1)}
                </span>
                <span class="item-text">
                  <span class="item-title">{i.overview.title}</span>
                  <span class="item-sub">{i.overview.username || typeInfo(i.overview.type).label}</span>
                </span>
                {i.overview.favorite && <span class="fav" aria-label="Favourite">★</span>}
                <span class={`dot status-${i.status}`} role="img" aria-label={STATUS_LABEL[i.status]} title={STATUS_LABEL[i.status]} data-testid="status-dot" />
              </button>
            )}
          />
        )}
        <div class="list-foot muted small" aria-live="polite">
          {filtered.length} item{filtered.length === 1 ? '' : 's'}
        </div>
      </section>

      <section class="detail-pane" aria-label="Details">
        {(current || editing) && (
          <button
            type="button"
            class="back-btn ghost"
            onClick={() => {
              setSelected(null);
              setEditing(null);
            }}
          >
            ← Back to the list
          </button>
        )}
        {editing ? (
          <Editor
            key={editing.id ?? 'new'}
            client={client}
            target={editing}
            onDone={(id) => {
              setEditing(null);
              if (id) setSelected(id);
            }}
          />
        ) : current ? (
          <Detail client={client} item={current} onEdit={(data: ItemData) => setEditing({ id: current.id, profile: current.profile, data, folderId: data.folder_id, shareId: current.shareId ?? null })} onGone={() => setSelected(null)} />
        ) : (
          <div class="empty detail-empty">
            <h3>No item selected</h3>
            <p class="muted">Choose an item from the list, or create a new one.</p>
          </div>
        )}
      </section>
      {showGen && <Generator onClose={() => setShowGen(false)} />}
      {sharing && <ShareDialog client={client} preselect={sharing} onClose={() => setSharing(null)} onCreated={(id) => {
        setSharing(null);
        setView({ kind: 'share', id });
      }} />}
      {managing && shareRing(client.account).get(managing) && <ManageShareDialog client={client} share={shareRing(client.account).get(managing)!} onClose={() => setManaging(null)} />}
      <SettingsHost />
      {toast.value && (
        <div class="toast" role="status">
          {toast.value.text}
        </div>
      )}
    </div>
  );
}
