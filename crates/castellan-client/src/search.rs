//! Client-side search over titles, usernames, URLs and tags. The index is built from decrypted
//! overviews in memory and never written anywhere.

use uuid::Uuid;

use crate::item::ItemOverview;

/// One lowercase haystack per item; a query matches when every word occurs in it.
#[derive(Default)]
pub struct SearchIndex {
    entries: Vec<(Uuid, String)>,
}

impl SearchIndex {
    pub fn with_capacity(n: usize) -> Self {
        SearchIndex {
            entries: Vec::with_capacity(n),
        }
    }

    pub fn add(&mut self, id: Uuid, o: &ItemOverview) {
        let mut hay = String::with_capacity(o.title.len() + o.username.len() + 64);
        hay.push_str(&o.title.to_lowercase());
        hay.push('\u{1f}');
        hay.push_str(&o.username.to_lowercase());
        for u in &o.urls {
            hay.push('\u{1f}');
            hay.push_str(&u.to_lowercase());
        }
        for t in &o.tags {
            hay.push('\u{1f}');
            hay.push_str(&t.to_lowercase());
        }
        self.entries.push((id, hay));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ids of matching items, in insertion order.
    pub fn search(&self, query: &str) -> Vec<Uuid> {
        let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
        if words.is_empty() {
            return self.entries.iter().map(|(id, _)| *id).collect();
        }
        self.entries
            .iter()
            .filter(|(_, hay)| words.iter().all(|w| hay.contains(w.as_str())))
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemType;

    fn ov(title: &str, user: &str, url: &str, tags: &[&str]) -> ItemOverview {
        ItemOverview {
            item_type: ItemType::Login,
            title: title.into(),
            username: user.into(),
            urls: vec![url.into()],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            favorite: false,
            folder_id: None,
            trashed: false,
            updated_at: 0,
        }
    }

    #[test]
    fn matches_every_word_across_fields_case_insensitively() {
        let mut idx = SearchIndex::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        idx.add(a, &ov("GitHub", "alice", "https://github.com", &["dev"]));
        idx.add(b, &ov("Bank", "bob", "https://bank.example", &["finance"]));
        assert_eq!(idx.search("github"), vec![a]);
        assert_eq!(idx.search("ALICE dev"), vec![a]);
        assert_eq!(idx.search("bank.example"), vec![b]);
        assert_eq!(idx.search("finance bob"), vec![b]);
        assert!(idx.search("alice finance").is_empty());
        assert_eq!(idx.search("  ").len(), 2);
    }
}
