//! The plaintext item model. An item is encrypted as two envelopes under its own item key:
//! the overview (what lists and search need) and the details (everything).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

use crate::{ClientError, ClientResult};

/// Schema version of the plaintext documents, bound into every envelope's context.
pub const SCHEMA_VERSION: u32 = 1;

/// Limits on plaintext, checked before encryption.
pub const MAX_TITLE_CHARS: usize = 1000;
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
pub const MAX_FIELDS: usize = 200;
pub const MAX_HISTORY: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    Login,
    Server,
    Database,
    SshKey,
    Email,
    Wifi,
    Application,
    BankAccount,
    CreditCard,
    Identity,
    SecureNote,
    SoftwareLicense,
}

/// How a field is shown and handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Hidden by default; changes of `password` go to the password history.
    Secret,
    Url,
    /// A TOTP seed (base32 or otpauth:// URI).
    Totp,
    Multiline,
}

pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
}

const fn f(name: &'static str, label: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec { name, label, kind }
}

use FieldKind::*;

const LOGIN: &[FieldSpec] = &[
    f("username", "Username", Text),
    f("password", "Password", Secret),
    f("url", "Website", Url),
    f("totp", "One-time code", Totp),
];
const SERVER: &[FieldSpec] = &[
    f("hostname", "Hostname", Text),
    f("port", "Port", Text),
    f("username", "Username", Text),
    f("password", "Password", Secret),
    f("url", "Admin URL", Url),
    f("totp", "One-time code", Totp),
];
const DATABASE: &[FieldSpec] = &[
    f("database_type", "Type", Text),
    f("hostname", "Hostname", Text),
    f("port", "Port", Text),
    f("database", "Database", Text),
    f("username", "Username", Text),
    f("password", "Password", Secret),
    f("connection_string", "Connection string", Secret),
];
const SSH_KEY: &[FieldSpec] = &[
    f("hostname", "Hostname", Text),
    f("username", "Username", Text),
    f("private_key", "Private key", Secret),
    f("public_key", "Public key", Multiline),
    f("passphrase", "Passphrase", Secret),
    f("fingerprint", "Fingerprint", Text),
];
const EMAIL: &[FieldSpec] = &[
    f("email", "Email address", Text),
    f("username", "Username", Text),
    f("password", "Password", Secret),
    f("imap_server", "IMAP server", Text),
    f("smtp_server", "SMTP server", Text),
    f("url", "Webmail", Url),
    f("totp", "One-time code", Totp),
];
const WIFI: &[FieldSpec] = &[
    f("ssid", "Network name", Text),
    f("password", "Password", Secret),
    f("security", "Security", Text),
];
const APPLICATION: &[FieldSpec] = &[
    f("username", "Username", Text),
    f("password", "Password", Secret),
    f("url", "URL", Url),
    f("version", "Version", Text),
    f("totp", "One-time code", Totp),
];
const BANK_ACCOUNT: &[FieldSpec] = &[
    f("bank_name", "Bank", Text),
    f("account_holder", "Account holder", Text),
    f("account_number", "Account number", Secret),
    f("routing_number", "Routing number", Text),
    f("iban", "IBAN", Secret),
    f("swift", "SWIFT/BIC", Text),
    f("pin", "PIN", Secret),
    f("username", "Online banking user", Text),
    f("password", "Online banking password", Secret),
    f("url", "Website", Url),
];
const CREDIT_CARD: &[FieldSpec] = &[
    f("cardholder", "Cardholder", Text),
    f("number", "Card number", Secret),
    f("expiry", "Expiry (MM/YY)", Text),
    f("cvv", "Security code", Secret),
    f("pin", "PIN", Secret),
    f("brand", "Brand", Text),
];
const IDENTITY: &[FieldSpec] = &[
    f("first_name", "First name", Text),
    f("last_name", "Last name", Text),
    f("email", "Email", Text),
    f("phone", "Phone", Text),
    f("address", "Address", Multiline),
    f("company", "Company", Text),
    f("birth_date", "Date of birth", Text),
    f("passport_number", "Passport number", Secret),
    f("national_id", "National ID", Secret),
];
const SECURE_NOTE: &[FieldSpec] = &[f("template", "Template", Text)];
const SOFTWARE_LICENSE: &[FieldSpec] = &[
    f("product", "Product", Text),
    f("version", "Version", Text),
    f("license_key", "License key", Secret),
    f("licensed_to", "Licensed to", Text),
    f("email", "Registered email", Text),
    f("url", "Download URL", Url),
    f("purchase_date", "Purchase date", Text),
];

