//! E-mail: inbox items waiting for e-mail are given the hour they may go out (a vendor user's
//! engagement contact window, a colleague's working hours, or at once when urgent), composed
//! into one digest per person (per engagement for a vendor user) and stored in the outbox
//! with their Message-ID before the first attempt; the sender claims outbox rows with
//! `FOR UPDATE SKIP LOCKED`, one at a time, and retries with exponential backoff.
//!
//! A message is marked sent in the transaction that holds its row, right after the SMTP
//! server accepted it; only a crash between the two sends it again, with the same Message-ID.

use std::collections::BTreeMap;
use std::time::Duration;

use askama::Template;
use chrono::{DateTime, NaiveTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::config::Config;
use crate::engagements::cadence::iso_weekdays;
use crate::engagements::window::ContactWindow;
use crate::outbox::{Outgoing, enqueue};
use crate::state::AppState;
use crate::vocab::Zone;

/// A message is given up after this many attempts (about four hours of backoff in all).
pub const MAX_ATTEMPTS: i32 = 8;
/// Items worked on per step; the rest wait for the next tick.
const BATCH: i64 = 1000;
/// The advisory lock held while composing digests.
const COMPOSE_LOCK: i64 = 0x7472_656c_6c69_7301;
/// Messages sent per delivery run.
const SEND_BATCH: usize = 200;

/// The SMTP connection and the sender's address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `None` when SMTP_URL is not set; an error when it is set but cannot be used.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Mailer>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = config
            .smtp_from
            .parse()
            .map_err(|e| anyhow::anyhow!("SMTP_FROM: {e}"))?;
        Ok(Some(Mailer { transport, from }))
    }
}

/// One delivery run: plan, compose, send.
pub async fn deliver(state: &AppState, mailer: &Mailer) -> anyhow::Result<()> {
    plan(state).await?;
    compose(state).await?;
    send_due(state, mailer).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Pending {
    reminder_id: i64,
    user_id: i64,
    role: String,
    time_zone: Zone,
    work_days: Vec<i32>,
    work_start: NaiveTime,
    work_end: NaiveTime,
    urgent: bool,
    engagement_zone: Zone,
    contact_days: Option<Vec<i32>>,
    window_start: Option<NaiveTime>,
    window_end: Option<NaiveTime>,
}

impl Pending {
    /// When this person may be e-mailed about it: urgent at once; a vendor user within the
    /// engagement's contact window; the organisation's people within their working hours.
    fn deliver_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.urgent {
            return now;
        }
        let window = if self.role == "vendor" {
            ContactWindow {
                days: iso_weekdays(self.contact_days.as_deref().unwrap_or(&[1, 2, 3, 4, 5])),
                start: self.window_start.unwrap_or(NaiveTime::MIN),
                end: self.window_end.unwrap_or(NaiveTime::MIN),
                zone: self.engagement_zone.0,
            }
        } else {
            ContactWindow {
                days: iso_weekdays(&self.work_days),
                start: self.work_start,
                end: self.work_end,
                zone: self.time_zone.0,
            }
        };
        window.earliest_delivery(now).unwrap_or(now)
    }
}

/// Works out when each newly pending item may go out.
async fn plan(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let pending: Vec<Pending> = sqlx::query_as(
        "select i.reminder_id, i.user_id, u.role, u.time_zone, u.work_days, u.work_start, u.work_end,
                r.urgent, e.time_zone as engagement_zone, b.contact_days, b.window_start, b.window_end
         from inbox_items i
         join users u on u.id = i.user_id
         join reminders r on r.id = i.reminder_id
         join engagements e on e.id = r.engagement_id
         left join boundaries b on b.engagement_id = e.id
         where i.email_state = 'pending' and i.deliver_after is null
         limit $1",
    )
    .bind(BATCH)
    .fetch_all(&state.pool)
    .await?;
    if pending.is_empty() {
        return Ok(());
    }
    let reminders: Vec<i64> = pending.iter().map(|p| p.reminder_id).collect();
    let users: Vec<i64> = pending.iter().map(|p| p.user_id).collect();
    let times: Vec<DateTime<Utc>> = pending.iter().map(|p| p.deliver_after(now)).collect();
    sqlx::query(
        "update inbox_items i set deliver_after = p.at
         from unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) as p(reminder_id, user_id, at)
         where i.reminder_id = p.reminder_id and i.user_id = p.user_id and i.deliver_after is null",
    )
    .bind(&reminders)
    .bind(&users)
    .bind(&times)
    .execute(&state.pool)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Ready {
    reminder_id: i64,
    user_id: i64,
    email: String,
    name: String,
    role: String,
    engagement_id: i64,
    engagement_name: String,
    vendor_name: String,
    title: String,
    link: String,
    urgent: bool,
}

pub struct DigestItem {
    pub title: String,
    pub url: String,
    pub engagement: String,
}

