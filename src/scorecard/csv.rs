//! CSV export of scorecards and the portfolio, and the all-or-nothing import of KPI values
//! shared by the browser and `trellis import kpi-values`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::scoring::Period;
use super::values::{Life, check_note, parse_value, period_kind, save_value};
use crate::audit::{self, Outcome};
use crate::auth::{Role, User};
use crate::web::validate;

/// The columns of the values export; the import reads the same file (extra columns are
/// ignored, `note` is optional).
pub const VALUE_COLUMNS: &[&str] = &[
    "engagement_id",
    "engagement",
    "kpi_id",
    "kpi",
    "period",
    "period_start",
    "value",
    "note",
    "state",
    "status",
    "score",
];

/// One CSV field: quoted when needed, and defused when a spreadsheet would read it as a formula.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(value) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// A signed plain decimal number ("-4.5", "+12"), the only text that may start with a sign
/// unprefixed. Float parsing would also let "-inf", "+nan" or "-1e5" through, which a
/// spreadsheet may read otherwise.
fn is_plain_number(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

pub fn line(fields: &[String]) -> String {
    let mut out = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// Splits CSV text into records (RFC 4180: quoted fields, doubled quotes, CRLF or LF).
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

#[derive(sqlx::FromRow)]
struct Target {
    kpi_id: i64,
    engagement_id: i64,
    source: String,
    vendor_id: i64,
    scorecard_period: String,
    time_zone: String,
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
    let records = match parse(text) {
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
            Role::Vendor => target.source == "vendor",
            Role::Manager => target.source == "manager" && target.manages,
            Role::Admin => target.source == "manager",
        };
        if !may {
            bad.push(BadLine {
                line: row.line,
                message: format!(
                    "you may not record this KPI (its values are recorded by the {})",
                    if target.source == "vendor" {
                        "vendor"
                    } else {
                        "engagement's managers"
                    }
                ),
            });
            continue;
        }
        let zone: chrono_tz::Tz = target.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let today = now.with_timezone(&zone).date_naive();
        let period = Period::containing(period_kind(&target.scorecard_period), row.period_start);
        if period.start != row.period_start {
            bad.push(BadLine {
                line: row.line,
                message: format!(
                    "{} is not the first day of a {} period",
                    row.period_start, target.scorecard_period
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
        "unverified"
    } else {
        "verified"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-4.5"), "-4.5", "negative numbers stay numbers");
        assert_eq!(field("+12"), "+12");
        assert_eq!(field("-0.25"), "-0.25");
    }

    #[test]
    fn only_plain_decimal_numbers_may_start_with_a_sign() {
        for text in [
            "-inf",
            "+nan",
            "-infinity",
            "+Infinity",
            "-NaN",
            "-1e5",
            "+1E309",
            "-",
            "-.5",
            "+4.5.6",
            "-1+1",
        ] {
            assert_eq!(field(text), format!("'{text}"), "{text:?} is defused");
        }
    }

    #[test]
    fn csv_parses_quotes_newlines_and_a_bom() {
        let records =
            parse("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n1,\"two\nlines\"\n").unwrap();
        assert_eq!(
            records,
            vec![
                vec!["a", "b"],
                vec!["x, y", "say \"hi\""],
                vec!["1", "two\nlines"]
            ]
        );
        assert!(parse("a,\"open").is_err());
    }
}
