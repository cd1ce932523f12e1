//! The form extractor every state-changing handler uses: it refuses a missing or foreign
//! CSRF token before it reads anything else, turns malformed bodies into 400 and oversized
//! ones into 413. Forms and query strings decode through one function that also refuses
//! control characters and overlong values, so no handler ever sees them.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::audit::{self, Outcome};
use crate::auth::Session;
use crate::state::AppState;

use super::error::AppError;
pub use super::validate::FieldErrors;

pub const CSRF_FIELD: &str = "csrf_token";

/// A urlencoded form whose CSRF token matched the session's.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<T> FromRequest<AppState> for Form<T>
where
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(mut request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let sender = Sender::of(&mut request, state).await?;
        let body = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        let pairs = decode_pairs(&body).ok_or_else(|| {
            AppError::BadRequest("The form could not be read: it is not valid UTF-8 text.".into())
        })?;
        sender.verify_csrf(state, &pairs).await?;
        refuse_unfit(&pairs, Source::Form)?;
        let value = serde_urlencoded::from_bytes(&body).map_err(|e| {
            AppError::BadRequest(format!("The form could not be read: {}.", describe(&e)))
        })?;
        Ok(Form(value))
    }
}

/// A form that may carry files: `multipart/form-data` (a file field's value is the file's
/// text) or urlencoded, its CSRF token checked like `Form`'s.
#[derive(Debug)]
pub struct UploadForm(pub Pairs);

impl FromRequest<AppState> for UploadForm {
    type Rejection = AppError;

    async fn from_request(mut request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_multipart(&request) {
            let Form(pairs) = Form::<Pairs>::from_request(request, state).await?;
            return Ok(UploadForm(pairs));
        }
        let sender = Sender::of(&mut request, state).await?;
        let mut parts = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|_| multipart_error(axum::http::StatusCode::BAD_REQUEST))?;
        let mut pairs = Vec::new();
        while let Some(field) = parts
            .next_field()
            .await
            .map_err(|e| multipart_error(e.status()))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let is_file = field.file_name().is_some();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| multipart_error(e.status()))?;
            // Spreadsheets often start their CSV files with a byte-order mark.
            let bytes = match bytes.strip_prefix("\u{feff}".as_bytes()) {
                Some(rest) if is_file => rest,
                _ => &bytes[..],
            };
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                AppError::BadRequest(if is_file {
                    format!("The file in “{name}” is not UTF-8 text; save it as CSV UTF-8 and try again.")
                } else {
                    "The form could not be read: it is not valid UTF-8 text.".into()
                })
            })?;
            pairs.push((name, text, is_file));
        }
        // A file's text is checked where it is read (the CSV import reports the line); its
        // size is the upload limit's business.
        let (files, fields): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(_, _, f)| *f);
        let fields: Vec<(String, String)> = fields.into_iter().map(|(n, v, _)| (n, v)).collect();
        sender.verify_csrf(state, &fields).await?;
        refuse_unfit(&fields, Source::Form)?;
        let mut pairs = fields;
        pairs.extend(files.into_iter().map(|(n, v, _)| (n, v)));
        Ok(UploadForm(Pairs(pairs)))
    }
}

/// A form that carries a file, read as it arrives so that no file is ever held whole: its
/// fields are collected, and each file field is handed to the handler to stream where it
/// belongs ([`StreamingForm::next_part`]). The CSRF token and the fields before a file are
/// checked as `Form` checks them before the file's first byte is read (a form puts its token
/// and fields before its file input), the fields after it at the end of the form. A
/// urlencoded post is read as a `Form` that has no file.
pub struct StreamingForm {
    parts: Option<axum::extract::Multipart>,
    guard: Guard,
}

/// The checks of a streamed form's fields, apart from the body being read.
struct Guard {
    state: AppState,
    /// Who sent it, until the token is checked.
    sender: Option<Sender>,
    fields: Vec<(String, String)>,
    /// How many fields have passed the checks.
    checked: usize,
}

impl Guard {
    /// Checks the fields read since the last check: the token once, and every field's value.
    async fn check(&mut self) -> Result<(), AppError> {
        let new = &self.fields[self.checked..];
        if let Some(sender) = self.sender.take() {
            sender.verify_csrf(&self.state, &self.fields).await?;
        } else if new.iter().any(|(name, _)| name == CSRF_FIELD) {
            // A second token after a file was streamed: exactly one is allowed.
            return Err(AppError::Csrf);
        }
        refuse_unfit(new, Source::Form)?;
        self.checked = self.fields.len();
        Ok(())
    }
}

