//! The files of audits: a finding's evidence (from the side that remediates it, or the
//! engagement's managers) and an audit's working papers (the organisation's only). Each is a
//! row of an attachment table (`finding_files`, `audit_files`, migration 0024) that ties a
//! stored file (`crate::files`) to its record; replacing a file adds a row and marks the old
//! one replaced, so that earlier versions stay listed. What a vendor user may see of them is
//! `visible_finding_files` and `visible_audit_files`; who may add them, `auth::policy`.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model;
use super::pages::{list_page, show_page};
use super::{FindingStatus, Side};

use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::engagements::access;
use crate::files::{self, Refusal, StoredFile, Upload};
use crate::state::AppState;
use crate::visibility;
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{FailedRow, FieldErrors, Id, Pairs, StreamingForm, form_key};
use crate::web::layout::Flash;
use crate::web::validate;

/// The record a file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Finding,
    Audit,
}

impl Holder {
    /// Every version attached to the records `$1`, as the reader (`$2`: a vendor user?) may
    /// see them, oldest first.
    fn versions_sql(self) -> &'static str {
        match self {
            Holder::Finding => {
                "select id, finding_id as holder_id, file_id, note, replaced_by, superseded_at
                 from visible_finding_files($2) where finding_id = any($1) order by attached_at, id"
            }
            Holder::Audit => {
                "select id, audit_id as holder_id, file_id, note, replaced_by, superseded_at
                 from visible_audit_files($2) where audit_id = any($1) order by attached_at, id"
            }
        }
    }

    fn insert_sql(self) -> &'static str {
        match self {
            Holder::Finding => {
                "insert into finding_files (finding_id, file_id, note, attached_by, attached_at, form_key)
                 values ($1, $2, $3, $4, $5, $6) on conflict (form_key) do nothing returning id"
            }
            Holder::Audit => {
                "insert into audit_files (audit_id, file_id, note, attached_by, attached_at, form_key)
                 values ($1, $2, $3, $4, $5, $6) on conflict (form_key) do nothing returning id"
            }
        }
    }

    /// Marks `$3`, a current version of record `$4`, replaced by `$1` at `$2`.
    fn replace_sql(self) -> &'static str {
        match self {
            Holder::Finding => {
                "update finding_files set replaced_by = $1, superseded_at = $2
                 where id = $3 and finding_id = $4 and replaced_by is null and id <> $1"
            }
            Holder::Audit => {
                "update audit_files set replaced_by = $1, superseded_at = $2
                 where id = $3 and audit_id = $4 and replaced_by is null and id <> $1"
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    holder_id: i64,
    file_id: i64,
    note: String,
    replaced_by: Option<i64>,
    superseded_at: Option<DateTime<Utc>>,
}

/// A file attached to a record, with the versions it replaced.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    /// The attachment's id: what a replacement names.
    pub id: i64,
    pub note: String,
    pub file: StoredFile,
    /// When a newer version replaced it; none for the current one.
    pub superseded_at: Option<DateTime<Utc>>,
    /// The versions this one replaced, the latest first (empty on those themselves).
    pub earlier: Vec<Attachment>,
}

/// The current files of each of `ids` (records of `holder`) with their earlier versions, as
/// the reader may see them; two statements, whatever the number of records and files.
pub async fn attachments(
    db: &mut PgConnection,
    holder: Holder,
    ids: &[i64],
    for_vendor: bool,
) -> Result<BTreeMap<i64, Vec<Attachment>>> {
    let rows: Vec<VersionRow> = sqlx::query_as(holder.versions_sql())
        .bind(ids)
        .bind(for_vendor)
        .fetch_all(&mut *db)
        .await?;
    let file_ids: Vec<i64> = rows.iter().map(|r| r.file_id).collect();
    let mut stored = files::describe(db, &file_ids).await?;
    let replaced: HashMap<i64, &VersionRow> = rows
        .iter()
        .filter_map(|r| r.replaced_by.map(|by| (by, r)))
        .collect();
    let mut out: BTreeMap<i64, Vec<Attachment>> = BTreeMap::new();
    let mut take = |row: &VersionRow| -> Option<Attachment> {
        Some(Attachment {
            id: row.id,
            note: row.note.clone(),
            file: stored.remove(&row.file_id)?,
            superseded_at: row.superseded_at,
            earlier: Vec::new(),
        })
    };
    for row in rows.iter().filter(|r| r.replaced_by.is_none()) {
        let Some(mut current) = take(row) else {
            continue;
        };
        let mut at = row.id;
        while let Some(before) = replaced.get(&at) {
            current.earlier.extend(take(before));
            at = before.id;
        }
        out.entry(row.holder_id).or_default().push(current);
    }
    Ok(out)
}

