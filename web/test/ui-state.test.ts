// Small pieces of UI state: idle lock, clipboard clearing, JSON import.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdleTimer } from '../src/client/idle';
import { parseImport } from '../src/model/import';
import { CLIPBOARD_CLEAR_SECONDS, copySecret } from '../src/ui/util';

describe('idle lock', () => {
  it('locks once after the timeout without activity, never while the user is active', () => {
    let t = 0;
    let locked = 0;
    const idle = new IdleTimer(10 * 60 * 1000, () => locked++, () => t);
    for (let i = 0; i < 30; i++) {
      t += 60 * 1000;
      idle.bump();
      expect(idle.check()).toBe(false);
    }
    t += 10 * 60 * 1000;
    expect(idle.check()).toBe(false);
    t += 1;
    expect(idle.check()).toBe(true);
    expect(idle.check()).toBe(false);
    expect(locked).toBe(1);
  });
});

describe('copy buttons', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  function fakeClipboard() {
    const clip = { text: '', writeText: async (t: string) => void (clip.text = t), readText: async () => clip.text };
    vi.stubGlobal('navigator', { clipboard: clip });
    return clip;
  }

  it('clears the clipboard after 30 s when it still holds the copied value', async () => {
    vi.useFakeTimers();
    const clip = fakeClipboard();
    await copySecret('hunter2-secret', 'Password');
    expect(clip.text).toBe('hunter2-secret');
    await vi.advanceTimersByTimeAsync((CLIPBOARD_CLEAR_SECONDS - 1) * 1000);
    expect(clip.text).toBe('hunter2-secret');
    await vi.advanceTimersByTimeAsync(2000);
    expect(clip.text).toBe('');
  });

  it('leaves the clipboard alone when the user copied something else meanwhile', async () => {
    vi.useFakeTimers();
    const clip = fakeClipboard();
    await copySecret('first-secret', 'Password');
    clip.text = 'something the user copied';
    await vi.advanceTimersByTimeAsync(31000);
    expect(clip.text).toBe('something the user copied');
  });
});

describe('JSON import', () => {
  it('builds items with the same field rules as the editor', () => {
    const items = parseImport(JSON.stringify([{ type: 'server', title: 'Web 1', fields: { hostname: 'web1', password: 'pw', 'api token': 't' }, tags: ['b', 'a'] }, { title: 'Plain' }]), 100);
    expect(items).toHaveLength(2);
    expect(items[0].fields).toEqual({ hostname: 'web1', password: 'pw' });
    expect(items[0].custom_fields).toEqual([{ name: 'api token', value: 't', hidden: true }]);
    expect(items[0].tags).toEqual(['a', 'b']);
    expect(items[1].type).toBe('login');
  });
  it('refuses malformed files with the item number', () => {
    expect(() => parseImport('nope', 1)).toThrow(/not JSON/);
    expect(() => parseImport('{"x":1}', 1)).toThrow(/array/);
    expect(() => parseImport('[{"title":"a"},{"type":"spaceship","title":"b"}]', 1)).toThrow(/item 2: unknown type/);
    expect(() => parseImport('[{"type":"login","title":"a","fields":{"totp":"not base32 !!"}}]', 1)).toThrow(/TOTP/);
  });
});
