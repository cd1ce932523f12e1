//! Static files, embedded in the binary and served with long cache lifetimes: their URLs
//! carry a hash of their content, so a new build never meets a stale copy.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::AppError;
use super::routes::Routes;

struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
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

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
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

pub async fn serve(Path(name): Path<String>) -> Result<Response, AppError> {
    let asset = ASSETS.get(name.as_str()).ok_or(AppError::NotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response())
}

pub fn routes() -> Routes {
    Routes::new().get("/static/{name}", serve)
}