/// The form's own fields beside the file.
struct Attaching {
    note: String,
    /// The attachment a new version replaces.
    replaces: Option<i64>,
}

impl Attaching {
    fn parse(form: &Pairs, file: &std::result::Result<StoredFile, Refusal>) -> (Self, FieldErrors) {
        let mut errors = FieldErrors::default();
        let note = validate::optional(&mut errors, "note", form.get("note"), 500);
        let replaces = match form.get("replaces").trim() {
            "" => None,
            id => match id.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    errors.add("replaces", "Choose a file of this record to replace.");
                    None
                }
            },
        };
        if let Err(refusal) = file {
            errors.add("file", refusal.message());
        }
        (Attaching { note, replaces }, errors)
    }
}

/// Stores the upload's file as a new attachment of `record` (a new version of the one it
/// replaces), with its audit entry. `Err` with the field errors when the form is refused;
/// `Ok(None)` when the same form was sent before (nothing more is written).
async fn attach(
    change: &mut Change<'_>,
    holder: Holder,
    record: i64,
    user_id: i64,
    upload: &Upload,
) -> Result<std::result::Result<Option<StoredFile>, FieldErrors>> {
    let (input, errors) = Attaching::parse(&upload.fields, &upload.file);
    let file = match &upload.file {
        Ok(file) if errors.is_empty() => file.clone(),
        _ => return Ok(Err(errors)),
    };
    let attachment: Option<i64> = sqlx::query_scalar(holder.insert_sql())
        .bind(record)
        .bind(file.id)
        .bind(&input.note)
        .bind(user_id)
        .bind(change.now)
        .bind(form_key(&upload.fields))
        .fetch_optional(change.db())
        .await?;
    let Some(attachment) = attachment else {
        return Ok(Ok(None));
    };
    if let Some(old) = input.replaces {
        let now = change.now;
        let replaced = sqlx::query(holder.replace_sql())
            .bind(attachment)
            .bind(now)
            .bind(old)
            .bind(record)
            .execute(change.db())
            .await?
            .rows_affected();
        if replaced == 0 {
            let mut errors = FieldErrors::default();
            errors.add(
                "replaces",
                "That file was replaced meanwhile, or is not this record's: reload the page and choose again.",
            );
            return Ok(Err(errors));
        }
    }
    Ok(Ok(Some(file)))
}

/// A finding and where it stands, as attaching evidence needs it.
#[derive(sqlx::FromRow)]
struct FindingOf {
    engagement_id: i64,
    owner_side: Side,
    status: FindingStatus,
}

