-- The portfolio's choice of managers to filter by, in name order, read from an index of the
-- managers alone rather than by sorting every user.
create index users_active_managers on users (lower(name)) where role = 'manager' and disabled_at is null;
