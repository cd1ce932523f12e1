//! The demo's questionnaires: the security baseline waiting for Northwind, and one Bluepeak
//! completed last month with a failing answer that raised a finding. Each is written once,
//! keyed by its form key.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

fn key(n: u128) -> uuid::Uuid {
    super::organisation::key(40_000 + n)
}

/// (vendor, engagement, days until due, completed by) of each.
const QUESTIONNAIRES: &[(&str, &str, i64, Option<&str>)] = &[
    (
        "Northwind IT Services",
        "Service desk and end-user support",
        10,
        None,
    ),
    (
        "Bluepeak Cloud",
        "Cloud platform operations",
        -30,
        Some("tom.manager@trellis.example"),
    ),
];

pub async fn seed(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let questions = crate::questionnaires::questions(db, 1).await?;
    for (n, (vendor, engagement, due_in, completed_by)) in QUESTIONNAIRES.iter().enumerate() {
        let maria: i64 = sqlx::query_scalar(
            "select id from users where email = 'maria.manager@trellis.example'",
        )
        .fetch_one(&mut *db)
        .await?;
        let created: Option<(i64, i64)> = sqlx::query_as(
            "insert into questionnaires (template_id, vendor_id, engagement_id, due_on, sent_by, sent_at, form_key)
             select 1, v.id, e.id, $3, $4, $5, $6
             from vendors v join engagements e on e.vendor_id = v.id and e.name = $2
             where v.name = $1
             on conflict (form_key) do nothing returning id, engagement_id",
        )
        .bind(vendor)
        .bind(engagement)
        .bind(now.date_naive() + Duration::days(*due_in))
        .bind(maria)
        .bind(now - Duration::days(20 - due_in.min(&0)))
        .bind(key(n as u128))
        .fetch_optional(&mut *db)
        .await?;
        let (Some((id, engagement_id)), Some(by)) = (created, completed_by) else {
            continue;
        };
        // Answered well but for multi-factor authentication, which fails.
        let answers: Vec<(i64, String)> = questions
            .iter()
            .map(|q| {
                let value = match q.kind {
                    crate::questionnaires::QuestionKind::YesNo if q.position == 5 => "no",
                    crate::questionnaires::QuestionKind::YesNo => "yes",
                    crate::questionnaires::QuestionKind::Single => "0",
                    crate::questionnaires::QuestionKind::Multiple => "0,1",
                    crate::questionnaires::QuestionKind::Number => "24",
                    crate::questionnaires::QuestionKind::Date => "2026-03-15",
                    crate::questionnaires::QuestionKind::Text => "Germany and the Netherlands",
                };
                (q.id, value.to_string())
            })
            .collect();
        let total = crate::questionnaires::score(
            questions
                .iter()
                .zip(&answers)
                .map(|(q, (_, v))| (q, v.as_str())),
        );
        let reviewer: (i64, String) = sqlx::query_as("select id, name from users where email = $1")
            .bind(by)
            .fetch_one(&mut *db)
            .await?;
        let (ids, values): (Vec<i64>, Vec<String>) = answers.iter().cloned().unzip();
        sqlx::query(
            "insert into questionnaire_answers (questionnaire_id, question_id, value, state, answered_by, answered_at)
             select $1, x.q, x.v, 'accepted', u.id, $4
             from unnest($2::bigint[], $3::text[]) as x(q, v)
             cross join (select id from users where email = 'li@bluepeak.example') u",
        )
        .bind(id)
        .bind(&ids)
        .bind(&values)
        .bind(now - Duration::days(32))
        .execute(&mut *db)
        .await?;
        sqlx::query(
            "update questionnaires set status = 'completed', submitted_at = $2, completed_at = $3,
                    completed_by = $4, score = $5
             where id = $1",
        )
        .bind(id)
        .bind(now - Duration::days(32))
        .bind(now - Duration::days(28))
        .bind(reviewer.0)
        .bind(total)
        .execute(&mut *db)
        .await?;
        let failing: Vec<String> = questions
            .iter()
            .zip(&answers)
            .filter(|(q, (_, v))| q.fails(v))
            .map(|(q, (_, v))| format!("{} Answered: {}.", q.text, q.shown(v)))
            .collect();
        crate::audits::record_assessment(
            db,
            engagement_id,
            "Questionnaire: Security baseline for IT service vendors (version 1)",
            (reviewer.0, &reviewer.1),
            now - Duration::days(28),
            &failing,
        )
        .await?;
    }
    Ok(())
}
