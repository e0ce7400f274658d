// Customer Portal: groups, security policies, subscription and seats, audit log.
import { useEffect, useState } from 'preact/hooks';
import type { GroupView, MemberView, OrgSession } from '../../org/session';
import { advancedAllowed, advancedInUse, type EffectivePolicy } from '../../org/policy';
import type { AuditEventDto, AuditFilter, CompanyDto, Plan, PolicySet } from '../../org/types';
import { showToast } from '../util';
import { Badge, ConfirmDialog, Dialog, Empty, ErrorText, download, formatDate, formatDateTime, LoadState, PageHead, PLAN_LABEL, portalError, useAction, useLoad } from './common';
import { PolicyForm, policySummary } from './policyform';

const now = () => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------ groups

function GroupDialog(props: { s: OrgSession; companyId: string; group: GroupView | null; members: MemberView[]; onDone: () => void; onClose: () => void }) {
  const g = props.group;
  const [name, setName] = useState(g?.name ?? '');
  const [chosen, setChosen] = useState<Set<string>>(new Set(g?.members ?? []));
  const a = useAction();
  const eligible = props.members.filter((m) => m.status === 'confirmed' && m.certified);
  return (
    <Dialog title={g ? `Edit ${g.name}` : 'New group'} onClose={props.onClose}>
      <form
        class="form"
        aria-label={g ? 'Edit group' : 'New group'}
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await a.run(async () => {
            if (!g) await props.s.createGroup(props.companyId, name, [...chosen]);
            else {
              const add = [...chosen].filter((u) => !g.members.includes(u));
              const remove = g.members.filter((u) => !chosen.has(u));
              const rename = name.trim() !== g.name ? name : null;
              if (add.length || remove.length || rename !== null) await props.s.changeGroup(props.companyId, g.id, rename, add, remove);
            }
          });
          if (ok) props.onDone();
        }}
      >
        <label>
          Name
          <input type="text" name="group-name" required autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <fieldset class="member-pick">
          <legend>Members</legend>
          {eligible.length === 0 && <p class="muted small">No confirmed members yet. Members can join groups once they are confirmed.</p>}
          {eligible.map((m) => (
            <label class="check" key={m.userId}>
              <input
                type="checkbox"
                checked={chosen.has(m.userId)}
                onChange={(e) => {
                  const n = new Set(chosen);
                  if (e.currentTarget.checked) n.add(m.userId);
                  else n.delete(m.userId);
                  setChosen(n);
                }}
              />
              {m.email}
            </label>
          ))}
        </fieldset>
        <p class="muted small">The roster is signed with the company key in this browser and the group keys are sealed to each new member.</p>
        <ErrorText error={a.error} />
        <div class="row end">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={a.busy}>
            {g ? 'Save group' : 'Create group'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function GroupsPage(props: { s: OrgSession; company: CompanyDto }) {
  const { s, company } = props;
  const data = useLoad(async () => {
    const [groups, members] = await Promise.all([s.groups(company.id), s.members(company.id)]);
    return { groups, members };
  }, [company.id]);
  const [edit, setEdit] = useState<{ g: GroupView | null } | null>(null);
  const [del, setDel] = useState<GroupView | null>(null);
  const email = (u: string) => data.data?.members.find((m) => m.userId === u)?.email ?? 'former member';
  const groups = data.data?.groups ?? [];
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Groups" sub="Groups carry keys for sharing; their rosters are signed with the company key.">
        <button type="button" class="primary" onClick={() => setEdit({ g: null })}>
          + New group
        </button>
      </PageHead>
      <LoadState l={data} what="groups" />
      {data.data && groups.length === 0 && <Empty title="No groups" />}
      <div class="cards">
        {groups
          .slice()
          .sort((a, b) => (a.isEveryone ? -1 : b.isEveryone ? 1 : a.name.localeCompare(b.name)))
          .map((g) => (
            <article class="card group-card" key={g.id} data-testid="group-card" data-name={g.name} aria-label={`Group ${g.name}`}>
              <header class="row">
                <h3 class="grow">{g.name}</h3>
                {g.isEveryone ? <Badge kind="info">Automatic</Badge> : <span class="muted small">{g.members.length} member(s)</span>}
              </header>
              <p class="muted small">{g.isEveryone ? 'Every confirmed member. Read-only: it follows confirmations and removals.' : g.isRecovery ? `Organisation backup key holders (roster version ${g.version}); managed on the Backup page.` : `Roster version ${g.version}`}</p>
              <ul class="chips">
                {g.members.length === 0 && <li class="muted small">No members</li>}
                {g.members.map((u) => (
                  <li key={u} class="chip">
                    {email(u)}
                  </li>
                ))}
              </ul>
              {!g.isEveryone && !g.isRecovery && (
                <div class="row">
                  <button type="button" onClick={() => setEdit({ g })}>
                    Edit
                  </button>
                  <button type="button" class="danger-ghost" onClick={() => setDel(g)}>
                    Delete
                  </button>
                </div>
              )}
            </article>
          ))}
      </div>
      {edit && data.data && <GroupDialog s={s} companyId={company.id} group={edit.g} members={data.data.members} onClose={() => setEdit(null)} onDone={() => {
        setEdit(null);
        data.reload();
      }} />}
      {del && <ConfirmDialog title={`Delete the group ${del.name}?`} body={<p>Its members lose access to what was shared with the group.</p>} confirmLabel="Delete group" danger onClose={() => setDel(null)} onConfirm={async () => {
        await s.deleteGroup(company.id, del.id);
        data.reload();
      }} />}
    </section>
  );
}

