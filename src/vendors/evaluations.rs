//! Choosing the right partner: the due-diligence criteria admins keep, and evaluations that
//! score a vendor against them. An evaluation copies the criteria and weights it used, so
//! later changes to the criteria never rewrite history.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use crate::auth::policy::{Admin, Staff};
use crate::choice;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result, violates};
use crate::web::form::{FieldErrors, Form, Id};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

choice!(pub Decision {
    Selected = "selected" / "Selected",
    Rejected = "rejected" / "Rejected",
    OnHold = "on_hold" / "On hold",
});

/// Σ weight × (score − 1) / 4 over criteria whose weights total 100: 0 when every score is
/// 1, 100 when every score is 5. Exact, rounded to two decimals only at the end.
pub fn selection_score(scores: &[(i32, i32)]) -> Decimal {
    let sum: Decimal = scores
        .iter()
        .map(|&(weight, score)| Decimal::from(weight) * Decimal::from(score - 1) / Decimal::from(4))
        .sum();
    sum.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Criterion {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub weight: i32,
}

pub async fn active_criteria(db: &mut PgConnection) -> Result<Vec<Criterion>> {
    Ok(sqlx::query_as(
        "select id, name, description, weight from dd_criteria where active order by position, id",
    )
    .fetch_all(db)
    .await?)
}

pub struct EvaluationSummary {
    pub id: i64,
    pub decision: &'static str,
    pub score: Decimal,
    pub author: String,
    pub date: String,
}

pub struct ScoreLine {
    pub criterion: String,
    pub weight: i32,
    pub score: i32,
    pub evidence: String,
}

pub struct EvaluationDetail {
    pub summary: EvaluationSummary,
    pub rationale: String,
    pub lines: Vec<ScoreLine>,
    pub vendor_id: i64,
    pub vendor_name: String,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    decision: Decision,
    score: Decimal,
    author: String,
    created_at: DateTime<Utc>,
}

fn summary(row: SummaryRow, zone: Tz) -> EvaluationSummary {
    EvaluationSummary {
        id: row.id,
        decision: row.decision.label(),
        score: row.score,
        author: row.author,
        date: row
            .created_at
            .with_timezone(&zone)
            .format("%Y-%m-%d")
            .to_string(),
    }
}

/// A vendor's evaluations, newest first.
pub async fn history(
    db: &mut PgConnection,
    vendor_id: i64,
    zone: Tz,
) -> Result<Vec<EvaluationSummary>> {
    let rows: Vec<SummaryRow> = sqlx::query_as(
        "select e.id, e.decision, e.score, u.name as author, e.created_at
         from evaluations e join users u on u.id = e.author_id
         where e.vendor_id = $1 order by e.created_at desc, e.id desc",
    )
    .bind(vendor_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| summary(r, zone)).collect())
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    id: i64,
    decision: Decision,
    score: Decimal,
    author: String,
    created_at: DateTime<Utc>,
    rationale: String,
    vendor_id: i64,
    vendor_name: String,
    lines: sqlx::types::Json<Vec<(String, i32, i32, String)>>,
}

pub async fn detail(db: &mut PgConnection, id: i64, zone: Tz) -> Result<EvaluationDetail> {
    find_detail(db, "e.id = $1", id, zone)
        .await?
        .ok_or(AppError::NotFound)
}

/// A vendor's latest evaluation, in full.
pub async fn latest(
    db: &mut PgConnection,
    vendor_id: i64,
    zone: Tz,
) -> Result<Option<EvaluationDetail>> {
    find_detail(
        db,
        "e.vendor_id = $1 order by e.created_at desc, e.id desc limit 1",
        vendor_id,
        zone,
    )
    .await
}

/// `condition` is one of the two fixed strings above, never input.
async fn find_detail(
    db: &mut PgConnection,
    condition: &'static str,
    key: i64,
    zone: Tz,
) -> Result<Option<EvaluationDetail>> {
    let sql = format!(
        "select e.id, e.decision, e.score, u.name as author, e.created_at, e.rationale, e.vendor_id, v.name as vendor_name,
                coalesce((select json_agg(json_build_array(s.criterion, s.weight, s.score, s.evidence) order by s.position)
                          from evaluation_scores s where s.evaluation_id = e.id), '[]') as lines
         from evaluations e join users u on u.id = e.author_id join vendors v on v.id = e.vendor_id
         where {condition}"
    );
    let row: Option<DetailRow> = sqlx::query_as(&sql).bind(key).fetch_optional(db).await?;
    Ok(row.map(|row| to_detail(row, zone)))
}

