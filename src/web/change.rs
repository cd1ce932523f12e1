//! The one write path of a form post: a [`Change`] holds the transaction, who acts, from which
//! address and at what time; it writes their audit entries and the flash for the next page
//! in that transaction, then commits and refreshes the engagement's reminders. A refused form
//! is shown again by [`refused`] with 422.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use super::error::Result;
use super::layout::Flash;
use crate::audit::{self, Outcome};
use crate::auth::session::{self, Session};
use crate::auth::{CurrentUser, User};
use crate::state::AppState;

pub struct Change<'a> {
    pub tx: Transaction<'static, Postgres>,
    pub now: DateTime<Utc>,
    state: &'a AppState,
    user: &'a User,
    /// The browser session of a form post, where the flash goes; none for the API.
    session: Option<&'a Session>,
    /// The API token a change through the API is made with: id and name.
    token: Option<(i64, &'a str)>,
    addr: String,
}

impl<'a> Change<'a> {
    /// Begins the change `current` makes from `addr`, at the clock's now.
    pub async fn begin(
        state: &'a AppState,
        current: &'a CurrentUser,
        addr: impl Into<String>,
    ) -> Result<Change<'a>> {
        Ok(Change {
            tx: state.pool.begin().await?,
            now: state.clock.now(),
            state,
            user: &current.user,
            session: Some(&current.session),
            token: None,
            addr: addr.into(),
        })
    }

    /// Begins the change `user` makes through the API with the token `token` (id and name):
    /// every audit entry of it names the token, and there is no flash.
    pub async fn begin_with_token(
        state: &'a AppState,
        user: &'a User,
        token: (i64, &'a str),
        addr: impl Into<String>,
    ) -> Result<Change<'a>> {
        Ok(Change {
            tx: state.pool.begin().await?,
            now: state.clock.now(),
            state,
            user,
            session: None,
            token: Some(token),
            addr: addr.into(),
        })
    }

    /// The transaction, for the change's own statements.
    pub fn db(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// An entry by whoever makes the change, from their address, to fill in and [`record`].
    ///
    /// [`record`]: Change::record
    pub fn entry(&self, action: &'static str, outcome: Outcome) -> audit::Entry {
        let entry = audit::Entry::by(self.user, action, outcome).client_addr(self.addr.clone());
        match self.token {
            Some((id, name)) => entry.via_token(id, name),
            None => entry,
        }
    }

    /// Writes an audit entry in the change's transaction, at its time.
    pub async fn record(&mut self, entry: audit::Entry) -> Result<()> {
        entry.write(&mut *self.tx, self.now).await?;
        Ok(())
    }

    /// The successful `action` on `target` with its details, in the audit log.
    pub async fn audit(
        &mut self,
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> Result<()> {
        let entry = self
            .entry(action, Outcome::Success)
            .target(target)
            .details(details);
        self.record(entry).await
    }

    /// The message the next page shows; written with the change, so it shows only if the
    /// change commits. A change through the API has no next page and no flash.
    pub async fn flash(&mut self, flash: Flash) -> Result<()> {
        if let Some(session) = self.session {
            session::set_flash(&mut *self.tx, session, flash).await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Commits, then raises or resolves the engagement's reminders at once.
    pub async fn commit_and_refresh(self, engagement_id: i64) -> Result<()> {
        let state = self.state;
        self.commit().await?;
        crate::reminders::refresh(state, engagement_id).await;
        Ok(())
    }
}

/// A refused form shown again, with what was typed and what is wrong: 422.
pub fn refused(page: impl Template) -> Result<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}
