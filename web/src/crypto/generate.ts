// Password generator (as crates/castellan-crypto/src/generate.rs): OS CSPRNG, unbiased, at least
// one character of each enabled class, shuffled.
import { CryptoError } from './errors';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const SYMBOLS = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const AMBIGUOUS = '0Oo1lIi|`\'",.;:';

export interface PasswordPolicy {
  length: number;
  lowercase: boolean;
  uppercase: boolean;
  digits: boolean;
  symbols: boolean;
  avoidAmbiguous: boolean;
}

export const DEFAULT_POLICY: PasswordPolicy = { length: 20, lowercase: true, uppercase: true, digits: true, symbols: true, avoidAmbiguous: false };

/** Uniform integer in [0, n) by rejection sampling. */
export function randomBelow(n: number): number {
  if (n <= 0 || n > 0x1_0000_0000) throw new RangeError('bad range');
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0] < limit) return buf[0] % n;
  }
}

export function generatePassword(policy: PasswordPolicy): string {
  if (!(policy.length >= 4 && policy.length <= 1024)) throw new CryptoError('invalid_key', 'password length must be between 4 and 1024');
  const classes = (
    [
      [policy.lowercase, LOWER],
      [policy.uppercase, UPPER],
      [policy.digits, DIGITS],
      [policy.symbols, SYMBOLS],
    ] as [boolean, string][]
  )
    .filter(([on]) => on)
    .map(([, set]) => [...set].filter((c) => !(policy.avoidAmbiguous && AMBIGUOUS.includes(c))));
  if (classes.length === 0) throw new CryptoError('invalid_key', 'enable at least one character class');
  const all = classes.flat();
  const chars: string[] = classes.map((cls) => cls[randomBelow(cls.length)]);
  while (chars.length < policy.length) chars.push(all[randomBelow(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}
