-- Personal API tokens: a user's bearer secrets for /api/v1. Only the SHA-256 of the secret
-- is kept; the prefix (its first characters) lets the owner recognise a token in the list.
create table api_tokens (
    id bigint generated always as identity primary key,
    user_id bigint not null references users (id) on delete cascade,
    name text not null check (length(btrim(name)) between 1 and 100),
    prefix text not null,
    secret_hash bytea not null unique,
    scope text not null check (scope in ('read', 'read+write')),
    created_at timestamptz not null,
    expires_at timestamptz not null check (expires_at > created_at),
    revoked_at timestamptz,
    last_used_at timestamptz,
    last_used_addr text
);
create index api_tokens_user_id on api_tokens (user_id);
