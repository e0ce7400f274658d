// Notices of the member's organisation backup over the item list (src/org/member-backup.ts):
// items an administrator restored into the Business profile, a handover refused for the
// member's security (never imported), and a backup that could not be written.
import type { VaultClient } from '../client/vault';
import { memberBackupOf } from '../org/member-backup';
import './member-backup.css';

export function MemberBackupNotices(props: { client: VaultClient }) {
  const mb = memberBackupOf(props.client);
  if (!mb) return null;
  const notices = mb.notices.value;
  if (notices.length === 0) return null;
  return (
    <div class="mb-notices" data-testid="backup-notices">
      {notices.map((n) => (
        <div key={n.id} class={`mb-notice mb-${n.kind}`} role={n.kind === 'restored' ? 'status' : 'alert'} data-testid={`backup-notice-${n.kind}`}>
          <span class="mb-icon" aria-hidden="true">
            {n.kind === 'restored' ? '✓' : '!'}
          </span>
          <span class="grow">{n.text}</span>
          <button type="button" class="mb-dismiss" aria-label="Dismiss this notice" onClick={() => mb.dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
