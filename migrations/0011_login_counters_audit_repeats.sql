-- Login throttling as counters that an attempt increments before its password is verified,
-- one statement per counter, so that concurrent attempts cannot all slip under the limit.
-- The audit log keeps every failed login; the old per-attempt rows are no longer needed.
create table login_counters (
    scope text not null check (scope in ('account', 'address')),
    -- The SHA-256 (hex) of the lower-cased e-mail for an account, the client address for an
    -- address: a fixed, short key whatever was typed.
    key text not null,
    attempts integer not null check (attempts >= 0),
    -- The last attempt that was let through; the count restarts a window after it.
    last_counted_at timestamptz not null,
    primary key (scope, key)
);

drop table login_attempts;

-- Refusals of anonymous clients (cross-site posts, forged forms, locked logins) cost the
-- append-only audit log one row per client address, action and minute; the repeats within
-- that minute are counted here, and the audit page shows them beside that row.
create table audit_repeats (
    client_addr text not null,
    action text not null,
    minute timestamptz not null,
    repeats integer not null check (repeats >= 0),
    last_at timestamptz not null,
    primary key (client_addr, action, minute)
);
