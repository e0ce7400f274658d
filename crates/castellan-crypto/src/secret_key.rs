//! The 128-bit Secret Key and the OPAQUE password input.
//!
//! Text form: `CK1-` followed by 27 Crockford base32 characters in groups of 6-5-5-5-5-1,
//! e.g. `CK1-3Q8ZKD-M0N4R-7TB2W-E9XHA-5V1CG-P`. The first 26 characters are the 16 key bytes
//! as a 130-bit big-endian number (so the first character is always `0`–`7`); the last is a
//! Luhn mod 32 check character over those 26, which catches every single-character typo and
//! most swaps of neighbouring characters.

use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CryptoError, Result};
use crate::kdf::nfkc_password;
use crate::util::put_lp;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX: &str = "CK1";
const DATA_CHARS: usize = 26;
const TEXT_CHARS: usize = DATA_CHARS + 1;
const GROUPS: [usize; 6] = [6, 5, 5, 5, 5, 1];
const OPAQUE_PW_LABEL: &[u8] = b"castellan/v1/opaque-pw";
const TYPO: &str = "this does not look like a Castellan Secret Key (check for typos)";

/// The account Secret Key: 128 random bits that never leave the user's devices.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    bytes: [u8; 16],
}

impl SecretKey {
    /// A fresh Secret Key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Wraps raw bytes (tests, golden vectors, import).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self { bytes }
    }

    /// The raw 16 bytes.
    pub fn expose_secret(&self) -> &[u8; 16] {
        &self.bytes
    }

    /// Parses the text form. Case-insensitive; `-` and whitespace are ignored; `O` is read
    /// as `0` and `I`/`L` as `1`. The `CK1` prefix may be omitted.
    pub fn parse(text: &str) -> Result<Self> {
        let mut sym = Zeroizing::new(Vec::with_capacity(text.len()));
        for (pos, c) in text.chars().enumerate() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let v = match c.to_ascii_uppercase() {
                'O' => b'0',
                'I' | 'L' => b'1',
                u if u.is_ascii() && ALPHABET.contains(&(u as u8)) => u as u8,
                _ => {
                    // An invalid character is by definition not key material, so naming it is fine.
                    return Err(CryptoError::BadSecretKey(format!(
                        "character {} ('{}') cannot appear in a Secret Key",
                        pos + 1,
                        c.escape_default()
                    )));
                }
            };
            sym.push(v);
        }
        let data: &[u8] = if sym.len() == PREFIX.len() + TEXT_CHARS {
            if !sym.starts_with(b"CK") {
                return Err(CryptoError::BadSecretKey(
                    "a Castellan Secret Key starts with \"CK1-\"".into(),
                ));
            }
            if sym.get(2) != Some(&b'1') {
                return Err(CryptoError::BadSecretKey(
                    "unsupported Secret Key version (expected \"CK1-\")".into(),
                ));
            }
            &sym[PREFIX.len()..]
        } else if sym.len() == TEXT_CHARS {
            &sym[..]
        } else {
            let n = if sym.starts_with(PREFIX.as_bytes()) {
                sym.len() - PREFIX.len()
            } else {
                sym.len()
            };
            return Err(CryptoError::BadSecretKey(format!(
                "a Secret Key has {TEXT_CHARS} characters after \"CK1-\" but this one has {n} \
                 (check for missing or extra characters)"
            )));
        };

        let mut values = Zeroizing::new([0u8; TEXT_CHARS]);
        for (v, s) in values.iter_mut().zip(data.iter()) {
            *v = value_of(*s).ok_or_else(|| CryptoError::BadSecretKey(TYPO.into()))?;
        }
        if !luhn32_valid(&values[..]) || values[0] > 7 {
            return Err(CryptoError::BadSecretKey(TYPO.into()));
        }
        let mut n = Zeroizing::new(0u128);
        for v in &values[..DATA_CHARS] {
            *n = (*n << 5) | u128::from(*v);
        }
        Ok(Self {
            bytes: n.to_be_bytes(),
        })
    }

    /// The text form, e.g. `CK1-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX-X`.
    pub fn to_display(&self) -> Zeroizing<String> {
        let n = Zeroizing::new(u128::from_be_bytes(self.bytes));
        let mut values = Zeroizing::new([0u8; TEXT_CHARS]);
        for (i, v) in values[..DATA_CHARS].iter_mut().enumerate() {
            let shift = 5 * (DATA_CHARS - 1 - i);
            // The mask keeps the value below 32.
            *v = ((*n >> shift) & 31) as u8;
        }
        values[DATA_CHARS] = luhn32_check(&values[..DATA_CHARS]);

        let mut out = Zeroizing::new(String::with_capacity(
            PREFIX.len() + TEXT_CHARS + GROUPS.len(),
        ));
        out.push_str(PREFIX);
        let mut it = values.iter();
        for g in GROUPS {
            out.push('-');
            for v in it.by_ref().take(g) {
                out.push(char::from(ALPHABET[usize::from(*v & 31)]));
            }
        }
        out
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

fn value_of(sym: u8) -> Option<u8> {
    ALPHABET
        .iter()
        .position(|a| *a == sym)
        .and_then(|p| u8::try_from(p).ok())
}

/// Luhn mod N (N = 32) addend for a doubled code point: the base-32 digit sum of `2v`.
fn luhn_double(v: u8) -> u32 {
    let d = 2 * u32::from(v);
    d / 32 + d % 32
}

fn luhn32_check(data: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, v) in data.iter().rev().enumerate() {
        sum += if i % 2 == 0 {
            luhn_double(*v)
        } else {
            u32::from(*v)
        };
    }
    ((32 - sum % 32) % 32) as u8
}