impl ItemType {
    pub const ALL: [ItemType; 12] = [
        ItemType::Login,
        ItemType::Server,
        ItemType::Database,
        ItemType::SshKey,
        ItemType::Email,
        ItemType::Wifi,
        ItemType::Application,
        ItemType::BankAccount,
        ItemType::CreditCard,
        ItemType::Identity,
        ItemType::SecureNote,
        ItemType::SoftwareLicense,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Login => "login",
            ItemType::Server => "server",
            ItemType::Database => "database",
            ItemType::SshKey => "ssh_key",
            ItemType::Email => "email",
            ItemType::Wifi => "wifi",
            ItemType::Application => "application",
            ItemType::BankAccount => "bank_account",
            ItemType::CreditCard => "credit_card",
            ItemType::Identity => "identity",
            ItemType::SecureNote => "secure_note",
            ItemType::SoftwareLicense => "software_license",
        }
    }

    /// Accepts the canonical names and a few obvious aliases (`website`, `ssh`, `note`, ...).
    pub fn parse(s: &str) -> ClientResult<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        let t = match norm.as_str() {
            "login" | "website" | "web" | "password" => ItemType::Login,
            "server" => ItemType::Server,
            "database" | "db" => ItemType::Database,
            "ssh_key" | "ssh" | "sshkey" => ItemType::SshKey,
            "email" | "email_account" | "mail" => ItemType::Email,
            "wifi" | "wi_fi" | "wireless" => ItemType::Wifi,
            "application" | "app" => ItemType::Application,
            "bank_account" | "bank" => ItemType::BankAccount,
            "credit_card" | "card" | "creditcard" => ItemType::CreditCard,
            "identity" | "personal_info" | "id" => ItemType::Identity,
            "secure_note" | "note" => ItemType::SecureNote,
            "software_license" | "software_licence" | "license" | "licence" => {
                ItemType::SoftwareLicense
            }
            _ => {
                let names: Vec<&str> = ItemType::ALL.iter().map(|t| t.as_str()).collect();
                return Err(ClientError::Invalid(format!(
                    "unknown item type {s:?}; expected one of: {}",
                    names.join(", ")
                )));
            }
        };
        Ok(t)
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            ItemType::Login => LOGIN,
            ItemType::Server => SERVER,
            ItemType::Database => DATABASE,
            ItemType::SshKey => SSH_KEY,
            ItemType::Email => EMAIL,
            ItemType::Wifi => WIFI,
            ItemType::Application => APPLICATION,
            ItemType::BankAccount => BANK_ACCOUNT,
            ItemType::CreditCard => CREDIT_CARD,
            ItemType::Identity => IDENTITY,
            ItemType::SecureNote => SECURE_NOTE,
            ItemType::SoftwareLicense => SOFTWARE_LICENSE,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|s| s.name == name)
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    /// The value that was replaced.
    pub password: String,
    /// Which field it was in (`password`, `pin`, ...).
    pub field: String,
    /// Unix seconds when it was replaced.
    pub replaced_at: i64,
}

/// The whole item: the `details` envelope's plaintext.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemData {
    #[serde(rename = "type")]
    pub item_type: ItemType,
    pub title: String,
    /// The type's own fields, by name (see [`ItemType::fields`]).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub custom_fields: Vec<CustomField>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub favorite: bool,
    /// The folder this item is in, if any (folders are per vault).
    #[serde(default)]
    pub folder_id: Option<Uuid>,
    #[serde(default)]
    pub password_history: Vec<PasswordChange>,
    /// In the trash. Bound into the ciphertext, so a server cannot move items in or out of the
    /// trash unnoticed (the server's own flag must agree).
    #[serde(default)]
    pub trashed: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The `overview` envelope's plaintext: what list views and search need.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemOverview {
    #[serde(rename = "type")]
    pub item_type: ItemType,
    pub title: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub favorite: bool,
    #[serde(default)]
    pub folder_id: Option<Uuid>,
    #[serde(default)]
    pub trashed: bool,
    pub updated_at: i64,
}

// Plaintext never reaches logs or panics through `Debug`: only the type is shown.
impl std::fmt::Debug for ItemData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemData({}, <redacted>)", self.item_type.as_str())
    }
}

impl std::fmt::Debug for ItemOverview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemOverview({}, <redacted>)", self.item_type.as_str())
    }
}

impl std::fmt::Debug for CustomField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomField(<redacted>)")
    }
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange(<redacted>)")
    }
}

