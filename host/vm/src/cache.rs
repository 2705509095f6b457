//! The on-disk cache of compiled contracts, keyed by code hash.
//!
//! A cached file is `<code hash>.cwasm` plus `<code hash>.sha256` holding
//! `SHA-256("phr/compiled-code/v1" 0x00 || code hash || compiled bytes)`, which
//! binds the compiled bytes to the code they claim to be. An entry that is
//! missing, corrupt, filed under another code hash, or compiled by another
//! engine configuration is ignored (and replaced). The cache is trusted like the
//! rest of the node's disk: a deliberately forged entry would run other code,
//! which the divergence alarm then catches at the next block.

use phr_ledger::{sha256, Hash32};
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::Engine;

pub(crate) fn load(dir: Option<&Path>, engine: &Engine, code_hash: &Hash32) -> Option<Component> {
    let dir = dir?;
    let bytes = std::fs::read(dir.join(format!("{code_hash}.cwasm"))).ok()?;
    let digest = std::fs::read_to_string(dir.join(format!("{code_hash}.sha256"))).ok()?;
    if entry_digest(code_hash, &bytes) != digest.trim() {
        tracing::warn!(%code_hash, "compiled-code cache entry is corrupt; recompiling");
        return None;
    }
    // SAFETY: the bytes were produced by `Component::serialize` of this node's
    // engine, as the digest written beside them attests; wasmtime itself checks
    // that the engine configuration and version match and errors if not.
    match unsafe { Component::deserialize(engine, &bytes) } {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::info!(%code_hash, "compiled-code cache entry not usable ({e}); recompiling");
            None
        }
    }
}

pub(crate) fn store(dir: Option<&Path>, component: &Component, code_hash: &Hash32) {
    let Some(dir) = dir else { return };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let bytes = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = tempfile_in(dir, code_hash)?;
        std::fs::write(&tmp, &bytes)?;
        std::fs::write(dir.join(format!("{code_hash}.sha256")), entry_digest(code_hash, &bytes))?;
        std::fs::rename(&tmp, dir.join(format!("{code_hash}.cwasm")))
    };
    if let Err(e) = write() {
        tracing::warn!(%code_hash, "could not cache compiled code: {e}");
    }
}

/// The digest written beside a cache entry.
pub fn entry_digest(code_hash: &Hash32, compiled: &[u8]) -> String {
    sha256(&[b"phr/compiled-code/v1\0", code_hash.as_bytes(), compiled]).to_hex()
}

fn tempfile_in(dir: &Path, code_hash: &Hash32) -> std::io::Result<std::path::PathBuf> {
    Ok(dir.join(format!("{code_hash}.{}.tmp", std::process::id())))
}
