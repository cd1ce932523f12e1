//! The register's pages: the list (a vendor's own, or every vendor's for our people), a new
//! document, one document with its versions, renewing it, accepting or rejecting a version,
//! and the download of a version's file.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::PgConnection;

use super::{
    COLUMNS, DocumentRow, Review, Standing, Visibility, commit_refreshing, may_review, may_upload,
};
use crate::auth::{CurrentUser, Role, policy};
use crate::files::{self, StoredFile, Upload};
use crate::state::AppState;
use crate::visibility;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, Query, StreamingForm, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::paging::{self, Pager};
use crate::web::validate;

const PER_PAGE: i64 = 50;

/// The register's filters, as the address gives them.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterQuery {
    pub vendor: Option<String>,
    pub standing: Option<String>,
    pub page: Option<String>,
}

/// The standings the register filters by: (value, label).
const STANDINGS: &[(&str, &str)] = &[
    ("lapsed", "Lapsed"),
    ("expiring", "Expiring within 30 days"),
    ("submitted", "Awaiting acceptance"),
    ("rejected", "Rejected"),
];

#[derive(sqlx::FromRow)]
struct Counted {
    #[sqlx(flatten)]
    row: DocumentRow,
    total: i64,
}

#[derive(Template)]
#[template(path = "documents/register.html")]
struct RegisterPage {
    layout: Layout,
    rows: Vec<DocumentRow>,
    today: NaiveDate,
    /// The organisation's people see every vendor's documents and filter by vendor.
    staff: bool,
    is_admin: bool,
    vendors: Vec<(i64, String)>,
    vendor: String,
    standing: String,
    standings: &'static [(&'static str, &'static str)],
    pager: Pager,
}

impl RegisterPage {
    fn standing_of(&self, row: &DocumentRow) -> Standing {
        row.standing(self.today)
    }
}

/// Today where the reader is.
fn today(state: &AppState, current: &CurrentUser) -> NaiveDate {
    state.clock.today(current.zone(state.config.time_zone))
}

/// Every vendor, by name, for our people's filters and forms.
async fn vendor_choices(db: &mut PgConnection) -> Result<Vec<(i64, String)>> {
    Ok(
        sqlx::query_as("select id, name from vendors order by lower(name), id")
            .fetch_all(db)
            .await?,
    )
}

pub async fn register(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<RegisterQuery>,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let staff = current.user.role != Role::Vendor;
    let today = today(&state, &current);
    let vendor_filter = query
        .vendor
        .as_deref()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|_| staff);
    let scope = policy::vendor_scope(&current.user).or(vendor_filter);
    let standing = query
        .standing
        .filter(|s| STANDINGS.iter().any(|(key, _)| key == s))
        .unwrap_or_default();
    let page = paging::page_number(query.page.as_deref());
    let rows: Vec<Counted> = sqlx::query_as(&format!(
        "select {COLUMNS}, count(*) over () as total
         from current_vendor_documents d
         join vendors v on v.id = d.vendor_id
         join users u on u.id = d.uploaded_by
         where ($1::bigint is null or d.vendor_id = $1)
           and (not $2 or d.visibility = 'shared')
           and case $3
                   when 'lapsed' then d.valid_until < $4
                   when 'expiring' then d.valid_until between $4 and $4 + 30
                   when 'submitted' then d.status = 'submitted'
                   when 'rejected' then d.status = 'rejected'
                   else true end
         order by d.valid_until, lower(v.name), lower(d.kind_name), d.id
         limit $5 offset $6"
    ))
    .bind(scope)
    .bind(visibility::for_vendor(&current.user))
    .bind(&standing)
    .bind(today)
    .bind(PER_PAGE)
    .bind(paging::offset(page, PER_PAGE))
    .fetch_all(&mut *conn)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let vendors = if staff {
        vendor_choices(&mut conn).await?
    } else {
        Vec::new()
    };
    let vendor = vendor_filter.map(|v| v.to_string()).unwrap_or_default();
    let pager = Pager::new(
        "/documents",
        &[("vendor", &vendor), ("standing", &standing)],
        page,
        PER_PAGE,
        total,
    );
    let page = RegisterPage {
        layout: Layout::new(&current.session, "Documents", "/documents"),
        rows: rows.into_iter().map(|c| c.row).collect(),
        today,
        staff,
        is_admin: current.user.role == Role::Admin,
        vendors,
        vendor,
        standing,
        standings: STANDINGS,
        pager,
    };
    Ok(Html(page.render()?))
}