// Plaintext is wiped from memory when an item is dropped.
impl Drop for ItemData {
    fn drop(&mut self) {
        self.title.zeroize();
        self.notes.zeroize();
        for v in self.fields.values_mut() {
            v.zeroize();
        }
        self.tags.zeroize();
    }
}

impl Drop for CustomField {
    fn drop(&mut self) {
        self.name.zeroize();
        self.value.zeroize();
    }
}

impl Drop for PasswordChange {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

impl Drop for ItemOverview {
    fn drop(&mut self) {
        self.title.zeroize();
        self.username.zeroize();
        self.urls.zeroize();
        self.tags.zeroize();
    }
}

impl ItemData {
    pub fn new(item_type: ItemType, title: &str, now: i64) -> ClientResult<Self> {
        let mut d = ItemData {
            item_type,
            title: String::new(),
            fields: BTreeMap::new(),
            custom_fields: Vec::new(),
            notes: String::new(),
            tags: Vec::new(),
            favorite: false,
            folder_id: None,
            password_history: Vec::new(),
            trashed: false,
            created_at: now,
            updated_at: now,
        };
        d.set_title(title)?;
        Ok(d)
    }

    pub fn set_title(&mut self, title: &str) -> ClientResult<()> {
        let t = title.trim();
        if t.is_empty() {
            return Err(ClientError::Invalid("the title must not be empty".into()));
        }
        if t.chars().count() > MAX_TITLE_CHARS {
            return Err(ClientError::Invalid(format!(
                "the title is longer than {MAX_TITLE_CHARS} characters"
            )));
        }
        self.title = t.to_string();
        Ok(())
    }

    pub fn set_notes(&mut self, notes: &str) -> ClientResult<()> {
        if notes.len() > MAX_FIELD_BYTES {
            return Err(ClientError::Invalid(format!(
                "the notes are larger than {MAX_FIELD_BYTES} bytes"
            )));
        }
        self.notes = notes.to_string();
        Ok(())
    }

    /// Sets a field by name: one of the type's own fields, `notes`, `title`, `tags` (comma
    /// separated), or else a custom field. An empty value removes the field. Replaced secret
    /// values go to the password history.
    pub fn set_field(&mut self, name: &str, value: &str, now: i64) -> ClientResult<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ClientError::Invalid(
                "a field name must not be empty".into(),
            ));
        }
        if value.len() > MAX_FIELD_BYTES {
            return Err(ClientError::Invalid(format!(
                "the value of {name} is larger than {MAX_FIELD_BYTES} bytes"
            )));
        }
        match name {
            "title" => return self.set_title(value),
            "notes" => {
                self.set_notes(value)?;
                return Ok(());
            }
            "tags" => {
                self.tags = parse_tags(value);
                return Ok(());
            }
            _ => {}
        }
        if let Some(spec) = self.item_type.field(name) {
            if spec.kind == FieldKind::Totp && !value.is_empty() {
                castellan_crypto::TotpSpec::parse(value).map_err(|e| {
                    ClientError::Invalid(format!("the TOTP seed is not valid: {e}"))
                })?;
            }
            let old = if value.is_empty() {
                self.fields.remove(name)
            } else {
                self.fields.insert(name.to_string(), value.to_string())
            };
            if let Some(old) = old {
                if spec.kind == FieldKind::Secret && old != value && !old.is_empty() {
                    self.password_history.insert(
                        0,
                        PasswordChange {
                            password: old,
                            field: name.to_string(),
                            replaced_at: now,
                        },
                    );
                    self.password_history.truncate(MAX_HISTORY);
                }
            }
            return Ok(());
        }
        let existing = self.custom_fields.iter().position(|c| c.name == name);
        match (existing, value.is_empty()) {
            (Some(i), true) => {
                self.custom_fields.remove(i);
            }
            (Some(i), false) => {
                let c = &mut self.custom_fields[i];
                if c.hidden && c.value != value {
                    let old = std::mem::replace(&mut c.value, value.to_string());
                    self.password_history.insert(
                        0,
                        PasswordChange {
                            password: old,
                            field: name.to_string(),
                            replaced_at: now,
                        },
                    );
                    self.password_history.truncate(MAX_HISTORY);
                } else {
                    c.value = value.to_string();
                }
            }
            (None, true) => {}
            (None, false) => {
                if self.custom_fields.len() >= MAX_FIELDS {
                    return Err(ClientError::Invalid(format!(
                        "an item can have at most {MAX_FIELDS} custom fields"
                    )));
                }
                let hidden = looks_secret(name);
                self.custom_fields.push(CustomField {
                    name: name.to_string(),
                    value: value.to_string(),
                    hidden,
                });
            }
        }
        Ok(())
    }

    /// Looks a field up by name: the type's fields, custom fields, then title/notes/tags.
    pub fn field(&self, name: &str) -> Option<String> {
        if let Some(v) = self.fields.get(name) {
            return Some(v.clone());
        }
        if let Some(c) = self.custom_fields.iter().find(|c| c.name == name) {
            return Some(c.value.clone());
        }
        match name {
            "title" => Some(self.title.clone()),
            "notes" => Some(self.notes.clone()),
            "type" => Some(self.item_type.as_str().to_string()),
            "tags" => Some(self.tags.join(",")),
            _ => None,
        }
    }

    pub fn username(&self) -> String {
        for k in [
            "username",
            "email",
            "cardholder",
            "ssid",
            "licensed_to",
            "account_holder",
        ] {
            if let Some(v) = self.fields.get(k) {
                return v.clone();
            }
        }
        String::new()
    }

    pub fn urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = self
            .item_type
            .fields()
            .iter()
            .filter(|s| s.kind == FieldKind::Url)
            .filter_map(|s| self.fields.get(s.name).cloned())
            .collect();
        if let Some(h) = self.fields.get("hostname") {
            urls.push(h.clone());
        }
        urls
    }

    pub fn totp(&self) -> Option<&str> {
        self.item_type
            .fields()
            .iter()
            .filter(|s| s.kind == FieldKind::Totp)
            .find_map(|s| self.fields.get(s.name).map(|v| v.as_str()))
    }

    pub fn overview(&self) -> ItemOverview {
        ItemOverview {
            item_type: self.item_type,
            title: self.title.clone(),
            username: self.username(),
            urls: self.urls(),
            tags: self.tags.clone(),
            favorite: self.favorite,
            folder_id: self.folder_id,
            trashed: self.trashed,
            updated_at: self.updated_at,
        }
    }
}

