//! The all-or-nothing import of KPI values from CSV, shared by the browser and `trellis
//! import kpi-values`: every line is read with the values form's rules before anything is
//! written.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::csv;
use super::data::Life;
use super::entry::{NewValue, check_note, parse_value, save_values};
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

/// A line that cannot be recorded: where it is (the CSV's line number, the API's index),
/// the field at fault and why.
#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub field: &'static str,
    pub message: String,
}

/// One value to record as it came in, every field still text, so that the CSV file and the
/// API's JSON are read by the same rules. `line` is where errors say it is.
#[derive(Debug, Default)]
pub struct Line {
    pub line: usize,
    pub engagement_id: String,
    pub kpi_id: String,
    pub period_start: String,
    pub value: String,
    pub note: String,
}

/// What a batch of lines did: how many values were written, how many were there already as
/// they are, and the engagements they belong to (whose reminders want refreshing).
#[derive(Debug, Default)]
pub struct Recorded {
    pub saved: usize,
    pub unchanged: usize,
    pub engagements: Vec<i64>,
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
    engagement_id: i64,
    value: NewValue,
}

/// Values are saved this many at a time, so that progress can be told.
const CHUNK: usize = 1000;

/// Checks every line as `user` with the values form's rules and, when every one passes,
/// saves them all in `db` (the caller's transaction, which it commits); on any error
/// nothing is written and every bad line is reported, one entry each. A fixed number of
/// statements per thousand lines. `progress(done, total)` is called as values are saved.
pub async fn record_lines(
    db: &mut PgConnection,
    user: &User,
    lines: &[Line],
    now: DateTime<Utc>,
    mut progress: impl FnMut(usize, usize),
) -> Result<std::result::Result<Recorded, Vec<BadLine>>> {
    let mut bad = Vec::new();
    let mut rows = Vec::new();
    for line in lines {
        let mut problems: Vec<(&'static str, String)> = Vec::new();
        let engagement_id = line
            .engagement_id
            .trim()
            .parse::<i64>()
            .map_err(|_| problems.push(("engagement_id", "engagement_id is not a number".into())))
            .ok();
        let kpi_id = line
            .kpi_id
            .trim()
            .parse::<i64>()
            .map_err(|_| problems.push(("kpi_id", "kpi_id is not a number".into())))
            .ok();
        // The same readings as the values form: one date, one number, one note rule.
        let period_start = validate::parse_date(&line.period_start);
        if period_start.is_none() {
            problems.push((
                "period_start",
                "period_start is not a date (YYYY-MM-DD, from 1900 to 2200)".into(),
            ));
        }
        let value = parse_value(&line.value)
            .map_err(|problem| problems.push(("value", format!("value {problem}"))))
            .ok();
        let note = line.note.trim().to_string();
        if let Err(problem) = check_note(&note) {
            problems.push(("note", format!("note {}", problem.describe())));
        }
        match (engagement_id, kpi_id, period_start, value) {
            (Some(engagement_id), Some(kpi_id), Some(period_start), Some(value))
                if problems.is_empty() =>
            {
                rows.push(Row {
                    line: line.line,
                    engagement_id,
                    value: NewValue {
                        kpi_id,
                        period_start,
                        value,
                        note,
                    },
                });
            }
            _ => bad.push(BadLine {
                line: line.line,
                field: problems.first().map_or("", |p| p.0),
                message: problems
                    .into_iter()
                    .map(|p| p.1)
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
    let mut ids: Vec<i64> = rows.iter().map(|r| r.value.kpi_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let targets: Vec<Target> = sqlx::query_as(
        "select k.id as kpi_id, k.engagement_id, k.source, e.vendor_id, e.scorecard_period, e.time_zone,
                e.start_date, e.runs_until as end_date,
                (e.owner_id = $2 or exists (select 1 from engagement_managers m where m.engagement_id = e.id and m.user_id = $2)) as manages
         from kpis k join engagements e on e.id = k.engagement_id where k.id = any($1)",
    )
    .bind(&ids)
    .bind(user.id)
    .fetch_all(&mut *db)
    .await?;
    let targets: HashMap<i64, Target> = targets.into_iter().map(|t| (t.kpi_id, t)).collect();
    let scope = crate::auth::policy::vendor_scope(user);
    let mut seen = HashSet::new();
    for row in &rows {
        let line = row.line;
        let refuse = |field: &'static str, message: String| BadLine {
            line,
            field,
            message,
        };
        // A KPI the user may not see is reported exactly like one that does not exist.
        let target = targets
            .get(&row.value.kpi_id)
            .filter(|t| t.engagement_id == row.engagement_id)
            .filter(|t| scope.is_none_or(|vendor| vendor == t.vendor_id));
        let Some(target) = target else {
            bad.push(refuse("kpi_id", "no such KPI in that engagement".into()));
            continue;
        };
        let may = match user.role {
            Role::Vendor => target.source == Source::Vendor,
            Role::Manager => target.source == Source::Manager && target.manages,
            Role::Admin => target.source == Source::Manager,
        };
        if !may {
            bad.push(refuse(
                "kpi_id",
                format!(
                    "you may not record this KPI (its values are recorded by the {})",
                    if target.source == Source::Vendor {
                        "vendor"
                    } else {
                        "engagement's managers"
                    }
                ),
            ));
            continue;
        }
        let start = row.value.period_start;
        let today = now.with_timezone(&*target.time_zone).date_naive();
        let period = Period::containing(target.scorecard_period, start);
        if period.start != start {
            bad.push(refuse(
                "period_start",
                format!(
                    "{start} is not the first day of a {} period",
                    target.scorecard_period.as_str()
                ),
            ));
        } else if !period.is_closed(today) {
            bad.push(refuse(
                "period_start",
                format!("period {} has not ended yet", period.label()),
            ));
        } else if !target.life.records(&period, today) {
            bad.push(refuse(
                "period_start",
                format!("period {} is outside the engagement's life", period.label()),
            ));
        } else if !seen.insert((row.value.kpi_id, start)) {
            bad.push(refuse(
                "period_start",
                "the same KPI and period appear twice".into(),
            ));
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
    let mut recorded = Recorded::default();
    let values: Vec<NewValue> = rows
        .iter()
        .map(|r| NewValue {
            kpi_id: r.value.kpi_id,
            period_start: r.value.period_start,
            value: r.value.value,
            note: r.value.note.clone(),
        })
        .collect();
    for (done, chunk) in values.chunks(CHUNK).enumerate() {
        let saved = save_values(&mut *db, chunk, state, user.id, now).await?;
        recorded.saved += saved.saved;
        recorded.unchanged += saved.unchanged;
        progress((done * CHUNK + chunk.len()).min(values.len()), values.len());
    }
    recorded.engagements = rows.iter().map(|r| r.engagement_id).collect();
    recorded.engagements.sort_unstable();
    recorded.engagements.dedup();
    Ok(Ok(recorded))
}

/// Imports values from CSV as `user`: every line is checked first; on any error nothing is
/// written and every bad line is reported with the reason. `progress(done, total)` is
/// called as values are saved.
pub async fn import(
    pool: &PgPool,
    user: &User,
    text: &str,
    now: DateTime<Utc>,
    progress: impl FnMut(usize, usize),
) -> anyhow::Result<std::result::Result<usize, Vec<BadLine>>> {
    let records = match csv::parse(text) {
        Ok(records) => records,
        Err(message) => {
            return Ok(Err(vec![BadLine {
                line: 0,
                field: "",
                message,
            }]));
        }
    };
    let Some((header, body)) = records.split_first() else {
        return Ok(Err(vec![BadLine {
            line: 1,
            field: "",
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
            field: "",
            message: "the header must name engagement_id, kpi_id, period_start and value (note is optional)".into(),
        }]));
    };
    let note_col = column("note");
    let lines: Vec<Line> = body
        .iter()
        .enumerate()
        .filter(|(_, record)| !record.iter().all(|f| f.trim().is_empty()))
        .map(|(index, record)| {
            let get = |col: usize| record.get(col).map_or("", |f| f.trim()).to_string();
            Line {
                line: index + 2,
                engagement_id: get(engagement_col),
                kpi_id: get(kpi_col),
                period_start: get(start_col),
                value: get(value_col),
                note: note_col.map(get).unwrap_or_default(),
            }
        })
        .collect();
    let mut tx = pool.begin().await?;
    let recorded = match record_lines(&mut tx, user, &lines, now, progress).await? {
        Ok(recorded) => recorded,
        Err(bad) => return Ok(Err(bad)),
    };
    audit::Entry::by(user, "kpi_values.import", Outcome::Success)
        .target("kpi_values")
        .details(serde_json::json!({ "lines": lines.len(), "saved": recorded.saved }))
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    Ok(Ok(recorded.saved))
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