fn to_detail(row: DetailRow, zone: Tz) -> EvaluationDetail {
    EvaluationDetail {
        rationale: row.rationale.clone(),
        vendor_id: row.vendor_id,
        vendor_name: row.vendor_name.clone(),
        lines: row
            .lines
            .0
            .iter()
            .map(|(criterion, weight, score, evidence)| ScoreLine {
                criterion: criterion.clone(),
                weight: *weight,
                score: *score,
                evidence: evidence.clone(),
            })
            .collect(),
        summary: summary(
            SummaryRow {
                id: row.id,
                decision: row.decision,
                score: row.score,
                author: row.author,
                created_at: row.created_at,
            },
            zone,
        ),
    }
}

#[derive(Template)]
#[template(path = "vendors/evaluation.html")]
struct EvaluationPage {
    layout: Layout,
    evaluation: EvaluationDetail,
}

pub async fn show(
    State(state): State<AppState>,
    Staff(current): Staff,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let zone = current.zone(state.config.time_zone);
    let evaluation = detail(&mut conn, id, zone).await?;
    let page = EvaluationPage {
        layout: Layout::new(
            &current.session,
            format!("Evaluation of {}", evaluation.vendor_name),
            "/vendors",
        ),
        evaluation,
    };
    Ok(Html(page.render()?))
}

/// One criterion's line of the evaluation form as typed.
pub struct ScoreInput {
    pub criterion: Criterion,
    pub score: String,
    pub evidence: String,
    /// The completed questionnaire the score is taken from, by id as posted ("" for none).
    pub basis: String,
}

/// A completed questionnaire of the vendor, which a criterion may take its score from.
#[derive(sqlx::FromRow)]
pub struct QuestionnaireBasis {
    pub id: i64,
    /// "Security baseline (version 1), completed 2026-11-02: 78.0 of 100".
    pub label: String,
    pub score: Decimal,
}

/// The vendor's completed questionnaires, newest first.
async fn questionnaire_bases(
    db: &mut PgConnection,
    vendor_id: i64,
) -> Result<Vec<QuestionnaireBasis>> {
    Ok(sqlx::query_as(
        "select q.id, t.name || ' (version ' || t.version || '), completed ' || to_char(q.completed_at, 'YYYY-MM-DD')
                || ': ' || q.score || ' of 100' as label, q.score
         from questionnaires q join questionnaire_templates t on t.id = q.template_id
         where q.vendor_id = $1 and q.status = 'completed'
         order by q.completed_at desc, q.id desc",
    )
    .bind(vendor_id)
    .fetch_all(db)
    .await?)
}

/// A questionnaire's score on 0–100 as a criterion's 1 to 5: 1 + 4 × score / 100, to the
/// nearest whole point (87.5 and up is 5, under 12.5 is 1).
pub fn criterion_score(questionnaire: Decimal) -> i32 {
    let points = Decimal::ONE
        + questionnaire.clamp(Decimal::ZERO, Decimal::ONE_HUNDRED) * Decimal::from(4)
            / Decimal::ONE_HUNDRED;
    points
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .try_into()
        .unwrap_or(1)
}

#[derive(Template)]
#[template(path = "vendors/evaluate.html")]
struct EvaluateForm {
    layout: Layout,
    form_key: String,
    vendor_id: i64,
    vendor_name: String,
    lines: Vec<ScoreInput>,
    questionnaires: Vec<QuestionnaireBasis>,
    decision: String,
    rationale: String,
    errors: FieldErrors,
}

