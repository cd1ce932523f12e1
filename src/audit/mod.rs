//! The append-only audit log: who did what to what, when, from where, and how it ended.
//! Writing entries lives here; the admin pages in [`pages`].
//! Never give it a password, token or session id.

pub mod pages;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::auth::User;

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
        }
    }

    /// The e-mail someone claimed, for failed logins of unknown or wrong accounts.
    pub fn claimed_email(mut self, email: &str) -> Entry {
        self.actor_email = Some(email.to_lowercase());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Entry {
        self.target = Some(target.into());
        self
    }

    pub fn client_addr(mut self, addr: impl Into<String>) -> Entry {
        self.client_addr = Some(addr.into());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Entry {
        self.details = Some(details);
        self
    }

    pub async fn write(
        self,
        db: impl PgExecutor<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into audit_log (at, actor_id, actor_email, actor_role, action, target, outcome, client_addr, details)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(at)
        .bind(self.actor_id)
        .bind(self.actor_email)
        .bind(self.actor_role)
        .bind(self.action)
        .bind(self.target)
        .bind(self.outcome.as_str())
        .bind(self.client_addr)
        .bind(self.details)
        .execute(db)
        .await?;
        Ok(())
    }
}
