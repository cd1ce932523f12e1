-- Regular contact without micromanaging: check-ins with action items, structured feedback,
-- successes and ad-hoc contacts. Every form carries a key so a double submit saves once.

create table checkins (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    held_on date not null,
    kind text not null check (kind in ('scheduled', 'ad_hoc')),
    attendees text not null default '',
    progress text not null default '',
    blockers text not null default '',
    health text not null check (health in ('on_track', 'at_risk', 'off_track')),
    next_steps text not null default '',
    shared boolean not null default true,
    author_id bigint not null references users (id),
    created_at timestamptz not null,
    form_key uuid not null unique
);
create index checkins_engagement on checkins (engagement_id, held_on desc, id desc);

create table action_items (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    checkin_id bigint references checkins (id),
    title text not null check (length(btrim(title)) > 0),
    owner_side text not null check (owner_side in ('ours', 'vendor')),
    assignee text not null default '',
    due_on date,
    status text not null default 'open' check (status in ('open', 'done', 'dropped')),
    closing_note text not null default '',
    closed_by bigint references users (id),
    closed_at timestamptz,
    created_at timestamptz not null
);
create index action_items_engagement on action_items (engagement_id, status, due_on);

create table feedback (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    kind text not null check (kind in ('praise', 'constructive', 'concern')),
    situation text not null,
    observation text not null,
    impact text not null,
    request text not null default '',
    kpi_id bigint references kpis (id),
    shared boolean not null default true,
    author_id bigint not null references users (id),
    created_at timestamptz not null,
    acknowledged_by bigint references users (id),
    acknowledged_at timestamptz,
    response text,
    responded_by bigint references users (id),
    responded_at timestamptz,
    form_key uuid not null unique
);
create index feedback_engagement on feedback (engagement_id, created_at desc);

create table successes (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    title text not null check (length(btrim(title)) > 0),
    description text not null default '',
    happened_on date not null,
    author_id bigint not null references users (id),
    created_at timestamptz not null,
    form_key uuid not null unique
);
create index successes_engagement on successes (engagement_id, happened_on desc);

create table contacts (
    id bigint generated always as identity primary key,
    engagement_id bigint not null references engagements (id),
    channel text not null check (channel in ('portal', 'email', 'phone', 'chat')),
    summary text not null,
    urgent boolean not null,
    outside_window boolean not null,
    contacted_at timestamptz not null,
    author_id bigint not null references users (id),
    form_key uuid not null unique
);
create index contacts_engagement on contacts (engagement_id, contacted_at desc);
