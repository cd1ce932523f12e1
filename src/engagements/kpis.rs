//! An engagement's KPIs and the history of their terms. Target, threshold, weight and
//! active take effect on the day they are saved (in the engagement's time zone) and are
//! kept with that date, so each period is scored with the terms in force on its last day.

use std::str::FromStr;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use super::{Access, access};
use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};

use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

pub use crate::vocab::{Direction, Source};

/// Target and threshold must sit the right way round: the threshold is the worst acceptable
/// value, strictly on the bad side of the target.
pub fn check_terms(
    direction: Direction,
    target: Decimal,
    threshold: Decimal,
) -> std::result::Result<(), &'static str> {
    match direction {
        Direction::Higher if threshold >= target => Err(
            "Where higher is better, the threshold (the worst acceptable value) must be below the target.",
        ),
        Direction::Lower if threshold <= target => Err(
            "Where lower is better, the threshold (the worst acceptable value) must be above the target.",
        ),
        _ => Ok(()),
    }
}

/// A KPI with the terms in force on a day.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct KpiLine {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub direction: String,
    pub source: String,
    pub target: Decimal,
    pub threshold: Decimal,
    pub weight: Decimal,
    pub active: bool,
}

impl KpiLine {
    pub fn direction_label(&self) -> &'static str {
        Direction::parse(&self.direction).map_or("", Direction::label)
    }

    pub fn source_label(&self) -> &'static str {
        Source::parse(&self.source).map_or("", Source::label)
    }

    pub fn target_text(&self) -> String {
        with_unit(self.target, &self.unit)
    }

    pub fn threshold_text(&self) -> String {
        with_unit(self.threshold, &self.unit)
    }
}

pub fn with_unit(value: Decimal, unit: &str) -> String {
    let value = value.normalize();
    match unit {
        "" => value.to_string(),
        "%" => format!("{value}%"),
        unit => format!("{value} {unit}"),
    }
}

const LINE_COLUMNS: &str = "k.id, k.name, k.description, k.unit, k.direction, k.source, t.target, t.threshold, t.weight, t.active";
/// The terms in force on $2; a KPI whose first terms start later shows those.
const TERMS_JOIN: &str = "join lateral (select target, threshold, weight, active from kpi_terms t
                                        where t.kpi_id = k.id
                                        order by t.effective_from <= $2 desc,
                                                 case when t.effective_from <= $2 then t.effective_from end desc,
                                                 t.effective_from
                                        limit 1) t on true";

pub async fn lines(
    db: &mut PgConnection,
    engagement_id: i64,
    day: NaiveDate,
) -> Result<Vec<KpiLine>> {
    let sql = format!(
        "select {LINE_COLUMNS} from kpis k {TERMS_JOIN} where k.engagement_id = $1 order by t.active desc, lower(k.name)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(engagement_id)
        .bind(day)
        .fetch_all(db)
        .await?)
}

async fn line(
    db: &mut PgConnection,
    kpi_id: i64,
    day: NaiveDate,
) -> Result<Option<(i64, KpiLine)>> {
    let sql =
        format!("select k.engagement_id, {LINE_COLUMNS} from kpis k {TERMS_JOIN} where k.id = $1");
    #[derive(sqlx::FromRow)]
    struct Row {
        engagement_id: i64,
        #[sqlx(flatten)]
        line: KpiLine,
    }
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(kpi_id)
        .bind(day)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.engagement_id, r.line)))
}

