//! Field checks shared by the forms, the CSV import and the query strings; each adds its
//! message to the form's errors and returns the cleaned value. Dates and text are read here
//! alone, so every path that takes them applies the same bounds.

use chrono::{Datelike, NaiveDate};

use crate::period::YEARS;

/// A date written exactly as YYYY-MM-DD within [`YEARS`]: the one reading of a date that
/// forms, query strings and CSV files share.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    let shape = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|date| YEARS.contains(&date.year()))
}

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// NUL or another control character (line breaks and tabs too, in single-line text).
    Control,
    TooLong(usize),
}

impl TextProblem {
    /// The end of a sentence that names the field.
    pub fn describe(self) -> String {
        match self {
            TextProblem::Control => {
                "contains a control character (such as a NUL byte), which Trellis does not accept"
                    .into()
            }
            TextProblem::TooLong(max) => format!("is longer than {max} characters"),
        }
    }

    /// The message shown beside the field.
    pub fn message(self) -> String {
        match self {
            TextProblem::Control => "Remove the control characters from this text.".into(),
            TextProblem::TooLong(max) => format!("Use at most {max} characters."),
        }
    }
}

/// Text without control characters; tabs and line breaks only in `multiline` text.
pub fn plain_text(value: &str, multiline: bool) -> Result<(), TextProblem> {
    let allowed = |c: char| multiline && matches!(c, '\t' | '\n' | '\r');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        Err(TextProblem::Control)
    } else {
        Ok(())
    }
}

/// A text of at most `max` characters without control characters: the check every text
/// field and CSV cell goes through.
pub fn text(value: &str, max: usize, multiline: bool) -> Result<(), TextProblem> {
    plain_text(value, multiline)?;
    if value.chars().count() > max {
        return Err(TextProblem::TooLong(max));
    }
    Ok(())
}

/// A required text of at most `max` characters, trimmed.
pub fn required(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    max: usize,
    missing: &str,
) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, missing);
    } else if let Err(problem) = text(value, max, true) {
        errors.add(field, problem.message());
    }
    value.to_string()
}

/// An optional text of at most `max` characters, trimmed.
pub fn optional(
    errors: &mut FieldErrors,
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &str,
    max: usize,
) -> String {
    let value = value.trim();
    if let Err(problem) = text(value, max, true) {
        errors.add(field, problem.message());
    }
    value.to_string()
}

/// A required one-line text (a name, a title): line breaks and tabs are refused too.
pub fn required_line(
    errors: &mut FieldErrors,
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &str,
    max: usize,
    missing: &str,
) -> String {
    let field = field.into();
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, missing);
    } else if let Err(problem) = text(value, max, false) {
        errors.add(field, problem.message());
    }
    value.to_string()
}

pub fn is_email(value: &str) -> bool {
    let at = value.find('@');
    value.len() <= 254
        && !value.contains(char::is_whitespace)
        && at.is_some_and(|i| i > 0 && i < value.len() - 1 && !value[i + 1..].contains('@'))
}

/// An optional e-mail address.
pub fn optional_email(errors: &mut FieldErrors, field: &'static str, value: &str) -> String {
    let value = value.trim();
    if !value.is_empty() && !is_email(value) {
        errors.add(field, "Enter an e-mail address like name@example.com.");
    }
    value.to_string()
}

/// An optional web address, which must be http or https.
pub fn optional_url(errors: &mut FieldErrors, field: &'static str, value: &str) -> String {
    let value = value.trim();
    let ok = value.is_empty()
        || ((value.starts_with("https://") || value.starts_with("http://"))
            && value.len() <= 500
            && !value.contains(char::is_whitespace)
            && value
                .split("://")
                .nth(1)
                .is_some_and(|rest| !rest.is_empty()));
    if !ok {
        errors.add(field, "Enter a web address starting with https://.");
    }
    value.to_string()
}

/// One of a closed set of values.
pub fn choice<T>(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    missing: &str,
) -> Option<T> {
    let parsed = parse(value.trim());
    if parsed.is_none() {
        errors.add(field, missing);
    }
    parsed
}

