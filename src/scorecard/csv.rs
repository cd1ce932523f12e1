//! CSV as Trellis writes and reads it: fields quoted and defused against spreadsheet
//! formulas, records split per RFC 4180, and the scorecard's values written in the columns
//! the import reads back.

use axum::response::{IntoResponse, Response};

use super::model::Scorecard;

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

/// The scorecard's periods, oldest first, one line per active KPI.
pub fn scorecard(engagement_id: i64, engagement: &str, card: &Scorecard) -> String {
    let mut out = line(
        &VALUE_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
    );
    for period in &card.periods {
        for kpi in &period.kpis {
            let value = kpi.value.as_ref();
            out.push_str(&line(&[
                engagement_id.to_string(),
                engagement.to_string(),
                kpi.id.to_string(),
                kpi.name.clone(),
                period.period.label(),
                period.period.start.to_string(),
                value
                    .map(|v| v.value.normalize().to_string())
                    .unwrap_or_default(),
                value.map(|v| v.note.clone()).unwrap_or_default(),
                value
                    .map(|v| v.state.as_str().to_string())
                    .unwrap_or_default(),
                kpi.status.label().to_string(),
                kpi.score
                    .map(|s| format!("{:.1}", s.round_dp(1)))
                    .unwrap_or_default(),
            ]));
        }
    }
    out
}

/// A CSV download named `filename`.
pub fn response(filename: &str, body: String) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
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
