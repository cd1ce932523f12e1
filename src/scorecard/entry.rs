//! Recording KPI values for a closed period, and a manager's verifying or disputing of the
//! vendor's: the values form, its typed input and the writes behind both.

use std::collections::HashMap;
use std::str::FromStr;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::data::{Life, StoredValue, load};
use super::model::{TREND, ending_with};
use super::page::PeriodQuery;
use super::scoring::{Period, Source, ValueState};
use crate::auth::CurrentUser;
use crate::engagements::{Access, access, with_unit};
use crate::state::AppState;
use crate::vocab::Zone;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, Query};
use crate::web::layout::{Flash, Layout};

/// A KPI value as the form and the CSV import read it: a plain decimal number (a comma may
/// be the decimal mark) below 10^12 in magnitude, so scores and sums never overflow.
/// The error says what is wrong, to end a sentence that starts with "value".
pub(super) fn parse_value(raw: &str) -> Result<Decimal, &'static str> {
    let value = Decimal::from_str(&raw.trim().replace(',', ".")).map_err(|_| "is not a number")?;
    if value.abs() < Decimal::from(1_000_000_000_000i64) {
        Ok(value)
    } else {
        Err("is not below one trillion")
    }
}

/// A value's note: one line of at most this many characters, in the form and the CSV alike.
pub(super) const NOTE_MAX: usize = 1000;

pub(super) fn check_note(note: &str) -> Result<(), crate::web::validate::TextProblem> {
    crate::web::validate::text(note, NOTE_MAX, false)
}

/// A KPI's row of the values form.
pub struct EntryLine {
    pub kpi_id: i64,
    pub name: String,
    pub unit: String,
    pub target: String,
    /// The value recorded: its id, the value, its state, who recorded it, when, and the
    /// dispute note.
    pub current: Option<(i64, String, String, String, String, String)>,
    pub input: String,
    pub note: String,
}

impl EntryLine {
    /// The row as the form writes it; `form` is what was typed, if anything.
    fn written(
        kpi_id: i64,
        name: &str,
        unit: &str,
        target: Option<Decimal>,
        value: Option<&StoredValue>,
        zone: Zone,
        form: Option<&Pairs>,
    ) -> EntryLine {
        let typed = |field: String| form.map(|f| f.get(&field).to_string()).unwrap_or_default();
        EntryLine {
            kpi_id,
            name: name.to_string(),
            unit: unit.to_string(),
            target: target.map(|t| with_unit(t, unit)).unwrap_or_default(),
            current: value.map(|v| {
                (
                    v.id,
                    with_unit(v.value, unit),
                    v.state.as_str().to_string(),
                    v.recorded_by.clone(),
                    v.recorded_at
                        .with_timezone(&*zone)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    v.dispute_note.clone(),
                )
            }),
            input: typed(format!("value_{kpi_id}")),
            note: typed(format!("note_{kpi_id}")),
        }
    }
}

#[derive(Template)]
#[template(path = "scorecard/values.html")]
struct ValuesPage {
    layout: Layout,
    access: Access,
    period: Period,
    periods: Vec<String>,
    lines: Vec<EntryLine>,
    errors: FieldErrors,
    vendor_side: bool,
    /// Whether the period shown is one values may be recorded for.
    recordable: bool,
}

/// Which KPIs this user records: managers of the engagement the manager-sourced ones, the
/// vendor's users the vendor-sourced ones; anyone else none.
fn records(access: &Access) -> Result<Source> {
    if access.is_vendor {
        Ok(Source::Vendor)
    } else if access.can_manage {
        Ok(Source::Manager)
    } else {
        Err(AppError::Forbidden)
    }
}