/// What a digest says, in both its bodies.
pub struct Digest<'a> {
    pub name: &'a str,
    pub intro: &'a str,
    pub items: &'a [DigestItem],
    pub inbox_url: &'a str,
    pub settings_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/digest.txt")]
struct DigestText<'a> {
    d: &'a Digest<'a>,
}

#[derive(Template)]
#[template(path = "email/digest.html")]
struct DigestHtml<'a> {
    d: &'a Digest<'a>,
}

/// Composes every item whose hour has come into digests, in one transaction with the items'
/// rows held, so two instances never put one item into two messages.
async fn compose(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    // One instance composes at a time, so a person's items make one digest rather than being
    // split between two instances' messages; the others skip this step.
    let composing: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(COMPOSE_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !composing {
        return Ok(());
    }
    // Items whose reminder resolved, that were dismissed, or whose reader's account was
    // disabled before their hour are not sent.
    sqlx::query(
        "update inbox_items i set email_state = 'none'
         from reminders r, users u
         where r.id = i.reminder_id and u.id = i.user_id and i.email_state = 'pending'
           and (r.resolved_at is not null or i.dismissed_at is not null or u.disabled_at is not null)",
    )
    .execute(&mut *tx)
    .await?;
    let ready: Vec<Ready> = sqlx::query_as(
        "select i.reminder_id, i.user_id, u.email, u.name, u.role, r.engagement_id,
                e.name as engagement_name, v.name as vendor_name, r.title, r.link, r.urgent
         from inbox_items i
         join users u on u.id = i.user_id and u.disabled_at is null
         join reminders r on r.id = i.reminder_id
         join engagements e on e.id = r.engagement_id
         join vendors v on v.id = e.vendor_id
         where i.email_state = 'pending' and i.deliver_after <= $1
           and (i.snoozed_until is null or i.snoozed_until <= $1)
         order by i.user_id, r.engagement_id, r.urgent desc, r.id
         limit $2
         for update of i skip locked",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if ready.is_empty() {
        tx.commit().await?;
        return Ok(());
    }
    // A vendor user's digest covers one engagement; a colleague's, everything at once.
    let mut groups: BTreeMap<(i64, Option<i64>), Vec<&Ready>> = BTreeMap::new();
    for item in &ready {
        let engagement = (item.role == "vendor").then_some(item.engagement_id);
        groups
            .entry((item.user_id, engagement))
            .or_default()
            .push(item);
    }
    let base = state.config.public_url.trim_end_matches('/');
    let inbox_url = format!("{base}/inbox");
    let settings_url = format!("{base}/account");
    let mut messages = Vec::with_capacity(groups.len());
    let mut members = Vec::with_capacity(groups.len());
    for ((_, engagement), items) in &groups {
        let first = items[0];
        let digest: Vec<DigestItem> = items
            .iter()
            .map(|i| DigestItem {
                title: i.title.clone(),
                url: format!("{base}{}", i.link),
                engagement: format!("{} · {}", i.engagement_name, i.vendor_name),
            })
            .collect();
        let subject = match (items.len(), engagement) {
            (1, _) => format!("{} — {}", first.title, first.engagement_name),
            (n, Some(_)) => format!("{n} things for {} in Trellis", first.engagement_name),
            (n, None) => format!("{n} reminders in Trellis"),
        };
        let intro = match items.len() {
            1 => "This waits for you in Trellis:".to_string(),
            n => format!("These {n} things wait for you in Trellis:"),
        };
        let digest = Digest {
            name: &first.name,
            intro: &intro,
            items: &digest,
            inbox_url: &inbox_url,
            settings_url: &settings_url,
        };
        let text = DigestText { d: &digest }.render()?;
        let html = DigestHtml { d: &digest }.render()?;
        messages.push(Outgoing {
            recipient_id: Some(first.user_id),
            to: first.email.clone(),
            subject,
            text,
            html,
            urgent: items.iter().any(|i| i.urgent),
        });
        members.push(items);
    }
    let ids = enqueue(&mut tx, &state.config, now, messages).await?;
    let (mut reminders, mut users, mut outbox) = (vec![], vec![], vec![]);
    for (id, items) in ids.iter().zip(members) {
        for item in items {
            reminders.push(item.reminder_id);
            users.push(item.user_id);
            outbox.push(*id);
        }
    }
    sqlx::query(
        "update inbox_items i set email_state = 'composed', outbox_id = c.outbox_id
         from unnest($1::bigint[], $2::bigint[], $3::uuid[]) as c(reminder_id, user_id, outbox_id)
         where i.reminder_id = c.reminder_id and i.user_id = c.user_id",
    )
    .bind(&reminders)
    .bind(&users)
    .bind(&outbox)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Queued {
    id: Uuid,
    message_id: String,
    to_address: String,
    subject: String,
    body_text: String,
    body_html: String,
    attempts: i32,
}

/// How long to wait after failed attempt number `attempts` (1, 2, …): one minute, doubling,
/// at most six hours.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let minutes = 1i64 << (attempts - 1).clamp(0, 9);
    chrono::Duration::minutes(minutes.min(360))
}

/// Sends what is due, one message per transaction.
pub async fn send_due(state: &AppState, mailer: &Mailer) -> anyhow::Result<usize> {
    let mut sent = 0;
    for _ in 0..SEND_BATCH {
        let now = state.clock.now();
        let mut tx = state.pool.begin().await?;
        let queued: Option<Queued> = sqlx::query_as(
            "select id, message_id, to_address, subject, body_text, body_html, attempts
             from outbox
             where sent_at is null and failed_at is null and next_attempt_at <= $1
             order by urgent desc, next_attempt_at, id
             limit 1
             for update skip locked",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(message) = queued else {
            tx.commit().await?;
            break;
        };
        let attempts = message.attempts + 1;
        match send_one(mailer, &message).await {
            Ok(()) => {
                sqlx::query("update outbox set sent_at = $2, attempts = $3, last_error = null where id = $1")
                    .bind(message.id)
                    .bind(state.clock.now())
                    .bind(attempts)
                    .execute(&mut *tx)
                    .await?;
                state.metrics.add("trellis_email_sends_total", "sent", 1);
                sent += 1;
            }
            Err((error, permanent)) => {
                let give_up = permanent || attempts >= MAX_ATTEMPTS;
                let outcome = if give_up { "failed" } else { "retry" };
                state.metrics.add("trellis_email_sends_total", outcome, 1);
                tracing::warn!(message_id = %message.message_id, attempts, give_up, %error, "e-mail not sent");
                sqlx::query(
                    "update outbox
                     set attempts = $2, last_error = $3, next_attempt_at = $4,
                         failed_at = case when $5 then $6 end
                     where id = $1",
                )
                .bind(message.id)
                .bind(attempts)
                .bind(&error)
                .bind(now + backoff(attempts))
                .bind(give_up)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(sent)
}

/// Sends one message; the error says whether trying again can help.
async fn send_one(mailer: &Mailer, message: &Queued) -> Result<(), (String, bool)> {
    let to: Mailbox = message.to_address.parse().map_err(|e| {
        (
            format!("the address {:?} is not valid: {e}", message.to_address),
            true,
        )
    })?;
    let email = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(&message.subject)
        .message_id(Some(message.message_id.clone()))
        .multipart(MultiPart::alternative_plain_html(
            message.body_text.clone(),
            message.body_html.clone(),
        ))
        .map_err(|e| (format!("the message cannot be built: {e}"), true))?;
    mailer
        .transport
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| (e.to_string(), e.is_permanent()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(role: &str, urgent: bool) -> Pending {
        Pending {
            reminder_id: 1,
            user_id: 1,
            role: role.into(),
            time_zone: Zone(chrono_tz::America::New_York),
            work_days: vec![1, 2, 3, 4, 5],
            work_start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            work_end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            urgent,
            engagement_zone: Zone(chrono_tz::Europe::Berlin),
            contact_days: Some(vec![1, 2, 3, 4, 5]),
            window_start: Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
            window_end: Some(NaiveTime::from_hms_opt(17, 0, 0).unwrap()),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn a_vendor_users_routine_mail_waits_for_the_window_across_the_change_to_summer_time() {
        // Saturday before Europe moves its clocks (29 March 2026): Monday 09:00 in Berlin is
        // already summer time, 07:00 UTC, not 08:00.
        let saturday = utc(2026, 3, 28, 12, 0);
        assert_eq!(
            pending("vendor", false).deliver_after(saturday),
            utc(2026, 3, 30, 7, 0)
        );
        // The week before, Monday 09:00 was 08:00 UTC.
        assert_eq!(
            pending("vendor", false).deliver_after(utc(2026, 3, 21, 12, 0)),
            utc(2026, 3, 23, 8, 0)
        );
    }

    #[test]
    fn urgent_mail_goes_at_once_and_colleagues_get_theirs_in_their_own_working_hours() {
        let saturday = utc(2026, 3, 28, 12, 0);
        assert_eq!(pending("vendor", true).deliver_after(saturday), saturday);
        // The manager works 09:00-17:00 in New York (already on summer time since 8 March).
        assert_eq!(
            pending("manager", false).deliver_after(saturday),
            utc(2026, 3, 30, 13, 0)
        );
        // Inside the working day: at once.
        let tuesday = utc(2026, 3, 31, 15, 0);
        assert_eq!(pending("manager", false).deliver_after(tuesday), tuesday);
    }

    #[test]
    fn backoff_doubles_from_a_minute_up_to_six_hours() {
        let minutes: Vec<i64> = (1..=11).map(|a| backoff(a).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]);
    }
}