/// Attaches an evidence file to a finding (or a new version of one), while it is not
/// settled: the vendor's users to the vendor's findings, the engagement's managers to any.
pub async fn attach_evidence(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(finding): Id,
    ClientAddr(addr): ClientAddr,
    mut form: StreamingForm,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    let checked = async {
        let row: FindingOf =
            sqlx::query_as("select engagement_id, owner_side, status from findings where id = $1")
                .bind(finding)
                .fetch_optional(change.db())
                .await?
                .ok_or(AppError::NotFound)?;
        let access = access(change.db(), &current.user, row.engagement_id).await?;
        policy::may_attach_evidence(access.reader(), row.owner_side == Side::Vendor)?;
        Ok::<_, AppError>(row)
    }
    .await;
    let row = form.or_discard(checked).await?;
    let back = format!(
        "/engagements/{}/audits#finding-{finding}",
        row.engagement_id
    );
    if row.status.is_settled() {
        form.discard().await;
        return Ok(Redirect::to(&back).into_response());
    }
    let now = change.now;
    let upload = files::receive(&mut form, change.db(), &current.user, now).await?;
    let target = format!("engagement:{}", row.engagement_id);
    let file = match attach(
        &mut change,
        Holder::Finding,
        finding,
        current.user.id,
        &upload,
    )
    .await?
    {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(Redirect::to(&back).into_response()),
        Err(errors) => {
            files::audit_refusal(&state, &current, &addr, target, &upload).await;
            let status = upload.status();
            let failed = FailedRow::new(finding, upload.fields, errors);
            let page = list_page(
                &state,
                &current,
                change.db(),
                row.engagement_id,
                FailedRow::default(),
                failed,
            )
            .await?;
            return Ok((status, Html(askama::Template::render(&page)?)).into_response());
        }
    };
    let mut details = files::details(&file);
    details["finding_id"] = finding.into();
    change.audit("file.upload", target, details).await?;
    change
        .flash(Flash::success(format!(
            "“{}” is attached to the finding.",
            file.name
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&back).into_response())
}

/// Attaches a working paper to an audit (or a new version of one): its engagement's managers.
pub async fn attach_working_paper(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(audit): Id,
    ClientAddr(addr): ClientAddr,
    mut form: StreamingForm,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    let checked = async {
        let (engagement_id, _) = model::load_audit(change.db(), audit).await?;
        let access = access(change.db(), &current.user, engagement_id).await?;
        policy::may_attach_working_papers(access.reader())?;
        Ok::<_, AppError>(engagement_id)
    }
    .await;
    let engagement_id = form.or_discard(checked).await?;
    let now = change.now;
    let upload = files::receive(&mut form, change.db(), &current.user, now).await?;
    let target = format!("engagement:{engagement_id}");
    let file = match attach(&mut change, Holder::Audit, audit, current.user.id, &upload).await? {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(Redirect::to(&format!("/audits/{audit}#papers")).into_response()),
        Err(errors) => {
            files::audit_refusal(&state, &current, &addr, target, &upload).await;
            let status = upload.status();
            let page = show_page(
                &state,
                &current,
                change.db(),
                audit,
                None,
                FieldErrors::default(),
                Some((upload.fields, errors)),
            )
            .await?;
            return Ok((status, Html(askama::Template::render(&page)?)).into_response());
        }
    };
    let mut details = files::details(&file);
    details["audit_id"] = audit.into();
    change.audit("file.upload", target, details).await?;
    change
        .flash(Flash::success(format!(
            "“{}” is attached to the audit's working papers.",
            file.name
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/audits/{audit}#papers")).into_response())
}

/// A finding's evidence file, to whoever may see the finding: 404 to anyone else, exactly
/// as for a file that does not exist.
pub async fn evidence_file(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(file): Id,
    ClientAddr(addr): ClientAddr,
) -> Result<Response> {
    let owner = "select f.id, f.engagement_id
         from visible_finding_files($2) ff join visible_findings($2) f on f.id = ff.finding_id
         where ff.file_id = $1";
    serve_owned(&state, &current, file, addr, owner, "finding_id").await
}

/// An audit's working paper, to the organisation's people; to a vendor user it does not
/// exist.
pub async fn working_paper(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(file): Id,
    ClientAddr(addr): ClientAddr,
) -> Result<Response> {
    let owner = "select a.id, a.engagement_id
         from visible_audit_files($2) af join visible_audits($2) a on a.id = af.audit_id
         where af.file_id = $1";
    serve_owned(&state, &current, file, addr, owner, "audit_id").await
}

/// Serves `file`, its download written to the audit log, when the record `owner` finds for
/// it ($1 the file, $2 whether the reader sees as a vendor: its id and engagement) is one the
/// reader may see; another vendor's record is missing, like one that does not exist. `key`
/// names the record in the audit log.
async fn serve_owned(
    state: &AppState,
    current: &CurrentUser,
    file: i64,
    addr: String,
    owner: &'static str,
    key: &str,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let (record, engagement_id): (i64, i64) = sqlx::query_as(owner)
        .bind(file)
        .bind(visibility::for_vendor(&current.user))
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    access(&mut conn, &current.user, engagement_id).await?;
    files::serve(
        state,
        &mut conn,
        current,
        addr,
        file,
        format!("engagement:{engagement_id}"),
        serde_json::json!({ key: record }),
    )
    .await
}