async fn values_page(
    state: &AppState,
    current: &CurrentUser,
    conn: &mut PgConnection,
    id: i64,
    label: Option<&str>,
    form: Option<&Pairs>,
    errors: FieldErrors,
) -> Result<(ValuesPage, Period)> {
    let access = access(conn, &current.user, id).await?;
    let side = records(&access)?;
    let kind = access.period_kind();
    let today = state.clock.today(access.zone());
    let life = Life::of(conn, id).await?;
    let latest = Period::latest_closed(kind, today);
    let mut choices = ending_with(latest, TREND);
    choices.reverse();
    choices.retain(|p| life.records(p, today));
    let period = label
        .and_then(|l| Period::parse(kind, l))
        .filter(|p| life.records(p, today))
        .or_else(|| choices.first().copied())
        .unwrap_or(latest);
    let data = load(conn, id, period.start, period.start).await?;
    let lines = data
        .inputs(&period)
        .into_iter()
        .filter(|(k, input)| k.source == side && input.as_ref().is_some_and(|i| i.terms.active))
        .map(|(k, input)| {
            EntryLine::written(
                k.id,
                &k.name,
                &k.unit,
                input.map(|i| i.terms.target),
                data.value(k.id, &period),
                access.time_zone,
                form,
            )
        })
        .collect();
    Ok((
        ValuesPage {
            layout: Layout::new(
                &current.session,
                format!("Record values: {}", access.name),
                "/engagements",
            ),
            vendor_side: side == Source::Vendor,
            recordable: life.records(&period, today),
            access,
            period,
            periods: choices.iter().map(Period::label).collect(),
            lines,
            errors,
        },
        period,
    ))
}

pub async fn values_form(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    Query(query): Query<PeriodQuery>,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let (page, _) = values_page(
        &state,
        &current,
        &mut conn,
        id,
        query.period.as_deref(),
        None,
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// The values typed for a period's KPIs: blank ones are left as they are.
struct NewValues {
    entries: Vec<(i64, Decimal, String)>,
}

impl NewValues {
    fn parse(form: &Pairs, lines: &[EntryLine]) -> Result<NewValues, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut entries = Vec::new();
        for line in lines {
            let raw = form.get(&format!("value_{}", line.kpi_id));
            if raw.trim().is_empty() {
                continue;
            }
            match parse_value(raw) {
                Ok(value) => {
                    let note = form
                        .get(&format!("note_{}", line.kpi_id))
                        .trim()
                        .to_string();
                    if let Err(problem) = check_note(&note) {
                        errors.add(format!("note_{}", line.kpi_id), problem.message());
                    }
                    entries.push((line.kpi_id, value, note));
                }
                Err(_) => errors.add(
                    format!("value_{}", line.kpi_id),
                    "Enter a number, such as 99.5.",
                ),
            }
        }
        if errors.is_empty() {
            Ok(NewValues { entries })
        } else {
            Err(errors)
        }
    }
}

/// Saves the values typed for one closed period in one transaction: all or nothing.
pub async fn record(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (page, period) = values_page(
        &state,
        &current,
        change.db(),
        id,
        Some(form.get("period")),
        Some(&form),
        FieldErrors::default(),
    )
    .await?;
    if page.period.label() != form.get("period") || !page.recordable {
        let mut errors = FieldErrors::default();
        errors.add(
            "period",
            "Choose a closed period: values are recorded only once a period has ended.",
        );
        let (page, _) =
            values_page(&state, &current, change.db(), id, None, Some(&form), errors).await?;
        return refused(page);
    }
    let input = match NewValues::parse(&form, &page.lines) {
        Ok(input) => input,
        Err(errors) => {
            let label = period.label();
            let (page, _) = values_page(
                &state,
                &current,
                change.db(),
                id,
                Some(&label),
                Some(&form),
                errors,
            )
            .await?;
            return refused(page);
        }
    };
    let new_state = if page.vendor_side {
        ValueState::Unverified
    } else {
        ValueState::Verified
    };
    let values: Vec<NewValue> = input
        .entries
        .into_iter()
        .map(|(kpi_id, value, note)| NewValue {
            kpi_id,
            period_start: period.start,
            value,
            note,
        })
        .collect();
    let (by, now) = (current.user.id, change.now);
    let saved = save_values(change.db(), &values, new_state, by, now)
        .await?
        .saved;
    if saved > 0 {
        change
            .audit(
                "kpi_values.record",
                format!("engagement:{id}"),
                serde_json::json!({ "period": period.label(), "values": saved }),
            )
            .await?;
    }
    let message = match saved {
        0 => "Nothing changed.".to_string(),
        1 => format!("1 value saved for {}.", period.label()),
        n => format!("{n} values saved for {}.", period.label()),
    };
    change.flash(Flash::success(message)).await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!(
        "/engagements/{id}/scorecard?period={}",
        period.label()
    ))
    .into_response())
}

