// Partner Portal: customers at a glance, new customers, subscriptions, policy templates applied
// to many customers, technician assignments.
import { useMemo, useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../org/policy';
import { advancedInUse, defaultPolicySet } from '../../org/policy';
import type { MemberView, OrgSession, TemplateResult } from '../../org/session';
import type { CompanyDto, Plan, PolicySet, PolicyTemplateDto } from '../../org/types';
import { navigate } from '../../state';
import { showToast } from '../util';
import { Badge, ConfirmDialog, Dialog, Empty, ErrorText, LoadState, PageHead, PLAN_LABEL, portalError, useAction, useLoad } from './common';
import { PolicyForm, policySummary } from './policyform';

interface CustomerRow {
  c: CompanyDto;
  policy: EffectivePolicy | null;
  policyError: string | null;
}

async function loadCustomers(s: OrgSession): Promise<CustomerRow[]> {
  const list = await s.customers();
  return Promise.all(
    list.map(async (c) => {
      try {
        return { c, policy: await s.policy(c.id), policyError: null };
      } catch (e) {
        return { c, policy: null, policyError: portalError(e) };
      }
    }),
  );
}

function Yes(props: { on: boolean; label: string; offKind?: 'bad' | 'muted' }) {
  return (
    <Badge kind={props.on ? 'ok' : props.offKind ?? 'bad'} title={`${props.label}: ${props.on ? 'on' : 'off'}`}>
      <span aria-hidden="true">{props.on ? '✓' : '✕'}</span> {props.label}
    </Badge>
  );
}

function Compliance(props: { r: CustomerRow }) {
  const { r } = props;
  if (r.policyError) return <Badge kind="bad" title={r.policyError}>Policy unverifiable</Badge>;
  const p = r.policy?.policies ?? defaultPolicySet();
  return (
    <div class="row gap4" data-testid="compliance">
      <Yes on={p.require_two_factor} label="2FA" />
      <Yes on={p.master_password !== null} label="Password rules" />
      <Yes on={p.org_backup !== null} label="Backup" offKind="muted" />
      <Yes on={p.max_vault_timeout_minutes !== null} label="Auto-lock" offKind="muted" />
    </div>
  );
}

function CreateCustomer(props: { s: OrgSession; templates: PolicyTemplateDto[]; onDone: (id: string) => void; onClose: () => void }) {
  const [name, setName] = useState('');
  const [plan, setPlan] = useState<Plan>('standard');
  const [seats, setSeats] = useState('10');
  const [template, setTemplate] = useState('');
  const [progress, setProgress] = useState<string | null>(null);
  const a = useAction();
  return (
    <Dialog title="New customer" onClose={props.onClose}>
      <form
        class="form"
        aria-label="New customer"
        onSubmit={async (e) => {
          e.preventDefault();
          let id = '';
          const ok = await a.run(async () => {
            setProgress('Making the company keys and sealing them to every partner admin…');
            const c = await props.s.createCustomer(name, plan, Number.parseInt(seats, 10));
            id = c.id;
            const t = props.templates.find((x) => x.id === template);
            if (t) {
              setProgress(`Signing the policy of "${t.name}"…`);
              await props.s.setPolicy(c.id, t.policies);
            }
            showToast(`${c.name} created · key fingerprint ${c.fingerprint}`);
          });
          setProgress(null);
          if (ok) props.onDone(id);
        }}
      >
        <label>
          Company name
          <input type="text" name="customer-name" required autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <div class="grid2">
          <label>
            Plan
            <select name="customer-plan" value={plan} onChange={(e) => setPlan(e.currentTarget.value as Plan)}>
              <option value="trial">Trial (30 days)</option>
              <option value="standard">Standard</option>
              <option value="advanced">Advanced</option>
            </select>
          </label>
          <label>
            Seats
            <input type="number" name="customer-seats" min={1} required value={seats} onInput={(e) => setSeats(e.currentTarget.value)} />
          </label>
        </div>
        {props.templates.length > 0 && (
          <label>
            Policy template
            <select name="customer-template" value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
              <option value="">None (all policies off)</option>
              {props.templates.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <p class="muted small">The company keys are made in this browser and sealed to every partner admin whose certificate verifies against your partner's pinned key. The server never sees them.</p>
        {progress && (
          <p class="muted small" role="status">
            {progress}
          </p>
        )}
        <ErrorText error={a.error} />
        <div class="row end">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={a.busy}>
            {a.busy ? 'Creating…' : 'Create customer'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function CustomersPage(props: { s: OrgSession }) {
  const { s } = props;
  const rows = useLoad(() => loadCustomers(s), []);
  const templates = useLoad(() => (s.isPartnerAdmin ? s.templates() : Promise.resolve([])), []);
  const [creating, setCreating] = useState(false);
  const [q, setQ] = useState('');
  const list = (rows.data ?? []).filter((r) => r.c.name.toLowerCase().includes(q.trim().toLowerCase()));
  const all = rows.data ?? [];
  const seatsUsed = all.reduce((n, r) => n + r.c.seats_used, 0);
  const twoFa = all.filter((r) => r.policy?.policies.require_two_factor).length;
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Customers" sub={s.isTechnician ? 'The customers assigned to you.' : `All customers of ${s.company?.name}.`}>
        {s.isPartnerAdmin && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            + New customer
          </button>
        )}
      </PageHead>
      {all.length > 0 && (
        <div class="stats">
          <div class="stat card">
            <span class="muted small">Customers</span>
            <strong>{all.length}</strong>
          </div>
          <div class="stat card">
            <span class="muted small">Seats used</span>
            <strong>{seatsUsed}</strong>
          </div>
          <div class="stat card">
            <span class="muted small">Require 2FA</span>
            <strong>
              {twoFa} / {all.length}
            </strong>
          </div>
        </div>
      )}
      <LoadState l={rows} what="customers" />
      {rows.data && all.length === 0 && (
        <Empty title={s.isTechnician ? 'No customers assigned to you yet' : 'No customers yet'}>
          <p class="muted">{s.isTechnician ? 'A partner admin assigns customers to technicians.' : 'Create your first customer: its keys are made in this browser.'}</p>
          {s.isPartnerAdmin && (
            <button type="button" class="primary" onClick={() => setCreating(true)}>
              Create a customer
            </button>
          )}
        </Empty>
      )}
      {all.length > 0 && (
        <>
          <div class="row">
            <input type="search" class="search narrow" aria-label="Filter customers" placeholder="Filter by name" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          </div>
          <div class="table-wrap">
            <table class="table" aria-label="Customers">
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Plan</th>
                  <th scope="col">Seats</th>
                  <th scope="col">Policy compliance</th>
                  <th scope="col" class="actions-col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.c.id} data-testid="customer-row" data-name={r.c.name}>
                    <td>
                      <a href={`#/company/${r.c.id}/users`} class="strong-link">
                        {r.c.name}
                      </a>
                      {r.c.status === 'disabled' && (
                        <>
                          {' '}
                          <Badge kind="muted">Disabled</Badge>
                        </>
                      )}
                    </td>
                    <td>
                      <Badge kind={r.c.plan === 'advanced' ? 'info' : r.c.plan === 'trial' ? 'warn' : 'muted'}>{PLAN_LABEL[r.c.plan]}</Badge>
                    </td>
                    <td class="nowrap" data-testid="customer-seats">
                      {r.c.seats_used} / {r.c.seats ?? '∞'}
                    </td>
                    <td>
                      <Compliance r={r} />
                    </td>
                    <td class="actions-col">
                      <div class="row nowrap">
                        <a class="button-link" href={`#/company/${r.c.id}/users`}>
                          Open portal
                        </a>
                        {s.isPartnerAdmin && (
                          <a class="button-link ghost" href={`#/company/${r.c.id}/subscription`} aria-label={`Subscription of ${r.c.name}`}>
                            Subscription
                          </a>
                        )}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.length === 0 && <p class="muted">No customer matches “{q}”.</p>}
        </>
      )}
      {creating && (
        <CreateCustomer
          s={s}
          templates={templates.data ?? []}
          onClose={() => setCreating(false)}
          onDone={(id) => {
            setCreating(false);
            navigate({ page: 'company', id, tab: 'subscription' });
          }}
        />
      )}
    </section>
  );
}

// ------------------------------------------------------------ policy templates

function TemplateEditor(props: { s: OrgSession; t: PolicyTemplateDto | null; onDone: () => void; onClose: () => void }) {
  const [name, setName] = useState(props.t?.name ?? '');
  const [policies, setPolicies] = useState<PolicySet>(structuredClone(props.t?.policies ?? defaultPolicySet()));
  const a = useAction();
  return (
    <Dialog title={props.t ? `Edit ${props.t.name}` : 'New policy template'} onClose={props.onClose} wide>
      <form
        class="form"
        aria-label="Policy template"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await a.run(() => props.s.putTemplate(props.t?.id ?? null, name, policies))) props.onDone();
        }}
      >
        <label>
          Template name
          <input type="text" name="template-name" required autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <div class="scroll-area">
          <PolicyForm value={policies} onChange={setPolicies} advancedAllowed />
        </div>
        <p class="muted small">Templates are stored unsigned; applying one signs a policy document for each customer in this browser. Advanced-only policies are refused for customers on Standard.</p>
        <ErrorText error={a.error} />
        <div class="row end">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={a.busy}>
            Save template
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ApplyTemplate(props: { s: OrgSession; t: PolicyTemplateDto; customers: CompanyDto[]; onClose: () => void }) {
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [results, setResults] = useState<TemplateResult[]>([]);
  const [running, setRunning] = useState(false);
  const adv = advancedInUse(props.t.policies);
  return (
    <Dialog title={`Apply “${props.t.name}”`} onClose={() => !running && props.onClose()} wide testid="apply-dialog">
      <p class="muted">Each chosen customer gets a new policy document, signed with its own company key in this browser. It replaces the customer's current policies.</p>
      <fieldset class="member-pick">
        <legend>Customers</legend>
        <label class="check">
          <input type="checkbox" checked={chosen.size === props.customers.length && props.customers.length > 0} onChange={(e) => setChosen(e.currentTarget.checked ? new Set(props.customers.map((c) => c.id)) : new Set())} />
          <strong>All customers</strong>
        </label>
        {props.customers.map((c) => {
          const r = results.find((x) => x.companyId === c.id);
          return (
            <label class="check" key={c.id}>
              <input
                type="checkbox"
                name={`apply-${c.name}`}
                checked={chosen.has(c.id)}
                disabled={running}
                onChange={(e) => {
                  const n = new Set(chosen);
                  if (e.currentTarget.checked) n.add(c.id);
                  else n.delete(c.id);
                  setChosen(n);
                }}
              />
              <span class="grow">
                {c.name} <span class="muted small">({PLAN_LABEL[c.plan]})</span>
                {adv.length > 0 && c.plan === 'standard' && <span class="hint block">Uses Advanced policies: will be refused on Standard</span>}
              </span>
              {r && <Badge kind={r.ok ? 'ok' : 'bad'} title={r.message}>{r.ok ? r.message : `Failed: ${r.message}`}</Badge>}
            </label>
          );
        })}
      </fieldset>
      <div class="row end">
        <button type="button" onClick={props.onClose} disabled={running}>
          Close
        </button>
        <button
          type="button"
          class="primary"
          disabled={running || chosen.size === 0}
          onClick={async () => {
            setRunning(true);
            setResults([]);
            const targets = props.customers.filter((c) => chosen.has(c.id));
            const out = await props.s.applyTemplate(props.t, targets, (r) => setResults((old) => [...old, r]));
            setRunning(false);
            showToast(`${out.filter((r) => r.ok).length} of ${out.length} customer(s) updated`);
          }}
        >
          {running ? 'Signing…' : `Apply to ${chosen.size} customer(s)`}
        </button>
      </div>
    </Dialog>
  );
}

export function TemplatesPage(props: { s: OrgSession }) {
  const { s } = props;
  const data = useLoad(async () => ({ templates: await s.templates(), customers: await s.customers() }), []);
  const [edit, setEdit] = useState<{ t: PolicyTemplateDto | null } | null>(null);
  const [apply, setApply] = useState<PolicyTemplateDto | null>(null);
  const [del, setDel] = useState<PolicyTemplateDto | null>(null);
  const templates = data.data?.templates ?? [];
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Policy templates" sub="Reusable policy sets for many customers at once.">
        <button type="button" class="primary" onClick={() => setEdit({ t: null })}>
          + New template
        </button>
      </PageHead>
      <LoadState l={data} what="templates" />
      {data.data && templates.length === 0 && (
        <Empty title="No templates yet">
          <p class="muted">A template such as “Baseline: 2FA and 14-character passwords” can then be applied to every customer in one go.</p>
        </Empty>
      )}
      <div class="cards">
        {templates.map((t) => {
          const lines = policySummary(t.policies);
          return (
            <article class="card group-card" key={t.id} data-testid="template-card" data-name={t.name} aria-label={`Template ${t.name}`}>
              <header class="row">
                <h3 class="grow">{t.name}</h3>
                {advancedInUse(t.policies).length > 0 && <Badge kind="info">Advanced</Badge>}
              </header>
              <ul class="summary">
                {lines.length === 0 && <li class="muted">All policies off</li>}
                {lines.map((l) => (
                  <li key={l}>{l}</li>
                ))}
              </ul>
              <div class="row">
                <button type="button" class="primary" onClick={() => setApply(t)}>
                  Apply to customers…
                </button>
                <button type="button" onClick={() => setEdit({ t })}>
                  Edit
                </button>
                <button type="button" class="danger-ghost" onClick={() => setDel(t)}>
                  Delete
                </button>
              </div>
            </article>
          );
        })}
      </div>
      {edit && <TemplateEditor s={s} t={edit.t} onClose={() => setEdit(null)} onDone={() => {
        setEdit(null);
        data.reload();
      }} />}
      {apply && data.data && <ApplyTemplate s={s} t={apply} customers={data.data.customers} onClose={() => setApply(null)} />}
      {del && <ConfirmDialog title={`Delete the template ${del.name}?`} body={<p>Customers keep the policies already applied.</p>} confirmLabel="Delete" danger onClose={() => setDel(null)} onConfirm={async () => {
        await s.deleteTemplate(del.id);
        data.reload();
      }} />}
    </section>
  );
}

// ------------------------------------------------------------ technicians

function TechnicianCard(props: { s: OrgSession; tech: MemberView; customers: CompanyDto[] }) {
  const { s, tech } = props;
  const assigned = useLoad(() => s.technicianCustomers(tech.userId), [tech.userId]);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const set = useMemo(() => new Set(assigned.data ?? []), [assigned.data]);
  return (
    <article class="card group-card" data-testid="technician-card" data-email={tech.email} aria-label={`Technician ${tech.email}`}>
      <header class="row">
        <h3 class="grow">{tech.email}</h3>
        {!tech.certified && <Badge kind="warn">Not confirmed</Badge>}
        <span class="muted small">{set.size} customer(s)</span>
      </header>
      <LoadState l={assigned} what="assignments" />
      {!tech.certified && <p class="muted small">Confirm the technician in the partner team first; customers' keys are sealed only to certified keys.</p>}
      {tech.certified && props.customers.length === 0 && <p class="muted small">No customers yet.</p>}
      {tech.certified && assigned.data && (
        <fieldset class="member-pick">
          <legend class="sr-only">Customers of {tech.email}</legend>
          {props.customers.map((c) => (
            <label class="check" key={c.id}>
              <input
                type="checkbox"
                checked={set.has(c.id)}
                disabled={busy !== null}
                onChange={async (e) => {
                  const on = e.currentTarget.checked;
                  setBusy(c.id);
                  setError(null);
                  try {
                    if (on) await s.assignTechnician(tech.userId, c);
                    else await s.unassignTechnician(tech.userId, c.id);
                    showToast(`${tech.email} ${on ? 'now administers' : 'no longer administers'} ${c.name}`);
                  } catch (err) {
                    setError(portalError(err));
                  }
                  setBusy(null);
                  assigned.reload();
                }}
              />
              {c.name}
              {busy === c.id && <span class="muted small"> saving…</span>}
            </label>
          ))}
        </fieldset>
      )}
      <ErrorText error={error} />
    </article>
  );
}

export function TechniciansPage(props: { s: OrgSession }) {
  const { s } = props;
  const partnerId = s.company!.id;
  const data = useLoad(async () => ({ members: await s.members(partnerId), customers: await s.customers() }), []);
  const techs = (data.data?.members ?? []).filter((m) => m.role === 'technician');
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Technicians" sub="Technicians administer only the customers assigned to them; assigning seals that customer's keys to them.">
        <a class="button-link" href={`#/company/${partnerId}/users`}>
          Invite a technician
        </a>
      </PageHead>
      <LoadState l={data} what="technicians" />
      {data.data && techs.length === 0 && (
        <Empty title="No technicians yet">
          <p class="muted">Invite staff with the Technician role in your partner team, confirm them, then assign customers here.</p>
        </Empty>
      )}
      <div class="cards">
        {techs.map((t) => (
          <TechnicianCard key={t.userId} s={s} tech={t} customers={data.data!.customers} />
        ))}
      </div>
    </section>
  );
}
