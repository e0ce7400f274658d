// The Customer and Partner Portals: one screen with its own navigation, inside the unlocked app
// (the company keys are opened with the account's keys in this browser).
import { useEffect, useState } from 'preact/hooks';
import { EnrolTwoFactor } from '../twofactor';
import { fingerprintDisplay, memberFingerprint, companyFingerprint, publicFromDto } from '../../org/keys';
import { x25519PublicKey } from '../../crypto/hpke';
import type { OrgSession } from '../../org/session';
import { setupPartner } from '../../org/session';
import { OrgApi } from '../../org/api';
import type { CompanyDto } from '../../org/types';
import { devicePins, IDLE_LOCK_MS, loadOrg, lock, navigate, org, orgError, orgState, route, setupOpen, vault, type Route } from '../../state';
import { IdleTimer } from '../../client/idle';
import { toast } from '../util';
import { Badge, Dialog, ErrorText, LoadState, PageHead, PLAN_LABEL, ROLE_LABEL, useAction, useLoad } from './common';
import { AuditPage, BackupPage, GroupsPage, PoliciesPage, SubscriptionPage } from './company';
import { CustomersPage, TechniciansPage, TemplatesPage } from './partner';
import { policySummary } from './policyform';
import { UsersPage } from './users';
import { SharesPage } from './shares';

export function useIdleLock(): void {
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
}

const COMPANY_TABS = [
  ['users', 'Users'],
  ['groups', 'Groups'],
  ['policies', 'Security policies'],
  ['subscription', 'Subscription'],
  ['backup', 'Backup'],
  ['shares', 'Shares'],
  ['audit', 'Audit log'],
] as const;

function NavLink(props: { to: Route; label: string; active: boolean; testid?: string }) {
  return (
    <a class={`nav-item ${props.active ? 'active' : ''}`} href={routeHref(props.to)} aria-current={props.active ? 'page' : undefined} data-testid={props.testid}>
      <span class="grow">{props.label}</span>
    </a>
  );
}

function routeHref(r: Route): string {
  switch (r.page) {
    case 'company':
      return `#/company/${r.id}/${r.tab}`;
    case 'partner':
      return `#/partner/${r.tab}`;
    case 'vault':
      return '#/';
    default:
      return `#/${r.page}`;
  }
}

/** Where "the portal" starts for this account. */
export function portalHome(s: OrgSession | null): Route {
  if (!s?.company) return { page: 'account' };
  if (s.isPartner && (s.isAdmin || s.isTechnician)) return { page: 'partner', tab: 'customers' };
  if (s.isAdmin) return { page: 'company', id: s.company.id, tab: 'users' };
  return { page: 'account' };
}

function Sidebar(props: { s: OrgSession | null; company: CompanyDto | null; open: boolean; setOpen: (b: boolean) => void }) {
  const { s } = props;
  const r = route.value;
  const own = s?.company;
  const viewing = r.page === 'company' ? r.id : null;
  const companyName = props.company?.name ?? (viewing === own?.id ? own?.name : null) ?? 'Company';
  return (
    <aside class={`sidebar ${props.open ? 'open' : ''}`} aria-label="Portal navigation">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true">
          ◆
        </span>
        <span class="grow">{s?.isPartner ? 'Partner Portal' : 'Customer Portal'}</span>
        <button type="button" class="menu-btn icon-btn" aria-expanded={props.open} aria-label="Menu" onClick={() => props.setOpen(!props.open)}>
          ☰
        </button>
      </div>
      <nav onClick={() => props.setOpen(false)}>
        <a class="nav-item back-to-vault" href="#/">
          <span aria-hidden="true">←</span> <span class="grow">Back to the vault</span>
        </a>
        {s?.isPartner && (s.isAdmin || s.isTechnician) && (
          <>
            <div class="section-head">
              <span>{own?.name}</span>
            </div>
            <NavLink to={{ page: 'partner', tab: 'customers' }} label="Customers" active={r.page === 'partner' && r.tab === 'customers'} />
            {s.isPartnerAdmin && (
              <>
                <NavLink to={{ page: 'partner', tab: 'templates' }} label="Policy templates" active={r.page === 'partner' && r.tab === 'templates'} />
                <NavLink to={{ page: 'partner', tab: 'technicians' }} label="Technicians" active={r.page === 'partner' && r.tab === 'technicians'} />
                <NavLink to={{ page: 'company', id: own!.id, tab: 'users' }} label="Partner team" active={viewing === own!.id} />
              </>
            )}
          </>
        )}
        {!s?.isPartner && s?.isAdmin && own && !viewing && <NavLink to={{ page: 'company', id: own.id, tab: 'users' }} label={own.name} active={false} />}
        {viewing && (
          <section aria-label={`${companyName} administration`}>
            <div class="section-head">
              <span data-testid="portal-company">{companyName}</span>
            </div>
            {COMPANY_TABS.map(([tab, label]) => (
              <NavLink key={tab} to={{ page: 'company', id: viewing, tab }} label={label} active={r.page === 'company' && r.tab === tab} />
            ))}
          </section>
        )}
        <div class="section-head">
          <span>You</span>
        </div>
        <NavLink to={{ page: 'account' }} label="My account" active={r.page === 'account'} />
        {!own && setupOpen.value && <NavLink to={{ page: 'setup' }} label="Set up a partner" active={r.page === 'setup'} />}
      </nav>
      <div class="sidebar-foot">
        <div class="small">{vault.value?.account.email}</div>
        <div class="row">
          <a class="button-link side" href="#/">
            Vault
          </a>
          <button type="button" onClick={lock}>
            Lock
          </button>
        </div>
      </div>
    </aside>
  );
}

