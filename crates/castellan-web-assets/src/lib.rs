//! The web app's built files (`web/dist`, produced by `scripts/build-web`).
//!
//! Release builds embed the files in the binary; debug builds read them from `web/dist` at run
//! time (rust-embed's default), so a rebuilt web app needs no Rust rebuild while developing.
//! `allow_missing` lets `cargo build` succeed before the web app was ever built: the server then
//! answers with a "web app not built" page.

#![forbid(unsafe_code)]

use std::borrow::Cow;

#[derive(rust_embed::Embed)]
#[folder = "$CASTELLAN_WEB_DIST"]
#[allow_missing = true]
struct WebDist;

/// One built file.
pub struct Asset {
    pub data: Cow<'static, [u8]>,
    /// The MIME type guessed from the file name.
    pub mime: String,
    /// SHA-256 of the content (for the ETag).
    pub sha256: [u8; 32],
}

/// The file at `path` (relative to `web/dist`, no leading slash).
pub fn get(path: &str) -> Option<Asset> {
    let f = WebDist::get(path)?;
    Some(Asset {
        mime: f.metadata.mimetype().to_string(),
        sha256: f.metadata.sha256_hash(),
        data: f.data,
    })
}

/// Whether a build of the web app is present (its entry page exists).
pub fn is_built() -> bool {
    WebDist::get("index.html").is_some()
}