async fn vendor_name(db: &mut PgConnection, id: i64) -> Result<String> {
    sqlx::query_scalar("select name from vendors where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn new(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(vendor_id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let vendor_name = vendor_name(&mut conn, vendor_id).await?;
    let lines = active_criteria(&mut conn)
        .await?
        .into_iter()
        .map(|criterion| ScoreInput {
            criterion,
            score: String::new(),
            evidence: String::new(),
            basis: String::new(),
        })
        .collect();
    let questionnaires = questionnaire_bases(&mut conn, vendor_id).await?;
    let page = EvaluateForm {
        questionnaires,
        form_key: uuid::Uuid::new_v4().to_string(),
        layout: Layout::new(
            &current.session,
            format!("Evaluate {vendor_name}"),
            "/vendors",
        ),
        vendor_id,
        vendor_name,
        lines,
        decision: String::new(),
        rationale: String::new(),
        errors: FieldErrors::default(),
    };
    Ok(Html(page.render()?).into_response())
}

/// The evaluation form posts `score_<criterion id>` and `evidence_<criterion id>` per
/// criterion, so it arrives as pairs.
pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(vendor_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let vendor_name = vendor_name(change.db(), vendor_id).await?;
    let criteria = active_criteria(change.db()).await?;
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
            .to_string()
    };
    let mut errors = FieldErrors::default();
    let lines: Vec<ScoreInput> = criteria
        .into_iter()
        .map(|criterion| ScoreInput {
            score: value(&format!("score_{}", criterion.id)),
            evidence: value(&format!("evidence_{}", criterion.id)),
            basis: value(&format!("basis_{}", criterion.id)),
            criterion,
        })
        .collect();
    let questionnaires = questionnaire_bases(change.db(), vendor_id).await?;
    let mut scores = Vec::new();
    // The questionnaire each score was taken from.
    let mut bases: Vec<Option<&QuestionnaireBasis>> = Vec::new();
    for line in &lines {
        let basis = match line.basis.trim() {
            "" => None,
            raw => {
                let found = raw
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| questionnaires.iter().find(|q| q.id == id));
                if found.is_none() {
                    errors.add(
                        format!("basis_{}", line.criterion.id),
                        "Choose one of this vendor's completed questionnaires, or none.",
                    );
                }
                found
            }
        };
        match (basis, line.score.trim().parse::<i32>()) {
            (Some(q), _) => scores.push((line.criterion.weight, criterion_score(q.score))),
            (None, Ok(score)) if (1..=5).contains(&score) => {
                scores.push((line.criterion.weight, score))
            }
            (None, _) => errors.add(
                format!("score_{}", line.criterion.id),
                if questionnaires.is_empty() {
                    "Score this criterion from 1 to 5."
                } else {
                    "Score this criterion from 1 to 5, or take it from a questionnaire."
                },
            ),
        }
        bases.push(basis);
        if line.evidence.chars().count() > 2000 {
            errors.add(
                format!("evidence_{}", line.criterion.id),
                "Use at most 2000 characters.",
            );
        }
    }
    let decision_raw = value("decision");
    let decision = validate::choice(
        &mut errors,
        "decision",
        &decision_raw,
        Decision::parse,
        "Choose a decision.",
    );
    let rationale = validate::required(
        &mut errors,
        "rationale",
        &value("rationale"),
        5000,
        "Say why: the rationale is kept with the decision.",
    );
    let total: i32 = lines.iter().map(|l| l.criterion.weight).sum();
    if total != 100 {
        errors.add("criteria", format!("The criteria's weights total {total}, not 100: an administrator must fix them first."));
    }
    let Some(decision) = decision.filter(|_| errors.is_empty()) else {
        let page = EvaluateForm {
            form_key: value("form_key"),
            layout: Layout::new(
                &current.session,
                format!("Evaluate {vendor_name}"),
                "/vendors",
            ),
            vendor_id,
            vendor_name,
            lines,
            questionnaires,
            decision: decision_raw,
            rationale,
            errors,
        };
        return refused(page);
    };
    let score = selection_score(&scores);
    // The same form posted twice (a double click, a replay) saves one evaluation.
    let form_key =
        uuid::Uuid::parse_str(&value("form_key")).unwrap_or_else(|_| uuid::Uuid::new_v4());
    let id: Option<i64> = sqlx::query_scalar(
        "insert into evaluations (vendor_id, decision, rationale, score, author_id, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (form_key) do nothing
         returning id",
    )
    .bind(vendor_id)
    .bind(decision)
    .bind(&rationale)
    .bind(score)
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key)
    .fetch_optional(change.db())
    .await?;
    let Some(id) = id else {
        return Ok(Redirect::to(&format!("/vendors/{vendor_id}")).into_response());
    };
    for (position, ((line, (_, score)), basis)) in lines.iter().zip(&scores).zip(&bases).enumerate()
    {
        // A score taken from a questionnaire says so in its evidence.
        let evidence = match (basis, line.evidence.trim()) {
            (Some(q), "") => format!("Questionnaire: {}", q.label),
            (Some(q), typed) => format!("Questionnaire: {}. {typed}", q.label),
            (None, typed) => typed.to_string(),
        };
        sqlx::query(
            "insert into evaluation_scores (evaluation_id, position, criterion, weight, score, evidence, questionnaire_id)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(position as i32)
        .bind(&line.criterion.name)
        .bind(line.criterion.weight)
        .bind(score)
        .bind(evidence)
        .bind(basis.map(|q| q.id))
        .execute(change.db())
        .await?;
    }
    change
        .audit(
            "evaluation.create",
            format!("vendor:{vendor_id}"),
            serde_json::json!({ "evaluation_id": id, "decision": decision, "score": score.to_string() }),
        )
        .await?;
    let flash = Flash::success(format!(
        "Evaluation saved: {vendor_name} scores {score} of 100 ({}).",
        decision.label()
    ));
    change.flash(flash).await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/vendors/{vendor_id}")).into_response())
}

