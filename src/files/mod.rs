//! Uploaded files: kept in PostgreSQL (migration 0024) in chunks of 256 kB, written while
//! the upload arrives and read back while the download leaves, so that no file is ever held
//! whole in memory; at most 25 MB each, of a type told from its bytes ([`kind`]), under a
//! sanitised name ([`name`]), with its SHA-256. A file is written once and never changed.
//!
//! The records that carry files (a finding's evidence, an audit's working papers: `audits`)
//! tie them to themselves in attachment tables of their own, decide who may see them, and
//! serve them with [`download`]. A file is never deleted while such a row refers to it.

pub mod kind;
pub mod name;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgPool};

use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, User};
use crate::state::AppState;
use crate::web::error::{AppError, Result};
use crate::web::form::{Pairs, Part, StreamingForm};
use kind::{Accepted, Sniffed, TextCheck};

/// The largest file Trellis keeps: 25 MB.
pub const MAX_BYTES: usize = 25 * 1024 * 1024;
/// The body limit of a route that takes a file: a file a little past [`MAX_BYTES`] is still
/// read to its end, so that the form can be shown again with a message rather than the
/// connection being cut.
pub const BODY_LIMIT: usize = crate::web::UPLOAD_LIMIT;
const _: () = assert!(BODY_LIMIT > MAX_BYTES + 1024 * 1024);
/// The size of a stored chunk.
const CHUNK: usize = 256 * 1024;

/// A stored file, as a page lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredFile {
    pub id: i64,
    pub name: String,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

impl StoredFile {
    /// What people call its type: "PDF", "Excel workbook".
    pub fn type_label(&self) -> &'static str {
        kind::by_mime(&self.content_type).map_or("File", |k| k.label)
    }

    /// Its size in bytes, kB or MB (of 1,024).
    pub fn size_label(&self) -> String {
        let size = self.size_bytes as f64;
        if self.size_bytes < 1024 {
            format!("{} bytes", self.size_bytes)
        } else if size < 1024.0 * 1024.0 {
            format!("{:.1} kB", size / 1024.0)
        } else {
            format!("{:.1} MB", size / (1024.0 * 1024.0))
        }
    }

    /// The first 12 hex digits of its SHA-256, for people to compare at a glance.
    pub fn short_sha256(&self) -> &str {
        self.sha256.get(..12).unwrap_or(&self.sha256)
    }

    /// Whether the name it was sent with differs from the one it is kept under.
    pub fn renamed(&self) -> bool {
        self.original_name != self.name
    }
}

/// Why an uploaded file was not kept, in a sentence for the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Empty,
    TooLarge,
    /// Its type as told from its bytes, when known.
    WrongType(Option<&'static str>),
}

impl Refusal {
    pub fn message(&self) -> String {
        const ACCEPTED: &str = "Trellis accepts PDF, PNG, JPEG, GIF and WebP images, Word, Excel, PowerPoint and OpenDocument files, plain text, CSV and ZIP.";
        match self {
            Refusal::Missing => "Choose a file to upload.".into(),
            Refusal::Empty => "The file is empty: choose one with something in it.".into(),
            Refusal::TooLarge => format!(
                "The file is larger than {} MB, the most Trellis keeps: nothing was saved. Choose a smaller file (or split it) and send the form again.",
                MAX_BYTES / (1024 * 1024)
            ),
            Refusal::WrongType(Some(found)) => format!(
                "Its contents are not of a type Trellis keeps (they are {found}), whatever its name says. {ACCEPTED}"
            ),
            Refusal::WrongType(None) => {
                format!("Trellis could not tell what kind of file this is. {ACCEPTED}")
            }
        }
    }