function CompanyFrame(props: { s: OrgSession; id: string; tab: string; onCompany: (c: CompanyDto | null) => void }) {
  const { s } = props;
  const company = useLoad(() => s.api.company(props.id), [props.id]);
  useEffect(() => {
    props.onCompany(company.data);
  }, [company.data]);
  if (!company.data) return <LoadState l={company} what="the company" />;
  const c = company.data;
  if (c.id !== props.id) return null;
  const reload = company.reload;
  return (
    <>
      {c.id !== s.company?.id && (
        <div class="context-bar" role="note">
          Administering <strong>{c.name}</strong> as {s.isTechnician ? 'an assigned technician' : 'its partner'} · <Badge kind="muted">{PLAN_LABEL[c.plan]}</Badge>
        </div>
      )}
      {props.tab === 'users' && <UsersPage s={s} company={c} reloadCompany={reload} />}
      {props.tab === 'groups' && <GroupsPage s={s} company={c} />}
      {props.tab === 'policies' && <PoliciesPage s={s} company={c} />}
      {props.tab === 'subscription' && <SubscriptionPage s={s} company={c} reloadCompany={reload} />}
      {props.tab === 'backup' && <BackupPage s={s} company={c} />}
      {props.tab === 'shares' && <SharesPage s={s} company={c} />}
      {props.tab === 'audit' && <AuditPage s={s} company={c} />}
    </>
  );
}

function SetUpTwoFactor() {
  const [open, setOpen] = useState(false);
  return (
    <>
      {' '}
      <button type="button" class="link" onClick={() => setOpen(true)}>
        Set up
      </button>
      {open && (
        <Dialog title="Two-step verification" onClose={() => setOpen(false)}>
          <EnrolTwoFactor onDone={() => { setOpen(false); void loadOrg(); }} />
        </Dialog>
      )}
    </>
  );
}

function MyAccount(props: { s: OrgSession | null }) {
  const { s } = props;
  const client = vault.value;
  const my = client ? fingerprintDisplay(memberFingerprint(client.account.signingPublic, x25519PublicKey(client.account.encryptionPrivate))) : '';
  const c = s?.company;
  const m = s?.membership.member;
  const policy = s?.myPolicy;
  const restricted = !!policy?.policies.restrict_portal_access && !s?.isAdmin;
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="My account" sub={vault.value?.account.email} />
      <div class="card info-card">
        <dl class="facts">
          <dt>Your key fingerprint</dt>
          <dd class="mono fp" data-testid="my-fingerprint">
            {my}
          </dd>
        </dl>
        <p class="muted small">When you join a company, an admin confirms you after comparing this fingerprint with you.</p>
      </div>
      {!c && (
        <div class="card info-card">
          <h2>No company</h2>
          <p class="muted">This account is not a member of a company. Open the invitation link your admin sent you to join one.</p>
          {setupOpen.value && (
            <p>
              Setting up Castellan for your business?{' '}
              <a href="#/setup" class="strong-link">
                Set up a partner with the setup token
              </a>
            </p>
          )}
        </div>
      )}
      {c && restricted && (
        <div class="card info-card" data-testid="portal-restricted">
          <h2>{c.name}</h2>
          <p class="muted">Your company restricts the portal to administrators.</p>
        </div>
      )}
      {c && !restricted && m && (
        <div class="card info-card">
          <h2>{c.name}</h2>
          <dl class="facts">
            <dt>Role</dt>
            <dd>{ROLE_LABEL[m.role]}</dd>
            <dt>Membership</dt>
            <dd>{m.status === 'confirmed' ? <Badge kind="ok">Confirmed</Badge> : <Badge kind="warn">Waiting for an admin to confirm you</Badge>}</dd>
            <dt>Two-step verification</dt>
            <dd>
              {m.two_factor_enabled ? <Badge kind="ok">On</Badge> : <Badge kind={policy?.policies.require_two_factor ? 'bad' : 'muted'}>Off</Badge>}
              {!m.two_factor_enabled && policy?.policies.require_two_factor && <span class="muted small"> Required by your company.</span>}
              {!m.two_factor_enabled && <SetUpTwoFactor />}
            </dd>
            <dt>Company key fingerprint</dt>
            <dd class="mono fp">{fingerprintDisplay(companyFingerprint(publicFromDto(c.keys)))}</dd>
          </dl>
        </div>
      )}
      {c && !restricted && policy && (
        <div class="card info-card">
          <h2>Policies that apply to you</h2>
          <p class="muted small">{policy.counter ? `Policy #${policy.counter}, verified against your company's key.` : 'No policy set.'}</p>
          {policy.warnings.map((w) => (
            <p class="error" role="alert" key={w}>
              {w}
            </p>
          ))}
          <ul class="summary" data-testid="my-policies">
            {policySummary(policy.policies).map((l) => (
              <li key={l}>{l}</li>
            ))}
            {policySummary(policy.policies).length === 0 && <li class="muted">None</li>}
          </ul>
        </div>
      )}
    </section>
  );
}

