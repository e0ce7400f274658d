//! The recovery words of an offline backup key: each of the 32 key bytes as one word of a
//! built-in list of 256 short English words (byte value = index), then one checksum word (the
//! first byte of `SHA-256("castellan/v1/backup-words" || key)`). 33 words in all; typing is
//! case-insensitive and any whitespace, comma or hyphen separates words.

use castellan_crypto::sha256;
use zeroize::Zeroizing;

use crate::{ClientError, ClientResult};

/// 256 distinct words, index = byte value.
pub const WORDS: [&str; 256] = [
    "able", "acid", "aged", "also", "arch", "area", "army", "away", "baby", "back", "bail", "bake",
    "ball", "band", "bank", "barn", "base", "bath", "bead", "beam", "bean", "bear", "beef", "bell",
    "belt", "bend", "best", "bike", "bird", "bite", "blue", "boat", "body", "bolt", "bone", "book",
    "boot", "born", "boss", "bowl", "brag", "bulb", "bush", "busy", "cake", "calm", "camp", "card",
    "care", "cart", "case", "cash", "cast", "cave", "cell", "chef", "chin", "chip", "city", "clay",
    "clip", "club", "coal", "coat", "code", "coin", "cold", "cone", "cook", "cool", "copy", "cord",
    "corn", "cost", "crew", "crop", "cube", "cure", "dark", "dash", "data", "dawn", "deal", "deck",
    "deep", "deer", "desk", "dial", "dice", "dish", "dock", "dome", "door", "dose", "dove", "down",
    "drum", "duck", "dust", "duty", "east", "easy", "echo", "edge", "epic", "exit", "face", "fact",
    "fair", "farm", "fast", "fawn", "fern", "film", "fire", "fish", "flag", "flat", "flow", "foam",
    "fold", "font", "food", "foot", "fork", "form", "fort", "frog", "fuel", "fund", "gain", "game",
    "gate", "gear", "gift", "girl", "glad", "glow", "glue", "goal", "gold", "golf", "good", "gown",
    "grid", "grip", "hair", "half", "hall", "hand", "harp", "hawk", "heat", "herb", "hero", "hill",
    "hint", "hive", "hole", "home", "hook", "hope", "horn", "host", "hour", "hunt", "idea", "inch",
    "iron", "item", "jade", "jazz", "jeep", "jump", "jury", "keen", "kept", "kick", "kind", "king",
    "kite", "knee", "knot", "lace", "lake", "lamp", "land", "lane", "last", "lawn", "leaf", "lend",
    "lens", "life", "lift", "lime", "line", "lion", "list", "load", "loaf", "lock", "loft", "logo",
    "long", "loop", "lord", "luck", "lung", "mail", "main", "malt", "mane", "map", "mask", "mast",
    "maze", "meal", "meat", "melt", "menu", "mild", "milk", "mill", "mind", "mint", "mist", "mode",
    "mole", "moon", "moss", "moth", "move", "mule", "nail", "name", "navy", "neck", "nest", "news",
    "nice", "nine", "node", "noon", "nose", "note", "oak", "oath", "oval", "oven", "owl", "pace",
    "pack", "page", "palm", "park",
];

fn checksum(key: &[u8; 32]) -> u8 {
    let mut v = Zeroizing::new(Vec::with_capacity(26 + 32));
    v.extend_from_slice(b"castellan/v1/backup-words");
    v.extend_from_slice(key);
    sha256(&v)[0]
}

/// The 33 words of a key.
pub fn encode(key: &[u8; 32]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(33 * 6));
    for b in key.iter().chain(std::iter::once(&checksum(key))) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(WORDS[*b as usize]);
    }
    out
}

/// The key back from typed words; a clear error for an unknown word, a wrong count or a
/// checksum that does not match (a typo).
pub fn decode(text: &str) -> ClientResult<Zeroizing<[u8; 32]>> {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    if words.len() != 33 {
        return Err(ClientError::Invalid(format!(
            "the recovery words are 33 words; {} were given",
            words.len()
        )));
    }
    let mut bytes = Zeroizing::new([0u8; 33]);
    for (i, w) in words.iter().enumerate() {
        let idx = WORDS.iter().position(|x| x == w).ok_or_else(|| {
            ClientError::Invalid(format!("word {} ({w:?}) is not a recovery word", i + 1))
        })?;
        bytes[i] = idx as u8;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes[..32]);
    if checksum(&key) != bytes[32] {
        return Err(ClientError::Invalid(
            "the recovery words do not check out (a word is mistyped or missing)".into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_round_trip() {
        let set: std::collections::HashSet<_> = WORDS.iter().collect();
        assert_eq!(set.len(), 256);
        let key = [0x5a; 32];
        let text = encode(&key);
        assert_eq!(text.split(' ').count(), 33);
        assert_eq!(*decode(&text).unwrap(), key);
        assert_eq!(
            *decode(&text.to_uppercase().replace(' ', ", ")).unwrap(),
            key
        );
        // A swapped word fails the checksum; an unknown word and a wrong count are named.
        let mut w: Vec<&str> = text.split(' ').collect();
        w.swap(0, 1);
        w[0] = WORDS[0x11];
        assert!(decode(&w.join(" ")).is_err());
        assert!(decode("able acid").is_err());
        let bad = text.replacen(WORDS[0x5a], "zebra", 1);
        assert!(format!("{:?}", decode(&bad).unwrap_err()).contains("zebra"));
    }
}
