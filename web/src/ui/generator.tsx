import { useState } from 'preact/hooks';
import { DEFAULT_POLICY, generatePassword, type PasswordPolicy } from '../crypto/generate';
import { copySecret, errorText } from './util';

export function Generator(props: { onUse?: (pw: string) => void; onClose: () => void }) {
  const [policy, setPolicy] = useState<PasswordPolicy>(DEFAULT_POLICY);
  const make = (p: PasswordPolicy) => {
    try {
      return generatePassword(p);
    } catch (e) {
      return `⚠ ${errorText(e)}`;
    }
  };
  const [pw, setPw] = useState(() => make(DEFAULT_POLICY));
  const update = (p: PasswordPolicy) => {
    setPolicy(p);
    setPw(make(p));
  };
  const toggle = (k: 'lowercase' | 'uppercase' | 'digits' | 'symbols' | 'avoidAmbiguous', label: string) => (
    <label class="check">
      <input type="checkbox" checked={policy[k]} onChange={(e) => update({ ...policy, [k]: e.currentTarget.checked })} /> {label}
    </label>
  );
  return (
    <div class="modal-backdrop" role="presentation" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="modal card" role="dialog" aria-modal="true" aria-labelledby="gen-title" onKeyDown={(e) => e.key === 'Escape' && props.onClose()}>
        <h2 id="gen-title">Password generator</h2>
        <output class="mono generated" data-testid="generated-password" aria-live="polite">
          {pw}
        </output>
        <label>
          Length: {policy.length}
          <input type="range" min={4} max={64} value={policy.length} onInput={(e) => update({ ...policy, length: Number(e.currentTarget.value) })} aria-label="Password length" />
        </label>
        <div class="checks">
          {toggle('lowercase', 'a-z')}
          {toggle('uppercase', 'A-Z')}
          {toggle('digits', '0-9')}
          {toggle('symbols', 'Symbols')}
          {toggle('avoidAmbiguous', 'Avoid look-alikes')}
        </div>
        <div class="row">
          <button type="button" onClick={() => setPw(make(policy))}>
            Regenerate
          </button>
          <button type="button" onClick={() => copySecret(pw, 'Password')}>
            Copy
          </button>
          {props.onUse && (
            <button type="button" class="primary" onClick={() => props.onUse!(pw)}>
              Use this password
            </button>
          )}
          <button type="button" class="ghost" onClick={props.onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
