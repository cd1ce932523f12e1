-- KPI values, one per KPI and closed period. A correction keeps the earlier value in the
-- history with who recorded it and when.
create table kpi_values (
    id bigint generated always as identity primary key,
    kpi_id bigint not null references kpis (id),
    period_start date not null,
    value numeric not null,
    note text not null default '',
    state text not null check (state in ('verified', 'unverified', 'disputed')),
    dispute_note text not null default '',
    recorded_by bigint not null references users (id),
    recorded_at timestamptz not null,
    reviewed_by bigint references users (id),
    reviewed_at timestamptz,
    unique (kpi_id, period_start)
);

create table kpi_value_history (
    id bigint generated always as identity primary key,
    kpi_value_id bigint not null references kpi_values (id),
    value numeric not null,
    note text not null,
    state text not null,
    recorded_by bigint not null references users (id),
    recorded_at timestamptz not null,
    replaced_by bigint not null references users (id),
    replaced_at timestamptz not null
);
create index kpi_value_history_value on kpi_value_history (kpi_value_id, replaced_at desc);
