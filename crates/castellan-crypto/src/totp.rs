//! TOTP (RFC 6238) codes from a base32 seed or an `otpauth://totp/...` URI.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{CryptoError, Result};

/// HMAC hash used by a TOTP generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpAlgorithm {
    /// HMAC-SHA1 (the default, and what nearly every site uses).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// A TOTP generator. The secret is zeroized on drop; `Debug` does not print it.
pub struct TotpSpec {
    /// The shared secret (raw bytes, not base32).
    pub secret: Vec<u8>,
    /// HMAC hash.
    pub algorithm: TotpAlgorithm,
    /// Code length, 6..=10.
    pub digits: u32,
    /// Time step in seconds, 1..=3600.
    pub period: u64,
}

impl Drop for TotpSpec {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl std::fmt::Debug for TotpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSpec")
            .field("secret", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .finish()
    }
}

const DEFAULT_DIGITS: u32 = 6;
const DEFAULT_PERIOD: u64 = 30;
const DIGITS_RANGE: std::ops::RangeInclusive<u32> = 6..=10;
const PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

fn err(msg: impl Into<String>) -> CryptoError {
    CryptoError::Totp(msg.into())
}

impl TotpSpec {
    /// Parses a bare base32 secret (spaces, `-` and case ignored, `=` padding optional) or an
    /// `otpauth://totp/LABEL?secret=...&algorithm=...&digits=...&period=...` URI.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let scheme = "otpauth://";
        let is_uri = text
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme));
        if is_uri {
            Self::parse_uri(&text[scheme.len()..])
        } else {
            Ok(Self {
                secret: base32_decode(text)?,
                algorithm: TotpAlgorithm::Sha1,
                digits: DEFAULT_DIGITS,
                period: DEFAULT_PERIOD,
            })
        }
    }

    fn parse_uri(rest: &str) -> Result<Self> {
        let (kind, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if kind.eq_ignore_ascii_case("hotp") {
            return Err(err(
                "HOTP (counter-based) codes are not supported, only TOTP",
            ));
        }
        if !kind.eq_ignore_ascii_case("totp") {
            return Err(err(format!(
                "unknown otpauth type {kind:?} (expected \"totp\")"
            )));
        }
        let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
        let query = query.split('#').next().unwrap_or("");
        let mut secret: Option<Vec<u8>> = None;
        let mut algorithm = TotpAlgorithm::Sha1;
        let mut digits = DEFAULT_DIGITS;
        let mut period = DEFAULT_PERIOD;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = Zeroizing::new(percent_decode(v));
            match k.to_ascii_lowercase().as_str() {
                "secret" => secret = Some(base32_decode(&v)?),
                "algorithm" => {
                    algorithm = match v.to_ascii_uppercase().replace('-', "").as_str() {
                        "SHA1" => TotpAlgorithm::Sha1,
                        "SHA256" => TotpAlgorithm::Sha256,
                        "SHA512" => TotpAlgorithm::Sha512,
                        _ => return Err(err(format!("unsupported algorithm {:?}", v.as_str()))),
                    }
                }
                "digits" => {
                    digits = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|d| DIGITS_RANGE.contains(d))
                        .ok_or_else(|| {
                            err(format!(
                                "digits must be between 6 and 10, got {:?}",
                                v.as_str()
                            ))
                        })?
                }
                "period" => {
                    period = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|p| PERIOD_RANGE.contains(p))
                        .ok_or_else(|| {
                            err(format!(
                                "period must be between 1 and 3600 seconds, got {:?}",
                                v.as_str()
                            ))
                        })?
                }
                _ => {} // issuer, image, ... are not needed to compute codes
            }
        }
        let secret = secret.ok_or_else(|| err("the otpauth URI has no secret parameter"))?;
        Ok(Self {
            secret,
            algorithm,
            digits,
            period,
        })
    }

    fn counter(&self, unix_time: u64) -> u64 {
        unix_time / self.period.max(1)
    }

    /// The code for `unix_time`, zero-padded to `digits` (out-of-range `digits` are clamped
    /// to 6..=10).
    pub fn code_at(&self, unix_time: u64) -> String {
        let msg = self.counter(unix_time).to_be_bytes();
        let mac = match self.algorithm {
            TotpAlgorithm::Sha1 => hmac_bytes::<Hmac<Sha1>>(&self.secret, &msg),
            TotpAlgorithm::Sha256 => hmac_bytes::<Hmac<Sha256>>(&self.secret, &msg),
            TotpAlgorithm::Sha512 => hmac_bytes::<Hmac<Sha512>>(&self.secret, &msg),
        };
        // RFC 4226 dynamic truncation.
        let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
        let bin = mac
            .get(offset..offset + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_be_bytes(b) & 0x7fff_ffff)
            .unwrap_or(0);
        let digits = self
            .digits
            .clamp(*DIGITS_RANGE.start(), *DIGITS_RANGE.end());
        let code = u64::from(bin) % 10u64.pow(digits);
        format!("{code:0width$}", width = digits as usize)
    }

    /// Seconds until the code for `unix_time` changes (1..=period).
    pub fn seconds_remaining(&self, unix_time: u64) -> u64 {
        let p = self.period.max(1);
        p - unix_time % p
    }
}

