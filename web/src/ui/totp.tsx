import { useEffect, useState } from 'preact/hooks';
import { parseTotp, secondsRemaining, totpCode } from '../crypto/totp';
import { copySecret } from './util';

/** A live one-time code with its countdown. */
export function TotpCode(props: { seed: string }) {
  const [code, setCode] = useState<string | null>(null);
  const [left, setLeft] = useState(0);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    let spec: ReturnType<typeof parseTotp>;
    try {
      spec = parseTotp(props.seed);
    } catch (e) {
      setErr((e as Error).message);
      return;
    }
    let alive = true;
    const tick = async () => {
      const t = Date.now() / 1000;
      const c = await totpCode(spec, t);
      if (!alive) return;
      setCode(c);
      setLeft(secondsRemaining(spec, t));
    };
    void tick();
    const h = setInterval(tick, 1000);
    return () => {
      alive = false;
      clearInterval(h);
    };
  }, [props.seed]);
  if (err) return <span class="error">Invalid one-time code seed: {err}</span>;
  if (!code) return <span class="muted">…</span>;
  const shown = code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
  return (
    <span class="totp">
      <span class="mono totp-code" data-testid="totp-code" aria-live="polite">
        {shown}
      </span>
      <span class={`totp-left ${left <= 5 ? 'soon' : ''}`} aria-label={`${left} seconds left`}>
        {left}s
      </span>
      <button type="button" class="icon-btn" aria-label="Copy one-time code" onClick={() => copySecret(code, 'One-time code')}>
        Copy
      </button>
    </span>
  );
}
