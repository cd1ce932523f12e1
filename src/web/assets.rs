//! Static files, embedded in the binary and served with long cache lifetimes: their URLs
//! carry a hash of their content, so a new build never meets a stale copy.

use std::collections::HashMap;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

pub(super) struct Asset {
    pub(super) bytes: &'static [u8],
    pub(super) content_type: &'static str,
    url: String,
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        (
            $name,
            include_bytes!(concat!("../../static/", $name)).as_slice(),
            $content_type,
        )
    };
}

pub(super) static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    [
        asset!("app.css", "text/css; charset=utf-8"),
        asset!("favicon.svg", "image/svg+xml"),
    ]
    .into_iter()
    .map(|(name, bytes, content_type)| {
        let digest = Sha256::digest(bytes);
        let version: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let url = format!("/static/{name}?v={version}");
        (
            name,
            Asset {
                bytes,
                content_type,
                url,
            },
        )
    })
    .collect()
});

/// The versioned URL of an embedded file.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .get(name)
        .map_or("/static/missing", |asset| asset.url.as_str())
}

/// The text of an embedded file, for a page that carries it inline (a report printed to PDF
/// from a file, which cannot fetch it).
pub fn text(name: &str) -> &'static str {
    ASSETS
        .get(name)
        .and_then(|asset| std::str::from_utf8(asset.bytes).ok())
        .unwrap_or("")
}
