//! The outbox: e-mail waiting to be sent, each message with its Message-ID from the moment it
//! is stored. Features store messages here in their own transaction (a password link, say);
//! the scheduler's delivery worker (`scheduler::mail`) composes digests into it and sends.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::Config;

/// The domain of the public address, for Message-IDs.
pub fn message_domain(config: &Config) -> String {
    let rest = config
        .public_url
        .split_once("://")
        .map_or(config.public_url.as_str(), |(_, rest)| rest);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    if host.is_empty() {
        "trellis.localhost".into()
    } else {
        host.to_string()
    }
}

pub fn new_message_id(config: &Config) -> (Uuid, String) {
    let id = Uuid::new_v4();
    (id, format!("<{id}@{}>", message_domain(config)))
}

/// One e-mail to store in the outbox.
pub struct Outgoing {
    pub recipient_id: Option<i64>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub urgent: bool,
}

/// Stores messages in the outbox, ready for their first attempt now.
pub async fn enqueue(
    db: &mut PgConnection,
    config: &Config,
    now: DateTime<Utc>,
    messages: Vec<Outgoing>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut ids = Vec::with_capacity(messages.len());
    let mut message_ids = Vec::with_capacity(messages.len());
    let (mut recipients, mut to, mut subjects, mut texts, mut htmls, mut urgent) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for m in messages {
        let (id, message_id) = new_message_id(config);
        ids.push(id);
        message_ids.push(message_id);
        recipients.push(m.recipient_id);
        to.push(m.to);
        subjects.push(m.subject);
        texts.push(m.text);
        htmls.push(m.html);
        urgent.push(m.urgent);
    }
    sqlx::query(
        "insert into outbox (id, message_id, recipient_id, to_address, subject, body_text, body_html,
                             urgent, created_at, next_attempt_at)
         select id, message_id, recipient_id, to_address, subject, body_text, body_html, urgent, $9, $9
         from unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[])
              as m(id, message_id, recipient_id, to_address, subject, body_text, body_html, urgent)",
    )
    .bind(&ids)
    .bind(&message_ids)
    .bind(&recipients)
    .bind(&to)
    .bind(&subjects)
    .bind(&texts)
    .bind(&htmls)
    .bind(&urgent)
    .bind(now)
    .execute(db)
    .await?;
    Ok(ids)
}