/// A whole number within a range.
pub fn integer(
    errors: &mut FieldErrors,
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Option<i64> {
    let field = field.into();
    match value.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => Some(n),
        Ok(_) => {
            errors.add(
                field,
                format!(
                    "Enter a whole number from {} to {}.",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
        Err(_) => {
            errors.add(field, "Enter a whole number.");
            None
        }
    }
}

pub const DATE_MESSAGE: &str = "Enter a date as YYYY-MM-DD, from 1900 to 2200.";

/// A date typed as YYYY-MM-DD; `None` when empty and not required.
pub fn date(
    errors: &mut FieldErrors,
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &str,
    required: bool,
) -> Option<chrono::NaiveDate> {
    let value = value.trim();
    if value.is_empty() {
        if required {
            errors.add(field, "Enter a date.");
        }
        return None;
    }
    let parsed = parse_date(value);
    if parsed.is_none() {
        errors.add(field, DATE_MESSAGE);
    }
    parsed
}

/// The id of a row a select offered, as typed in `field`: the id when `exists` (a statement
/// of one parameter, the id, returning it) finds the row, else `message` on the field.
pub async fn existing(
    db: &mut sqlx::PgConnection,
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    exists: &'static str,
    message: &'static str,
) -> sqlx::Result<Option<i64>> {
    let found = match value.trim().parse::<i64>() {
        Ok(id) => {
            sqlx::query_scalar(exists)
                .bind(id)
                .fetch_optional(db)
                .await?
        }
        Err(_) => None,
    };
    if found.is_none() {
        errors.add(field, message);
    }
    Ok(found)
}

/// An IANA time zone name.
pub fn time_zone(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
) -> Option<chrono_tz::Tz> {
    let parsed = value.trim().parse::<chrono_tz::Tz>().ok();
    if parsed.is_none() {
        errors.add(field, "Enter a time zone such as Europe/Berlin or UTC.");
    }
    parsed
}

/// A time of day as HH:MM.
pub fn time(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
) -> Option<chrono::NaiveTime> {
    let parsed = chrono::NaiveTime::parse_from_str(value.trim(), "%H:%M").ok();
    if parsed.is_none() {
        errors.add(field, "Enter a time as HH:MM, such as 09:00.");
    }
    parsed
}

/// Days of the week ticked as ISO numbers (1 = Monday), sorted, at least one.
pub fn weekdays(
    errors: &mut FieldErrors,
    field: &'static str,
    values: &[&str],
    empty: &str,
) -> Vec<i32> {
    let mut days: Vec<i32> = values
        .iter()
        .filter_map(|d| d.trim().parse::<i32>().ok())
        .filter(|d| (1..=7).contains(d))
        .collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        errors.add(field, empty);
    }
    days
}

/// Field errors of a form, each shown beside its field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(std::borrow::Cow<'static, str>, String)>);

impl FieldErrors {
    /// Field names are mostly literals; rows of repeated fields name theirs at run time.
    pub fn add(
        &mut self,
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) {
        self.0.push((field.into(), message.into()));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each field with its message, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (field.as_ref(), message.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_only_as_yyyy_mm_dd_from_1900_to_2200() {
        assert_eq!(
            parse_date("1900-01-01"),
            NaiveDate::from_ymd_opt(1900, 1, 1)
        );
        assert_eq!(
            parse_date(" 2200-12-31 "),
            NaiveDate::from_ymd_opt(2200, 12, 31)
        );
        for bad in [
            "1899-12-31",
            "2201-01-01",
            "-5000-01-01",
            "0000-01-01",
            "0001-01-01",
            "10000-01-01",
            "275760-09-13",
            "+2026-01-01",
            "2026-1-5",
            "2026-02-30",
            "2026-01-01T00:00",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn single_line_text_refuses_line_breaks_that_multi_line_text_keeps() {
        assert_eq!(text("a\nb", 10, true), Ok(()));
        assert_eq!(text("a\nb", 10, false), Err(TextProblem::Control));
        assert_eq!(text("a\0b", 10, true), Err(TextProblem::Control));
        assert_eq!(text("abc", 2, true), Err(TextProblem::TooLong(2)));
        let mut errors = FieldErrors::default();
        required(&mut errors, "title", "a\u{7}b", 100, "Say it.");
        assert_eq!(
            errors.get("title"),
            Some("Remove the control characters from this text.")
        );
    }
}