/// A part of a [`StreamingForm`]: a field, read and kept with the others, or a file to read.
// One lives at a time, on the stack of the loop reading the form: not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Part<'a> {
    Field,
    File(FilePart<'a>),
}

/// A file field of a [`StreamingForm`], read chunk by chunk.
pub struct FilePart<'a> {
    field: axum::extract::multipart::Field<'a>,
    guard: &'a mut Guard,
}

impl FilePart<'_> {
    /// The file's name as the browser sent it (the HTML standard's escapes of `"`, CR and
    /// LF undone); nothing in it is checked yet.
    pub fn file_name(&self) -> String {
        self.field
            .file_name()
            .unwrap_or_default()
            .replace("%22", "\"")
            .replace("%0D", "\r")
            .replace("%0A", "\n")
    }

    /// The next chunk of the file, or `None` at its end. Before the first, the fields that
    /// came before the file are checked, the CSRF token first.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, AppError> {
        if self.guard.sender.is_some() || self.guard.checked < self.guard.fields.len() {
            self.guard.check().await?;
        }
        self.field
            .chunk()
            .await
            .map_err(|e| multipart_error(e.status()))
    }
}

impl FromRequest<AppState> for StreamingForm {
    type Rejection = AppError;

    async fn from_request(mut request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_multipart(&request) {
            let Form(Pairs(fields)) = Form::<Pairs>::from_request(request, state).await?;
            return Ok(StreamingForm {
                parts: None,
                guard: Guard {
                    state: state.clone(),
                    sender: None,
                    checked: fields.len(),
                    fields,
                },
            });
        }
        let sender = Sender::of(&mut request, state).await?;
        let parts = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|_| multipart_error(axum::http::StatusCode::BAD_REQUEST))?;
        Ok(StreamingForm {
            parts: Some(parts),
            guard: Guard {
                state: state.clone(),
                sender: Some(sender),
                fields: Vec::new(),
                checked: 0,
            },
        })
    }
}

/// The most bytes a field that is not a file may take: [`MAX_VALUE_CHARS`] characters of
/// four bytes, and a little.
const MAX_FIELD_BYTES: usize = MAX_VALUE_CHARS * 4 + 16;

/// Whether the request's body is `multipart/form-data`.
fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"))
}

/// A multipart body that cannot be read: too large (413), or anything else (400).
fn multipart_error(status: axum::http::StatusCode) -> AppError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest("The form could not be read.".into())
    }
}

impl StreamingForm {
    /// The fields read so far: all of them, checked, once [`next_part`] gave `None`.
    ///
    /// [`next_part`]: StreamingForm::next_part
    pub fn fields(&self) -> Pairs {
        Pairs(self.guard.fields.clone())
    }

    /// The next part of the form: a field (read, and kept for [`fields`]), a file to read,
    /// or `None` at the end of the form, when every field has been checked. After a refusal,
    /// [`discard`] the rest.
    ///
    /// [`fields`]: StreamingForm::fields
    /// [`discard`]: StreamingForm::discard
    pub async fn next_part(&mut self) -> Result<Option<Part<'_>>, AppError> {
        let Some(parts) = self.parts.as_mut() else {
            self.guard.check().await?;
            return Ok(None);
        };
        let field = match parts.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => {
                self.guard.check().await?;
                return Ok(None);
            }
            Err(e) => return Err(multipart_error(e.status())),
        };
        if field.file_name().is_some() {
            return Ok(Some(Part::File(FilePart {
                field,
                guard: &mut self.guard,
            })));
        }
        let name = field.name().unwrap_or_default().to_string();
        let mut field = field;
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| multipart_error(e.status()))?
        {
            if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
                let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
                return Err(AppError::Unprocessable(format!(
                    "Nothing was saved: the field “{name}” {}. Go back, correct it and send the form again.",
                    super::validate::TextProblem::TooLong(MAX_VALUE_CHARS).describe()
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(bytes).map_err(|_| {
            AppError::BadRequest("The form could not be read: it is not valid UTF-8 text.".into())
        })?;
        self.guard.fields.push((name, value));
        Ok(Some(Part::Field))
    }

    /// Reads the rest of the body and throws it away: a client still sending when the
    /// answer comes would see its connection reset instead of the answer.
    pub async fn discard(&mut self) {
        let Some(parts) = self.parts.as_mut() else {
            return;
        };
        while let Ok(Some(mut field)) = parts.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    }

    /// `checked` as it is; when it refused the request (no access, say), the rest of the
    /// body is thrown away first, so that the client reads the answer.
    pub async fn or_discard<T>(&mut self, checked: Result<T, AppError>) -> Result<T, AppError> {
        if checked.is_err() {
            self.discard().await;
        }
        checked
    }
}

fn body_error(rejection: axum::extract::rejection::BytesRejection) -> AppError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest("The form could not be read.".into())
    }
}

