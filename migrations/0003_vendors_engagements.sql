-- Vendors with due diligence, engagements with their managers, KPIs with the history of
-- their terms, and boundaries.

alter table vendors
    add column legal_name text not null default '',
    add column website text not null default '',
    add column industry text not null default '',
    add column tier text not null default 'medium'
        check (tier in ('critical', 'high', 'medium', 'low')),
    add column status text not null default 'prospect'
        check (status in ('prospect', 'onboarding', 'active', 'offboarding', 'exited')),
    add column contact_name text not null default '',
    add column contact_email text not null default '',
    add column contact_phone text not null default '',
    add column notes text not null default '';

-- The due-diligence criteria admins keep; active weights total 100.
create table dd_criteria (
    id bigint generated always as identity primary key,
    name text not null check (length(btrim(name)) > 0),
    description text not null default '',
    weight integer not null check (weight between 0 and 100),
    position integer not null,
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index dd_criteria_name_key on dd_criteria (lower(name)) where active;
create trigger dd_criteria_updated_at before update on dd_criteria
    for each row execute function set_updated_at();

insert into dd_criteria (name, description, weight, position) values
    ('Track record', 'Delivered comparable services reliably, over years.', 25, 1),
    ('Relevant industry experience', 'Knows our industry, its regulation and its customers.', 20, 2),
    ('References and client reviews', 'Past and current clients speak well of them.', 20, 3),
    ('Security and compliance posture', 'Certifications, practices and audit results.', 20, 4),
    ('Communication and cultural fit', 'Shares our way of working; easy to reach and frank.', 15, 5);

-- An evaluation keeps the criteria and weights it was made with.
create table evaluations (
    id bigint generated always as identity primary key,
    vendor_id bigint not null references vendors (id),
    decision text not null check (decision in ('selected', 'rejected', 'on_hold')),
    rationale text not null,
    score numeric(5, 2) not null check (score between 0 and 100),
    author_id bigint not null references users (id),
    created_at timestamptz not null,
    -- The key the form was rendered with: a double submit makes one evaluation.
    form_key uuid not null unique
);
create index evaluations_vendor on evaluations (vendor_id, created_at desc);

create table evaluation_scores (
    evaluation_id bigint not null references evaluations (id),
    position integer not null,
    criterion text not null,
    weight integer not null check (weight between 0 and 100),
    score integer not null check (score between 1 and 5),
    evidence text not null default '',
    primary key (evaluation_id, position)
);

create table engagements (
    id bigint generated always as identity primary key,
    vendor_id bigint not null references vendors (id),
    name text not null check (length(btrim(name)) > 0),
    scope text not null default '',
    objectives text[] not null default '{}',
    time_zone text not null,
    start_date date not null,
    end_date date,
    notice_days integer not null default 90 check (notice_days between 0 and 3650),
    status text not null default 'draft' check (status in ('draft', 'active', 'paused', 'closed')),
    owner_id bigint not null references users (id),
    scorecard_period text not null default 'monthly'
        check (scorecard_period in ('weekly', 'monthly', 'quarterly')),
    checkin_cadence text not null default 'weekly'
        check (checkin_cadence in ('daily', 'weekly', 'biweekly', 'monthly')),
    checkin_weekday integer check (checkin_weekday between 1 and 7),
    review_cadence text not null default 'quarterly'
        check (review_cadence in ('monthly', 'quarterly', 'semiannual', 'annual')),
    audit_cadence text not null default 'semiannual'
        check (audit_cadence in ('monthly', 'quarterly', 'semiannual', 'annual')),
    next_review_due date,
    next_audit_due date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint engagements_dates check (end_date is null or end_date >= start_date)
);
create index engagements_vendor on engagements (vendor_id);
-- One name per vendor: a double submit of the form makes one engagement.
create unique index engagements_name_key on engagements (vendor_id, lower(name));
create index engagements_owner on engagements (owner_id);
create trigger engagements_updated_at before update on engagements
    for each row execute function set_updated_at();

-- Co-managers; the owner is on the engagement row.
create table engagement_managers (
    engagement_id bigint not null references engagements (id),
    user_id bigint not null references users (id),
    primary key (engagement_id, user_id)
);
create index engagement_managers_user on engagement_managers (user_id);

create table kpis (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    name text not null check (length(btrim(name)) > 0),
    description text not null default '',
    unit text not null default '',
    direction text not null check (direction in ('higher', 'lower')),
    source text not null check (source in ('manager', 'vendor')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index kpis_name_key on kpis (engagement_id, lower(name));
create trigger kpis_updated_at before update on kpis
    for each row execute function set_updated_at();

-- A KPI's terms as they were from a day on (in the engagement's time zone); a period is
-- scored with the terms in force on its last day. Several changes on one day keep the last.
create table kpi_terms (
    kpi_id bigint not null references kpis (id),
    effective_from date not null,
    target numeric not null,
    threshold numeric not null,
    weight numeric(5, 2) not null check (weight between 0 and 100),
    active boolean not null,
    changed_by bigint references users (id),
    changed_at timestamptz not null,
    primary key (kpi_id, effective_from)
);

create table boundaries (
    engagement_id bigint primary key references engagements (id),
    contact_days integer[] not null default '{1,2,3,4,5}',
    window_start time not null default '09:00',
    window_end time not null default '17:00',
    channels text[] not null default '{portal,email}',
    preferred_channel text not null default 'email',
    urgent_definition text not null default '',
    urgent_channel text not null default 'phone',
    escalation_contact text not null default '',
    routine_response_hours integer not null default 24 check (routine_response_hours between 1 and 720),
    urgent_response_hours integer not null default 2 check (urgent_response_hours between 1 and 720),
    weekly_touch_cap integer not null default 3 check (weekly_touch_cap >= 1),
    updated_at timestamptz not null default now()
);
create trigger boundaries_updated_at before update on boundaries
    for each row execute function set_updated_at();

create index vendors_status on vendors (status);
create index audit_log_target on audit_log (target, at desc);
