// Account settings, opened from the vault's sidebar: master password change, sessions (devices
// signed in to this account) and the Emergency Kit. The crypto is in ../client/password.ts.
import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { WrongCredentials } from '../client/account';
import { ApiFailure, Unreachable } from '../client/api';
import { changePassword, emergencyKitText, listSessions, maskSecretKey, newPasswordProblems, passwordStrength, revokeOtherSessions, revokeSession, type SessionDto } from '../client/password';
import { x25519PublicKey } from '../crypto/hpke';
import { fingerprintDisplay, memberFingerprint } from '../org/keys';
import { pinnedPolicy } from '../org/policy';
import type { MasterPasswordPolicy } from '../org/types';
import { cache, leaveRestricted, loginNotice, logout, org, restrictedAccount, vault } from '../state';
import { Badge, ConfirmDialog, Dialog, download, formatDateTime } from './portal/common';
import { copySecret, errorText, showToast } from './util';
import './settings.css';

type Tab = 'password' | 'sessions' | 'kit';

/** Whether the settings dialog is open, and on which tab. */
export const settingsOpen = signal<Tab | null>(null);

function settingsError(e: unknown): string {
  if (e instanceof WrongCredentials) return 'The current master password is wrong.';
  if (e instanceof Unreachable) return 'The server cannot be reached. Check your connection and try again.';
  if (e instanceof ApiFailure) {
    if (e.code === 'reauth_required') return 'The server wants a fresh sign-in for this change; try again.';
    if (e.code === 'version_conflict' || e.status === 409) return 'Your master password was changed on another device meanwhile. Lock the vault and use "Sign in online" with the new one.';
    if (e.status === 401) return 'Your session expired; sign in again.';
    return e.message;
  }
  return errorText(e);
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Chrome\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : 'browser';
  return `Web vault (${browser})`;
}

/** The verified master password policy of the own company: fetched anew when the organisation
 * view is loaded, else the last one this browser verified. */
async function currentPolicy(): Promise<MasterPasswordPolicy | null> {
  const s = org.value;
  if (s) {
    try {
      await s.reload();
    } catch {
      // Offline or refused: the last verified policy applies (as the Rust client).
    }
    if (s.myPolicy) return s.myPolicy.policies.master_password;
  }
  const pins = cache.device?.org;
  if (pins?.my_company) return pinnedPolicy(pins, pins.my_company)?.policies.master_password ?? null;
  return null;
}

function knownPolicy(): MasterPasswordPolicy | null {
  const s = org.value;
  if (s?.myPolicy) return s.myPolicy.policies.master_password;
  const pins = cache.device?.org;
  if (pins?.my_company) return pinnedPolicy(pins, pins.my_company)?.policies.master_password ?? null;
  return null;
}

function StrengthMeter(props: { password: string }) {
  const s = passwordStrength(props.password);
  if (!props.password) return null;
  return (
    <div class="strength" data-testid="strength">
      <div class={`strength-bar s${s.score}`} role="meter" aria-valuemin={0} aria-valuemax={4} aria-valuenow={s.score} aria-label="Password strength">
        <span />
        <span />
        <span />
        <span />
      </div>
      <span class="small muted">{s.label}</span>
    </div>
  );
}

