-- Reminders and notices raised by the scheduler, each person's inbox, the e-mail outbox,
-- working hours for the organisation's people, calendar feeds, and the record of passes.

-- E-mail to the organisation's people waits for their working hours (in their own zone).
alter table users
    add column work_days integer[] not null default '{1,2,3,4,5}',
    add column work_start time not null default '09:00',
    add column work_end time not null default '17:00',
    -- SHA-256 of the secret in the user's calendar feed address; null when there is none.
    add column calendar_token_hash bytea;
create unique index users_calendar_token on users (calendar_token_hash)
    where calendar_token_hash is not null;

-- One row per thing to remind of, named by a stable key (kind, subject, due date or
-- period): raising it again, from another instance or after a restart, changes nothing.
-- Notices (something new addressed to someone) use the same table and never resolve by
-- themselves; reminders resolve when their condition clears.
create table reminders (
    id bigint generated always as identity primary key,
    dedupe_key text not null unique,
    kind text not null check (kind in (
        'checkin_due', 'review_due', 'audit_due', 'finding_overdue', 'feedback_unacknowledged',
        'action_item_overdue', 'access_review_due', 'grant_expiring', 'kpi_values_missing',
        'notice_date', 'engagement_end', 'celebration', 'feedback_shared', 'finding_assigned',
        'proposal_answered')),
    engagement_id bigint not null references engagements (id),
    -- The row it is about (a finding, feedback, action item, grant or KPI), when not the
    -- engagement itself.
    subject_id bigint,
    due_on date,
    title text not null,
    link text not null,
    -- Who receives it: the engagement's managers, the vendor's users, or both (what asks
    -- something of the vendor).
    audience text not null check (audience in ('managers', 'vendor', 'both')),
    -- A critical finding: e-mail goes at once, whatever the hour.
    urgent boolean not null default false,
    notice boolean not null,
    raised_at timestamptz not null,
    raised_by text not null,
    resolved_at timestamptz
);
create index reminders_open on reminders (engagement_id) where resolved_at is null;

-- A reminder as one person receives it: in the inbox, and by e-mail when SMTP is set.
create table inbox_items (
    reminder_id bigint not null references reminders (id),
    user_id bigint not null references users (id),
    created_at timestamptz not null,
    dismissed_at timestamptz,
    snoozed_until timestamptz,
    -- none: no e-mail; pending: waiting for its hour; composed: in an outbox message.
    email_state text not null default 'none' check (email_state in ('none', 'pending', 'composed')),
    -- The earliest time the person may be e-mailed about it (their contact window or
    -- working hours); null until the delivery worker has worked it out.
    deliver_after timestamptz,
    outbox_id uuid,
    primary key (reminder_id, user_id)
);
create index inbox_items_user on inbox_items (user_id) where dismissed_at is null;
create index inbox_items_pending on inbox_items (deliver_after) where email_state = 'pending';

-- E-mail composed and stored before its first attempt, so a resent message carries the same
-- Message-ID. Claimed with FOR UPDATE SKIP LOCKED.
create table outbox (
    id uuid primary key,
    message_id text not null unique,
    recipient_id bigint references users (id),
    to_address text not null,
    subject text not null,
    body_text text not null,
    body_html text not null,
    urgent boolean not null default false,
    created_at timestamptz not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    sent_at timestamptz,
    failed_at timestamptz,
    last_error text
);
create index outbox_waiting on outbox (next_attempt_at) where sent_at is null and failed_at is null;
create index outbox_failed on outbox (failed_at desc) where failed_at is not null;

alter table inbox_items add constraint inbox_items_outbox foreign key (outbox_id) references outbox (id);

-- One row per scheduler pass, written when it starts and completed when it ends: a pass that
-- never finished (its instance died) stays visible.
create table scheduler_passes (
    id bigint generated always as identity primary key,
    instance text not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    duration_ms integer,
    raised integer,
    resolved integer,
    error text
);
create index scheduler_passes_instance on scheduler_passes (instance, started_at desc);
create index scheduler_passes_started on scheduler_passes (started_at desc);

-- A pass looks for new streaks of met targets only among KPIs written since the last one.
create index kpi_values_recorded_at on kpi_values (recorded_at);
create index kpi_values_reviewed_at on kpi_values (reviewed_at) where reviewed_at is not null;
create index kpi_terms_changed_at on kpi_terms (changed_at);
-- … and for the KPIs missing a value for the latest closed period, across engagements.
create index kpi_values_period_start on kpi_values (period_start, kpi_id);

-- When a check-in is due after one on `last` (or the engagement's start): the same rule as
-- `CheckinCadence::next_due` in Rust, which a test compares it with. Daily: the next contact
-- day; weekly and biweekly: 7 or 14 days on, moved forward to the preferred weekday; monthly:
-- a calendar month on, clamped to the month's end.
create function checkin_due(cadence text, last date, weekday integer, contact_days integer[])
returns date language sql immutable as $$
    select case cadence
        when 'daily' then coalesce(
            (select min(last + i) from generate_series(1, 7) i
             where extract(isodow from last + i)::integer = any (contact_days)),
            last + 1)
        when 'weekly' then last + 7
            + coalesce((weekday - extract(isodow from last + 7)::integer + 7) % 7, 0)
        when 'biweekly' then last + 14
            + coalesce((weekday - extract(isodow from last + 14)::integer + 7) % 7, 0)
        else (last + interval '1 month')::date
    end
$$;

-- The first day of the latest closed scorecard period on `today`.
create function latest_closed_period(period text, today date)
returns date language sql immutable as $$
    select case period
        when 'weekly' then (date_trunc('week', today::timestamp) - interval '7 days')::date
        when 'monthly' then (date_trunc('month', today::timestamp) - interval '1 month')::date
        else (date_trunc('quarter', today::timestamp) - interval '3 months')::date
    end
$$;

-- The first day of the period `back` periods before the one starting on `start`.
create function period_back(period text, start date, back integer)
returns date language sql immutable as $$
    select case period
        when 'weekly' then start - 7 * back
        when 'monthly' then (start - make_interval(months => back))::date
        else (start - make_interval(months => 3 * back))::date
    end
$$;

-- How people read a period: 2026-W01, 2026-01, 2026-Q1.
create function period_label(period text, start date)
returns text language sql immutable as $$
    select case period
        when 'weekly' then to_char(start, 'IYYY-"W"IW')
        when 'monthly' then to_char(start, 'YYYY-MM')
        else to_char(start, 'YYYY-"Q"Q')
    end
$$;