/// A value to save: its KPI, its period's first day, the value and its note.
pub(super) struct NewValue {
    pub(super) kpi_id: i64,
    pub(super) period_start: NaiveDate,
    pub(super) value: Decimal,
    pub(super) note: String,
}

/// How many values a save wrote, and how many were there already as they are.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Saved {
    pub(super) saved: usize,
    pub(super) unchanged: usize,
}

/// Records values in `state`, by `by`, at `now`, in three statements whatever their number:
/// a value and note already there as they are is left alone (not rewritten); a correction
/// keeps the earlier value in the history, with who recorded it and when, and the new one
/// takes the writer's state (a vendor's correction of a verified value is unverified again)
/// with its review and dispute cleared. The form, the CSV import and the API all save here.
pub(super) async fn save_values(
    db: &mut PgConnection,
    values: &[NewValue],
    state: ValueState,
    by: i64,
    now: DateTime<Utc>,
) -> Result<Saved> {
    if values.is_empty() {
        return Ok(Saved::default());
    }
    let kpis: Vec<i64> = values.iter().map(|v| v.kpi_id).collect();
    let starts: Vec<NaiveDate> = values.iter().map(|v| v.period_start).collect();
    let existing: Vec<(i64, i64, NaiveDate, Decimal, String)> = sqlx::query_as(
        "select v.id, v.kpi_id, v.period_start, v.value, v.note
         from kpi_values v
         join unnest($1::bigint[], $2::date[]) as n(kpi_id, period_start)
           on v.kpi_id = n.kpi_id and v.period_start = n.period_start
         order by v.id
         for update of v",
    )
    .bind(&kpis)
    .bind(&starts)
    .fetch_all(&mut *db)
    .await?;
    let existing: HashMap<(i64, NaiveDate), (i64, Decimal, String)> = existing
        .into_iter()
        .map(|(id, kpi, start, value, note)| ((kpi, start), (id, value, note)))
        .collect();
    let mut replaced = Vec::new();
    let mut changed = Vec::new();
    for new in values {
        match existing.get(&(new.kpi_id, new.period_start)) {
            Some((_, value, note)) if *value == new.value && *note == new.note => continue,
            Some((id, _, _)) => replaced.push(*id),
            None => {}
        }
        changed.push(new);
    }
    let saved = Saved {
        saved: changed.len(),
        unchanged: values.len() - changed.len(),
    };
    if changed.is_empty() {
        return Ok(saved);
    }
    if !replaced.is_empty() {
        sqlx::query(
            "insert into kpi_value_history (kpi_value_id, value, note, state, recorded_by, recorded_at, replaced_by, replaced_at)
             select id, value, note, state, recorded_by, recorded_at, $2, $3 from kpi_values where id = any($1)",
        )
        .bind(&replaced)
        .bind(by)
        .bind(now)
        .execute(&mut *db)
        .await?;
    }
    let kpis: Vec<i64> = changed.iter().map(|v| v.kpi_id).collect();
    let starts: Vec<NaiveDate> = changed.iter().map(|v| v.period_start).collect();
    let amounts: Vec<Decimal> = changed.iter().map(|v| v.value).collect();
    let notes: Vec<&str> = changed.iter().map(|v| v.note.as_str()).collect();
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, note, state, recorded_by, recorded_at)
         select n.kpi_id, n.period_start, n.value, n.note, $5, $6, $7
         from unnest($1::bigint[], $2::date[], $3::numeric[], $4::text[]) as n(kpi_id, period_start, value, note)
         on conflict (kpi_id, period_start) do update
         set value = excluded.value, note = excluded.note, state = excluded.state, dispute_note = '',
             recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at, reviewed_by = null, reviewed_at = null",
    )
    .bind(&kpis)
    .bind(&starts)
    .bind(&amounts)
    .bind(&notes)
    .bind(state)
    .bind(by)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(saved)
}

