-- A second factor for password accounts: TOTP (RFC 6238) with one-time recovery codes, the
-- sign-ins waiting for a code, and the organisation's sign-in settings.

-- One authenticator per user. A row without `confirmed_at` is an enrolment begun but not yet
-- confirmed by a first code; it protects nothing. The secret is never shown after enrolment.
create table user_totp (
    user_id bigint primary key references users (id) on delete cascade,
    secret bytea not null check (length(secret) >= 16),
    created_at timestamptz not null,
    confirmed_at timestamptz,
    -- The last 30-second time step a code was accepted for: a code of this step or an earlier
    -- one is refused, so a code works once.
    last_step bigint
);

-- Ten codes per enrolment, each stored as the SHA-256 of a random 60-bit code; used once.
create table totp_recovery_codes (
    user_id bigint not null references users (id) on delete cascade,
    code_hash bytea not null,
    used_at timestamptz,
    primary key (user_id, code_hash)
);

-- A browser session that gave the right password and still owes a code, or (when a second
-- factor is required and the user has none) an enrolment. The session itself stays anonymous
-- until then; the pending state goes with it.
create table login_challenges (
    session_hash bytea primary key references sessions (id_hash) on delete cascade,
    user_id bigint not null references users (id) on delete cascade,
    enrol boolean not null,
    next text not null,
    created_at timestamptz not null
);

-- The organisation's sign-in settings: one row.
create table sign_in_settings (
    id boolean primary key default true check (id),
    -- Admins and managers must have a second factor to sign in with a password.
    require_second_factor boolean not null default false,
    updated_at timestamptz not null default now()
);
insert into sign_in_settings default values;

-- Wrong codes are counted per user like wrong passwords per account.
alter table login_counters drop constraint login_counters_scope_check;
alter table login_counters add constraint login_counters_scope_check
    check (scope in ('account', 'address', 'code'));
