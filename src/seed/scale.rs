//! `trellis seed scale`: the data set the performance budgets are measured on — by default
//! 1,000 vendors, 5,000 engagements, 50,000 KPIs, 2,000,000 KPI values and 500,000
//! check-ins — generated inside PostgreSQL in large set-based batches, in one transaction.
//!
//! Rows are spread evenly: the n-th engagement belongs to vendor `n % vendors`, the n-th KPI
//! to engagement `n % engagements`, the n-th value to KPI `n % kpis` (its age in periods is
//! `n / kpis + 1`), the n-th check-in to engagement `n % engagements`. So every number can be
//! changed on its own and the counts come out exact.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::audit::{self, Outcome};
use crate::auth::password;

/// The password of every account the scale data creates.
pub const SCALE_PASSWORD: &str = "scale-data-password";

/// What distinguishes the scale data; its presence means it was seeded already.
const VENDOR_PREFIX: &str = "Scale vendor ";

/// Rows per statement: big enough to be quick, small enough for a moving progress bar.
const BATCH: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub vendors: i64,
    pub engagements: i64,
    pub kpis: i64,
    pub values: i64,
    pub checkins: i64,
}

impl Default for Size {
    /// The data set the performance budgets are measured on (README, "Data at scale").
    fn default() -> Self {
        Size {
            vendors: 1_000,
            engagements: 5_000,
            kpis: 50_000,
            values: 2_000_000,
            checkins: 500_000,
        }
    }
}

impl Size {
    /// Every row the seeding writes that the progress bar counts.
    pub fn rows(&self) -> u64 {
        (self.vendors + self.engagements + self.kpis + self.values + self.checkins) as u64
    }

    /// One manager per hundred engagements, at least one.
    pub fn managers(&self) -> i64 {
        (self.engagements / 100).max(1)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.vendors >= 1, "--vendors must be at least 1");
        anyhow::ensure!(self.vendors <= 99_999, "--vendors must be at most 99999");
        for (name, value) in [
            ("--engagements", self.engagements),
            ("--kpis", self.kpis),
            ("--values", self.values),
            ("--checkins", self.checkins),
        ] {
            anyhow::ensure!(value >= 0, "{name} must not be negative");
        }
        anyhow::ensure!(
            self.kpis == 0 || self.engagements >= 1,
            "KPIs need at least one engagement"
        );
        anyhow::ensure!(
            self.checkins == 0 || self.engagements >= 1,
            "check-ins need at least one engagement"
        );
        anyhow::ensure!(
            self.values == 0 || self.kpis >= 1,
            "values need at least one KPI"
        );
        // Values reach back values/kpis periods, which must stay after the engagement's start.
        anyhow::ensure!(
            self.kpis == 0 || self.values / self.kpis <= 150,
            "at most 150 values per KPI (--values / --kpis)"
        );
        Ok(())
    }
}

