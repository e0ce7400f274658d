//! Random password generator (OS CSPRNG, unbiased).

use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// Characters that are easy to confuse when read or typed: `0 O o 1 l I i |` and quote-like
/// or tiny symbols `` ` ' " , . ; : ``.
const AMBIGUOUS: &str = "0Oo1lIi|`'\",.;:";

/// Minimum and maximum password length.
pub const PASSWORD_LENGTH_RANGE: std::ops::RangeInclusive<usize> = 4..=1024;

/// What [`generate_password`] produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Number of characters, 4..=1024.
    pub length: usize,
    /// Include `a`–`z`.
    pub lowercase: bool,
    /// Include `A`–`Z`.
    pub uppercase: bool,
    /// Include `0`–`9`.
    pub digits: bool,
    /// Include ASCII punctuation.
    pub symbols: bool,
    /// Leave out look-alike characters (`0 O o 1 l I i |` and small quote-like symbols).
    pub avoid_ambiguous: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: 20,
            lowercase: true,
            uppercase: true,
            digits: true,
            symbols: true,
            avoid_ambiguous: false,
        }
    }
}

/// A random password: every character drawn uniformly from the enabled classes, with at
/// least one character of each enabled class, in random order.
pub fn generate_password(policy: &PasswordPolicy) -> Result<Zeroizing<String>> {
    if !PASSWORD_LENGTH_RANGE.contains(&policy.length) {
        return Err(CryptoError::InvalidKey(
            "password length must be between 4 and 1024",
        ));
    }
    let classes: Vec<Vec<char>> = [
        (policy.lowercase, LOWER),
        (policy.uppercase, UPPER),
        (policy.digits, DIGITS),
        (policy.symbols, SYMBOLS),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, set)| {
        set.chars()
            .filter(|c| !(policy.avoid_ambiguous && AMBIGUOUS.contains(*c)))
            .collect()
    })
    .collect();
    if classes.is_empty() {
        return Err(CryptoError::InvalidKey(
            "enable at least one character class",
        ));
    }
    let all: Vec<char> = classes.iter().flatten().copied().collect();

    let mut rng = OsRng;
    let mut chars = Zeroizing::new(Vec::with_capacity(policy.length));
    for class in &classes {
        if let Some(c) = class.choose(&mut rng) {
            chars.push(*c);
        }
    }
    while chars.len() < policy.length {
        match all.choose(&mut rng) {
            Some(c) => chars.push(*c),
            None => return Err(CryptoError::InvalidKey("empty character set")),
        }
    }
    chars.shuffle(&mut rng);
    let mut out = Zeroizing::new(String::with_capacity(policy.length));
    out.extend(chars.iter());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy() {
        let p = generate_password(&PasswordPolicy::default()).unwrap();
        assert_eq!(p.chars().count(), 20);
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| c.is_ascii_punctuation()));
    }

    #[test]
    fn every_class_present_at_minimum_length() {
        for _ in 0..500 {
            let p = generate_password(&PasswordPolicy {
                length: 4,
                ..Default::default()
            })
            .unwrap();
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_punctuation()));
        }
    }

    #[test]
    fn avoid_ambiguous() {
        let policy = PasswordPolicy {
            length: 1024,
            avoid_ambiguous: true,
            ..Default::default()
        };
        for _ in 0..5 {
            let p = generate_password(&policy).unwrap();
            assert!(!p.chars().any(|c| AMBIGUOUS.contains(c)), "{}", &*p);
        }
    }

    #[test]
    fn single_class() {
        let p = generate_password(&PasswordPolicy {
            length: 64,
            lowercase: false,
            uppercase: false,
            digits: true,
            symbols: false,
            avoid_ambiguous: false,
        })
        .unwrap();
        assert!(p.chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn errors() {
        assert!(generate_password(&PasswordPolicy {
            length: 3,
            ..Default::default()
        })
        .is_err());
        assert!(generate_password(&PasswordPolicy {
            length: 1025,
            ..Default::default()
        })
        .is_err());
        assert!(generate_password(&PasswordPolicy {
            lowercase: false,
            uppercase: false,
            digits: false,
            symbols: false,
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn roughly_uniform() {
        // 50 x 1024 draws from 26 letters: ~1969 each (sd ~44).
        let policy = PasswordPolicy {
            length: 1024,
            lowercase: true,
            uppercase: false,
            digits: false,
            symbols: false,
            avoid_ambiguous: false,
        };
        let mut counts = [0usize; 26];
        for _ in 0..50 {
            for c in generate_password(&policy).unwrap().chars() {
                counts[usize::from(c as u8 - b'a')] += 1;
            }
        }
        assert!(
            counts.iter().all(|&n| (1700..2250).contains(&n)),
            "{counts:?}"
        );
    }
}
