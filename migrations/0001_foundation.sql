-- Foundation: users, sessions, login attempts, the audit log and a minimal vendors table.

create function set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create table vendors (
    id bigint generated always as identity primary key,
    name text not null check (length(btrim(name)) > 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index vendors_name_key on vendors (lower(name));
create trigger vendors_updated_at before update on vendors
    for each row execute function set_updated_at();

create table users (
    id bigint generated always as identity primary key,
    email text not null check (position('@' in email) > 1),
    name text not null check (length(btrim(name)) > 0),
    role text not null check (role in ('admin', 'manager', 'vendor')),
    vendor_id bigint references vendors (id),
    -- null until the user has set a password
    password_hash text,
    time_zone text not null default 'UTC',
    disabled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint users_vendor_matches_role check ((role = 'vendor') = (vendor_id is not null))
);
create unique index users_email_key on users (lower(email));
create index users_vendor_id on users (vendor_id) where vendor_id is not null;
create trigger users_updated_at before update on users
    for each row execute function set_updated_at();

-- A session is known by the SHA-256 of its cookie value; the cookie itself is never stored.
-- Anonymous sessions (user_id null) carry the CSRF token of the login form.
create table sessions (
    id_hash bytea primary key,
    user_id bigint references users (id) on delete cascade,
    csrf_token text not null,
    flash text,
    created_at timestamptz not null,
    last_seen_at timestamptz not null
);
create index sessions_user_id on sessions (user_id);
create index sessions_last_seen_at on sessions (last_seen_at);

create table login_attempts (
    id bigint generated always as identity primary key,
    email text not null,
    client_addr text not null,
    succeeded boolean not null,
    attempted_at timestamptz not null
);
create index login_attempts_email on login_attempts (email, attempted_at);
create index login_attempts_client_addr on login_attempts (client_addr, attempted_at);

create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null,
    actor_id bigint references users (id),
    actor_email text,
    actor_role text,
    action text not null,
    target text,
    outcome text not null check (outcome in ('success', 'failure', 'refused')),
    client_addr text,
    details jsonb
);
create index audit_log_at on audit_log (at desc);
create index audit_log_actor on audit_log (actor_id, at desc);
create index audit_log_action on audit_log (action, at desc);

-- The audit log is append-only: no update, delete or truncate, whoever asks.
create function audit_log_is_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the audit log is append-only';
end;
$$;
create trigger audit_log_no_update_or_delete before update or delete on audit_log
    for each row execute function audit_log_is_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_is_append_only();