/// Seeds the scale data once; a second run is refused with a clear message.
pub async fn scale(
    pool: &PgPool,
    size: Size,
    time_zone: &str,
    now: DateTime<Utc>,
    // Told each step's name and the rows written so far, out of `Size::rows`.
    mut progress: impl FnMut(&'static str, u64),
) -> anyhow::Result<()> {
    size.check()?;
    let hash = password::hash(SCALE_PASSWORD.to_string()).await?;
    let today = now.date_naive();
    // A connection of its own: no statement time limit, no slow-statement warnings over the
    // progress bar (every statement here is slow by design).
    let options = (*pool.connect_options())
        .clone()
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options).await?;
    let mut tx = connection.begin().await?;
    sqlx::query("set local statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    let seeded: bool =
        sqlx::query_scalar("select exists (select 1 from vendors where name like $1 || '%')")
            .bind(VENDOR_PREFIX)
            .fetch_one(&mut *tx)
            .await?;
    anyhow::ensure!(
        !seeded,
        "the scale data is already in this database; seed it into an empty one \
         (a fresh TRELLIS_DATA_DIR or DATABASE_URL)"
    );
    // Hold off other writers of these tables: the ordinals below rely on seeing only ours.
    sqlx::query("lock table vendors, users, engagements, kpis in share row exclusive mode")
        .execute(&mut *tx)
        .await?;
    let mut done = 0u64;
    vendors(&mut tx, &size, &hash, time_zone, now).await?;
    done += size.vendors as u64;
    progress("vendors", done);
    engagements(&mut tx, &size, today, now).await?;
    done += size.engagements as u64;
    progress("engagements", done);
    kpis(&mut tx, &size, now).await?;
    done += size.kpis as u64;
    progress("KPIs", done);
    for low in (0..size.values).step_by(BATCH as usize) {
        let high = (low + BATCH).min(size.values);
        values(&mut tx, &size, low, high, today, now).await?;
        done += (high - low) as u64;
        progress("KPI values", done);
    }
    for low in (0..size.checkins).step_by(BATCH as usize) {
        let high = (low + BATCH).min(size.checkins);
        checkins(&mut tx, &size, low, high, today, now).await?;
        done += (high - low) as u64;
        progress("check-ins", done);
    }
    governance(&mut tx, today, now).await?;
    documents(&mut tx, today, now).await?;
    progress(
        "feedback, findings, action items, access, documents, questionnaires",
        done,
    );
    audit::Entry::anonymous("seed.scale", Outcome::Success)
        .client_addr("cli")
        .details(serde_json::json!({
            "vendors": size.vendors, "engagements": size.engagements, "kpis": size.kpis,
            "values": size.values, "checkins": size.checkins,
        }))
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    // Fresh statistics, so the planner sees the new sizes at once.
    sqlx::query(
        "analyze vendors, users, engagements, engagement_managers, kpis, kpi_terms, kpi_values,
                 checkins, boundaries, feedback, audits, findings, action_items, access_grants, proposals,
                 files, file_chunks, vendor_documents, vendor_document_versions, questionnaires",
    )
    .execute(&mut connection)
    .await?;
    connection.close().await?;
    progress("statistics", done);
    Ok(())
}

/// Vendors, one vendor user each, and the managers; `scale_vendors` and `scale_managers`
/// map ordinals to ids for the steps after.
async fn vendors(
    db: &mut PgConnection,
    size: &Size,
    hash: &str,
    time_zone: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into vendors (name, legal_name, industry, tier, status, contact_name, contact_email, created_at)
         select $1 || lpad(g::text, 5, '0'), $1 || lpad(g::text, 5, '0') || ' Ltd',
                (array['Managed services', 'Cloud operations', 'Software development', 'Security', 'Networks'])[g % 5 + 1],
                (array['critical', 'high', 'medium', 'medium', 'low'])[g % 5 + 1],
                'active', 'Account lead ' || g, 'lead-' || g || '@scale-vendor.example', $2
         from generate_series(1, $3) g",
    )
    .bind(VENDOR_PREFIX)
    .bind(now)
    .bind(size.vendors)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "create temp table scale_vendors on commit drop as
         select (row_number() over (order by id) - 1)::bigint as n, id
         from vendors where name like $1 || '%'",
    )
    .bind(VENDOR_PREFIX)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into users (email, name, role, vendor_id, password_hash, time_zone, created_at)
         select 'vendor-' || lpad((n + 1)::text, 5, '0') || '@scale.example',
                'Vendor user ' || (n + 1), 'vendor', id, $1, $2, $3
         from scale_vendors
         union all
         select 'manager-' || lpad(g::text, 3, '0') || '@scale.example', 'Scale manager ' || g,
                'manager', null, $1, $2, $3
         from generate_series(1, $4) g",
    )
    .bind(hash)
    .bind(time_zone)
    .bind(now)
    .bind(size.managers())
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "create temp table scale_managers on commit drop as
         select (row_number() over (order by id) - 1)::bigint as n, id
         from users where email like 'manager-%@scale.example'",
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Engagements across five time zones, one in five scored weekly, each with a co-manager
/// and default boundaries; `scale_engagements` maps ordinals to ids.
async fn engagements(
    db: &mut PgConnection,
    size: &Size,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into engagements (vendor_id, name, scope, objectives, time_zone, start_date, notice_days, status,
                                  owner_id, scorecard_period, checkin_cadence, checkin_weekday, review_cadence,
                                  audit_cadence, next_review_due, next_audit_due, created_at)
         select v.id, 'Service line ' || g, 'Operations of service line ' || g,
                array['Keep the service available', 'Resolve incidents quickly'],
                (array['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Europe/London', 'UTC'])[g % 5 + 1],
                $1::date - 5000, 90, 'active', m.id,
                case when g % 5 = 0 then 'weekly' else 'monthly' end,
                (array['weekly', 'weekly', 'biweekly', 'monthly', 'daily'])[g % 5 + 1], g % 5 + 1,
                (array['quarterly', 'monthly', 'semiannual', 'annual'])[g % 4 + 1],
                (array['semiannual', 'annual', 'quarterly'])[g % 3 + 1],
                $1::date + (g % 90)::int - 20, $1::date + (g % 180)::int - 20, $2
         from generate_series(0, $3 - 1) g
         join scale_vendors v on v.n = g % $4
         join scale_managers m on m.n = g % $5",
    )
    .bind(today)
    .bind(now)
    .bind(size.engagements)
    .bind(size.vendors)
    .bind(size.managers())
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "create temp table scale_engagements on commit drop as
         select (row_number() over (order by e.id) - 1)::bigint as n, e.id, e.owner_id, e.scorecard_period
         from engagements e join scale_vendors v on v.id = e.vendor_id",
    )
    .execute(&mut *db)
    .await?;
    sqlx::query("alter table scale_engagements add primary key (n)")
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "insert into engagement_managers (engagement_id, user_id)
         select e.id, m.id from scale_engagements e
         join scale_managers m on m.n = (e.n + 1) % $1
         where m.id <> e.owner_id",
    )
    .bind(size.managers())
    .execute(&mut *db)
    .await?;
    // Contact days and windows vary: office hours, a four-day week, overnight support.
    sqlx::query(
        "insert into boundaries (engagement_id, contact_days, window_start, window_end, weekly_touch_cap)
         select id,
                (array['{1,2,3,4,5}', '{1,2,3,4}', '{1,2,3,4,5,6,7}'])[n % 3 + 1]::integer[],
                (array['09:00', '08:00', '22:00'])[n % 3 + 1]::time,
                (array['17:00', '16:00', '06:00'])[n % 3 + 1]::time,
                n % 4 + 2
         from scale_engagements",
    )
    .execute(&mut *db)
    .await?;
    // One in seven ends within the next four months, with 90 days' notice.
    sqlx::query(
        "update engagements e set end_date = $1::date + (s.n % 120)::int
         from scale_engagements s where s.id = e.id and s.n % 7 = 0",
    )
    .bind(today)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// KPIs alternating between higher-is-better availability and lower-is-better resolution
