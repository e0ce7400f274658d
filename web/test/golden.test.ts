// Every vector written by the Rust crypto tests, checked byte for byte; mutated variants fail.
import { describe, expect, it } from 'vitest';
import { fromHex, hex } from '../src/crypto/bytes';
import { Context, envelopeObjType, open, sealWithSalt, unwrapKey } from '../src/crypto/envelope';
import { CryptoError } from '../src/crypto/errors';
import { fingerprint } from '../src/crypto/fingerprint';
import { accountUnlockKey, localUnlockKey } from '../src/crypto/kdf';
import { formatSecretKey, parseSecretKey, passwordInput } from '../src/crypto/secretKey';
import { publicKeyFromSeed, signStatement, statementMessage, verifyStatement } from '../src/crypto/sign';
import { vectors } from './vectors';

const golden = vectors('castellan_golden_v1.json');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function contextFromJson(c: any): Context {
  switch (c.constructor) {
    case 'account_key_wrap':
      return Context.accountKeyWrap(c.user_id, c.ak_version);
    case 'private_key_wrap':
      return Context.privateKeyWrap(c.user_id, c.key_id, c.purpose);
    case 'vault_key_wrap':
      return Context.vaultKeyWrap(c.owner_id, c.vault_id, c.vault_key_version, c.vault_kind);
    case 'item_key_wrap':
      return Context.itemKeyWrap(c.org_id, c.vault_id, c.item_id, c.vault_key_version, c.item_key_version);
    case 'item_overview':
      return Context.itemOverview(c.org_id, c.vault_id, c.item_id, c.item_version, c.schema_version, c.author_id);
    case 'item_details':
      return Context.itemDetails(c.org_id, c.vault_id, c.item_id, c.item_version, c.schema_version, c.author_id);
    case 'attachment_chunk':
      return Context.attachmentChunk(c.org_id, c.vault_id, c.item_id, c.attachment_id, c.chunk_index, c.is_final);
    case 'local_device_wrap':
      return Context.localDeviceWrap(c.user_id, c.device_id);
    case 'folder_metadata':
      return Context.folderMetadata(c.org_id, c.vault_id, c.folder_id, c.meta_version);
    case 'escrow_check':
      return Context.escrowCheck(c.user_id, c.escrow_id);
    case 'share_metadata':
      return Context.shareMetadata(c.company_id, c.share_id, c.key_version);
    case 'org_backup':
      return Context.orgBackup(c.company_id, c.user_id, c.backup_id, c.key_version);
    default:
      throw new Error('unknown constructor ' + c.constructor);
  }
}

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof CryptoError) return e.kind;
    throw e;
  }
}

