//! The KPI pages: the engagement's KPIs with their weights, a KPI with the history of its
//! terms, and the forms that add and change them. Each form becomes its typed input first.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use super::{Direction, KpiLine, Source, check_terms, decimal, line, lines, save_terms, weight};
use crate::auth::CurrentUser;
use crate::engagements::{Access, Status, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

/// The KPI form's fields once valid; also what the audit log records.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct KpiFields {
    name: String,
    description: String,
    unit: String,
    direction: Direction,
    source: Source,
    target: Decimal,
    threshold: Decimal,
}

impl KpiFields {
    fn parse(form: &Pairs) -> std::result::Result<KpiFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = validate::required(&mut errors, "name", form.get("name"), 200, "Name the KPI.");
        let description =
            validate::optional(&mut errors, "description", form.get("description"), 2000);
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
                    direction,
                    source,
                    target,
                    threshold,
                })
            }
            _ => Err(errors),
        }
    }

    /// The fields of a KPI as it is.
    fn of(kpi: &KpiLine) -> KpiFields {
        KpiFields {
            name: kpi.name.clone(),
            description: kpi.description.clone(),
            unit: kpi.unit.clone(),
            direction: kpi.direction,
            source: kpi.source,
            target: kpi.target,
            threshold: kpi.threshold,
        }
    }
}

/// A new KPI: its fields, its first weight and whether it starts active.
struct NewKpi {
    fields: KpiFields,
    weight: Decimal,
    active: bool,
}

impl NewKpi {
    /// An active engagement's weights already total 100, so a KPI joins it inactive or
    /// weightless.
    fn parse(form: &Pairs, status: Status) -> std::result::Result<NewKpi, FieldErrors> {
        let parsed = KpiFields::parse(form);
        let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
        let new_weight = weight(&mut errors, "weight", form.get("weight"));
        let active = form.get("active") == "yes";
        if status == Status::Active && active && new_weight.is_some_and(|w| w > Decimal::ZERO) {
            errors.add("active", "The engagement is active and its weights total 100: add the KPI inactive, then rebalance the weights on the KPIs page.");
        }
        match (parsed, new_weight) {
            (Ok(fields), Some(weight)) if errors.is_empty() => Ok(NewKpi {
                fields,
                weight,
                active,
            }),
            _ => Err(errors),
        }
    }
}

/// Every KPI's weight and active flag as typed, with the changes and the active total.
struct Weights<'a> {
    changes: Vec<(&'a KpiLine, Decimal, bool)>,
    total: Decimal,
}