/// Records the terms of a KPI from `day` on; a second change on the same day replaces the first.
#[allow(clippy::too_many_arguments)]
async fn save_terms(
    db: &mut PgConnection,
    kpi_id: i64,
    day: NaiveDate,
    target: Decimal,
    threshold: Decimal,
    weight: Decimal,
    active: bool,
    by: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_by, changed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (kpi_id, effective_from) do update
         set target = excluded.target, threshold = excluded.threshold, weight = excluded.weight,
             active = excluded.active, changed_by = excluded.changed_by, changed_at = excluded.changed_at",
    )
    .bind(kpi_id)
    .bind(day)
    .bind(target)
    .bind(threshold)
    .bind(weight)
    .bind(active)
    .bind(by)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub fn decimal(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    missing: &str,
) -> Option<Decimal> {
    let value = value.trim().replace(',', ".");
    if value.is_empty() {
        errors.add(field, missing);
        return None;
    }
    match Decimal::from_str(&value) {
        Ok(d) if d.abs() < Decimal::from(1_000_000_000_000i64) => Some(d),
        _ => {
            errors.add(field, "Enter a number, such as 99.5.");
            None
        }
    }
}

fn weight(
    errors: &mut FieldErrors,
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &str,
) -> Option<Decimal> {
    let field = field.into();
    match Decimal::from_str(value.trim()) {
        Ok(w) if w >= Decimal::ZERO && w <= Decimal::from(100) && w.scale() <= 2 => Some(w),
        _ => {
            errors.add(
                field,
                "Enter a weight from 0 to 100 (at most two decimals).",
            );
            None
        }
    }
}

/// The KPI form's fields once valid; also what the audit log records.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct KpiFields {
    name: String,
    description: String,
    unit: String,
    direction: String,
    source: String,
    target: Decimal,
    threshold: Decimal,
}

fn parse_kpi(form: &Pairs) -> std::result::Result<KpiFields, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = validate::required(&mut errors, "name", form.get("name"), 200, "Name the KPI.");
    let description = validate::optional(&mut errors, "description", form.get("description"), 2000);
    let unit = validate::optional(&mut errors, "unit", form.get("unit"), 30);
    let direction = validate::choice(
        &mut errors,
        "direction",
        form.get("direction"),
        Direction::parse,
        "Say whether higher or lower is better.",
    );
    let source = validate::choice(
        &mut errors,
        "source",
        form.get("source"),
        Source::parse,
        "Say who records the values.",
    );
    let target = decimal(
        &mut errors,
        "target",
        form.get("target"),
        "Enter the target.",
    );
    let threshold = decimal(
        &mut errors,
        "threshold",
        form.get("threshold"),
        "Enter the threshold.",
    );
    if let (Some(direction), Some(target), Some(threshold)) = (direction, target, threshold)
        && let Err(message) = check_terms(direction, target, threshold)
    {
        errors.add("threshold", message);
    }
    match (direction, source, target, threshold) {
        (Some(direction), Some(source), Some(target), Some(threshold)) if errors.is_empty() => {
            Ok(KpiFields {
                name,
                description,
                unit,
                direction: direction.as_str().to_string(),
                source: source.as_str().to_string(),
                target,
                threshold,
            })
        }
        _ => Err(errors),
    }
}

fn is_duplicate_name(error: &sqlx::Error) -> bool {
    crate::web::error::violates(error, "kpis_name_key")
}

#[derive(Template)]
#[template(path = "engagements/kpis.html")]
struct KpisPage {
    layout: Layout,
    access: Access,
    kpis: Vec<KpiLine>,
    form: Pairs,
    errors: FieldErrors,
    total: Decimal,
}

impl KpisPage {
    fn weight_of(&self, kpi: &KpiLine) -> String {
        self.form
            .0
            .iter()
            .find(|(k, _)| *k == format!("weight_{}", kpi.id))
            .map_or_else(|| kpi.weight.normalize().to_string(), |(_, v)| v.clone())
    }

    fn active_of(&self, kpi: &KpiLine) -> bool {
        if self.form.0.is_empty() {
            kpi.active
        } else {
            self.form.get(&format!("active_{}", kpi.id)) == "yes"
        }
    }
}

