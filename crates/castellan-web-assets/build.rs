//! Tells rust-embed where `web/dist` is, as an absolute path without `..` (rust-embed compares
//! canonical paths when it reads files from disk in debug builds), and rebuilds the embed when the
//! web build output changes. While `web/dist` does not exist, the whole `web` directory is
//! watched, so that its first build is picked up (a missing path would instead make Cargo rerun
//! this script on every build).
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by Cargo"));
    let root = manifest
        .parent()
        .and_then(|p| p.parent())
        .expect("the crate lives in crates/")
        .to_path_buf();
    let root = root.canonicalize().unwrap_or(root);
    let dist = root.join("web").join("dist");
    println!("cargo:rustc-env=CASTELLAN_WEB_DIST={}", dist.display());
    if dist.exists() {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        println!("cargo:rerun-if-changed={}", root.join("web").display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}
