//! The reminder rules as one set-based statement: every reminder and notice that should exist
//! now is worked out for all active engagements at once (or for one, after a write that may
//! have changed what is due), new ones are inserted under their stable dedupe key together
//! with each recipient's inbox item, and open ones whose condition has cleared
//! are resolved. Nothing here runs a query per engagement.
//!
//! Notices (feedback shared, a finding assigned, a proposal answered) are wanted while they
//! are news: feedback until it is acknowledged or its reminder takes over after five days, a
//! finding while it is open and not yet overdue, an answer for two weeks.
//!
//! Who hears of a reminder follows what they may see: a reminder about a row reaches the
//! vendor's users only when that row is theirs to see (`visible_*` in
//! migrations/0009_vendor_visibility.sql, described in `crate::visibility`). The inbox, its
//! count and e-mail all read the inbox items made here, so this is where that is decided.
//!
//! Exactly once: a reminder is an `insert … on conflict (dedupe_key) do nothing`, so two
//! instances raising the same reminder make one row, and its inbox items are inserted only by
//! the statement that created it. Inserts go in key order, so overlapping passes wait for one
//! another instead of deadlocking; resolving skips rows another pass holds.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Every reminder and notice that should exist now, as
/// (dedupe_key, kind, engagement_id, subject_id, due_on, title, link, audience, urgent, notice).
///
/// `$1` is now, `$2` an engagement to limit the work to (or null for all). Each engagement's
/// "today" is taken in its own time zone.
const WANTED: &str = r#"
eng as (
    select e.id, e.vendor_id, e.start_date, e.end_date, e.notice_by, e.renewal, e.scorecard_period,
           e.checkin_cadence, e.checkin_weekday, e.next_review_due, e.next_audit_due,
           ($1::timestamptz at time zone e.time_zone)::date as today,
           coalesce(b.contact_days, '{1,2,3,4,5}') as contact_days
    from engagements e
    left join boundaries b on b.engagement_id = e.id
    where e.status = 'active' and ($2::bigint is null or e.id = $2)
),
closed as (
    select e.*, latest_closed_period(e.scorecard_period, e.today) as latest
    from eng e
),
-- Values of the latest closed periods (a handful of dates across all engagements), and the
-- KPIs that have none for their engagement's. The one-engagement branch joins `closed`
-- rather than comparing with a scalar subquery of it: in a full pass `closed` has a row per
-- engagement, and whether a plan evaluates such a subquery before `$2` rules the branch
-- out is the planner's choice, so it could fail with "more than one row".
present as materialized (
    select v.kpi_id, v.period_start from kpi_values v
    where $2::bigint is null and v.period_start = any (array(select distinct latest from closed))
  union all
    select v.kpi_id, v.period_start from closed e
    join kpis k on k.engagement_id = e.id
    join kpi_values v on v.kpi_id = k.id and v.period_start = e.latest
    where $2::bigint is not null
),
missing as materialized (
    select k.id as kpi_id, k.source, e.id as engagement_id, e.latest, e.scorecard_period
    from closed e
    join kpis k on k.engagement_id = e.id
    left join present p on p.kpi_id = k.id and p.period_start = e.latest
    -- The periods the engagement lived in, as `Life::records` has it for the form.
    where period_back(e.scorecard_period, e.latest, -1) > e.start_date
      and (e.end_date is null or e.renewal = 'automatic' or e.latest <= e.end_date)
      and p.kpi_id is null
),
celebration_candidates as (
    select k.id, k.engagement_id, k.name, k.direction from kpis k
    where $6::timestamptz is null and $2::bigint is null
  union all
    select k.id, k.engagement_id, k.name, k.direction from kpis k
    where $6::timestamptz is null and k.engagement_id = $2
  union all
    select k.id, k.engagement_id, k.name, k.direction from kpis k
    where k.id in (select v.kpi_id from kpi_values v where v.recorded_at >= $6
                   union all select v.kpi_id from kpi_values v where v.reviewed_at >= $6
                   union all select t.kpi_id from kpi_terms t where t.changed_at >= $6)
),
-- The candidates' terms, each with the day the next change took over (null: still in force),
-- and their engagement's latest closed period: the terms in force on a period's last day are
-- those whose span holds it, as `terms_on` has it.
streak_terms as materialized (
    select k.id as kpi_id, k.direction, e.scorecard_period, e.latest, t.target, t.active, t.effective_from,
           lead(t.effective_from) over (partition by t.kpi_id order by t.effective_from) as superseded_from
    from celebration_candidates k
    join closed e on e.id = k.engagement_id
    join kpi_terms t on t.kpi_id = k.id
),
-- The candidates' values of their engagement's latest closed period. A pass over every KPI
-- reads them in one scan of the handful of period starts in play; any other run (one
-- engagement, or the KPIs written since the last pass) looks each candidate's up by its key,
-- whatever the plan (`offset 0` keeps the lookup per candidate).
streak_first as materialized (
    select v.kpi_id, v.period_start, v.value, v.state
    from kpi_values v
    where $2::bigint is null and $6::timestamptz is null
      and v.period_start = any (array(select distinct e.latest from closed e))
  union all
    select v.kpi_id, v.period_start, v.value, v.state
    from celebration_candidates k
    join closed e on e.id = k.engagement_id
    cross join lateral (
        select v.kpi_id, v.period_start, v.value, v.state from kpi_values v
        where v.kpi_id = k.id and v.period_start = e.latest
        offset 0
    ) v
    where $2::bigint is not null or $6::timestamptz is not null
),
-- Each candidate's run of met targets back from the latest closed period (n = 0), one row
-- per period met: the latest period's values joined with the terms in force on its last day,
-- then, for the KPIs still in a run, the value of the period before, looked up by its key,
-- for at most six periods. Most KPIs leave the run at once, so a pass reads few values
-- beyond the latest period's. The terms of a step are the run's first ones while those were
-- already in force on the step's last day (the usual case); otherwise they are looked up.
-- A period without a value, or with inactive terms or none, ends the run.
streak_run (kpi_id, direction, scorecard_period, latest, term_from, target, n) as (
    select t.kpi_id, t.direction, t.scorecard_period, t.latest, t.effective_from, t.target, 0
    from streak_first v
    join streak_terms t on t.kpi_id = v.kpi_id and t.latest = v.period_start
    where t.active and t.effective_from < period_back(t.scorecard_period, t.latest, -1)
      and (t.superseded_from is null or t.superseded_from >= period_back(t.scorecard_period, t.latest, -1))
      and kpi_met(t.direction, v.state, v.value, t.target)
  union all
    select s.kpi_id, s.direction, s.scorecard_period, s.latest, s.term_from, s.target, s.n + 1
    from streak_run s
    cross join lateral (
        select v.value, v.state from kpi_values v
        where v.kpi_id = s.kpi_id and v.period_start = period_back(s.scorecard_period, s.latest, s.n + 1)
        offset 0
    ) v
    -- The step's period ends the day before period n starts.
    cross join lateral (
        select s.target, true as active
        where s.term_from < period_back(s.scorecard_period, s.latest, s.n)
      union all
        select t.target, t.active from (
            select t.target, t.active from kpi_terms t
            where t.kpi_id = s.kpi_id and t.effective_from < period_back(s.scorecard_period, s.latest, s.n)
            order by t.effective_from desc limit 1
        ) t
        where s.term_from >= period_back(s.scorecard_period, s.latest, s.n)
    ) t
    where s.n < 5 and t.active and kpi_met(s.direction, v.state, v.value, t.target)
),
-- How many periods in a row, back from the latest closed one, each candidate met its target.
streaks as (
    select kpi_id, count(*)::integer as length from streak_run group by kpi_id
),
-- The current version of each document of the vendors with an active engagement, with the
-- vendor's first active engagement (in a run for one engagement, only where it is that one)
-- and its "today".
documents as (
    select d.id, d.version_id, d.kind_name, d.valid_until, d.status, x.reason, x.reviewed_at,
           vn.name as vendor_name, e.id as engagement_id, e.today,
           case d.visibility when 'shared' then 'both' else 'managers' end as audience
    from current_vendor_documents d
    join vendor_document_versions x on x.id = d.version_id
    join vendors vn on vn.id = d.vendor_id
    join eng e on e.id = lead_engagement(d.vendor_id)
),
-- The questionnaires not yet completed, on their engagement (for due diligence, the
-- vendor's first active one).
questionnaires_open as (
    select q.id, q.status, q.due_on, q.submitted_at, t.name,
           coalesce(q.engagement_id, lead_engagement(q.vendor_id)) as engagement_id
    from questionnaires q join questionnaire_templates t on t.id = q.template_id
    where q.status <> 'completed'
),
wanted (dedupe_key, kind, engagement_id, subject_id, due_on, title, link, audience, urgent, notice) as (
    select 'checkin_due:' || e.id || ':' || d.due, 'checkin_due', e.id, null::bigint, d.due,
           case when d.due < e.today then 'Check-in overdue since ' else 'Check-in due ' end
               || to_char(d.due, 'Dy FMDD Mon'),
           '/engagements/' || e.id || '/checkins/new', 'managers', false, false
    from eng e
    -- The last check-in as a column of its own: passed to `checkin_due` as a subquery, it was
    -- looked up again for each use of `last` in the function's body.
    cross join lateral (select max(c.held_on) as held_on from checkins c where c.engagement_id = e.id) c
    cross join lateral (
        select checkin_due(e.checkin_cadence, coalesce(c.held_on, e.start_date), e.checkin_weekday,
                           e.contact_days) as due
    ) d
    where d.due <= e.today
  union all
    select 'review_due:' || e.id || ':' || e.next_review_due, 'review_due', e.id, null, e.next_review_due,
           case when e.next_review_due < e.today then 'Review overdue since ' else 'Review due ' end
               || to_char(e.next_review_due, 'Dy FMDD Mon YYYY'),
           '/engagements/' || e.id || '/reviews', 'managers', false, false
    from eng e
    where e.next_review_due <= e.today + 14
  union all
    select 'audit_due:' || e.id || ':' || e.next_audit_due, 'audit_due', e.id, null, e.next_audit_due,
           case when e.next_audit_due < e.today then 'Audit overdue since ' else 'Audit due ' end
               || to_char(e.next_audit_due, 'Dy FMDD Mon YYYY'),
           '/engagements/' || e.id || '/audits', 'managers', false, false
    from eng e
    where e.next_audit_due <= e.today + 14
  union all
    select 'finding_overdue:' || f.id || ':' || f.due_on, 'finding_overdue', e.id, f.id, f.due_on,
           'Audit finding overdue since ' || to_char(f.due_on, 'FMDD Mon') || ': ' || left(f.description, 80),
           '/engagements/' || e.id || '/audits#finding-' || f.id,
           case when vf.id is null then 'managers' else 'both' end, f.severity = 'critical', false
    from eng e
    join findings f on f.engagement_id = e.id and f.status = 'open' and f.due_on < e.today
    left join visible_findings(true) vf on vf.id = f.id
  union all
    select 'feedback_unacknowledged:' || f.id, 'feedback_unacknowledged', e.id, f.id,
           (f.created_at at time zone 'UTC')::date,
           'Feedback waits for acknowledgement: ' || left(f.situation, 80),
           '/engagements/' || e.id || '/feedback#feedback-' || f.id, 'both', false, false
    from eng e
    join visible_feedback(true) f on f.engagement_id = e.id and f.acknowledged_at is null
                   and f.created_at <= $1 - interval '5 days'
  union all
    select 'action_item_overdue:' || a.id || ':' || a.due_on, 'action_item_overdue', e.id, a.id, a.due_on,
           'Action item overdue since ' || to_char(a.due_on, 'FMDD Mon') || ': ' || left(a.title, 80),
           '/engagements/' || e.id || '/checkins#action-' || a.id,
           case when va.id is null then 'managers' else 'both' end, false, false
    from eng e
    join action_items a on a.engagement_id = e.id and a.status = 'open' and a.due_on < e.today
    left join visible_action_items(true) va on va.id = a.id
  union all
    select 'access_review_due:' || g.id || ':' || g.next_review_due, 'access_review_due', e.id, g.id,
           g.next_review_due,
           'Access review due ' || to_char(g.next_review_due, 'FMDD Mon') || ': ' || left(g.resource, 60)
               || ' (' || left(g.holder, 40) || ')',
           '/engagements/' || e.id || '/access#grant-' || g.id, 'managers', false, false
    from eng e
    join access_grants g on g.engagement_id = e.id and g.status = 'active'
                        and g.next_review_due <= e.today + 7
  union all
    select 'grant_expiring:' || g.id || ':' || g.expires_on, 'grant_expiring', e.id, g.id, g.expires_on,
           'Access expires ' || to_char(g.expires_on, 'FMDD Mon') || ': ' || left(g.resource, 60)
               || ' (' || left(g.holder, 40) || ')',
           '/engagements/' || e.id || '/access#grant-' || g.id, 'managers', false, false
    from eng e
    join access_grants g on g.engagement_id = e.id and g.status = 'active'
                        and g.expires_on <= e.today + 14
  union all
    select 'kpi_values_missing:' || m.engagement_id || ':' || m.source || ':' || m.latest, 'kpi_values_missing',
           m.engagement_id, null, m.latest,
           case count(*) when 1 then '1 KPI value missing for '
                else count(*) || ' KPI values missing for ' end
               || period_label(m.scorecard_period, m.latest),
           '/engagements/' || m.engagement_id || '/values',
           case m.source when 'vendor' then 'both' else 'managers' end, false, false
    from missing m
    -- Only KPIs active under the terms in force on the period's last day count.
    join lateral (select t.active from kpi_terms t
                  where t.kpi_id = m.kpi_id and t.effective_from < period_back(m.scorecard_period, m.latest, -1)
                  order by t.effective_from desc limit 1) t on t.active
    group by m.engagement_id, m.source, m.latest, m.scorecard_period
  union all
    -- The notice day and term end as engagements::contract works them out (refreshed at
    -- the start of each pass when a term rolls over).
    select 'notice_date:' || e.id || ':' || e.notice_by, 'notice_date', e.id, null, e.notice_by,
           case e.renewal when 'automatic' then 'Last day to give notice before it renews: '
                else 'Last day to give notice: ' end || to_char(e.notice_by, 'Dy FMDD Mon YYYY'),
           '/engagements/' || e.id, 'managers', false, false
    from eng e
    where e.notice_by between e.today and e.today + 30
  union all
    select 'engagement_end:' || e.id || ':' || e.end_date, 'engagement_end', e.id, null, e.end_date,
           'Engagement ends ' || to_char(e.end_date, 'Dy FMDD Mon YYYY'),
           '/engagements/' || e.id, 'managers', false, false
    from eng e
    -- An automatic renewal ends only when notice is given.
    where e.renewal <> 'automatic' and e.end_date between e.today and e.today + 60
  union all
    -- A KPI that met its target in each of the last three or more closed periods, once per
    -- streak: the key names the streak's first period, which stays put while it lasts.
    -- Streaks are looked for over the last six periods; one that fills all six was raised
    -- when it reached three. A streak can only complete when a value or a term is written,
    -- so a pass over every engagement looks only at KPIs written since `$6` (null: all).
    select 'celebration:' || k.id || ':' || period_back(e.scorecard_period, e.latest, s.length - 1),
           'celebration', e.id, k.id, period_back(e.scorecard_period, e.latest, s.length - 1),
           k.name || ' met its target ' || s.length || ' periods in a row',
           '/engagements/' || e.id || '/scorecard', 'managers', false, false
    from streaks s
    join celebration_candidates k on k.id = s.kpi_id
    join closed e on e.id = k.engagement_id
    where s.length between 3 and 5
  union all
    select 'feedback_shared:' || f.id, 'feedback_shared', e.id, f.id, null,
           case f.kind when 'praise' then 'Praise: ' else 'New feedback: ' end || left(f.situation, 80),
           '/engagements/' || e.id || '/feedback#feedback-' || f.id, 'vendor', false, true
    from eng e
    join visible_feedback(true) f on f.engagement_id = e.id and f.acknowledged_at is null
                   and f.created_at > $1 - interval '5 days'
  union all
    select 'finding_assigned:' || f.id, 'finding_assigned', e.id, f.id, f.due_on,
           'Audit finding for you, due ' || to_char(f.due_on, 'FMDD Mon') || ': ' || left(f.description, 80),
           '/engagements/' || e.id || '/audits#finding-' || f.id,
           case when vf.id is null then 'managers' else 'vendor' end, f.severity = 'critical', true
    from eng e
    join findings f on f.engagement_id = e.id and f.status = 'open' and f.due_on >= e.today
                   and f.created_at > $1 - interval '14 days'
    left join visible_findings(true) vf on vf.id = f.id
  union all
    -- A vendor's documents ride on its first active engagement (`lead_engagement`, migration 0029),
    -- whose contact window their e-mail keeps; they reach the managers of all its engagements.
    -- Before the current version expires: 30 days (up to a week before) and 7 days.
    select 'document_expiring:' || d.version_id || ':' || w.days, 'document_expiring', d.engagement_id,
           d.id, d.valid_until,
           d.kind_name || ' expires ' || to_char(d.valid_until, 'Dy FMDD Mon YYYY'),
           '/documents/' || d.id, d.audience, false, false
    from documents d
    cross join lateral (select case when d.valid_until - d.today <= 7 then 7 else 30 end as days) w
    where d.valid_until between d.today and d.today + 30 and d.status <> 'rejected'
  union all
    select 'document_lapsed:' || d.version_id, 'document_lapsed', d.engagement_id, d.id, d.valid_until + 1,
           d.kind_name || ' lapsed on ' || to_char(d.valid_until + 1, 'Dy FMDD Mon YYYY') || ': upload a new version',
           '/documents/' || d.id, d.audience, false, false
    from documents d
    where d.valid_until < d.today and d.status <> 'rejected'
  union all
    select 'document_submitted:' || d.version_id, 'document_submitted', d.engagement_id, d.id, null,
           d.kind_name || ' waits for acceptance: ' || left(d.vendor_name, 80),
           '/documents/' || d.id, 'managers', false, false
    from documents d
    where d.status = 'submitted'
  union all
    select 'document_rejected:' || d.version_id, 'document_rejected', d.engagement_id, d.id, null,
           d.kind_name || ' not accepted: ' || left(d.reason, 80),
           '/documents/' || d.id, 'vendor', false, true
    from documents d
    where d.status = 'rejected' and d.audience = 'both' and d.reviewed_at > $1 - interval '14 days'
  union all
    -- A questionnaire waiting for the vendor: 7, 3 and 1 days before it is due, then overdue.
    select 'questionnaire_due:' || q.id || ':' || w.step, 'questionnaire_due', e.id, q.id, q.due_on,
           case when q.due_on < e.today then 'Questionnaire overdue since ' else 'Questionnaire due ' end
               || to_char(q.due_on, 'Dy FMDD Mon') || ': ' || left(q.name, 80),
           '/questionnaires/' || q.id, 'vendor', false, false
    from questionnaires_open q
    join eng e on e.id = q.engagement_id
    cross join lateral (
        select case when q.due_on < e.today then 'overdue' when q.due_on - e.today <= 1 then '1'
                    when q.due_on - e.today <= 3 then '3' else '7' end as step
    ) w
    where q.status = 'open' and q.due_on <= e.today + 7
  union all
    select 'questionnaire_submitted:' || q.id || ':' || floor(extract(epoch from q.submitted_at))::bigint,
           'questionnaire_submitted', e.id, q.id, null, 'Questionnaire to review: ' || left(q.name, 80),
           '/questionnaires/' || q.id, 'managers', false, false
    from questionnaires_open q
    join eng e on e.id = q.engagement_id
    where q.status = 'submitted'
  union all
    select 'proposal_answered:' || p.id || ':' || floor(extract(epoch from p.answered_at))::bigint,
           'proposal_answered', e.id, p.id, null,
           'Your proposal was answered (' || replace(p.status, '_', ' ') || '): ' || left(p.title, 80),
           '/engagements/' || e.id || '/proposals#proposal-' || p.id, 'vendor', false, true
    from eng e
    join proposals p on p.engagement_id = e.id and p.answered_at > $1 - interval '14 days'
)
"#;

/// Suggested celebrations leave the inbox this long after they were raised (the rule does
/// not look at every KPI on every pass, so it cannot tell when a streak ended).
const CELEBRATION_DAYS: i32 = 30;

/// What one run of the rules changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Outcome {
    pub raised: i64,
    pub delivered: i64,
    pub resolved: i64,
}