impl<'a> Weights<'a> {
    /// An active engagement's active weights must still total 100. A refusal carries the
    /// total of the weights that could be read, for the page to show.
    fn parse(
        form: &Pairs,
        kpis: &'a [KpiLine],
        status: Status,
    ) -> std::result::Result<Weights<'a>, (FieldErrors, Decimal)> {
        let mut errors = FieldErrors::default();
        let mut changes = Vec::new();
        let mut total = Decimal::ZERO;
        for kpi in kpis {
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
        if errors.is_empty() && status == Status::Active && total != Decimal::from(100) {
            errors.add(
                "total",
                format!("The engagement is active, so its active KPIs' weights must total 100; these total {}.", total.normalize()),
            );
        }
        if errors.is_empty() {
            Ok(Weights { changes, total })
        } else {
            Err((errors, total))
        }
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let access = staff_access(change.db(), &current, id).await?;
    access.require_manage()?;
    let today = state.clock.today(access.zone());
    let kpis = lines(change.db(), id, today).await?;
    let Weights { changes, total } = match Weights::parse(&form, &kpis, access.status) {
        Ok(weights) => weights,
        Err((errors, total)) => {
            return refused(KpisPage {
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
            });
        }
    };
    for (kpi, w, active) in &changes {
        let (by, now) = (current.user.id, change.now);
        save_terms(
            change.db(),
            kpi.id,
            today,
            kpi.target,
            kpi.threshold,
            *w,
            *active,
            by,
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
        change
            .audit(
                "kpi.weights",
                format!("engagement:{id}"),
                serde_json::json!({ "effective_from": today, "before": before, "after": after }),
            )
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
    change.flash(Flash::success(message)).await?;
    change.commit_and_refresh(id).await?;
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
    let active_default = if access.status == Status::Active {
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let access = staff_access(change.db(), &current, id).await?;
    access.require_manage()?;
    let render = |form: Pairs, errors: FieldErrors, access: Access| -> Result<Response> {
        refused(KpiFormPage {
            layout: Layout::new(
                &current.session,
                format!("New KPI: {}", access.name),
                "/engagements",
            ),
            form,
            errors,
            access,
            editing: None,
        })
    };
    let NewKpi {
        fields,
        weight: new_weight,
        active,
    } = match NewKpi::parse(&form, access.status) {
        Ok(new) => new,
        Err(errors) => return render(form, errors, access),
    };
    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into kpis (engagement_id, name, description, unit, direction, source) values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(id)
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(&fields.unit)
    .bind(fields.direction)
    .bind(fields.source)
    .fetch_one(change.db())
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
    let (by, now) = (current.user.id, change.now);
    save_terms(
        change.db(),
        kpi_id,
        today,
        fields.target,
        fields.threshold,
        new_weight,
        active,
        by,
        now,
    )
    .await?;
    change
        .audit(
            "kpi.create",
            format!("kpi:{kpi_id}"),
            serde_json::json!({ "engagement_id": id, "after": fields, "weight": new_weight, "active": active, "effective_from": today }),
        )
        .await?;
    change
        .flash(Flash::success(format!("{} is added.", fields.name)))
        .await?;
    change.commit().await?;
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

/// The edit form filled with the KPI as it is.
fn pairs_of(kpi: &KpiLine) -> Pairs {
    Pairs(vec![
        ("name".into(), kpi.name.clone()),
        ("description".into(), kpi.description.clone()),
        ("unit".into(), kpi.unit.clone()),
        ("direction".into(), kpi.direction.as_str().to_string()),
        ("source".into(), kpi.source.as_str().to_string()),
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let (access, kpi) = kpi_access(change.db(), &current, kpi_id, &state).await?;
    access.require_manage()?;
    let render = |form: Pairs, errors: FieldErrors, access: Access| -> Result<Response> {
        refused(KpiFormPage {
            layout: Layout::new(
                &current.session,
                format!("Edit {}", kpi.name),
                "/engagements",
            ),
            form,
            errors,
            access,
            editing: Some(kpi_id),
        })
    };
    let after = match KpiFields::parse(&form) {
        Ok(after) => after,
        Err(errors) => return render(form, errors, access),
    };
    let updated = sqlx::query("update kpis set name = $2, description = $3, unit = $4, direction = $5, source = $6 where id = $1")
        .bind(kpi_id)
        .bind(&after.name)
        .bind(&after.description)
        .bind(&after.unit)
        .bind(after.direction)
        .bind(after.source)
        .execute(change.db())
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
        let (by, now) = (current.user.id, change.now);
        save_terms(
            change.db(),
            kpi_id,
            today,
            after.target,
            after.threshold,
            kpi.weight,
            kpi.active,
            by,
            now,
        )
        .await?;
    }
    let before = KpiFields::of(&kpi);
    if before != after {
        change
            .audit(
                "kpi.update",
                format!("kpi:{kpi_id}"),
                serde_json::json!({ "before": before, "after": after, "effective_from": today }),
            )
            .await?;
    }
    change
        .flash(Flash::success(format!(
            "Saved {}; new terms apply from {today}.",
            after.name
        )))
        .await?;
    change.commit_and_refresh(access.id).await?;
    Ok(Redirect::to(&format!("/kpis/{kpi_id}")).into_response())
}