#[derive(Template)]
#[template(path = "vendors/criteria.html")]
struct CriteriaPage {
    layout: Layout,
    rows: Vec<CriterionInput>,
    total: i64,
    errors: FieldErrors,
}

/// A row of the criteria form as typed; `id` is empty for a new criterion.
pub struct CriterionInput {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub description: String,
    pub weight: String,
    pub remove: bool,
}

const BLANK_ROWS: usize = 2;

fn blank(index: usize) -> CriterionInput {
    CriterionInput {
        index,
        id: String::new(),
        name: String::new(),
        description: String::new(),
        weight: String::new(),
        remove: false,
    }
}

pub async fn criteria(
    State(state): State<AppState>,
    Admin(current): Admin,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let existing = active_criteria(&mut conn).await?;
    let total = existing.iter().map(|c| i64::from(c.weight)).sum();
    let mut rows: Vec<CriterionInput> = existing
        .into_iter()
        .enumerate()
        .map(|(index, c)| CriterionInput {
            index,
            id: c.id.to_string(),
            name: c.name,
            description: c.description,
            weight: c.weight.to_string(),
            remove: false,
        })
        .collect();
    let next = rows.len();
    rows.extend((0..BLANK_ROWS).map(|i| blank(next + i)));
    let page = CriteriaPage {
        layout: Layout::new(&current.session, "Due-diligence criteria", "/vendors"),
        rows,
        total,
        errors: FieldErrors::default(),
    };
    Ok(Html(page.render()?))
}

