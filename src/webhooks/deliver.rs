//! The webhook sender. Every instance runs one: it wakes when a transaction that wrote
//! events commits (`LISTEN trellis_webhooks`) and every few seconds besides, claims the due
//! deliveries with `FOR UPDATE SKIP LOCKED` by moving them past the request timeout (a lease:
//! an instance that dies mid-delivery leaves them to another once it runs out), sends them
//! side by side, and records each answer. A failure is tried again after 30 s, 1, 2, 4 …
//! minutes (at most an hour apart); an endpoint whose every attempt failed for a day is
//! disabled and the admins are told.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::Format;
use super::sign::signature;
use crate::state::AppState;

/// How long a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How many deliveries one round sends at most.
const BATCH: i64 = 20;
/// How often the sender looks for due deliveries without being woken.
const POLL: Duration = Duration::from_secs(5);

/// The HTTP client of the sender: a 10 s timeout, and no redirect followed (a receiver that
/// answers with one has not taken the event).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Trellis-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS client")
}

/// Sends deliveries until `stop` changes.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let client = client();
    let wake = std::sync::Arc::new(Notify::new());
    let listening = tokio::spawn(listen(state.clone(), wake.clone()));
    loop {
        match deliver_due(&state, &client).await {
            // A full batch: more may be due.
            Ok(sent) if sent as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "webhook delivery failed"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => break,
        }
    }
    listening.abort();
}

/// Wakes the sender whenever a transaction that wrote events commits, on a connection of its
/// own (outside the request pool), reconnecting after a failure.
async fn listen(state: AppState, wake: std::sync::Arc<Notify>) {
    loop {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*state.pool.connect_options()).clone());
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen("trellis_webhooks").await?;
            loop {
                listener.recv().await?;
                wake.notify_one();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        if let Err(e) = listener.await {
            tracing::warn!(error = %e, "webhook listener lost its connection; polling meanwhile");
        }
        pool.close().await;
        tokio::time::sleep(POLL).await;
    }
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    attempts: i32,
    event_id: Uuid,
    kind: String,
    data: Value,
    created_at: DateTime<Utc>,
    endpoint_id: i64,
    url: String,
    secret: String,
    format: Format,
}

/// The outcome of one attempt: the receiver's status, or what went wrong before one.
struct Answer {
    status: Option<u16>,
    error: Option<String>,
}

