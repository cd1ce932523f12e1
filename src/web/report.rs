//! The frame of a printable report (a review's, a scorecard's over a range of periods): no
//! navigation, a toolbar that print hides, A4 pages from the stylesheet's print rules, who
//! made it and when. The same HTML, its stylesheet inlined, is what [`pdf_answer`] prints.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

use super::assets;
use super::error::{Result, error_page};
use super::pdf::{self, PdfError};
use crate::auth::CurrentUser;
use crate::state::AppState;

pub struct ReportFrame {
    pub title: String,
    /// The page the report belongs to, for the toolbar's way back.
    pub back: String,
    /// The PDF of this report, when this instance can print one.
    pub pdf: Option<String>,
    /// "Made by … on … (zone)".
    pub made: String,
    pub css: &'static str,
    /// The stylesheet itself, in the HTML that is printed to PDF.
    pub inline_css: Option<&'static str>,
}

impl ReportFrame {
    /// The frame of a report `current` asked for at `now`; `pdf` is its PDF's address.
    pub fn new(
        state: &AppState,
        current: &CurrentUser,
        title: String,
        back: String,
        pdf: String,
        now: DateTime<Utc>,
    ) -> ReportFrame {
        let zone = current.zone(state.config.time_zone);
        ReportFrame {
            title,
            back,
            pdf: state.config.chromium.is_some().then_some(pdf),
            made: format!(
                "Made by {} on {} ({zone}) with Trellis",
                current.user.name,
                now.with_timezone(&zone).format("%Y-%m-%d %H:%M")
            ),
            css: assets::url("app.css"),
            inline_css: None,
        }
    }

    /// The same frame for the HTML that is printed to PDF.
    pub fn for_print(mut self) -> ReportFrame {
        self.inline_css = Some(assets::text("app.css"));
        self.pdf = None;
        self
    }
}

/// The report's HTML printed to PDF and sent as a download named `file`. Without Chromium
/// the report itself (`report`), which says to print it from the browser; when printing
/// fails, a page that says so.
pub async fn pdf_answer(
    state: &AppState,
    html: String,
    file: &str,
    report: &str,
) -> Result<Response> {
    match pdf::print(state.config.chromium.as_deref(), &html).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            Ok(response)
        }
        Err(PdfError::Unavailable) => Ok(Redirect::to(report).into_response()),
        Err(error) => {
            tracing::warn!(%error, "a report could not be printed to PDF");
            Ok(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "No PDF just now",
                "The PDF could not be made just now. Try again in a moment, or open the report and use your browser's Print: it makes the same A4 pages.",
            ))
        }
    }
}
