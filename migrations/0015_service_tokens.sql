-- Service accounts and the API's rate limit.
--
-- A service token belongs to a service account: a users row that is no person. It has the
-- rights of its role (manager, or vendor with its vendor), so a token still has exactly its
-- owner's rights; it has no password and never gets one, so it can never sign in, and the
-- pages that count, remind or e-mail people leave it out.
alter table users add column service_account boolean not null default false;
alter table users add constraint users_service_account_has_no_password
    check (not service_account or password_hash is null);
alter table users add constraint users_service_account_is_no_admin
    check (not service_account or role <> 'admin');

-- Requests per token and minute: one row per token and fixed window, counted with
-- insert … on conflict do update in the statement that authenticates the token. That
-- statement also deletes the token's earlier windows, so a token keeps at most one row.
create table api_rate_windows (
    token_id bigint not null references api_tokens (id) on delete cascade,
    window_start timestamptz not null,
    requests integer not null check (requests > 0),
    primary key (token_id, window_start)
);
