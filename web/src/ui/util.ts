import { signal } from '@preact/signals';

export const toast = signal<{ text: string; id: number } | null>(null);
let toastId = 0;
export function showToast(text: string): void {
  const id = ++toastId;
  toast.value = { text, id };
  setTimeout(() => {
    if (toast.value?.id === id) toast.value = null;
  }, 2500);
}

export const CLIPBOARD_CLEAR_SECONDS = 30;
let clearTimer: ReturnType<typeof setTimeout> | null = null;

/** Copies a value and clears the clipboard after 30 s if it still holds that value. */
export async function copySecret(value: string, label: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    showToast('Copy failed: the browser refused clipboard access');
    return;
  }
  showToast(`${label} copied; the clipboard clears in ${CLIPBOARD_CLEAR_SECONDS} s`);
  if (clearTimer) clearTimeout(clearTimer);
  clearTimer = setTimeout(async () => {
    clearTimer = null;
    try {
      const now = await navigator.clipboard.readText();
      if (now !== value) return;
    } catch {
      // Reading may be refused; clear anyway, the value was ours a moment ago.
    }
    try {
      await navigator.clipboard.writeText('');
    } catch {
      // The page may have lost focus; nothing more can be done.
    }
  }, CLIPBOARD_CLEAR_SECONDS * 1000);
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export function formatTime(unix: number): string {
  return new Date(unix * 1000).toLocaleString();
}
