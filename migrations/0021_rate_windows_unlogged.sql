-- Every API request counts itself in its token's window of the minute (migration 0015). As a
-- logged table, that made every API read a write that waits for the WAL to reach the disk,
-- and the requests of one token queued behind each other's commit on its window's row. The
-- counts are worth nothing after a crash: unlogged, a transaction that only counts commits
-- without waiting for the disk, and a crash just starts every window afresh.
alter table api_rate_windows set unlogged;
