// Customer Portal: organisation backup. The verified policy's state, enabling either mode
// (offline key made in this browser, or a Recovery Group), the Recovery Group's members, every
// user's backup points with a member filter, and restore: the backup is downloaded, VERIFIED
// (member certificate against the pinned company key, the member's signature, ids, key version)
// and only then opened with the recovery kit, the recovery words or the Recovery Group key, and
// handed over to the member's new account, imported into my Business profile, or saved as an
// encrypted export file. Crypto: src/org/backup*.ts.
import { useMemo, useState } from 'preact/hooks';
import { advancedAllowed, type EffectivePolicy } from '../../org/policy';
import type { BackupListResponse, CompanyDto, PolicySet } from '../../org/types';
import type { MemberView, OrgSession } from '../../org/session';
import { newOfflineKey } from '../../org/backup';
import { addRecoveryMember, BackupApi, enableRecoveryGroup, exportFile, handOver, importIntoMe, recordRestore, recoveryGroupState, removeRecoveryMember, restoreBackup, type KeySource, type RecoveryGroupState, type Restored, type RestoreTarget } from '../../org/backup-ops';
import { vault } from '../../state';
import { showToast } from '../util';
import { Badge, ConfirmDialog, Dialog, Empty, ErrorText, download, formatDateTime, LoadState, PageHead, useAction, useLoad } from './common';
import { backupLine } from './policyform';
import './backup.css';

const now = () => Math.floor(Date.now() / 1000);