/// A value recorded for one of an engagement's KPIs, as the API reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordedValue {
    pub kpi_id: i64,
    pub kpi_name: String,
    pub unit: String,
    pub period_start: NaiveDate,
    pub value: Decimal,
    pub note: String,
    pub state: ValueState,
    pub dispute_note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// The values of the engagement `access` opens whose periods start from `from` to `to`
/// (both included), of one KPI or all: one query, oldest period first, KPIs by name.
pub async fn recorded_values(
    db: &mut PgConnection,
    access: &Access,
    from: NaiveDate,
    to: NaiveDate,
    kpi: Option<i64>,
) -> Result<Vec<RecordedValue>> {
    Ok(sqlx::query_as(
        "select v.kpi_id, k.name as kpi_name, k.unit, v.period_start, v.value, v.note, v.state,
                v.dispute_note, u.name as recorded_by, v.recorded_at
         from kpi_values v
         join kpis k on k.id = v.kpi_id
         join users u on u.id = v.recorded_by
         where k.engagement_id = $1 and v.period_start between $2 and $3
           and ($4::bigint is null or v.kpi_id = $4)
         order by v.period_start, lower(k.name), k.id",
    )
    .bind(access.id)
    .bind(from)
    .bind(to)
    .bind(kpi)
    .fetch_all(db)
    .await?)
}

/// A manager's decision on a vendor-reported value.
enum Decision {
    Verify,
    Dispute(String),
}

impl Decision {
    fn parse(form: &Pairs) -> Result<Decision> {
        match form.get("decision") {
            "verify" => Ok(Decision::Verify),
            "dispute" => {
                let note = form.get("dispute_note").trim().to_string();
                if note.is_empty() || note.chars().count() > NOTE_MAX {
                    return Err(AppError::BadRequest(
                        "Say why the value is disputed (up to 1000 characters).".into(),
                    ));
                }
                Ok(Decision::Dispute(note))
            }
            _ => Err(AppError::BadRequest("Choose verify or dispute.".into())),
        }
    }

    fn state(&self) -> ValueState {
        match self {
            Decision::Verify => ValueState::Verified,
            Decision::Dispute(_) => ValueState::Disputed,
        }
    }

    fn note(&self) -> &str {
        match self {
            Decision::Verify => "",
            Decision::Dispute(note) => note,
        }
    }
}

/// A manager of the engagement verifies a vendor-reported value, or disputes it with a note.
pub async fn review(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(value_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let row: Option<(i64, NaiveDate)> = sqlx::query_as(
        "select k.engagement_id, v.period_start from kpi_values v join kpis k on k.id = v.kpi_id where v.id = $1 for update of v",
    )
    .bind(value_id)
    .fetch_optional(change.db())
    .await?;
    let (engagement_id, period_start) = row.ok_or(AppError::NotFound)?;
    let access = access(change.db(), &current.user, engagement_id).await?;
    access.require_manage()?;
    let decision = Decision::parse(&form)?;
    let new_state = decision.state();
    sqlx::query("update kpi_values set state = $2, dispute_note = $3, reviewed_by = $4, reviewed_at = $5 where id = $1")
        .bind(value_id)
        .bind(new_state)
        .bind(decision.note())
        .bind(current.user.id)
        .bind(change.now)
        .execute(change.db())
        .await?;
    change
        .audit(
            "kpi_value.review",
            format!("engagement:{engagement_id}"),
            serde_json::json!({ "kpi_value_id": value_id, "state": new_state }),
        )
        .await?;
    let label = Period::containing(access.period_kind(), period_start).label();
    change
        .flash(Flash::success(format!(
            "The value is {}.",
            new_state.as_str()
        )))
        .await?;
    change.commit_and_refresh(engagement_id).await?;
    // An SLA verification audit reviews values from its own page and goes back there.
    let back = match form.get("back") {
        back if back.starts_with("/audits/")
            && crate::auth::login::safe_next(Some(back)) == back =>
        {
            back.to_string()
        }
        _ => format!("/engagements/{engagement_id}/values?period={label}"),
    };
    Ok(Redirect::to(&back).into_response())
}