    /// 413 for a file too large, 422 for the rest.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// A form with a file, read: its other fields, and the file stored (its id) or refused.
pub struct Upload {
    pub fields: Pairs,
    pub file: std::result::Result<StoredFile, Refusal>,
}

impl Upload {
    /// How the form answers when it is refused: 413 for a file too large, 422 for anything
    /// else.
    pub fn status(&self) -> StatusCode {
        match &self.file {
            Err(refusal) => refusal.status(),
            Ok(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// A stored file as the audit log records its upload or download.
pub fn details(file: &StoredFile) -> serde_json::Value {
    serde_json::json!({
        "file_id": file.id, "name": file.name, "original_name": file.original_name,
        "content_type": file.content_type, "size_bytes": file.size_bytes, "sha256": file.sha256,
    })
}

/// A refused file is in the audit log too (a form's own refusals are not): `target` is the
/// record it was meant for.
pub async fn audit_refusal(
    state: &AppState,
    current: &CurrentUser,
    addr: &str,
    target: String,
    upload: &Upload,
) {
    let Err(refusal) = &upload.file else {
        return;
    };
    if *refusal == Refusal::Missing {
        return;
    }
    let entry = audit::Entry::by(&current.user, "file.upload", Outcome::Refused)
        .target(target)
        .client_addr(addr.to_string())
        .details(serde_json::json!({ "reason": refusal.message() }));
    if let Err(e) = entry.write(&state.pool, state.clock.now()).await {
        tracing::warn!(error = %e, "could not audit a refused upload");
    }
}

/// Reads a form that carries one file, storing the file in `db`'s transaction as it
/// arrives: the file's row and chunks are written, or on a refusal none of them. The file
/// is refused when it is missing, empty, larger than [`MAX_BYTES`] or of a type Trellis
/// does not keep. A form that fails its checks (CSRF, control characters) is an error, and
/// the rest of its body is read and thrown away first.
pub async fn receive(
    form: &mut StreamingForm,
    db: &mut PgConnection,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Upload> {
    match receive_parts(form, db, user, now).await {
        Ok(file) => Ok(Upload {
            fields: form.fields(),
            file,
        }),
        Err(e) => {
            form.discard().await;
            Err(e)
        }
    }
}

async fn receive_parts(
    form: &mut StreamingForm,
    db: &mut PgConnection,
    user: &User,
    now: DateTime<Utc>,
) -> Result<std::result::Result<StoredFile, Refusal>> {
    let mut file = Err(Refusal::Missing);
    let mut files = 0;
    while let Some(part) = form.next_part().await? {
        let Part::File(mut part) = part else {
            continue;
        };
        files += 1;
        if files > 1 {
            return Err(AppError::BadRequest("Send one file at a time.".into()));
        }
        // A browser sends an empty, nameless file part when no file was chosen.
        if part.file_name().is_empty() {
            let mut size = 0;
            while let Some(chunk) = part.chunk().await? {
                size += chunk.len();
            }
            file = Err(if size == 0 {
                Refusal::Missing
            } else {
                Refusal::WrongType(None)
            });
            continue;
        }
        file = store(&mut part, db, user, now).await?;
    }
    Ok(file)
}

/// Streams one file into a savepoint of `db`'s transaction: released with the file stored,
/// or rolled back on a refusal. A refused file is still read to its end.
async fn store(
    part: &mut crate::web::form::FilePart<'_>,
    db: &mut PgConnection,
    user: &User,
    now: DateTime<Utc>,
) -> Result<std::result::Result<StoredFile, Refusal>> {
    let sent_name = part.file_name();
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar("select nextval(pg_get_serial_sequence('files', 'id'))")
        .fetch_one(&mut *tx)
        .await?;
    let mut hasher = Sha256::new();
    let mut text = TextCheck::default();
    let mut size = 0usize;
    let mut seq = 0i32;
    let mut pending: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut sniffed = None;
    let mut refusal = None;
    while let Some(bytes) = part.chunk().await? {
        if refusal.is_some() {
            continue;
        }
        size += bytes.len();
        if size > MAX_BYTES {
            refusal = Some(Refusal::TooLarge);
            pending = Vec::new();
            continue;
        }
        hasher.update(&bytes);
        text.feed(&bytes);
        pending.extend_from_slice(&bytes);
        while pending.len() >= CHUNK {
            let sniff = *sniffed.get_or_insert_with(|| kind::sniff(&pending));
            if let Sniffed::Refused(found) = sniff {
                refusal = Some(Refusal::WrongType(Some(found)));
                break;
            }
            let rest = pending.split_off(CHUNK);
            write_chunk(&mut tx, id, seq, &pending).await?;
            pending = rest;
            seq += 1;
        }
    }
    if size == 0 {
        refusal = Some(Refusal::Empty);
    }
    let sniff = sniffed.unwrap_or_else(|| kind::sniff(&pending));
    let accepted: Option<Accepted> = match sniff {
        Sniffed::Binary(accepted) => Some(accepted),
        Sniffed::Refused(found) => {
            refusal.get_or_insert(Refusal::WrongType(Some(found)));
            None
        }
        Sniffed::Unknown if text.is_text() => Some(if sent_name.to_lowercase().ends_with(".csv") {
            kind::CSV
        } else {
            kind::PLAIN_TEXT
        }),
        Sniffed::Unknown => None,
    };
    let accepted = match (refusal, accepted) {
        (Some(refusal), _) => {
            tx.rollback().await?;
            return Ok(Err(refusal));
        }
        (None, None) => {
            tx.rollback().await?;
            return Ok(Err(Refusal::WrongType(None)));
        }
        (None, Some(accepted)) => accepted,
    };
    if !pending.is_empty() {
        write_chunk(&mut tx, id, seq, &pending).await?;
    }
    let sha256: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stored = StoredFile {
        id,
        name: name::sanitise(&sent_name, &accepted),
        original_name: name::written_out(&sent_name),
        content_type: accepted.mime.to_string(),
        size_bytes: size as i64,
        sha256,
        uploaded_by: user.name.clone(),
        uploaded_at: now,
    };
    sqlx::query(
        "insert into files (id, name, original_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&stored.name)
    .bind(&stored.original_name)
    .bind(&stored.content_type)
    .bind(stored.size_bytes)
    .bind(&stored.sha256)
    .bind(user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(stored))
}

async fn write_chunk(db: &mut PgConnection, file: i64, seq: i32, bytes: &[u8]) -> Result<()> {
    sqlx::query("insert into file_chunks (file_id, seq, bytes) values ($1, $2, $3)")
        .bind(file)
        .bind(seq)
        .bind(bytes)
        .execute(db)
        .await?;
    Ok(())
}

/// The files `ids` names, as pages list them, by id.
pub async fn describe(
    db: &mut PgConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, StoredFile>> {
    let rows: Vec<StoredFile> = sqlx::query_as(
        "select f.id, f.name, f.original_name, f.content_type, f.size_bytes, f.sha256, u.name as uploaded_by,
                f.uploaded_at
         from files f join users u on u.id = f.uploaded_by
         where f.id = any($1)",
    )
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|f| (f.id, f)).collect())
}

/// One file, as [`describe`] gives it.
pub async fn one(db: &mut PgConnection, id: i64) -> Result<StoredFile> {
    describe(db, &[id])
        .await?
        .remove(&id)
        .ok_or(AppError::NotFound)
}

/// Serves the file `id` that the caller has let `current` see, its download written to the
/// audit log against `target` with the record's `details` beside the file's.
pub async fn serve(
    state: &AppState,
    db: &mut PgConnection,
    current: &CurrentUser,
    addr: String,
    id: i64,
    target: String,
    mut details: serde_json::Value,
) -> Result<Response> {
    let file = one(db, id).await?;
    if let (Some(details), serde_json::Value::Object(more)) =
        (details.as_object_mut(), self::details(&file))
    {
        details.extend(more);
    }
    audit::Entry::by(&current.user, "file.download", Outcome::Success)
        .target(target)
        .client_addr(addr)
        .details(details)
        .write(&mut *db, state.clock.now())
        .await?;
    Ok(download(&state.pool, &file))
}

/// The download of a file whose reader the caller has let see it: an attachment (never
/// shown in the browser) of the type told from its bytes, not to be sniffed or kept in a
/// shared cache, its chunks read one by one as the body is sent.
pub fn download(pool: &PgPool, file: &StoredFile) -> Response {
    let pool = pool.clone();
    let id = file.id;
    let chunks = futures_util::stream::try_unfold(0i32, move |seq| {
        let pool = pool.clone();
        async move {
            let bytes: Option<Vec<u8>> =
                sqlx::query_scalar("select bytes from file_chunks where file_id = $1 and seq = $2")
                    .bind(id)
                    .bind(seq)
                    .fetch_optional(&pool)
                    .await?;
            Ok::<_, sqlx::Error>(bytes.map(|bytes| (Bytes::from(bytes), seq + 1)))
        }
    });
    let content_type = if file.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", file.content_type)
    } else {
        file.content_type.clone()
    };
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type);
    set(
        header::CONTENT_DISPOSITION,
        name::content_disposition(&file.name),
    );
    set(header::CONTENT_LENGTH, file.size_bytes.to_string());
    set(header::CACHE_CONTROL, "private, no-store".into());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    response
}
