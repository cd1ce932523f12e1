//! Questionnaires: self-assessments the organisation sends a vendor (for an engagement, or
//! for due diligence) from a versioned template (migration 0027 ships a security baseline).
//! The vendor's users answer in the portal over several sittings (drafts) and submit; a
//! manager reviews each answer — accepts it, or asks for clarification with a comment, which
//! opens that question again for the vendor — and once every answer is accepted the
//! questionnaire is complete: a score from the points on 0–100, and for an engagement each
//! failing answer raised as an audit finding, so the remediation flow takes over.
//! A vendor's users see only their own vendor's questionnaires; anything else is 404.

pub mod pages;

use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;

use crate::auth::{User, policy};
use crate::choice;
use crate::web::error::{AppError, Result};
use crate::web::routes::Routes;

choice!(pub Status {
    Open = "open" / "Waiting for the vendor",
    Submitted = "submitted" / "Waiting for review",
    Completed = "completed" / "Completed",
});

choice!(pub AnswerState {
    Draft = "draft" / "Draft",
    Submitted = "submitted" / "Submitted",
    Accepted = "accepted" / "Accepted",
    Clarify = "clarify" / "Clarification asked",
});

choice!(pub QuestionKind {
    YesNo = "yes_no" / "Yes or no",
    Single = "single" / "One choice",
    Multiple = "multiple" / "Several choices",
    Number = "number" / "Number",
    Date = "date" / "Date",
    Text = "text" / "Text",
});

/// An option of a choice question.
#[derive(Debug, Clone, Deserialize)]
pub struct Choice {
    pub label: String,
    pub points: i32,
    pub failing: bool,
}

/// A question of a template.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Question {
    pub id: i64,
    pub position: i32,
    pub section: String,
    pub text: String,
    pub kind: QuestionKind,
    pub mandatory: bool,
    pub options: sqlx::types::Json<Vec<Choice>>,
    pub points: i32,
}

/// The longest text answer.
const MAX_TEXT: usize = 4000;

impl Question {
    /// The field of the answer form.
    pub fn field(&self) -> String {
        format!("q{}", self.id)
    }

    /// An answer as the form sent it (every value of the field): the value to store (empty:
    /// not answered), or why it cannot be.
    pub fn parse(&self, sent: &[&str]) -> std::result::Result<String, String> {
        let first = sent.first().map(|v| v.trim()).unwrap_or("");
        match self.kind {
            QuestionKind::YesNo => match first {
                "" | "yes" | "no" => Ok(first.to_string()),
                _ => Err("Choose yes or no.".into()),
            },
            QuestionKind::Single => match first {
                "" => Ok(String::new()),
                i => match i.parse::<usize>() {
                    Ok(i) if i < self.options.len() => Ok(i.to_string()),
                    _ => Err("Choose one of the answers.".into()),
                },
            },
            QuestionKind::Multiple => {
                let mut picked: Vec<usize> = Vec::new();
                for v in sent.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
                    match v.parse::<usize>() {
                        Ok(i) if i < self.options.len() => picked.push(i),
                        _ => return Err("Choose among the answers listed.".into()),
                    }
                }
                picked.sort_unstable();
                picked.dedup();
                Ok(picked
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(","))
            }
            QuestionKind::Number => match first {
                "" => Ok(String::new()),
                n => match n.parse::<Decimal>() {
                    Ok(d) if d >= Decimal::ZERO && d < Decimal::from(1_000_000_000) => {
                        Ok(d.normalize().to_string())
                    }
                    _ => Err("Enter a number, such as 24 or 2.5.".into()),
                },
            },
            QuestionKind::Date => match first {
                "" => Ok(String::new()),
                d => crate::web::validate::parse_date(d)
                    .map(|d| d.to_string())
                    .ok_or_else(|| crate::web::validate::DATE_MESSAGE.to_string()),
            },
            QuestionKind::Text => {
                let text = sent.first().copied().unwrap_or("").trim();
                crate::web::validate::text(text, MAX_TEXT, true)
                    .map(|()| text.to_string())
                    .map_err(|problem| problem.message())
            }
        }
    }

    /// The options an answer picked.
    fn picked<'a>(&'a self, value: &str) -> Vec<&'a Choice> {
        match self.kind {
            QuestionKind::YesNo => match value {
                "yes" => self.options.first().into_iter().collect(),
                "no" => self.options.get(1).into_iter().collect(),
                _ => Vec::new(),
            },
            QuestionKind::Single | QuestionKind::Multiple => value
                .split(',')
                .filter_map(|i| i.parse::<usize>().ok())
                .filter_map(|i| self.options.get(i))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What an answer scores.
    pub fn points_of(&self, value: &str) -> i32 {
        if value.is_empty() {
            return 0;
        }
        match self.kind {
            QuestionKind::YesNo | QuestionKind::Single | QuestionKind::Multiple => {
                self.picked(value).iter().map(|c| c.points).sum()
            }
            _ => self.points,
        }
    }

    /// The most an answer can score.
    pub fn max_points(&self) -> i32 {
        match self.kind {
            QuestionKind::Multiple => self.options.iter().map(|c| c.points.max(0)).sum(),
            QuestionKind::YesNo | QuestionKind::Single => {
                self.options.iter().map(|c| c.points).max().unwrap_or(0)
            }
            _ => self.points,
        }
    }

    /// Whether an answer picks an option the template marks as failing.
    pub fn fails(&self, value: &str) -> bool {
        self.picked(value).iter().any(|c| c.failing)
    }

    /// An answer as people read it.
    pub fn shown(&self, value: &str) -> String {
        match self.kind {
            QuestionKind::YesNo | QuestionKind::Single | QuestionKind::Multiple => self
                .picked(value)
                .iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            _ => value.to_string(),
        }
    }

    /// Whether option `i` is part of the stored answer `value` (for the form).
    pub fn has(&self, value: &str, i: usize) -> bool {
        match self.kind {
            QuestionKind::YesNo => (i == 0 && value == "yes") || (i == 1 && value == "no"),
            _ => value.split(',').any(|v| v == i.to_string()),
        }
    }
}

