//! An engagement's contract: its initial term, how it renews, the notice period, its value,
//! and the one computation of the current term's end and the last day to give notice
//! ([`Contract::dates`]) that the pages, the portfolio, the CSV and the reminders all read.
//!
//! Month arithmetic follows DESIGN.md (31 January + 1 month = the last day of February). A
//! term that ends on the last day of a month keeps ending on the last day of a month when
//! it renews (30 April, 31 May, 30 June …), and every renewal is counted from the initial
//! term's end, so a term clamped to a short month never drags the later ones with it.

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use crate::choice;
use crate::vocab::Zone;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Pairs};
use crate::web::validate;

choice!(pub Renewal {
    None = "none" / "Ends at the end of its term",
    Automatic = "automatic" / "Renews automatically unless notice is given",
    Decision = "decision" / "Renewed only by a decision",
});

choice!(pub NoticeUnit {
    Days = "days" / "days",
    Months = "months" / "months",
});

/// How long before a term's end notice must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Notice {
    Days(u32),
    Months(u32),
}

impl Notice {
    /// The notice as stored: a number of days, or of months when `months` is set.
    pub fn from_stored(days: i32, months: Option<i32>) -> Notice {
        match months {
            Some(m) => Notice::Months(m.max(0) as u32),
            None => Notice::Days(days.max(0) as u32),
        }
    }

    /// The last day notice can be given for a term ending on `term_end`.
    pub fn deadline(self, term_end: NaiveDate) -> NaiveDate {
        match self {
            Notice::Days(n) => term_end
                .checked_sub_days(Days::new(n.into()))
                .unwrap_or(NaiveDate::MIN),
            Notice::Months(n) => shift_months(term_end, -(n as i32)),
        }
    }

    /// "90 days", "3 months", "1 month".
    pub fn describe(self) -> String {
        let (n, unit) = match self {
            Notice::Days(n) => (n, "day"),
            Notice::Months(n) => (n, "month"),
        };
        format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// What a contract says about its terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub start: NaiveDate,
    /// The last day of the initial term; none for an open-ended engagement.
    pub initial_end: Option<NaiveDate>,
    pub renewal: Renewal,
    /// How long each renewal runs, in months (required for an automatic renewal).
    pub renewal_months: Option<u32>,
    pub notice: Notice,
}

/// A contract's dates as they stand on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dates {
    /// The term the day falls in: the initial term before and during it, the last term once
    /// the contract has run out.
    pub term_start: NaiveDate,
    pub term_end: NaiveDate,
    /// How many renewals came before this term (0: the initial term).
    pub renewals: u32,
    /// The last day to give notice so that the contract ends on `ends_on`; none for a
    /// contract that ends on its own. For an automatic renewal it is never before the day
    /// asked about: once a term's notice day has passed, it is the next term's.
    pub notice_by: Option<NaiveDate>,
    /// The day the contract ends: for an automatic renewal, the end of the first term that
    /// notice given on the day asked about can still stop at.
    pub ends_on: NaiveDate,
}

impl Dates {
    /// Whether notice given now no longer stops the current term's renewal.
    pub fn renews_past_current(&self) -> bool {
        self.ends_on > self.term_end
    }
}

impl Contract {
    /// The dates on `on`; none for an open-ended engagement.
    pub fn dates(&self, on: NaiveDate) -> Option<Dates> {
        let initial_end = self.initial_end?;
        let months = match (self.renewal, self.renewal_months) {
            (Renewal::Automatic, Some(m)) if m > 0 => m,
            // Without a renewal, or renewed only by a decision, the contract never rolls.
            _ => {
                return Some(Dates {
                    term_start: self.start,
                    term_end: initial_end,
                    renewals: 0,
                    notice_by: (self.renewal != Renewal::None)
                        .then(|| self.notice.deadline(initial_end)),
                    ends_on: initial_end,
                });
            }
        };
        let end = |k: u32| term_end(initial_end, k, months);
        // The term `on` falls in: the first whose end is not before it.
        let mut k = if on <= initial_end {
            0
        } else {
            let apart = month_index(on) - month_index(initial_end);
            (apart.max(0) as u32).div_ceil(months)
        };
        while k > 0 && end(k - 1) >= on {
            k -= 1;
        }
        while end(k) < on {
            k += 1;
        }
        let term_start = if k == 0 {
            self.start
        } else {
            end(k - 1).succ_opt().unwrap_or(NaiveDate::MAX)
        };
        // The first term, from this one on, whose notice day has not passed: a notice
        // period longer than a term reaches past the next renewal.
        let mut last = k;
        while self.notice.deadline(end(last)) < on {
            last += 1;
        }
        Some(Dates {
            term_start,
            term_end: end(k),
            renewals: k,
            notice_by: Some(self.notice.deadline(end(last))),
            ends_on: end(last),
        })
    }

