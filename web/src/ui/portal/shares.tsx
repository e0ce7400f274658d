// Customer Portal: the company's shares as its administrators see them (names opened with the
// company key, access lists verified), removing a recipient and transferring ownership with an
// access list signed by the company key. The crypto is in ../../org/shares-admin.ts.
import { useState } from 'preact/hooks';
import type { OrgSession } from '../../org/session';
import { changeShare, companyShares, ROLE_LABEL, shareState, type AdminChange, type AdminRecipient, type AdminShareView, type CompanyShares } from '../../org/shares-admin';
import type { CompanyDto } from '../../org/types';
import { showToast } from '../util';
import { Badge, ConfirmDialog, Dialog, Empty, ErrorText, formatDate, LoadState, PageHead, useAction, useLoad } from './common';
import './shares.css';

const now = () => Math.floor(Date.now() / 1000);

async function load(s: OrgSession, company: CompanyDto): Promise<CompanyShares> {
  const [keys] = await s.companyKeys(company.id, company);
  try {
    return await companyShares(s.api, keys, company.id, s.sharePins);
  } finally {
    keys.wipe();
  }
}

async function apply(s: OrgSession, company: CompanyDto, shareId: string, change: AdminChange): Promise<void> {
  const [keys] = await s.companyKeys(company.id, company);
  try {
    await changeShare(s.api, keys, company.id, shareId, change, now(), s.sharePins);
  } finally {
    keys.wipe();
  }
}

function StateBadge(props: { v: AdminShareView }) {
  const st = shareState(props.v, now());
  if (st === 'refused') return <Badge kind="bad">Refused</Badge>;
  if (st === 'expired') return <Badge kind="muted">Expired</Badge>;
  if (st === 'expiring') return <Badge kind="warn">Expires {formatDate(props.v.expiresAt)}</Badge>;
  return <Badge kind="ok">Active</Badge>;
}

function RecipientChip(props: { r: AdminRecipient }) {
  const { r } = props;
  return (
    <span class={`share-chip ${r.principal.kind}`} data-testid="share-recipient" data-principal={r.name} data-role={r.role}>
      {r.principal.kind === 'group' ? <span class="share-chip-kind">Group</span> : <span class="sr-only">User</span>}
      {r.name}
      <span class="share-chip-role">{ROLE_LABEL[r.role]}</span>
    </span>
  );
}

