// The production build: every script and stylesheet carries a correct SRI hash, and the HTML
// has no inline script or style (the server's CSP forbids them).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { addIntegrity, integrityOf } from '../build/sri';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'castellan-web-build-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('Subresource Integrity', () => {
  it('adds integrity to external scripts and stylesheets and refuses inline scripts', () => {
    const html = '<script type="module" src="/assets/a.js"></script><link rel="stylesheet" href="/assets/a.css"><link rel="icon" href="/x.png">';
    const files: Record<string, string> = { 'assets/a.js': 'console.log(1)', 'assets/a.css': 'p{}' };
    const res = addIntegrity(html, (p) => files[p]);
    expect(res).toContain(`src="/assets/a.js" crossorigin integrity="${integrityOf('console.log(1)')}"`);
    expect(res).toContain(`integrity="${integrityOf('p{}')}"`);
    expect(res).toContain('<link rel="icon" href="/x.png">');
    expect(() => addIntegrity('<script>alert(1)</script>', () => undefined)).toThrow(/inline/);
    expect(() => addIntegrity('<script src="/missing.js"></script>', () => undefined)).toThrow(/not in the bundle/);
  });

  it('the production build has correct hashes on every script and stylesheet', async () => {
    await build({ root, logLevel: 'error', build: { outDir: out, emptyOutDir: true } });
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const tags = [...html.matchAll(/<(script|link)\b[^>]*>/g)].map((m) => m[0]);
    const refs = tags.filter((t) => /\s(src|href)="\/assets\//.test(t));
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const t of refs) {
      const path = t.match(/\s(?:src|href)="\/([^"]+)"/)![1];
      const integrity = t.match(/\sintegrity="([^"]+)"/)?.[1];
      expect(integrity, t).toBe(integrityOf(readFileSync(join(out, path))));
    }
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style\b|\sstyle="/);
    // Every emitted script is referenced with SRI (no lazily loaded chunk escapes it).
    const scripts = readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js'));
    for (const s of scripts) expect(html).toContain(`/assets/${s}`);
  });
});
