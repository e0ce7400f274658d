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
    if let Some(asset) = dev_override::get(path) {
        return asset;
    }
    let f = WebDist::get(path)?;
    Some(Asset {
        mime: f.metadata.mimetype().to_string(),
        sha256: f.metadata.sha256_hash(),
        data: f.data,
    })
}

/// Whether a build of the web app is present (its entry page exists).
pub fn is_built() -> bool {
    get("index.html").is_some()
}

/// Debug builds only: `CASTELLAN_WEB_DIST=/abs/path/to/dist` serves another build of the web app
/// (for example one from a second git worktree) without rebuilding the binary. Release builds
/// ignore the variable and serve only what they embed.
mod dev_override {
    use super::Asset;
    use std::borrow::Cow;
    use std::path::{Component, Path, PathBuf};

    /// `None` when no override applies; `Some(None)` when it applies and the file is missing.
    pub fn get(path: &str) -> Option<Option<Asset>> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let root = PathBuf::from(std::env::var_os("CASTELLAN_WEB_DIST")?);
        let rel = Path::new(path);
        // Only plain relative names: no `..`, no absolute paths, no prefixes.
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Some(None);
        }
        let file = rust_embed::utils::read_file_from_fs(&root.join(rel)).ok();
        Some(file.map(|f| Asset {
            mime: f.metadata.mimetype().to_string(),
            sha256: f.metadata.sha256_hash(),
            data: Cow::Owned(f.data.into_owned()),
        }))
    }
}