    /// The last day of an initial term of `months` months from `start` (a term from
    /// 29 February 2024 for 12 months ends on 28 February 2025; from 1 March 2024, too).
    pub fn initial_end_after(start: NaiveDate, months: u32) -> NaiveDate {
        let eve = start.pred_opt().unwrap_or(start);
        shift_months(eve, months as i32)
    }
}

/// The end of the term after `renewals` renewals of `months` months each, counted from
/// the initial term's end.
fn term_end(initial_end: NaiveDate, renewals: u32, months: u32) -> NaiveDate {
    let total = (renewals as u64 * months as u64).min(i32::MAX as u64) as i32;
    shift_months(initial_end, total)
}

/// Months added (or taken away), clamped to the month's last day; a month's last day
/// moves to the last day of the month it lands in.
pub fn shift_months(date: NaiveDate, months: i32) -> NaiveDate {
    let month_end = date
        .succ_opt()
        .is_none_or(|next| next.month() != date.month());
    let moved = if months >= 0 {
        date.checked_add_months(Months::new(months as u32))
    } else {
        date.checked_sub_months(Months::new(months.unsigned_abs()))
    };
    let Some(moved) = moved else {
        return if months >= 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        };
    };
    if month_end {
        last_of_month(moved)
    } else {
        moved
    }
}

fn last_of_month(date: NaiveDate) -> NaiveDate {
    let first = date.with_day(1).unwrap_or(date);
    first
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(date)
}

/// Months since year 0, for counting whole months between two dates.
fn month_index(date: NaiveDate) -> i64 {
    date.year() as i64 * 12 + date.month0() as i64
}

/// The contract's fields as stored on the engagement.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ContractFields {
    pub renewal: Renewal,
    pub renewal_months: Option<i32>,
    /// The initial term in months, when it was given so; the end date is worked out from it.
    pub initial_term_months: Option<i32>,
    pub notice_months: Option<i32>,
    pub annual_value: Option<Decimal>,
    pub currency: Option<String>,
    /// The signed contract: one of the vendor's documents.
    pub contract_document_id: Option<i64>,
}

impl Default for ContractFields {
    fn default() -> ContractFields {
        ContractFields {
            renewal: Renewal::None,
            renewal_months: None,
            initial_term_months: None,
            notice_months: None,
            annual_value: None,
            currency: None,
            contract_document_id: None,
        }
    }
}

impl ContractFields {
    /// The contract of an engagement with these dates and notice days.
    pub fn contract(&self, start: NaiveDate, end: Option<NaiveDate>, notice_days: i32) -> Contract {
        Contract {
            start,
            initial_end: end,
            renewal: self.renewal,
            renewal_months: self.renewal_months.map(|m| m.max(0) as u32),
            notice: Notice::from_stored(notice_days, self.notice_months),
        }
    }

    /// "EUR 120,000.00 a year", when a value is set.
    pub fn value_text(&self) -> Option<String> {
        let (value, currency) = (self.annual_value?, self.currency.as_deref()?);
        Some(format!("{currency} {} a year", grouped(value)))
    }
}

/// A non-negative amount with thousands separators and two decimals.
fn grouped(value: Decimal) -> String {
    let text = format!("{:.2}", value.round_dp(2));
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{cents}")
}