fn hmac_bytes<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Zeroizing<Vec<u8>> {
    // HMAC accepts keys of any length, so this never takes the `Err` branch.
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            Zeroizing::new(m.finalize().into_bytes().to_vec())
        }
        Err(_) => Zeroizing::new(Vec::new()),
    }
}

/// Decodes `%XX` escapes; anything malformed is kept literally. `+` stays `+`.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 4648 base32 (A–Z, 2–7), case-insensitive; spaces, `-` and trailing `=` are ignored.
pub(crate) fn base32_decode(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8 + 1);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut n = 0usize;
    let mut seen_pad = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        if c == '=' {
            seen_pad = true;
            continue;
        }
        if seen_pad {
            out.zeroize();
            return Err(err("the secret has characters after '=' padding"));
        }
        let v = match c.to_ascii_uppercase() {
            u @ 'A'..='Z' => u as u8 - b'A',
            d @ '2'..='7' => d as u8 - b'2' + 26,
            _ => {
                out.zeroize();
                return Err(err(format!(
                    "'{}' is not a base32 character (A-Z, 2-7)",
                    c.escape_default()
                )));
            }
        };
        n += 1;
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1u64 << bits) - 1;
        }
    }
    acc.zeroize();
    if n == 0 {
        return Err(err("the secret is empty"));
    }
    // 1, 3 or 6 trailing characters cannot come from a whole number of bytes.
    if matches!(n % 8, 1 | 3 | 6) {
        out.zeroize();
        return Err(err("the secret has an invalid length (truncated?)"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        for (enc, dec) in [
            ("MY======", "f"),
            ("MZXQ====", "fo"),
            ("MZXW6===", "foo"),
            ("MZXW6YQ=", "foob"),
            ("MZXW6YTB", "fooba"),
            ("MZXW6YTBOI======", "foobar"),
            ("mzxw 6ytb oi", "foobar"),
        ] {
            assert_eq!(base32_decode(enc).unwrap(), dec.as_bytes(), "{enc}");
        }
        assert!(base32_decode("").is_err());
        assert!(base32_decode("M").is_err());
        assert!(base32_decode("MZ1").is_err());
        assert!(base32_decode("MY==A").is_err());
        assert!(base32_decode("äöü").is_err());
    }

    #[test]
    fn bare_secret_defaults() {
        let t = TotpSpec::parse("  jbsw y3dp ehpk 3pxp ").unwrap();
        assert_eq!(t.secret, b"Hello!\xde\xad\xbe\xef");
        assert_eq!(
            (t.algorithm, t.digits, t.period),
            (TotpAlgorithm::Sha1, 6, 30)
        );
        assert_eq!(t.code_at(59).len(), 6);
        assert_eq!(t.seconds_remaining(59), 1);
        assert_eq!(t.seconds_remaining(60), 30);
    }

    #[test]
    fn uri_parsing() {
        let t = TotpSpec::parse(
            "otpauth://totp/ACME%20Co:john@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
        )
        .unwrap();
        assert_eq!(t.secret, b"Hello!\xde\xad\xbe\xef");
        assert_eq!(
            (t.algorithm, t.digits, t.period),
            (TotpAlgorithm::Sha256, 8, 60)
        );
        let t = TotpSpec::parse("OTPAUTH://TOTP/x?SECRET=jbswy3dpehpk3pxp%3D%3D").unwrap();
        assert_eq!(t.secret, b"Hello!\xde\xad\xbe\xef");
        assert!(TotpSpec::parse("otpauth://hotp/x?secret=JBSWY3DP&counter=1").is_err());
        assert!(TotpSpec::parse("otpauth://totp/x?issuer=a").is_err());
        assert!(TotpSpec::parse("otpauth://totp/x?secret=JBSWY3DP&digits=5").is_err());
        assert!(TotpSpec::parse("otpauth://totp/x?secret=JBSWY3DP&digits=11").is_err());
        assert!(TotpSpec::parse("otpauth://totp/x?secret=JBSWY3DP&period=0").is_err());
        assert!(TotpSpec::parse("otpauth://totp/x?secret=JBSWY3DP&algorithm=MD5").is_err());
        assert!(TotpSpec::parse("otpauth://totp").is_err());
        assert!(TotpSpec::parse("otpauth://").is_err());
        assert!(TotpSpec::parse("otpauth://totp/x?secret=JBSWY3DP&digits=%").is_err());
        assert!(TotpSpec::parse("otpauth://totp/?secret=%E2%82").is_err());
    }

    #[test]
    fn hostile_fields_do_not_panic() {
        let t = TotpSpec {
            secret: vec![],
            algorithm: TotpAlgorithm::Sha512,
            digits: 99,
            period: 0,
        };
        assert_eq!(t.code_at(u64::MAX).len(), 10);
        assert_eq!(t.seconds_remaining(u64::MAX), 1);
        let t = TotpSpec {
            secret: vec![1],
            algorithm: TotpAlgorithm::Sha1,
            digits: 0,
            period: u64::MAX,
        };
        assert_eq!(t.code_at(0).len(), 6);
        assert!(format!("{t:?}").contains("secret: \"<redacted>\""));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%3d%ZZ%"), "a b=%ZZ%");
    }
}