impl Answer {
    fn delivered(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The event's id as every delivery of it names it.
pub fn event_id(id: Uuid) -> String {
    format!("evt_{}", id.simple())
}

/// The body of a delivery: the event (Standard Webhooks' `type`, `timestamp`, `data`, with
/// the link made whole from the public address), or a chat message saying it.
pub fn body(
    format: Format,
    id: Uuid,
    kind: &str,
    data: &Value,
    created_at: DateTime<Utc>,
    public_url: &str,
) -> Vec<u8> {
    let path = data["path"].as_str().unwrap_or("/");
    let url = format!("{}{path}", public_url.trim_end_matches('/'));
    let value = match format {
        Format::Standard => {
            let mut data = data.clone();
            if let Some(object) = data.as_object_mut() {
                object.remove("path");
                object.insert("url".into(), Value::String(url));
            }
            json!({
                "id": event_id(id),
                "type": kind,
                "timestamp": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "data": data,
            })
        }
        Format::Chat => {
            let names: Vec<&str> = [&data["vendor"]["name"], &data["engagement"]["name"]]
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            let summary = data["summary"].as_str().unwrap_or(kind);
            json!({ "text": format!("Trellis · {} · {summary} · {url}", names.join(" / ")) })
        }
    };
    serde_json::to_vec(&value).expect("JSON of JSON")
}

/// Claims the due deliveries, sends them and records their answers; gives how many it sent.
pub async fn deliver_due(state: &AppState, client: &reqwest::Client) -> anyhow::Result<usize> {
    let claimed: Vec<Claimed> = sqlx::query_as(
        "with due as (
            select d.id from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id
            where d.delivered_at is null and d.next_attempt_at <= now() and w.disabled_at is null
            order by d.next_attempt_at, d.id
            limit $1
            for update of d skip locked
         ), claimed as (
            update webhook_deliveries d
            set attempts = d.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + $2::interval
            from due where d.id = due.id
            returning d.id, d.attempts, d.event_id, d.endpoint_id
         )
         select c.id, c.attempts, c.event_id, e.kind, e.data, e.created_at, c.endpoint_id, w.url, w.secret, w.format
         from claimed c join webhook_events e on e.id = c.event_id join webhook_endpoints w on w.id = c.endpoint_id",
    )
    .bind(BATCH)
    // Past the request's timeout: nobody else sends it while this instance may still be.
    .bind(format!("{} seconds", TIMEOUT.as_secs() * 6))
    .fetch_all(&state.pool)
    .await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let public_url = &state.config.public_url;
    let answers =
        futures_util::future::join_all(claimed.iter().map(|d| send(client, d, public_url))).await;
    for (delivery, answer) in claimed.iter().zip(answers) {
        record(state, delivery, &answer).await?;
    }
    Ok(claimed.len())
}

async fn send(client: &reqwest::Client, d: &Claimed, public_url: &str) -> Answer {
    let body = body(
        d.format,
        d.event_id,
        &d.kind,
        &d.data,
        d.created_at,
        public_url,
    );
    let id = event_id(d.event_id);
    let timestamp = Utc::now().timestamp();
    let Some(signed) = signature(&d.secret, &id, timestamp, &body) else {
        return Answer {
            status: None,
            error: Some("the endpoint's secret cannot sign".into()),
        };
    };
    let request = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signed)
        .body(body);
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let error = if status.is_success() {
                None
            } else if status.is_redirection() {
                Some(format!("answered {status}: redirects are not followed"))
            } else {
                Some(format!("answered {status}"))
            };
            Answer {
                status: Some(status.as_u16()),
                error,
            }
        }
        Err(e) => Answer {
            status: None,
            error: Some(if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else if e.is_connect() {
                "could not connect".into()
            } else {
                "the request failed".into()
            }),
        },
    }
}

/// After `attempts` failed attempts, how long until the next: 30 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 8) - 1;
    Duration::from_secs((30u64 << doublings).min(3600))
}

async fn record(state: &AppState, d: &Claimed, answer: &Answer) -> anyhow::Result<()> {
    let status = answer.status.map(i32::from);
    if answer.delivered() {
        state
            .metrics
            .add("trellis_webhook_sends_total", "delivered", 1);
        sqlx::query(
            "with done as (
                update webhook_deliveries set delivered_at = now(), last_status = $2, last_error = null
                where id = $1 returning endpoint_id
             )
             update webhook_endpoints set failing_since = null
             where id = (select endpoint_id from done) and failing_since is not null",
        )
        .bind(d.id)
        .bind(status)
        .execute(&state.pool)
        .await?;
        return Ok(());
    }
    state
        .metrics
        .add("trellis_webhook_sends_total", "failed", 1);
    tracing::warn!(
        delivery = d.id,
        endpoint = d.endpoint_id,
        attempts = d.attempts,
        error = answer.error.as_deref().unwrap_or(""),
        "webhook not delivered"
    );
    let given_up: Option<String> = sqlx::query_scalar(
        "with failed as (
            update webhook_deliveries set last_status = $2, last_error = $3, next_attempt_at = now() + $4::interval
            where id = $1
         ), failing as (
            update webhook_endpoints set failing_since = coalesce(failing_since, now())
            where id = $5 returning failing_since, disabled_at
         )
         select 'failing' from failing where disabled_at is null and failing_since < now() - interval '1 day'",
    )
    .bind(d.id)
    .bind(status)
    .bind(answer.error.as_deref())
    .bind(format!("{} seconds", backoff(d.attempts).as_secs()))
    .bind(d.endpoint_id)
    .fetch_optional(&state.pool)
    .await?;
    if given_up.is_some() {
        disable(
            state,
            d.endpoint_id,
            answer.error.as_deref().unwrap_or("it failed"),
        )
        .await?;
    }
    Ok(())
}