/// time, and between manager and vendor sources, weighing 100 together per engagement.
async fn kpis(db: &mut PgConnection, size: &Size, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into kpis (engagement_id, name, description, unit, direction, source, created_at)
         select e.id,
                case when i % 2 = 0 then 'Availability ' else 'Resolution time ' end || (i / 2 + 1),
                'Generated for the scale data', case when i % 2 = 0 then '%' else 'hours' end,
                case when i % 2 = 0 then 'higher' else 'lower' end,
                case when (i / 2) % 2 = 0 then 'manager' else 'vendor' end, $3
         from generate_series(0, $1 - 1) g
         cross join lateral (select g / $2 as i) ordinal
         join scale_engagements e on e.n = g % $2",
    )
    .bind(size.kpis)
    .bind(size.engagements)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "create temp table scale_kpis on commit drop as
         select (row_number() over (order by k.id) - 1)::bigint as n, k.id, k.direction, k.source,
                e.owner_id, e.scorecard_period,
                count(*) over (partition by k.engagement_id) as siblings,
                row_number() over (partition by k.engagement_id order by k.id) as position
         from kpis k join scale_engagements e on e.id = k.engagement_id",
    )
    .execute(&mut *db)
    .await?;
    sqlx::query("alter table scale_kpis add primary key (n)")
        .execute(&mut *db)
        .await?;
    // Equal weights to two decimals; the first KPI takes what rounding leaves over.
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_by, changed_at)
         select k.id, e.start_date,
                case when k.direction = 'higher' then 99.5 else 4 end,
                case when k.direction = 'higher' then 98 else 8 end,
                case when k.position = 1 then 100 - (k.siblings - 1) * trunc(100.0 / k.siblings, 2)
                     else trunc(100.0 / k.siblings, 2) end,
                true, k.owner_id, $1
         from scale_kpis k join kpis using (id) join engagements e on e.id = kpis.engagement_id",
    )
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Values `low..high`: mostly between target and threshold, some breached; the vendor's
/// values of the latest period unverified, one in 97 disputed.
async fn values(
    db: &mut PgConnection,
    size: &Size,
    low: i64,
    high: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, note, state, dispute_note, recorded_by, recorded_at,
                                 reviewed_by, reviewed_at)
         select k.id, p.start,
                case when k.direction = 'higher' then 99.5 - 0.375 * p.step else 4 + p.step end,
                '', s.state, case when s.state = 'disputed' then 'Does not match our monitoring.' else '' end,
                k.owner_id, $5, case when s.state = 'unverified' then null else k.owner_id end,
                case when s.state = 'unverified' then null else $5 end
         from generate_series($1, $2 - 1) g
         join scale_kpis k on k.n = g % $3
         cross join lateral (select g / $3 + 1 as age) a
         cross join lateral (
             select case k.scorecard_period
                        when 'weekly' then (date_trunc('week', ($4::date - 1)::timestamp) - make_interval(weeks => a.age::int))::date
                        else (date_trunc('month', ($4::date - 1)::timestamp) - make_interval(months => a.age::int))::date
                    end as start,
                    (array[0, 1, 0, 3, 5, 1, 2])[(k.n + a.age * 3) % 7 + 1] as step
         ) p
         cross join lateral (
             select case when k.source = 'vendor' and a.age = 1 then 'unverified'
                         when (k.id + a.age) % 97 = 0 then 'disputed'
                         else 'verified' end as state
         ) s",
    )
    .bind(low)
    .bind(high)
    .bind(size.kpis)
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Check-ins `low..high`, a week apart per engagement, mostly on track.
async fn checkins(
    db: &mut PgConnection,
    size: &Size,
    low: i64,
    high: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into checkins (engagement_id, held_on, kind, attendees, progress, blockers, health, next_steps,
                               shared, author_id, created_at, form_key)
         select e.id, $4::date - ((g / $3) * 7 + e.n % 7)::int, 'scheduled', 'Service owner, account lead',
                'Steady week; the backlog shrank.', case when g % 11 = 0 then 'Waiting for a firewall change.' else '' end,
                (array['on_track', 'on_track', 'on_track', 'at_risk', 'on_track', 'off_track'])[g % 6 + 1],
                'Keep going.', g % 10 <> 0, e.owner_id, $5, gen_random_uuid()
         from generate_series($1, $2 - 1) g
         join scale_engagements e on e.n = g % $3",
    )
    .bind(low)
    .bind(high)
    .bind(size.engagements)
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// What the scheduler works on, per engagement: two pieces of feedback (one, in three
/// engagements, unacknowledged for over five days), an audit with two findings (one open,
/// overdue in one engagement out of four, critical in one out of ten), two action items (one
/// overdue), an access grant (reviews due and expiries spread over the coming weeks) and, in one
/// engagement out of ten, a proposal answered yesterday.
async fn governance(
    db: &mut PgConnection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into feedback (engagement_id, kind, situation, observation, impact, request, shared,
                               author_id, created_at, acknowledged_at, form_key)
         select e.id, k.kind, 'The ' || k.kind || ' of week ' || (e.n % 52 + 1), 'What we saw.', 'What it did.',
                '', true, e.owner_id, $1 - make_interval(days => (e.n % 20)::int + k.age),
                case when k.kind = 'praise' or e.n % 3 <> 0 then $1 - interval '1 day' end, gen_random_uuid()
         from scale_engagements e
         cross join (values ('praise', 1), ('constructive', 3)) as k(kind, age)",
    )
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "create temp table scale_audits on commit drop as
         with a as (
             insert into audits (engagement_id, kind, scope, planned_on, auditor, status, outcome, summary,
                                 completed_on, completed_by, created_by, created_at, form_key)
             select e.id, (array['quality', 'security', 'compliance'])[e.n % 3 + 1], 'Yearly review of controls',
                    $1::date - 60, 'Internal audit', 'completed', 'pass_with_findings', 'Two findings.',
                    $1::date - 50, e.owner_id, e.owner_id, $2, gen_random_uuid()
             from scale_engagements e
             returning id, engagement_id, created_by
         )
         select a.*, e.n from a join scale_engagements e on e.id = a.engagement_id",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, status,
                               created_by, created_at, form_key)
         select a.id, a.engagement_id,
                case when f.first and a.n % 10 = 0 then 'critical' else (array['low', 'medium', 'high'])[a.n % 3 + 1] end,
                case when f.first then 'Patch backlog over target' else 'Runbook out of date' end,
                case when f.first then 'vendor' else 'ours' end,
                case when f.first and a.n % 4 = 0 then $1::date - 3 else $1::date + 30 end,
                case when f.first then 'open' else 'closed' end,
                a.created_by, $2 - interval '50 days', gen_random_uuid()
         from scale_audits a cross join (values (true), (false)) as f(first)",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into action_items (engagement_id, title, owner_side, due_on, status, created_at)
         select e.id, case when i.first then 'Share the capacity plan' else 'Review the on-call rota' end,
                case when i.first then 'vendor' else 'ours' end,
                case when i.first then $1::date - (e.n % 5)::int else $1::date + 14 end,
                'open', $2
         from scale_engagements e cross join (values (true), (false)) as i(first)",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, expires_on,
                                    review_interval_days, next_review_due, justification, created_by,
                                    created_at, form_key)
         select e.id, 'Production monitoring', 'read', 'Vendor operations team', $1::date - 200,
                case when e.n % 6 = 0 then $1::date + (e.n % 30)::int end, 90,
                $1::date + (e.n % 60)::int - 10, 'Watching the service around the clock', e.owner_id, $2,
                gen_random_uuid()
         from scale_engagements e",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact, status,
                                answer_note, answered_by, answered_at, raised_by, raised_at, form_key)
         select e.id, 'improvement', 'Automate the monthly report', 'Manual today.', 'Script it.', 'Saves a day.',
                'accepted', 'Go ahead.', e.owner_id, $1 - interval '1 day', u.id, $1 - interval '10 days',
                gen_random_uuid()
         from scale_engagements e
         join engagements g on g.id = e.id
         join users u on u.vendor_id = g.vendor_id and u.role = 'vendor'
         where e.n % 10 = 0",
    )
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Three documents of each vendor, and questionnaires for a fifth of them: (a SOC 2 report, an insurance certificate and a
/// data-processing agreement, the last two required), each a small file, valid until days
/// spread over a year around today: some lapsed, some expiring within the month, a tenth
/// waiting for acceptance.
async fn documents(
    db: &mut PgConnection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "create temp table scale_documents on commit drop as
         select nextval(pg_get_serial_sequence('files', 'id')) as file_id, x.*
         from (select v.id as vendor_id, v.n, k.id as kind_id, k.n as k, u.id as user_id
               from scale_vendors v
               join users u on u.vendor_id = v.id and u.role = 'vendor'
               cross join (select id, row_number() over (order by id) as n from document_kinds
                           where name in ('SOC 2 report', 'Insurance certificate', 'Data-processing agreement')) k
               order by v.n, k.n) x",
    )
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into files (id, name, original_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at)
         select d.file_id, 'document-' || d.file_id || '.txt', 'document-' || d.file_id || '.txt', 'text/plain',
                octet_length(('Document ' || d.file_id)::bytea), encode(sha256(('Document ' || d.file_id)::bytea), 'hex'),
                d.user_id, $1
         from scale_documents d",
    )
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "insert into file_chunks (file_id, seq, bytes)
         select d.file_id, 0, ('Document ' || d.file_id)::bytea from scale_documents d",
    )
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "with docs as (
             insert into vendor_documents (vendor_id, kind_id, visibility, created_by, created_at)
             select d.vendor_id, d.kind_id, 'shared', d.user_id, $2 from scale_documents d order by d.file_id
             returning id, vendor_id, kind_id)
         insert into vendor_document_versions (document_id, version, file_id, issuer, valid_from, valid_until,
                                               uploaded_by, uploaded_at, status, reviewed_by, reviewed_at, form_key)
         select docs.id, 1, d.file_id, 'Scale Assurance LLP', u.until - 365, u.until, d.user_id, $2,
                case when (d.n + d.k) % 10 = 0 then 'submitted' else 'accepted' end,
                case when (d.n + d.k) % 10 = 0 then null else (select min(m.id) from scale_managers m) end,
                case when (d.n + d.k) % 10 = 0 then null else $2 end,
                gen_random_uuid()
         from docs join scale_documents d on d.vendor_id = docs.vendor_id and d.kind_id = docs.kind_id
         cross join lateral (select $1::date + ((d.n * 7 + d.k * 131) % 400)::int - 30 as until) u",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    // The security baseline sent to every fifth vendor for its first engagement, due over the
    // next three weeks (some overdue).
    sqlx::query(
        "insert into questionnaires (template_id, vendor_id, engagement_id, due_on, sent_by, sent_at, form_key)
         select 1, v.id, (select min(e.id) from engagements e where e.vendor_id = v.id),
                $1::date + (v.n % 25)::int - 4, (select min(m.id) from scale_managers m), $2, gen_random_uuid()
         from scale_vendors v where v.n % 5 = 0",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(())
}