// ------------------------------------------------------------ policies

export function PoliciesPage(props: { s: OrgSession; company: CompanyDto }) {
  const { s, company } = props;
  const eff = useLoad<EffectivePolicy>(() => s.policy(company.id), [company.id]);
  const [draft, setDraft] = useState<PolicySet | null>(null);
  const [formKey, setFormKey] = useState(0);
  const a = useAction();
  useEffect(() => {
    if (eff.data) {
      setDraft(structuredClone(eff.data.policies));
      setFormKey((k) => k + 1);
    }
  }, [eff.data]);
  const allowed = advancedAllowed(company.plan, company.trial_ends_at, now());
  const dirty = !!draft && !!eff.data && JSON.stringify(draft) !== JSON.stringify(eff.data.policies);
  const blocked = draft && !allowed ? advancedInUse(draft) : [];
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Security policies" sub={eff.data ? (eff.data.counter ? `Policy #${eff.data.counter}, signed with the company key and verified in this browser.` : 'No policy yet: everything is off.') : undefined} />
      <LoadState l={eff} what="the policy" />
      {eff.data?.warnings.map((w) => (
        <p class="error-box" role="alert" key={w}>
          {w}
        </p>
      ))}
      {draft && (
        <form
          aria-label="Security policies"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await a.run(() => s.setPolicy(company.id, draft))) {
              showToast('Policy signed and saved');
              eff.reload();
            }
          }}
        >
          <PolicyForm key={formKey} value={draft} onChange={setDraft} advancedAllowed={allowed} />
          {blocked.length > 0 && <p class="error">Switch off the Advanced-only policies first: {blocked.join(', ')}.</p>}
          <ErrorText error={a.error} />
          <div class="sticky-actions row end">
            {dirty && <span class="muted small grow">Unsaved changes</span>}
            <button type="button" disabled={!dirty || a.busy} onClick={() => {
              setDraft(structuredClone(eff.data!.policies));
              setFormKey((k) => k + 1);
            }}>
              Discard
            </button>
            <button type="submit" class="primary" disabled={!dirty || a.busy || blocked.length > 0}>
              {a.busy ? 'Signing…' : 'Sign and save policy'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

// ------------------------------------------------------------ subscription

export function SubscriptionPage(props: { s: OrgSession; company: CompanyDto; reloadCompany: () => void }) {
  const { s, company } = props;
  const canEdit = s.isPartnerAdmin && company.kind === 'customer' && company.partner_id === s.company?.id;
  const [plan, setPlan] = useState<Plan>(company.plan);
  const [seats, setSeats] = useState(String(company.seats ?? ''));
  const [trialEnd, setTrialEnd] = useState(company.trial_ends_at ? new Date(company.trial_ends_at * 1000).toISOString().slice(0, 10) : '');
  const [name, setName] = useState(company.name);
  const [statusAsk, setStatusAsk] = useState(false);
  const sub = useAction();
  const ren = useAction();
  useEffect(() => {
    setPlan(company.plan);
    setSeats(String(company.seats ?? ''));
    setName(company.name);
  }, [company]);
  const used = company.seats_used;
  const pct = company.seats ? Math.min(100, Math.round((used / company.seats) * 100)) : 0;
  const trialOver = company.plan === 'trial' && company.trial_ends_at !== null && company.trial_ends_at <= now();
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Subscription and seats" sub={canEdit ? 'You manage this customer’s subscription as its partner.' : 'Your partner manages the subscription; contact them to change it.'} />
      <div class="stats">
        <div class="stat card">
          <span class="muted small">Plan</span>
          <strong data-testid="plan">{PLAN_LABEL[company.plan]}</strong>
          {company.plan === 'trial' && <span class={`small ${trialOver ? 'error' : 'muted'}`}>{trialOver ? 'Trial ended: Standard features only' : `Trial until ${formatDate(company.trial_ends_at)}`}</span>}
        </div>
        <div class="stat card">
          <span class="muted small">Seats used</span>
          <strong data-testid="seats">
            {used} / {company.seats ?? '∞'}
          </strong>
          {company.seats !== null && (
            <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={company.seats} aria-valuenow={used} aria-label="Seats used">
              <span class="fill" style={{ width: `${pct}%` }} />
            </div>
          )}
        </div>
        <div class="stat card">
          <span class="muted small">Status</span>
          <strong>{company.status === 'active' ? 'Active' : 'Disabled'}</strong>
          <span class="muted small">since {formatDate(company.created_at)}</span>
        </div>
      </div>

      {canEdit && (
        <form
          class="card form-card"
          aria-label="Change subscription"
          onSubmit={async (e) => {
            e.preventDefault();
            const n = Number.parseInt(seats, 10);
            const ok = await sub.run(async () => {
              if (!Number.isInteger(n) || n < 1) throw new Error('seats must be a whole number of at least 1');
              const t = plan === 'trial' && trialEnd ? Math.floor(new Date(`${trialEnd}T23:59:59`).getTime() / 1000) : null;
              await s.api.setSubscription(company.id, { plan, seats: n, trial_ends_at: t });
            });
            if (ok) {
              showToast('Subscription saved');
              props.reloadCompany();
            }
          }}
        >
          <h2>Change subscription</h2>
          <div class="grid3">
            <label>
              Plan
              <select name="plan" value={plan} onChange={(e) => setPlan(e.currentTarget.value as Plan)}>
                <option value="trial">Trial</option>
                <option value="standard">Standard</option>
                <option value="advanced">Advanced</option>
              </select>
            </label>
            <label>
              Seats
              <input type="number" name="seats" min={1} required value={seats} onInput={(e) => setSeats(e.currentTarget.value)} />
            </label>
            {plan === 'trial' && (
              <label>
                Trial ends
                <input type="date" name="trial-ends" value={trialEnd} onInput={(e) => setTrialEnd(e.currentTarget.value)} />
                <span class="hint">Blank: 30 days from now</span>
              </label>
            )}
          </div>
          <ErrorText error={sub.error} />
          <div class="row end">
            <button type="submit" class="primary" disabled={sub.busy}>
              Save subscription
            </button>
          </div>
        </form>
      )}

      <form
        class="card form-card"
        aria-label="Company name"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await ren.run(() => s.api.updateCompany(company.id, { name: name.trim() }))) {
            showToast('Company renamed');
            props.reloadCompany();
          }
        }}
      >
        <h2>Company</h2>
        <div class="row">
          <label class="grow">
            Name
            <input type="text" name="company-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit" class="align-end" disabled={ren.busy || name.trim() === company.name || !name.trim()}>
            Rename
          </button>
        </div>
        <ErrorText error={ren.error} />
        {canEdit && (
          <div class="row">
            <span class="grow muted small">{company.status === 'active' ? 'Disabling the company signs out its members and refuses logins and invitations.' : 'The company is disabled: nobody can sign in.'}</span>
            <button type="button" class={company.status === 'active' ? 'danger-ghost' : ''} onClick={() => setStatusAsk(true)}>
              {company.status === 'active' ? 'Disable company…' : 'Enable company…'}
            </button>
          </div>
        )}
      </form>
      {statusAsk && (
        <ConfirmDialog
          title={`${company.status === 'active' ? 'Disable' : 'Enable'} ${company.name}?`}
          body={<p>{company.status === 'active' ? 'All members are signed out and cannot sign in until the company is enabled again.' : 'Members can sign in again.'}</p>}
          confirmLabel={company.status === 'active' ? 'Disable' : 'Enable'}
          danger={company.status === 'active'}
          onClose={() => setStatusAsk(false)}
          onConfirm={async () => {
            await s.api.updateCompany(company.id, { status: company.status === 'active' ? 'disabled' : 'active' });
            props.reloadCompany();
          }}
        />
      )}
    </section>
  );
}

