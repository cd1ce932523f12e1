-- Idempotency keys of API writes: a retried request with the same key and the same body
-- gets the first answer again instead of writing twice. The key row is written in the
-- transaction of the write, so two concurrent requests with one key cannot both write.
-- Rows older than a day are ignored, and replaced or deleted as they are met.
create table api_idempotency (
    token_id bigint not null references api_tokens (id) on delete cascade,
    key text not null check (length(key) between 1 and 200),
    request_sha256 bytea not null check (length(request_sha256) = 32),
    status smallint not null check (status between 100 and 599),
    response text not null,
    created_at timestamptz not null,
    primary key (token_id, key)
);

create index api_idempotency_created_at on api_idempotency (created_at);
