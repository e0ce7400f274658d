// Every field of a PolicySet as a form (company policies and partner templates). Advanced-only
// policies are disabled with an explanation when the plan does not include them.
import { useState } from 'preact/hooks';
import type { GeneratorPolicy, MasterPasswordPolicy, PolicySet } from '../../org/types';

const ADVANCED_NOTE = 'Needs the Advanced plan. Your partner can upgrade the subscription.';

function parseList(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

function ListField(props: { label: string; hint: string; value: string[]; onChange: (v: string[]) => void; disabled?: boolean; name: string }) {
  const [text, setText] = useState(props.value.join(', '));
  return (
    <label>
      {props.label}
      <input
        type="text"
        name={props.name}
        value={text}
        disabled={props.disabled}
        placeholder="none"
        onInput={(e) => {
          setText(e.currentTarget.value);
          props.onChange(parseList(e.currentTarget.value));
        }}
      />
      <span class="hint">{props.hint}</span>
    </label>
  );
}

function NumberField(props: { label: string; value: number | null; onChange: (v: number | null) => void; min: number; max: number; blank?: string; disabled?: boolean; name: string; hint?: string }) {
  return (
    <label>
      {props.label}
      <input
        type="number"
        name={props.name}
        inputMode="numeric"
        min={props.min}
        max={props.max}
        value={props.value ?? ''}
        placeholder={props.blank}
        disabled={props.disabled}
        onInput={(e) => {
          const t = e.currentTarget.value.trim();
          const n = Number.parseInt(t, 10);
          props.onChange(t === '' || !Number.isFinite(n) ? null : Math.max(props.min, Math.min(props.max, n)));
        }}
      />
      {props.hint && <span class="hint">{props.hint}</span>}
    </label>
  );
}

function Check(props: { label: string; checked: boolean; onChange: (v: boolean) => void; disabled?: boolean; hint?: string; name: string }) {
  return (
    <label class="check policy-check">
      <input type="checkbox" name={props.name} checked={props.checked} disabled={props.disabled} onChange={(e) => props.onChange(e.currentTarget.checked)} />
      <span>
        {props.label}
        {props.hint && <span class="hint block">{props.hint}</span>}
      </span>
    </label>
  );
}

const DEFAULT_MP: MasterPasswordPolicy = { min_length: 12, require_uppercase: true, require_lowercase: true, require_digits: true, require_symbols: false, max_age_days: null };
const DEFAULT_GEN: GeneratorPolicy = { min_length: 20, require_uppercase: true, require_lowercase: true, require_digits: true, require_symbols: true };

function Rules<T extends { require_uppercase: boolean; require_lowercase: boolean; require_digits: boolean; require_symbols: boolean }>(props: { v: T; set: (v: T) => void; disabled?: boolean; prefix: string }) {
  const keys = [
    ['require_uppercase', 'Uppercase letter'],
    ['require_lowercase', 'Lowercase letter'],
    ['require_digits', 'Digit'],
    ['require_symbols', 'Symbol'],
  ] as const;
  return (
    <div class="checks">
      {keys.map(([k, label]) => (
        <Check key={k} name={`${props.prefix}-${k}`} label={label} checked={props.v[k]} disabled={props.disabled} onChange={(c) => props.set({ ...props.v, [k]: c })} />
      ))}
    </div>
  );
}

export function PolicyForm(props: { value: PolicySet; onChange: (p: PolicySet) => void; advancedAllowed: boolean; readOnly?: boolean }) {
  const p = props.value;
  const ro = props.readOnly;
  const set = (patch: Partial<PolicySet>) => props.onChange({ ...p, ...patch });
  const adv = !props.advancedAllowed || ro;
  return (
    <div class="policy-form">
      <fieldset class="policy-group">
        <legend>Sign-in</legend>
        <Check name="require_two_factor" label="Require two-step verification" hint="Members get three logins to set it up, then they can only enrol." checked={p.require_two_factor} disabled={ro} onChange={(c) => set({ require_two_factor: c })} />
        <NumberField name="max_vault_timeout_minutes" label="Maximum vault timeout (minutes)" blank="no limit" min={1} max={10080} value={p.max_vault_timeout_minutes} disabled={ro} onChange={(v) => set({ max_vault_timeout_minutes: v })} hint="Apps lock after at most this much idle time." />
      </fieldset>

      <fieldset class="policy-group">
        <legend>Master password</legend>
        <Check name="master_password" label="Enforce master password rules" hint="Checked by each member's app when they register through an invitation and at every change." checked={p.master_password !== null} disabled={ro} onChange={(c) => set({ master_password: c ? { ...DEFAULT_MP } : null })} />
        {p.master_password && (
          <div class="indent">
            <div class="grid2">
              <NumberField name="mp_min_length" label="Minimum length" min={8} max={128} value={p.master_password.min_length} disabled={ro} onChange={(v) => set({ master_password: { ...p.master_password!, min_length: v ?? 8 } })} />
              <NumberField name="mp_max_age_days" label="Change every (days)" blank="never" min={1} max={3650} value={p.master_password.max_age_days} disabled={ro} onChange={(v) => set({ master_password: { ...p.master_password!, max_age_days: v } })} />
            </div>
            <Rules prefix="mp" v={p.master_password} disabled={ro} set={(v) => set({ master_password: v })} />
          </div>
        )}
      </fieldset>

      <fieldset class="policy-group">
        <legend>Password generator</legend>
        <Check name="password_generator" label="Minimum generator settings" checked={p.password_generator !== null} disabled={ro} onChange={(c) => set({ password_generator: c ? { ...DEFAULT_GEN } : null })} />
        {p.password_generator && (
          <div class="indent">
            <NumberField name="gen_min_length" label="Minimum length" min={8} max={128} value={p.password_generator.min_length} disabled={ro} onChange={(v) => set({ password_generator: { ...p.password_generator!, min_length: v ?? 8 } })} />
            <Rules prefix="gen" v={p.password_generator} disabled={ro} set={(v) => set({ password_generator: v })} />
          </div>
        )}
      </fieldset>

      <fieldset class="policy-group">
        <legend>Business data</legend>
        <ListField name="force_business_domains" label="Force these domains into the Business profile" hint="Comma-separated, e.g. example.com" value={p.force_business_domains} disabled={ro} onChange={(v) => set({ force_business_domains: v })} />
        <Check name="remove_business_items_on_removal" label="Remove Business profile items when users are removed" checked={p.remove_business_items_on_removal} disabled={ro} onChange={(c) => set({ remove_business_items_on_removal: c })} />
        <Check name="disable_personal_export" label="Disable export of the Personal profile" checked={p.disable_personal_export} disabled={ro} onChange={(c) => set({ disable_personal_export: c })} />
        <ListField name="user_change_notifications" label="Also notify when users are added or removed" hint="Email addresses, comma-separated" value={p.user_change_notifications} disabled={ro} onChange={(v) => set({ user_change_notifications: v })} />
      </fieldset>

      <fieldset class="policy-group advanced" aria-describedby={adv && !ro ? 'advanced-note' : undefined}>
        <legend>
          Advanced <span class="badge badge-info">Advanced plan</span>
        </legend>
        {!props.advancedAllowed && (
          <p class="note" id="advanced-note">
            {ADVANCED_NOTE}
          </p>
        )}
        <div class="field" data-testid="policy-org-backup">
          <span>Organisation backup</span>
          <span class="hint block">{backupLine(p.org_backup)}</span>
          <span class="hint block">Backup has its own page (it needs a key made in this browser); saving this form keeps it as it is.</span>
        </div>
        <Check name="exclude_business_from_emergency_access" label="Keep Business items away from emergency contacts" checked={p.exclude_business_from_emergency_access} disabled={adv} onChange={(c) => set({ exclude_business_from_emergency_access: c })} />
        <Check name="restrict_portal_access" label="Restrict the portal to administrators" checked={p.restrict_portal_access} disabled={adv} onChange={(c) => set({ restrict_portal_access: c })} />
        <ListField name="restrict_sharing_domains" label="Share only with these email domains" hint="Empty = no restriction" value={p.restrict_sharing_domains} disabled={adv} onChange={(v) => set({ restrict_sharing_domains: v })} />
        <Check name="password_auditing" label="Password auditing (apps report item events to the audit log)" checked={p.password_auditing} disabled={adv} onChange={(c) => set({ password_auditing: c })} />
      </fieldset>
    </div>
  );
}

/** "Organisation backup: offline key, key version 2" or "... off". */
export function backupLine(b: PolicySet['org_backup']): string {
  if (!b) return 'Organisation backup: off';
  return `Organisation backup: ${b.mode === 'offline-key' ? 'offline key' : 'Recovery Group'}, key version ${b.key_version}, kept ${b.retention_days} days`;
}

/** One line per policy that is on, for summaries. */
export function policySummary(p: PolicySet): string[] {
  const out: string[] = [];
  if (p.require_two_factor) out.push('Two-step verification required');
  if (p.master_password) {
    const m = p.master_password;
    const rules = [m.require_uppercase && 'uppercase', m.require_lowercase && 'lowercase', m.require_digits && 'digit', m.require_symbols && 'symbol'].filter(Boolean);
    out.push(`Master password: at least ${m.min_length} characters${rules.length ? ` with ${rules.join(', ')}` : ''}${m.max_age_days ? `, changed every ${m.max_age_days} days` : ''}`);
  }
  if (p.max_vault_timeout_minutes) out.push(`Vault locks after at most ${p.max_vault_timeout_minutes} min idle`);
  if (p.password_generator) out.push(`Generated passwords: at least ${p.password_generator.min_length} characters`);
  if (p.force_business_domains.length) out.push(`Business domains: ${p.force_business_domains.join(', ')}`);
  if (p.remove_business_items_on_removal) out.push('Business items removed with the user');
  if (p.disable_personal_export) out.push('Personal export disabled');
  if (p.user_change_notifications.length) out.push(`User changes notified to ${p.user_change_notifications.join(', ')}`);
  if (p.org_backup) out.push(backupLine(p.org_backup));
  if (p.exclude_business_from_emergency_access) out.push('No Business items for emergency contacts');
  if (p.restrict_portal_access) out.push('Portal restricted to administrators');
  if (p.restrict_sharing_domains.length) out.push(`Sharing only with ${p.restrict_sharing_domains.join(', ')}`);
  if (p.password_auditing) out.push('Password auditing on');
  return out;
}