// ------------------------------------------------------------ audit log

const EVENT_TYPES = ['login', 'member', 'invitation', 'group', 'policy', 'subscription', 'company', 'two_factor', 'item', 'share'];

function dayStart(d: string): number | undefined {
  return d ? Math.floor(new Date(`${d}T00:00:00`).getTime() / 1000) : undefined;
}
function dayEnd(d: string): number | undefined {
  return d ? Math.floor(new Date(`${d}T23:59:59`).getTime() / 1000) : undefined;
}

function details(d: unknown): string {
  if (d === null || d === undefined) return '';
  if (typeof d !== 'object') return String(d);
  const entries = Object.entries(d as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined);
  return entries.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · ');
}

export function AuditPage(props: { s: OrgSession; company: CompanyDto }) {
  const { s, company } = props;
  const [user, setUser] = useState('');
  const [type, setType] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [filter, setFilter] = useState<AuditFilter>({});
  const [events, setEvents] = useState<AuditEventDto[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const exp = useAction();
  const load = async (f: AuditFilter, append: boolean) => {
    setLoading(true);
    setError(null);
    try {
      const page = await s.audit(company.id, { ...f, limit: 100 });
      setEvents((old) => (append ? [...old, ...page.events] : page.events));
      setNext(page.nextBefore);
    } catch (e) {
      setError(portalError(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(filter, false);
  }, [company.id, filter]);
  const apply = (e: Event) => {
    e.preventDefault();
    setFilter({ user: user.trim() || undefined, type: type.trim() || undefined, since: dayStart(since), until: dayEnd(until) });
  };
  const stamp = new Date().toISOString().slice(0, 10);
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Audit log" sub="Append-only: recorded by the server, newest first.">
        <button type="button" disabled={exp.busy} onClick={() => exp.run(async () => download(`castellan-audit-${stamp}.csv`, 'text/csv', await s.auditCsv(company.id, filter)))}>
          Export CSV
        </button>
        <button type="button" disabled={exp.busy} onClick={() => exp.run(async () => download(`castellan-audit-${stamp}.json`, 'application/json', JSON.stringify(await s.auditAll(company.id, filter), null, 2)))}>
          Export JSON
        </button>
      </PageHead>
      <ErrorText error={exp.error} />
      <form class="filters card" aria-label="Audit filters" onSubmit={apply}>
        <label>
          User
          <input type="search" name="audit-user" placeholder="email" value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        </label>
        <label>
          Event type
          <input type="search" name="audit-type" list="audit-types" placeholder="any" value={type} onInput={(e) => setType(e.currentTarget.value)} />
          <datalist id="audit-types">
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          From
          <input type="date" name="audit-since" value={since} onInput={(e) => setSince(e.currentTarget.value)} />
        </label>
        <label>
          To
          <input type="date" name="audit-until" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
        </label>
        <div class="row align-end">
          <button type="submit" class="primary">
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              setUser('');
              setType('');
              setSince('');
              setUntil('');
              setFilter({});
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error && (
        <p class="error-box" role="alert">
          {error}
        </p>
      )}
      {!loading && !error && events.length === 0 && <Empty title="No events match" />}
      {events.length > 0 && (
        <div class="table-wrap">
          <table class="table audit" aria-label="Audit events">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">By</th>
                <th scope="col">User</th>
                <th scope="col">Details</th>
                <th scope="col">IP</th>
              </tr>
            </thead>
            <tbody>
              {events.map((ev) => (
                <tr key={ev.seq} data-testid="audit-row" data-event={ev.event}>
                  <td class="nowrap small">{formatDateTime(ev.at)}</td>
                  <td>
                    <span class="mono small event-name">{ev.event}</span>
                  </td>
                  <td class="small">{ev.actor_email ?? '—'}</td>
                  <td class="small">{ev.target_email ?? '—'}</td>
                  <td class="small muted details-cell">{details(ev.details)}</td>
                  <td class="small muted mono">{ev.ip ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="row">
        {loading && <span class="muted">Loading…</span>}
        {next !== null && !loading && (
          <button type="button" onClick={() => load({ ...filter, before: next }, true)}>
            Load older events
          </button>
        )}
        <span class="muted small">{events.length} event(s) shown</span>
      </div>
    </section>
  );
}

export { policySummary };

// ------------------------------------------------------------ organisation backup

// The Backup page lives in ./backup.tsx.
export { BackupPage } from './backup';
