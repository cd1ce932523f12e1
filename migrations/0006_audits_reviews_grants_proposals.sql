-- Trust but verify, evaluate and adapt: audits with findings, periodic reviews with their
-- snapshot and applied adaptations, access grants with their reviews, vendor proposals.
-- Every form carries a key so a double submit saves once.

create table audits (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    kind text not null check (kind in ('quality', 'security', 'compliance', 'sla_verification')),
    scope text not null check (length(btrim(scope)) > 0),
    planned_on date not null,
    auditor text not null check (length(btrim(auditor)) > 0),
    -- The scorecard period an SLA verification examines (its first day).
    period_start date,
    status text not null default 'planned' check (status in ('planned', 'completed')),
    outcome text check (outcome in ('pass', 'pass_with_findings', 'fail')),
    summary text not null default '',
    completed_on date,
    completed_by bigint references users (id),
    created_by bigint not null references users (id),
    created_at timestamptz not null,
    form_key uuid not null unique,
    constraint audits_outcome check ((status = 'completed') = (outcome is not null and completed_on is not null)),
    constraint audits_period check ((kind = 'sla_verification') = (period_start is not null))
);
create index audits_engagement on audits (engagement_id, planned_on desc);

create table findings (
    id bigint generated always as identity primary key,
    audit_id bigint not null references audits (id),
    engagement_id bigint not null references engagements (id),
    severity text not null check (severity in ('low', 'medium', 'high', 'critical')),
    description text not null check (length(btrim(description)) > 0),
    owner_side text not null check (owner_side in ('ours', 'vendor')),
    due_on date not null,
    -- open → answered (the owning side's plan) → closed (verified) or risk_accepted.
    status text not null default 'open' check (status in ('open', 'answered', 'closed', 'risk_accepted')),
    remediation_plan text not null default '',
    evidence text not null default '',
    answered_by bigint references users (id),
    answered_at timestamptz,
    resolution_note text not null default '',
    resolved_by bigint references users (id),
    resolved_at timestamptz,
    created_by bigint not null references users (id),
    created_at timestamptz not null,
    form_key uuid not null unique
);
create index findings_engagement on findings (engagement_id, status, due_on);
create index findings_audit on findings (audit_id);

create table reviews (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    -- The scorecard period reviewed, by its first day and label.
    period_start date not null,
    period_label text not null,
    status text not null default 'draft' check (status in ('draft', 'completed')),
    -- What was true when the review started: scorecard, health trend, feedback, findings,
    -- proposals. The review keeps showing it whatever changes later.
    snapshot jsonb not null,
    what_works text not null default '',
    what_to_improve text not null default '',
    decision text check (decision in ('continue', 'adapt', 'escalate', 'exit')),
    -- Shared with the vendor once completed.
    summary text not null default '',
    -- Never shown to vendor users.
    internal_notes text not null default '',
    started_by bigint not null references users (id),
    started_at timestamptz not null,
    completed_by bigint references users (id),
    completed_at timestamptz,
    -- A draft may hold a decision already; a completed review must.
    constraint reviews_completed check (status <> 'completed' or (decision is not null and completed_at is not null)),
    -- One review per engagement and period: starting it twice opens the same one.
    unique (engagement_id, period_start)
);

-- Changes applied from a review, each also in the audit log.
create table review_adaptations (
    id bigint generated always as identity primary key,
    review_id bigint not null references reviews (id),
    kind text not null check (kind in ('cadence', 'kpi_terms', 'boundary')),
    description text not null,
    effective_from date not null,
    applied_by bigint not null references users (id),
    applied_at timestamptz not null,
    form_key uuid not null unique
);
create index review_adaptations_review on review_adaptations (review_id, applied_at);

create table access_grants (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    resource text not null check (length(btrim(resource)) > 0),
    access_level text not null check (access_level in ('read', 'write', 'admin')),
    holder text not null check (length(btrim(holder)) > 0),
    granted_on date not null,
    expires_on date,
    review_interval_days integer not null check (review_interval_days between 1 and 730),
    next_review_due date not null,
    justification text not null check (length(btrim(justification)) > 0),
    status text not null default 'active' check (status in ('active', 'revoked')),
    revoked_by bigint references users (id),
    revoked_at timestamptz,
    created_by bigint not null references users (id),
    created_at timestamptz not null,
    form_key uuid not null unique,
    constraint access_grants_dates check (expires_on is null or expires_on >= granted_on)
);
create index access_grants_engagement on access_grants (engagement_id, status, next_review_due);

create table access_reviews (
    id bigint generated always as identity primary key,
    grant_id bigint not null references access_grants (id),
    decision text not null check (decision in ('keep', 'revoke')),
    note text not null default '',
    next_review_due date,
    reviewed_by bigint not null references users (id),
    reviewed_at timestamptz not null,
    -- Set when the review was part of closing the engagement.
    on_close boolean not null default false
);
create index access_reviews_grant on access_reviews (grant_id, reviewed_at desc);

create table proposals (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    kind text not null check (kind in ('improvement', 'risk', 'issue')),
    title text not null check (length(btrim(title)) > 0),
    description text not null,
    proposed_action text not null,
    expected_impact text not null,
    status text not null default 'open'
        check (status in ('open', 'accepted', 'declined', 'needs_information', 'done')),
    answer_note text not null default '',
    answered_by bigint references users (id),
    answered_at timestamptz,
    -- The vendor's latest reply to "needs information"; it opens the proposal again.
    reply text not null default '',
    replied_by bigint references users (id),
    replied_at timestamptz,
    raised_by bigint not null references users (id),
    raised_at timestamptz not null,
    form_key uuid not null unique
);
create index proposals_engagement on proposals (engagement_id, raised_at desc);