async fn staff_access(db: &mut PgConnection, current: &CurrentUser, id: i64) -> Result<Access> {
    let access = access(db, &current.user, id).await?;
    if access.is_vendor {
        // Vendor users read the KPIs on their agreement and scorecard.
        return Err(AppError::NotFound);
    }
    Ok(access)
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = staff_access(&mut conn, &current, id).await?;
    let kpis = lines(&mut conn, id, state.clock.today(access.zone())).await?;
    let total = kpis.iter().filter(|k| k.active).map(|k| k.weight).sum();
    let page = KpisPage {
        layout: Layout::new(
            &current.session,
            format!("KPIs: {}", access.name),
            "/engagements",
        ),
        access,
        kpis,
        form: Pairs::default(),
        errors: FieldErrors::default(),
        total,
    };
    Ok(Html(page.render()?))
}

/// Saves every KPI's weight and active flag at once. An active engagement's active weights
/// must still total 100 afterwards.
pub async fn save_weights(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let access = staff_access(&mut tx, &current, id).await?;
    access.require_manage()?;
    let today = state.clock.today(access.zone());
    let kpis = lines(&mut tx, id, today).await?;
    let mut errors = FieldErrors::default();
    let mut changes = Vec::new();
    let mut total = Decimal::ZERO;
    for kpi in &kpis {
        let new_weight = weight(
            &mut errors,
            format!("weight_{}", kpi.id),
            form.get(&format!("weight_{}", kpi.id)),
        );
        let active = form.get(&format!("active_{}", kpi.id)) == "yes";
        if let Some(w) = new_weight {
            if active {
                total += w;
            }
            if w != kpi.weight || active != kpi.active {
                changes.push((kpi, w, active));
            }
        }
    }
    if errors.is_empty() && access.status == super::Status::Active && total != Decimal::from(100) {
        errors.add(
            "total",
            format!("The engagement is active, so its active KPIs' weights must total 100; these total {}.", total.normalize()),
        );
    }
    if !errors.is_empty() {
        let page = KpisPage {
            layout: Layout::new(
                &current.session,
                format!("KPIs: {}", access.name),
                "/engagements",
            ),
            access,
            kpis,
            form,
            errors,
            total,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    for (kpi, w, active) in &changes {
        save_terms(
            &mut tx,
            kpi.id,
            today,
            kpi.target,
            kpi.threshold,
            *w,
            *active,
            current.user.id,
            now,
        )
        .await?;
    }
    if !changes.is_empty() {
        let before: Vec<_> = changes.iter().map(|(k, _, _)| serde_json::json!({ "kpi_id": k.id, "weight": k.weight, "active": k.active })).collect();
        let after: Vec<_> = changes
            .iter()
            .map(|(k, w, a)| serde_json::json!({ "kpi_id": k.id, "weight": w, "active": a }))
            .collect();
        audit::Entry::by(&current.user, "kpi.weights", Outcome::Success)
            .target(format!("engagement:{id}"))
            .client_addr(addr)
            .details(
                serde_json::json!({ "effective_from": today, "before": before, "after": after }),
            )
            .write(&mut *tx, now)
            .await?;
    }
    let message = if total == Decimal::from(100) {
        "The weights are saved; they total 100.".to_string()
    } else {
        format!(
            "The weights are saved. They total {}: the engagement can be made active only at 100.",
            total.normalize()
        )
    };
    session::set_flash(&mut *tx, &current.session, Flash::success(message)).await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, id).await;
    Ok(Redirect::to(&format!("/engagements/{id}/kpis")).into_response())
}

#[derive(Template)]
#[template(path = "engagements/kpi_form.html")]
struct KpiFormPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    /// The KPI being edited.
    editing: Option<i64>,
}

impl KpiFormPage {
    fn direction_options(&self) -> Vec<(String, String)> {
        Direction::options_with_prompt()
    }

    fn source_options(&self) -> Vec<(String, String)> {
        Source::options_with_prompt()
    }
}