/// Raises what is due and resolves what has cleared, for every active engagement or for one.
/// `email` marks new inbox items for e-mail (SMTP is configured); `written_since` limits the
/// celebration rule to KPIs written since then (`None`: all of them).
pub async fn apply(
    db: &mut PgConnection,
    now: DateTime<Utc>,
    engagement: Option<i64>,
    instance: &str,
    email: bool,
    written_since: Option<DateTime<Utc>>,
) -> Result<Outcome, sqlx::Error> {
    let sql = format!(
        "with recursive {WANTED},
         raised as (
             insert into reminders (dedupe_key, kind, engagement_id, subject_id, due_on, title, link,
                                    audience, urgent, notice, raised_at, raised_by)
             select w.*, $1, $3 from wanted w
             -- Most are raised already: skip them in one join rather than one conflict each.
             where not exists (select 1 from reminders r where r.dedupe_key = w.dedupe_key)
             order by w.dedupe_key
             on conflict (dedupe_key) do nothing
             returning id, engagement_id, audience, kind
         ),
         delivered as (
             insert into inbox_items (reminder_id, user_id, created_at, email_state)
             select r.id, u.id, $1::timestamptz, case when $4 then 'pending' else 'none' end
             from raised r
             cross join lateral (
                 select e.owner_id as user_id from engagements e
                 where e.id = r.engagement_id and r.audience <> 'vendor'
                 union
                 select m.user_id from engagement_managers m
                 where m.engagement_id = r.engagement_id and r.audience <> 'vendor'
                 union
                 -- A vendor's document concerns every engagement of the vendor.
                 select o.user_id from engagements e
                 join engagements s on s.vendor_id = e.vendor_id and s.status = 'active' and s.id <> e.id
                 cross join lateral (select s.owner_id as user_id
                                     union select m.user_id from engagement_managers m where m.engagement_id = s.id) o
                 where e.id = r.engagement_id and r.kind like 'document%' and r.audience <> 'vendor'
                 union
                 select v.id from engagements e join users v on v.vendor_id = e.vendor_id and v.role = 'vendor'
                 where e.id = r.engagement_id and r.audience <> 'managers'
             ) x
             -- Service accounts are no people: no inbox, no e-mail. Looked up by key for each
             -- recipient, whatever the plan guesses of their number.
             cross join lateral (
                 select u.id from users u
                 where u.id = x.user_id and u.disabled_at is null and not u.service_account
                 offset 0
             ) u
             returning 1
         ),
         resolved as (
             update reminders r set resolved_at = $1
             where r.id in (
                 select o.id from reminders o
                 left join wanted w on w.dedupe_key = o.dedupe_key
                 where o.resolved_at is null
                   and ($2::bigint is null or o.engagement_id = $2)
                   and case when o.kind = 'celebration'
                            then o.raised_at < $1 - make_interval(days => $5)
                            else w.dedupe_key is null end
                 order by o.id
                 for update of o skip locked)
             returning 1
         )
         select (select count(*) from raised) as raised,
                (select count(*) from delivered) as delivered,
                (select count(*) from resolved) as resolved"
    );
    sqlx::query_as(&sql)
        .bind(now)
        .bind(engagement)
        .bind(instance)
        .bind(email)
        .bind(CELEBRATION_DAYS)
        .bind(written_since)
        .fetch_one(db)
        .await
}