/// Who sent a form, read before its body is: the session, the path and the client address
/// that a refused token is audited with.
struct Sender {
    session: Session,
    path: String,
    addr: String,
}

impl Sender {
    async fn of(request: &mut Request, state: &AppState) -> Result<Sender, AppError> {
        let peer = super::peer(request);
        Ok(Sender {
            session: crate::auth::session::resolve(request.extensions_mut(), state).await?,
            path: request.uri().path().to_string(),
            addr: super::client_addr(request.headers(), peer, &state.config.trusted_proxies),
        })
    }

    /// Exactly one token, equal to the session's; a refusal is audited.
    async fn verify_csrf(
        &self,
        state: &AppState,
        pairs: &[(String, String)],
    ) -> Result<(), AppError> {
        let mut tokens = pairs
            .iter()
            .filter(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value);
        let token = tokens.next();
        let valid = match (&self.session.csrf_token, token, tokens.next()) {
            (Some(expected), Some(token), None) => {
                constant_time_eq(expected.as_bytes(), token.as_bytes())
            }
            _ => false,
        };
        if valid {
            return Ok(());
        }
        let entry = match &self.session.user {
            Some(user) => audit::Entry::by(user, "request.csrf", Outcome::Refused),
            None => audit::Entry::anonymous("request.csrf", Outcome::Refused),
        };
        if let Err(e) = entry
            .target(self.path.clone())
            .client_addr(self.addr.clone())
            .write(&state.pool, state.clock.now())
            .await
        {
            tracing::warn!(error = %e, "could not audit a refused form");
        }
        Err(AppError::Csrf)
    }
}

/// A serde message names fields, never types or paths; keep only that.
fn describe(error: &serde_urlencoded::de::Error) -> String {
    let text = error.to_string();
    if text.starts_with("duplicate field")
        || text.starts_with("missing field")
        || text.starts_with("unknown variant")
    {
        text
    } else {
        "a field has a value of the wrong kind".into()
    }
}

/// Decodes `application/x-www-form-urlencoded`, refusing anything that is not UTF-8 once
/// decoded (the usual decoders replace bad bytes silently).
fn decode_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    fn decode(part: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(part.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                byte => out.push(byte),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut halves = part.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or_default())?;
            let value = decode(halves.next().unwrap_or_default())?;
            Some((name, value))
        })
        .collect()
}

/// The longest value any field or query parameter may carry; each field's own, shorter
/// limit is checked where the form is parsed. Field names are ours and short.
pub const MAX_VALUE_CHARS: usize = 10_000;
const MAX_NAME_CHARS: usize = 100;

#[derive(Clone, Copy)]
enum Source {
    Form,
    Query,
}