/// Saves every criterion at once: their weights must total 100.
pub async fn save_criteria(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let value = |name: String| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let count = pairs
        .iter()
        .filter_map(|(k, _)| {
            k.strip_prefix("name_")
                .and_then(|i| i.parse::<usize>().ok())
        })
        .max()
        .map_or(0, |max| (max + 1).min(50));
    let rows: Vec<CriterionInput> = (0..count)
        .map(|index| CriterionInput {
            index,
            id: value(format!("id_{index}")),
            name: value(format!("name_{index}")).trim().to_string(),
            description: value(format!("description_{index}")).trim().to_string(),
            weight: value(format!("weight_{index}")).trim().to_string(),
            remove: value(format!("remove_{index}")) == "yes",
        })
        .collect();

    let mut change = Change::begin(&state, &current, addr).await?;
    let before = active_criteria(change.db()).await?;
    let mut errors = FieldErrors::default();
    let mut kept: Vec<(Option<i64>, &CriterionInput, i32)> = Vec::new();
    for row in &rows {
        let blank_row = row.id.is_empty()
            && row.name.is_empty()
            && row.weight.is_empty()
            && row.description.is_empty();
        if blank_row || row.remove {
            continue;
        }
        let field = |prefix: &str| format!("{prefix}_{}", row.index);
        let id = match row.id.parse::<i64>() {
            Ok(id) if before.iter().any(|c| c.id == id) => Some(id),
            _ if row.id.is_empty() => None,
            _ => {
                return Err(AppError::BadRequest(
                    "The form names a criterion that does not exist.".into(),
                ));
            }
        };
        validate::required_line(
            &mut errors,
            field("name"),
            &row.name,
            200,
            "Name the criterion.",
        );
        validate::optional(&mut errors, field("description"), &row.description, 2000);
        let weight = validate::integer(&mut errors, field("weight"), &row.weight, 0..=100)
            .unwrap_or(0) as i32;
        kept.push((id, row, weight));
    }
    let total: i64 = kept.iter().map(|(_, _, w)| i64::from(*w)).sum();
    if kept.is_empty() {
        errors.add("total", "Keep at least one criterion.");
    } else if total != 100 {
        errors.add(
            "total",
            format!("The weights total {total}; they must total 100."),
        );
    }
    let mut names: Vec<String> = kept.iter().map(|(_, r, _)| r.name.to_lowercase()).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        errors.add("total", "Two criteria have the same name.");
    }
    // The form shown again with its rows as posted and what is wrong with them.
    let again = |rows, errors| -> Result<Response> {
        refused(CriteriaPage {
            layout: Layout::new(&current.session, "Due-diligence criteria", "/vendors"),
            total,
            rows,
            errors,
        })
    };
    if !errors.is_empty() {
        return again(rows, errors);
    }
    // Every criterion leaves the unique index of active names first and the kept ones come
    // back one by one with their new names, so two criteria may swap names: updated in
    // place, the first rename would collide with the other's old name.
    let tx = change.db();
    let written: std::result::Result<(), sqlx::Error> = async {
        sqlx::query("update dd_criteria set active = false where active")
            .execute(&mut *tx)
            .await?;
        for (position, (id, row, weight)) in kept.iter().enumerate() {
            match id {
                Some(id) => {
                    sqlx::query("update dd_criteria set name = $2, description = $3, weight = $4, position = $5, active = true where id = $1")
                        .bind(id)
                        .bind(&row.name)
                        .bind(&row.description)
                        .bind(weight)
                        .bind(position as i32)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query("insert into dd_criteria (name, description, weight, position) values ($1, $2, $3, $4)")
                        .bind(&row.name)
                        .bind(&row.description)
                        .bind(weight)
                        .bind(position as i32)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        Ok(())
    }
    .await;
    match written {
        Ok(()) => {}
        // Another administrator saved a criterion of the same name meanwhile.
        Err(e) if violates(&e, "dd_criteria_name_key") => {
            let mut errors = FieldErrors::default();
            errors.add(
                "total",
                "Another criterion was just saved with one of these names; reload the page and try again.",
            );
            return again(rows, errors);
        }
        Err(e) => return Err(e.into()),
    }
    let after = active_criteria(change.db()).await?;
    change
        .audit(
            "criteria.update",
            "criteria",
            serde_json::json!({ "before": before, "after": after }),
        )
        .await?;
    change
        .flash(Flash::success("The due-diligence criteria are saved."))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/criteria").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_questionnaire_s_score_becomes_1_to_5_to_the_nearest_point() {
        let cases = [
            ("0", 1),
            ("12.4", 1),
            ("12.5", 2),
            ("50", 3),
            ("62.5", 4),
            ("87.4", 4),
            ("87.5", 5),
            ("100", 5),
        ];
        for (score, points) in cases {
            assert_eq!(criterion_score(score.parse().unwrap()), points, "{score}");
        }
    }

    #[test]
    fn the_selection_score_runs_from_0_to_100() {
        let weights = [25, 20, 20, 20, 15];
        let all = |s: i32| weights.iter().map(|&w| (w, s)).collect::<Vec<_>>();
        assert_eq!(selection_score(&all(1)), Decimal::ZERO);
        assert_eq!(selection_score(&all(5)), Decimal::from(100));
        assert_eq!(selection_score(&all(3)), Decimal::from(50));
        // 25·4/4 + 20·3/4 + 20·2/4 + 20·1/4 + 15·0 = 25 + 15 + 10 + 5 = 55
        let mixed = [(25, 5), (20, 4), (20, 3), (20, 2), (15, 1)];
        assert_eq!(selection_score(&mixed), Decimal::from(55));
        // 33·1/4 = 8.25 exactly, no float drift
        assert_eq!(selection_score(&[(33, 2), (67, 1)]).to_string(), "8.25");
    }
}