/// Disables an endpoint that has failed for a day and tells the admins: by e-mail when
/// Trellis sends e-mail, and on the webhooks page and in the audit log always.
async fn disable(state: &AppState, endpoint: i64, last_error: &str) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    let reason = format!("Every delivery failed for a day; the last one: {last_error}.");
    let name: Option<String> = sqlx::query_scalar(
        "update webhook_endpoints set disabled_at = now(), disabled_reason = $2
         where id = $1 and disabled_at is null returning name",
    )
    .bind(endpoint)
    .bind(&reason)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(name) = name else {
        return Ok(());
    };
    crate::audit::Entry::anonymous("webhook.disable", crate::audit::Outcome::Success)
        .target(format!("webhook:{endpoint}"))
        .details(json!({ "name": name, "reason": reason }))
        .write(&mut *tx, state.clock.now())
        .await?;
    if state.config.smtp_url.is_some() {
        let admins: Vec<(i64, String)> = sqlx::query_as(
            "select id, email from users where role = 'admin' and disabled_at is null order by id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let link = format!("{}/admin/webhooks", state.config.public_url);
        let text = format!(
            "Trellis disabled the webhook endpoint \"{name}\": {reason}\n\nEnable it again once the receiver works: {link}\n"
        );
        let html = format!(
            "<p>Trellis disabled the webhook endpoint <strong>{}</strong>: {}</p><p><a href=\"{link}\">Enable it again</a> once the receiver works.</p>",
            escape(&name),
            escape(&reason)
        );
        let messages = admins
            .into_iter()
            .map(|(id, email)| crate::outbox::Outgoing {
                recipient_id: Some(id),
                to: email,
                subject: format!("Webhook endpoint disabled: {name}"),
                text: text.clone(),
                html: html.clone(),
                urgent: false,
            })
            .collect();
        crate::outbox::enqueue(&mut tx, &state.config, state.clock.now(), messages).await?;
    }
    tx.commit().await?;
    tracing::warn!(endpoint, %name, "webhook endpoint disabled after a day of failures");
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let secs: Vec<u64> = (1..=10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }

    #[test]
    fn a_standard_body_carries_the_event_and_a_whole_link_and_a_chat_body_says_it() {
        let id = Uuid::nil();
        let data = json!({
            "vendor": {"id": 1, "name": "Northwind"}, "engagement": {"id": 2, "name": "Service desk"},
            "subject": {"type": "kpi_value", "id": 3}, "summary": "KPI value disputed: MTTR", "path": "/engagements/2/values",
        });
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let standard: Value = serde_json::from_slice(&body(
            Format::Standard,
            id,
            "kpi_value.disputed",
            &data,
            at,
            "https://trellis.example/",
        ))
        .unwrap();
        assert_eq!(standard["id"], "evt_00000000000000000000000000000000");
        assert_eq!(standard["type"], "kpi_value.disputed");
        assert_eq!(standard["timestamp"], "2026-12-01T10:00:00.000Z");
        assert_eq!(
            standard["data"]["url"],
            "https://trellis.example/engagements/2/values"
        );
        assert!(standard["data"].get("path").is_none());
        let chat: Value = serde_json::from_slice(&body(
            Format::Chat,
            id,
            "kpi_value.disputed",
            &data,
            at,
            "https://trellis.example",
        ))
        .unwrap();
        assert_eq!(
            chat["text"],
            "Trellis · Northwind / Service desk · KPI value disputed: MTTR · https://trellis.example/engagements/2/values"
        );
    }
}