function ManageDialog(props: { s: OrgSession; company: CompanyDto; v: AdminShareView; onChanged: () => void; onClose: () => void }) {
  const { v } = props;
  const [remove, setRemove] = useState<AdminRecipient | null>(null);
  const users = v.recipients.filter((r) => r.principal.kind === 'user');
  const [heir, setHeir] = useState(users[0]?.principal.id ?? '');
  const [transfer, setTransfer] = useState(false);
  const a = useAction();
  const heirName = users.find((u) => u.principal.id === heir)?.name ?? '';
  return (
    <Dialog title={`Share “${v.name ?? v.id}”`} wide onClose={props.onClose} testid="share-dialog">
      <dl class="facts">
        <dt>Owners</dt>
        <dd>{v.owners.join(', ')}</dd>
        <dt>Items</dt>
        <dd>{v.objectCount}</dd>
        <dt>Expiry</dt>
        <dd>{v.expiresAt === null ? 'Never' : formatDate(v.expiresAt)}</dd>
        <dt>Access list</dt>
        <dd>
          Version {v.aclVersion}, signed by {v.signedBy} · key version {v.keyVersion}
        </dd>
        <dt>Share id</dt>
        <dd class="mono small">{v.id}</dd>
      </dl>
      <h3 class="share-h3">Recipients</h3>
      {v.recipients.length === 0 ? (
        <p class="muted">Only the owners have this share.</p>
      ) : (
        <ul class="share-recipients" aria-label="Recipients">
          {v.recipients.map((r) => (
            <li key={`${r.principal.kind}:${r.principal.id}`} class="row">
              <span class="grow">
                <RecipientChip r={r} />
              </span>
              {r.role === 'editor' ? (
                <span class="muted small">Editors are removed by an owner (their client rotates the share key).</span>
              ) : (
                <button type="button" class="danger-ghost" aria-label={`Remove ${r.name}`} onClick={() => setRemove(r)}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <h3 class="share-h3">Transfer ownership</h3>
      {users.length === 0 ? (
        <p class="muted small">Ownership goes to a user who is already a recipient (they have the items). Ask an owner to add them first.</p>
      ) : (
        <form
          class="row"
          aria-label="Transfer ownership"
          onSubmit={(e) => {
            e.preventDefault();
            if (heir) setTransfer(true);
          }}
        >
          <label class="grow">
            New owner
            <select name="new-owner" value={heir} onChange={(e) => setHeir(e.currentTarget.value)}>
              {users.map((u) => (
                <option key={u.principal.id} value={u.principal.id}>
                  {u.name}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="share-transfer-btn">
            Transfer…
          </button>
        </form>
      )}
      <p class="muted small">Changes are signed with the company key in this browser. You never see the items; a removed recipient loses access at once; the share key itself is rotated when an owner next removes a recipient.</p>
      <ErrorText error={a.error} />
      <div class="row end">
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
      {remove && (
        <ConfirmDialog
          title={`Remove ${remove.name}?`}
          body={
            <p>
              {remove.name} loses access to “{v.name ?? v.id}” at once. They may have copied what they could read; ask an owner to change those passwords.
            </p>
          }
          confirmLabel="Remove recipient"
          danger
          onConfirm={async () => {
            await apply(props.s, props.company, v.id, { kind: 'remove', principal: remove.principal });
            showToast(`${remove.name} removed from the share`);
            props.onChanged();
          }}
          onClose={() => setRemove(null)}
        />
      )}
      {transfer && (
        <ConfirmDialog
          title="Transfer ownership?"
          body={
            <p>
              {heirName} becomes the owner of “{v.name ?? v.id}”; the current owners ({v.owners.join(', ')}) become editors.
            </p>
          }
          confirmLabel="Transfer ownership"
          onConfirm={async () => {
            await apply(props.s, props.company, v.id, { kind: 'transfer', to: heir });
            showToast(`${heirName} now owns the share`);
            props.onChanged();
          }}
          onClose={() => setTransfer(false)}
        />
      )}
    </Dialog>
  );
}

export function SharesPage(props: { s: OrgSession; company: CompanyDto }) {
  const { s, company } = props;
  const data = useLoad(() => load(s, company), [company.id]);
  const [open, setOpen] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const d = data.data;
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = (d?.shares ?? []).filter((v) => {
    if (!words.length) return true;
    const hay = [v.name ?? '', ...v.owners, ...v.recipients.map((r) => r.name)].join(' ').toLowerCase();
    return words.every((w) => hay.includes(w));
  });
  const current = open ? d?.shares.find((v) => v.id === open) ?? null : null;
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Shares" sub={`Every share of ${company.name}: names and who has access, verified in this browser. Items stay private to the people they are shared with.`}>
        <button type="button" onClick={data.reload} disabled={data.loading}>
          Refresh
        </button>
      </PageHead>
      <LoadState l={data} what="the shares" />
      {d && d.directory.rejected.length > 0 && (
        <div class="error-box" role="alert">
          <p>Some directory entries did not verify against the company key and are not used:</p>
          <ul>
            {d.directory.rejected.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </div>
      )}
      {d && d.shares.length === 0 && (
        <Empty title="No shares yet">
          <p class="muted">When members share items or folders with colleagues or groups, the shares appear here with their owners and recipients.</p>
        </Empty>
      )}
      {d && d.shares.length > 0 && (
        <>
          <div class="row share-tools">
            <input type="search" class="share-filter" placeholder="Filter by name, owner or recipient" aria-label="Filter shares" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
            <span class="muted small" aria-live="polite">
              {shown.length} of {d.shares.length} share{d.shares.length === 1 ? '' : 's'}
            </span>
          </div>
          <div class="table-wrap">
            <table class="table" aria-label="Shares">
              <thead>
                <tr>
                  <th scope="col" class="share-name-col">Name</th>
                  <th scope="col">Owners</th>
                  <th scope="col">Recipients</th>
                  <th scope="col">Items</th>
                  <th scope="col">State</th>
                  <th scope="col" class="actions-col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((v) => (
                  <tr key={v.id} data-testid="share-row" data-name={v.name ?? ''} data-id={v.id}>
                    <td>
                      {v.refused ? (
                        <span class="error small" title={v.refused}>
                          Refused for your security: {v.refused}
                        </span>
                      ) : v.name !== null ? (
                        <strong data-testid="share-name">{v.name}</strong>
                      ) : (
                        <span class="muted">Name not readable with the company key</span>
                      )}
                      <div class="small muted">Created {formatDate(v.createdAt)}</div>
                    </td>
                    <td data-testid="share-owners">{v.owners.join(', ')}</td>
                    <td>
                      <div class="share-chips">
                        {v.recipients.length === 0 && !v.refused && <span class="muted small">Owners only</span>}
                        {v.recipients.map((r) => (
                          <RecipientChip key={`${r.principal.kind}:${r.principal.id}`} r={r} />
                        ))}
                      </div>
                    </td>
                    <td data-testid="share-items">{v.refused ? '—' : v.objectCount}</td>
                    <td>
                      <StateBadge v={v} />
                    </td>
                    <td class="actions-col">
                      {!v.refused && (
                        <button type="button" aria-label={`Manage ${v.name ?? v.id}`} onClick={() => setOpen(v.id)}>
                          Manage…
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
                {shown.length === 0 && (
                  <tr>
                    <td colSpan={6} class="muted">
                      No share matches “{filter}”.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
      {current && (
        <ManageDialog
          key={`${current.id}:${current.aclVersion}`}
          s={s}
          company={company}
          v={current}
          onChanged={() => {
            setOpen(null);
            data.reload();
          }}
          onClose={() => setOpen(null)}
        />
      )}
    </section>
  );
}