pub async fn new(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let access = staff_access(&mut conn, &current, id).await?;
    access.require_manage()?;
    let active_default = if access.status == super::Status::Active {
        ""
    } else {
        "yes"
    };
    let page = KpiFormPage {
        layout: Layout::new(
            &current.session,
            format!("New KPI: {}", access.name),
            "/engagements",
        ),
        form: Pairs(vec![
            ("weight".into(), "0".into()),
            ("active".into(), active_default.into()),
        ]),
        errors: FieldErrors::default(),
        access,
        editing: None,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let access = staff_access(&mut tx, &current, id).await?;
    access.require_manage()?;
    let parsed = parse_kpi(&form);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    let new_weight = weight(&mut errors, "weight", form.get("weight"));
    let active = form.get("active") == "yes";
    if access.status == super::Status::Active
        && active
        && new_weight.is_some_and(|w| w > Decimal::ZERO)
    {
        errors.add("active", "The engagement is active and its weights total 100: add the KPI inactive, then rebalance the weights on the KPIs page.");
    }
    let render = |form: Pairs, errors: FieldErrors, access: Access| -> Result<Response> {
        let page = KpiFormPage {
            layout: Layout::new(
                &current.session,
                format!("New KPI: {}", access.name),
                "/engagements",
            ),
            form,
            errors,
            access,
            editing: None,
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
    };
    let (fields, new_weight) = match (parsed, new_weight) {
        (Ok(fields), Some(w)) if errors.is_empty() => (fields, w),
        _ => return render(form, errors, access),
    };
    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into kpis (engagement_id, name, description, unit, direction, source) values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(id)
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(&fields.unit)
    .bind(&fields.direction)
    .bind(&fields.source)
    .fetch_one(&mut *tx)
    .await;
    let kpi_id = match inserted {
        Ok(kpi_id) => kpi_id,
        Err(e) if is_duplicate_name(&e) => {
            let mut errors = FieldErrors::default();
            errors.add("name", "This engagement already has a KPI with that name.");
            return render(form, errors, access);
        }
        Err(e) => return Err(e.into()),
    };
    let today = state.clock.today(access.zone());
    save_terms(
        &mut tx,
        kpi_id,
        today,
        fields.target,
        fields.threshold,
        new_weight,
        active,
        current.user.id,
        now,
    )
    .await?;
    audit::Entry::by(&current.user, "kpi.create", Outcome::Success)
        .target(format!("kpi:{kpi_id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "engagement_id": id, "after": fields, "weight": new_weight, "active": active, "effective_from": today }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("{} is added.", fields.name)),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}/kpis")).into_response())
}

#[derive(sqlx::FromRow)]
struct TermsRow {
    effective_from: NaiveDate,
    target: Decimal,
    threshold: Decimal,
    weight: Decimal,
    active: bool,
    changed_by: Option<String>,
}

#[derive(Template)]
#[template(path = "engagements/kpi.html")]
struct KpiPage {
    layout: Layout,
    access: Access,
    kpi: KpiLine,
    history: Vec<TermsRow>,
}

/// Loads a KPI through its engagement, so a vendor user's scope applies.
async fn kpi_access(
    db: &mut PgConnection,
    current: &CurrentUser,
    kpi_id: i64,
    state: &AppState,
) -> Result<(Access, KpiLine)> {
    let engagement_id: i64 = sqlx::query_scalar("select engagement_id from kpis where id = $1")
        .bind(kpi_id)
        .fetch_optional(&mut *db)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = staff_access(db, current, engagement_id).await?;
    let (_, kpi) = line(db, kpi_id, state.clock.today(access.zone()))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((access, kpi))
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(kpi_id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let (access, kpi) = kpi_access(&mut conn, &current, kpi_id, &state).await?;
    let history: Vec<TermsRow> = sqlx::query_as(
        "select t.effective_from, t.target, t.threshold, t.weight, t.active, u.name as changed_by
         from kpi_terms t left join users u on u.id = t.changed_by
         where t.kpi_id = $1 order by t.effective_from desc",
    )
    .bind(kpi_id)
    .fetch_all(&mut *conn)
    .await?;
    let page = KpiPage {
        layout: Layout::new(&current.session, kpi.name.clone(), "/engagements"),
        access,
        kpi,
        history,
    };
    Ok(Html(page.render()?))
}

fn pairs_of(kpi: &KpiLine) -> Pairs {
    Pairs(vec![
        ("name".into(), kpi.name.clone()),
        ("description".into(), kpi.description.clone()),
        ("unit".into(), kpi.unit.clone()),
        ("direction".into(), kpi.direction.clone()),
        ("source".into(), kpi.source.clone()),
        ("target".into(), kpi.target.normalize().to_string()),
        ("threshold".into(), kpi.threshold.normalize().to_string()),
    ])
}

pub async fn edit(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(kpi_id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let (access, kpi) = kpi_access(&mut conn, &current, kpi_id, &state).await?;
    access.require_manage()?;
    let page = KpiFormPage {
        layout: Layout::new(
            &current.session,
            format!("Edit {}", kpi.name),
            "/engagements",
        ),
        form: pairs_of(&kpi),
        errors: FieldErrors::default(),
        access,
        editing: Some(kpi_id),
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(kpi_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (access, kpi) = kpi_access(&mut tx, &current, kpi_id, &state).await?;
    access.require_manage()?;
    let render = |form: Pairs, errors: FieldErrors, access: Access| -> Result<Response> {
        let page = KpiFormPage {
            layout: Layout::new(
                &current.session,
                format!("Edit {}", kpi.name),
                "/engagements",
            ),
            form,
            errors,
            access,
            editing: Some(kpi_id),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
    };
    let after = match parse_kpi(&form) {
        Ok(after) => after,
        Err(errors) => return render(form, errors, access),
    };
    let updated = sqlx::query("update kpis set name = $2, description = $3, unit = $4, direction = $5, source = $6 where id = $1")
        .bind(kpi_id)
        .bind(&after.name)
        .bind(&after.description)
        .bind(&after.unit)
        .bind(&after.direction)
        .bind(&after.source)
        .execute(&mut *tx)
        .await;
    if let Err(e) = updated {
        if is_duplicate_name(&e) {
            let mut errors = FieldErrors::default();
            errors.add("name", "This engagement already has a KPI with that name.");
            return render(form, errors, access);
        }
        return Err(e.into());
    }
    let today = state.clock.today(access.zone());
    if after.target != kpi.target || after.threshold != kpi.threshold {
        save_terms(
            &mut tx,
            kpi_id,
            today,
            after.target,
            after.threshold,
            kpi.weight,
            kpi.active,
            current.user.id,
            now,
        )
        .await?;
    }
    let before = KpiFields {
        name: kpi.name.clone(),
        description: kpi.description.clone(),
        unit: kpi.unit.clone(),
        direction: kpi.direction.clone(),
        source: kpi.source.clone(),
        target: kpi.target,
        threshold: kpi.threshold,
    };
    if before != after {
        audit::Entry::by(&current.user, "kpi.update", Outcome::Success)
            .target(format!("kpi:{kpi_id}"))
            .client_addr(addr)
            .details(
                serde_json::json!({ "before": before, "after": after, "effective_from": today }),
            )
            .write(&mut *tx, now)
            .await?;
    }
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!(
            "Saved {}; new terms apply from {today}.",
            after.name
        )),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, access.id).await;
    Ok(Redirect::to(&format!("/kpis/{kpi_id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn the_threshold_must_be_strictly_on_the_bad_side_of_the_target() {
        assert!(check_terms(Direction::Higher, d("99.9"), d("99.5")).is_ok());
        assert!(check_terms(Direction::Higher, d("99.9"), d("99.9")).is_err());
        assert!(check_terms(Direction::Higher, d("99.9"), d("100")).is_err());
        assert!(check_terms(Direction::Lower, d("4"), d("8")).is_ok());
        assert!(check_terms(Direction::Lower, d("4"), d("4")).is_err());
        assert!(check_terms(Direction::Lower, d("4"), d("2")).is_err());
    }

    #[test]
    fn values_read_with_their_unit() {
        assert_eq!(with_unit(d("99.90"), "%"), "99.9%");
        assert_eq!(with_unit(d("4"), "hours"), "4 hours");
        assert_eq!(with_unit(d("12.5"), ""), "12.5");
    }
}