fn luhn32_valid(all: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, v) in all.iter().rev().enumerate() {
        sum += if i % 2 == 1 {
            luhn_double(*v)
        } else {
            u32::from(*v)
        };
    }
    let rem = sum % 32;
    rem == 0
}

/// OPAQUE password input: `"castellan/v1/opaque-pw" || LP(NFKC(password)) || secret_key`.
pub fn password_input(password: &str, secret_key: &SecretKey) -> Zeroizing<Vec<u8>> {
    let pw = nfkc_password(password);
    let mut out = Zeroizing::new(Vec::with_capacity(
        OPAQUE_PW_LABEL.len() + 4 + pw.len() + 16,
    ));
    out.extend_from_slice(OPAQUE_PW_LABEL);
    put_lp(&mut out, pw.as_bytes());
    out.extend_from_slice(secret_key.expose_secret());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match SecretKey::parse(text) {
            Err(CryptoError::BadSecretKey(m)) => m,
            other => panic!("expected BadSecretKey, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn round_trip_and_format() {
        for _ in 0..200 {
            let sk = SecretKey::generate();
            let text = sk.to_display();
            assert_eq!(text.len(), 4 + 27 + 5);
            let groups: Vec<usize> = text.split('-').map(str::len).collect();
            assert_eq!(groups, [3, 6, 5, 5, 5, 5, 1]);
            assert!(text.starts_with("CK1-"));
            assert_eq!(
                SecretKey::parse(&text).unwrap().expose_secret(),
                sk.expose_secret()
            );
            assert_eq!(
                SecretKey::parse(&text.to_lowercase())
                    .unwrap()
                    .expose_secret(),
                sk.expose_secret()
            );
            let bare: String = text[4..].chars().filter(|c| *c != '-').collect();
            assert_eq!(
                SecretKey::parse(&bare).unwrap().expose_secret(),
                sk.expose_secret()
            );
            let spaced = text.replace('-', " ");
            assert_eq!(
                SecretKey::parse(&spaced).unwrap().expose_secret(),
                sk.expose_secret()
            );
        }
    }

    #[test]
    fn extremes() {
        for b in [[0u8; 16], [0xFF; 16]] {
            let sk = SecretKey::from_bytes(b);
            assert_eq!(
                SecretKey::parse(&sk.to_display()).unwrap().expose_secret(),
                &b
            );
        }
        assert!(SecretKey::from_bytes([0xFF; 16])
            .to_display()
            .starts_with("CK1-7"));
    }

    #[test]
    fn confusables_are_mapped() {
        let sk = SecretKey::from_bytes([0u8; 16]);
        let text = sk.to_display().replace('0', "o").replace('1', "l");
        assert_eq!(SecretKey::parse(&text).unwrap().expose_secret(), &[0u8; 16]);
    }

    #[test]
    fn every_single_substitution_is_detected() {
        let sk = SecretKey::from_bytes(*b"0123456789abcdef");
        let text = sk.to_display();
        let chars: Vec<char> = text.chars().collect();
        for i in 4..chars.len() {
            if chars[i] == '-' {
                continue;
            }
            for &a in ALPHABET {
                let a = char::from(a);
                if a == chars[i] {
                    continue;
                }
                let mut c = chars.clone();
                c[i] = a;
                let s: String = c.into_iter().collect();
                assert!(SecretKey::parse(&s).is_err(), "undetected typo: {s}");
            }
        }
    }

    #[test]
    fn helpful_errors() {
        assert!(err("CK1-ABC").contains("has 3"));
        assert!(err("CK1-0000U0-00000-00000-00000-00000-0").contains("'U'"));
        let mut t = SecretKey::from_bytes([5u8; 16]).to_display().to_string();
        let last = t.pop().unwrap();
        t.push(if last == '0' { '1' } else { '0' });
        assert_eq!(err(&t), TYPO);
        // first data character above 7 cannot encode 128 bits
        assert!(SecretKey::parse("CK1-800000-00000-00000-00000-00000-0").is_err());
        assert!(err("XX1-000000-00000-00000-00000-00000-0").contains("starts with"));
        assert!(err("CK2-000000-00000-00000-00000-00000-0").contains("version"));
        assert!(err("").contains("has 0"));
        assert!(err("ééé").contains("cannot appear"));
    }

    #[test]
    fn password_input_layout() {
        let sk = SecretKey::from_bytes([0xAB; 16]);
        let pi = password_input("p\u{FB01}", &sk);
        let mut expected = b"castellan/v1/opaque-pw".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 3]);
        expected.extend_from_slice(b"pfi");
        expected.extend_from_slice(&[0xAB; 16]);
        assert_eq!(&pi[..], &expected[..]);
    }

    #[test]
    fn debug_redacted() {
        assert_eq!(
            format!("{:?}", SecretKey::generate()),
            "SecretKey(<redacted>)"
        );
    }
}
