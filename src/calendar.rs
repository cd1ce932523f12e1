//! A person's iCalendar feed, at a secret address they create and can replace: upcoming
//! check-ins, reviews, audits, action-item and finding due dates, and engagement end dates of
//! the engagements they work on. A vendor user's feed holds their own vendor's engagements
//! only, and only what their pages show them (no reviews or audits, their side's items), as
//! `crate::visibility` decides.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::auth::session::token_hash;
use crate::state::AppState;
use crate::web::error::{AppError, Result};
use crate::web::routes::Routes;

/// Events this long past are left out of the feed.
const PAST_DAYS: i32 = 30;

#[derive(sqlx::FromRow)]
struct Owner {
    id: i64,
    vendor_id: Option<i64>,
    for_vendor: bool,
}

#[derive(sqlx::FromRow)]
struct Event {
    kind: String,
    subject_id: i64,
    on_date: NaiveDate,
    summary: String,
    link: String,
}

pub async fn feed(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let token = token.trim_end_matches(".ics");
    if token.len() < 32 {
        return Err(AppError::NotFound);
    }
    let owner: Owner = sqlx::query_as(
        "select id, vendor_id, role = 'vendor' as for_vendor from users where calendar_token_hash = $1 and disabled_at is null",
    )
    .bind(token_hash(token))
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let events: Vec<Event> = sqlx::query_as(
        "with eng as (
             select e.* from engagements e
             where e.status = 'active'
               and case when $2::bigint is not null then e.vendor_id = $2
                        else e.owner_id = $1 or exists (select 1 from engagement_managers m
                                                       where m.engagement_id = e.id and m.user_id = $1) end
         ),
         events as (
             -- An overdue check-in shows on today.
             select 'checkin' as kind, e.id as subject_id,
                    greatest(($3::timestamptz at time zone e.time_zone)::date, checkin_due(e.checkin_cadence,
                                coalesce((select max(c.held_on) from visible_checkins($5) c where c.engagement_id = e.id), e.start_date),
                                e.checkin_weekday,
                                coalesce((select b.contact_days from boundaries b where b.engagement_id = e.id), '{1,2,3,4,5}'))) as on_date,
                    'Check-in: ' || e.name as summary, '/engagements/' || e.id || '/checkins' as link
             from eng e
           union all
             select 'review', e.id, e.next_review_due, 'Review due: ' || e.name, '/engagements/' || e.id || '/reviews'
             from eng e where not $5 and e.next_review_due is not null
           union all
             select 'audit-due', e.id, e.next_audit_due, 'Audit due: ' || e.name, '/engagements/' || e.id || '/audits'
             from eng e where not $5 and e.next_audit_due is not null
           union all
             select 'audit', a.id, a.planned_on, 'Audit (' || replace(a.kind, '_', ' ') || '): ' || e.name,
                    '/audits/' || a.id
             from eng e join visible_audits($5) a on a.engagement_id = e.id and a.status = 'planned'
           union all
             select 'action', a.id, a.due_on, 'Action item due: ' || a.title || ' (' || e.name || ')',
                    '/engagements/' || e.id || '/checkins#action-' || a.id
             from eng e join visible_action_items($5) a on a.engagement_id = e.id and a.status = 'open'
                                                           and a.due_on is not null
           union all
             select 'finding', f.id, f.due_on, 'Audit finding due (' || f.severity || '): ' || e.name,
                    '/engagements/' || e.id || '/audits#finding-' || f.id
             from eng e join visible_findings($5) f on f.engagement_id = e.id and f.status in ('open', 'answered')
           union all
             select 'end', e.id, e.runs_until, 'Engagement ends: ' || e.name, '/engagements/' || e.id
             from eng e where e.runs_until is not null
           union all
             select 'notice', e.id, e.notice_by, 'Last day to give notice: ' || e.name, '/engagements/' || e.id
             from eng e where not $5 and e.notice_by is not null
           union all
             -- Questionnaires of these engagements, and a vendor user's own vendor's for due
             -- diligence.
             select 'questionnaire', q.id, q.due_on, 'Questionnaire due: ' || t.name || ' (' || v.name || ')',
                    '/questionnaires/' || q.id
             from questionnaires q join questionnaire_templates t on t.id = q.template_id
             join vendors v on v.id = q.vendor_id
             where q.status <> 'completed'
               and (q.engagement_id in (select id from eng) or ($2::bigint is not null and q.vendor_id = $2))
           union all
             -- The last valid day of the current version of these vendors' documents.
             select 'document', d.id, d.valid_until, d.kind_name || ': last valid day (' || v.name || ')',
                    '/documents/' || d.id
             from current_vendor_documents d join vendors v on v.id = d.vendor_id
             where d.vendor_id in (select vendor_id from eng) and (not $5 or d.visibility = 'shared')
         )
         select kind, subject_id, on_date, summary, link from events
         where on_date >= ($3::timestamptz at time zone 'UTC')::date - $4
         order by on_date, kind, subject_id",
    )
    .bind(owner.id)
    .bind(owner.vendor_id)
    .bind(now)
    .bind(PAST_DAYS)
    .bind(owner.for_vendor)
    .fetch_all(&state.pool)
    .await?;
    let domain = crate::outbox::message_domain(&state.config);
    let body = render(&events, &state.config.public_url, &domain, now);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    // Calendar applications poll; nobody but the subscriber should keep a copy.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(response)
}

fn render(events: &[Event], base: &str, domain: &str, now: DateTime<Utc>) -> String {
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Trellis//Vendor governance//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Trellis",
    ] {
        push_line(&mut out, line);
    }
    for event in events {
        let next_day = event
            .on_date
            .checked_add_days(Days::new(1))
            .unwrap_or(event.on_date);
        let url = format!("{}{}", base.trim_end_matches('/'), event.link);
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(
            &mut out,
            &format!(
                "UID:{}-{}-{}@{domain}",
                event.kind,
                event.subject_id,
                event.on_date.format("%Y%m%d")
            ),
        );
        push_line(&mut out, &format!("DTSTAMP:{stamp}"));
        push_line(
            &mut out,
            &format!("DTSTART;VALUE=DATE:{}", event.on_date.format("%Y%m%d")),
        );
        push_line(
            &mut out,
            &format!("DTEND;VALUE=DATE:{}", next_day.format("%Y%m%d")),
        );
        push_line(&mut out, &format!("SUMMARY:{}", escape(&event.summary)));
        push_line(&mut out, &format!("DESCRIPTION:{}", escape(&url)));
        push_line(&mut out, &format!("URL:{url}"));
        push_line(&mut out, "TRANSP:TRANSPARENT");
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

/// RFC 5545 text: backslash, semicolon, comma and newlines escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line folded at 75 octets (never inside a UTF-8 character), ending CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The feed is open: its token is the credential.
pub fn routes() -> Routes {
    Routes::new().get("/calendar/{token}", feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "é".repeat(60));
        push_line(&mut out, &line);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(
                physical.len() <= 75,
                "{physical:?} is {} octets",
                physical.len()
            );
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line);
    }

    #[test]
    fn text_escapes_the_characters_rfc_5545_reserves() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
