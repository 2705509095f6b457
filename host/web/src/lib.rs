//! The page for people: the repository's `web/` folder (plain HTML, CSS and ES
//! modules, no build step), embedded in the binary at compile time so that a
//! node serves it with no network access and no files beside it.
//!
//! [`Assets::embedded`] is what a node serves; [`Assets::from_dir`] serves a
//! folder from disk instead, for working on the page without rebuilding.
//! Either way [`Assets::get`] answers only files under the folder: a path
//! with `..`, a backslash, a hidden segment or an unknown extension is not
//! found, so nothing outside the page can be read through it.

use include_dir::{include_dir, Dir};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

static WEB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../web");

/// One file of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
    pub bytes: Cow<'static, [u8]>,
}

/// Why a folder cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("the page folder {0} has no index.html")]
    NoIndex(PathBuf),
}

/// Where the page's files come from.
#[derive(Debug, Clone)]
pub enum Assets {
    /// Compiled into the binary (what a node serves).
    Embedded,
    /// Read from this folder at each request (development).
    Dir(PathBuf),
}

impl Assets {
    /// The page compiled into this binary.
    pub fn embedded() -> Self {
        Assets::Embedded
    }

    /// The page read from `dir` at each request; `dir` must hold `index.html`.
    pub fn from_dir(dir: &Path) -> Result<Self, WebError> {
        if !dir.join("index.html").is_file() {
            return Err(WebError::NoIndex(dir.to_path_buf()));
        }
        Ok(Assets::Dir(dir.to_path_buf()))
    }

    /// The file at `path` (relative to the folder, `/`-separated), or `None`
    /// if there is no such file or the path is not a plain file name under it.
    pub fn get(&self, path: &str) -> Option<Asset> {
        let content_type = content_type(path)?;
        if !plain(path) {
            return None;
        }
        let bytes = match self {
            Assets::Embedded => Cow::Borrowed(WEB.get_file(path)?.contents()),
            Assets::Dir(dir) => Cow::Owned(std::fs::read(dir.join(path)).ok()?),
        };
        Some(Asset { content_type, bytes })
    }
}

/// Segments of letters, digits, `-`, `_` and `.`, none empty or starting with a dot.
fn plain(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// The media type of the extensions the page uses; anything else is not served.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" | "LICENSE" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_page_has_its_index_and_the_signing_library() {
        let a = Assets::embedded();
        let index = a.get("index.html").expect("index.html");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(std::str::from_utf8(&index.bytes).unwrap().contains("<html"));
        let lib = a.get("vendor/noble-secp256k1.js").expect("the vendored secp256k1");
        assert_eq!(lib.content_type, "text/javascript; charset=utf-8");
    }

    #[test]
    fn paths_outside_the_page_or_of_unknown_types_are_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("index.html"), "<html></html>").unwrap();
        std::fs::write(dir.join("secret.key"), "x").unwrap();
        std::fs::write(dir.join(".hidden.js"), "x").unwrap();
        let a = Assets::from_dir(&dir).unwrap();
        assert!(a.get("index.html").is_some());
        for bad in
            ["secret.key", ".hidden.js", "../index.html", "x/../index.html", "/index.html", "a\\b.js", "", "js//x.js"]
        {
            assert!(a.get(bad).is_none(), "{bad}");
        }
        for bad in ["../../Cargo.toml", "vendor/../../../etc/passwd.txt", ".git/config.json"] {
            assert!(Assets::embedded().get(bad).is_none(), "{bad}");
        }
        assert!(matches!(Assets::from_dir(&dir.join("none")), Err(WebError::NoIndex(_))));
    }
}