/// The contract's part of the engagement form, parsed: its fields, and the initial term's
/// end when it was given in months (`end_date` otherwise). Reports the problems in
/// `errors` under the form's field names.
pub fn parse_terms(
    errors: &mut FieldErrors,
    form: &Pairs,
    start: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
) -> (ContractFields, Option<NaiveDate>) {
    // Left out (a form of an earlier release, a script): no renewal, as before.
    let renewal = match form.get("renewal").trim() {
        "" => Renewal::None,
        raw => validate::choice(
            errors,
            "renewal",
            raw,
            Renewal::parse,
            "Choose how the contract renews.",
        )
        .unwrap_or(Renewal::None),
    };
    let optional_months = |errors: &mut FieldErrors, field: &'static str, max: i64| {
        let raw = form.get(field);
        (!raw.trim().is_empty())
            .then(|| validate::integer(errors, field, raw, 1..=max).map(|n| n as i32))
            .flatten()
    };
    let initial_term_months = optional_months(errors, "initial_term_months", 600);
    let renewal_months = match renewal {
        Renewal::None => None,
        _ => optional_months(errors, "renewal_months", 120),
    };
    if renewal == Renewal::Automatic
        && renewal_months.is_none()
        && errors.get("renewal_months").is_none()
    {
        errors.add(
            "renewal_months",
            "Give the months each automatic renewal runs, such as 12.",
        );
    }
    let mut end = end_date;
    if let (Some(start), Some(months)) = (start, initial_term_months) {
        let computed = Contract::initial_end_after(start, months as u32);
        match end_date {
            Some(given) if given != computed => errors.add(
                "end_date",
                format!(
                    "An initial term of {months} months from {start} ends on {computed}: leave the end date empty or make it {computed}."
                ),
            ),
            _ => end = Some(computed),
        }
    }
    if renewal != Renewal::None && end.is_none() && errors.get("end_date").is_none() {
        errors.add(
            "renewal",
            "A contract that renews needs an initial term: give its end date or its length in months.",
        );
    }
    let annual_value = match form.get("annual_value").trim() {
        "" => None,
        raw => {
            let parsed = parse_amount(raw);
            if parsed.is_none() {
                errors.add(
                    "annual_value",
                    "Enter the value per year in digits, such as 120000 or 120,000.50.",
                );
            }
            parsed
        }
    };
    let currency = match form.get("currency").trim() {
        "" => None,
        raw => {
            let code = raw.to_ascii_uppercase();
            if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                Some(code)
            } else {
                errors.add(
                    "currency",
                    "Enter the currency's three-letter code, such as EUR or USD.",
                );
                None
            }
        }
    };
    match (&annual_value, &currency) {
        (Some(_), None) if errors.get("currency").is_none() => {
            errors.add("currency", "Give the value's currency, such as EUR.")
        }
        (None, Some(_)) if errors.get("annual_value").is_none() => errors.add(
            "annual_value",
            "Give the value per year in this currency, or leave both empty.",
        ),
        _ => {}
    }
    let fields = ContractFields {
        renewal,
        renewal_months,
        initial_term_months,
        notice_months: None,
        annual_value,
        currency,
        contract_document_id: None,
    };
    (fields, end)
}

/// The notice period as the form gives it: a number and its unit, stored as
/// (`notice_days`, `notice_months`).
pub fn parse_notice(errors: &mut FieldErrors, form: &Pairs) -> (i32, Option<i32>) {
    // Left out: days, as before months could be given.
    let unit = match form.get("notice_unit").trim() {
        "" => Some(NoticeUnit::Days),
        raw => validate::choice(
            errors,
            "notice_unit",
            raw,
            NoticeUnit::parse,
            "Choose days or months.",
        ),
    };
    match unit {
        Some(NoticeUnit::Months) => {
            let months = validate::integer(errors, "notice_days", form.get("notice_days"), 1..=120);
            (0, months.map(|m| m as i32))
        }
        _ => {
            let days = validate::integer(errors, "notice_days", form.get("notice_days"), 0..=3650);
            (days.unwrap_or(0) as i32, None)
        }
    }
}

