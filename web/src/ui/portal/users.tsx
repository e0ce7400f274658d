// Customer Portal: users and invitations, explicit confirmation of members, lifecycle actions.
import { useState } from 'preact/hooks';
import type { OrgSession, ConfirmPreview, Invited, MemberView } from '../../org/session';
import type { CompanyDto, InvitationDto, Role } from '../../org/types';
import { copySecret, showToast } from '../util';
import { Badge, ConfirmDialog, Dialog, Empty, ErrorText, formatDate, LoadState, PageHead, portalError, ROLE_LABEL, useAction, useLoad } from './common';

function rolesFor(c: CompanyDto): Role[] {
  return c.kind === 'partner' ? ['user', 'technician', 'admin'] : ['user', 'admin'];
}

function InviteResult(props: { inv: Invited; onClose: () => void }) {
  const { inv } = props;
  return (
    <Dialog title={inv.mailed ? 'Invitation sent' : 'Invitation created'} onClose={props.onClose} testid="invite-result">
      {inv.mailed ? (
        <p>
          An invitation was mailed to <strong>{inv.email}</strong>. It expires on {formatDate(inv.expiresAt)}.
        </p>
      ) : (
        <>
          <p>
            Mail is not configured on this server: pass this link to <strong>{inv.email}</strong> yourself, over a channel you trust. It works once and expires on {formatDate(inv.expiresAt)}.
          </p>
          <label>
            Invitation link
            <textarea class="mono link-box" readOnly rows={3} data-testid="invite-link" value={inv.link} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <div class="row">
            <button type="button" onClick={() => copySecret(inv.link, 'Invitation link')}>
              Copy link
            </button>
          </div>
        </>
      )}
      <p class="muted small">
        Company key fingerprint, for {inv.email} to compare with what their app shows when they join: <span class="mono fp">{inv.fingerprint}</span>
      </p>
      <div class="row end">
        <button type="button" class="primary" onClick={props.onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

function InviteDialog(props: { s: OrgSession; company: CompanyDto; onDone: (inv: Invited) => void; onClose: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('user');
  const a = useAction();
  const seatsLeft = props.company.seats === null ? null : props.company.seats - props.company.seats_used;
  return (
    <Dialog title={`Invite to ${props.company.name}`} onClose={props.onClose}>
      <form
        class="form"
        aria-label="Invite user"
        onSubmit={async (e) => {
          e.preventDefault();
          let inv: Invited | null = null;
          if (await a.run(async () => (inv = await props.s.invite(props.company, email, role)))) props.onDone(inv!);
        }}
      >
        <label>
          Email
          <input type="email" name="invite-email" required autoFocus value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select name="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {rolesFor(props.company).map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]}
              </option>
            ))}
          </select>
          <span class="hint">{role === 'admin' ? 'Admins manage users, groups, policies and the audit log, and receive the company keys.' : role === 'technician' ? "Technicians administer the customers they are assigned to." : 'Users have their own vault with a Business profile.'}</span>
        </label>
        {seatsLeft !== null && <p class="muted small">{seatsLeft > 0 ? `${seatsLeft} seat(s) left.` : 'No seats left: the invitation will be refused until the partner adds seats.'}</p>}
        <ErrorText error={a.error} />
        <div class="row end">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={a.busy}>
            {a.busy ? 'Inviting…' : 'Send invitation'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ConfirmMember(props: { s: OrgSession; company: CompanyDto; member: MemberView; onDone: () => void; onClose: () => void }) {
  const prep = useLoad<ConfirmPreview>(() => props.s.prepareConfirm(props.company, props.member.userId), [props.member.userId]);
  const a = useAction();
  const p = prep.data;
  return (
    <Dialog title={`Confirm ${props.member.email}`} onClose={props.onClose} testid="confirm-dialog">
      <LoadState l={prep} what="the member's keys" />
      {p && (
        <>
          <p>
            {p.email} accepted the invitation as <strong>{ROLE_LABEL[p.role]}</strong> (from the invitation your company signed). Confirming signs their member certificate in this browser
            {p.role === 'admin' ? ', gives them the company keys' : ''} and adds them to Everyone.
          </p>
          <div class="fp-box">
            <span class="muted small">Their key fingerprint</span>
            <span class="mono fp big" data-testid="member-fingerprint">
              {p.fingerprint}
            </span>
          </div>
          <p class="muted small">Ask {p.email} for the fingerprint their app shows and compare it over a channel you trust (phone, in person). Confirm only if it matches.</p>
        </>
      )}
      <ErrorText error={a.error} />
      <div class="row end">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          class="primary"
          disabled={!p || a.busy}
          onClick={async () => {
            if (p && (await a.run(() => props.s.confirm(p)))) {
              showToast(`${p.email} is confirmed`);
              props.onDone();
            }
          }}
        >
          {a.busy ? 'Confirming…' : 'Fingerprint matches: confirm'}
        </button>
      </div>
    </Dialog>
  );
}

function RoleDialog(props: { s: OrgSession; company: CompanyDto; member: MemberView; onDone: () => void; onClose: () => void }) {
  const [role, setRole] = useState<Role>(props.member.role);
  const a = useAction();
  return (
    <Dialog title={`Role of ${props.member.email}`} onClose={props.onClose}>
      <label>
        Role
        <select name="member-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          {rolesFor(props.company).map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]}
            </option>
          ))}
        </select>
      </label>
      <p class="muted small">A new member certificate is signed in this browser. {role === 'admin' ? 'A new admin also receives the company keys.' : props.member.role === 'admin' ? 'Their copy of the company keys is deleted.' : ''}</p>
      <ErrorText error={a.error} />
      <div class="row end">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" class="primary" disabled={a.busy || role === props.member.role} onClick={async () => (await a.run(() => props.s.changeRole(props.company, props.member.userId, role))) && props.onDone()}>
          Change role
        </button>
      </div>
    </Dialog>
  );
}

type Modal =
  | { kind: 'invite' }
  | { kind: 'invited'; inv: Invited }
  | { kind: 'confirm'; m: MemberView }
  | { kind: 'role'; m: MemberView }
  | { kind: 'remove' | 'delete' | 'reset' | 'disable' | 'pwchange'; m: MemberView }
  | { kind: 'revoke'; inv: InvitationDto };

function MemberActions(props: { m: MemberView; self: boolean; open: (m: Modal) => void; toggle: (m: MemberView) => void }) {
  const { m } = props;
  if (props.self) return <span class="muted small">You</span>;
  const item = (label: string, f: () => void, danger = false) => (
    <button type="button" role="menuitem" class={danger ? 'danger-ghost' : ''} onClick={(e) => {
      (e.currentTarget.closest('details') as HTMLDetailsElement | null)?.removeAttribute('open');
      f();
    }}>
      {label}
    </button>
  );
  return (
    <div class="row nowrap">
      {m.status === 'accepted' && (
        <button type="button" class="primary small-btn" onClick={() => props.open({ kind: 'confirm', m })}>
          Confirm…
        </button>
      )}
      <details class="menu">
        <summary aria-label={`Actions for ${m.email}`}>⋯</summary>
        <div class="menu-list" role="menu">
          {m.disabled ? item('Enable', () => props.toggle(m)) : item('Disable…', () => props.open({ kind: 'disable', m }))}
          {item('Require password change…', () => props.open({ kind: 'pwchange', m }))}
          {m.status === 'confirmed' && item('Change role…', () => props.open({ kind: 'role', m }))}
          {item('Remove from company…', () => props.open({ kind: 'remove', m }), true)}
          {item('Reset account…', () => props.open({ kind: 'reset', m }), true)}
          {item('Delete account…', () => props.open({ kind: 'delete', m }), true)}
        </div>
      </details>
    </div>
  );
}

export function UsersPage(props: { s: OrgSession; company: CompanyDto; reloadCompany: () => void }) {
  const { s, company } = props;
  const members = useLoad(() => s.members(company.id), [company.id]);
  const invitations = useLoad(() => s.invitations(company.id), [company.id]);
  const [modal, setModal] = useState<Modal | null>(null);
  const [pageError, setPageError] = useState<string | null>(null);
  const reload = () => {
    members.reload();
    invitations.reload();
    props.reloadCompany();
  };
  const close = () => setModal(null);
  const done = () => {
    setModal(null);
    reload();
  };
  const list = members.data ?? [];
  const pending = list.filter((m) => m.status === 'accepted');
  const openInv = (invitations.data ?? []).filter((i) => i.state === 'open');
  const otherInv = (invitations.data ?? []).filter((i) => i.state !== 'open');
  const toggle = async (m: MemberView) => {
    setPageError(null);
    try {
      await s.updateMember(company.id, m.userId, { disabled: !m.disabled });
      showToast(`${m.email} is ${m.disabled ? 'enabled' : 'disabled'}`);
      reload();
    } catch (e) {
      setPageError(portalError(e));
    }
  };
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHead title="Users" sub={`${company.seats_used} of ${company.seats ?? 'unlimited'} seats used · members and open invitations count`}>
        <button type="button" class="primary" onClick={() => setModal({ kind: 'invite' })}>
          + Invite user
        </button>
      </PageHead>
      <ErrorText error={pageError} />
      {pending.length > 0 && (
        <div class="notice" role="status" data-testid="pending-notice">
          <strong>{pending.length} member(s) waiting for confirmation.</strong> Compare their key fingerprint with them before you confirm.
        </div>
      )}
      <LoadState l={members} what="members" />
      {members.data && list.length === 0 && (
        <Empty title="No members yet">
          <p class="muted">Invite the first user by email.</p>
        </Empty>
      )}
      {list.length > 0 && (
        <div class="table-wrap">
          <table class="table" aria-label="Members">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Two-step</th>
                <th scope="col">Key fingerprint</th>
                <th scope="col" class="actions-col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.userId} data-testid="member-row" data-email={m.email} data-status={m.status}>
                  <td>
                    <strong>{m.email}</strong>
                    <div class="muted small">joined {formatDate(m.joinedAt)}</div>
                  </td>
                  <td>{ROLE_LABEL[m.role]}</td>
                  <td>
                    <div class="row gap4">
                      {m.status === 'accepted' ? <Badge kind="warn">Waiting for confirmation</Badge> : m.certified ? <Badge kind="ok" title="Certificate verified against the company key">Confirmed</Badge> : <Badge kind="bad" title="The certificate does not verify">Unverified</Badge>}
                      {m.disabled && <Badge kind="muted">Disabled</Badge>}
                      {m.requirePasswordChange && <Badge kind="info">Password change due</Badge>}
                    </div>
                  </td>
                  <td>{m.twoFactor ? <Badge kind="ok">On</Badge> : <Badge kind="muted">Off</Badge>}</td>
                  <td class="mono small fp-cell">{m.fingerprint}</td>
                  <td class="actions-col">
                    <MemberActions m={m} self={m.userId === s.me} open={setModal} toggle={toggle} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2 class="section-title">Invitations</h2>
      <LoadState l={invitations} what="invitations" />
      {invitations.data && openInv.length + otherInv.length === 0 && <p class="muted">No invitations yet.</p>}
      {openInv.length + otherInv.length > 0 && (
        <div class="table-wrap">
          <table class="table" aria-label="Invitations">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Expires</th>
                <th scope="col" class="actions-col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...openInv, ...otherInv].map((i) => (
                <tr key={i.id} data-testid="invitation-row" data-email={i.email}>
                  <td>{i.email}</td>
                  <td>{ROLE_LABEL[i.role]}</td>
                  <td>
                    <Badge kind={i.state === 'open' ? 'info' : i.state === 'accepted' ? 'ok' : 'muted'}>{i.state[0].toUpperCase() + i.state.slice(1)}</Badge>
                  </td>
                  <td>{formatDate(i.expires_at)}</td>
                  <td class="actions-col">
                    {i.state === 'open' && (
                      <button type="button" class="danger-ghost small-btn" onClick={() => setModal({ kind: 'revoke', inv: i })}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {modal?.kind === 'invite' && <InviteDialog s={s} company={company} onClose={close} onDone={(inv) => {
        reload();
        setModal({ kind: 'invited', inv });
      }} />}
      {modal?.kind === 'invited' && <InviteResult inv={modal.inv} onClose={close} />}
      {modal?.kind === 'confirm' && <ConfirmMember s={s} company={company} member={modal.m} onClose={close} onDone={done} />}
      {modal?.kind === 'role' && <RoleDialog s={s} company={company} member={modal.m} onClose={close} onDone={done} />}
      {modal?.kind === 'disable' && (
        <ConfirmDialog title={`Disable ${modal.m.email}?`} body={<p>They are signed out everywhere and cannot sign in until you enable them again. Their seat stays in use.</p>} confirmLabel="Disable" danger onClose={close} onConfirm={async () => {
          await s.updateMember(company.id, modal.m.userId, { disabled: true });
          reload();
        }} />
      )}
      {modal?.kind === 'pwchange' && (
        <ConfirmDialog title={`Require a new master password from ${modal.m.email}?`} body={<p>At their next sign-in they can do nothing but change their master password.</p>} confirmLabel="Require change" onClose={close} onConfirm={async () => {
          await s.updateMember(company.id, modal.m.userId, { require_password_change: true });
          reload();
        }} />
      )}
      {modal?.kind === 'remove' && (
        <ConfirmDialog title={`Remove ${modal.m.email} from ${company.name}?`} body={<p>Their membership, company keys and group memberships end; the groups are re-signed without them. Their Business items are deleted if the policy says so. Their account stays.</p>} confirmLabel="Remove" danger onClose={close} onConfirm={async () => {
          const w = await s.removeMember(company.id, modal.m.userId);
          if (w.length) showToast(`Removed, with warnings: ${w.join('; ')}`);
          reload();
        }} />
      )}
      {modal?.kind === 'delete' && (
        <ConfirmDialog title={`Delete the account of ${modal.m.email}?`} body={<p>The account and <strong>all its data</strong> are deleted for good. This cannot be undone.</p>} confirmLabel="Delete account" danger onClose={close} onConfirm={async () => {
          const w = await s.deleteMember(company.id, modal.m.userId);
          if (w.length) showToast(`Deleted, with warnings: ${w.join('; ')}`);
          reload();
        }} />
      )}
      {modal?.kind === 'reset' && (
        <ConfirmDialog title={`Reset ${modal.m.email}?`} body={<p>The account and all its data are deleted and a new invitation with the same role is issued, so they start over. Business data returns only through organisation backup.</p>} confirmLabel="Reset account" danger onClose={() => setModal((m) => (m?.kind === 'reset' ? null : m))} onConfirm={async () => {
          const inv = await s.resetMember(company, modal.m.userId);
          reload();
          setTimeout(() => setModal({ kind: 'invited', inv }), 0);
        }} />
      )}
      {modal?.kind === 'revoke' && (
        <ConfirmDialog title={`Revoke the invitation of ${modal.inv.email}?`} body={<p>The link stops working at once and the seat is freed.</p>} confirmLabel="Revoke" danger onClose={close} onConfirm={async () => {
          await s.api.revokeInvitation(company.id, modal.inv.id);
          reload();
        }} />
      )}
    </section>
  );
}