/// Refuses the first field whose name or value carries a control character or is longer
/// than any field may be. Tab and line breaks pass here, since multi-line text needs them;
/// single-line fields refuse them where they are parsed.
fn refuse_unfit(pairs: &[(String, String)], source: Source) -> Result<(), AppError> {
    let problem = pairs.iter().find_map(|(name, value)| {
        let problem = if let Err(problem) = super::validate::plain_text(value, true) {
            problem
        } else if value.chars().count() > MAX_VALUE_CHARS {
            super::validate::TextProblem::TooLong(MAX_VALUE_CHARS)
        } else if name.chars().count() > MAX_NAME_CHARS || name.contains(char::is_control) {
            super::validate::TextProblem::Control
        } else {
            return None;
        };
        Some((name, problem))
    });
    let Some((name, problem)) = problem else {
        return Ok(());
    };
    // The name is shown escaped, and only a printable, bounded part of it.
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    Err(match source {
        Source::Form => AppError::Unprocessable(format!(
            "Nothing was saved: the field “{name}” {}. Go back, correct it and send the form again.",
            problem.describe()
        )),
        Source::Query => AppError::BadRequest(format!(
            "The address could not be read: the parameter “{name}” {}.",
            problem.describe()
        )),
    })
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The form of one row of a list page (answer this proposal, review that grant) that was
/// refused: which row, what was typed and why, so the page shows it again beside that row.
#[derive(Debug, Default)]
pub struct FailedRow(pub Option<(i64, Pairs, FieldErrors)>);

impl FailedRow {
    pub fn new(row: i64, form: Pairs, errors: FieldErrors) -> FailedRow {
        FailedRow(Some((row, form, errors)))
    }

    /// What was typed in `field` of row `row`'s form, if that form failed.
    pub fn typed(&self, row: i64, field: &str) -> Option<&str> {
        match &self.0 {
            Some((id, form, _)) if *id == row => Some(form.get(field)),
            _ => None,
        }
    }

    pub fn error(&self, row: i64, field: &str) -> Option<&str> {
        match &self.0 {
            Some((id, _, errors)) if *id == row => errors.get(field),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_VALUE_CHARS, Source, decode_pairs, refuse_unfit};

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn control_characters_are_refused_in_any_field_but_tabs_and_line_breaks_pass() {
        let fine = pairs(&[("a", "one\r\ntwo\tthree"), ("b", "é ✓")]);
        assert!(refuse_unfit(&fine, Source::Form).is_ok());
        for bad in ["\0", "x\u{1}", "\u{1b}[31m", "\u{7f}", "\u{85}", "\u{9f}"] {
            let form = pairs(&[("a", "fine"), ("b", bad)]);
            match refuse_unfit(&form, Source::Form) {
                Err(crate::web::error::AppError::Unprocessable(message)) => {
                    assert!(message.contains("“b”"), "{message}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
            assert!(matches!(
                refuse_unfit(&form, Source::Query),
                Err(crate::web::error::AppError::BadRequest(_))
            ));
        }
        assert!(refuse_unfit(&pairs(&[("a\0", "")]), Source::Form).is_err());
    }

    #[test]
    fn no_value_may_be_longer_than_the_universal_cap() {
        let at_cap = "é".repeat(MAX_VALUE_CHARS);
        assert!(refuse_unfit(&pairs(&[("a", &at_cap)]), Source::Form).is_ok());
        let past = "a".repeat(MAX_VALUE_CHARS + 1);
        assert!(refuse_unfit(&pairs(&[("a", &past)]), Source::Query).is_err());
    }

    #[test]
    fn forms_decode_strictly() {
        assert_eq!(
            decode_pairs(b"a=1+2&b=%C3%A9&c"),
            Some(vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "é".into()),
                ("c".into(), "".into())
            ])
        );
        assert_eq!(decode_pairs(b"a=%FF"), None);
        assert_eq!(decode_pairs(&[b'a', b'=', 0xff]), None);
        assert_eq!(decode_pairs(b"a=%G1"), None);
        assert_eq!(decode_pairs(b"a=%2"), None);
    }
}

/// Query-string parameters; malformed ones get the 400 page rather than a bare message.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = decode_pairs(query.as_bytes()).ok_or_else(|| {
            AppError::BadRequest(
                "The address could not be read: it is not valid UTF-8 text.".into(),
            )
        })?;
        refuse_unfit(&pairs, Source::Query)?;
        serde_urlencoded::from_str(query).map(Query).map_err(|e| {
            AppError::BadRequest(format!("The address could not be read: {}.", describe(&e)))
        })
    }
}

/// The numeric id in a record's path; anything else is a page that does not exist.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound)?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Id)
            .ok_or(AppError::NotFound)
    }
}

/// A form read as its name/value pairs, for forms with repeated fields (checkboxes) or rows.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// The first value of a field, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The key a form was rendered with, so that posting it twice saves once; a form without one
/// (not rendered by Trellis) gets a fresh key.
pub fn form_key(form: &Pairs) -> uuid::Uuid {
    uuid::Uuid::parse_str(form.get("form_key")).unwrap_or_else(|_| uuid::Uuid::new_v4())
}
