//! The all-or-nothing import of KPI values from CSV, shared by the browser and `trellis
//! import kpi-values`: every line is read with the values form's rules before anything is
//! written.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::csv;
use super::data::Life;
use super::entry::{check_note, parse_value, save_value};
use super::scoring::{Period, PeriodKind, Source, ValueState};
use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, Role, User, session};
use crate::state::AppState;
use crate::vocab::Zone;
use crate::web::change::refused;
use crate::web::error::Result;
use crate::web::form::UploadForm;
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

#[derive(sqlx::FromRow)]
struct Target {
    kpi_id: i64,
    engagement_id: i64,
    source: Source,
    vendor_id: i64,
    scorecard_period: PeriodKind,
    time_zone: Zone,
    manages: bool,
    #[sqlx(flatten)]
    life: Life,
}

struct Row {
    line: usize,
    kpi_id: i64,
    period_start: NaiveDate,
    value: Decimal,
    note: String,
}

/// Imports values as `user`: every line is checked first; on any error nothing is written
/// and every bad line is reported with the reason. `progress(done, total)` is called as
/// values are saved.
pub async fn import(
    pool: &PgPool,
    user: &User,
    text: &str,
    now: DateTime<Utc>,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<Result<usize, Vec<BadLine>>> {
    let records = match csv::parse(text) {
        Ok(records) => records,
        Err(message) => return Ok(Err(vec![BadLine { line: 0, message }])),
    };
    let Some((header, body)) = records.split_first() else {
        return Ok(Err(vec![BadLine {
            line: 1,
            message: "the file is empty".into(),
        }]));
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(engagement_col), Some(kpi_col), Some(start_col), Some(value_col)) = (
        column("engagement_id"),
        column("kpi_id"),
        column("period_start"),
        column("value"),
    ) else {
        return Ok(Err(vec![BadLine {
            line: 1,
            message: "the header must name engagement_id, kpi_id, period_start and value (note is optional)".into(),
        }]));
    };
    let note_col = column("note");
    let mut bad = Vec::new();
    let mut rows = Vec::new();
    let mut claimed: HashMap<i64, i64> = HashMap::new();
    for (index, record) in body.iter().enumerate() {
        let line = index + 2;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |col: usize| record.get(col).map_or("", |f| f.trim());
        let mut problems: Vec<String> = Vec::new();
        let engagement_id = get(engagement_col)
            .parse::<i64>()
            .map_err(|_| problems.push("engagement_id is not a number".into()))
            .ok();
        let kpi_id = get(kpi_col)
            .parse::<i64>()
            .map_err(|_| problems.push("kpi_id is not a number".into()))
            .ok();
        // The same readings as the values form: one date, one number, one note rule.
        let period_start = validate::parse_date(get(start_col));
        if period_start.is_none() {
            problems.push("period_start is not a date (YYYY-MM-DD, from 1900 to 2200)".into());
        }
        let value = parse_value(get(value_col))
            .map_err(|problem| problems.push(format!("value {problem}")))
            .ok();
        let note = note_col.map_or("", get).to_string();
        if let Err(problem) = check_note(&note) {
            problems.push(format!("note {}", problem.describe()));
        }
        match (engagement_id, kpi_id, period_start, value) {
            (Some(engagement_id), Some(kpi_id), Some(period_start), Some(value))
                if problems.is_empty() =>
            {
                claimed.insert(kpi_id, engagement_id);
                rows.push(Row {
                    line,
                    kpi_id,
                    period_start,
                    value,
                    note,
                });
            }
            _ => bad.push(BadLine {
                line,
                message: problems.join("; "),
            }),
        }
    }
    let ids: Vec<i64> = claimed.keys().copied().collect();
    let targets: Vec<Target> = sqlx::query_as(
        "select k.id as kpi_id, k.engagement_id, k.source, e.vendor_id, e.scorecard_period, e.time_zone,
                e.start_date, e.end_date,
                (e.owner_id = $2 or exists (select 1 from engagement_managers m where m.engagement_id = e.id and m.user_id = $2)) as manages
         from kpis k join engagements e on e.id = k.engagement_id where k.id = any($1)",
    )
    .bind(&ids)
    .bind(user.id)
    .fetch_all(pool)
    .await?;
    let targets: HashMap<i64, Target> = targets.into_iter().map(|t| (t.kpi_id, t)).collect();
    let scope = crate::auth::policy::vendor_scope(user);
    let mut seen = HashSet::new();
    for row in &rows {
        // A KPI the user may not see is reported exactly like one that does not exist.
        let target = targets
            .get(&row.kpi_id)
            .filter(|t| claimed.get(&row.kpi_id) == Some(&t.engagement_id))
            .filter(|t| scope.is_none_or(|vendor| vendor == t.vendor_id));
        let Some(target) = target else {
            bad.push(BadLine {
                line: row.line,
                message: "no such KPI in that engagement".into(),
            });
            continue;
        };
        let may = match user.role {
            Role::Vendor => target.source == Source::Vendor,
            Role::Manager => target.source == Source::Manager && target.manages,
            Role::Admin => target.source == Source::Manager,
        };
        if !may {
            bad.push(BadLine {
                line: row.line,
                message: format!(
                    "you may not record this KPI (its values are recorded by the {})",
                    if target.source == Source::Vendor {
                        "vendor"
                    } else {
                        "engagement's managers"
                    }
                ),
            });
            continue;
        }
        let today = now.with_timezone(&*target.time_zone).date_naive();
        let period = Period::containing(target.scorecard_period, row.period_start);
        if period.start != row.period_start {
            bad.push(BadLine {
                line: row.line,
                message: format!(
                    "{} is not the first day of a {} period",
                    row.period_start,
                    target.scorecard_period.as_str()
                ),
            });
        } else if !period.is_closed(today) {
            bad.push(BadLine {
                line: row.line,
                message: format!("period {} has not ended yet", period.label()),
            });
        } else if !target.life.records(&period, today) {
            bad.push(BadLine {
                line: row.line,
                message: format!("period {} is outside the engagement's life", period.label()),
            });
        } else if !seen.insert((row.kpi_id, row.period_start)) {
            bad.push(BadLine {
                line: row.line,
                message: "the same KPI and period appear twice in the file".into(),
            });
        }
    }
    if !bad.is_empty() {
        bad.sort_by_key(|b| b.line);
        return Ok(Err(bad));
    }
    let state = if user.role == Role::Vendor {
        ValueState::Unverified
    } else {
        ValueState::Verified
    };
    let mut tx = pool.begin().await?;
    let mut saved = 0;
    for (done, row) in rows.iter().enumerate() {
        if save_value(
            &mut tx,
            row.kpi_id,
            row.period_start,
            row.value,
            &row.note,
            state,
            user.id,
            now,
        )
        .await?
        {
            saved += 1;
        }
        progress(done + 1, rows.len());
    }
    audit::Entry::by(user, "kpi_values.import", Outcome::Success)
        .target("kpi_values")
        .details(serde_json::json!({ "lines": rows.len(), "saved": saved }))
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    Ok(Ok(saved))
}

#[derive(Template)]
#[template(path = "scorecard/import.html")]
struct ImportPage {
    layout: Layout,
    csv: String,
    errors: Vec<BadLine>,
}

pub async fn import_form(current: CurrentUser) -> Result<Html<String>> {
    let page = ImportPage {
        layout: Layout::new(&current.session, "Import KPI values", "/engagements"),
        csv: String::new(),
        errors: Vec::new(),
    };
    Ok(Html(page.render()?))
}

/// The import from the browser. The import writes in a transaction of its own (the command
/// line runs it too, with no session), so the flash is written once it has committed.
pub async fn upload(
    State(state): State<AppState>,
    current: CurrentUser,
    UploadForm(form): UploadForm,
) -> Result<Response> {
    // A chosen file wins over the paste area; on errors its text lands there to be fixed.
    let text = match form.get("file") {
        "" => form.get("csv"),
        file => file,
    }
    .to_string();
    let outcome = import(
        &state.pool,
        &current.user,
        &text,
        state.clock.now(),
        |_, _| {},
    )
    .await?;
    match outcome {
        Ok(saved) => {
            let message = format!(
                "Imported: {saved} {} saved.",
                if saved == 1 { "value" } else { "values" }
            );
            session::set_flash(&state.pool, &current.session, Flash::success(message)).await?;
            Ok(Redirect::to("/values/import").into_response())
        }
        Err(errors) => refused(ImportPage {
            layout: Layout::new(&current.session, "Import KPI values", "/engagements"),
            csv: text,
            errors,
        }),
    }
}