/// The score of answers (question, stored value) on 0–100, to one decimal.
pub fn score<'a>(answers: impl IntoIterator<Item = (&'a Question, &'a str)>) -> Decimal {
    let (got, max) = answers.into_iter().fold((0i64, 0i64), |(g, m), (q, v)| {
        (g + i64::from(q.points_of(v)), m + i64::from(q.max_points()))
    });
    if max == 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(got.max(0) * 100) / Decimal::from(max)).round_dp(1)
}

/// The questionnaire `id` as `user` may see it: (vendor, engagement, status, template), or
/// not found — a vendor user sees only their own vendor's. Locked when `lock`.
pub async fn visible(
    db: &mut PgConnection,
    user: &User,
    id: i64,
    lock: bool,
) -> Result<(i64, Option<i64>, Status, i64)> {
    let sql = format!(
        "select vendor_id, engagement_id, status, template_id from questionnaires
         where id = $1 and ($2::bigint is null or vendor_id = $2){}",
        if lock { " for update" } else { "" }
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(policy::vendor_scope(user))
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The questions of a template, in order.
pub async fn questions(db: &mut PgConnection, template: i64) -> Result<Vec<Question>> {
    Ok(sqlx::query_as(
        "select id, position, section, text, kind, mandatory, options, points
         from questionnaire_questions where template_id = $1 order by position",
    )
    .bind(template)
    .fetch_all(db)
    .await?)
}

/// The routes of questionnaires.
pub fn routes() -> Routes {
    Routes::new()
        .get("/questionnaires", pages::list)
        .get("/questionnaires/new", pages::new)
        .post("/questionnaires/new", pages::create)
        .get("/questionnaires/{id}", pages::show)
        .post("/questionnaires/{id}/answers", pages::answer)
        .post("/questionnaires/{id}/review", pages::review)
}

#[cfg(test)]
mod tests {
    use super::{Choice, Question, QuestionKind, score};
    use rust_decimal::Decimal;

    fn question(kind: QuestionKind, options: &[(&str, i32, bool)], points: i32) -> Question {
        Question {
            id: 7,
            position: 1,
            section: "S".into(),
            text: "Q".into(),
            kind,
            mandatory: true,
            options: sqlx::types::Json(
                options
                    .iter()
                    .map(|(l, p, f)| Choice {
                        label: l.to_string(),
                        points: *p,
                        failing: *f,
                    })
                    .collect(),
            ),
            points,
        }
    }

    #[test]
    fn answers_are_checked_scored_and_failing_ones_told() {
        let yes_no = question(
            QuestionKind::YesNo,
            &[("Yes", 5, false), ("No", 0, true)],
            0,
        );
        assert_eq!(yes_no.parse(&["no"]), Ok("no".into()));
        assert!(yes_no.parse(&["maybe"]).is_err());
        assert!(yes_no.fails("no") && !yes_no.fails("yes"));
        let many = question(
            QuestionKind::Multiple,
            &[("A", 2, false), ("B", 2, false), ("None", 0, false)],
            0,
        );
        assert_eq!(many.parse(&["1", "0", "1"]), Ok("0,1".into()));
        assert!(many.parse(&["3"]).is_err());
        assert_eq!(many.points_of("0,1"), 4);
        let number = question(QuestionKind::Number, &[], 3);
        assert_eq!(number.parse(&[" 24.50 "]), Ok("24.5".into()));
        assert!(number.parse(&["-1"]).is_err() && number.parse(&["1e99"]).is_err());
        let date = question(QuestionKind::Date, &[], 3);
        assert!(date.parse(&["31/12/2026"]).is_err());
        assert_eq!(
            score([
                (&yes_no, "yes"),
                (&many, "0"),
                (&number, ""),
                (&date, "2026-01-01")
            ]),
            // 5 + 2 + 0 + 3 of 5 + 4 + 3 + 3.
            Decimal::new(667, 1)
        );
    }
}
