// Joining a company from an invitation link (`/join#v1.{id}.{secret}.{fingerprint}`): the link is
// checked against the company keys the server serves before anything is accepted; a new account's
// master password is checked against the company's verified policy before it is created.
import { useState } from 'preact/hooks';
import { Api } from '../../client/api';
import { OrgApi } from '../../org/api';
import { parseInviteLink, type InviteLink } from '../../org/invite';
import { emptyPins } from '../../org/pins';
import { masterPasswordProblems } from '../../org/policy';
import { verifyInvitationPreview, type VerifiedInvitation } from '../../org/session';
import { doJoin, doRegisterWithInvite, joinLink, joinSignIn, phase, vault } from '../../state';
import { Badge, ErrorText, formatDate, portalError, ROLE_LABEL, useAction, useLoad } from './common';
import { policySummary } from './policyform';

function Brand() {
  return (
    <div class="brand">
      <span class="brand-mark" aria-hidden="true">
        ◆
      </span>
      <span>Castellan</span>
    </div>
  );
}

export function JoinScreen() {
  const raw = joinLink.value ?? '';
  let link: InviteLink | null = null;
  let linkError: string | null = null;
  try {
    link = parseInviteLink(raw);
  } catch (e) {
    linkError = (e as Error).message;
  }
  const preview = useLoad<VerifiedInvitation>(async () => {
    if (!link) throw new Error(linkError ?? 'no invitation');
    return verifyInvitationPreview(new OrgApi(new Api(window.location.origin)), link, emptyPins());
  }, [raw]);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [joined, setJoined] = useState<string | null>(null);
  const a = useAction();
  const v = preview.data;
  const signedIn = phase.value === 'vault' && !!vault.value;
  const mp = v?.policy.policies.master_password ?? null;
  const problems = mp && password ? masterPasswordProblems(mp, password) : [];
  const cancel = () => {
    joinLink.value = null;
  };
  return (
    <main class="auth">
      <div class="card auth-card join-card" aria-labelledby="join-title">
        <Brand />
        <h1 id="join-title">{v ? `Join ${v.preview.company_name}` : 'Invitation'}</h1>
        {preview.loading && !v && <p class="muted">Checking the invitation…</p>}
        {preview.error && (
          <div class="error-box" role="alert" data-testid="join-error">
            <p>{preview.error}</p>
          </div>
        )}
        {v && !joined && (
          <>
            <dl class="facts">
              <dt>Email</dt>
              <dd>{v.body.email}</dd>
              <dt>Role</dt>
              <dd>{ROLE_LABEL[v.body.role]}</dd>
              <dt>Expires</dt>
              <dd>{formatDate(v.body.expires_at)}</dd>
              <dt>Company key</dt>
              <dd>
                <span class="mono fp">{v.fingerprint}</span> <Badge kind="ok">matches the link</Badge>
              </dd>
            </dl>
            <p class="muted small">The server's company keys match the fingerprint in your link. If your admin told you a fingerprint, it must be this one.</p>
            {policySummary(v.policy.policies).length > 0 && (
              <details>
                <summary>Company policies ({policySummary(v.policy.policies).length})</summary>
                <ul class="summary">
                  {policySummary(v.policy.policies).map((l) => (
                    <li key={l}>{l}</li>
                  ))}
                </ul>
              </details>
            )}
          </>
        )}
        {v && !joined && signedIn && (
          <>
            {vault.value!.account.email.toLowerCase() !== v.body.email.toLowerCase() ? (
              <p class="error" role="alert">
                You are signed in as {vault.value!.account.email}; this invitation is for {v.body.email}. Sign out first, or ask for an invitation to your address.
              </p>
            ) : (
              <p>Join with the account you are signed in with. An admin then confirms you.</p>
            )}
            <ErrorText error={a.error} />
            <div class="row end">
              <button type="button" onClick={cancel}>
                Not now
              </button>
              <button
                type="button"
                class="primary"
                disabled={a.busy || vault.value!.account.email.toLowerCase() !== v.body.email.toLowerCase()}
                onClick={async () => {
                  if (!link) return;
                  let name = '';
                  if (await a.run(async () => (name = (await doJoin(link!)).companyName))) setJoined(name);
                }}
              >
                Join {v.preview.company_name}
              </button>
            </div>
          </>
        )}
        {v && !joined && !signedIn && (
          <form
            class="form"
            aria-label="Create your account and join"
            onSubmit={async (e) => {
              e.preventDefault();
              if (password !== confirm) {
                a.setError('The two passwords differ.');
                return;
              }
              await a.run(() => doRegisterWithInvite(link!, password));
            }}
          >
            <p>Create your Castellan account for {v.body.email}.</p>
            <label>
              Master password
              <input type="password" name="new-password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} aria-describedby="pw-rules" />
            </label>
            <span class="hint" id="pw-rules">
              {mp ? `Your company requires ${masterPasswordProblems(mp, '').join(', ') || 'a strong password'}.` : 'At least 8 characters. Castellan cannot reset it for you.'}
            </span>
            {problems.length > 0 && (
              <p class="hint warn-text" role="status">
                Still needs: {problems.join(', ')}
              </p>
            )}
            <label>
              Confirm master password
              <input type="password" name="confirm-password" autoComplete="new-password" required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
            </label>
            <ErrorText error={a.error} />
            <button type="submit" class="primary" disabled={a.busy}>
              {a.busy ? 'Creating your account…' : 'Create account and join'}
            </button>
            <p class="switch">
              Already have an account?{' '}
              <button
                type="button"
                class="link"
                onClick={() => {
                  joinSignIn.value = true;
                  phase.value = 'login';
                }}
              >
                Sign in
              </button>{' '}
              and the invitation opens again.
            </p>
          </form>
        )}
        {joined && (
          <>
            <p role="status" data-testid="joined">
              You joined <strong>{joined}</strong>. An admin confirms you after comparing your key fingerprint (shown in the portal under My account).
            </p>
            <div class="row end">
              <button
                type="button"
                class="primary"
                onClick={() => {
                  joinLink.value = null;
                  window.location.hash = '#/account';
                }}
              >
                Continue
              </button>
            </div>
          </>
        )}
        {!v && !preview.loading && (
          <div class="row end">
            <button type="button" onClick={cancel}>
              Continue without joining
            </button>
          </div>
        )}
      </div>
    </main>
  );
}

export { portalError };
