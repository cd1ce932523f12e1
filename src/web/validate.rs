//! Field checks shared by the forms; each adds its message to the form's errors and
//! returns the cleaned value.

use super::form::FieldErrors;

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
    } else if value.chars().count() > max {
        errors.add(field, format!("Use at most {max} characters."));
    }
    value.to_string()
}

/// An optional text of at most `max` characters, trimmed.
pub fn optional(errors: &mut FieldErrors, field: &'static str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        errors.add(field, format!("Use at most {max} characters."));
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

/// A date typed as YYYY-MM-DD; `None` when empty and not required.
pub fn date(
    errors: &mut FieldErrors,
    field: &'static str,
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
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(date) if (1900..=2200).contains(&chrono::Datelike::year(&date)) => Some(date),
        _ => {
            errors.add(field, "Enter a date as YYYY-MM-DD.");
            None
        }
    }
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
