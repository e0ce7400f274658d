// Adds Subresource Integrity (sha384) to every script and stylesheet of the built HTML pages,
// computed from the bundle's own bytes after Vite wrote the HTML.
import { createHash } from 'node:crypto';
import type { Plugin } from 'vite';

type Bundle = Record<string, { type: 'chunk'; code: string } | { type: 'asset'; source: string | Uint8Array }>;

export function integrityOf(data: string | Uint8Array): string {
  return 'sha384-' + createHash('sha384').update(data).digest('base64');
}

/** Adds integrity="..." to <script src> and <link href> tags that point into the bundle. */
export function addIntegrity(html: string, lookup: (path: string) => string | Uint8Array | undefined): string {
  return html.replace(/<(script|link)\b([^>]*)>/g, (tag, name: string, attrs: string) => {
    if (/\sintegrity=/.test(attrs)) return tag;
    const m = attrs.match(name === 'script' ? /\ssrc="([^"]+)"/ : /\shref="([^"]+)"/);
    if (!m) {
      if (name === 'script') throw new Error('inline scripts are not allowed (CSP)');
      return tag;
    }
    if (name === 'link' && !/\srel="(stylesheet|modulepreload|preload)"/.test(attrs)) return tag;
    const data = lookup(m[1].replace(/^\//, ''));
    if (data === undefined) throw new Error(`SRI: ${m[1]} is not in the bundle`);
    const cross = /\scrossorigin\b/.test(attrs) ? '' : ' crossorigin';
    return `<${name}${attrs}${cross} integrity="${integrityOf(data)}">`;
  });
}

export function sri(): Plugin {
  return {
    name: 'castellan-sri',
    enforce: 'post',
    apply: 'build',
    // Last of all generateBundle hooks: Vite's own (e.g. the preload helper's rewrite of dynamic
    // imports) change chunk code in generateBundle too.
    generateBundle: { order: 'post', handler(_opts, bundle) {
      const b = bundle as unknown as Bundle;
      const lookup = (p: string) => {
        const e = b[p];
        if (!e) return undefined;
        return e.type === 'chunk' ? e.code : e.source;
      };
      for (const [name, entry] of Object.entries(b)) {
        if (!name.endsWith('.html') || entry.type !== 'asset') continue;
        const html = typeof entry.source === 'string' ? entry.source : new TextDecoder().decode(entry.source);
        if (/<style\b/.test(html) || /\sstyle="/.test(html)) throw new Error(`${name}: inline styles are not allowed (CSP)`);
        entry.source = addIntegrity(html, lookup);
      }
    } },
  };
}