describe('castellan_golden_v1.json', () => {
  it('has the expected format', () => {
    expect(golden.format).toBe('castellan-golden-v1');
    // One envelope per object type, in byte order (CAE1 has 11 object types).
    expect(golden.envelopes.map((e: { obj_type: number }) => e.obj_type)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  for (const [i, v] of golden.envelopes.entries()) {
    describe(`envelope ${i} (${v.context.constructor})`, () => {
      const key = fromHex(v.key);
      const ctx = contextFromJson(v.context);
      const env = fromHex(v.envelope);

      it('builds the same context bytes', () => {
        expect(hex(ctx.bytes())).toBe(v.ctx_bytes);
        expect(ctx.objType).toBe(v.obj_type);
      });

      it('seals to the same bytes with the same salt', async () => {
        const sealed = await sealWithSalt(key, v.key_id, ctx, fromHex(v.plaintext), fromHex(v.salt));
        expect(hex(sealed)).toBe(v.envelope);
      });

      it('opens to the plaintext', async () => {
        expect(hex(await open(key, v.key_id, ctx, env))).toBe(v.plaintext);
        expect(envelopeObjType(env)).toBe(v.obj_type);
      });

      it('refuses every mutation', async () => {
        // Flip one bit in each region: magic, suite, obj type, key id, salt, commitment, body, tag.
        const offsets = [0, 4, 5, 6, 21, 22, 45, 46, 77, 78, env.length - 17, env.length - 1];
        const expected: Record<number, string> = { 0: 'malformed', 4: 'unsupported_suite', 5: 'wrong_object_type', 6: 'wrong_key_id', 21: 'wrong_key_id' };
        for (const off of offsets) {
          const m = env.slice();
          m[off] ^= 0x01;
          expect(await kind(open(key, v.key_id, ctx, m)), `offset ${off}`).toBe(expected[off] ?? 'integrity');
        }
        expect(await kind(open(key, v.key_id, ctx, env.subarray(0, env.length - 1)))).toBe('malformed');
        expect(await kind(open(key, v.key_id, ctx, env.subarray(0, env.length - 64)))).toMatch(/malformed|integrity/);
        const otherKey = key.slice();
        otherKey[0] ^= 1;
        expect(await kind(open(otherKey, v.key_id, ctx, env))).toBe('integrity');
        expect(await kind(open(key, '01900000-0000-7000-8000-0000000000ff', ctx, env))).toBe('wrong_key_id');
      });

      it('refuses a context that differs in any field', async () => {
        const c = { ...v.context };
        for (const field of Object.keys(c)) {
          if (field === 'constructor') continue;
          const m = { ...c };
          const val = m[field];
          if (typeof val === 'number') m[field] = val + 1;
          else if (typeof val === 'boolean') m[field] = !val;
          else if (/^[0-9a-f-]{36}$/.test(val)) m[field] = val.slice(0, 35) + (val[35] === '0' ? '1' : '0');
          else m[field] = val + 'x';
          expect(await kind(open(key, v.key_id, contextFromJson(m), env)), field).toBe('integrity');
        }
      });
    });
  }

  it('unwraps the golden key wrap', async () => {
    const w = golden.key_wrap;
    const ctx = contextFromJson(w.context);
    expect(hex(ctx.bytes())).toBe(w.ctx_bytes);
    expect(hex(await unwrapKey(fromHex(w.kek), w.kek_id, ctx, fromHex(w.envelope)))).toBe(w.wrapped_key);
    expect(hex(await sealWithSalt(fromHex(w.kek), w.kek_id, ctx, fromHex(w.wrapped_key), fromHex(w.salt)))).toBe(w.envelope);
    const bad = fromHex(w.envelope);
    bad[bad.length - 1] ^= 0x80;
    expect(await kind(unwrapKey(fromHex(w.kek), w.kek_id, ctx, bad))).toBe('integrity');
  });

  it('derives the account unlock key', () => {
    const a = golden.account_unlock_key;
    expect(hex(accountUnlockKey(fromHex(a.export_key), a.user_id))).toBe(a.auk);
    const ek = fromHex(a.export_key);
    ek[63] ^= 1;
    expect(hex(accountUnlockKey(ek, a.user_id))).not.toBe(a.auk);
  });

  it('builds the OPAQUE password input with NFKC', () => {
    const p = golden.password_input;
    expect(p.password.normalize('NFKC')).toBe(p.password_nfkc);
    expect(hex(passwordInput(p.password, fromHex(p.secret_key)))).toBe(p.output);
    expect(hex(passwordInput(p.password_nfkc, fromHex(p.secret_key)))).toBe(p.output);
    expect(hex(passwordInput(p.password + ' ', fromHex(p.secret_key)))).not.toBe(p.output);
  });

  it('formats and parses the Secret Key text', () => {
    const s = golden.secret_key_text;
    expect(formatSecretKey(fromHex(s.bytes))).toBe(s.text);
    expect(hex(parseSecretKey(s.text))).toBe(s.bytes);
    expect(hex(parseSecretKey(s.text.toLowerCase()))).toBe(s.bytes);
    expect(hex(parseSecretKey(s.text.slice(4).replace(/-/g, ' ')))).toBe(s.bytes);
    // Every single-character substitution is detected.
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    for (let i = 4; i < s.text.length; i++) {
      if (s.text[i] === '-') continue;
      for (const a of alphabet) {
        if (a === s.text[i]) continue;
        const t = s.text.slice(0, i) + a + s.text.slice(i + 1);
        expect(() => parseSecretKey(t), t).toThrow(CryptoError);
      }
    }
    expect(() => parseSecretKey('CK2-000000-00000-00000-00000-00000-0')).toThrow(/version/);
    expect(() => parseSecretKey('CK1-ABC')).toThrow(/has 3/);
    expect(() => parseSecretKey('CK1-0000U0-00000-00000-00000-00000-0')).toThrow(/'U'/);
  });

  it('signs and verifies the statement (strict)', () => {
    const s = golden.statement_signature;
    expect(hex(publicKeyFromSeed(fromHex(s.seed)))).toBe(s.public_key);
    expect(hex(statementMessage(s.statement_type, fromHex(s.body)))).toBe(s.signed_message);
    expect(hex(signStatement(fromHex(s.seed), s.statement_type, fromHex(s.body)))).toBe(s.signature);
    verifyStatement(fromHex(s.public_key), s.statement_type, fromHex(s.body), fromHex(s.signature));
    const sig = fromHex(s.signature);
    for (const off of [0, 31, 32, 63]) {
      const m = sig.slice();
      m[off] ^= 1;
      expect(() => verifyStatement(fromHex(s.public_key), s.statement_type, fromHex(s.body), m)).toThrow(CryptoError);
    }
    expect(() => verifyStatement(fromHex(s.public_key), s.statement_type + 'x', fromHex(s.body), sig)).toThrow(CryptoError);
    const body = fromHex(s.body);
    body[0] ^= 1;
    expect(() => verifyStatement(fromHex(s.public_key), s.statement_type, body, sig)).toThrow(CryptoError);
    // A non-canonical S (S + L) is refused by strict verification.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let sv = 0n;
    for (let i = 63; i >= 32; i--) sv = (sv << 8n) | BigInt(sig[i]);
    sv += L;
    const nc = sig.slice();
    for (let i = 32; i < 64; i++) {
      nc[i] = Number(sv & 0xffn);
      sv >>= 8n;
    }
    expect(() => verifyStatement(fromHex(s.public_key), s.statement_type, fromHex(s.body), nc)).toThrow(CryptoError);
    // The identity point is a weak key.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    expect(() => verifyStatement(identity, s.statement_type, fromHex(s.body), sig)).toThrow(/weak|valid/);
  });

  it('computes the fingerprint', () => {
    const f = golden.fingerprint;
    expect(hex(fingerprint(f.key_type, fromHex(f.raw_public_key)))).toBe(f.fingerprint);
    expect(hex(fingerprint(f.key_type + 'x', fromHex(f.raw_public_key)))).not.toBe(f.fingerprint);
  });

  it('derives the local unlock key (Argon2id 64 MiB, NFKC, Secret Key)', async () => {
    const l = golden.local_unlock_key;
    const luk = await localUnlockKey(l.password, fromHex(l.secret_key), fromHex(l.device_salt), l.device_id, l.params);
    expect(hex(luk)).toBe(l.luk);
    const sk = fromHex(l.secret_key);
    sk[0] ^= 1;
    expect(hex(await localUnlockKey(l.password, sk, fromHex(l.device_salt), l.device_id, l.params))).not.toBe(l.luk);
    await expect(localUnlockKey(l.password, fromHex(l.secret_key), fromHex(l.device_salt), l.device_id, { m_kib: 1024, t: 1, p: 1 })).rejects.toThrow(/below the minimum/);
  });
});