pub fn parse_tags(value: &str) -> Vec<String> {
    let mut tags: Vec<String> = value
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "pin", "key", "token", "passphrase"]
        .iter()
        .any(|w| n.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_changes_go_to_history_and_unknown_names_become_custom_fields() {
        let mut d = ItemData::new(ItemType::Login, "Bank", 1).unwrap();
        d.set_field("password", "one", 2).unwrap();
        d.set_field("password", "two", 3).unwrap();
        d.set_field("password", "two", 4).unwrap();
        assert_eq!(d.password_history.len(), 1);
        assert_eq!(d.password_history[0].password, "one");
        d.set_field("recovery code", "abc", 5).unwrap();
        assert_eq!(d.field("recovery code").as_deref(), Some("abc"));
        assert!(!d.custom_fields[0].hidden);
        d.set_field("api token", "t", 5).unwrap();
        assert!(d.custom_fields[1].hidden);
    }

    #[test]
    fn debug_output_never_shows_plaintext() {
        let mut d = ItemData::new(ItemType::Login, "SentinelTitle", 1).unwrap();
        d.set_field("password", "SentinelSecret", 1).unwrap();
        d.set_field("password", "SentinelSecret2", 2).unwrap();
        d.set_field("custom", "SentinelCustom", 1).unwrap();
        d.notes = "SentinelNotes".into();
        let shown = format!(
            "{d:?} {:?} {:?} {:?}",
            d.overview(),
            d.custom_fields,
            d.password_history
        );
        assert!(!shown.contains("Sentinel"), "{shown}");
        assert!(shown.contains("login"));
    }

    #[test]
    fn types_parse_with_aliases_and_refuse_unknown() {
        assert_eq!(ItemType::parse("Website").unwrap(), ItemType::Login);
        assert_eq!(ItemType::parse("ssh-key").unwrap(), ItemType::SshKey);
        let e = ItemType::parse("spaceship").unwrap_err().to_string();
        assert!(e.contains("unknown item type"), "{e}");
        for t in ItemType::ALL {
            assert_eq!(ItemType::parse(t.as_str()).unwrap(), t);
        }
    }

    #[test]
    fn bad_totp_seed_is_refused() {
        let mut d = ItemData::new(ItemType::Login, "x", 1).unwrap();
        assert!(d.set_field("totp", "not base32 !!", 1).is_err());
        d.set_field("totp", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1)
            .unwrap();
    }
}
