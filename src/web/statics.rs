//! Serving the embedded static files under their fingerprinted URLs (see `assets`).

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::assets::ASSETS;
use super::error::AppError;
use super::routes::Routes;

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
