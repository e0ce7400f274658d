// Two-step verification in the browser: the code asked during sign-in, enrolment (QR code of
// the otpauth URI, then the recovery codes), the screen of a restricted session, and the notice
// of the grace logins left.
import { signal } from '@preact/signals';
import { useMemo, useState } from 'preact/hooks';
import { renderSVG } from 'uqr';
import { leaveRestricted, loginNotice, logout, sessionApi, twoFactorAsk } from '../state';
import { Dialog } from './portal/common';
import { copySecret, errorText } from './util';
import { RequiredPasswordChange } from './settings';

/** The code form shown in place of the sign-in form while the login waits for it. */
export function TwoFactorCodeForm() {
  const ask = twoFactorAsk.value;
  const [code, setCode] = useState('');
  if (!ask) return null;
  return (
    <form
      class="card auth-card"
      aria-labelledby="tf-title"
      onSubmit={(e) => {
        e.preventDefault();
        const c = code;
        setCode('');
        ask.resolve(c);
      }}
    >
      <h1 id="tf-title">Two-step verification</h1>
      <p class="muted">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
      <label>
        Code
        <input type="text" name="two-factor-code" inputMode="numeric" autoComplete="one-time-code" autoFocus required spellcheck={false} value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </label>
      {ask.retry && (
        <p class="error" role="alert">
          That code is wrong, expired or used already. Try the next one.
        </p>
      )}
      <div class="row">
        <button class="primary" type="submit">
          Verify
        </button>
        <button type="button" onClick={() => ask.reject(new Error('sign-in cancelled'))}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function qrDataUrl(text: string): string {
  const svg = renderSVG(text, { border: 2 });
  return `data:image/svg+xml;base64,${btoa(svg)}`;
}

/** Enrolment: POST /account/2fa/enroll, scan or type the secret, confirm with a code, recovery codes. */
export function EnrolTwoFactor(props: { onDone: () => void }) {
  const [enrol, setEnrol] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const qr = useMemo(() => (enrol ? qrDataUrl(enrol.otpauth_uri) : null), [enrol]);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const api = sessionApi();
  if (codes) {
    const text = codes.join('\n');
    return (
      <div class="stack" data-testid="tf-recovery">
        <p>
          Two-step verification is on. Keep these <strong>recovery codes</strong> somewhere safe: each one signs you in once when your authenticator app is not at hand. They are shown only now.
        </p>
        <ul class="recovery-codes mono" aria-label="Recovery codes">
          {codes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
        <div class="row">
          <button type="button" onClick={() => void copySecret(text, 'Recovery codes')}>
            Copy
          </button>
          <a class="button-link" download="castellan-recovery-codes.txt" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text + '\n')}`}>
            Download
          </a>
          <button type="button" class="primary" onClick={props.onDone}>
            I saved them: continue
          </button>
        </div>
      </div>
    );
  }
  if (!enrol) {
    return (
      <div class="stack">
        <p>Use an authenticator app (one that reads TOTP QR codes). You will scan a code, then type the code it shows.</p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="button" class="primary" disabled={busy || !api} onClick={() => run(async () => setEnrol(await api!.twoFactorEnroll()))}>
          {busy ? 'Starting…' : 'Set up two-step verification'}
        </button>
      </div>
    );
  }
  return (
    <form
      class="stack"
      aria-label="Confirm two-step verification"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => setCodes((await api!.twoFactorConfirm(code.trim())).recovery_codes));
      }}
    >
      <p>Scan this QR code with your authenticator app, or type the secret by hand.</p>
      {qr && <img class="qr" src={qr} width={200} height={200} alt="QR code of the two-step verification secret" data-testid="tf-qr" />}
      <p>
        Secret: <code class="mono" data-testid="tf-secret">{enrol.secret}</code>
      </p>
      <label>
        Code from the app
        <input type="text" name="two-factor-confirm" inputMode="numeric" autoComplete="one-time-code" required autoFocus value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Checking…' : 'Turn on'}
      </button>
    </form>
  );
}

/** A session that may only fix something first (the login answer's `restriction`). */
export function RestrictedScreen() {
  const r = loginNotice.value?.restriction ?? null;
  return (
    <main class="auth">
      <div class="card auth-card" aria-labelledby="restricted-title">
        <h1 id="restricted-title">{r === 'password_change' ? 'New master password required' : 'Set up two-step verification'}</h1>
        {r === 'password_change' ? (
          <RequiredPasswordChange />
        ) : (
          <>
            <p class="notice" role="status">
              Your company requires two-step verification and the logins allowed without it are used up. Set it up to open your vault.
            </p>
            <EnrolTwoFactor onDone={() => void leaveRestricted()} />
          </>
        )}
        <button type="button" class="link" onClick={() => void logout(false).catch(() => logout(true))}>
          Sign out
        </button>
      </div>
    </main>
  );
}

/** Whether the enrolment dialog of the vault is open (the sidebar button and the notice open it). */
export const enrolOpen = signal(false);

/** The vault's notice of the grace logins left, and the enrolment dialog (kept out of the sidebar's styles). */
export function TwoFactorGraceNotice() {
  const n = loginNotice.value?.twoFactorGraceRemaining ?? null;
  return (
    <>
      {n !== null && (
        <p class="notice banner" role="status" data-testid="tf-grace">
          Your company requires two-step verification: {n === 0 ? 'this is your last login without it' : `${n} more login${n === 1 ? '' : 's'} without it`}.{' '}
          <button type="button" class="link" onClick={() => (enrolOpen.value = true)}>
            Set it up now
          </button>
        </p>
      )}
      {enrolOpen.value && (
        <Dialog title="Two-step verification" onClose={() => (enrolOpen.value = false)}>
          <EnrolTwoFactor
            onDone={() => {
              enrolOpen.value = false;
              loginNotice.value = null;
            }}
          />
        </Dialog>
      )}
    </>
  );
}

/** The sidebar's entry to enrolment (the server answers 409 when it is on already). */
export function TwoFactorButton() {
  return (
    <button type="button" onClick={() => (enrolOpen.value = true)}>
      Two-step verification
    </button>
  );
}