function PolicyRules(props: { policy: MasterPasswordPolicy }) {
  const p = props.policy;
  const rules = [`at least ${p.min_length} characters`];
  if (p.require_uppercase) rules.push('an uppercase letter');
  if (p.require_lowercase) rules.push('a lowercase letter');
  if (p.require_digits) rules.push('a digit');
  if (p.require_symbols) rules.push('a symbol');
  return (
    <p class="notice small" data-testid="password-policy">
      Your company's policy (verified against its key) requires {rules.join(', ')}.
      {p.max_age_days ? ` Change it at least every ${p.max_age_days} days.` : ''}
    </p>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<number | null>(null);
  const [ask, setAsk] = useState<{ retry: boolean; resolve: (c: string) => void; reject: (e: Error) => void } | null>(null);
  const [code, setCode] = useState('');
  const policy = knownPolicy();
  const problems = newPasswordProblems(current, next, confirm, policy);

  const submit = async (e: Event) => {
    e.preventDefault();
    setTouched(true);
    setError(null);
    const client = vault.value;
    const device = cache.device;
    if (!client || !device) return;
    if (!current) {
      setError('Enter your current master password.');
      return;
    }
    if (problems.length) return;
    setBusy(true);
    try {
      const fresh = await currentPolicy();
      const again = newPasswordProblems(current, next, confirm, fresh);
      if (again.length) throw new Error(again.join(' '));
      const r = await changePassword({
        api: client.api,
        device,
        currentPassword: current,
        newPassword: next,
        policy: fresh,
        deviceName: deviceName(),
        twoFactor: (retry) => new Promise<string>((resolve, reject) => setAsk({ retry, resolve, reject })),
        onRelogin: async (d) => {
          setAsk(null);
          await cache.apply({ device: { ...d, org: cache.device?.org ?? d.org } });
        },
      });
      await cache.apply({ device: { ...r.device, org: cache.device?.org ?? r.device.org } });
      client.api.token = r.device.session_token;
      setDone(r.revokedSessions);
      setCurrent('');
      setNext('');
      setConfirm('');
      setTouched(false);
    } catch (err) {
      setError(settingsError(err));
    } finally {
      setAsk(null);
      setBusy(false);
    }
  };

  if (ask)
    return (
      <form
        class="stack"
        aria-label="Two-step verification code"
        onSubmit={(e) => {
          e.preventDefault();
          const c = code;
          setCode('');
          ask.resolve(c);
        }}
      >
        <p>Your account uses two-step verification: enter the code from your authenticator app (or a recovery code) to confirm it is you.</p>
        <label>
          Code
          <input type="text" name="two-factor-code" inputMode="numeric" autoComplete="one-time-code" autoFocus required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </label>
        {ask.retry && (
          <p class="error" role="alert">
            That code is wrong, expired or used already.
          </p>
        )}
        <div class="row end">
          <button type="button" onClick={() => ask.reject(new Error('cancelled'))}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Verify
          </button>
        </div>
      </form>
    );

  return (
    <form class="stack settings-form" aria-label="Change master password" onSubmit={submit} noValidate>
      {done !== null && (
        <p class="success" role="status" data-testid="password-changed">
          Master password changed. {done === 0 ? 'No other session was signed in.' : `${done} other session${done === 1 ? ' was' : 's were'} signed out.`} Your Secret Key is unchanged; use the new password on every device from now on.
        </p>
      )}
      <p class="muted small">Your items are not re-encrypted: the account key is wrapped again under the new password and your Secret Key, in this browser. Every other device and browser is signed out.</p>
      {policy && <PolicyRules policy={policy} />}
      <label>
        Current master password
        <input type="password" name="current-password" autoComplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </label>
      <label>
        New master password
        <input type="password" name="new-password" autoComplete="new-password" aria-describedby="pw-problems" value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </label>
      <StrengthMeter password={next} />
      <label>
        Confirm new master password
        <input type="password" name="confirm-password" autoComplete="new-password" aria-describedby="pw-problems" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} onBlur={() => confirm && setTouched(true)} />
      </label>
      <div id="pw-problems" aria-live="polite">
        {(touched || (next.length > 0 && confirm.length > 0)) && problems.length > 0 && (
          <ul class="problems" data-testid="password-problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row end">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Changing… (a few seconds)' : 'Change master password'}
        </button>
      </div>
    </form>
  );
}

function Sessions() {
  const [list, setList] = useState<SessionDto[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [revoke, setRevoke] = useState<SessionDto | null>(null);
  const [others, setOthers] = useState(false);
  const [everywhere, setEverywhere] = useState(false);
  const api = vault.value?.api ?? null;
  useEffect(() => {
    if (!api) return;
    let live = true;
    listSessions(api).then(
      (l) => {
        if (!live) return;
        setList([...l].sort((a, b) => Number(b.current) - Number(a.current) || b.last_seen_at - a.last_seen_at));
        setError(null);
      },
      (e) => live && setError(settingsError(e)),
    );
    return () => {
      live = false;
    };
  }, [tick]);
  const reload = () => setTick((t) => t + 1);
  const otherCount = list?.filter((s) => !s.current).length ?? 0;
  return (
    <div class="stack">
      <p class="muted small">Every device and browser signed in to your account. Signing a session out ends it on the server at once; that device keeps its offline copy of the vault (still encrypted) until it is unlocked and told so.</p>
      {error && (
        <div class="error-box" role="alert">
          <p>Could not load the sessions: {error}</p>
          <button type="button" onClick={reload}>
            Try again
          </button>
        </div>
      )}
      {!list && !error && <p class="muted loading">Loading sessions…</p>}
      {list && (
        <div class="table-wrap">
          <table class="table" aria-label="Sessions">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.id} data-testid="session-row" data-current={s.current ? 'true' : 'false'} data-device={s.device_name}>
                  <td>
                    <div class="row gap4">
                      <strong>{s.device_name || 'Unnamed device'}</strong>
                      {s.current && <Badge kind="info">This browser</Badge>}
                    </div>
                    <div class="small muted">Expires {formatDateTime(s.expires_at)}</div>
                  </td>
                  <td>{formatDateTime(s.created_at)}</td>
                  <td>{formatDateTime(s.last_seen_at)}</td>
                  <td class="actions-col">
                    {!s.current && (
                      <button type="button" class="danger-ghost" aria-label={`Sign out ${s.device_name}`} onClick={() => setRevoke(s)}>
                        Sign out
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="row end">
        <button type="button" disabled={!list || otherCount === 0} onClick={() => setOthers(true)}>
          Sign out all other sessions
        </button>
        <button type="button" class="danger-ghost" onClick={() => setEverywhere(true)}>
          Sign out everywhere…
        </button>
      </div>
      {revoke && api && (
        <ConfirmDialog
          title="Sign out this session?"
          body={
            <p>
              <strong>{revoke.device_name}</strong> (signed in {formatDateTime(revoke.created_at)}) will need the master password to sign in again. A device that has your Secret Key stored keeps it.
            </p>
          }
          confirmLabel="Sign out session"
          danger
          onConfirm={async () => {
            await revokeSession(api, revoke.id);
            showToast('Session signed out');
            reload();
          }}
          onClose={() => setRevoke(null)}
        />
      )}
      {others && api && (
        <ConfirmDialog
          title="Sign out all other sessions?"
          body={<p>Every other device and browser ({otherCount}) is signed out. This browser stays signed in.</p>}
          confirmLabel="Sign out others"
          danger
          onConfirm={async () => {
            const n = await revokeOtherSessions(api);
            showToast(`${n} session(s) signed out`);
            reload();
          }}
          onClose={() => setOthers(false)}
        />
      )}
      {everywhere && api && (
        <ConfirmDialog
          title="Sign out everywhere?"
          body={
            <p>
              Every session ends, this one too, and this browser forgets the account and its offline copy. To sign in again here you need your master password <strong>and your Secret Key</strong> (from the Emergency Kit).
            </p>
          }
          confirmLabel="Sign out everywhere"
          danger
          onConfirm={async () => {
            if (cache.pending.size > 0) throw new Error(`${cache.pending.size} change(s) have not reached the server yet; wait until everything is synced`);
            await revokeOtherSessions(api);
            settingsOpen.value = null;
            await logout(false);
          }}
          onClose={() => setEverywhere(false)}
        />
      )}
    </div>
  );
}

function EmergencyKit() {
  const [shown, setShown] = useState(false);
  const device = cache.device;
  const client = vault.value;
  if (!device || !client) return null;
  const server = window.location.origin;
  const fp = fingerprintDisplay(memberFingerprint(client.account.signingPublic, x25519PublicKey(client.account.encryptionPrivate)));
  return (
    <div class="stack">
      <p class="muted small">Your Secret Key is stored in this browser so that the vault unlocks with the master password alone. You need it, with your master password, to sign in on a new device. Nobody can recover it for you.</p>
      <dl class="facts">
        <dt>Sign-in address</dt>
        <dd>{server}</dd>
        <dt>Email</dt>
        <dd>{device.email}</dd>
        <dt>Secret Key</dt>
        <dd>
          <span class="mono secret-key" data-testid="settings-secret-key">
            {shown ? device.secret_key : maskSecretKey(device.secret_key)}
          </span>
          <div class="row small-gap">
            <button type="button" aria-pressed={shown} onClick={() => setShown(!shown)}>
              {shown ? 'Hide' : 'Reveal'}
            </button>
            <button type="button" onClick={() => void copySecret(device.secret_key, 'Secret Key')}>
              Copy
            </button>
          </div>
        </dd>
        <dt>Your key fingerprint</dt>
        <dd class="mono fp" data-testid="settings-fingerprint">
          {fp}
        </dd>
      </dl>
      <p class="muted small">The key fingerprint identifies your account's public keys (an admin compares it when confirming you in a company); it is not secret and does not reveal the Secret Key.</p>
      <div class="row end">
        <button type="button" class="primary" onClick={() => download('castellan-emergency-kit.txt', 'text/plain;charset=utf-8', emergencyKitText(server, device.email, device.secret_key))}>
          Download Emergency Kit
        </button>
      </div>
    </div>
  );
}

const TABS: [Tab, string][] = [
  ['password', 'Master password'],
  ['sessions', 'Sessions'],
  ['kit', 'Emergency Kit'],
];

/** The settings dialog (rendered by the vault screen while `settingsOpen` is set). */
export function SettingsHost() {
  const tab = settingsOpen.value;
  if (!tab || !vault.value) return null;
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const i = TABS.findIndex(([t]) => t === tab);
    const n = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length][0];
    settingsOpen.value = n;
    document.getElementById(`settings-tab-${n}`)?.focus();
  };
  return (
    <Dialog title="Account settings" wide testid="settings" onClose={() => (settingsOpen.value = null)}>
      <p class="muted small settings-sub">{cache.device?.email}</p>
      <div class="settings-tabs" role="tablist" aria-label="Settings sections" onKeyDown={onKey}>
        {TABS.map(([t, label]) => (
          <button key={t} type="button" role="tab" id={`settings-tab-${t}`} aria-selected={tab === t} aria-controls="settings-panel" tabIndex={tab === t ? 0 : -1} class={tab === t ? 'active' : ''} onClick={() => (settingsOpen.value = t)}>
            {label}
          </button>
        ))}
      </div>
      <div id="settings-panel" role="tabpanel" aria-labelledby={`settings-tab-${tab}`}>
        {tab === 'password' && <ChangePassword />}
        {tab === 'sessions' && <Sessions />}
        {tab === 'kit' && <EmergencyKit />}
      </div>
      <div class="row end">
        <button type="button" onClick={() => (settingsOpen.value = null)}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

/**
 * The restricted screen's form when an administrator requires a new master password: the
 * session comes from a login a moment ago, so no second login is made (as the Rust
 * `change_password_after_login`). The policy is the last one this browser verified (the
 * membership cannot be read before the change). Afterwards the session may do more, or only set
 * up two-step verification when that is due.
 */
export function RequiredPasswordChange() {
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const policy = knownPolicy();
  const problems = newPasswordProblems('', next, confirm, policy);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const r = restrictedAccount();
    const device = cache.device;
    if (!r || !device) {
      setError('Sign in again first.');
      return;
    }
    if (problems.length) {
      setError(problems.join(' '));
      return;
    }
    setBusy(true);
    try {
      const done = await changePassword({ api: r.api, device, account: r.account, newPassword: next, policy, deviceName: deviceName() });
      await cache.apply({ device: { ...done.device, org: cache.device?.org ?? done.device.org } });
      // What the session may do now: a 403 naming two-step setup means that is due next.
      try {
        await listSessions(r.api);
      } catch (err) {
        if (err instanceof ApiFailure && err.code === 'two_factor_setup_required') {
          loginNotice.value = { restriction: 'two_factor_setup', twoFactorGraceRemaining: loginNotice.value?.twoFactorGraceRemaining ?? null };
          return;
        }
        throw err;
      }
      await leaveRestricted();
    } catch (err) {
      setError(settingsError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="stack" aria-label="Choose a new master password" onSubmit={submit} noValidate>
      <p class="notice" role="status">
        An administrator requires a new master password before anything else. Your Secret Key stays the same; other devices are signed out.
      </p>
      {policy && <PolicyRules policy={policy} />}
      <label>
        New master password
        <input type="password" name="new-password" autoComplete="new-password" autoFocus value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </label>
      <StrengthMeter password={next} />
      <label>
        Confirm new master password
        <input type="password" name="confirm-password" autoComplete="new-password" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
      </label>
      {next.length > 0 && confirm.length > 0 && problems.length > 0 && (
        <ul class="problems" data-testid="password-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Changing… (a few seconds)' : 'Set new master password'}
      </button>
    </form>
  );
}

/** The sidebar's way into the settings. */
export function SettingsButton() {
  return (
    <button type="button" onClick={() => (settingsOpen.value = 'password')}>
      Settings
    </button>
  );
}