function SetupPage() {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const a = useAction();
  const client = vault.value;
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Set up a partner" sub="Creates your partner company with you as its first admin. Its keys are made in this browser." />
      <form
        class="card form-card narrow-form"
        aria-label="Set up a partner"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!client) return;
          const ok = await a.run(async () => {
            await setupPartner(new OrgApi(client.api), devicePins, client.account, token, name);
            await loadOrg();
          });
          if (ok) navigate({ page: 'partner', tab: 'customers' });
        }}
      >
        <label>
          Setup token
          <input type="password" name="setup-token" autoComplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          <span class="hint">Printed by the server on its first start (or by `castellan server setup-token`).</span>
        </label>
        <label>
          Partner name
          <input type="text" name="partner-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <ErrorText error={a.error} />
        <div class="row end">
          <button type="submit" class="primary" disabled={a.busy}>
            {a.busy ? 'Creating…' : 'Create partner'}
          </button>
        </div>
      </form>
    </section>
  );
}

function Forbidden(props: { what: string }) {
  return (
    <section class="page">
      <PageHead title="Not available" />
      <p class="muted">{props.what}</p>
      <a href="#/account">My account</a>
    </section>
  );
}

export function PortalScreen() {
  useIdleLock();
  const [open, setOpen] = useState(false);
  const [company, setCompany] = useState<CompanyDto | null>(null);
  const s = org.value;
  const r = route.value;
  // The membership is fetched anew each time the portal opens (roles and confirmations change).
  useEffect(() => {
    void loadOrg();
  }, []);
  useEffect(() => {
    if (r.page === 'portal' && orgState.value === 'ready') navigate(portalHome(org.value));
    if (r.page !== 'company') setCompany(null);
  }, [r, orgState.value]);
  useEffect(() => {
    document.querySelector<HTMLElement>('.portal-main h1')?.focus();
  }, [r]);
  let body;
  if (orgState.value === 'loading' || orgState.value === 'idle') body = <p class="muted loading">Loading your organisation…</p>;
  else if (orgState.value === 'error')
    body = (
      <div class="error-box" role="alert">
        <p>The organisation could not be loaded: {orgError.value}</p>
        <button type="button" onClick={() => void loadOrg()}>
          Try again
        </button>
      </div>
    );
  else if (r.page === 'setup') body = s?.company ? <Forbidden what="This account already belongs to a company." /> : <SetupPage />;
  else if (r.page === 'account' || r.page === 'portal') body = <MyAccount s={s} />;
  else if (r.page === 'partner') {
    if (!s?.isPartner || !(s.isAdmin || s.isTechnician)) body = <Forbidden what="The Partner Portal is for partner admins and technicians." />;
    else if (r.tab !== 'customers' && !s.isPartnerAdmin) body = <Forbidden what="Only partner admins manage templates and technicians." />;
    else body = r.tab === 'customers' ? <CustomersPage s={s} /> : r.tab === 'templates' ? <TemplatesPage s={s} /> : <TechniciansPage s={s} />;
  } else if (r.page === 'company') {
    const canAdmin = s && (s.isPartner ? s.isAdmin || s.isTechnician : s.isAdmin);
    body = canAdmin ? <CompanyFrame key={r.id} s={s!} id={r.id} tab={r.tab} onCompany={setCompany} /> : <MyAccount s={s} />;
  }
  return (
    <div class="app portal">
      <Sidebar s={s} company={company} open={open} setOpen={setOpen} />
      <main class="portal-main" id="portal-main">
        {s?.warnings.map((w) => (
          <p class="error-box" role="alert" key={w}>
            {w}
          </p>
        ))}
        {body}
      </main>
      {toast.value && (
        <div class="toast" role="status">
          {toast.value.text}
        </div>
      )}
    </div>
  );
}

export { ErrorText };
