// Formats of the Rust client that the crypto golden file does not cover, checked against
// test/fixtures/rust_vectors.json (written by crates/castellan-web-assets/tests/web_vectors.rs).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, hex, utf8 } from '../src/crypto/bytes';
import { SetHash, setElement } from '../src/crypto/sethash';
import { elementBytes } from '../src/client/codec';
import { signManifest, verifyManifest } from '../src/client/manifest';
import { itemDataJson, newItem, overviewOf, parseItemData, parseOverview, setField, type ItemType } from '../src/model/item';

const v = JSON.parse(readFileSync(new URL('./fixtures/rust_vectors.json', import.meta.url), 'utf8'));

describe('multiset hash (ristretto255)', () => {
  it('computes the same elements and sums', () => {
    const s = SetHash.empty();
    expect(hex(s.toBytes())).toBe(v.sethash.empty);
    for (const e of v.sethash.elements) {
      const el = setElement(fromHex(e.input));
      expect(hex(el)).toBe(e.element);
      s.add(el);
    }
    expect(hex(s.toBytes())).toBe(v.sethash.sum_all);
    s.remove(setElement(fromHex(v.sethash.elements[1].input)));
    expect(hex(s.toBytes())).toBe(v.sethash.sum_without_second);
    s.add(setElement(utf8('x')));
    expect(hex(s.toBytes())).not.toBe(v.sethash.sum_without_second);
    expect(() => SetHash.fromBytes(new Uint8Array(32).fill(0xff))).toThrow();
  });

  it('computes the set element of each object', () => {
    for (const o of v.objects) {
      expect(hex(setElement(elementBytes(o.object)))).toBe(o.element);
      const changed = { ...o.object, version: o.object.version + 1 };
      expect(hex(setElement(elementBytes(changed)))).not.toBe(o.element);
      const untrashed = { ...o.object, trashed: !o.object.trashed };
      expect(hex(setElement(elementBytes(untrashed)))).not.toBe(o.element);
    }
  });
});

describe('signed vault manifests', () => {
  const m = v.manifest;
  it('verifies the Rust manifest and signs the same bytes', () => {
    const pk = fromHex(m.public_key);
    const parsed = verifyManifest(utf8(m.blob), pk, m.vault_id, m.counter);
    expect(parsed.count).toBe(m.count);
    const ours = new TextDecoder().decode(signManifest(fromHex(m.seed), m.vault_id, m.counter, m.count, fromHex(m.set_hash)));
    expect(ours).toBe(m.blob);
  });
  it('refuses mislabelled, tampered or foreign manifests', () => {
    const pk = fromHex(m.public_key);
    expect(() => verifyManifest(utf8(m.blob), pk, m.vault_id, m.counter + 1)).toThrow(/mislabelled/);
    expect(() => verifyManifest(utf8(m.blob), pk, '01900000-0000-7000-8000-000000000099', m.counter)).toThrow(/mislabelled/);
    const tampered = JSON.parse(m.blob);
    tampered.count += 1;
    expect(() => verifyManifest(utf8(JSON.stringify(tampered)), pk, m.vault_id, m.counter)).toThrow(/not signed/);
    const extra = { ...JSON.parse(m.blob), extra: 1 };
    expect(() => verifyManifest(utf8(JSON.stringify(extra)), pk, m.vault_id, m.counter)).toThrow(/malformed/);
    const other = pk.slice();
    other[0] ^= 1;
    expect(() => verifyManifest(utf8(m.blob), other, m.vault_id, m.counter)).toThrow();
  });
});

describe('item documents', () => {
  for (const it_ of v.items) {
    const t = it_.details.type as ItemType;
    it(`${t}: parses the Rust details, computes the same overview, writes parseable JSON`, () => {
      const d = parseItemData(it_.details);
      expect(JSON.parse(JSON.stringify(overviewOf(d)))).toEqual(it_.overview);
      expect(parseOverview(it_.overview)).toEqual(overviewOf(d));
      expect(JSON.parse(itemDataJson(d))).toEqual(it_.details);
      expect(() => parseItemData({ ...it_.details, unknown: 1 })).toThrow(/unknown field/);
    });
    it(`${t}: the same edits give the same document`, () => {
      const d = newItem(t, `Title of ${t}`, 1_700_000_000);
      const rust = parseItemData(it_.details);
      for (const name of Object.keys(rust.fields)) {
        const first = name === 'totp' ? 'JBSWY3DPEHPK3PXP' : `${name}-value`;
        setField(d, name, first, 1_700_000_001);
      }
      try {
        setField(d, 'password', 'changed-once', 1_700_000_002);
      } catch {
        // not every type has a password field; the Rust side ignores the error too
      }
      setField(d, 'recovery code', 'custom', 1_700_000_003);
      setField(d, 'api token', 'hidden-custom', 1_700_000_003);
      setField(d, 'tags', 'b, a, b', 1_700_000_003);
      d.folder_id = rust.folder_id;
      expect(JSON.parse(itemDataJson(d))).toEqual(it_.details);
    });
  }
});
