// RFC 6238 TOTP with WebCrypto HMAC; parsing as crates/castellan-crypto/src/totp.rs.
import { CryptoError } from './errors';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';
export interface TotpSpec {
  secret: Uint8Array;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Uint8Array {
  const clean = text.replace(/[\s-]/g, '').toUpperCase().replace(/=+$/, '');
  if (clean.length === 0) throw new CryptoError('totp', 'the TOTP secret is empty');
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of clean) {
    const v = B32.indexOf(c);
    if (v < 0) throw new CryptoError('totp', `the TOTP secret is not base32 (character '${c}')`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function parseTotp(text: string): TotpSpec {
  const t = text.trim();
  const scheme = 'otpauth://';
  if (t.slice(0, scheme.length).toLowerCase() !== scheme) {
    return { secret: base32Decode(t), algorithm: 'SHA1', digits: 6, period: 30 };
  }
  const rest = t.slice(scheme.length);
  const slash = rest.indexOf('/');
  const kind = (slash >= 0 ? rest.slice(0, slash) : rest).toLowerCase();
  if (kind === 'hotp') throw new CryptoError('totp', 'HOTP (counter-based) codes are not supported, only TOTP');
  if (kind !== 'totp') throw new CryptoError('totp', `unknown otpauth type "${kind}" (expected "totp")`);
  const after = slash >= 0 ? rest.slice(slash + 1) : '';
  const q = after.includes('?') ? after.slice(after.indexOf('?') + 1).split('#')[0] : '';
  let secret: Uint8Array | undefined;
  let algorithm: TotpAlgorithm = 'SHA1';
  let digits = 6;
  let period = 30;
  for (const pair of q.split('&').filter((p) => p.length > 0)) {
    const i = pair.indexOf('=');
    const k = (i >= 0 ? pair.slice(0, i) : pair).toLowerCase();
    const v = percentDecode(i >= 0 ? pair.slice(i + 1) : '');
    if (k === 'secret') secret = base32Decode(v);
    else if (k === 'algorithm') {
      const a = v.toUpperCase().replace(/-/g, '');
      if (a !== 'SHA1' && a !== 'SHA256' && a !== 'SHA512') throw new CryptoError('totp', `unsupported algorithm "${v}"`);
      algorithm = a;
    } else if (k === 'digits') {
      const d = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
      if (!(d >= 6 && d <= 10)) throw new CryptoError('totp', `digits must be between 6 and 10, got "${v}"`);
      digits = d;
    } else if (k === 'period') {
      const p = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
      if (!(p >= 1 && p <= 3600)) throw new CryptoError('totp', `period must be between 1 and 3600 seconds, got "${v}"`);
      period = p;
    }
  }
  if (!secret) throw new CryptoError('totp', 'the otpauth URI has no secret parameter');
  return { secret, algorithm, digits, period };
}

export async function totpCode(spec: TotpSpec, unixTime: number): Promise<string> {
  const counter = BigInt(Math.floor(unixTime / Math.max(1, spec.period)));
  const msg = new Uint8Array(8);
  new DataView(msg.buffer).setBigUint64(0, counter, false);
  const hash = spec.algorithm === 'SHA1' ? 'SHA-1' : spec.algorithm === 'SHA256' ? 'SHA-256' : 'SHA-512';
  const key = await crypto.subtle.importKey('raw', spec.secret as BufferSource, { name: 'HMAC', hash }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, msg));
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  const mod = 10n ** BigInt(spec.digits);
  return (BigInt(bin) % mod).toString().padStart(spec.digits, '0');
}

export function secondsRemaining(spec: TotpSpec, unixTime: number): number {
  const p = Math.max(1, spec.period);
  return p - (Math.floor(unixTime) % p);
}