/// An amount of money as people type it: digits with an optional decimal point and at
/// most two decimals; commas or spaces may group the thousands.
fn parse_amount(raw: &str) -> Option<Decimal> {
    let (whole, cents) = raw.split_once('.').unwrap_or((raw, ""));
    let groups: Vec<&str> = whole.split([',', ' ']).collect();
    let grouped_well = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let digits: String = groups.concat();
    if !grouped_well
        || digits.is_empty()
        || digits.len() > 14
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || cents.len() > 2
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let text = if cents.is_empty() {
        digits
    } else {
        format!("{digits}.{cents}")
    };
    text.parse().ok()
}

/// Stores the dates of engagement `id`'s contract as they stand today in its zone, for the
/// portfolio and the reminders; called after every write of its terms.
pub async fn store_dates(
    db: &mut PgConnection,
    id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    refresh(db, now, Some(id)).await
}

#[derive(sqlx::FromRow)]
struct Stored {
    id: i64,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    notice_days: i32,
    time_zone: Zone,
    #[sqlx(flatten)]
    contract: ContractFields,
}

/// Stores the dates of the contracts whose stored ones no longer hold: an automatic
/// renewal's notice day passed, or dates never worked out (`only`: that engagement,
/// whatever its state). A scheduler pass runs it first; most days it finds nothing.
pub async fn refresh(
    db: &mut PgConnection,
    now: chrono::DateTime<chrono::Utc>,
    only: Option<i64>,
) -> Result<()> {
    let stale: Vec<Stored> = sqlx::query_as(
        "select id, start_date, end_date, notice_days, time_zone, renewal, renewal_months, initial_term_months,
                notice_months, annual_value, currency, contract_document_id
         from engagements
         where case when $2::bigint is null
                    then end_date is not null
                         and (term_end is null
                              or (renewal = 'automatic' and notice_by < ($1::timestamptz at time zone time_zone)::date))
                    else id = $2 end",
    )
    .bind(now)
    .bind(only)
    .fetch_all(&mut *db)
    .await?;
    if stale.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(stale.len());
    let mut term_ends = Vec::with_capacity(stale.len());
    let mut notice_bys = Vec::with_capacity(stale.len());
    for row in &stale {
        let today = now.with_timezone(&*row.time_zone).date_naive();
        let dates = row
            .contract
            .contract(row.start_date, row.end_date, row.notice_days)
            .dates(today);
        ids.push(row.id);
        term_ends.push(dates.map(|d| d.ends_on));
        notice_bys.push(dates.and_then(|d| d.notice_by));
    }
    sqlx::query(
        "update engagements e set term_end = d.term_end, notice_by = d.notice_by
         from unnest($1::bigint[], $2::date[], $3::date[]) as d (id, term_end, notice_by)
         where e.id = d.id and (e.term_end, e.notice_by) is distinct from (d.term_end, d.notice_by)",
    )
    .bind(&ids)
    .bind(&term_ends)
    .bind(&notice_bys)
    .execute(&mut *db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tacit(start: &str, end: &str, months: u32, notice: Notice) -> Contract {
        Contract {
            start: d(start),
            initial_end: Some(d(end)),
            renewal: Renewal::Automatic,
            renewal_months: Some(months),
            notice,
        }
    }

    #[test]
    fn months_keep_month_ends_and_clamp() {
        assert_eq!(shift_months(d("2026-01-31"), 1), d("2026-02-28"));
        assert_eq!(shift_months(d("2028-01-31"), 1), d("2028-02-29"));
        assert_eq!(shift_months(d("2026-04-30"), 1), d("2026-05-31"));
        assert_eq!(shift_months(d("2026-01-30"), 1), d("2026-02-28"));
        assert_eq!(shift_months(d("2026-12-31"), -3), d("2026-09-30"));
        assert_eq!(shift_months(d("2025-02-28"), -1), d("2025-01-31"));
        assert_eq!(shift_months(d("2026-06-15"), -1), d("2026-05-15"));
    }

    #[test]
    fn a_tacit_renewal_rolls_term_after_term() {
        let c = tacit("2025-01-01", "2025-12-31", 12, Notice::Days(90));
        let on = c.dates(d("2026-03-01")).unwrap();
        assert_eq!(on.term_start, d("2026-01-01"));
        assert_eq!(on.term_end, d("2026-12-31"));
        assert_eq!(on.renewals, 1);
        assert_eq!(on.notice_by, Some(d("2026-10-02")));
        assert_eq!(on.ends_on, d("2026-12-31"));
        // The day after the notice day: notice now ends the contract a term later.
        let late = c.dates(d("2026-10-03")).unwrap();
        assert_eq!(late.term_end, d("2026-12-31"));
        assert_eq!(late.notice_by, Some(d("2027-10-02")));
        assert_eq!(late.ends_on, d("2027-12-31"));
        assert!(late.renews_past_current());
    }

    #[test]
    fn a_tacit_renewal_whose_first_notice_day_is_before_the_start() {
        // A three-month initial term with six months' notice: the initial term's notice
        // day is before the contract began, so the first end notice can reach is later.
        let c = tacit("2026-01-01", "2026-03-31", 3, Notice::Months(6));
        let first = c.dates(d("2026-01-01")).unwrap();
        assert_eq!(first.term_end, d("2026-03-31"));
        assert_eq!(first.renewals, 0);
        assert_eq!(first.notice_by, Some(d("2026-03-31")));
        assert_eq!(first.ends_on, d("2026-09-30"));
    }

    #[test]
    fn a_notice_period_longer_than_the_renewal_period() {
        // Monthly renewals, three months' notice: notice given today ends the contract
        // three month ends later, never at the current one.
        let c = tacit("2026-01-01", "2026-01-31", 1, Notice::Months(3));
        let on = c.dates(d("2026-05-10")).unwrap();
        assert_eq!(on.term_start, d("2026-05-01"));
        assert_eq!(on.term_end, d("2026-05-31"));
        assert_eq!(on.notice_by, Some(d("2026-05-31")));
        assert_eq!(on.ends_on, d("2026-08-31"));
        let days = tacit("2026-01-01", "2026-01-31", 1, Notice::Days(45));
        let on = days.dates(d("2026-05-10")).unwrap();
        assert_eq!(on.notice_by, Some(d("2026-05-16")));
        assert_eq!(on.ends_on, d("2026-06-30"));
    }

    #[test]
    fn a_contract_starting_on_29_february() {
        let end = Contract::initial_end_after(d("2024-02-29"), 12);
        assert_eq!(end, d("2025-02-28"));
        assert_eq!(
            Contract::initial_end_after(d("2024-03-01"), 12),
            d("2025-02-28")
        );
        assert_eq!(
            Contract::initial_end_after(d("2026-01-31"), 1),
            d("2026-02-28")
        );
        assert_eq!(
            Contract::initial_end_after(d("2026-01-01"), 24),
            d("2027-12-31")
        );
        let c = tacit("2024-02-29", "2025-02-28", 12, Notice::Months(1));
        let on = c.dates(d("2027-06-01")).unwrap();
        assert_eq!(on.term_start, d("2027-03-01"));
        assert_eq!(on.term_end, d("2028-02-29"));
        assert_eq!(on.notice_by, Some(d("2028-01-31")));
    }

    #[test]
    fn a_term_clamped_to_february_does_not_drag_the_next() {
        let c = tacit("2026-01-01", "2026-01-30", 1, Notice::Days(0));
        assert_eq!(c.dates(d("2026-02-10")).unwrap().term_end, d("2026-02-28"));
        assert_eq!(c.dates(d("2026-03-10")).unwrap().term_end, d("2026-03-30"));
    }

    #[test]
    fn without_renewal_or_by_decision_the_term_stays() {
        let mut c = tacit("2025-01-01", "2025-12-31", 12, Notice::Days(30));
        c.renewal = Renewal::Decision;
        let after = c.dates(d("2027-01-01")).unwrap();
        assert_eq!(after.term_end, d("2025-12-31"));
        assert_eq!(after.notice_by, Some(d("2025-12-01")));
        c.renewal = Renewal::None;
        assert_eq!(c.dates(d("2025-06-01")).unwrap().notice_by, None);
        c.initial_end = None;
        assert_eq!(c.dates(d("2025-06-01")), None);
    }

    #[test]
    fn amounts_are_read_as_typed() {
        assert_eq!(parse_amount("120000"), Some(Decimal::new(120000, 0)));
        assert_eq!(parse_amount("120,000.50"), Some(Decimal::new(12000050, 2)));
        assert_eq!(parse_amount("1 250 000"), Some(Decimal::new(1250000, 0)));
        for bad in [
            "1,5",
            "12,00,000",
            "-5",
            "1e9",
            "1.234",
            "",
            ".",
            "1,000,00",
            "１２",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(grouped(Decimal::new(12000000, 2)), "120,000.00");
        assert_eq!(grouped(Decimal::new(999, 0)), "999.00");
        assert_eq!(grouped(Decimal::new(1234567891, 1)), "123,456,789.10");
    }

    fn date() -> impl Strategy<Value = NaiveDate> {
        (0i64..20_000).prop_map(|n| d("1990-01-01") + chrono::Duration::days(n))
    }

    fn notice() -> impl Strategy<Value = Notice> {
        prop_oneof![
            (0u32..800).prop_map(Notice::Days),
            (0u32..30).prop_map(Notice::Months)
        ]
    }

    fn contract() -> impl Strategy<Value = Contract> {
        (
            date(),
            1u32..60,
            prop_oneof![
                Just(Renewal::Automatic),
                Just(Renewal::Decision),
                Just(Renewal::None)
            ],
            1u32..36,
            notice(),
        )
            .prop_map(|(start, term, renewal, months, notice)| Contract {
                start,
                initial_end: Some(Contract::initial_end_after(start, term)),
                renewal,
                renewal_months: Some(months),
                notice,
            })
    }

    proptest! {
        #[test]
        fn notice_day_is_never_after_the_end(c in contract(), offset in 0i64..8_000) {
            let on = c.start + chrono::Duration::days(offset);
            let dates = c.dates(on).unwrap();
            if let Some(notice_by) = dates.notice_by {
                prop_assert!(notice_by <= dates.ends_on);
            }
            prop_assert!(dates.term_start <= dates.term_end);
            prop_assert!(dates.ends_on >= dates.term_end);
        }

        #[test]
        fn a_tacit_renewal_holds_the_day_and_an_open_notice_day(c in contract(), offset in 0i64..8_000) {
            prop_assume!(c.renewal == Renewal::Automatic);
            let on = c.start + chrono::Duration::days(offset);
            let dates = c.dates(on).unwrap();
            prop_assert!(dates.term_start <= on && on <= dates.term_end);
            prop_assert!(dates.notice_by.unwrap() >= on);
            // Notice reaches past the current term only when its own notice day has passed.
            if dates.renews_past_current() {
                prop_assert!(c.notice.deadline(dates.term_end) < on);
            }
        }

        #[test]
        fn rolling_one_term_moves_both_dates_by_one_renewal_period(c in contract(), offset in 0i64..8_000) {
            prop_assume!(c.renewal == Renewal::Automatic);
            let months = c.renewal_months.unwrap() as i64;
            let on = c.start + chrono::Duration::days(offset);
            let this = c.dates(on).unwrap();
            let next = c.dates(this.term_end.succ_opt().unwrap()).unwrap();
            prop_assert_eq!(next.renewals, this.renewals + 1);
            prop_assert_eq!(next.term_start, this.term_end.succ_opt().unwrap());
            prop_assert_eq!(month_index(next.term_end) - month_index(this.term_end), months);
            // The next term's own notice day moves with its end.
            let (a, b) = (c.notice.deadline(this.term_end), c.notice.deadline(next.term_end));
            match c.notice {
                Notice::Months(_) => prop_assert_eq!(month_index(b) - month_index(a), months),
                Notice::Days(_) => prop_assert_eq!(b - a, next.term_end - this.term_end),
            }
        }

        #[test]
        fn a_renewal_by_decision_never_rolls(c in contract(), offset in 0i64..8_000) {
            prop_assume!(c.renewal != Renewal::Automatic);
            let dates = c.dates(c.start + chrono::Duration::days(offset)).unwrap();
            prop_assert_eq!(dates.term_end, c.initial_end.unwrap());
            prop_assert_eq!(dates.ends_on, c.initial_end.unwrap());
            prop_assert_eq!(dates.renewals, 0);
        }
    }
}
