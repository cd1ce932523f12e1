-- Set-password links: random, single use, expiring. Only the SHA-256 of the token is kept.
create table password_tokens (
    token_hash bytea primary key,
    user_id bigint not null references users (id),
    created_by bigint references users (id),
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz
);
create index password_tokens_user_id on password_tokens (user_id);

-- Users are searched by name and e-mail on the admin list.
create index users_lower_name on users (lower(name));
