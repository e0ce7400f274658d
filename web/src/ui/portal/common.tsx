// Building blocks of the portal pages: dialogs, confirmation, data loading, badges, states.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, Unreachable } from '../../client/api';
import { IntegrityError } from '../../client/account';

let dialogSeq = 0;

/** A modal dialog: labelled, Escape and the backdrop close it, Tab stays inside, focus returns. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean; testid?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [id] = useState(() => `dlg-${++dialogSeq}`);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button.primary, button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        props.onClose();
      }
      if (e.key === 'Tab' && el) {
        const f = [...el.querySelectorAll<HTMLElement>('button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea, a[href], [tabindex]:not([tabindex="-1"])')];
        if (!f.length) return;
        const i = f.indexOf(document.activeElement as HTMLElement);
        if (e.shiftKey && i <= 0) {
          e.preventDefault();
          f[f.length - 1].focus();
        } else if (!e.shiftKey && i === f.length - 1) {
          e.preventDefault();
          f[0].focus();
        }
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => {
      window.removeEventListener('keydown', onKey, true);
      prev?.focus?.();
    };
  }, []);
  return (
    <div class="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div ref={ref} class={`card modal ${props.wide ? 'wide' : ''}`} role="dialog" aria-modal="true" aria-labelledby={id} data-testid={props.testid}>
        <h2 id={id}>{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}

/** "Are you sure?" for destructive actions; the action runs from the confirm button only. */
export function ConfirmDialog(props: { title: string; body: ComponentChildren; confirmLabel: string; danger?: boolean; onConfirm: () => Promise<unknown>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <div class="dialog-body">{props.body}</div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row end">
        <button type="button" onClick={props.onClose} disabled={busy}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger ? 'danger' : 'primary'}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await props.onConfirm();
              props.onClose();
            } catch (e) {
              setError(portalError(e));
              setBusy(false);
            }
          }}
        >
          {busy ? 'Working…' : props.confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

/** A message for people: the server's own words for refusals, a clear note for the rest. */
export function portalError(e: unknown): string {
  if (e instanceof Unreachable) return 'The server cannot be reached. Check the connection and try again.';
  if (e instanceof IntegrityError) return `Refused for your security: ${e.message}`;
  if (e instanceof ApiFailure) {
    if (e.code === 'plan_required') return `${e.message} (this needs the Advanced plan)`;
    if (e.status === 401) return 'Your session expired; sign in again.';
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Loads data for a page; `reload()` fetches again (after a change). */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    fn().then(
      (d) => {
        if (seq.current !== mine) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (seq.current !== mine) return;
        setError(portalError(e));
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export function PageHead(props: { title: string; sub?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <header class="page-head">
      <div class="grow">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        {props.sub && <p class="muted">{props.sub}</p>}
      </div>
      {props.children && <div class="row">{props.children}</div>}
    </header>
  );
}

export function Badge(props: { kind: 'ok' | 'warn' | 'bad' | 'info' | 'muted'; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${props.kind}`} title={props.title}>
      {props.children}
    </span>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty portal-empty" data-testid="empty-state">
      <h3>{props.title}</h3>
      {props.children}
    </div>
  );
}

export function LoadState<T>(props: { l: Loaded<T>; what: string }) {
  if (props.l.error)
    return (
      <div class="error-box" role="alert">
        <p>
          Could not load {props.what}: {props.l.error}
        </p>
        <button type="button" onClick={props.l.reload}>
          Try again
        </button>
      </div>
    );
  if (props.l.loading && props.l.data === null)
    return (
      <p class="muted loading" aria-busy="true">
        Loading {props.what}…
      </p>
    );
  return null;
}

/** Runs an action with busy/error state for a button or form. */
export function useAction(): { busy: boolean; error: string | null; run: (f: () => Promise<unknown>) => Promise<boolean>; setError: (e: string | null) => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      return true;
    } catch (e) {
      setError(portalError(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

export function ErrorText(props: { error: string | null }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : null;
}

export const PLAN_LABEL: Record<string, string> = { trial: 'Trial', standard: 'Standard', advanced: 'Advanced' };
export const ROLE_LABEL: Record<string, string> = { admin: 'Admin', technician: 'Technician', user: 'User' };

export function formatDate(unix: number | null | undefined): string {
  if (!unix) return '—';
  return new Date(unix * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}
export function formatDateTime(unix: number): string {
  return new Date(unix * 1000).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Saves text as a file through a temporary object URL (no inline script, CSP-safe). */
export function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