export function size(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** One backup point, flattened for the table. */
interface PointRow {
  userId: string;
  email: string;
  backupId: string;
  createdAt: number;
  keyVersion: number;
  size: number;
}

function fileName(company: CompanyDto, what: string): string {
  return `${what}-${company.name.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
}

/** The verified policy's backup state, the modes, the Recovery Group and every backup point. */
export function BackupPage(props: { s: OrgSession; company: CompanyDto }) {
  const { s, company } = props;
  const eff = useLoad<EffectivePolicy>(() => s.policy(company.id), [company.id]);
  const list = useLoad<BackupListResponse>(() => BackupApi.of(s).list(company.id), [company.id]);
  const current = useLoad<MemberView[]>(() => s.members(company.id), [company.id]);
  const b = eff.data?.policies.org_backup ?? null;
  const [modal, setModal] = useState<null | 'offline' | 'group' | 'disable'>(null);
  const [restoring, setRestoring] = useState<PointRow | null>(null);
  const [filter, setFilter] = useState('');
  const allowed = advancedAllowed(company.plan, company.trial_ends_at, now());
  const rows = useMemo<PointRow[]>(() => {
    const out: PointRow[] = [];
    for (const u of list.data?.users ?? []) for (const p of u.points) out.push({ userId: u.user_id, email: u.email, backupId: p.backup_id, createdAt: p.created_at, keyVersion: p.key_version, size: p.size });
    return out.sort((x, y) => y.createdAt - x.createdAt || x.email.localeCompare(y.email));
  }, [list.data]);
  const emails = useMemo(() => [...new Set(rows.map((r) => r.email))].sort(), [rows]);
  const shown = filter ? rows.filter((r) => r.email === filter) : rows;
  const reloadAll = () => {
    eff.reload();
    list.reload();
  };
  return (
    <section class="page backup-page" aria-labelledby="page-title">
      <PageHead title="Organisation backup" sub="Point-in-time backups of each member's Business profile, sealed to the company's backup key. The server holds ciphertext only; restoring happens in this browser." />
      <LoadState l={eff} what="the policy" />
      {eff.data && (
        <div class="card backup-state-card">
          <dl class="facts" data-testid="backup-state">
            <dt>State</dt>
            <dd>{b ? <Badge kind="ok">On</Badge> : <Badge kind="muted">Off</Badge>}</dd>
            {b && (
              <>
                <dt>Mode</dt>
                <dd>{b.mode === 'offline-key' ? 'Offline key (recovery kit file or recovery words)' : 'Recovery Group'}</dd>
                <dt>Key version</dt>
                <dd>{b.key_version}</dd>
                <dt>Kept for</dt>
                <dd>{b.retention_days} days</dd>
              </>
            )}
            <dt>Policy</dt>
            <dd class="muted small">
              {eff.data.counter ? `#${eff.data.counter}, verified in this browser` : 'none yet'} · {backupLine(b)}
            </dd>
          </dl>
          <div class="row gap8">
            <button type="button" class={b ? '' : 'primary'} onClick={() => setModal('offline')} disabled={!allowed}>
              {b?.mode === 'offline-key' ? 'New offline backup key' : 'Enable with an offline key'}
            </button>
            <button type="button" onClick={() => setModal('group')} disabled={!allowed}>
              {b?.mode === 'recovery-group' ? 'New Recovery Group' : 'Enable with a Recovery Group'}
            </button>
            {b && (
              <button type="button" class="danger" onClick={() => setModal('disable')}>
                Turn off and delete backups
              </button>
            )}
            {!allowed && <span class="hint">Organisation backup needs the Advanced plan.</span>}
          </div>
        </div>
      )}
      {b?.mode === 'recovery-group' && <RecoveryGroupSection s={s} company={company} version={b.key_version} onChanged={reloadAll} />}
      {modal === 'disable' && eff.data && (
        <ConfirmDialog
          title="Turn organisation backup off?"
          body={<p>A new signed policy switches backup off, then every backup of the company is deleted from the server (as <code>castellan backup disable</code>).</p>}
          confirmLabel="Turn off and delete"
          danger
          onClose={() => setModal(null)}
          onConfirm={async () => {
            await s.setPolicy(company.id, { ...eff.data!.policies, org_backup: null });
            const r = await s.api.deleteBackups(company.id);
            showToast(`Organisation backup off; ${r.deleted} backup(s) deleted`);
            reloadAll();
          }}
        />
      )}
      {modal === 'offline' && eff.data && (
        <EnableOfflineDialog
          s={s}
          company={company}
          policies={eff.data.policies}
          onClose={() => setModal(null)}
          onDone={() => {
            setModal(null);
            eff.reload();
          }}
        />
      )}
      {modal === 'group' && eff.data && (
        <ConfirmDialog
          title={b?.mode === 'recovery-group' ? 'Make a new Recovery Group?' : 'Enable backup with a Recovery Group?'}
          body={
            <div class="stack">
              <p>
                A new backup key is made in this browser and sealed <strong>only to you</strong>: a new Recovery Group with you as its only member, published in a new signed policy (key version {(b?.key_version ?? 0) + 1}). Admins who are not in the group cannot read backups.
              </p>
              <p class="muted small">Add other trusted people to the group afterwards, so that backups stay readable when you are away. Backups made before stay readable with their own key.</p>
            </div>
          }
          confirmLabel="Create the Recovery Group"
          onClose={() => setModal(null)}
          onConfirm={async () => {
            const e = await enableRecoveryGroup(s, company);
            showToast(`Organisation backup on: Recovery Group, key version ${e.keyVersion}`);
            reloadAll();
          }}
        />
      )}

      <h2>Backup points</h2>
      <LoadState l={list} what="the backups" />
      {list.data && rows.length === 0 && <Empty title="No backups yet">Members' apps upload a backup after a sync that changed their Business profile, and daily.</Empty>}
      {rows.length > 0 && (
        <>
          <div class="row gap8 backup-filter">
            <label class="inline">
              <span>Member</span>
              <select aria-label="Filter by member" value={filter} onChange={(e) => setFilter(e.currentTarget.value)}>
                <option value="">All members ({emails.length})</option>
                {emails.map((e) => (
                  <option key={e} value={e}>
                    {e}
                  </option>
                ))}
              </select>
            </label>
            <span class="muted small" data-testid="backup-count">
              {shown.length} backup point(s){list.data?.retention_days ? ` · kept ${list.data.retention_days} days` : ''}
            </span>
          </div>
          <div class="table-wrap">
            <table class="table" data-testid="backup-users">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Time</th>
                  <th scope="col">Key version</th>
                  <th scope="col">Size</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((r) => (
                  <tr key={r.backupId} data-testid="backup-row" data-email={r.email} data-backup={r.backupId}>
                    <td>
                      {r.email}{' '}
                      {current.data && !current.data.some((m) => m.userId === r.userId) && (
                        <Badge kind="muted" title="Made by an account that was reset or deleted since; a restore can hand the items to the current account with this email">
                          earlier account
                        </Badge>
                      )}
                    </td>
                    <td>{formatDateTime(r.createdAt)}</td>
                    <td>v{r.keyVersion}</td>
                    <td>{size(r.size)}</td>
                    <td class="actions">
                      <button type="button" aria-label={`Restore the backup of ${r.email} from ${formatDateTime(r.createdAt)}`} onClick={() => setRestoring(r)}>
                        Restore…
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {restoring && <RestoreDialog s={s} company={company} point={restoring} mode={b?.mode ?? 'offline-key'} onClose={() => setRestoring(null)} />}
    </section>
  );
}

// ------------------------------------------------------------ Recovery Group

function RecoveryGroupSection(props: { s: OrgSession; company: CompanyDto; version: number; onChanged: () => void }) {
  const { s, company } = props;
  const st = useLoad<RecoveryGroupState>(() => recoveryGroupState(s, company.id), [company.id, props.version]);
  const members = useLoad<MemberView[]>(() => s.members(company.id), [company.id, props.version]);
  const [pick, setPick] = useState('');
  const [removing, setRemoving] = useState<{ userId: string; email: string } | null>(null);
  const a = useAction();
  const eligible = (members.data ?? []).filter((m) => m.status === 'confirmed' && m.certified && !m.disabled && !st.data?.roster.members.includes(m.userId));
  return (
    <section class="card recovery-group" aria-labelledby="rg-title" data-testid="recovery-group">
      <h2 id="rg-title">Recovery Group</h2>
      <p class="muted small">The backup key is sealed only to these people (no admin copy). Restoring needs one of them; removing someone makes a new key for future backups.</p>
      <LoadState l={st} what="the Recovery Group" />
      {st.data && (
        <>
          <ul class="plain rg-members">
            {st.data.members.map((m) => (
              <li key={m.userId} class="row" data-testid="rg-member" data-email={m.email}>
                <span class="grow">
                  {m.email} {m.userId === s.me && <Badge kind="info">You</Badge>}
                </span>
                <button type="button" class="danger-ghost" aria-label={`Remove ${m.email} from the Recovery Group`} disabled={st.data!.members.length < 2} title={st.data!.members.length < 2 ? 'The last member cannot be removed' : undefined} onClick={() => setRemoving(m)}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          {st.data.iAmMember ? (
            <form
              class="row gap8"
              aria-label="Add to the Recovery Group"
              onSubmit={async (e) => {
                e.preventDefault();
                if (!pick) return;
                if (await a.run(() => addRecoveryMember(s, company.id, pick))) {
                  showToast('Added to the Recovery Group');
                  setPick('');
                  st.reload();
                }
              }}
            >
              <label class="inline grow">
                <span>Add a confirmed member</span>
                <select value={pick} onChange={(e) => setPick(e.currentTarget.value)} disabled={eligible.length === 0}>
                  <option value="">{eligible.length ? 'Choose…' : 'No other confirmed member'}</option>
                  {eligible.map((m) => (
                    <option key={m.userId} value={m.userId}>
                      {m.email}
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit" disabled={!pick || a.busy}>
                Add to the group
              </button>
            </form>
          ) : (
            <p class="hint block" data-testid="rg-not-member">
              You are not in the Recovery Group: only a current member can add people (their browser or CLI seals the key to the newcomer), and only members can restore.
            </p>
          )}
          <ErrorText error={a.error} />
        </>
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.email} from the Recovery Group?`}
          body={<p>A new Recovery Group and backup key (version {props.version + 1}) are made for the remaining members and published in a new signed policy. {removing.email} keeps access to the backups made before, but not to new ones.</p>}
          confirmLabel="Remove and make a new key"
          danger
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            const e = await removeRecoveryMember(s, company.id, removing.userId);
            showToast(`Removed; new backup key version ${e.keyVersion}`);
            props.onChanged();
          }}
        />
      )}
    </section>
  );
}

// ------------------------------------------------------------ enabling with an offline key

/**
 * Offline-key mode: the key pair is made here; the kit file and the words are shown first and
 * the policy is signed only after the admin says they saved one of them (a key nobody holds is
 * never published), as `castellan backup enable` writes the kit before the policy.
 */
function EnableOfflineDialog(props: { s: OrgSession; company: CompanyDto; policies: PolicySet; onClose: () => void; onDone: () => void }) {
  const [k] = useState(() => newOfflineKey(props.company.id, props.policies));
  const [saved, setSaved] = useState(false);
  const a = useAction();
  const file = `castellan-backup-kit-${props.company.name.replace(/[^A-Za-z0-9_-]+/g, '-')}-v${k.policy.key_version}.json`;
  return (
    <Dialog title="Enable organisation backup with an offline key" onClose={props.onClose} wide testid="backup-enable">
      <div class="stack">
        <p>
          A new backup key (version {k.policy.key_version}, fingerprint <code class="mono" data-testid="backup-fingerprint">{k.fingerprint}</code>) was made in this browser. Its private half is shown only now: keep the recovery kit file or the 33 recovery words offline. Whoever holds them can read every backup.
        </p>
        <div class="row gap8">
          <button type="button" class="primary" onClick={() => download(file, 'application/json', k.kit)}>
            Download the recovery kit
          </button>
        </div>
        <details>
          <summary>Show the recovery words</summary>
          <p class="mono small" data-testid="backup-words">{k.words}</p>
        </details>
        <label class="check">
          <input type="checkbox" checked={saved} onChange={(e) => setSaved(e.currentTarget.checked)} /> I saved the recovery kit or the words
        </label>
        <ErrorText error={a.error} />
        <div class="row gap8">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="button"
            class="primary"
            disabled={!saved || a.busy}
            onClick={async () => {
              if (await a.run(() => props.s.setPolicy(props.company.id, { ...props.policies, org_backup: k.policy }))) {
                showToast(`Organisation backup on: key version ${k.policy.key_version}`);
                props.onDone();
              }
            }}
          >
            Sign and publish the backup key
          </button>
        </div>
      </div>
    </Dialog>
  );
}

// ------------------------------------------------------------ restore

type Source = KeySource['kind'];

/** An error sentence for people: the client's messages start in lower case (as the CLI's). */
function sentence(e: string | null): string | null {
  return e && /^[a-z]+ /.test(e) ? e.charAt(0).toUpperCase() + e.slice(1) : e;
}

const TARGET_LABEL: Record<RestoreTarget, string> = { user: 'handed over', me: 'imported into your Business profile', file: 'saved in an encrypted export file' };

function RestoreDialog(props: { s: OrgSession; company: CompanyDto; point: PointRow; mode: 'offline-key' | 'recovery-group'; onClose: () => void }) {
  const { s, company, point } = props;
  const [source, setSource] = useState<Source>(props.mode === 'recovery-group' ? 'group' : 'kit');
  const [kit, setKit] = useState<{ name: string; text: string } | null>(null);
  const [words, setWords] = useState('');
  const [opened, setOpened] = useState<Restored | null>(null);
  const [target, setTarget] = useState<RestoreTarget>('user');
  const [pass, setPass] = useState('');
  const [pass2, setPass2] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const a = useAction();
  const v = vault.value;
  const keyReady = source === 'group' || (source === 'kit' ? kit !== null : words.trim().length > 0);

  const open = async () => {
    const src: KeySource = source === 'kit' ? { kind: 'kit', text: kit!.text, name: kit!.name } : source === 'words' ? { kind: 'words', text: words } : { kind: 'group' };
    const r = await restoreBackup(s, company.id, point.userId, point.backupId, src);
    setWords('');
    setKit(null);
    setOpened(r);
  };

  const restore = async () => {
    const r = opened!;
    const n = r.payload.items.length;
    if (target === 'user') {
      const to = await handOver(s, company.id, r);
      await recordRestore(s, company.id, r, 'user');
      setDone(`${n} item(s) handed over to ${to}'s account. Their app verifies and imports them at its next sync.`);
    } else if (target === 'me') {
      if (!v) throw new Error('the vault is locked; unlock it and try again');
      await importIntoMe(v, r);
      await recordRestore(s, company.id, r, 'me');
      setDone(`${n} item(s) imported into your Business profile, folder "Restored ${r.backup.user_email}".`);
    } else {
      if (pass !== pass2) throw new Error('the two passphrases differ; nothing was written');
      const text = await exportFile(r, pass);
      download(`${fileName(company, 'castellan-backup-export')}-${r.backup.user_email.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${r.backup.created_at}.json`, 'application/json', text);
      await recordRestore(s, company.id, r, 'file');
      setPass('');
      setPass2('');
      setDone(`${n} item(s) saved in an encrypted export file (open it with the passphrase).`);
    }
    showToast(`Backup of ${r.backup.user_email} restored: ${n} item(s) ${TARGET_LABEL[target]}`);
  };

  return (
    <Dialog title={`Restore the backup of ${point.email}`} onClose={props.onClose} wide testid="restore-dialog">
      <p class="muted small">
        Backup of {formatDateTime(point.createdAt)} · key version {point.keyVersion} · {size(point.size)}
      </p>
      {!opened && (
        <form
          class="form"
          aria-label="Backup key"
          onSubmit={async (e) => {
            e.preventDefault();
            await a.run(open);
          }}
        >
          <fieldset class="restore-choice">
            <legend>The backup key</legend>
            <label class="check">
              <input type="radio" name="restore-source" checked={source === 'kit'} onChange={() => setSource('kit')} /> Recovery kit file
            </label>
            <label class="check">
              <input type="radio" name="restore-source" checked={source === 'words'} onChange={() => setSource('words')} /> Recovery words
            </label>
            <label class="check">
              <input type="radio" name="restore-source" checked={source === 'group'} onChange={() => setSource('group')} /> My Recovery Group membership
            </label>
          </fieldset>
          {source === 'kit' && (
            <label>
              <span>Recovery kit file</span>
              <input
                type="file"
                accept=".json,application/json"
                onChange={async (e) => {
                  const f = e.currentTarget.files?.[0];
                  a.setError(null);
                  setKit(f ? { name: f.name, text: await f.text() } : null);
                }}
              />
              <span class="hint">The <code>castellan-backup-kit-….json</code> saved when this key version was made. It is read in this browser only.</span>
            </label>
          )}
          {source === 'words' && (
            <label>
              <span>Recovery words</span>
              <textarea class="mono restore-words" rows={3} value={words} autocomplete="off" spellcheck={false} autocapitalize="off" onInput={(e) => setWords(e.currentTarget.value)} />
              <span class="hint">The 33 words shown when the key was made, separated by spaces.</span>
            </label>
          )}
          {source === 'group' && <p class="hint block">Your browser opens the Recovery Group key sealed to your account. Only members of the group can do this.</p>}
          <p class="hint block">Before anything is opened, this browser checks the member's certificate against the company key it pinned, the member's signature over the backup, the ids and the key version.</p>
          <ErrorText error={sentence(a.error)} />
          <div class="row end">
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={!keyReady || a.busy}>
              {a.busy ? 'Verifying…' : 'Verify and open'}
            </button>
          </div>
        </form>
      )}
      {opened && (
        <div class="stack">
          <div class="restore-verified" data-testid="restore-verified" role="status">
            <p>
              <strong>Verified.</strong> Signed by {opened.cert.email}'s certified key; the certificate is signed by the company key; backup key version {opened.backup.key_version}.
            </p>
            <p>
              {opened.payload.items.length} Business item(s){opened.payload.folders.length ? ` in ${opened.payload.folders.length} folder(s)` : ''}:
            </p>
            <ul class="plain restore-titles" data-testid="restore-titles">
              {opened.payload.items.slice(0, 50).map((i, n) => (
                <li key={n}>{i.title}</li>
              ))}
              {opened.payload.items.length > 50 && <li class="muted">… and {opened.payload.items.length - 50} more</li>}
            </ul>
          </div>
          {!done && (
            <form
              class="form"
              aria-label="Restore to"
              onSubmit={async (e) => {
                e.preventDefault();
                await a.run(restore);
              }}
            >
              <fieldset class="restore-choice">
                <legend>Restore to</legend>
                <label class="check">
                  <input type="radio" name="restore-target" checked={target === 'user'} onChange={() => setTarget('user')} /> {point.email}'s account (handover to their current, confirmed account)
                </label>
                <label class="check">
                  <input type="radio" name="restore-target" checked={target === 'me'} disabled={!v} onChange={() => setTarget('me')} /> My Business profile (folder "Restored {point.email}")
                </label>
                <label class="check">
                  <input type="radio" name="restore-target" checked={target === 'file'} onChange={() => setTarget('file')} /> An encrypted export file
                </label>
              </fieldset>
              {target === 'file' && (
                <div class="row gap8 nowrap">
                  <label class="grow">
                    <span>Export passphrase</span>
                    <input type="password" autocomplete="new-password" value={pass} onInput={(e) => setPass(e.currentTarget.value)} />
                  </label>
                  <label class="grow">
                    <span>Repeat the passphrase</span>
                    <input type="password" autocomplete="new-password" value={pass2} onInput={(e) => setPass2(e.currentTarget.value)} />
                  </label>
                </div>
              )}
              <ErrorText error={sentence(a.error)} />
              <div class="row end">
                <button type="button" onClick={props.onClose}>
                  Cancel
                </button>
                <button type="submit" class="primary" disabled={a.busy || (target === 'file' && pass.length < 8)}>
                  {a.busy ? 'Restoring…' : `Restore ${opened.payload.items.length} item(s)`}
                </button>
              </div>
            </form>
          )}
          {done && (
            <>
              <p class="restore-done" data-testid="restore-done" role="status">
                {done} The restore is recorded in the audit log.
              </p>
              {opened.source === 'group' && <p class="hint block">If you were added to the Recovery Group only for this restore, ask a member to remove you (this makes a new key).</p>}
              <div class="row end">
                <button type="button" class="primary" onClick={props.onClose}>
                  Close
                </button>
              </div>
            </>
          )}
        </div>
      )}
    </Dialog>
  );
}
