//! The append-only audit log: who did what to what, when, from where, and how it ended.
//! Writing entries lives here; the admin pages in [`pages`].
//! Never give it a password, token or session id.

pub mod pages;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::auth::User;
use crate::web::routes::Routes;

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    Failure,
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    actor_id: Option<i64>,
    actor_email: Option<String>,
    actor_role: Option<String>,
    action: &'static str,
    target: Option<String>,
    outcome: Outcome,
    client_addr: Option<String>,
    details: Option<serde_json::Value>,
    /// The API token the actor used, named in the details.
    token: Option<(i64, String)>,
}

impl Entry {
    pub fn by(actor: &User, action: &'static str, outcome: Outcome) -> Entry {
        Entry {
            actor_id: Some(actor.id),
            actor_email: Some(actor.email.clone()),
            actor_role: Some(actor.role.as_str().to_string()),
            ..Entry::anonymous(action, outcome)
        }
    }

    pub fn anonymous(action: &'static str, outcome: Outcome) -> Entry {
        Entry {
            actor_id: None,
            actor_email: None,
            actor_role: None,
            action,
            target: None,
            outcome,
            client_addr: None,
            details: None,
            token: None,
        }
    }

    /// The e-mail someone claimed, for failed logins of unknown or wrong accounts.
    pub fn claimed_email(mut self, email: &str) -> Entry {
        self.actor_email = Some(clip(&email.to_lowercase(), MAX_TEXT));
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Entry {
        self.target = Some(clip(&target.into(), MAX_TEXT));
        self
    }

    pub fn client_addr(mut self, addr: impl Into<String>) -> Entry {
        self.client_addr = Some(clip(&addr.into(), MAX_TEXT));
        self
    }

    pub fn details(mut self, mut details: serde_json::Value) -> Entry {
        clip_strings(&mut details);
        self.details = Some(details);
        self
    }

    /// The entry of a change made with an API token: the details name it (`token`: id and
    /// name) beside whatever else they say.
    pub fn via_token(mut self, id: i64, name: &str) -> Entry {
        self.token = Some((id, name.to_string()));
        self
    }

    /// The details as written: the token, when there is one, joins them.
    fn written_details(&mut self) -> Option<serde_json::Value> {
        let details = self.details.take();
        let Some((id, name)) = self.token.take() else {
            return details;
        };
        let token = serde_json::json!({ "id": id, "name": clip(&name, MAX_TEXT) });
        Some(match details {
            Some(serde_json::Value::Object(mut fields)) => {
                fields.insert("token".into(), token);
                serde_json::Value::Object(fields)
            }
            None => serde_json::json!({ "token": token }),
            Some(other) => serde_json::json!({ "details": other, "token": token }),
        })
    }

    /// A refusal of a client nobody has identified: it costs nothing to repeat, so it is
    /// what a flood would be made of.
    fn is_anonymous_refusal(&self) -> bool {
        self.actor_id.is_none() && matches!(self.outcome, Outcome::Refused)
    }

    /// Writes the entry. An anonymous refusal writes a row only as the first of its client
    /// address, action and minute; the repeats are counted in `audit_repeats`, which the
    /// audit page shows beside that row. Anonymous failed logins are each a row: the login
    /// throttle already bounds them per address.
    pub async fn write(
        mut self,
        db: impl PgExecutor<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let sql = if self.is_anonymous_refusal() {
            "with burst as (
                 insert into audit_repeats as r (client_addr, action, minute, repeats, last_at)
                 values (coalesce($8, ''), $5, date_bin('1 minute', $1, timestamptz 'epoch'), 0, $1)
                 on conflict (client_addr, action, minute)
                     do update set repeats = r.repeats + 1, last_at = greatest(r.last_at, excluded.last_at)
                 returning repeats
             )
             insert into audit_log (at, actor_id, actor_email, actor_role, action, target, outcome, client_addr, details)
             select $1, $2, $3, $4, $5, $6, $7, $8, $9 from burst where repeats = 0"
        } else {
            "insert into audit_log (at, actor_id, actor_email, actor_role, action, target, outcome, client_addr, details)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        };
        let details = self.written_details();
        sqlx::query(sql)
            .bind(at)
            .bind(self.actor_id)
            .bind(self.actor_email)
            .bind(self.actor_role)
            .bind(self.action)
            .bind(self.target)
            .bind(self.outcome.as_str())
            .bind(self.client_addr)
            .bind(details)
            .execute(db)
            .await?;
        Ok(())
    }
}

/// The longest text an entry keeps of anything a client sent (paths, claimed e-mails,
/// header values): enough to recognise it, too little to fill the log with.
pub const MAX_TEXT: usize = 200;

/// `text` cut to `max` characters, marked with an ellipsis where it was cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn clip_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = clip(text, MAX_TEXT),
        serde_json::Value::Array(items) => items.iter_mut().for_each(clip_strings),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(clip_strings),
        _ => {}
    }
}

/// The routes of audit.
pub fn routes() -> Routes {
    Routes::new().get("/admin/audit", pages::list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_client_text_is_clipped_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        let long = "é".repeat(300);
        let clipped = clip(&long, MAX_TEXT);
        assert_eq!(clipped.chars().count(), MAX_TEXT + 1);
        assert!(clipped.ends_with('…'));
        let entry = Entry::anonymous("request.cross_site", Outcome::Refused)
            .target(format!("/{}", "a".repeat(2048)))
            .details(serde_json::json!({ "origin": "b".repeat(5000), "n": [ "c".repeat(900) ] }));
        assert!(entry.target.as_ref().is_some_and(|t| t.len() < 250));
        assert!(
            entry
                .details
                .as_ref()
                .is_some_and(|d| d.to_string().len() < 600)
        );
    }
}
