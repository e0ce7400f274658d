import { useEffect, useState } from 'preact/hooks';
import type { ItemData } from '../model/item';
import { typeInfo } from '../model/item';
import type { ListedItem, VaultClient } from '../client/vault';
import { TotpCode } from './totp';
import { copySecret, errorText, formatTime } from './util';
import { shareCanWrite, shareHidesSecrets, shareRing } from '../share/ring';
import { HiddenSecret, RoleBadge } from './shares';

function Field(props: { label: string; value: string; secret?: boolean; url?: boolean; multiline?: boolean }) {
  const [shown, setShown] = useState(false);
  const hidden = props.secret && !shown;
  return (
    <div class="field">
      <div class="field-label">{props.label}</div>
      <div class="field-value">
        <span class={`${props.secret ? 'mono' : ''} ${props.multiline ? 'pre' : ''}`} data-field={props.label}>
          {hidden ? '••••••••••••' : props.url ? <a href={/^https?:\/\//i.test(props.value) ? props.value : `https://${props.value}`} target="_blank" rel="noopener noreferrer">{props.value}</a> : props.value}
        </span>
        <span class="field-actions">
          {props.secret && (
            <button type="button" class="icon-btn" aria-label={`${shown ? 'Hide' : 'Reveal'} ${props.label}`} aria-pressed={shown} onClick={() => setShown(!shown)}>
              {shown ? 'Hide' : 'Reveal'}
            </button>
          )}
          <button type="button" class="icon-btn" aria-label={`Copy ${props.label}`} onClick={() => copySecret(props.value, props.label)}>
            Copy
          </button>
        </span>
      </div>
    </div>
  );
}

export function Detail(props: { client: VaultClient; item: ListedItem; onEdit: (data: ItemData) => void; onGone: () => void }) {
  const { client, item } = props;
  const [data, setData] = useState<ItemData | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    setError(null);
    client.getItem(item.id).then(
      (r) => alive && setData(r.data),
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [item.id, item.version, item.vaultId, item.status]);
  if (error)
    return (
      <section class="detail" aria-label="Item details">
        <p class="error" role="alert">
          {error}
        </p>
      </section>
    );
  if (!data) return <section class="detail" aria-label="Item details" aria-busy="true" />;
  const info = typeInfo(data.type);
  const share = item.shareId ? shareRing(client.account).get(item.shareId) ?? null : null;
  const readOnly = !!share && !shareCanWrite(share);
  const hidden = !!share && shareHidesSecrets(share);
  const act = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section class="detail" aria-label="Item details">
      <header class="detail-head">
        <div class={`type-icon t-${data.type}`} aria-hidden="true">
          {info.label.slice(0, 1)}
        </div>
        <div class="detail-title">
          <h2 data-testid="detail-title">{data.title}</h2>
          <div class="muted">
            {info.label} · {share ? `Shared folders › ${share.name}` : item.profile === 'personal' ? 'Personal' : 'Business'}
            {data.folder_id ? ` · ${client.folderPath(data.folder_id)}` : ''}
            {share && <RoleBadge role={share.role} />}
          </div>
        </div>
        <div class="row">
          {readOnly ? (
            <span class="muted small" data-testid="read-only-note">Read-only: you cannot change items of this shared folder.</span>
          ) : !item.trashed ? (
            <>
              <button type="button" aria-pressed={data.favorite} aria-label={data.favorite ? 'Remove from favourites' : 'Add to favourites'} class="icon-btn" onClick={() => act(() => client.updateItem(item.id, (d) => void (d.favorite = !d.favorite)))}>
                {data.favorite ? '★' : '☆'}
              </button>
              <button type="button" onClick={() => props.onEdit(data)}>
                Edit
              </button>
              <button type="button" class="danger-ghost" onClick={() => act(() => client.updateItem(item.id, () => undefined, { trashed: true }))}>
                Move to trash
              </button>
            </>
          ) : (
            <>
              <button type="button" onClick={() => act(() => client.updateItem(item.id, () => undefined, { trashed: false }))}>
                Restore
              </button>
              <button
                type="button"
                class="danger"
                onClick={() =>
                  act(async () => {
                    if (window.confirm('Delete this item for good? This cannot be undone.')) {
                      await client.purgeItem(item.id);
                      props.onGone();
                    }
                  })
                }
              >
                Delete for good
              </button>
            </>
          )}
        </div>
      </header>
      <div class="fields">
        {info.fields
          .filter((s) => data.fields[s.name])
          .map((s) =>
            hidden && (s.kind === 'secret' || s.kind === 'totp') ? (
              <HiddenSecret key={s.name} label={s.label} />
            ) : s.kind === 'totp' ? (
              <div class="field" key={s.name}>
                <div class="field-label">{s.label}</div>
                <div class="field-value">
                  <TotpCode seed={data.fields[s.name]} />
                </div>
              </div>
            ) : (
              <Field key={s.name} label={s.label} value={data.fields[s.name]} secret={s.kind === 'secret'} url={s.kind === 'url'} multiline={s.kind === 'multiline'} />
            ),
          )}
        {Object.keys(data.fields)
          .filter((k) => !info.fields.some((s) => s.name === k))
          .map((k) => (
            <Field key={k} label={k} value={data.fields[k]} />
          ))}
        {data.custom_fields.map((c) => (hidden && c.hidden ? <HiddenSecret key={`c-${c.name}`} label={c.name} /> : <Field key={`c-${c.name}`} label={c.name} value={c.value} secret={c.hidden} />))}
        {data.notes && <Field label="Notes" value={data.notes} multiline />}
        {data.tags.length > 0 && (
          <div class="field">
            <div class="field-label">Tags</div>
            <div class="field-value tags">
              {data.tags.map((t) => (
                <span class="tag" key={t}>
                  {t}
                </span>
              ))}
            </div>
          </div>
        )}
      </div>
      {data.password_history.length > 0 && !hidden && (
        <details class="history">
          <summary>Password history ({data.password_history.length})</summary>
          <ul>
            {data.password_history.map((h, i) => (
              <li key={i}>
                <span class="muted">{h.field}</span> · {formatTime(h.replaced_at)}{' '}
                <button type="button" class="icon-btn" aria-label={`Copy old ${h.field}`} onClick={() => copySecret(h.password, 'Old password')}>
                  Copy
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
      <footer class="muted small">
        Created {formatTime(data.created_at)} · Updated {formatTime(data.updated_at)} · Version {item.version}
      </footer>
    </section>
  );
}