/// A kind of document, as the forms offer it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KindChoice {
    pub id: i64,
    pub name: String,
    pub required: bool,
}

async fn kind_choices(db: &mut PgConnection) -> Result<Vec<KindChoice>> {
    Ok(
        sqlx::query_as("select id, name, required from document_kinds order by lower(name)")
            .fetch_all(db)
            .await?,
    )
}

#[derive(Template)]
#[template(path = "documents/new.html")]
struct NewPage {
    layout: Layout,
    /// The vendor the document is for when the reader cannot choose (a vendor user's own, or
    /// the one our people came from): id and name.
    fixed_vendor: Option<(i64, String)>,
    vendors: Vec<(i64, String)>,
    kinds: Vec<KindChoice>,
    staff: bool,
    form: Pairs,
    errors: FieldErrors,
}

impl NewPage {
    fn visibility_options(&self) -> Vec<(String, String)> {
        Visibility::options()
    }
}

async fn new_page(
    db: &mut PgConnection,
    current: &CurrentUser,
    vendor: Option<i64>,
    form: Pairs,
    errors: FieldErrors,
) -> Result<NewPage> {
    let staff = current.user.role != Role::Vendor;
    let vendors = if staff {
        vendor_choices(db).await?
    } else {
        Vec::new()
    };
    let fixed_vendor = match (&current.user.vendor, vendor) {
        (Some((id, name)), _) if !staff => Some((*id, name.clone())),
        (_, Some(id)) => vendors.iter().find(|(v, _)| *v == id).cloned(),
        _ => None,
    };
    Ok(NewPage {
        layout: Layout::new(&current.session, "Add a document", "/documents"),
        fixed_vendor,
        vendors,
        kinds: kind_choices(db).await?,
        staff,
        form,
        errors,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    pub vendor: Option<String>,
}

pub async fn new(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<NewQuery>,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let vendor = query.vendor.and_then(|v| v.trim().parse::<i64>().ok());
    let mut form = vec![("form_key".to_string(), uuid::Uuid::new_v4().to_string())];
    if let Some(vendor) = vendor {
        form.push(("vendor".into(), vendor.to_string()));
    }
    let page = new_page(
        &mut conn,
        &current,
        vendor,
        Pairs(form),
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// A version's facts, as the new and renew forms give them.
struct VersionInput {
    issuer: String,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    note: String,
}

impl VersionInput {
    fn parse(form: &Pairs, errors: &mut FieldErrors) -> Option<VersionInput> {
        let issuer = validate::required(
            errors,
            "issuer",
            form.get("issuer"),
            200,
            "Name who issued it: the auditor, the certification body, the insurer.",
        );
        let valid_from = validate::date(errors, "valid_from", form.get("valid_from"), true);
        let valid_until = validate::date(errors, "valid_until", form.get("valid_until"), true);
        let note = validate::optional(errors, "note", form.get("note"), 1000);
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until < from
        {
            errors.add(
                "valid_until",
                "The last day it is valid cannot come before its first.",
            );
        }
        Some(VersionInput {
            issuer,
            valid_from: valid_from?,
            valid_until: valid_until?,
            note,
        })
    }
}

/// A new document, as its form gives it.
struct NewDocument {
    vendor_id: i64,
    kind_id: i64,
    visibility: Visibility,
    version: VersionInput,
}

async fn parse_new(
    db: &mut PgConnection,
    current: &CurrentUser,
    upload: &Upload,
) -> Result<std::result::Result<NewDocument, FieldErrors>> {
    let form = &upload.fields;
    let mut errors = FieldErrors::default();
    let staff = current.user.role != Role::Vendor;
    let vendor_id = match policy::vendor_scope(&current.user) {
        Some(own) => Some(own),
        None => {
            validate::existing(
                &mut *db,
                &mut errors,
                "vendor",
                form.get("vendor"),
                "select id from vendors where id = $1",
                "Choose the vendor the document is from.",
            )
            .await?
        }
    };
    let kind_id = validate::existing(
        &mut *db,
        &mut errors,
        "kind",
        form.get("kind"),
        "select id from document_kinds where id = $1",
        "Choose what kind of document it is.",
    )
    .await?;
    let visibility = if staff {
        validate::choice(
            &mut errors,
            "visibility",
            form.get("visibility"),
            Visibility::parse,
            "Choose who may see it.",
        )
    } else {
        Some(Visibility::Shared)
    };
    let version = VersionInput::parse(form, &mut errors);
    if let Err(refusal) = &upload.file {
        errors.add("file", refusal.message());
    }
    Ok(match (vendor_id, kind_id, visibility, version) {
        (Some(vendor_id), Some(kind_id), Some(visibility), Some(version)) if errors.is_empty() => {
            Ok(NewDocument {
                vendor_id,
                kind_id,
                visibility,
                version,
            })
        }
        _ => Err(errors),
    })
}

/// Adds `file` as version `number` of `document`; `None` when the same form was sent before.
async fn insert_version(
    change: &mut Change<'_>,
    document: i64,
    number: i32,
    input: &VersionInput,
    file: &StoredFile,
    user_id: i64,
    form: &Pairs,
) -> Result<Option<i64>> {
    let now = change.now;
    Ok(sqlx::query_scalar(
        "insert into vendor_document_versions (document_id, version, file_id, issuer, valid_from,
                                               valid_until, note, uploaded_by, uploaded_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (form_key) do nothing returning id",
    )
    .bind(document)
    .bind(number)
    .bind(file.id)
    .bind(&input.issuer)
    .bind(input.valid_from)
    .bind(input.valid_until)
    .bind(&input.note)
    .bind(user_id)
    .bind(now)
    .bind(form_key(form))
    .fetch_optional(change.db())
    .await?)
}

pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    mut form: StreamingForm,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    let now = change.now;
    let upload = files::receive(&mut form, change.db(), &current.user, now).await?;
    let input = match parse_new(change.db(), &current, &upload).await? {
        Ok(input) => input,
        Err(errors) => {
            let vendor = policy::vendor_scope(&current.user)
                .or_else(|| upload.fields.get("vendor").parse().ok());
            files::audit_refusal(
                &state,
                &current,
                &addr,
                format!("vendor:{}", vendor.unwrap_or_default()),
                &upload,
            )
            .await;
            let status = upload.status();
            let page = new_page(change.db(), &current, None, upload.fields, errors).await?;
            return Ok((status, Html(page.render()?)).into_response());
        }
    };
    let Ok(file) = &upload.file else {
        return Err(AppError::BadRequest("The file was not kept.".into()));
    };
    let document: i64 = sqlx::query_scalar(
        "insert into vendor_documents (vendor_id, kind_id, visibility, created_by, created_at)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(input.vendor_id)
    .bind(input.kind_id)
    .bind(input.visibility)
    .bind(current.user.id)
    .bind(now)
    .fetch_one(change.db())
    .await?;
    let version = insert_version(
        &mut change,
        document,
        1,
        &input.version,
        file,
        current.user.id,
        &upload.fields,
    )
    .await?;
    if version.is_none() {
        // The same form, sent again: the first one's document stands, this one is undone.
        drop(change);
        return Ok(Redirect::to("/documents").into_response());
    }
    let mut details = files::details(file);
    details["document_id"] = document.into();
    details["version"] = 1.into();
    details["visibility"] = input.visibility.as_str().into();
    change
        .audit(
            "file.upload",
            format!("vendor:{}", input.vendor_id),
            details,
        )
        .await?;
    change
        .flash(Flash::success(if current.user.role == Role::Vendor {
            format!(
                "“{}” is in your register; the organisation's managers will review it.",
                file.name
            )
        } else {
            format!("“{}” is in the vendor's register.", file.name)
        }))
        .await?;
    commit_refreshing(change, input.vendor_id, None).await?;
    Ok(Redirect::to(&format!("/documents/{document}")).into_response())
}

/// A document's heading facts.
#[derive(sqlx::FromRow)]
struct Header {
    id: i64,
    vendor_id: i64,
    vendor_name: String,
    kind_name: String,
    required: bool,
    visibility: Visibility,
}

/// One version, as the document's page lists it.
#[derive(sqlx::FromRow)]
pub struct VersionRow {
    pub id: i64,
    pub version: i32,
    pub file_id: i64,
    pub issuer: String,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub note: String,
    pub status: Review,
    pub reason: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

/// A version with its file.
pub struct Version {
    pub row: VersionRow,
    pub file: StoredFile,
}

#[derive(Template)]
#[template(path = "documents/show.html")]
struct ShowPage {
    layout: Layout,
    doc: Header,
    /// The current version first.
    versions: Vec<Version>,
    today: NaiveDate,
    zone: chrono_tz::Tz,
    can_renew: bool,
    can_review: bool,
    /// The renewal form, typed and refused.
    renew_form: Pairs,
    renew_errors: FieldErrors,
    review_form: Pairs,
    review_errors: FieldErrors,
}

impl ShowPage {
    fn current(&self) -> Option<&Version> {
        self.versions.first()
    }

    fn standing_of(&self, v: &Version) -> Standing {
        Standing::on(v.row.valid_from, v.row.valid_until, self.today)
    }

    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn is_vendor(&self) -> bool {
        self.layout
            .user
            .as_ref()
            .is_some_and(|u| u.organisation.is_some())
    }
}

/// Forms of the document page shown again, refused: the renewal or the review.
enum Refused {
    None,
    Renew(Pairs, FieldErrors),
    Review(Pairs, FieldErrors),
}

async fn show_page(
    state: &AppState,
    db: &mut PgConnection,
    current: &CurrentUser,
    id: i64,
    refused: Refused,
) -> Result<ShowPage> {
    let (vendor_id, _) = super::visible(db, &current.user, id, false).await?;
    let doc: Header = sqlx::query_as(
        "select d.id, d.vendor_id, v.name as vendor_name, k.name as kind_name, k.required, d.visibility
         from vendor_documents d join vendors v on v.id = d.vendor_id
         join document_kinds k on k.id = d.kind_id
         where d.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *db)
    .await?;
    let rows: Vec<VersionRow> = sqlx::query_as(
        "select x.id, x.version, x.file_id, x.issuer, x.valid_from, x.valid_until, x.note, x.status,
                x.reason, r.name as reviewed_by, x.reviewed_at
         from vendor_document_versions x left join users r on r.id = x.reviewed_by
         where x.document_id = $1 order by x.version desc",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    // A renewal starts from the current version's issuer.
    let issuer = rows.first().map(|r| r.issuer.clone()).unwrap_or_default();
    let file_ids: Vec<i64> = rows.iter().map(|r| r.file_id).collect();
    let mut stored = files::describe(db, &file_ids).await?;
    let versions = rows
        .into_iter()
        .filter_map(|row| {
            let file = stored.remove(&row.file_id)?;
            Some(Version { row, file })
        })
        .collect();
    let fresh = || {
        Pairs(vec![
            ("form_key".into(), uuid::Uuid::new_v4().to_string()),
            ("issuer".into(), issuer.clone()),
        ])
    };
    let (renew_form, renew_errors, review_form, review_errors) = match refused {
        Refused::None => (
            fresh(),
            FieldErrors::default(),
            Pairs::default(),
            FieldErrors::default(),
        ),
        Refused::Renew(form, errors) => (form, errors, Pairs::default(), FieldErrors::default()),
        Refused::Review(form, errors) => (fresh(), FieldErrors::default(), form, errors),
    };
    Ok(ShowPage {
        layout: Layout::new(
            &current.session,
            format!("{}: {}", doc.kind_name, doc.vendor_name),
            "/documents",
        ),
        can_renew: may_upload(&current.user, vendor_id).is_ok(),
        can_review: may_review(&current.user).is_ok(),
        doc,
        versions,
        today: today(state, current),
        zone: current.zone(state.config.time_zone),
        renew_form,
        renew_errors,
        review_form,
        review_errors,
    })
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let page = show_page(&state, &mut conn, &current, id, Refused::None).await?;
    Ok(Html(page.render()?))
}

/// A new version of a document: its vendor's users (of a shared one) and our people.
pub async fn renew(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    mut form: StreamingForm,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    let checked = async {
        let (vendor_id, _) = super::visible(change.db(), &current.user, id, true).await?;
        may_upload(&current.user, vendor_id)?;
        Ok::<_, AppError>(vendor_id)
    }
    .await;
    let vendor_id = form.or_discard(checked).await?;
    let now = change.now;
    let upload = files::receive(&mut form, change.db(), &current.user, now).await?;
    let mut errors = FieldErrors::default();
    let input = VersionInput::parse(&upload.fields, &mut errors);
    if let Err(refusal) = &upload.file {
        errors.add("file", refusal.message());
    }
    let (Some(input), Ok(file), true) = (input, &upload.file, errors.is_empty()) else {
        files::audit_refusal(
            &state,
            &current,
            &addr,
            format!("vendor:{vendor_id}"),
            &upload,
        )
        .await;
        let status = upload.status();
        let page = show_page(
            &state,
            change.db(),
            &current,
            id,
            Refused::Renew(upload.fields, errors),
        )
        .await?;
        return Ok((status, Html(page.render()?)).into_response());
    };
    let number: i32 = sqlx::query_scalar(
        "select coalesce(max(version), 0) + 1 from vendor_document_versions where document_id = $1",
    )
    .bind(id)
    .fetch_one(change.db())
    .await?;
    let back = format!("/documents/{id}");
    let inserted = insert_version(
        &mut change,
        id,
        number,
        &input,
        file,
        current.user.id,
        &upload.fields,
    )
    .await?;
    if inserted.is_none() {
        return Ok(Redirect::to(&back).into_response());
    }
    let mut details = files::details(file);
    details["document_id"] = id.into();
    details["version"] = number.into();
    change
        .audit("file.upload", format!("vendor:{vendor_id}"), details)
        .await?;
    change
        .flash(Flash::success(format!(
            "Version {number} (“{}”) is now the current one.",
            file.name
        )))
        .await?;
    commit_refreshing(change, vendor_id, None).await?;
    Ok(Redirect::to(&back).into_response())
}

// What a manager decides of a version.
crate::choice!(pub Decision {
    Accept = "accept" / "Accept",
    Reject = "reject" / "Reject",
});

/// Accepts or rejects the current version (the one the form names, so that a version
/// uploaded meanwhile is not decided unseen); a rejection says why, for the vendor.
pub async fn review(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (vendor_id, _) = super::visible(change.db(), &current.user, id, true).await?;
    may_review(&current.user)?;
    let mut errors = FieldErrors::default();
    let decision = validate::choice(
        &mut errors,
        "decision",
        form.get("decision"),
        Decision::parse,
        "Choose to accept or reject it.",
    );
    let reason = validate::optional(&mut errors, "reason", form.get("reason"), 1000);
    if decision == Some(Decision::Reject) && reason.is_empty() {
        errors.add(
            "reason",
            "Say why it is not accepted, and what would be: the vendor reads this.",
        );
    }
    let version = form.get("version").trim().parse::<i64>().ok();
    let (Some(decision), Some(version), true) = (decision, version, errors.is_empty()) else {
        if version.is_none() {
            errors.add("decision", "Reload the page and decide again.");
        }
        let page = show_page(
            &state,
            change.db(),
            &current,
            id,
            Refused::Review(form, errors),
        )
        .await?;
        return refused(page);
    };
    let status = match decision {
        Decision::Accept => Review::Accepted,
        Decision::Reject => Review::Rejected,
    };
    let back = format!("/documents/{id}");
    let decided: Option<i32> = sqlx::query_scalar(
        "update vendor_document_versions x set status = $3, reason = $4, reviewed_by = $5, reviewed_at = $6
         where x.id = $2 and x.document_id = $1 and x.status = 'submitted'
           and x.version = (select max(version) from vendor_document_versions where document_id = $1)
         returning x.version",
    )
    .bind(id)
    .bind(version)
    .bind(status)
    .bind(&reason)
    .bind(current.user.id)
    .bind(change.now)
    .fetch_optional(change.db())
    .await?;
    let Some(number) = decided else {
        change
            .flash(Flash::success(
                "That version was decided or replaced meanwhile: here is where it stands.",
            ))
            .await?;
        change.commit().await?;
        return Ok(Redirect::to(&back).into_response());
    };
    change
        .audit(
            "document.review",
            format!("vendor:{vendor_id}"),
            serde_json::json!({ "document_id": id, "version": number, "decision": status, "reason": reason }),
        )
        .await?;
    change
        .flash(Flash::success(match decision {
            Decision::Accept => format!("Version {number} is accepted."),
            Decision::Reject => format!("Version {number} is rejected; the vendor reads why."),
        }))
        .await?;
    commit_refreshing(change, vendor_id, None).await?;
    Ok(Redirect::to(&back).into_response())
}

/// A version's file, to whoever may see its document: 404 to anyone else, exactly as for a
/// file that does not exist.
pub async fn file(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(file): Id,
    ClientAddr(addr): ClientAddr,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let (document, vendor_id, version): (i64, i64, i32) = sqlx::query_as(
        "select d.id, d.vendor_id, x.version
         from vendor_document_versions x join visible_vendor_documents($2) d on d.id = x.document_id
         where x.file_id = $1 and ($3::bigint is null or d.vendor_id = $3)",
    )
    .bind(file)
    .bind(visibility::for_vendor(&current.user))
    .bind(policy::vendor_scope(&current.user))
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    files::serve(
        &state,
        &mut conn,
        &current,
        addr,
        file,
        format!("vendor:{vendor_id}"),
        serde_json::json!({ "document_id": document, "version": version }),
    )
    .await
}
