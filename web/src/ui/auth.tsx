import { useState } from 'preact/hooks';
import { WrongCredentials } from '../client/account';
import { Unreachable } from '../client/api';
import { bootError, cache, continueFromKit, doLogin, doRegister, doUnlock, kit, logout, phase, twoFactorAsk, useHere } from '../state';
import { copySecret, errorText } from './util';
import { TwoFactorCodeForm } from './twofactor';

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

function message(e: unknown): string {
  if (e instanceof WrongCredentials) return e.message;
  if (e instanceof Unreachable) return 'The server cannot be reached. Check your connection and try again.';
  return errorText(e);
}

export function LoginScreen() {
  const [email, setEmail] = useState(cache.device?.email ?? '');
  const [password, setPassword] = useState('');
  const [secretKey, setSecretKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(bootError.value);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await doLogin(email, password, secretKey);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  if (twoFactorAsk.value)
    return (
      <main class="auth">
        <TwoFactorCodeForm />
      </main>
    );
  return (
    <main class="auth">
      <form class="card auth-card" onSubmit={submit} aria-labelledby="login-title">
        <Brand />
        <h1 id="login-title">Sign in</h1>
        <p class="muted">Your master password and Secret Key never leave this browser.</p>
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Master password
          <input type="password" name="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Secret Key
          <input type="password" name="secret-key" autoComplete="off" spellcheck={false} placeholder="CK1-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX-X" value={secretKey} onInput={(e) => setSecretKey(e.currentTarget.value)} />
          <span class="hint">{cache.device ? 'Stored on this browser for this account: leave it blank.' : 'From your Emergency Kit; needed once on each new browser.'}</span>
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="switch">
          New to Castellan?{' '}
          <button type="button" class="link" onClick={() => (phase.value = 'register')}>
            Create an account
          </button>
        </p>
      </form>
    </main>
  );
}

export function RegisterScreen() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (password !== confirm) {
      setError('The two passwords differ.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await doRegister(email, password);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  return (
    <main class="auth">
      <form class="card auth-card" onSubmit={submit} aria-labelledby="register-title">
        <Brand />
        <h1 id="register-title">Create your account</h1>
        <p class="muted">Choose a master password of at least 8 characters. Castellan cannot reset it for you.</p>
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Master password
          <input type="password" name="new-password" autoComplete="new-password" minLength={8} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Confirm master password
          <input type="password" name="confirm-password" autoComplete="new-password" minLength={8} required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Creating account…' : 'Create account'}
        </button>
        <p class="switch">
          Already have an account?{' '}
          <button type="button" class="link" onClick={() => (phase.value = 'login')}>
            Sign in
          </button>
        </p>
      </form>
    </main>
  );
}

export function KitScreen() {
  const k = kit.value;
  const [saved, setSaved] = useState(false);
  if (!k) return null;
  return (
    <main class="auth">
      <section class="card kit" aria-labelledby="kit-title">
        <Brand />
        <h1 id="kit-title">Your Emergency Kit</h1>
        <p class="muted">Print or write this down and keep it somewhere safe. You need the Secret Key, with your master password, to sign in on a new device. It is shown only now.</p>
        <dl class="kit-fields">
          <dt>Sign-in address</dt>
          <dd>{k.server}</dd>
          <dt>Email</dt>
          <dd>{k.email}</dd>
          <dt>Secret Key</dt>
          <dd class="mono secret-key" data-testid="secret-key">
            {k.secretKey}
          </dd>
          <dt>Master password</dt>
          <dd class="blank">(write it here by hand)</dd>
        </dl>
        <div class="row">
          <button type="button" onClick={() => copySecret(k.secretKey, 'Secret Key')}>
            Copy Secret Key
          </button>
          <button type="button" onClick={() => window.print()}>
            Print
          </button>
        </div>
        <label class="check">
          <input type="checkbox" checked={saved} onChange={(e) => setSaved(e.currentTarget.checked)} /> I have saved my Emergency Kit
        </label>
        <button class="primary" type="button" disabled={!saved} onClick={continueFromKit}>
          Open my vault
        </button>
      </section>
    </main>
  );
}

export function UnlockScreen() {
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await doUnlock(password);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  return (
    <main class="auth">
      <form class="card auth-card" onSubmit={submit} aria-labelledby="unlock-title">
        <Brand />
        <h1 id="unlock-title">Unlock</h1>
        <p class="muted">{cache.device?.email}</p>
        <label>
          Master password
          <input type="password" name="password" autoComplete="current-password" required autoFocus value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Unlocking…' : 'Unlock'}
        </button>
        <p class="switch">
          Changed your master password on another device?{' '}
          <button type="button" class="link" onClick={() => (phase.value = 'login')}>
            Sign in online
          </button>
        </p>
        <p class="switch">
          <button
            type="button"
            class="link"
            onClick={async () => {
              try {
                await logout(false);
              } catch (err) {
                if (window.confirm(`${errorText(err)}. Forget this account on this browser anyway? Those changes will be lost.`)) await logout(true);
              }
            }}
          >
            Sign in with another account
          </button>
        </p>
      </form>
    </main>
  );
}

export function OtherTabScreen() {
  return (
    <main class="auth">
      <section class="card auth-card" aria-labelledby="tab-title">
        <Brand />
        <h1 id="tab-title">Open in another tab</h1>
        <p class="muted">Castellan is open in another tab or window of this browser. Use one at a time, so that both do not change the offline vault at once.</p>
        <button class="primary" type="button" onClick={() => void useHere()}>
          Use it here
        </button>
      </section>
    </main>
  );
}
