// The 128-bit Secret Key: "CK1-" + 26 Crockford base32 characters of the bytes (a 130-bit
// big-endian number) + a Luhn mod 32 check character, grouped 6-5-5-5-5-1.
import { concat, lp, utf8 } from './bytes';
import { CryptoError } from './errors';
import { nfkc } from './kdf';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DATA_CHARS = 26;
const TEXT_CHARS = 27;
const GROUPS = [6, 5, 5, 5, 5, 1];
const TYPO = 'this does not look like a Castellan Secret Key (check for typos)';

function luhnDouble(v: number): number {
  const d = 2 * v;
  return Math.floor(d / 32) + (d % 32);
}

function luhnCheck(data: number[]): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[data.length - 1 - i];
    sum += i % 2 === 0 ? luhnDouble(v) : v;
  }
  return (32 - (sum % 32)) % 32;
}

function luhnValid(all: number[]): boolean {
  let sum = 0;
  for (let i = 0; i < all.length; i++) {
    const v = all[all.length - 1 - i];
    sum += i % 2 === 1 ? luhnDouble(v) : v;
  }
  return sum % 32 === 0;
}

function isWhitespace(c: string): boolean {
  return /\s/u.test(c);
}

/** Parses the text form (case-insensitive; '-' and spaces ignored; O→0, I/L→1; prefix optional). */
export function parseSecretKey(text: string): Uint8Array {
  const sym: string[] = [];
  let pos = 0;
  for (const c of text) {
    pos++;
    if (c === '-' || isWhitespace(c)) continue;
    const ascii = c.length === 1 && c.charCodeAt(0) < 128;
    const u = ascii ? c.toUpperCase() : c;
    let v: string;
    if (u === 'O') v = '0';
    else if (u === 'I' || u === 'L') v = '1';
    else if (ascii && ALPHABET.includes(u)) v = u;
    else throw new CryptoError('bad_secret_key', `character ${pos} ('${c}') cannot appear in a Secret Key`);
    sym.push(v);
  }
  let data: string[];
  if (sym.length === 3 + TEXT_CHARS) {
    if (sym[0] !== 'C' || sym[1] !== 'K') throw new CryptoError('bad_secret_key', 'a Castellan Secret Key starts with "CK1-"');
    if (sym[2] !== '1') throw new CryptoError('bad_secret_key', 'unsupported Secret Key version (expected "CK1-")');
    data = sym.slice(3);
  } else if (sym.length === TEXT_CHARS) {
    data = sym;
  } else {
    const n = sym.join('').startsWith('CK1') ? sym.length - 3 : sym.length;
    throw new CryptoError(
      'bad_secret_key',
      `a Secret Key has ${TEXT_CHARS} characters after "CK1-" but this one has ${n} (check for missing or extra characters)`,
    );
  }
  const values = data.map((s) => ALPHABET.indexOf(s));
  if (values.some((v) => v < 0)) throw new CryptoError('bad_secret_key', TYPO);
  if (!luhnValid(values) || values[0] > 7) throw new CryptoError('bad_secret_key', TYPO);
  let n = 0n;
  for (const v of values.slice(0, DATA_CHARS)) n = (n << 5n) | BigInt(v);
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

export function formatSecretKey(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new CryptoError('bad_secret_key', 'a Secret Key is 16 bytes');
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  const values: number[] = [];
  for (let i = 0; i < DATA_CHARS; i++) {
    const shift = BigInt(5 * (DATA_CHARS - 1 - i));
    values.push(Number((n >> shift) & 31n));
  }
  values.push(luhnCheck(values));
  let out = 'CK1';
  let i = 0;
  for (const g of GROUPS) {
    out += '-';
    for (let j = 0; j < g; j++) out += ALPHABET[values[i++]];
  }
  return out;
}

const OPAQUE_PW_LABEL = utf8('castellan/v1/opaque-pw');

/** OPAQUE password input: "castellan/v1/opaque-pw" || LP(NFKC(password)) || secret key bytes. */
export function passwordInput(password: string, secretKey: Uint8Array): Uint8Array {
  const pw = nfkc(password);
  const out = concat(OPAQUE_PW_LABEL, lp(pw), secretKey);
  pw.fill(0);
  return out;
}
